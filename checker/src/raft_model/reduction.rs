//! Messages in flight that the DFS checker need not tell apart. Dead messages: envelopes whose
//! delivery can never change any state, now or later. The symmetry representative leaves them out,
//! and the one-copy boundary ignores them, so states that differ only in dead messages are one state.
//! Stale requests (below): one stand-in per answer; a pre-vote whose sender reached its term
//! counts as one ([`pre_vote_round_over`]). Leader commit indexes the receiver has passed
//! ([`commit_is_moot`]), entries of an append the receiver holds ([`without_held_entries`]) and
//! read contexts of settled ReadIndex rounds ([`without_settled_read_context`]): left out. Vote
//! requests from candidates done with their term: one stand-in per receiver and body
//! ([`dead_votes`]).
//!
//! Why it is sound: a dead envelope's delivery is a no-op for its receiver (stateright then offers no
//! step at all, or one that only sends dead envelopes), and the reasons below are monotone, so it
//! stays dead: nothing reachable from a state depends on it, the properties do not read it (they read
//! no messages), and the boundary ignores it. Two states that differ only in dead envelopes thus have
//! the same futures and the same verdicts.
//! - A Raft message other than a request that the core answers when stale (PreVote always;
//!   AppendEntries and Heartbeat when the receiver runs pre-vote or check-quorum) whose term is below
//!   the receiver's current term: `RawNode::step` drops it without a state change
//!   (`RawNode::stale_answer` answers only those; a stale RequestVote is ignored, as in etcd). Terms
//!   never decrease, also across a crash (the term is persisted with every step). A granted pre-vote answer is also dead
//!   when its term is not above the receiver's: it only counts for a round in the term after the
//!   receiver's current one.
//! - An answer of the receiver's own term that it can never read: a vote answer at a server that is
//!   not a candidate, an append or heartbeat answer at a follower or pre-candidate, and either at a
//!   server that is down. `RawNode::step` counts votes only as a candidate and reads those answers
//!   only as the leader, and a server of term `t` that is not a candidate (or is below leadership)
//!   never becomes one in `t`: a candidacy moves to term `t + 1`, and a restart comes back as a
//!   follower of the term it had.
//! - A stale request (AppendEntries, Heartbeat) whose sender is at the model's term bound and can
//!   never read its answer: the answer carries the receiver's term, which cannot pass the bound, so
//!   it is of the sender's term or older, and the sender, below leadership, never becomes a leader
//!   within the bound (a candidacy moves past it). The delivery only sends that answer, which is
//!   dead by the rule above, so the state is the same up to dead envelopes. This is a reduction
//!   within the bounds, like the bounds themselves.
//! - A vote request of its receiver's term from a candidate done with it
//!   ([`dead_votes::done_with`]) once the receiver has voted in that term: the receiver refuses it
//!   (or grants it again to the same candidate) without a change, the vote stays cast until the
//!   receiver leaves the term (then the request is stale and ignored), and the answer is dead.
//! - A reply to a client for an operation before its current one, or to a client whose script is done:
//!   the client ignores it and its sequence number never goes back.
//!
//! Stale requests are one message per answer (duplicating network only). A request whose term is
//! below its receiver's (AppendEntries, Heartbeat, PreVote), or a pre-vote for the receiver's own term
//! (which the core never grants, [`answered_as_stale`]), stays so forever, and the core answers it
//! without a state change by a message that depends only on the request's sender and receiver, the
//! receiver's term at delivery and whether it is a pre-vote (an append and a heartbeat get the same
//! answer, `RawNode::stale_answer`). Two stale requests that agree on those are interchangeable now
//! and later, so [`canonical`] replaces each by one stand-in (a heartbeat or a pre-vote of term 0,
//! every other field zero), and the symmetry representative holds the set of stand-ins. On the
//! duplicating network a delivered message stays in flight, so only which classes are present
//! matters, not how many members they have (on the other networks each delivery consumes a copy, and
//! messages are left as they are). What the stale
//! requests no longer tell apart (which terms their senders led) the properties read from the ghost
//! state instead (Election Safety).
//!
//! Guarantees: [`is_dead`] is true only for envelopes of the kinds above; the test below checks the
//! Raft case against the real core for every message kind the model sends (it takes no snapshots).
//! [`canonical`] changes only requests answered as stale or from pre-vote rounds that are over, the
//! leader commit index and held entries of appends, the leader commit index of heartbeats, settled
//! read contexts, and the sender of vote requests from done candidates; the second test checks
//! that the core answers a request and its stand-in alike exactly when it is answered as stale, and
//! a workspace test checks over whole spaces that states merged by [`canonical`] have the same
//! futures.

