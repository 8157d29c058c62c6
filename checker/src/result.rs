//! What a check returns: the [`Verdict`] overall and per partition, and everything a report or an HTML
//! view needs to show it (operations with their order and times, partial linearizations with displayed
//! states, the operation that could not be placed). Plain data: rendering lives elsewhere.

use std::time::Duration;

/// The answer of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Linearizable.
    Ok,
    /// Not linearizable.
    Illegal,
    /// Not decided (time limit, cancellation, or stopped early because another partition was illegal).
    Unknown,
}

impl Verdict {
    /// Combines partition verdicts: any Illegal wins, then any Unknown, else Ok.
    pub fn combine(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let mut all = Verdict::Ok;
        for verdict in verdicts {
            match verdict {
                Verdict::Illegal => return Verdict::Illegal,
                Verdict::Unknown => all = Verdict::Unknown,
                Verdict::Ok => {}
            }
        }
        all
    }
}

/// Why a partition is [`Verdict::Unknown`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownReason {
    /// The time limit passed.
    TimeLimit,
    /// The caller's cancellation flag was raised.
    Cancelled,
    /// Another partition was illegal and only a verdict was asked.
    Stopped,
}

/// One operation, as displayed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OpView {
    /// Operation id (index into [`CheckResult::ops`]).
    pub id: usize,
    /// The client process.
    pub process: u64,
    /// The model's description, e.g. `"3" cas(1, 2) -> mismatch`.
    pub description: String,
    /// Position of the invocation in the history's events.
    pub call: usize,
    /// Position of the return; `None` for indeterminate operations (they return at +infinity).
    pub ret: Option<usize>,
    /// Invocation time in ns (the position when checked without a history).
    pub call_time_ns: u64,
    /// Return time in ns; `None` for indeterminate operations.
    pub return_time_ns: Option<u64>,
    /// Index of its partition in [`CheckResult::partitions`].
    pub partition: usize,
}

/// One linearized operation in a partial linearization.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LinearizedStep {
    /// Operation id.
    pub op: usize,
    /// The model state after it, as displayed by the model.
    pub state_after: String,
}

/// A longest prefix of a linearization the search found, and the operation it could not place next.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PartialLinearization {
    /// Operations in linearization order, with the state after each.
    pub steps: Vec<LinearizedStep>,
    /// The operation whose return came before it could be linearized after `steps`.
    pub blocked_op: usize,
}

/// Counters of one partition's search.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SearchStats {
    /// Entries visited.
    pub steps: u64,
    /// Distinct configurations (linearized set, state) entered.
    pub configurations: u64,
    /// Approximate peak bytes of the configuration cache.
    pub cache_bytes: u64,
    /// Wall time spent searching this partition, in microseconds.
    pub elapsed_us: u64,
}

/// The result for one partition.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PartitionResult {
    /// Display name, e.g. `key "3"`.
    pub label: String,
    /// Operation ids, ascending.
    pub ops: Vec<usize>,
    /// The verdict.
    pub verdict: Verdict,
    /// Set when the verdict is Unknown.
    pub unknown_reason: Option<UnknownReason>,
    /// Explain mode, Illegal partitions: the longest partial linearizations, longest first.
    pub partials: Vec<PartialLinearization>,
    /// Search counters.
    pub stats: SearchStats,
}

/// The result of a check.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckResult {
    /// Overall verdict ([`Verdict::combine`] of the partitions).
    pub verdict: Verdict,
    /// Per partition.
    pub partitions: Vec<PartitionResult>,
    /// Every operation that was checked.
    pub ops: Vec<OpView>,
    /// Wall time of the whole check.
    #[serde(skip)]
    pub elapsed: Duration,
}

impl CheckResult {
    /// The partitions with the given verdict.
    pub fn partitions_with(&self, verdict: Verdict) -> impl Iterator<Item = &PartitionResult> {
        self.partitions.iter().filter(move |p| p.verdict == verdict)
    }
}
