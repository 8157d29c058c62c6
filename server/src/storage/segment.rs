//! Segment files: naming, listing and scanning. A segment is `wal-<seq>.log` (seq zero-padded to 20
//! digits so names sort numerically) holding frames back to back. Scanning classifies a damaged frame:
//! at the very tail of the last segment, with no valid frame anywhere after it, it is a torn write that
//! recovery may cut off; anywhere else it is corruption that must stop the node.

use super::error::StorageError;
use super::record::{self, Record, FRAME_HEADER_BYTES};
use std::fs;
use std::path::{Path, PathBuf};

const SEGMENT_PREFIX: &str = "wal-";
const SEGMENT_SUFFIX: &str = ".log";

/// Most segment files a data dir may hold; more means compaction is not running (or a foreign dir).
pub const SEGMENT_FILES_MAX: usize = 100_000;

/// How many bytes of checksum work the search for valid frames after a damaged tail record may do.
/// Past the budget the damage is treated as corruption: refusing to start is safe, silently cutting
/// acknowledged data is not.
const TAIL_SCAN_CHECKSUM_BYTES_MAX: usize = 256 * 1024 * 1024;

/// The file name of segment `seq`.
pub(crate) fn segment_file_name(seq: u64) -> String {
    format!("{SEGMENT_PREFIX}{seq:020}{SEGMENT_SUFFIX}")
}

/// The sequence number of a segment file name, or None if the name is not a segment's.
fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name
        .strip_prefix(SEGMENT_PREFIX)?
        .strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segment files in `dir`, sorted by sequence number, checked to have no gaps. Files that are not
/// segments are ignored; a name that looks like a segment but does not parse is an error, because it
/// would otherwise hide log data.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StorageError> {
    let read_dir = fs::read_dir(dir).map_err(|e| StorageError::io("list", dir, e))?;
    let mut segments = Vec::new();
    for item in read_dir {
        let item = item.map_err(|e| StorageError::io("list", dir, e))?;
        let name = item.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with(SEGMENT_PREFIX) && name.ends_with(SEGMENT_SUFFIX)) {
            continue;
        }
        let Some(seq) = parse_segment_file_name(name) else {
            return Err(StorageError::Layout {
                path: item.path(),
                reason: "looks like a WAL segment but the name does not parse".to_string(),
            });
        };
        if segments.len() >= SEGMENT_FILES_MAX {
            return Err(StorageError::Layout {
                path: dir.to_path_buf(),
                reason: format!("more than {SEGMENT_FILES_MAX} segment files"),
            });
        }
        segments.push((seq, item.path()));
    }
    segments.sort();
    for pair in segments.windows(2) {
        if pair[1].0 != pair[0].0 + 1 {
            return Err(StorageError::Layout {
                path: pair[1].1.clone(),
                reason: format!("segment {} is missing before it", pair[0].0 + 1),
            });
        }
    }
    Ok(segments)
}

/// A damaged frame at the end of the last segment that nothing valid follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TornTail {
    /// Where the damaged frame starts (= the length the file should be cut to).
    pub(crate) offset: u64,
    /// What was wrong with it.
    pub(crate) reason: String,
}

/// The valid records of a segment and, for the last segment, the torn tail if any.
#[derive(Debug)]
pub(crate) struct ScannedSegment {
    /// Records with the byte offset of their frame.
    pub(crate) records: Vec<(u64, Record)>,
    /// Set when the last segment ends in a torn write.
    pub(crate) torn_tail: Option<TornTail>,
}

