//! Leader election: randomized timeouts, pre-vote (Raft thesis §9.6), the vote rule (one vote per term,
//! only for an up-to-date log, Raft §5.2 and §5.4.1), check-quorum, and becoming leader.
//!
//! Guarantees (no bug switch): a node grants at most one vote per term and records it in the hard state
//! before the grant can leave (the answer is a persisted message); a candidate's own vote requests also
//! leave only once its new term and self-vote are durable, so a crash cannot make it vote twice in a term.

use crate::bugs::Bug;
use crate::raft::progress::Progress;
use crate::raft::quorum::{self, VoteResult};
use crate::raft::raw_node::RawNode;
use crate::raft::types::{EntryPayload, LogIndex, MessageBody, NodeId, Role, Term};
use std::collections::{BTreeMap, BTreeSet};

impl RawNode {
    /// What `tick()` does when the election timer expires. A follower or candidate starts a pre-vote
    /// round (or an election without pre-vote); a leader runs its check-quorum round instead.
    pub fn fire_election_timeout(&mut self) {
        if self.role == Role::Leader {
            self.check_quorum_round();
            return;
        }
        self.reset_election_timer();
        if !self.is_promotable() {
            return;
        }
        if self.config.pre_vote {
            self.become_pre_candidate();
        } else {
            self.campaign(false);
        }
    }

    /// Leader: steps down unless a majority was heard from since the last round; also gives up a
    /// leadership transfer that did not finish within an election timeout.
    fn check_quorum_round(&mut self) {
        self.election_elapsed_ticks = 0;
        self.transfer_target = None;
        if !self.config.check_quorum {
            return;
        }
        let mut active: BTreeSet<NodeId> = self
            .progress
            .iter()
            .filter(|(_, pr)| pr.recent_active)
            .map(|(id, _)| *id)
            .collect();
        active.insert(self.config.id);
        if !quorum::has_quorum(&self.cluster, &active) {
            let term = self.hard_state.term;
            self.become_follower(term, None);
            return;
        }
        for pr in self.progress.values_mut() {
            pr.recent_active = false;
        }
    }

    /// Asks the voters whether they would vote for this node in the next term, without changing terms.
    fn become_pre_candidate(&mut self) {
        self.role = Role::PreCandidate;
        self.leader = None;
        self.votes = BTreeMap::from([(self.config.id, true)]);
        let next_term = Term(self.hard_state.term.0 + 1);
        let body = MessageBody::PreVote {
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        };
        for to in quorum::all_voters(&self.cluster) {
            if to != self.config.id {
                // Nothing durable changed, so pre-votes may leave at once.
                self.send_in_term(to, next_term, body.clone(), false);
            }
        }
        self.poll_votes();
    }

    /// Starts an election in a new term, voting for itself.
    pub(super) fn campaign(&mut self, leadership_transfer: bool) {
        self.hard_state.term = Term(self.hard_state.term.0 + 1);
        self.hard_state.voted_for = Some(self.config.id);
        self.role = Role::Candidate;
        self.leader = None;
        self.leader_match_index = LogIndex(0);
        self.votes = BTreeMap::from([(self.config.id, true)]);
        self.reset_election_timer();
        let body = MessageBody::RequestVote {
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
            leadership_transfer,
        };
        for to in quorum::all_voters(&self.cluster) {
            if to != self.config.id {
                self.send(to, body.clone(), true);
            }
        }
        self.poll_votes();
    }

    /// Acts on the answers so far.
    fn poll_votes(&mut self) {
        match quorum::vote_result(&self.cluster, &self.votes) {
            VoteResult::Won if self.role == Role::PreCandidate => self.campaign(false),
            VoteResult::Won => self.become_leader(),
            VoteResult::Lost => {
                let term = self.hard_state.term;
                self.become_follower(term, None);
            }
            VoteResult::Pending => {}
        }
    }

    /// Takes over: fresh progress for every member, a Noop of the new term (so that entries of earlier
    /// terms can commit, Raft §5.4.2), and a first round of appends.
    fn become_leader(&mut self) {
        // Remote votes were sent only after our term and vote were durable (see `campaign`).
        let remote_votes = self
            .votes
            .iter()
            .filter(|(id, granted)| **granted && **id != self.config.id)
            .count();
        self.leader_term_durable = remote_votes > 0;
        self.role = Role::Leader;
        self.leader = Some(self.config.id);
        self.votes.clear();
        self.transfer_target = None;
        self.election_elapsed_ticks = 0;
        self.heartbeat_elapsed_ticks = 0;
        let last_index = self.log.last_index();
        self.progress = self
            .peers()
            .into_iter()
            .map(|id| (id, Progress::new(last_index)))
            .collect();
        self.append_own(EntryPayload::Noop);
    }

    /// Answers a pre-vote: yes if `candidate_term` is newer and the candidate's log is up to date. (The
    /// "live leader" rule was applied before.)
    pub(super) fn handle_pre_vote(
        &mut self,
        from: NodeId,
        candidate_term: Term,
        last_log_index: LogIndex,
        last_log_term: Term,
    ) {
        let granted = candidate_term > self.hard_state.term
            && self.log_allows_vote(last_log_index, last_log_term);
        // A yes carries the candidate's term so that it is counted; a no carries ours so the sender can
        // learn it.
        let term = if granted {
            candidate_term
        } else {
            self.hard_state.term
        };
        self.send_in_term(from, term, MessageBody::PreVoteResponse { granted }, true);
    }

    /// Answers a vote request in the current term (Raft Figure 2 "RequestVote RPC").
    pub(super) fn handle_request_vote(
        &mut self,
        from: NodeId,
        last_log_index: LogIndex,
        last_log_term: Term,
    ) {
        let can_vote = self.hard_state.voted_for == Some(from)
            || (self.hard_state.voted_for.is_none() && self.leader.is_none());
        let granted = can_vote && self.log_allows_vote(last_log_index, last_log_term);
        if granted {
            self.hard_state.voted_for = Some(from);
            self.reset_election_timer();
        }
        // Sent only after the vote is durable.
        self.send(from, MessageBody::RequestVoteResponse { granted }, true);
    }

    /// The up-to-date rule, which [`Bug::VoteAnyLog`] switches off.
    fn log_allows_vote(&self, last_log_index: LogIndex, last_log_term: Term) -> bool {
        self.config.bugs.has(Bug::VoteAnyLog)
            || self.log.is_up_to_date(last_log_index, last_log_term)
    }

    /// Counts an answer to this node's (pre-)vote request.
    pub(super) fn handle_vote_response(&mut self, from: NodeId, granted: bool, pre_vote: bool) {
        let expected = if pre_vote {
            Role::PreCandidate
        } else {
            Role::Candidate
        };
        if self.role != expected || !quorum::all_voters(&self.cluster).contains(&from) {
            return;
        }
        self.votes.entry(from).or_insert(granted);
        self.poll_votes();
    }

    /// Leadership transfer target: campaign at once, telling voters to ignore their leader lease.
    pub(super) fn handle_timeout_now(&mut self) {
        if self.role != Role::Leader && self.is_promotable() {
            self.campaign(true);
        }
    }
}
