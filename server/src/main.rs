//! The `raftkv` binary: runs a node (`raftkv --id 1 --listen ADDR --peer 2=ADDR ... --data-dir DIR`, or
//! `raftkv --id 4 --listen ADDR --data-dir DIR --join` for a node to be added with `add-node`) or acts
//! as a client (`raftkv client --node ADDR put k v`, `... add-node 4 ADDR`, `... members`).
//!
//! Guarantees: a bad flag, a busy port or an unusable data directory ends the process with one line on
//! stderr and a non-zero exit; SIGTERM and SIGINT stop a node cleanly (listener closed, WAL flushed).
//! Client exit codes: 0 ok, 1 failed or indeterminate (the line says which), 2 CAS mismatch, 3 key not found.

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand};
use raftkv::bugs::{Bug, BugSet};
use raftkv::client::{CasResult, Client, ClientOptions, Outcome};
use raftkv::node::service::MembersInfo;
use raftkv::node::{self, NodeConfig};
use raftkv::raft::NodeId;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// A Raft key-value server (and its client).
#[derive(Parser, Debug)]
#[command(
    name = "raftkv",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Talk to a running cluster.
    Client(ClientArgs),
}

/// Flags of a node.
#[derive(Args, Debug)]
struct ServerArgs {
    /// This node's id (not 0).
    #[arg(long, required = true)]
    id: Option<u64>,
    /// Address to listen on, for peers and clients.
    #[arg(long, required = true)]
    listen: Option<SocketAddr>,
    /// Another node: ID=ADDR, where this node sends its messages for ID (repeat per peer).
    #[arg(long = "peer", value_parser = parse_peer)]
    peers: Vec<(u64, SocketAddr)>,
    /// Join an existing cluster: start knowing no voters, never campaign on its own, and wait for the
    /// leader to contact it after `raftkv client add-node ID ADDR` (any --peer only sets routes).
    #[arg(long)]
    join: bool,
    /// The address this node tells peers and records for itself in membership changes (default:
    /// --listen).
    #[arg(long)]
    advertise: Option<SocketAddr>,
    /// Directory of the write-ahead log (created if missing).
    #[arg(long, required = true)]
    data_dir: Option<PathBuf>,
    /// Length of one Raft tick.
    #[arg(long, default_value_t = 10)]
    tick_ms: u64,
    /// Lower bound of the randomized election timeout.
    #[arg(long, default_value_t = 150)]
    election_timeout_ms_min: u64,
    /// Upper bound of the randomized election timeout.
    #[arg(long, default_value_t = 300)]
    election_timeout_ms_max: u64,
    /// Leader heartbeat interval.
    #[arg(long, default_value_t = 30)]
    heartbeat_ms: u64,
    /// Switch on a deliberate bug (tests only): stale-read, commit-old-term, vote-any-log,
    /// ack-before-fsync, no-dedup.
    #[arg(long = "bug")]
    bugs: Vec<Bug>,
    /// TESTING ONLY: keep unsynced WAL bytes in memory so that kill -9 loses them like a power cut.
    #[arg(long)]
    unsafe_lose_unsynced_writes: bool,
    /// Seed of the node's randomness (default: the node id).
    #[arg(long)]
    seed: Option<u64>,
    /// Take a snapshot and compact the log after this many applied entries (0: only on request).
    #[arg(long, default_value_t = raftkv::node::SNAPSHOT_THRESHOLD_DEFAULT)]
    snapshot_threshold: u64,
    /// Size of one InstallSnapshot chunk sent to a lagging follower.
    #[arg(long, default_value_t = raftkv::raft::config::SNAPSHOT_CHUNK_BYTES_DEFAULT)]
    snapshot_chunk_bytes: usize,
    /// The largest snapshot this node accepts from a leader; a larger transfer is aborted with an
    /// error in the log (bounds the receive buffer).
    #[arg(long, default_value_t = raftkv::raft::config::SNAPSHOT_BYTES_MAX_DEFAULT)]
    snapshot_bytes_max: u64,
}

/// Flags of the client.
#[derive(Args, Debug)]
struct ClientArgs {
    /// A node's address (repeat; the first is tried first).
    #[arg(long = "node", required = true)]
    nodes: Vec<SocketAddr>,
    /// Give up after this long.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// The client id (default: random). Must be unique among all clients of the cluster.
    #[arg(long)]
    client_id: Option<u64>,
    #[command(subcommand)]
    op: ClientOp,
}

