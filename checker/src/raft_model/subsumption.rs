//! Subsumption: on the saturated duplicating network, the DFS checker skips a state whose messages in
//! flight are a subset of those of a state it has already recorded with the same everything else,
//! and whose run has had at least as many restarts (so no more crash budget left).
//!
//! Why it is sound. Write `s ⊑ t` when `s` and `t` agree on everything but the network and the
//! run's restart count (actor states, timers, storages, crash flags, random choices, the clients'
//! history), `net(s) ⊆ net(t)` and `restarts(t) ≤ restarts(s)`. This is
//! [`saturation`](crate::raft_model::saturation)'s relation plus the budget, and its argument carries
//! over: the restart count is read only by the boundary, which allows a crash in `t` whenever it
//! allows one in `s` (a restart adds one to both counts, so the order is kept), and by no property.
//! 1. Simulation: if `s ⊑ t` and an action takes `s` to `s'`, the same action takes `t` to some `t'`
//!    with `s' ⊑ t'`, and the model's reductions keep the relation: saturation's closure takes in `t'`
//!    every pure step it takes in `s'` (purity and outputs depend only on the receiver), dead
//!    envelopes and stand-ins depend only on the actors, a set of rejections that loses a round in
//!    `s'` is in flight in `t'`, and eager timeouts and refusals read only the actors.
//! 2. Properties and the boundary read only what `s` and `t` share (on this network the boundary
//!    reads no messages; Election Safety reads the ghost state), so a violation in `s` is one in `t`,
//!    and a "sometimes" witness reachable from `s` has a counterpart reachable from `t`.
//! 3. So if `t` is explored, skipping `s` loses nothing: by induction over paths from `s`, every
//!    state reachable from `s` is `⊑` some state the checker records, which is explored.
//!
//! Every state the checker records is explored (stateright pushes it, or a state of its symmetry
//! class it already holds) unless a state recorded after it covers it (below), and states are
//! compared in the renaming of [`symmetry::canonical_perm`] (servers ordered by their own state
//! first, by their messages only among ties), so a state and a symmetric image of a recorded one
//! are related only when that renaming lines them up: a missed comparison costs states, never
//! soundness.
//!
//! Two savings rest on the same relation:
//! - **Covered before the closure.** The model asks [`Subsumption::is_covered`] (which records
//!   nothing) about a successor before saturating it, and drops it if a recorded state `t` covers
//!   it: then its closure is covered by `t` too. The closure changes no actor; each pure step it
//!   takes is, by the simulation (1), also a pure step of `t` from the same receiver state, and `t`
//!   is saturated, so that step sends nothing live that `t` lacks. Most successors are covered, and
//!   the closure was most of their cost.
//! - **Superseded.** A recorded state that a state recorded after it covers is forgotten (only
//!   maximal networks are kept). If DFS has not expanded it yet, it need not:
//!   [`Subsumption::is_superseded`] says so, and the model offers it no action (stateright checks
//!   its properties before asking). The later state is explored, or is superseded in turn by a
//!   state recorded later still; each link of that chain has strictly more messages or fewer
//!   restarts, so it ends in a state that is explored.
//!
//! After the search, [`Subsumption::freeze`] turns both off, so that replaying a counterexample's
//! path (stateright lists each state's actions again and takes the recorded indices) sees the
//! actions and states the search saw.
//!
//! What it is not: the records are per run and the result depends on the order states come in (a
//! subset seen before its superset is explored too), so the unique-state count with several threads
//! can vary a little from run to run; with one thread it is fixed.
//!
//! Guarantees: [`Subsumption::covered_or_record`] returns true only when a recorded state covers the
//! given one (a state equal to a recorded one is covered by it); otherwise it records the state and
//! forgets recorded networks that the new one covers, remembering them as superseded.
//! [`Subsumption::is_covered`] and [`Subsumption::is_superseded`] record nothing and, once the
//! store is frozen, return false.

use crate::raft_model::symmetry::{self, ClassParts};
use crate::raft_model::RaftModelState;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Lock shards (a power of two), so that checker threads rarely wait on each other.
const SHARDS: usize = 64;

/// Recorded (restart count, network) pairs; the network is a sorted set of envelope hashes.
type Networks = Vec<(u8, Box<[u64]>)>;

/// The networks recorded for each actor configuration (everything but the network and the restart
/// count, renamed by [`symmetry::canonical_perm`]), with their restart counts; only maximal ones
/// (fewer restarts, more messages) are kept.
pub struct Subsumption {
    shards: Vec<Mutex<Shard>>,
    covered: AtomicUsize,
    superseded: AtomicUsize,
    frozen: AtomicBool,
}

