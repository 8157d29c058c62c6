//! The HTML around the timelines: the summary, the partition table, and one section per drawn
//! partition (header, what was left out, legend, timeline, partial-linearization tables).

use super::escape::escape;
use super::format::format_ns;
use super::nemesis::nemesis_spans;
use super::select::select_ops;
use super::timeline::{timeline_for, PARTIALS_DRAWN_MAX};
use crate::history::History;
use crate::result::{CheckResult, PartialLinearization, PartitionResult, Verdict};
use std::fmt::Write;

/// The most partitions drawn in one page (Illegal ones first); the rest are listed only.
pub const PARTITIONS_DRAWN_MAX: usize = 40;
/// The most steps of one partial linearization listed in its table (the last ones, next to the block).
pub const STEPS_LISTED_MAX: usize = 60;

pub(crate) fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "Ok",
        Verdict::Illegal => "Illegal",
        Verdict::Unknown => "Unknown",
    }
}

fn verdict_class(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "ok",
        Verdict::Illegal => "illegal",
        Verdict::Unknown => "unknown",
    }
}

fn pill(verdict: Verdict) -> String {
    format!(
        r#"<span class="verdict {}">{}</span>"#,
        verdict_class(verdict),
        verdict_name(verdict)
    )
}

/// Partition indices in display order: Illegal, then Unknown, then Ok; stable within each.
pub(crate) fn display_order(result: &CheckResult) -> Vec<usize> {
    let rank = |v: Verdict| match v {
        Verdict::Illegal => 0,
        Verdict::Unknown => 1,
        Verdict::Ok => 2,
    };
    let mut order: Vec<usize> = (0..result.partitions.len()).collect();
    order.sort_by_key(|&i| rank(result.partitions[i].verdict));
    order
}

