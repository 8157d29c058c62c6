//! The RPC side of a node: accepts connections, and turns each RPC into an [`Event`] for the task that
//! owns the Raft core, then waits (up to the request's deadline) for that task's answer.
//!
//! Guarantees:
//! - Each request runs in its own task, so one slow request never blocks its connection.
//! - Handlers are safe to cancel (tarpc drops them at the deadline): they only hold a oneshot receiver;
//!   the core task notices the dropped receiver when it answers and carries on.
//! - Bounded: [`MAX_CONNECTIONS`] connections, [`MAX_CONCURRENT_REQUESTS_PER_CONNECTION`] requests each, and
//!   the event queue refuses (client requests: `Busy`) or drops (Raft messages) when full.

use super::membership::MembershipRequest;
use super::service::{KvNode, MembersInfo, NodeStatus, Reply, RequestError};
use super::wire;
use crate::kv::{Command, LoggedCommand, Response};
use crate::raft::{LogIndex, Message, NodeId};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tarpc::context::Context;
use tarpc::server::{BaseChannel, Channel};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;

/// Open connections one node serves at once; more are closed at accept.
pub const MAX_CONNECTIONS: usize = 1024;
/// Requests one connection may have running at once.
pub const MAX_CONCURRENT_REQUESTS_PER_CONNECTION: usize = 1024;
/// Events that may wait for the core task.
pub const EVENT_QUEUE_MAX: usize = 8192;
/// A handler gives up this long before the request's deadline, so that its answer (`Timeout`, with
/// whether the write was proposed) still reaches the client in time.
const DEADLINE_MARGIN: Duration = Duration::from_millis(20);

/// Work for the task that owns the Raft core.
pub enum Event {
    /// Raft messages from a peer, with the address the peer says it listens on.
    Messages {
        /// The sender's advertised address (unparsed).
        sender_addr: String,
        /// The messages.
        messages: Vec<Message>,
    },
    /// A membership change (or the forced set-peers).
    Membership {
        /// What to change.
        request: super::membership::MembershipRequest,
        /// Where the answer goes.
        reply: super::membership::MembershipReply,
    },
    /// A membership query.
    Members {
        /// Where the answer goes.
        reply: super::membership::MembershipReply,
    },
    /// A linearizable read.
    Read {
        /// The key.
        key: Vec<u8>,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Option<Vec<u8>>, RequestError>>,
    },
    /// A write to propose.
    Write {
        /// The command with its request identity.
        command: LoggedCommand,
        /// Set by the core task once the write is in the log (so a timeout can say whether it was).
        proposed: Arc<AtomicBool>,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Response, RequestError>>,
    },
    /// A status query.
    Status {
        /// Where the answer goes.
        reply: oneshot::Sender<NodeStatus>,
    },
    /// Start a leadership transfer.
    TransferLeader {
        /// The voter to hand over to.
        target: NodeId,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<(), RequestError>>,
    },
    /// Take a snapshot now.
    Snapshot {
        /// Where the answer goes.
        reply: super::driver::SnapshotWaiter,
    },
}

/// The per-connection service object (cheap to clone).
#[derive(Clone)]
pub struct Handler {
    id: NodeId,
    events: mpsc::Sender<Event>,
}

impl Handler {
    /// A handler that sends its work to `events`.
    pub fn new(id: NodeId, events: mpsc::Sender<Event>) -> Handler {
        Handler { id, events }
    }

    fn reply<T>(&self, result: Result<T, RequestError>) -> Reply<T> {
        Reply {
            node: self.id,
            result,
        }
    }

    async fn write(&self, ctx: Context, command: LoggedCommand) -> Reply<Response> {
        let (reply, answer) = oneshot::channel();
        let proposed = Arc::new(AtomicBool::new(false));
        let event = Event::Write {
            command,
            proposed: proposed.clone(),
            reply,
        };
        if self.events.try_send(event).is_err() {
            return self.reply(Err(RequestError::Busy));
        }
        let result = match tokio::time::timeout(time_left(&ctx), answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) if proposed.load(Ordering::SeqCst) => Err(RequestError::LeadershipLost),
            Ok(Err(_)) => Err(RequestError::ShuttingDown),
            Err(_) => Err(RequestError::Timeout {
                proposed: proposed.load(Ordering::SeqCst),
            }),
        };
        self.reply(result)
    }
}

/// Time until the handler must answer.
fn time_left(ctx: &Context) -> Duration {
    ctx.deadline
        .saturating_duration_since(Instant::now())
        .saturating_sub(DEADLINE_MARGIN)
}

impl KvNode for Handler {
    async fn deliver(self, _: Context, sender_addr: String, messages: Vec<Message>) {
        let event = Event::Messages {
            sender_addr,
            messages,
        };
        if self.events.try_send(event).is_err() {
            tracing::debug!("event queue full; dropping Raft messages");
        }
    }

    async fn get(self, ctx: Context, key: Vec<u8>) -> Reply<Option<Vec<u8>>> {
        let (reply, answer) = oneshot::channel();
        if self.events.try_send(Event::Read { key, reply }).is_err() {
            return self.reply(Err(RequestError::Busy));
        }
        let result = match tokio::time::timeout(time_left(&ctx), answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(RequestError::ShuttingDown),
            Err(_) => Err(RequestError::Timeout { proposed: true }),
        };
        self.reply(result)
    }

