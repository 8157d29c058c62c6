//! Timeouts the model takes at once, on the saturated duplicating network: an election timeout whose
//! only choice is "now or later" is fired as part of the step that made it so, with the real
//! `fire_election_timeout`, in two cases:
//! - **A follower campaigns** (pre-vote on): a live follower in a term below the bound becomes a
//!   pre-candidate and asks for pre-votes (`RawNode::timeout_loses_nothing`: unless it knows a
//!   leader and has not voted, in a cluster of more than 3 voters). A lost pre-vote round then leads
//!   straight back to the same pre-candidate state, so it is no step. A follower that knows a leader
//!   is thus never seen waiting in its lease below the bound: the lease only makes it ignore newer
//!   (pre-)vote requests, which keeps a leader in office (liveness) and which no safety argument
//!   of the core uses (reads go through ReadIndex, not leases).
//! - **A leader's passing check-quorum round** (check-quorum on, at most 3 servers): a live leader
//!   that has heard from a quorum since its last round runs the round, which passes and clears the
//!   flags of who was heard.
//!
//! Why: each of these servers could be in either state (waiting or campaigning; flags set or
//! cleared), and each one's choice multiplied the states of the others; in the deepest DFS paths of
//! the pre-vote configurations most steps were a follower starting or losing a round, or a leader
//! hearing from a follower and then clearing the flag in its next round.
//!
//! Why it is sound. Write `s ≼ t` when `t` is `s` after some of these timeouts (the servers that
//! fired them differ, everything else is alike, and `t`'s network holds `s`'s and the pre-votes
//! sent).
//! 1. `t` is reached from `s` by real steps (the timeouts), so this model reaches only states that the
//!    model without the reduction reaches.
//! 2. Simulation: if `s ≼ t` and `s` steps to `s'`, then `t` reaches some `t'` with `s' ≼ t'` in
//!    zero or one step (the same step). The timeout itself: `s'` is then `t` (zero steps). Any other
//!    input of a server that fired:
//!    - The pre-candidate handles it as the follower does, or ends in the same state, or the
//!      follower ignores it (zero steps: `t` is related to `s' = s`, the message stays in flight):
//!      - An AppendEntries or heartbeat of its term, or a message of a newer term that the follower
//!        takes, makes both the same follower (`become_follower` and `accept_leader` agree, timers
//!        are normalised in the model) with the same answers. What it commits is what the message
//!        says: an append up to its last entry, a heartbeat as far as the leader knows this log
//!        matches (`bcast_heartbeat`); the follower's own record of how far it matched is read
//!        only by `report_unreachable`, which the model never calls, and is normalised away.
//!      - A vote request of its term is granted or refused alike when the vote is cast (the vote
//!        decides). A follower that knows a leader and has not voted refuses one that the
//!        pre-candidate, knowing none, might grant; the only such request in a cluster of at most
//!        3 voters comes from the leader itself (the one other voter voted for the leader, a
//!        candidate for itself), whose refusal is dead at a leader. With more voters that case is
//!        not taken (`RawNode::timeout_loses_nothing`).
//!      - A pre-vote request, or a vote request of a newer term, is answered by the pre-candidate
//!        and ignored by a follower in its lease (zero steps); a follower without a leader answers
//!        alike. A pre-vote answer is ignored by the follower (zero steps).
//!      - A client is told "not leader" by both; a crash keeps the same storage.
//!    - The leader after its round differs only in the flags, which nothing but the round reads: an
//!      answer from a member marks it heard in both, and with at most 3 servers that member and the
//!      leader are a quorum, so the model normalises both to "all heard"
//!      (`RawNode::normalize_quorum_activity`): the same state. Anything else leaves the two related
//!      as before. (With more servers one answer after the round is not a quorum, the two would
//!      differ in the flags, and the argument does not hold: the reduction is off there.)
//!    - A crash keeps the same storage, term and log (and the crash image's role is read only as
//!      "leader or not"), and a restart rebuilds both alike.
//!
//!    Every other actor gets the same inputs in `t` as in `s` (the extra pre-votes are inputs `s`
//!    can add by the timeouts), and the boundary holds in `t` whenever in `s`: a follower's timeout
//!    is only taken below the term bound, where a pre-candidate is within it
//!    ([`properties::campaign_term`](crate::raft_model::properties::campaign_term)), and a
//!    leader's passing round changes no term or log.
//! 3. The properties read roles only as "leader or not" (Election Safety, Leader Completeness, the
//!    after-crash property), logs, applied entries, the clients' history and leaders' messages in
//!    flight, which `s ≼ t` keeps alike; so `s` and `t` have the same verdicts.
//!
//! So every state of the unreduced model is `≼` one this model visits, every violation shows there,
//! and nothing is reported that cannot happen. At the term bound a follower stays as it is
//! (its round would be outside the boundary). Not on the other network kinds: there the extra
//! pre-votes would be messages that the one-copy bound counts.

use crate::raft_model::actor::{ActorState, RaftTimer};
use crate::raft_model::saturation::SystemAction;
use crate::raft_model::{ModelConfig, RaftModelState};
use raftkv::raft::Role;
use stateright::actor::{ActorModelAction, Id};

/// The election timeouts the reduction fires in `state`, in actor order: one per live server whose
/// election timer is set and that is a follower below the term bound whose timeout loses nothing
/// (pre-vote on) or a leader whose check-quorum round would pass (at most 3 servers, see the module
/// docs).
pub fn eager_timeouts(cfg: &ModelConfig, state: &RaftModelState) -> Vec<SystemAction> {
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
            let node = &server.node;
            let campaigning_follower =
                cfg.pre_vote && node.timeout_loses_nothing() && server.term().0 < cfg.max_term;
            let passing_round = cfg.servers <= 3 && node.check_quorum_round_would_pass();
            live && armed && (campaigning_follower || passing_round)
        })
        .map(|index| ActorModelAction::Timeout(Id::from(index), RaftTimer::Election))
        .collect()
}

/// Whether the timeout `action` did what the reduction takes it for, judged from the server's role
/// before (`before`) and after (`after`): a follower became a pre-candidate, or a leader stayed
/// leader. Otherwise the model leaves the server as it was.
pub fn did_as_expected(
    before: &RaftModelState,
    after: &RaftModelState,
    action: &SystemAction,
) -> bool {
    let ActorModelAction::Timeout(id, _) = action else {
        return false;
    };
    let role = |state: &RaftModelState| match state.actor_states.get(usize::from(*id)).map(|s| &**s)
    {
        Some(ActorState::Server(server)) => Some(server.node.role()),
        _ => None,
    };
    matches!(
        (role(before), role(after)),
        (Some(Role::Follower), Some(Role::PreCandidate)) | (Some(Role::Leader), Some(Role::Leader))
    )
}
