//! Opening a data dir: list the segments, replay every record in order, cut a torn tail off the last
//! segment (with a warning), and refuse to start on any other damage, naming the file and byte offset.
//! What was recovered is made durable (fsync of the last segment and of the dir) before it is returned,
//! so a node never acts on log data that a power cut could still take away.

use super::error::StorageError;
use super::log_state::LogState;
use super::segment::{self, segment_file_name};
use crate::raft::types::{Entry, LogIndex};
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

/// A segment file the WAL knows about.
#[derive(Clone, Debug)]
pub(crate) struct SegmentInfo {
    /// Sequence number (from the name).
    pub(crate) seq: u64,
    /// Full path.
    pub(crate) path: PathBuf,
    /// The highest entry index ever written to this segment (0 if none); compaction may delete the
    /// segment once this is covered by a snapshot.
    pub(crate) last_entry_index: LogIndex,
}

/// Everything `Wal::open` needs.
pub(crate) struct Recovered {
    /// Segments before the last one.
    pub(crate) closed_segments: Vec<SegmentInfo>,
    /// The last segment, which new records go to.
    pub(crate) active_segment: SegmentInfo,
    /// The last segment opened for appending, positioned at its (possibly cut) end.
    pub(crate) active_file: File,
    /// Its length in bytes.
    pub(crate) active_file_bytes: u64,
    /// The replayed log.
    pub(crate) state: LogState<Entry>,
}

/// Fsyncs a directory so that file creations, renames and deletions in it survive a power cut.
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io("fsync dir", dir, e))
}

/// Creates segment `seq` in `dir` (it must not exist yet) and, unless `skip_fsync`, fsyncs the dir so
/// the new name is durable before anything written to it is acknowledged.
pub(crate) fn create_segment(
    dir: &Path,
    seq: u64,
    skip_fsync: bool,
) -> Result<(SegmentInfo, File), StorageError> {
    let path = dir.join(segment_file_name(seq));
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .map_err(|e| StorageError::io("create", &path, e))?;
    if !skip_fsync {
        fsync_dir(dir)?;
    }
    let info = SegmentInfo {
        seq,
        path,
        last_entry_index: LogIndex(0),
    };
    Ok((info, file))
}

/// Opens (creating if needed) the data dir and replays it. See the module doc for the guarantees.
pub(crate) fn recover(dir: &Path, skip_fsync: bool) -> Result<Recovered, StorageError> {
    fs::create_dir_all(dir).map_err(|e| StorageError::io("create dir", dir, e))?;
    let listed = segment::list_segments(dir)?;
    let Some(&(first_seq, _)) = listed.first() else {
        let (active_segment, active_file) = create_segment(dir, 0, skip_fsync)?;
        return Ok(Recovered {
            closed_segments: Vec::new(),
            active_segment,
            active_file,
            active_file_bytes: 0,
            state: LogState::new(true),
        });
    };
    // Segments before `first_seq` were deleted by compaction: the log's start is then only known once
    // the compaction record (always in a kept segment) has been replayed.
    let mut state = LogState::<Entry>::new(first_seq == 0);
    let mut infos = Vec::with_capacity(listed.len());
    for (position, (seq, path)) in listed.iter().enumerate() {
        let is_last = position + 1 == listed.len();
        let bytes = read_segment(path)?;
        let scanned = segment::scan_segment(path, &bytes, is_last)?;
        let mut last_entry_index = LogIndex(0);
        for (offset, record) in &scanned.records {
            state
                .apply(record.as_ref())
                .map_err(|reason| StorageError::Corrupt {
                    path: path.clone(),
                    offset: *offset,
                    reason,
                })?;
            if let super::record::Record::Entries(entries) = record {
                if let Some(last) = entries.last() {
                    last_entry_index = last_entry_index.max(last.index);
                }
            }
        }
        if let Some(torn) = &scanned.torn_tail {
            cut_torn_tail(path, torn, bytes.len() as u64, skip_fsync)?;
        }
        infos.push(SegmentInfo {
            seq: *seq,
            path: path.clone(),
            last_entry_index,
        });
    }
    let state = state.finish().map_err(|reason| StorageError::Layout {
        path: dir.to_path_buf(),
        reason: format!("{reason} (first segment: {})", segment_file_name(first_seq)),
    })?;
    let active_segment = infos.pop().expect("listed is non-empty, so infos is too");
    let active_file = OpenOptions::new()
        .append(true)
        .open(&active_segment.path)
        .map_err(|e| StorageError::io("open", &active_segment.path, e))?;
    let active_file_bytes = active_file
        .metadata()
        .map_err(|e| StorageError::io("stat", &active_segment.path, e))?
        .len();
    if !skip_fsync {
        // A crash may have left written-but-unsynced records that we just replayed: make them durable
        // before the node answers anything based on them.
        active_file
            .sync_data()
            .map_err(|e| StorageError::io("fsync", &active_segment.path, e))?;
        fsync_dir(dir)?;
    }
    Ok(Recovered {
        closed_segments: infos,
        active_segment,
        active_file,
        active_file_bytes,
        state,
    })
}

/// Reads a segment, never more than its length at open (so a file that is not a regular file cannot
/// make recovery read forever).
fn read_segment(path: &Path) -> Result<Vec<u8>, StorageError> {
    let file = File::open(path).map_err(|e| StorageError::io("open", path, e))?;
    let file_bytes = file
        .metadata()
        .map_err(|e| StorageError::io("stat", path, e))?
        .len();
    let mut bytes = Vec::with_capacity(usize::try_from(file_bytes).unwrap_or(0));
    file.take(file_bytes)
        .read_to_end(&mut bytes)
        .map_err(|e| StorageError::io("read", path, e))?;
    Ok(bytes)
}

/// Cuts a torn write off the end of the last segment.
fn cut_torn_tail(
    path: &Path,
    torn: &segment::TornTail,
    file_bytes: u64,
    skip_fsync: bool,
) -> Result<(), StorageError> {
    tracing::warn!(
        path = %path.display(),
        offset = torn.offset,
        cut_bytes = file_bytes - torn.offset,
        reason = %torn.reason,
        "WAL ends in a torn write; cutting it off"
    );
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| StorageError::io("open", path, e))?;
    file.set_len(torn.offset)
        .map_err(|e| StorageError::io("truncate", path, e))?;
    if !skip_fsync {
        file.sync_data()
            .map_err(|e| StorageError::io("fsync", path, e))?;
    }
    Ok(())
}