use crate::raft_model::actor::{ActorState, ClientPhase, ModelMsg, ServerState};
use crate::raft_model::dead_votes;
use crate::raft_model::RaftModelState;
use raftkv::raft::{Entry, LogIndex, Message, MessageBody, Role, Term};
use stateright::actor::{Envelope, Id};
use std::borrow::Cow;
use std::sync::Arc;

/// Whether delivering `msg` from `src` to `dst` can never change any state (see the module docs).
pub fn is_dead(state: &RaftModelState, src: Id, dst: Id, msg: &ModelMsg) -> bool {
    let actor = |id: Id| state.actor_states.get(usize::from(id)).map(|s| &**s);
    is_dead_for(actor(src), actor(dst), msg)
}

fn is_dead_for(sender: Option<&ActorState>, receiver: Option<&ActorState>, msg: &ModelMsg) -> bool {
    let Some(receiver) = receiver else {
        return false;
    };
    match (receiver, msg) {
        (ActorState::Server(server), ModelMsg::Raft(m)) => {
            let term = server.term();
            // Only a candidate of the message's term reads a vote, and only its leader an append or
            // heartbeat answer; a server in that term that is past candidacy or below leadership
            // never will be (becoming a candidate moves to the next term), nor is one that is down
            // (it comes back as a follower of its term).
            let down = server.crashed_role.is_some();
            let never_candidate = down || server.role() != Role::Candidate;
            let never_leader = down || matches!(server.role(), Role::Follower | Role::PreCandidate);
            match &m.body {
                // A vote request of the receiver's term from a candidate done with it, once the
                // receiver has voted: refused, or granted again to the same candidate, with no
                // change either way, and the answer is dead (`dead_votes::done_with`).
                MessageBody::RequestVote { .. }
                    if m.term == term
                        && server.node.hard_state().voted_for.is_some()
                        && matches!(sender, Some(ActorState::Server(s)) if dead_votes::done_with(s, m.term)) =>
                {
                    true
                }
                // A stale request is dead if the core leaves it unanswered (`RawNode::stale_answer`)
                // or its answer is dead at its sender (`answer_is_dead_at_bound`).
                MessageBody::AppendEntries { .. }
                | MessageBody::Heartbeat { .. }
                | MessageBody::PreVote { .. }
                | MessageBody::RequestVote { .. } => {
                    m.term < term
                        && (server.node.stale_answer(&m.body).is_none()
                            || matches!(sender, Some(ActorState::Server(s)) if answer_is_dead_at_bound(s, m)))
                }
                MessageBody::PreVoteResponse { granted: true } => m.term <= term,
                MessageBody::RequestVoteResponse { .. } => {
                    m.term < term || (m.term == term && never_candidate)
                }
                MessageBody::AppendEntriesResponse { .. }
                | MessageBody::HeartbeatResponse { .. } => {
                    m.term < term || (m.term == term && never_leader)
                }
                _ => m.term < term,
            }
        }
        (ActorState::Client(client), ModelMsg::Reply { seq, .. } | ModelMsg::NotLeader { seq }) => {
            client.phase == ClientPhase::Done || *seq < client.seq
        }
        _ => false,
    }
}

