//! The Raft safety properties (Raft paper Figure 3), checked over a whole run: Election Safety, Leader
//! Append-Only, Log Matching, Leader Completeness and State Machine Safety.
//!
//! Pure observation: the monitor is fed node states, handed-out `Ready` entries and applied entries, and
//! returns a [`Violation`] as soon as one property breaks. It never changes the nodes. The simulation
//! tests use it after every step; a stateright model or another test harness can call the same functions.

use crate::raft::{Entry, EntryPayload, LogIndex, NodeId, RawNode, Role, Term};
use std::collections::BTreeMap;
use std::fmt;

/// A broken safety property, with enough context to debug it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Two leaders in one term.
    ElectionSafety {
        /// The term.
        term: Term,
        /// The leader seen first.
        first: NodeId,
        /// The other leader.
        second: NodeId,
    },
    /// A leader removed or changed entries of its own log.
    LeaderAppendOnly {
        /// The leader.
        node: NodeId,
        /// What changed.
        detail: String,
    },
    /// Two logs hold an entry with the same index and term but different contents or predecessors.
    LogMatching {
        /// The node whose entry disagreed with an earlier one.
        node: NodeId,
        /// Where.
        index: LogIndex,
    },
    /// A leader lacks an entry that was committed in an earlier term.
    LeaderCompleteness {
        /// The leader.
        node: NodeId,
        /// Its term.
        term: Term,
        /// The committed entry it lacks.
        index: LogIndex,
    },
    /// Two nodes committed or applied different entries at one index.
    StateMachineSafety {
        /// The node that disagreed with an earlier one.
        node: NodeId,
        /// Where.
        index: LogIndex,
    },
    /// The cluster made no progress after faults healed (a liveness failure, reported by the runner).
    NoProgress {
        /// What was waited for.
        detail: String,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// What an entry is, for comparisons: its term, its predecessor's term and its payload.
type EntryIdentity = (Term, EntryPayload);

/// Accumulates what has been seen in a run and checks each new observation against it.
#[derive(Clone, Debug, Default)]
pub struct SafetyMonitor {
    /// The leader of each term seen so far.
    leaders: BTreeMap<Term, NodeId>,
    /// For each node that is leading: its term, last index and last term when last checked.
    leader_logs: BTreeMap<NodeId, (Term, LogIndex, Term)>,
    /// Every (index, term) ever appended anywhere, with its predecessor's term and payload.
    entries_seen: BTreeMap<(LogIndex, Term), EntryIdentity>,
    /// Entries known committed: index to ((term, payload), the observer's term when first seen). The
    /// entry was committed in a term at most the observer's, so leaders of later terms must hold it.
    committed: BTreeMap<LogIndex, (EntryIdentity, Term)>,
    /// Entries applied by any node: index to (term, payload).
    applied: BTreeMap<LogIndex, EntryIdentity>,
    /// Per node, the commit index already recorded.
    commit_seen: BTreeMap<NodeId, LogIndex>,
}

/// The term of the entry at `index` in `node`'s log (0 before the log), if held (the snapshot point
/// counts as held).
fn term_at(node: &RawNode, index: LogIndex) -> Option<Term> {
    if index == LogIndex(0) {
        return Some(Term(0));
    }
    node.log_term(index)
}

/// Whether `node` holds the entry (`index`, `term`), counting entries compacted into its snapshot as
/// held: only committed entries are compacted, and the simulation checks snapshot contents separately.
fn holds(node: &RawNode, index: LogIndex, term: Term) -> bool {
    index < node.snapshot_index() || term_at(node, index) == Some(term)
}

fn entry_at(node: &RawNode, index: LogIndex) -> Option<&Entry> {
    let entries = node.log_entries();
    let first = entries.first()?.index;
    let offset = usize::try_from(index.0.checked_sub(first.0)?).ok()?;
    entries.get(offset)
}

impl SafetyMonitor {
    /// A monitor that has seen nothing.
    pub fn new() -> SafetyMonitor {
        SafetyMonitor::default()
    }

    /// Entries known committed so far.
    pub fn committed_count(&self) -> usize {
        self.committed.len()
    }

    /// The entry applied at `index` by some node, if any.
    pub fn applied_at(&self, index: LogIndex) -> Option<&(Term, EntryPayload)> {
        self.applied.get(&index)
    }

    /// Log Matching: entries that `node` just handed out for persisting (they are now in its log).
    pub fn observe_appended(&mut self, node: &RawNode, entries: &[Entry]) -> Result<(), Violation> {
        let id = node.config().id;
        for entry in entries {
            let prev_term = term_at(node, entry.index.prev()).unwrap_or_default();
            let identity = (prev_term, entry.payload.clone());
            match self.entries_seen.get(&(entry.index, entry.term)) {
                Some(seen) if *seen != identity => {
                    return Err(Violation::LogMatching {
                        node: id,
                        index: entry.index,
                    })
                }
                Some(_) => {}
                None => {
                    self.entries_seen
                        .insert((entry.index, entry.term), identity);
                }
            }
        }
        Ok(())
    }

    /// State Machine Safety: `node` applied `entry`.
    pub fn observe_applied(&mut self, node: NodeId, entry: &Entry) -> Result<(), Violation> {
        let identity = (entry.term, entry.payload.clone());
        match self.applied.get(&entry.index) {
            Some(seen) if *seen != identity => Err(Violation::StateMachineSafety {
                node,
                index: entry.index,
            }),
            Some(_) => Ok(()),
            None => {
                self.applied.insert(entry.index, identity);
                Ok(())
            }
        }
    }

    /// Checks the state of every live node after a step.
    pub fn observe_nodes<'a>(
        &mut self,
        nodes: impl IntoIterator<Item = &'a RawNode>,
    ) -> Result<(), Violation> {
        let nodes: Vec<&RawNode> = nodes.into_iter().collect();
        for node in &nodes {
            self.check_leader(node)?;
        }
        for node in &nodes {
            self.record_commits(node, &nodes)?;
        }
        Ok(())
    }

    /// A node restarted: forget its per-node marks.
    pub fn forget_node(&mut self, id: NodeId) {
        self.commit_seen.remove(&id);
        self.leader_logs.remove(&id);
    }

    fn check_leader(&mut self, node: &RawNode) -> Result<(), Violation> {
        let id = node.config().id;
        let status = node.status();
        if status.role != Role::Leader {
            self.leader_logs.remove(&id);
            return Ok(());
        }
        let term = status.term;
        match self.leaders.get(&term) {
            Some(first) if *first != id => {
                return Err(Violation::ElectionSafety {
                    term,
                    first: *first,
                    second: id,
                })
            }
            Some(_) => {}
            None => {
                self.leaders.insert(term, id);
                // Leader Completeness: every entry committed so far is in the new leader's log.
                for (index, ((entry_term, _), observed_term)) in &self.committed {
                    if *observed_term < term && !holds(node, *index, *entry_term) {
                        return Err(Violation::LeaderCompleteness {
                            node: id,
                            term,
                            index: *index,
                        });
                    }
                }
            }
        }
        let last_index = status.last_index;
        let last_term = term_at(node, last_index).unwrap_or_default();
        if let Some((seen_term, seen_last, seen_last_term)) = self.leader_logs.get(&id) {
            if *seen_term == term
                && (last_index < *seen_last || !holds(node, *seen_last, *seen_last_term))
            {
                return Err(Violation::LeaderAppendOnly {
                    node: id,
                    detail: format!(
                        "log was up to {seen_last}@{seen_last_term}, now ends at {last_index}"
                    ),
                });
            }
        }
        self.leader_logs.insert(id, (term, last_index, last_term));
        Ok(())
    }

    fn record_commits(&mut self, node: &RawNode, nodes: &[&RawNode]) -> Result<(), Violation> {
        let id = node.config().id;
        let commit_index = node.hard_state().commit_index;
        let observer_term = node.hard_state().term;
        let seen = self
            .commit_seen
            .get(&id)
            .copied()
            .unwrap_or_default()
            .min(commit_index);
        self.commit_seen.insert(id, commit_index);
        let mut index = seen.next();
        while index <= commit_index {
            if index <= node.snapshot_index() {
                // Compacted or installed from a snapshot: recorded when another node committed it.
                index = index.next();
                continue;
            }
            let Some(entry) = entry_at(node, index) else {
                break; // committed beyond the log: only possible under a bug, seen elsewhere
            };
            let identity = (entry.term, entry.payload.clone());
            match self.committed.get(&index) {
                Some((known, _)) if *known != identity => {
                    return Err(Violation::StateMachineSafety { node: id, index });
                }
                Some(_) => {}
                None => {
                    // Leader Completeness for leaders already in office in later terms.
                    for other in nodes {
                        let status = other.status();
                        if status.role == Role::Leader
                            && status.term > observer_term
                            && !holds(other, index, entry.term)
                        {
                            return Err(Violation::LeaderCompleteness {
                                node: status.id,
                                term: status.term,
                                index,
                            });
                        }
                    }
                    self.committed.insert(index, (identity, observer_term));
                }
            }
            index = index.next();
        }
        Ok(())
    }
}
