//! A simulated cluster of `RawNode`s with modelled durable storage: each `Ready`'s hard state and entries
//! become a pending write that is durable only after a simulated fsync; a crash loses pending writes and
//! all volatile state, and a restart rebuilds the node from what was durable. The cluster follows the
//! shell's order exactly: persist, send `messages` at once, after fsync send `persisted_messages`, call
//! `on_persisted`, apply, `on_applied`.
//!
//! Snapshots: each node runs a tiny state machine, a running digest of the entries it applied (its
//! snapshot data is the applied index and the digest, padded so that it takes several chunks). With a
//! `snapshot_threshold`, a node compacts its log once that many entries were applied since its last
//! snapshot; the snapshot is durable at once (as the shell's file write + fsync + rename). The cluster
//! checks that every node's digest at an index (also after installing a snapshot) is the same.
//!
//! Messages produced go to `outbox`; the caller (a scripted scenario or the random network) decides
//! what to deliver. Every observation is fed to the [`SafetyMonitor`].

use crate::raft::rng::SplitMix64;
use crate::raft::safety::{SafetyMonitor, Violation};
use crate::raft::{
    ClusterConfig, Config, Entry, EntryPayload, HardState, InitialState, LogIndex, Message, NodeId,
    ProposeError, RawNode, ReadState, Role, Snapshot, Term,
};
use std::collections::{BTreeMap, VecDeque};

/// A proposal's outcome at a node: None if the node is crashed.
pub type ProposeOutcome = Option<Result<(LogIndex, Term), ProposeError>>;

/// Bound on `Ready` rounds handled in one go (a node never produces readies forever).
const READY_ROUNDS_MAX: usize = 64;

/// What a node's disk holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DurableStorage {
    /// The last durable hard state.
    pub hard_state: HardState,
    /// The durable log (after the snapshot).
    pub entries: Vec<Entry>,
    /// The newest durable snapshot.
    pub snapshot: Option<Snapshot>,
}

impl DurableStorage {
    /// Records a snapshot as the WAL's `compact` does: entries up to its index go; entries after it stay
    /// only if the log holds its last entry with the same term.
    fn compact(&mut self, snapshot: &Snapshot) {
        let index = snapshot.meta.last_included_index;
        let matches = self
            .entries
            .iter()
            .any(|e| e.index == index && e.term == snapshot.meta.last_included_term)
            || self
                .snapshot
                .as_ref()
                .is_some_and(|s| s.meta == snapshot.meta);
        if matches {
            self.entries.retain(|e| e.index > index);
        } else {
            self.entries.clear();
        }
        self.snapshot = Some(snapshot.clone());
    }

    /// Writes a `Ready`'s state: the snapshot if any, the hard state if any, then the entries
    /// (truncating a stale tail first).
    fn write(
        &mut self,
        snapshot: Option<&Snapshot>,
        hard_state: Option<&HardState>,
        entries: &[Entry],
    ) {
        if let Some(snapshot) = snapshot {
            self.compact(snapshot);
        }
        if let Some(hard_state) = hard_state {
            self.hard_state = hard_state.clone();
        }
        if let Some(first) = entries.first() {
            self.entries.retain(|e| e.index < first.index);
            self.entries.extend_from_slice(entries);
        }
    }
}

/// A `Ready`'s work that waits for the simulated fsync.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PendingWrite {
    snapshot: Option<Snapshot>,
    hard_state: Option<HardState>,
    entries: Vec<Entry>,
    persisted_messages: Vec<Message>,
    committed_entries: Vec<Entry>,
    read_states: Vec<ReadState>,
    aborted_reads: Vec<u64>,
}

/// One simulated server: the core (None while crashed), its disk and its unsynced writes.
#[derive(Clone, Debug)]
pub struct SimNode {
    /// The running core, None while crashed.
    pub raw: Option<RawNode>,
    /// What survives a crash.
    pub durable: DurableStorage,
    unsynced: VecDeque<PendingWrite>,
    /// How many times the node was started (feeds the election-timeout seed).
    boots: u64,
    /// The state machine: applied index and the digest of everything applied up to it.
    digest: (LogIndex, u64),
}

/// Bytes of simulated snapshot data (index and digest, padded so that transfers take several chunks).
const SNAPSHOT_DATA_BYTES: usize = 32;

/// The digest after applying `entry` to a state with digest `digest`.
fn fold_digest(digest: u64, entry: &Entry) -> u64 {
    let payload = match &entry.payload {
        EntryPayload::Noop => 0,
        EntryPayload::Command(data) => data
            .iter()
            .fold(7u64, |h, b| h.rotate_left(5) ^ u64::from(*b)),
        EntryPayload::Config(config) => config.voters.len() as u64 + 100,
    };
    SplitMix64::new(digest ^ entry.term.0.rotate_left(17) ^ payload ^ entry.index.0).next_u64()
}

