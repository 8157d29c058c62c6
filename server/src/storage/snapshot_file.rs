//! Snapshot files in the data dir: `snapshot-<index>.snap`, each holding one [`Snapshot`] (meta and the
//! state machine's bytes) behind a magic, a length and a CRC-32C.
//!
//! Guarantees: a snapshot file is complete or absent: it is written to a temporary name, fsynced,
//! renamed into place, and the directory is fsynced, so a crash leaves either the old set of files or
//! the new one (a leftover temporary file is ignored and removed on the next write). Loading checks the
//! magic, length and checksum, and a damaged file is reported, never half-used. After a successful write
//! only the newest [`SNAPSHOT_FILES_KEPT`] files are kept (an older one is a fallback if the newest is
//! damaged later).

use super::error::StorageError;
use crate::raft::types::{LogIndex, Snapshot};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Snapshot files kept in the data dir after a new one is written.
pub const SNAPSHOT_FILES_KEPT: usize = 2;
/// A snapshot file is written and flushed to disk in pieces of this size.
pub const SNAPSHOT_SYNC_CHUNK_BYTES: usize = 1 << 20;
/// Bytes a snapshot file may hold (bounds what loading allocates).
pub const SNAPSHOT_FILE_BYTES_MAX: u64 = 1 << 32;

/// The current layout (configurations with member addresses).
const MAGIC: &[u8; 8] = b"RKVSNAP2";
/// The layout before `ClusterConfig::addresses` (read only, see `legacy.rs`).
const MAGIC_V1: &[u8; 8] = b"RKVSNAP1";
const HEADER_BYTES: usize = 8 + 8 + 4;
const PREFIX: &str = "snapshot-";
const SUFFIX: &str = ".snap";

/// The path of the snapshot file for `index`.
pub fn snapshot_path(dir: &Path, index: LogIndex) -> PathBuf {
    dir.join(format!("{PREFIX}{:020}{SUFFIX}", index.0))
}

/// Writes `snapshot` durably as `snapshot-<index>.snap` (see the module docs), then removes older files
/// beyond [`SNAPSHOT_FILES_KEPT`]. `skip_fsync` exists only for the `ack-before-fsync` bug switch.
pub fn write_snapshot(
    dir: &Path,
    snapshot: &Snapshot,
    skip_fsync: bool,
) -> Result<PathBuf, StorageError> {
    // The body is bincode of the whole `Snapshot`: its meta, the data's length, the data. It is written
    // in those pieces, so the (possibly large) data is never copied into a second buffer.
    let meta = bincode::serialize(&snapshot.meta).map_err(|e| StorageError::Snapshot {
        path: dir.to_path_buf(),
        reason: format!("does not serialize: {e}"),
    })?;
    let data_length = (snapshot.data.len() as u64).to_le_bytes();
    let pieces: [&[u8]; 3] = [&meta, &data_length, &snapshot.data];
    let body_bytes: usize = pieces.iter().map(|p| p.len()).sum();
    let crc = pieces
        .iter()
        .fold(0, |crc, piece| crc32c::crc32c_append(crc, piece));
    let path = snapshot_path(dir, snapshot.meta.last_included_index);
    let temporary = path.with_extension("snap.tmp");
    let mut file =
        File::create(&temporary).map_err(|e| StorageError::io("create", &temporary, e))?;
    let mut header = Vec::with_capacity(HEADER_BYTES);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&(body_bytes as u64).to_le_bytes());
    header.extend_from_slice(&crc.to_le_bytes());
    let mut unsynced_bytes = 0;
    for piece in std::iter::once(header.as_slice()).chain(pieces) {
        for chunk in piece.chunks(SNAPSHOT_SYNC_CHUNK_BYTES) {
            file.write_all(chunk)
                .map_err(|e| StorageError::io("write", &temporary, e))?;
            unsynced_bytes += chunk.len();
            // Flushing as we go keeps the dirty data small, so the WAL's own fsyncs (which may have to
            // wait for a journal commit that carries this file's data) never wait for a whole snapshot.
            if !skip_fsync && unsynced_bytes >= SNAPSHOT_SYNC_CHUNK_BYTES {
                file.sync_data()
                    .map_err(|e| StorageError::io("fsync", &temporary, e))?;
                unsynced_bytes = 0;
            }
        }
    }
    if !skip_fsync {
        file.sync_all()
            .map_err(|e| StorageError::io("fsync", &temporary, e))?;
    }
    drop(file);
    fs::rename(&temporary, &path).map_err(|e| StorageError::io("rename", &path, e))?;
    if !skip_fsync {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StorageError::io("fsync dir", dir, e))?;
    }
    remove_old(dir)?;
    Ok(path)
}

/// The snapshot files in `dir`, newest (highest index) first.
pub fn list_snapshots(dir: &Path) -> Result<Vec<(LogIndex, PathBuf)>, StorageError> {
    let mut found = Vec::new();
    let listing = fs::read_dir(dir).map_err(|e| StorageError::io("list", dir, e))?;
    for item in listing {
        let item = item.map_err(|e| StorageError::io("list", dir, e))?;
        let name = item.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(index) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.strip_suffix(SUFFIX))
            .and_then(|digits| digits.parse::<u64>().ok())
        else {
            continue;
        };
        found.push((LogIndex(index), item.path()));
    }
    found.sort_by_key(|item| std::cmp::Reverse(item.0));
    Ok(found)
}