/// One lock's share of the records.
#[derive(Default)]
struct Shard {
    /// The maximal recorded networks per actor configuration.
    recorded: HashMap<u64, Networks, ahash::RandomState>,
    /// The class fingerprints ([`ClassParts::fingerprint`]) of recorded states that a later
    /// recorded state covers.
    superseded: HashSet<u64, ahash::RandomState>,
}

impl Default for Subsumption {
    fn default() -> Self {
        Subsumption {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            covered: AtomicUsize::new(0),
            superseded: AtomicUsize::new(0),
            frozen: AtomicBool::new(false),
        }
    }
}

impl Subsumption {
    /// True when a recorded state covers `state` (it need not be explored); otherwise records it.
    pub fn covered_or_record(&self, state: &RaftModelState) -> bool {
        let parts = parts_of(state);
        let fingerprint = parts.fingerprint();
        let covered = self.covered_or_record_parts(parts);
        if !covered {
            // The checker asks for this state's representative next: the same parts give it.
            symmetry::remember(state, fingerprint);
        }
        covered
    }

    /// True when a recorded state covers `state`; nothing is recorded. Always false once
    /// [`Self::freeze`] was called.
    pub fn is_covered(&self, state: &RaftModelState) -> bool {
        !self.is_frozen() && self.is_covered_parts(&parts_of(state))
    }

    /// True when `state` was recorded and a state recorded after it covers it: that state is
    /// explored, so `state` need not be (see the module doc). Always false once [`Self::freeze`]
    /// was called.
    pub fn is_superseded(&self, state: &RaftModelState) -> bool {
        !self.is_frozen() && self.is_superseded_parts(&parts_of(state))
    }

    /// Ends the search: from now on no state is covered or superseded, so that replaying a path
    /// (which lists each state's actions and takes its steps again) sees what the search saw.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::Relaxed);
    }

    fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::Relaxed)
    }

    fn shard(&self, actors: u64) -> MutexGuard<'_, Shard> {
        self.shards[(actors as usize) & (SHARDS - 1)]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn covered_or_record_parts(&self, parts: ClassParts) -> bool {
        let mut shard = self.shard(parts.actors);
        let Shard {
            recorded,
            superseded,
        } = &mut *shard;
        let recorded = recorded.entry(parts.actors).or_default();
        if any_covers(recorded, &parts) {
            self.covered.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        recorded.retain(|(more, small)| {
            let covered = *more >= parts.restarts && is_subset(small, &parts.network);
            if covered {
                superseded.insert(symmetry::parts_fingerprint(parts.actors, *more, small));
            }
            !covered
        });
        recorded.push((parts.restarts, parts.network.into_boxed_slice()));
        false
    }

    fn is_covered_parts(&self, parts: &ClassParts) -> bool {
        let covered = self
            .shard(parts.actors)
            .recorded
            .get(&parts.actors)
            .is_some_and(|recorded| any_covers(recorded, parts));
        if covered {
            self.covered.fetch_add(1, Ordering::Relaxed);
        }
        covered
    }

    fn is_superseded_parts(&self, parts: &ClassParts) -> bool {
        let superseded = self
            .shard(parts.actors)
            .superseded
            .contains(&parts.fingerprint());
        if superseded {
            self.superseded.fetch_add(1, Ordering::Relaxed);
        }
        superseded
    }

    /// How many recorded states the search left unexpanded because a state recorded after them
    /// covers them.
    pub fn superseded(&self) -> usize {
        self.superseded.load(Ordering::Relaxed)
    }

    /// How many states were found covered so far.
    pub fn covered(&self) -> usize {
        self.covered.load(Ordering::Relaxed)
    }

    /// How many networks are recorded.
    #[cfg(test)]
    fn recorded(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let map = shard
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                map.recorded.values().map(Vec::len).sum::<usize>()
            })
            .sum()
    }
}

/// A state's parts in the renaming the records use.
fn parts_of(state: &RaftModelState) -> ClassParts {
    symmetry::class_parts(state, &symmetry::canonical_perm(state))
}

/// Whether one of `recorded` (for the same actors) covers `parts`.
fn any_covers(recorded: &[(u8, Box<[u64]>)], parts: &ClassParts) -> bool {
    recorded
        .iter()
        .any(|(fewer, big)| *fewer <= parts.restarts && is_subset(&parts.network, big))
}

