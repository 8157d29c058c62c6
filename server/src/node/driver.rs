//! The task that owns the Raft core, the state machine and the pending requests, and the one place where
//! a `Ready` batch is handled. The order, for every batch:
//!
//! 1. **Persist**: the batch's hard state and entries go to the group committer (no waiting: the leader
//!    writes its disk while its AppendEntries are on the wire, Raft thesis §10.2.1; proposals that
//!    arrive meanwhile accumulate and share the next fsync).
//! 2. **Send** `messages` at once.
//! 3. **When durable** (in submission order, via the persist waiter task): send `persisted_messages`
//!    (votes and append acknowledgements, which promise durable state) and call `on_persisted`.
//! 4. **Apply** `committed_entries` in order to the state machine; answer the writes they complete; call
//!    `on_applied`.
//! 5. **Serve reads**: record `read_states`, answer `aborted_reads`, and serve every read whose index is
//!    now applied.
//!
//! Snapshots: after applying, once `threshold` entries were applied since the last snapshot (or when a
//! client asks), the state machine is cloned and written to a snapshot file on a blocking thread; when
//! the file is durable the core compacts its log and the WAL compaction is queued. A snapshot installed
//! from the leader (`Ready::snapshot`) is written before anything else of its `Ready` (on this task: it is
//! rare and the follower has nothing else useful to do), the WAL compaction is queued ahead of the
//! `Ready`'s entries, the state machine is replaced, and the persisted messages (the "done" answer) wait
//! for both.
//!
//! Bug switches here: `ack-before-fsync` does step 3 right away (and the WAL skips fsync); `stale-read`
//! serves reads from local state on any node, without ReadIndex.

use super::handler::Event;
use super::membership::{self, AddressBook, MembershipWaiters};
use super::peers::Peers;
use super::pending::{PendingReads, PendingWrites};
use super::routes::Routes;
use super::service::{NodeStatus, RequestError};
use super::snapshots;
use super::NodeError;
use crate::bugs::{Bug, BugSet};
use crate::kv::{ApplyOutcome, KvStateMachine, LoggedCommand};
use crate::raft::{
    Entry, LogIndex, Message, NodeId, ProposeError, RawNode, Ready, Role, Snapshot, Term,
    TransferError,
};
use crate::storage::snapshot_file;
use crate::storage::{GroupCommitter, Persisted, StorageError, WriteBatch};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Persist batches submitted and not yet durable; `ready()` is not taken beyond this (the core keeps
/// accumulating proposals meanwhile), which also keeps the group committer's queue from overflowing.
pub const MAX_INFLIGHT_PERSISTS: usize = 64;
/// Events handled between two looks at `Ready` (so ticks and persist completions are not starved).
pub const EVENTS_PER_TURN_MAX: usize = 256;
/// How long shutdown waits for a snapshot that is being written.
const SNAPSHOT_SHUTDOWN_WAIT_MAX: Duration = Duration::from_secs(60);
/// `Ready` batches handled in one go before going back to events.
const READY_PER_TURN_MAX: usize = 16;

/// How the driver takes snapshots.
#[derive(Clone, Debug)]
pub struct SnapshotSettings {
    /// Where snapshot files go (the data dir).
    pub data_dir: PathBuf,
    /// Snapshot after this many applied entries since the last one (0: only on request).
    pub threshold: u64,
    /// TESTING ONLY (`ack-before-fsync`): do not fsync snapshot files.
    pub skip_fsync: bool,
}

/// A client waiting for a requested snapshot: answered with the snapshot index.
pub type SnapshotWaiter = oneshot::Sender<Result<LogIndex, RequestError>>;

/// A persist batch on its way to disk, with what must wait for it.
pub struct PersistJob {
    compacted: Option<oneshot::Receiver<Result<(), StorageError>>>,
    done: Option<oneshot::Receiver<Result<Persisted, StorageError>>>,
    last: Option<(LogIndex, Term)>,
    messages: Vec<Message>,
}

/// A persist batch that is durable (or failed).
pub struct PersistDone {
    last: Option<(LogIndex, Term)>,
    messages: Vec<Message>,
    result: Result<(), StorageError>,
}

/// Awaits persist jobs in submission order and reports each to the driver, so that `on_persisted` and the
/// persisted messages never overtake an earlier, slower write.
pub async fn persist_waiter(mut jobs: mpsc::Receiver<PersistJob>, done: mpsc::Sender<PersistDone>) {
    while let Some(job) = jobs.recv().await {
        let compacted = match job.compacted {
            None => Ok(()),
            Some(receiver) => receiver.await.unwrap_or(Err(StorageError::Stopped)),
        };
        let result = match job.done {
            None => Ok(()),
            Some(receiver) => match receiver.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(err)) => Err(err),
                Err(_) => Err(StorageError::Stopped),
            },
        };
        let report = PersistDone {
            last: job.last,
            messages: job.messages,
            result: compacted.and(result),
        };
        if done.send(report).await.is_err() {
            return;
        }
    }
}

