//! The nemesis executor against stand-in processes and a real proxy mesh: each fault's start does what
//! it says (observed through the OS and the link states), its stop undoes it, heal undoes everything,
//! and a whole seeded schedule leaves the cluster healthy. Replay a schedule seed with NEMESIS_SEED.

use harness::cluster::{Cluster, NodeSpec, NodeState};
use harness::nemesis::{
    Fault, FaultList, Nemesis, NemesisError, PartitionShape, Phase, Schedule, Target,
    NEMESIS_PROCESS,
};
use harness::proxy::{LinkFault, ProxyMesh};
use raftkv::raft::NodeId;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn standin(id: u64, unsafe_flag: bool) -> NodeSpec {
    // `sh -c SCRIPT ARG0`: the flag lands in $0, so the node's args carry it without breaking `sleep`.
    let mut args = vec!["-c".to_string(), "exec sleep 30".to_string()];
    args.push(
        if unsafe_flag {
            "--unsafe-lose-unsynced-writes"
        } else {
            "node"
        }
        .to_string(),
    );
    NodeSpec {
        id: NodeId(id),
        program: PathBuf::from("sh"),
        args,
        client_addr: None,
    }
}

fn cluster(run: &Path, n: u64, unsafe_flag: bool) -> Cluster {
    Cluster::spawn(run, (1..=n).map(|id| standin(id, unsafe_flag)).collect())
        .expect("spawn stand-ins")
}

async fn with_mesh(cluster: &mut Cluster, seed: u64) {
    let targets: BTreeMap<NodeId, SocketAddr> = cluster
        .ids()
        .into_iter()
        .map(|id| (id, "127.0.0.1:9".parse().expect("addr")))
        .collect();
    cluster.attach_mesh(ProxyMesh::start(&targets, seed).await.expect("mesh"));
}

fn states(cluster: &Cluster) -> Vec<NodeState> {
    cluster
        .ids()
        .into_iter()
        .map(|id| cluster.state(id).expect("node"))
        .collect()
}

fn node_list(value: &serde_json::Value) -> Vec<u64> {
    serde_json::from_value(value["nodes"].clone()).expect("nodes list")
}

#[test]
fn kill_leader_kills_it_and_stop_restarts_it() {
    let run = tempfile::tempdir().expect("run dir");
    let mut cluster = cluster(run.path(), 3, false);
    let old_pid = cluster
        .node(NodeId(2))
        .expect("node")
        .pid()
        .expect("running");
    let mut nemesis = Nemesis::new();
    let fault = Fault::Kill {
        target: Target::Leader,
    };
    let started = nemesis
        .start(&mut cluster, &fault, Some(NodeId(2)), 7)
        .expect("start");
    assert_eq!(started.f, "start-kill");
    assert_eq!(node_list(&started.value), vec![2]);
    assert_eq!(
        states(&cluster),
        [NodeState::Running, NodeState::Stopped, NodeState::Running]
    );
    assert_eq!(nemesis.active(), vec![fault.clone()]);
    let stopped = nemesis.stop(&mut cluster, &fault).expect("stop");
    assert_eq!(stopped.f, "stop-kill");
    assert_eq!(states(&cluster), [NodeState::Running; 3]);
    assert_ne!(cluster.node(NodeId(2)).expect("node").pid(), Some(old_pid));
    assert!(nemesis.active().is_empty());
    let again = nemesis
        .stop(&mut cluster, &fault)
        .expect("stop of inactive fault");
    assert_eq!(again.value["note"], "not active");
    assert_eq!(NEMESIS_PROCESS, "nemesis");
}

#[test]
fn pause_majority_then_heal_resumes_everyone() {
    let run = tempfile::tempdir().expect("run dir");
    let mut cluster = cluster(run.path(), 5, false);
    let mut nemesis = Nemesis::new();
    let started = nemesis
        .start(
            &mut cluster,
            &Fault::Pause {
                target: Target::Majority,
            },
            None,
            3,
        )
        .expect("pause");
    let paused = node_list(&started.value);
    assert_eq!(paused.len(), 3);
    for id in 1..=5 {
        let expected = if paused.contains(&id) {
            NodeState::Paused
        } else {
            NodeState::Running
        };
        assert_eq!(cluster.state(NodeId(id)).expect("node"), expected);
    }
    let healed = nemesis.heal_all(&mut cluster).expect("heal");
    assert_eq!(healed.f, "start-heal");
    assert_eq!(states(&cluster), [NodeState::Running; 5]);
    assert!(nemesis.active().is_empty());
}

