//! Latency-over-time and throughput plots as SVG, with fault intervals shaded, as Jepsen draws them:
//! latency is a scatter of (invocation time, latency) on a log scale coloured by outcome; throughput is
//! completions per second per outcome over time buckets. Pure functions; bounded output (points beyond
//! [`POINTS_DRAWN_MAX`] are thinned, rare outcomes first kept, and the plot says so).

use super::escape::{escape, truncate};
use super::format::format_ns;
use super::nemesis::FaultInterval;
use crate::history::{EventType, History, Process};
use std::collections::HashMap;
use std::fmt::Write;

/// The most points drawn in a latency plot.
pub const POINTS_DRAWN_MAX: usize = 20_000;
/// Buckets a throughput plot aims for.
const BUCKETS_TARGET: u64 = 60;
const WIDTH_PX: f64 = 900.0;
const HEIGHT_PX: f64 = 300.0;
const LEFT_PX: f64 = 72.0;
const RIGHT_PX: f64 = 16.0;
const TOP_PX: f64 = 28.0;
const BOTTOM_PX: f64 = 40.0;
const FAULT_LABEL_CHARS_MAX: usize = 24;

/// How an operation completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Completed and took effect.
    Ok,
    /// Certainly had no effect (includes a cas that found another value).
    Fail,
    /// Indeterminate (timed out, connection lost).
    Info,
}

impl Outcome {
    const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::Fail, Outcome::Info];

    fn class(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        }
    }
}

/// `(invocation time ns, latency ns, outcome)` of every client operation that completed, in
/// invocation order. Operations that never completed have no latency and are left out.
pub fn latency_points(history: &History) -> Vec<(u64, u64, Outcome)> {
    let events = history.events();
    history
        .ops()
        .iter()
        .filter_map(|op| {
            let invoke = &events[op.invoke];
            let done = &events[op.completion?];
            let outcome = match done.kind {
                EventType::Ok => Outcome::Ok,
                EventType::Fail => Outcome::Fail,
                EventType::Info | EventType::Invoke => Outcome::Info,
            };
            matches!(invoke.process, Process::Client(_))
                .then(|| (invoke.time, done.time.saturating_sub(invoke.time), outcome))
        })
        .collect()
}

/// A 1, 2 or 5 times a power of ten, at least `raw`.
fn nice(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&step| step >= raw)
        .unwrap_or(10.0 * magnitude)
}

/// The frame, x axis (time) with grid, fault intervals, and the opening `<svg>`.
struct Frame {
    svg: String,
    span_ns: f64,
}

impl Frame {
    fn new(class: &str, aria: &str, span_ns: u64, faults: &[FaultInterval]) -> Frame {
        let span_ns = nice_span(span_ns);
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg class="plot {class}" xmlns="http://www.w3.org/2000/svg" width="{WIDTH_PX}" height="{HEIGHT_PX}" viewBox="0 0 {WIDTH_PX} {HEIGHT_PX}" role="img" aria-label="{}">"#,
            escape(aria)
        );
        let mut frame = Frame { svg, span_ns };
        let step = nice(frame.span_ns / 8.0);
        let mut tick = 0.0;
        while tick <= frame.span_ns + 0.5 {
            let x = frame.x(tick);
            let _ = write!(
                frame.svg,
                r#"<line class="grid" x1="{x:.1}" y1="{TOP_PX}" x2="{x:.1}" y2="{y2:.1}"/><text x="{x:.1}" y="{ty:.1}" text-anchor="middle">{}</text>"#,
                escape(&format_ns(tick as u64)),
                y2 = HEIGHT_PX - BOTTOM_PX,
                ty = HEIGHT_PX - BOTTOM_PX + 15.0
            );
            tick += step;
        }
        let _ = write!(
            frame.svg,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="middle">time since start</text>"#,
            x = LEFT_PX + (WIDTH_PX - LEFT_PX - RIGHT_PX) / 2.0,
            y = HEIGHT_PX - 6.0
        );
        for fault in faults.iter().take(super::nemesis::SPANS_MAX) {
            let x0 = frame.x(fault.start_ns as f64);
            let x1 = frame.x(fault.end_ns as f64).max(x0 + 2.0);
            let tip = format!(
                "{}: {} – {}",
                fault.label,
                format_ns(fault.start_ns),
                format_ns(fault.end_ns)
            );
            let _ = write!(
                frame.svg,
                r#"<g class="fault"><rect x="{x0:.1}" y="{TOP_PX}" width="{w:.1}" height="{h:.1}"/><text x="{tx:.1}" y="{ty:.1}">{label}</text><title>{tip}</title></g>"#,
                w = x1 - x0,
                h = HEIGHT_PX - TOP_PX - BOTTOM_PX,
                tx = x0 + 2.0,
                ty = TOP_PX - 4.0,
                label = escape(&truncate(&fault.label, FAULT_LABEL_CHARS_MAX)),
                tip = escape(&tip)
            );
        }
        frame
    }

    fn x(&self, ns: f64) -> f64 {
        LEFT_PX + (ns / self.span_ns).clamp(0.0, 1.0) * (WIDTH_PX - LEFT_PX - RIGHT_PX)
    }

    fn legend(&mut self, counts: &HashMap<Outcome, usize>) {
        let mut x = WIDTH_PX - RIGHT_PX - 230.0;
        for outcome in Outcome::ALL {
            let _ = write!(
                self.svg,
                r#"<circle class="{c}" cx="{x:.1}" cy="12" r="4"/><text x="{tx:.1}" y="16">{c} ({n})</text>"#,
                c = outcome.class(),
                tx = x + 8.0,
                n = counts.get(&outcome).copied().unwrap_or(0)
            );
            x += 78.0;
        }
    }

    fn finish(mut self, note: Option<String>) -> String {
        let _ = write!(
            self.svg,
            r#"<rect class="frame" x="{LEFT_PX}" y="{TOP_PX}" width="{w:.1}" height="{h:.1}"/>"#,
            w = WIDTH_PX - LEFT_PX - RIGHT_PX,
            h = HEIGHT_PX - TOP_PX - BOTTOM_PX
        );
        if let Some(note) = note {
            let _ = write!(
                self.svg,
                r#"<text x="{LEFT_PX}" y="14">{}</text>"#,
                escape(&note)
            );
        }
        self.svg.push_str("</svg>");
        self.svg
    }
}

