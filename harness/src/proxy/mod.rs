//! The fault-injecting TCP proxy: one [`Proxy`] per DIRECTED link i→j makes partitions, delay and loss
//! real without root privileges.
//!
//! Node i is started with `--peer j=<address of proxy(i→j)>`; the proxy forwards to node j's real listen
//! address. Because node i sends its Raft messages to j only over its own connection to that address,
//! faulting link i→j affects exactly the traffic i→j. Frames flowing back j→i on that same connection
//! (tarpc responses) get the same treatment as i→j, for simplicity; Raft replies travel on j's own link
//! j→i, so one-way partitions still work: fault i→j, leave j→i passing.
//!
//! Guarantees: the proxy is frame-aware (4-byte big-endian length prefix, as tarpc's length-delimited
//! codec writes) and drops or delays WHOLE frames, never partial ones; frames of one direction keep their
//! order; all randomness derives from the root seed (see [`link_seed`]); buffers and connection counts are
//! bounded (`FRAMES_IN_FLIGHT_MAX`, `BYTES_IN_FLIGHT_MAX`, `FRAME_LEN_MAX`,
//! `CONNECTIONS_PER_PROXY_MAX`); [`Proxy::shutdown`] or
//! dropping the proxy stops its listener and every connection task.

mod connection;
mod link;
mod mesh;

pub use connection::{
    read_frame, BYTES_IN_FLIGHT_MAX, FRAMES_IN_FLIGHT_MAX, FRAME_LEN_MAX, UPSTREAM_CONNECT_TIMEOUT,
};
pub use link::{link_seed, Direction, LinkFault, LinkHandle, LinkStats, Verdict};
pub use mesh::ProxyMesh;

use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// The most simultaneous connections one link proxy serves; further dials are closed at once. Raft
/// nodes hold one or two connections per peer, so reaching this means something is redialing in a loop.
pub const CONNECTIONS_PER_PROXY_MAX: usize = 64;

/// Errors of the proxy layer.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// Binding the proxy's listening socket failed.
    #[error("cannot bind a proxy listener on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    /// The mesh has no proxy for this link.
    #[error("no proxy for link {from}->{to}")]
    UnknownLink {
        /// Dialing node.
        from: raftkv::raft::NodeId,
        /// Dialed node.
        to: raftkv::raft::NodeId,
    },
}

/// A running proxy for one directed link: listens on 127.0.0.1, forwards each accepted connection to
/// `target`, applying the link's current fault to every frame.
#[derive(Debug)]
pub struct Proxy {
    listen_addr: SocketAddr,
    target: SocketAddr,
    link: LinkHandle,
    accept_task: JoinHandle<()>,
}

impl Proxy {
    /// Binds 127.0.0.1:0 and starts serving. Must be called inside a tokio runtime.
    pub async fn start(target: SocketAddr, link: LinkHandle) -> Result<Proxy, ProxyError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(ProxyError::Bind)?;
        let listen_addr = listener.local_addr().map_err(ProxyError::Bind)?;
        let accept_task = tokio::spawn(accept_loop(listener, target, link.clone()));
        Ok(Proxy {
            listen_addr,
            target,
            link,
            accept_task,
        })
    }

    /// The address nodes dial instead of `target`.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    /// The real address frames are forwarded to.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// The link whose fault this proxy applies.
    pub fn link(&self) -> &LinkHandle {
        &self.link
    }

    /// Stops accepting and closes every connection, then waits for the tasks to end.
    pub async fn shutdown(self) {
        self.accept_task.abort();
        // The accept task owns the connection tasks (a JoinSet), so ending it aborts them too. The join
        // result is only "cancelled" here; there is nothing to report.
        let mut this = self;
        let _ = (&mut this.accept_task).await;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

async fn accept_loop(listener: TcpListener, target: SocketAddr, link: LinkHandle) {
    // Owning the connection tasks here means aborting this task aborts them all (JoinSet aborts on drop).
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((inbound, _peer)) = accepted else {
                    // Accept errors (e.g. too many open files) are transient; back off briefly.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                if connections.len() >= CONNECTIONS_PER_PROXY_MAX {
                    tracing::warn!(from = %link.from(), to = %link.to(), "proxy connection limit reached; closing new connection");
                    drop(inbound);
                    continue;
                }
                let link = link.clone();
                connections.spawn(async move {
                    if let Err(error) = connection::serve(inbound, target, link.clone()).await {
                        tracing::debug!(from = %link.from(), to = %link.to(), %error, "proxied connection ended");
                    }
                });
            }
            Some(_finished) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
