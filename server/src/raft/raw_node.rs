//! `RawNode`: one Raft server as a deterministic state machine. Ticks, peer messages, proposals and read
//! requests go in; [`Ready`] batches come out. The protocol logic lives in sibling files (`election.rs`,
//! `replication.rs`, `read_index.rs`, `step.rs`); this file holds the state, the public entry points and the
//! role transitions.
//!
//! Guarantees (with no bug switch on): every message that depends on new durable state (votes, append and
//! heartbeat answers) is in `Ready::persisted_messages`; committed entries are handed out in order, once, and
//! never beyond what is locally durable; a leader counts its own log toward commit only once durable.

use crate::raft::config::{Config, CoreError};
use crate::raft::log::RaftLog;
use crate::raft::progress::Progress;
use crate::raft::quorum;
use crate::raft::read_index::ReadIndexQueue;
use crate::raft::rng::SplitMix64;
use crate::raft::types::{
    ClusterConfig, Entry, EntryPayload, HardState, InitialState, LogIndex, Message, MessageBody,
    NodeId, ReadState, Role, Snapshot, SnapshotMeta, Term,
};
use std::collections::BTreeMap;

/// At most this many committed entries per `Ready` (the rest come in the next one).
pub const COMMITTED_ENTRIES_PER_READY_MAX: usize = 4096;

/// Why a proposal or read was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// Only the leader accepts proposals and reads; `leader_hint` is the leader this node knows of.
    #[error("not the leader (leader hint: {leader_hint:?})")]
    NotLeader {
        /// The current leader, if known.
        leader_hint: Option<NodeId>,
    },
    /// Too many proposals (or reads) already wait for commit.
    #[error("too many pending proposals")]
    TooManyPending,
    /// The leader is handing leadership over and accepts no new proposals.
    #[error("leadership transfer in progress")]
    TransferInProgress,
}

/// A snapshot of a node's state for status pages, tests and the harness.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Status {
    /// This node.
    pub id: NodeId,
    /// Its role.
    pub role: Role,
    /// Its current term.
    pub term: Term,
    /// The leader it knows of in `term`.
    pub leader: Option<NodeId>,
    /// Highest index known committed.
    pub commit_index: LogIndex,
    /// Highest index the shell reported applied.
    pub applied_index: LogIndex,
    /// Index of the last log entry.
    pub last_index: LogIndex,
    /// Highest index known durable locally.
    pub persisted_index: LogIndex,
    /// The membership in effect.
    pub cluster: ClusterConfig,
}

/// Everything the shell must do after some input, in this order: persist `hard_state` and `entries`; send
/// `messages` (may overlap with persisting); once durable send `persisted_messages` and call
/// `on_persisted`; apply `committed_entries`, then call `on_applied`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ready {
    /// Persist if Some (changed since the last `Ready`).
    pub hard_state: Option<HardState>,
    /// Append; if `entries[0].index` is at or below the stored last index, truncate the stored log from
    /// there first.
    pub entries: Vec<Entry>,
    /// A snapshot received from the leader (InstallSnapshot): persist it (file, then WAL compaction to
    /// its meta) before the entries of this `Ready`, and restore the state machine from it before
    /// applying `committed_entries` (which follow it).
    pub snapshot: Option<Snapshot>,
    /// May be sent at once: the leader's appends and heartbeats (Raft thesis §10.2.1), pre-votes.
    pub messages: Vec<Message>,
    /// Send only after `hard_state` and `entries` of this `Ready` are durable (votes, append answers...).
    pub persisted_messages: Vec<Message>,
    /// Apply in order.
    pub committed_entries: Vec<Entry>,
    /// ReadIndex reads that are safe to serve once `applied_index >= index`.
    pub read_states: Vec<ReadState>,
    /// Read ids that will never complete (leadership lost): answer NotLeader.
    pub aborted_reads: Vec<u64>,
}

