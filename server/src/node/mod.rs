//! The tokio shell around the Raft core: a node that serves the [`service::KvNode`] RPCs on one TCP
//! listener, sends its Raft messages to each peer on its own outbound connection, persists through the
//! WAL's group committer, and applies committed entries to the KV state machine.
//!
//! Structure (like mini-redis): [`run`] wires the pieces; one task (the [`driver`]) owns the core, the
//! state machine and the pending requests and handles every `Ready` in one documented order; the
//! [`handler`] turns RPCs into events for it; [`peers`] owns the outbound connections. Time enters only
//! here: a tokio interval calls `tick()`.
//!
//! Guarantees: nothing blocks the runtime on fsync (the WAL has its own thread); `run` returns when its
//! shutdown future completes (after closing the listener and flushing the WAL) or with an error when
//! storage fails, which the node cannot survive safely.

pub mod driver;
pub mod handler;
pub mod membership;
pub mod peers;
pub mod pending;
pub mod routes;
pub mod service;
pub mod snapshots;
pub mod wire;

use crate::bugs::{Bug, BugSet};
use crate::raft::{ClusterConfig, CoreError, NodeId, RawNode};
use crate::storage::{GroupCommitter, StorageError, Wal, WalOptions};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// How a node runs.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// This node's id (never 0).
    pub id: NodeId,
    /// Where this node sends the messages of these peers (possibly a proxy). Overrides the addresses
    /// the configuration records. Without `join`, these peers and this node are the first voters.
    pub peers: BTreeMap<NodeId, SocketAddr>,
    /// Start as a node to be added to an existing cluster: no voters are known, the node never
    /// campaigns on its own and waits for a leader to contact it (after `add-node`).
    pub join: bool,
    /// The address this node advertises to peers and records for itself in membership changes
    /// (default: the listener's local address).
    pub advertise_addr: Option<SocketAddr>,
    /// Where the WAL lives.
    pub data_dir: PathBuf,
    /// Wall-clock length of one core tick.
    pub tick_interval: Duration,
    /// Election timeout window and heartbeat interval, in ticks.
    pub election_timeout_ticks_min: u64,
    /// Upper (exclusive) bound of the election timeout, in ticks.
    pub election_timeout_ticks_max: u64,
    /// Leader heartbeat interval, in ticks.
    pub heartbeat_interval_ticks: u64,
    /// Deliberately injected bugs (tests only).
    pub bugs: BugSet,
    /// TESTING ONLY: the WAL keeps unsynced bytes in memory so that `kill -9` loses them.
    pub unsafe_lose_unsynced_writes: bool,
    /// Seed of the core's randomness (election timeouts).
    pub seed: u64,
    /// Take a snapshot (and compact the log) once this many entries were applied since the last one;
    /// 0 never does (snapshots are then taken only on request).
    pub snapshot_threshold: u64,
    /// Size of one InstallSnapshot chunk.
    pub snapshot_chunk_bytes: usize,
    /// The largest snapshot this node accepts from a leader (bounds the receive buffer).
    pub snapshot_bytes_max: u64,
}

/// Default of [`NodeConfig::snapshot_threshold`]: etcd's default `--snapshot-count`. Every snapshot
/// serializes the whole state on a blocking thread; far smaller values cost throughput and tail latency
/// under heavy write load (BENCHMARKS.md measures it).
pub const SNAPSHOT_THRESHOLD_DEFAULT: u64 = 100_000;

impl NodeConfig {
    /// A configuration with the default timing (10 ms ticks, elections after 150–300 ms, heartbeats every
    /// 30 ms) and no bugs.
    pub fn new(id: NodeId, peers: BTreeMap<NodeId, SocketAddr>, data_dir: PathBuf) -> NodeConfig {
        let core = crate::raft::Config::new(id);
        NodeConfig {
            id,
            peers,
            join: false,
            advertise_addr: None,
            data_dir,
            tick_interval: Duration::from_millis(10),
            election_timeout_ticks_min: core.election_timeout_ticks_min,
            election_timeout_ticks_max: core.election_timeout_ticks_max,
            heartbeat_interval_ticks: core.heartbeat_interval_ticks,
            bugs: BugSet::none(),
            unsafe_lose_unsynced_writes: false,
            seed: id.0,
            snapshot_threshold: SNAPSHOT_THRESHOLD_DEFAULT,
            snapshot_chunk_bytes: core.snapshot_chunk_bytes,
            snapshot_bytes_max: core.snapshot_bytes_max,
        }
    }

