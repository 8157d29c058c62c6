//! The in-memory Raft log: entries after the snapshot point, plus how far they are durable and how far
//! they were handed to the shell for persisting.
//!
//! Guarantees: entries are contiguous (`entries[i].index == snapshot_index + 1 + i`) with non-decreasing
//! terms; `persisted_index <= handed_out_index <= last_index`; truncation pulls both marks back so that a
//! replaced entry is never reported as durable.

use crate::raft::config::CoreError;
use crate::raft::types::{Entry, LogIndex, SnapshotMeta, Term};

/// The log of one node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RaftLog {
    /// Index of the last entry replaced by the snapshot (0 without a snapshot).
    snapshot_index: LogIndex,
    /// Term of that entry.
    snapshot_term: Term,
    /// Entries after the snapshot.
    entries: Vec<Entry>,
    /// Entries up to here are durable (the shell said so through `on_persisted`).
    persisted_index: LogIndex,
    /// Entries up to here were handed out in a `Ready` (durable or being written).
    handed_out_index: LogIndex,
}

/// How a follower's log relates to an AppendEntries request's `prev_log_index`/`prev_log_term`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrevCheck {
    /// The log has the entry with that term.
    Matches,
    /// The log is shorter than `prev_log_index`.
    TooShort,
    /// The log has a different term there.
    TermDiffers(Term),
}

impl RaftLog {
    /// A log recovered from storage: everything given is durable.
    pub fn new(snapshot: Option<&SnapshotMeta>, entries: Vec<Entry>) -> Result<RaftLog, CoreError> {
        let (snapshot_index, snapshot_term) = snapshot
            .map(|meta| (meta.last_included_index, meta.last_included_term))
            .unwrap_or_default();
        let mut expected = snapshot_index.next();
        let mut previous_term = snapshot_term;
        for entry in &entries {
            if entry.index != expected {
                return Err(CoreError::InconsistentState(format!(
                    "log entry at position {} has index {}",
                    expected, entry.index
                )));
            }
            if entry.term < previous_term {
                return Err(CoreError::InconsistentState(format!(
                    "log term decreases at index {}",
                    entry.index
                )));
            }
            previous_term = entry.term;
            expected = expected.next();
        }
        let last_index = expected.prev();
        Ok(RaftLog {
            snapshot_index,
            snapshot_term,
            entries,
            persisted_index: last_index,
            handed_out_index: last_index,
        })
    }

    /// The first index held in memory (snapshot index + 1).
    pub fn first_index(&self) -> LogIndex {
        self.snapshot_index.next()
    }

    /// The index of the last entry (the snapshot index when no entries follow it).
    pub fn last_index(&self) -> LogIndex {
        LogIndex(self.snapshot_index.0 + self.entries.len() as u64)
    }

