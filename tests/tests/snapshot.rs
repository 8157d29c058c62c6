//! Snapshots with real `raftkv` processes: a follower that was down while many entries were written
//! catches up through InstallSnapshot (its status shows a snapshot and its log says it installed one);
//! nodes restart from their snapshot files plus the log after them; the client-session table survives
//! compaction (a retried write still applies once after every node restarted from a snapshot); and
//! `snapshot` on request compacts at once.

use raftkv::client::Outcome;
use raftkv::raft::{LogIndex, NodeId};
use std::time::Duration;
use workspace_tests::{runtime, ProcessCluster};

const ELECTION_WAIT: Duration = Duration::from_secs(15);
const CATCH_UP_WAIT: Duration = Duration::from_secs(30);
const WRITES: usize = 300;

#[test]
fn a_follower_far_behind_catches_up_through_install_snapshot_and_dedup_survives_compaction() {
    let args = [
        "--snapshot-threshold",
        "40",
        "--snapshot-chunk-bytes",
        "512",
    ];
    let mut cluster = ProcessCluster::start(3, &args).expect("cluster starts");
    runtime().block_on(async {
        let leader = cluster
            .wait_for_leader(&[], ELECTION_WAIT)
            .await
            .expect("a leader is elected");
        let lagging = if leader == NodeId(3) {
            NodeId(2)
        } else {
            NodeId(3)
        };
        cluster.kill(lagging).expect("stop a follower");

        let mut client = cluster.client(7, (leader.0 - 1) as usize);
        for i in 0..WRITES {
            let key = format!("k{}", i % 50);
            let value = format!("v{i}");
            assert_eq!(
                client.put(key.as_bytes(), value.as_bytes()).await,
                Outcome::Ok(()),
                "write {i}"
            );
        }
        // This client's last write is retried at the very end (sessions remember the last answer).
        let last_seq = client.next_seq();
        assert_eq!(client.put(b"dedup", b"first").await, Outcome::Ok(()));
        let mut admin = raftkv::client::Client::new(
            &[cluster.addr(leader).expect("addr")],
            0,
            Default::default(),
        );
        assert!(
            matches!(admin.snapshot().await, Outcome::Ok(_)),
            "the leader snapshots the session"
        );

        let leader_status = cluster.status(leader).await.expect("leader status");
        assert!(
            leader_status.snapshot_index > LogIndex(100),
            "the leader compacted: {leader_status:?}"
        );
        cluster.restart(lagging).expect("restart the follower");
        let caught_up = cluster
            .wait_for_applied(lagging, leader_status.commit_index, CATCH_UP_WAIT)
            .await
            .expect("the follower catches up");
        assert!(
            caught_up.snapshot_index > LogIndex(0),
            "it has a snapshot: {caught_up:?}"
        );
        assert!(
            cluster
                .log_tail(lagging, 400)
                .contains("installed a snapshot from the leader"),
            "the follower's log shows InstallSnapshot"
        );

        // On request, any node snapshots at once.
        admin = raftkv::client::Client::new(
            &[cluster.addr(lagging).expect("addr")],
            0,
            Default::default(),
        );
        match admin.snapshot().await {
            Outcome::Ok(index) => assert!(index >= caught_up.snapshot_index),
            other => panic!("snapshot on request: {other}"),
        }

        // Every node restarts from its snapshot and the log after it.
        for id in [NodeId(1), NodeId(2), NodeId(3)] {
            cluster.kill(id).expect("kill");
        }
        for id in [NodeId(1), NodeId(2), NodeId(3)] {
            cluster.restart(id).expect("restart");
        }
        cluster
            .wait_for_leader(&[], ELECTION_WAIT)
            .await
            .expect("a leader after the full restart");
        for id in [NodeId(1), NodeId(2), NodeId(3)] {
            assert!(
                cluster
                    .log_tail(id, 400)
                    .contains("restored the state machine from a snapshot"),
                "node {id} restarted from a snapshot"
            );
        }
        let mut reader = cluster.client(8, 0);
        assert_eq!(
            reader
                .get(format!("k{}", (WRITES - 1) % 50).as_bytes())
                .await,
            Outcome::Ok(Some(format!("v{}", WRITES - 1).into_bytes()))
        );
        // Another client overwrites the key; then the retried write is recognised as a duplicate from
        // the session table restored from snapshots (a fresh connection with the same client id: the
        // old connections died with the processes).
        assert_eq!(reader.put(b"dedup", b"second").await, Outcome::Ok(()));
        let mut retrying = cluster.client(7, 0);
        assert_eq!(
            retrying.put_with_seq(last_seq, b"dedup", b"first").await,
            Outcome::Ok(())
        );
        assert_eq!(
            reader.get(b"dedup").await,
            Outcome::Ok(Some(b"second".to_vec())),
            "the retried write did not apply again"
        );
    });
}
