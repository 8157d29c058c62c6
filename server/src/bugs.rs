//! Opt-in, named bug switches. Each one turns off a piece of safe logic in a few lines where that logic
//! lives, so that tests can prove the harness and the model checker catch the bug. All are off by default.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One deliberately injectable bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Bug {
    /// Serve reads from local state on any node, without ReadIndex.
    StaleRead,
    /// Count replicas for entries of earlier terms when advancing the commit index (Raft Figure 8).
    CommitOldTerm,
    /// Grant votes without the up-to-date log check.
    VoteAnyLog,
    /// Acknowledge writes before the fsync, and skip the fsync.
    AckBeforeFsync,
    /// Apply retried writes again instead of answering from the client-session table.
    NoDedup,
}

impl Bug {
    /// Every bug switch, in a fixed order.
    pub const ALL: [Bug; 5] = [
        Bug::StaleRead,
        Bug::CommitOldTerm,
        Bug::VoteAnyLog,
        Bug::AckBeforeFsync,
        Bug::NoDedup,
    ];

    /// The switch's command-line name, e.g. `stale-read`.
    pub fn name(self) -> &'static str {
        match self {
            Bug::StaleRead => "stale-read",
            Bug::CommitOldTerm => "commit-old-term",
            Bug::VoteAnyLog => "vote-any-log",
            Bug::AckBeforeFsync => "ack-before-fsync",
            Bug::NoDedup => "no-dedup",
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for an unknown bug name; lists the known ones.
#[derive(Debug, thiserror::Error)]
#[error("unknown bug switch '{0}' (known: stale-read, commit-old-term, vote-any-log, ack-before-fsync, no-dedup)")]
pub struct UnknownBug(pub String);

impl FromStr for Bug {
    type Err = UnknownBug;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Bug::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| UnknownBug(s.to_string()))
    }
}

/// The set of bug switches that are on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BugSet(pub BTreeSet<Bug>);

impl BugSet {
    /// No bugs on (the default, and the only production setting).
    pub fn none() -> Self {
        BugSet::default()
    }
    /// Whether `bug` is switched on.
    pub fn has(&self, bug: Bug) -> bool {
        self.0.contains(&bug)
    }
}

impl FromIterator<Bug> for BugSet {
    fn from_iter<I: IntoIterator<Item = Bug>>(iter: I) -> Self {
        BugSet(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_an_error() {
        for bug in Bug::ALL {
            assert_eq!(bug.name().parse::<Bug>().ok(), Some(bug));
        }
        let err = "stale-reads".parse::<Bug>().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("stale-reads") && e.contains("no-dedup")));
    }
}
