//! A stateright model of the REAL Raft core: each server actor wraps `raftkv::raft::RawNode` (the same
//! code the server runs), client actors run short scripts of put / read / compare-and-set operations, and
//! stateright explores every interleaving of message deliveries, timeouts, crashes and restarts within
//! bounds on terms, log length and client operations.
//!
//! Checked properties (Raft paper Figure 3, plus the clients' view): Election Safety, Leader Append-Only,
//! Log Matching, Leader Completeness, State Machine Safety and linearizability of the clients' operations
//! (always); "a value is committed" and "a leader is elected after a crash" (sometimes).
//!
//! Model choices, each a documented simplification:
//! - A timeout is one step: firing the election timer calls `fire_election_timeout`, the heartbeat timer
//!   `fire_heartbeat_timeout`; `tick()` is never called, so tick counters stay 0 and the election-timeout
//!   randomness is normalised away (`RawNode::normalize_timer_randomness`). With check-quorum on, a
//!   follower that knows a leader ignores vote requests until its own election timer fires.
//! - A leader that has heard from a quorum since its last check-quorum round marks every member heard
//!   from (`RawNode::normalize_quorum_activity`): the round's outcome is decided either way and
//!   nothing else reads the flags, so the two states behave alike (the model never changes membership).
//! - A follower forgets how far it knows its log to match its leader's (read only to answer again
//!   after lost messages, which the model never reports: a follower commits what the leader's
//!   messages say), and without pre-vote and check-quorum one that has voted forgets the leader
//!   (`RawNode::normalize_leader_knowledge` has the argument): the model reads the leader only for
//!   a vote not yet cast and for the lease of check-quorum (the model never reports an unreachable
//!   peer, the other reader).
//! - Persisting is synchronous with the step (no crash between write and fsync).
//! - `stale-read` is a shell behaviour: a server with [`Bug::StaleRead`](raftkv::bugs::Bug) answers reads
//!   at once from its local state machine, whatever its role; clients may send reads to any server.
//! - Clients retry an operation (on a server picked anew) only after a `NotLeader` answer, which means the
//!   operation had no effect; a request or answer that is lost leaves the operation in flight forever.
//!   An answer whose delivery invokes nothing new (`NotLeader`, a reply to the client's last
//!   operation) is delivered in the step that sent it ([`client_answers`]): a later delivery only
//!   moves a return later, which can hide a linearizability violation, never reveal one.
//! - `crashes` bounds the total number of crashes in a run (restarts so far plus servers down now, see
//!   `properties::within_boundary`), and so also how many servers are down at once. The restarts
//!   are counted in the run's history, not per server: the budget is the run's. Only servers
//!   crash (clients are the test's drivers). A server that is not the leader is restarted in the
//!   same step as its crash ([`restarts`]: down for a while is, to everyone else, the same as up
//!   and idle, then crashed). A crashed leader stays down until a restart step; while it is down
//!   the model keeps only its crash image (`ServerActor::crash_image`: storage, role, term and log
//!   at the crash): the rest of a dead process's memory can never be read again.
//! - Messages between a client and a server are delivered at most once on every network (one request
//!   and one answer per attempt, as on the client's connection); only Raft messages between servers
//!   are duplicated by the duplicating network. A client sends each attempt to every server, and the
//!   first delivery takes the other copies out: the server is picked by the delivery, not by a step of
//!   its own before it (which nothing could observe, and which multiplied the states in between).
//! - On the unordered non-duplicating networks a state holding two copies of the same live in-flight
//!   message is outside the boundary: a second copy only adds duplication (the duplicating network covers
//!   it), and without this bound a leader's repeated identical heartbeats make the space infinite. Dead
//!   messages (whose delivery can never change anything, see [`reduction`]) are ignored by this bound
//!   and left out of the symmetry representative. On the duplicating network, stale requests (below
//!   their receiver's term, answered without a state change) are held in the representative as one
//!   stand-in per answer ([`reduction::canonical`]), a pre-vote for its receiver's own term
//!   counting as stale (the core never grants one), and an append or heartbeat carries no leader
//!   commit index once its receiver has committed that far; Election Safety reads the terms each
//!   server led from the ghost state, not from leader messages in flight.
//! - The default network duplicates (every message may be delivered any number of times, or never),
//!   which includes the behaviours of the other two; on it the checked model ([`RaftModel`]) saturates
//!   every state ([`saturation`]), a sound reduction that removes most of the space.
//! - On the saturated duplicating network a (pre-)vote rejection is delivered only together with
//!   the other rejections that lose the receiver's round ([`rejections`]): a tally of rejections that
//!   does not decide the round is state nothing outside the election reads. An election
//!   timeout whose only choice is "now or later" is taken at once ([`eager_timeouts`]): a
//!   follower's pre-vote round below the term bound (also one that knows a leader: its lease only
//!   ignores vote requests), a leader's check-quorum round that will pass.
//! - The DFS run on the saturated duplicating network skips a state whose messages in flight are a
//!   subset of a recorded state's with the same everything else and no fewer restarts
//!   ([`subsumption`]); crashes are offered first, so DFS explores them last and a state after a
//!   restart is mostly covered by the same state reached without one, and deliveries to and from
//!   clients and answers between servers next, so that DFS explores the states after requests and
//!   timeouts, which hold the most messages, first (`system::exploration_rank`). A successor is
//!   checked against the records before it is saturated (covered then, covered after), and a
//!   recorded state that a later one covers is not expanded.
//! - After every step the ghost state forgets what no property can use any more: who led a term
//!   nobody can lead again, and in which of the terms without leaders an applied entry was first
//!   known ([`ghost_forgetting`]); and a server forgets for whom it voted once that candidate can
//!   never read the vote ([`dead_votes`]: the vote reads as one for itself).
//! - Search strategies: DFS with symmetry (exhaustive), BFS (shortest counterexample) and seeded random
//!   walks ([`walk`], never exhaustive, for deep counterexamples such as Figure 8).

