//! Outbound Raft traffic: one task per peer owns this node's connection to that peer and delivers the
//! messages queued for it in batches. Peers come and go at runtime with the membership
//! ([`Peers::sync`]); every `deliver` carries this node's own address so that a node that does not know
//! it yet (one started with `--join`) can answer.
//!
//! Guarantees:
//! - Messages for peer j leave only on this node's own connection to j's configured address (so a
//!   fault-injecting proxy on the directed link i→j sees all of i→j and nothing else).
//! - Bounded: at most [`PEER_QUEUE_MAX`] queued messages and [`MAX_INFLIGHT_DELIVERIES`] unanswered batches
//!   per peer; beyond that, messages are dropped (Raft retransmits what matters).
//! - After a failed dial or call the connection is dropped and redialled after a backoff that doubles up
//!   to [`REDIAL_BACKOFF_MAX`]; messages produced meanwhile are dropped rather than delivered late.
//! - Every drop (a full queue, a failed or timed-out call, a batch dropped while dialling or backing
//!   off) is reported on the channel of [`Peers::take_unreachable_reports`], so that the core can probe
//!   the peer again instead of waiting for appends that were lost ([`crate::raft::RawNode::report_unreachable`]).

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
use tokio::task::{AbortHandle, JoinSet};
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

/// Peers with a sender task at most (members plus nodes answered while joining).
pub const PEERS_MAX: usize = 64;
/// Unreachable reports that may wait for the driver; more are dropped (one pending report per peer is
/// as good as many).
pub const UNREACHABLE_REPORTS_MAX: usize = 64;

/// One running sender task.
struct PeerSender {
    addr: SocketAddr,
    queue: mpsc::Sender<Message>,
    task: AbortHandle,
}

/// The send side of every peer's queue, changeable at runtime: the driver calls [`Peers::sync`] when
/// the configuration (or an address) changes. Dropping it stops every peer task.
pub struct Peers {
    senders: BTreeMap<NodeId, PeerSender>,
    tasks: JoinSet<()>,
    /// This node's own address, sent with every `deliver` so that a joining node can answer.
    own_addr: String,
    /// Where the sender tasks report dropped messages (by receiver).
    unreachable: mpsc::Sender<NodeId>,
    /// The other end, until the driver takes it.
    unreachable_reports: Option<mpsc::Receiver<NodeId>>,
}

impl Peers {
    /// No peers yet; `own_addr` is the address this node advertises to the nodes it sends to.
    pub fn new(own_addr: String) -> Peers {
        let (unreachable, reports) = mpsc::channel(UNREACHABLE_REPORTS_MAX);
        Peers {
            senders: BTreeMap::new(),
            tasks: JoinSet::new(),
            own_addr,
            unreachable,
            unreachable_reports: Some(reports),
        }
    }

    /// The ids of peers to which messages were dropped, one report per drop (see the module docs);
    /// `None` after the first call.
    pub fn take_unreachable_reports(&mut self) -> Option<mpsc::Receiver<NodeId>> {
        self.unreachable_reports.take()
    }

