//! Wal tests with real files.

use super::{entries, hard_state, segment_files};
use crate::raft::types::{LogIndex, SnapshotMeta, Term};
use crate::storage::{StorageError, Wal, WalOptions};
use std::fs::{self, OpenOptions};
use std::path::Path;

fn open(dir: &Path) -> (Wal, crate::raft::types::InitialState) {
    Wal::open(dir, WalOptions::default()).expect("open")
}

fn small_segments() -> WalOptions {
    WalOptions {
        segment_size_bytes: 300,
        ..WalOptions::default()
    }
}

#[test]
fn entries_and_hard_state_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, initial) = open(dir.path());
    assert_eq!(initial, Default::default());
    wal.append(Some(&hard_state(1, 0)), &entries(1, 3, 1))
        .expect("append");
    wal.append(Some(&hard_state(2, 2)), &entries(4, 5, 2))
        .expect("append");
    wal.sync().expect("sync");
    assert_eq!(wal.last_index(), LogIndex(5));
    drop(wal);

    let (wal, initial) = open(dir.path());
    assert_eq!(initial.hard_state, hard_state(2, 2));
    let mut expected = entries(1, 3, 1);
    expected.extend(entries(4, 5, 2));
    assert_eq!(initial.entries, expected);
    assert_eq!(initial.snapshot_meta, None);
    assert_eq!(wal.last_index(), LogIndex(5));
    assert_eq!(wal.term(LogIndex(4)), Some(Term(2)));
}

#[test]
fn overwritten_suffix_stays_overwritten_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = open(dir.path());
    wal.append(None, &entries(1, 5, 1)).expect("append");
    wal.append(Some(&hard_state(2, 0)), &entries(3, 4, 2))
        .expect("overwrite");
    assert_eq!(wal.last_index(), LogIndex(4));
    wal.append(None, &entries(5, 6, 2)).expect("append after");
    wal.sync().expect("sync");
    drop(wal);

    let (wal, initial) = open(dir.path());
    let mut expected = entries(1, 2, 1);
    expected.extend(entries(3, 6, 2));
    assert_eq!(initial.entries, expected);
    assert_eq!(wal.last_index(), LogIndex(6));
}

#[test]
fn appends_that_leave_a_gap_or_are_not_contiguous_are_refused_without_writing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = open(dir.path());
    wal.append(None, &entries(1, 2, 1)).expect("append");
    let gap = wal.append(None, &entries(4, 4, 1));
    assert!(
        matches!(gap, Err(StorageError::InvalidRequest(_))),
        "{gap:?}"
    );
    let mut broken = entries(3, 3, 1);
    broken.extend(entries(5, 5, 1));
    let not_contiguous = wal.append(None, &broken);
    assert!(matches!(
        not_contiguous,
        Err(StorageError::InvalidRequest(_))
    ));
    // The WAL is still usable and the refused appends left no trace.
    wal.append(None, &entries(3, 3, 1)).expect("append");
    drop(wal);
    let (_, initial) = open(dir.path());
    assert_eq!(initial.entries, entries(1, 3, 1));
}

#[test]
fn log_spans_several_segments_and_replays_across_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), small_segments()).expect("open");
    for index in 1..=40 {
        wal.append(Some(&hard_state(1, index - 1)), &entries(index, index, 1))
            .expect("append");
    }
    // Overwrite a suffix that lies in an earlier segment than the one being written.
    wal.append(None, &entries(30, 35, 2)).expect("overwrite");
    wal.sync().expect("sync");
    let segments = wal.segment_count();
    assert!(segments > 3, "only {segments} segments");
    assert_eq!(segment_files(dir.path()).len(), segments);
    drop(wal);

    let (wal, initial) = Wal::open(dir.path(), small_segments()).expect("reopen");
    let mut expected = entries(1, 29, 1);
    expected.extend(entries(30, 35, 2));
    assert_eq!(initial.entries, expected);
    // The term-2 entries came without a term-2 hard state: the term is raised, the vote dropped.
    let raised = crate::raft::types::HardState {
        term: Term(2),
        voted_for: None,
        ..hard_state(1, 39)
    };
    assert_eq!(initial.hard_state, raised);
    assert_eq!(wal.segment_count(), segments);
}

