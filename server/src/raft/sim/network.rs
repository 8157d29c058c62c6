//! A seeded, simulated network: per-message random delays (hence reordering), drops, duplicates, and
//! partitions that block whole messages between groups of nodes (never part of one).
//!
//! Guarantees: the same seed and the same sends give the same deliveries; at most `IN_FLIGHT_MAX`
//! messages are in flight (further sends are dropped, as a full socket buffer would); every message
//! lost (dropped at the send, or due on a cut link) is told to the caller, as a real transport tells
//! its node that a peer is unreachable.

use crate::raft::rng::SplitMix64;
use crate::raft::{Message, NodeId};
use std::collections::BTreeMap;

/// Bound on messages in flight.
pub const IN_FLIGHT_MAX: usize = 20_000;

/// Fault rates of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkFaults {
    /// Drop probability in per mille.
    pub drop_per_mille: u64,
    /// Duplicate probability in per mille.
    pub duplicate_per_mille: u64,
    /// Delays are uniform in `[0, delay_ticks_max]`.
    pub delay_ticks_max: u64,
}

/// Messages in flight and the current partition.
#[derive(Clone, Debug, Default)]
pub struct Network {
    /// (deliver at tick, sequence number) to message.
    in_flight: BTreeMap<(u64, u64), Message>,
    next_seq: u64,
    /// Group of each node; messages between different groups are lost. Empty means fully connected.
    groups: BTreeMap<NodeId, u32>,
}

impl Network {
    /// Whether a message from `from` can reach `to` under the current partition.
    pub fn connected(&self, from: NodeId, to: NodeId) -> bool {
        self.groups.get(&from).copied().unwrap_or(0) == self.groups.get(&to).copied().unwrap_or(0)
    }

    /// Splits the nodes: those in `minority` form one group, the rest another.
    pub fn partition(&mut self, minority: &[NodeId]) {
        self.groups = minority.iter().map(|id| (*id, 1)).collect();
    }

    /// Heals every partition.
    pub fn heal(&mut self) {
        self.groups.clear();
    }

    /// Sends `msg` at tick `now`, applying the fault rates. Returns false if the message was lost.
    pub fn send(
        &mut self,
        msg: Message,
        now: u64,
        faults: NetworkFaults,
        rng: &mut SplitMix64,
    ) -> bool {
        if !self.connected(msg.from, msg.to) || rng.gen_range(0, 1000) < faults.drop_per_mille {
            return false;
        }
        let copies = if rng.gen_range(0, 1000) < faults.duplicate_per_mille {
            2
        } else {
            1
        };
        for copy in 0..copies {
            if self.in_flight.len() >= IN_FLIGHT_MAX {
                return copy > 0;
            }
            let at = now + rng.gen_range(0, faults.delay_ticks_max + 1);
            self.in_flight.insert((at, self.next_seq), msg.clone());
            self.next_seq += 1;
        }
        true
    }

    /// Removes the messages due at or before `now`: those whose link is still up, to deliver, and those
    /// lost on a cut link.
    pub fn due(&mut self, now: u64) -> (Vec<Message>, Vec<Message>) {
        let later = self.in_flight.split_off(&(now + 1, 0));
        let due = std::mem::replace(&mut self.in_flight, later);
        due.into_values()
            .partition(|m| self.connected(m.from, m.to))
    }
}
