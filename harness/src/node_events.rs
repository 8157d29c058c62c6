//! What the nodes did during a run, read back from their logs (`node-<id>.log` in the run folder): how
//! often each started, won an election, took a snapshot or installed one from the leader, and how many
//! warnings and errors it logged. The report shows it so a reader can tell whether the run exercised the
//! paths it meant to (a kill fault that never forced an InstallSnapshot proves less than one that did).
//!
//! The counts match the server's own log lines (`raftkv::node`); a line the server stops printing makes a
//! count 0, never a wrong verdict.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// The server's log lines this module counts (substrings of one line).
mod lines {
    /// A process (re)started.
    pub const STARTED: &str = "node started";
    /// The node became leader.
    pub const LEADER: &str = "role changed role=Leader";
    /// It took a snapshot and compacted its log.
    pub const SNAPSHOT_TAKEN: &str = "snapshot taken; log compacted";
    /// It installed a snapshot sent by the leader.
    pub const SNAPSHOT_INSTALLED: &str = "installed a snapshot from the leader";
    /// Level markers of tracing's default format.
    pub const WARN: &str = " WARN ";
    /// See [`WARN`].
    pub const ERROR: &str = " ERROR ";
}

/// Counts for one node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEvents {
    /// The node's id.
    pub node: usize,
    /// Process starts (the first one included).
    pub starts: u64,
    /// Elections won.
    pub leaderships: u64,
    /// Snapshots taken (each followed by a log compaction).
    pub snapshots_taken: u64,
    /// Snapshots installed from the leader (the node had fallen behind a compacted log).
    pub snapshots_installed: u64,
    /// Lines logged at WARN.
    pub warnings: u64,
    /// Lines logged at ERROR.
    pub errors: u64,
}

impl NodeEvents {
    /// Counts the events in one node's log text.
    pub fn from_log(node: usize, log: &str) -> NodeEvents {
        let mut events = NodeEvents {
            node,
            ..NodeEvents::default()
        };
        for line in log.lines() {
            let counters: [(&str, &mut u64); 6] = [
                (lines::STARTED, &mut events.starts),
                (lines::LEADER, &mut events.leaderships),
                (lines::SNAPSHOT_TAKEN, &mut events.snapshots_taken),
                (lines::SNAPSHOT_INSTALLED, &mut events.snapshots_installed),
                (lines::WARN, &mut events.warnings),
                (lines::ERROR, &mut events.errors),
            ];
            for (needle, count) in counters {
                if line.contains(needle) {
                    *count += 1;
                }
            }
        }
        events
    }
}

/// The events of nodes `1..=nodes` from their logs in `run_dir`; a missing or unreadable log counts as
/// empty (the run's own errors already say why a node did not start).
pub fn read(run_dir: &Path, nodes: usize) -> Vec<NodeEvents> {
    (1..=nodes)
        .map(|node| {
            let log = std::fs::read_to_string(run_dir.join(format!("node-{node}.log")))
                .unwrap_or_default();
            NodeEvents::from_log(node, &log)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_server_log_lines() {
        let log = "\
=== harness: starting node 2 at 1 ms: raftkv --id 2
2026-11-25T15:50:10.42Z  INFO raftkv::node: node started id=2 peers={} join=false
2026-11-25T15:50:10.61Z  INFO raftkv::node::driver: role changed role=PreCandidate term=0
2026-11-25T15:50:10.62Z  INFO raftkv::node::driver: role changed role=Leader term=1
2026-11-25T15:50:12.00Z  INFO raftkv::node::driver: snapshot taken; log compacted index=500
2026-11-25T15:50:13.00Z  WARN raftkv::storage::recovery: torn tail cut
=== harness: starting node 2 at 9 ms: raftkv --id 2
2026-11-25T15:50:20.42Z  INFO raftkv::node: node started id=2 peers={} join=false
2026-11-25T15:50:21.00Z  INFO raftkv::node::driver: installed a snapshot from the leader index=1500
2026-11-25T15:50:22.00Z ERROR raftkv::node: storage failed
";
        let events = NodeEvents::from_log(2, log);
        assert_eq!(
            events,
            NodeEvents {
                node: 2,
                starts: 2,
                leaderships: 1,
                snapshots_taken: 1,
                snapshots_installed: 1,
                warnings: 1,
                errors: 1,
            }
        );
    }

    #[test]
    fn a_missing_log_counts_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let events = read(dir.path(), 2);
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[1],
            NodeEvents {
                node: 2,
                ..NodeEvents::default()
            }
        );
    }
}