/// Builds a log of three appends in `dir`; returns the file length after the second append and after
/// the third.
fn three_appends(dir: &Path) -> (u64, u64) {
    let (mut wal, _) = open(dir);
    wal.append(Some(&hard_state(1, 0)), &entries(1, 2, 1))
        .expect("append");
    wal.append(None, &entries(3, 4, 1)).expect("append");
    wal.sync().expect("sync");
    let files = segment_files(dir);
    let good_bytes = fs::metadata(&files[0]).expect("stat").len();
    // One record only, so any cut inside it loses exactly this append.
    wal.append(None, &entries(5, 6, 1)).expect("append");
    wal.sync().expect("sync");
    let full_bytes = fs::metadata(&files[0]).expect("stat").len();
    (good_bytes, full_bytes)
}

#[test]
fn torn_tail_is_cut_off_and_the_log_stays_usable() {
    let probe = tempfile::tempdir().expect("tempdir");
    let (good_bytes, full_bytes) = three_appends(probe.path());
    let cuts = [
        good_bytes + 1,
        good_bytes + 7,
        good_bytes + 8,
        good_bytes + 9,
        (good_bytes + full_bytes) / 2,
        full_bytes - 1,
    ];
    for cut in cuts {
        let dir = tempfile::tempdir().expect("tempdir");
        three_appends(dir.path());
        let segment = &segment_files(dir.path())[0];
        let file = OpenOptions::new().write(true).open(segment).expect("open");
        file.set_len(cut).expect("cut");
        drop(file);

        let (mut wal, initial) = open(dir.path());
        assert_eq!(initial.entries, entries(1, 4, 1), "cut at {cut}");
        assert_eq!(initial.hard_state, hard_state(1, 0), "cut at {cut}");
        assert_eq!(
            fs::metadata(segment).expect("stat").len(),
            good_bytes,
            "cut at {cut}: file not trimmed to the last good record"
        );
        wal.append(None, &entries(5, 5, 2))
            .expect("append after cut");
        wal.sync().expect("sync");
        drop(wal);
        let (_, initial) = open(dir.path());
        let mut expected = entries(1, 4, 1);
        expected.extend(entries(5, 5, 2));
        assert_eq!(initial.entries, expected, "cut at {cut}");
    }
}

#[test]
fn garbage_in_the_last_record_is_a_torn_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (good_bytes, full_bytes) = three_appends(dir.path());
    let segment = &segment_files(dir.path())[0];
    let mut bytes = fs::read(segment).expect("read");
    bytes[(full_bytes - 3) as usize] ^= 0x55;
    fs::write(segment, &bytes).expect("write");
    let (_, initial) = open(dir.path());
    assert_eq!(initial.entries, entries(1, 4, 1));
    assert_eq!(fs::metadata(segment).expect("stat").len(), good_bytes);
}

#[test]
fn corrupt_record_in_the_middle_refuses_to_open_naming_file_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    three_appends(dir.path());
    let segment = &segment_files(dir.path())[0];
    let mut bytes = fs::read(segment).expect("read");
    bytes[20] ^= 0x01; // inside the first record's payload
    fs::write(segment, &bytes).expect("write");
    let err = Wal::open(dir.path(), WalOptions::default()).expect_err("must refuse");
    let message = err.to_string();
    assert!(
        matches!(err, StorageError::Corrupt { offset: 0, .. }),
        "{message}"
    );
    assert!(
        message.contains(&segment.display().to_string()),
        "{message}"
    );
    assert!(message.contains("offset 0"), "{message}");
    // Nothing was cut: the damaged file is left for the operator.
    assert_eq!(fs::read(segment).expect("read"), bytes);
}

#[test]
fn damage_at_the_end_of_a_segment_that_is_not_the_last_is_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), small_segments()).expect("open");
    for index in 1..=20 {
        wal.append(None, &entries(index, index, 1)).expect("append");
    }
    wal.sync().expect("sync");
    drop(wal);
    let files = segment_files(dir.path());
    assert!(files.len() >= 2);
    let first_bytes = fs::metadata(&files[0]).expect("stat").len();
    let file = OpenOptions::new()
        .write(true)
        .open(&files[0])
        .expect("open");
    file.set_len(first_bytes - 2).expect("cut");
    drop(file);
    let err = Wal::open(dir.path(), small_segments()).expect_err("must refuse");
    assert!(
        err.to_string().contains(&files[0].display().to_string()),
        "{err}"
    );
    assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
}

#[test]
fn missing_middle_segment_refuses_to_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), small_segments()).expect("open");
    for index in 1..=20 {
        wal.append(None, &entries(index, index, 1)).expect("append");
    }
    drop(wal);
    let files = segment_files(dir.path());
    assert!(files.len() >= 3);
    fs::remove_file(&files[1]).expect("remove");
    let err = Wal::open(dir.path(), small_segments()).expect_err("must refuse");
    assert!(matches!(err, StorageError::Layout { .. }), "{err}");
}

