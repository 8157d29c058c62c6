//! raftkv: a reference Raft key-value server.
//!
//! - [`raft`]: the deterministic, IO-free Raft core.
//! - [`kv`]: KV commands and the deterministic state machine with its client-session table.
//! - [`storage`]: the write-ahead log and snapshot files.
//! - [`node`]: the tokio shell around the core, with the tarpc peer and client services.
//! - [`client`]: the client library used by the CLI, the benchmark and the harness.
//! - [`bugs`]: opt-in bug switches that tests use to prove that faults are caught.

pub mod bugs;
pub mod client;
pub mod kv;
pub mod node;
pub mod raft;
pub mod storage;
