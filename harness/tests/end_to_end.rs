//! End-to-end runs of `harness test` against real raftkv processes (short: tens of seconds each): a clean
//! cluster under partitions and kills is linearizable and leaves every artifact behind, and the injected
//! `stale-read` and `no-dedup` bugs are caught.
//!
//! The server binary is built (debug, a no-op when up to date) by the harness itself.

use checker::Verdict;
use harness::nemesis::FaultList;
use harness::run::config::{RunPlace, TestConfig};
use harness::run::{run, RunOutcome};
use harness::workload::{WorkloadConfig, WorkloadKind};
use raftkv::bugs::Bug;
use std::path::Path;
use std::sync::Mutex;

fn config(name: &str, seed: u64, kind: WorkloadKind, nemesis: &str, bugs: Vec<Bug>) -> TestConfig {
    TestConfig {
        name: name.to_string(),
        seed,
        nodes: 3,
        workload: WorkloadConfig { kind, keys: 4 },
        concurrency: 6,
        rate: 150.0,
        time_limit_secs: 14.0,
        warmup_secs: 2.0,
        recovery_secs: 3.0,
        nemesis: nemesis
            .parse::<FaultList>()
            .map(|l| l.0)
            .unwrap_or_default(),
        nemesis_interval_secs: 2.0,
        bugs,
        operation_timeout_ms: 2000,
        attempt_timeout_ms: 300,
        check_time_limit_secs: 60.0,
        election_timeout_ms: (150, 300),
        heartbeat_ms: 30,
        snapshot_threshold: 100,
    }
}

/// One cluster at a time: parallel clusters on a small machine distort the timing the faults rely on.
static ONE_CLUSTER_AT_A_TIME: Mutex<()> = Mutex::new(());

fn run_in(store: &Path, config: &TestConfig) -> RunOutcome {
    let _turn = ONE_CLUSTER_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let place = RunPlace {
        store: store.to_path_buf(),
        binary: None,
    };
    let mut progress = std::io::stderr();
    match run(config, &place, &mut progress) {
        Ok(outcome) => outcome,
        Err(e) => panic!(
            "harness run '{}' (seed {}) failed: {e}",
            config.name, config.seed
        ),
    }
}

#[test]
fn a_clean_cluster_under_partitions_and_kills_is_linearizable(
) -> Result<(), Box<dyn std::error::Error>> {
    let store = tempfile::tempdir()?;
    let config = config("clean", 11, WorkloadKind::Kv, "partition,kill", Vec::new());
    let outcome = run_in(store.path(), &config);
    let dir = &outcome.run_dir;
    assert_eq!(
        outcome.results.verdict,
        Verdict::Ok,
        "seed {}: a clean run must be linearizable; see {}",
        config.seed,
        dir.display()
    );
    for file in [
        "history.jsonl",
        "results.json",
        "report.html",
        "test.json",
        "node-1.log",
    ] {
        assert!(
            dir.join(file).is_file(),
            "{file} missing in {}",
            dir.display()
        );
    }
    assert!(store.path().join("latest").exists(), "store/latest missing");
    let mut node_logs = String::new();
    for id in 1..=config.nodes {
        node_logs += &std::fs::read_to_string(dir.join(format!("node-{id}.log")))?;
    }
    assert!(
        node_logs.contains("snapshot taken; log compacted"),
        "with --snapshot-threshold {} the nodes compact their logs during the run",
        config.snapshot_threshold
    );
    let events = &outcome.results.node_events;
    assert_eq!(events.len(), config.nodes, "one entry per node");
    assert!(
        events.iter().map(|e| e.snapshots_taken).sum::<u64>() > 0,
        "the results count the snapshots: {events:?}"
    );
    assert!(
        events.iter().map(|e| e.leaderships).sum::<u64>() >= 1,
        "someone won an election: {events:?}"
    );
    assert!(
        events.iter().all(|e| e.starts >= 1),
        "every node started: {events:?}"
    );
    let counts = outcome.results.counts;
    assert!(counts.ok > 100, "too few successful operations: {counts:?}");
    assert!(
        outcome
            .results
            .faults
            .iter()
            .any(|f| f.f.starts_with("start-")),
        "no fault was injected: {:?}",
        outcome.results.faults
    );
    assert_eq!(outcome.results.keys.len(), 4, "one result per key");
    let history = std::fs::read_to_string(dir.join("history.jsonl"))?;
    assert!(
        history.contains("\"process\":\"nemesis\""),
        "faults are in the history"
    );
    let report = std::fs::read_to_string(dir.join("report.html"))?;
    assert!(report.contains("Latency over time") && report.contains(&config.seed.to_string()));
    assert!(
        report.contains("elections won"),
        "the report has the nodes table"
    );
    let replayed = TestConfig::read(&dir.join("test.json"))?;
    assert_eq!(
        replayed, config,
        "test.json must replay the same configuration"
    );
    Ok(())
}

/// Runs `config` with successive seeds until one is Illegal; returns the seeds tried.
fn caught_within(store: &Path, mut config: TestConfig, tries: u64) -> Result<u64, Vec<u64>> {
    let mut tried = Vec::new();
    let first_seed = config.seed;
    for attempt in 0..tries {
        config.seed = first_seed + attempt;
        tried.push(config.seed);
        let outcome = run_in(store, &config);
        if outcome.results.verdict == Verdict::Illegal {
            assert!(
                outcome.run_dir.join("shrunk.jsonl").is_file(),
                "an illegal run leaves a minimal failing history"
            );
            return Ok(config.seed);
        }
    }
    Err(tried)
}

#[test]
fn stale_reads_are_caught() -> Result<(), Box<dyn std::error::Error>> {
    let store = tempfile::tempdir()?;
    let config = config(
        "stale-read",
        21,
        WorkloadKind::Register,
        "partition",
        vec![Bug::StaleRead],
    );
    if let Err(seeds) = caught_within(store.path(), config, 3) {
        panic!("stale-read was not caught with seeds {seeds:?}");
    }
    Ok(())
}

#[test]
fn duplicated_retries_are_caught() -> Result<(), Box<dyn std::error::Error>> {
    let store = tempfile::tempdir()?;
    // A retry is proposed again (and applied twice without the session table) only when it reaches the
    // leader after the original was applied: the commit must take longer than the attempt timeout but
    // end before the retry arrives (attempt timeout + back-off + a redirect). A delay with a jitter
    // nearly as wide as its mean spreads commit latency across that window whatever the speed of the
    // build. Measured (seeds 31-36, debug and release servers alike): 4 of 6 runs catch the bug; with
    // `delay:60:30` and an 80 ms attempt timeout the debug server was caught in 0 of 6.
    let mut config = config(
        "no-dedup",
        31,
        WorkloadKind::Register,
        "delay:60:50",
        vec![Bug::NoDedup],
    );
    config.attempt_timeout_ms = 100;
    // Misses cost ~15 s each.
    if let Err(seeds) = caught_within(store.path(), config, 8) {
        panic!("no-dedup was not caught with seeds {seeds:?}");
    }
    Ok(())
}
