//! Three real `raftkv` processes on loopback: writes commit; after `kill -9` of the leader a new leader
//! is elected and serves; the old leader restarts and catches up; no acknowledged write is lost; a write
//! retried with the same (client id, seq) applies once. Also the CLI's output contract and its errors.
//!
//! Every process is killed when the test ends (the cluster's Drop guard), also on failure.

use raftkv::client::{CasResult, Outcome};
use raftkv::raft::{LogIndex, NodeId};
use std::process::Command;
use std::time::Duration;
use workspace_tests::{free_port, raftkv_binary, runtime, ProcessCluster};

const ELECTION_WAIT: Duration = Duration::from_secs(15);
const CATCH_UP_WAIT: Duration = Duration::from_secs(15);

fn key(i: usize) -> Vec<u8> {
    format!("key-{i}").into_bytes()
}

fn value(i: usize) -> Vec<u8> {
    format!("value-{i}").into_bytes()
}

#[test]
fn leader_crash_loses_no_acknowledged_write_and_the_old_leader_catches_up() {
    let mut cluster = ProcessCluster::start(3, &[]).expect("cluster starts");
    runtime().block_on(async {
        let first_leader = cluster
            .wait_for_leader(&[], ELECTION_WAIT)
            .await
            .expect("a first leader is elected");

        // Writes commit; the client starts at a follower so it must follow the NotLeader hint.
        let follower_index = if first_leader == NodeId(1) { 1 } else { 0 };
        let mut client = cluster.client(100, follower_index);
        let mut acknowledged = Vec::new();
        for i in 0..20 {
            match client.put(&key(i), &value(i)).await {
                Outcome::Ok(()) => acknowledged.push(i),
                other => panic!("put {i} with a healthy cluster: {other}"),
            }
        }
        assert_eq!(
            client.last_node(),
            Some(first_leader),
            "writes are answered by the leader"
        );

        // kill -9 the leader: a new one is elected among the other two.
        cluster.kill(first_leader).expect("kill the leader");
        let second_leader = cluster
            .wait_for_leader(&[first_leader], ELECTION_WAIT)
            .await
            .expect("a new leader is elected");
        assert_ne!(second_leader, first_leader);

        // The cluster keeps taking writes (the client may be indeterminate on the first one only if it
        // was caught by the crash; with the crash before it, every one must be acknowledged).
        for i in 20..30 {
            match client.put(&key(i), &value(i)).await {
                Outcome::Ok(()) => acknowledged.push(i),
                other => panic!("put {i} after fail-over: {other}"),
            }
        }

        // The old leader restarts and catches up to everything committed so far.
        let leader_status = cluster.status(second_leader).await.expect("leader status");
        cluster
            .restart(first_leader)
            .expect("restart the old leader");
        let caught_up = cluster
            .wait_for_applied(first_leader, leader_status.commit_index, CATCH_UP_WAIT)
            .await
            .expect("the restarted node catches up");
        assert!(
            caught_up.applied_index >= LogIndex(30),
            "30 writes applied: {caught_up:?}"
        );
        assert_eq!(
            caught_up.leader,
            Some(second_leader),
            "it follows the new leader"
        );

        // No acknowledged write is lost (reads are linearizable, through the leader).
        let mut reader = cluster.client(101, 0);
        for &i in &acknowledged {
            assert_eq!(
                reader.get(&key(i)).await,
                Outcome::Ok(Some(value(i))),
                "acknowledged write {i} is readable"
            );
        }
        assert_eq!(reader.get(b"never-written").await, Outcome::Ok(None));
    });
}

#[test]
fn a_retried_write_applies_once_and_cas_reports_mismatches() {
    let cluster = ProcessCluster::start(3, &[]).expect("cluster starts");
    runtime().block_on(async {
        cluster
            .wait_for_leader(&[], ELECTION_WAIT)
            .await
            .expect("a leader is elected");
        let mut first = cluster.client(200, 0);
        let mut second = cluster.client(201, 1);

        let seq = first.next_seq();
        assert_eq!(first.put(b"x", b"from-first").await, Outcome::Ok(()));
        assert_eq!(second.put(b"x", b"from-second").await, Outcome::Ok(()));
        // The first client's write arrives again (as after a lost answer): it must not apply again.
        assert_eq!(
            first.put_with_seq(seq, b"x", b"from-first").await,
            Outcome::Ok(())
        );
        assert_eq!(
            first.get(b"x").await,
            Outcome::Ok(Some(b"from-second".to_vec()))
        );

        // CAS: a mismatch is an Ok outcome that carries the current value; a match writes.
        assert_eq!(
            first.cas(b"x", Some(b"nope"), b"y").await,
            Outcome::Ok(CasResult::Mismatch {
                current: Some(b"from-second".to_vec())
            })
        );
        assert_eq!(
            first.cas(b"x", Some(b"from-second"), b"y").await,
            Outcome::Ok(CasResult::Ok)
        );
        assert_eq!(
            first.cas(b"fresh", None, b"1").await,
            Outcome::Ok(CasResult::Ok)
        );
        assert_eq!(first.delete(b"x").await, Outcome::Ok(()));
        assert_eq!(second.get(b"x").await, Outcome::Ok(None));
        assert_eq!(second.get(b"fresh").await, Outcome::Ok(Some(b"1".to_vec())));
    });
}

