//! Throughput and latency benchmark: a 3-node raftkv cluster (in-process nodes on loopback, real WAL with
//! fsync on) under N closed-loop clients doing puts for T seconds; prints puts/s and p50/p99 latency.
//! With `--etcd ENDPOINT`, drives a running etcd through its HTTP/JSON gateway (`POST /v3/kv/put`) with
//! the same closed loop instead, for a like-for-like ratio.
//!
//! ```text
//! cargo run --release -p raftkv --bin raftkv-bench -- --clients 1,16,64 --duration-secs 10
//! cargo run --release -p raftkv --bin raftkv-bench -- --etcd http://127.0.0.1:2379 --clients 1,16,64
//! cargo run --release -p raftkv --bin raftkv-bench -- --clients 64 --snapshot-threshold 1000
//! cargo run --release -p raftkv --bin raftkv-bench -- --catch-up 100000 --clients 64
//! ```
//!
//! Every client waits for each answer before it sends the next request; only acknowledged puts count.

mod catch_up;
mod cluster;
mod etcd;
mod load;
mod stats;

use anyhow::{bail, Context as _};
use clap::Parser;
use cluster::LocalCluster;
use load::{Load, RaftkvPutter};
use std::path::PathBuf;
use std::time::Duration;

/// Benchmark options.
#[derive(Parser, Debug)]
#[command(name = "raftkv-bench")]
pub struct Args {
    /// Numbers of concurrent clients to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub clients: Vec<usize>,
    /// Measured seconds per client count.
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// Unmeasured seconds before each measurement.
    #[arg(long, default_value_t = 1)]
    pub warmup_secs: u64,
    /// Bytes per value.
    #[arg(long, default_value_t = 64)]
    pub value_size: usize,
    /// Drive etcd at this HTTP endpoint (e.g. http://127.0.0.1:2379) instead of raftkv.
    #[arg(long)]
    pub etcd: Option<String>,
    /// Where the in-process nodes keep their WALs (default: a fresh folder under the temp dir, removed
    /// afterwards). Put it on the disk you want to measure.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Each node takes a snapshot (and compacts its log) after this many applied entries; 0 never.
    #[arg(long, default_value_t = raftkv::node::SNAPSHOT_THRESHOLD_DEFAULT)]
    pub snapshot_threshold: u64,
    /// Instead of the throughput runs: stop a follower, write this many entries (with the last
    /// `--clients` count), restart it and time its catch-up.
    #[arg(long)]
    pub catch_up: Option<u64>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.clients.is_empty() || args.clients.contains(&0) {
        bail!("--clients needs positive numbers");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("runtime")?;
    runtime.block_on(async move {
        match args.etcd.clone() {
            Some(endpoint) => etcd::bench_etcd(&args, &endpoint).await,
            None => bench_raftkv(&args).await,
        }
    })
}

async fn bench_raftkv(args: &Args) -> anyhow::Result<()> {
    let (base, remove_after) = match &args.data_dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("raftkv-bench-{}", std::process::id())),
            true,
        ),
    };
    let mut cluster = LocalCluster::start(&base, args.snapshot_threshold).await?;
    let result = match args.catch_up {
        Some(entries) => {
            let clients = args.clients.last().copied().unwrap_or(64);
            catch_up::run(&mut cluster, entries, clients, args.value_size).await
        }
        None => run_raftkv_loads(args, &cluster).await,
    };
    cluster.shutdown().await?;
    if remove_after {
        std::fs::remove_dir_all(&base).with_context(|| format!("remove {}", base.display()))?;
    }
    result
}

async fn run_raftkv_loads(args: &Args, cluster: &LocalCluster) -> anyhow::Result<()> {
    cluster.wait_for_leader().await?;
    for (run, &clients) in args.clients.iter().enumerate() {
        let id_base = (run as u64 + 1) * 1_000_000;
        let stats = Load {
            clients,
            warmup: Duration::from_secs(args.warmup_secs),
            measured: Duration::from_secs(args.duration_secs),
            puts_max: None,
        }
        .run(|c| RaftkvPutter::new(&cluster.addrs, id_base + c as u64, args.value_size))
        .await?;
        stats.print("raftkv", clients, Duration::from_secs(args.duration_secs));
        if args.snapshot_threshold > 0 {
            if let Some(leader) = cluster.leader().await {
                if let Some(status) = cluster.status(leader).await {
                    println!(
                        "  leader snapshot index {} (threshold {})",
                        status.snapshot_index.0, args.snapshot_threshold
                    );
                }
            }
        }
    }
    Ok(())
}
