//! The requests a node is working on: writes waiting for their entry to be applied, and reads waiting for
//! their ReadIndex round and then for the state machine to catch up.
//!
//! Guarantees: every waiter is answered exactly once, or dropped when the node stops (its handler then
//! reports a timeout). Both tables are bounded ([`MAX_PENDING_WRITES`], [`MAX_PENDING_READS`]); a full
//! table refuses new requests before anything is proposed.

use super::service::RequestError;
use crate::kv::Response;
use crate::raft::{LogIndex, Term};
use std::collections::{BTreeMap, BTreeSet};
use tokio::sync::oneshot;

/// Writes one node may have proposed and not yet answered.
pub const MAX_PENDING_WRITES: usize = 4096;
/// Reads one node may be working on.
pub const MAX_PENDING_READS: usize = 4096;

/// Where a write's answer goes.
pub type WriteReply = oneshot::Sender<Result<Response, RequestError>>;
/// Where a read's answer goes.
pub type ReadReply = oneshot::Sender<Result<Option<Vec<u8>>, RequestError>>;

/// A request's identity: `(client_id, seq)`.
type RequestKey = (u64, u64);

struct WriteWaiter {
    term: Term,
    key: RequestKey,
    reply: WriteReply,
}

/// Proposed writes, by log index and by request.
#[derive(Default)]
pub struct PendingWrites {
    by_index: BTreeMap<LogIndex, WriteWaiter>,
    by_request: BTreeMap<RequestKey, BTreeSet<LogIndex>>,
}

impl PendingWrites {
    /// Whether another write may be proposed.
    pub fn has_room(&self) -> bool {
        self.by_index.len() < MAX_PENDING_WRITES
    }

    /// Number of waiting writes.
    pub fn len(&self) -> usize {
        self.by_index.len()
    }

    /// Whether no write is waiting.
    pub fn is_empty(&self) -> bool {
        self.by_index.is_empty()
    }

    /// Records that request `(client_id, seq)` was proposed at `(index, term)`.
    pub fn insert(
        &mut self,
        index: LogIndex,
        term: Term,
        client_id: u64,
        seq: u64,
        reply: WriteReply,
    ) {
        let key = (client_id, seq);
        let waiter = WriteWaiter { term, key, reply };
        if let Some(old) = self.by_index.insert(index, waiter) {
            // This node proposed at `index` again in a later term, so its own log no longer holds the old
            // proposal there: that proposal can never commit.
            self.forget(index, old.key);
            let _ = old.reply.send(Err(RequestError::ProposalDropped));
        }
        self.by_request.entry(key).or_default().insert(index);
    }

    /// Answers every waiter of request `(client_id, seq)` with `response` (the request was applied, now or
    /// earlier: a retry gets the remembered response).
    pub fn complete(&mut self, client_id: u64, seq: u64, response: &Response) {
        let Some(indexes) = self.by_request.remove(&(client_id, seq)) else {
            return;
        };
        for index in indexes {
            if let Some(waiter) = self.by_index.remove(&index) {
                let _ = waiter.reply.send(Ok(response.clone()));
            }
        }
    }

    /// Once everything up to `applied_index` is applied, waiters at or below it were not answered by their
    /// own entry, so their slot holds another entry: answer them. `applied_term_at` gives the term of an
    /// applied index when known, to tell an overwritten proposal from one that applied without effect.
    pub fn sweep_applied(
        &mut self,
        applied_index: LogIndex,
        applied_term_at: impl Fn(LogIndex) -> Option<Term>,
    ) {
        let rest = self.by_index.split_off(&applied_index.next());
        let done = std::mem::replace(&mut self.by_index, rest);
        for (index, waiter) in done {
            self.forget(index, waiter.key);
            let error = match applied_term_at(index) {
                Some(term) if term == waiter.term => RequestError::Internal(
                    "the request applied without an answer (stale or malformed)".into(),
                ),
                _ => RequestError::ProposalDropped,
            };
            let _ = waiter.reply.send(Err(error));
        }
    }

    fn forget(&mut self, index: LogIndex, key: RequestKey) {
        if let Some(indexes) = self.by_request.get_mut(&key) {
            indexes.remove(&index);
            if indexes.is_empty() {
                self.by_request.remove(&key);
            }
        }
    }
}

struct ReadWaiter {
    key: Vec<u8>,
    reply: ReadReply,
}

/// Reads: first waiting for their ReadIndex round, then for `applied_index` to reach the read index.
#[derive(Default)]
pub struct PendingReads {
    next_request_id: u64,
    awaiting_round: BTreeMap<u64, ReadWaiter>,
    awaiting_apply: BTreeMap<(LogIndex, u64), ReadWaiter>,
}

