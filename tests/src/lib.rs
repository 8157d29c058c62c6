//! Shared helpers for the workspace integration tests: clusters of real `raftkv` processes on loopback.
//!
//! Finding the binary: cargo builds a package's binaries for ITS OWN integration tests only, so this
//! (separate) package cannot use `env!("CARGO_BIN_EXE_raftkv")`. [`raftkv_binary`] therefore runs
//! `cargo build -p raftkv --bin raftkv` once per test process, into the same target directory and
//! profile as the running test (derived from the test executable's path: `target/<profile>/deps/..`), and
//! uses `target/<profile>/raftkv`. That build is a no-op when up to date and never leaves a stale binary
//! in use. Set `RAFTKV_BIN` to use a given binary instead.
//!
//! Guarantees: every process a [`ProcessCluster`] starts is killed (SIGKILL) and reaped when the cluster
//! is dropped, also when a test panics; each node logs to a file in the cluster's temporary directory,
//! whose path is printed if a test fails while the cluster is alive.

use anyhow::{bail, Context as _};
use raftkv::client::{Client, ClientOptions, Outcome};
use raftkv::node::service::{MembersInfo, NodeStatus};
use raftkv::raft::{LogIndex, NodeId, Role};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How often wait loops poll the cluster.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The `raftkv` binary, built on first use (see the module docs).
pub fn raftkv_binary() -> anyhow::Result<PathBuf> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| build_raftkv().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

fn build_raftkv() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("RAFTKV_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().context("cannot locate the test executable")?;
    // target/<profile>/deps/<test> → target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the test executable is not in target/<profile>/deps")?;
    let target_dir = profile_dir
        .parent()
        .context("the profile directory has no parent")?;
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .context("profile directory name")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--quiet", "-p", "raftkv", "--bin", "raftkv"])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    match profile {
        "debug" => {}
        "release" => {
            command.arg("--release");
        }
        other => {
            command.args(["--profile", other]);
        }
    }
    let status = command.status().context("cannot run cargo build")?;
    if !status.success() {
        bail!("cargo build -p raftkv --bin raftkv failed: {status}");
    }
    let binary = profile_dir.join("raftkv");
    if !binary.exists() {
        bail!("{} does not exist after the build", binary.display());
    }
    Ok(binary)
}

/// A free loopback port (bound to port 0, then released: a small race that tests accept).
pub fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    listener.local_addr().context("local address")
}

/// One node of a [`ProcessCluster`].
pub struct NodeProcess {
    /// The node's id.
    pub id: NodeId,
    /// Its listen address.
    pub addr: SocketAddr,
    args: Vec<String>,
    log_path: PathBuf,
    child: Option<Child>,
    starts: u32,
}

/// A cluster of `raftkv` processes on loopback, with a temporary directory for data and logs.
pub struct ProcessCluster {
    nodes: Vec<NodeProcess>,
    dir: tempfile::TempDir,
}

impl ProcessCluster {
    /// Starts `size` nodes with ids 1..=size; `extra_args` go to every node (e.g. `--bug no-dedup`).
    pub fn start(size: usize, extra_args: &[&str]) -> anyhow::Result<ProcessCluster> {
        let binary = raftkv_binary()?;
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        let addrs = (0..size)
            .map(|_| free_port())
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut nodes = Vec::new();
        for (i, addr) in addrs.iter().enumerate() {
            let id = i as u64 + 1;
            let mut args = vec![
                binary.display().to_string(),
                "--id".into(),
                id.to_string(),
                "--listen".into(),
                addr.to_string(),
                "--data-dir".into(),
                dir.path().join(format!("n{id}")).display().to_string(),
            ];
            for (j, peer) in addrs.iter().enumerate() {
                if j != i {
                    args.push("--peer".into());
                    args.push(format!("{}={peer}", j + 1));
                }
            }
            args.extend(extra_args.iter().map(|a| a.to_string()));
            nodes.push(NodeProcess {
                id: NodeId(id),
                addr: *addr,
                args,
                log_path: dir.path().join(format!("n{id}.log")),
                child: None,
                starts: 0,
            });
        }
        let mut cluster = ProcessCluster { nodes, dir };
        for i in 0..size {
            cluster.spawn(i)?;
        }
        Ok(cluster)
    }

