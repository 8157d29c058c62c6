//! Finding the current leader, for faults that target it (`isolate-leader`, `kill:leader`): ask every node
//! for its status with a short timeout and take the leader reported in the highest term.

use raftkv::client::{Client, ClientOptions, Outcome};
use raftkv::raft::NodeId;
use std::net::SocketAddr;
use std::time::Duration;

/// Timeout of one status call.
const STATUS_TIMEOUT: Duration = Duration::from_millis(300);

/// The leader reported in the highest term by any node that answers, if any.
pub async fn find(addrs: &[SocketAddr]) -> Option<NodeId> {
    let calls = addrs.iter().enumerate().map(|(i, addr)| async move {
        let options = ClientOptions {
            attempt_timeout: STATUS_TIMEOUT,
            operation_timeout: STATUS_TIMEOUT,
            max_attempts: 1,
            ..ClientOptions::default()
        };
        // Status calls change nothing, so the client id only needs to be unique among status callers.
        let mut client = Client::new(&[*addr], u64::MAX - i as u64, options);
        match client.status().await {
            Outcome::Ok(status) => status.leader.map(|leader| (status.term, leader)),
            _ => None,
        }
    });
    futures::future::join_all(calls)
        .await
        .into_iter()
        .flatten()
        .max_by_key(|(term, leader)| (*term, *leader))
        .map(|(_, leader)| leader)
}