fn snapshot_data(index: LogIndex, digest: u64) -> Vec<u8> {
    let mut data = Vec::with_capacity(SNAPSHOT_DATA_BYTES);
    data.extend_from_slice(&index.0.to_be_bytes());
    data.extend_from_slice(&digest.to_be_bytes());
    data.resize(SNAPSHOT_DATA_BYTES, 0xAB);
    data
}

fn digest_of(snapshot: &Snapshot) -> (LogIndex, u64) {
    let word = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&snapshot.data[at..at + 8]);
        u64::from_be_bytes(bytes)
    };
    assert_eq!(
        snapshot.data.len(),
        SNAPSHOT_DATA_BYTES,
        "snapshot data was reassembled wrongly"
    );
    let index = LogIndex(word(0));
    assert_eq!(
        index, snapshot.meta.last_included_index,
        "snapshot data and meta disagree"
    );
    (index, word(8))
}

/// A cluster of simulated nodes plus the safety monitor.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// The nodes by id.
    pub nodes: BTreeMap<NodeId, SimNode>,
    /// Messages produced and not yet handed to a network.
    pub outbox: Vec<Message>,
    /// ReadIndex results served: (node, read state).
    pub reads_served: Vec<(NodeId, ReadState)>,
    /// Read ids reported aborted: (node, id).
    pub reads_aborted: Vec<(NodeId, u64)>,
    /// Watches every step.
    pub monitor: SafetyMonitor,
    configs: BTreeMap<NodeId, Config>,
    bootstrap: ClusterConfig,
    seed: u64,
    /// Compact a node's log once this many entries were applied since its snapshot (0: never).
    pub snapshot_threshold: u64,
    /// The state-machine digest at each index, as first seen on any node.
    digests: BTreeMap<LogIndex, u64>,
    /// Snapshots installed from a leader (not taken locally), over the run.
    pub snapshots_installed: u64,
    /// Snapshots taken locally (compactions), over the run.
    pub snapshots_taken: u64,
}

impl Cluster {
    /// A fresh cluster of nodes 1..=n, each configured by `config_of`.
    pub fn new(n: u64, config_of: impl Fn(NodeId) -> Config, seed: u64) -> Cluster {
        let bootstrap = ClusterConfig::with_voters((1..=n).map(NodeId));
        let initial = (1..=n)
            .map(|i| {
                let state = InitialState {
                    bootstrap_config: bootstrap.clone(),
                    ..Default::default()
                };
                (NodeId(i), state)
            })
            .collect();
        Cluster::with_initial(initial, config_of, seed)
    }

    /// A cluster whose nodes recover from the given durable states (scripted scenarios such as Figure 8).
    pub fn with_initial(
        initial: BTreeMap<NodeId, InitialState>,
        config_of: impl Fn(NodeId) -> Config,
        seed: u64,
    ) -> Cluster {
        let bootstrap = ClusterConfig::with_voters(initial.keys().copied());
        let mut cluster = Cluster {
            nodes: BTreeMap::new(),
            outbox: Vec::new(),
            reads_served: Vec::new(),
            reads_aborted: Vec::new(),
            monitor: SafetyMonitor::new(),
            configs: initial.keys().map(|id| (*id, config_of(*id))).collect(),
            bootstrap,
            seed,
            snapshot_threshold: 0,
            digests: BTreeMap::new(),
            snapshots_installed: 0,
            snapshots_taken: 0,
        };
        for (id, state) in initial {
            let durable = DurableStorage {
                hard_state: state.hard_state,
                entries: state.entries,
                snapshot: None,
            };
            let node = SimNode {
                raw: None,
                durable,
                unsynced: VecDeque::new(),
                boots: 0,
                digest: (LogIndex(0), 0),
            };
            cluster.nodes.insert(id, node);
            cluster.restart(id);
        }
        cluster
    }

    /// The running core of `id`. Panics if it is crashed (a scenario bug).
    pub fn node(&self, id: NodeId) -> &RawNode {
        self.nodes
            .get(&id)
            .and_then(|n| n.raw.as_ref())
            .expect("scenario addresses a running node")
    }

    /// Ids of running nodes.
    pub fn alive(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.raw.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    /// The running leader with the highest term, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.nodes
            .values()
            .filter_map(|n| n.raw.as_ref())
            .filter(|raw| raw.status().role == Role::Leader)
            .max_by_key(|raw| raw.hard_state().term)
            .map(|raw| raw.config().id)
    }

    /// The term of `id`.
    pub fn term(&self, id: NodeId) -> Term {
        self.node(id).hard_state().term
    }

