//! Membership changes over the wire with real `raftkv` processes on loopback: growing a cluster from 3
//! to 5 (new nodes started with `--join`, added with `add-node`) and shrinking it back to 3 (removing
//! the leader and another original member) while a client keeps writing, with no acknowledged write
//! lost; a joint change (`change-members`) replacing two members; bad requests refused with a clear
//! error and no change; and the unsafe `set-peers --force` recovering a cluster that lost its majority.

use raftkv::client::{Client, ClientOptions, Outcome};
use raftkv::raft::NodeId;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use workspace_tests::{raftkv_binary, runtime, ProcessCluster};

const WAIT: Duration = Duration::from_secs(20);
/// Upper bound on the background writer's writes (it normally stops long before).
const WRITES_MAX: u64 = 100_000;

fn ids(list: &[u64]) -> Vec<NodeId> {
    list.iter().copied().map(NodeId).collect()
}

/// Writes `w<i>` = `v<i>` until `stop`; returns the acknowledged keys.
async fn write_until(mut client: Client, stop: Arc<AtomicBool>) -> Vec<u64> {
    let mut acknowledged = Vec::new();
    for i in 0..WRITES_MAX {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let key = format!("w{i}");
        if client.put(key.as_bytes(), format!("v{i}").as_bytes()).await == Outcome::Ok(()) {
            acknowledged.push(i);
        }
    }
    acknowledged
}

/// Asserts every acknowledged write is readable with its value through `client`.
async fn assert_all_readable(client: &mut Client, acknowledged: &[u64]) {
    for i in acknowledged {
        let got = client.get(format!("w{i}").as_bytes()).await;
        assert_eq!(
            got,
            Outcome::Ok(Some(format!("v{i}").into_bytes())),
            "acknowledged write w{i} lost"
        );
    }
}

