//! The full mesh of link proxies for an N-node cluster: one proxy per ordered pair (i, j), i ≠ j.
//!
//! Guarantees: every link starts as `Pass`; `peer_args(i)` gives node i the proxy addresses for all its
//! peers, so all of i's Raft traffic crosses the mesh; dropping the mesh stops every proxy.

use super::{LinkFault, LinkHandle, Proxy, ProxyError};
use raftkv::raft::NodeId;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// All N*(N-1) directed link proxies of a cluster.
#[derive(Debug)]
pub struct ProxyMesh {
    proxies: BTreeMap<(NodeId, NodeId), Proxy>,
}

impl ProxyMesh {
    /// Starts a proxy for every ordered pair of distinct nodes in `targets` (node id → real listen
    /// address), each on 127.0.0.1 port 0, with link randomness derived from `root_seed`.
    pub async fn start(
        targets: &BTreeMap<NodeId, SocketAddr>,
        root_seed: u64,
    ) -> Result<ProxyMesh, ProxyError> {
        let mut proxies = BTreeMap::new();
        for &from in targets.keys() {
            for (&to, &target) in targets {
                if from == to {
                    continue;
                }
                let proxy = Proxy::start(target, LinkHandle::new(from, to, root_seed)).await?;
                proxies.insert((from, to), proxy);
            }
        }
        Ok(ProxyMesh { proxies })
    }

    /// The `--peer j=ADDR` arguments for node `from`: one pair per peer, ADDR being proxy(from→j).
    pub fn peer_args(&self, from: NodeId) -> Vec<String> {
        self.proxies
            .iter()
            .filter(|((source, _), _)| *source == from)
            .flat_map(|((_, to), proxy)| {
                [
                    "--peer".to_string(),
                    format!("{to}={}", proxy.listen_addr()),
                ]
            })
            .collect()
    }

    /// The address node `from` dials to reach node `to`.
    pub fn proxy_addr(&self, from: NodeId, to: NodeId) -> Option<SocketAddr> {
        self.proxies.get(&(from, to)).map(Proxy::listen_addr)
    }

    /// The shared state of link `from`→`to`.
    pub fn link(&self, from: NodeId, to: NodeId) -> Option<&LinkHandle> {
        self.proxies.get(&(from, to)).map(Proxy::link)
    }

    /// Every directed link, in (from, to) order.
    pub fn links(&self) -> impl Iterator<Item = &LinkHandle> {
        self.proxies.values().map(Proxy::link)
    }

    /// Sets the fault of one link.
    pub fn set_link(&self, from: NodeId, to: NodeId, fault: LinkFault) -> Result<(), ProxyError> {
        let link = self
            .link(from, to)
            .ok_or(ProxyError::UnknownLink { from, to })?;
        link.set(fault);
        Ok(())
    }

    /// Sets every link to the same fault.
    pub fn set_all(&self, fault: LinkFault) {
        for link in self.links() {
            link.set(fault);
        }
    }

    /// Makes every link pass again.
    pub fn heal(&self) {
        self.set_all(LinkFault::Pass);
    }

    /// Stops every proxy and waits for their tasks.
    pub async fn shutdown(self) {
        for (_, proxy) in self.proxies {
            proxy.shutdown().await;
        }
    }
}
