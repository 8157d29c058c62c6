//! Launching a `raftkv` cluster: ports, run-folder layout, command lines, optional proxy mesh, readiness.
//!
//! Layout of the run folder: `node-<id>.log` (stdout+stderr of every incarnation) and `data-<id>/` (the
//! node's `--data-dir`). Node ids are 1..=N. Guarantees: every node's command line is a pure function of
//! (id, addresses, options, seed) — see [`raftkv_args`]; a port taken between reservation and bind
//! (the node exits saying "address in use") is retried with fresh ports up to `LAUNCH_ATTEMPTS_MAX`
//! times; any other failure tears the partial cluster down and is returned.

use super::{free_loopback_addrs, Cluster, ClusterError, NodeSpec, ReadinessProbe};
use crate::proxy::ProxyMesh;
use raftkv::bugs::Bug;
use raftkv::raft::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The largest cluster the launcher starts.
pub const NODE_COUNT_MAX: usize = 9;
/// How many times a launch is tried when a reserved port was taken by someone else.
pub const LAUNCH_ATTEMPTS_MAX: usize = 3;

/// Server settings passed on every node's command line; `None` leaves the server's default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerOptions {
    /// `--tick-ms`.
    pub tick_ms: Option<u64>,
    /// `--election-timeout-ms-min`.
    pub election_timeout_ms_min: Option<u64>,
    /// `--election-timeout-ms-max`.
    pub election_timeout_ms_max: Option<u64>,
    /// `--heartbeat-ms`.
    pub heartbeat_ms: Option<u64>,
    /// `--snapshot-threshold`.
    #[serde(default)]
    pub snapshot_threshold: Option<u64>,
    /// One `--bug NAME` per switch.
    pub bugs: Vec<Bug>,
    /// `--unsafe-lose-unsynced-writes` (needed by the `lost-writes` fault).
    pub unsafe_lose_unsynced_writes: bool,
    /// Appended verbatim (for server flags this type does not know yet).
    pub extra_args: Vec<String>,
}

/// Everything [`launch`] needs.
#[derive(Clone, Debug)]
pub struct LaunchConfig {
    /// The `raftkv` binary (see `find_or_build_raftkv_binary`).
    pub binary: PathBuf,
    /// The run folder; created if missing.
    pub run_dir: PathBuf,
    /// N, 1..=NODE_COUNT_MAX.
    pub node_count: usize,
    /// Server flags.
    pub server: ServerOptions,
    /// Route peer traffic through a [`ProxyMesh`] (needed for link faults).
    pub use_proxy: bool,
    /// Root seed: node `--seed`s and proxy link randomness derive from it.
    pub seed: u64,
    /// Bound on the wait for readiness.
    pub ready_timeout: Duration,
}