#[derive(Subcommand, Debug)]
enum ClientOp {
    /// Print the value of KEY alone on stdout (exit 3 if absent).
    Get {
        /// The key.
        key: String,
    },
    /// Set KEY to VALUE.
    Put {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Set KEY to NEW if it holds OLD: `cas KEY OLD NEW`, or `cas --old-absent KEY NEW` (exit 2 on mismatch).
    Cas {
        /// The key.
        key: String,
        /// OLD NEW, or NEW alone with --old-absent.
        #[arg(num_args = 1..=2, required = true)]
        values: Vec<String>,
        /// Require KEY to be absent instead of holding OLD.
        #[arg(long)]
        old_absent: bool,
    },
    /// Remove KEY.
    Delete {
        /// The key.
        key: String,
    },
    /// Print the first reachable node's role, term, commit index and leader.
    Status,
    /// Make the first reachable node take a snapshot now and compact its log; prints the index.
    Snapshot,
    /// Hand leadership to voter ID and wait until it leads (exit 1 if it does not in time).
    TransferLeader {
        /// The node to hand over to.
        id: u64,
    },
    /// Add node ID (started with --join, listening at ADDR) and wait until it is promoted to voter
    /// (it joins as a learner and is promoted once caught up; exit 1 if not within --timeout-ms).
    AddNode {
        /// The new node's id.
        id: u64,
        /// The new node's listen address.
        addr: SocketAddr,
    },
    /// Remove voter or learner ID and wait until the removal is committed.
    RemoveNode {
        /// The member to remove.
        id: u64,
    },
    /// Change the voters to exactly these (joint consensus): ID=ADDR for a new member, ID or ID=ADDR
    /// for a current one. Waits until the final configuration is committed.
    ChangeMembers {
        /// The new voters.
        #[arg(required = true, value_parser = parse_member)]
        members: Vec<(u64, Option<SocketAddr>)>,
    },
    /// Print the membership as the first reachable node sees it.
    Members,
    /// UNSAFE DISASTER RECOVERY: force the configuration of the FIRST --node to these voters without
    /// consensus (only when a majority is lost for good; may lose committed writes). Needs --force.
    SetPeers {
        /// Really do it.
        #[arg(long)]
        force: bool,
        /// The voters: ID=ADDR (or ID for a member whose address is known).
        #[arg(required = true, value_parser = parse_member)]
        members: Vec<(u64, Option<SocketAddr>)>,
    },
}

/// Parses `ID=ADDR` or `ID`.
fn parse_member(text: &str) -> Result<(u64, Option<SocketAddr>), String> {
    match text.split_once('=') {
        Some(_) => parse_peer(text).map(|(id, addr)| (id, Some(addr))),
        None => text
            .parse()
            .map(|id| (id, None))
            .map_err(|e| format!("expected ID=ADDR or ID, got '{text}': {e}")),
    }
}

/// The voters of a change-members or set-peers command, refusing repeated or zero ids.
fn member_map(
    members: Vec<(u64, Option<SocketAddr>)>,
) -> anyhow::Result<BTreeMap<NodeId, Option<String>>> {
    let mut voters = BTreeMap::new();
    for (id, addr) in members {
        if id == 0 {
            bail!("node id 0 is not allowed");
        }
        if voters
            .insert(NodeId(id), addr.map(|a| a.to_string()))
            .is_some()
        {
            bail!("node {id} is given twice");
        }
    }
    Ok(voters)
}

fn ids(set: &std::collections::BTreeSet<NodeId>) -> String {
    if set.is_empty() {
        return "-".into();
    }
    set.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Prints a membership report.
fn print_members(info: &MembersInfo) {
    let leader = info.leader.map_or("none".to_string(), |l| l.to_string());
    println!("node: {} ({})", info.node, info.role);
    println!("leader: {leader}");
    println!("voters: {}", ids(&info.voters));
    if !info.voters_outgoing.is_empty() {
        println!(
            "outgoing voters (joint consensus): {}",
            ids(&info.voters_outgoing)
        );
    }
    println!("learners: {}", ids(&info.learners));
    println!(
        "change in flight: {}",
        if info.change_in_flight { "yes" } else { "no" }
    );
    println!("config index: {}", info.config_index);
    let mut members = info.voters.clone();
    members.extend(info.voters_outgoing.iter().copied());
    members.extend(info.learners.iter().copied());
    for id in members {
        let address = info.addresses.get(&id).map_or("(unknown)", String::as_str);
        match info.routes.get(&id) {
            Some(route) if route != address => {
                println!("address {id}: {address} (this node sends to {route})")
            }
            _ => println!("address {id}: {address}"),
        }
    }
}

fn parse_peer(text: &str) -> Result<(u64, SocketAddr), String> {
    let (id, addr) = text
        .split_once('=')
        .ok_or_else(|| format!("expected ID=ADDR, got '{text}'"))?;
    let id = id.parse().map_err(|e| format!("bad peer id '{id}': {e}"))?;
    let addr = addr
        .parse()
        .map_err(|e| format!("bad peer address '{addr}': {e}"))?;
    Ok((id, addr))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Client(args)) => run_client(args),
        None => run_server(cli.server).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("raftkv: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn ticks(ms: u64, tick_ms: u64, what: &str) -> anyhow::Result<u64> {
    if ms.checked_rem(tick_ms) != Some(0) {
        bail!("--{what} ({ms}) must be a multiple of --tick-ms ({tick_ms})");
    }
    Ok(ms / tick_ms)
}

fn run_server(args: ServerArgs) -> anyhow::Result<()> {
    let (Some(id), Some(listen), Some(data_dir)) = (args.id, args.listen, args.data_dir) else {
        bail!("--id, --listen and --data-dir are required");
    };
    if args.tick_ms == 0 {
        bail!("--tick-ms must be > 0");
    }
    let mut peers = BTreeMap::new();
    for (peer, addr) in args.peers {
        if peer == id || peers.insert(NodeId(peer), addr).is_some() {
            bail!("--peer {peer} is repeated or is this node");
        }
    }
    let mut config = NodeConfig::new(NodeId(id), peers, data_dir);
    config.join = args.join;
    config.advertise_addr = args.advertise;
    config.tick_interval = Duration::from_millis(args.tick_ms);
    config.election_timeout_ticks_min = ticks(
        args.election_timeout_ms_min,
        args.tick_ms,
        "election-timeout-ms-min",
    )?;
    config.election_timeout_ticks_max = ticks(
        args.election_timeout_ms_max,
        args.tick_ms,
        "election-timeout-ms-max",
    )?;
    config.heartbeat_interval_ticks = ticks(args.heartbeat_ms, args.tick_ms, "heartbeat-ms")?;
    config.bugs = args.bugs.into_iter().collect::<BugSet>();
    config.unsafe_lose_unsynced_writes = args.unsafe_lose_unsynced_writes;
    config.seed = args.seed.unwrap_or(id);
    config.snapshot_threshold = args.snapshot_threshold;
    if args.snapshot_chunk_bytes == 0 {
        bail!("--snapshot-chunk-bytes must be > 0");
    }
    config.snapshot_chunk_bytes = args.snapshot_chunk_bytes;
    if args.snapshot_bytes_max == 0 {
        bail!("--snapshot-bytes-max must be > 0");
    }
    config.snapshot_bytes_max = args.snapshot_bytes_max;

    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    if !config.bugs.0.is_empty() {
        tracing::warn!(bugs = ?config.bugs, "deliberate bugs are switched on");
    }
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        node::run(config, listener, shutdown_signal()?)
            .await
            .context("node failed")
    })
}

