//! WAL record framing. Every record on disk is one frame:
//!
//! ```text
//! | length: u32 LE | crc32c: u32 LE | kind: u8 | payload: length - 1 bytes (bincode) |
//! ```
//!
//! `length` counts the kind byte and the payload. The checksum covers the length field, the kind and the
//! payload, so a damaged length is caught as surely as a damaged payload. A frame either decodes to
//! exactly the record that was encoded or is reported as damaged; decoding never panics and never
//! allocates more than the frame's (bounded) length.

use super::legacy;
use crate::raft::types::{Entry, HardState, LogIndex, SnapshotMeta};
use bincode::Options;

/// Bytes before the kind byte: the length and the checksum.
pub(crate) const FRAME_HEADER_BYTES: usize = 8;

/// The largest `length` a frame may declare. Larger entry batches are split over several records; a
/// single entry larger than this is refused.
pub const RECORD_BYTES_MAX: usize = 16 * 1024 * 1024;

const KIND_HARD_STATE: u8 = 1;
/// Entries in the layout before `ClusterConfig::addresses` (read only, see `legacy.rs`).
const KIND_ENTRIES_V1: u8 = 2;
const KIND_TRUNCATE_FROM: u8 = 3;
/// A compaction point in the layout before `ClusterConfig::addresses` (read only).
const KIND_COMPACT_V1: u8 = 4;
const KIND_ENTRIES: u8 = 5;
const KIND_COMPACT: u8 = 6;

/// A decoded record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// The newest term, vote and commit index.
    HardState(HardState),
    /// Log entries with contiguous ascending indexes, following the current last entry.
    Entries(Vec<Entry>),
    /// Drop every entry with index >= this one (the core overwrites a conflicting suffix).
    TruncateFrom(LogIndex),
    /// Entries up to `last_included_index` are covered by a snapshot and are dropped.
    Compact(SnapshotMeta),
}

/// A record to encode, borrowing its data so appends do not copy entries.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RecordRef<'a> {
    /// See [`Record::HardState`].
    HardState(&'a HardState),
    /// See [`Record::Entries`].
    Entries(&'a [Entry]),
    /// See [`Record::TruncateFrom`].
    TruncateFrom(LogIndex),
    /// See [`Record::Compact`].
    Compact(&'a SnapshotMeta),
}

impl Record {
    /// A borrowed view, so replay and live appends share one `apply`.
    pub(crate) fn as_ref(&self) -> RecordRef<'_> {
        match self {
            Record::HardState(hard_state) => RecordRef::HardState(hard_state),
            Record::Entries(entries) => RecordRef::Entries(entries),
            Record::TruncateFrom(index) => RecordRef::TruncateFrom(*index),
            Record::Compact(meta) => RecordRef::Compact(meta),
        }
    }
}

/// Why a frame could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The buffer ends before the frame does (a short write, if at the end of the file).
    Truncated {
        /// Bytes the frame claims (header included), or the header size if even that is missing.
        frame_bytes: usize,
        /// Bytes actually available.
        available_bytes: usize,
    },
    /// The declared length is 0 or larger than [`RECORD_BYTES_MAX`].
    BadLength(u32),
    /// The checksum does not match.
    BadChecksum,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Truncated {
                frame_bytes,
                available_bytes,
            } => write!(
                f,
                "frame of {frame_bytes} bytes but only {available_bytes} bytes left"
            ),
            FrameError::BadLength(length) => write!(f, "impossible frame length {length}"),
            FrameError::BadChecksum => f.write_str("checksum mismatch"),
        }
    }
}

/// A frame that passed its checks: the kind, the payload and the frame's total size in bytes.
pub(crate) struct Frame<'a> {
    /// The record kind byte.
    pub(crate) kind: u8,
    /// The bincode payload.
    pub(crate) payload: &'a [u8],
    /// Header + kind + payload.
    pub(crate) frame_bytes: usize,
}

/// The one bincode configuration used for payloads: fixed-width integers, bounded, no trailing bytes.
fn codec() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_limit(RECORD_BYTES_MAX as u64)
        .reject_trailing_bytes()
}

/// The encoded size of one entry inside an `Entries` payload.
pub(crate) fn entry_encoded_bytes(entry: &Entry) -> Result<usize, String> {
    codec()
        .serialized_size(entry)
        .map(|size| size as usize)
        .map_err(|e| format!("entry {} cannot be encoded: {e}", entry.index))
}