    fn core_config(&self) -> crate::raft::Config {
        let mut core = crate::raft::Config::new(self.id);
        core.election_timeout_ticks_min = self.election_timeout_ticks_min;
        core.election_timeout_ticks_max = self.election_timeout_ticks_max;
        core.heartbeat_interval_ticks = self.heartbeat_interval_ticks;
        core.bugs = self.bugs.clone();
        core.snapshot_chunk_bytes = self.snapshot_chunk_bytes;
        core.snapshot_bytes_max = self.snapshot_bytes_max;
        core
    }
}

/// Why a node stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The WAL failed (open, write or fsync): the node cannot go on safely.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The core refused the configuration or the recovered state.
    #[error("raft: {0}")]
    Core(#[from] CoreError),
    /// A snapshot could not be installed.
    #[error("snapshot: {0}")]
    Snapshot(String),
    /// An internal invariant of the shell failed.
    #[error("internal: {0}")]
    Internal(String),
}

/// Runs a node: serves RPCs on `listener` until `shutdown` completes or storage fails.
pub async fn run(
    config: NodeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), NodeError> {
    let wal_options = WalOptions {
        unsafe_lose_unsynced_writes: config.unsafe_lose_unsynced_writes,
        skip_fsync: config.bugs.has(Bug::AckBeforeFsync),
        ..WalOptions::default()
    };
    let data_dir = config.data_dir.clone();
    let no_dedup = config.bugs.has(Bug::NoDedup);
    let (wal, recovered) = tokio::task::spawn_blocking(move || {
        let (mut wal, initial) = Wal::open(&data_dir, wal_options)?;
        let recovered = snapshots::recover(&data_dir, &mut wal, initial, no_dedup)?;
        Ok::<_, NodeError>((wal, recovered))
    })
    .await
    .map_err(|e| NodeError::Internal(format!("WAL open task failed: {e}")))??;
    let snapshots::Recovered {
        mut initial,
        snapshot,
        state,
    } = recovered;
    // A joining node knows no voters: it is in no configuration, so it never campaigns (the core only
    // lets voters of its configuration campaign) until a leader's log or snapshot gives it one.
    initial.bootstrap_config = if config.join {
        ClusterConfig::default()
    } else {
        ClusterConfig::with_voters(std::iter::once(config.id).chain(config.peers.keys().copied()))
    };
    let own_addr = match config.advertise_addr {
        Some(addr) => addr,
        None => listener
            .local_addr()
            .map_err(|e| NodeError::Internal(format!("listener address: {e}")))?,
    };
    let raw = RawNode::new_with_snapshot(config.core_config(), initial, snapshot, config.seed)?;
    let storage = GroupCommitter::spawn(wal)?;

    let mut tasks = JoinSet::new();
    let peers = peers::Peers::new(own_addr.to_string());
    let (job_sender, job_receiver) = mpsc::channel(driver::MAX_INFLIGHT_PERSISTS + 1);
    let (done_sender, done_receiver) = mpsc::channel(driver::MAX_INFLIGHT_PERSISTS + 1);
    tasks.spawn(driver::persist_waiter(job_receiver, done_sender));
    let (event_sender, event_receiver) = mpsc::channel(handler::EVENT_QUEUE_MAX);
    let (stop_sender, stop_receiver) = watch::channel(false);

    let handler = handler::Handler::new(config.id, event_sender);
    let mut server_stop = stop_receiver.clone();
    let server = tokio::spawn(handler::serve(listener, handler, async move {
        let _ = server_stop.changed().await;
    }));
    tracing::info!(id = %config.id, peers = ?config.peers, join = config.join, %own_addr, "node started");

    let driver = driver::Driver::new(
        raw,
        state,
        peers,
        storage,
        job_sender,
        driver::SnapshotSettings {
            data_dir: config.data_dir.clone(),
            threshold: config.snapshot_threshold,
            skip_fsync: config.bugs.has(Bug::AckBeforeFsync),
        },
        config.bugs.clone(),
    )
    .with_routes(
        routes::Routes::new(config.peers.clone()),
        own_addr.to_string(),
    );
    let driver = tokio::spawn(driver.run(
        event_receiver,
        done_receiver,
        config.tick_interval,
        stop_receiver,
    ));
    tokio::pin!(driver);
    let (storage, result) = tokio::select! {
        () = shutdown => {
            let _ = stop_sender.send(true);
            (&mut driver).await
        }
        joined = &mut driver => joined,
    }
    .map_err(|e| NodeError::Internal(format!("driver task failed: {e}")))?;
    let _ = stop_sender.send(true);
    let _ = server.await;
    tasks.shutdown().await;
    // Let the WAL thread finish what was queued before the process exits.
    tokio::task::spawn_blocking(move || storage.shutdown())
        .await
        .map_err(|e| NodeError::Internal(format!("WAL close task failed: {e}")))??;
    tracing::info!(id = %config.id, "node stopped");
    result
}

#[cfg(test)]
mod tests;
