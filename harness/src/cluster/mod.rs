//! Running a cluster of node processes: start N processes (each with its own log and data directory in
//! the run folder), wait until they serve, kill -9 / restart / SIGSTOP / SIGCONT them, and tear them
//! all down.
//!
//! Guarantees: every child is killed and reaped when the [`Cluster`] is dropped (normal end, error,
//! panic unwinding) and on Ctrl-C (a process-wide pid registry and handler, see
//! [`install_interrupt_handler`]); each node's pid and exit status are recorded for every incarnation;
//! waiting for readiness is bounded and a node that exits or never answers is a clear error naming the
//! node and its log. [`launch`] builds a `raftkv` cluster (optionally behind a [`ProxyMesh`]);
//! [`Cluster::spawn`] runs arbitrary programs, which is how the tests use stand-in processes.

mod binary;
mod launch;
mod ports;
mod process;
mod ready;
mod registry;

pub use binary::{
    candidate_paths, find_or_build_raftkv_binary, find_raftkv_binary, workspace_root,
    RAFTKV_BINARY_NAME,
};
pub use launch::{
    launch, raftkv_args, LaunchConfig, ServerOptions, LAUNCH_ATTEMPTS_MAX, NODE_COUNT_MAX,
};
pub use ports::free_loopback_addrs;
pub use process::{ExitRecord, NodeProcess, NodeState, ProcessRecord};
pub use ready::{ProbeReport, ReadinessProbe, StatusProbe, TcpConnectProbe};
pub use registry::{
    install_interrupt_handler, kill_registered_processes, registered_pids, INTERRUPTED_EXIT_CODE,
};

use crate::proxy::{ProxyError, ProxyMesh};
use raftkv::raft::NodeId;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often readiness is polled.
pub const READY_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Bound on one probe, whatever the probe's own timeout.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How many trailing bytes of a node's log an error quotes.
pub const LOG_TAIL_BYTES: u64 = 2048;

/// What one node runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSpec {
    /// The node's id.
    pub id: NodeId,
    /// The program to execute.
    pub program: PathBuf,
    /// Its arguments (reused verbatim on restart).
    pub args: Vec<String>,
    /// Where clients reach it (probed for readiness); `None` for processes that serve nothing.
    pub client_addr: Option<SocketAddr>,
}

/// Errors of cluster management.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// An IO operation on files or processes failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The program could not be executed.
    #[error("cannot start node {id} ({program}): {source}")]
    Spawn {
        /// The node.
        id: NodeId,
        /// The program.
        program: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No node has this id.
    #[error("no node {0} in this cluster")]
    UnknownNode(NodeId),
    /// The node has no live process.
    #[error("node {0} is not running")]
    NotRunning(NodeId),
    /// The node already has a live process.
    #[error("node {0} is already running")]
    AlreadyRunning(NodeId),
    /// Signalling the node failed.
    #[error("cannot send {signal} to node {id}: {source}")]
    Signal {
        /// The node.
        id: NodeId,
        /// The signal's name.
        signal: &'static str,
        /// The cause.
        #[source]
        source: nix::errno::Errno,
    },
    /// The server binary was not found.
    #[error("raftkv binary not found; searched: {}. Build it with `cargo build --release -p raftkv --bin raftkv` or pass its path", searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    BinaryNotFound {
        /// Every path looked at.
        searched: Vec<PathBuf>,
    },
    /// `cargo build` of the server failed.
    #[error("building raftkv failed: cargo {0}")]
    Build(String),
    /// A node exited while the cluster was starting.
    #[error("node {id} exited during startup ({exit}); log {}:\n{log_tail}", log.display())]
    ExitedEarly {
        /// The node.
        id: NodeId,
        /// How it ended.
        exit: ExitRecord,
        /// Its log file.
        log: PathBuf,
        /// The end of its log.
        log_tail: String,
    },
    /// Some nodes did not become ready in time.
    #[error("cluster not ready after {waited:?}: {}", pending.iter().map(|(id, why)| format!("node {id}: {why}")).collect::<Vec<_>>().join("; "))]
    NotReady {
        /// How long we waited.
        waited: Duration,
        /// Each unready node (or the cluster, for "no leader") with the last reason.
        pending: Vec<(String, String)>,
    },
    /// The configuration is unusable.
    #[error("invalid cluster configuration: {0}")]
    Config(String),
    /// The proxy mesh failed.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
}

