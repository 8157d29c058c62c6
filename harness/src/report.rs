//! The run report: one self-contained HTML page with the run's configuration and seed, how to replay it,
//! operation counts, the faults, what each node did (elections, snapshots), latency-over-time and throughput plots with fault intervals shaded (as
//! Jepsen draws them), and the checker's timeline view of the history.

use crate::run::config::TestConfig;
use crate::run::results::RunResults;
use checker::history::History;
use checker::render::{self, escape, Page};
use checker::{CheckResult, Verdict};
use std::path::Path;

/// The report page of a finished run.
pub fn html(
    config: &TestConfig,
    results: &RunResults,
    history: &History,
    result: &CheckResult,
    run_dir: &Path,
) -> String {
    let title = format!(
        "harness test {}: {}",
        config.name,
        verdict_word(results.verdict)
    );
    let mut page = Page::new(&title);
    page.section("run", "Run", &run_summary(config, results, run_dir));
    let points = render::latency_points(history);
    let faults = render::fault_intervals(history);
    page.section(
        "latency",
        "Latency over time",
        &render::latency_plot_svg(&points, &faults),
    );
    page.section(
        "throughput",
        "Throughput",
        &render::throughput_plot_svg(&points, &faults),
    );
    page.section("faults", "Faults", &fault_table(results));
    page.section("nodes", "Nodes", &node_table(results));
    page.raw(&format!(
        r#"<section id="check"><h2>Linearizability check</h2><iframe title="check" style="width:100%;height:80vh;border:0" srcdoc="{}"></iframe></section>"#,
        escape(&render::html(history, result, &title))
    ));
    page.finish()
}

fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "linearizable",
        Verdict::Illegal => "NOT linearizable",
        Verdict::Unknown => "unknown",
    }
}

fn run_summary(config: &TestConfig, results: &RunResults, run_dir: &Path) -> String {
    let test_json = run_dir.join(crate::store::files::TEST);
    let bugs: Vec<String> = config.bugs.iter().map(|b| b.to_string()).collect();
    let nemesis: Vec<String> = config.nemesis.iter().map(|f| f.to_string()).collect();
    let c = &results.counts;
    format!(
        "<table>\
         <tr><th>verdict</th><td class=\"verdict-{verdict:?}\"><b>{word}</b></td></tr>\
         <tr><th>seed</th><td>{seed}</td></tr>\
         <tr><th>replay</th><td><code>cargo run --release -p harness -- test --replay {test_json}</code></td></tr>\
         <tr><th>nodes</th><td>{nodes}</td></tr>\
         <tr><th>workload</th><td>{workload} ({keys} keys), {conc} clients, {rate} ops/s, {secs} s</td></tr>\
         <tr><th>nemesis</th><td>{nemesis} every ~{interval} s</td></tr>\
         <tr><th>bug switches</th><td>{bugs}</td></tr>\
         <tr><th>operations</th><td>{invoked} invoked: {ok} ok, {fail} fail, {info} info (indeterminate)</td></tr>\
         <tr><th>check</th><td>model {model}, {check:.3} s{shrunk}</td></tr>\
         </table>",
        verdict = results.verdict,
        word = verdict_word(results.verdict),
        seed = results.seed,
        test_json = escape(&test_json.display().to_string()),
        nodes = config.nodes,
        workload = config.workload.kind,
        keys = config.workload.key_count(),
        conc = config.concurrency,
        rate = config.rate,
        secs = config.time_limit_secs,
        nemesis = escape(&if nemesis.is_empty() { "none".to_string() } else { nemesis.join(", ") }),
        interval = config.nemesis_interval_secs,
        bugs = escape(&if bugs.is_empty() { "none".to_string() } else { bugs.join(", ") }),
        invoked = c.invoked,
        ok = c.ok,
        fail = c.fail,
        info = c.info,
        model = escape(&results.model),
        check = results.check_secs,
        shrunk = results
            .shrunk_history
            .as_ref()
            .map(|p| format!(", minimal failing history in <code>{}</code>", escape(p)))
            .unwrap_or_default(),
    )
}

fn node_table(results: &RunResults) -> String {
    let mut rows = String::from(
        "<table><tr><th>node</th><th>starts</th><th>elections won</th><th>snapshots taken</th>\
         <th>snapshots installed</th><th>warnings</th><th>errors</th></tr>",
    );
    for n in &results.node_events {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            n.node,
            n.starts,
            n.leaderships,
            n.snapshots_taken,
            n.snapshots_installed,
            n.warnings,
            n.errors
        ));
    }
    rows.push_str(
        "</table><p>Counted from <code>node-&lt;id&gt;.log</code> in the run folder.</p>",
    );
    rows
}

fn fault_table(results: &RunResults) -> String {
    if results.faults.is_empty() {
        return "<p>No faults were injected.</p>".to_string();
    }
    let mut rows = String::from("<table><tr><th>time</th><th>event</th><th>details</th></tr>");
    for fault in &results.faults {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            render::format_ns(fault.time_ns),
            escape(&fault.f),
            escape(&fault.value.to_string())
        ));
    }
    rows.push_str("</table>");
    rows
}
