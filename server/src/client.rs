//! The client library: talks to a raftkv cluster and turns every request into one of three outcomes the
//! history recorder can trust.
//!
//! - [`Outcome::Ok`]: the operation took effect (writes) or returned this value (reads). A CAS whose
//!   comparison failed is `Ok(CasResult::Mismatch { .. })`, not a failure.
//! - [`Outcome::Fail`]: the operation certainly did not take effect: every attempt was refused before it
//!   was proposed (e.g. no leader, overloaded, connection refused).
//! - [`Outcome::Indeterminate`]: it may or may not have taken effect (a timeout or lost connection after a
//!   write was sent). A read that times out is indeterminate too (harmless: reads change nothing).
//!
//! How: the client sends to its preferred node first, follows `NotLeader` hints (a bounded number of
//! attempts), retries a write with the SAME `(client_id, seq)` after a timeout or a lost connection (the
//! servers' session table makes the retry apply at most once), honours an overall deadline, and redials
//! connections that failed (tarpc never reconnects by itself). A client is sequential: one operation at a
//! time (`&mut self`), and `client_id` must be unique among the clients of a cluster, for ever (a new
//! client with an old id would have its first writes mistaken for retries).

use crate::kv::Response;
use crate::node::service::{KvNodeClient, MembersInfo, NodeStatus, Reply, RequestError};
use crate::node::wire;
use crate::raft::{LogIndex, NodeId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tarpc::client::RpcError;

/// The most node addresses one client tracks (given ones plus ones learnt from hints).
pub const MAX_NODES: usize = 64;

/// The result of one client operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome<T> {
    /// It happened, with this result.
    Ok(T),
    /// It certainly did not happen; the reason.
    Fail(String),
    /// It may or may not have happened; the reason.
    Indeterminate(String),
}

impl<T> Outcome<T> {
    /// The value, if `Ok`.
    pub fn ok(self) -> Option<T> {
        match self {
            Outcome::Ok(value) => Some(value),
            _ => None,
        }
    }

    /// Whether the outcome is `Ok`.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok(_))
    }
}

impl<T: fmt::Debug> fmt::Display for Outcome<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok(value) => write!(f, "ok: {value:?}"),
            Outcome::Fail(reason) => write!(f, "failed: {reason}"),
            Outcome::Indeterminate(reason) => write!(f, "indeterminate: {reason}"),
        }
    }
}

/// The result of a compare-and-set that was applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CasResult {
    /// The key held the expected value and now holds the new one.
    Ok,
    /// The key did not hold the expected value; nothing was written.
    Mismatch {
        /// What the key held (`None`: absent).
        current: Option<Vec<u8>>,
    },
}

/// Tuning of a [`Client`].
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Deadline of one attempt (one RPC to one node).
    pub attempt_timeout: Duration,
    /// Deadline of a whole operation, all attempts included.
    pub operation_timeout: Duration,
    /// The most attempts (RPCs) per operation, hops to other nodes included.
    pub max_attempts: u32,
    /// Pause before retrying when no leader is known (an election is probably running).
    pub retry_backoff: Duration,
    /// Index (into the given addresses) of the node to try first.
    pub preferred_node: usize,
    /// Start every operation at the preferred node (as Jepsen's clients do, so that a node that wrongly
    /// answers by itself is exercised) instead of at the last known leader.
    pub start_each_operation_at_preferred_node: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            attempt_timeout: Duration::from_millis(1000),
            operation_timeout: Duration::from_secs(5),
            max_attempts: 32,
            retry_backoff: Duration::from_millis(50),
            preferred_node: 0,
            start_each_operation_at_preferred_node: false,
        }
    }
}

/// One known node: its address, its id once learnt, and an open connection if any.
struct NodeSlot {
    addr: SocketAddr,
    id: Option<NodeId>,
    connection: Option<KvNodeClient>,
}

/// What one attempt concluded and where to go next.
enum Attempt<T> {
    Done(T),
    /// A certain failure that no other node or later attempt would change.
    Rejected(String),
    Retry {
        reason: String,
        may_have_happened: bool,
        next: Next,
    },
}

/// Where the next attempt goes.
enum Next {
    Same,
    Leader(Option<(NodeId, String)>),
    OtherNode,
}

