//! The shell's side of snapshots: recovering the newest usable snapshot at start, taking a snapshot of
//! the state machine off the driver task, and persisting a snapshot installed from the leader.
//!
//! Guarantees:
//! - Taking a snapshot blocks the driver only for cloning the state machine in memory; serializing,
//!   writing, fsyncing and renaming the file happen on a blocking thread. The core and the WAL are told
//!   only after the file is durable (so a crash never leaves a WAL compacted past every snapshot file).
//! - At start the newest snapshot file that loads, passes its checksum and covers the WAL's compaction
//!   point is used; a damaged file is logged and an older one tried; if none covers the compaction
//!   point the node refuses to start with a clear error. A snapshot newer than the WAL's compaction
//!   point (a crash between the file and the WAL compaction) finishes that compaction first.

use super::NodeError;
use crate::kv::KvStateMachine;
use crate::raft::{InitialState, LogIndex, Snapshot, SnapshotMeta};
use crate::storage::snapshot_file;
use crate::storage::{StorageError, Wal};
use std::path::Path;

/// What a node starts from: the core's initial state, the newest snapshot and the state machine.
pub struct Recovered {
    /// The core's input (entries after the snapshot).
    pub initial: InitialState,
    /// The snapshot the state machine was restored from, if any.
    pub snapshot: Option<Snapshot>,
    /// The restored state machine (empty without a snapshot).
    pub state: KvStateMachine,
}

/// Finds the snapshot to start from and lines the WAL up with it (blocking: call on a blocking thread).
pub fn recover(
    dir: &Path,
    wal: &mut Wal,
    mut initial: InitialState,
    no_dedup: bool,
) -> Result<Recovered, NodeError> {
    let wal_point = initial
        .snapshot_meta
        .as_ref()
        .map_or(LogIndex(0), |m| m.last_included_index);
    let snapshot = snapshot_file::load_newest(dir, |s| s.meta.last_included_index >= wal_point)?;
    let Some(snapshot) = snapshot else {
        if wal_point > LogIndex(0) {
            return Err(NodeError::Storage(StorageError::Snapshot {
                path: dir.to_path_buf(),
                reason: format!(
                    "the WAL is compacted up to {wal_point} but no valid snapshot file covers it"
                ),
            }));
        }
        return Ok(Recovered {
            initial,
            snapshot: None,
            state: KvStateMachine::new(no_dedup),
        });
    };
    let meta = &snapshot.meta;
    let index = meta.last_included_index;
    if index > wal_point {
        // The file is durable but the WAL was not compacted to it yet: do it now (same rule as the core:
        // keep the entries after the snapshot only if the log holds its last entry with its term).
        let holds_last = initial
            .entries
            .iter()
            .any(|e| e.index == index && e.term == meta.last_included_term);
        if holds_last {
            initial.entries.retain(|e| e.index > index);
        } else {
            initial.entries.clear();
        }
        wal.compact(meta)?;
        initial.snapshot_meta = Some(meta.clone());
    }
    let state = KvStateMachine::from_snapshot_bytes(&snapshot.data, no_dedup)
        .map_err(|e| NodeError::Snapshot(format!("snapshot at {index} does not decode: {e}")))?;
    if state.applied_index() != index {
        return Err(NodeError::Snapshot(format!(
            "snapshot at {index} holds a state machine applied up to {}",
            state.applied_index()
        )));
    }
    tracing::info!(%index, term = %meta.last_included_term, "restored the state machine from a snapshot");
    Ok(Recovered {
        initial,
        snapshot: Some(snapshot),
        state,
    })
}

/// Serializes `state` (a clone taken at `meta.last_included_index`) and writes it durably (blocking).
pub fn write_taken(
    dir: &Path,
    meta: SnapshotMeta,
    state: &KvStateMachine,
    skip_fsync: bool,
) -> Result<Snapshot, NodeError> {
    let data = state
        .to_snapshot_bytes()
        .map_err(|e| NodeError::Snapshot(format!("state machine does not serialize: {e}")))?;
    let snapshot = Snapshot { meta, data };
    snapshot_file::write_snapshot(dir, &snapshot, skip_fsync)?;
    Ok(snapshot)
}
