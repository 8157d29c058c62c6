//! Renaming node ids throughout a `RawNode`, for symmetry reduction in the stateright model
//! (`checker::raft_model::symmetry`): two clusters that differ only by a permutation of server ids behave
//! alike, so the model checker stores one of them.
//!
//! Guarantees: `relabeled(f)` with a bijection `f` maps every node id the node holds (its own id, vote,
//! leader, memberships, votes, progress, ReadIndex acks, transfer target, queued messages, config
//! entries) and nothing else; the protocol never orders decisions by id, so the relabeled node behaves as
//! the original with ids renamed.

use crate::raft::raw_node::RawNode;
use crate::raft::types::{ClusterConfig, Entry, EntryPayload, HardState, Message, NodeId};

/// Renames the ids of a membership.
pub fn relabel_cluster(cluster: &ClusterConfig, f: &dyn Fn(NodeId) -> NodeId) -> ClusterConfig {
    ClusterConfig {
        voters: cluster.voters.iter().map(|id| f(*id)).collect(),
        voters_outgoing: cluster.voters_outgoing.iter().map(|id| f(*id)).collect(),
        learners: cluster.learners.iter().map(|id| f(*id)).collect(),
        addresses: cluster
            .addresses
            .iter()
            .map(|(id, address)| (f(*id), address.clone()))
            .collect(),
    }
}

/// Renames the vote of a hard state.
pub fn relabel_hard_state(hard_state: &HardState, f: &dyn Fn(NodeId) -> NodeId) -> HardState {
    HardState {
        voted_for: hard_state.voted_for.map(f),
        ..hard_state.clone()
    }
}

/// Renames the ids inside an entry (only config entries hold any).
pub fn relabel_entry(entry: &Entry, f: &dyn Fn(NodeId) -> NodeId) -> Entry {
    match &entry.payload {
        EntryPayload::Config(cluster) => Entry {
            payload: EntryPayload::Config(relabel_cluster(cluster, f)),
            ..entry.clone()
        },
        _ => entry.clone(),
    }
}

/// Renames sender, receiver and the ids inside carried entries.
pub fn relabel_message(message: &Message, f: &dyn Fn(NodeId) -> NodeId) -> Message {
    let mut renamed = message.clone();
    renamed.from = f(message.from);
    renamed.to = f(message.to);
    if let crate::raft::types::MessageBody::AppendEntries { entries, .. } = &mut renamed.body {
        for entry in entries.iter_mut() {
            *entry = relabel_entry(entry, f);
        }
    }
    renamed
}

impl RawNode {
    /// This node with every node id renamed by `f` (a bijection on the cluster's ids).
    pub fn relabeled(&self, f: &dyn Fn(NodeId) -> NodeId) -> RawNode {
        let mut node = self.clone();
        node.config.id = f(self.config.id);
        node.hard_state = relabel_hard_state(&self.hard_state, f);
        node.handed_out_hard_state = relabel_hard_state(&self.handed_out_hard_state, f);
        node.log.relabel_entries(|entry| relabel_entry(entry, f));
        node.leader = self.leader.map(f);
        node.cluster = relabel_cluster(&self.cluster, f);
        node.fallback_cluster = relabel_cluster(&self.fallback_cluster, f);
        node.votes = self.votes.iter().map(|(id, v)| (f(*id), *v)).collect();
        node.progress = self
            .progress
            .iter()
            .map(|(id, p)| (f(*id), p.clone()))
            .collect();
        node.reads = self.reads.relabeled(f);
        node.transfer_target = self.transfer_target.map(f);
        node.messages = self
            .messages
            .iter()
            .map(|m| relabel_message(m, f))
            .collect();
        node.persisted_messages = self
            .persisted_messages
            .iter()
            .map(|m| relabel_message(m, f))
            .collect();
        node
    }
}