    /// The term of the last entry.
    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(self.snapshot_term, |e| e.term)
    }

    /// Index of the snapshot point.
    pub fn snapshot_index(&self) -> LogIndex {
        self.snapshot_index
    }

    /// Entries up to here are durable.
    pub fn persisted_index(&self) -> LogIndex {
        self.persisted_index
    }

    /// The term of the entry at `index`: known for the snapshot point and every held entry (index 0 has
    /// term 0); None when compacted away or beyond the end.
    pub fn term(&self, index: LogIndex) -> Option<Term> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.entry(index).map(|e| e.term)
    }

    /// The entry at `index`, if held in memory.
    pub fn entry(&self, index: LogIndex) -> Option<&Entry> {
        let offset = index.0.checked_sub(self.first_index().0)?;
        self.entries.get(usize::try_from(offset).ok()?)
    }

    /// All entries held in memory.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Rewrites every entry in place with `f`, which must keep indexes and terms (used to rename node ids
    /// in config entries, see `relabel.rs`).
    pub(crate) fn relabel_entries(&mut self, f: impl Fn(&Entry) -> Entry) {
        for entry in self.entries.iter_mut() {
            let renamed = f(entry);
            assert!(
                renamed.index == entry.index && renamed.term == entry.term,
                "relabeling must keep an entry's index and term"
            );
            *entry = renamed;
        }
    }

    /// Up to `max` entries starting at `from` (empty when `from` is past the end or compacted).
    pub fn entries_from(&self, from: LogIndex, max: usize) -> &[Entry] {
        let Some(offset) = from.0.checked_sub(self.first_index().0) else {
            return &[];
        };
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.entries.len());
        let end = start.saturating_add(max).min(self.entries.len());
        &self.entries[start..end]
    }

    /// Entries in `[from, to]` (inclusive), clipped to what is held.
    pub fn entries_between(&self, from: LogIndex, to: LogIndex) -> &[Entry] {
        if to < from {
            return &[];
        }
        let count = usize::try_from(to.0 - from.0 + 1).unwrap_or(usize::MAX);
        self.entries_from(from, count)
    }

    /// Appends one entry at the end (the leader's path).
    pub fn append(&mut self, entry: Entry) {
        assert_eq!(
            entry.index,
            self.last_index().next(),
            "log append must be contiguous"
        );
        assert!(
            entry.term >= self.last_term(),
            "log terms must not decrease"
        );
        self.entries.push(entry);
    }

    /// Compares the log with an AppendEntries request's previous entry.
    pub fn check_prev(&self, prev_log_index: LogIndex, prev_log_term: Term) -> PrevCheck {
        match self.term(prev_log_index) {
            None if prev_log_index > self.last_index() => PrevCheck::TooShort,
            // Compacted entries are committed, so they match any current leader's log.
            None => PrevCheck::Matches,
            Some(term) if term == prev_log_term => PrevCheck::Matches,
            Some(term) => PrevCheck::TermDiffers(term),
        }
    }

    /// Merges entries that follow a matching previous entry: keeps entries that agree, truncates from the
    /// first conflicting one, appends the rest. Returns the index where the log was truncated, if it was.
    pub fn merge(&mut self, entries: &[Entry]) -> Option<LogIndex> {
        let mut truncated_at = None;
        for (position, entry) in entries.iter().enumerate() {
            if entry.index < self.first_index() {
                continue; // compacted, hence committed, hence equal
            }
            match self.term(entry.index) {
                Some(term) if term == entry.term => continue,
                Some(_) => {
                    self.truncate_from(entry.index);
                    truncated_at = Some(entry.index);
                }
                None => {}
            }
            for rest in &entries[position..] {
                self.append(rest.clone());
            }
            break;
        }
        truncated_at
    }

    /// Drops the entries from `index` on and pulls the durability marks back.
    fn truncate_from(&mut self, index: LogIndex) {
        assert!(
            index > self.snapshot_index,
            "cannot truncate into the snapshot"
        );
        let keep = usize::try_from(index.0 - self.first_index().0).unwrap_or(usize::MAX);
        self.entries.truncate(keep);
        let last = self.last_index();
        self.persisted_index = self.persisted_index.min(last);
        self.handed_out_index = self.handed_out_index.min(last);
    }

    /// Term of the snapshot point.
    pub fn snapshot_term(&self) -> Term {
        self.snapshot_term
    }

    /// Compaction: drops the entries up to `index` (which must be held and durable); `index` becomes the
    /// snapshot point.
    pub fn compact_to(&mut self, index: LogIndex) {
        assert!(
            index > self.snapshot_index && index <= self.persisted_index,
            "compaction to {index} outside ({}, {}]",
            self.snapshot_index,
            self.persisted_index
        );
        let term = self.term(index).expect("a held index has a term");
        let drop = usize::try_from(index.0 - self.snapshot_index.0).unwrap_or(usize::MAX);
        self.entries.drain(..drop.min(self.entries.len()));
        self.snapshot_index = index;
        self.snapshot_term = term;
    }

    /// Installs a snapshot that covers the log up to `meta.last_included_index` (Raft §7): when the log
    /// holds that entry with the same term, the entries after it are kept; otherwise the whole log is
    /// dropped. Returns whether a suffix was kept. The caller makes sure the snapshot is newer than the
    /// commit index.
    pub fn install_snapshot(&mut self, meta: &SnapshotMeta) -> bool {
        let index = meta.last_included_index;
        assert!(index > self.snapshot_index, "snapshot {index} is not newer");
        let keep = self.term(index) == Some(meta.last_included_term);
        if keep {
            let drop = usize::try_from(index.0 - self.snapshot_index.0).unwrap_or(usize::MAX);
            self.entries.drain(..drop.min(self.entries.len()));
            self.persisted_index = self.persisted_index.max(index);
            self.handed_out_index = self.handed_out_index.max(index);
        } else {
            self.entries.clear();
            self.persisted_index = index;
            self.handed_out_index = index;
        }
        self.snapshot_index = index;
        self.snapshot_term = meta.last_included_term;
        keep
    }

    /// Whether a candidate with this last entry is at least as up to date as this log (Raft §5.4.1).
    pub fn is_up_to_date(&self, last_log_index: LogIndex, last_log_term: Term) -> bool {
        (last_log_term, last_log_index) >= (self.last_term(), self.last_index())
    }

    /// The first index of the run of entries with the same term as the entry at `index` (the follower's
    /// conflict hint); stops at the first held index.
    pub fn first_index_of_term_at(&self, index: LogIndex) -> LogIndex {
        let Some(term) = self.term(index) else {
            return index;
        };
        let mut first = index;
        while first > self.first_index() && self.term(first.prev()) == Some(term) {
            first = first.prev();
        }
        first
    }

    /// The last index at or before `at_or_before` whose entry has `term` (the leader's use of a hint).
    pub fn last_index_of_term(&self, term: Term, at_or_before: LogIndex) -> Option<LogIndex> {
        let mut index = at_or_before.min(self.last_index());
        loop {
            match self.term(index) {
                Some(t) if t == term => return Some(index),
                Some(t) if t < term => return None,
                None => return None,
                Some(_) if index <= self.snapshot_index => return None,
                Some(_) => index = index.prev(),
            }
        }
    }

    /// Entries not yet handed out to the shell; marks them handed out.
    pub fn take_unhanded(&mut self) -> Vec<Entry> {
        let from = self.handed_out_index.next();
        let unhanded = self.entries_from(from, usize::MAX).to_vec();
        self.handed_out_index = self.last_index();
        unhanded
    }

    /// Whether some entries wait to be handed out.
    pub fn has_unhanded(&self) -> bool {
        self.handed_out_index < self.last_index()
    }

    /// Marks entries up to `index` durable if the entry there still has `term` (else the write was of
    /// entries that were since replaced, and says nothing about the current ones). Returns whether the
    /// mark moved.
    pub fn persisted_to(&mut self, index: LogIndex, term: Term) -> bool {
        if index <= self.persisted_index || index > self.handed_out_index {
            return false;
        }
        if self.term(index) != Some(term) {
            return false;
        }
        self.persisted_index = index;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::types::EntryPayload;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            term: Term(term),
            index: LogIndex(index),
            payload: EntryPayload::Noop,
        }
    }

    fn log_of(terms: &[u64]) -> RaftLog {
        let entries = terms
            .iter()
            .enumerate()
            .map(|(i, t)| entry(i as u64 + 1, *t))
            .collect();
        RaftLog::new(None, entries).expect("valid log")
    }

    #[test]
    fn recovery_rejects_gaps_and_decreasing_terms() {
        assert!(RaftLog::new(None, vec![entry(1, 1), entry(3, 1)]).is_err());
        assert!(RaftLog::new(None, vec![entry(1, 2), entry(2, 1)]).is_err());
        let meta = SnapshotMeta {
            last_included_index: LogIndex(5),
            last_included_term: Term(2),
            ..Default::default()
        };
        let log = RaftLog::new(Some(&meta), vec![entry(6, 2), entry(7, 3)]).expect("valid");
        assert_eq!(log.first_index(), LogIndex(6));
        assert_eq!(log.last_index(), LogIndex(7));
        assert_eq!(log.term(LogIndex(5)), Some(Term(2)));
        assert_eq!(log.term(LogIndex(4)), None);
        assert_eq!(log.persisted_index(), LogIndex(7));
    }

    #[test]
    fn merge_truncates_only_at_a_conflict_and_pulls_marks_back() {
        let mut log = log_of(&[1, 1, 2, 2]);
        // Agreeing entries change nothing.
        assert_eq!(log.merge(&[entry(2, 1), entry(3, 2)]), None);
        assert_eq!(log.last_index(), LogIndex(4));
        // A conflict at 3 replaces the tail.
        assert_eq!(log.merge(&[entry(3, 3)]), Some(LogIndex(3)));
        assert_eq!(log.last_index(), LogIndex(3));
        assert_eq!(log.term(LogIndex(3)), Some(Term(3)));
        assert_eq!(log.persisted_index(), LogIndex(2));
        assert_eq!(log.take_unhanded(), vec![entry(3, 3)]);
        // A write of the replaced entry does not count; the new one does.
        assert!(!log.persisted_to(LogIndex(4), Term(2)));
        assert!(!log.persisted_to(LogIndex(3), Term(2)));
        assert!(log.persisted_to(LogIndex(3), Term(3)));
    }

    #[test]
    fn hints_and_up_to_date() {
        let log = log_of(&[1, 1, 2, 2, 2, 4]);
        assert_eq!(log.first_index_of_term_at(LogIndex(5)), LogIndex(3));
        assert_eq!(log.first_index_of_term_at(LogIndex(2)), LogIndex(1));
        assert_eq!(
            log.last_index_of_term(Term(2), LogIndex(6)),
            Some(LogIndex(5))
        );
        assert_eq!(log.last_index_of_term(Term(3), LogIndex(6)), None);
        assert_eq!(log.check_prev(LogIndex(7), Term(4)), PrevCheck::TooShort);
        assert_eq!(
            log.check_prev(LogIndex(6), Term(3)),
            PrevCheck::TermDiffers(Term(4))
        );
        assert_eq!(log.check_prev(LogIndex(0), Term(0)), PrevCheck::Matches);
        assert!(log.is_up_to_date(LogIndex(1), Term(5)));
        assert!(log.is_up_to_date(LogIndex(6), Term(4)));
        assert!(!log.is_up_to_date(LogIndex(9), Term(3)));
        assert!(!log.is_up_to_date(LogIndex(5), Term(4)));
        assert_eq!(log.entries_between(LogIndex(2), LogIndex(3)).len(), 2);
        assert_eq!(log.entries_from(LogIndex(6), 10).len(), 1);
        assert!(log.entries_from(LogIndex(7), 10).is_empty());
    }

    #[test]
    fn compaction_and_snapshot_install_keep_only_a_matching_suffix() {
        let mut log = log_of(&[1, 1, 2, 2, 3]);
        log.compact_to(LogIndex(2));
        assert_eq!(log.first_index(), LogIndex(3));
        assert_eq!(log.term(LogIndex(2)), Some(Term(1)));
        assert_eq!(log.term(LogIndex(1)), None);
        assert_eq!(log.last_index(), LogIndex(5));
        // A snapshot whose last entry matches keeps the suffix.
        let matching = SnapshotMeta {
            last_included_index: LogIndex(4),
            last_included_term: Term(2),
            ..Default::default()
        };
        assert!(log.install_snapshot(&matching));
        assert_eq!(log.last_index(), LogIndex(5));
        assert_eq!(log.entries().len(), 1);
        // One that disagrees drops everything after it.
        let mut log = log_of(&[1, 1, 2, 2, 3]);
        let conflicting = SnapshotMeta {
            last_included_index: LogIndex(4),
            last_included_term: Term(3),
            ..Default::default()
        };
        assert!(!log.install_snapshot(&conflicting));
        assert_eq!(log.last_index(), LogIndex(4));
        assert_eq!(log.last_term(), Term(3));
        assert!(log.entries().is_empty());
        assert_eq!(log.persisted_index(), LogIndex(4));
        // One beyond the end drops everything as well.
        let mut log = log_of(&[1]);
        let beyond = SnapshotMeta {
            last_included_index: LogIndex(9),
            last_included_term: Term(2),
            ..Default::default()
        };
        assert!(!log.install_snapshot(&beyond));
        assert_eq!(log.last_index(), LogIndex(9));
        assert!(!log.has_unhanded());
    }
}
