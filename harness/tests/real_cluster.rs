//! End-to-end check of cluster + proxy + nemesis against the real `raftkv` binary: launch 3 nodes behind
//! the proxy mesh, wait for a leader, isolate it (a new leader must appear on the majority side, which
//! proves the proxy carries and cuts real tarpc traffic), heal, kill -9 and restart the leader.
//!
//! Needs a built server (`target/{release,debug}/raftkv`); when there is none the test says so and
//! passes without checking anything (build the server first: `cargo build -p raftkv --bin raftkv`).
//! Waits are for conditions with generous bounds, never assertions on timing.

use harness::cluster::{
    find_or_build_raftkv_binary, launch, LaunchConfig, ReadinessProbe, ServerOptions, StatusProbe,
};
use harness::nemesis::{Fault, Nemesis, PartitionShape, Target};
use raftkv::raft::NodeId;
use std::time::Duration;

/// Upper bound on any wait for the cluster; reaching it means the test failed.
const WAIT_MAX: Duration = Duration::from_secs(30);

/// Polls nodes other than `old_leader` until one names a leader other than `old_leader`.
async fn wait_for_new_leader(cluster: &harness::cluster::Cluster, old_leader: NodeId) -> NodeId {
    let probe = StatusProbe::default();
    let deadline = tokio::time::Instant::now() + WAIT_MAX;
    loop {
        for (id, addr) in cluster.client_addrs() {
            if id == old_leader {
                continue;
            }
            if let Ok(report) = probe.probe(id, addr).await {
                if let Some(leader) = report.leader.filter(|&leader| leader != old_leader) {
                    return leader;
                }
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no new leader after isolating {old_leader}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_cluster_elects_through_the_proxy_and_survives_isolation_and_kill() {
    // Builds the server (a no-op when up to date), so this test never skips silently.
    let binary = match find_or_build_raftkv_binary(None) {
        Ok(binary) => binary,
        Err(e) => panic!("cannot find or build the raftkv binary: {e}"),
    };
    let seed: u64 = std::env::var("SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    eprintln!("seed {seed} (replay with SIM_SEED={seed})");
    let run = tempfile::tempdir().expect("run dir");
    let config = LaunchConfig {
        binary,
        run_dir: run.path().to_path_buf(),
        node_count: 3,
        server: ServerOptions::default(),
        use_proxy: true,
        seed,
        ready_timeout: WAIT_MAX,
    };
    let probe = StatusProbe::default();
    let (mut cluster, leader) = launch(&config, &probe)
        .await
        .expect("cluster becomes ready");
    let leader = leader.expect("the status probe reports a leader");

    let mut nemesis = Nemesis::new();
    let isolate = Fault::Partition {
        shape: PartitionShape::IsolateLeader,
    };
    let record = nemesis
        .start(&mut cluster, &isolate, Some(leader), seed)
        .expect("isolate");
    assert_eq!(record.value["components"][0], serde_json::json!([leader]));
    let new_leader = wait_for_new_leader(&cluster, leader).await;
    assert_ne!(new_leader, leader);
    let dropped = cluster
        .mesh()
        .expect("mesh")
        .link(leader, new_leader)
        .expect("link")
        .stats();
    assert!(
        dropped.frames_dropped > 0,
        "the isolated leader's frames must have been cut"
    );
    nemesis.stop(&mut cluster, &isolate).expect("heal");
    cluster
        .wait_ready(&probe, WAIT_MAX)
        .await
        .expect("ready after heal");

    let kill = Fault::Kill {
        target: Target::Leader,
    };
    let current = cluster
        .wait_ready(&probe, WAIT_MAX)
        .await
        .expect("ready")
        .expect("leader");
    nemesis
        .start(&mut cluster, &kill, Some(current), seed)
        .expect("kill leader");
    wait_for_new_leader(&cluster, current).await;
    nemesis.stop(&mut cluster, &kill).expect("restart");
    let after = cluster
        .wait_ready(&probe, WAIT_MAX)
        .await
        .expect("ready after restart");
    assert!(after.is_some());
    assert_eq!(
        cluster.records()[&current].len(),
        2,
        "the killed leader ran twice"
    );
}
