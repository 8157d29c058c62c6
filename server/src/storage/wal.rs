//! The write-ahead log: appends of hard state and entries, explicit truncation of a conflicting suffix,
//! compaction points, segment rollover and `sync`. Guarantees:
//!
//! - After `sync` returns Ok, everything appended before it survives a crash or power cut (unless
//!   `skip_fsync` is set, which exists only for the `ack-before-fsync` bug switch).
//! - `open` returns exactly the state that the synced records describe (plus any unsynced records the
//!   OS happened to keep), with a torn tail cut off and any other damage reported as an error.
//! - After any write or fsync failure the WAL refuses further work ([`StorageError::Failed`]).

use super::error::StorageError;
use super::log_state::LogState;
use super::record::{self, RecordRef, ENTRIES_PAYLOAD_OVERHEAD_BYTES, RECORD_BYTES_MAX};
use super::recovery::{self, SegmentInfo};
use crate::raft::types::{Entry, HardState, InitialState, LogIndex, SnapshotMeta, Term};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Default size after which appends go to a new segment file.
pub const SEGMENT_SIZE_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;

/// With `unsafe_lose_unsynced_writes`, the most bytes held in memory before they are written to the
/// file anyway, as a kernel's writeback would (this bounds memory when `skip_fsync` is also set).
pub const UNSYNCED_BYTES_MAX: usize = 4 * 1024 * 1024;

/// How the WAL behaves. `Default` is the only production setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalOptions {
    /// Start a new segment file when an append would take the current one past this size.
    pub segment_size_bytes: u64,
    /// TESTING ONLY: keep written-but-unsynced bytes in process memory instead of the file until
    /// `sync` (or until [`UNSYNCED_BYTES_MAX`] or a segment rollover forces them out), so a `kill -9`
    /// loses exactly the unsynced writes, as a power cut would. Dropping the `Wal` without `sync` also
    /// loses them.
    pub unsafe_lose_unsynced_writes: bool,
    /// TESTING ONLY (the `ack-before-fsync` bug switch): `sync` does nothing and no file or dir is ever
    /// fsynced. With `unsafe_lose_unsynced_writes` the bytes then stay in memory until the writeback
    /// limit or a rollover.
    pub skip_fsync: bool,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_size_bytes: SEGMENT_SIZE_BYTES_DEFAULT,
            unsafe_lose_unsynced_writes: false,
            skip_fsync: false,
        }
    }
}

/// The segment that records are appended to.
struct ActiveSegment {
    info: SegmentInfo,
    file: File,
    /// Bytes already handed to the file.
    file_bytes: u64,
    /// With `unsafe_lose_unsynced_writes`: bytes appended but not yet handed to the file.
    unsynced: Vec<u8>,
}

impl ActiveSegment {
    fn total_bytes(&self) -> u64 {
        self.file_bytes + self.unsynced.len() as u64
    }

    /// Hands the in-memory bytes to the file (no fsync).
    fn write_back(&mut self) -> Result<(), StorageError> {
        if self.unsynced.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&self.unsynced)
            .map_err(|e| StorageError::io("write", &self.info.path, e))?;
        self.file_bytes += self.unsynced.len() as u64;
        self.unsynced.clear();
        Ok(())
    }
}

/// The write-ahead log of one node. Single-threaded; share it through a
/// [`GroupCommitter`](super::GroupCommitter).
pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    closed_segments: Vec<SegmentInfo>,
    active: ActiveSegment,
    state: LogState<Term>,
    failure: Option<Arc<StorageError>>,
    /// Reused encode buffer, so appends do not allocate in the steady state.
    encode_buf: Vec<u8>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.dir)
            .field("first_index", &self.state.first_index())
            .field("last_index", &self.state.last_index())
            .field("segments", &self.segment_count())
            .finish_non_exhaustive()
    }
}

