//! Outbound Raft traffic: one task per peer owns this node's connection to that peer and delivers the
//! messages queued for it in batches.
//!
//! Guarantees:
//! - Messages for peer j leave only on this node's own connection to j's configured address (so a
//!   fault-injecting proxy on the directed link i→j sees all of i→j and nothing else).
//! - Bounded: at most [`PEER_QUEUE_MAX`] queued messages and [`MAX_INFLIGHT_DELIVERIES`] unanswered batches
//!   per peer; beyond that, messages are dropped (Raft retransmits what matters).
//! - After a failed dial or call the connection is dropped and redialled after a backoff that doubles up
//!   to [`REDIAL_BACKOFF_MAX`]; messages produced meanwhile are dropped rather than delivered late.

use super::service::KvNodeClient;
use super::wire;
use crate::raft::{Message, NodeId};
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Messages that may wait for one peer.
pub const PEER_QUEUE_MAX: usize = 4096;
/// Messages sent in one `deliver` call.
pub const DELIVER_BATCH_MAX: usize = 256;
/// Unanswered `deliver` calls per peer.
pub const MAX_INFLIGHT_DELIVERIES: usize = 4;
/// Deadline of one `deliver` call; a stalled link is redialled after it.
pub const DELIVER_TIMEOUT: Duration = Duration::from_millis(1000);
/// First pause before redialling a peer after an error.
pub const REDIAL_BACKOFF_MIN: Duration = Duration::from_millis(20);
/// Longest pause before redialling a peer.
pub const REDIAL_BACKOFF_MAX: Duration = Duration::from_millis(500);

/// The send side of every peer's queue. Dropping it stops the peer tasks.
pub struct Peers {
    queues: BTreeMap<NodeId, mpsc::Sender<Message>>,
    addrs: BTreeMap<NodeId, SocketAddr>,
}

impl Peers {
    /// Starts one sender task per peer in `tasks`.
    pub fn start(addrs: &BTreeMap<NodeId, SocketAddr>, tasks: &mut JoinSet<()>) -> Peers {
        let mut queues = BTreeMap::new();
        for (&id, &addr) in addrs {
            let (sender, receiver) = mpsc::channel(PEER_QUEUE_MAX);
            queues.insert(id, sender);
            tasks.spawn(peer_sender(id, addr, receiver));
        }
        Peers {
            queues,
            addrs: addrs.clone(),
        }
    }

    /// Queues `message` for its receiver; drops it if the queue is full or the receiver is unknown.
    pub fn send(&self, message: Message) {
        match self.queues.get(&message.to) {
            Some(queue) => {
                if queue.try_send(message).is_err() {
                    tracing::debug!("peer queue full; dropping a message");
                }
            }
            None => tracing::warn!(to = %message.to, "message for an unknown peer dropped"),
        }
    }

    /// This node's address for peer `id`.
    pub fn addr(&self, id: NodeId) -> Option<SocketAddr> {
        self.addrs.get(&id).copied()
    }
}

/// Delivers the messages queued for `to` until the queue's sender is dropped. Dialling runs inside the
/// loop (not awaited inline), so a slow connect never stops answers of earlier calls from being handled;
/// while it runs, up to one batch of messages is held for the new connection and the rest is dropped.
async fn peer_sender(to: NodeId, addr: SocketAddr, mut queue: mpsc::Receiver<Message>) {
    let mut connection: Option<KvNodeClient> = None;
    let mut dialing: Option<Pin<Box<dyn Future<Output = io::Result<KvNodeClient>> + Send>>> = None;
    let mut held: Vec<Message> = Vec::new();
    let mut backoff = REDIAL_BACKOFF_MIN;
    let mut redial_at = Instant::now();
    let mut inflight = FuturesUnordered::new();
    loop {
        tokio::select! {
            Some(result) = inflight.next(), if !inflight.is_empty() => {
                let result: Result<(), tarpc::client::RpcError> = result;
                match result {
                    Ok(()) => backoff = REDIAL_BACKOFF_MIN,
                    Err(err) => {
                        if connection.take().is_some() {
                            tracing::debug!(%to, %addr, %err, "delivery failed; will redial");
                            redial_at = Instant::now() + backoff;
                            backoff = (backoff * 2).min(REDIAL_BACKOFF_MAX);
                        }
                    }
                }
            }
            dialed = async { dialing.as_mut().expect("guarded by is_some").await }, if dialing.is_some() => {
                dialing = None;
                match dialed {
                    Ok(client) => {
                        if !held.is_empty() {
                            let batch = std::mem::take(&mut held);
                            inflight.push(deliver(client.clone(), batch));
                        }
                        connection = Some(client);
                    }
                    Err(err) => {
                        tracing::debug!(%to, %addr, %err, "cannot dial peer");
                        held.clear();
                        redial_at = Instant::now() + backoff;
                        backoff = (backoff * 2).min(REDIAL_BACKOFF_MAX);
                    }
                }
            }
            first = queue.recv(), if inflight.len() < MAX_INFLIGHT_DELIVERIES => {
                let Some(first) = first else { return };
                let mut batch = vec![first];
                while batch.len() < DELIVER_BATCH_MAX {
                    match queue.try_recv() {
                        Ok(message) => batch.push(message),
                        Err(_) => break,
                    }
                }
                match &connection {
                    Some(client) => inflight.push(deliver(client.clone(), batch)),
                    None => {
                        if dialing.is_none() && Instant::now() >= redial_at {
                            dialing = Some(Box::pin(wire::connect(addr)));
                        }
                        if dialing.is_some() {
                            let room = DELIVER_BATCH_MAX - held.len();
                            held.extend(batch.into_iter().take(room));
                        }
                        // Otherwise backing off: drop the batch; Raft retransmits what matters.
                    }
                }
            }
        }
    }
}

/// One `deliver` call with its deadline.
async fn deliver(client: KvNodeClient, batch: Vec<Message>) -> Result<(), tarpc::client::RpcError> {
    client
        .deliver(wire::context_with_timeout(DELIVER_TIMEOUT), batch)
        .await
}
