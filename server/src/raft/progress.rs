//! What a leader knows about each follower's log: `match_index`, `next_index`, and the flow-control state
//! (probe one message at a time after a rejection, or pipeline up to a window of appends after a success).
//!
//! Guarantees: `match_index < next_index`; `match_index` never decreases within a term; in probe state at
//! most one AppendEntries is outstanding; in replicate state at most `max_inflight_appends` non-empty ones.
//!
//! Appends lost in a pipeline are noticed in two ways, neither of which counts messages (so a duplicated
//! or late answer never moves a follower back to probe): the follower rejects the next append, whose
//! previous entry it lacks, or the transport reports that it dropped messages to the member
//! ([`Progress::on_unreachable`], etcd's `ReportUnreachable`).

use crate::raft::types::LogIndex;
use std::collections::VecDeque;

/// How the leader sends to one follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProgressState {
    /// The follower's log position is unknown: send one append, wait for its answer.
    Probe,
    /// The follower's log matches up to `match_index`: stream appends optimistically.
    Replicate,
}

/// The leader's view of one member's log.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Progress {
    /// Highest index known to match the leader's log (Raft's `matchIndex`).
    pub match_index: LogIndex,
    /// Next index to send (Raft's `nextIndex`).
    pub next_index: LogIndex,
    /// Flow-control state.
    pub state: ProgressState,
    /// Probe state: an append is outstanding, wait for its answer or a heartbeat answer.
    pub probe_sent: bool,
    /// Replicate state: last index of every non-empty append in flight, oldest first.
    pub inflight: VecDeque<LogIndex>,
    /// Heard from the member since the last check-quorum round (kept only with check-quorum on, the
    /// only reader; see [`Progress::mark_active`]).
    pub recent_active: bool,
    /// An InstallSnapshot transfer in progress: the snapshot's last included index and the next byte
    /// offset to send. While set, the member gets snapshot chunks (one outstanding at a time, like a
    /// probe) instead of entries.
    pub pending_snapshot: Option<(LogIndex, u64)>,
}

impl Progress {
    /// A fresh progress for a new leader whose log ends at `last_index`.
    pub fn new(last_index: LogIndex) -> Progress {
        Progress {
            match_index: LogIndex(0),
            next_index: last_index.next(),
            state: ProgressState::Probe,
            probe_sent: false,
            inflight: VecDeque::new(),
            recent_active: false,
            pending_snapshot: None,
        }
    }

    /// Records that the member was heard from. Only check-quorum reads the flag, so without it the flag
    /// stays false: a value nothing reads would only tell otherwise identical states apart (for the
    /// model checker, twice as many leader states per follower).
    pub fn mark_active(&mut self, check_quorum: bool) {
        if check_quorum {
            self.recent_active = true;
        }
    }