fn unsafe_options() -> WalOptions {
    WalOptions {
        unsafe_lose_unsynced_writes: true,
        ..WalOptions::default()
    }
}

#[test]
fn unsafe_mode_loses_exactly_the_unsynced_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), unsafe_options()).expect("open");
    wal.append(Some(&hard_state(1, 0)), &entries(1, 2, 1))
        .expect("append");
    wal.sync().expect("sync");
    wal.append(Some(&hard_state(2, 2)), &entries(3, 4, 2))
        .expect("append");
    // The unsynced append is not in the file at all.
    let file_bytes = fs::metadata(&segment_files(dir.path())[0])
        .expect("stat")
        .len();
    drop(wal); // the "crash"

    let (mut wal, initial) = Wal::open(dir.path(), unsafe_options()).expect("reopen");
    assert_eq!(initial.entries, entries(1, 2, 1));
    assert_eq!(initial.hard_state, hard_state(1, 0));
    assert_eq!(
        fs::metadata(&segment_files(dir.path())[0])
            .expect("stat")
            .len(),
        file_bytes
    );
    wal.append(None, &entries(3, 3, 3)).expect("append");
    wal.sync().expect("sync");
    drop(wal);
    let (_, initial) = Wal::open(dir.path(), unsafe_options()).expect("reopen");
    let mut expected = entries(1, 2, 1);
    expected.extend(entries(3, 3, 3));
    assert_eq!(initial.entries, expected);
}

#[test]
fn without_unsafe_mode_unsynced_writes_reach_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = open(dir.path());
    wal.append(Some(&hard_state(1, 0)), &entries(1, 2, 1))
        .expect("append");
    drop(wal);
    let (_, initial) = open(dir.path());
    assert_eq!(initial.entries, entries(1, 2, 1));
    assert_eq!(initial.hard_state, hard_state(1, 0));
}

#[test]
fn skip_fsync_in_unsafe_mode_makes_sync_a_no_op() {
    let options = WalOptions {
        skip_fsync: true,
        ..unsafe_options()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
    wal.append(None, &entries(1, 2, 1)).expect("append");
    wal.sync().expect("sync is a no-op");
    drop(wal);
    let (_, initial) = Wal::open(dir.path(), options).expect("reopen");
    assert!(initial.entries.is_empty(), "{:?}", initial.entries);
}

#[test]
fn compaction_drops_covered_entries_and_deletes_old_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), small_segments()).expect("open");
    wal.append(Some(&hard_state(3, 0)), &[])
        .expect("hard state");
    for index in 1..=40 {
        wal.append(None, &entries(index, index, 1)).expect("append");
    }
    let segments_before = wal.segment_count();
    let meta = SnapshotMeta {
        last_included_index: LogIndex(30),
        last_included_term: Term(1),
        config: Default::default(),
    };
    wal.compact(&meta).expect("compact");
    assert!(wal.segment_count() < segments_before);
    assert_eq!(segment_files(dir.path()).len(), wal.segment_count());
    assert_eq!(wal.first_index(), LogIndex(31));
    drop(wal);

    let (mut wal, initial) = Wal::open(dir.path(), small_segments()).expect("reopen");
    assert_eq!(initial.snapshot_meta, Some(meta.clone()));
    assert_eq!(initial.entries, entries(31, 40, 1));
    assert_eq!(initial.hard_state, hard_state(3, 0));
    let below = wal.append(None, &entries(30, 30, 2));
    assert!(matches!(below, Err(StorageError::InvalidRequest(_))));
    let older = wal.compact(&SnapshotMeta {
        last_included_index: LogIndex(10),
        ..meta
    });
    assert!(matches!(older, Err(StorageError::InvalidRequest(_))));
}

#[test]
fn compaction_with_a_conflicting_term_drops_the_whole_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = open(dir.path());
    wal.append(None, &entries(1, 10, 1)).expect("append");
    let meta = SnapshotMeta {
        last_included_index: LogIndex(5),
        last_included_term: Term(2),
        config: Default::default(),
    };
    wal.compact(&meta).expect("compact");
    assert_eq!(wal.last_index(), LogIndex(5));
    wal.append(None, &entries(6, 7, 2)).expect("append");
    drop(wal);
    let (_, initial) = open(dir.path());
    assert_eq!(initial.entries, entries(6, 7, 2));
    assert_eq!(initial.snapshot_meta, Some(meta));
}

