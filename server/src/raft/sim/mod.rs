//! Test-only deterministic simulation of the Raft core: simulated durable storage and crashes
//! ([`cluster`]), a seeded lossy network ([`network`]), randomized runs ([`random`]) and scripted scenarios of the paper's cases (`scenarios`).
//!
//! After every step the cluster feeds [`crate::raft::safety::SafetyMonitor`]. Everything is a plain
//! function of `RawNode` values and a seed, so a stateright model can reuse the same step functions.

pub mod cluster;
mod durability_scenarios;
mod membership_scenarios;
pub mod network;
pub mod random;
mod scenarios;
mod snapshot_scenarios;
mod stale_scenarios;
