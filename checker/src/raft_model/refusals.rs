//! Refusals are no step: a client request that a server refuses without changing anything (it is not
//! the leader, so the core rejects the proposal or the ReadIndex request and the server answers
//! `NotLeader`) is not delivered. The client would retry on every server at once, which puts the
//! state back as it was.
//!
//! Why: a client bouncing between servers that are not the leader was most of the deepest DFS
//! paths of the goal configuration (round 7), and each client's position in the bounce ("request to
//! every server" or "`NotLeader` from server s in flight") multiplied every state of the others.
//!
//! Why it is sound. Client messages are delivered at most once on every network, and a client sends
//! each attempt to every server; the first delivery takes the other copies out. Write F for the model
//! that delivers refusals and R for this one, and let α map a state to the same state with every
//! `NotLeader` answer to a refusal (the server then left unchanged) replaced by the client's request to
//! every server, which is what the client's retry sends.
//! 1. R reaches only states F reaches: R's steps are F's steps; it only leaves some out.
//! 2. Every state F reaches maps by α to a state R reaches: induction over F-steps. The refusal
//!    leaves α unchanged (the server, the clients and the history are as before; the request copies
//!    are replaced by the answer, which α maps back). Delivering that answer makes the client send
//!    the request to every server again, which is α of the state before. Every other step does the
//!    same in both: no other actor reads a client's messages, the server's state is the same, and a
//!    state with the request in flight can do all that one with the answer in flight can (the
//!    request can simply wait).
//! 3. The properties read server states, logs and the clients' history, never client messages in
//!    flight, so a state and its α-image have the same verdicts.
//!
//! A refusal that changes the server (none does today: the core's refused `propose` and
//! `read_index` leave it as it was) is delivered as usual, because the check compares states.
//!
//! With answers delivered at once ([`client_answers`](crate::raft_model::client_answers)), the
//! refusal's `NotLeader` is delivered in the same step and the client's retry puts the state back
//! as it was, so the space is the same either way; leaving the step out then only saves building
//! and fingerprinting that known state.

use crate::raft_model::actor::ModelMsg;
use crate::raft_model::saturation::SystemAction;
use crate::raft_model::RaftModelState;
use stateright::actor::ActorModelAction;

/// Whether `action` (from `last`, leading to `next`) delivered a client request that its server
/// refused without any other effect: the server's state, timers and the history are unchanged, and
/// the server answered `NotLeader`.
pub fn is_idle_refusal(
    last: &RaftModelState,
    action: &SystemAction,
    next: &RaftModelState,
) -> bool {
    let ActorModelAction::Deliver { src, dst, msg } = action else {
        return false;
    };
    let ModelMsg::Request { seq, .. } = msg else {
        return false;
    };
    let server = usize::from(*dst);
    let unchanged = last.actor_states.get(server) == next.actor_states.get(server)
        && last.timers_set.get(server) == next.timers_set.get(server)
        && last.history == next.history;
    unchanged
        && next.network.iter_all().any(|env| {
            env.src == *dst && env.dst == *src && *env.msg == ModelMsg::NotLeader { seq: *seq }
        })
}