/// The message that stands for `msg` to `dst` in the symmetry representative on the duplicating
/// network: the stand-in of its class if it is a stale request (see the module docs), else `msg`.
pub fn canonical<'a>(state: &RaftModelState, dst: Id, msg: &'a ModelMsg) -> Cow<'a, ModelMsg> {
    let receiver = state.actor_states.get(usize::from(dst)).map(|s| &**s);
    match (receiver, msg) {
        (Some(ActorState::Server(server)), ModelMsg::Raft(m))
            if answered_as_stale(server.term(), m) || pre_vote_round_over(state, m) =>
        {
            match stand_in(m) {
                Some(body) => Cow::Owned(ModelMsg::Raft(Arc::new(Message {
                    from: m.from,
                    to: m.to,
                    term: Term(0),
                    body,
                }))),
                None => Cow::Borrowed(msg),
            }
        }
        (Some(ActorState::Server(server)), ModelMsg::Raft(m)) => {
            let mut trimmed = without_moot_fields(server, m);
            if let Some(settled) =
                without_settled_read_context(state, server, trimmed.as_ref().unwrap_or(m))
            {
                trimmed = Some(settled);
            }
            if dead_votes::from_done_candidate(state, m) {
                // Sent by its receiver: one stand-in whoever sent it (see `dead_votes`).
                let mut anonymous = trimmed.unwrap_or_else(|| (**m).clone());
                anonymous.from = anonymous.to;
                trimmed = Some(anonymous);
            }
            match trimmed {
                Some(trimmed) => Cow::Owned(ModelMsg::Raft(Arc::new(trimmed))),
                None => Cow::Borrowed(msg),
            }
        }
        _ => Cow::Borrowed(msg),
    }
}

/// `m` without the fields that can never matter to `receiver` (None: every field may): the
/// entries of an append it holds and a leader commit index past the append's last entry
/// ([`without_held_entries`]), a leader commit index it has reached ([`commit_is_moot`]).
fn without_moot_fields(receiver: &ServerState, m: &Message) -> Option<Message> {
    if let Some(shorter) = without_held_entries(receiver, m) {
        return Some(without_moot_fields(receiver, &shorter).unwrap_or(shorter));
    }
    if !commit_is_moot(receiver, m) {
        return None;
    }
    let mut body = m.body.clone();
    if let MessageBody::AppendEntries { leader_commit, .. }
    | MessageBody::Heartbeat { leader_commit, .. } = &mut body
    {
        *leader_commit = LogIndex(0);
    }
    Some(Message {
        from: m.from,
        to: m.to,
        term: m.term,
        body,
    })
}

/// A heartbeat or heartbeat answer without its read context when that context can no longer
/// matter (None: it may, or there is none). The leader reads the context echoed back by an answer
/// only to acknowledge its read rounds up to that one (`RawNode::on_read_ack`); once it has no round
/// numbered that far pending, or no longer leads the message's term, an acknowledgement does
/// nothing and never will (`RawNode::read_round_is_settled`; an answer to a server that does not
/// lead its term is dead anyway), and a follower only echoes the context.
fn without_settled_read_context(
    state: &RaftModelState,
    receiver: &ServerState,
    m: &Message,
) -> Option<Message> {
    let (context, leader) = match &m.body {
        MessageBody::Heartbeat {
            read_context: Some(context),
            ..
        } => (*context, dead_votes::server_by_node(state, m.from)),
        MessageBody::HeartbeatResponse {
            read_context: Some(context),
        } => (*context, Some(receiver)),
        _ => return None,
    };
    let leads_the_term = |leader: &ServerState| {
        leader.crashed_role.is_none()
            && leader.node.role() == Role::Leader
            && leader.term() == m.term
    };
    if leader.is_some_and(|l| leads_the_term(l) && !l.node.read_round_is_settled(context)) {
        return None;
    }
    let mut body = m.body.clone();
    if let MessageBody::Heartbeat { read_context, .. }
    | MessageBody::HeartbeatResponse { read_context } = &mut body
    {
        *read_context = None;
    }
    Some(Message {
        from: m.from,
        to: m.to,
        term: m.term,
        body,
    })
}

