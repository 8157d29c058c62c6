//! Shrinking an illegal history to a minimal failing sub-history.
//!
//! Starting from the smallest Illegal partition, operations are removed while the rest stays Illegal:
//! first in halves, quarters, ... (delta debugging), then one at a time until a whole pass removes
//! nothing. The result is still Illegal (every accepted removal was checked) and, when
//! [`Shrunk::minimal`] is true, 1-minimal: removing any single remaining operation makes it legal. A
//! check that hits its time limit counts as "not shown Illegal", so the operation stays and `minimal`
//! becomes false.

use crate::history::History;
use crate::model::{FromHistory, Model, Operation, ValueFlow};
use crate::operations::{operations, OperationsError};
use crate::result::{CheckResult, Verdict};
use crate::search::wgl::{Progress, Search};
use crate::search::SLICE_STEPS;
use std::time::{Duration, Instant};

/// Limits of a shrink.
#[derive(Clone, Copy, Debug)]
pub struct ShrinkOptions {
    /// Limit of each candidate check (a check that runs out counts as legal).
    pub check_time_limit: Duration,
    /// Limit of the whole shrink; when it passes, the smallest illegal history found so far is returned.
    pub total_time_limit: Duration,
}

impl Default for ShrinkOptions {
    fn default() -> ShrinkOptions {
        ShrinkOptions {
            check_time_limit: Duration::from_secs(1),
            total_time_limit: Duration::from_secs(30),
        }
    }
}

/// A minimal failing history.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The events of the kept operations, with their original fields.
    pub history: History,
    /// Ids (in the original history's operation list) of the kept operations.
    pub ops: Vec<usize>,
    /// Label of the partition it came from.
    pub partition: String,
    /// Whether every single-operation removal was checked and found legal.
    pub minimal: bool,
    /// How many candidate histories were checked.
    pub checks: usize,
}

/// Decides one candidate: `Some(true)` Illegal, `Some(false)` Ok, `None` undecided in time.
fn is_illegal<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    members: &[usize],
    deadline: Instant,
) -> Option<bool> {
    let mut search = Search::new(model, ops, members, false);
    loop {
        match search.run(SLICE_STEPS) {
            Progress::Ok => return Some(false),
            Progress::Illegal => return Some(true),
            Progress::Pending if Instant::now() >= deadline => return None,
            Progress::Pending => {}
        }
    }
}

/// Which values each operation writes and needs, restricted to needs the original set satisfies.
struct Provenance {
    flows: std::collections::HashMap<usize, ValueFlow>,
}

impl Provenance {
    fn new<M: Model>(
        model: &M,
        ops: &[Operation<M::Input, M::Output>],
        members: &[usize],
    ) -> Provenance {
        let mut flows: std::collections::HashMap<usize, ValueFlow> = members
            .iter()
            .map(|&id| {
                (
                    id,
                    model.value_flow(&ops[id].input, ops[id].output.as_ref()),
                )
            })
            .collect();
        let written: std::collections::HashSet<String> = flows
            .values()
            .flat_map(|f| f.produces.iter().cloned())
            .collect();
        for flow in flows.values_mut() {
            flow.requires.retain(|value| written.contains(value));
        }
        Provenance { flows }
    }

    /// Whether every value a kept operation needs is still written by a kept operation.
    fn holds(&self, kept: &[usize]) -> bool {
        let written: std::collections::HashSet<&str> = kept
            .iter()
            .filter_map(|id| self.flows.get(id))
            .flat_map(|f| f.produces.iter().map(String::as_str))
            .collect();
        kept.iter().filter_map(|id| self.flows.get(id)).all(|f| {
            f.requires
                .iter()
                .all(|value| written.contains(value.as_str()))
        })
    }
}

/// Removes operations from `members` (an Illegal set) while it stays Illegal. Returns the kept set,
/// whether it is 1-minimal, and the number of checks.
pub fn shrink_members<M: Model>(
    model: &M,
    ops: &[Operation<M::Input, M::Output>],
    members: &[usize],
    options: &ShrinkOptions,
) -> (Vec<usize>, bool, usize) {
    let started = Instant::now();
    let total_deadline = started + options.total_time_limit;
    let mut kept: Vec<usize> = members.to_vec();
    kept.sort_by_key(|&id| ops[id].call);
    let provenance = Provenance::new(model, ops, &kept);
    let mut checks = 0;
    let mut check = |candidate: &[usize]| {
        if !provenance.holds(candidate) {
            // Removing the last writer of a value a kept operation saw would make the history fail for a
            // reason that explains nothing (a read from nowhere): not a removal shrinking may make.
            return Some(false);
        }
        checks += 1;
        let deadline = (Instant::now() + options.check_time_limit).min(total_deadline);
        is_illegal(model, ops, candidate, deadline)
    };
    let mut chunk = kept.len() / 2;
    while chunk > 1 {
        let mut start = 0;
        while start < kept.len() && Instant::now() < total_deadline {
            let end = (start + chunk).min(kept.len());
            let candidate: Vec<usize> = kept[..start].iter().chain(&kept[end..]).copied().collect();
            if check(&candidate) == Some(true) {
                kept = candidate;
            } else {
                start = end;
            }
        }
        chunk /= 2;
    }
    // One at a time until a whole pass removes nothing (then every single removal was shown legal).
    loop {
        let mut removed_any = false;
        let mut all_decided = true;
        let mut index = 0;
        while index < kept.len() {
            if Instant::now() >= total_deadline {
                return (kept, false, checks);
            }
            let candidate: Vec<usize> = kept
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != index)
                .map(|(_, &id)| id)
                .collect();
            match check(&candidate) {
                Some(true) => {
                    kept = candidate;
                    removed_any = true;
                }
                Some(false) => index += 1,
                None => {
                    all_decided = false;
                    index += 1;
                }
            }
        }
        if !removed_any {
            return (kept, all_decided, checks);
        }
    }
}

/// Shrinks the smallest Illegal partition of `result` (a check of `history` with `model`). `None` when no
/// partition is Illegal.
pub fn shrink<M: FromHistory>(
    model: &M,
    history: &History,
    result: &CheckResult,
    options: &ShrinkOptions,
) -> Result<Option<Shrunk>, OperationsError> {
    let Some(partition) = result
        .partitions_with(Verdict::Illegal)
        .min_by_key(|p| p.ops.len())
    else {
        return Ok(None);
    };
    let ops = operations(model, history)?;
    let (kept, minimal, checks) = shrink_members(model, &ops, &partition.ops, options);
    let mut invokes: Vec<usize> = kept.iter().map(|&id| ops[id].call).collect();
    invokes.sort_unstable();
    let mut kept_ids = kept;
    kept_ids.sort_unstable();
    Ok(Some(Shrunk {
        history: history.with_ops(&invokes),
        ops: kept_ids,
        partition: partition.label.clone(),
        minimal,
        checks,
    }))
}