#[test]
fn the_no_dedup_bug_switch_applies_a_retried_write_again() {
    // Proves the switch works end to end (the harness relies on it to show its checker catches it).
    let cluster = ProcessCluster::start(3, &["--bug", "no-dedup"]).expect("cluster starts");
    runtime().block_on(async {
        cluster
            .wait_for_leader(&[], ELECTION_WAIT)
            .await
            .expect("a leader is elected");
        let mut first = cluster.client(300, 0);
        let mut second = cluster.client(301, 1);
        let seq = first.next_seq();
        assert_eq!(first.put(b"x", b"from-first").await, Outcome::Ok(()));
        assert_eq!(second.put(b"x", b"from-second").await, Outcome::Ok(()));
        assert_eq!(
            first.put_with_seq(seq, b"x", b"from-first").await,
            Outcome::Ok(())
        );
        assert_eq!(
            first.get(b"x").await,
            Outcome::Ok(Some(b"from-first".to_vec())),
            "with no-dedup the retry is applied a second time"
        );
    });
}

fn raftkv(args: &[&str]) -> std::process::Output {
    let binary = raftkv_binary().expect("raftkv binary");
    Command::new(binary)
        .args(args)
        .output()
        .expect("raftkv runs")
}

#[test]
fn the_cli_client_prints_values_and_status() {
    let cluster = ProcessCluster::start(3, &[]).expect("cluster starts");
    let leader = runtime()
        .block_on(cluster.wait_for_leader(&[], ELECTION_WAIT))
        .expect("a leader is elected");
    let nodes: Vec<String> = cluster.addrs().iter().map(|a| a.to_string()).collect();
    let mut base = Vec::new();
    for node in &nodes {
        base.extend(["--node", node.as_str()]);
    }
    let run = |op: &[&str]| {
        let mut args = vec!["client"];
        args.extend(&base);
        args.extend(op);
        raftkv(&args)
    };

    let put = run(&["put", "greeting", "hello"]);
    assert!(put.status.success(), "put: {put:?}");
    let get = run(&["get", "greeting"]);
    assert!(get.status.success(), "get: {get:?}");
    assert_eq!(String::from_utf8_lossy(&get.stdout), "hello\n");
    let missing = run(&["get", "nothing-here"]);
    assert_eq!(missing.status.code(), Some(3), "absent key: {missing:?}");
    let mismatch = run(&["cas", "greeting", "wrong", "new"]);
    assert_eq!(
        mismatch.status.code(),
        Some(2),
        "cas mismatch: {mismatch:?}"
    );
    let cas = run(&["cas", "greeting", "hello", "bye"]);
    assert!(cas.status.success(), "cas: {cas:?}");
    let delete = run(&["delete", "greeting"]);
    assert!(delete.status.success(), "delete: {delete:?}");

    let status = run(&["status"]);
    assert!(status.status.success(), "status: {status:?}");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains(&format!("leader: {leader}")), "{text}");
    for field in ["role: ", "term: ", "commit index: "] {
        assert!(text.contains(field), "status lacks {field}: {text}");
    }
}

#[test]
fn bad_invocations_fail_with_one_line() {
    // A busy port.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy_addr = busy.local_addr().expect("addr").to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data").display().to_string();
    let out = raftkv(&["--id", "1", "--listen", &busy_addr, "--data-dir", &data_dir]);
    assert!(!out.status.success(), "busy port must fail: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot listen"), "{stderr}");

    // An unusable data directory (a file where the directory should be).
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let free = free_port().expect("port").to_string();
    let out = raftkv(&[
        "--id",
        "1",
        "--listen",
        &free,
        "--data-dir",
        &file.display().to_string(),
    ]);
    assert!(
        !out.status.success(),
        "a file as data dir must fail: {out:?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .trim()
            .lines()
            .last()
            .map(|l| l.starts_with("raftkv:")),
        Some(true)
    );

    // A bad flag value.
    let out = raftkv(&[
        "--id",
        "1",
        "--listen",
        &free,
        "--data-dir",
        &data_dir,
        "--bug",
        "nonsense",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nonsense"));

    // A client with nobody listening fails (certainly did not happen) with a non-zero exit.
    let out = raftkv(&[
        "client",
        "--node",
        &free,
        "--timeout-ms",
        "300",
        "put",
        "k",
        "v",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("failed"),
        "{out:?}"
    );
}