impl PendingReads {
    /// Whether another read may start.
    pub fn has_room(&self) -> bool {
        self.awaiting_round.len() + self.awaiting_apply.len() < MAX_PENDING_READS
    }

    /// Registers a read and returns the request id to give `read_index`.
    pub fn start(&mut self, key: Vec<u8>, reply: ReadReply) -> u64 {
        self.next_request_id += 1;
        let id = self.next_request_id;
        self.awaiting_round.insert(id, ReadWaiter { key, reply });
        id
    }

    /// Takes back a read that `read_index` refused.
    pub fn refuse(&mut self, request_id: u64, error: RequestError) {
        if let Some(waiter) = self.awaiting_round.remove(&request_id) {
            let _ = waiter.reply.send(Err(error));
        }
    }

    /// The round for `request_id` completed: the read may be served once `index` is applied.
    pub fn confirmed(&mut self, request_id: u64, index: LogIndex) {
        if let Some(waiter) = self.awaiting_round.remove(&request_id) {
            self.awaiting_apply.insert((index, request_id), waiter);
        }
    }

    /// Serves every confirmed read whose index is applied, reading values with `read`.
    pub fn serve(&mut self, applied_index: LogIndex, read: impl Fn(&[u8]) -> Option<Vec<u8>>) {
        let rest = self.awaiting_apply.split_off(&(applied_index.next(), 0));
        let ready = std::mem::replace(&mut self.awaiting_apply, rest);
        for (_, waiter) in ready {
            let _ = waiter.reply.send(Ok(read(&waiter.key)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_waiter() -> (
        WriteReply,
        oneshot::Receiver<Result<Response, RequestError>>,
    ) {
        oneshot::channel()
    }

    #[test]
    fn a_completed_request_answers_every_attempt() {
        let mut writes = PendingWrites::default();
        let (first, mut first_rx) = write_waiter();
        let (retry, mut retry_rx) = write_waiter();
        writes.insert(LogIndex(3), Term(1), 7, 1, first);
        writes.insert(LogIndex(5), Term(1), 7, 1, retry);
        writes.complete(7, 1, &Response::Done);
        assert_eq!(first_rx.try_recv().ok(), Some(Ok(Response::Done)));
        assert_eq!(retry_rx.try_recv().ok(), Some(Ok(Response::Done)));
        assert!(writes.is_empty());
    }

    #[test]
    fn an_overwritten_proposal_is_dropped_when_its_slot_applies() {
        let mut writes = PendingWrites::default();
        let (reply, mut rx) = write_waiter();
        writes.insert(LogIndex(3), Term(1), 7, 1, reply);
        let (later, mut later_rx) = write_waiter();
        writes.insert(LogIndex(4), Term(1), 8, 1, later);
        writes.sweep_applied(LogIndex(3), |_| Some(Term(2)));
        assert_eq!(rx.try_recv().ok(), Some(Err(RequestError::ProposalDropped)));
        assert!(later_rx.try_recv().is_err(), "index 4 is not applied yet");
        assert_eq!(writes.len(), 1);
    }

    #[test]
    fn reproposing_at_the_same_index_drops_the_old_proposal() {
        let mut writes = PendingWrites::default();
        let (old, mut old_rx) = write_waiter();
        writes.insert(LogIndex(3), Term(1), 7, 1, old);
        let (new, _new_rx) = write_waiter();
        writes.insert(LogIndex(3), Term(2), 8, 1, new);
        assert_eq!(
            old_rx.try_recv().ok(),
            Some(Err(RequestError::ProposalDropped))
        );
        assert_eq!(writes.len(), 1);
    }

    #[test]
    fn reads_wait_for_their_round_and_then_for_apply() {
        let mut reads = PendingReads::default();
        let (reply, mut rx) = oneshot::channel();
        let id = reads.start(b"k".to_vec(), reply);
        reads.serve(LogIndex(10), |_| Some(b"v".to_vec()));
        assert!(rx.try_recv().is_err(), "the round has not completed");
        reads.confirmed(id, LogIndex(12));
        reads.serve(LogIndex(11), |_| Some(b"v".to_vec()));
        assert!(rx.try_recv().is_err(), "index 12 is not applied yet");
        reads.serve(LogIndex(12), |_| Some(b"v".to_vec()));
        assert_eq!(rx.try_recv().ok(), Some(Ok(Some(b"v".to_vec()))));
    }

    #[test]
    fn a_refused_read_gets_the_error() {
        let mut reads = PendingReads::default();
        let (reply, mut rx) = oneshot::channel();
        let id = reads.start(b"k".to_vec(), reply);
        reads.refuse(id, RequestError::ReadAborted);
        assert_eq!(rx.try_recv().ok(), Some(Err(RequestError::ReadAborted)));
        assert!(reads.has_room());
    }
}
