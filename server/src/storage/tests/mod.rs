//! Tests of the WAL against real files in temp dirs: round trips, rollover, torn tails, corruption,
//! the unsafe crash mode, full disks, compaction, group commit, and a model-based property test.

mod group_commit_tests;
mod model_tests;
mod wal_tests;

use crate::raft::types::{Entry, EntryPayload, HardState, LogIndex, NodeId, Term};
use std::path::{Path, PathBuf};

/// Entries `first..=last` of one term, each with a small distinct command.
pub(super) fn entries(first: u64, last: u64, term: u64) -> Vec<Entry> {
    (first..=last)
        .map(|index| Entry {
            term: Term(term),
            index: LogIndex(index),
            payload: EntryPayload::Command(format!("cmd-{index}-{term}").into_bytes()),
        })
        .collect()
}

/// A hard state for `term`, voting for node 1.
pub(super) fn hard_state(term: u64, commit_index: u64) -> HardState {
    HardState {
        term: Term(term),
        voted_for: Some(NodeId(1)),
        commit_index: LogIndex(commit_index),
    }
}

/// The segment files in `dir`, sorted.
pub(super) fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list dir")
        .map(|item| item.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
        .collect();
    files.sort();
    files
}
