//! Group commit tests: grouping, completion, errors reaching every waiter.

use super::{entries, hard_state};
use crate::raft::types::LogIndex;
use crate::storage::{GroupCommitter, Persisted, StorageError, Wal, WalOptions, WriteBatch};

fn batch(index: u64) -> WriteBatch {
    WriteBatch {
        hard_state: Some(hard_state(1, index.saturating_sub(1))),
        entries: entries(index, index, 1),
    }
}

fn hard_state_only(term: u64) -> WriteBatch {
    WriteBatch {
        hard_state: Some(hard_state(term, 0)),
        entries: Vec::new(),
    }
}

#[test]
fn concurrent_submits_from_many_threads_share_fsyncs() {
    const THREADS: u64 = 4;
    const BATCHES_PER_THREAD: u64 = 16;
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = Wal::open(dir.path(), WalOptions::default()).expect("open");
    // Paused, so every batch is queued before the committer starts: the grouping is deterministic.
    let (committer, open_gate) = GroupCommitter::spawn_paused(wal).expect("spawn");
    let receivers = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let committer = &committer;
                scope.spawn(move || {
                    (0..BATCHES_PER_THREAD)
                        .map(|i| committer.submit(hard_state_only(thread * 100 + i)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("submitter thread"))
            .collect::<Vec<_>>()
    });
    open_gate.send(()).expect("gate");
    for receiver in receivers {
        let outcome = receiver.expect("queued").blocking_recv().expect("reply");
        assert_eq!(outcome.expect("durable").last_index, LogIndex(0));
    }
    let stats = committer.stats();
    assert_eq!(stats.batches, THREADS * BATCHES_PER_THREAD);
    assert!(
        stats.syncs < stats.batches,
        "{} batches needed {} syncs",
        stats.batches,
        stats.syncs
    );
    drop(committer.shutdown().expect("shutdown"));
}

#[test]
fn grouped_batches_are_durable_and_complete_in_order() {
    const BATCHES: u64 = 64;
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = Wal::open(dir.path(), WalOptions::default()).expect("open");
    let (committer, open_gate) = GroupCommitter::spawn_paused(wal).expect("spawn");
    let receivers: Vec<_> = (1..=BATCHES)
        .map(|index| committer.submit(batch(index)).expect("queue has room"))
        .collect();
    open_gate.send(()).expect("gate");
    for (index, receiver) in (1..=BATCHES).zip(receivers) {
        let persisted = receiver.blocking_recv().expect("reply").expect("durable");
        assert_eq!(
            persisted,
            Persisted {
                last_index: LogIndex(index)
            }
        );
    }
    let stats = committer.stats();
    assert_eq!(stats.batches, BATCHES);
    assert!(stats.syncs < BATCHES, "{stats:?}");
    drop(committer.shutdown().expect("shutdown"));
    let (_, initial) = Wal::open(dir.path(), WalOptions::default()).expect("reopen");
    assert_eq!(initial.entries, entries(1, BATCHES, 1));
    assert_eq!(initial.hard_state, hard_state(1, BATCHES - 1));
}

#[test]
fn async_persist_from_many_futures_completes_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = Wal::open(dir.path(), WalOptions::default()).expect("open");
    let committer = GroupCommitter::spawn(wal).expect("spawn");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let calls = (1..=32).map(|term| committer.persist(hard_state_only(term)));
        let results = futures::future::join_all(calls).await;
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        let persisted = committer
            .persist(WriteBatch {
                hard_state: None,
                entries: entries(1, 3, 1),
            })
            .await
            .expect("durable");
        assert_eq!(persisted.last_index, LogIndex(3));
    });
    assert_eq!(committer.stats().batches, 33);
    let wal = committer.shutdown().expect("shutdown");
    assert_eq!(wal.last_index(), LogIndex(3));
}

#[test]
fn a_failed_write_reaches_every_waiter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let segment = dir.path().join("wal-00000000000000000000.log");
    std::os::unix::fs::symlink("/dev/full", &segment).expect("symlink");
    let options = WalOptions {
        skip_fsync: true,
        ..WalOptions::default()
    };
    let (wal, _) = Wal::open(dir.path(), options).expect("open");
    let (committer, open_gate) = GroupCommitter::spawn_paused(wal).expect("spawn");
    let receivers: Vec<_> = (1..=8)
        .map(|index| committer.submit(batch(index)).expect("queue has room"))
        .collect();
    open_gate.send(()).expect("gate");
    for receiver in receivers {
        let outcome = receiver.blocking_recv().expect("reply");
        let err = outcome.expect_err("the disk is full");
        assert!(
            matches!(err, StorageError::NoSpace { .. } | StorageError::Failed(_)),
            "{err}"
        );
    }
    // Later batches fail too: the WAL is poisoned.
    let later = committer.submit(batch(1)).expect("queued");
    assert!(later.blocking_recv().expect("reply").is_err());
    assert_eq!(committer.stats().batches, 9);
    drop(committer.shutdown().expect("shutdown"));
}

#[test]
fn a_full_queue_is_refused_not_blocked_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = Wal::open(dir.path(), WalOptions::default()).expect("open");
    let (committer, open_gate) = GroupCommitter::spawn_paused(wal).expect("spawn");
    let mut receivers = Vec::new();
    for _ in 0..crate::storage::GROUP_COMMIT_QUEUE_MAX {
        receivers.push(committer.submit(WriteBatch::default()).expect("room"));
    }
    let overflow = committer.submit(WriteBatch::default());
    assert!(matches!(overflow, Err(StorageError::QueueFull { .. })));
    drop(open_gate);
    for receiver in receivers {
        assert!(receiver.blocking_recv().expect("reply").is_ok());
    }
    drop(committer.shutdown().expect("shutdown"));
}