pub mod actor;
pub mod client_answers;
pub mod dead_votes;
pub mod eager_timeouts;
pub mod fingerprint;
pub mod ghost_forgetting;
pub mod history;
pub mod probe_cache;
pub mod properties;
pub mod reduction;
pub mod refusals;
pub mod rejections;
pub mod render;
pub mod restarts;
pub mod runner;
pub mod saturation;
pub mod spec;
pub mod subsumption;
pub mod symmetry;
pub mod system;
pub mod walk;

use actor::{ClientActor, RaftActor, ServerActor};
use history::ClientHistory;
use raftkv::bugs::BugSet;
use raftkv::raft::{ClusterConfig, Config, NodeId, Term};
use spec::RegisterOp;
use stateright::actor::{ActorModel, ActorModelState, Id, LossyNetwork, Network};
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The actor model of servers and clients, before the saturation reduction.
pub type ActorSystem = ActorModel<RaftActor, ModelConfig, ClientHistory>;
pub use system::RaftModel;
/// The model's state type.
pub type RaftModelState = ActorModelState<RaftActor, ClientHistory>;

/// At most this many servers (symmetry reduction enumerates their permutations).
pub const SERVERS_MAX: usize = 5;
/// At most this many terms (the ghost state records each server's terms as leader in a 64-bit set).
pub const TERMS_MAX: u64 = 63;
/// At most this many clients.
pub const CLIENTS_MAX: usize = 8;
/// At most this many operations per client.
pub const OPS_PER_CLIENT_MAX: usize = 8;

/// The network semantics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NetworkKind {
    /// Messages may be reordered; each is delivered at most once.
    Unordered,
    /// Messages may be reordered and delivered any number of times.
    UnorderedDuplicating,
    /// Like `Unordered`, and any message may be dropped.
    Lossy,
}

impl NetworkKind {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            NetworkKind::Unordered => "unordered",
            NetworkKind::UnorderedDuplicating => "unordered-duplicating",
            NetworkKind::Lossy => "lossy",
        }
    }
}

impl fmt::Display for NetworkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for NetworkKind {
    type Err = ModelConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            NetworkKind::Unordered,
            NetworkKind::UnorderedDuplicating,
            NetworkKind::Lossy,
        ]
        .into_iter()
        .find(|k| k.name() == s)
        .ok_or_else(|| {
            ModelConfigError(format!(
                "unknown network '{s}' (unordered, unordered-duplicating, lossy)"
            ))
        })
    }
}