impl Wal {
    /// Opens (creating if needed) the WAL in `dir` and recovers its state. `bootstrap_config` in the
    /// returned state is left default for the caller to fill.
    pub fn open(dir: &Path, options: WalOptions) -> Result<(Wal, InitialState), StorageError> {
        let recovered = recovery::recover(dir, options.skip_fsync)?;
        let state = recovered.state.map_items(|entry| entry.term);
        let mut initial_state = InitialState {
            hard_state: recovered.state.hard_state.clone(),
            snapshot_meta: recovered.state.snapshot_meta.clone(),
            entries: recovered.state.into_items().into(),
            bootstrap_config: Default::default(),
        };
        catch_up_hard_state_term(&mut initial_state, dir);
        let wal = Wal {
            dir: dir.to_path_buf(),
            options,
            closed_segments: recovered.closed_segments,
            active: ActiveSegment {
                info: recovered.active_segment,
                file: recovered.active_file,
                file_bytes: recovered.active_file_bytes,
                unsynced: Vec::new(),
            },
            state,
            failure: None,
            encode_buf: Vec::new(),
        };
        Ok((wal, initial_state))
    }

    /// Appends `entries` (contiguous, ascending) and then `hard_state`. When `entries[0].index` is at or
    /// below the last index, the conflicting suffix from there on is truncated first (recorded
    /// explicitly). Nothing is durable until [`Wal::sync`].
    pub fn append(
        &mut self,
        hard_state: Option<&HardState>,
        entries: &[Entry],
    ) -> Result<(), StorageError> {
        self.check_usable()?;
        let mut records = Vec::new();
        if let Some(first) = entries.first() {
            self.check_append_position(first.index)?;
            check_contiguous(entries)?;
            if first.index <= self.state.last_index() {
                records.push(RecordRef::TruncateFrom(first.index));
            }
            for chunk in split_into_records(entries)? {
                records.push(RecordRef::Entries(chunk));
            }
        }
        if let Some(hard_state) = hard_state {
            records.push(RecordRef::HardState(hard_state));
        }
        self.write_records(&records)
    }

    /// Records that a snapshot covers the log up to `meta.last_included_index`: entries up to there are
    /// dropped, and so are entries after it unless the log holds the snapshot's last entry with the same
    /// term (Raft §7). The record is synced, then segments wholly below the compaction point are deleted.
    /// The caller must have made the snapshot itself durable first: after this, `open` returns
    /// `snapshot_meta = Some(meta)` and no entries up to its index.
    pub fn compact(&mut self, meta: &SnapshotMeta) -> Result<(), StorageError> {
        self.check_usable()?;
        let snapshot_index = meta.last_included_index;
        let compaction_index = self.state.first_index().prev();
        if snapshot_index < compaction_index {
            return Err(StorageError::InvalidRequest(format!(
                "compaction to {snapshot_index} is older than the current compaction point \
                 {compaction_index}"
            )));
        }
        let term_at_snapshot_index = if snapshot_index == compaction_index {
            self.state
                .snapshot_meta
                .as_ref()
                .map(|m| m.last_included_term)
        } else {
            self.state.get(snapshot_index).copied()
        };
        let hard_state = self.state.hard_state.clone();
        let mut records = Vec::new();
        if term_at_snapshot_index != Some(meta.last_included_term)
            && self.state.last_index() > snapshot_index
        {
            records.push(RecordRef::TruncateFrom(snapshot_index.next()));
        }
        // The hard state is repeated here because the segment holding it may be deleted below.
        records.push(RecordRef::HardState(&hard_state));
        records.push(RecordRef::Compact(meta));
        self.write_records(&records)?;
        self.sync()?;
        self.delete_segments_up_to(snapshot_index)
    }

    /// Makes every earlier append durable (fsync of the active segment). A no-op with `skip_fsync`.
    pub fn sync(&mut self) -> Result<(), StorageError> {
        self.check_usable()?;
        if self.options.skip_fsync {
            return Ok(());
        }
        let result = self.active.write_back().and_then(|()| {
            self.active
                .file
                .sync_data()
                .map_err(|e| StorageError::io("fsync", &self.active.info.path, e))
        });
        result.map_err(|e| self.fail(e))
    }

