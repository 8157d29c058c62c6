//! The meaning of a sequence of records: one `apply` function used both when replaying segments at
//! open and after every live append, so the in-memory view of a running WAL is by construction what a
//! restart would recover. It is generic over what it keeps per entry: recovery keeps whole entries, a
//! running WAL keeps only their terms.

use super::record::RecordRef;
use crate::raft::types::{Entry, HardState, LogIndex, SnapshotMeta, Term};
use std::collections::VecDeque;

/// What the log state keeps for each entry.
pub(crate) trait LogItem: Sized {
    /// Builds the item from an entry.
    fn from_entry(entry: &Entry) -> Self;
}

impl LogItem for Entry {
    fn from_entry(entry: &Entry) -> Self {
        entry.clone()
    }
}

impl LogItem for Term {
    fn from_entry(entry: &Entry) -> Self {
        entry.term
    }
}

/// Whether the log's start is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    /// Replay began at the first segment ever written, or a compaction record anchored the log.
    Known,
    /// Replay began after segments deleted by compaction. What is known is a suffix of the real log,
    /// with holes where deleted segments held entries; every such hole lies at or below the newest
    /// compaction point, so the state is exact once that record has been replayed with no hole after it.
    Unknown {
        /// A compaction record has been replayed and no hole was seen since.
        consistent: bool,
    },
}

/// The replayed state: hard state, compaction point and the entries after it.
#[derive(Clone, Debug)]
pub(crate) struct LogState<T> {
    /// The newest hard state.
    pub(crate) hard_state: HardState,
    /// The newest compaction point, if any.
    pub(crate) snapshot_meta: Option<SnapshotMeta>,
    /// Index of `items[0]`; when `items` is empty, the index the next entry must have (if anchored).
    first_index: LogIndex,
    start: Start,
    items: VecDeque<T>,
}

impl<T: LogItem> LogState<T> {
    /// An empty log starting at index 1 (`anchored`) or after deleted segments (not `anchored`).
    pub(crate) fn new(anchored: bool) -> Self {
        LogState {
            hard_state: HardState::default(),
            snapshot_meta: None,
            first_index: LogIndex(1),
            start: if anchored {
                Start::Known
            } else {
                Start::Unknown { consistent: false }
            },
            items: VecDeque::new(),
        }
    }

    /// Ends a replay: a log that began after deleted segments must by now be exact (see [`Start`]).
    pub(crate) fn finish(mut self) -> Result<Self, String> {
        match self.start {
            Start::Known => Ok(self),
            Start::Unknown { consistent: true } => {
                self.start = Start::Known;
                Ok(self)
            }
            Start::Unknown { consistent: false } => Err(
                "the log begins after deleted segments, but no compaction record covers them"
                    .to_string(),
            ),
        }
    }

    /// The first index the log may hold: the compaction point + 1.
    pub(crate) fn first_index(&self) -> LogIndex {
        self.first_index
    }

    /// The index of the last entry, or the compaction point when there is none.
    pub(crate) fn last_index(&self) -> LogIndex {
        LogIndex(self.first_index.0 + self.items.len() as u64 - 1)
    }

    /// The item for `index`, if the log holds it.
    pub(crate) fn get(&self, index: LogIndex) -> Option<&T> {
        let position = index.0.checked_sub(self.first_index.0)?;
        self.items.get(usize::try_from(position).ok()?)
    }

    /// The same state keeping less per entry (recovery keeps entries, a running WAL only terms).
    pub(crate) fn map_items<U>(&self, f: impl Fn(&T) -> U) -> LogState<U> {
        LogState {
            hard_state: self.hard_state.clone(),
            snapshot_meta: self.snapshot_meta.clone(),
            first_index: self.first_index,
            start: self.start,
            items: self.items.iter().map(f).collect(),
        }
    }

    /// The entries (or terms) in index order.
    pub(crate) fn into_items(self) -> VecDeque<T> {
        self.items
    }

    /// Applies one record. An error means the records contradict each other (the caller names the file
    /// and offset); the state is then unchanged.
    pub(crate) fn apply(&mut self, record: RecordRef<'_>) -> Result<(), String> {
        match record {
            RecordRef::HardState(hard_state) => {
                self.hard_state = hard_state.clone();
                Ok(())
            }
            RecordRef::TruncateFrom(index) => self.truncate_from(index),
            RecordRef::Entries(entries) => self.append(entries),
            RecordRef::Compact(meta) => self.compact(meta),
        }
    }

    fn truncate_from(&mut self, index: LogIndex) -> Result<(), String> {
        if self.start != Start::Known && (self.items.is_empty() || index < self.first_index) {
            // The truncated entries were (also) in deleted segments; none of the known ones survive.
            self.items.clear();
            return Ok(());
        }
        if index > self.last_index() {
            return Err(format!(
                "truncate from {index} but the log ends at {}",
                self.last_index()
            ));
        }
        if index < self.first_index {
            return Err(format!(
                "truncate from {index} reaches below the compaction point {}",
                self.first_index.prev()
            ));
        }
        let keep = (index.0 - self.first_index.0) as usize;
        self.items.truncate(keep);
        Ok(())
    }

    fn append(&mut self, entries: &[Entry]) -> Result<(), String> {
        let Some(first) = entries.first() else {
            return Err("empty entries record".to_string());
        };
        if first.index == LogIndex(0) {
            return Err("entry with index 0".to_string());
        }
        for pair in entries.windows(2) {
            if pair[1].index != pair[0].index.next() {
                return Err(format!(
                    "entries not contiguous: {} followed by {}",
                    pair[0].index, pair[1].index
                ));
            }
        }
        let expected = self.last_index().next();
        if let Start::Unknown { consistent } = &mut self.start {
            if self.items.is_empty() || first.index > expected {
                // A hole: the entries in between were in deleted segments.
                *consistent &= first.index == expected;
                self.items.clear();
                self.first_index = first.index;
            }
        }
        if first.index != self.last_index().next() {
            return Err(format!(
                "entries start at {} but the log ends at {}",
                first.index,
                self.last_index()
            ));
        }
        self.items.extend(entries.iter().map(T::from_entry));
        Ok(())
    }

    fn compact(&mut self, meta: &SnapshotMeta) -> Result<(), String> {
        let snapshot_index = meta.last_included_index;
        let leaves_hole = !self.items.is_empty() && self.first_index > snapshot_index.next();
        match &mut self.start {
            Start::Known => {
                if snapshot_index < self.first_index.prev() {
                    return Err(format!(
                        "compaction to {snapshot_index} is older than the compaction point {}",
                        self.first_index.prev()
                    ));
                }
                if leaves_hole {
                    return Err(format!(
                        "compaction to {snapshot_index} leaves a gap before entry {}",
                        self.first_index
                    ));
                }
            }
            Start::Unknown { consistent } => {
                *consistent = !leaves_hole;
                if leaves_hole {
                    // An older compaction record; a newer one must cover the hole.
                    self.snapshot_meta = Some(meta.clone());
                    return Ok(());
                }
            }
        }
        let drop_count = (snapshot_index.next().0.saturating_sub(self.first_index.0) as usize)
            .min(self.items.len());
        self.items.drain(..drop_count);
        self.first_index = snapshot_index.next();
        self.snapshot_meta = Some(meta.clone());
        Ok(())
    }
}
