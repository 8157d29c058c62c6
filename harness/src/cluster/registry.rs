//! The process-wide list of live child pids, and the Ctrl-C handler that kills them.
//!
//! Guarantees: every pid the cluster spawns is registered before `spawn` returns and unregistered only
//! after it has been reaped, so Ctrl-C (SIGINT/SIGTERM via the `ctrlc` crate) SIGKILLs every child
//! still alive, paused ones included. Children run in their own process group, so the terminal's SIGINT
//! reaches only the harness and this handler decides their fate. The window between reaping a child and
//! unregistering its pid is a few instructions; a pid reused inside it could be signalled (accepted).

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// Exit code of the harness after Ctrl-C (128 + SIGINT).
pub const INTERRUPTED_EXIT_CODE: i32 = 130;

static LIVE_PIDS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
static HANDLER: OnceLock<Result<(), String>> = OnceLock::new();

fn live_pids() -> MutexGuard<'static, BTreeSet<i32>> {
    // The set stays consistent even if a holder panicked (insert/remove are atomic on it).
    LIVE_PIDS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Records a spawned child's pid.
pub fn register(pid: i32) {
    live_pids().insert(pid);
}

/// Forgets a reaped child's pid.
pub fn unregister(pid: i32) {
    live_pids().remove(&pid);
}

/// The pids currently registered.
pub fn registered_pids() -> Vec<i32> {
    live_pids().iter().copied().collect()
}

/// SIGKILLs every registered child's process group (without reaping) and returns how many were signalled. For use by
/// an interrupt handler the binary installs itself instead of [`install_interrupt_handler`].
pub fn kill_registered_processes() -> usize {
    let pids = registered_pids();
    pids.iter()
        .filter(|&&pid| killpg(Pid::from_raw(pid), Signal::SIGKILL).is_ok())
        .count()
}

/// Installs (once per process) a Ctrl-C handler that kills every registered child and exits with
/// `INTERRUPTED_EXIT_CODE`. Idempotent; fails if another handler was installed through `ctrlc` first
/// (then that handler must call [`kill_registered_processes`]).
pub fn install_interrupt_handler() -> Result<(), String> {
    HANDLER
        .get_or_init(|| {
            ctrlc::set_handler(|| {
                let killed = kill_registered_processes();
                eprintln!("harness: interrupted; killed {killed} node process(es)");
                std::process::exit(INTERRUPTED_EXIT_CODE);
            })
            .map_err(|error| error.to_string())
        })
        .clone()
}
