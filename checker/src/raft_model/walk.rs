//! Seeded random walks through the model (a targeted, never exhaustive search): each walk starts at the
//! initial state and takes uniformly chosen enabled steps that stay within the boundary until it is
//! stuck or [`WALK_DEPTH_MAX`] steps long; properties are checked in every visited state.
//!
//! Why not stateright's simulation checker: it records the index of a chosen action in a vector it has
//! already reordered with `swap_remove`, so a walk that skips an ignored action cannot be replayed and
//! rebuilding the counterexample path panics. Here the walk keeps the actions themselves and rebuilds the
//! path with `Path::from_actions`, which replays them through the model.
//!
//! Guarantees: the walks are a pure function of the seed (one thread, a ChaCha generator, stateright's
//! deterministic action order), so a seed reproduces its counterexample; a reported violation is a path
//! of real model steps from the initial state; the search stops at the first violated always-property
//! or when the time or state budget runs out.

use crate::raft_model::{RaftModel, RaftModelState};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stateright::{Expectation, Model, Path};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A walk is cut after this many steps. Why 50: the Figure 8 counterexample takes 18 steps at best
/// and random walks need two to three times that; longer walks mostly wander in a converged cluster
/// (measured: 50 finds `commit-old-term` more often per second than 30 or 120).
pub const WALK_DEPTH_MAX: usize = 50;

/// The model's action type.
type Action = <RaftModel as Model>::Action;

/// What the walks found.
pub struct WalkReport {
    /// States visited (with repeats).
    pub states_visited: usize,
    /// The longest walk.
    pub max_depth: usize,
    /// The first path found per property (violations of always-properties, examples of sometimes).
    pub discoveries: BTreeMap<&'static str, Path<RaftModelState, Action>>,
}

/// The budget and progress hooks of [`random_walks`].
pub struct WalkBudget<'a> {
    /// Stop at this instant.
    pub deadline: Option<Instant>,
    /// Stop after about this many visited states.
    pub max_states: Option<usize>,
    /// Called about every `interval` with (states visited, max depth).
    pub progress: &'a mut dyn FnMut(usize, usize),
    /// How often `progress` runs.
    pub interval: Duration,
}

/// Runs random walks from `seed` until an always-property fails or the budget runs out (see the
/// module docs).
pub fn random_walks(model: &RaftModel, seed: u64, budget: WalkBudget<'_>) -> WalkReport {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let properties = model.properties();
    let init = model
        .init_states()
        .into_iter()
        .next()
        .expect("an actor model has one initial state");
    let mut report = WalkReport {
        states_visited: 0,
        max_depth: 0,
        discoveries: BTreeMap::new(),
    };
    let mut last_progress = Instant::now();
    let mut candidates: Vec<Action> = Vec::new();
    loop {
        let mut state = init.clone();
        let mut path: Vec<Action> = Vec::new();
        loop {
            report.states_visited += 1;
            report.max_depth = report.max_depth.max(path.len());
            let mut violated = false;
            for property in &properties {
                if report.discoveries.contains_key(property.name) {
                    continue;
                }
                let holds = (property.condition)(model, &state);
                let discovered = match property.expectation {
                    Expectation::Always => !holds,
                    Expectation::Sometimes => holds,
                    Expectation::Eventually => false,
                };
                if discovered {
                    violated |= property.expectation == Expectation::Always;
                    let found = Path::from_actions(model, init.clone(), &path)
                        .expect("a walk replays through the model that produced it");
                    report.discoveries.insert(property.name, found);
                }
            }
            if violated {
                return report;
            }
            let out_of_budget = budget.deadline.is_some_and(|d| Instant::now() >= d)
                || budget
                    .max_states
                    .is_some_and(|max| report.states_visited >= max);
            if out_of_budget {
                return report;
            }
            if last_progress.elapsed() >= budget.interval {
                last_progress = Instant::now();
                (budget.progress)(report.states_visited, report.max_depth);
            }
            if path.len() >= WALK_DEPTH_MAX {
                break;
            }
            candidates.clear();
            model.actions(&state, &mut candidates);
            let mut next = None;
            // Bounded: every round removes one candidate.
            while !candidates.is_empty() {
                let action = candidates.swap_remove(rng.gen_range(0..candidates.len()));
                if let Some(successor) = model.next_state(&state, action.clone()) {
                    if model.within_boundary(&successor) {
                        next = Some((action, successor));
                        break;
                    }
                }
            }
            let Some((action, successor)) = next else {
                break;
            };
            path.push(action);
            state = successor;
        }
    }
}