/// Ends a running search: once raised, every state is outside the boundary, so the checker's workers
/// drain their queues without expanding anything and stop. Why: stateright 0.31 checks its timeout only
/// when a worker asks for new work, which a single DFS worker never does, so its `timeout` does not
/// stop it. The flag is not part of the model's identity (equal and hashed alike whatever its value).
#[derive(Clone, Debug, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// Asks the search to stop.
    pub fn raise(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    /// Whether the search was asked to stop.
    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

crate::invisible_to_identity!(StopFlag);

/// Most crashes a run may have in total (the restart counter is a `u8`).
pub const CRASHES_MAX: usize = 16;

/// A configuration the model cannot run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid model configuration: {0}")]
pub struct ModelConfigError(pub String);

/// The model's bounds and settings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModelConfig {
    /// Number of servers (1..=SERVERS_MAX).
    pub servers: usize,
    /// States with a server in a higher term are outside the boundary.
    pub max_term: u64,
    /// States with a longer log on any server are outside the boundary.
    pub max_log: usize,
    /// Number of client actors.
    pub clients: usize,
    /// Operations per client.
    pub ops_per_client: usize,
    /// How many crashes a run may have in total (each followed by a restart when the model chooses).
    pub crashes: usize,
    /// The network semantics (default: duplicating, saturated).
    pub network: NetworkKind,
    /// Pre-vote and check-quorum (on together, as in production); off gives classic Raft.
    pub pre_vote: bool,
    /// Entries per AppendEntries (the core's `max_entries_per_append`); None keeps the core's default.
    /// 1 makes a leader probe old entries one by one, the only way the Figure 8 bug (`commit-old-term`)
    /// can bite in a core that appends a no-op on election and batches appends.
    pub entries_per_append: Option<usize>,
    /// Appends in flight per follower (the core's `max_inflight_appends`); None keeps the core's default.
    /// 1 (a valid production setting: stop-and-wait replication) removes the states in which a leader
    /// has several appends to one follower in flight, so it shrinks the space a lot; it loses coverage
    /// of reordered pipelined appends.
    pub inflight_appends: Option<usize>,
    /// Saturate states on the duplicating network (see [`saturation`]): a sound reduction, on by
    /// default; off only to measure it. No effect on the other network kinds.
    pub saturate: bool,
    /// On the saturated duplicating network, deliver a (pre-)vote rejection only together with the
    /// others that lose the round (see [`rejections`]): a sound reduction, on by default; off only to
    /// measure and test it.
    pub rejections_together: bool,
    /// On the saturated duplicating network, take at once the election timeouts whose only choice is
    /// "now or later": a follower that knows no leader starts its pre-vote round, a leader that heard
    /// from a quorum runs its check-quorum round (see [`eager_timeouts`]): a sound reduction, on by
    /// default; off only to measure and test it.
    pub eager_timeouts: bool,
    /// Do not deliver a client request that a server refuses without changing anything (see
    /// [`refusals`]): a sound reduction on every network, on by default; off only to measure and
    /// test it.
    pub refusals_are_no_step: bool,
    /// Forget what the ghost state can no longer use (who led a term nobody can lead any more; in
    /// which term an applied entry was known, past terms that have no leader now and never will; see
    /// [`ghost_forgetting`]): a sound reduction on every network, on by default; off only to measure
    /// and test it.
    pub forget_settled_ghost: bool,
    /// Forget for whom a server voted once that candidate can never read the vote (see
    /// [`dead_votes`]): a sound reduction on every network, on by default; off only to measure and
    /// test it.
    pub forget_done_votes: bool,
    /// Restart a server that was not the leader in the same step as its crash (see [`restarts`]):
    /// a sound reduction on every network, on by default; off only to measure and test it.
    pub restart_at_once: bool,
    /// Deliver an answer to a client in the step that sent it when its delivery invokes no new
    /// operation (see [`client_answers`]): a sound reduction on every network, on by default; off
    /// only to measure and test it.
    pub client_answers_at_once: bool,
    /// Bug switches.
    pub bugs: BugSet,
    /// Raised by the runner to end the search (see [`StopFlag`]).
    pub stop: StopFlag,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            servers: 3,
            max_term: 3,
            max_log: 3,
            clients: 2,
            ops_per_client: 1,
            crashes: 1,
            network: NetworkKind::UnorderedDuplicating,
            pre_vote: true,
            entries_per_append: None,
            inflight_appends: None,
            saturate: true,
            rejections_together: true,
            eager_timeouts: true,
            refusals_are_no_step: true,
            forget_settled_ghost: true,
            forget_done_votes: true,
            restart_at_once: true,
            client_answers_at_once: true,
            bugs: BugSet::none(),
            stop: StopFlag::default(),
        }
    }
}

impl ModelConfig {
    /// Checks the bounds.
    pub fn validate(&self) -> Result<(), ModelConfigError> {
        let bad = |why: String| Err(ModelConfigError(why));
        if self.servers == 0 || self.servers > SERVERS_MAX {
            return bad(format!("servers must be in 1..={SERVERS_MAX}"));
        }
        if self.clients > CLIENTS_MAX || self.ops_per_client > OPS_PER_CLIENT_MAX {
            return bad(format!(
                "at most {CLIENTS_MAX} clients with {OPS_PER_CLIENT_MAX} operations each"
            ));
        }
        if self.max_term == 0 || self.max_log == 0 {
            return bad("max term and max log must be at least 1".to_string());
        }
        if self.max_term > TERMS_MAX {
            return bad(format!("max term must be at most {TERMS_MAX}"));
        }
        if self.crashes > CRASHES_MAX {
            return bad(format!("at most {CRASHES_MAX} crashes"));
        }
        Ok(())
    }

