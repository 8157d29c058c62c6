//! `harness check`: check a recorded or imported history for linearizability.
//!
//! Prints the verdict (per partition when the model partitions, e.g. per key), optionally the longest
//! partial linearizations of Illegal partitions (`--explain`), and writes a minimal failing history next
//! to the input (`<input>.shrunk.jsonl`) or to `--shrink-out`. The caller maps [`CheckOutcome::verdict`]
//! to exit codes 0 (Ok), 1 (Illegal), 2 (Unknown); any [`CheckCommandError`] is bad input (exit 3).

use checker::history::History;
use checker::import::{self, Format, ImportError};
use checker::models::{CasRegister, Kv, KvMap, Register};
use checker::shrink::{shrink, ShrinkOptions};
use checker::{check_history, CheckOptions, CheckResult, FromHistory, OperationsError, Verdict};
use clap::{Args, ValueEnum};
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Partial linearizations printed per Illegal partition in explain mode.
const PARTIALS_PRINTED_MAX: usize = 2;
/// Steps of a partial linearization printed (the last ones, nearest the failure).
const STEPS_PRINTED_MAX: usize = 12;

/// The model to check against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelName {
    /// A map of registers (read, write, cas, delete, append), checked key by key.
    Kv,
    /// The kv model over the whole map as one state, without partitioning by key (same verdicts as kv,
    /// one big search: for benchmarks).
    KvMap,
    /// One read/write register.
    Register,
    /// One read/write/cas register.
    CasRegister,
}

/// The input format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatName {
    /// This project's JSON Lines.
    Jsonl,
    /// Porcupine's Jepsen etcd logs.
    PorcupineEtcd,
    /// Porcupine's key/value logs.
    PorcupineKv,
}

impl From<FormatName> for Format {
    fn from(name: FormatName) -> Format {
        match name {
            FormatName::Jsonl => Format::Jsonl,
            FormatName::PorcupineEtcd => Format::PorcupineEtcd,
            FormatName::PorcupineKv => Format::PorcupineKv,
        }
    }
}

/// Arguments of `harness check`.
#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// The history file.
    pub file: PathBuf,
    /// Model (default: cas-register for porcupine-etcd, kv otherwise).
    #[arg(long, value_enum)]
    pub model: Option<ModelName>,
    /// Input format (default: by extension: .log porcupine-etcd, .txt porcupine-kv, otherwise jsonl).
    #[arg(long, value_enum)]
    pub format: Option<FormatName>,
    /// Give up after this many seconds (the verdict is then Unknown).
    #[arg(long, value_name = "SECS")]
    pub time_limit: Option<f64>,
    /// Decide every partition and print the longest partial linearizations of Illegal ones.
    #[arg(long)]
    pub explain: bool,
    /// Where to write the minimal failing history (default: next to the input, `.shrunk.jsonl`).
    #[arg(long, value_name = "PATH")]
    pub shrink_out: Option<PathBuf>,
    /// Do not shrink an Illegal history.
    #[arg(long)]
    pub no_shrink: bool,
    /// Write a self-contained HTML view of the check (operations over time, partial linearizations, the
    /// operation that could not be placed) to this file. Implies --explain.
    #[arg(long, value_name = "OUT")]
    pub html: Option<PathBuf>,
}

/// Why `harness check` could not check (all of it is bad input: exit code 3).
#[derive(Debug, thiserror::Error)]
pub enum CheckCommandError {
    /// The file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a well-formed history in the format.
    #[error("{path}: {source}")]
    Import {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: ImportError,
    },
    /// The history has operations the model does not understand.
    #[error("{path}: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: OperationsError,
    },
    /// The time limit is not a non-negative number of seconds.
    #[error("--time-limit {0} is not a non-negative number of seconds")]
    TimeLimit(f64),
    /// Writing the output failed.
    #[error("cannot write {what}: {source}")]
    Write {
        /// What was being written.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// What `harness check` found.
#[derive(Debug)]
pub struct CheckOutcome {
    /// The overall verdict.
    pub verdict: Verdict,
    /// Where the minimal failing history was written, if it was.
    pub shrunk_path: Option<PathBuf>,
}

impl CheckOutcome {
    /// The process exit code: 0 linearizable, 1 not, 2 unknown.
    pub fn exit_code(&self) -> u8 {
        match self.verdict {
            Verdict::Ok => 0,
            Verdict::Illegal => 1,
            Verdict::Unknown => 2,
        }
    }
}

/// Exit code for bad input.
pub const EXIT_BAD_INPUT: u8 = 3;

fn default_format(path: &Path) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("log") => Format::PorcupineEtcd,
        Some("txt") => Format::PorcupineKv,
        _ => Format::Jsonl,
    }
}

