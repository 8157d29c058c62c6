//! Leader election: randomized timeouts, pre-vote (Raft thesis §9.6), the vote rule (one vote per term,
//! only for an up-to-date log, Raft §5.2 and §5.4.1), check-quorum, and becoming leader.
//!
//! Guarantees (no bug switch): a node grants at most one vote per term and records it in the hard state
//! before the grant can leave (the answer is a persisted message); a candidate's own vote requests also
//! leave only once its new term and self-vote are durable, so a crash cannot make it vote twice in a term;
//! a node takes office only once its term and vote are durable (a single voter, which wins by its own
//! vote, waits for its Noop and term to be written first).

use crate::bugs::Bug;
use crate::raft::progress::Progress;
use crate::raft::quorum::{self, VoteResult};
use crate::raft::raw_node::RawNode;
use crate::raft::types::{Entry, EntryPayload, LogIndex, MessageBody, NodeId, Role, Term};
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
            // Not a voter: it never campaigns, but an expired timer still means its leader went
            // silent. Forget it, or the leader lease (`in_lease`, measured from the timer that was just
            // reset) would never run out and this node would ignore vote requests for ever, which can
            // block every election of a configuration it is about to join.
            self.forget_leader();
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
        if !self.heard_from_quorum() {
            let term = self.hard_state.term;
            self.become_follower(term, None);
            return;
        }
        for pr in self.progress.values_mut() {
            pr.recent_active = false;
        }
    }

    /// Leader: whether the members heard from since the last check-quorum round, with itself, form a
    /// quorum (what the next round decides on).
    fn heard_from_quorum(&self) -> bool {
        let mut active: BTreeSet<NodeId> = self
            .progress
            .iter()
            .filter(|(_, pr)| pr.recent_active)
            .map(|(id, _)| *id)
            .collect();
        active.insert(self.config.id);
        quorum::has_quorum(&self.cluster, &active)
    }

    /// Model checking only: whether this leader's next check-quorum round would pass (check-quorum
    /// is on and a quorum was heard from since the last round). The model then takes the round at
    /// once (`checker::raft_model::eager_timeouts`).
    pub fn check_quorum_round_would_pass(&self) -> bool {
        self.role == Role::Leader && self.config.check_quorum && self.heard_from_quorum()
    }

    /// Model checking only: whether this follower, if its election timer fired now, would become a
    /// pre-candidate that can do all it can do by waiting (`checker::raft_model::eager_timeouts`
    /// then takes the timeout at once). It can unless it knows a leader and has not voted in its term
    /// in a cluster of more than 3 voters: such a follower refuses a vote request of its term that the
    /// pre-candidate, knowing no leader, would grant. With at most 3 voters no such request comes
    /// (the leader won with the vote of the one other voter, and a candidate votes for itself), and
    /// a vote already cast decides alike for both. Everything else the leader's lease changes is
    /// ignoring newer (pre-)vote requests, which the pre-candidate answers.
    pub fn timeout_loses_nothing(&self) -> bool {
        self.role == Role::Follower
            && (self.leader.is_none()
                || self.hard_state.voted_for.is_some()
                || quorum::all_voters(&self.cluster).len() <= 3)
    }

    /// Model checking only, for a cluster whose configuration never changes (the stateright model in
    /// `checker::raft_model` proposes no membership change): once the members a leader heard from this
    /// round form a quorum, marks every member heard from. The next check-quorum round passes either
    /// way (a quorum stays a quorum as more members are heard from, and the configuration that defines
    /// quorums is fixed), it then clears every flag, and nothing else reads them; so the two states
    /// behave alike, and this lets them hash alike. Changes no message, role or durable state.
    pub fn normalize_quorum_activity(&mut self) {
        if self.role != Role::Leader || !self.config.check_quorum || !self.heard_from_quorum() {
            return;
        }
        for pr in self.progress.values_mut() {
            pr.recent_active = true;
        }
    }

    /// Model checking only: keeps that this node voted in its term but forgets for whom, so that the
    /// vote reads as one for itself. The caller asserts that the candidate it voted for can never
    /// read the vote (it has left the term, or is no longer a candidate in it, and terms never go
    /// back). Such a vote then only refuses every other vote request of the term, as a vote for
    /// itself does: the core reads `voted_for` only to grant a request (`handle_request_vote`), and
    /// a repeated request from the same candidate, granted again, changes nothing here and its
    /// answer is never read there. Changes no message or role; the caller rewrites the durable hard
    /// state it mirrors alike.
    pub fn forget_whom_it_voted_for(&mut self) {
        let me = Some(self.config.id);
        let old = self.hard_state.voted_for;
        if old.is_none() || old == me {
            return;
        }
        self.hard_state.voted_for = me;
        if self.handed_out_hard_state.term == self.hard_state.term
            && self.handed_out_hard_state.voted_for == old
        {
            self.handed_out_hard_state.voted_for = me;
        }
    }

    /// Asks the voters whether they would vote for this node in the next term, without changing terms.
    fn become_pre_candidate(&mut self) {
        self.solo_win_index = None;
        self.role = Role::PreCandidate;
        self.forget_leader();
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
        self.solo_win_index = None;
        self.role = Role::Candidate;
        self.forget_leader();
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

    /// Won the election. A win that rests on remote votes has a durable term and vote (the vote
    /// requests left only once they were durable, see `campaign`), so the node takes office at once.
    /// A win by its own vote alone (a single voter) does not: a crash before the term is written would
    /// let the node win the same term again and lead it with a different log. Such a winner stays a
    /// candidate, appends the Noop it will lead with (the same entry, at the same index and term, if it
    /// wins this term again after a crash), and takes office in `on_persisted` once that entry, and with
    /// it the term and vote of the same `Ready`, is durable.
    fn become_leader(&mut self) {
        let remote_votes = self
            .votes
            .iter()
            .filter(|(id, granted)| **granted && **id != self.config.id)
            .count();
        if remote_votes > 0 {
            self.take_office(None);
            return;
        }
        if self.solo_win_index.is_none() {
            let index = self.log.last_index().next();
            self.log.append(Entry {
                term: self.hard_state.term,
                index,
                payload: EntryPayload::Noop,
            });
            self.solo_win_index = Some(index);
        }
    }

    /// A single voter's pending win (see `become_leader`): takes office once the Noop it appended as
    /// candidate is durable in the current term.
    pub(super) fn maybe_finish_solo_win(&mut self) {
        let Some(index) = self.solo_win_index else {
            return;
        };
        let durable = self.log.persisted_index() >= index
            && self.log.term(index) == Some(self.hard_state.term);
        if self.role == Role::Candidate && durable {
            self.take_office(Some(index));
        }
    }

    /// Takes over: fresh progress for every member, a Noop of the new term (so that entries of earlier
    /// terms can commit, Raft §5.4.2; `noop_index` when it is already in the log), and a first round of
    /// appends.
    fn take_office(&mut self, noop_index: Option<LogIndex>) {
        // Remote votes, or a durable Noop of this term, prove the term and vote are durable.
        self.leader_term_durable = true;
        self.solo_win_index = None;
        self.role = Role::Leader;
        self.leader = Some(self.config.id);
        self.votes.clear();
        self.transfer_target = None;
        self.election_elapsed_ticks = 0;
        self.heartbeat_elapsed_ticks = 0;
        let before_noop = match noop_index {
            Some(index) => index.prev(),
            None => self.log.last_index(),
        };
        self.progress = self
            .peers()
            .into_iter()
            .map(|id| (id, Progress::new(before_noop)))
            .collect();
        match noop_index {
            None => {
                self.append_own(EntryPayload::Noop);
            }
            Some(_) => {
                self.bcast_append(false);
                self.maybe_commit();
            }
        }
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
