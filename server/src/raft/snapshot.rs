//! InstallSnapshot (Raft §7): a leader whose log no longer holds the entries a member needs sends its
//! newest snapshot in chunks of at most `snapshot_chunk_bytes`, one chunk outstanding at a time; the
//! member reassembles it and installs it.
//!
//! Guarantees: a lost chunk is resent from the offset the member asks for (its answer, or the next
//! heartbeat answer, resumes the transfer); a snapshot at or below the member's commit index is stale
//! and changes nothing (the member says it is done, which is true: its committed log matches the
//! leader's up to there); a follower buffers at most `snapshot_bytes_max` bytes of an incoming snapshot
//! and aborts a larger one (counted in [`RawNode::oversized_snapshots`]); installing keeps the log entries after the snapshot when the log holds the
//! snapshot's last entry with the same term, and drops them otherwise; the "done" answer leaves only
//! once the snapshot is durable (it is a persisted message).

use crate::raft::raw_node::RawNode;
use crate::raft::types::{LogIndex, MessageBody, NodeId, Role, Snapshot, SnapshotMeta};

impl RawNode {
    /// How many incoming snapshots were aborted for exceeding `snapshot_bytes_max` (the shell logs
    /// an error when this grows).
    pub fn oversized_snapshots(&self) -> u64 {
        self.oversized_snapshots
    }

    /// Leader: sends `to` the next chunk of the newest snapshot. Returns whether one was sent.
    pub(super) fn send_snapshot_chunk(&mut self, to: NodeId) -> bool {
        let chunk_bytes = self.config.snapshot_chunk_bytes;
        let Some(snapshot) = &self.snapshot else {
            // The log was compacted without a snapshot to send (only possible when a test builds a
            // node that way): nothing can bring this member up to date.
            return false;
        };
        let Some(pr) = self.progress.get_mut(&to) else {
            return false;
        };
        let index = snapshot.meta.last_included_index;
        let offset = match pr.pending_snapshot {
            Some((pending, offset)) if pending == index => offset,
            _ => {
                pr.start_snapshot(index);
                0
            }
        };
        let length = snapshot.data.len();
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(length);
        let end = start.saturating_add(chunk_bytes).min(length);
        pr.probe_sent = true;
        let body = MessageBody::InstallSnapshot {
            meta: snapshot.meta.clone(),
            offset: start as u64,
            data: snapshot.data[start..end].to_vec(),
            done: end == length,
        };
        let after_persist = !self.leader_term_durable;
        self.send(to, body, after_persist);
        true
    }

    /// Follower: one chunk of a snapshot from the current leader.
    pub(super) fn handle_install_snapshot(
        &mut self,
        from: NodeId,
        meta: SnapshotMeta,
        offset: u64,
        data: Vec<u8>,
        done: bool,
    ) {
        let index = meta.last_included_index;
        let answer = |next_offset: u64, done: bool| MessageBody::InstallSnapshotResponse {
            last_included_index: index,
            next_offset,
            done,
        };
        if index <= self.hard_state.commit_index {
            // Stale or duplicate: everything it covers is already committed here.
            self.incoming_snapshot = None;
            let next_offset = offset + data.len() as u64;
            self.send(from, answer(next_offset, true), true);
            return;
        }
        let same = matches!(&self.incoming_snapshot, Some((m, _)) if *m == meta);
        if !same {
            if offset != 0 {
                // A chunk from the middle of a snapshot we have not started: ask for the beginning.
                self.send(from, answer(0, false), false);
                return;
            }
            self.incoming_snapshot = Some((meta, Vec::new()));
        }
        let Some((_, buffer)) = self.incoming_snapshot.as_mut() else {
            return;
        };
        let have = buffer.len() as u64;
        if offset != have {
            // A gap (a chunk was lost) or a duplicate: ask for what comes next.
            self.send(from, answer(have, false), false);
            return;
        }
        if have.saturating_add(data.len() as u64) > self.config.snapshot_bytes_max {
            // Bounded memory: drop what was received. The answer asks for offset 0, so the leader
            // starts over (and will be refused again until the bound is raised): the follower stays
            // behind rather than running out of memory. The shell logs `oversized_snapshots`.
            self.incoming_snapshot = None;
            self.oversized_snapshots += 1;
            self.send(from, answer(0, false), false);
            return;
        }
        buffer.extend_from_slice(&data);
        let have = buffer.len() as u64;
        if !done {
            self.send(from, answer(have, false), false);
            return;
        }
        let Some((meta, data)) = self.incoming_snapshot.take() else {
            return;
        };
        self.install_snapshot(Snapshot { meta, data });
        self.send(from, answer(have, true), true);
    }

    /// Follower: replaces the log prefix and the state machine with `snapshot` (newer than the commit
    /// index). The shell gets it through `Ready::snapshot`.
    fn install_snapshot(&mut self, snapshot: Snapshot) {
        let index = snapshot.meta.last_included_index;
        assert!(
            index > self.hard_state.commit_index && self.applied_index <= index,
            "installing snapshot {index} at or below commit index {}",
            self.hard_state.commit_index
        );
        self.log.install_snapshot(&snapshot.meta);
        self.hard_state.commit_index = index;
        self.applying_index = index;
        self.applied_index = index;
        self.leader_match_index = self.leader_match_index.max(index);
        self.fallback_cluster = snapshot.meta.config.clone();
        self.refresh_cluster();
        if self.role != Role::Leader {
            self.role = self.follower_role();
        }
        self.snapshot_to_hand_out = Some(snapshot.clone());
        self.snapshot = Some(snapshot);
    }

    /// Leader: an answer to a snapshot chunk.
    pub(super) fn handle_install_snapshot_response(
        &mut self,
        from: NodeId,
        last_included_index: LogIndex,
        next_offset: u64,
        done: bool,
    ) {
        let check_quorum = self.config.check_quorum;
        let Some(pr) = self.progress.get_mut(&from) else {
            return;
        };
        pr.mark_active(check_quorum);
        let previous_match = pr.match_index;
        if !pr.on_snapshot_response(last_included_index, next_offset, done) {
            return;
        }
        let advanced = pr.match_index > previous_match;
        if advanced {
            self.maybe_commit();
            self.maybe_finish_transfer(from);
            self.maybe_promote_learner(from);
        }
        if self.progress.contains_key(&from) {
            self.send_append(from, true);
        }
    }
}
