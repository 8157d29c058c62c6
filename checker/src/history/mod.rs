//! The one history type everybody uses: a validated sequence of [`Event`]s in real-time order, read from
//! and written to JSON Lines.
//!
//! Guarantees of a [`History`] value (checked on construction, see [`Problem`] for each violation):
//! times never decrease, every completion matches the pending invocation of its process (same function
//! and key), and no client process has two operations pending. An invocation with no completion is
//! indeterminate (Jepsen's `info`). Nemesis events are kept for display and are never operations.

mod event;
mod validate;
mod writer;

pub use event::{Event, EventType, Function, Process, ERROR_MISMATCH};
pub use validate::{Problem, Validator};
pub use writer::JsonlWriter;

use std::io::{BufRead, Write};

/// Why a history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// A line is not a valid event, or the events do not form a well-formed history.
    #[error("line {line}: {problem}")]
    Malformed {
        /// 1-based line number in the input.
        line: usize,
        /// What is wrong.
        problem: Problem,
    },
    /// Reading the input failed.
    #[error("cannot read history: {0}")]
    Io(#[from] std::io::Error),
}

/// The events of one client operation: its invocation and, if any, its completion (positions in
/// [`History::events`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpEvents {
    /// Position of the `invoke` event.
    pub invoke: usize,
    /// Position of the `ok`, `fail` or `info` event; `None` if the operation never completed.
    pub completion: Option<usize>,
}

/// A validated history: events in real-time order plus the pairing of invocations with completions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    events: Vec<Event>,
    /// 1-based input line of each event (blank lines are skipped but counted).
    lines: Vec<usize>,
    ops: Vec<OpEvents>,
}

impl History {
    /// Validates `events` (line numbers in errors are positions + 1).
    pub fn new(events: Vec<Event>) -> Result<History, HistoryError> {
        let lines = (1..=events.len()).collect();
        History::with_lines(events, lines)
    }

    fn with_lines(events: Vec<Event>, lines: Vec<usize>) -> Result<History, HistoryError> {
        let mut validator = Validator::default();
        for (position, event) in events.iter().enumerate() {
            validator
                .push(event, position, lines[position])
                .map_err(|problem| HistoryError::Malformed {
                    line: lines[position],
                    problem,
                })?;
        }
        let ops = validator.finish();
        Ok(History { events, lines, ops })
    }

    /// Parses JSON Lines text (blank lines are ignored).
    pub fn from_jsonl_str(text: &str) -> Result<History, HistoryError> {
        History::read_jsonl(text.as_bytes())
    }

    /// Reads JSON Lines from `reader` (blank lines are ignored).
    pub fn read_jsonl(reader: impl BufRead) -> Result<History, HistoryError> {
        let mut events = Vec::new();
        let mut lines = Vec::new();
        for (number, line) in reader.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let event: Event =
                serde_json::from_str(&line).map_err(|e| HistoryError::Malformed {
                    line: number + 1,
                    problem: Problem::BadJson(e.to_string()),
                })?;
            events.push(event);
            lines.push(number + 1);
        }
        History::with_lines(events, lines)
    }

    /// Writes the history as JSON Lines.
    pub fn write_jsonl(&self, writer: impl Write) -> std::io::Result<()> {
        let mut out = JsonlWriter::new(writer);
        for event in &self.events {
            out.write_event(event)?;
        }
        out.flush()
    }

    /// The events, in real-time order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The client operations, ordered by invocation.
    pub fn ops(&self) -> &[OpEvents] {
        &self.ops
    }

    /// The 1-based input line of the event at `position`.
    pub fn line_of(&self, position: usize) -> usize {
        self.lines.get(position).copied().unwrap_or(position + 1)
    }

    /// A new history holding only the operations whose invoke positions are in `keep_invokes` (sorted
    /// ascending): both events of each, in the original order, with their original fields. Nemesis
    /// events are dropped.
    pub fn with_ops(&self, keep_invokes: &[usize]) -> History {
        let mut keep = vec![false; self.events.len()];
        for op in &self.ops {
            if keep_invokes.binary_search(&op.invoke).is_ok() {
                keep[op.invoke] = true;
                if let Some(completion) = op.completion {
                    keep[completion] = true;
                }
            }
        }
        let mut events = Vec::new();
        let mut lines = Vec::new();
        for (position, event) in self.events.iter().enumerate() {
            if keep[position] {
                events.push(event.clone());
                lines.push(self.lines[position]);
            }
        }
        // A subsequence of whole operations of a valid history is valid: times stay ordered, pairs whole.
        History::with_lines(events, lines)
            .expect("a subsequence of whole operations stays well-formed")
    }
}

#[cfg(test)]
mod tests;