/// The answer for a request only the leader serves: the leader this node knows of, with the address a
/// client should use for it (the configuration's, else the route this node uses, possibly a proxy).
fn not_leader(
    leader_hint: Option<NodeId>,
    cluster: &crate::raft::ClusterConfig,
    peers: &Peers,
) -> RequestError {
    RequestError::NotLeader {
        leader_hint: leader_hint.map(|id| {
            let addr = cluster
                .addresses
                .get(&id)
                .cloned()
                .or_else(|| peers.addr(id).map(|a| a.to_string()))
                .unwrap_or_default();
            (id, addr)
        }),
    }
}

/// The owner of the core and everything that changes with it.
pub struct Driver {
    id: NodeId,
    raw: RawNode,
    state: KvStateMachine,
    writes: PendingWrites,
    reads: PendingReads,
    peers: Peers,
    storage: GroupCommitter,
    persist_jobs: mpsc::Sender<PersistJob>,
    persists_inflight: usize,
    bugs: BugSet,
    snapshots: SnapshotSettings,
    /// A snapshot is being written on a blocking thread.
    snapshot_in_progress: bool,
    snapshot_waiters: Vec<SnapshotWaiter>,
    snapshot_done_sender: mpsc::Sender<Result<Snapshot, NodeError>>,
    snapshot_done: Option<mpsc::Receiver<Result<Snapshot, NodeError>>>,
    /// Where each peer's messages go (command line, configuration, advertised addresses).
    routes: Routes,
    /// The configuration the peer tasks were last synced to.
    synced_cluster: Option<(crate::raft::ClusterConfig, Option<NodeId>)>,
    /// This node's own advertised address (recorded for it in membership changes).
    own_addr: String,
    membership_waiters: MembershipWaiters,
    /// `RawNode::oversized_snapshots` when last logged.
    oversized_snapshots_logged: u64,
    /// The role when last logged (role changes are logged once each).
    logged_role: Role,
}

impl Driver {
    /// Assembles a driver; `persist_jobs` feeds a [`persist_waiter`].
    pub fn new(
        raw: RawNode,
        state: KvStateMachine,
        peers: Peers,
        storage: GroupCommitter,
        persist_jobs: mpsc::Sender<PersistJob>,
        snapshots: SnapshotSettings,
        bugs: BugSet,
    ) -> Driver {
        let (snapshot_done_sender, snapshot_done) = mpsc::channel(1);
        Driver {
            id: raw.status().id,
            raw,
            state,
            writes: PendingWrites::default(),
            reads: PendingReads::default(),
            peers,
            storage,
            persist_jobs,
            persists_inflight: 0,
            bugs,
            snapshots,
            snapshot_in_progress: false,
            snapshot_waiters: Vec::new(),
            snapshot_done_sender,
            snapshot_done: Some(snapshot_done),
            routes: Routes::default(),
            synced_cluster: None,
            own_addr: String::new(),
            membership_waiters: MembershipWaiters::default(),
            oversized_snapshots_logged: 0,
            logged_role: Role::Follower,
        }
    }

    /// Sets the routes to peers (with the command line's overrides) and this node's own address; the
    /// peer tasks follow the configuration from then on.
    pub fn with_routes(mut self, routes: Routes, own_addr: String) -> Driver {
        self.routes = routes;
        self.own_addr = own_addr;
        self.sync_peers();
        self
    }

