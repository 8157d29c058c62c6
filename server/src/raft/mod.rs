//! The deterministic, IO-free Raft core. Messages, ticks, proposals and read requests go in; a `Ready`
//! batch (state to persist, messages to send, entries to apply, reads to serve) comes out. No tokio,
//! tarpc, clock or unseeded randomness is used here, so the server, the simulation tests and the
//! stateright model all run this same code.

pub mod types;

pub use types::*;