/// Reads and checks one snapshot file.
pub fn read_snapshot(path: &Path) -> Result<Snapshot, StorageError> {
    let corrupt = |reason: String| StorageError::Snapshot {
        path: path.to_path_buf(),
        reason,
    };
    let length = fs::metadata(path)
        .map_err(|e| StorageError::io("stat", path, e))?
        .len();
    if length > SNAPSHOT_FILE_BYTES_MAX {
        return Err(corrupt(format!("{length} bytes is more than the maximum")));
    }
    let bytes = fs::read(path).map_err(|e| StorageError::io("read", path, e))?;
    if bytes.len() < HEADER_BYTES || (&bytes[..8] != MAGIC && &bytes[..8] != MAGIC_V1) {
        return Err(corrupt(
            "not a snapshot file (bad magic or too short)".into(),
        ));
    }
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[8..16]);
    let body_length = u64::from_le_bytes(word);
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&bytes[16..20]);
    let body = &bytes[HEADER_BYTES..];
    if body.len() as u64 != body_length {
        return Err(corrupt(format!(
            "body is {} bytes, header says {body_length}",
            body.len()
        )));
    }
    if crc32c::crc32c(body) != u32::from_le_bytes(crc) {
        return Err(corrupt("checksum mismatch".into()));
    }
    let decoded = if &bytes[..8] == MAGIC_V1 {
        bincode::deserialize::<super::legacy::SnapshotV1>(body).map(Snapshot::from)
    } else {
        bincode::deserialize(body)
    };
    decoded.map_err(|e| corrupt(format!("does not decode: {e}")))
}

/// The newest snapshot in `dir` that loads and passes `acceptable`. Damaged files are logged as
/// errors and skipped in favour of an older one.
pub fn load_newest(
    dir: &Path,
    acceptable: impl Fn(&Snapshot) -> bool,
) -> Result<Option<Snapshot>, StorageError> {
    for (index, path) in list_snapshots(dir)? {
        match read_snapshot(&path) {
            Ok(snapshot) if snapshot.meta.last_included_index == index && acceptable(&snapshot) => {
                return Ok(Some(snapshot))
            }
            Ok(_) => {
                tracing::error!(path = %path.display(), "snapshot file cannot be used here; trying an older one")
            }
            Err(err) => tracing::error!(%err, "damaged snapshot file; trying an older one"),
        }
    }
    Ok(None)
}

/// Removes snapshot files beyond the newest [`SNAPSHOT_FILES_KEPT`] and leftover temporary files.
fn remove_old(dir: &Path) -> Result<(), StorageError> {
    for (_, path) in list_snapshots(dir)?.into_iter().skip(SNAPSHOT_FILES_KEPT) {
        fs::remove_file(&path).map_err(|e| StorageError::io("remove", &path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::types::{ClusterConfig, NodeId, SnapshotMeta, Term};

    fn snapshot(index: u64) -> Snapshot {
        Snapshot {
            meta: SnapshotMeta {
                last_included_index: LogIndex(index),
                last_included_term: Term(2),
                config: ClusterConfig::with_voters([NodeId(1), NodeId(2)]),
            },
            data: vec![index as u8; 100],
        }
    }

    #[test]
    fn round_trip_keeps_the_newest_two_and_falls_back_past_a_damaged_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        for index in [5, 10, 15] {
            write_snapshot(dir.path(), &snapshot(index), false).expect("write");
        }
        let listed: Vec<LogIndex> = list_snapshots(dir.path())
            .expect("list")
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        assert_eq!(listed, vec![LogIndex(15), LogIndex(10)]);
        assert_eq!(
            load_newest(dir.path(), |_| true).expect("load"),
            Some(snapshot(15))
        );
        // Flip one byte of the newest file's body: the checksum catches it, the older file is used.
        let newest = snapshot_path(dir.path(), LogIndex(15));
        let mut bytes = fs::read(&newest).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xFF;
        fs::write(&newest, bytes).expect("write");
        assert!(read_snapshot(&newest).is_err());
        assert_eq!(
            load_newest(dir.path(), |_| true).expect("load"),
            Some(snapshot(10))
        );
        // A filter can refuse the remaining one too.
        assert_eq!(
            load_newest(dir.path(), |s| s.meta.last_included_index > LogIndex(12)).expect("load"),
            None
        );
    }

    /// The piecewise writer produces exactly the layout the reader expects (header, then bincode of the
    /// whole snapshot), also for data spanning several flush chunks.
    #[test]
    fn large_snapshot_is_written_in_the_bincode_layout_and_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut large = snapshot(7);
        large.data = (0..SNAPSHOT_SYNC_CHUNK_BYTES * 2 + 12_345)
            .map(|i| (i % 251) as u8)
            .collect();
        let path = write_snapshot(dir.path(), &large, false).expect("write");
        let bytes = fs::read(&path).expect("read");
        let body = bincode::serialize(&large).expect("serialize");
        assert_eq!(&bytes[..8], MAGIC);
        assert_eq!(bytes[8..16], (body.len() as u64).to_le_bytes());
        assert_eq!(bytes[16..20], crc32c::crc32c(&body).to_le_bytes());
        assert_eq!(&bytes[HEADER_BYTES..], body.as_slice());
        assert_eq!(read_snapshot(&path).expect("read back"), large);
    }
}
