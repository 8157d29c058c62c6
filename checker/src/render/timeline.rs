//! The timeline of one partition as an SVG: one row per client process, each operation a bar from its
//! invocation to its return (indeterminate ones hatched and open to the right edge), nemesis intervals
//! shaded behind, and for an Illegal partition its longest partial linearizations drawn on top (order
//! numbers on the bars, the state after each step in the tooltip, the blocked operation in red).
//!
//! The x axis is event order, not proportional time: every invocation or return gets its own column,
//! so real-time precedence (what linearizability is about) is exact and a 1 µs operation stays as
//! visible as a 10 s one. The axis is labelled with the real times of the events. Partial overlay `k`
//! is the group `g.partial[data-partial=k]`; all but the first are hidden until the page script
//! selects them.

use super::escape::{escape, truncate};
use super::format::format_ns;
use super::nemesis::{nemesis_spans, NemesisSpan};
use super::select::{select_ops, Selection};
use crate::history::History;
use crate::result::{CheckResult, OpView, PartialLinearization};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The most partial linearizations drawn per partition.
pub const PARTIALS_DRAWN_MAX: usize = 4;

const LEFT_PX: f64 = 110.0;
const TOP_PX: f64 = 56.0;
const ROW_PX: f64 = 46.0;
const BAR_TOP_PX: f64 = 16.0;
const BAR_PX: f64 = 24.0;
const COLUMN_PX_MIN: f64 = 16.0;
const COLUMN_PX_MAX: f64 = 120.0;
const WIDTH_TARGET_PX: f64 = 1150.0;
/// Approximate width of one character of the 12 px bar font.
const CHAR_PX: f64 = 7.0;
const AXIS_LABEL_SPACING_PX: f64 = 96.0;
/// Characters of a nemesis label drawn (the full label is in the tooltip).
const NEMESIS_LABEL_CHARS_MAX: usize = 28;

/// Maps event positions to x coordinates: one column per distinct position.
struct Columns {
    positions: Vec<usize>,
    column_px: f64,
}

impl Columns {
    fn x(&self, position: usize) -> f64 {
        let rank = self.positions.partition_point(|&p| p < position);
        LEFT_PX + (rank as f64 + 0.5) * self.column_px
    }

    /// Where open-ended bars and intervals end.
    fn right_px(&self) -> f64 {
        LEFT_PX + (self.positions.len() as f64 + 1.5) * self.column_px
    }
}

/// The timeline SVG of partition `partition` of `result` (which must come from checking `history`).
/// Returns an empty string for an unknown partition index.
pub fn timeline_svg(history: &History, result: &CheckResult, partition: usize) -> String {
    let Some(part) = result.partitions.get(partition) else {
        return String::new();
    };
    let selection = select_ops(result, part);
    timeline_for(history, result, partition, &selection)
}