/// A rate with a k or M suffix: `800k`, `1.2M`.
fn format_rate(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.3}", per_second / 1e6)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
            + "M"
    } else if per_second >= 1e3 {
        format!("{:.3}", per_second / 1e3)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
            + "k"
    } else {
        format!("{per_second:.0}")
    }
}

/// A span at least 1 ns, so empty plots still have an axis.
fn nice_span(span_ns: u64) -> f64 {
    (span_ns.max(1)) as f64
}

fn plot_bottom() -> f64 {
    HEIGHT_PX - BOTTOM_PX
}

/// Latency over time: one dot per operation at (invocation time, latency), log-scaled latency,
/// coloured by outcome, fault intervals shaded and labelled.
pub fn latency_plot_svg(points: &[(u64, u64, Outcome)], faults: &[FaultInterval]) -> String {
    let span_ns = points
        .iter()
        .map(|&(t, l, _)| t.saturating_add(l))
        .chain(faults.iter().map(|f| f.end_ns))
        .max()
        .unwrap_or(0);
    let mut frame = Frame::new("latency", "latency over time", span_ns, faults);
    let latency_max = points.iter().map(|p| p.1).max().unwrap_or(1).max(1);
    let latency_min = points.iter().map(|p| p.1).min().unwrap_or(1).max(1);
    let decade_low = (latency_min as f64).log10().floor() as i32;
    let decade_high = ((latency_max as f64).log10().ceil() as i32).max(decade_low + 1);
    let y = |latency: u64| {
        let fraction = ((latency.max(1) as f64).log10() - decade_low as f64)
            / (decade_high - decade_low) as f64;
        plot_bottom() - fraction.clamp(0.0, 1.0) * (plot_bottom() - TOP_PX)
    };
    for decade in decade_low..=decade_high {
        let value = 10u64.saturating_pow(decade.max(0) as u32);
        let yy = y(value);
        let _ = write!(
            frame.svg,
            r#"<line class="grid" x1="{LEFT_PX}" y1="{yy:.1}" x2="{x2:.1}" y2="{yy:.1}"/><text x="{tx:.1}" y="{ty:.1}" text-anchor="end">{}</text>"#,
            escape(&format_ns(value)),
            x2 = WIDTH_PX - RIGHT_PX,
            tx = LEFT_PX - 6.0,
            ty = yy + 4.0
        );
    }
    let (drawn, note) = thin(points);
    let mut counts: HashMap<Outcome, usize> = HashMap::new();
    for &(_, _, outcome) in points {
        *counts.entry(outcome).or_default() += 1;
    }
    // Ok first so rarer outcomes are drawn on top.
    for outcome in Outcome::ALL {
        for &&(time, latency, _) in drawn.iter().filter(|p| p.2 == outcome) {
            let _ = write!(
                frame.svg,
                r#"<circle class="{}" cx="{:.1}" cy="{:.1}" r="2"/>"#,
                outcome.class(),
                frame.x(time as f64),
                y(latency)
            );
        }
    }
    frame.legend(&counts);
    frame.finish(note)
}

