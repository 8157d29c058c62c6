//! One `harness test` run, start to finish: create the run folder, start the cluster behind the fault
//! proxies, run the clients through warm-up, fault and recovery phases while the nemesis follows its
//! seeded schedule, read every key once more, tear the cluster down, check the history and write the
//! results and the report.
//!
//! Guarantees: every started process is gone when [`run`] returns (also on error), and whatever was
//! recorded up to an error stays in `history.jsonl`.

pub mod config;
pub mod leader;
pub mod progress;
pub mod results;

use crate::clients::{self, WorkerConfig};
use crate::cluster::{self, Cluster, LaunchConfig, ServerOptions, StatusProbe};
use crate::nemesis::{Fault, Nemesis, NemesisRecord, Schedule};
use crate::recorder::{OutcomeKind, Recorder};
use crate::store::{self, files};
use crate::workload::{Generator, OpSpec};
use config::{RunPlace, TestConfig};
use progress::Progress;
use results::{FaultEvent, RunResults};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the cluster may take to elect a leader at start.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the nemesis loop wakes to check its schedule and redraw the progress line.
const NEMESIS_POLL: Duration = Duration::from_millis(100);
/// Attempts of the final read of one key before it is given up (each attempt is in the history).
const FINAL_READ_ATTEMPTS_MAX: usize = 10;

/// Why a run could not be completed (exit code 3). What was recorded so far is kept.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Creating or writing the run folder failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The cluster could not be started or managed.
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
    /// A fault could not be injected or undone.
    #[error("nemesis: {0}")]
    Nemesis(#[from] crate::nemesis::NemesisError),
    /// The run was configured wrongly.
    #[error("{0}")]
    Config(String),
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
    let what = what.into();
    move |source| RunError::Io { what, source }
}

/// What a finished run found.
#[derive(Debug)]
pub struct RunOutcome {
    /// The run folder.
    pub run_dir: PathBuf,
    /// The results (also in `results.json`).
    pub results: RunResults,
}

/// Runs one test. Progress goes to `progress_out` (stderr in the command).
pub fn run(
    config: &TestConfig,
    place: &RunPlace,
    progress_out: &mut (dyn Write + Send),
) -> Result<RunOutcome, RunError> {
    config.validate().map_err(RunError::Config)?;
    std::fs::create_dir_all(&place.store).map_err(io_error(format!(
        "cannot create store folder {}",
        place.store.display()
    )))?;
    let run_dir = store::create_run_dir(&place.store, &config.name).map_err(io_error(format!(
        "cannot create a run folder under {}",
        place.store.display()
    )))?;
    store::write_json(&run_dir, files::TEST, config).map_err(io_error("cannot write test.json"))?;
    let _ = writeln!(
        progress_out,
        "harness test '{}': seed {}, {} nodes, run folder {}",
        config.name,
        config.seed,
        config.nodes,
        run_dir.display()
    );
    let binary = cluster::find_or_build_raftkv_binary(place.binary.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io_error("cannot start the async runtime"))?;
    let launch = LaunchConfig {
        binary,
        run_dir: run_dir.clone(),
        node_count: config.nodes,
        server: ServerOptions {
            tick_ms: None,
            election_timeout_ms_min: Some(config.election_timeout_ms.0),
            election_timeout_ms_max: Some(config.election_timeout_ms.1),
            heartbeat_ms: Some(config.heartbeat_ms),
            snapshot_threshold: Some(config.snapshot_threshold),
            bugs: config.bugs.clone(),
            unsafe_lose_unsynced_writes: config.needs_lost_writes(),
            extra_args: Vec::new(),
        },
        use_proxy: true,
        seed: config.seed,
        ready_timeout: READY_TIMEOUT,
    };
    let recorder = Arc::new(
        Recorder::create(&run_dir.join(files::HISTORY))
            .map_err(io_error("cannot create history.jsonl"))?,
    );
    let drive = runtime.block_on(async {
        let (mut cluster, _leader) = cluster::launch(&launch, &StatusProbe::default()).await?;
        let outcome = drive(config, &mut cluster, &recorder, progress_out).await;
        let exits = cluster.teardown();
        outcome.map(|faults| (faults, exits))
    });
    let flushed = recorder.flush();
    let (faults, _exits) = drive?;
    flushed.map_err(io_error("cannot write history.jsonl"))?;
    let results = results::check_and_write(config, &run_dir, &recorder, faults)?;
    Ok(RunOutcome { run_dir, results })
}

