//! The history recorder: every invocation, completion and fault is written to `history.jsonl` as it
//! happens (so a run that dies keeps what it recorded), through the checker's validating writer, with
//! times taken under one lock so they never go backwards. It also keeps per-operation latencies and
//! outcome counts for the progress line and the report's plots.

use checker::history::{Event, EventType, Function, JsonlWriter, Process};
use serde::Serialize;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// How an operation ended, as the history says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeKind {
    /// It happened.
    Ok,
    /// It certainly did not happen.
    Fail,
    /// It may have happened.
    Info,
}

/// One completed operation, for the latency and throughput plots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LatencyPoint {
    /// When it was invoked, in ns since the start of the test.
    pub invoke_ns: u64,
    /// How long it took, in ns.
    pub latency_ns: u64,
    /// How it ended.
    pub outcome: OutcomeKind,
}

/// Operation counts by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OutcomeCounts {
    /// Invocations.
    pub invoked: u64,
    /// Completed ok.
    pub ok: u64,
    /// Completed fail.
    pub fail: u64,
    /// Completed info (indeterminate).
    pub info: u64,
}

/// A completion to record.
#[derive(Clone, Debug)]
pub struct Completion {
    /// ok, fail or info.
    pub outcome: OutcomeKind,
    /// The value observed (reads) or written.
    pub value: serde_json::Value,
    /// The node that answered, when known.
    pub node: Option<u64>,
    /// Why it failed or is indeterminate (`"mismatch"` for a cas that found another value).
    pub error: Option<String>,
}

struct Inner {
    writer: JsonlWriter<File>,
    next_index: u64,
    last_time_ns: u64,
    counts: OutcomeCounts,
    latencies: Vec<LatencyPoint>,
}

/// Records one test's history. Shared by every client task and the nemesis.
pub struct Recorder {
    start: Instant,
    inner: Mutex<Inner>,
}

/// The most latency points kept for the plots (beyond that, points are still counted but not kept).
pub const LATENCY_POINTS_MAX: usize = 2_000_000;

