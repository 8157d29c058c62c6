//! In-process tests of the node shell: real nodes (tarpc over loopback TCP, real WAL in a temp dir) in
//! one tokio runtime, driven through the client library and raw RPCs.

use super::service::RequestError;
use super::{run, wire, NodeConfig, NodeError};
use crate::client::{CasResult, Client, ClientOptions, Outcome};
use crate::kv::Response;
use crate::raft::{NodeId, Role};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Cluster {
    addrs: Vec<SocketAddr>,
    stops: Vec<oneshot::Sender<()>>,
    nodes: Vec<JoinHandle<Result<(), NodeError>>>,
}

/// Starts `size` nodes whose WALs live under `base` (reusing old WALs there: a restart).
async fn start(base: &Path, size: u64) -> Cluster {
    let mut listeners = Vec::new();
    for _ in 0..size {
        listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("bind"));
    }
    let addrs: Vec<SocketAddr> = listeners
        .iter()
        .map(|l| l.local_addr().expect("addr"))
        .collect();
    let mut cluster = Cluster {
        addrs: addrs.clone(),
        stops: Vec::new(),
        nodes: Vec::new(),
    };
    for (i, listener) in listeners.into_iter().enumerate() {
        let peers: BTreeMap<NodeId, SocketAddr> = (0..addrs.len())
            .filter(|&j| j != i)
            .map(|j| (NodeId(j as u64 + 1), addrs[j]))
            .collect();
        let id = NodeId(i as u64 + 1);
        let config = NodeConfig::new(id, peers, base.join(format!("n{}", id.0)));
        let (stop, stopped) = oneshot::channel::<()>();
        cluster.stops.push(stop);
        cluster
            .nodes
            .push(tokio::spawn(run(config, listener, async move {
                let _ = stopped.await;
            })));
    }
    cluster
}

impl Cluster {
    async fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        for node in self.nodes {
            let result = node.await.expect("node task does not panic");
            assert!(result.is_ok(), "node stopped with {result:?}");
        }
    }

    /// Waits until some node says it is the leader; returns its index.
    async fn leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            for (i, addr) in self.addrs.iter().enumerate() {
                let options = ClientOptions {
                    max_attempts: 1,
                    ..ClientOptions::default()
                };
                let mut client = Client::new(&[*addr], 0, options);
                if let Outcome::Ok(status) = client.status().await {
                    if status.role == Role::Leader {
                        return i;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no leader within 10 s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_serves_operations_and_keeps_them_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = start(dir.path(), 3).await;
    let mut client = Client::new(&cluster.addrs, 1, ClientOptions::default());
    assert_eq!(client.put(b"a", b"1").await, Outcome::Ok(()));
    assert_eq!(
        client.cas(b"a", Some(b"1"), b"2").await,
        Outcome::Ok(CasResult::Ok)
    );
    assert_eq!(client.put(b"gone", b"x").await, Outcome::Ok(()));
    assert_eq!(client.delete(b"gone").await, Outcome::Ok(()));
    assert_eq!(client.get(b"a").await, Outcome::Ok(Some(b"2".to_vec())));
    let status = match client.status().await {
        Outcome::Ok(status) => status,
        other => panic!("status: {other}"),
    };
    assert_eq!(status.members, vec![NodeId(1), NodeId(2), NodeId(3)]);
    cluster.stop().await;

    // Same WALs, new processes (new ports): the data is still there.
    let cluster = start(dir.path(), 3).await;
    let mut client = Client::new(&cluster.addrs, 2, ClientOptions::default());
    assert_eq!(client.get(b"a").await, Outcome::Ok(Some(b"2".to_vec())));
    assert_eq!(client.get(b"gone").await, Outcome::Ok(None));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_refuses_with_a_hint_to_the_leader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = start(dir.path(), 3).await;
    let leader = cluster.leader().await;
    let follower = (leader + 1) % 3;
    let connection = wire::connect(cluster.addrs[follower]).await.expect("dial");
    // The follower may not have heard from the new leader yet: retry until it names one.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ctx = wire::context_with_timeout(Duration::from_secs(1));
        let reply = connection
            .put(ctx, 9, 1, b"k".to_vec(), b"v".to_vec())
            .await
            .expect("rpc");
        assert_eq!(reply.node, NodeId(follower as u64 + 1));
        match reply.result {
            Err(RequestError::NotLeader {
                leader_hint: Some((id, addr)),
            }) => {
                assert_eq!(id, NodeId(leader as u64 + 1));
                assert_eq!(addr, cluster.addrs[leader].to_string());
                break;
            }
            Err(RequestError::NotLeader { leader_hint: None }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("a follower must refuse a write: {other:?}"),
        }
    }
    // The leader takes the same request; sending it again is answered from the session table.
    let connection = wire::connect(cluster.addrs[leader]).await.expect("dial");
    for _ in 0..2 {
        let ctx = wire::context_with_timeout(Duration::from_secs(2));
        let reply = connection
            .put(ctx, 9, 1, b"k".to_vec(), b"v".to_vec())
            .await
            .expect("rpc");
        assert_eq!(reply.result, Ok(Response::Done));
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_no_live_node_fails_certainly_and_in_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A listener that accepts nothing useful: bind and drop, so connects are refused.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr");
    let options = ClientOptions {
        operation_timeout: Duration::from_millis(300),
        ..ClientOptions::default()
    };
    let mut client = Client::new(&[addr], 3, options);
    assert!(matches!(client.put(b"k", b"v").await, Outcome::Fail(_)));
    assert!(matches!(client.get(b"k").await, Outcome::Fail(_)));
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_addresses_survive_a_snapshot_and_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = start(dir.path(), 3).await;
    let mut client = Client::new(&cluster.addrs, 4, ClientOptions::default());
    // Node 4 is never started: it stays a learner, with its address recorded in the configuration.
    let added = match client.add_node(NodeId(4), "127.0.0.1:4004").await {
        Outcome::Ok(info) => info,
        other => panic!("add-node: {other}"),
    };
    assert!(added.learners.contains(&NodeId(4)) && added.change_in_flight);
    assert_eq!(
        added.addresses.get(&NodeId(4)).map(String::as_str),
        Some("127.0.0.1:4004")
    );
    let leader = added.node;
    assert_eq!(
        added.addresses.get(&leader),
        Some(&cluster.addrs[leader.0 as usize - 1].to_string()),
        "the leader records its own address"
    );
    // Every node snapshots past the configuration entry, so that after the restart only the snapshot
    // holds it.
    for addr in &cluster.addrs {
        let mut one = Client::new(&[*addr], 5, ClientOptions::default());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match one.snapshot().await {
                Outcome::Ok(index) if index >= added.config_index => break,
                other => assert!(Instant::now() < deadline, "snapshot at {addr}: {other}"),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    cluster.stop().await;

    let cluster = start(dir.path(), 3).await;
    for addr in &cluster.addrs {
        let mut one = Client::new(&[*addr], 6, ClientOptions::default());
        let info = match one.members().await {
            Outcome::Ok(info) => info,
            other => panic!("members at {addr}: {other}"),
        };
        assert_eq!(info.learners, [NodeId(4)].into(), "{info:?}");
        assert_eq!(info.config_index, added.config_index, "{info:?}");
        assert_eq!(
            info.addresses.get(&NodeId(4)).map(String::as_str),
            Some("127.0.0.1:4004"),
            "{info:?}"
        );
    }
    cluster.stop().await;
}
