//! Property test: random appends (with overwrites), hard states, syncs, crashes and compactions agree
//! with a simple in-memory model. It runs in both crash modes: with `unsafe_lose_unsynced_writes` a
//! crash must bring back exactly the state as of the last sync (or segment rollover, which seals the
//! old segment durably); without it, everything written. Failures print the minimal op sequence;
//! replay with PROPTEST_RNG_SEED=<seed>, widen with PROPTEST_CASES=<n>.

use crate::raft::types::{
    Entry, EntryPayload, HardState, InitialState, LogIndex, SnapshotMeta, Term,
};
use crate::storage::{Wal, WalOptions};
use proptest::prelude::*;
use std::path::Path;

#[derive(Clone, Debug)]
enum Op {
    /// Append `count` entries starting `back` positions before the end, plus maybe a hard state.
    Append {
        back: u64,
        count: u64,
        hard_state_term: Option<u64>,
    },
    Sync,
    /// Drop the WAL without syncing and reopen it.
    Crash,
    /// Compact `back` positions before the end; `conflicting` gives the snapshot a different term.
    Compact {
        back: u64,
        conflicting: bool,
    },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..4u64, 0..5u64, proptest::option::of(0..9u64)).prop_map(
            |(back, count, hard_state_term)| Op::Append { back, count, hard_state_term }
        ),
        2 => Just(Op::Sync),
        2 => Just(Op::Crash),
        1 => (0..8u64, proptest::bool::weighted(0.2))
            .prop_map(|(back, conflicting)| Op::Compact { back, conflicting }),
    ]
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Model {
    hard_state: HardState,
    snapshot_meta: Option<SnapshotMeta>,
    entries: Vec<Entry>,
}

impl Model {
    fn first_index(&self) -> u64 {
        self.snapshot_meta
            .as_ref()
            .map_or(1, |m| m.last_included_index.0 + 1)
    }

    fn last_index(&self) -> u64 {
        self.first_index() + self.entries.len() as u64 - 1
    }

    fn term_at(&self, index: u64) -> Option<Term> {
        if index + 1 == self.first_index() {
            return self.snapshot_meta.as_ref().map(|m| m.last_included_term);
        }
        let position = index.checked_sub(self.first_index())?;
        self.entries.get(position as usize).map(|e| e.term)
    }

    fn append(&mut self, hard_state: Option<&HardState>, new_entries: &[Entry]) {
        if let Some(first) = new_entries.first() {
            let keep = (first.index.0 - self.first_index()) as usize;
            self.entries.truncate(keep);
            self.entries.extend_from_slice(new_entries);
        }
        if let Some(hard_state) = hard_state {
            self.hard_state = hard_state.clone();
        }
    }

    fn compact(&mut self, meta: &SnapshotMeta) {
        let index = meta.last_included_index.0;
        if self.term_at(index) != Some(meta.last_included_term) {
            let keep = (index + 1).saturating_sub(self.first_index()) as usize;
            self.entries.truncate(keep.min(self.entries.len()));
        }
        let drop_count = ((index + 1 - self.first_index()) as usize).min(self.entries.len());
        self.entries.drain(..drop_count);
        self.snapshot_meta = Some(meta.clone());
    }

    fn assert_recovered(&self, initial: &InitialState, wal: &Wal) {
        // Entries newer than the durable hard state raise the recovered term, with no vote.
        let mut expected_hard_state = self.hard_state.clone();
        if let Some(last) = self.entries.last() {
            if last.term > expected_hard_state.term {
                expected_hard_state.term = last.term;
                expected_hard_state.voted_for = None;
            }
        }
        assert_eq!(initial.hard_state, expected_hard_state);
        assert_eq!(initial.snapshot_meta, self.snapshot_meta);
        assert_eq!(initial.entries, self.entries);
        assert_eq!(wal.last_index(), LogIndex(self.last_index()));
        assert_eq!(wal.first_index(), LogIndex(self.first_index()));
    }
}

fn run_ops(dir: &Path, options: &WalOptions, ops: &[Op]) {
    let (mut wal, initial) = Wal::open(dir, options.clone()).expect("open");
    let mut current = Model::default();
    current.assert_recovered(&initial, &wal);
    let mut durable = current.clone();
    let mut next_term = 1;
    for op in ops {
        match op {
            Op::Append {
                back,
                count,
                hard_state_term,
            } => {
                let start = (current.last_index() + 1)
                    .saturating_sub(*back)
                    .max(current.first_index());
                next_term += 1;
                let new_entries: Vec<Entry> = (start..start + count)
                    .map(|index| Entry {
                        term: Term(next_term),
                        index: LogIndex(index),
                        payload: EntryPayload::Command(vec![index as u8; (index % 7) as usize]),
                    })
                    .collect();
                let hard_state = hard_state_term.map(|term| HardState {
                    term: Term(term),
                    voted_for: None,
                    commit_index: LogIndex(start),
                });
                let segments_before = wal.segment_count();
                wal.append(hard_state.as_ref(), &new_entries)
                    .expect("append");
                if wal.segment_count() != segments_before {
                    // The rollover sealed (wrote and fsynced) everything before this append.
                    durable = current.clone();
                }
                current.append(hard_state.as_ref(), &new_entries);
                if !options.unsafe_lose_unsynced_writes {
                    durable = current.clone();
                }
            }
            Op::Sync => {
                wal.sync().expect("sync");
                durable = current.clone();
            }
            Op::Crash => {
                drop(wal);
                let (reopened, initial) = Wal::open(dir, options.clone()).expect("reopen");
                wal = reopened;
                durable.assert_recovered(&initial, &wal);
                current = durable.clone();
            }
            Op::Compact { back, conflicting } => {
                let index = current
                    .last_index()
                    .saturating_sub(*back)
                    .max(current.first_index() - 1);
                let term = current.term_at(index).unwrap_or(Term(0));
                let meta = SnapshotMeta {
                    last_included_index: LogIndex(index),
                    last_included_term: if *conflicting {
                        Term(term.0 + 100)
                    } else {
                        term
                    },
                    config: Default::default(),
                };
                wal.compact(&meta).expect("compact");
                current.compact(&meta);
                durable = current.clone();
            }
        }
        assert_eq!(wal.last_index(), LogIndex(current.last_index()));
    }
    drop(wal);
    let (wal, initial) = Wal::open(dir, options.clone()).expect("final reopen");
    durable.assert_recovered(&initial, &wal);
}

/// 48 cases by default (fast enough for CI); PROPTEST_CASES widens the search.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn wal_agrees_with_an_in_memory_model(
        ops in proptest::collection::vec(op_strategy(), 1..40),
        unsafe_lose_unsynced_writes in any::<bool>(),
        segment_size_bytes in prop_oneof![Just(160u64), Just(1024 * 1024)],
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = WalOptions {
            segment_size_bytes,
            unsafe_lose_unsynced_writes,
            skip_fsync: false,
        };
        run_ops(dir.path(), &options, &ops);
    }
}
