//! Checking operations against a model: partitions are searched independently and in parallel, sharing
//! the threads fairly, and combined into a [`CheckResult`].
//!
//! Scheduling: every partition becomes a resumable [`wgl::Search`]; workers (one per rayon thread) take
//! searches from a FIFO queue, run each for [`SLICE_STEPS`] steps and put unfinished ones back. Smaller
//! partitions go first. So one hard partition cannot delay the discovery that another is Illegal, which
//! makes the plain verdict fast on histories where porcupine depends on goroutine scheduling. Limits are
//! checked between slices: a time limit or cancellation makes the undecided partitions Unknown, never Ok.
//! Unless `explain` is set, the first Illegal partition stops the others (they become Unknown/Stopped).

mod cache;
mod opset;
pub(crate) mod wgl;

use crate::model::{Model, Operation, Partition};
use crate::result::{
    CheckResult, LinearizedStep, OpView, PartialLinearization, PartitionResult, SearchStats,
    UnknownReason, Verdict,
};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wgl::{Progress, Search};

/// Steps a search runs before the worker checks limits and lets another partition run.
pub const SLICE_STEPS: u64 = 1 << 15;

/// How to check.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Give up (Unknown) after this long.
    pub time_limit: Option<Duration>,
    /// Give up (Unknown) as soon as this becomes true.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Decide every partition and record the longest partial linearizations of Illegal ones, instead of
    /// stopping at the first Illegal partition.
    pub explain: bool,
}

/// Checks `ops` against `model`, partitioned by [`Model::partition`].
pub fn check_operations<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    options: &CheckOptions,
) -> CheckResult {
    let partitions = model.partition(ops);
    check_partitions(model, ops, partitions, options)
}

enum Job<'a, M: Model> {
    New(usize),
    Running(usize, Box<Search<'a, M>>, Duration),
}

/// What a worker found for one partition.
type Outcome = (
    Verdict,
    Option<UnknownReason>,
    Vec<PartialLinearization>,
    SearchStats,
);

struct Shared<'a, M: Model> {
    queue: Mutex<VecDeque<Job<'a, M>>>,
    results: Mutex<Vec<Option<Outcome>>>,
    stop: AtomicBool,
    deadline: Option<Instant>,
}

/// Checks the given partitions of `ops` (each searched on its own).
pub(crate) fn check_partitions<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    partitions: Vec<Partition>,
    options: &CheckOptions,
) -> CheckResult {
    let started = Instant::now();
    let mut order: Vec<usize> = (0..partitions.len()).collect();
    order.sort_by_key(|&p| partitions[p].ops.len());
    let shared = Shared {
        queue: Mutex::new(order.into_iter().map(Job::New).collect()),
        results: Mutex::new(vec![None; partitions.len()]),
        stop: AtomicBool::new(false),
        deadline: options.time_limit.map(|limit| started + limit),
    };
    let workers = rayon::current_num_threads().clamp(1, partitions.len().max(1));
    rayon::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|_| worker(model, ops, &partitions, options, &shared));
        }
    });
    let results = shared
        .results
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut partition_results = Vec::with_capacity(partitions.len());
    let mut op_partition = vec![0; ops.len()];
    for (index, (partition, result)) in partitions.into_iter().zip(results).enumerate() {
        for &op in &partition.ops {
            op_partition[op] = index;
        }
        let (verdict, unknown_reason, partials, stats) =
            result.expect("every queued partition gets a result before the workers stop");
        partition_results.push(PartitionResult {
            label: partition.label,
            ops: partition.ops,
            verdict,
            unknown_reason,
            partials,
            stats,
        });
    }
    let ops = ops
        .iter()
        .map(|op| OpView {
            id: op.id,
            process: op.process,
            description: model.describe_operation(&op.input, op.output.as_ref()),
            call: op.call,
            ret: op.ret,
            call_time_ns: op.call as u64,
            return_time_ns: op.ret.map(|r| r as u64),
            partition: op_partition[op.id],
        })
        .collect();
    CheckResult {
        verdict: Verdict::combine(partition_results.iter().map(|p| p.verdict)),
        partitions: partition_results,
        ops,
        elapsed: started.elapsed(),
    }
}

fn should_stop(
    options: &CheckOptions,
    shared_stop: &AtomicBool,
    deadline: Option<Instant>,
) -> Option<UnknownReason> {
    if options
        .cancel
        .as_ref()
        .is_some_and(|flag| flag.load(Ordering::Relaxed))
    {
        return Some(UnknownReason::Cancelled);
    }
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Some(UnknownReason::TimeLimit);
    }
    if shared_stop.load(Ordering::Relaxed) {
        return Some(UnknownReason::Stopped);
    }
    None
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking worker already propagates its panic through `rayon::scope`; the data stays usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn worker<'a, M: Model>(
    model: &'a M,
    ops: &'a [Operation<M::Input, M::Output>],
    partitions: &[Partition],
    options: &CheckOptions,
    shared: &Shared<'a, M>,
) {
    loop {
        let Some(job) = lock(&shared.queue).pop_front() else {
            return;
        };
        let (index, mut search, mut elapsed) = match job {
            Job::New(index) => {
                let search = Box::new(Search::new(
                    model,
                    ops,
                    &partitions[index].ops,
                    options.explain,
                ));
                (index, search, Duration::ZERO)
            }
            Job::Running(index, search, elapsed) => (index, search, elapsed),
        };
        let stats = |search: &Search<'a, M>, elapsed: Duration| SearchStats {
            steps: search.steps(),
            configurations: search.configurations() as u64,
            cache_bytes: search.cache_bytes() as u64,
            elapsed_us: elapsed.as_micros() as u64,
        };
        if let Some(reason) = should_stop(options, &shared.stop, shared.deadline) {
            lock(&shared.results)[index] = Some((
                Verdict::Unknown,
                Some(reason),
                Vec::new(),
                stats(&search, elapsed),
            ));
            continue;
        }
        let slice_started = Instant::now();
        let progress = search.run(SLICE_STEPS);
        elapsed += slice_started.elapsed();
        let verdict = match progress {
            Progress::Pending => {
                lock(&shared.queue).push_back(Job::Running(index, search, elapsed));
                continue;
            }
            Progress::Ok => Verdict::Ok,
            Progress::Illegal => Verdict::Illegal,
        };
        if verdict == Verdict::Illegal && !options.explain {
            shared.stop.store(true, Ordering::Relaxed);
        }
        let partials = if options.explain && verdict == Verdict::Illegal {
            describe_partials(model, search.take_partials())
        } else {
            Vec::new()
        };
        lock(&shared.results)[index] = Some((verdict, None, partials, stats(&search, elapsed)));
    }
}

fn describe_partials<M: Model>(
    model: &M,
    raw: Vec<wgl::RawPartial<M::State>>,
) -> Vec<PartialLinearization> {
    raw.into_iter()
        .map(|partial| PartialLinearization {
            steps: partial
                .steps
                .iter()
                .map(|(op, state)| LinearizedStep {
                    op: *op,
                    state_after: model.describe_state(state),
                })
                .collect(),
            blocked_op: partial.blocked_op,
        })
        .collect()
}