    /// Starts and stops peer tasks to match the configuration in effect plus the leader this node
    /// follows (a leader that removed itself still needs the acknowledgements that commit its removal);
    /// cheap when neither changed.
    fn sync_peers(&mut self) {
        let leader = self.raw.known_leader();
        if self
            .synced_cluster
            .as_ref()
            .is_some_and(|(cluster, synced_leader)| {
                cluster == self.raw.cluster() && *synced_leader == leader
            })
        {
            return;
        }
        let cluster = self.raw.cluster().clone();
        let mut wanted = self.routes.for_members(&cluster, self.id);
        if let Some(leader) = leader.filter(|l| *l != self.id) {
            if let Some(addr) = self.routes.resolve(leader, &cluster) {
                wanted.insert(leader, addr);
            }
        }
        if self.synced_cluster.as_ref().map(|(c, _)| c) != Some(&cluster) {
            tracing::info!(voters = ?cluster.voters, outgoing = ?cluster.voters_outgoing, learners = ?cluster.learners, "membership in effect");
        }
        self.peers.sync(&wanted);
        self.synced_cluster = Some((cluster, leader));
    }

    /// A node that is not a member of its own configuration (joining, or just removed) answers whoever
    /// contacts it, through the address the sender advertised.
    fn connect_to_non_member(&mut self, id: NodeId) {
        if self.peers.has(id) || self.raw.cluster().members().contains(&self.id) {
            return;
        }
        if let Some(addr) = self.routes.resolve(id, self.raw.cluster()) {
            self.peers.connect(id, addr);
        }
    }

