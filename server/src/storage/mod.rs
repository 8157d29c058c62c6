//! Durable storage: the write-ahead log (segment files of checksummed records, fsync before
//! acknowledgement, recovery that cuts torn tails and refuses corruption) and the group committer
//! that lets many writers share one fsync.
//!
//! Snapshot files live next to the segments ([`snapshot_file`]).
//!
//! The node shell owns a [`GroupCommitter`] (which owns the [`Wal`]) and awaits each batch's
//! [`Persisted`] before sending the messages that depend on it.

mod error;
mod group_commit;
mod legacy;
mod log_state;
mod record;
mod recovery;
mod segment;
pub mod snapshot_file;
mod wal;

#[cfg(test)]
mod tests;

pub use error::StorageError;
pub use group_commit::{
    GroupCommitStats, GroupCommitter, Persisted, WriteBatch, GROUP_COMMIT_QUEUE_MAX,
};
pub use record::RECORD_BYTES_MAX;
pub use segment::SEGMENT_FILES_MAX;
pub use wal::{Wal, WalOptions, SEGMENT_SIZE_BYTES_DEFAULT, UNSYNCED_BYTES_MAX};
