//! ReadIndex (Raft thesis §6.4): linearizable reads without writing to the log. The leader records its
//! commit index, confirms it still leads with one heartbeat round acknowledged by a majority, and then
//! hands out a `ReadState` that the shell serves once it has applied up to that index.
//!
//! Guarantees: a read index is only recorded once the leader has committed an entry of its own term (so
//! it covers every write acknowledged before the read); a `ReadState` is emitted only after a majority
//! acknowledged a heartbeat sent after the read arrived; reads of a deposed leader go to `aborted_reads`.

use crate::raft::quorum;
use crate::raft::raw_node::{ProposeError, RawNode};
use crate::raft::types::{LogIndex, NodeId, ReadState, Role};
use std::collections::{BTreeMap, BTreeSet};

/// One heartbeat round confirming leadership for some reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ReadRound {
    /// The commit index when the reads arrived.
    index: LogIndex,
    /// The reads waiting for this round.
    request_ids: Vec<u64>,
    /// Members that acknowledged this round (or a later one); includes the leader.
    acks: BTreeSet<NodeId>,
}

/// The leader's pending reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReadIndexQueue {
    /// Reads that arrived before the leader committed an entry of its term.
    awaiting_commit: Vec<u64>,
    /// Rounds by context id, oldest first.
    rounds: BTreeMap<u64, ReadRound>,
    /// The next context id.
    next_context: u64,
    /// A round whose heartbeats have not been handed out yet: reads arriving now may join it.
    open_context: Option<u64>,
}

impl ReadIndexQueue {
    /// Number of reads waiting.
    fn pending_count(&self) -> usize {
        self.awaiting_commit.len()
            + self
                .rounds
                .values()
                .map(|r| r.request_ids.len())
                .sum::<usize>()
    }

    /// The newest round's context, which a heartbeat carries so that a lost round is retried.
    pub fn latest_context(&self) -> Option<u64> {
        self.rounds.keys().next_back().copied()
    }

    /// The open round's heartbeats are handed out now; later reads need a new round.
    pub fn close_open_round(&mut self) {
        self.open_context = None;
    }

    /// This queue with the acknowledging node ids renamed by `f` (see `relabel.rs`).
    pub(super) fn relabeled(&self, f: &dyn Fn(NodeId) -> NodeId) -> ReadIndexQueue {
        let mut queue = self.clone();
        for round in queue.rounds.values_mut() {
            round.acks = round.acks.iter().map(|id| f(*id)).collect();
        }
        queue
    }

    /// The contexts of the rounds `peer` acknowledged, oldest first (symmetry keys, see `relabel.rs`).
    pub(super) fn contexts_acked_by(&self, peer: NodeId) -> impl Iterator<Item = u64> + '_ {
        self.rounds
            .iter()
            .filter(move |(_, round)| round.acks.contains(&peer))
            .map(|(context, _)| *context)
    }

    /// Removes every pending read, returning their ids (leadership was lost), and numbers read
    /// rounds from 0 again. Why that is safe: a leader reads the context of answers of its own term
    /// only, an answer carries a context only when it answers a heartbeat of that same term (a stale
    /// heartbeat is answered without one, see `answer_stale`), and a node leads at most once per
    /// term; so a context never outlives the leadership that numbered it, as after a restart. Why it
    /// matters: a node that once led a read round would otherwise differ for ever from one that never
    /// did, in a number nothing reads again (the model checker would tell the two states apart).
    pub fn take_all(&mut self) -> Vec<u64> {
        let queue = std::mem::take(self);
        let mut ids = queue.awaiting_commit;
        for round in queue.rounds.into_values() {
            ids.extend(round.request_ids);
        }
        ids
    }
}

impl RawNode {
    /// Asks for a linearizable read point for `request_id`; the answer comes as a `ReadState` (or an
    /// aborted read) in a later `Ready`.
    pub fn read_index(&mut self, request_id: u64) -> Result<(), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader_hint: self.leader,
            });
        }
        if self.reads.pending_count() >= self.config.max_pending_proposals {
            return Err(ProposeError::TooManyPending);
        }
        if self.committed_in_current_term() {
            self.start_read_round(vec![request_id]);
        } else {
            self.reads.awaiting_commit.push(request_id);
        }
        Ok(())
    }

    /// Whether the commit index covers an entry of the current term (then it covers every committed entry).
    fn committed_in_current_term(&self) -> bool {
        self.log.term(self.hard_state.commit_index) == Some(self.hard_state.term)
    }

    /// Records the commit index for `request_ids` and confirms leadership with a heartbeat round.
    fn start_read_round(&mut self, request_ids: Vec<u64>) {
        let index = self.hard_state.commit_index;
        let own = BTreeSet::from([self.config.id]);
        if quorum::has_quorum(&self.cluster, &own) {
            // A single-voter cluster needs no confirmation.
            self.read_states.extend(
                request_ids
                    .into_iter()
                    .map(|request_id| ReadState { request_id, index }),
            );
            return;
        }
        if let Some(open) = self
            .reads
            .open_context
            .and_then(|c| self.reads.rounds.get_mut(&c))
        {
            if open.index == index {
                open.request_ids.extend(request_ids);
                return;
            }
        }
        let context = self.reads.next_context;
        self.reads.next_context += 1;
        let round = ReadRound {
            index,
            request_ids,
            acks: own,
        };
        self.reads.rounds.insert(context, round);
        self.reads.open_context = Some(context);
        self.bcast_heartbeat(Some(context));
    }

    /// Leader: the commit index moved; reads waiting for the first commit of the term may start.
    pub(super) fn on_commit_advanced(&mut self) {
        if self.committed_in_current_term() && !self.reads.awaiting_commit.is_empty() {
            let ids = std::mem::take(&mut self.reads.awaiting_commit);
            self.start_read_round(ids);
        }
    }

    /// Model checking only: whether an acknowledgement of read round `context` can no longer change
    /// anything at this node: no round numbered at or below it is pending, and rounds opened later
    /// are numbered above it (numbers restart only when leadership is lost, and a node leads a term
    /// at most once). `on_read_ack` then finds no round to mark, and no pending round has a quorum
    /// to confirm (a round is confirmed in the acknowledgement that completes its quorum).
    pub fn read_round_is_settled(&self, context: u64) -> bool {
        self.reads.rounds.range(..=context).next().is_none()
    }

    /// Leader: `from` acknowledged the heartbeat of round `context`, which also confirms every older round.
    pub(super) fn on_read_ack(&mut self, from: NodeId, context: u64) {
        for round in self.reads.rounds.range_mut(..=context).map(|(_, r)| r) {
            round.acks.insert(from);
        }
        // Older rounds have at least the acks of newer ones, so confirmed rounds form a prefix.
        while let Some(entry) = self.reads.rounds.first_entry() {
            if !quorum::has_quorum(&self.cluster, &entry.get().acks) {
                break;
            }
            let (context, round) = entry.remove_entry();
            if self.reads.open_context == Some(context) {
                self.reads.open_context = None;
            }
            let index = round.index;
            self.read_states.extend(
                round
                    .request_ids
                    .into_iter()
                    .map(|request_id| ReadState { request_id, index }),
            );
        }
    }
}
