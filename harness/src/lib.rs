//! The harness library: everything the `harness` command runs.
//!
//! - [`commands`]: one module per subcommand (`check`, `test`, ...).
//! - [`proxy`]: the per-link fault-injecting TCP proxy that makes partitions, delay and loss real.
//! - [`nemesis`]: the one fault vocabulary and its schedule.
//! - [`workload`]: seeded operation generators.
//! - [`recorder`]: writes the history as it happens.
//! - [`cluster`]: starting, killing, pausing and tearing down `raftkv` processes.

pub mod clients;
pub mod cluster;
pub mod commands;
pub mod nemesis;
pub mod node_events;
pub mod proxy;
pub mod recorder;
pub mod report;
pub mod run;
pub mod store;
pub mod workload;