/// An append of the receiver's term whose previous entry the receiver holds, without the first
/// entries it holds too and with its leader commit index capped at its last entry (None: there is
/// nothing to leave out). The two do the same at the receiver, now and later: the core checks the
/// previous entry (held: a match), merges the entries (the held ones change nothing), commits up to
/// the leader commit index capped at the append's last entry, which neither changes, and answers
/// success with that last index. A held entry stays held while the receiver is in the term: its
/// log changes then only by appends of the term's one leader, whose entries agree with the ones it
/// sent (Election Safety and Leader Append-Only, which no bug switch may break here), and it keeps
/// its log across a crash (persisted with every step); once the receiver is past the term, the
/// append is stale and its stand-in reads none of these fields.
fn without_held_entries(receiver: &ServerState, m: &Message) -> Option<Message> {
    let MessageBody::AppendEntries {
        prev_log_index,
        prev_log_term,
        entries,
        leader_commit,
    } = &m.body
    else {
        return None;
    };
    if m.term != receiver.term() || !receiver.node.config().bugs.0.is_empty() {
        return None;
    }
    let log = receiver.node.log_entries();
    let holds = |entry: &Entry| log.iter().any(|mine| mine == entry);
    let prev_held =
        prev_log_index.0 == 0 || receiver.node.log_term(*prev_log_index) == Some(*prev_log_term);
    if !prev_held {
        return None;
    }
    let held = entries.iter().take_while(|entry| holds(entry)).count();
    let last_new = LogIndex(prev_log_index.0 + entries.len() as u64);
    let capped = (*leader_commit).min(last_new);
    if held == 0 && capped == *leader_commit {
        return None;
    }
    let (prev_log_index, prev_log_term) = match held.checked_sub(1).and_then(|i| entries.get(i)) {
        Some(last_held) => (last_held.index, last_held.term),
        None => (*prev_log_index, *prev_log_term),
    };
    Some(Message {
        from: m.from,
        to: m.to,
        term: m.term,
        body: MessageBody::AppendEntries {
            prev_log_index,
            prev_log_term,
            entries: entries[held..].to_vec(),
            leader_commit: capped,
        },
    })
}

/// Whether the leader commit index that append or heartbeat `m` carries can never matter to
/// `receiver`: `m` is of the receiver's term, and the receiver, with no bug switched on, has
/// committed at least that far. The core reads `leader_commit` only to raise the receiver's commit
/// index to it (`advance_follower_commit`), and that index never decreases: it only rises, it is
/// persisted with every step (so a crash image has it too), and a restart recovers it, clamped into
/// a durable log that holds it (only a bug switch lets a leader truncate committed entries). When
/// the receiver moves to a later term, `m` becomes stale and its stand-in drops the field anyway.
fn commit_is_moot(receiver: &ServerState, m: &Message) -> bool {
    let leader_commit = match &m.body {
        MessageBody::AppendEntries { leader_commit, .. }
        | MessageBody::Heartbeat { leader_commit, .. } => *leader_commit,
        _ => return false,
    };
    leader_commit > LogIndex(0)
        && m.term == receiver.term()
        && receiver.node.config().bugs.0.is_empty()
        && leader_commit <= receiver.node.hard_state().commit_index
}

/// Whether a receiver in `receiver_term` answers request `m` as it answers a stale one, now and at
/// every later term: `m` is below that term, or it is a pre-vote for that term. The core grants a
/// pre-vote only for a term above the receiver's (`RawNode::handle_pre_vote`); otherwise it answers
/// by a rejection in its own term and changes nothing, the same message `RawNode::stale_answer` gives.
pub fn answered_as_stale(receiver_term: Term, m: &Message) -> bool {
    m.term < receiver_term
        || (m.term == receiver_term && matches!(m.body, MessageBody::PreVote { .. }))
}

/// Whether `m` is a pre-vote whose sender has reached the term it asks for: every answer is dead
/// at the sender, now and later (a grant carries that term, a refusal the receiver's, which is lower
/// or makes the request stale; the sender's term never decreases). It changes nothing at its
/// receiver, so it does what a stale pre-vote does, and stands in its class ([`canonical`]).
fn pre_vote_round_over(state: &RaftModelState, m: &Message) -> bool {
    matches!(m.body, MessageBody::PreVote { .. })
        && dead_votes::server_term(state, m.from).is_some_and(|term| term >= m.term)
}

/// The body of the stand-in for a stale request: only what its stale answer reads is kept.
fn stand_in(m: &Message) -> Option<MessageBody> {
    Some(match &m.body {
        // Both get the same stale answer (an empty heartbeat answer of the receiver's term).
        MessageBody::AppendEntries { .. } | MessageBody::Heartbeat { .. } => {
            MessageBody::Heartbeat {
                leader_commit: LogIndex(0),
                read_context: None,
            }
        }
        MessageBody::PreVote { .. } => MessageBody::PreVote {
            last_log_index: LogIndex(0),
            last_log_term: Term(0),
        },
        _ => return None,
    })
}

