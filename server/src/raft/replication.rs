//! Log replication: the leader's batched, pipelined AppendEntries with conflict-hint backtracking,
//! heartbeats carrying the commit index, the follower's consistency check, and the commit rule.
//!
//! Guarantees (no bug switch): a leader commits by counting replicas only entries of its own term
//! (Raft §5.4.2, Figure 8); a follower commits at most up to what the current leader knows matches its log; a
//! follower never truncates committed entries; append answers leave only once the entries are durable.

use crate::bugs::Bug;
use crate::raft::log::PrevCheck;
use crate::raft::progress::ProgressState;
use crate::raft::quorum;
use crate::raft::raw_node::RawNode;
use crate::raft::types::{
    ConflictHint, Entry, EntryPayload, LogIndex, MessageBody, NodeId, Role, Term,
};

impl RawNode {
    /// Leader: sends a heartbeat round (carrying the newest ReadIndex round, so a lost round is retried).
    pub fn fire_heartbeat_timeout(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        self.heartbeat_elapsed_ticks = 0;
        let read_context = self.reads.latest_context();
        self.bcast_heartbeat(read_context);
    }

    /// Leader: a heartbeat to every other member. Each carries the commit index only as far as the
    /// member's log is known to match this leader's (as etcd's heartbeats): the member commits what
    /// it is told, and needs no memory of how far it matched (a follower that times out and hears
    /// from the same leader again commits as far as before).
    pub(super) fn bcast_heartbeat(&mut self, read_context: Option<u64>) {
        for to in self.peers() {
            let matched = self
                .progress
                .get(&to)
                .map_or(LogIndex(0), |pr| pr.match_index);
            let body = MessageBody::Heartbeat {
                leader_commit: self.hard_state.commit_index.min(matched),
                read_context,
            };
            self.send(to, body, false);
        }
    }

    /// Leader: sends new entries to every member whose window allows it.
    pub(super) fn bcast_append(&mut self, send_if_empty: bool) {
        for to in self.peers() {
            self.send_append(to, send_if_empty);
        }
    }

    /// Leader: sends one AppendEntries to `to` if flow control allows. Returns whether one was sent.
    pub(super) fn send_append(&mut self, to: NodeId, send_if_empty: bool) -> bool {
        let max_inflight = self.config.max_inflight_appends;
        let Some(pr) = self.progress.get(&to) else {
            return false;
        };
        if pr.is_paused(max_inflight) {
            return false;
        }
        let prev_log_index = pr.next_index.prev();
        let prev_log_term = match self.log.term(prev_log_index) {
            Some(term) if pr.pending_snapshot.is_none() => term,
            // The entry was compacted away (or a transfer is under way): send the snapshot.
            _ => return self.send_snapshot_chunk(to),
        };
        let entries: Vec<Entry> = self
            .log
            .entries_from(pr.next_index, self.config.max_entries_per_append)
            .to_vec();
        if entries.is_empty() && !send_if_empty {
            return false;
        }
        let last = entries.last().map(|e| e.index);
        if let Some(pr) = self.progress.get_mut(&to) {
            pr.sent_append(last);
        }
        let body = MessageBody::AppendEntries {
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit: self.hard_state.commit_index,
        };
        // The leader's own appends need not wait for its disk (Raft thesis §10.2.1), once its term is.
        let after_persist = !self.leader_term_durable;
        self.send(to, body, after_persist);
        true
    }

    /// Follower: the consistency check, merge and answer (Raft Figure 2 "AppendEntries RPC").
    pub(super) fn handle_append_entries(
        &mut self,
        from: NodeId,
        prev_log_index: LogIndex,
        prev_log_term: Term,
        entries: Vec<Entry>,
        leader_commit: LogIndex,
    ) {
        let commit_index = self.hard_state.commit_index;
        let last_new = LogIndex(prev_log_index.0 + entries.len() as u64);
        // Entries at or below our commit index are committed here, hence equal to the leader's: skip
        // them (this also covers compacted entries).
        let (check_index, check_term, rest) = if prev_log_index < commit_index {
            let skip = usize::try_from(commit_index.0 - prev_log_index.0)
                .unwrap_or(usize::MAX)
                .min(entries.len());
            match skip.checked_sub(1).and_then(|i| entries.get(i)) {
                Some(last_skipped) => (last_skipped.index, last_skipped.term, &entries[skip..]),
                None => (prev_log_index, prev_log_term, &entries[..]),
            }
        } else {
            (prev_log_index, prev_log_term, &entries[..])
        };
        let conflict = match self.log.check_prev(check_index, check_term) {
            PrevCheck::TooShort => ConflictHint {
                conflict_term: None,
                first_index: self.log.last_index().next(),
            },
            PrevCheck::TermDiffers(term) => ConflictHint {
                conflict_term: Some(term),
                first_index: self.log.first_index_of_term_at(check_index),
            },
            PrevCheck::Matches => {
                self.merge_from_leader(rest);
                self.leader_match_index = self.leader_match_index.max(last_new);
                self.advance_follower_commit(leader_commit.min(last_new));
                let body = MessageBody::AppendEntriesResponse {
                    success: true,
                    match_index: last_new,
                    conflict: None,
                };
                self.send(from, body, true);
                return;
            }
        };
        // A rejection names the rejected prev_log_index in `match_index` so the leader can drop stale ones.
        let body = MessageBody::AppendEntriesResponse {
            success: false,
            match_index: prev_log_index,
            conflict: Some(conflict),
        };
        self.send(from, body, true);
    }

