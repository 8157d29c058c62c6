//! `harness test`: run a real raftkv cluster under faults, record the history, check it and write a report.
//! With no flags it is a ~1 minute run of 3 nodes, a kv workload, partitions and kills. `--replay FILE`
//! runs a recorded `test.json` again (same configuration, same seed).
//!
//! Exit codes: 0 linearizable, 1 not linearizable, 2 unknown, 3 the harness itself failed (bad flags,
//! a port in use, a node that never became ready, a full disk, ...).

use crate::nemesis::FaultList;
use crate::run::config::{RunPlace, TestConfig};
use crate::run::{self, RunOutcome};
use crate::workload::{WorkloadConfig, WorkloadKind};
use checker::Verdict;
use clap::Args;
use raftkv::bugs::Bug;
use std::io::Write;
use std::path::PathBuf;

/// Exit code when the harness itself failed.
pub const EXIT_HARNESS_FAILED: u8 = 3;

/// Arguments of `harness test`.
#[derive(Args, Debug, Clone)]
pub struct TestArgs {
    /// Run this recorded configuration (a run's test.json) again; other flags except --store and --binary
    /// are ignored.
    #[arg(long, value_name = "TEST_JSON")]
    pub replay: Option<PathBuf>,
    /// The test's name (the run folder is store/<name>/<timestamp>).
    #[arg(long, default_value = "raftkv")]
    pub name: String,
    /// Root seed (default: random, printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of raftkv nodes (1..=7).
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Workload: register (one key) or kv (--keys keys).
    #[arg(long, default_value = "kv")]
    pub workload: String,
    /// Keys of the kv workload.
    #[arg(long, default_value_t = 8)]
    pub keys: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
    /// Operations per second over all clients.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Seconds of client operations (warm-up, faults and recovery included).
    #[arg(long, default_value_t = 60.0)]
    pub time_limit: f64,
    /// Seconds without faults at the start.
    #[arg(long, default_value_t = 5.0)]
    pub warmup: f64,
    /// Seconds after the faults are healed, before the final reads.
    #[arg(long, default_value_t = 10.0)]
    pub recovery: f64,
    /// Faults, comma-separated: partition (every shape), random-halves, isolate-leader, majorities-ring,
    /// bridge, one-way, delay[:MEAN:JITTER], loss[:P], kill[:TARGET], pause[:TARGET],
    /// lost-writes[:TARGET], or none. TARGET: one, leader, minority, majority, all.
    #[arg(long, default_value = "partition,kill")]
    pub nemesis: String,
    /// Mean seconds between fault starts.
    #[arg(long, default_value_t = 5.0)]
    pub nemesis_interval: f64,
    /// Bug switch passed to every node (repeatable): stale-read, commit-old-term, vote-any-log,
    /// ack-before-fsync, no-dedup.
    #[arg(long = "bug", value_name = "NAME")]
    pub bugs: Vec<String>,
    /// Timeout of one client operation (retries included), in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub operation_timeout_ms: u64,
    /// Timeout of one attempt before the client retries the same request, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub attempt_timeout_ms: u64,
    /// Time limit of the linearizability check, in seconds.
    #[arg(long, default_value_t = 120.0)]
    pub check_time_limit: f64,
    /// Minimum Raft election timeout of the nodes, in milliseconds.
    #[arg(long, default_value_t = 150)]
    pub election_timeout_ms_min: u64,
    /// Maximum Raft election timeout of the nodes, in milliseconds.
    #[arg(long, default_value_t = 300)]
    pub election_timeout_ms_max: u64,
    /// Heartbeat interval of the nodes, in milliseconds.
    #[arg(long, default_value_t = 30)]
    pub heartbeat_ms: u64,
    /// Nodes snapshot and compact their logs after this many applied entries (0: never); small, so that
    /// compaction and InstallSnapshot happen under the faults.
    #[arg(long, default_value_t = crate::run::config::SNAPSHOT_THRESHOLD_DEFAULT)]
    pub snapshot_threshold: u64,
    /// Where run folders go.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// The raftkv binary (default: target/release/raftkv or target/debug/raftkv, built if missing).
    #[arg(long)]
    pub binary: Option<PathBuf>,
}

