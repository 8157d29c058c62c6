//! The one tarpc service every node serves on its listen address: `deliver` carries Raft messages
//! between nodes; `get`, `put`, `cas`, `delete`, `status` and the admin calls (snapshot, leadership
//! transfer, membership) serve clients. One service (not two) so
//! that a node needs one address: `--peer j=ADDR` names where i's messages for j go (possibly through a
//! fault-injecting proxy), and clients dial the node's `--listen` address directly.
//!
//! Every client answer is a [`Reply`], which names the answering node and says, on failure, whether the
//! request may still take effect ([`RequestError::may_have_happened`]); the client library turns that
//! into its `Ok` / `Fail` / `Indeterminate` outcomes.

#![allow(missing_docs)] // The `tarpc::service` macro generates undocumented request/response enums.

use crate::kv::Response;
use crate::raft::{LogIndex, Message, NodeId, Role, Term};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The RPC surface of a node.
#[tarpc::service]
pub trait KvNode {
    /// One-way Raft message delivery from the calling node, which names the address it listens on
    /// (`sender_addr`: the lowest-precedence route back to it, see `routes.rs`). The answer only says
    /// the messages were queued (or dropped because the node is overloaded); Raft replies travel as
    /// separate messages on the replier's own outbound connection.
    async fn deliver(sender_addr: String, messages: Vec<Message>);
    /// Linearizable read of `key` (through ReadIndex on the leader).
    async fn get(key: Vec<u8>) -> Reply<Option<Vec<u8>>>;
    /// Writes `value` to `key`; `(client_id, seq)` identifies the request across retries.
    async fn put(client_id: u64, seq: u64, key: Vec<u8>, value: Vec<u8>) -> Reply<Response>;
    /// Compare-and-set: writes `new` if `key` holds `expected` (`None`: absent).
    async fn cas(
        client_id: u64,
        seq: u64,
        key: Vec<u8>,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Reply<Response>;
    /// Removes `key`.
    async fn delete(client_id: u64, seq: u64, key: Vec<u8>) -> Reply<Response>;
    /// The node's view of the cluster (answered by any node, leader or not).
    async fn status() -> Reply<NodeStatus>;
    /// Takes a snapshot of this node's state machine now and compacts its log (any node); answers with
    /// the index the node's snapshot covers.
    async fn snapshot() -> Reply<LogIndex>;
    /// Leader only: hands leadership to voter `target` (the leader stops taking proposals, brings the
    /// target up to date and sends it TimeoutNow; abandoned after an election timeout). Answers once
    /// the transfer has started; poll `status` to see the target lead.
    async fn transfer_leader(target: NodeId) -> Reply<()>;
    /// Leader only: adds node `id`, listening at `addr`, as a learner; it is promoted to voter once it
    /// has caught up. Answers once the learner entry is committed (poll `members` for the promotion).
    async fn add_node(id: NodeId, addr: String) -> Reply<MembersInfo>;
    /// Leader only: removes voter or learner `id`. Answers once the removal is committed.
    async fn remove_node(id: NodeId) -> Reply<MembersInfo>;
    /// Leader only: joint consensus to exactly these voters (`None`: keep the known address).
    /// Answers once the final configuration (C_new) is committed.
    async fn change_members(voters: BTreeMap<NodeId, Option<String>>) -> Reply<MembersInfo>;
    /// This node's view of the membership (answered by any node).
    async fn members() -> Reply<MembersInfo>;
    /// DISASTER RECOVERY, UNSAFE: forces THIS node's configuration to these voters without consensus.
    /// Refused unless `force`. Answers once the forced configuration is durable on this node.
    async fn set_peers(voters: BTreeMap<NodeId, Option<String>>, force: bool)
        -> Reply<MembersInfo>;
}

/// A node's view of the membership, as reported by `members` and the membership changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersInfo {
    /// The answering node.
    pub node: NodeId,
    /// Its role.
    pub role: Role,
    /// The leader it knows of.
    pub leader: Option<NodeId>,
    /// Voting members (C_new during a joint change).
    pub voters: BTreeSet<NodeId>,
    /// The old voters during a joint change (C_old); empty otherwise.
    pub voters_outgoing: BTreeSet<NodeId>,
    /// Non-voting members (catching up; promoted once within the lag).
    pub learners: BTreeSet<NodeId>,
    /// Member addresses recorded in the configuration.
    pub addresses: BTreeMap<NodeId, String>,
    /// Where this node actually sends each peer's messages (may differ: `--peer` overrides).
    pub routes: BTreeMap<NodeId, String>,
    /// The log index of the configuration entry (the snapshot index when it came from a snapshot).
    pub config_index: LogIndex,
    /// Whether a change is unfinished: the configuration is not committed, is joint, or has a learner
    /// waiting for promotion. A new change is refused meanwhile.
    pub change_in_flight: bool,
}

