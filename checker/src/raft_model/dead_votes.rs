//! Votes nobody can read. After every step the model forgets for whom a server voted once that
//! candidate can never read the vote (the vote then reads as one for the voter itself), and the
//! symmetry representative holds a vote request from such a candidate as one stand-in per receiver
//! and body, whoever sent it ([`crate::raft_model::reduction::canonical`]).
//!
//! Why: a server that voted in a term keeps the candidate's id for the rest of the term, and the
//! requests of a candidate that has since left the term stay in flight. Which server campaigned in a
//! term that is over is history that no later step reads, but it told apart states that behave
//! alike.
//!
//! Why it is sound. Call candidate `Y` done with term `t` ([`done_with`]) when it is above `t`, or in
//! `t` and not a candidate, or down: a candidacy moves to the next term, terms never decrease (they
//! are persisted with every step), and a restart comes back as a follower. A candidate done with `t`
//! never reads an answer of term `t` again (`reduction` calls such answers dead).
//! - A vote of term `t` for a done candidate reads, after `RawNode::forget_whom_it_voted_for`, as
//!   one for the voter itself. The core reads `voted_for` only to decide a vote request (granted if
//!   it names the requester, or if there is no vote and no known leader); the voter never gets a
//!   request from itself; a request of `t` from the done candidate, granted again before the
//!   rewrite and refused after, changes nothing either way (the vote stays cast, the model's timers
//!   hold no tick counts) and its answer is dead. Everything else reads only whether there is a
//!   vote, and no property reads votes.
//! - A vote request of term `t` from a done candidate, at a receiver not above `t`, does what any
//!   request of the same term and body does: the receiver moves to `t` and grants it or not by its
//!   log, its lease and whether it voted, none of which names the sender; a vote it grants is
//!   forgotten as above, and the answer is dead. So such requests to one receiver are
//!   interchangeable, and the stand-in names the receiver as its sender (no real message does).
//!
//! A state and its rewrite thus have the same verdicts, and their steps lead to states with the same
//! rewrites: rewriting after every step makes them one state.
//!
//! Guarantees: [`forget`] changes only `voted_for` in hard states (the core's, the durable mirror,
//! the storage) that name a candidate done with that hard state's term, to the voter itself; every
//! other field is left as it was.

use crate::raft_model::actor::{actor_of, ActorState, ServerState};
use crate::raft_model::RaftModelState;
use raftkv::raft::{Message, MessageBody, NodeId, Role, Term};
use std::sync::Arc;

/// Whether `candidate` can never again read an answer to its vote request of `term`.
pub fn done_with(candidate: &ServerState, term: Term) -> bool {
    candidate.term() > term
        || candidate.crashed_role.is_some()
        || candidate.node.role() != Role::Candidate
}

/// The server state of the actor with Raft id `node`, if it is a server.
pub fn server_by_node(state: &RaftModelState, node: NodeId) -> Option<&ServerState> {
    match &**state.actor_states.get(usize::from(actor_of(node)))? {
        ActorState::Server(server) => Some(server),
        ActorState::Client(_) => None,
    }
}

/// The current term of server `node` (its crash image's while it is down).
pub fn server_term(state: &RaftModelState, node: NodeId) -> Option<Term> {
    server_by_node(state, node).map(ServerState::term)
}

/// Whether `m` is a vote request from a candidate done with its term.
pub fn from_done_candidate(state: &RaftModelState, m: &Message) -> bool {
    matches!(m.body, MessageBody::RequestVote { .. })
        && server_by_node(state, m.from).is_some_and(|candidate| done_with(candidate, m.term))
}

/// Rewrites every vote for a done candidate as a vote for the voter itself (see the module docs).
pub fn forget(state: &mut RaftModelState) {
    for index in 0..state.actor_states.len() {
        let ActorState::Server(voter) = &*state.actor_states[index] else {
            continue;
        };
        let me = voter.node.config().id;
        let hard_state = voter.node.hard_state();
        let term = hard_state.term;
        let Some(candidate) = hard_state.voted_for.filter(|c| *c != me) else {
            continue;
        };
        if !server_by_node(state, candidate).is_some_and(|c| done_with(c, term)) {
            continue;
        }
        // An edited clone, not a change in place: a clone starts with empty hash memos.
        let mut fresh = (**voter).clone();
        fresh.node.forget_whom_it_voted_for();
        let storage = state.actor_storages[index].as_mut();
        for durable in std::iter::once(&mut fresh.durable).chain(storage) {
            let hard = &mut durable.hard_state;
            if hard.term == term && hard.voted_for == Some(candidate) {
                hard.voted_for = Some(me);
            }
        }
        state.actor_states[index] = Arc::new(ActorState::Server(Box::new(fresh)));
    }
}
