//! The nemesis: one fault vocabulary ([`Fault`]), the pure partition geometry ([`plan_partition`]), the
//! seeded [`Schedule`] of fault starts and stops, and the executor that applies faults to a running
//! cluster and its proxy mesh.
//!
//! Guarantees: every fault has a start and a stop event, recorded in the history as process `nemesis`,
//! type `info`, f `start-<name>` / `stop-<name>` and a JSON value describing what was done (see
//! [`NemesisRecord`]); every random choice derives from the root seed.

mod apply;
mod fault;
mod partition;
mod schedule;

pub use apply::{
    resolve_targets, Nemesis, NemesisError, NemesisRecord, NEMESIS_EVENT_TYPE, NEMESIS_PROCESS,
    UNSAFE_LOSE_UNSYNCED_WRITES_FLAG,
};
pub use fault::{
    Fault, FaultList, FaultParseError, PartitionShape, Target, DELAY_JITTER_MS_DEFAULT,
    DELAY_MEAN_MS_DEFAULT, FAULT_LIST_LEN_MAX, LOSS_PROBABILITY_DEFAULT,
};
pub use partition::{plan_partition, PartitionPlan};
pub use schedule::{Phase, Schedule, ScheduledEvent, INTERVAL_MIN, SCHEDULED_EVENTS_MAX};
