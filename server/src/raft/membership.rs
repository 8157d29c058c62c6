//! Membership changes through the log (Raft thesis ch. 4): single-server changes (a new node joins as a
//! non-voting learner and is promoted once caught up; a member is removed) and joint consensus for
//! arbitrary changes (C_old,new, where elections and commits need majorities of both, then C_new,
//! appended automatically once C_old,new commits).
//!
//! Guarantees: a configuration takes effect when appended (and reverts if its entry is truncated); at
//! most one change is in flight (the newest config entry is committed and not joint before another
//! starts); a leader starts no change before an entry of its own term has committed (thesis §4.1, the
//! fix for the single-server change bug); a refused change leaves the configuration unchanged; a leader
//! that is not a member of a committed configuration steps down, handing over with `TimeoutNow`.

use crate::raft::progress::Progress;
use crate::raft::quorum;
use crate::raft::raw_node::RawNode;
use crate::raft::types::{
    ClusterConfig, Entry, EntryPayload, LogIndex, MessageBody, NodeId, Role, Term,
};
use std::collections::{BTreeMap, BTreeSet};

/// Why a membership change was refused (the configuration is unchanged).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfChangeError {
    /// Only the leader changes the membership.
    #[error("not the leader (leader hint: {leader_hint:?})")]
    NotLeader {
        /// The current leader, if known.
        leader_hint: Option<NodeId>,
    },
    /// Another change has not committed yet (or a joint configuration is still being left).
    #[error("another membership change is in flight")]
    ChangeInProgress,
    /// The leader has not committed an entry of its term yet; retry shortly.
    #[error("the leader has not committed an entry of its term yet")]
    LeaderNotReady,
    /// A leadership transfer is under way.
    #[error("leadership transfer in progress")]
    TransferInProgress,
    /// The node is already a member (voter or learner).
    #[error("node {0} is already a member")]
    AlreadyMember(NodeId),
    /// The node is not a member.
    #[error("node {0} is not a member")]
    NotMember(NodeId),
    /// The change would leave no voter.
    #[error("the change would leave no voter")]
    NoVoters,
}

impl RawNode {
    /// The membership in effect (the newest config entry, even if uncommitted).
    pub fn cluster(&self) -> &ClusterConfig {
        &self.cluster
    }

    /// The leader this node knows of in its current term (cheaper than `status().leader`).
    pub fn known_leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// The index of the entry that holds the configuration in effect (the snapshot index when it comes
    /// from the snapshot, 0 for the bootstrap configuration).
    pub fn config_index(&self) -> LogIndex {
        self.cluster_index
    }

    /// Whether a membership change is in flight: the newest configuration is not committed yet or is
    /// joint.
    pub fn config_change_in_flight(&self) -> bool {
        self.cluster_index > self.hard_state.commit_index
            || !self.cluster.voters_outgoing.is_empty()
    }

    /// Leader: adds `id` as a non-voting learner; it is promoted to voter automatically once its log is
    /// within `learner_catch_up_lag_max` entries of the leader's. Returns the config entry's index.
    pub fn add_learner(&mut self, id: NodeId) -> Result<LogIndex, ConfChangeError> {
        self.add_learner_with(id, BTreeMap::new())
    }

    /// Like [`RawNode::add_learner`], also recording member addresses in the new configuration
    /// (`addresses` overrides known ones; addresses of non-members are dropped).
    pub fn add_learner_with(
        &mut self,
        id: NodeId,
        addresses: BTreeMap<NodeId, String>,
    ) -> Result<LogIndex, ConfChangeError> {
        self.check_can_change()?;
        if quorum::all_voters(&self.cluster).contains(&id) || self.cluster.learners.contains(&id) {
            return Err(ConfChangeError::AlreadyMember(id));
        }
        let mut next = self.cluster.clone();
        next.learners.insert(id);
        next.addresses.extend(addresses);
        Ok(self.append_config(next))
    }

    /// Leader: removes the voter or learner `id`. Returns the config entry's index.
    pub fn remove_member(&mut self, id: NodeId) -> Result<LogIndex, ConfChangeError> {
        self.remove_member_with(id, BTreeMap::new())
    }

    /// Like [`RawNode::remove_member`], also recording the remaining members' addresses.
    pub fn remove_member_with(
        &mut self,
        id: NodeId,
        addresses: BTreeMap<NodeId, String>,
    ) -> Result<LogIndex, ConfChangeError> {
        self.check_can_change()?;
        let mut next = self.cluster.clone();
        let was_voter = next.voters.remove(&id);
        if !was_voter && !next.learners.remove(&id) {
            return Err(ConfChangeError::NotMember(id));
        }
        if next.voters.is_empty() {
            return Err(ConfChangeError::NoVoters);
        }
        next.addresses.extend(addresses);
        Ok(self.append_config(next))
    }

    /// Leader: joint consensus to the voter set `voters` (learners that become voters stop being
    /// learners). Appends C_old,new; C_new follows automatically once it commits. Returns the index of
    /// C_old,new.
    pub fn change_voters(&mut self, voters: BTreeSet<NodeId>) -> Result<LogIndex, ConfChangeError> {
        self.change_voters_with(voters, BTreeMap::new())
    }

