//! An independent second opinion on small histories: stateright's [`LinearizabilityTester`] fed with
//! the history's invocations and returns in real-time order, against the oracle's own specification
//! ([`spec::CellMap`]). Property tests compare its verdict with the main checker's.
//!
//! Why the tester and not a hand-written stateright `Model`: the tester can express every Jepsen
//! outcome. An operation that never returns stays "in flight"; the tester may linearize an in-flight
//! operation once its thread has nothing earlier left, or never (a history is accepted as soon as all
//! *completed* operations are placed), which is exactly "may take effect any time after its invocation,
//! or never". Its thread must have nothing after it, so after an indeterminate operation (`info`) a
//! process continues on a fresh thread id, as Jepsen gives it a fresh process. Real-time order comes
//! from the tester recording, at each invocation, the operations already completed on other threads.
//!
//! Decoding is the oracle's own too (from raw events, not [`crate::operations`]): `ok` completions
//! return; `info` and missing completions stay in flight; `fail` drops the operation, except a cas
//! that failed with `"error": "mismatch"`, which returns "mismatch". The kv model is checked as one map
//! (no partitioning), so the oracle also cross-checks the checker's per-key decomposition.
//!
//! The tester's search enumerates interleavings without a cache: exponential, fine for the few
//! operations it is meant for, hence [`ORACLE_OPS_MAX`].

pub mod spec;

use crate::history::{EventType, Function, History, Process};
use crate::result::Verdict;
use spec::{Action, Cell, CellMap, CellOp, CellRet};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};
use std::collections::HashMap;

/// The largest number of operations the oracle accepts (its search is exponential).
pub const ORACLE_OPS_MAX: usize = 16;

/// Which specification to check against, matching the built-in models of [`crate::models`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OracleModel {
    /// Read and write on one register; keys are ignored.
    Register,
    /// Read, write and cas on one register; keys are ignored.
    CasRegister,
    /// Read, write, cas, delete and append on a map; every operation needs a key.
    Kv,
}

/// Why the oracle cannot judge a history.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OracleError {
    /// An event the chosen model does not understand.
    #[error("event {position}: {message}")]
    Unsupported {
        /// 0-based position of the event in the history.
        position: usize,
        /// What is wrong.
        message: String,
    },
    /// More operations than [`ORACLE_OPS_MAX`].
    #[error("{ops} operations, the oracle takes at most {ORACLE_OPS_MAX}")]
    TooManyOperations {
        /// Operations in the history (dropped failures included).
        ops: usize,
    },
    /// The tester refused the event sequence (cannot happen for a validated [`History`]).
    #[error("the linearizability tester refused the history: {0}")]
    Refused(String),
}

/// The verdict of stateright's linearizability tester on `history` for `model`: [`Verdict::Ok`] or
/// [`Verdict::Illegal`], never Unknown.
pub fn verdict(model: OracleModel, history: &History) -> Result<Verdict, OracleError> {
    let ops = history.ops().len();
    if ops > ORACLE_OPS_MAX {
        return Err(OracleError::TooManyOperations { ops });
    }
    let events = history.events();
    // How each invocation ended, found by pairing per process (a validated history pairs cleanly).
    let mut completion_of: HashMap<usize, usize> = HashMap::new();
    let mut pending: HashMap<u64, usize> = HashMap::new();
    for (position, event) in events.iter().enumerate() {
        let Process::Client(process) = event.process else {
            continue;
        };
        if event.kind == EventType::Invoke {
            pending.insert(process, position);
        } else if let Some(invoke) = pending.remove(&process) {
            completion_of.insert(invoke, position);
        }
    }

    let mut tester = LinearizabilityTester::new(CellMap::default());
    let mut thread_of: HashMap<u64, u64> = HashMap::new();
    let mut next_thread = 0u64;
    // Invocations whose operation was dropped (plain failures): their completions are skipped too.
    let mut dropped: HashMap<u64, bool> = HashMap::new();
    let mut invoked_op: HashMap<u64, CellOp> = HashMap::new();
    for (position, event) in events.iter().enumerate() {
        let Process::Client(process) = event.process else {
            continue;
        };
        let unsupported = |message: String| OracleError::Unsupported { position, message };
        let thread = *thread_of.entry(process).or_insert_with(|| {
            next_thread += 1;
            next_thread
        });
        match event.kind {
            EventType::Invoke => {
                let op = decode_op(model, event).map_err(unsupported)?;
                let ends_in_plain_failure = completion_of
                    .get(&position)
                    .map(|&c| &events[c])
                    .is_some_and(|c| {
                        c.kind == EventType::Fail && c.error.as_deref() != Some("mismatch")
                    });
                dropped.insert(process, ends_in_plain_failure);
                if !ends_in_plain_failure {
                    tester
                        .on_invoke(thread, op.clone())
                        .map_err(OracleError::Refused)?;
                    invoked_op.insert(process, op);
                }
            }
            kind => {
                if dropped.remove(&process).unwrap_or(false) {
                    continue;
                }
                let Some(op) = invoked_op.remove(&process) else {
                    return Err(OracleError::Refused(format!(
                        "completion at {position} without invocation"
                    )));
                };
                let ret = match kind {
                    EventType::Ok => match op.action {
                        Action::Read => {
                            CellRet::Read(Cell::from_json(&event.value).ok_or_else(|| {
                                unsupported(format!("read value {} is not a scalar", event.value))
                            })?)
                        }
                        _ => CellRet::Done,
                    },
                    EventType::Fail if matches!(op.action, Action::Cas(..)) => CellRet::Mismatch,
                    EventType::Fail => {
                        return Err(unsupported(format!("{} failed with \"mismatch\"", event.f)))
                    }
                    // Indeterminate: stays in flight forever; the process continues on a new thread.
                    _ => {
                        next_thread += 1;
                        thread_of.insert(process, next_thread);
                        continue;
                    }
                };
                tester
                    .on_return(thread, ret)
                    .map_err(OracleError::Refused)?;
            }
        }
    }
    Ok(if tester.is_consistent() {
        Verdict::Ok
    } else {
        Verdict::Illegal
    })
}

fn decode_op(model: OracleModel, event: &crate::history::Event) -> Result<CellOp, String> {
    let cell = |json: &serde_json::Value| {
        Cell::from_json(json).ok_or_else(|| format!("value {json} is not a scalar"))
    };
    let (cas, delete_append) = match model {
        OracleModel::Register => (false, false),
        OracleModel::CasRegister => (true, false),
        OracleModel::Kv => (true, true),
    };
    let action = match &event.f {
        Function::Read => Action::Read,
        Function::Write => Action::Write(cell(&event.value)?),
        Function::Cas if cas => match event.value.as_array().map(Vec::as_slice) {
            Some([expected, new]) => Action::Cas(cell(expected)?, cell(new)?),
            _ => return Err(format!("cas value {} is not [expected, new]", event.value)),
        },
        Function::Delete if delete_append => Action::Delete,
        Function::Append if delete_append => match cell(&event.value)? {
            Cell::Str(suffix) => Action::Append(suffix),
            other => return Err(format!("append value {other:?} is not a string")),
        },
        other => return Err(format!("{model:?} does not support f {:?}", other.as_str())),
    };
    let key = match (model, &event.key) {
        (OracleModel::Kv, Some(key)) => key.clone(),
        (OracleModel::Kv, None) => {
            return Err("the kv model needs a key on every operation".to_string())
        }
        _ => String::new(),
    };
    Ok(CellOp { key, action })
}

#[cfg(test)]
mod tests;