    /// The first index the log can hold (the compaction point + 1).
    pub fn first_index(&self) -> LogIndex {
        self.state.first_index()
    }

    /// The index of the last entry (or the compaction point if the log is empty).
    pub fn last_index(&self) -> LogIndex {
        self.state.last_index()
    }

    /// The term of the entry at `index`, if the log holds it.
    pub fn term(&self, index: LogIndex) -> Option<Term> {
        self.state.get(index).copied()
    }

    /// The newest hard state appended.
    pub fn hard_state(&self) -> &HardState {
        &self.state.hard_state
    }

    /// The data dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many segment files the WAL spans, the active one included.
    pub fn segment_count(&self) -> usize {
        self.closed_segments.len() + 1
    }

    fn check_usable(&self) -> Result<(), StorageError> {
        match &self.failure {
            Some(failure) => Err(StorageError::Failed(failure.clone())),
            None => Ok(()),
        }
    }

    /// Remembers an IO failure so that every later call refuses work, and passes the error on.
    fn fail(&mut self, error: StorageError) -> StorageError {
        self.failure = Some(Arc::new(error.clone()));
        error
    }

    fn check_append_position(&self, first_index: LogIndex) -> Result<(), StorageError> {
        if first_index < self.state.first_index() {
            return Err(StorageError::InvalidRequest(format!(
                "entry {first_index} is at or below the compaction point {}",
                self.state.first_index().prev()
            )));
        }
        if first_index > self.state.last_index().next() {
            return Err(StorageError::InvalidRequest(format!(
                "entry {first_index} would leave a gap after the last index {}",
                self.state.last_index()
            )));
        }
        Ok(())
    }

