//! The Raft core's configuration and its error type.
//!
//! Guarantees: a [`Config`] that passed [`Config::validate`] has a non-empty, randomizable election
//! timeout window, a heartbeat interval shorter than the minimum election timeout, and non-zero limits, so
//! the core never divides by zero, never campaigns against its own heartbeats and never queues without bound.

use crate::bugs::BugSet;
use crate::raft::types::NodeId;

/// Default minimum election timeout in ticks (the shell ticks every 10 ms, so 150 ms).
pub const ELECTION_TIMEOUT_TICKS_MIN_DEFAULT: u64 = 15;
/// Default (exclusive) maximum election timeout in ticks (300 ms at 10 ms per tick).
pub const ELECTION_TIMEOUT_TICKS_MAX_DEFAULT: u64 = 30;
/// Default heartbeat interval in ticks.
pub const HEARTBEAT_INTERVAL_TICKS_DEFAULT: u64 = 3;
/// Default maximum number of entries in one AppendEntries message.
pub const ENTRIES_PER_APPEND_MAX_DEFAULT: usize = 256;
/// Default number of AppendEntries messages in flight per follower (the pipelining window).
pub const INFLIGHT_APPENDS_MAX_DEFAULT: usize = 16;
/// Default number of proposals (and, separately, reads) that may wait for commit at once.
pub const PENDING_PROPOSALS_MAX_DEFAULT: usize = 4096;

/// Default size of one InstallSnapshot chunk.
pub const SNAPSHOT_CHUNK_BYTES_DEFAULT: usize = 1024 * 1024;
/// Default largest snapshot a follower accepts through InstallSnapshot (the same bound as a snapshot
/// file, `storage::snapshot_file::SNAPSHOT_FILE_BYTES_MAX`: a larger one could not be loaded anyway).
pub const SNAPSHOT_BYTES_MAX_DEFAULT: u64 = 1 << 32;
/// Default lag (in entries behind the leader's last index) under which a learner counts as caught up
/// and is promoted to voter.
pub const LEARNER_CATCH_UP_LAG_MAX_DEFAULT: u64 = 64;

/// Errors of the Raft core.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// The configuration cannot work (the message says which field and why).
    #[error("invalid raft config: {0}")]
    InvalidConfig(String),
    /// The recovered state contradicts itself (e.g. a log with gaps).
    #[error("inconsistent raft state: {0}")]
    InconsistentState(String),
}

/// Settings of one Raft node. Times are logical ticks; the shell decides how long a tick is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// This node's id (never 0).
    pub id: NodeId,
    /// Lower bound (inclusive) of the randomized election timeout; also the check-quorum period and the
    /// "recently heard from a leader" lease.
    pub election_timeout_ticks_min: u64,
    /// Upper bound (exclusive) of the randomized election timeout.
    pub election_timeout_ticks_max: u64,
    /// A leader sends heartbeats this often.
    pub heartbeat_interval_ticks: u64,
    /// At most this many entries per AppendEntries message (batching).
    pub max_entries_per_append: usize,
    /// At most this many non-empty AppendEntries in flight per follower in replicate state (pipelining).
    pub max_inflight_appends: usize,
    /// `propose()` fails with `TooManyPending` once this many entries wait for commit; the same bound
    /// applies to pending ReadIndex requests.
    pub max_pending_proposals: usize,
    /// Run a pre-vote round before a real election (Raft thesis §9.6).
    pub pre_vote: bool,
    /// Leaders step down when they have not heard from a majority within an election timeout, and
    /// followers with a live leader ignore vote requests. Turn on together with `pre_vote`.
    pub check_quorum: bool,
    /// Deliberately injected bugs (tests only; empty in production).
    pub bugs: BugSet,
    /// At most this many snapshot bytes per InstallSnapshot message.
    pub snapshot_chunk_bytes: usize,
    /// A learner whose match index is within this many entries of the leader's last index is promoted.
    pub learner_catch_up_lag_max: u64,
    /// A follower receiving a snapshot in chunks buffers at most this many bytes; a chunk that would go
    /// beyond aborts the transfer (the buffer is dropped and the leader told to start over).
    pub snapshot_bytes_max: u64,
}

impl Config {
    /// A configuration with the documented defaults.
    pub fn new(id: NodeId) -> Config {
        Config {
            id,
            election_timeout_ticks_min: ELECTION_TIMEOUT_TICKS_MIN_DEFAULT,
            election_timeout_ticks_max: ELECTION_TIMEOUT_TICKS_MAX_DEFAULT,
            heartbeat_interval_ticks: HEARTBEAT_INTERVAL_TICKS_DEFAULT,
            max_entries_per_append: ENTRIES_PER_APPEND_MAX_DEFAULT,
            max_inflight_appends: INFLIGHT_APPENDS_MAX_DEFAULT,
            max_pending_proposals: PENDING_PROPOSALS_MAX_DEFAULT,
            pre_vote: true,
            check_quorum: true,
            bugs: BugSet::none(),
            snapshot_chunk_bytes: SNAPSHOT_CHUNK_BYTES_DEFAULT,
            learner_catch_up_lag_max: LEARNER_CATCH_UP_LAG_MAX_DEFAULT,
            snapshot_bytes_max: SNAPSHOT_BYTES_MAX_DEFAULT,
        }
    }

    /// Checks that the settings can work together.
    pub fn validate(&self) -> Result<(), CoreError> {
        let invalid = |why: &str| Err(CoreError::InvalidConfig(why.to_string()));
        if self.id == NodeId(0) {
            return invalid("id must not be 0");
        }
        if self.election_timeout_ticks_min == 0 {
            return invalid("election_timeout_ticks_min must be > 0");
        }
        if self.election_timeout_ticks_max <= self.election_timeout_ticks_min {
            return invalid("election_timeout_ticks_max must be > election_timeout_ticks_min");
        }
        if self.heartbeat_interval_ticks == 0
            || self.heartbeat_interval_ticks >= self.election_timeout_ticks_min
        {
            return invalid("heartbeat_interval_ticks must be in [1, election_timeout_ticks_min)");
        }
        if self.max_entries_per_append == 0 {
            return invalid("max_entries_per_append must be > 0");
        }
        if self.max_inflight_appends == 0 {
            return invalid("max_inflight_appends must be > 0");
        }
        if self.max_pending_proposals == 0 {
            return invalid("max_pending_proposals must be > 0");
        }
        if self.snapshot_chunk_bytes == 0 {
            return invalid("snapshot_chunk_bytes must be > 0");
        }
        if self.snapshot_bytes_max == 0 {
            return invalid("snapshot_bytes_max must be > 0");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_rejected() {
        let config = Config::new(NodeId(1));
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.election_timeout_ticks_min, 15);
        assert_eq!(config.election_timeout_ticks_max, 30);
        assert!(config.pre_vote && config.check_quorum);

        let mut bad = config.clone();
        bad.id = NodeId(0);
        assert!(bad.validate().is_err());
        let mut bad = config.clone();
        bad.election_timeout_ticks_max = bad.election_timeout_ticks_min;
        assert!(bad.validate().is_err());
        let mut bad = config.clone();
        bad.heartbeat_interval_ticks = bad.election_timeout_ticks_min;
        assert!(bad.validate().is_err());
        let mut bad = config;
        bad.max_inflight_appends = 0;
        assert!(bad.validate().is_err());
    }
}