/// A set of node processes plus, for `raftkv` clusters with faults, the proxy mesh between them.
#[derive(Debug)]
pub struct Cluster {
    run_dir: PathBuf,
    nodes: BTreeMap<NodeId, NodeProcess>,
    mesh: Option<ProxyMesh>,
}

/// The last `LOG_TAIL_BYTES` of a log file (lossy UTF-8), or a note that it cannot be read.
pub fn log_tail(path: &Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let read = || -> std::io::Result<String> {
        let mut file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        file.take(LOG_TAIL_BYTES).read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    read().unwrap_or_else(|error| format!("(cannot read log: {error})"))
}

impl Cluster {
    /// Starts every spec'd process, logging to `run_dir/node-<id>.log`. On error, the processes already
    /// started are killed. Installs the Ctrl-C handler (a warning if another handler owns Ctrl-C).
    pub fn spawn(run_dir: &Path, specs: Vec<NodeSpec>) -> Result<Cluster, ClusterError> {
        if let Err(error) = install_interrupt_handler() {
            tracing::warn!(%error, "Ctrl-C handler not installed; call cluster::kill_registered_processes from yours");
        }
        std::fs::create_dir_all(run_dir).map_err(|source| ClusterError::Io {
            what: format!("create run directory {}", run_dir.display()),
            source,
        })?;
        let mut cluster = Cluster {
            run_dir: run_dir.to_path_buf(),
            nodes: BTreeMap::new(),
            mesh: None,
        };
        for spec in specs {
            let id = spec.id;
            if cluster.nodes.contains_key(&id) {
                return Err(ClusterError::Config(format!("node id {id} given twice")));
            }
            let log_path = run_dir.join(format!("node-{id}.log"));
            let mut node = NodeProcess::new(spec, log_path);
            node.start()?;
            cluster.nodes.insert(id, node);
        }
        Ok(cluster)
    }

    /// Attaches the proxy mesh the nodes' peer traffic crosses (replacing any earlier one), so that link
    /// faults can act on it. [`launch`] does this itself.
    pub fn attach_mesh(&mut self, mesh: ProxyMesh) {
        self.mesh = Some(mesh);
    }

    /// The run folder.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// Node ids, ascending.
    pub fn ids(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }

    /// One node's supervisor.
    pub fn node(&self, id: NodeId) -> Result<&NodeProcess, ClusterError> {
        self.nodes.get(&id).ok_or(ClusterError::UnknownNode(id))
    }

    fn node_mut(&mut self, id: NodeId) -> Result<&mut NodeProcess, ClusterError> {
        self.nodes.get_mut(&id).ok_or(ClusterError::UnknownNode(id))
    }

    /// Every node's supervisor, by id.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeProcess> {
        self.nodes.values()
    }

    /// Client addresses of the nodes that have one.
    pub fn client_addrs(&self) -> BTreeMap<NodeId, SocketAddr> {
        self.nodes
            .iter()
            .filter_map(|(&id, node)| node.spec().client_addr.map(|addr| (id, addr)))
            .collect()
    }

    /// The proxy mesh, if the cluster runs behind one.
    pub fn mesh(&self) -> Option<&ProxyMesh> {
        self.mesh.as_ref()
    }

    /// kill -9 node `id` and reap it.
    pub fn kill(&mut self, id: NodeId) -> Result<ExitRecord, ClusterError> {
        self.node_mut(id)?.kill()
    }

    /// Starts node `id` again with the same arguments; returns the new pid.
    pub fn restart(&mut self, id: NodeId) -> Result<u32, ClusterError> {
        self.node_mut(id)?.start()
    }

    /// SIGSTOP node `id`.
    pub fn pause(&mut self, id: NodeId) -> Result<(), ClusterError> {
        self.node_mut(id)?.pause()
    }

    /// SIGCONT node `id`.
    pub fn resume(&mut self, id: NodeId) -> Result<(), ClusterError> {
        self.node_mut(id)?.resume()
    }

    /// The state of node `id`.
    pub fn state(&self, id: NodeId) -> Result<NodeState, ClusterError> {
        Ok(self.node(id)?.state())
    }

    /// Reaps nodes that exited by themselves (crashes) and returns how they ended.
    pub fn reap_exited(&mut self) -> Result<Vec<(NodeId, ExitRecord)>, ClusterError> {
        let mut exited = Vec::new();
        for (&id, node) in &mut self.nodes {
            if let Some(record) = node.reap_if_exited()? {
                exited.push((id, record));
            }
        }
        Ok(exited)
    }

    /// Every incarnation of every node.
    pub fn records(&self) -> BTreeMap<NodeId, Vec<ProcessRecord>> {
        self.nodes
            .iter()
            .map(|(&id, node)| (id, node.records().to_vec()))
            .collect()
    }

    /// Waits (at most `timeout`) until every live, unpaused node with a client address passes `probe`
    /// and — if the probe reports leaders — some node names a leader. Returns the leader named by the
    /// most nodes (ties: lowest id). A node that exits meanwhile is an `ExitedEarly` error.
    pub async fn wait_ready<P: ReadinessProbe>(
        &mut self,
        probe: &P,
        timeout: Duration,
    ) -> Result<Option<NodeId>, ClusterError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some((id, exit)) = self.reap_exited()?.into_iter().next() {
                let log = self.node(id)?.log_path().to_path_buf();
                let log_tail = log_tail(&log);
                return Err(ClusterError::ExitedEarly {
                    id,
                    exit,
                    log,
                    log_tail,
                });
            }
            let mut pending = Vec::new();
            let mut votes: BTreeMap<NodeId, usize> = BTreeMap::new();
            for (&id, node) in &self.nodes {
                let (Some(addr), NodeState::Running) = (node.spec().client_addr, node.state())
                else {
                    continue;
                };
                match tokio::time::timeout(PROBE_TIMEOUT, probe.probe(id, addr)).await {
                    Ok(Ok(report)) => {
                        if let Some(leader) = report.leader {
                            *votes.entry(leader).or_default() += 1;
                        }
                    }
                    Ok(Err(why)) => pending.push((id.to_string(), why)),
                    Err(_) => pending.push((
                        id.to_string(),
                        format!("probe timed out after {PROBE_TIMEOUT:?}"),
                    )),
                }
            }
            let leader = votes
                .iter()
                .max_by_key(|&(&id, &count)| (count, std::cmp::Reverse(id)))
                .map(|(&id, _)| id);
            if pending.is_empty() && probe.reports_leader() && leader.is_none() {
                pending.push(("cluster".to_string(), "no node knows a leader".to_string()));
            }
            if pending.is_empty() {
                return Ok(leader);
            }
            if tokio::time::Instant::now() >= deadline {
                let logs: Vec<String> = self
                    .nodes
                    .values()
                    .map(|n| n.log_path().display().to_string())
                    .collect();
                pending.push(("logs".to_string(), logs.join(", ")));
                return Err(ClusterError::NotReady {
                    waited: timeout,
                    pending,
                });
            }
            tokio::time::sleep(READY_POLL_INTERVAL).await;
        }
    }

    /// Kills and reaps every live process (paused ones too); returns how each live one ended. Idempotent.
    pub fn teardown(&mut self) -> Vec<(NodeId, ExitRecord)> {
        let mut ended = Vec::new();
        for (&id, node) in &mut self.nodes {
            if node.pid().is_none() {
                continue;
            }
            match node.kill() {
                Ok(record) => ended.push((id, record)),
                Err(error) => tracing::warn!(node = %id, %error, "teardown could not kill node"),
            }
        }
        ended
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.teardown();
    }
}