/// A raftkv client. See the module docs for the guarantees.
pub struct Client {
    nodes: Vec<NodeSlot>,
    current: usize,
    client_id: u64,
    next_seq: u64,
    options: ClientOptions,
    last_node: Option<NodeId>,
}

impl Client {
    /// A client for the cluster at `addrs` (at least one). Connects lazily.
    pub fn new(addrs: &[SocketAddr], client_id: u64, options: ClientOptions) -> Client {
        let nodes: Vec<NodeSlot> = addrs
            .iter()
            .take(MAX_NODES)
            .map(|&addr| NodeSlot {
                addr,
                id: None,
                connection: None,
            })
            .collect();
        let current = options.preferred_node % nodes.len().max(1);
        Client {
            nodes,
            current,
            client_id,
            next_seq: 1,
            options,
            last_node: None,
        }
    }

    /// This client's id.
    pub fn client_id(&self) -> u64 {
        self.client_id
    }

    /// The node that gave the last answer (success or refusal), if any answered.
    pub fn last_node(&self) -> Option<NodeId> {
        self.last_node
    }

    /// Linearizable read of `key`: `Ok(None)` when absent.
    pub async fn get(&mut self, key: &[u8]) -> Outcome<Option<Vec<u8>>> {
        let key = key.to_vec();
        self.run(move |conn, ctx| {
            let key = key.clone();
            async move { conn.get(ctx, key).await }
        })
        .await
    }

    /// Writes `value` to `key`.
    pub async fn put(&mut self, key: &[u8], value: &[u8]) -> Outcome<()> {
        let seq = self.take_seq();
        let (client_id, key, value) = (self.client_id, key.to_vec(), value.to_vec());
        let outcome = self
            .run(move |conn, ctx| {
                let (key, value) = (key.clone(), value.clone());
                async move { conn.put(ctx, client_id, seq, key, value).await }
            })
            .await;
        expect_done(outcome)
    }