/// A client-facing answer: which node answered, and the result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply<T> {
    /// The node that answered.
    pub node: NodeId,
    /// The result.
    pub result: Result<T, RequestError>,
}

/// Why a node did not serve a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RequestError {
    /// This node is not the leader; it was not proposed. The hint is the leader this node knows of, with
    /// the address this node uses for it (which may be a proxy: prefer an address learnt from the leader).
    #[error("not the leader (leader hint: {leader_hint:?})")]
    NotLeader {
        /// The leader's id and this node's address for it, if known.
        leader_hint: Option<(NodeId, String)>,
    },
    /// The node's queues are full; nothing was proposed.
    #[error("node is overloaded; nothing was proposed")]
    Busy,
    /// The node is shutting down; nothing was proposed.
    #[error("node is shutting down; nothing was proposed")]
    ShuttingDown,
    /// The request's deadline passed. If `proposed`, the write may still take effect.
    #[error("deadline exceeded (proposed: {proposed})")]
    Timeout {
        /// Whether the write had been proposed to the log before the deadline passed.
        proposed: bool,
    },
    /// The proposal lost its log slot to another leader's entry, so this proposal will never commit.
    /// (An earlier attempt of the same request, sent elsewhere, still might.)
    #[error("proposal was overwritten by another leader's entry")]
    ProposalDropped,
    /// The node lost leadership or stopped while the write was in flight: it may still commit.
    #[error("leadership changed while the request was in flight")]
    LeadershipLost,
    /// A read's ReadIndex round was abandoned (e.g. the leader stepped down). Reads change nothing.
    #[error("read was aborted")]
    ReadAborted,
    /// The request could not be handled (e.g. it could not be encoded). Nothing was proposed.
    #[error("internal error: {0}")]
    Internal(String),
    /// The leader cannot do this yet but will soon (it has not committed an entry of its term, or a
    /// leadership transfer is under way); nothing changed. Retry the same node.
    #[error("not ready: {0}")]
    NotReady(String),
    /// The request is invalid here and retrying elsewhere will not help (e.g. adding a node that is
    /// already a member, or a second membership change while one is in flight). Nothing changed.
    #[error("rejected: {0}")]
    Rejected(String),
}

impl RequestError {
    /// Whether a write answered with this error may still take effect (so the client must treat the
    /// outcome as indeterminate, or retry with the same `(client_id, seq)`).
    pub fn may_have_happened(&self) -> bool {
        matches!(
            self,
            RequestError::Timeout { proposed: true } | RequestError::LeadershipLost
        )
    }
}

/// A node's view of the cluster, as reported by `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The answering node.
    pub id: NodeId,
    /// Its role.
    pub role: Role,
    /// Its current term.
    pub term: Term,
    /// The highest index it knows to be committed.
    pub commit_index: LogIndex,
    /// The highest index its state machine has applied.
    pub applied_index: LogIndex,
    /// Its last log index.
    pub last_index: LogIndex,
    /// The leader it knows of.
    pub leader: Option<NodeId>,
    /// Voting members of its current configuration.
    pub members: Vec<NodeId>,
    /// The last index covered by its newest snapshot (0 without one).
    pub snapshot_index: LogIndex,
}
