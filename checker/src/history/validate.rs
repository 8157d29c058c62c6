//! Incremental well-formedness check of a history, shared by the parser and the [`super::JsonlWriter`].
//!
//! Feeding events one at a time lets the recorder refuse a malformed event at the moment it is produced,
//! and lets the parser report the exact line of the first problem.

use super::{Event, EventType, Function, OpEvents, Process};
use std::collections::HashMap;

/// One way a history can be malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The line is not a JSON event.
    #[error("not a valid event: {0}")]
    BadJson(String),
    /// `time` is smaller than the previous event's.
    #[error("time goes backwards: {time} ns after {previous} ns")]
    TimeBackwards {
        /// This event's time.
        time: u64,
        /// The previous event's time.
        previous: u64,
    },
    /// A completion arrived for a process with no pending operation.
    #[error("{kind} completion from process {process} which has no pending invocation")]
    CompletionWithoutInvocation {
        /// The completing process.
        process: u64,
        /// The completion's type.
        kind: &'static str,
    },
    /// A process invoked while an earlier operation of it is still pending.
    #[error(
        "process {process} invokes while its operation from line {pending_line} is still pending"
    )]
    TwoPendingOperations {
        /// The process.
        process: u64,
        /// 1-based input line of the pending invocation.
        pending_line: usize,
    },
    /// A completion names another function than its invocation.
    #[error("completion f {completion:?} does not match the invocation's f {invocation:?}")]
    FunctionMismatch {
        /// The invocation's function.
        invocation: String,
        /// The completion's function.
        completion: String,
    },
    /// A completion names another key than its invocation.
    #[error("completion key {completion:?} does not match the invocation's key {invocation:?}")]
    KeyMismatch {
        /// The invocation's key.
        invocation: Option<String>,
        /// The completion's key.
        completion: Option<String>,
    },
}

/// Checks events one at a time and pairs invocations with completions.
#[derive(Debug, Default)]
pub struct Validator {
    previous_time: u64,
    /// Pending invocation per process: index into `ops`.
    pending: HashMap<u64, usize>,
    ops: Vec<OpEvents>,
    /// Function and key of each op's invocation, to compare with its completion.
    invoked: Vec<(Function, Option<String>)>,
    /// Input line of each op's invocation, for messages.
    invoke_lines: Vec<usize>,
}

impl Validator {
    /// Accepts `event` at `position` (0-based among events) or says what is wrong with it. A rejected
    /// event leaves the validator unchanged.
    /// `line` is the 1-based input line, used in messages.
    pub fn push(&mut self, event: &Event, position: usize, line: usize) -> Result<(), Problem> {
        if event.time < self.previous_time {
            return Err(Problem::TimeBackwards {
                time: event.time,
                previous: self.previous_time,
            });
        }
        let Process::Client(process) = event.process else {
            self.previous_time = event.time;
            return Ok(());
        };
        if event.kind == EventType::Invoke {
            if let Some(&op) = self.pending.get(&process) {
                return Err(Problem::TwoPendingOperations {
                    process,
                    pending_line: self.invoke_lines[op],
                });
            }
            self.pending.insert(process, self.ops.len());
            self.ops.push(OpEvents {
                invoke: position,
                completion: None,
            });
            self.invoked.push((event.f.clone(), event.key.clone()));
            self.invoke_lines.push(line);
        } else {
            let Some(&op) = self.pending.get(&process) else {
                return Err(Problem::CompletionWithoutInvocation {
                    process,
                    kind: event.kind.as_str(),
                });
            };
            let (f, key) = &self.invoked[op];
            if *f != event.f {
                return Err(Problem::FunctionMismatch {
                    invocation: f.to_string(),
                    completion: event.f.to_string(),
                });
            }
            if event.key.is_some() && event.key != *key {
                return Err(Problem::KeyMismatch {
                    invocation: key.clone(),
                    completion: event.key.clone(),
                });
            }
            self.pending.remove(&process);
            self.ops[op].completion = Some(position);
        }
        self.previous_time = event.time;
        Ok(())
    }

    /// The operations seen so far, ordered by invocation.
    pub fn finish(self) -> Vec<OpEvents> {
        self.ops
    }
}