/// One Raft server (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RawNode {
    pub(super) config: Config,
    /// Term, vote and commit index as they should be persisted.
    pub(super) hard_state: HardState,
    /// The hard state handed out in the last `Ready`.
    pub(super) handed_out_hard_state: HardState,
    pub(super) log: RaftLog,
    pub(super) role: Role,
    pub(super) leader: Option<NodeId>,
    /// The membership in effect (newest config entry, else snapshot, else bootstrap).
    pub(super) cluster: ClusterConfig,
    /// The membership to fall back to when the log holds no config entry.
    pub(super) fallback_cluster: ClusterConfig,
    pub(super) election_elapsed_ticks: u64,
    pub(super) heartbeat_elapsed_ticks: u64,
    pub(super) randomized_election_timeout_ticks: u64,
    /// Answers in the current (pre-)election.
    pub(super) votes: BTreeMap<NodeId, bool>,
    /// Leader only: the progress of every other member. The leader's own match is its durable index.
    pub(super) progress: BTreeMap<NodeId, Progress>,
    /// Follower only: highest index known to match the current leader's log in this term, for
    /// answering again after lost messages (`report_unreachable`; commits follow what the leader's
    /// messages say, not this). 0 while no leader is known (see [`RawNode::forget_leader`]): a leader
    /// that becomes known again starts from 0.
    pub(super) leader_match_index: LogIndex,
    /// Committed entries up to here were handed out to be applied.
    pub(super) applying_index: LogIndex,
    /// The shell applied entries up to here.
    pub(super) applied_index: LogIndex,
    pub(super) reads: ReadIndexQueue,
    /// Leader only: the member leadership is being handed to.
    pub(super) transfer_target: Option<NodeId>,
    pub(super) messages: Vec<Message>,
    pub(super) persisted_messages: Vec<Message>,
    pub(super) read_states: Vec<ReadState>,
    pub(super) aborted_reads: Vec<u64>,
    pub(super) rng: SplitMix64,
    /// The newest local snapshot (taken or installed): what a leader sends to a member whose next entry
    /// was compacted away.
    pub(super) snapshot: Option<Snapshot>,
    /// An installed snapshot not yet handed to the shell.
    pub(super) snapshot_to_hand_out: Option<Snapshot>,
    /// Follower: the snapshot being received in chunks (meta and the bytes so far).
    pub(super) incoming_snapshot: Option<(SnapshotMeta, Vec<u8>)>,
    /// Index of the entry that holds `cluster` (the snapshot index when it comes from the snapshot or
    /// the bootstrap configuration).
    pub(super) cluster_index: LogIndex,
    /// Leader only: its term and vote are known durable. A leader that won by its own vote alone (a
    /// single voter) may not have written its term yet; until it has, its appends wait for the disk, so
    /// that a crash cannot let it lead the same term twice with different entries seen by learners.
    pub(super) leader_term_durable: bool,
    /// Candidate only: it won by its own vote alone and appended its Noop at this index; it takes
    /// office once that entry is durable (see `election.rs`).
    pub(super) solo_win_index: Option<LogIndex>,
    /// Incoming snapshots aborted because they exceeded `snapshot_bytes_max`.
    pub(super) oversized_snapshots: u64,
}

impl RawNode {
    /// A node recovered from `initial`, using `seed` for its election timeouts. Starts as a follower.
    pub fn new(config: Config, initial: InitialState, seed: u64) -> Result<RawNode, CoreError> {
        Self::new_with_snapshot(config, initial, None, seed)
    }