#[test]
fn lost_writes_requires_the_unsafe_flag() {
    let run = tempfile::tempdir().expect("run dir");
    let mut safe = cluster(run.path(), 3, false);
    let mut nemesis = Nemesis::new();
    let fault = Fault::LostWrites {
        target: Target::All,
    };
    let error = nemesis
        .start(&mut safe, &fault, None, 1)
        .expect_err("flag missing");
    assert!(
        matches!(error, NemesisError::LostWritesNeedsUnsafeFlag(ref nodes) if nodes.len() == 3)
    );
    assert_eq!(
        states(&safe),
        [NodeState::Running; 3],
        "nothing may be killed on refusal"
    );
    drop(safe);

    let run = tempfile::tempdir().expect("run dir");
    let mut flagged = cluster(run.path(), 3, true);
    let started = nemesis
        .start(&mut flagged, &fault, None, 1)
        .expect("lost-writes");
    assert_eq!(started.f, "start-lost-writes");
    assert_eq!(states(&flagged), [NodeState::Stopped; 3]);
    nemesis.stop(&mut flagged, &fault).expect("restart");
    assert_eq!(states(&flagged), [NodeState::Running; 3]);
}

#[tokio::test]
async fn partitions_set_the_mesh_to_the_plan_and_stop_heals() {
    let run = tempfile::tempdir().expect("run dir");
    let mut cluster = cluster(run.path(), 5, false);
    let mut nemesis = Nemesis::new();
    let bridge = Fault::Partition {
        shape: PartitionShape::Bridge,
    };
    assert!(matches!(
        nemesis.start(&mut cluster, &bridge, None, 1),
        Err(NemesisError::NoProxy(_))
    ));
    with_mesh(&mut cluster, 1).await;
    for shape in PartitionShape::ALL {
        let fault = Fault::Partition { shape };
        let started = nemesis
            .start(&mut cluster, &fault, Some(NodeId(1)), 11)
            .expect("partition");
        assert_eq!(started.f, format!("start-{}", shape.name()));
        let dropped: Vec<(u64, u64)> =
            serde_json::from_value(started.value["dropped"].clone()).expect("dropped");
        assert!(!dropped.is_empty(), "{shape:?} must cut something");
        let mesh = cluster.mesh().expect("mesh");
        for link in mesh.links() {
            let cut = dropped.contains(&(link.from().0, link.to().0));
            assert_eq!(
                link.fault(),
                if cut {
                    LinkFault::Drop
                } else {
                    LinkFault::Pass
                },
                "{shape:?}"
            );
        }
        nemesis.stop(&mut cluster, &fault).expect("heal");
        let mesh = cluster.mesh().expect("mesh");
        assert!(mesh.links().all(|link| link.fault() == LinkFault::Pass));
    }
    let delay = Fault::Delay {
        mean_ms: 30,
        jitter_ms: 10,
    };
    nemesis.start(&mut cluster, &delay, None, 2).expect("delay");
    let mesh = cluster.mesh().expect("mesh");
    assert!(mesh.links().all(|link| link.fault()
        == LinkFault::Delay {
            mean_ms: 30,
            jitter_ms: 10
        }));
    nemesis.heal_all(&mut cluster).expect("heal");
    assert!(cluster
        .mesh()
        .expect("mesh")
        .links()
        .all(|link| link.fault() == LinkFault::Pass));
}

#[tokio::test]
async fn a_whole_seeded_schedule_leaves_the_cluster_healthy() {
    let seed: u64 = std::env::var("NEMESIS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2024);
    let run = tempfile::tempdir().expect("run dir");
    let mut cluster = cluster(run.path(), 5, true);
    with_mesh(&mut cluster, seed).await;
    let faults: FaultList =
        "partition,delay,loss,kill,kill:leader,pause:minority,lost-writes:majority"
            .parse()
            .expect("list");
    let events =
        Schedule::new(faults.0, Duration::from_secs(1), seed).until(Duration::from_secs(60));
    assert!(events.len() >= 20, "seed {seed}");
    let mut nemesis = Nemesis::new();
    for event in &events {
        // Stand-ins have no leader; the executor must cope with not knowing it.
        let record = nemesis
            .apply(&mut cluster, event, None)
            .unwrap_or_else(|error| panic!("seed {seed}: {} failed: {error}", event.fault));
        assert_eq!(
            record.f,
            format!("{}-{}", event.phase, event.fault.name()),
            "seed {seed}"
        );
        if event.phase == Phase::Stop {
            assert!(
                nemesis.active().is_empty(),
                "seed {seed}: stop must end the fault"
            );
            assert_eq!(states(&cluster), [NodeState::Running; 5], "seed {seed}");
        }
    }
    let mesh = cluster.mesh().expect("mesh");
    assert!(
        mesh.links().all(|link| link.fault() == LinkFault::Pass),
        "seed {seed}"
    );
}
