//! Decoding of the on-disk layout used before `ClusterConfig` carried member addresses (WAL record
//! kinds 2 and 4, snapshot files with magic `RKVSNAP1`).
//!
//! Why this exists: bincode encodes a struct as its fields in order, with no field names or count, so a
//! field added at the end (`ClusterConfig::addresses`) cannot be defaulted by `#[serde(default)]` when
//! it is missing: the decoder would read the next value as the new field. The writer therefore uses new
//! record kinds and a new snapshot magic for the new layout, and the reader decodes the old ones through
//! the mirror types below, converting them to the current types with no addresses.
//!
//! Guarantees: a file written by the old layout decodes to exactly the values it held; nothing here is
//! ever written.

use crate::raft::types::{
    ClusterConfig, Entry, EntryPayload, LogIndex, NodeId, Snapshot, SnapshotMeta, Term,
};
use serde::Deserialize;
use std::collections::BTreeSet;

/// `ClusterConfig` before addresses.
#[derive(Deserialize)]
struct ClusterConfigV1 {
    voters: BTreeSet<NodeId>,
    voters_outgoing: BTreeSet<NodeId>,
    learners: BTreeSet<NodeId>,
}

impl From<ClusterConfigV1> for ClusterConfig {
    fn from(old: ClusterConfigV1) -> Self {
        ClusterConfig {
            voters: old.voters,
            voters_outgoing: old.voters_outgoing,
            learners: old.learners,
            addresses: Default::default(),
        }
    }
}

/// `EntryPayload` before addresses (same variants, same order).
#[derive(Deserialize)]
enum EntryPayloadV1 {
    Noop,
    Command(Vec<u8>),
    Config(ClusterConfigV1),
}

/// `Entry` before addresses.
#[derive(Deserialize)]
pub(crate) struct EntryV1 {
    term: Term,
    index: LogIndex,
    payload: EntryPayloadV1,
}

impl From<EntryV1> for Entry {
    fn from(old: EntryV1) -> Self {
        let payload = match old.payload {
            EntryPayloadV1::Noop => EntryPayload::Noop,
            EntryPayloadV1::Command(bytes) => EntryPayload::Command(bytes),
            EntryPayloadV1::Config(config) => EntryPayload::Config(config.into()),
        };
        Entry {
            term: old.term,
            index: old.index,
            payload,
        }
    }
}

/// `SnapshotMeta` before addresses.
#[derive(Deserialize)]
pub(crate) struct SnapshotMetaV1 {
    last_included_index: LogIndex,
    last_included_term: Term,
    config: ClusterConfigV1,
}

impl From<SnapshotMetaV1> for SnapshotMeta {
    fn from(old: SnapshotMetaV1) -> Self {
        SnapshotMeta {
            last_included_index: old.last_included_index,
            last_included_term: old.last_included_term,
            config: old.config.into(),
        }
    }
}

/// `Snapshot` before addresses.
#[derive(Deserialize)]
pub(crate) struct SnapshotV1 {
    meta: SnapshotMetaV1,
    data: Vec<u8>,
}

impl From<SnapshotV1> for Snapshot {
    fn from(old: SnapshotV1) -> Self {
        Snapshot {
            meta: old.meta.into(),
            data: old.data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    /// The old layout, for writing test inputs (mirrors the V1 types field by field).
    #[derive(Serialize)]
    struct OldConfig {
        voters: BTreeSet<NodeId>,
        voters_outgoing: BTreeSet<NodeId>,
        learners: BTreeSet<NodeId>,
    }
    #[derive(Serialize)]
    enum OldPayload {
        #[allow(dead_code)]
        Noop,
        #[allow(dead_code)]
        Command(Vec<u8>),
        Config(OldConfig),
    }
    #[derive(Serialize)]
    struct OldEntry {
        term: Term,
        index: LogIndex,
        payload: OldPayload,
    }

    #[derive(Serialize)]
    struct OldMeta {
        last_included_index: LogIndex,
        last_included_term: Term,
        config: OldConfig,
    }
    #[derive(Serialize)]
    struct OldSnapshot {
        meta: OldMeta,
        data: Vec<u8>,
    }

    #[test]
    fn an_old_snapshot_file_still_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let old = OldSnapshot {
            meta: OldMeta {
                last_included_index: LogIndex(9),
                last_included_term: Term(2),
                config: OldConfig {
                    voters: [NodeId(1), NodeId(2), NodeId(3)].into(),
                    voters_outgoing: BTreeSet::new(),
                    learners: BTreeSet::new(),
                },
            },
            data: b"state".to_vec(),
        };
        let body = bincode::serialize(&old).expect("encodes");
        let mut file = b"RKVSNAP1".to_vec();
        file.extend_from_slice(&(body.len() as u64).to_le_bytes());
        file.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
        file.extend_from_slice(&body);
        let path = crate::storage::snapshot_file::snapshot_path(dir.path(), LogIndex(9));
        std::fs::write(&path, file).expect("write");
        let loaded = crate::storage::snapshot_file::read_snapshot(&path).expect("loads");
        assert_eq!(loaded.meta.last_included_index, LogIndex(9));
        assert_eq!(
            loaded.meta.config,
            ClusterConfig::with_voters([NodeId(1), NodeId(2), NodeId(3)])
        );
        assert_eq!(loaded.data, b"state".to_vec());
    }

    #[test]
    fn an_old_config_entry_decodes_without_addresses() {
        let old = vec![OldEntry {
            term: Term(2),
            index: LogIndex(5),
            payload: OldPayload::Config(OldConfig {
                voters: [NodeId(1), NodeId(2)].into(),
                voters_outgoing: BTreeSet::new(),
                learners: [NodeId(3)].into(),
            }),
        }];
        let bytes = bincode::serialize(&old).expect("encodes");
        let decoded: Vec<EntryV1> = bincode::deserialize(&bytes).expect("decodes");
        let entries: Vec<Entry> = decoded.into_iter().map(Entry::from).collect();
        let EntryPayload::Config(config) = &entries[0].payload else {
            panic!("not a config entry: {entries:?}");
        };
        assert_eq!(entries[0].index, LogIndex(5));
        assert_eq!(config.voters, [NodeId(1), NodeId(2)].into());
        assert_eq!(config.learners, [NodeId(3)].into());
        assert!(config.addresses.is_empty());
        // The same bytes do not decode as the new layout (which is why the kinds differ).
        assert!(bincode::deserialize::<Vec<Entry>>(&bytes).is_err());
    }
}