async fn add_and_wait(cluster: &ProcessCluster, admin: &mut Client, id: NodeId, addr: SocketAddr) {
    let added = admin.add_node(id, &addr.to_string()).await;
    let info = match added {
        Outcome::Ok(info) => info,
        other => panic!("add-node {id}: {other}"),
    };
    assert!(
        info.learners.contains(&id) || info.voters.contains(&id),
        "node {id} is a member once add-node answers: {info:?}"
    );
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Outcome::Ok(info) = admin.members().await {
            if info.voters.contains(&id) && !info.change_in_flight {
                return;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "node {id} was not promoted: {}",
            cluster.log_tail(id, 20)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn grow_to_five_and_shrink_to_three_while_writing_loses_no_acknowledged_write() {
    let mut cluster = ProcessCluster::start(3, &[]).expect("cluster starts");
    let rt = runtime();
    let leader = rt
        .block_on(cluster.wait_for_leader(&[], WAIT))
        .expect("a leader is elected");

    let stop = Arc::new(AtomicBool::new(false));
    let writer = rt.spawn(write_until(cluster.client(101, 0), stop.clone()));
    let mut admin = cluster.client(102, 0);

    // Grow 3 -> 5.
    for id in [NodeId(4), NodeId(5)] {
        let addr = cluster.start_joining(id, &[]).expect("joining node starts");
        rt.block_on(add_and_wait(&cluster, &mut admin, id, addr));
    }
    rt.block_on(cluster.wait_for_voters(&ids(&[1, 2, 3, 4, 5]), &ids(&[1, 2, 3, 4, 5]), WAIT))
        .expect("all five agree on five voters");

    // Shrink 5 -> 3: the leader first, then another original member.
    let other = *ids(&[1, 2, 3])
        .iter()
        .find(|id| **id != leader)
        .expect("another original member");
    for removed in [leader, other] {
        let info = match rt.block_on(admin.remove_node(removed)) {
            Outcome::Ok(info) => info,
            outcome => panic!("remove-node {removed}: {outcome}"),
        };
        assert!(!info.voters.contains(&removed) && !info.learners.contains(&removed));
    }
    let survivors: Vec<NodeId> = ids(&[1, 2, 3, 4, 5])
        .into_iter()
        .filter(|id| *id != leader && *id != other)
        .collect();
    rt.block_on(cluster.wait_for_voters(&survivors, &survivors, WAIT))
        .expect("the survivors agree on the final configuration");
    // The survivors no longer route to the removed nodes.
    for id in &survivors {
        let info = rt.block_on(cluster.members(*id)).expect("members");
        for removed in [leader, other] {
            assert!(
                !info.routes.contains_key(&removed) && !info.addresses.contains_key(&removed),
                "node {id} still routes to removed node {removed}: {info:?}"
            );
        }
    }
    cluster.kill(leader).expect("kill");
    cluster.kill(other).expect("kill");
    // Writes go on after the removed nodes are gone.
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
    stop.store(true, Ordering::SeqCst);
    let acknowledged = rt.block_on(writer).expect("writer task");
    assert!(
        acknowledged.len() >= 10,
        "too few writes were acknowledged during the changes: {}",
        acknowledged.len()
    );
    let mut reader = cluster.client_for(&survivors, 103).expect("client");
    rt.block_on(assert_all_readable(&mut reader, &acknowledged));
    assert!(
        survivors.contains(&reader.last_node().expect("a node answered")),
        "a survivor serves reads"
    );
}

/// Runs the `raftkv` CLI; returns (success, stdout, stderr).
fn cli(args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(raftkv_binary().expect("binary"))
        .args(args)
        .output()
        .expect("the CLI runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn expect_failure<T: std::fmt::Debug>(outcome: Outcome<T>, needle: &str) {
    match outcome {
        Outcome::Fail(reason) => assert!(reason.contains(needle), "'{reason}' lacks '{needle}'"),
        other => panic!("expected a failure mentioning '{needle}', got {other:?}"),
    }
}

#[test]
fn bad_requests_change_nothing_and_a_joint_change_replaces_two_members() {
    let mut cluster = ProcessCluster::start(3, &[]).expect("cluster starts");
    let rt = runtime();
    let leader = rt
        .block_on(cluster.wait_for_leader(&[], WAIT))
        .expect("a leader is elected");
    let mut admin = cluster.client(201, 0);
    let before = match rt.block_on(admin.members()) {
        Outcome::Ok(info) => info,
        other => panic!("members: {other}"),
    };
    let node1 = cluster.addr(NodeId(1)).expect("addr").to_string();
    let unchanged = |admin: &mut Client| {
        let now = rt.block_on(admin.members()).ok().expect("members");
        assert_eq!(
            (&now.voters, &now.learners, now.config_index),
            (&before.voters, &before.learners, before.config_index),
            "a refused request changed the configuration"
        );
    };

    // Bad input through the library: each a clear error, no change.
    expect_failure(
        rt.block_on(admin.add_node(NodeId(2), &node1)),
        "already a member",
    );
    unchanged(&mut admin);
    expect_failure(rt.block_on(admin.remove_node(NodeId(9))), "not a member");
    unchanged(&mut admin);
    expect_failure(
        rt.block_on(admin.add_node(NodeId(7), "nowhere")),
        "bad address",
    );
    unchanged(&mut admin);
    let voters = BTreeMap::from([(NodeId(1), None), (NodeId(2), None)]);
    expect_failure(rt.block_on(admin.set_peers(&voters, false)), "--force");
    unchanged(&mut admin);

    // Bad input through the CLI.
    let (ok, _, err) = cli(&[
        "client",
        "--node",
        &node1,
        "change-members",
        "1",
        "4=nowhere",
    ]);
    assert!(!ok && err.contains("bad peer address"), "{err}");
    let (ok, _, err) = cli(&["client", "--node", &node1, "set-peers", "1=127.0.0.1:1"]);
    assert!(!ok && err.contains("refused without --force"), "{err}");
    let (ok, out, err) = cli(&["client", "--node", &node1, "members"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("voters: 1,2,3") && out.contains("change in flight: no"),
        "{out}"
    );
    unchanged(&mut admin);

    // A second change while one is in flight: node 4 is added but not running, so it stays a learner.
    let addr4 = cluster
        .prepare_joining(NodeId(4), &[])
        .expect("reserve node 4");
    let info = rt
        .block_on(admin.add_node(NodeId(4), &addr4.to_string()))
        .ok()
        .expect("add-node 4");
    assert!(
        info.learners.contains(&NodeId(4)) && info.change_in_flight,
        "{info:?}"
    );
    let in_flight = info.config_index;
    let addr5 = cluster
        .prepare_joining(NodeId(5), &[])
        .expect("reserve node 5");
    expect_failure(
        rt.block_on(admin.add_node(NodeId(5), &addr5.to_string())),
        "in flight",
    );
    let now = rt.block_on(admin.members()).ok().expect("members");
    assert_eq!(
        now.config_index, in_flight,
        "the refused change appended nothing"
    );
    assert!(now.learners.contains(&NodeId(4)) && !now.learners.contains(&NodeId(5)));

    // Starting node 4 finishes its join.
    cluster.restart(NodeId(4)).expect("node 4 starts");
    rt.block_on(cluster.wait_for_voters(&ids(&[1, 2, 3, 4]), &ids(&[1, 2, 3, 4]), WAIT))
        .expect("node 4 is promoted");

    // A joint change replacing the two originals other than the leader by nodes 5 and 6.
    cluster.restart(NodeId(5)).expect("node 5 starts");
    let addr6 = cluster
        .start_joining(NodeId(6), &[])
        .expect("node 6 starts");
    let mut client = cluster.client(202, 0);
    assert_eq!(
        rt.block_on(client.put(b"before", b"joint")),
        Outcome::Ok(())
    );
    let target = vec![leader, NodeId(4), NodeId(5), NodeId(6)];
    let voters: BTreeMap<NodeId, Option<String>> = [
        (leader, None),
        (NodeId(4), None),
        (NodeId(5), Some(addr5.to_string())),
        (NodeId(6), Some(addr6.to_string())),
    ]
    .into();
    let info = match rt.block_on(admin.change_members(&voters)) {
        Outcome::Ok(info) => info,
        other => panic!("change-members: {other}"),
    };
    assert_eq!(info.voters, target.iter().copied().collect());
    assert!(
        info.voters_outgoing.is_empty(),
        "the joint phase is over: {info:?}"
    );
    rt.block_on(cluster.wait_for_voters(&target, &target, WAIT))
        .expect("the new members agree on the new configuration");
    for id in ids(&[1, 2, 3]).into_iter().filter(|id| *id != leader) {
        cluster.kill(id).expect("kill a replaced member");
    }
    let mut reader = cluster.client_for(&target, 203).expect("client");
    assert_eq!(
        rt.block_on(reader.get(b"before")),
        Outcome::Ok(Some(b"joint".to_vec()))
    );
    assert_eq!(rt.block_on(reader.put(b"after", b"joint")), Outcome::Ok(()));
}

#[test]
fn set_peers_force_recovers_a_node_whose_majority_is_gone() {
    let mut cluster = ProcessCluster::start(3, &[]).expect("cluster starts");
    let rt = runtime();
    let leader = rt
        .block_on(cluster.wait_for_leader(&[], WAIT))
        .expect("a leader is elected");
    let mut client = cluster.client(301, 0);
    assert_eq!(rt.block_on(client.put(b"k", b"v")), Outcome::Ok(()));
    let survivor = *ids(&[1, 2, 3])
        .iter()
        .find(|id| **id != leader)
        .expect("a follower");
    rt.block_on(
        cluster.wait_for_applied(
            survivor,
            rt.block_on(cluster.status(leader))
                .expect("status")
                .commit_index,
            WAIT,
        ),
    )
    .expect("the survivor has the write");
    for id in ids(&[1, 2, 3]).into_iter().filter(|id| *id != survivor) {
        cluster.kill(id).expect("kill");
    }
    let addr = cluster.addr(survivor).expect("addr").to_string();
    let (ok, out, err) = cli(&[
        "client",
        "--node",
        &addr,
        "set-peers",
        "--force",
        &format!("{survivor}={addr}"),
    ]);
    assert!(ok, "set-peers --force failed: {err}");
    assert!(out.contains(&format!("voters: {survivor}")), "{out}");
    let log = cluster.log_tail(survivor, 50);
    assert!(
        log.contains("UNSAFE set-peers"),
        "the forced change is logged loudly: {log}"
    );
    let options = ClientOptions::default();
    let mut alone = Client::new(&[cluster.addr(survivor).expect("addr")], 302, options);
    assert_eq!(
        rt.block_on(alone.get(b"k")),
        Outcome::Ok(Some(b"v".to_vec()))
    );
    assert_eq!(rt.block_on(alone.put(b"k2", b"v2")), Outcome::Ok(()));
}