/// Whether the stale answer to request `m` is dead at its sender, whatever the receiver's term
/// when it answers: the sender is at the term bound, so every answer has a term at most its own
/// (the receiver's term cannot pass the bound either), and it can never read one of its own term:
/// it is below leadership, and within the bound it never becomes a leader (a candidacy moves past
/// the bound). A stale pre-vote is left alive: its rejection counts in a pre-vote round of the
/// sender's own term.
fn answer_is_dead_at_bound(sender: &ServerState, m: &Message) -> bool {
    sender.term() >= sender.term_bound
        && matches!(
            m.body,
            MessageBody::AppendEntries { .. } | MessageBody::Heartbeat { .. }
        )
        && matches!(sender.role(), Role::Follower | Role::PreCandidate)
}

/// Whether an owned envelope is dead given the actors' states (see [`is_dead`]).
pub fn is_dead_owned(actor_states: &[Arc<ActorState>], env: &Envelope<ModelMsg>) -> bool {
    let actor = |id: Id| actor_states.get(usize::from(id)).map(|s| &**s);
    is_dead_for(actor(env.src), actor(env.dst), &env.msg)
}

/// Whether `env` is dead in `state`.
pub fn is_dead_envelope(state: &RaftModelState, env: &Envelope<&ModelMsg>) -> bool {
    is_dead(state, env.src, env.dst, env.msg)
}

#[cfg(test)]
mod tests {
    use raftkv::raft::{
        ClusterConfig, Config, ConflictHint, Entry, EntryPayload, HardState, InitialState,
        LogIndex, Message, MessageBody, NodeId, RawNode, Term,
    };

    fn node_in_term(term: u64) -> RawNode {
        RawNode::new(Config::new(NodeId(1)), initial_in_term(term), 0).expect("valid node")
    }

    fn initial_in_term(term: u64) -> InitialState {
        InitialState {
            hard_state: HardState {
                term: Term(term),
                voted_for: None,
                commit_index: LogIndex(0),
            },
            entries: Vec::new(),
            snapshot_meta: None,
            bootstrap_config: ClusterConfig::with_voters([NodeId(1), NodeId(2), NodeId(3)]),
        }
    }

