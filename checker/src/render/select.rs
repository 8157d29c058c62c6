//! Which operations of a partition get drawn: all of them up to [`OPS_DRAWN_MAX`]; beyond that a window
//! of consecutive operations (by invocation) around the first blocked operation of an Illegal partition,
//! or the first ones otherwise, with a note saying what was left out.

use crate::result::{CheckResult, PartitionResult};

/// The most operations drawn for one partition.
pub const OPS_DRAWN_MAX: usize = 300;

/// The operations to draw for a partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Selection {
    /// Operation ids, ordered by invocation.
    pub ops: Vec<usize>,
    /// Operations in the partition.
    pub total: usize,
    /// What was left out, when something was.
    pub note: Option<String>,
}

pub(crate) fn select_ops(result: &CheckResult, partition: &PartitionResult) -> Selection {
    let mut ops: Vec<usize> = partition
        .ops
        .iter()
        .copied()
        .filter(|&id| result.ops.get(id).is_some())
        .collect();
    ops.sort_by_key(|&id| result.ops[id].call);
    let total = ops.len();
    if total <= OPS_DRAWN_MAX {
        return Selection {
            ops,
            total,
            note: None,
        };
    }
    let anchor = partition
        .partials
        .first()
        .and_then(|partial| ops.iter().position(|&id| id == partial.blocked_op));
    let (start, note) = match anchor {
        Some(index) => {
            // Mostly what came before the failure (what led to it), some of what overlapped it after.
            let start = index
                .saturating_sub(OPS_DRAWN_MAX * 3 / 4)
                .min(total - OPS_DRAWN_MAX);
            (
                start,
                "invoked around the operation that could not be linearized",
            )
        }
        None => (0, "invoked first"),
    };
    let window = ops[start..start + OPS_DRAWN_MAX].to_vec();
    let note = format!(
        "Showing {OPS_DRAWN_MAX} of {total} operations ({note}); {} earlier and {} later ones are left out.",
        start,
        total - start - OPS_DRAWN_MAX
    );
    Selection {
        ops: window,
        total,
        note: Some(note),
    }
}
