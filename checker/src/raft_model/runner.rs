//! Runs the model checker over a [`ModelConfig`] and summarises the outcome as plain data (the library
//! never prints; a progress callback lets the caller do so).
//!
//! Guarantees: a run reports `exhausted` only if the search finished without hitting its time or state
//! budget; a property that was not violated in a non-exhausted run is reported as `Unknown`, never as
//! holding.

use crate::raft_model::properties::ALWAYS;
use crate::raft_model::subsumption::Subsumption;
use crate::raft_model::symmetry;
use crate::raft_model::walk::{self, WalkBudget};
use crate::raft_model::{
    ModelConfig, ModelConfigError, NetworkKind, RaftModel, RaftModelState, StopFlag,
};
use stateright::{Checker, Expectation, HasDiscoveries, Model, Path};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the progress callback runs.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

/// The search strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Breadth-first: finds a shortest counterexample; no symmetry reduction in stateright's BFS.
    Bfs,
    /// Depth-first, with symmetry reduction over server ids when enabled.
    Dfs,
    /// Seeded random walks within the boundary (see [`walk`]): never exhaustive, but reaches deep
    /// counterexamples (e.g. Figure 8) that BFS cannot reach in time.
    Simulation {
        /// The root seed; the same seed replays the same walks.
        seed: u64,
    },
}

/// How to run the search.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Worker threads.
    pub threads: usize,
    /// BFS or DFS.
    pub strategy: Strategy,
    /// Symmetry reduction over server ids (DFS only).
    pub symmetry: bool,
    /// Stop after this long (the run is then not exhaustive).
    pub time_limit: Option<Duration>,
    /// Stop after about this many generated states.
    pub max_states: Option<usize>,
    /// Do not expand states this many steps from the start (a depth-bounded search is incomplete:
    /// the run is then never reported exhausted; use it to hunt bugs, not to verify).
    pub max_depth: Option<usize>,
    /// Skip states covered by a recorded one (DFS with symmetry and no depth cut on the saturated
    /// duplicating network; see [`crate::raft_model::subsumption`]).
    pub subsumption: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            threads: 1,
            strategy: Strategy::Dfs,
            symmetry: true,
            time_limit: None,
            max_states: None,
            max_depth: None,
            subsumption: true,
        }
    }
}

/// A progress sample.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// States generated so far (with repeats).
    pub states_generated: usize,
    /// Unique states so far.
    pub unique_states: usize,
    /// Deepest path so far.
    pub max_depth: usize,
    /// Time since the start.
    pub elapsed: Duration,
}

/// The outcome of one property.
#[derive(Clone, Debug)]
pub enum PropertyOutcome {
    /// An always-property held in every reachable state (exhaustive run).
    Holds,
    /// An always-property fails: the path leads to a violating state.
    Violated(Path<RaftModelState, ModelAction>),
    /// A sometimes-property has an example.
    Found(Path<RaftModelState, ModelAction>),
    /// A sometimes-property has no example in the whole (exhaustive) space.
    NotFound,
    /// Not violated / not found, but the search did not finish.
    Unknown,
}

/// One property's result.
#[derive(Clone, Debug)]
pub struct PropertyResult {
    /// The property's name (see [`properties`]).
    pub name: &'static str,
    /// Always or sometimes.
    pub always: bool,
    /// What the search found.
    pub outcome: PropertyOutcome,
}

impl PropertyResult {
    /// Whether this result makes the run fail.
    pub fn failed(&self) -> bool {
        matches!(
            self.outcome,
            PropertyOutcome::Violated(_) | PropertyOutcome::NotFound
        )
    }
}

/// The model's action type.
pub type ModelAction = <RaftModel as Model>::Action;

/// What a run found.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// States generated (with repeats).
    pub states_generated: usize,
    /// Unique states (after symmetry reduction, if on).
    pub unique_states: usize,
    /// States skipped because a recorded state covers them (subsumption; 0 when it is off). They
    /// are not counted in `states_generated`.
    pub states_covered: usize,
    /// Recorded states left unexpanded because a state recorded after them covers them
    /// (subsumption; 0 when it is off). They are counted in `unique_states`.
    pub states_superseded: usize,
    /// Deepest path explored.
    pub max_depth: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// The whole bounded space was explored (or a violation ended the search; see `properties`).
    pub exhausted: bool,
    /// Per property, in report order.
    pub properties: Vec<PropertyResult>,
}

impl RunReport {
    /// The names of the always-properties that were violated.
    pub fn violated(&self) -> Vec<&'static str> {
        self.properties
            .iter()
            .filter(|p| p.always && matches!(p.outcome, PropertyOutcome::Violated(_)))
            .map(|p| p.name)
            .collect()
    }

    /// Generated states per second.
    pub fn states_per_second(&self) -> f64 {
        self.states_generated as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// 0 all hold and the space was exhausted, 1 a property fails, 2 the budget ran out.
    pub fn exit_code(&self) -> i32 {
        if self.properties.iter().any(PropertyResult::failed) {
            1
        } else if self.exhausted {
            0
        } else {
            2
        }
    }
}