    async fn put(
        self,
        ctx: Context,
        client_id: u64,
        seq: u64,
        key: Vec<u8>,
        value: Vec<u8>,
    ) -> Reply<Response> {
        let command = Command::Put { key, value };
        self.write(
            ctx,
            LoggedCommand {
                client_id,
                seq,
                command,
            },
        )
        .await
    }

    async fn cas(
        self,
        ctx: Context,
        client_id: u64,
        seq: u64,
        key: Vec<u8>,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Reply<Response> {
        let command = Command::Cas { key, expected, new };
        self.write(
            ctx,
            LoggedCommand {
                client_id,
                seq,
                command,
            },
        )
        .await
    }

    async fn delete(self, ctx: Context, client_id: u64, seq: u64, key: Vec<u8>) -> Reply<Response> {
        let command = Command::Delete { key };
        self.write(
            ctx,
            LoggedCommand {
                client_id,
                seq,
                command,
            },
        )
        .await
    }

    async fn status(self, ctx: Context) -> Reply<NodeStatus> {
        let (reply, answer) = oneshot::channel();
        if self.events.try_send(Event::Status { reply }).is_err() {
            return self.reply(Err(RequestError::Busy));
        }
        let result = match tokio::time::timeout(time_left(&ctx), answer).await {
            Ok(Ok(status)) => Ok(status),
            Ok(Err(_)) => Err(RequestError::ShuttingDown),
            Err(_) => Err(RequestError::Timeout { proposed: false }),
        };
        self.reply(result)
    }

    async fn snapshot(self, ctx: Context) -> Reply<LogIndex> {
        self.ask(&ctx, |reply| Event::Snapshot { reply }).await
    }

    async fn transfer_leader(self, ctx: Context, target: NodeId) -> Reply<()> {
        self.ask(&ctx, |reply| Event::TransferLeader { target, reply })
            .await
    }

    async fn add_node(self, ctx: Context, id: NodeId, addr: String) -> Reply<MembersInfo> {
        self.membership(&ctx, MembershipRequest::AddNode { id, addr })
            .await
    }

    async fn remove_node(self, ctx: Context, id: NodeId) -> Reply<MembersInfo> {
        self.membership(&ctx, MembershipRequest::RemoveNode { id })
            .await
    }

    async fn change_members(
        self,
        ctx: Context,
        voters: BTreeMap<NodeId, Option<String>>,
    ) -> Reply<MembersInfo> {
        self.membership(&ctx, MembershipRequest::ChangeMembers { voters })
            .await
    }

    async fn members(self, ctx: Context) -> Reply<MembersInfo> {
        self.ask(&ctx, |reply| Event::Members { reply }).await
    }

    async fn set_peers(
        self,
        ctx: Context,
        voters: BTreeMap<NodeId, Option<String>>,
        force: bool,
    ) -> Reply<MembersInfo> {
        self.membership(&ctx, MembershipRequest::SetPeers { voters, force })
            .await
    }
}

impl Handler {
    async fn membership(&self, ctx: &Context, request: MembershipRequest) -> Reply<MembersInfo> {
        self.ask(ctx, |reply| Event::Membership { request, reply })
            .await
    }

    /// Sends `make(reply)` to the core task and waits for its answer until the request's deadline.
    async fn ask<T>(
        &self,
        ctx: &Context,
        make: impl FnOnce(oneshot::Sender<Result<T, RequestError>>) -> Event,
    ) -> Reply<T> {
        let (reply, answer) = oneshot::channel();
        if self.events.try_send(make(reply)).is_err() {
            return self.reply(Err(RequestError::Busy));
        }
        let result = match tokio::time::timeout(time_left(ctx), answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(RequestError::ShuttingDown),
            Err(_) => Err(RequestError::Timeout { proposed: true }),
        };
        self.reply(result)
    }
}

/// Accepts connections on `listener` and serves `handler` on each until `shutdown` completes; then
/// closes every connection it opened.
pub async fn serve(listener: TcpListener, handler: Handler, shutdown: impl Future<Output = ()>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        // Typically out of file descriptors: pause instead of spinning.
                        tracing::warn!(%err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    tracing::warn!("too many connections; closing a new one");
                    continue;
                };
                let transport = match wire::server_transport(stream) {
                    Ok(transport) => transport,
                    Err(err) => {
                        tracing::debug!(%err, "cannot set up a connection");
                        continue;
                    }
                };
                let handler = handler.clone();
                connections.spawn(async move {
                    let _slot = slot;
                    let mut requests = JoinSet::new();
                    let mut responses = std::pin::pin!(BaseChannel::with_defaults(transport)
                        .max_concurrent_requests(MAX_CONCURRENT_REQUESTS_PER_CONNECTION)
                        .execute(handler.serve()));
                    while let Some(response) = responses.next().await {
                        requests.spawn(response);
                        // Reap finished request tasks so the set stays small.
                        while requests.try_join_next().is_some() {}
                    }
                });
            }
        }
    }
    connections.shutdown().await;
}
