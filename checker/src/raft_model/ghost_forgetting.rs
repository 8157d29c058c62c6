//! Forgetting what the ghost state can no longer use. After every step the model rewrites two
//! records of each server's ghost (in its durable mirror and its storage alike, since a restart
//! reloads the latter), neither of which any protocol step reads:
//! - **who led a term** ([`Ghost::led_terms`], read only by Election Safety): the bit of term `t` is
//!   cleared once no server can still become leader in `t` ([`forget_dead_leaderships`]);
//! - **in which term an applied entry was known** (`AppliedEntry::known_in_term`, read only by
//!   Leader Completeness: a leader of a later term must hold the entry): every server's record of an
//!   entry gets the least term any server recorded for it, raised past the terms that have no leader
//!   now and never will ([`settle_known_terms`]).
//!
//! Why: who led the terms that are over, and in which of them each server learnt of an entry,
//! multiplied every later state. In a settled cluster (the same logs, roles and terms) a census of
//! the pre-vote configuration at term 3 / log 3 found up to 99 actor configurations that differed
//! only in these records and in the leader's view of its followers.
//!
//! Why it is sound. A server becomes leader in term `t` only as a candidate of `t` (`poll_votes`
//! after `campaign`, which moves it to its term + 1). Terms never decrease (they are persisted with
//! every step, and a restarted server comes back as a follower of its persisted term), so a server
//! whose term is above `t`, or is `t` while it is not a candidate, never leads `t`. Call `t` live
//! when some server is below `t`, or in `t` as a candidate ([`live_terms`]; a crashed server counts
//! by its crash image's term and role, which only keeps more terms live). A term that is not live
//! never becomes live again, and only a live term can get a new leader.
//! - Election Safety fails when two servers' records share a term. A bit of a term that is not live
//!   can never be shared again (that needs a new leader of the term), so clearing it changes no
//!   verdict, now or later. A leader keeps the bit of its own term even so: the shell records a
//!   leader's term at each of its steps, so clearing it would turn the leader's next step, however
//!   idle, into a change of state.
//! - Leader Completeness asks, of each record `(position, entry term, known in k)` and each leader
//!   of a term `T`, that `k >= T` or the leader's log holds the entry. Only the least `k` recorded
//!   for an entry constrains anything (the others ask less), and raising `k` past terms that have no
//!   leader now (a crashed one included, as the property counts it) and can get none later
//!   ([`led_or_live_terms`]) removes a demand on leaders that never exist. The set of such terms only
//!   grows, so the rewrite of a later state is consistent with this one's.
//! - Nothing else reads the two records: no protocol step (the shell compares applied entries by
//!   term only), no other property, not the boundary.
//!
//! So a state and its rewrite have the same verdicts and their steps lead to states with the same
//! rewrites: rewriting after every step makes them one state.
//!
//! Guarantees: [`forget`] changes only `led_terms` bits of terms that are not live (never a leader's
//! bit of its own term) and `known_in_term` values as described; every other field is left as it was.

use crate::raft_model::actor::{ActorState, AppliedEntry, Ghost};
use crate::raft_model::RaftModelState;
use raftkv::raft::{Role, Term};
use std::sync::Arc;

/// The terms some server can still become leader in, as a [`Ghost::led_terms`] bit set.
pub fn live_terms(state: &RaftModelState) -> u64 {
    let mut live = 0u64;
    for actor in &state.actor_states {
        if let ActorState::Server(server) = &**actor {
            let term = server.term();
            // Every term above `term`: the bits from `term + 1` up.
            live |= !below_and_at(term);
            if server.role() == Role::Candidate {
                live |= Ghost::term_bit(term);
            }
        }
    }
    live
}

/// The bits of every term up to and including `term`.
fn below_and_at(term: Term) -> u64 {
    let bit = Ghost::term_bit(term);
    if bit == 0 {
        // Past the set's 64 bits: every bit.
        !0
    } else {
        bit | (bit - 1)
    }
}

/// Both rewrites of the module docs.
pub fn forget(state: &mut RaftModelState) {
    forget_dead_leaderships(state);
    settle_known_terms(state);
}

/// Clears, in every server's ghost record (durable mirror and storage), the bits of terms that are
/// not live ([`live_terms`]), except a leader's bit of its own term.
pub fn forget_dead_leaderships(state: &mut RaftModelState) {
    let live = live_terms(state);
    for index in 0..state.actor_states.len() {
        let ActorState::Server(server) = &*state.actor_states[index] else {
            continue;
        };
        // A leader keeps the bit of its own term (the shell sets it again at the leader's next step).
        let keep = if server.role() == Role::Leader {
            live | Ghost::term_bit(server.term())
        } else {
            live
        };
        rewrite_ghost(
            state,
            index,
            |ghost| ghost.led_terms & !keep != 0,
            |ghost| ghost.led_terms &= keep,
        );
    }
}