    /// Runs `f` on the running core of `id` (nothing if crashed), then handles its readies.
    fn with_node<T>(
        &mut self,
        id: NodeId,
        f: impl FnOnce(&mut RawNode) -> T,
    ) -> Result<Option<T>, Violation> {
        let Some(raw) = self.nodes.get_mut(&id).and_then(|n| n.raw.as_mut()) else {
            return Ok(None);
        };
        let out = f(raw);
        self.drain_ready(id)?;
        self.check()?;
        Ok(Some(out))
    }

    /// One logical tick on `id`.
    pub fn tick(&mut self, id: NodeId) -> Result<(), Violation> {
        self.with_node(id, RawNode::tick).map(|_| ())
    }

    /// The election timer of `id` fires.
    pub fn fire_election_timeout(&mut self, id: NodeId) -> Result<(), Violation> {
        self.with_node(id, RawNode::fire_election_timeout)
            .map(|_| ())
    }

    /// The heartbeat timer of `id` fires.
    pub fn fire_heartbeat_timeout(&mut self, id: NodeId) -> Result<(), Violation> {
        self.with_node(id, RawNode::fire_heartbeat_timeout)
            .map(|_| ())
    }

    /// The shell of `id` reports that messages to `peer` were dropped.
    pub fn report_unreachable(&mut self, id: NodeId, peer: NodeId) -> Result<(), Violation> {
        self.with_node(id, |raw| raw.report_unreachable(peer))
            .map(|_| ())
    }

    /// A client proposal at `id` (None if crashed).
    pub fn propose(&mut self, id: NodeId, data: Vec<u8>) -> Result<ProposeOutcome, Violation> {
        self.with_node(id, |raw| raw.propose(data))
    }

    /// A ReadIndex request at `id` (None if crashed).
    pub fn read_index(
        &mut self,
        id: NodeId,
        request_id: u64,
    ) -> Result<Option<Result<(), ProposeError>>, Violation> {
        self.with_node(id, |raw| raw.read_index(request_id))
    }

    /// Asks the leader `id` to hand leadership to `target` (errors are ignored: a scenario may ask anyone).
    pub fn transfer_leadership(&mut self, id: NodeId, target: NodeId) -> Result<(), Violation> {
        self.with_node(id, |raw| raw.transfer_leadership(target).is_ok())
            .map(|_| ())
    }

    /// Runs a membership change on `id` (errors are returned, not fatal: a scenario may ask anyone).
    pub fn change_membership<T>(
        &mut self,
        id: NodeId,
        change: impl FnOnce(&mut RawNode) -> T,
    ) -> Result<Option<T>, Violation> {
        self.with_node(id, change)
    }

    /// Hands `msg` to its receiver (dropped if the receiver is crashed, which its sender is told).
    pub fn deliver(&mut self, msg: Message) -> Result<(), Violation> {
        let (from, to) = (msg.from, msg.to);
        match self.with_node(to, |raw| raw.step(msg))? {
            Some(_) => Ok(()),
            // The receiver is down: its sender's transport finds the connection refused.
            None => self.report_unreachable(from, to),
        }
    }

    /// Takes the node's readies: queues their writes, sends their immediate messages.
    fn drain_ready(&mut self, id: NodeId) -> Result<(), Violation> {
        let Some(node) = self.nodes.get_mut(&id) else {
            return Ok(());
        };
        let Some(raw) = node.raw.as_mut() else {
            return Ok(());
        };
        for _ in 0..READY_ROUNDS_MAX {
            if !raw.has_ready() {
                return Ok(());
            }
            let ready = raw.ready();
            self.monitor.observe_appended(raw, &ready.entries)?;
            self.outbox.extend(ready.messages);
            node.unsynced.push_back(PendingWrite {
                snapshot: ready.snapshot,
                hard_state: ready.hard_state,
                entries: ready.entries,
                persisted_messages: ready.persisted_messages,
                committed_entries: ready.committed_entries,
                read_states: ready.read_states,
                aborted_reads: ready.aborted_reads,
            });
        }
        panic!("node {id} produced readies without end");
    }

    /// The simulated fsync of `id`: makes every pending write durable, then does the after-persist work.
    pub fn fsync(&mut self, id: NodeId) -> Result<(), Violation> {
        let Some(node) = self.nodes.get_mut(&id) else {
            return Ok(());
        };
        let Some(raw) = node.raw.as_mut() else {
            return Ok(());
        };
        let writes: Vec<PendingWrite> = node.unsynced.drain(..).collect();
        for write in writes {
            node.durable.write(
                write.snapshot.as_ref(),
                write.hard_state.as_ref(),
                &write.entries,
            );
            self.outbox.extend(write.persisted_messages);
            if let Some(snapshot) = &write.snapshot {
                self.snapshots_installed += 1;
                node.digest = digest_of(snapshot);
                check_digest(&mut self.digests, id, node.digest)?;
            }
            if let Some(last) = write.entries.last() {
                raw.on_persisted(last.index, last.term);
            }
            for entry in &write.committed_entries {
                self.monitor.observe_applied(id, entry)?;
                if entry.index == node.digest.0.next() {
                    node.digest = (entry.index, fold_digest(node.digest.1, entry));
                    check_digest(&mut self.digests, id, node.digest)?;
                }
                raw.on_applied(entry.index);
            }
            self.reads_served
                .extend(write.read_states.into_iter().map(|r| (id, r)));
            self.reads_aborted
                .extend(write.aborted_reads.into_iter().map(|r| (id, r)));
        }
        self.maybe_compact(id);
        self.drain_ready(id)?;
        self.check()
    }