/// Decodes every frame of a segment's bytes. `is_last` allows a torn tail; otherwise every damaged
/// frame is corruption, reported with the file and byte offset.
pub(crate) fn scan_segment(
    path: &Path,
    bytes: &[u8],
    is_last: bool,
) -> Result<ScannedSegment, StorageError> {
    let corrupt = |offset: usize, reason: String| StorageError::Corrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason,
    };
    let mut records = Vec::new();
    let mut offset = 0;
    // Each pass consumes at least one frame (>= FRAME_HEADER_BYTES + 1 bytes) or ends the scan.
    while offset < bytes.len() {
        match record::decode_frame(&bytes[offset..]) {
            Ok(frame) => {
                let record = record::decode_record(&frame).map_err(|e| corrupt(offset, e))?;
                records.push((offset as u64, record));
                offset += frame.frame_bytes;
            }
            Err(frame_error) => {
                if !is_last {
                    return Err(corrupt(
                        offset,
                        format!("{frame_error} (in a segment that is not the last one)"),
                    ));
                }
                match find_valid_frame_after(bytes, offset + 1) {
                    ValidFrameSearch::None => {
                        return Ok(ScannedSegment {
                            records,
                            torn_tail: Some(TornTail {
                                offset: offset as u64,
                                reason: frame_error.to_string(),
                            }),
                        })
                    }
                    ValidFrameSearch::Found(valid_offset) => {
                        return Err(corrupt(
                            offset,
                            format!(
                                "{frame_error}, yet a valid record follows at byte offset \
                                 {valid_offset}"
                            ),
                        ))
                    }
                    ValidFrameSearch::BudgetExhausted => {
                        return Err(corrupt(
                            offset,
                            format!(
                                "{frame_error}; could not rule out valid records after it within \
                                 the scan budget"
                            ),
                        ))
                    }
                }
            }
        }
    }
    Ok(ScannedSegment {
        records,
        torn_tail: None,
    })
}

enum ValidFrameSearch {
    None,
    Found(usize),
    BudgetExhausted,
}

/// Looks for any offset >= `start` where a frame with a known kind passes its checksum. A damaged
/// length field makes the true next frame's position unknown, so every offset is a candidate.
fn find_valid_frame_after(bytes: &[u8], start: usize) -> ValidFrameSearch {
    let mut checksum_bytes_budget = TAIL_SCAN_CHECKSUM_BYTES_MAX;
    let last_candidate = bytes.len().saturating_sub(FRAME_HEADER_BYTES + 1);
    for candidate in start..=last_candidate {
        let rest = &bytes[candidate..];
        // Cheap filters first: the kind byte and the length must be plausible before the checksum runs.
        if !record::is_known_kind(rest[FRAME_HEADER_BYTES]) {
            continue;
        }
        let length = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if length == 0 || FRAME_HEADER_BYTES + length > rest.len() {
            continue;
        }
        if length > checksum_bytes_budget {
            return ValidFrameSearch::BudgetExhausted;
        }
        checksum_bytes_budget -= length;
        if let Ok(frame) = record::decode_frame(rest) {
            if record::decode_record(&frame).is_ok() {
                return ValidFrameSearch::Found(candidate);
            }
        }
    }
    ValidFrameSearch::None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::types::{HardState, LogIndex, Term};
    use record::RecordRef;

    fn two_frames() -> (Vec<u8>, usize) {
        let mut bytes = Vec::new();
        let first = HardState {
            term: Term(1),
            ..Default::default()
        };
        record::encode(RecordRef::HardState(&first), &mut bytes).expect("encodes");
        let first_len = bytes.len();
        record::encode(RecordRef::TruncateFrom(LogIndex(4)), &mut bytes).expect("encodes");
        (bytes, first_len)
    }

    #[test]
    fn names_round_trip_and_sort_numerically() {
        assert_eq!(parse_segment_file_name(&segment_file_name(42)), Some(42));
        assert!(segment_file_name(9) < segment_file_name(10));
        assert_eq!(parse_segment_file_name("wal-1.log"), None);
        assert_eq!(
            parse_segment_file_name("wal-0000000000000000000x.log"),
            None
        );
    }

    #[test]
    fn damage_before_a_valid_frame_is_corruption_even_in_the_last_segment() {
        let (mut bytes, _) = two_frames();
        bytes[2] ^= 0xff; // the first frame's length field
        let err = scan_segment(Path::new("seg"), &bytes, true).expect_err("corrupt");
        assert!(
            matches!(err, StorageError::Corrupt { offset: 0, .. }),
            "{err}"
        );
    }

    #[test]
    fn damage_in_the_final_frame_is_a_torn_tail() {
        let (mut bytes, first_len) = two_frames();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        let scanned = scan_segment(Path::new("seg"), &bytes, true).expect("torn tail is fine");
        assert_eq!(scanned.records.len(), 1);
        assert_eq!(scanned.torn_tail.map(|t| t.offset), Some(first_len as u64));
        let err = scan_segment(Path::new("seg"), &bytes, false).expect_err("not last");
        assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
    }
}