    /// Whether no append may be sent now.
    pub fn is_paused(&self, max_inflight_appends: usize) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflight.len() >= max_inflight_appends,
        }
    }

    /// Records that an append covering entries up to `last_index` (none when `last_index` is None) was sent.
    pub fn sent_append(&mut self, last_index: Option<LogIndex>) {
        match self.state {
            ProgressState::Probe => self.probe_sent = true,
            ProgressState::Replicate => {
                if let Some(last) = last_index {
                    self.next_index = last.next();
                    self.inflight.push_back(last);
                }
            }
        }
    }

    /// A successful append answer: the member matches up to `match_index`. Returns whether that is news.
    pub fn on_append_success(&mut self, match_index: LogIndex) -> bool {
        let advanced = match_index > self.match_index;
        if advanced {
            self.match_index = match_index;
        }
        if self.next_index <= self.match_index {
            self.next_index = self.match_index.next();
        }
        while self
            .inflight
            .front()
            .is_some_and(|last| *last <= self.match_index)
        {
            self.inflight.pop_front();
        }
        if self.state == ProgressState::Probe && (advanced || self.probe_sent) {
            self.become_replicate();
        }
        advanced
    }

    /// A rejected append that had `rejected_prev_index` as its previous index; `hint_next_index` is where the
    /// conflict hint says to resume. Returns false for a stale rejection that changes nothing.
    pub fn on_append_rejected(
        &mut self,
        rejected_prev_index: LogIndex,
        hint_next_index: LogIndex,
    ) -> bool {
        match self.state {
            // Below the match: an append overtaken by a later success, which tells more. At the match: an
            // append right after it was refused (it overtook the one that filled the gap), so nothing
            // sent beyond the match is on the member: probe from there.
            ProgressState::Replicate if rejected_prev_index < self.match_index => return false,
            ProgressState::Probe if rejected_prev_index.next() != self.next_index => return false,
            _ => {}
        }
        // Never below what is known to match; never at or above the rejected index, so that every
        // rejection moves the probe strictly backwards.
        let next = hint_next_index
            .min(rejected_prev_index)
            .max(self.match_index.next());
        self.become_probe(next);
        true
    }

    /// A heartbeat answer: unpause a probe. Returns whether the member lags behind `last_index` and
    /// should be sent entries.
    pub fn on_heartbeat_response(&mut self, last_index: LogIndex) -> bool {
        self.probe_sent = false;
        self.match_index < last_index
    }

    /// The transport dropped messages to the member: appends in flight may be lost, so a pipeline
    /// falls back to probing from the match. Returns whether anything changed.
    pub fn on_unreachable(&mut self) -> bool {
        if self.state != ProgressState::Replicate {
            return false;
        }
        let next = self.match_index.next();
        self.become_probe(next);
        true
    }

    /// Starts sending the snapshot that ends at `index` from its first byte.
    pub fn start_snapshot(&mut self, index: LogIndex) {
        self.become_probe(self.next_index);
        self.pending_snapshot = Some((index, 0));
    }

    /// An answer to a snapshot chunk. `done`: the member now holds the snapshot ending at `index`, so
    /// its log matches up to there. Otherwise the member expects `next_offset` next (a lost chunk is
    /// resent from there). Returns whether another message should be sent now.
    pub fn on_snapshot_response(&mut self, index: LogIndex, next_offset: u64, done: bool) -> bool {
        if done {
            if index > self.match_index {
                self.match_index = index;
            }
            self.pending_snapshot = None;
            let next = self.match_index.next().max(self.next_index);
            self.become_probe(next);
            return true;
        }
        match self.pending_snapshot {
            Some((pending, _)) if pending == index => {
                self.pending_snapshot = Some((index, next_offset));
                self.probe_sent = false;
                true
            }
            // An answer about another snapshot than the one being sent: stale.
            _ => false,
        }
    }

    fn become_probe(&mut self, next_index: LogIndex) {
        self.state = ProgressState::Probe;
        self.next_index = next_index;
        self.probe_sent = false;
        self.inflight.clear();
    }

    fn become_replicate(&mut self) {
        self.state = ProgressState::Replicate;
        self.pending_snapshot = None;
        self.next_index = self.match_index.next();
        self.probe_sent = false;
        self.inflight.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_is_kept_only_for_check_quorum() {
        let mut pr = Progress::new(LogIndex(1));
        pr.mark_active(false);
        assert!(!pr.recent_active, "nothing reads it without check-quorum");
        pr.mark_active(true);
        assert!(pr.recent_active);
    }

    #[test]
    fn probe_then_replicate_with_a_bounded_window() {
        let mut pr = Progress::new(LogIndex(10));
        assert_eq!(pr.next_index, LogIndex(11));
        assert!(!pr.is_paused(2));
        pr.sent_append(Some(LogIndex(11)));
        assert!(pr.is_paused(2), "one probe at a time");
        assert!(pr.on_append_success(LogIndex(11)));
        assert_eq!(pr.state, ProgressState::Replicate);
        assert_eq!(pr.next_index, LogIndex(12));
        pr.sent_append(Some(LogIndex(13)));
        pr.sent_append(Some(LogIndex(15)));
        assert!(pr.is_paused(2), "window of 2 is full");
        assert_eq!(pr.next_index, LogIndex(16));
        assert!(pr.on_append_success(LogIndex(13)));
        assert!(!pr.is_paused(2));
        assert_eq!(pr.inflight.len(), 1);
        // A duplicate old answer is not news and keeps next_index.
        assert!(!pr.on_append_success(LogIndex(12)));
        assert_eq!(pr.next_index, LogIndex(16));
    }

    #[test]
    fn rejections_move_strictly_back_and_stale_ones_are_ignored() {
        let mut pr = Progress::new(LogIndex(10));
        pr.sent_append(None);
        // Probe at prev 10 rejected, hint says the follower ends at 4.
        assert!(pr.on_append_rejected(LogIndex(10), LogIndex(5)));
        assert_eq!(pr.next_index, LogIndex(5));
        assert!(!pr.probe_sent);
        // A duplicate of the same rejection is stale now.
        assert!(!pr.on_append_rejected(LogIndex(10), LogIndex(5)));
        // A useless hint still moves back by at least one.
        assert!(pr.on_append_rejected(LogIndex(4), LogIndex(9)));
        assert_eq!(pr.next_index, LogIndex(4));
        // In replicate, rejections below the match are stale.
        assert!(pr.on_append_success(LogIndex(3)));
        assert!(!pr.on_append_rejected(LogIndex(2), LogIndex(1)));
        assert_eq!(pr.state, ProgressState::Replicate);
        assert!(pr.on_append_rejected(LogIndex(6), LogIndex(1)));
        assert_eq!(pr.next_index, LogIndex(4), "never below match + 1");
        // At the match: the append right after it was refused (it overtook the one that filled the
        // gap), so what was sent beyond the match must be sent again.
        pr.sent_append(Some(LogIndex(4)));
        assert!(pr.on_append_success(LogIndex(4)));
        assert_eq!(pr.state, ProgressState::Replicate);
        pr.sent_append(Some(LogIndex(6)));
        assert!(pr.on_append_rejected(LogIndex(4), LogIndex(1)));
        assert_eq!(pr.state, ProgressState::Probe);
        assert_eq!(pr.next_index, LogIndex(5));
    }

    #[test]
    fn heartbeat_answers_never_move_a_pipeline_back_but_an_unreachable_report_does() {
        let mut pr = Progress::new(LogIndex(0));
        pr.sent_append(Some(LogIndex(1)));
        pr.on_append_success(LogIndex(1));
        pr.sent_append(Some(LogIndex(3)));
        for _ in 0..10 {
            assert!(pr.on_heartbeat_response(LogIndex(3)), "the member lags");
            assert_eq!(
                pr.state,
                ProgressState::Replicate,
                "answers, however many, are no loss"
            );
        }
        assert!(pr.on_unreachable());
        assert_eq!(pr.state, ProgressState::Probe);
        assert_eq!(
            pr.next_index,
            LogIndex(2),
            "probing resumes after the match"
        );
        assert!(pr.inflight.is_empty());
        assert!(!pr.on_unreachable(), "a probe stays a probe");
    }
}