    /// Like [`RawNode::change_voters`], also recording member addresses (kept through C_new for the
    /// members that remain).
    pub fn change_voters_with(
        &mut self,
        voters: BTreeSet<NodeId>,
        addresses: BTreeMap<NodeId, String>,
    ) -> Result<LogIndex, ConfChangeError> {
        self.check_can_change()?;
        if voters.is_empty() {
            return Err(ConfChangeError::NoVoters);
        }
        let mut address_book = self.cluster.addresses.clone();
        address_book.extend(addresses);
        let joint = ClusterConfig {
            learners: self.cluster.learners.difference(&voters).copied().collect(),
            voters_outgoing: self.cluster.voters.clone(),
            voters,
            addresses: address_book,
        };
        Ok(self.append_config(joint))
    }

    /// DISASTER RECOVERY ONLY, UNSAFE: replaces this node's configuration with `next` without consensus
    /// (for when a majority is lost for good). The node moves to a new term, votes for itself, appends
    /// `next` as a config entry of that term (in effect at once) and becomes a follower that campaigns
    /// in `next` when its election timer fires. Committed entries the lost majority held but this node
    /// does not are lost, and if any other node still forms a majority of the old configuration, two
    /// leaders may decide independently. Refused (changing nothing) unless `next` has voters and this
    /// node is one of them. Returns the index of the forced entry.
    pub fn force_configuration(
        &mut self,
        mut next: ClusterConfig,
    ) -> Result<LogIndex, ConfChangeError> {
        let id = self.config.id;
        if next.voters.is_empty() {
            return Err(ConfChangeError::NoVoters);
        }
        if !next.voters.contains(&id) {
            return Err(ConfChangeError::NotMember(id));
        }
        next.prune_addresses();
        let term = Term(self.hard_state.term.0 + 1);
        self.become_follower(term, None);
        // Voting for itself makes sure this node creates the only entries of `term` it can know of.
        self.hard_state.voted_for = Some(id);
        let index = self.log.last_index().next();
        self.log.append(Entry {
            term,
            index,
            payload: EntryPayload::Config(next),
        });
        self.refresh_cluster();
        Ok(index)
    }

    fn check_can_change(&self) -> Result<(), ConfChangeError> {
        if self.role != Role::Leader {
            return Err(ConfChangeError::NotLeader {
                leader_hint: self.leader,
            });
        }
        if self.transfer_target.is_some() {
            return Err(ConfChangeError::TransferInProgress);
        }
        let commit_index = self.hard_state.commit_index;
        if self.log.term(commit_index) != Some(self.hard_state.term) {
            return Err(ConfChangeError::LeaderNotReady);
        }
        if self.config_change_in_flight() {
            return Err(ConfChangeError::ChangeInProgress);
        }
        Ok(())
    }

    /// Leader: appends a configuration entry (in effect at once), keeping addresses of members only.
    fn append_config(&mut self, mut next: ClusterConfig) -> LogIndex {
        next.prune_addresses();
        self.append_own(EntryPayload::Config(next))
    }

    /// Leader: keeps a progress entry for exactly the current members (after the membership changed).
    pub(super) fn sync_progress(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let peers: BTreeSet<NodeId> = self.peers().into_iter().collect();
        self.progress.retain(|id, _| peers.contains(id));
        let last_index = self.log.last_index();
        for id in peers {
            self.progress
                .entry(id)
                .or_insert_with(|| Progress::new(last_index));
        }
    }

    /// Leader: promotes learner `member` once its log is close enough to the leader's.
    pub(super) fn maybe_promote_learner(&mut self, member: NodeId) {
        if self.role != Role::Leader || !self.cluster.learners.contains(&member) {
            return;
        }
        let lag_max = self.config.learner_catch_up_lag_max;
        let last_index = self.log.last_index();
        let caught_up = self
            .progress
            .get(&member)
            .is_some_and(|pr| pr.match_index.0 + lag_max >= last_index.0);
        if !caught_up || self.check_can_change().is_err() {
            return;
        }
        let mut next = self.cluster.clone();
        next.learners.remove(&member);
        next.voters.insert(member);
        self.append_config(next);
    }

    /// Leader, after the commit index advanced: leave a committed joint configuration (append C_new),
    /// and step down once a committed configuration no longer includes this node.
    pub(super) fn after_commit_membership(&mut self) {
        if self.role != Role::Leader || self.cluster_index > self.hard_state.commit_index {
            return;
        }
        if !self.cluster.voters_outgoing.is_empty() {
            let next = ClusterConfig {
                voters: self.cluster.voters.clone(),
                voters_outgoing: BTreeSet::new(),
                learners: self.cluster.learners.clone(),
                addresses: self.cluster.addresses.clone(),
            };
            self.append_config(next);
            return;
        }
        if !self.is_promotable() {
            // Hand over to the most up-to-date voter so the cluster need not wait for a timeout.
            let successor = self
                .progress
                .iter()
                .filter(|(id, _)| self.cluster.voters.contains(id))
                .max_by_key(|(_, pr)| pr.match_index)
                .map(|(id, _)| *id);
            if let Some(successor) = successor {
                self.send(successor, MessageBody::TimeoutNow, false);
            }
            let term = self.hard_state.term;
            self.become_follower(term, None);
        }
    }
}
