//! Readiness probes: how the cluster decides its nodes serve.
//!
//! The probe is behind a small trait so the check is swappable: [`TcpConnectProbe`] (a node accepts a TCP
//! connection on its client address) works with any server; a probe built on the server's client
//! `status` call can also report which node leads, and then the cluster waits for a leader too.

use raftkv::raft::NodeId;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

/// What one successful probe of a node learned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProbeReport {
    /// The leader the node knows of, if the probe can tell.
    pub leader: Option<NodeId>,
}

/// A readiness check of one node.
pub trait ReadinessProbe: Sync {
    /// Whether successful probes report leaders; if so, readiness also requires a known leader.
    fn reports_leader(&self) -> bool;

    /// Checks node `id` at its client address; `Err` carries a human-readable reason.
    fn probe(
        &self,
        id: NodeId,
        addr: SocketAddr,
    ) -> impl Future<Output = Result<ProbeReport, String>> + Send;
}

/// Ready = accepts a TCP connection. Cannot see leaders.
#[derive(Clone, Copy, Debug)]
pub struct TcpConnectProbe {
    /// Bound on one connection attempt.
    pub connect_timeout: Duration,
}

impl Default for TcpConnectProbe {
    fn default() -> Self {
        TcpConnectProbe {
            connect_timeout: Duration::from_millis(500),
        }
    }
}

impl ReadinessProbe for TcpConnectProbe {
    fn reports_leader(&self) -> bool {
        false
    }

    fn probe(
        &self,
        _id: NodeId,
        addr: SocketAddr,
    ) -> impl Future<Output = Result<ProbeReport, String>> + Send {
        let connect_timeout = self.connect_timeout;
        async move {
            match tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect(addr)).await
            {
                Ok(Ok(_stream)) => Ok(ProbeReport::default()),
                Ok(Err(error)) => Err(format!("connect {addr}: {error}")),
                Err(_) => Err(format!(
                    "connect {addr}: timed out after {connect_timeout:?}"
                )),
            }
        }
    }
}

/// Ready = the node answers the server's `status` call; reports the leader it knows, so readiness also
/// waits for an elected leader.
#[derive(Clone, Copy, Debug)]
pub struct StatusProbe {
    /// Bound on one status call.
    pub call_timeout: Duration,
}

impl Default for StatusProbe {
    fn default() -> Self {
        StatusProbe {
            call_timeout: Duration::from_millis(500),
        }
    }
}

impl ReadinessProbe for StatusProbe {
    fn reports_leader(&self) -> bool {
        true
    }

    fn probe(
        &self,
        _id: NodeId,
        addr: SocketAddr,
    ) -> impl Future<Output = Result<ProbeReport, String>> + Send {
        let options = raftkv::client::ClientOptions {
            attempt_timeout: self.call_timeout,
            operation_timeout: self.call_timeout,
            // Ask exactly this node: a hop elsewhere would report another node's readiness.
            max_attempts: 1,
            ..Default::default()
        };
        async move {
            let mut client = raftkv::client::Client::new(&[addr], 0, options);
            match client.status().await {
                raftkv::client::Outcome::Ok(status) => Ok(ProbeReport {
                    leader: status.leader,
                }),
                raftkv::client::Outcome::Fail(why)
                | raftkv::client::Outcome::Indeterminate(why) => {
                    Err(format!("status {addr}: {why}"))
                }
            }
        }
    }
}