    /// Like [`RawNode::new`], with the newest local snapshot's data (needed to send it to lagging
    /// members). When given, `snapshot.meta` replaces `initial.snapshot_meta`, and `initial.entries`
    /// must follow it.
    pub fn new_with_snapshot(
        config: Config,
        mut initial: InitialState,
        snapshot: Option<Snapshot>,
        seed: u64,
    ) -> Result<RawNode, CoreError> {
        config.validate()?;
        if let Some(snapshot) = &snapshot {
            initial.snapshot_meta = Some(snapshot.meta.clone());
        }
        let log = RaftLog::new(initial.snapshot_meta.as_ref(), initial.entries)?;
        let mut hard_state = initial.hard_state;
        if hard_state.term < log.last_term() {
            return Err(CoreError::InconsistentState(format!(
                "hard state term {} is below the last log term {}",
                hard_state.term,
                log.last_term()
            )));
        }
        // The commit index is persisted lazily and is only a hint: clamp it into the recovered log.
        let snapshot_index = log.snapshot_index();
        hard_state.commit_index = hard_state
            .commit_index
            .min(log.last_index())
            .max(snapshot_index);
        let fallback_cluster = initial
            .snapshot_meta
            .map(|meta| meta.config)
            .unwrap_or(initial.bootstrap_config);
        let mut node = RawNode {
            config,
            handed_out_hard_state: hard_state.clone(),
            hard_state,
            log,
            role: Role::Follower,
            leader: None,
            cluster: fallback_cluster.clone(),
            fallback_cluster,
            election_elapsed_ticks: 0,
            heartbeat_elapsed_ticks: 0,
            randomized_election_timeout_ticks: 0,
            votes: BTreeMap::new(),
            progress: BTreeMap::new(),
            leader_match_index: LogIndex(0),
            applying_index: snapshot_index,
            applied_index: snapshot_index,
            reads: ReadIndexQueue::default(),
            transfer_target: None,
            messages: Vec::new(),
            persisted_messages: Vec::new(),
            read_states: Vec::new(),
            aborted_reads: Vec::new(),
            rng: SplitMix64::new(seed),
            snapshot,
            snapshot_to_hand_out: None,
            incoming_snapshot: None,
            cluster_index: snapshot_index,
            leader_term_durable: false,
            solo_win_index: None,
            oversized_snapshots: 0,
        };
        node.refresh_cluster();
        node.role = node.follower_role();
        node.reset_election_timer();
        Ok(node)
    }

    /// Advances logical time by one tick: followers and candidates count toward an election timeout,
    /// leaders toward a heartbeat and a check-quorum round.
    pub fn tick(&mut self) {
        self.election_elapsed_ticks += 1;
        if self.role == Role::Leader {
            self.heartbeat_elapsed_ticks += 1;
            if self.election_elapsed_ticks >= self.config.election_timeout_ticks_min {
                self.fire_election_timeout();
            }
            if self.role == Role::Leader
                && self.heartbeat_elapsed_ticks >= self.config.heartbeat_interval_ticks
            {
                self.fire_heartbeat_timeout();
            }
        } else if self.election_elapsed_ticks >= self.randomized_election_timeout_ticks {
            self.fire_election_timeout();
        }
    }

