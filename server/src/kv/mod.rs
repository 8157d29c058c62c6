//! The key-value layer: the commands clients send, the responses they get, and the deterministic state
//! machine that applies committed log entries, with its client-session table for exactly-once writes.
//!
//! Guarantees: applying the same committed entries in the same order gives the same state and the same
//! responses on every node; a write retried with the same `(client_id, seq)` takes effect at most once
//! (unless [`crate::bugs::Bug::NoDedup`] is switched on).

pub mod command;
pub mod state_machine;

pub use command::{Command, KvError, LoggedCommand, Response};
pub use state_machine::{ApplyOutcome, KvStateMachine, Session};