    /// Every kind the model sends that `is_dead` calls dead when stale, and the answers of the
    /// receiver's own term it calls dead, leave the real core unchanged.
    #[test]
    fn stale_non_requests_change_nothing_in_the_core() {
        let bodies = [
            MessageBody::PreVoteResponse { granted: false },
            MessageBody::PreVoteResponse { granted: true },
            MessageBody::RequestVoteResponse { granted: true },
            MessageBody::AppendEntriesResponse {
                success: true,
                match_index: LogIndex(0),
                conflict: None,
            },
            MessageBody::AppendEntriesResponse {
                success: false,
                match_index: LogIndex(0),
                conflict: Some(ConflictHint {
                    conflict_term: None,
                    first_index: LogIndex(1),
                }),
            },
            MessageBody::HeartbeatResponse {
                read_context: Some(1),
            },
            MessageBody::TimeoutNow,
            MessageBody::RequestVote {
                last_log_index: LogIndex(5),
                last_log_term: Term(2),
                leadership_transfer: true,
            },
        ];
        // Delivers `body` of `term` from node 2 to a follower in term 3 (classic Raft: without
        // pre-vote and check-quorum) and asserts nothing happens.
        let assert_no_effect_at = |classic: bool, term: u64, body: MessageBody| {
            let mut config = Config::new(NodeId(1));
            if classic {
                config.pre_vote = false;
                config.check_quorum = false;
            }
            let mut node = RawNode::new(config, initial_in_term(3), 0).expect("valid node");
            let before = node.clone();
            node.step(Message {
                from: NodeId(2),
                to: NodeId(1),
                term: Term(term),
                body: body.clone(),
            });
            assert_eq!(node, before, "{body:?} of term {term} changed the core");
            assert!(!node.has_ready(), "{body:?} of term {term} produced output");
        };
        let assert_no_effect =
            |term: u64, body: MessageBody| assert_no_effect_at(false, term, body);
        for body in bodies {
            assert_no_effect(2, body);
        }
        // Classic Raft does not answer a stale leader either.
        let leader_requests = [
            MessageBody::AppendEntries {
                prev_log_index: LogIndex(1),
                prev_log_term: Term(1),
                entries: Vec::new(),
                leader_commit: LogIndex(1),
            },
            MessageBody::Heartbeat {
                leader_commit: LogIndex(1),
                read_context: Some(2),
            },
        ];
        for body in leader_requests {
            assert_no_effect_at(true, 2, body);
        }
        // A granted pre-vote answer for the receiver's own term is not for its next round.
        assert_no_effect(3, MessageBody::PreVoteResponse { granted: true });
        // Answers of the receiver's own term that only a candidate (votes) or the leader (append and
        // heartbeat answers) reads, at a follower.
        let answers = [
            MessageBody::RequestVoteResponse { granted: true },
            MessageBody::AppendEntriesResponse {
                success: true,
                match_index: LogIndex(1),
                conflict: None,
            },
            MessageBody::HeartbeatResponse {
                read_context: Some(0),
            },
        ];
        for body in answers {
            assert_no_effect(3, body);
        }
        // A vote of the leader's own term, at the leader.
        let mut config = Config::new(NodeId(1));
        config.pre_vote = false;
        config.check_quorum = false;
        let mut node = RawNode::new(config, initial_in_term(3), 0).expect("valid node");
        node.fire_election_timeout();
        let vote = |from, node: &mut RawNode| {
            node.step(Message {
                from: NodeId(from),
                to: NodeId(1),
                term: Term(4),
                body: MessageBody::RequestVoteResponse { granted: true },
            })
        };
        vote(2, &mut node);
        assert_eq!(node.role(), raftkv::raft::Role::Leader);
        while node.has_ready() {
            node.ready();
        }
        let before = node.clone();
        vote(3, &mut node);
        assert_eq!(node, before, "a leader changed on a late vote");
        assert!(!node.has_ready());
    }

    /// A request is answered as stale exactly when the real core answers it like its stand-in and
    /// keeps its state: for every request kind answered when stale (a stale vote request is not, see
    /// the test above), whatever the request's term (below, at or above the receiver's), log
    /// position, entries, commit index or read context. Below the receiver's term every such kind
    /// is; at it, only a pre-vote. An append and a heartbeat share a stand-in, so they get one answer.
    #[test]
    fn a_stale_request_and_its_stand_in_get_the_same_answer() {
        let entry = |term, index| Entry {
            term: Term(term),
            index: LogIndex(index),
            payload: EntryPayload::Noop,
        };
        let bodies = [
            MessageBody::AppendEntries {
                prev_log_index: LogIndex(1),
                prev_log_term: Term(1),
                entries: vec![entry(2, 2), entry(2, 3)],
                leader_commit: LogIndex(2),
            },
            MessageBody::AppendEntries {
                prev_log_index: LogIndex(0),
                prev_log_term: Term(0),
                entries: Vec::new(),
                leader_commit: LogIndex(0),
            },
            MessageBody::Heartbeat {
                leader_commit: LogIndex(3),
                read_context: Some(4),
            },
            MessageBody::PreVote {
                last_log_index: LogIndex(2),
                last_log_term: Term(2),
            },
        ];
        let mut same_term_pre_votes = 0;
        for body in bodies {
            for (term, receiver_term) in [(1, 2), (2, 3), (1, 3), (2, 2), (3, 3), (3, 2)] {
                let request = Message {
                    from: NodeId(2),
                    to: NodeId(1),
                    term: Term(term),
                    body: body.clone(),
                };
                let as_stale = super::answered_as_stale(Term(receiver_term), &request);
                let stand_in = Message {
                    term: Term(0),
                    body: super::stand_in(&request).expect("a request has a stand-in"),
                    ..request.clone()
                };
                // The node after each delivery, its answer, and whether it kept its state.
                let outcomes: Vec<_> = [request.clone(), stand_in]
                    .into_iter()
                    .map(|message| {
                        let mut node = node_in_term(receiver_term);
                        let before = node.clone();
                        node.step(message);
                        let answer = node.ready();
                        let unchanged = node.hard_state() == before.hard_state()
                            && node.role() == before.role()
                            && node.log_entries() == before.log_entries();
                        (node, answer, unchanged)
                    })
                    .collect();
                let alike = outcomes[0] == outcomes[1] && outcomes[0].2;
                assert_eq!(
                    as_stale, alike,
                    "{body:?} of term {term} at a receiver in term {receiver_term}: answered as \
                     stale {as_stale}, answered like its stand-in without a change {alike}"
                );
                if !as_stale {
                    continue;
                }
                same_term_pre_votes += usize::from(term == receiver_term);
                let answer = &outcomes[0].1;
                let sent = answer.messages.len() + answer.persisted_messages.len();
                assert_eq!(sent, 1, "a stale {body:?} is answered once");
            }
        }
        assert_eq!(
            same_term_pre_votes, 2,
            "pre-votes for the receiver's term were compared"
        );
    }

