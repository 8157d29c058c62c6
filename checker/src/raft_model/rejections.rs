//! Vote rejections count when they lose the round: on the saturated duplicating network, the model
//! delivers a rejection to a pre-candidate or candidate only together with enough other rejections
//! to lose its round (the real core counts them one by one and steps down); a rejection that would
//! only be tallied is no step.
//!
//! Why: a (pre-)candidate's tally of rejections is state that nothing outside the election reads, and
//! each partial tally multiplied every state of the other servers (in the deepest DFS paths of the
//! pre-vote configurations, most steps only changed a tally). With three servers a round is lost by
//! two rejections and won by one grant, so the only partial tallies were "one of the two said no".
//!
//! Why it is sound (the duplicating network, where a delivered message stays in flight until it is
//! dead). Let α map a state to the same state with every rejection dropped from every tally (grants
//! are kept). Write F for the model that delivers rejections one at a time and R for this one.
//! 1. R reaches only states F reaches: R's steps are F's steps, except that a rejection which would
//!    only be tallied is not delivered (an F-path that leaves out that delivery exists, because the
//!    delivery sends nothing and changes only the tally, which only later vote answers read; those are
//!    treated the same way) and a losing set is delivered as consecutive F-steps.
//! 2. Every state F reaches maps by α to a state R reaches: induction over F-steps. Tallying a
//!    rejection leaves α unchanged. A rejection that loses the round in F (its sender and the tallied
//!    ones form a losing set) is a losing set in R too: the tallied rejections were delivered before,
//!    so they are still in flight (a countable rejection carries the receiver's own term, and the
//!    receiver's term has not changed, or the tally would have been reset), and R delivers the set.
//!    Every other step does the same in both (no handler but the tally's reads rejections: answers,
//!    sends, purity and deadness of messages do not depend on them; a restart forgets the tally). A
//!    grant that F ignores because the same voter's rejection was tallied first counts in R; that
//!    extra behaviour of R is an F-behaviour by 1.
//! 3. The properties do not read tallies, so a state and its α-image have the same verdicts.
//!
//! On the other network kinds a delivered rejection is gone, so the reduction does not apply there
//! (and R would lose behaviours); with saturation off it is off too (the unreduced model).

use crate::raft_model::actor::{ActorState, ModelMsg};
use crate::raft_model::saturation::SystemAction;
use crate::raft_model::RaftModelState;
use raftkv::raft::{MessageBody, Role};
use stateright::actor::{ActorModelAction, Envelope, Id};

/// Whether `msg` to `dst` is a rejection that the receiver's current round would count: a pre-vote
/// or vote "no" in the receiver's own term, to a live pre-candidate or candidate of that kind.
pub fn is_countable_rejection(state: &RaftModelState, dst: Id, msg: &ModelMsg) -> bool {
    let index = usize::from(dst);
    if state.crashed.get(index).copied().unwrap_or(true) {
        return false;
    }
    let (Some(ActorState::Server(server)), ModelMsg::Raft(m)) =
        (state.actor_states.get(index).map(|s| &**s), msg)
    else {
        return false;
    };
    let role = server.node.role();
    let expected = match m.body {
        MessageBody::PreVoteResponse { granted: false } => Role::PreCandidate,
        MessageBody::RequestVoteResponse { granted: false } => Role::Candidate,
        _ => return false,
    };
    role == expected && m.term == server.term()
}

/// The countable rejection `action` delivers, if it is one.
pub fn countable_rejection(
    state: &RaftModelState,
    action: &SystemAction,
) -> Option<Envelope<ModelMsg>> {
    match action {
        ActorModelAction::Deliver { src, dst, msg } if is_countable_rejection(state, *dst, msg) => {
            Some(Envelope {
                src: *src,
                dst: *dst,
                msg: msg.clone(),
            })
        }
        _ => None,
    }
}

/// The other countable rejections in flight to the receiver of `first`, one per sender (a voter
/// answers a round once in a term with the same message), ordered by sender: the deliveries that may
/// complete a losing set with `first`.
pub fn companions(state: &RaftModelState, first: &Envelope<ModelMsg>) -> Vec<SystemAction> {
    let mut others: Vec<Envelope<ModelMsg>> = state
        .network
        .iter_all()
        .filter(|env| {
            env.dst == first.dst
                && env.src != first.src
                && is_countable_rejection(state, env.dst, env.msg)
        })
        .map(|env| env.to_cloned_msg())
        .collect();
    others.sort_by(|a, b| (a.src, &a.msg).cmp(&(b.src, &b.msg)));
    others.dedup_by_key(|env| env.src);
    others
        .into_iter()
        .map(|env| ActorModelAction::Deliver {
            src: env.src,
            dst: env.dst,
            msg: env.msg,
        })
        .collect()
}

/// Whether the receiver of `first` has left the round it was in when `first` was sent to it (it lost:
/// it is no longer a pre-candidate or candidate of that term).
pub fn round_ended(before: &RaftModelState, after: &RaftModelState, dst: Id) -> bool {
    let role_term = |state: &RaftModelState| match state.actor_states.get(usize::from(dst)) {
        Some(actor) => match &**actor {
            ActorState::Server(server) => Some((server.node.role(), server.term())),
            ActorState::Client(_) => None,
        },
        None => None,
    };
    role_term(before) != role_term(after)
}