/// The client and nemesis phases plus the final reads. Returns the faults that ran.
async fn drive(
    config: &TestConfig,
    cluster: &mut Cluster,
    recorder: &Arc<Recorder>,
    progress_out: &mut (dyn Write + Send),
) -> Result<Vec<FaultEvent>, RunError> {
    let addrs: Vec<_> = cluster.client_addrs().into_values().collect();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(config.time_limit_secs);
    let stop = Arc::new(AtomicBool::new(false));
    let interval = Duration::from_secs_f64(config.concurrency as f64 / config.rate);
    let mut workers = Vec::with_capacity(config.concurrency);
    for worker in 0..config.concurrency as u64 {
        let worker_config = WorkerConfig {
            worker,
            concurrency: config.concurrency as u64,
            nodes: addrs.clone(),
            interval,
            operation_timeout: Duration::from_millis(config.operation_timeout_ms),
            attempt_timeout: Duration::from_millis(config.attempt_timeout_ms),
        };
        let generator = Generator::new(config.workload.clone(), config.seed, worker);
        workers.push(tokio::spawn(clients::run_worker(
            worker_config,
            generator,
            recorder.clone(),
            stop.clone(),
            end,
        )));
    }
    let fault_start = start + Duration::from_secs_f64(config.warmup_secs);
    let schedule = Schedule::new(
        config.nemesis.clone(),
        Duration::from_secs_f64(config.nemesis_interval_secs),
        config.seed ^ 0x6E65_6D65_7369_7321,
    )
    .until(config.fault_phase());
    let mut nemesis = Nemesis::new();
    let mut faults = Vec::new();
    let mut progress = Progress::new(start, end);
    let mut next_event = 0;
    let result: Result<(), RunError> = async {
        while Instant::now() < end {
            while let Some(event) = schedule.get(next_event) {
                if Instant::now() < fault_start + event.at {
                    break;
                }
                let leader = leader::find(&addrs).await;
                let record = nemesis.apply(cluster, event, leader)?;
                faults.push(note(recorder, record)?);
                next_event += 1;
            }
            if next_event == schedule.len() && !nemesis.active().is_empty() {
                faults.push(note(recorder, nemesis.heal_all(cluster)?)?);
            }
            let current: Vec<String> = nemesis.active().iter().map(Fault::to_string).collect();
            progress.draw(progress_out, recorder.counts(), &current);
            recorder
                .flush()
                .map_err(io_error("cannot write history.jsonl"))?;
            tokio::time::sleep(NEMESIS_POLL).await;
        }
        Ok(())
    }
    .await;
    stop.store(true, Ordering::Relaxed);
    if !nemesis.active().is_empty() {
        faults.push(note(recorder, nemesis.heal_all(cluster)?)?);
    }
    let mut last_process = 0;
    for worker in workers {
        match worker.await {
            Ok(Ok(process)) => last_process = last_process.max(process),
            Ok(Err(e)) => return Err(io_error("cannot record an operation")(e)),
            Err(e) => return Err(RunError::Config(format!("a client task failed: {e}"))),
        }
    }
    progress.finish(progress_out, recorder.counts());
    result?;
    final_reads(config, &addrs, recorder, last_process + 1).await?;
    Ok(faults)
}

/// Writes a nemesis record into the history and returns it with its time.
fn note(recorder: &Recorder, record: NemesisRecord) -> Result<FaultEvent, RunError> {
    let time_ns = recorder
        .nemesis(&record.f, record.value.clone())
        .map_err(io_error("cannot record a fault"))?;
    Ok(FaultEvent {
        time_ns,
        f: record.f,
        value: record.value,
    })
}

/// After the cluster healed: one read of every key, retried (each attempt recorded) until one is ok.
async fn final_reads(
    config: &TestConfig,
    addrs: &[std::net::SocketAddr],
    recorder: &Recorder,
    first_process: u64,
) -> Result<(), RunError> {
    let mut process = first_process.max(config.concurrency as u64);
    for key in config.workload.key_names() {
        let op = OpSpec::Read { key };
        for _ in 0..FINAL_READ_ATTEMPTS_MAX {
            let mut client = raftkv::client::Client::new(
                addrs,
                process + 1,
                raftkv::client::ClientOptions {
                    operation_timeout: Duration::from_millis(config.operation_timeout_ms),
                    ..raftkv::client::ClientOptions::default()
                },
            );
            let outcome = clients::perform_recorded(&mut client, process, &op, recorder, None)
                .await
                .map_err(io_error("cannot record a final read"))?;
            let done = outcome == OutcomeKind::Ok;
            process += 1;
            if done {
                break;
            }
        }
    }
    Ok(())
}
