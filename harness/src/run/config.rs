//! The full configuration of one `harness test` run. It is written to the run folder as `test.json`,
//! and `harness test --replay test.json` runs exactly this configuration (and seed) again.

use crate::nemesis::Fault;
use crate::workload::WorkloadConfig;
use raftkv::bugs::Bug;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The most nodes a test runs (Raft clusters beyond 7 voters are unusual and the machine has 2 cores).
pub const NODES_MAX: usize = 7;
/// The most concurrent clients.
pub const CONCURRENCY_MAX: usize = 1024;

/// Everything that decides what a run does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestConfig {
    /// The test's name: the run folder is `store/<name>/<timestamp>/`.
    pub name: String,
    /// The root seed: workloads, the nemesis schedule, node seeds and proxy randomness derive from it.
    pub seed: u64,
    /// Number of raftkv nodes.
    pub nodes: usize,
    /// What the clients do.
    pub workload: WorkloadConfig,
    /// Concurrent clients.
    pub concurrency: usize,
    /// Operations per second over all clients.
    pub rate: f64,
    /// Length of the whole client phase (warm-up, faults, recovery), in seconds.
    pub time_limit_secs: f64,
    /// Seconds with no faults at the start.
    pub warmup_secs: f64,
    /// Seconds after the last fault is healed, before the final reads.
    pub recovery_secs: f64,
    /// The faults to inject (empty: none).
    pub nemesis: Vec<Fault>,
    /// Mean seconds between fault starts (each fault lasts about as long).
    pub nemesis_interval_secs: f64,
    /// Bug switches passed to every node.
    pub bugs: Vec<Bug>,
    /// Timeout of one client operation, all retries included, in milliseconds.
    pub operation_timeout_ms: u64,
    /// Timeout of one attempt (one RPC) before the client retries the same request, in milliseconds.
    /// Short timeouts under network delay make retries of writes that did commit: what client sessions
    /// must deduplicate.
    pub attempt_timeout_ms: u64,
    /// Time limit of the linearizability check, in seconds.
    pub check_time_limit_secs: f64,
    /// Raft election timeout range of the nodes, in milliseconds.
    pub election_timeout_ms: (u64, u64),
    /// Heartbeat interval of the nodes, in milliseconds.
    pub heartbeat_ms: u64,
    /// Nodes snapshot and compact their logs after this many applied entries (0: never), so that runs
    /// exercise compaction and InstallSnapshot under faults. Absent in older `test.json` files.
    #[serde(default = "default_snapshot_threshold")]
    pub snapshot_threshold: u64,
}

/// The default of [`TestConfig::snapshot_threshold`]: small, so a default run snapshots dozens of times.
pub const SNAPSHOT_THRESHOLD_DEFAULT: u64 = 500;

fn default_snapshot_threshold() -> u64 {
    SNAPSHOT_THRESHOLD_DEFAULT
}

impl TestConfig {
    /// Checks the numbers; the error names the bad field.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=NODES_MAX).contains(&self.nodes) {
            return Err(format!("--nodes {} is outside 1..={NODES_MAX}", self.nodes));
        }
        if !(1..=CONCURRENCY_MAX).contains(&self.concurrency) {
            return Err(format!(
                "--concurrency {} is outside 1..={CONCURRENCY_MAX}",
                self.concurrency
            ));
        }
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("{name} {v} must be a positive number"))
            }
        };
        positive("--rate", self.rate)?;
        positive("--time-limit", self.time_limit_secs)?;
        positive("--nemesis-interval", self.nemesis_interval_secs)?;
        positive("--check-time-limit", self.check_time_limit_secs)?;
        if !(self.warmup_secs >= 0.0 && self.recovery_secs >= 0.0) {
            return Err("--warmup and --recovery must be non-negative".to_string());
        }
        if self.warmup_secs + self.recovery_secs >= self.time_limit_secs && !self.nemesis.is_empty()
        {
            return Err(format!(
                "--time-limit {} leaves no time for faults after --warmup {} and --recovery {}",
                self.time_limit_secs, self.warmup_secs, self.recovery_secs
            ));
        }
        if self.attempt_timeout_ms == 0 || self.attempt_timeout_ms > self.operation_timeout_ms {
            return Err(format!(
                "--attempt-timeout-ms {} must be positive and at most --operation-timeout-ms {}",
                self.attempt_timeout_ms, self.operation_timeout_ms
            ));
        }
        if self.workload.keys == 0 {
            return Err("--keys must be at least 1".to_string());
        }
        let (lo, hi) = self.election_timeout_ms;
        if lo == 0 || hi <= lo || self.heartbeat_ms == 0 || self.heartbeat_ms >= lo {
            return Err(format!(
                "election timeout {lo}-{hi} ms and heartbeat {} ms must satisfy 0 < heartbeat < min < max",
                self.heartbeat_ms
            ));
        }
        Ok(())
    }

    /// The fault phase: from the end of the warm-up to the start of the recovery.
    pub fn fault_phase(&self) -> Duration {
        Duration::from_secs_f64(
            (self.time_limit_secs - self.warmup_secs - self.recovery_secs).max(0.0),
        )
    }

    /// Whether any fault needs nodes that lose unsynced writes on kill -9.
    pub fn needs_lost_writes(&self) -> bool {
        self.nemesis
            .iter()
            .any(Fault::needs_unsafe_lose_unsynced_writes)
    }

    /// Reads a `test.json`.
    pub fn read(path: &Path) -> Result<TestConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let config: TestConfig = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a test configuration: {e}", path.display()))?;
        config.validate()?;
        Ok(config)
    }
}

/// Where a run goes and which server binary it uses: not part of what the run does, so not in test.json.
#[derive(Clone, Debug)]
pub struct RunPlace {
    /// The store root (default `store/`).
    pub store: PathBuf,
    /// An explicit raftkv binary, else found or built.
    pub binary: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `test.json` written before `snapshot_threshold` existed still replays, with the default.
    #[test]
    fn older_test_json_without_snapshot_threshold_gets_the_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("test.json");
        let old = r#"{"name":"raftkv","seed":7,"nodes":3,"workload":{"kind":"kv","keys":1},"concurrency":2,
            "rate":10.0,"time_limit_secs":5.0,"warmup_secs":1.0,"recovery_secs":1.0,
            "nemesis":[{"fault":"kill","target":"one"}],
            "nemesis_interval_secs":2.0,"bugs":[],"operation_timeout_ms":1000,"attempt_timeout_ms":200,
            "check_time_limit_secs":10.0,"election_timeout_ms":[150,300],"heartbeat_ms":30}"#;
        std::fs::write(&path, old).expect("write");
        let config = TestConfig::read(&path).expect("an older test.json loads");
        assert_eq!(config.snapshot_threshold, SNAPSHOT_THRESHOLD_DEFAULT);
        assert_eq!(config.seed, 7);
    }
}