/// Whether the sorted, duplicate-free `small` is a subset of the sorted, duplicate-free `big`.
fn is_subset(small: &[u64], big: &[u64]) -> bool {
    if small.len() > big.len() {
        return false;
    }
    let mut rest = big.iter();
    small
        .iter()
        .all(|x| rest.by_ref().find(|y| *y >= x).is_some_and(|y| y == x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(actors: u64, restarts: u8, network: Vec<u64>) -> ClassParts {
        ClassParts {
            actors,
            restarts,
            network,
        }
    }

    #[test]
    fn subsets_of_sorted_sets() {
        assert!(is_subset(&[], &[]));
        assert!(is_subset(&[], &[1]));
        assert!(is_subset(&[2, 5], &[1, 2, 3, 5]));
        assert!(!is_subset(&[2, 4], &[1, 2, 3, 5]));
        assert!(!is_subset(&[6], &[1, 2, 3, 5]));
        assert!(!is_subset(&[1, 2], &[2]));
    }

    #[test]
    fn a_network_is_covered_by_a_recorded_superset_of_the_same_actors_only() {
        let store = Subsumption::default();
        assert!(!store.covered_or_record_parts(parts(7, 0, vec![1, 2, 3])));
        assert!(store.covered_or_record_parts(parts(7, 0, vec![1, 3])));
        assert!(store.covered_or_record_parts(parts(7, 0, vec![1, 2, 3])));
        assert!(
            !store.covered_or_record_parts(parts(8, 0, vec![1, 3])),
            "other actors"
        );
        assert!(
            !store.covered_or_record_parts(parts(7, 0, vec![1, 4])),
            "not a subset"
        );
        // A superset replaces the networks it covers.
        assert!(!store.covered_or_record_parts(parts(7, 0, vec![1, 2, 3, 4])));
        assert_eq!(store.recorded(), 2);
    }

    /// A recorded state covers one whose run has had as many restarts or more, never fewer: the
    /// one with more crash budget left can do more.
    #[test]
    fn a_state_with_more_budget_left_covers_one_with_less() {
        let store = Subsumption::default();
        assert!(!store.covered_or_record_parts(parts(7, 1, vec![1, 2])));
        assert!(
            store.covered_or_record_parts(parts(7, 1, vec![1])),
            "as many"
        );
        assert!(
            store.covered_or_record_parts(parts(7, 2, vec![1, 2])),
            "more"
        );
        assert!(
            !store.covered_or_record_parts(parts(7, 0, vec![1])),
            "fewer restarts: more budget, not covered"
        );
        // (0, [1]) replaced nothing: (1, [1, 2]) has a message more.
        assert_eq!(store.recorded(), 2);
        // (0, [1, 2]) covers and replaces both.
        assert!(!store.covered_or_record_parts(parts(7, 0, vec![1, 2])));
        assert_eq!(store.recorded(), 1);
        assert!(store.covered_or_record_parts(parts(7, 1, vec![2])));
    }

    /// A recorded state is superseded once a state recorded after it covers it, and only then;
    /// asking whether a state is covered records nothing.
    #[test]
    fn a_recorded_state_is_superseded_by_a_later_cover() {
        let store = Subsumption::default();
        assert!(!store.covered_or_record_parts(parts(7, 1, vec![1, 2])));
        assert!(!store.covered_or_record_parts(parts(7, 0, vec![5])));
        assert!(!store.is_superseded_parts(&parts(7, 1, vec![1, 2])));
        assert!(store.is_covered_parts(&parts(7, 1, vec![1])));
        assert!(!store.is_covered_parts(&parts(7, 1, vec![1, 3])));
        assert_eq!(store.recorded(), 2, "asking records nothing");

        // More messages and no more restarts: covers (1, [1, 2]), not (0, [5]).
        assert!(!store.covered_or_record_parts(parts(7, 1, vec![1, 2, 3])));
        assert!(store.is_superseded_parts(&parts(7, 1, vec![1, 2])));
        assert!(!store.is_superseded_parts(&parts(7, 0, vec![5])));
        assert!(!store.is_superseded_parts(&parts(7, 1, vec![1, 2, 3])));
        assert!(
            !store.is_superseded_parts(&parts(8, 1, vec![1, 2])),
            "other actors"
        );
        assert_eq!(store.superseded(), 1);
        assert!(store.is_covered_parts(&parts(7, 1, vec![1, 3])));
    }
}
