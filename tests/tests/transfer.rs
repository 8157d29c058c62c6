//! Leadership transfer through the client service with real `raftkv` processes: the target leads
//! afterwards, writes continue, and transferring to a node that is not a voter is refused with a clear
//! error that changes nothing.

use raftkv::client::Outcome;
use raftkv::raft::NodeId;
use std::time::Duration;
use workspace_tests::{runtime, ProcessCluster};

const ELECTION_WAIT: Duration = Duration::from_secs(15);

#[test]
fn transfer_leader_makes_the_target_lead_and_a_bad_target_is_refused() {
    let cluster = ProcessCluster::start(3, &[]).expect("cluster starts");
    runtime().block_on(async {
        let leader = cluster
            .wait_for_leader(&[], ELECTION_WAIT)
            .await
            .expect("a leader is elected");
        let target = if leader == NodeId(1) {
            NodeId(2)
        } else {
            NodeId(1)
        };
        let mut client = cluster.client(11, 0);
        assert_eq!(client.put(b"before", b"1").await, Outcome::Ok(()));

        match client.transfer_leader(NodeId(9)).await {
            Outcome::Fail(reason) => assert!(reason.contains("not a voter"), "{reason}"),
            other => panic!("transfer to a non-member: {other}"),
        }
        assert_eq!(
            cluster
                .wait_for_leader(&[], ELECTION_WAIT)
                .await
                .expect("leader"),
            leader,
            "a refused transfer changes nothing"
        );

        assert_eq!(client.transfer_leader(target).await, Outcome::Ok(()));
        let deadline = std::time::Instant::now() + ELECTION_WAIT;
        loop {
            let now_leader = cluster
                .wait_for_leader(&[], ELECTION_WAIT)
                .await
                .expect("leader");
            if now_leader == target {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{target} never led");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(client.put(b"after", b"2").await, Outcome::Ok(()));
        assert_eq!(
            client.last_node(),
            Some(target),
            "the new leader serves writes"
        );
        assert_eq!(
            client.get(b"before").await,
            Outcome::Ok(Some(b"1".to_vec()))
        );
    });
}
