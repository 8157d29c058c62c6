//! `harness bench-model`: runs a ladder of model-checking configurations (3 servers, DFS with
//! symmetry, the default saturated duplicating network) with each thread count asked for, and prints
//! one Markdown table row per run: bounds, threads, unique, generated and covered states (skipped by
//! subsumption), time, rates, and whether the space was exhausted. BENCHMARKS.md's model ladder is
//! its output.
//!
//! Run it from a release build (`cargo run --release -p harness -- bench-model`); numbers from a debug
//! build mean little. Every run has the same time limit, so a run that is not exhausted says only
//! how far the search got.

use checker::raft_model::runner::{run_check, RunOptions, RunReport};
use checker::raft_model::ModelConfig;
use clap::Args;
use std::io::Write;
use std::time::Duration;

/// Arguments of `harness bench-model`.
#[derive(Args, Debug, Clone)]
pub struct BenchModelArgs {
    /// Which ladder: `full` (term 1..3, log 1..3, crashes 0..2, clients, pre-vote on and off, the
    /// goal) or `quick` (the smallest rungs, for a smoke test).
    #[arg(long, default_value = "full")]
    pub ladder: String,
    /// Thread counts to run each rung with, comma-separated.
    #[arg(long, default_value = "1,2", value_delimiter = ',')]
    pub threads: Vec<usize>,
    /// Per-run time limit in seconds.
    #[arg(long, default_value_t = 60.0)]
    pub time_limit: f64,
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchModelError {
    /// A bad flag.
    #[error("{0}")]
    BadInput(String),
    /// A rung's configuration is invalid (a bug in the ladder).
    #[error("{0}")]
    Config(#[from] checker::raft_model::ModelConfigError),
    /// Writing the table failed.
    #[error("cannot write the table: {0}")]
    Write(#[from] std::io::Error),
}

/// One rung of the ladder.
#[derive(Clone, Debug)]
pub struct Rung {
    /// What the row says about the bounds.
    pub label: String,
    /// The configuration checked.
    pub config: ModelConfig,
}

fn rung(term: u64, log: usize, clients: usize, crashes: usize, pre_vote: bool) -> Rung {
    let label = format!(
        "term {term}, log {log}, {clients} client op{}, {crashes} crash{}, {}",
        if clients == 1 { "" } else { "s" },
        if crashes == 1 { "" } else { "es" },
        if pre_vote { "pre-vote" } else { "classic" },
    );
    Rung {
        label,
        config: ModelConfig {
            max_term: term,
            max_log: log,
            clients,
            crashes,
            pre_vote,
            ..ModelConfig::default()
        },
    }
}

/// The rungs of `ladder` ("full" or "quick"), smallest first.
pub fn ladder(name: &str) -> Result<Vec<Rung>, BenchModelError> {
    let quick = vec![rung(1, 1, 0, 0, false), rung(1, 1, 0, 0, true)];
    match name {
        "quick" => Ok(quick),
        "full" => {
            let mut rungs = quick;
            rungs.extend([
                rung(1, 1, 0, 1, true),
                rung(2, 2, 0, 0, false),
                rung(2, 2, 0, 1, false),
                rung(2, 2, 0, 2, false),
                rung(3, 3, 0, 0, false),
                rung(2, 2, 0, 0, true),
                rung(1, 2, 1, 0, true),
                rung(2, 2, 1, 1, false),
                rung(3, 3, 2, 1, false),
                rung(3, 3, 2, 1, true),
            ]);
            Ok(rungs)
        }
        other => Err(BenchModelError::BadInput(format!(
            "unknown ladder '{other}' (full, quick)"
        ))),
    }
}

/// The table's header.
pub const HEADER: &str = "| bounds (3 servers) | threads | unique states | generated | covered | time | generated/s | unique/s | exhaustive |\n|---|---|---|---|---|---|---|---|---|";

/// One table row for a run.
pub fn row(label: &str, threads: usize, report: &RunReport) -> String {
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    format!(
        "| {label} | {threads} | {} | {} | {} | {secs:.1} s | {:.0} | {:.0} | {} |",
        report.unique_states,
        report.states_generated,
        report.states_covered,
        report.states_per_second(),
        report.unique_states as f64 / secs,
        if report.exhausted { "yes" } else { "no" },
    )
}

/// Runs the ladder and writes the table to `out`, a row as each run ends.
pub fn run(args: &BenchModelArgs, out: &mut dyn Write) -> Result<(), BenchModelError> {
    if args.threads.is_empty() || args.threads.contains(&0) {
        return Err(BenchModelError::BadInput(
            "--threads needs thread counts of at least 1".to_string(),
        ));
    }
    if !(args.time_limit.is_finite() && args.time_limit > 0.0) {
        return Err(BenchModelError::BadInput(format!(
            "--time-limit must be a positive number of seconds, not {}",
            args.time_limit
        )));
    }
    let rungs = ladder(&args.ladder)?;
    writeln!(out, "{HEADER}")?;
    for rung in &rungs {
        for &threads in &args.threads {
            let options = RunOptions {
                threads,
                time_limit: Some(Duration::from_secs_f64(args.time_limit)),
                ..RunOptions::default()
            };
            let report = run_check(&rung.config, &options, &mut |_| {})?;
            writeln!(out, "{}", row(&rung.label, threads, &report))?;
            out.flush()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_ladder_is_exhausted_with_the_models_state_counts() {
        let args = BenchModelArgs {
            ladder: "quick".to_string(),
            threads: vec![1],
            time_limit: 120.0,
        };
        let mut out = Vec::new();
        run(&args, &mut out).expect("the quick ladder runs");
        let table = String::from_utf8(out).expect("utf-8");
        let rows: Vec<&str> = table.lines().skip(2).collect();
        assert_eq!(rows.len(), 2, "{table}");
        // The counts the CI model tests pin (checker/tests/raft_model.rs).
        assert!(
            rows[0].starts_with("| term 1, log 1, 0 client ops, 0 crashes, classic | 1 | 54 |"),
            "{table}"
        );
        assert!(
            rows[1].starts_with("| term 1, log 1, 0 client ops, 0 crashes, pre-vote | 1 | 153 |"),
            "{table}"
        );
        assert!(rows.iter().all(|r| r.ends_with("| yes |")), "{table}");
    }

    #[test]
    fn bad_flags_are_refused_with_the_reason() {
        let mut args = BenchModelArgs {
            ladder: "tiny".to_string(),
            threads: vec![1],
            time_limit: 1.0,
        };
        let error = run(&args, &mut Vec::new()).expect_err("unknown ladder");
        assert!(
            error.to_string().contains("unknown ladder 'tiny'"),
            "{error}"
        );
        args.ladder = "quick".to_string();
        args.threads = vec![0];
        let error = run(&args, &mut Vec::new()).expect_err("zero threads");
        assert!(error.to_string().contains("--threads"), "{error}");
        args.threads = vec![1];
        args.time_limit = -1.0;
        let error = run(&args, &mut Vec::new()).expect_err("negative time");
        assert!(error.to_string().contains("--time-limit"), "{error}");
    }
}