    /// Makes the sender tasks match `wanted`: starts tasks for new peers, restarts those whose address
    /// changed, stops the rest (queued messages of a stopped peer are dropped).
    pub fn sync(&mut self, wanted: &BTreeMap<NodeId, SocketAddr>) {
        let stale: Vec<NodeId> = self
            .senders
            .iter()
            .filter(|(id, sender)| wanted.get(id) != Some(&sender.addr))
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.stop(id);
        }
        for (&id, &addr) in wanted {
            if !self.senders.contains_key(&id) {
                self.start(id, addr);
            }
        }
        // Reap finished tasks so the set stays small.
        while self.tasks.try_join_next().is_some() {}
    }

    /// Starts a sender for `id` at `addr` unless one runs (or [`PEERS_MAX`] are running).
    pub fn connect(&mut self, id: NodeId, addr: SocketAddr) {
        if self.senders.contains_key(&id) {
            return;
        }
        if self.senders.len() >= PEERS_MAX {
            tracing::warn!(%id, "too many peers; not connecting");
            return;
        }
        self.start(id, addr);
    }

    fn start(&mut self, id: NodeId, addr: SocketAddr) {
        let (queue, receiver) = mpsc::channel(PEER_QUEUE_MAX);
        let task = self.tasks.spawn(peer_sender(
            id,
            addr,
            self.own_addr.clone(),
            receiver,
            self.unreachable.clone(),
        ));
        tracing::info!(peer = %id, %addr, "sending to peer");
        self.senders.insert(id, PeerSender { addr, queue, task });
    }

    fn stop(&mut self, id: NodeId) {
        if let Some(sender) = self.senders.remove(&id) {
            sender.task.abort();
            tracing::info!(peer = %id, addr = %sender.addr, "stopped sending to peer");
        }
    }

    /// Whether a sender task runs for `id`.
    pub fn has(&self, id: NodeId) -> bool {
        self.senders.contains_key(&id)
    }

    /// Queues `message` for its receiver; drops it if the queue is full or the receiver is unknown.
    pub fn send(&self, message: Message) {
        match self.senders.get(&message.to) {
            Some(sender) => {
                let to = message.to;
                if sender.queue.try_send(message).is_err() {
                    tracing::debug!("peer queue full; dropping a message");
                    report_lost(&self.unreachable, to);
                }
            }
            None => tracing::debug!(to = %message.to, "message for an unknown peer dropped"),
        }
    }

    /// This node's address for peer `id`.
    pub fn addr(&self, id: NodeId) -> Option<SocketAddr> {
        self.senders.get(&id).map(|sender| sender.addr)
    }

    /// Every peer with a sender task and its address.
    pub fn addrs(&self) -> BTreeMap<NodeId, SocketAddr> {
        self.senders
            .iter()
            .map(|(id, sender)| (*id, sender.addr))
            .collect()
    }
}

/// Delivers the messages queued for `to` until the queue's sender is dropped. Dialling runs inside the
/// loop (not awaited inline), so a slow connect never stops answers of earlier calls from being handled;
/// while it runs, up to one batch of messages is held for the new connection and the rest is dropped.
async fn peer_sender(
    to: NodeId,
    addr: SocketAddr,
    own_addr: String,
    mut queue: mpsc::Receiver<Message>,
    unreachable: mpsc::Sender<NodeId>,
) {
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
                        report_lost(&unreachable, to);
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
                            inflight.push(deliver(client.clone(), own_addr.clone(), batch));
                        }
                        connection = Some(client);
                    }
                    Err(err) => {
                        tracing::debug!(%to, %addr, %err, "cannot dial peer");
                        if !held.is_empty() {
                            report_lost(&unreachable, to);
                        }
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
                    Some(client) => inflight.push(deliver(client.clone(), own_addr.clone(), batch)),
                    None => {
                        if dialing.is_none() && Instant::now() >= redial_at {
                            dialing = Some(Box::pin(wire::connect(addr)));
                        }
                        if dialing.is_some() {
                            let room = DELIVER_BATCH_MAX - held.len();
                            if batch.len() > room {
                                report_lost(&unreachable, to);
                            }
                            held.extend(batch.into_iter().take(room));
                        } else {
                            // Backing off: drop the batch; Raft retransmits what matters.
                            report_lost(&unreachable, to);
                        }
                    }
                }
            }
        }
    }
}

/// Tells the driver that messages to `to` were dropped (a full report channel already says so).
fn report_lost(unreachable: &mpsc::Sender<NodeId>, to: NodeId) {
    let _ = unreachable.try_send(to);
}

/// One `deliver` call with its deadline.
async fn deliver(
    client: KvNodeClient,
    own_addr: String,
    batch: Vec<Message>,
) -> Result<(), tarpc::client::RpcError> {
    client
        .deliver(wire::context_with_timeout(DELIVER_TIMEOUT), own_addr, batch)
        .await
}