    /// Appends `data` as a command if this node leads. Returns where it will sit if it commits.
    pub fn propose(&mut self, data: Vec<u8>) -> Result<(LogIndex, Term), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader_hint: self.leader,
            });
        }
        if self.transfer_target.is_some() {
            return Err(ProposeError::TransferInProgress);
        }
        let uncommitted = self.log.last_index().0 - self.hard_state.commit_index.0;
        if uncommitted >= self.config.max_pending_proposals as u64 {
            return Err(ProposeError::TooManyPending);
        }
        let index = self.append_own(EntryPayload::Command(data));
        Ok((index, self.hard_state.term))
    }

    /// Whether `ready()` would return anything.
    pub fn has_ready(&self) -> bool {
        self.hard_state != self.handed_out_hard_state
            || self.log.has_unhanded()
            || !self.messages.is_empty()
            || !self.persisted_messages.is_empty()
            || !self.read_states.is_empty()
            || !self.aborted_reads.is_empty()
            || self.snapshot_to_hand_out.is_some()
            || self.applicable_index() > self.applying_index
    }

    /// Takes everything pending (see [`Ready`] for what the shell must do with it).
    pub fn ready(&mut self) -> Ready {
        let hard_state = (self.hard_state != self.handed_out_hard_state).then(|| {
            self.handed_out_hard_state = self.hard_state.clone();
            self.hard_state.clone()
        });
        let committed_entries = self
            .log
            .entries_between(self.applying_index.next(), self.applicable_index())
            .iter()
            .take(COMMITTED_ENTRIES_PER_READY_MAX)
            .cloned()
            .collect::<Vec<_>>();
        if let Some(last) = committed_entries.last() {
            self.applying_index = last.index;
        }
        self.reads.close_open_round();
        Ready {
            hard_state,
            entries: self.log.take_unhanded(),
            snapshot: self.snapshot_to_hand_out.take(),
            messages: std::mem::take(&mut self.messages),
            persisted_messages: std::mem::take(&mut self.persisted_messages),
            committed_entries,
            read_states: std::mem::take(&mut self.read_states),
            aborted_reads: std::mem::take(&mut self.aborted_reads),
        }
    }

    /// The shell made entries up to `index` (whose term is `term`) and the last handed-out hard state
    /// durable. A leader counts its own log toward commit from here on.
    pub fn on_persisted(&mut self, index: LogIndex, term: Term) {
        if self.role == Role::Leader && term == self.hard_state.term {
            self.leader_term_durable = true;
        }
        if self.log.persisted_to(index, term) && self.role == Role::Leader {
            self.maybe_commit();
        }
        self.maybe_finish_solo_win();
    }

    /// The shell applied committed entries up to `index`.
    pub fn on_applied(&mut self, index: LogIndex) {
        self.applied_index = self.applied_index.max(index.min(self.applying_index));
    }

    /// The shell's transport dropped messages to `peer` (a failed or timed-out delivery, a full queue, a
    /// link being redialled). Only a hint, as in etcd's `ReportUnreachable`; a report about a healthy
    /// link costs one message.
    /// - A leader that pipelines appends to `peer` probes it again from the last known match: the
    ///   appends in flight may be lost.
    /// - A follower whose lost messages went to its leader answers again how far its log is known to
    ///   match (a success at `leader_match_index`, once durable): the answers to the leader's appends
    ///   may be lost, and the leader would otherwise wait for them.
    ///
    /// This is how lost messages of a pipeline are found out; heartbeat answers are not counted for it,
    /// so a duplicated or late answer never moves a follower back to probing.
    pub fn report_unreachable(&mut self, peer: NodeId) {
        match self.role {
            Role::Leader => {
                if let Some(pr) = self.progress.get_mut(&peer) {
                    pr.on_unreachable();
                }
            }
            Role::Follower
                if self.leader == Some(peer) && self.leader_match_index > LogIndex(0) =>
            {
                let body = MessageBody::AppendEntriesResponse {
                    success: true,
                    match_index: self.leader_match_index,
                    conflict: None,
                };
                self.send(peer, body, true);
            }
            _ => {}
        }
    }

    /// The node's role (cheaper than [`RawNode::status`], which copies the configuration).
    pub fn role(&self) -> Role {
        self.role
    }

    /// The leader this node knows of in its term (cheaper than [`RawNode::status`]).
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// The node's state at a glance.
    pub fn status(&self) -> Status {
        Status {
            id: self.config.id,
            role: self.role,
            term: self.hard_state.term,
            leader: self.leader,
            commit_index: self.hard_state.commit_index,
            applied_index: self.applied_index,
            last_index: self.log.last_index(),
            persisted_index: self.log.persisted_index(),
            cluster: self.cluster.clone(),
        }
    }

    /// The metadata a snapshot of the state machine as applied up to `index` must carry (term of that
    /// entry, membership as of it). None unless `index` is applied and after the current snapshot point.
    pub fn snapshot_meta_at(&self, index: LogIndex) -> Option<SnapshotMeta> {
        if index <= self.log.snapshot_index() || index > self.applied_index {
            return None;
        }
        let last_included_term = self.log.term(index)?;
        let config = self
            .log
            .entries_between(self.log.first_index(), index)
            .iter()
            .rev()
            .find_map(|entry| match &entry.payload {
                EntryPayload::Config(config) => Some(config.clone()),
                _ => None,
            })
            .unwrap_or_else(|| self.fallback_cluster.clone());
        Some(SnapshotMeta {
            last_included_index: index,
            last_included_term,
            config,
        })
    }

    /// Log compaction: the shell made `snapshot` durable (its meta from [`RawNode::snapshot_meta_at`]);
    /// the entries it covers are dropped from memory and it becomes the snapshot sent to lagging members.
    /// The shell then compacts its WAL. Fails, changing nothing, for a snapshot that is not newer than
    /// the current one or whose meta does not match this log.
    pub fn compact(&mut self, snapshot: Snapshot) -> Result<(), CoreError> {
        let index = snapshot.meta.last_included_index;
        match self.snapshot_meta_at(index) {
            Some(meta) if meta == snapshot.meta => {}
            _ => {
                return Err(CoreError::InconsistentState(format!(
                    "snapshot at {index} (term {}) does not fit: snapshot point {}, applied {}",
                    snapshot.meta.last_included_term,
                    self.log.snapshot_index(),
                    self.applied_index
                )))
            }
        }
        self.log.compact_to(index);
        self.fallback_cluster = snapshot.meta.config.clone();
        self.snapshot = Some(snapshot);
        self.refresh_cluster();
        Ok(())
    }

    /// The index of the last entry covered by the snapshot (0 without one).
    pub fn snapshot_index(&self) -> LogIndex {
        self.log.snapshot_index()
    }

    /// The newest local snapshot, if any.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// The term of the entry at `index` (known for the snapshot point and every entry after it).
    pub fn log_term(&self, index: LogIndex) -> Option<Term> {
        self.log.term(index)
    }

    /// The current term, vote and commit index.
    pub fn hard_state(&self) -> &HardState {
        &self.hard_state
    }

    /// The in-memory log after the snapshot point.
    pub fn log_entries(&self) -> &[Entry] {
        self.log.entries()
    }

    /// The configuration the node runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Model checking only (the stateright model in `checker::raft_model`, which never calls `tick()`
    /// and fires timeouts directly): forgets the election-timeout randomness, the RNG state and the drawn
    /// timeout, which only `tick()` reads, so that states differing only in it hash alike. Changes no
    /// protocol decision of `step`, `propose`, `read_index` or the `fire_*` timeouts.
    pub fn normalize_timer_randomness(&mut self) {
        self.rng = SplitMix64::new(0);
        self.randomized_election_timeout_ticks = self.config.election_timeout_ticks_min;
    }

    /// The highest index that may be handed out for applying: committed and locally durable.
    fn applicable_index(&self) -> LogIndex {
        self.hard_state.commit_index.min(self.log.persisted_index())
    }

    /// Leader: appends an entry of the current term and starts replicating it. Returns its index.
    pub(super) fn append_own(&mut self, payload: EntryPayload) -> LogIndex {
        let index = self.log.last_index().next();
        let is_config = matches!(payload, EntryPayload::Config(_));
        self.log.append(Entry {
            term: self.hard_state.term,
            index,
            payload,
        });
        if is_config {
            self.refresh_cluster();
        }
        self.bcast_append(false);
        index
    }

    /// Recomputes the membership from the log (after appends or truncations that touch config entries).
    pub(super) fn refresh_cluster(&mut self) {
        let (index, cluster) = newest_config(&self.log)
            .unwrap_or_else(|| (self.log.snapshot_index(), self.fallback_cluster.clone()));
        self.cluster = cluster;
        self.cluster_index = index;
        if matches!(self.role, Role::Follower | Role::Learner) {
            self.role = self.follower_role();
        }
        self.sync_progress();
    }

    /// Whether this node may campaign: it is a voter of the configuration in effect, or, while that
    /// configuration is uncommitted, of the newest committed one. (A leader that appended a configuration
    /// without itself and then lost office may be the only node with the newest log and a needed vote
    /// in the old configuration; without this it could never lead again and nobody else could win.)
    pub(super) fn is_promotable(&self) -> bool {
        let id = self.config.id;
        if quorum::all_voters(&self.cluster).contains(&id) {
            return true;
        }
        if self.cluster_index <= self.hard_state.commit_index {
            return false;
        }
        let committed = self
            .log
            .entries_between(self.log.first_index(), self.hard_state.commit_index)
            .iter()
            .rev()
            .find_map(|entry| match &entry.payload {
                EntryPayload::Config(config) => Some(config),
                _ => None,
            })
            .unwrap_or(&self.fallback_cluster);
        quorum::all_voters(committed).contains(&id)
    }

    /// Follower, or Learner for a non-voting member.
    pub(super) fn follower_role(&self) -> Role {
        if !self.is_promotable() && self.cluster.learners.contains(&self.config.id) {
            Role::Learner
        } else {
            Role::Follower
        }
    }

    /// Every other member (voters, outgoing voters, learners), sorted.
    pub(super) fn peers(&self) -> Vec<NodeId> {
        let mut members = quorum::all_voters(&self.cluster);
        members.extend(self.cluster.learners.iter().copied());
        members.remove(&self.config.id);
        members.into_iter().collect()
    }

    /// Restarts the election timer with a fresh random timeout in `[min, max)`.
    pub(super) fn reset_election_timer(&mut self) {
        self.election_elapsed_ticks = 0;
        self.randomized_election_timeout_ticks = self.rng.gen_range(
            self.config.election_timeout_ticks_min,
            self.config.election_timeout_ticks_max,
        );
    }

    /// Whether a live leader was heard from within the minimum election timeout (and check-quorum makes
    /// that meaningful): then vote requests are ignored so that a disruptive node cannot depose it.
    pub(super) fn in_lease(&self) -> bool {
        self.config.check_quorum
            && self.leader.is_some()
            && self.election_elapsed_ticks < self.config.election_timeout_ticks_min
    }

    /// Forgets the leader, and with it what is known to match its log: every way of learning a leader
    /// again starts that from 0 (`accept_leader`, `become_follower`), so a value kept here could never
    /// be read, and would only tell otherwise identical states apart (for the model checker).
    pub(super) fn forget_leader(&mut self) {
        self.leader = None;
        self.leader_match_index = LogIndex(0);
    }

    /// Model checking only (the model never reports an unreachable peer and never asks a node for
    /// its leader): normalizes what a follower knows of its leader, so that states that behave alike
    /// hash alike. Changes no message, role or durable state.
    /// - It forgets how far its log is known to match the leader's: `leader_match_index` is read
    ///   only by `report_unreachable` (a follower commits what the leader's messages say it may,
    ///   `advance_follower_commit`), which the model never calls.
    /// - Without check-quorum and pre-vote, a follower that has voted in its term forgets the
    ///   leader. The leader is then read only when the follower votes (a vote already cast decides
    ///   alone) and when it learns a leader (which then starts the matched index from 0, which
    ///   nothing in the model reads); the lease of check-quorum, the other reader, is off.
    pub fn normalize_leader_knowledge(&mut self) {
        self.leader_match_index = LogIndex(0);
        let nothing_reads_it = self.role == Role::Follower
            && !self.config.check_quorum
            && !self.config.pre_vote
            && self.hard_state.voted_for.is_some();
        if nothing_reads_it {
            self.forget_leader();
        }
    }

    /// Becomes a follower in `term` (moving to a newer term clears the vote) that knows `leader`.
    pub(super) fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        assert!(term >= self.hard_state.term, "terms never go back");
        if term > self.hard_state.term {
            self.hard_state.term = term;
            self.hard_state.voted_for = None;
            self.leader_match_index = LogIndex(0);
        }
        if self.role == Role::Leader {
            self.leave_leadership();
        }
        if self.leader != leader {
            self.leader_match_index = LogIndex(0);
        }
        self.role = self.follower_role();
        self.solo_win_index = None;
        self.leader = leader;
        self.votes.clear();
        self.reset_election_timer();
    }

    /// Drops leader-only state; pending reads can no longer be confirmed. `leader_term_durable` is
    /// read only by a leader and set again when it takes office, so a value kept here could never be
    /// read and would only tell a former leader apart from a node that never led (for the model
    /// checker).
    fn leave_leadership(&mut self) {
        self.progress.clear();
        self.transfer_target = None;
        self.leader_term_durable = false;
        let aborted = self.reads.take_all();
        self.aborted_reads.extend(aborted);
    }

    /// Queues a message in the current term. `after_persist` puts it in `persisted_messages`.
    pub(super) fn send(&mut self, to: NodeId, body: MessageBody, after_persist: bool) {
        let term = self.hard_state.term;
        self.send_in_term(to, term, body, after_persist);
    }

    /// Queues a message carrying `term` (pre-votes carry the term they would campaign in).
    pub(super) fn send_in_term(
        &mut self,
        to: NodeId,
        term: Term,
        body: MessageBody,
        after_persist: bool,
    ) {
        let message = Message {
            from: self.config.id,
            to,
            term,
            body,
        };
        if after_persist {
            self.persisted_messages.push(message);
        } else {
            self.messages.push(message);
        }
    }
}

/// The newest membership recorded in the log and its index, if any.
fn newest_config(log: &RaftLog) -> Option<(LogIndex, ClusterConfig)> {
    log.entries()
        .iter()
        .rev()
        .find_map(|entry| match &entry.payload {
            EntryPayload::Config(config) => Some((entry.index, config.clone())),
            _ => None,
        })
}