    /// Runs until `shutdown` fires or storage fails; returns the group committer for a clean close.
    pub async fn run(
        mut self,
        mut events: mpsc::Receiver<Event>,
        mut persisted: mpsc::Receiver<PersistDone>,
        tick_interval: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> (GroupCommitter, Result<(), NodeError>) {
        let Some(mut snapshot_done) = self.snapshot_done.take() else {
            return (
                self.storage,
                Err(NodeError::Internal("driver started twice".into())),
            );
        };
        let mut unreachable = self
            .peers
            .take_unreachable_reports()
            .unwrap_or_else(|| mpsc::channel(1).1);
        let mut ticker = tokio::time::interval(tick_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let result = loop {
            tokio::select! {
                biased;
                _ = shutdown.changed() => break Ok(()),
                Some(done) = persisted.recv() => {
                    if let Err(err) = self.on_persist_done(done) {
                        break Err(err);
                    }
                }
                Some(taken) = snapshot_done.recv() => self.on_snapshot_taken(taken),
                Some(peer) = unreachable.recv() => self.raw.report_unreachable(peer),
                _ = ticker.tick() => self.raw.tick(),
                event = events.recv() => {
                    let Some(event) = event else { break Ok(()) };
                    self.handle_event(event);
                    for _ in 1..EVENTS_PER_TURN_MAX {
                        match events.try_recv() {
                            Ok(event) => self.handle_event(event),
                            Err(_) => break,
                        }
                    }
                }
            }
            if let Err(err) = self.drain_ready() {
                break Err(err);
            }
        };
        if self.snapshot_in_progress {
            // Let the writer finish its file, so the node is really stopped (nothing writes to its data
            // dir) when `run` returns. The start-up recovery finishes the compaction this skips.
            match tokio::time::timeout(SNAPSHOT_SHUTDOWN_WAIT_MAX, snapshot_done.recv()).await {
                Ok(_) => tracing::info!("the snapshot in progress finished before shutdown"),
                Err(_) => tracing::warn!("a snapshot was still being written at shutdown"),
            }
        }
        (self.storage, result)
    }

    fn handle_event(&mut self, event: Event) {
        match event {
            Event::Messages {
                sender_addr,
                messages,
            } => {
                // One batch comes from one sender (its own outbound connection).
                if let (Some(first), Ok(addr)) = (messages.first(), sender_addr.parse()) {
                    self.routes.learn_advertised(first.from, addr);
                    self.connect_to_non_member(first.from);
                }
                for message in messages {
                    if message.to == self.id {
                        self.raw.step(message);
                    }
                }
            }
            Event::Membership { request, reply } => {
                let routes = self.peers.addrs();
                let book = AddressBook {
                    own_addr: &self.own_addr,
                    routes: &routes,
                };
                let peers = &self.peers;
                let cluster = self.raw.cluster().clone();
                self.membership_waiters
                    .start(&mut self.raw, request, &book, reply, |raw| {
                        not_leader(raw.status().leader, &cluster, peers)
                    });
            }
            Event::Members { reply } => {
                let _ = reply.send(Ok(membership::members_info(&self.raw, &self.peers.addrs())));
            }
            Event::Read { key, reply } => self.start_read(key, reply),
            Event::Write {
                command,
                proposed,
                reply,
            } => {
                if !self.writes.has_room() {
                    let _ = reply.send(Err(RequestError::Busy));
                    return;
                }
                let bytes = match command.encode() {
                    Ok(bytes) => bytes,
                    Err(err) => {
                        let _ = reply.send(Err(RequestError::Internal(err.to_string())));
                        return;
                    }
                };
                match self.raw.propose(bytes) {
                    Ok((index, term)) => {
                        proposed.store(true, Ordering::SeqCst);
                        let LoggedCommand { client_id, seq, .. } = command;
                        self.writes.insert(index, term, client_id, seq, reply);
                    }
                    Err(err) => {
                        let _ = reply.send(Err(self.refusal(err)));
                    }
                }
            }
            Event::Status { reply } => {
                let _ = reply.send(self.status());
            }
            Event::TransferLeader { target, reply } => {
                let result = match self.raw.transfer_leadership(target) {
                    Ok(()) => {
                        tracing::info!(%target, "leadership transfer started");
                        Ok(())
                    }
                    Err(TransferError::NotLeader { leader_hint }) => {
                        Err(self.refusal(ProposeError::NotLeader { leader_hint }))
                    }
                    Err(err @ TransferError::NotAVoter(_)) => {
                        Err(RequestError::Rejected(err.to_string()))
                    }
                };
                let _ = reply.send(result);
            }
            Event::Snapshot { reply } => {
                self.snapshot_waiters.push(reply);
                self.maybe_start_snapshot(true);
            }
        }
    }

    /// Starts writing a snapshot of the applied state if the threshold is reached (or `requested`)
    /// and none is being written.
    fn maybe_start_snapshot(&mut self, requested: bool) {
        if self.snapshot_in_progress {
            return;
        }
        let applied = self.state.applied_index();
        let snapshot_index = self.raw.snapshot_index();
        let due = self.snapshots.threshold > 0
            && applied.0 >= snapshot_index.0 + self.snapshots.threshold;
        if !due && !requested {
            return;
        }
        let Some(meta) = self.raw.snapshot_meta_at(applied) else {
            // Nothing applied since the last snapshot: that one answers the request.
            for waiter in self.snapshot_waiters.drain(..) {
                let _ = waiter.send(Ok(snapshot_index));
            }
            return;
        };
        self.snapshot_in_progress = true;
        // The only work on this task: a copy of the state in memory.
        let state = self.state.clone();
        let dir = self.snapshots.data_dir.clone();
        let skip_fsync = self.snapshots.skip_fsync;
        let done = self.snapshot_done_sender.clone();
        tokio::spawn(async move {
            let written = tokio::task::spawn_blocking(move || {
                snapshots::write_taken(&dir, meta, &state, skip_fsync)
            })
            .await
            .unwrap_or_else(|e| Err(NodeError::Internal(format!("snapshot task failed: {e}"))));
            let _ = done.send(written).await;
        });
    }

    /// A snapshot file is durable: compact the core's log, then the WAL.
    fn on_snapshot_taken(&mut self, taken: Result<Snapshot, NodeError>) {
        self.snapshot_in_progress = false;
        let answer = match taken {
            Ok(snapshot) => {
                let meta = snapshot.meta.clone();
                match self.raw.compact(snapshot) {
                    Ok(()) => {
                        tracing::info!(index = %meta.last_included_index, "snapshot taken; log compacted");
                        match self.storage.submit_compact(meta.clone()) {
                            Ok(receiver) => {
                                tokio::spawn(async move {
                                    if let Ok(Err(err)) = receiver.await {
                                        tracing::error!(%err, "WAL compaction failed");
                                    }
                                });
                                Ok(meta.last_included_index)
                            }
                            Err(err) => Err(RequestError::Internal(err.to_string())),
                        }
                    }
                    // A newer snapshot was installed meanwhile: this one is obsolete.
                    Err(err) => {
                        tracing::info!(%err, "snapshot obsolete; not compacting");
                        Ok(self.raw.snapshot_index())
                    }
                }
            }
            Err(err) => {
                tracing::error!(%err, "taking a snapshot failed");
                Err(RequestError::Internal(err.to_string()))
            }
        };
        for waiter in self.snapshot_waiters.drain(..) {
            let _ = waiter.send(answer.clone());
        }
    }

    /// Persists a snapshot installed from the leader and restores the state machine from it. Returns
    /// the WAL compaction the `Ready`'s persisted messages must wait for.
    fn install_snapshot(
        &mut self,
        snapshot: &Snapshot,
    ) -> Result<oneshot::Receiver<Result<(), StorageError>>, NodeError> {
        let index = snapshot.meta.last_included_index;
        snapshot_file::write_snapshot(
            &self.snapshots.data_dir,
            snapshot,
            self.snapshots.skip_fsync,
        )?;
        let compacted = self.storage.submit_compact(snapshot.meta.clone())?;
        self.state =
            KvStateMachine::from_snapshot_bytes(&snapshot.data, self.bugs.has(Bug::NoDedup))
                .map_err(|e| {
                    NodeError::Snapshot(format!("snapshot {index} does not decode: {e}"))
                })?;
        tracing::info!(%index, "installed a snapshot from the leader");
        Ok(compacted)
    }

    fn start_read(
        &mut self,
        key: Vec<u8>,
        reply: oneshot::Sender<Result<Option<Vec<u8>>, RequestError>>,
    ) {
        if self.bugs.has(Bug::StaleRead) {
            // BUG (opt-in): answer from whatever this node has applied, leader or not.
            let _ = reply.send(Ok(self.state.get(&key).map(<[u8]>::to_vec)));
            return;
        }
        if !self.reads.has_room() {
            let _ = reply.send(Err(RequestError::Busy));
            return;
        }
        let request_id = self.reads.start(key, reply);
        if let Err(err) = self.raw.read_index(request_id) {
            let error = self.refusal(err);
            self.reads.refuse(request_id, error);
        }
    }

    /// Turns the core's refusal into the client's error, with this node's address for the leader.
    fn refusal(&self, err: ProposeError) -> RequestError {
        match err {
            ProposeError::NotLeader { leader_hint } => {
                not_leader(leader_hint, self.raw.cluster(), &self.peers)
            }
            ProposeError::TooManyPending | ProposeError::TransferInProgress => RequestError::Busy,
        }
    }

    fn status(&self) -> NodeStatus {
        let status = self.raw.status();
        NodeStatus {
            id: status.id,
            role: status.role,
            term: status.term,
            commit_index: status.commit_index,
            applied_index: self.state.applied_index(),
            last_index: status.last_index,
            leader: status.leader,
            members: status.cluster.voters.iter().copied().collect(),
            snapshot_index: self.raw.snapshot_index(),
        }
    }

    fn drain_ready(&mut self) -> Result<(), NodeError> {
        for _ in 0..READY_PER_TURN_MAX {
            if self.persists_inflight >= MAX_INFLIGHT_PERSISTS || !self.raw.has_ready() {
                break;
            }
            let ready = self.raw.ready();
            // Peers first: this batch may send to a member its configuration just added.
            self.sync_peers();
            self.handle_ready(ready)?;
        }
        self.sync_peers();
        if !self.membership_waiters.is_empty() {
            self.membership_waiters.poll(&self.raw, &self.peers.addrs());
        }
        let role = self.raw.role();
        if role != self.logged_role {
            self.logged_role = role;
            // Operators (and the harness report) follow elections through this line.
            tracing::info!(?role, term = %self.raw.hard_state().term, "role changed");
        }
        let oversized = self.raw.oversized_snapshots();
        if oversized > self.oversized_snapshots_logged {
            self.oversized_snapshots_logged = oversized;
            tracing::error!(
                aborted = oversized,
                snapshot_bytes_max = self.raw.config().snapshot_bytes_max,
                "an incoming snapshot exceeds --snapshot-bytes-max; transfer aborted, this node \
                 stays behind until the bound is raised"
            );
        }
        Ok(())
    }

    /// Handles one `Ready` in the documented order (see the module docs).
    fn handle_ready(&mut self, ready: Ready) -> Result<(), NodeError> {
        let Ready {
            hard_state,
            entries,
            snapshot,
            messages,
            persisted_messages,
            committed_entries,
            read_states,
            aborted_reads,
        } = ready;
        // 0. A snapshot from the leader comes before the entries that follow it.
        let compacted = match &snapshot {
            Some(snapshot) => Some(self.install_snapshot(snapshot)?),
            None => None,
        };
        // 1. Persist.
        let last = entries.last().map(|e| (e.index, e.term));
        let done = if hard_state.is_some() || !entries.is_empty() {
            Some(self.storage.submit(WriteBatch {
                hard_state,
                entries,
            })?)
        } else {
            None
        };
        // 2. Send what does not depend on durability.
        for message in messages {
            self.peers.send(message);
        }
        // 3. What depends on durability, once durable.
        if self.bugs.has(Bug::AckBeforeFsync) {
            // BUG (opt-in): promise durability now; the WAL skips fsync too.
            self.after_persist(last, persisted_messages);
        } else if done.is_some() || compacted.is_some() || !persisted_messages.is_empty() {
            let job = PersistJob {
                compacted,
                done,
                last,
                messages: persisted_messages,
            };
            self.persist_jobs
                .try_send(job)
                .map_err(|_| NodeError::Internal("persist queue full or closed".into()))?;
            self.persists_inflight += 1;
        }
        // 4. Apply.
        self.apply(&committed_entries);
        // 5. Reads.
        for read_state in read_states {
            self.reads
                .confirmed(read_state.request_id, read_state.index);
        }
        for request_id in aborted_reads {
            self.reads.refuse(request_id, RequestError::ReadAborted);
        }
        let state = &self.state;
        self.reads.serve(state.applied_index(), |key| {
            state.get(key).map(<[u8]>::to_vec)
        });
        Ok(())
    }

    fn on_persist_done(&mut self, done: PersistDone) -> Result<(), NodeError> {
        self.persists_inflight = self.persists_inflight.saturating_sub(1);
        done.result?;
        self.after_persist(done.last, done.messages);
        Ok(())
    }

    fn after_persist(&mut self, last: Option<(LogIndex, Term)>, messages: Vec<Message>) {
        for message in messages {
            self.peers.send(message);
        }
        if let Some((index, term)) = last {
            self.raw.on_persisted(index, term);
        }
    }

    fn apply(&mut self, committed_entries: &[Entry]) {
        let (Some(first), Some(last)) = (committed_entries.first(), committed_entries.last())
        else {
            return;
        };
        for entry in committed_entries {
            match self.state.apply(entry) {
                ApplyOutcome::Applied {
                    client_id,
                    seq,
                    response,
                }
                | ApplyOutcome::Duplicate {
                    client_id,
                    seq,
                    response,
                } => self.writes.complete(client_id, seq, &response),
                ApplyOutcome::Malformed { reason } => {
                    tracing::error!(index = %entry.index, %reason, "committed command does not decode; skipped");
                }
                ApplyOutcome::Stale { .. } | ApplyOutcome::NotACommand => {}
            }
        }
        self.raw.on_applied(last.index);
        self.maybe_start_snapshot(false);
        let first_index = first.index;
        self.writes.sweep_applied(last.index, |index| {
            let offset = index.0.checked_sub(first_index.0)?;
            committed_entries
                .get(usize::try_from(offset).ok()?)
                .map(|e| e.term)
        });
    }
}
