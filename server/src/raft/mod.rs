//! The deterministic, IO-free Raft core. Messages, ticks, proposals and read requests go in; a `Ready`
//! batch (state to persist, messages to send, entries to apply, reads to serve) comes out. No tokio,
//! tarpc, clock or unseeded randomness is used here, so the server, the simulation tests and the
//! stateright model all run this same code.
//!
//! Layout: [`types`] (shared vocabulary), [`config`], [`raw_node`] (state and public entry points), the
//! protocol in `step.rs`, `election.rs`, `replication.rs`, `read_index.rs`, `transfer.rs`, `snapshot.rs`, [`membership`], and the helpers
//! [`log`], [`progress`], [`quorum`], [`rng`].

pub mod config;
mod election;
pub mod log;
pub mod membership;
pub mod progress;
pub mod quorum;
pub mod raw_node;
mod read_index;
pub mod relabel;
mod replication;
pub mod rng;
pub mod safety;
mod snapshot;
mod step;
mod transfer;
pub mod types;

pub use config::{Config, CoreError};
pub use membership::ConfChangeError;
pub use raw_node::{ProposeError, RawNode, Ready, Status};
pub use transfer::TransferError;
pub use types::*;

#[cfg(test)]
mod sim;
