//! Group commit: one dedicated thread owns the [`Wal`]; writers queue batches through a bounded
//! channel; the thread writes every batch that is queued, does ONE fsync for all of them, and then
//! completes each batch through a `tokio::sync::oneshot`, so async callers await durability without
//! blocking the runtime. Guarantees: a batch's reply is Ok only after a sync that covers it; if the write
//! or the sync fails, every batch of that group gets the error (and, the WAL being poisoned, so does
//! every later one).

use super::error::StorageError;
use super::wal::Wal;
use crate::raft::types::{Entry, HardState, LogIndex, SnapshotMeta};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

/// Most batches waiting in the queue; `submit` beyond it fails with [`StorageError::QueueFull`].
pub const GROUP_COMMIT_QUEUE_MAX: usize = 1024;

/// Most batches written before one sync; bounds how long the first batch of a group waits.
const GROUP_BATCHES_MAX: usize = 256;

/// One unit of work for the WAL: what one `Ready` asks to persist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// The new hard state, if it changed.
    pub hard_state: Option<HardState>,
    /// Entries to append (contiguous; a conflicting suffix is truncated first, see [`Wal::append`]).
    pub entries: Vec<Entry>,
}

/// Proof that a batch is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Persisted {
    /// The WAL's last index right after this batch was appended.
    pub last_index: LogIndex,
}

/// Counters of the group committer's work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Sync rounds run (each one `Wal::sync`, i.e. one fsync unless `skip_fsync`).
    pub syncs: u64,
    /// Write batches completed (successfully or not).
    pub batches: u64,
}

type PersistReply = oneshot::Sender<Result<Persisted, StorageError>>;

enum Request {
    Write {
        batch: WriteBatch,
        reply: PersistReply,
    },
    Compact {
        meta: SnapshotMeta,
        reply: oneshot::Sender<Result<(), StorageError>>,
    },
}

#[derive(Default)]
struct Counters {
    syncs: AtomicU64,
    batches: AtomicU64,
}

/// The handle to the group-commit thread. Dropping it lets the thread finish the queued batches and
/// exit; [`GroupCommitter::shutdown`] also waits for that and gives the [`Wal`] back.
pub struct GroupCommitter {
    sender: mpsc::Sender<Request>,
    thread: JoinHandle<Wal>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for GroupCommitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommitter")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl GroupCommitter {
    /// Starts the thread that owns `wal`.
    pub fn spawn(wal: Wal) -> Result<GroupCommitter, StorageError> {
        Self::spawn_gated(wal, None)
    }

    /// Like `spawn`, but the thread takes no work until `gate` yields (or closes): tests use it to
    /// queue batches first and so make the grouping deterministic.
    fn spawn_gated(
        wal: Wal,
        gate: Option<std::sync::mpsc::Receiver<()>>,
    ) -> Result<GroupCommitter, StorageError> {
        let (sender, receiver) = mpsc::channel(GROUP_COMMIT_QUEUE_MAX);
        let counters = Arc::new(Counters::default());
        let dir = wal.dir().to_path_buf();
        let thread_counters = counters.clone();
        let thread = std::thread::Builder::new()
            .name("wal-group-commit".to_string())
            .spawn(move || {
                if let Some(gate) = gate {
                    // Either a message or a closed gate opens it.
                    let _ = gate.recv();
                }
                run(wal, receiver, &thread_counters)
            })
            .map_err(|e| StorageError::io("spawn group-commit thread for", dir, e))?;
        Ok(GroupCommitter {
            sender,
            thread,
            counters,
        })
    }

