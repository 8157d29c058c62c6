//! The benchmark's cluster: three raftkv nodes in this process on loopback, each with its own WAL (fsync
//! on) under one base folder; a node can be stopped and restarted on the same address and data.

use anyhow::{bail, Context as _};
use raftkv::client::{Client, ClientOptions, Outcome};
use raftkv::node::service::NodeStatus;
use raftkv::node::{self, NodeConfig};
use raftkv::raft::NodeId;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Nodes in the benchmark cluster.
pub const NODES: usize = 3;

/// A running node: the switch that stops it and its task.
struct RunningNode {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), node::NodeError>>,
}

/// The in-process cluster.
pub struct LocalCluster {
    /// Listen address of node `i + 1`.
    pub addrs: Vec<SocketAddr>,
    base: PathBuf,
    snapshot_threshold: u64,
    running: Vec<Option<RunningNode>>,
}

impl LocalCluster {
    /// Starts three nodes with WALs under `base`, snapshotting every `snapshot_threshold` applied entries
    /// (0: never on their own).
    pub async fn start(base: &Path, snapshot_threshold: u64) -> anyhow::Result<LocalCluster> {
        let mut listeners = Vec::new();
        for _ in 0..NODES {
            listeners.push(tokio::net::TcpListener::bind("127.0.0.1:0").await?);
        }
        let addrs = listeners
            .iter()
            .map(|l| l.local_addr())
            .collect::<Result<Vec<_>, _>>()?;
        let mut cluster = LocalCluster {
            addrs,
            base: base.to_path_buf(),
            snapshot_threshold,
            running: (0..NODES).map(|_| None).collect(),
        };
        for (i, listener) in listeners.into_iter().enumerate() {
            cluster.launch(i, listener);
        }
        Ok(cluster)
    }

    fn launch(&mut self, i: usize, listener: tokio::net::TcpListener) {
        let id = NodeId(i as u64 + 1);
        let peers: BTreeMap<NodeId, SocketAddr> = self
            .addrs
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(j, &addr)| (NodeId(j as u64 + 1), addr))
            .collect();
        let mut config = NodeConfig::new(id, peers, self.base.join(format!("n{}", id.0)));
        config.snapshot_threshold = self.snapshot_threshold;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(node::run(config, listener, async move {
            let _ = stopped.await;
        }));
        self.running[i] = Some(RunningNode { stop, task });
    }

    /// Stops node `i + 1` and waits until it has shut down.
    pub async fn stop(&mut self, i: usize) -> anyhow::Result<()> {
        if let Some(node) = self.running[i].take() {
            let _ = node.stop.send(());
            node.task.await.context("node task")?.context("node")?;
        }
        Ok(())
    }

    /// Starts node `i + 1` again on its old address with its old data.
    pub async fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind(self.addrs[i])
            .await
            .with_context(|| format!("rebind {}", self.addrs[i]))?;
        self.launch(i, listener);
        Ok(())
    }

    /// Stops every node.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        for i in 0..NODES {
            self.stop(i).await?;
        }
        Ok(())
    }

    /// The status of node `i + 1`, if it answers.
    pub async fn status(&self, i: usize) -> Option<NodeStatus> {
        let mut client = Client::new(&self.addrs[i..=i], u64::MAX - 1, ClientOptions::default());
        client.status().await.ok()
    }

    /// Waits until a write succeeds, i.e. there is a leader.
    pub async fn wait_for_leader(&self) -> anyhow::Result<()> {
        let mut probe = Client::new(&self.addrs, u64::MAX, ClientOptions::default());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(probe.put(b"warmup", b"x").await, Outcome::Ok(())) {
            if Instant::now() > deadline {
                bail!("the cluster elected no leader within 10 s");
            }
        }
        Ok(())
    }

    /// The index of the current leader, as reported by any node.
    pub async fn leader(&self) -> Option<usize> {
        for i in 0..NODES {
            if let Some(status) = self.status(i).await {
                if let Some(leader) = status.leader {
                    return usize::try_from(leader.0).ok()?.checked_sub(1);
                }
            }
        }
        None
    }
}