pub(crate) fn summary(history: &History, result: &CheckResult) -> String {
    let count = |v: Verdict| result.partitions_with(v).count();
    let dropped = history.ops().len().saturating_sub(result.ops.len());
    let faults = nemesis_spans(history).len();
    let mut html = String::new();
    let facts = [
        ("Verdict", pill(result.verdict)),
        (
            "Partitions",
            format!(
                "{} Illegal · {} Unknown · {} Ok",
                count(Verdict::Illegal),
                count(Verdict::Unknown),
                count(Verdict::Ok)
            ),
        ),
        ("Operations checked", result.ops.len().to_string()),
        ("Failed (no effect, not drawn)", dropped.to_string()),
        ("Fault intervals", faults.to_string()),
        (
            "History span",
            escape(&format_ns(history.events().last().map_or(0, |e| e.time))),
        ),
        (
            "Check time",
            escape(&format_ns(
                u64::try_from(result.elapsed.as_nanos()).unwrap_or(u64::MAX),
            )),
        ),
    ];
    html.push_str(r#"<div class="facts">"#);
    for (name, value) in facts {
        let _ = write!(
            html,
            r#"<div class="fact"><span class="name">{name}</span><span class="value">{value}</span></div>"#
        );
    }
    html.push_str("</div>");
    if result.verdict == Verdict::Illegal {
        html.push_str(r#"<p class="explain">No order of the operations is consistent with both the model and real time. For each Illegal partition the view shows the longest orders the search found (numbered steps) and the operation it could not place after them (red).</p>"#);
        if result
            .partitions_with(Verdict::Illegal)
            .all(|p| p.partials.is_empty())
        {
            html.push_str(r#"<p class="note">This result has no partial linearizations: check with explain mode to see why it is Illegal.</p>"#);
        }
    }
    html
}

pub(crate) fn partition_table(result: &CheckResult, drawn: &[usize]) -> String {
    let mut html = String::from(
        r#"<table class="partitions"><thead><tr><th>Partition</th><th>Verdict</th><th>Operations</th><th>Search steps</th><th>Search time</th></tr></thead><tbody>"#,
    );
    for index in display_order(result) {
        let part = &result.partitions[index];
        let name = if drawn.contains(&index) {
            format!(
                r##"<a class="partition-link" href="#partition-{index}">{}</a>"##,
                escape(&part.label)
            )
        } else {
            format!("{} <small>(not drawn)</small>", escape(&part.label))
        };
        let _ = write!(
            html,
            r#"<tr class="{class}"><td class="mono">{name}</td><td>{pill}{reason}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            part.ops.len(),
            part.stats.steps,
            search_time(part.stats.elapsed_us),
            class = verdict_class(part.verdict),
            pill = pill(part.verdict),
            reason = part.unknown_reason.map_or(String::new(), |r| format!(
                " <small>({})</small>",
                escape(&format!("{r:?}"))
            )),
        );
    }
    html.push_str("</tbody></table>");
    html
}

fn search_time(elapsed_us: u64) -> String {
    if elapsed_us == 0 {
        "< 1 µs".to_string()
    } else {
        format_ns(elapsed_us.saturating_mul(1_000))
    }
}

const LEGEND: &str = r#"<div class="legend"><span><span class="swatch ok"></span>operation (invocation → return)</span><span><span class="swatch indeterminate"></span>indeterminate (may take effect any time after its invocation, or never)</span><span><span class="swatch linearized"></span>linearized, numbered in order</span><span><span class="swatch blocked"></span>could not be linearized next</span><span><span class="swatch nemesis"></span>fault interval</span><span>x: event order, labelled with real time</span></div>"#;

pub(crate) fn partition_section(history: &History, result: &CheckResult, index: usize) -> String {
    let part = &result.partitions[index];
    let selection = select_ops(result, part);
    let mut html = String::new();
    let _ = write!(
        html,
        r#"<section class="partition" id="partition-{index}" data-label="{label}" data-verdict="{class}" data-verdict-name="{name}"><h2>Partition <code>{label}</code> {pill}</h2>"#,
        label = escape(&part.label),
        class = verdict_class(part.verdict),
        name = verdict_name(part.verdict),
        pill = pill(part.verdict),
    );
    let _ = write!(
        html,
        r#"<p class="meta">{} operations · {} search steps · {} configurations{}</p>"#,
        part.ops.len(),
        part.stats.steps,
        part.stats.configurations,
        part.unknown_reason
            .map_or(String::new(), |r| escape(&format!(" · undecided: {r:?}")))
    );
    if let Some(note) = &selection.note {
        let _ = write!(html, r#"<p class="note">{}</p>"#, escape(note));
    }
    if part.partials.len() > PARTIALS_DRAWN_MAX {
        let _ = write!(
            html,
            r#"<p class="note">{} partial linearizations were found; the {PARTIALS_DRAWN_MAX} longest are drawn.</p>"#,
            part.partials.len()
        );
    }
    html.push_str(r#"<div class="partial-selector"></div>"#);
    html.push_str(LEGEND);
    let _ = write!(
        html,
        r#"<div class="timeline-scroll">{}</div>"#,
        timeline_for(history, result, index, &selection)
    );
    for (k, partial) in part.partials.iter().take(PARTIALS_DRAWN_MAX).enumerate() {
        html.push_str(&steps_table(result, part, partial, k));
    }
    html.push_str("</section>\n");
    html
}

fn steps_table(
    result: &CheckResult,
    part: &PartitionResult,
    partial: &PartialLinearization,
    k: usize,
) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        r#"<table class="steps{hidden}" data-partial="{k}"><caption>Partial linearization {n} of {label}: {steps} steps, then blocked</caption><thead><tr><th>#</th><th>process</th><th>operation</th><th>state after</th></tr></thead><tbody>"#,
        hidden = if k == 0 { "" } else { " hidden" },
        n = k + 1,
        label = escape(&part.label),
        steps = partial.steps.len(),
    );
    let skipped = partial.steps.len().saturating_sub(STEPS_LISTED_MAX);
    if skipped > 0 {
        let _ = write!(
            html,
            r#"<tr class="elided"><td colspan="4">… {skipped} earlier steps not listed</td></tr>"#
        );
    }
    for (index, step) in partial.steps.iter().enumerate().skip(skipped) {
        let (process, description) = result
            .ops
            .get(step.op)
            .map_or((String::from("?"), String::from("?")), |op| {
                (op.process.to_string(), op.description.clone())
            });
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td>{process}</td><td class="op">{}</td><td class="mono">{}</td></tr>"#,
            index + 1,
            escape(&description),
            escape(&step.state_after)
        );
    }
    if let Some(op) = result.ops.get(partial.blocked_op) {
        let _ = write!(
            html,
            r#"<tr class="blocked"><td>✗</td><td>{}</td><td class="op">{}</td><td>no continuation of the steps above can place it (the model or real-time order forbids it)</td></tr>"#,
            op.process,
            escape(&op.description)
        );
    }
    html.push_str("</tbody></table>");
    html
}
