//! Leadership transfer (Raft thesis §3.10): the leader stops taking proposals, brings the target's log up
//! to date, and sends it `TimeoutNow`; the target campaigns at once and voters ignore their leader lease
//! for that election.
//!
//! Guarantees: the transfer never bypasses the vote rule (the target still needs an up-to-date log and a
//! majority); an unfinished transfer is abandoned after one election timeout, and proposals resume.

use crate::raft::quorum;
use crate::raft::raw_node::RawNode;
use crate::raft::types::{MessageBody, NodeId, Role};

/// Why a leadership transfer could not start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// Only the leader can hand leadership over.
    #[error("not the leader (leader hint: {leader_hint:?})")]
    NotLeader {
        /// The current leader, if known.
        leader_hint: Option<NodeId>,
    },
    /// The target is not a voting member.
    #[error("node {0} is not a voter")]
    NotAVoter(NodeId),
}

impl RawNode {
    /// Starts handing leadership to `target` (a no-op if this node is the target).
    pub fn transfer_leadership(&mut self, target: NodeId) -> Result<(), TransferError> {
        if self.role != Role::Leader {
            return Err(TransferError::NotLeader {
                leader_hint: self.leader,
            });
        }
        if !quorum::all_voters(&self.cluster).contains(&target) {
            return Err(TransferError::NotAVoter(target));
        }
        if target == self.config.id {
            return Ok(());
        }
        self.transfer_target = Some(target);
        // The transfer gets one full election timeout before it is abandoned.
        self.election_elapsed_ticks = 0;
        if !self.maybe_finish_transfer(target) {
            self.send_append(target, true);
        }
        Ok(())
    }

    /// The member leadership is being handed to, if any.
    pub fn transfer_target(&self) -> Option<NodeId> {
        self.transfer_target
    }

    /// Sends `TimeoutNow` if `member` is the transfer target and its log is complete.
    pub(super) fn maybe_finish_transfer(&mut self, member: NodeId) -> bool {
        let caught_up = self
            .progress
            .get(&member)
            .is_some_and(|pr| pr.match_index == self.log.last_index());
        if self.transfer_target == Some(member) && caught_up {
            self.send(member, MessageBody::TimeoutNow, false);
            return true;
        }
        false
    }
}