/// Bytes an `Entries` payload spends besides the entries (the sequence length).
pub(crate) const ENTRIES_PAYLOAD_OVERHEAD_BYTES: usize = 8;

/// Appends one frame holding `record` to `out`. Fails only if the record is larger than
/// [`RECORD_BYTES_MAX`] (callers split entry batches before that) or cannot be serialized; `out` is then
/// left as it was.
pub(crate) fn encode(record: RecordRef<'_>, out: &mut Vec<u8>) -> Result<(), String> {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER_BYTES]);
    let result = match record {
        RecordRef::HardState(hard_state) => {
            out.push(KIND_HARD_STATE);
            codec().serialize_into(&mut *out, hard_state)
        }
        RecordRef::Entries(entries) => {
            out.push(KIND_ENTRIES);
            codec().serialize_into(&mut *out, entries)
        }
        RecordRef::TruncateFrom(index) => {
            out.push(KIND_TRUNCATE_FROM);
            codec().serialize_into(&mut *out, &index)
        }
        RecordRef::Compact(meta) => {
            out.push(KIND_COMPACT);
            codec().serialize_into(&mut *out, meta)
        }
    };
    let length = out.len() - start - FRAME_HEADER_BYTES;
    if let Err(e) = result {
        out.truncate(start);
        return Err(format!("record cannot be encoded: {e}"));
    }
    if length > RECORD_BYTES_MAX {
        out.truncate(start);
        return Err(format!(
            "record of {length} bytes exceeds the {RECORD_BYTES_MAX}-byte limit"
        ));
    }
    let length_bytes = (length as u32).to_le_bytes();
    let crc = crc32c::crc32c_append(
        crc32c::crc32c(&length_bytes),
        &out[start + FRAME_HEADER_BYTES..],
    );
    out[start..start + 4].copy_from_slice(&length_bytes);
    out[start + 4..start + FRAME_HEADER_BYTES].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Checks the frame at the start of `buf` (length bounds and checksum) without decoding the payload.
pub(crate) fn decode_frame(buf: &[u8]) -> Result<Frame<'_>, FrameError> {
    let Some(header) = buf.get(..FRAME_HEADER_BYTES) else {
        return Err(FrameError::Truncated {
            frame_bytes: FRAME_HEADER_BYTES,
            available_bytes: buf.len(),
        });
    };
    let length_bytes: [u8; 4] = [header[0], header[1], header[2], header[3]];
    let length = u32::from_le_bytes(length_bytes);
    if length == 0 || length as usize > RECORD_BYTES_MAX {
        return Err(FrameError::BadLength(length));
    }
    let crc_stored = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let frame_bytes = FRAME_HEADER_BYTES + length as usize;
    let Some(body) = buf.get(FRAME_HEADER_BYTES..frame_bytes) else {
        return Err(FrameError::Truncated {
            frame_bytes,
            available_bytes: buf.len(),
        });
    };
    let crc = crc32c::crc32c_append(crc32c::crc32c(&length_bytes), body);
    if crc != crc_stored {
        return Err(FrameError::BadChecksum);
    }
    Ok(Frame {
        kind: body[0],
        payload: &body[1..],
        frame_bytes,
    })
}

/// Whether a byte could start a frame of a known kind; used to skip hopeless candidates quickly when
/// looking for valid data after a damaged record.
pub(crate) fn is_known_kind(kind: u8) -> bool {
    matches!(
        kind,
        KIND_HARD_STATE
            | KIND_ENTRIES
            | KIND_TRUNCATE_FROM
            | KIND_COMPACT
            | KIND_ENTRIES_V1
            | KIND_COMPACT_V1
    )
}