/// Applies `edit` to server `index`'s ghost in its durable mirror and in its storage alike, when
/// `changes` says it changes either. The server is replaced by an edited clone, not changed in
/// place: a clone starts with empty hash memos.
fn rewrite_ghost(
    state: &mut RaftModelState,
    index: usize,
    changes: impl Fn(&Ghost) -> bool,
    edit: impl Fn(&mut Ghost),
) {
    let ActorState::Server(server) = &*state.actor_states[index] else {
        return;
    };
    let in_storage = state.actor_storages[index]
        .as_ref()
        .is_some_and(|d| changes(&d.ghost));
    if !changes(&server.durable.ghost) && !in_storage {
        return;
    }
    let mut fresh = (**server).clone();
    edit(&mut fresh.durable.ghost);
    state.actor_states[index] = Arc::new(ActorState::Server(Box::new(fresh)));
    if let Some(durable) = state.actor_storages[index].as_mut() {
        edit(&mut durable.ghost);
    }
}

/// The terms that have or may yet have a leader: the live terms and the terms of current leaders
/// (a crashed server counts by its crash image's role, as the properties count it).
pub fn led_or_live_terms(state: &RaftModelState) -> u64 {
    let mut terms = live_terms(state);
    for actor in &state.actor_states {
        if let ActorState::Server(server) = &**actor {
            if server.role() == Role::Leader {
                terms |= Ghost::term_bit(server.term());
            }
        }
    }
    terms
}

/// `known` raised past every term that has no leader now and never will (`relevant` is
/// [`led_or_live_terms`]).
pub fn settled(known: Term, relevant: u64) -> Term {
    let mut term = known;
    while term.0 < 63 && relevant & Ghost::term_bit(Term(term.0 + 1)) == 0 {
        term = Term(term.0 + 1);
    }
    term
}