    /// Takes a snapshot of `id`'s state machine and compacts its log when the threshold is reached.
    fn maybe_compact(&mut self, id: NodeId) {
        let threshold = self.snapshot_threshold;
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        let Some(raw) = node.raw.as_mut() else {
            return;
        };
        let (applied, digest) = node.digest;
        if threshold == 0 || applied.0 < raw.snapshot_index().0 + threshold {
            return;
        }
        let Some(meta) = raw.snapshot_meta_at(applied) else {
            return;
        };
        let snapshot = Snapshot {
            meta,
            data: snapshot_data(applied, digest),
        };
        // The file is durable before the core and the WAL are told (as in the shell).
        node.durable.compact(&snapshot);
        raw.compact(snapshot)
            .expect("a snapshot of the applied state fits");
        self.snapshots_taken += 1;
    }

    /// Checks the safety properties over all running nodes.
    pub fn check(&mut self) -> Result<(), Violation> {
        let raws = self.nodes.values().filter_map(|n| n.raw.as_ref());
        self.monitor.observe_nodes(raws)
    }

    /// Crashes `id`: volatile state and unsynced writes are lost, and every running node's transport
    /// finds its connection to `id` broken (an unreachable report: what was sent may be lost).
    pub fn crash(&mut self, id: NodeId) -> Result<(), Violation> {
        if let Some(node) = self.nodes.get_mut(&id) {
            node.raw = None;
            node.unsynced.clear();
        }
        self.monitor.forget_node(id);
        for other in self.alive() {
            self.report_unreachable(other, id)?;
        }
        Ok(())
    }

    /// (Re)starts `id` from its durable storage. Its state machine starts empty and re-applies.
    pub fn restart(&mut self, id: NodeId) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        if node.raw.is_some() {
            return;
        }
        node.boots += 1;
        let snapshot = node.durable.snapshot.clone();
        node.digest = snapshot.as_ref().map_or((LogIndex(0), 0), digest_of);
        let initial = InitialState {
            hard_state: node.durable.hard_state.clone(),
            entries: node.durable.entries.clone(),
            snapshot_meta: None,
            bootstrap_config: self.bootstrap.clone(),
        };
        let seed = SplitMix64::new(self.seed ^ (id.0 << 32) ^ node.boots).next_u64();
        let config = self
            .configs
            .get(&id)
            .cloned()
            .unwrap_or_else(|| Config::new(id));
        node.raw = Some(
            RawNode::new_with_snapshot(config, initial, snapshot, seed)
                .expect("durable state is consistent"),
        );
        self.monitor.forget_node(id);
    }

    /// Scripted delivery: repeatedly fsyncs every running node and delivers every message that `allow`
    /// accepts (dropping the others, which their senders are told as a transport would tell them:
    /// [`RawNode::report_unreachable`]) until nothing is left, up to `rounds_max` rounds.
    pub fn deliver_all(
        &mut self,
        rounds_max: usize,
        allow: impl Fn(&Message) -> bool,
    ) -> Result<(), Violation> {
        for _ in 0..rounds_max {
            for id in self.alive() {
                self.fsync(id)?;
            }
            let batch = std::mem::take(&mut self.outbox);
            if batch.is_empty() {
                return Ok(());
            }
            for msg in batch {
                if allow(&msg) {
                    self.deliver(msg)?;
                } else {
                    // A message the test loses is one the transport lost, and tells its node so.
                    self.report_unreachable(msg.from, msg.to)?;
                }
            }
        }
        Ok(())
    }

    /// Delivers everything until quiet.
    pub fn stabilize(&mut self) -> Result<(), Violation> {
        self.deliver_all(100, |_| true)
    }
}

/// State Machine Safety for whole states: every node's digest at an index is the same.
fn check_digest(
    digests: &mut BTreeMap<LogIndex, u64>,
    id: NodeId,
    (index, digest): (LogIndex, u64),
) -> Result<(), Violation> {
    match digests.get(&index) {
        Some(seen) if *seen != digest => Err(Violation::StateMachineSafety { node: id, index }),
        Some(_) => Ok(()),
        None => {
            digests.insert(index, digest);
            Ok(())
        }
    }
}