    fn spawn(&mut self, index: usize) -> anyhow::Result<()> {
        let node = &mut self.nodes[index];
        node.starts += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log_path)
            .context("cannot open a node log")?;
        let child = Command::new(&node.args[0])
            .args(&node.args[1..])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("log handle")?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start node {}", node.id))?;
        node.child = Some(child);
        Ok(())
    }

    /// Starts a new node `id` with `--join` (it knows no voters and waits for the leader to add it) and
    /// the cluster's `extra_args`-style flags; returns its listen address. Add it with `add-node`.
    pub fn start_joining(&mut self, id: NodeId, extra_args: &[&str]) -> anyhow::Result<SocketAddr> {
        let addr = self.prepare_joining(id, extra_args)?;
        let index = self.index(id)?;
        self.spawn(index)?;
        Ok(addr)
    }

    /// Like [`ProcessCluster::start_joining`] but does not start the process yet (its address is
    /// reserved; start it with [`ProcessCluster::restart`]).
    pub fn prepare_joining(
        &mut self,
        id: NodeId,
        extra_args: &[&str],
    ) -> anyhow::Result<SocketAddr> {
        if self.nodes.iter().any(|n| n.id == id) {
            bail!("node {id} exists already");
        }
        let binary = raftkv_binary()?;
        let addr = free_port()?;
        let mut args = vec![
            binary.display().to_string(),
            "--id".into(),
            id.0.to_string(),
            "--listen".into(),
            addr.to_string(),
            "--data-dir".into(),
            self.dir.path().join(format!("n{id}")).display().to_string(),
            "--join".into(),
        ];
        args.extend(extra_args.iter().map(|a| a.to_string()));
        self.nodes.push(NodeProcess {
            id,
            addr,
            args,
            log_path: self.dir.path().join(format!("n{id}.log")),
            child: None,
            starts: 0,
        });
        Ok(addr)
    }

    /// Whether node `id`'s process is running (started and not killed).
    pub fn is_running(&self, id: NodeId) -> bool {
        self.node(id).is_ok_and(|n| n.child.is_some())
    }

    /// The ids of the nodes whose processes are running.
    pub fn running(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.id)
            .collect()
    }

    /// A client for the given nodes (in that order).
    pub fn client_for(&self, ids: &[NodeId], client_id: u64) -> anyhow::Result<Client> {
        let addrs = ids
            .iter()
            .map(|id| self.addr(*id))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Client::new(&addrs, client_id, ClientOptions::default()))
    }

    /// A client of node `id` alone that tries once and gives up after 300 ms (for status-like queries).
    fn quick_client(&self, id: NodeId) -> anyhow::Result<Client> {
        let options = ClientOptions {
            attempt_timeout: Duration::from_millis(300),
            operation_timeout: Duration::from_millis(300),
            max_attempts: 1,
            ..ClientOptions::default()
        };
        Ok(Client::new(&[self.addr(id)?], 0, options))
    }

    /// The membership as node `id` sees it, or an error if it does not answer quickly.
    pub async fn members(&self, id: NodeId) -> anyhow::Result<MembersInfo> {
        let mut client = self.quick_client(id)?;
        match client.members().await {
            Outcome::Ok(info) => Ok(info),
            other => bail!("node {id} members: {other}"),
        }
    }

    /// Waits until every node in `ids` reports `voters` as its voters with no change in flight.
    pub async fn wait_for_voters(
        &self,
        ids: &[NodeId],
        voters: &[NodeId],
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let wanted: std::collections::BTreeSet<NodeId> = voters.iter().copied().collect();
        let mut last = String::from("no answer yet");
        while Instant::now() < deadline {
            let mut all = true;
            for id in ids {
                match self.members(*id).await {
                    Ok(info) if info.voters == wanted && !info.change_in_flight => {}
                    Ok(info) => {
                        all = false;
                        last = format!(
                            "node {id}: voters {:?}, learners {:?}, outgoing {:?}, in flight {}",
                            info.voters, info.learners, info.voters_outgoing, info.change_in_flight
                        );
                    }
                    Err(err) => {
                        all = false;
                        last = err.to_string();
                    }
                }
            }
            if all {
                return Ok(());
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        bail!("voters {voters:?} not reached within {timeout:?}: {last}")
    }

    /// Every node's listen address, in id order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.addr).collect()
    }

    /// The address of node `id`.
    pub fn addr(&self, id: NodeId) -> anyhow::Result<SocketAddr> {
        Ok(self.node(id)?.addr)
    }

    fn node(&self, id: NodeId) -> anyhow::Result<&NodeProcess> {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .with_context(|| format!("no node {id}"))
    }

    fn index(&self, id: NodeId) -> anyhow::Result<usize> {
        self.nodes
            .iter()
            .position(|n| n.id == id)
            .with_context(|| format!("no node {id}"))
    }

    /// Kills node `id` with SIGKILL and reaps it.
    pub fn kill(&mut self, id: NodeId) -> anyhow::Result<()> {
        let index = self.index(id)?;
        if let Some(mut child) = self.nodes[index].child.take() {
            child.kill().context("kill")?;
            child.wait().context("wait")?;
        }
        Ok(())
    }

    /// Restarts a killed node `id` with the same flags and data directory.
    pub fn restart(&mut self, id: NodeId) -> anyhow::Result<()> {
        let index = self.index(id)?;
        if self.nodes[index].child.is_some() {
            bail!("node {id} is still running");
        }
        self.spawn(index)
    }

    /// The temporary directory with the nodes' data and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last lines of node `id`'s log (for failure messages).
    pub fn log_tail(&self, id: NodeId, lines: usize) -> String {
        let Ok(node) = self.node(id) else {
            return String::new();
        };
        let text = std::fs::read_to_string(&node.log_path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// A client for the whole cluster that tries node `preferred` (an index) first.
    pub fn client(&self, client_id: u64, preferred: usize) -> Client {
        let options = ClientOptions {
            preferred_node: preferred,
            ..ClientOptions::default()
        };
        Client::new(&self.addrs(), client_id, options)
    }

    /// The status of node `id`, or an error if it does not answer quickly.
    pub async fn status(&self, id: NodeId) -> anyhow::Result<NodeStatus> {
        let mut client = self.quick_client(id)?;
        match client.status().await {
            Outcome::Ok(status) => Ok(status),
            other => bail!("node {id} status: {other}"),
        }
    }

    /// Waits until the running nodes except `excluded` agree on one leader (also among them) and returns it.
    pub async fn wait_for_leader(
        &self,
        excluded: &[NodeId],
        timeout: Duration,
    ) -> anyhow::Result<NodeId> {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("no answer yet");
        while Instant::now() < deadline {
            let mut leaders = Vec::new();
            let mut leader_says_so = false;
            for node in self
                .nodes
                .iter()
                .filter(|n| n.child.is_some() && !excluded.contains(&n.id))
            {
                match self.status(node.id).await {
                    Ok(status) => {
                        leaders.push(status.leader);
                        leader_says_so |= status.role == Role::Leader;
                    }
                    Err(err) => {
                        leaders.push(None);
                        last = err.to_string();
                    }
                }
            }
            if let Some(Some(first)) = leaders.first().copied() {
                if leader_says_so
                    && !excluded.contains(&first)
                    && leaders.iter().all(|l| *l == Some(first))
                {
                    return Ok(first);
                }
            }
            last = format!("leaders seen: {leaders:?}; {last}");
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        bail!("no agreed leader within {timeout:?}: {last}")
    }

    /// Waits until node `id` has applied at least `index`.
    pub async fn wait_for_applied(
        &self,
        id: NodeId,
        index: LogIndex,
        timeout: Duration,
    ) -> anyhow::Result<NodeStatus> {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("no answer yet");
        while Instant::now() < deadline {
            match self.status(id).await {
                Ok(status) if status.applied_index >= index => return Ok(status),
                Ok(status) => last = format!("applied index {}", status.applied_index),
                Err(err) => last = err.to_string(),
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        bail!("node {id} did not apply index {index} within {timeout:?}: {last}")
    }
}

impl Drop for ProcessCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            for node in &self.nodes {
                eprintln!(
                    "--- node {} (started {} times) log tail:",
                    node.id, node.starts
                );
                eprintln!("{}", self.log_tail(node.id, 30));
            }
        }
    }
}

/// The runtime the process tests drive their clients with (two workers, like the machine's cores).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}
