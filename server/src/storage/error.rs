//! The storage error type. Every variant that comes from the file system names the path (and, for
//! corruption, the byte offset) so an operator can find the bad file; nothing in storage panics on an
//! operating error. The type is `Clone` (IO errors are shared through `Arc`) so that one failed group
//! commit can report the same error to every waiter.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// An error from the write-ahead log or the group committer.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StorageError {
    /// A file-system operation failed (unreadable or unwritable data dir, IO error, ...).
    #[error("storage: {operation} {path}: {source}")]
    Io {
        /// What was being done, e.g. "write", "fsync", "open".
        operation: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Arc<io::Error>,
    },
    /// The disk is full (ENOSPC). Kept apart from `Io` so callers and tests can tell it apart.
    #[error("storage: no space left on device while trying to {operation} {path}")]
    NoSpace {
        /// What was being done.
        operation: &'static str,
        /// The file or directory involved.
        path: PathBuf,
    },
    /// A record that is not the torn tail of the last segment failed its checks: the log is damaged and
    /// the node must not start from it.
    #[error("storage: corrupt WAL record in {path} at byte offset {offset}: {reason}")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the bad record in that file.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// The set of segment files in the data dir is inconsistent (a gap, a bad name, a missing prefix).
    #[error("storage: bad WAL layout in {path}: {reason}")]
    Layout {
        /// The data dir or the offending file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A snapshot file failed its checks (magic, length, checksum or decoding), or no usable snapshot
    /// covers the WAL's compaction point.
    #[error("storage: snapshot {path}: {reason}")]
    Snapshot {
        /// The snapshot file or the data dir.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The caller asked for something the log cannot do (non-contiguous entries, overwriting compacted
    /// entries). Nothing was written.
    #[error("storage: invalid request: {0}")]
    InvalidRequest(String),
    /// An earlier write or fsync failed, so the WAL refuses further work: after a failed fsync the page
    /// cache can no longer be trusted (the "fsyncgate" lesson), so the only safe way on is a restart.
    #[error("storage: WAL unusable after an earlier failure: {0}")]
    Failed(Arc<StorageError>),
    /// The group committer's queue is full; the caller should wait for earlier batches and retry.
    #[error("storage: group commit queue is full ({capacity} batches)")]
    QueueFull {
        /// The queue's capacity.
        capacity: usize,
    },
    /// The group committer thread has stopped (shut down, or it panicked).
    #[error("storage: group committer has stopped")]
    Stopped,
}

impl StorageError {
    /// Wraps an IO error, naming the operation and the path; ENOSPC becomes [`StorageError::NoSpace`].
    pub fn io(
        operation: &'static str,
        path: impl Into<PathBuf>,
        source: io::Error,
    ) -> StorageError {
        let path = path.into();
        if source.kind() == io::ErrorKind::StorageFull {
            return StorageError::NoSpace { operation, path };
        }
        StorageError::Io {
            operation,
            path,
            source: Arc::new(source),
        }
    }
}
