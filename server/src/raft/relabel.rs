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
use std::hash::{Hash, Hasher};

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

    /// Feeds `state` everything this node holds about its relation to `peer` (vote, leader, election
    /// answer, replication progress, ReadIndex acknowledgements, transfer target), without naming any
    /// id. For symmetry reduction in the stateright model: the model orders servers by id-free keys
    /// built from this, so equal inputs give equal hashes whatever the servers are called.
    pub fn hash_peer_relation<H: Hasher>(&self, peer: NodeId, state: &mut H) {
        (self.hard_state.voted_for == Some(peer)).hash(state);
        (self.leader == Some(peer)).hash(state);
        self.votes.get(&peer).hash(state);
        self.progress.get(&peer).hash(state);
        (self.transfer_target == Some(peer)).hash(state);
        for context in self.reads.contexts_acked_by(peer) {
            context.hash(state);
        }
    }

    /// Feeds `state` the id-free part of this node: role, term, whether it voted (for itself or
    /// another), whether it knows a leader (itself or another), commit / apply / match indexes and the
    /// log. Ids inside config entries are hashed as they are (the model has none); such a key is then
    /// merely less canonical, never wrong. For symmetry reduction, with [`RawNode::hash_peer_relation`].
    pub fn hash_id_free<H: Hasher>(&self, state: &mut H) {
        let me = Some(self.config.id);
        self.role.hash(state);
        self.hard_state.term.hash(state);
        self.hard_state.commit_index.hash(state);
        self.hard_state.voted_for.map(|v| Some(v) == me).hash(state);
        self.leader.map(|l| Some(l) == me).hash(state);
        self.handed_out_hard_state.term.hash(state);
        self.handed_out_hard_state.commit_index.hash(state);
        self.log.entries().hash(state);
        self.log.persisted_index().hash(state);
        self.applying_index.hash(state);
        self.applied_index.hash(state);
        self.leader_match_index.hash(state);
        self.leader_term_durable.hash(state);
        self.solo_win_index.hash(state);
        self.progress.len().hash(state);
        self.votes.len().hash(state);
        self.reads.latest_context().hash(state);
    }
}
