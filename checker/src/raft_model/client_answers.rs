//! Answers delivered at once: an answer to a client that starts nothing new is delivered in the step
//! that sent it. That is a "not leader" answer (the client sends the same operation to every server
//! again; a retry is not a new invocation) and a reply to the client's last operation (the client is
//! done). A reply to an operation that is not the client's last one is left in flight, since its
//! delivery invokes the next operation and the time of an invocation matters to linearizability;
//! an answer the client no longer waits for is dead ([`reduction`](crate::raft_model::reduction)).
//! On every network.
//!
//! Why: after a leader applies a client's write, the reply sat in flight while the servers went on,
//! and every state they reached came twice, with the reply in flight and delivered (four times with
//! two clients).
//!
//! Why it is sound. Write `s ≼ t` when `t` is `s` after some of these deliveries. Nothing but the
//! client reads a message to a client, and nothing but the properties reads a client's state and
//! the clients' history.
//! 1. `t` is reached from `s` by real steps (the deliveries), so nothing is invented.
//! 2. Simulation: every step of `s` is matched from `t` by the same step, or by none when it is the
//!    delivery `t` already took. A server, a timer, a crash or another client's delivery reads
//!    nothing these deliveries changed. A "not leader" answer in `s` stands against the client's
//!    new requests in `t`, which can simply wait (the argument of
//!    [`refusals`](crate::raft_model::refusals)).
//! 3. Properties: only linearizability reads the history. A "not leader" answer records nothing. A
//!    reply to the last operation records its return earlier in `t` than in any run of `s` that
//!    delivers it later, and an earlier return only adds real-time constraints (an
//!    operation invoked after a return must come after it): a history with no linearization keeps
//!    having none when a return moves earlier, and a pending operation may still take effect or not
//!    in `s`, which its completed form in `t` only narrows. So a violation reachable from `s` is one
//!    reachable from `t`.

use crate::raft_model::actor::{ModelMsg, RaftActor};
use crate::raft_model::reduction;
use crate::raft_model::saturation::SystemAction;
use crate::raft_model::{ActorSystem, RaftModelState};
use stateright::actor::{ActorModelAction, Envelope};

/// The answers to clients in `state` that the model delivers at once (see the module docs), as
/// deliveries, in the network's order.
pub fn at_once(system: &ActorSystem, state: &RaftModelState) -> Vec<SystemAction> {
    state
        .network
        .iter_all()
        .filter(|env| starts_nothing(system, state, env))
        .map(|env| ActorModelAction::Deliver {
            src: env.src,
            dst: env.dst,
            msg: env.msg.clone(),
        })
        .collect()
}

/// Whether `env` is an answer its client waits for and whose delivery invokes no new operation.
fn starts_nothing(system: &ActorSystem, state: &RaftModelState, env: &Envelope<&ModelMsg>) -> bool {
    let Some(RaftActor::Client(client)) = system.actors.get(usize::from(env.dst)) else {
        return false;
    };
    let waited_for = !reduction::is_dead(state, env.src, env.dst, env.msg);
    waited_for
        && match env.msg {
            ModelMsg::NotLeader { .. } => true,
            ModelMsg::Reply { seq, .. } => usize::from(*seq) + 1 >= client.ops.len(),
            ModelMsg::Raft(_) | ModelMsg::Request { .. } => false,
        }
}