/// Decodes the payload of a frame that passed [`decode_frame`]. An error here means the writer and the
/// reader disagree (a bug or a foreign file), never a torn write: torn writes fail the checksum.
pub(crate) fn decode_record(frame: &Frame<'_>) -> Result<Record, String> {
    let decoded = match frame.kind {
        KIND_HARD_STATE => codec().deserialize(frame.payload).map(Record::HardState),
        KIND_ENTRIES => codec().deserialize(frame.payload).map(Record::Entries),
        KIND_TRUNCATE_FROM => codec().deserialize(frame.payload).map(Record::TruncateFrom),
        KIND_COMPACT => codec().deserialize(frame.payload).map(Record::Compact),
        KIND_ENTRIES_V1 => codec()
            .deserialize::<Vec<legacy::EntryV1>>(frame.payload)
            .map(|old| Record::Entries(old.into_iter().map(Entry::from).collect())),
        KIND_COMPACT_V1 => codec()
            .deserialize::<legacy::SnapshotMetaV1>(frame.payload)
            .map(|old| Record::Compact(old.into())),
        other => return Err(format!("unknown record kind {other}")),
    };
    decoded.map_err(|e| format!("record of kind {} does not decode: {e}", frame.kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::types::{EntryPayload, NodeId, Term};

    fn sample_records() -> Vec<Record> {
        vec![
            Record::HardState(HardState {
                term: Term(3),
                voted_for: Some(NodeId(2)),
                commit_index: LogIndex(7),
            }),
            Record::Entries(vec![
                Entry {
                    term: Term(1),
                    index: LogIndex(1),
                    payload: EntryPayload::Noop,
                },
                Entry {
                    term: Term(1),
                    index: LogIndex(2),
                    payload: EntryPayload::Command(b"put x 1".to_vec()),
                },
            ]),
            Record::TruncateFrom(LogIndex(2)),
            Record::Compact(SnapshotMeta::default()),
        ]
    }

    #[test]
    fn every_kind_round_trips_through_a_frame() {
        for record in sample_records() {
            let mut buf = Vec::new();
            encode(record.as_ref(), &mut buf).expect("encodes");
            let frame = decode_frame(&buf).expect("valid frame");
            assert_eq!(frame.frame_bytes, buf.len());
            assert_eq!(decode_record(&frame).expect("decodes"), record);
        }
    }

    #[test]
    fn every_single_byte_flip_is_detected() {
        for record in sample_records() {
            let mut buf = Vec::new();
            encode(record.as_ref(), &mut buf).expect("encodes");
            for position in 0..buf.len() {
                let mut damaged = buf.clone();
                damaged[position] ^= 0x40;
                assert!(
                    decode_frame(&damaged).is_err(),
                    "flip at byte {position} of {record:?} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn every_prefix_is_reported_truncated() {
        let mut buf = Vec::new();
        encode(sample_records()[1].as_ref(), &mut buf).expect("encodes");
        for cut in 0..buf.len() {
            assert!(matches!(
                decode_frame(&buf[..cut]),
                Err(FrameError::Truncated { .. })
            ));
        }
    }

    #[test]
    fn entries_of_the_layout_before_addresses_still_decode() {
        // The old layout: a config entry with voters, outgoing voters and learners only.
        #[derive(serde::Serialize)]
        struct OldConfig(
            std::collections::BTreeSet<NodeId>,
            std::collections::BTreeSet<NodeId>,
            std::collections::BTreeSet<NodeId>,
        );
        #[derive(serde::Serialize)]
        enum OldPayload {
            #[allow(dead_code)]
            Noop,
            #[allow(dead_code)]
            Command(Vec<u8>),
            Config(OldConfig),
        }
        let old = vec![(
            Term(1),
            LogIndex(1),
            OldPayload::Config(OldConfig(
                [NodeId(1), NodeId(2)].into(),
                Default::default(),
                Default::default(),
            )),
        )];
        let mut body = vec![KIND_ENTRIES_V1];
        body.extend(codec().serialize(&old).expect("encodes"));
        let length = (body.len() as u32).to_le_bytes();
        let crc = crc32c::crc32c_append(crc32c::crc32c(&length), &body);
        let mut frame = length.to_vec();
        frame.extend_from_slice(&crc.to_le_bytes());
        frame.extend_from_slice(&body);
        let decoded = decode_record(&decode_frame(&frame).expect("valid frame")).expect("decodes");
        let expected = Entry {
            term: Term(1),
            index: LogIndex(1),
            payload: EntryPayload::Config(crate::raft::ClusterConfig::with_voters([
                NodeId(1),
                NodeId(2),
            ])),
        };
        assert_eq!(decoded, Record::Entries(vec![expected]));
    }

    #[test]
    fn zero_bytes_are_never_a_frame() {
        assert_eq!(decode_frame(&[0; 64]).err(), Some(FrameError::BadLength(0)));
    }
}