    /// A follower in term 1 holding two entries of term 1, committed up to `commit`.
    fn follower_with_commit(commit: u64) -> crate::raft_model::actor::ServerState {
        use crate::raft_model::actor::{Durable, ServerState};
        let entries = (1..=2)
            .map(|index| Entry {
                term: Term(1),
                index: LogIndex(index),
                payload: EntryPayload::Noop,
            })
            .collect();
        let initial = InitialState {
            hard_state: HardState {
                term: Term(1),
                voted_for: None,
                commit_index: LogIndex(commit),
            },
            entries,
            ..initial_in_term(1)
        };
        let node = RawNode::new(Config::new(NodeId(1)), initial, 0).expect("valid node");
        ServerState {
            node,
            kv_value: 0,
            sessions: Default::default(),
            pending_writes: Default::default(),
            ready_reads: Default::default(),
            durable: Durable::default(),
            crashed_role: None,
            term_bound: Term(3),
            digest: Default::default(),
            id_free: Default::default(),
            renamed: Default::default(),
        }
    }

    /// An append or heartbeat of the receiver's term whose leader commit index the receiver has
    /// reached is moot: the core treats it and the same message without it alike. One that would
    /// raise the receiver's commit index is not moot, and the core does tell the two apart.
    #[test]
    fn a_passed_leader_commit_index_changes_nothing() {
        let bodies = |leader_commit: u64| {
            [
                // Matching the receiver's log up to 2, so that it may commit up to 2.
                MessageBody::AppendEntries {
                    prev_log_index: LogIndex(2),
                    prev_log_term: Term(1),
                    entries: Vec::new(),
                    leader_commit: LogIndex(leader_commit),
                },
                MessageBody::Heartbeat {
                    leader_commit: LogIndex(leader_commit),
                    read_context: None,
                },
            ]
        };
        let mut moot_seen = 0;
        for commit in 0..=2 {
            for leader_commit in 1..=2 {
                for (body, zeroed) in bodies(leader_commit).into_iter().zip(bodies(0)) {
                    let receiver = follower_with_commit(commit);
                    let message = Message {
                        from: NodeId(2),
                        to: NodeId(1),
                        term: Term(1),
                        body,
                    };
                    let moot = super::commit_is_moot(&receiver, &message);
                    assert_eq!(
                        moot,
                        leader_commit <= commit,
                        "{message:?} at commit {commit}"
                    );
                    let outcome = |message: Message| {
                        let mut node = receiver.node.clone();
                        node.step(message);
                        let answer = node.ready();
                        (node, answer)
                    };
                    let without = Message {
                        body: zeroed,
                        ..message.clone()
                    };
                    let trimmed = super::without_moot_fields(&receiver, &message);
                    assert_eq!(trimmed.is_some(), moot);
                    assert!(trimmed.is_none_or(|trimmed| trimmed == without));
                    let alike = outcome(message.clone()) == outcome(without);
                    assert_eq!(alike, moot, "{message:?} at commit {commit}");
                    moot_seen += usize::from(moot);
                }
            }
        }
        assert_eq!(moot_seen, 6);
    }
}