/// Checks `config` with `options`, calling `progress` about every [`PROGRESS_INTERVAL`].
pub fn run_check(
    config: &ModelConfig,
    options: &RunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunReport, ModelConfigError> {
    // A fresh stop flag per run, so that a configuration reused after a timed-out run still runs.
    let config = ModelConfig {
        stop: StopFlag::default(),
        ..config.clone()
    };
    let mut model = config.clone().into_model()?;
    // Not with a depth cut: a recorded state cut off unexpanded would hide the states it covers.
    if options.subsumption
        && options.symmetry
        && options.strategy == Strategy::Dfs
        && options.max_depth.is_none()
        && config.saturate
        && config.network == NetworkKind::UnorderedDuplicating
    {
        model.subsumption = Some(Arc::new(Subsumption::default()));
    }
    let started = Instant::now();
    if let Strategy::Simulation { seed } = options.strategy {
        return Ok(run_walks(&model, seed, options, started, progress));
    }
    let mut builder = model
        .checker()
        .threads(options.threads.max(1))
        .finish_when(HasDiscoveries::AnyFailures);
    if let Some(limit) = options.time_limit {
        builder = builder.timeout(limit);
    }
    if let Some(max_states) = options.max_states {
        builder = builder.target_state_count(max_states);
    }
    if let Some(max_depth) = options.max_depth {
        builder = builder.target_max_depth(max_depth);
    }
    let checker: Box<dyn Checker<RaftModel>> = match options.strategy {
        Strategy::Bfs => Box::new(builder.spawn_bfs()),
        Strategy::Dfs if options.symmetry => {
            Box::new(builder.symmetry_fn(symmetry::representative).spawn_dfs())
        }
        // Walks returned above; the arm only completes the match.
        Strategy::Dfs | Strategy::Simulation { .. } => Box::new(builder.spawn_dfs()),
    };
    let mut checker = checker;
    let handles = checker.handles();
    let mut last_report = Instant::now();
    while !handles.iter().all(|h| h.is_finished()) {
        std::thread::sleep(Duration::from_millis(20));
        if options
            .time_limit
            .is_some_and(|limit| started.elapsed() >= limit)
        {
            config.stop.raise();
        }
        if last_report.elapsed() >= PROGRESS_INTERVAL {
            last_report = Instant::now();
            progress(Progress {
                states_generated: checker.state_count(),
                unique_states: checker.unique_state_count(),
                max_depth: checker.max_depth(),
                elapsed: started.elapsed(),
            });
        }
    }
    let mut worker_panicked = false;
    for handle in handles {
        worker_panicked |= handle.join().is_err();
    }
    if worker_panicked {
        return Err(ModelConfigError(
            "a checker thread panicked: the Raft core hit an assertion (see the message above)"
                .to_string(),
        ));
    }
    let elapsed = started.elapsed();
    let store = checker.model().subsumption.clone();
    if let Some(store) = &store {
        // Replaying the paths of discoveries steps from recorded states again: with the search
        // over, no step is skipped as covered.
        store.freeze();
    }
    let states_generated = checker.state_count();
    let timed_out = config.stop.is_raised();
    let capped = options
        .max_states
        .is_some_and(|max| states_generated >= max);
    let discoveries = checker.discoveries();
    let violation_found = ALWAYS.iter().any(|name| discoveries.contains_key(name));
    let exhausted = !timed_out && !capped && !violation_found && options.max_depth.is_none();
    Ok(RunReport {
        states_generated,
        unique_states: checker.unique_state_count(),
        states_covered: store.as_ref().map_or(0, |store| store.covered()),
        states_superseded: store.as_ref().map_or(0, |store| store.superseded()),
        max_depth: checker.max_depth(),
        elapsed,
        exhausted,
        properties: property_results(checker.model(), &discoveries, exhausted),
    })
}

/// Random walks (never exhaustive); `unique_states` reports the states visited.
fn run_walks(
    model: &RaftModel,
    seed: u64,
    options: &RunOptions,
    started: Instant,
    progress: &mut dyn FnMut(Progress),
) -> RunReport {
    let mut on_progress = |visited: usize, depth: usize| {
        progress(Progress {
            states_generated: visited,
            unique_states: visited,
            max_depth: depth,
            elapsed: started.elapsed(),
        })
    };
    let budget = WalkBudget {
        deadline: options.time_limit.map(|limit| started + limit),
        max_states: options.max_states,
        progress: &mut on_progress,
        interval: PROGRESS_INTERVAL,
    };
    let report = walk::random_walks(model, seed, budget);
    let discoveries: HashMap<&'static str, _> = report.discoveries.into_iter().collect();
    RunReport {
        states_generated: report.states_visited,
        unique_states: report.states_visited,
        states_covered: 0,
        states_superseded: 0,
        max_depth: report.max_depth,
        elapsed: started.elapsed(),
        exhausted: false,
        properties: property_results(model, &discoveries, false),
    }
}

/// Each property's outcome given the discoveries and whether the space was exhausted.
fn property_results(
    model: &RaftModel,
    discoveries: &HashMap<&'static str, Path<RaftModelState, ModelAction>>,
    exhausted: bool,
) -> Vec<PropertyResult> {
    model
        .properties()
        .into_iter()
        .map(|p| {
            let always = p.expectation == Expectation::Always;
            let outcome = match (discoveries.get(p.name), always) {
                (Some(path), true) => PropertyOutcome::Violated(path.clone()),
                (Some(path), false) => PropertyOutcome::Found(path.clone()),
                (None, true) if exhausted => PropertyOutcome::Holds,
                (None, false) if exhausted => PropertyOutcome::NotFound,
                (None, _) => PropertyOutcome::Unknown,
            };
            PropertyResult {
                name: p.name,
                always,
                outcome,
            }
        })
        .collect()
}
