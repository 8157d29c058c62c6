//! Fault intervals from a history's nemesis events, for shading timelines and plots.
//!
//! Pairing rules (Jepsen's vocabulary): an event `start-X` opens an interval labelled `X` unless one is
//! already open (the `info` that completes a `start-X` invoke changes nothing but may add detail); a
//! `stop-X` closes it, and a following `stop-X` completion extends the closed interval to itself. A
//! `stop-X` with nothing to close is shown as an instant. Any other nemesis function (`kill`, `pause`)
//! spans from its invocation to its next completion of the same name, or is an instant. An interval
//! never closed lasts to the end of the history. Bounded: at most [`SPANS_MAX`] intervals are kept.

use super::escape::truncate;
use crate::history::{EventType, History, Process};
use std::collections::HashMap;

/// The most fault intervals taken from one history (later ones are dropped).
pub const SPANS_MAX: usize = 2_000;
/// Characters of a nemesis event's value kept in a label.
const DETAIL_CHARS_MAX: usize = 80;

/// A fault, as drawn on plots: a shaded time interval with a label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultInterval {
    /// Start, ns since the start of the test.
    pub start_ns: u64,
    /// End, ns since the start of the test (equal to `start_ns` for an instantaneous fault).
    pub end_ns: u64,
    /// What it was, e.g. `partition` or `kill {"node":2}`.
    pub label: String,
}

/// A fault as positions in the history's events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NemesisSpan {
    /// Position of the first event.
    pub start: usize,
    /// Position of the last event; `None` if never closed.
    pub end: Option<usize>,
    /// The fault's name with detail, e.g. `partition {"isolated":[1]}`.
    pub label: String,
}

/// The fault intervals of `history` in ns, open ones closed at the last event's time.
pub fn fault_intervals(history: &History) -> Vec<FaultInterval> {
    let events = history.events();
    let last_ns = events.last().map_or(0, |e| e.time);
    nemesis_spans(history)
        .into_iter()
        .map(|span| FaultInterval {
            start_ns: events[span.start].time,
            end_ns: span.end.map_or(last_ns, |end| events[end].time),
            label: span.label,
        })
        .collect()
}

/// The fault intervals of `history` as event positions.
pub(crate) fn nemesis_spans(history: &History) -> Vec<NemesisSpan> {
    let mut spans: Vec<NemesisSpan> = Vec::new();
    // Per fault name: index in `spans` of its open interval, and of its last closed one.
    let mut open: HashMap<String, usize> = HashMap::new();
    let mut closed: HashMap<String, usize> = HashMap::new();
    for (position, event) in history.events().iter().enumerate() {
        if event.process != Process::Nemesis {
            continue;
        }
        let f = event.f.as_str();
        let detail = if event.value.is_null() {
            String::new()
        } else {
            truncate(&event.value.to_string(), DETAIL_CHARS_MAX)
        };
        let (name, action) = if let Some(name) = f.strip_prefix("start-") {
            (name, Action::Start)
        } else if let Some(name) = f.strip_prefix("stop-") {
            (name, Action::Stop)
        } else if event.kind == EventType::Invoke {
            (f, Action::Start)
        } else {
            (f, Action::Stop)
        };
        match action {
            Action::Start => {
                if let Some(&index) = open.get(name) {
                    add_detail(&mut spans[index], name, &detail);
                } else if spans.len() < SPANS_MAX {
                    open.insert(name.to_string(), spans.len());
                    spans.push(NemesisSpan {
                        start: position,
                        end: None,
                        label: label(name, &detail),
                    });
                }
            }
            Action::Stop => {
                if let Some(index) = open.remove(name) {
                    spans[index].end = Some(position);
                    add_detail(&mut spans[index], name, &detail);
                    closed.insert(name.to_string(), index);
                } else if let Some(&index) = closed.get(name).filter(|&&i| spans[i].end.is_some()) {
                    spans[index].end = Some(position);
                } else if spans.len() < SPANS_MAX {
                    closed.insert(name.to_string(), spans.len());
                    spans.push(NemesisSpan {
                        start: position,
                        end: Some(position),
                        label: label(f, &detail),
                    });
                }
            }
        }
    }
    spans
}

#[derive(Clone, Copy)]
enum Action {
    Start,
    Stop,
}

fn label(name: &str, detail: &str) -> String {
    if detail.is_empty() {
        name.to_string()
    } else {
        format!("{name} {detail}")
    }
}

/// Adds a value seen on a later event when the interval has none yet.
fn add_detail(span: &mut NemesisSpan, name: &str, detail: &str) {
    if span.label == name && !detail.is_empty() {
        span.label = label(name, detail);
    }
}
