//! Read reachability: the built-in models' [`Lookahead`].
//!
//! A read that observed `V` and is not linearized yet must be linearized later in a state equal to `V`.
//! From the current state `S`, the value only changes by appends (which extend a string) and by
//! *resets* (write, successful or indeterminate cas, delete) among the operations not linearized yet. So
//! `V` can still be produced only if `S == V`, or `S` is a string prefix of `V` (nil counts as `""`), or
//! some unlinearized reset writes `V` or a string prefix of `V` (a delete allows any string or nil).
//! Real-time order is ignored, which only makes the condition weaker: it is necessary, so pruning by it
//! is sound. It cuts the search at the first wrong append order instead of at the next read's return.

use super::kv::{KvInput, KvOp, KvOutput};
use super::Value;
use crate::model::{Lookahead, Operation, SearchView};

/// Unlinearized reads checked per configuration, earliest return first (any subset is sound).
pub const READS_CHECKED_MAX: usize = 32;

struct ReadGoal {
    /// Local index of the read.
    local: usize,
    /// Its return order.
    ret: usize,
    /// The value it observed.
    value: Value,
    /// Local indices of resets that could produce it, latest invocation first.
    resets: Vec<usize>,
}

/// The lookahead of one partition.
pub struct ReadReachability {
    /// Definite reads, by return order.
    goals: Vec<ReadGoal>,
    /// Whether the partition has appends (without them only exact values can be produced).
    has_appends: bool,
}

/// Whether appending strings to `from` can give `to`.
fn extends(from: &Value, to: &Value) -> bool {
    match (from, to) {
        (Value::Nil, Value::Str(_)) => true,
        (Value::Str(prefix), Value::Str(whole)) => whole.starts_with(&**prefix),
        _ => false,
    }
}

impl ReadReachability {
    /// Prepares the goals of a partition (`members` in local order). `None` if there are no reads.
    pub fn new(
        ops: &[Operation<KvInput, KvOutput>],
        members: &[usize],
    ) -> Option<ReadReachability> {
        let has_appends = members
            .iter()
            .any(|&id| matches!(ops[id].input.op, KvOp::Append(_)));
        let reaches = |written: &Value, goal: &Value| {
            written == goal || (has_appends && extends(written, goal))
        };
        let mut goals = Vec::new();
        for (local, &id) in members.iter().enumerate() {
            let (KvOp::Read, Some(KvOutput::Read(value)), Some(ret)) =
                (&ops[id].input.op, &ops[id].output, ops[id].ret)
            else {
                continue;
            };
            let resets = members
                .iter()
                .enumerate()
                .rev()
                .filter(
                    |&(_, &other)| match (&ops[other].input.op, &ops[other].output) {
                        (KvOp::Write(written), _) => reaches(written, value),
                        // A cas that failed with mismatch changes nothing; an ok or indeterminate one may.
                        (KvOp::Cas { new, .. }, Some(KvOutput::Done) | None) => reaches(new, value),
                        (KvOp::Delete, _) => reaches(&Value::Nil, value),
                        _ => false,
                    },
                )
                .map(|(other_local, _)| other_local)
                .collect();
            goals.push(ReadGoal {
                local,
                ret,
                value: value.clone(),
                resets,
            });
        }
        if goals.is_empty() {
            return None;
        }
        goals.sort_by_key(|goal| goal.ret);
        Some(ReadReachability { goals, has_appends })
    }
}

impl Lookahead<Value> for ReadReachability {
    fn dead_end(&self, state: &Value, view: &SearchView<'_>) -> Option<usize> {
        // Reads returning before the frontier are all linearized: start after them.
        let start = self.goals.partition_point(|goal| goal.ret < view.frontier);
        let mut checked = 0;
        for goal in &self.goals[start..] {
            if view.is_linearized(goal.local) {
                continue;
            }
            if *state != goal.value
                && !(self.has_appends && extends(state, &goal.value))
                && !goal.resets.iter().any(|&reset| !view.is_linearized(reset))
            {
                return Some(goal.local);
            }
            checked += 1;
            if checked == READS_CHECKED_MAX {
                break;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn op(
        id: usize,
        op: KvOp,
        output: Option<KvOutput>,
        ret: Option<usize>,
    ) -> Operation<KvInput, KvOutput> {
        Operation {
            id,
            process: id as u64,
            input: KvInput { key: None, op },
            output,
            call: id,
            ret,
        }
    }

    fn s(text: &str) -> Value {
        Value::Str(Arc::from(text))
    }

    #[test]
    fn a_state_that_no_longer_leads_to_a_pending_read_is_dead() {
        let ops = vec![
            op(0, KvOp::Append(s("a")), Some(KvOutput::Done), Some(10)),
            op(1, KvOp::Append(s("b")), Some(KvOutput::Done), Some(11)),
            op(2, KvOp::Read, Some(KvOutput::Read(s("ab"))), Some(12)),
            op(3, KvOp::Write(s("a")), Some(KvOutput::Done), Some(13)),
        ];
        let lookahead = ReadReachability::new(&ops, &[0, 1, 2, 3]).expect("one read");
        let view = |bits: u64| -> SearchView<'static> {
            SearchView {
                linearized: Box::leak(Box::new([bits])),
                frontier: 0,
            }
        };
        // After "b" (ops 1 and 3 linearized: the write that could restart at "a" is used up) "ab" is lost.
        assert_eq!(
            lookahead.dead_end(&s("b"), &view(0b1010)),
            Some(2),
            "the read can never be placed"
        );
        // With the write "a" still pending, "ab" can be produced again.
        assert_eq!(lookahead.dead_end(&s("b"), &view(0b0010)), None);
        // "a" is a prefix of "ab": alive.
        assert_eq!(lookahead.dead_end(&s("a"), &view(0b1001)), None);
        // Once the read is linearized, nothing constrains.
        assert_eq!(lookahead.dead_end(&s("zzz"), &view(0b1111)), None);
    }
}
