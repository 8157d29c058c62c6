//! Catch-up benchmark: stop one follower, write N entries through the other two, restart it, and time
//! how long until it has applied everything the leader had committed when it came back. With snapshots
//! on, the follower's next index has been compacted away and it catches up through chunked
//! InstallSnapshot plus the log tail; with `--snapshot-threshold 0` it catches up from the log alone.

use crate::cluster::{LocalCluster, NODES};
use crate::load::{Load, RaftkvPutter};
use anyhow::{bail, Context as _};
use std::time::{Duration, Instant};

/// How long a restarted follower may take to catch up before the benchmark gives up.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(600);
/// How often the follower's progress is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// Runs the catch-up benchmark on a started cluster: `entries` puts of `value_size` bytes by `clients`
/// clients while one follower is down.
pub async fn run(
    cluster: &mut LocalCluster,
    entries: u64,
    clients: usize,
    value_size: usize,
) -> anyhow::Result<()> {
    cluster.wait_for_leader().await?;
    let leader = cluster.leader().await.context("no leader known")?;
    let follower = (leader + 1) % NODES;
    cluster.stop(follower).await?;
    let others: Vec<_> = (0..NODES)
        .filter(|&i| i != follower)
        .map(|i| cluster.addrs[i])
        .collect();
    let writing = Instant::now();
    let stats = Load {
        clients,
        warmup: Duration::ZERO,
        measured: CATCH_UP_TIMEOUT,
        puts_max: Some(entries),
    }
    .run(|c| RaftkvPutter::new(&others, 7_000_000 + c as u64, value_size))
    .await?;
    let write_time = writing.elapsed();
    if stats.acknowledged < entries {
        bail!(
            "only {} of {entries} puts were acknowledged while the follower was down",
            stats.acknowledged
        );
    }
    let leader = cluster
        .leader()
        .await
        .context("no leader after the writes")?;
    let target = cluster
        .status(leader)
        .await
        .context("leader status")?
        .commit_index;
    println!(
        "wrote {} entries in {:.2}s with node {} down; leader commit index {}",
        stats.acknowledged,
        write_time.as_secs_f64(),
        follower + 1,
        target.0
    );
    let restarted = Instant::now();
    cluster.restart(follower).await?;
    loop {
        if let Some(status) = cluster.status(follower).await {
            if status.applied_index >= target {
                println!(
                    "node {} caught up {} entries in {:.2}s (applied index {}, snapshot index {})",
                    follower + 1,
                    entries,
                    restarted.elapsed().as_secs_f64(),
                    status.applied_index.0,
                    status.snapshot_index.0
                );
                return Ok(());
            }
        }
        if restarted.elapsed() > CATCH_UP_TIMEOUT {
            bail!(
                "node {} did not catch up within {CATCH_UP_TIMEOUT:?}",
                follower + 1
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