impl Recorder {
    /// A recorder writing to `path` (created or truncated), with time 0 now.
    pub fn create(path: &Path) -> io::Result<Recorder> {
        let file = File::create(path)?;
        Ok(Recorder {
            start: Instant::now(),
            inner: Mutex::new(Inner {
                writer: JsonlWriter::new(file),
                next_index: 0,
                last_time_ns: 0,
                counts: OutcomeCounts::default(),
                latencies: Vec::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means another client task panicked mid-write; the history so far is intact.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Nanoseconds since the start of the test.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn write(&self, inner: &mut Inner, mut event: Event) -> io::Result<u64> {
        let time = self.now_ns().max(inner.last_time_ns);
        inner.last_time_ns = time;
        event.time = time;
        event.index = inner.next_index;
        inner.writer.write_event(&event)?;
        inner.next_index += 1;
        Ok(time)
    }

    /// Records an invocation; returns its time (ns).
    pub fn invoke(
        &self,
        process: u64,
        f: Function,
        key: Option<&str>,
        value: serde_json::Value,
    ) -> io::Result<u64> {
        let mut inner = self.lock();
        let event = Event {
            index: 0,
            kind: EventType::Invoke,
            process: Process::Client(process),
            f,
            key: key.map(str::to_string),
            value,
            time: 0,
            node: None,
            error: None,
        };
        let time = self.write(&mut inner, event)?;
        inner.counts.invoked += 1;
        Ok(time)
    }

    /// Records the completion of `process`'s pending operation, invoked at `invoke_ns`.
    pub fn complete(
        &self,
        process: u64,
        f: Function,
        key: Option<&str>,
        invoke_ns: u64,
        completion: Completion,
    ) -> io::Result<()> {
        let mut inner = self.lock();
        let kind = match completion.outcome {
            OutcomeKind::Ok => EventType::Ok,
            OutcomeKind::Fail => EventType::Fail,
            OutcomeKind::Info => EventType::Info,
        };
        let event = Event {
            index: 0,
            kind,
            process: Process::Client(process),
            f,
            key: key.map(str::to_string),
            value: completion.value,
            time: 0,
            node: completion.node,
            error: completion.error,
        };
        let time = self.write(&mut inner, event)?;
        match completion.outcome {
            OutcomeKind::Ok => inner.counts.ok += 1,
            OutcomeKind::Fail => inner.counts.fail += 1,
            OutcomeKind::Info => inner.counts.info += 1,
        }
        if inner.latencies.len() < LATENCY_POINTS_MAX {
            inner.latencies.push(LatencyPoint {
                invoke_ns,
                latency_ns: time.saturating_sub(invoke_ns),
                outcome: completion.outcome,
            });
        }
        Ok(())
    }

    /// Records a nemesis event (`start-partition`, `stop-kill`, ...) with a JSON description.
    pub fn nemesis(&self, f: &str, value: serde_json::Value) -> io::Result<u64> {
        let mut inner = self.lock();
        let event = Event {
            index: 0,
            kind: EventType::Info,
            process: Process::Nemesis,
            f: Function::from_name(f),
            key: None,
            value,
            time: 0,
            node: None,
            error: None,
        };
        self.write(&mut inner, event)
    }

    /// Counts so far.
    pub fn counts(&self) -> OutcomeCounts {
        self.lock().counts
    }

    /// Flushes the history file.
    pub fn flush(&self) -> io::Result<()> {
        self.lock().writer.flush()
    }

    /// The latency points recorded so far.
    pub fn latencies(&self) -> Vec<LatencyPoint> {
        self.lock().latencies.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::history::History;

    #[test]
    fn recorded_history_parses_back_with_nondecreasing_times(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("history.jsonl");
        let recorder = Recorder::create(&path)?;
        let t0 = recorder.invoke(0, Function::Write, Some("k"), serde_json::json!(3))?;
        recorder.nemesis(
            "start-partition",
            serde_json::json!({"components": [[1], [2, 3]]}),
        )?;
        let t1 = recorder.invoke(1, Function::Read, Some("k"), serde_json::Value::Null)?;
        recorder.complete(
            0,
            Function::Write,
            Some("k"),
            t0,
            Completion {
                outcome: OutcomeKind::Ok,
                value: serde_json::json!(3),
                node: Some(1),
                error: None,
            },
        )?;
        recorder.complete(
            1,
            Function::Read,
            Some("k"),
            t1,
            Completion {
                outcome: OutcomeKind::Info,
                value: serde_json::Value::Null,
                node: None,
                error: Some("timeout".into()),
            },
        )?;
        recorder.flush()?;
        let text = std::fs::read_to_string(&path)?;
        let history = History::from_jsonl_str(&text)?;
        assert_eq!(history.events().len(), 5);
        let times: Vec<u64> = history.events().iter().map(|e| e.time).collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "times went backwards: {times:?}"
        );
        let counts = recorder.counts();
        assert_eq!(
            (counts.invoked, counts.ok, counts.info, counts.fail),
            (2, 1, 1, 0)
        );
        assert_eq!(recorder.latencies().len(), 2);
        Ok(())
    }

    #[test]
    fn a_full_disk_is_an_error_that_names_it() -> Result<(), Box<dyn std::error::Error>> {
        // /dev/full accepts the open and fails every write with ENOSPC, as a full disk does.
        let recorder = Recorder::create(Path::new("/dev/full"))?;
        for process in 0..200 {
            // Buffered: the first writes may succeed; the flush must not.
            let _ = recorder.invoke(process, Function::Read, Some("k"), serde_json::Value::Null);
        }
        let error = recorder
            .flush()
            .err()
            .ok_or("flushing to a full disk must fail")?;
        assert_eq!(error.raw_os_error(), Some(libc::ENOSPC), "{error}");
        assert!(error.to_string().contains("No space left"), "{error}");
        Ok(())
    }

    #[test]
    fn a_second_pending_operation_for_one_process_is_refused(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let recorder = Recorder::create(&dir.path().join("h.jsonl"))?;
        recorder.invoke(0, Function::Read, None, serde_json::Value::Null)?;
        let second = recorder.invoke(0, Function::Read, None, serde_json::Value::Null);
        assert!(
            second.is_err(),
            "two pending operations for one process must be refused"
        );
        Ok(())
    }
}
