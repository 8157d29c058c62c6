//! The vocabulary of the Raft core: identifiers, log entries, persistent state, messages and the `Ready`
//! batch. Everything here is plain data (Clone + Eq + Hash + serde) so that the same values travel over
//! tarpc, go to disk and sit inside stateright model states.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Identifies a server in the cluster. Never 0 in a real cluster.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct NodeId(pub u64);

/// A Raft term (the paper's `currentTerm`). Terms only grow.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Term(pub u64);

/// A position in the replicated log; the first entry has index 1, index 0 means "before the log".
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct LogIndex(pub u64);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl fmt::Display for LogIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl LogIndex {
    /// The next index.
    pub fn next(self) -> LogIndex {
        LogIndex(self.0 + 1)
    }
    /// The previous index, saturating at 0.
    pub fn prev(self) -> LogIndex {
        LogIndex(self.0.saturating_sub(1))
    }
}

/// The membership of the cluster as of some log position. `voters_outgoing` is non-empty only during
/// joint consensus (C_old,new): then decisions need a majority of `voters` and of `voters_outgoing`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClusterConfig {
    /// Voting members (C_new during a joint change).
    pub voters: BTreeSet<NodeId>,
    /// Voting members of the old configuration during joint consensus; empty otherwise.
    pub voters_outgoing: BTreeSet<NodeId>,
    /// Non-voting members that receive the log (new nodes catching up).
    pub learners: BTreeSet<NodeId>,
    /// Where members listen (`host:port`), as given to the membership change that added them. Holds
    /// only members of this configuration (voters, outgoing voters, learners); a member may be missing
    /// (a node of the first configuration, whose address came from the command line). A node's own
    /// `--peer` flag overrides the address it uses (for fault-injecting proxies).
    ///
    /// Encoding note: bincode cannot skip a missing trailing field, so adding this field changed the
    /// encoding of every entry and snapshot; the storage layer decodes the old layout through its
    /// `legacy` module (as a configuration without addresses).
    pub addresses: BTreeMap<NodeId, String>,
}

impl ClusterConfig {
    /// Every member: voters, outgoing voters and learners.
    pub fn members(&self) -> BTreeSet<NodeId> {
        let mut members = self.voters.clone();
        members.extend(self.voters_outgoing.iter().copied());
        members.extend(self.learners.iter().copied());
        members
    }

    /// Drops the addresses of nodes that are not members.
    pub fn prune_addresses(&mut self) {
        let members = self.members();
        self.addresses.retain(|id, _| members.contains(id));
    }

    /// A configuration of voters only.
    pub fn with_voters(voters: impl IntoIterator<Item = NodeId>) -> Self {
        ClusterConfig {
            voters: voters.into_iter().collect(),
            ..Default::default()
        }
    }
}

/// What a log entry carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryPayload {
    /// Appended by every new leader so that it can commit entries of earlier terms (Raft §5.4.2, §8).
    Noop,
    /// An opaque application command; the KV layer encodes and decodes it.
    Command(Vec<u8>),
    /// A membership change; takes effect when appended (Raft thesis §4.1).
    Config(ClusterConfig),
}

/// One entry of the replicated log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry {
    /// The term in which a leader created the entry.
    pub term: Term,
    /// The entry's position in the log.
    pub index: LogIndex,
    /// What the entry carries.
    pub payload: EntryPayload,
}

/// State that must be durable before the node answers a message that depends on it (Raft Figure 2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HardState {
    /// Latest term this server has seen.
    pub term: Term,
    /// The candidate voted for in `term`, if any.
    pub voted_for: Option<NodeId>,
    /// Highest index known to be committed (persisting it is an optimisation, not a safety need).
    pub commit_index: LogIndex,
}

/// What a snapshot covers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// Index of the last entry the snapshot replaces.
    pub last_included_index: LogIndex,
    /// Term of that entry.
    pub last_included_term: Term,
    /// The configuration as of `last_included_index`.
    pub config: ClusterConfig,
}

/// A snapshot: metadata plus the state machine's serialized state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Snapshot {
    /// What the snapshot covers.
    pub meta: SnapshotMeta,
    /// The state machine's bytes (the KV layer's encoding, including the client-session table).
    pub data: Vec<u8>,
}

/// Where a follower's log disagrees with the leader's: the follower's term at `prev_log_index` and the first
/// index it holds with that term (or its last index + 1 when its log is too short, with `conflict_term`
/// None), so the leader skips a whole term per round trip (Raft §5.3, the "fast backup" optimisation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConflictHint {
    /// The follower's term at the probed index, if it has an entry there.
    pub conflict_term: Option<Term>,
    /// The first index of `conflict_term` in the follower's log, or its last index + 1.
    pub first_index: LogIndex,
}