/// Runs `harness check`, writing the report to `out`.
pub fn run(args: &CheckArgs, out: &mut dyn Write) -> Result<CheckOutcome, CheckCommandError> {
    let format = args
        .format
        .map(Format::from)
        .unwrap_or_else(|| default_format(&args.file));
    let model = args.model.unwrap_or(if format == Format::PorcupineEtcd {
        ModelName::CasRegister
    } else {
        ModelName::Kv
    });
    let time_limit = match args.time_limit {
        Some(secs) if secs.is_finite() && secs >= 0.0 => Some(Duration::from_secs_f64(secs)),
        Some(secs) => return Err(CheckCommandError::TimeLimit(secs)),
        None => None,
    };
    let file = File::open(&args.file).map_err(|source| CheckCommandError::Open {
        path: args.file.clone(),
        source,
    })?;
    let history = import::read_history(format, BufReader::new(file)).map_err(|source| {
        CheckCommandError::Import {
            path: args.file.clone(),
            source,
        }
    })?;
    let options = CheckOptions {
        time_limit,
        cancel: None,
        explain: args.explain || args.html.is_some(),
    };
    match model {
        ModelName::Kv => check_with(&Kv, args, &history, &options, out),
        ModelName::KvMap => check_with(&KvMap, args, &history, &options, out),
        ModelName::Register => check_with(&Register, args, &history, &options, out),
        ModelName::CasRegister => check_with(&CasRegister, args, &history, &options, out),
    }
}

fn check_with<M: FromHistory>(
    model: &M,
    args: &CheckArgs,
    history: &History,
    options: &CheckOptions,
    out: &mut dyn Write,
) -> Result<CheckOutcome, CheckCommandError> {
    let decode_error = |source| CheckCommandError::Decode {
        path: args.file.clone(),
        source,
    };
    let result = check_history(model, history, options).map_err(decode_error)?;
    let write_error = |source| CheckCommandError::Write {
        what: "the report".to_string(),
        source,
    };
    report(&result, out).map_err(write_error)?;
    if let Some(path) = &args.html {
        let title = format!("{}: {}", args.file.display(), verdict_word(result.verdict));
        std::fs::write(path, checker::render::html(history, &result, &title)).map_err(
            |source| CheckCommandError::Write {
                what: path.display().to_string(),
                source,
            },
        )?;
        writeln!(out, "html: {}", path.display()).map_err(write_error)?;
    }
    let mut shrunk_path = None;
    if result.verdict == Verdict::Illegal && !args.no_shrink {
        if let Some(shrunk) =
            shrink(model, history, &result, &ShrinkOptions::default()).map_err(decode_error)?
        {
            let path = args.shrink_out.clone().unwrap_or_else(|| {
                let mut name = args.file.file_name().unwrap_or_default().to_os_string();
                name.push(".shrunk.jsonl");
                args.file.with_file_name(name)
            });
            let write = |path: &Path| -> std::io::Result<()> {
                let file = File::create(path)?;
                shrunk.history.write_jsonl(file)
            };
            write(&path).map_err(|source| CheckCommandError::Write {
                what: path.display().to_string(),
                source,
            })?;
            writeln!(
                out,
                "minimal failing history ({} ops of {}, {}{} checks): {}",
                shrunk.ops.len(),
                shrunk.partition,
                if shrunk.minimal {
                    "1-minimal, "
                } else {
                    "not proven minimal, "
                },
                shrunk.checks,
                path.display()
            )
            .map_err(write_error)?;
            shrunk_path = Some(path);
        }
    }
    Ok(CheckOutcome {
        verdict: result.verdict,
        shrunk_path,
    })
}

fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "linearizable",
        Verdict::Illegal => "NOT linearizable",
        Verdict::Unknown => "unknown",
    }
}

fn report(result: &CheckResult, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: {} ops, {} partition(s), {:.3} s",
        verdict_word(result.verdict),
        result.ops.len(),
        result.partitions.len(),
        result.elapsed.as_secs_f64()
    )?;
    if result.partitions.len() > 1 {
        for partition in &result.partitions {
            let reason = partition
                .unknown_reason
                .map(|r| format!(" ({r:?})"))
                .unwrap_or_default();
            writeln!(
                out,
                "  {}: {}{} ({} ops, {} configurations, {:.3} s)",
                partition.label,
                verdict_word(partition.verdict),
                reason,
                partition.ops.len(),
                partition.stats.configurations,
                partition.stats.elapsed_us as f64 / 1e6
            )?;
        }
    }
    for partition in result.partitions_with(Verdict::Illegal) {
        for partial in partition.partials.iter().take(PARTIALS_PRINTED_MAX) {
            let blocked = &result.ops[partial.blocked_op];
            writeln!(
                out,
                "  {}: longest linearization has {} of {} ops; cannot place [p{}] {}",
                partition.label,
                partial.steps.len(),
                partition.ops.len(),
                blocked.process,
                blocked.description
            )?;
            let skip = partial.steps.len().saturating_sub(STEPS_PRINTED_MAX);
            if skip > 0 {
                writeln!(out, "    ... {skip} earlier ops")?;
            }
            for step in &partial.steps[skip..] {
                let op = &result.ops[step.op];
                writeln!(
                    out,
                    "    [p{}] {}  => {}",
                    op.process, op.description, step.state_after
                )?;
            }
        }
    }
    Ok(())
}
