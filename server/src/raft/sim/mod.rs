//! Test-only deterministic simulation of the Raft core: simulated durable storage and crashes
//! ([`cluster`]), a seeded lossy network ([`network`]), the safety-property monitor ([`invariants`]),
//! randomized runs ([`random`]) and scripted scenarios of the paper's cases (`scenarios`).
//!
//! Everything is a plain function of `RawNode` values and a seed, so a stateright model can reuse the
//! monitor and the cluster's step functions.

pub mod cluster;
pub mod invariants;
pub mod network;
pub mod random;
mod scenarios;