/// The body of a Raft message.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MessageBody {
    /// Pre-vote (Raft thesis §9.6): "would you vote for me in `term`?" without anyone changing term.
    PreVote {
        /// Candidate's last log index.
        last_log_index: LogIndex,
        /// Candidate's last log term.
        last_log_term: Term,
    },
    /// Answer to `PreVote`.
    PreVoteResponse {
        /// Whether the vote would be granted.
        granted: bool,
    },
    /// RequestVote RPC.
    RequestVote {
        /// Candidate's last log index.
        last_log_index: LogIndex,
        /// Candidate's last log term.
        last_log_term: Term,
        /// Set when the election follows a leadership transfer (TimeoutNow): voters then ignore the
        /// "recently heard from a leader" rule.
        leadership_transfer: bool,
    },
    /// Answer to `RequestVote`.
    RequestVoteResponse {
        /// Whether the vote was granted.
        granted: bool,
    },
    /// AppendEntries RPC (also carries heartbeats when `entries` is empty).
    AppendEntries {
        /// Index of the entry just before `entries`.
        prev_log_index: LogIndex,
        /// Term of that entry.
        prev_log_term: Term,
        /// Entries to append (bounded by the leader's per-message maximum).
        entries: Vec<Entry>,
        /// Leader's commit index.
        leader_commit: LogIndex,
    },
    /// Answer to `AppendEntries`.
    AppendEntriesResponse {
        /// Whether the follower's log matched at `prev_log_index` and the entries were appended.
        success: bool,
        /// On success, the index of the last entry the request covered (now matching the leader's log).
        /// On rejection, the request's `prev_log_index` (lets the leader ignore stale rejections).
        match_index: LogIndex,
        /// On rejection, where the logs disagree.
        conflict: Option<ConflictHint>,
    },
    /// Leader heartbeat; `read_context` ties a heartbeat round to pending ReadIndex requests.
    Heartbeat {
        /// Leader's commit index (a follower commits up to min(this, its matched index)).
        leader_commit: LogIndex,
        /// The ReadIndex round this heartbeat belongs to, if any.
        read_context: Option<u64>,
    },
    /// Answer to `Heartbeat`.
    HeartbeatResponse {
        /// Echo of the heartbeat's `read_context`.
        read_context: Option<u64>,
    },
    /// One chunk of an InstallSnapshot RPC.
    InstallSnapshot {
        /// What the snapshot covers.
        meta: SnapshotMeta,
        /// Byte offset of this chunk in the snapshot data.
        offset: u64,
        /// The chunk.
        data: Vec<u8>,
        /// Whether this is the last chunk.
        done: bool,
    },
    /// Answer to an `InstallSnapshot` chunk.
    InstallSnapshotResponse {
        /// The snapshot the answer is about.
        last_included_index: LogIndex,
        /// The offset the follower expects next (lets the leader resume after a lost chunk).
        next_offset: u64,
        /// Whether the snapshot is now installed.
        done: bool,
    },
    /// Leadership transfer: the receiver starts an election at once.
    TimeoutNow,
}

/// A message between two Raft servers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    /// Sender.
    pub from: NodeId,
    /// Receiver.
    pub to: NodeId,
    /// The sender's current term (for PreVote: the term the candidate would campaign in).
    pub term: Term,
    /// What the message says.
    pub body: MessageBody,
}

/// A ReadIndex request that is now safe to serve once the state machine has applied `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReadState {
    /// The caller's id for the read, as given to `read_index`.
    pub request_id: u64,
    /// Serve the read once `applied_index >= index`.
    pub index: LogIndex,
}

/// The role of a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Running a pre-vote round; has not changed its term.
    PreCandidate,
    /// Running an election.
    Candidate,
    /// Leads the cluster in its term.
    Leader,
    /// Receives the log but does not vote (a node being added).
    Learner,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
            Role::Learner => "learner",
        };
        f.write_str(name)
    }
}

/// What a node recovered from its storage at start: the input the core is built from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InitialState {
    /// The persisted term, vote and commit index.
    pub hard_state: HardState,
    /// The persisted log entries after the snapshot (contiguous, ascending indexes).
    pub entries: Vec<Entry>,
    /// The newest snapshot's metadata, if a snapshot exists.
    pub snapshot_meta: Option<SnapshotMeta>,
    /// The configuration to use when neither the log nor a snapshot holds one (a fresh cluster).
    pub bootstrap_config: ClusterConfig,
}