    /// Encodes `records`, writes them to the active segment (rolling over first if needed) and applies
    /// them to the in-memory state. The records of one call never span two segments.
    fn write_records(&mut self, records: &[RecordRef<'_>]) -> Result<(), StorageError> {
        let mut buf = std::mem::take(&mut self.encode_buf);
        buf.clear();
        for record in records {
            if let Err(reason) = record::encode(*record, &mut buf) {
                self.encode_buf = buf;
                return Err(StorageError::InvalidRequest(reason));
            }
        }
        let result = self.write_bytes(&buf);
        self.encode_buf = buf;
        result.map_err(|e| self.fail(e))?;
        for record in records {
            let applied = self.state.apply(*record);
            assert!(
                applied.is_ok(),
                "validated record did not apply: {applied:?} for {record:?}"
            );
            if let RecordRef::Entries(entries) = record {
                if let Some(last) = entries.last() {
                    let segment_last = &mut self.active.info.last_entry_index;
                    *segment_last = (*segment_last).max(last.index);
                }
            }
        }
        Ok(())
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        let size_after = self.active.total_bytes() + bytes.len() as u64;
        if self.active.total_bytes() > 0 && size_after > self.options.segment_size_bytes {
            self.roll_over()?;
        }
        if self.options.unsafe_lose_unsynced_writes {
            self.active.unsynced.extend_from_slice(bytes);
            if self.active.unsynced.len() > UNSYNCED_BYTES_MAX {
                self.active.write_back()?;
            }
            return Ok(());
        }
        self.active
            .file
            .write_all(bytes)
            .map_err(|e| StorageError::io("write", &self.active.info.path, e))?;
        self.active.file_bytes += bytes.len() as u64;
        Ok(())
    }

    /// Seals the active segment (written back and fsynced, so only the last segment can ever have a
    /// torn tail) and starts the next one.
    fn roll_over(&mut self) -> Result<(), StorageError> {
        self.active.write_back()?;
        if !self.options.skip_fsync {
            self.active
                .file
                .sync_data()
                .map_err(|e| StorageError::io("fsync", &self.active.info.path, e))?;
        }
        let (info, file) =
            recovery::create_segment(&self.dir, self.active.info.seq + 1, self.options.skip_fsync)?;
        let sealed = std::mem::replace(
            &mut self.active,
            ActiveSegment {
                info,
                file,
                file_bytes: 0,
                unsynced: Vec::new(),
            },
        );
        self.closed_segments.push(sealed.info);
        Ok(())
    }

    /// Deletes the oldest closed segments whose entries are all covered by the compaction point. A
    /// failure here loses no data (the kept segments are still a contiguous suffix), so it does not
    /// poison the WAL.
    fn delete_segments_up_to(&mut self, snapshot_index: LogIndex) -> Result<(), StorageError> {
        let deletable = self
            .closed_segments
            .iter()
            .take_while(|segment| segment.last_entry_index <= snapshot_index)
            .count();
        if deletable == 0 {
            return Ok(());
        }
        for segment in self.closed_segments.drain(..deletable) {
            fs::remove_file(&segment.path)
                .map_err(|e| StorageError::io("delete", &segment.path, e))?;
        }
        if !self.options.skip_fsync {
            recovery::fsync_dir(&self.dir)?;
        }
        Ok(())
    }
}

fn check_contiguous(entries: &[Entry]) -> Result<(), StorageError> {
    for pair in entries.windows(2) {
        if pair[1].index != pair[0].index.next() {
            return Err(StorageError::InvalidRequest(format!(
                "entries not contiguous: {} followed by {}",
                pair[0].index, pair[1].index
            )));
        }
    }
    Ok(())
}

/// Splits an entry batch into runs that each fit one record.
fn split_into_records(entries: &[Entry]) -> Result<Vec<&[Entry]>, StorageError> {
    // One byte of each record is the kind.
    let payload_bytes_max = RECORD_BYTES_MAX - 1 - ENTRIES_PAYLOAD_OVERHEAD_BYTES;
    let mut chunks = Vec::new();
    let mut chunk_start = 0;
    let mut chunk_bytes = 0;
    for (position, entry) in entries.iter().enumerate() {
        let entry_bytes =
            record::entry_encoded_bytes(entry).map_err(StorageError::InvalidRequest)?;
        if entry_bytes > payload_bytes_max {
            return Err(StorageError::InvalidRequest(format!(
                "entry {} is {entry_bytes} bytes, over the {payload_bytes_max}-byte record limit",
                entry.index
            )));
        }
        if chunk_bytes + entry_bytes > payload_bytes_max {
            chunks.push(&entries[chunk_start..position]);
            chunk_start = position;
            chunk_bytes = 0;
        }
        chunk_bytes += entry_bytes;
    }
    if chunk_start < entries.len() {
        chunks.push(&entries[chunk_start..]);
    }
    Ok(chunks)
}

/// A write batch holds entries and then the hard state, so a write torn between them (or a power cut
/// that kept only the first part) can leave entries of a term newer than the recovered hard state: a
/// follower that learned the new term and the leader's entries in the same batch. Raise the term to the
/// last entry's term with no vote. That is safe: the node never voted in that term (a vote is persisted
/// before it is sent, and any earlier durable hard state of that term would have been recovered), and
/// the commit index stays the one that was durable. Writing the hard state first instead would be
/// unsafe: a torn write could then keep a commit index that points at a not-yet-replaced conflicting
/// entry.
///
/// Only the core's copy is raised: the WAL keeps the durable hard state, which the next hard state the
/// core hands out replaces.
fn catch_up_hard_state_term(state: &mut InitialState, dir: &Path) {
    let Some(last) = state.entries.last() else {
        return;
    };
    if last.term > state.hard_state.term {
        tracing::warn!(
            dir = %dir.display(),
            hard_state_term = state.hard_state.term.0,
            last_log_term = last.term.0,
            "the WAL's last write was torn between entries and hard state; raising the term to the last \
             entry's term with no vote"
        );
        state.hard_state.term = last.term;
        state.hard_state.voted_for = None;
    }
}