    /// The script of client `client`: kinds rotate put, read, cas; values are distinct.
    pub fn client_ops(&self, client: usize) -> Vec<RegisterOp> {
        (0..self.ops_per_client)
            .map(|k| {
                let value = u8::try_from(client * self.ops_per_client + k + 1).unwrap_or(u8::MAX);
                match (client + k) % 3 {
                    0 => RegisterOp::Put(value),
                    1 => RegisterOp::Read,
                    _ => RegisterOp::Cas {
                        expected: 1,
                        new: value,
                    },
                }
            })
            .collect()
    }

    /// The core configuration of server `node`.
    fn core_config(&self, node: NodeId) -> Config {
        let mut config = Config::new(node);
        config.pre_vote = self.pre_vote;
        config.check_quorum = self.pre_vote;
        config.bugs = self.bugs.clone();
        if let Some(max) = self.entries_per_append {
            config.max_entries_per_append = max.max(1);
        }
        if let Some(max) = self.inflight_appends {
            config.max_inflight_appends = max.max(1);
        }
        config
    }

    /// Builds the model with every property.
    pub fn into_model(self) -> Result<RaftModel, ModelConfigError> {
        self.validate()?;
        let servers: Vec<Id> = (0..self.servers).map(Id::from).collect();
        let bootstrap = ClusterConfig::with_voters((1..=self.servers as u64).map(NodeId));
        let network = match self.network {
            NetworkKind::UnorderedDuplicating => Network::new_unordered_duplicating([]),
            NetworkKind::Unordered | NetworkKind::Lossy => {
                Network::new_unordered_nonduplicating([])
            }
        };
        let lossy = if self.network == NetworkKind::Lossy {
            LossyNetwork::Yes
        } else {
            LossyNetwork::No
        };
        let crashes = self.crashes;
        let saturate = self.saturate;
        let rejections_together = self.rejections_together;
        let eager_timeouts = self.eager_timeouts;
        let refusals_are_no_step = self.refusals_are_no_step;
        let forget_settled_ghost = self.forget_settled_ghost;
        let forget_done_votes = self.forget_done_votes;
        let restart_at_once = self.restart_at_once;
        let client_answers_at_once = self.client_answers_at_once;
        let mut model = ActorModel::new(self.clone(), ClientHistory::new(self.clients))
            .init_network(network)
            .lossy_network(lossy)
            // Down at once: bounded by the servers; the total is bounded in `within_boundary`.
            .max_crashes(crashes.min(self.servers))
            .record_msg_out(|cfg, h, env| history::record_out(cfg.servers, h, env))
            .record_msg_in(|cfg, h, env| history::record_in(cfg.servers, h, env))
            .within_boundary(properties::within_boundary);
        for id in &servers {
            let node = actor::node_of(*id);
            model = model.actor(RaftActor::Server(ServerActor {
                config: self.core_config(node),
                bootstrap: bootstrap.clone(),
                term_bound: Term(self.max_term),
            }));
        }
        for client in 0..self.clients {
            model = model.actor(RaftActor::Client(ClientActor {
                ops: self.client_ops(client),
                servers: servers.clone(),
            }));
        }
        Ok(RaftModel {
            system: model,
            saturate,
            rejections_together,
            eager_timeouts,
            refusals_are_no_step,
            forget_settled_ghost,
            forget_done_votes,
            restart_at_once,
            client_answers_at_once,
            subsumption: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change to the default configuration, and what the error must name.
    type Case = (fn(&mut ModelConfig), &'static str);

    /// Each bound outside what the model supports is rejected with an error that names it; the
    /// largest supported values are accepted.
    #[test]
    fn bounds_outside_the_model_are_rejected_with_the_reason() {
        let with = |change: fn(&mut ModelConfig)| {
            let mut config = ModelConfig::default();
            change(&mut config);
            config.validate().map_err(|e| e.to_string())
        };
        let rejected: [Case; 6] = [
            (|c| c.servers = 0, "servers"),
            (|c| c.servers = SERVERS_MAX + 1, "servers"),
            (|c| c.max_term = 0, "max term"),
            (|c| c.max_term = TERMS_MAX + 1, "max term"),
            (|c| c.max_log = 0, "max log"),
            (|c| c.crashes = CRASHES_MAX + 1, "crashes"),
        ];
        for (change, named) in rejected {
            let error = with(change).expect_err("an unsupported bound is rejected");
            assert!(error.contains(named), "{error:?} names {named:?}");
        }
        assert_eq!(with(|c| c.max_term = TERMS_MAX), Ok(()));
        assert_eq!(with(|c| c.servers = SERVERS_MAX), Ok(()));
    }
}