/// Completes on the first SIGTERM or SIGINT.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
            _ = interrupt.recv() => tracing::info!("SIGINT: stopping"),
        }
    })
}

/// Shows bytes as text when they are UTF-8, else as a hex-escaped byte string.
fn show(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => bytes.escape_ascii().to_string(),
    }
}

fn settle<T>(outcome: Outcome<T>) -> anyhow::Result<T> {
    match outcome {
        Outcome::Ok(value) => Ok(value),
        Outcome::Fail(reason) => bail!("failed (it did not happen): {reason}"),
        Outcome::Indeterminate(reason) => bail!("indeterminate (it may have happened): {reason}"),
    }
}

fn run_client(args: ClientArgs) -> anyhow::Result<ExitCode> {
    let options = ClientOptions {
        operation_timeout: Duration::from_millis(args.timeout_ms),
        ..ClientOptions::default()
    };
    let client_id = args.client_id.unwrap_or_else(rand::random);
    let mut client = Client::new(&args.nodes, client_id, options);
    runtime()?.block_on(async move {
        match args.op {
            ClientOp::Get { key } => match settle(client.get(key.as_bytes()).await)? {
                Some(value) => println!("{}", show(&value)),
                None => {
                    eprintln!("raftkv: key not found");
                    return Ok(ExitCode::from(3));
                }
            },
            ClientOp::Put { key, value } => {
                settle(client.put(key.as_bytes(), value.as_bytes()).await)?;
                println!("ok");
            }
            ClientOp::Cas {
                key,
                values,
                old_absent,
            } => {
                let (old, new) = match (old_absent, values.as_slice()) {
                    (false, [old, new]) => (Some(old.as_bytes()), new),
                    (true, [new]) => (None, new),
                    _ => bail!("usage: cas KEY OLD NEW, or cas --old-absent KEY NEW"),
                };
                match settle(client.cas(key.as_bytes(), old, new.as_bytes()).await)? {
                    CasResult::Ok => println!("ok"),
                    CasResult::Mismatch { current } => {
                        let current = current.map_or("(absent)".to_string(), |v| show(&v));
                        println!("mismatch: current value {current}");
                        return Ok(ExitCode::from(2));
                    }
                }
            }
            ClientOp::Delete { key } => {
                settle(client.delete(key.as_bytes()).await)?;
                println!("ok");
            }
            ClientOp::Status => {
                let status = settle(client.status().await)?;
                let leader = status.leader.map_or("none".to_string(), |l| l.to_string());
                let members: Vec<String> = status.members.iter().map(|m| m.to_string()).collect();
                println!("id: {}", status.id);
                println!("role: {}", status.role);
                println!("term: {}", status.term);
                println!("commit index: {}", status.commit_index);
                println!("applied index: {}", status.applied_index);
                println!("last index: {}", status.last_index);
                println!("leader: {leader}");
                println!("members: {}", members.join(","));
                println!("snapshot index: {}", status.snapshot_index);
            }
            ClientOp::TransferLeader { id } => {
                let target = NodeId(id);
                let deadline = std::time::Instant::now() + Duration::from_millis(args.timeout_ms);
                settle(client.transfer_leader(target).await)?;
                loop {
                    if let Outcome::Ok(status) = client.status().await {
                        if status.leader == Some(target) {
                            println!("leader: {target}");
                            break;
                        }
                    }
                    if std::time::Instant::now() >= deadline {
                        bail!("node {target} did not become leader in time (the transfer is abandoned after an election timeout)");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            ClientOp::AddNode { id, addr } => {
                let id = NodeId(id);
                let deadline = std::time::Instant::now() + Duration::from_millis(args.timeout_ms);
                settle(client.add_node(id, &addr.to_string()).await)?;
                println!("node {id} added as a learner; waiting for its promotion to voter");
                loop {
                    if let Outcome::Ok(info) = client.members().await {
                        if info.voters.contains(&id) && !info.change_in_flight {
                            print_members(&info);
                            break;
                        }
                    }
                    if std::time::Instant::now() >= deadline {
                        bail!("node {id} is a learner but was not promoted in time: is it running (with --join) and reachable at {addr}? `members` shows the state; `remove-node {id}` cancels");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            ClientOp::RemoveNode { id } => {
                print_members(&settle(client.remove_node(NodeId(id)).await)?);
            }
            ClientOp::ChangeMembers { members } => {
                let voters = member_map(members)?;
                print_members(&settle(client.change_members(&voters).await)?);
            }
            ClientOp::Members => print_members(&settle(client.members().await)?),
            ClientOp::SetPeers { force, members } => {
                let voters = member_map(members)?;
                if !force {
                    bail!("set-peers is UNSAFE: it forces the node's configuration without consensus and can lose committed writes or split the cluster; refused without --force");
                }
                eprintln!("raftkv: WARNING: forcing the configuration of {} without consensus (set-peers --force)", args.nodes[0]);
                let options = ClientOptions {
                    operation_timeout: Duration::from_millis(args.timeout_ms),
                    ..ClientOptions::default()
                };
                let mut one = Client::new(&args.nodes[..1], client_id, options);
                print_members(&settle(one.set_peers(&voters, true).await)?);
            }
            ClientOp::Snapshot => {
                let index = settle(client.snapshot().await)?;
                println!("snapshot index: {index}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
