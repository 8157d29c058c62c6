//! Where this node sends each peer's messages: the address book that turns a node id into a socket
//! address, combining three sources in a fixed precedence.
//!
//! 1. `--peer j=ADDR` on the command line (the harness routes every directed link through its own
//!    fault-injecting proxy this way, so it must win);
//! 2. the address recorded for j in the configuration in effect (`ClusterConfig::addresses`, carried by
//!    the membership change that added j, so every node learns it from the log or a snapshot);
//! 3. the address j advertised in its own `deliver` calls (how a node started with `--join`, which knows
//!    nobody, answers the leader that contacts it before any configuration reached it).
//!
//! Guarantees: resolution is deterministic; at most [`ADVERTISED_ROUTES_MAX`] advertised addresses are
//! kept (new senders beyond that are not remembered); an unparsable configuration address is skipped
//! (and the next source used), never a panic.

use crate::raft::{ClusterConfig, NodeId};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// Advertised sender addresses remembered at most.
pub const ADVERTISED_ROUTES_MAX: usize = 256;

/// The address book (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Routes {
    overrides: BTreeMap<NodeId, SocketAddr>,
    advertised: BTreeMap<NodeId, SocketAddr>,
}

impl Routes {
    /// Routes with the command line's `--peer` addresses as overrides.
    pub fn new(overrides: BTreeMap<NodeId, SocketAddr>) -> Routes {
        Routes {
            overrides,
            advertised: BTreeMap::new(),
        }
    }

    /// Remembers the address `id` advertised (a later advertisement replaces an earlier one).
    pub fn learn_advertised(&mut self, id: NodeId, addr: SocketAddr) {
        if self.advertised.len() < ADVERTISED_ROUTES_MAX || self.advertised.contains_key(&id) {
            self.advertised.insert(id, addr);
        }
    }

    /// The address for `id`: override, else the configuration's, else the advertised one.
    pub fn resolve(&self, id: NodeId, config: &ClusterConfig) -> Option<SocketAddr> {
        if let Some(addr) = self.overrides.get(&id) {
            return Some(*addr);
        }
        if let Some(addr) = config
            .addresses
            .get(&id)
            .and_then(|text| text.parse::<SocketAddr>().ok())
        {
            return Some(addr);
        }
        self.advertised.get(&id).copied()
    }

    /// The address for every member of `config` except `me` that has one.
    pub fn for_members(&self, config: &ClusterConfig, me: NodeId) -> BTreeMap<NodeId, SocketAddr> {
        config
            .members()
            .into_iter()
            .filter(|id| *id != me)
            .filter_map(|id| self.resolve(id, config).map(|addr| (id, addr)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn the_command_line_beats_the_configuration_which_beats_advertisements() {
        let mut config = ClusterConfig::with_voters([NodeId(1), NodeId(2), NodeId(3)]);
        config.addresses.insert(NodeId(2), addr(2002).to_string());
        config.addresses.insert(NodeId(3), addr(3003).to_string());
        let mut routes = Routes::new([(NodeId(3), addr(9003))].into());
        routes.learn_advertised(NodeId(2), addr(7002));
        routes.learn_advertised(NodeId(4), addr(7004));
        assert_eq!(routes.resolve(NodeId(3), &config), Some(addr(9003)));
        assert_eq!(routes.resolve(NodeId(2), &config), Some(addr(2002)));
        assert_eq!(routes.resolve(NodeId(4), &config), Some(addr(7004)));
        assert_eq!(routes.resolve(NodeId(5), &config), None);
        // Members only, never this node itself; node 4 is not a member.
        let members = routes.for_members(&config, NodeId(1));
        assert_eq!(
            members,
            [(NodeId(2), addr(2002)), (NodeId(3), addr(9003))].into()
        );
    }

    #[test]
    fn a_bad_configuration_address_falls_back_and_advertisements_are_bounded() {
        let mut config = ClusterConfig::with_voters([NodeId(1), NodeId(2)]);
        config.addresses.insert(NodeId(2), "not an address".into());
        let mut routes = Routes::default();
        assert_eq!(routes.resolve(NodeId(2), &config), None);
        routes.learn_advertised(NodeId(2), addr(7002));
        assert_eq!(routes.resolve(NodeId(2), &config), Some(addr(7002)));
        for i in 0..(ADVERTISED_ROUTES_MAX as u64 + 10) {
            routes.learn_advertised(NodeId(1000 + i), addr(1));
        }
        assert_eq!(routes.advertised.len(), ADVERTISED_ROUTES_MAX);
    }
}