/// A node's `--seed`, derived from the root seed and its id.
pub fn node_seed(root_seed: u64, id: NodeId) -> u64 {
    root_seed.rotate_left(17) ^ id.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The full `raftkv` command line (without the program) for node `id`. `peer_args` are the
/// `--peer j=ADDR` pairs, from [`ProxyMesh::peer_args`] or direct addresses.
pub fn raftkv_args(
    id: NodeId,
    listen: SocketAddr,
    peer_args: &[String],
    data_dir: &Path,
    options: &ServerOptions,
    root_seed: u64,
) -> Vec<String> {
    let mut args = vec![
        "--id".to_string(),
        id.to_string(),
        "--listen".to_string(),
        listen.to_string(),
    ];
    args.extend(peer_args.iter().cloned());
    args.extend(["--data-dir".to_string(), data_dir.display().to_string()]);
    let numeric = [
        ("--tick-ms", options.tick_ms),
        ("--election-timeout-ms-min", options.election_timeout_ms_min),
        ("--election-timeout-ms-max", options.election_timeout_ms_max),
        ("--heartbeat-ms", options.heartbeat_ms),
        ("--snapshot-threshold", options.snapshot_threshold),
    ];
    for (flag, value) in numeric {
        if let Some(value) = value {
            args.extend([flag.to_string(), value.to_string()]);
        }
    }
    for bug in &options.bugs {
        args.extend(["--bug".to_string(), bug.name().to_string()]);
    }
    if options.unsafe_lose_unsynced_writes {
        args.push("--unsafe-lose-unsynced-writes".to_string());
    }
    args.extend(["--seed".to_string(), node_seed(root_seed, id).to_string()]);
    args.extend(options.extra_args.iter().cloned());
    args
}

fn direct_peer_args(from: NodeId, addrs: &BTreeMap<NodeId, SocketAddr>) -> Vec<String> {
    addrs
        .iter()
        .filter(|(&to, _)| to != from)
        .flat_map(|(to, addr)| ["--peer".to_string(), format!("{to}={addr}")])
        .collect()
}

async fn launch_once<P: ReadinessProbe>(
    config: &LaunchConfig,
    probe: &P,
) -> Result<(Cluster, Option<NodeId>), ClusterError> {
    let ids: Vec<NodeId> = (1..=config.node_count as u64).map(NodeId).collect();
    let listen_addrs = free_loopback_addrs(ids.len()).map_err(|source| ClusterError::Io {
        what: "reserve loopback ports".to_string(),
        source,
    })?;
    let addrs: BTreeMap<NodeId, SocketAddr> = ids.iter().copied().zip(listen_addrs).collect();
    let mesh = if config.use_proxy {
        Some(ProxyMesh::start(&addrs, config.seed).await?)
    } else {
        None
    };
    let specs = addrs
        .iter()
        .map(|(&id, &listen)| {
            let peers = match &mesh {
                Some(mesh) => mesh.peer_args(id),
                None => direct_peer_args(id, &addrs),
            };
            let data_dir = config.run_dir.join(format!("data-{id}"));
            NodeSpec {
                id,
                program: config.binary.clone(),
                args: raftkv_args(id, listen, &peers, &data_dir, &config.server, config.seed),
                client_addr: Some(listen),
            }
        })
        .collect();
    let mut cluster = Cluster::spawn(&config.run_dir, specs)?;
    if let Some(mesh) = mesh {
        cluster.attach_mesh(mesh);
    }
    let leader = cluster.wait_ready(probe, config.ready_timeout).await?;
    Ok((cluster, leader))
}

fn is_port_conflict(error: &ClusterError) -> bool {
    match error {
        ClusterError::ExitedEarly { log_tail, .. } => {
            let tail = log_tail.to_lowercase();
            tail.contains("address already in use") || tail.contains("addrinuse")
        }
        _ => false,
    }
}

/// Starts an N-node `raftkv` cluster in `config.run_dir` and waits until it is ready; returns it with
/// the leader the probe saw (if the probe reports leaders).
pub async fn launch<P: ReadinessProbe>(
    config: &LaunchConfig,
    probe: &P,
) -> Result<(Cluster, Option<NodeId>), ClusterError> {
    if !(1..=NODE_COUNT_MAX).contains(&config.node_count) {
        return Err(ClusterError::Config(format!(
            "node count {} is outside 1..={NODE_COUNT_MAX}",
            config.node_count
        )));
    }
    let mut attempt = 1;
    loop {
        match launch_once(config, probe).await {
            Err(error) if attempt < LAUNCH_ATTEMPTS_MAX && is_port_conflict(&error) => {
                tracing::warn!(attempt, %error, "port conflict while launching; retrying with fresh ports");
                // The failed attempt's cluster is already torn down (dropped); start from empty data.
                for id in 1..=config.node_count {
                    let data_dir = config.run_dir.join(format!("data-{id}"));
                    if data_dir.exists() {
                        std::fs::remove_dir_all(&data_dir).map_err(|source| ClusterError::Io {
                            what: format!("remove {}", data_dir.display()),
                            source,
                        })?;
                    }
                }
                attempt += 1;
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_has_every_flag_in_the_server_cli_spelling() {
        let options = ServerOptions {
            tick_ms: Some(10),
            election_timeout_ms_min: Some(150),
            election_timeout_ms_max: Some(300),
            heartbeat_ms: Some(30),
            snapshot_threshold: Some(500),
            bugs: vec![Bug::StaleRead, Bug::NoDedup],
            unsafe_lose_unsynced_writes: true,
            extra_args: vec!["--extra".to_string()],
        };
        let listen: SocketAddr = "127.0.0.1:7001".parse().expect("addr");
        let peers = vec!["--peer".to_string(), "2=127.0.0.1:7002".to_string()];
        let args = raftkv_args(
            NodeId(1),
            listen,
            &peers,
            Path::new("/run/data-1"),
            &options,
            5,
        );
        let expected: Vec<String> = [
            "--id",
            "1",
            "--listen",
            "127.0.0.1:7001",
            "--peer",
            "2=127.0.0.1:7002",
            "--data-dir",
            "/run/data-1",
            "--tick-ms",
            "10",
            "--election-timeout-ms-min",
            "150",
            "--election-timeout-ms-max",
            "300",
            "--heartbeat-ms",
            "30",
            "--snapshot-threshold",
            "500",
            "--bug",
            "stale-read",
            "--bug",
            "no-dedup",
            "--unsafe-lose-unsynced-writes",
            "--seed",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([node_seed(5, NodeId(1)).to_string(), "--extra".to_string()])
        .collect();
        assert_eq!(args, expected);
    }

    #[test]
    fn defaults_add_only_the_required_flags_and_seeds_differ_per_node() {
        let listen: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        let args = raftkv_args(
            NodeId(3),
            listen,
            &[],
            Path::new("d"),
            &ServerOptions::default(),
            1,
        );
        assert_eq!(args.len(), 8, "{args:?}");
        assert_ne!(node_seed(1, NodeId(1)), node_seed(1, NodeId(2)));
        assert_ne!(node_seed(1, NodeId(1)), node_seed(2, NodeId(1)));
    }

    #[test]
    fn direct_peers_exclude_self() {
        let addrs: BTreeMap<NodeId, SocketAddr> = (1..=3)
            .map(|id| {
                (
                    NodeId(id),
                    format!("127.0.0.1:{}", 7000 + id).parse().expect("addr"),
                )
            })
            .collect();
        assert_eq!(
            direct_peer_args(NodeId(2), &addrs),
            ["--peer", "1=127.0.0.1:7001", "--peer", "3=127.0.0.1:7003"]
        );
    }

    #[test]
    fn only_address_in_use_exits_count_as_port_conflicts() {
        let exited = |tail: &str| ClusterError::ExitedEarly {
            id: NodeId(1),
            exit: crate::cluster::ExitRecord {
                code: Some(1),
                signal: None,
                killed_by_harness: false,
            },
            log: PathBuf::from("node-1.log"),
            log_tail: tail.to_string(),
        };
        assert!(is_port_conflict(&exited(
            "Error: bind: Address already in use (os error 98)"
        )));
        assert!(!is_port_conflict(&exited("Error: bad flag")));
    }
}
