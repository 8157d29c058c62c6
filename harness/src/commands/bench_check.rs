//! `harness bench-check`: times the checker on every file of porcupine's data set and on a large
//! generated kv history, and reports the process's peak RSS (`VmHWM` from `/proc/self/status`).
//!
//! Run it from a release build (`cargo run --release -p harness -- bench-check`); numbers from a debug
//! build mean little.

use checker::import::{self, Format};
use checker::models::{CasRegister, Kv};
use checker::synth::{self, SynthConfig};
use checker::{check_history, CheckOptions, FromHistory, Verdict};
use clap::Args;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Arguments of `harness bench-check`.
#[derive(Args, Debug, Clone)]
pub struct BenchCheckArgs {
    /// Porcupine's `test_data` directory (default: the workspace's `../shared/anchors/porcupine/test_data`).
    #[arg(long)]
    pub anchors: Option<PathBuf>,
    /// Operations in the generated history (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    pub ops: usize,
    /// Keys in the generated history.
    #[arg(long, default_value_t = 1_000)]
    pub keys: usize,
    /// Clients in the generated history.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Seed of the generated history.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Check the anchor files in explain mode (decide every partition, record partial linearizations).
    #[arg(long)]
    pub explain: bool,
    /// Per-file time limit in seconds.
    #[arg(long, default_value_t = 300.0)]
    pub time_limit: f64,
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchCheckError {
    /// An input could not be read.
    #[error("{path}: {message}")]
    Input {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Writing the report failed.
    #[error("cannot write the report: {0}")]
    Write(#[from] std::io::Error),
}

fn default_anchors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/anchors/porcupine/test_data")
}

/// Peak resident set size of this process in KiB, if `/proc` tells.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn check_file<M: FromHistory>(
    model: &M,
    path: &Path,
    format: Format,
    options: &CheckOptions,
) -> Result<(Verdict, Duration, usize), BenchCheckError> {
    let input_error = |message: String| BenchCheckError::Input {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| input_error(e.to_string()))?;
    let history = import::read_history(format, BufReader::new(file))
        .map_err(|e| input_error(e.to_string()))?;
    let started = Instant::now();
    let result = check_history(model, &history, options).map_err(|e| input_error(e.to_string()))?;
    Ok((result.verdict, started.elapsed(), result.ops.len()))
}

fn sorted_files(dir: &Path) -> Result<Vec<PathBuf>, BenchCheckError> {
    let entries = std::fs::read_dir(dir).map_err(|e| BenchCheckError::Input {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Runs the benchmark, writing a plain-text report to `out`.
pub fn run(args: &BenchCheckArgs, out: &mut dyn Write) -> Result<(), BenchCheckError> {
    let anchors = args.anchors.clone().unwrap_or_else(default_anchors);
    let options = CheckOptions {
        time_limit: Some(Duration::from_secs_f64(args.time_limit.max(0.0))),
        cancel: None,
        explain: args.explain,
    };
    if anchors.is_dir() {
        let suite_started = Instant::now();
        let mut suite_check = Duration::ZERO;
        for (sub, format) in [
            ("jepsen", Format::PorcupineEtcd),
            ("kv", Format::PorcupineKv),
        ] {
            for path in sorted_files(&anchors.join(sub))? {
                let (verdict, elapsed, ops) = if format == Format::PorcupineEtcd {
                    check_file(&CasRegister, &path, format, &options)?
                } else {
                    check_file(&Kv, &path, format, &options)?
                };
                suite_check += elapsed;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{name:<16} {ops:>6} ops  {verdict:<8?} {:>10.3} ms",
                    elapsed.as_secs_f64() * 1e3
                )?;
            }
        }
        writeln!(
            out,
            "porcupine suite: {:.3} s checking, {:.3} s including parsing",
            suite_check.as_secs_f64(),
            suite_started.elapsed().as_secs_f64()
        )?;
    } else {
        writeln!(
            out,
            "porcupine anchors not found at {}; skipped",
            anchors.display()
        )?;
    }
    writeln!(
        out,
        "peak RSS after the suite: {} KiB",
        peak_rss_kib().unwrap_or(0)
    )?;
    if args.ops == 0 {
        return Ok(());
    }
    let config = SynthConfig::kv(args.seed, args.ops, args.keys, args.clients);
    let started = Instant::now();
    let history = synth::generate(&config);
    let generated = started.elapsed();
    let mut jsonl = Vec::new();
    history.write_jsonl(&mut jsonl)?;
    let started = Instant::now();
    let parsed = checker::history::History::from_jsonl_str(&String::from_utf8_lossy(&jsonl))
        .map_err(|e| BenchCheckError::Input {
            path: PathBuf::from("<generated>"),
            message: e.to_string(),
        })?;
    let parse_time = started.elapsed();
    drop(jsonl);
    let started = Instant::now();
    let options = CheckOptions {
        explain: false,
        ..options
    };
    let result = check_history(&Kv, &parsed, &options).map_err(|e| BenchCheckError::Input {
        path: PathBuf::from("<generated>"),
        message: e.to_string(),
    })?;
    let check_time = started.elapsed();
    writeln!(
        out,
        "generated kv history: {} ops ({} events), {} keys, {} clients, seed {}",
        result.ops.len(),
        parsed.events().len(),
        args.keys,
        args.clients,
        args.seed
    )?;
    writeln!(
        out,
        "  generate {:.3} s, parse JSONL {:.3} s, check {:.3} s -> {:?}",
        generated.as_secs_f64(),
        parse_time.as_secs_f64(),
        check_time.as_secs_f64(),
        result.verdict
    )?;
    writeln!(out, "peak RSS: {} KiB", peak_rss_kib().unwrap_or(0))?;
    Ok(())
}