#[test]
fn full_disk_is_an_error_naming_the_file_and_poisons_the_wal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let segment = dir.path().join("wal-00000000000000000000.log");
    std::os::unix::fs::symlink("/dev/full", &segment).expect("symlink");
    // /dev/full cannot be fsynced meaningfully; the write is what fails.
    let options = WalOptions {
        skip_fsync: true,
        ..WalOptions::default()
    };
    let (mut wal, _) = Wal::open(dir.path(), options).expect("open");
    let err = wal
        .append(None, &entries(1, 1, 1))
        .expect_err("disk is full");
    assert!(matches!(err, StorageError::NoSpace { .. }), "{err}");
    assert!(
        err.to_string().contains(&segment.display().to_string()),
        "{err}"
    );
    let later = wal.append(None, &entries(1, 1, 1));
    assert!(matches!(later, Err(StorageError::Failed(_))), "{later:?}");
}

#[test]
fn data_dir_that_cannot_be_created_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-dir");
    fs::write(&file, b"x").expect("write");
    let data_dir = file.join("data");
    let err = Wal::open(&data_dir, WalOptions::default()).expect_err("must fail");
    assert!(matches!(err, StorageError::Io { .. }), "{err}");
    assert!(
        err.to_string().contains(&data_dir.display().to_string()),
        "{err}"
    );
}

#[test]
fn unsynced_bytes_in_unsafe_mode_are_bounded_by_writeback() {
    // With sync a no-op, only the writeback bound moves bytes to the file; a crash keeps a prefix.
    let options = WalOptions {
        skip_fsync: true,
        ..unsafe_options()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = Wal::open(dir.path(), options.clone()).expect("open");
    let big = |index: u64| crate::raft::types::Entry {
        term: Term(1),
        index: LogIndex(index),
        payload: crate::raft::types::EntryPayload::Command(vec![9; 64 * 1024]),
    };
    let count = (crate::storage::UNSYNCED_BYTES_MAX / (64 * 1024)) as u64 + 4;
    for index in 1..=count {
        wal.append(None, &[big(index)]).expect("append");
    }
    drop(wal);
    let (_, initial) = Wal::open(dir.path(), options).expect("reopen");
    let kept = initial.entries.len() as u64;
    assert!(kept > 0 && kept < count, "kept {kept} of {count}");
    assert_eq!(initial.entries, (1..=kept).map(big).collect::<Vec<_>>());
}

#[test]
fn batches_larger_than_one_record_are_split_and_single_huge_entries_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = open(dir.path());
    let entry = |index: u64, bytes: usize| crate::raft::types::Entry {
        term: Term(1),
        index: LogIndex(index),
        payload: crate::raft::types::EntryPayload::Command(vec![3; bytes]),
    };
    let third = crate::storage::RECORD_BYTES_MAX / 3;
    let batch: Vec<_> = (1..=4).map(|index| entry(index, third)).collect();
    wal.append(None, &batch).expect("append split over records");
    let too_big = wal.append(None, &[entry(5, crate::storage::RECORD_BYTES_MAX)]);
    assert!(
        matches!(too_big, Err(StorageError::InvalidRequest(_))),
        "{too_big:?}"
    );
    wal.sync().expect("sync");
    drop(wal);
    let (_, initial) = open(dir.path());
    assert_eq!(initial.entries, batch);
}

/// A write torn after the entries of a new term but before the hard state that goes with them: the node
/// must still start (the core refuses a hard state behind the log), in the new term without a vote.
#[test]
fn entries_newer_than_the_hard_state_raise_the_term_without_a_vote() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wal, _) = open(dir.path());
    wal.append(Some(&hard_state(1, 2)), &entries(1, 2, 1))
        .expect("append");
    // What survives of the torn batch: the term-3 entries, not the term-3 hard state.
    wal.append(None, &entries(3, 3, 3)).expect("append");
    wal.sync().expect("sync");
    drop(wal);

    let (_, initial) = open(dir.path());
    assert_eq!(initial.hard_state.term, Term(3));
    assert_eq!(initial.hard_state.voted_for, None);
    assert_eq!(initial.hard_state.commit_index, LogIndex(2));
    let mut config = crate::raft::Config::new(crate::raft::NodeId(1));
    config.election_timeout_ticks_min = 10;
    config.election_timeout_ticks_max = 20;
    assert!(crate::raft::RawNode::new(config, initial, 7).is_ok());
}