/// Rewrites every applied entry's `known_in_term` in every server's ghost (mirror and storage) to
/// the least one any server recorded for that entry, raised by [`settled`].
pub fn settle_known_terms(state: &mut RaftModelState) {
    let relevant = led_or_live_terms(state);
    let mut least: Vec<Vec<(Term, Term)>> = Vec::new();
    for actor in &state.actor_states {
        if let ActorState::Server(server) = &**actor {
            for (position, entry) in server.durable.ghost.applied.iter().enumerate() {
                if least.len() <= position {
                    least.resize(position + 1, Vec::new());
                }
                match least[position].iter_mut().find(|(t, _)| *t == entry.term) {
                    Some((_, k)) => *k = (*k).min(entry.known_in_term),
                    None => least[position].push((entry.term, entry.known_in_term)),
                }
            }
        }
    }
    let want = |position: usize, entry: &AppliedEntry| {
        let k = least[position]
            .iter()
            .find(|(t, _)| *t == entry.term)
            .map_or(entry.known_in_term, |(_, k)| *k);
        settled(k, relevant)
    };
    for index in 0..state.actor_states.len() {
        rewrite_ghost(
            state,
            index,
            |ghost| {
                ghost
                    .applied
                    .iter()
                    .enumerate()
                    .any(|(p, e)| e.known_in_term != want(p, e))
            },
            |ghost| {
                for (p, e) in ghost.applied.iter_mut().enumerate() {
                    e.known_in_term = want(p, e);
                }
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft_model::ModelConfig;
    use raftkv::raft::{ClusterConfig, HardState, InitialState, LogIndex, NodeId, RawNode};
    use stateright::Model;

    /// The initial state of 3 servers and no clients, with server `i` given `term` and `role`.
    fn cluster(setup: &[(u64, Role)]) -> RaftModelState {
        let model = ModelConfig {
            clients: 0,
            ..ModelConfig::default()
        }
        .into_model()
        .expect("valid configuration");
        let mut state = model.init_states().remove(0);
        for (index, (term, role)) in setup.iter().enumerate() {
            let ActorState::Server(server) = &*state.actor_states[index] else {
                panic!("servers come first");
            };
            let mut server = server.clone();
            let initial = InitialState {
                hard_state: HardState {
                    term: Term(*term),
                    voted_for: None,
                    commit_index: LogIndex(0),
                },
                entries: Vec::new(),
                snapshot_meta: None,
                bootstrap_config: ClusterConfig::with_voters([NodeId(1), NodeId(2), NodeId(3)]),
            };
            server.node =
                RawNode::new(server.node.config().clone(), initial, 0).expect("valid node");
            // The role as a crash image shows it: what `ServerState::role` reads first.
            server.crashed_role = Some(*role);
            state.actor_states[index] = Arc::new(ActorState::Server(server));
        }
        state
    }

    fn ghost(state: &RaftModelState, index: usize) -> &Ghost {
        match &*state.actor_states[index] {
            ActorState::Server(server) => &server.durable.ghost,
            ActorState::Client(_) => panic!("a server"),
        }
    }

    fn edit_ghost(state: &mut RaftModelState, index: usize, edit: impl Fn(&mut Ghost)) {
        let ActorState::Server(server) = &*state.actor_states[index] else {
            panic!("a server");
        };
        let mut server = server.clone();
        edit(&mut server.durable.ghost);
        state.actor_states[index] = Arc::new(ActorState::Server(server));
        if let Some(durable) = state.actor_storages[index].as_mut() {
            edit(&mut durable.ghost);
        }
    }

    #[test]
    fn a_term_is_live_while_some_server_is_below_it_or_a_candidate_in_it() {
        let bit = |t| Ghost::term_bit(Term(t));
        let state = cluster(&[
            (3, Role::Follower),
            (3, Role::Candidate),
            (3, Role::Follower),
        ]);
        let live = live_terms(&state);
        assert_eq!(live & (bit(1) | bit(2)), 0, "every server is at 3");
        assert_ne!(live & bit(3), 0, "server 1 is a candidate in 3");
        assert_ne!(live & bit(4), 0, "every server is below 4");
        let state = cluster(&[
            (2, Role::Follower),
            (3, Role::Follower),
            (3, Role::Follower),
        ]);
        assert_ne!(live_terms(&state) & bit(3), 0, "server 0 is below 3");
        let state = cluster(&[(3, Role::Leader), (3, Role::Follower), (3, Role::Follower)]);
        assert_eq!(
            live_terms(&state) & bit(3),
            0,
            "a leader's term is not live"
        );
        assert_ne!(led_or_live_terms(&state) & bit(3), 0, "but it is led");
    }

    #[test]
    fn only_leaderships_nobody_can_repeat_are_forgotten() {
        let bit = |t| Ghost::term_bit(Term(t));
        let mut state = cluster(&[(3, Role::Leader), (3, Role::Follower), (2, Role::Follower)]);
        edit_ghost(&mut state, 0, |g| g.led_terms = bit(1) | bit(3));
        edit_ghost(&mut state, 1, |g| g.led_terms = bit(2));
        forget_dead_leaderships(&mut state);
        assert_eq!(
            ghost(&state, 0).led_terms,
            bit(3),
            "term 1 is over; the leader keeps 3"
        );
        assert_eq!(
            ghost(&state, 1).led_terms,
            0,
            "term 2: server 2 is in it, not a candidate"
        );
        let mut state = cluster(&[
            (2, Role::Follower),
            (2, Role::Candidate),
            (2, Role::Follower),
        ]);
        edit_ghost(&mut state, 0, |g| g.led_terms = bit(1) | bit(2));
        forget_dead_leaderships(&mut state);
        assert_eq!(
            ghost(&state, 0).led_terms,
            bit(2),
            "term 2 has a candidate; term 1 nobody can lead"
        );
        let storage = state.actor_storages[0].as_ref().map(|d| d.ghost.led_terms);
        assert!(
            storage.is_none() || storage == Some(bit(2)),
            "storage alike"
        );
    }

    #[test]
    fn a_known_term_is_the_least_recorded_raised_past_terms_without_leaders() {
        let entry = |known| AppliedEntry {
            term: Term(1),
            known_in_term: Term(known),
        };
        // Everyone is in term 3 and server 0 leads it: terms 1 and 2 have no leader, now or later.
        let mut state = cluster(&[(3, Role::Leader), (3, Role::Follower), (3, Role::Follower)]);
        edit_ghost(&mut state, 1, |g| g.applied = vec![entry(1)]);
        edit_ghost(&mut state, 2, |g| g.applied = vec![entry(3)]);
        settle_known_terms(&mut state);
        assert_eq!(
            ghost(&state, 1).applied,
            vec![entry(2)],
            "raised to just below 3"
        );
        assert_eq!(
            ghost(&state, 2).applied,
            vec![entry(2)],
            "the least of the two"
        );
        // A server still in term 1 may lead term 2: nothing is raised past it.
        let mut state = cluster(&[(3, Role::Leader), (3, Role::Follower), (1, Role::Follower)]);
        edit_ghost(&mut state, 1, |g| g.applied = vec![entry(1)]);
        settle_known_terms(&mut state);
        assert_eq!(ghost(&state, 1).applied, vec![entry(1)]);
        assert_eq!(settled(Term(1), !0), Term(1));
        assert_eq!(settled(Term(1), Ghost::term_bit(Term(4))), Term(3));
    }
}
