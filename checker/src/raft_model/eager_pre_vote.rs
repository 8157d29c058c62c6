//! Leaderless followers campaign at once: with pre-vote on, on the saturated duplicating network, a
//! live follower that knows no leader, in a term below the bound, fires its election timer as part of
//! the step that left it so (the real `fire_election_timeout`: it becomes a pre-candidate and asks
//! for pre-votes). A lost pre-vote round then leads straight back to the same pre-candidate state,
//! so it is no step.
//!
//! Why: every leaderless follower could be either waiting (a follower) or campaigning (a
//! pre-candidate), and each server's choice multiplied the states of the others; in the deepest DFS
//! paths of the pre-vote configurations most steps were a follower starting a round or losing one.
//!
//! Why it is sound. Write `s ≼ t` when `t` is `s` with some leaderless followers replaced by the
//! pre-candidates their election timeouts make of them (same term, vote, log and everything else
//! but role and tally), and `t`'s network holding `s`'s and the pre-votes those timeouts sent.
//! 1. `t` is reached from `s` by real steps (the timeouts), so this model reaches only states that the
//!    model without the reduction reaches.
//! 2. Simulation: if `s ≼ t` and `s` steps to `s'`, then `t` reaches some `t'` with `s' ≼ t'` in
//!    zero or one step. A pre-candidate that knows no leader handles every input as a leaderless
//!    follower does, or ends in the same state: a timeout leaves it a pre-candidate of the same round
//!    (`s'` then has it as `t` has it); an AppendEntries, heartbeat or vote request of its term, or a
//!    message of a newer term, makes both the same follower (`become_follower` and `accept_leader`
//!    agree, timers are normalised in the model) with the same answers; a pre-vote request is answered
//!    alike (no leader, so no lease); a vote request of its own term is granted or refused alike (the
//!    rule reads the vote and the leader, not the role); a client is told "not leader" by both; a
//!    pre-vote answer is ignored by the follower (zero steps: `t' = t`); a crash keeps the same
//!    storage, term and log, and a restart rebuilds both alike. Every other actor gets the same
//!    inputs in `t` as in `s` (the extra pre-votes are inputs `s` can add by the timeouts), and the
//!    boundary holds in `t` whenever in `s`: the reduction only applies below the term bound, where a
//!    pre-candidate is within it ([`properties::campaign_term`](crate::raft_model::properties::campaign_term)).
//! 3. The properties read roles only as "leader or not" (Election Safety, Leader Completeness, the
//!    after-crash property), logs, applied entries, the clients' history and leaders' messages in
//!    flight, which `s ≼ t` keeps alike; so `s` and `t` have the same verdicts.
//!
//! So every state of the unreduced model is `≼` one this model visits, every violation shows there,
//! and nothing is reported that cannot happen. At the term bound a leaderless follower stays as it is
//! (its round would be outside the boundary). Not on the other network kinds: there the extra
//! pre-votes would be messages that the one-copy bound counts.

use crate::raft_model::actor::{ActorState, RaftTimer};
use crate::raft_model::saturation::SystemAction;
use crate::raft_model::{ModelConfig, RaftModelState};
use raftkv::raft::Role;
use stateright::actor::{ActorModelAction, Id};

/// The election timeouts the reduction fires in `state`: one per live, leaderless follower whose
/// term is below the bound and whose election timer is set, in actor order.
pub fn idle_followers(cfg: &ModelConfig, state: &RaftModelState) -> Vec<SystemAction> {
    if !cfg.pre_vote {
        return Vec::new();
    }
    (0..state.actor_states.len())
        .filter(|&index| {
            let ActorState::Server(server) = &*state.actor_states[index] else {
                return false;
            };
            let live = !state.crashed.get(index).copied().unwrap_or(true);
            let armed = state
                .timers_set
                .get(index)
                .is_some_and(|timers| timers.iter().any(|t| *t == RaftTimer::Election));
            live && armed
                && server.node.role() == Role::Follower
                && server.node.status().leader.is_none()
                && server.term().0 < cfg.max_term
        })
        .map(|index| ActorModelAction::Timeout(Id::from(index), RaftTimer::Election))
        .collect()
}

/// Whether the server the timeout `action` fired on became a pre-candidate (the reduction keeps a
/// timeout only when it did; a node that cannot campaign is left as it was).
pub fn started_a_round(state: &RaftModelState, action: &SystemAction) -> bool {
    let ActorModelAction::Timeout(id, _) = action else {
        return false;
    };
    matches!(
        state.actor_states.get(usize::from(*id)).map(|s| &**s),
        Some(ActorState::Server(server)) if server.node.role() == Role::PreCandidate
    )
}
