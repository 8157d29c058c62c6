//! Turning a [`History`] into the [`Operation`]s a model checks.
//!
//! Jepsen semantics: `ok` completions return where they appear; `info` and missing completions are
//! indeterminate (they return at +infinity, so they may take effect any time after their invocation or,
//! by being linearized last, never); `fail` means no effect and is dropped, except a cas that failed with
//! `"error": "mismatch"`, which the model keeps as the constraint "the value was not the expected one".

use crate::history::{EventType, History};
use crate::model::{Completion, FromHistory, Operation};

/// Why a history could not be turned into operations for a model.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct OperationsError {
    /// 1-based input line of the offending event.
    pub line: usize,
    /// What the model could not understand.
    pub message: String,
}

/// The operations of a model.
pub type Operations<M> =
    Vec<Operation<<M as crate::model::Model>::Input, <M as crate::model::Model>::Output>>;

/// The operations of `history` for `model`, ordered by invocation, with dense ids.
pub fn operations<M: FromHistory>(
    model: &M,
    history: &History,
) -> Result<Operations<M>, OperationsError> {
    let events = history.events();
    let mut ops = Vec::with_capacity(history.ops().len());
    for pair in history.ops() {
        let invoke = &events[pair.invoke];
        let (completion, ret) = match pair
            .completion
            .map(|position| (position, &events[position]))
        {
            None => (Completion::Unknown, None),
            Some((_, event)) if event.kind == EventType::Info => (Completion::Unknown, None),
            Some((position, event)) if event.kind == EventType::Ok => {
                (Completion::Ok(event), Some(position))
            }
            Some((position, event)) if event.is_mismatch() => {
                (Completion::Mismatch(event), Some(position))
            }
            // Any other failure certainly had no effect: drop it before the search.
            Some(_) => continue,
        };
        let line_of_problem = match completion {
            Completion::Ok(_) | Completion::Mismatch(_) => ret.unwrap_or(pair.invoke),
            Completion::Unknown => pair.invoke,
        };
        let (input, output) = model
            .decode(invoke, completion)
            .map_err(|e| OperationsError {
                line: history.line_of(line_of_problem),
                message: e.0,
            })?;
        let crate::history::Process::Client(process) = invoke.process else {
            unreachable!("the history pairs only client events into operations");
        };
        ops.push(Operation {
            id: ops.len(),
            process,
            input,
            output,
            call: pair.invoke,
            ret,
        });
    }
    Ok(ops)
}