pub(crate) fn timeline_for(
    history: &History,
    result: &CheckResult,
    partition: usize,
    selection: &Selection,
) -> String {
    let part = &result.partitions[partition];
    let ops: Vec<&OpView> = selection
        .ops
        .iter()
        .filter_map(|&id| result.ops.get(id))
        .collect();
    let events = history.events();
    let mut processes: Vec<u64> = ops.iter().map(|op| op.process).collect();
    processes.sort_unstable();
    processes.dedup();
    let row_of: BTreeMap<u64, usize> = processes
        .iter()
        .enumerate()
        .map(|(row, &p)| (p, row))
        .collect();

    // The window of event positions drawn, and the faults that overlap it.
    let window_start = ops.iter().map(|op| op.call).min().unwrap_or(0);
    let open_ended = ops.iter().any(|op| op.ret.is_none());
    let window_end = if open_ended {
        events.len().saturating_sub(1)
    } else {
        ops.iter()
            .filter_map(|op| op.ret)
            .max()
            .unwrap_or(window_start)
    };
    let spans: Vec<NemesisSpan> = nemesis_spans(history)
        .into_iter()
        .filter(|span| span.start <= window_end && span.end.unwrap_or(usize::MAX) >= window_start)
        .collect();
    let mut positions: Vec<usize> = ops
        .iter()
        .flat_map(|op| std::iter::once(op.call).chain(op.ret))
        .collect();
    for span in &spans {
        positions.extend(
            [span.start]
                .into_iter()
                .chain(span.end)
                .filter(|p| (window_start..=window_end).contains(p)),
        );
    }
    positions.sort_unstable();
    positions.dedup();
    let column_px =
        (WIDTH_TARGET_PX / positions.len().max(1) as f64).clamp(COLUMN_PX_MIN, COLUMN_PX_MAX);
    let columns = Columns {
        positions,
        column_px,
    };
    let width = columns.right_px() + 20.0;
    let height = TOP_PX + processes.len().max(1) as f64 * ROW_PX + 12.0;
    let body_bottom = TOP_PX + processes.len().max(1) as f64 * ROW_PX;

    let mut svg = String::new();
    let hatch = format!("hatch-{partition}");
    let _ = write!(
        svg,
        r##"<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="timeline of {label}">"##,
        label = escape(&part.label)
    );
    let _ = write!(
        svg,
        r##"<defs><pattern id="{hatch}" patternUnits="userSpaceOnUse" width="8" height="8" patternTransform="rotate(45)"><rect width="8" height="8" fill="#fff3d6"/><line x1="0" y1="0" x2="0" y2="8" stroke="#efbe6e" stroke-width="2.5"/></pattern></defs>"##
    );
    // Process rows (alternating background); their labels are drawn last, on top.
    for row in 0..processes.len() {
        let y = TOP_PX + row as f64 * ROW_PX;
        let _ = write!(
            svg,
            r#"<rect class="row{odd}" x="0" y="{y:.1}" width="{width:.0}" height="{ROW_PX}"/>"#,
            odd = if row % 2 == 1 { " odd" } else { "" },
        );
    }
    // Time axis: a label every few columns with the event's real time.
    let every = (AXIS_LABEL_SPACING_PX / columns.column_px).ceil().max(1.0) as usize;
    let mut previous_label: Option<String> = None;
    for (rank, &position) in columns.positions.iter().enumerate() {
        let x = columns.x(position);
        let major = rank % every == 0;
        let _ = write!(
            svg,
            r#"<line class="tick{major}" x1="{x:.1}" y1="{y1:.1}" x2="{x:.1}" y2="{body_bottom:.1}"/>"#,
            major = if major { " major" } else { "" },
            y1 = TOP_PX - 6.0
        );
        let label = format_ns(events.get(position).map_or(0, |e| e.time));
        // A label equal to the previous one (same time at the displayed precision) says nothing new.
        if major && previous_label.as_ref() != Some(&label) {
            let _ = write!(
                svg,
                r#"<text class="axis" x="{x:.1}" y="{y:.1}">{}</text>"#,
                escape(&label),
                y = TOP_PX - 10.0
            );
            previous_label = Some(label);
        }
    }
    // Faults behind the operations.
    for span in &spans {
        let x0 = columns.x(span.start).max(LEFT_PX);
        let x1 = span
            .end
            .map_or(columns.right_px(), |end| columns.x(end))
            .min(columns.right_px());
        let x1 = x1.max(x0 + 3.0);
        let tip = format!(
            "nemesis: {}\nfrom {} to {}",
            span.label,
            format_ns(events[span.start].time),
            span.end
                .map_or("the end".to_string(), |end| format_ns(events[end].time))
        );
        let _ = write!(
            svg,
            r#"<g class="nemesis" data-tip="{tip}"><rect x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}"/><text x="{tx:.1}" y="{ty:.1}">{label}</text><title>{tip}</title></g>"#,
            tip = escape(&tip),
            y = 4.0,
            w = x1 - x0,
            h = body_bottom - 4.0,
            tx = x0 + 3.0,
            ty = 15.0,
            label = escape(&truncate(&span.label, NEMESIS_LABEL_CHARS_MAX))
        );
    }
    // Operations. Text may run past a short bar up to the next bar of the same process.
    let mut next_call: BTreeMap<usize, f64> = BTreeMap::new();
    {
        let mut by_row: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
        for op in &ops {
            by_row
                .entry(row_of[&op.process])
                .or_default()
                .push(columns.x(op.call));
        }
        for op in &ops {
            let x0 = columns.x(op.call);
            let next = by_row[&row_of[&op.process]]
                .iter()
                .copied()
                .filter(|&x| x > x0)
                .fold(f64::INFINITY, f64::min);
            next_call.insert(op.id, next.min(columns.right_px()));
        }
    }
    for op in &ops {
        let (x0, x1, y) = bar(&columns, &row_of, op);
        let kind = if op.ret.is_none() {
            "indeterminate"
        } else {
            "ok"
        };
        // Inline style: it must win over the stylesheet's fill for bars.
        let fill = if op.ret.is_none() {
            format!(r#" style="fill: url(#{hatch})""#)
        } else {
            String::new()
        };
        let text_px = next_call[&op.id] - x0 - 8.0;
        let chars = (text_px / CHAR_PX).floor().max(0.0) as usize;
        let tip = op_tip(op, &part.label);
        let _ = write!(
            svg,
            r#"<g class="op {kind}" data-op="{id}" data-tip="{tip}"><rect x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{BAR_PX}" rx="3"{fill}/>"#,
            id = op.id,
            tip = escape(&tip),
            w = x1 - x0,
        );
        if chars >= 2 {
            let _ = write!(
                svg,
                r#"<text x="{tx:.1}" y="{ty:.1}">{text}</text>"#,
                tx = x0 + 4.0,
                ty = y + 16.0,
                text = escape(&truncate(&op.description, chars))
            );
        }
        let _ = write!(svg, "<title>{}</title></g>", escape(&tip));
    }
    // Partial linearizations on top.
    for (k, partial) in part.partials.iter().take(PARTIALS_DRAWN_MAX).enumerate() {
        svg.push_str(&partial_overlay(&columns, &row_of, result, partial, k));
    }
    // Process labels on an opaque strip the page script keeps at the left edge while scrolling.
    svg.push_str(r#"<g class="labels">"#);
    for (row, process) in processes.iter().enumerate() {
        let y = TOP_PX + row as f64 * ROW_PX;
        let _ = write!(
            svg,
            r#"<rect class="row{odd}" x="0" y="{y:.1}" width="{w:.1}" height="{ROW_PX}"/><text class="process" x="8" y="{ty:.1}">process {process}</text>"#,
            odd = if row % 2 == 1 { " odd" } else { "" },
            w = LEFT_PX - 12.0,
            ty = y + BAR_TOP_PX + 16.0
        );
    }
    svg.push_str("</g></svg>");
    svg
}

fn bar(columns: &Columns, row_of: &BTreeMap<u64, usize>, op: &OpView) -> (f64, f64, f64) {
    let x0 = columns.x(op.call) - columns.column_px * 0.3;
    let x1 = op.ret.map_or(columns.right_px(), |ret| {
        columns.x(ret) + columns.column_px * 0.3
    });
    let y = TOP_PX + row_of[&op.process] as f64 * ROW_PX + BAR_TOP_PX;
    (x0, x1, y)
}

fn op_tip(op: &OpView, partition: &str) -> String {
    let returned = op
        .return_time_ns
        .map_or("never returned (indeterminate)".to_string(), |t| {
            format!("returned {}", format_ns(t))
        });
    format!(
        "{}\nprocess {} · operation {} · {partition}\ninvoked {}, {returned}",
        op.description,
        op.process,
        op.id,
        format_ns(op.call_time_ns)
    )
}

fn partial_overlay(
    columns: &Columns,
    row_of: &BTreeMap<u64, usize>,
    result: &CheckResult,
    partial: &PartialLinearization,
    k: usize,
) -> String {
    let mut svg = String::new();
    let blocked = result.ops.get(partial.blocked_op);
    let _ = write!(
        svg,
        r#"<g class="partial{hidden}" data-partial="{k}" data-summary="{summary}">"#,
        hidden = if k == 0 { "" } else { " hidden" },
        summary = escape(&format!(
            "{} steps, then {} cannot be placed",
            partial.steps.len(),
            blocked.map_or("?", |op| op.description.as_str())
        ))
    );
    let drawn = |id: usize| {
        result.ops.get(id).filter(|op| {
            row_of.contains_key(&op.process) && columns.positions.binary_search(&op.call).is_ok()
        })
    };
    // The order as a faint path through the badges, then the badges.
    let mut path = Vec::new();
    for step in &partial.steps {
        if let Some(op) = drawn(step.op) {
            let (x0, _, y) = bar(columns, row_of, op);
            path.push(format!("{:.1},{:.1}", x0 + 9.0, y - 8.0));
        }
    }
    if path.len() > 1 {
        let _ = write!(
            svg,
            r#"<polyline class="order" points="{}"/>"#,
            path.join(" ")
        );
    }
    for (index, step) in partial.steps.iter().enumerate() {
        let Some(op) = drawn(step.op) else { continue };
        let (x0, x1, y) = bar(columns, row_of, op);
        let number = index + 1;
        let tip = format!(
            "step {number}: {}\nprocess {}\nstate after: {}",
            op.description, op.process, step.state_after
        );
        let badge_px = 10.0 + 7.0 * number.to_string().len() as f64;
        let _ = write!(
            svg,
            r#"<g class="step" data-step="{number}" data-tip="{tip}"><rect class="linearized" x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{BAR_PX}" rx="3"/><rect class="badge" x="{bx:.1}" y="{by:.1}" width="{badge_px:.1}" height="15" rx="7"/><text class="badge" x="{tx:.1}" y="{ty:.1}">{number}</text><title>{tip}</title></g>"#,
            tip = escape(&tip),
            w = x1 - x0,
            bx = x0 + 2.0,
            by = y - 15.0,
            tx = x0 + 2.0 + badge_px / 2.0,
            ty = y - 3.5,
        );
    }
    if let Some(op) = blocked.filter(|op| drawn(op.id).is_some()) {
        let (x0, x1, y) = bar(columns, row_of, op);
        let tip = format!(
            "cannot be linearized after step {}: {}\nprocess {}\nno continuation of this order can place it without breaking the model or real time",
            partial.steps.len(),
            op.description,
            op.process
        );
        let _ = write!(
            svg,
            r#"<g class="blocked-op" data-op="{id}" data-tip="{tip}"><rect class="blocked" x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{BAR_PX}" rx="3"/><text class="blocked-label" x="{x0:.1}" y="{ty:.1}">✗ blocked</text><title>{tip}</title></g>"#,
            id = op.id,
            tip = escape(&tip),
            w = x1 - x0,
            ty = y - 4.0,
        );
    }
    svg.push_str("</g>");
    svg
}