/// A seed from the clock and the process id, for runs without --seed (printed, so it can be replayed).
fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // SplitMix64 finaliser: nearby clocks give unrelated seeds.
    let mut z = nanos ^ (u64::from(std::process::id()) << 32);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl TestArgs {
    /// The configuration these flags describe (or the replayed one).
    pub fn config(&self) -> Result<TestConfig, String> {
        if let Some(path) = &self.replay {
            return TestConfig::read(path);
        }
        let kind: WorkloadKind = self.workload.parse()?;
        let nemesis: FaultList = self
            .nemesis
            .parse()
            .map_err(|e| format!("--nemesis {}: {e}", self.nemesis))?;
        let bugs = self
            .bugs
            .iter()
            .map(|name| name.parse::<Bug>().map_err(|e| e.to_string()))
            .collect::<Result<Vec<Bug>, String>>()?;
        let config = TestConfig {
            name: self.name.clone(),
            seed: self.seed.unwrap_or_else(fresh_seed),
            nodes: self.nodes,
            workload: WorkloadConfig {
                kind,
                keys: if kind == WorkloadKind::Register {
                    1
                } else {
                    self.keys
                },
            },
            concurrency: self.concurrency,
            rate: self.rate,
            time_limit_secs: self.time_limit,
            warmup_secs: self.warmup,
            recovery_secs: self.recovery,
            nemesis: nemesis.0,
            nemesis_interval_secs: self.nemesis_interval,
            bugs,
            operation_timeout_ms: self.operation_timeout_ms,
            attempt_timeout_ms: self.attempt_timeout_ms,
            check_time_limit_secs: self.check_time_limit,
            election_timeout_ms: (self.election_timeout_ms_min, self.election_timeout_ms_max),
            heartbeat_ms: self.heartbeat_ms,
            snapshot_threshold: self.snapshot_threshold,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Runs `harness test`; returns the exit code. The verdict and report path go to `out`, progress and
/// errors to `err`.
pub fn run(args: &TestArgs, out: &mut dyn Write, err: &mut (dyn Write + Send)) -> u8 {
    let config = match args.config() {
        Ok(config) => config,
        Err(problem) => {
            let _ = writeln!(err, "error: {problem}");
            return EXIT_HARNESS_FAILED;
        }
    };
    let place = RunPlace {
        store: args.store.clone(),
        binary: args.binary.clone(),
    };
    match run::run(&config, &place, err) {
        Ok(RunOutcome { run_dir, results }) => {
            let word = match results.verdict {
                Verdict::Ok => "linearizable",
                Verdict::Illegal => "NOT linearizable",
                Verdict::Unknown => "unknown",
            };
            let _ = writeln!(out, "verdict: {word} (seed {})", results.seed);
            for key in results.keys.iter().filter(|k| k.verdict != Verdict::Ok) {
                let _ = writeln!(
                    out,
                    "  key {}: {:?} ({} ops)",
                    key.key, key.verdict, key.ops
                );
            }
            if let Some(shrunk) = &results.shrunk_history {
                let _ = writeln!(
                    out,
                    "minimal failing history: {}",
                    run_dir.join(shrunk).display()
                );
            }
            let _ = writeln!(
                out,
                "report: {}",
                run_dir.join(crate::store::files::REPORT).display()
            );
            match results.verdict {
                Verdict::Ok => 0,
                Verdict::Illegal => 1,
                Verdict::Unknown => 2,
            }
        }
        Err(problem) => {
            let _ = writeln!(err, "error: {problem}");
            EXIT_HARNESS_FAILED
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: TestArgs,
    }

    fn config(argv: &[&str]) -> Result<TestConfig, String> {
        let mut full = vec!["harness"];
        full.extend_from_slice(argv);
        Wrapper::try_parse_from(full)
            .map_err(|e| e.to_string())?
            .args
            .config()
    }

    #[test]
    fn defaults_are_a_minute_of_partitions_and_kills_on_three_nodes() -> Result<(), String> {
        let c = config(&["--seed", "5"])?;
        assert_eq!((c.nodes, c.seed, c.time_limit_secs), (3, 5, 60.0));
        let names: Vec<&str> = c.nemesis.iter().map(|f| f.name()).collect();
        assert!(names.contains(&"kill"), "{names:?}");
        assert!(c.nemesis.iter().any(|f| f.needs_proxy()), "{names:?}");
        Ok(())
    }

    #[test]
    fn bad_flags_name_the_problem() {
        let unknown_workload = config(&["--workload", "bank"]).err().unwrap_or_default();
        assert!(unknown_workload.contains("bank"), "{unknown_workload}");
        let unknown_fault = config(&["--nemesis", "meteor"]).err().unwrap_or_default();
        assert!(unknown_fault.contains("meteor"), "{unknown_fault}");
        let unknown_bug = config(&["--bug", "typo"]).err().unwrap_or_default();
        assert!(unknown_bug.contains("typo"), "{unknown_bug}");
        let too_many = config(&["--nodes", "9"]).err().unwrap_or_default();
        assert!(too_many.contains("--nodes 9"), "{too_many}");
    }

    #[test]
    fn replay_reads_back_the_written_configuration() -> Result<(), Box<dyn std::error::Error>> {
        let original = config(&[
            "--seed",
            "77",
            "--workload",
            "register",
            "--bug",
            "stale-read",
        ])?;
        let dir = tempfile::tempdir()?;
        let path = crate::store::write_json(dir.path(), "test.json", &original)?;
        let replayed = config(&["--replay", path.to_str().unwrap_or_default()])?;
        assert_eq!(replayed, original);
        Ok(())
    }
}
