//! Dead messages: envelopes in flight whose delivery can never change any state, now or later. The
//! symmetry representative leaves them out, and the one-copy boundary ignores them, so states that
//! differ only in dead messages are one state for the DFS checker.
//!
//! Why it is sound: a dead envelope's delivery is a no-op for its receiver (stateright then offers no
//! step at all), and the reasons below are monotone, so it stays dead: nothing reachable from a state
//! depends on it, the properties do not read it (Election Safety reads only leader requests, which are
//! never dead here), and the boundary ignores it. Two states that differ only in dead envelopes thus
//! have the same futures and the same verdicts.
//! - A Raft message other than a request that the core answers when stale (AppendEntries, Heartbeat,
//!   PreVote, RequestVote) whose term is below the receiver's current term: `RawNode::step` drops it
//!   without a state change (`answer_stale` only answers those four requests). Terms never decrease,
//!   also across a crash (the term is persisted with every step). A granted pre-vote answer is also dead
//!   when its term is not above the receiver's: it only counts for a round in the term after the
//!   receiver's current one.
//! - A reply to a client for an operation before its current one, or to a client whose script is done:
//!   the client ignores it and its sequence number never goes back.
//!
//! Guarantees: [`is_dead`] is true only for envelopes of the kinds above; the test below checks the
//! Raft case against the real core for every message kind the model sends (it takes no snapshots).

use crate::raft_model::actor::{ActorState, ClientPhase, ModelMsg};
use crate::raft_model::RaftModelState;
use raftkv::raft::MessageBody;
use stateright::actor::{Envelope, Id};
use std::sync::Arc;

/// Whether delivering `msg` to `dst` can never change any state (see the module docs).
pub fn is_dead(state: &RaftModelState, dst: Id, msg: &ModelMsg) -> bool {
    is_dead_for(state.actor_states.get(usize::from(dst)).map(|s| &**s), msg)
}

fn is_dead_for(receiver: Option<&ActorState>, msg: &ModelMsg) -> bool {
    let Some(receiver) = receiver else {
        return false;
    };
    match (receiver, msg) {
        (ActorState::Server(server), ModelMsg::Raft(m)) => {
            let term = server.term();
            match &m.body {
                MessageBody::AppendEntries { .. }
                | MessageBody::Heartbeat { .. }
                | MessageBody::PreVote { .. }
                | MessageBody::RequestVote { .. } => false,
                MessageBody::PreVoteResponse { granted: true } => m.term <= term,
                _ => m.term < term,
            }
        }
        (ActorState::Client(client), ModelMsg::Reply { seq, .. } | ModelMsg::NotLeader { seq }) => {
            client.phase == ClientPhase::Done || *seq < client.seq
        }
        _ => false,
    }
}

/// Whether an owned envelope is dead given the actors' states (see [`is_dead`]).
pub fn is_dead_owned(actor_states: &[Arc<ActorState>], env: &Envelope<ModelMsg>) -> bool {
    is_dead_for(
        actor_states.get(usize::from(env.dst)).map(|s| &**s),
        &env.msg,
    )
}

/// Whether `env` is dead in `state`.
pub fn is_dead_envelope(state: &RaftModelState, env: &Envelope<&ModelMsg>) -> bool {
    is_dead(state, env.dst, env.msg)
}

#[cfg(test)]
mod tests {
    use raftkv::raft::{
        ClusterConfig, Config, ConflictHint, HardState, InitialState, LogIndex, Message,
        MessageBody, NodeId, RawNode, Term,
    };

    fn node_in_term(term: u64) -> RawNode {
        let initial = InitialState {
            hard_state: HardState {
                term: Term(term),
                voted_for: None,
                commit_index: LogIndex(0),
            },
            entries: Vec::new(),
            snapshot_meta: None,
            bootstrap_config: ClusterConfig::with_voters([NodeId(1), NodeId(2), NodeId(3)]),
        };
        RawNode::new(Config::new(NodeId(1)), initial, 0).expect("valid node")
    }

    /// Every kind the model sends that `is_dead` calls dead when stale leaves the real core unchanged.
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
        ];
        for body in bodies {
            let mut node = node_in_term(3);
            let before = node.clone();
            node.step(Message {
                from: NodeId(2),
                to: NodeId(1),
                term: Term(2),
                body: body.clone(),
            });
            assert_eq!(node, before, "a stale {body:?} changed the core");
            assert!(!node.has_ready(), "a stale {body:?} produced output");
        }
        // A granted pre-vote answer for the receiver's own term is not for its next round.
        let mut node = node_in_term(3);
        let before = node.clone();
        node.step(Message {
            from: NodeId(2),
            to: NodeId(1),
            term: Term(3),
            body: MessageBody::PreVoteResponse { granted: true },
        });
        assert_eq!(node, before);
    }
}