    /// Queues `request` without blocking: [`StorageError::QueueFull`] or [`StorageError::Stopped`] at once.
    fn try_queue(&self, request: Request) -> Result<(), StorageError> {
        self.sender.try_send(request).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StorageError::QueueFull {
                capacity: GROUP_COMMIT_QUEUE_MAX,
            },
            mpsc::error::TrySendError::Closed(_) => StorageError::Stopped,
        })
    }

    /// Queues `batch` without blocking; the receiver completes once the batch is durable (or failed).
    /// Fails at once with [`StorageError::QueueFull`] or [`StorageError::Stopped`].
    pub fn submit(
        &self,
        batch: WriteBatch,
    ) -> Result<oneshot::Receiver<Result<Persisted, StorageError>>, StorageError> {
        let (reply, receiver) = oneshot::channel();
        self.try_queue(Request::Write { batch, reply })?;
        Ok(receiver)
    }

    /// Queues `batch`, waiting for queue space, and waits until it is durable. Dropping the future after
    /// the batch was queued does not withdraw it: it is still written.
    pub async fn persist(&self, batch: WriteBatch) -> Result<Persisted, StorageError> {
        let (reply, receiver) = oneshot::channel();
        self.sender
            .send(Request::Write { batch, reply })
            .await
            .map_err(|_| StorageError::Stopped)?;
        receiver.await.map_err(|_| StorageError::Stopped)?
    }

    /// Queues [`Wal::compact`] without blocking, ordered after every batch queued before it and before
    /// every batch queued after it. Fails at once like [`GroupCommitter::submit`].
    pub fn submit_compact(
        &self,
        meta: SnapshotMeta,
    ) -> Result<oneshot::Receiver<Result<(), StorageError>>, StorageError> {
        let (reply, receiver) = oneshot::channel();
        self.try_queue(Request::Compact { meta, reply })?;
        Ok(receiver)
    }

    /// Runs [`Wal::compact`] on the WAL thread, after every batch queued before it.
    pub async fn compact(&self, meta: SnapshotMeta) -> Result<(), StorageError> {
        let (reply, receiver) = oneshot::channel();
        self.sender
            .send(Request::Compact { meta, reply })
            .await
            .map_err(|_| StorageError::Stopped)?;
        receiver.await.map_err(|_| StorageError::Stopped)?
    }

    /// The counters so far.
    pub fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            syncs: self.counters.syncs.load(Ordering::Relaxed),
            batches: self.counters.batches.load(Ordering::Relaxed),
        }
    }

    /// Closes the queue, waits until every queued batch is done and returns the WAL. Blocks the calling
    /// thread: from async code, call it inside `tokio::task::spawn_blocking`.
    pub fn shutdown(self) -> Result<Wal, StorageError> {
        drop(self.sender);
        self.thread.join().map_err(|_| StorageError::Stopped)
    }
}

#[cfg(test)]
impl GroupCommitter {
    /// Test access to [`GroupCommitter::spawn_gated`].
    pub(crate) fn spawn_paused(
        wal: Wal,
    ) -> Result<(GroupCommitter, std::sync::mpsc::Sender<()>), StorageError> {
        let (open, gate) = std::sync::mpsc::channel();
        Ok((Self::spawn_gated(wal, Some(gate))?, open))
    }
}

/// The thread body: one group per pass until every handle is gone.
fn run(mut wal: Wal, mut receiver: mpsc::Receiver<Request>, counters: &Counters) -> Wal {
    while let Some(first) = receiver.blocking_recv() {
        let mut group = Vec::with_capacity(16);
        group.push(first);
        while group.len() < GROUP_BATCHES_MAX {
            match receiver.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        commit_group(&mut wal, group, counters);
    }
    wal
}

/// Writes every batch of the group, syncs once, then answers every waiter.
fn commit_group(wal: &mut Wal, group: Vec<Request>, counters: &Counters) {
    let mut written: Vec<(PersistReply, Result<Persisted, StorageError>)> =
        Vec::with_capacity(group.len());
    for request in group {
        match request {
            Request::Write { batch, reply } => {
                let result = wal
                    .append(batch.hard_state.as_ref(), &batch.entries)
                    .map(|()| Persisted {
                        last_index: wal.last_index(),
                    });
                written.push((reply, result));
            }
            Request::Compact { meta, reply } => {
                // Compaction syncs, which also covers the batches written before it in this group.
                // A dropped receiver means the caller stopped waiting; nothing to do about it.
                let _ = reply.send(wal.compact(&meta));
            }
        }
    }
    if written.is_empty() {
        return;
    }
    counters.syncs.fetch_add(1, Ordering::Relaxed);
    let sync_result = wal.sync();
    for (reply, result) in written {
        let outcome = match (result, &sync_result) {
            (Err(write_error), _) => Err(write_error),
            (Ok(_), Err(sync_error)) => Err(sync_error.clone()),
            (Ok(persisted), Ok(())) => Ok(persisted),
        };
        counters.batches.fetch_add(1, Ordering::Relaxed);
        // A dropped receiver means the caller stopped waiting; the batch is durable regardless.
        let _ = reply.send(outcome);
    }
}