/// At most [`POINTS_DRAWN_MAX`] points: all fail and info points first (up to the cap), ok points
/// thinned evenly.
fn thin(points: &[(u64, u64, Outcome)]) -> (Vec<&(u64, u64, Outcome)>, Option<String>) {
    if points.len() <= POINTS_DRAWN_MAX {
        return (points.iter().collect(), None);
    }
    let mut drawn: Vec<&(u64, u64, Outcome)> = points
        .iter()
        .filter(|p| p.2 != Outcome::Ok)
        .take(POINTS_DRAWN_MAX)
        .collect();
    let room = POINTS_DRAWN_MAX - drawn.len();
    let ok: Vec<&(u64, u64, Outcome)> = points.iter().filter(|p| p.2 == Outcome::Ok).collect();
    if room > 0 && !ok.is_empty() {
        let stride = ok.len().div_ceil(room);
        drawn.extend(ok.into_iter().step_by(stride));
    }
    let note = format!("{} of {} points drawn", drawn.len(), points.len());
    (drawn, Some(note))
}

/// Throughput over time: completions per second in each time bucket, one line per outcome, fault
/// intervals shaded. Completion time is invocation time plus latency.
pub fn throughput_plot_svg(points: &[(u64, u64, Outcome)], faults: &[FaultInterval]) -> String {
    let span_ns = points
        .iter()
        .map(|&(t, l, _)| t.saturating_add(l))
        .chain(faults.iter().map(|f| f.end_ns))
        .max()
        .unwrap_or(0);
    let bucket_ns = nice(span_ns.max(1) as f64 / BUCKETS_TARGET as f64).max(1.0) as u64;
    let buckets = usize::try_from(span_ns / bucket_ns + 1)
        .unwrap_or(usize::MAX)
        .min(BUCKETS_TARGET as usize * 3);
    let mut rates: HashMap<Outcome, Vec<f64>> = HashMap::new();
    let mut counts: HashMap<Outcome, usize> = HashMap::new();
    for &(time, latency, outcome) in points {
        let bucket = usize::try_from(time.saturating_add(latency) / bucket_ns)
            .unwrap_or(usize::MAX)
            .min(buckets - 1);
        rates.entry(outcome).or_insert_with(|| vec![0.0; buckets])[bucket] +=
            1e9 / bucket_ns as f64;
        *counts.entry(outcome).or_default() += 1;
    }
    let mut frame = Frame::new("throughput", "throughput over time", span_ns, faults);
    let rate_max = rates.values().flatten().copied().fold(0.0, f64::max);
    let top = nice(rate_max.max(1.0) / 4.0) * 4.0;
    let y = |rate: f64| plot_bottom() - (rate / top).clamp(0.0, 1.0) * (plot_bottom() - TOP_PX);
    for i in 0..=4 {
        let value = top * i as f64 / 4.0;
        let yy = y(value);
        let _ = write!(
            frame.svg,
            r#"<line class="grid" x1="{LEFT_PX}" y1="{yy:.1}" x2="{x2:.1}" y2="{yy:.1}"/><text x="{tx:.1}" y="{ty:.1}" text-anchor="end">{}/s</text>"#,
            format_rate(value),
            x2 = WIDTH_PX - RIGHT_PX,
            tx = LEFT_PX - 6.0,
            ty = yy + 4.0
        );
    }
    for outcome in Outcome::ALL {
        let Some(series) = rates.get(&outcome) else {
            continue;
        };
        let points: Vec<String> = series
            .iter()
            .enumerate()
            .map(|(bucket, &rate)| {
                format!(
                    "{:.1},{:.1}",
                    frame.x((bucket as f64 + 0.5) * bucket_ns as f64),
                    y(rate)
                )
            })
            .collect();
        let _ = write!(
            frame.svg,
            r#"<polyline class="{}" points="{}"/>"#,
            outcome.class(),
            points.join(" ")
        );
    }
    frame.legend(&counts);
    frame.finish(Some(format!("buckets of {}", format_ns(bucket_ns))))
}