    /// Follower: merges entries that follow a matching entry.
    fn merge_from_leader(&mut self, entries: &[Entry]) {
        let truncated_at = self.log.merge(entries);
        if let Some(at) = truncated_at {
            // Only an injected bug can make a leader overwrite committed entries; then let the harm
            // happen (the checkers must see it) instead of stopping the node.
            assert!(
                at > self.hard_state.commit_index || !self.config.bugs.0.is_empty(),
                "node {} would truncate committed entry {} (commit index {})",
                self.config.id,
                at,
                self.hard_state.commit_index
            );
        }
        let has_config = entries
            .iter()
            .any(|e| matches!(e.payload, EntryPayload::Config(_)));
        if truncated_at.is_some() || has_config {
            self.refresh_cluster();
        }
    }

    /// Follower: commits up to `known_commit`, which the leader's message says is committed and
    /// matches the leader's log here (an append: up to its last entry; a heartbeat: the leader caps it
    /// at this member's match index, see `bcast_heartbeat`). Never beyond the local log.
    fn advance_follower_commit(&mut self, known_commit: LogIndex) {
        let target = known_commit.min(self.log.last_index());
        if target > self.hard_state.commit_index {
            self.hard_state.commit_index = target;
        }
    }

    /// Leader: an answer to an AppendEntries.
    pub(super) fn handle_append_response(
        &mut self,
        from: NodeId,
        success: bool,
        match_index: LogIndex,
        conflict: Option<ConflictHint>,
    ) {
        let last_index = self.log.last_index();
        let hint_next = self.hint_next_index(match_index, conflict);
        let check_quorum = self.config.check_quorum;
        let Some(pr) = self.progress.get_mut(&from) else {
            return;
        };
        pr.mark_active(check_quorum);
        if !success {
            if pr.on_append_rejected(match_index, hint_next) {
                self.send_append(from, true);
            }
            return;
        }
        assert!(
            match_index <= last_index,
            "follower {from} acknowledged index {match_index} beyond the leader's log"
        );
        if pr.on_append_success(match_index) {
            self.maybe_commit();
            self.maybe_finish_transfer(from);
            self.maybe_promote_learner(from);
        }
        // Refill the pipeline; bounded by the window.
        for _ in 0..=self.config.max_inflight_appends {
            if !self.send_append(from, false) {
                break;
            }
        }
    }

    /// Leader: where to probe next after a rejection of `rejected_prev_index` (Raft §5.3 fast backup):
    /// past our last entry of the follower's conflicting term, else at the follower's first index of it.
    fn hint_next_index(
        &self,
        rejected_prev_index: LogIndex,
        conflict: Option<ConflictHint>,
    ) -> LogIndex {
        match conflict {
            Some(ConflictHint {
                conflict_term: Some(term),
                first_index,
            }) => self
                .log
                .last_index_of_term(term, rejected_prev_index)
                .map_or(first_index, LogIndex::next),
            Some(ConflictHint {
                conflict_term: None,
                first_index,
            }) => first_index,
            None => rejected_prev_index,
        }
    }

    /// Follower: a heartbeat from the leader.
    pub(super) fn handle_heartbeat(
        &mut self,
        from: NodeId,
        leader_commit: LogIndex,
        read_context: Option<u64>,
    ) {
        self.advance_follower_commit(leader_commit);
        self.send(from, MessageBody::HeartbeatResponse { read_context }, true);
    }

    /// Leader: an answer to a heartbeat (liveness for check-quorum, ReadIndex acks, resuming probes).
    pub(super) fn handle_heartbeat_response(&mut self, from: NodeId, read_context: Option<u64>) {
        let last_index = self.log.last_index();
        let check_quorum = self.config.check_quorum;
        let Some(pr) = self.progress.get_mut(&from) else {
            return;
        };
        pr.mark_active(check_quorum);
        if pr.on_heartbeat_response(last_index) {
            let probing = pr.state == ProgressState::Probe;
            self.send_append(from, probing);
        }
        if let Some(context) = read_context {
            self.on_read_ack(from, context);
        }
    }

    /// Leader: advances the commit index to the largest index a majority has durably matched, if that
    /// entry is of the current term (Raft §5.4.2). [`Bug::CommitOldTerm`] drops the term condition.
    pub(super) fn maybe_commit(&mut self) -> bool {
        let own_id = self.config.id;
        let own_match = self.log.persisted_index();
        let progress = &self.progress;
        let majority_index = quorum::committed_index(&self.cluster, |id| {
            if id == own_id {
                own_match
            } else {
                progress
                    .get(&id)
                    .map(|pr| pr.match_index)
                    .unwrap_or_default()
            }
        });
        if majority_index <= self.hard_state.commit_index {
            return false;
        }
        let of_current_term = self.log.term(majority_index) == Some(self.hard_state.term);
        if !of_current_term && !self.config.bugs.has(Bug::CommitOldTerm) {
            return false;
        }
        self.hard_state.commit_index = majority_index;
        self.on_commit_advanced();
        self.after_commit_membership();
        true
    }
}
