//! `RawNode::step`: the entry point for peer messages. It applies the term rules first (Raft Figure 2
//! "All Servers", with the pre-vote and leader-lease refinements of the thesis §9.6 and etcd) and then
//! dispatches to election, replication or ReadIndex handling.
//!
//! Guarantees: a message with a newer term makes the node adopt that term before anything else, except
//! pre-votes (which never change terms) and vote requests ignored under a live leader's lease; a message
//! with an older term never changes state; a pre-vote, and under pre-vote or check-quorum an append or
//! heartbeat, gets an answer carrying the newer term (as in etcd; `stale_answer`).

use crate::raft::raw_node::RawNode;
use crate::raft::types::{Message, MessageBody, Role};

impl RawNode {
    /// Handles a message from a peer. Messages addressed to another node are ignored.
    pub fn step(&mut self, msg: Message) {
        if msg.to != self.config.id || msg.from == self.config.id {
            return;
        }
        if msg.term > self.hard_state.term {
            match &msg.body {
                MessageBody::PreVote { .. } if self.in_lease() => return,
                // A pre-vote changes no terms; a granted pre-vote answer carries the term we would run in.
                MessageBody::PreVote { .. } | MessageBody::PreVoteResponse { granted: true } => {}
                MessageBody::RequestVote {
                    leadership_transfer,
                    ..
                } => {
                    if self.in_lease() && !leadership_transfer {
                        return;
                    }
                    self.become_follower(msg.term, None);
                }
                MessageBody::AppendEntries { .. }
                | MessageBody::Heartbeat { .. }
                | MessageBody::InstallSnapshot { .. } => {
                    self.become_follower(msg.term, Some(msg.from))
                }
                _ => self.become_follower(msg.term, None),
            }
        } else if msg.term < self.hard_state.term {
            self.answer_stale(msg);
            return;
        }
        self.dispatch(msg);
    }

    /// Answers a request from an older term so that its sender learns the current term (a stale leader
    /// steps down, a stale pre-candidate stops).
    fn answer_stale(&mut self, msg: Message) {
        if let Some(body) = self.stale_answer(&msg.body) {
            self.send(msg.from, body, true);
        }
    }

    /// What this node answers to `request` when it comes from an older term (as etcd answers): None
    /// for no answer. The answer carries this node's term and depends on nothing else of its state
    /// (the model checker reads this to know which stale requests are dead).
    pub fn stale_answer(&self, request: &MessageBody) -> Option<MessageBody> {
        match request {
            // One answer for both (as etcd's empty MsgAppResp): it carries the newer term and nothing
            // else. A leader of that term (the sender, elected again) reads it as a heartbeat answer
            // without a read round: the member is alive; it learns nothing about the member's log, so
            // its progress is not moved (an answer echoing the stale append's index would send it
            // probing back for nothing). No read context: the answer is given in a newer term than
            // the request's, so it must not acknowledge any read round. Contexts restart at 0 when a
            // node restarts, and an echoed one could count as an ack of a later leadership's round of
            // the same number.
            MessageBody::AppendEntries { .. } | MessageBody::Heartbeat { .. }
                if self.config.check_quorum || self.config.pre_vote =>
            {
                Some(MessageBody::HeartbeatResponse { read_context: None })
            }
            MessageBody::PreVote { .. } => Some(MessageBody::PreVoteResponse { granted: false }),
            // Everything else is ignored, as etcd does. A stale candidate learns the newer term from
            // a message of that term (its leader and candidates reach every server) or, under
            // pre-vote, from the answer to its next pre-vote. Without pre-vote and check-quorum a
            // stale leader learns it the same way; under check-quorum it may not (a server in a
            // lease ignores newer vote requests), so its appends and heartbeats are answered.
            _ => None,
        }
    }

    /// Handles a message whose term is current (or a pre-vote message, see `step`).
    fn dispatch(&mut self, msg: Message) {
        let from = msg.from;
        let term = self.hard_state.term;
        match msg.body {
            MessageBody::PreVote {
                last_log_index,
                last_log_term,
            } => self.handle_pre_vote(from, msg.term, last_log_index, last_log_term),
            MessageBody::PreVoteResponse { granted } => {
                let for_our_round = if granted {
                    msg.term.0 == term.0 + 1
                } else {
                    msg.term == term
                };
                if for_our_round {
                    self.handle_vote_response(from, granted, true);
                }
            }
            MessageBody::RequestVote {
                last_log_index,
                last_log_term,
                ..
            } => self.handle_request_vote(from, last_log_index, last_log_term),
            MessageBody::RequestVoteResponse { granted } => {
                self.handle_vote_response(from, granted, false)
            }
            MessageBody::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => {
                self.accept_leader(msg.from);
                self.handle_append_entries(
                    from,
                    prev_log_index,
                    prev_log_term,
                    entries,
                    leader_commit,
                );
            }
            MessageBody::AppendEntriesResponse {
                success,
                match_index,
                conflict,
            } => {
                if self.role == Role::Leader {
                    self.handle_append_response(from, success, match_index, conflict);
                }
            }
            MessageBody::Heartbeat {
                leader_commit,
                read_context,
            } => {
                self.accept_leader(msg.from);
                self.handle_heartbeat(from, leader_commit, read_context);
            }
            MessageBody::HeartbeatResponse { read_context } => {
                if self.role == Role::Leader {
                    self.handle_heartbeat_response(from, read_context);
                }
            }
            MessageBody::TimeoutNow => self.handle_timeout_now(),
            MessageBody::InstallSnapshot {
                meta,
                offset,
                data,
                done,
            } => {
                self.accept_leader(msg.from);
                self.handle_install_snapshot(from, meta, offset, data, done);
            }
            MessageBody::InstallSnapshotResponse {
                last_included_index,
                next_offset,
                done,
            } => {
                if self.role == Role::Leader {
                    self.handle_install_snapshot_response(
                        from,
                        last_included_index,
                        next_offset,
                        done,
                    );
                }
            }
        }
    }

    /// A message that only the leader of the current term sends arrived from `leader`.
    fn accept_leader(&mut self, leader: crate::raft::types::NodeId) {
        match self.role {
            Role::Leader => panic!(
                "election safety violated: node {} leads term {} and so does {leader}",
                self.config.id, self.hard_state.term
            ),
            Role::Candidate | Role::PreCandidate => {
                let term = self.hard_state.term;
                self.become_follower(term, Some(leader));
            }
            Role::Follower | Role::Learner => {
                if self.leader != Some(leader) {
                    self.leader = Some(leader);
                    self.leader_match_index = crate::raft::types::LogIndex(0);
                }
            }
        }
        // Hearing from the leader restarts the election timer (and the lease).
        self.election_elapsed_ticks = 0;
    }
}