    /// Compare-and-set: writes `new` if `key` holds `expected` (`None`: the key must be absent).
    pub async fn cas(
        &mut self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Outcome<CasResult> {
        let seq = self.take_seq();
        let client_id = self.client_id;
        let (key, expected, new) = (key.to_vec(), expected.map(<[u8]>::to_vec), new.to_vec());
        let outcome = self
            .run(move |conn, ctx| {
                let (key, expected, new) = (key.clone(), expected.clone(), new.clone());
                async move { conn.cas(ctx, client_id, seq, key, expected, new).await }
            })
            .await;
        match outcome {
            Outcome::Ok(Response::Done) => Outcome::Ok(CasResult::Ok),
            Outcome::Ok(Response::CasMismatch { current }) => {
                Outcome::Ok(CasResult::Mismatch { current })
            }
            Outcome::Ok(other) => unexpected(other),
            Outcome::Fail(reason) => Outcome::Fail(reason),
            Outcome::Indeterminate(reason) => Outcome::Indeterminate(reason),
        }
    }

    /// Removes `key` (succeeds whether or not it existed).
    pub async fn delete(&mut self, key: &[u8]) -> Outcome<()> {
        let seq = self.take_seq();
        let (client_id, key) = (self.client_id, key.to_vec());
        let outcome = self
            .run(move |conn, ctx| {
                let key = key.clone();
                async move { conn.delete(ctx, client_id, seq, key).await }
            })
            .await;
        expect_done(outcome)
    }

    /// The status of the preferred node (or of the next reachable one).
    pub async fn status(&mut self) -> Outcome<NodeStatus> {
        self.run(|conn, ctx| async move { conn.status(ctx).await })
            .await
    }

    /// Asks the first reachable node to take a snapshot now; returns the index its snapshot covers.
    pub async fn snapshot(&mut self) -> Outcome<LogIndex> {
        self.run(|conn, ctx| async move { conn.snapshot(ctx).await })
            .await
    }

    /// Asks the leader (found through the usual redirects) to hand leadership to `target`; Ok once the
    /// transfer has started.
    pub async fn transfer_leader(&mut self, target: NodeId) -> Outcome<()> {
        self.run(move |conn, ctx| async move { conn.transfer_leader(ctx, target).await })
            .await
    }

    /// Asks the leader to add node `id` listening at `addr` as a learner; Ok once the learner entry is
    /// committed (the leader promotes it to voter once it has caught up: poll [`Client::members`]).
    pub async fn add_node(&mut self, id: NodeId, addr: &str) -> Outcome<MembersInfo> {
        let addr = addr.to_string();
        self.run(move |conn, ctx| {
            let addr = addr.clone();
            async move { conn.add_node(ctx, id, addr).await }
        })
        .await
    }

    /// Asks the leader to remove voter or learner `id`; Ok once the removal is committed.
    pub async fn remove_node(&mut self, id: NodeId) -> Outcome<MembersInfo> {
        self.run(move |conn, ctx| async move { conn.remove_node(ctx, id).await })
            .await
    }

    /// Asks the leader to change the voters to exactly `voters` through joint consensus (an address of
    /// `None` keeps the known one); Ok once the final configuration is committed.
    pub async fn change_members(
        &mut self,
        voters: &BTreeMap<NodeId, Option<String>>,
    ) -> Outcome<MembersInfo> {
        let voters = voters.clone();
        self.run(move |conn, ctx| {
            let voters = voters.clone();
            async move { conn.change_members(ctx, voters).await }
        })
        .await
    }

    /// The membership as the first reachable node sees it.
    pub async fn members(&mut self) -> Outcome<MembersInfo> {
        self.run(|conn, ctx| async move { conn.members(ctx).await })
            .await
    }

    /// DISASTER RECOVERY, UNSAFE: forces the configuration of the first reachable node (give the client
    /// exactly one address) to `voters`. Refused by the node unless `force`.
    pub async fn set_peers(
        &mut self,
        voters: &BTreeMap<NodeId, Option<String>>,
        force: bool,
    ) -> Outcome<MembersInfo> {
        let voters = voters.clone();
        self.run(move |conn, ctx| {
            let voters = voters.clone();
            async move { conn.set_peers(ctx, voters, force).await }
        })
        .await
    }

    /// Re-sends the write with request number `seq` as a `put` (for tests of the exactly-once guarantee:
    /// a real client never needs it, since it retries by itself).
    pub async fn put_with_seq(&mut self, seq: u64, key: &[u8], value: &[u8]) -> Outcome<()> {
        let (client_id, key, value) = (self.client_id, key.to_vec(), value.to_vec());
        let outcome = self
            .run(move |conn, ctx| {
                let (key, value) = (key.clone(), value.clone());
                async move { conn.put(ctx, client_id, seq, key, value).await }
            })
            .await;
        expect_done(outcome)
    }

    /// The request number the next write will use.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Runs one operation: attempts `call` on nodes until an answer, a certain failure of every attempt,
    /// or the deadline. The same call (same `(client_id, seq)`) is repeated on every attempt.
    async fn run<T, F, Fut>(&mut self, call: F) -> Outcome<T>
    where
        F: Fn(KvNodeClient, tarpc::context::Context) -> Fut,
        Fut: Future<Output = Result<Reply<T>, RpcError>>,
    {
        if self.nodes.is_empty() {
            return Outcome::Fail("the client has no node addresses".into());
        }
        if self.options.start_each_operation_at_preferred_node {
            self.current = self.options.preferred_node % self.nodes.len();
        }
        let deadline = Instant::now() + self.options.operation_timeout;
        let mut may_have_happened = false;
        let mut last_reason = String::from("no attempt was made");
        for _attempt in 0..self.options.max_attempts {
            let now = Instant::now();
            if now >= deadline {
                last_reason = format!("operation deadline passed; last error: {last_reason}");
                break;
            }
            let timeout = self.options.attempt_timeout.min(deadline - now);
            match self.attempt(&call, timeout).await {
                Attempt::Done(value) => return Outcome::Ok(value),
                Attempt::Rejected(reason) if !may_have_happened => return Outcome::Fail(reason),
                Attempt::Rejected(reason) => return Outcome::Indeterminate(reason),
                Attempt::Retry {
                    reason,
                    may_have_happened: maybe,
                    next,
                } => {
                    may_have_happened |= maybe;
                    last_reason = reason;
                    self.choose_next(next, deadline).await;
                }
            }
        }
        if may_have_happened {
            Outcome::Indeterminate(last_reason)
        } else {
            Outcome::Fail(last_reason)
        }
    }

    async fn attempt<T, F, Fut>(&mut self, call: &F, timeout: Duration) -> Attempt<T>
    where
        F: Fn(KvNodeClient, tarpc::context::Context) -> Fut,
        Fut: Future<Output = Result<Reply<T>, RpcError>>,
    {
        let slot = &mut self.nodes[self.current];
        let connection = match &slot.connection {
            Some(connection) => connection.clone(),
            None => match wire::connect(slot.addr).await {
                Ok(connection) => {
                    slot.connection = Some(connection.clone());
                    connection
                }
                Err(err) => {
                    return Attempt::Retry {
                        reason: format!("cannot connect to {}: {err}", slot.addr),
                        may_have_happened: false,
                        next: Next::OtherNode,
                    }
                }
            },
        };
        match call(connection, wire::context_with_timeout(timeout)).await {
            Ok(Reply { node, result }) => {
                slot.id = Some(node);
                self.last_node = Some(node);
                match result {
                    Ok(value) => Attempt::Done(value),
                    Err(err) => refused(err),
                }
            }
            Err(err) => {
                // The connection may be stalled or dead: drop it so the next attempt redials.
                slot.connection = None;
                Attempt::Retry {
                    may_have_happened: !matches!(err, RpcError::Send(_)),
                    reason: format!("rpc to {} failed: {err}", slot.addr),
                    next: Next::OtherNode,
                }
            }
        }
    }

    /// Moves `current` for the next attempt, pausing when no leader is known.
    async fn choose_next(&mut self, next: Next, deadline: Instant) {
        let pause = match next {
            Next::Same => true,
            Next::OtherNode => {
                self.rotate();
                true
            }
            Next::Leader(None) => {
                self.rotate();
                true
            }
            Next::Leader(Some((id, addr))) => {
                if let Some(index) = self.nodes.iter().position(|n| n.id == Some(id)) {
                    self.current = index;
                    false
                } else if self.nodes.iter().any(|n| n.id.is_none()) {
                    // Prefer a given address whose id is not known yet: the hint's address is the
                    // hinting node's own route to the leader (possibly a proxy).
                    self.rotate_to_unknown();
                    false
                } else if let (Ok(addr), true) = (addr.parse(), self.nodes.len() < MAX_NODES) {
                    self.nodes.push(NodeSlot {
                        addr,
                        id: Some(id),
                        connection: None,
                    });
                    self.current = self.nodes.len() - 1;
                    false
                } else {
                    self.rotate();
                    true
                }
            }
        };
        if pause {
            let remaining = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(self.options.retry_backoff.min(remaining)).await;
        }
    }

    fn rotate(&mut self) {
        self.current = (self.current + 1) % self.nodes.len();
    }

    fn rotate_to_unknown(&mut self) {
        let count = self.nodes.len();
        for step in 1..=count {
            let index = (self.current + step) % count;
            if self.nodes[index].id.is_none() {
                self.current = index;
                return;
            }
        }
    }
}

/// Classifies a node's refusal.
fn refused<T>(err: RequestError) -> Attempt<T> {
    if let RequestError::Rejected(reason) = err {
        return Attempt::Rejected(reason);
    }
    let may_have_happened = err.may_have_happened();
    let next = match &err {
        RequestError::NotLeader { leader_hint } => Next::Leader(leader_hint.clone()),
        RequestError::Timeout { .. }
        | RequestError::Busy
        | RequestError::ProposalDropped
        | RequestError::NotReady(_) => Next::Same,
        _ => Next::OtherNode,
    };
    Attempt::Retry {
        reason: err.to_string(),
        may_have_happened,
        next,
    }
}

fn expect_done(outcome: Outcome<Response>) -> Outcome<()> {
    match outcome {
        Outcome::Ok(Response::Done) => Outcome::Ok(()),
        Outcome::Ok(other) => unexpected(other),
        Outcome::Fail(reason) => Outcome::Fail(reason),
        Outcome::Indeterminate(reason) => Outcome::Indeterminate(reason),
    }
}

/// A server answered a write with a response of the wrong kind: a protocol bug. The write did happen (it
/// was applied), so the only honest outcome is indeterminate.
fn unexpected<T>(response: Response) -> Outcome<T> {
    Outcome::Indeterminate(format!("unexpected response kind: {response:?}"))
}
