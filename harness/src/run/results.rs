//! After the run: check the recorded history with the workload's model, shrink an illegal one, and write
//! `results.json` (verdict, counts, per-key results, faults, seed), `shrunk.jsonl` and `report.html`.

use super::config::TestConfig;
use super::{io_error, RunError};
use crate::node_events::{self, NodeEvents};
use crate::recorder::{OutcomeCounts, Recorder};
use crate::report;
use crate::store::{self, files};
use crate::workload::WorkloadKind;
use checker::history::History;
use checker::models::{CasRegister, Kv};
use checker::shrink::{shrink, ShrinkOptions};
use checker::{check_history, CheckOptions, CheckResult, FromHistory, Verdict};
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// A fault start or stop as it went into the history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultEvent {
    /// When, in ns since the start of the test.
    pub time_ns: u64,
    /// `start-<fault>` or `stop-<fault>`.
    pub f: String,
    /// What exactly was done (nodes, links, pids).
    pub value: serde_json::Value,
}

/// The verdict of one partition (one key for the kv workload).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeyResult {
    /// The partition's label (the key).
    pub key: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// How many operations it has.
    pub ops: usize,
}

/// What `results.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunResults {
    /// The overall verdict.
    pub verdict: Verdict,
    /// The root seed (replay with `harness test --replay test.json`).
    pub seed: u64,
    /// The checker model used.
    pub model: String,
    /// Operations by outcome.
    pub counts: OutcomeCounts,
    /// Per-key (per-partition) verdicts.
    pub keys: Vec<KeyResult>,
    /// Every fault start and stop.
    pub faults: Vec<FaultEvent>,
    /// Seconds the check took.
    pub check_secs: f64,
    /// The minimal failing history, relative to the run folder, when the verdict is Illegal.
    pub shrunk_history: Option<String>,
    /// What each node did (starts, elections won, snapshots), from its log.
    #[serde(default)]
    pub node_events: Vec<NodeEvents>,
}

/// Checks the run's history and writes results, the shrunk history and the report.
pub fn check_and_write(
    config: &TestConfig,
    run_dir: &Path,
    recorder: &Recorder,
    faults: Vec<FaultEvent>,
) -> Result<RunResults, RunError> {
    let path = run_dir.join(files::HISTORY);
    let text =
        std::fs::read_to_string(&path).map_err(io_error("cannot read history.jsonl back"))?;
    let history = History::from_jsonl_str(&text)
        .map_err(|e| RunError::Config(format!("the recorded history does not parse: {e}")))?;
    let options = CheckOptions {
        time_limit: Some(Duration::from_secs_f64(config.check_time_limit_secs)),
        cancel: None,
        explain: true,
    };
    let (result, shrunk) = match config.workload.kind {
        WorkloadKind::Register => check(&CasRegister, &history, &options, run_dir)?,
        WorkloadKind::Kv => check(&Kv, &history, &options, run_dir)?,
    };
    let results = RunResults {
        verdict: result.verdict,
        seed: config.seed,
        model: config.workload.kind.model_name().to_string(),
        counts: recorder.counts(),
        keys: result
            .partitions
            .iter()
            .map(|p| KeyResult {
                key: p.label.clone(),
                verdict: p.verdict,
                ops: p.ops.len(),
            })
            .collect(),
        faults,
        check_secs: result.elapsed.as_secs_f64(),
        shrunk_history: shrunk.then(|| files::SHRUNK.to_string()),
        node_events: node_events::read(run_dir, config.nodes),
    };
    store::write_json(run_dir, files::RESULTS, &results)
        .map_err(io_error("cannot write results.json"))?;
    let html = report::html(config, &results, &history, &result, run_dir);
    std::fs::write(run_dir.join(files::REPORT), html)
        .map_err(io_error("cannot write report.html"))?;
    Ok(results)
}

/// Checks with `model`; writes `shrunk.jsonl` when Illegal. Returns the result and whether it shrank.
fn check<M: FromHistory>(
    model: &M,
    history: &History,
    options: &CheckOptions,
    run_dir: &Path,
) -> Result<(CheckResult, bool), RunError> {
    let decode = |e: checker::OperationsError| {
        RunError::Config(format!(
            "the recorded history has an operation the model cannot read: {e}"
        ))
    };
    let result = check_history(model, history, options).map_err(decode)?;
    if result.verdict != Verdict::Illegal {
        return Ok((result, false));
    }
    let Some(shrunk) =
        shrink(model, history, &result, &ShrinkOptions::default()).map_err(decode)?
    else {
        return Ok((result, false));
    };
    let file = std::fs::File::create(run_dir.join(files::SHRUNK))
        .map_err(io_error("cannot create shrunk.jsonl"))?;
    shrunk
        .history
        .write_jsonl(file)
        .map_err(io_error("cannot write shrunk.jsonl"))?;
    Ok((result, true))
}
