//! One node's OS process across restarts: spawn, kill -9, SIGSTOP/SIGCONT, restart with the same
//! arguments, and a record of every incarnation's pid and exit status.
//!
//! Guarantees: at most one live child per node; signals go to the child's whole process group; a child is always reaped after it is killed (so its pid
//! is never signalled after reuse, and `kill(pid, 0)` fails afterwards); stdout and stderr of every
//! incarnation are appended to the node's log file after a header line naming the command.

use super::{registry, ClusterError, NodeSpec};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use raftkv::raft::NodeId;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

/// How a process incarnation ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// The exit code, if it exited normally.
    pub code: Option<i32>,
    /// The terminating signal, if a signal ended it.
    pub signal: Option<i32>,
    /// Whether the harness killed it on purpose (fault or teardown) rather than it dying by itself.
    pub killed_by_harness: bool,
}

impl ExitRecord {
    fn new(status: ExitStatus, killed_by_harness: bool) -> ExitRecord {
        ExitRecord {
            code: status.code(),
            signal: status.signal(),
            killed_by_harness,
        }
    }
}

impl std::fmt::Display for ExitRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit code {code}"),
            (None, Some(signal)) => write!(f, "killed by signal {signal}"),
            (None, None) => write!(f, "unknown exit status"),
        }
    }
}

/// One incarnation of a node process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    /// The OS process id.
    pub pid: u32,
    /// Start time in milliseconds since the Unix epoch.
    pub started_at_unix_ms: u64,
    /// How it ended; `None` while running (or when it was never reaped).
    pub exit: Option<ExitRecord>,
}

/// What a node's process is doing now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeState {
    /// Alive and not stopped.
    Running,
    /// Alive but SIGSTOPped.
    Paused,
    /// No live process (killed, exited, or not started).
    Stopped,
}

/// A node's process supervisor.
#[derive(Debug)]
pub struct NodeProcess {
    spec: NodeSpec,
    log_path: PathBuf,
    child: Option<Child>,
    paused: bool,
    records: Vec<ProcessRecord>,
}

fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn raw_pid(child: &Child) -> i32 {
    i32::try_from(child.id()).expect("OS pids fit in i32 (pid_t)")
}

impl NodeProcess {
    /// A supervisor for `spec` logging to `log_path`; nothing is started yet.
    pub fn new(spec: NodeSpec, log_path: PathBuf) -> NodeProcess {
        NodeProcess {
            spec,
            log_path,
            child: None,
            paused: false,
            records: Vec::new(),
        }
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.spec.id
    }

    /// What the node runs.
    pub fn spec(&self) -> &NodeSpec {
        &self.spec
    }

    /// The node's log file (stdout and stderr of every incarnation).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Every incarnation so far, oldest first.
    pub fn records(&self) -> &[ProcessRecord] {
        &self.records
    }

    /// The live child's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The current state (does not reap; see [`NodeProcess::reap_if_exited`]).
    pub fn state(&self) -> NodeState {
        match (&self.child, self.paused) {
            (None, _) => NodeState::Stopped,
            (Some(_), true) => NodeState::Paused,
            (Some(_), false) => NodeState::Running,
        }
    }

    fn open_log(&self) -> Result<File, ClusterError> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|source| ClusterError::Io {
                what: format!("open log {}", self.log_path.display()),
                source,
            })
    }

    /// Starts the process (again, with the same program and arguments).
    pub fn start(&mut self) -> Result<u32, ClusterError> {
        let id = self.spec.id;
        if self.child.is_some() {
            return Err(ClusterError::AlreadyRunning(id));
        }
        let mut log = self.open_log()?;
        let header = format!(
            "=== harness: starting node {id} at {} ms: {} {}\n",
            unix_ms_now(),
            self.spec.program.display(),
            self.spec.args.join(" ")
        );
        let log_io = |source| ClusterError::Io {
            what: format!("write log {}", self.log_path.display()),
            source,
        };
        log.write_all(header.as_bytes()).map_err(log_io)?;
        let stderr = log.try_clone().map_err(log_io)?;
        let child = Command::new(&self.spec.program)
            .args(&self.spec.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            // Own process group: the terminal's Ctrl-C goes to the harness only, which then kills us.
            .process_group(0)
            .spawn()
            .map_err(|source| ClusterError::Spawn {
                id,
                program: self.spec.program.clone(),
                source,
            })?;
        registry::register(raw_pid(&child));
        let pid = child.id();
        self.records.push(ProcessRecord {
            pid,
            started_at_unix_ms: unix_ms_now(),
            exit: None,
        });
        self.child = Some(child);
        self.paused = false;
        Ok(pid)
    }

    fn signal(&self, signal: Signal) -> Result<(), ClusterError> {
        let child = self
            .child
            .as_ref()
            .ok_or(ClusterError::NotRunning(self.spec.id))?;
        // The child leads its own process group (see `start`): signalling the group also reaches any
        // processes it forked, so a kill -9 leaves nothing behind holding ports or the log.
        match killpg(Pid::from_raw(raw_pid(child)), signal) {
            // ESRCH: it died by itself and is a zombie-to-be-reaped; the caller's wait handles it.
            Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
            Err(source) => Err(ClusterError::Signal {
                id: self.spec.id,
                signal: signal.as_str(),
                source,
            }),
        }
    }

    fn finish(&mut self, status: ExitStatus, killed_by_harness: bool) -> ExitRecord {
        let record = ExitRecord::new(status, killed_by_harness);
        if let Some(child) = self.child.take() {
            registry::unregister(raw_pid(&child));
        }
        if let Some(last) = self.records.last_mut() {
            last.exit = Some(record.clone());
        }
        self.paused = false;
        record
    }

    /// kill -9 and reap. Works on paused processes too.
    pub fn kill(&mut self) -> Result<ExitRecord, ClusterError> {
        self.signal(Signal::SIGKILL)?;
        let id = self.spec.id;
        let child = self.child.as_mut().ok_or(ClusterError::NotRunning(id))?;
        let status = child.wait().map_err(|source| ClusterError::Io {
            what: format!("wait for node {id}"),
            source,
        })?;
        Ok(self.finish(status, true))
    }

    /// SIGSTOP.
    pub fn pause(&mut self) -> Result<(), ClusterError> {
        self.signal(Signal::SIGSTOP)?;
        self.paused = true;
        Ok(())
    }

    /// SIGCONT.
    pub fn resume(&mut self) -> Result<(), ClusterError> {
        self.signal(Signal::SIGCONT)?;
        self.paused = false;
        Ok(())
    }

    /// Reaps the child if it has exited by itself, returning how it ended.
    pub fn reap_if_exited(&mut self) -> Result<Option<ExitRecord>, ClusterError> {
        let id = self.spec.id;
        let Some(child) = self.child.as_mut() else {
            return Ok(None);
        };
        let status = child.try_wait().map_err(|source| ClusterError::Io {
            what: format!("poll node {id}"),
            source,
        })?;
        Ok(status.map(|status| self.finish(status, false)))
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if self.child.is_some() {
            // Teardown on every path (error, panic unwinding, normal end): never leak a node process.
            if let Err(error) = self.kill() {
                tracing::warn!(node = %self.spec.id, %error, "could not kill node process on drop");
            }
        }
    }
}
