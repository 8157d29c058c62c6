//! Majority math over a [`ClusterConfig`], including joint consensus (a decision needs a majority of
//! `voters` and, when non-empty, of `voters_outgoing`).
//!
//! Guarantees: `committed_index` is the largest index that a majority of every voter set has matched;
//! `vote_result` says Won only with a majority of yes votes in every set, Lost only once that is impossible.

use crate::raft::types::{ClusterConfig, LogIndex, NodeId};
use std::collections::{BTreeMap, BTreeSet};

/// The outcome of an election (or of any yes/no poll) so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VoteResult {
    /// A majority said yes.
    Won,
    /// A majority can no longer say yes.
    Lost,
    /// Not decided yet.
    Pending,
}

/// All voters (incoming and outgoing) of the configuration, sorted.
pub fn all_voters(cluster: &ClusterConfig) -> BTreeSet<NodeId> {
    cluster
        .voters
        .union(&cluster.voters_outgoing)
        .copied()
        .collect()
}

/// The largest index that a majority of `voters` has matched (0 for an empty set).
fn majority_index(voters: &BTreeSet<NodeId>, match_of: &impl Fn(NodeId) -> LogIndex) -> LogIndex {
    let mut matched: Vec<LogIndex> = voters.iter().map(|id| match_of(*id)).collect();
    matched.sort_unstable_by(|a, b| b.cmp(a));
    // Sorted descending, the element at position n/2 is matched by n/2 + 1 voters: a majority.
    matched.get(voters.len() / 2).copied().unwrap_or_default()
}

/// The largest index matched by a majority of each voter set.
pub fn committed_index(cluster: &ClusterConfig, match_of: impl Fn(NodeId) -> LogIndex) -> LogIndex {
    let incoming = majority_index(&cluster.voters, &match_of);
    if cluster.voters_outgoing.is_empty() {
        return incoming;
    }
    incoming.min(majority_index(&cluster.voters_outgoing, &match_of))
}

fn poll(voters: &BTreeSet<NodeId>, votes: &BTreeMap<NodeId, bool>) -> VoteResult {
    let quorum = voters.len() / 2 + 1;
    let yes = voters
        .iter()
        .filter(|id| votes.get(id) == Some(&true))
        .count();
    let missing = voters.iter().filter(|id| !votes.contains_key(id)).count();
    if yes >= quorum {
        VoteResult::Won
    } else if yes + missing < quorum {
        VoteResult::Lost
    } else {
        VoteResult::Pending
    }
}

/// The result of a poll in which `votes` maps voters to their answers (absent: no answer yet).
pub fn vote_result(cluster: &ClusterConfig, votes: &BTreeMap<NodeId, bool>) -> VoteResult {
    let incoming = poll(&cluster.voters, votes);
    if cluster.voters_outgoing.is_empty() {
        return incoming;
    }
    match (incoming, poll(&cluster.voters_outgoing, votes)) {
        (VoteResult::Won, VoteResult::Won) => VoteResult::Won,
        (VoteResult::Lost, _) | (_, VoteResult::Lost) => VoteResult::Lost,
        _ => VoteResult::Pending,
    }
}

/// Whether the members in `acks` form a majority of every voter set.
pub fn has_quorum(cluster: &ClusterConfig, acks: &BTreeSet<NodeId>) -> bool {
    let votes: BTreeMap<NodeId, bool> = acks.iter().map(|id| (*id, true)).collect();
    vote_result(cluster, &votes) == VoteResult::Won
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids(range: std::ops::Range<u64>) -> BTreeSet<NodeId> {
        range.map(NodeId).collect()
    }

    /// The obvious definition: the largest x such that more than half of `voters` have match >= x.
    fn brute_force_index(
        voters: &BTreeSet<NodeId>,
        matches: &BTreeMap<NodeId, LogIndex>,
    ) -> LogIndex {
        let candidates: BTreeSet<LogIndex> =
            matches.values().copied().chain([LogIndex(0)]).collect();
        candidates
            .into_iter()
            .filter(|x| {
                let have = voters
                    .iter()
                    .filter(|id| matches.get(id).copied().unwrap_or_default() >= *x);
                have.count() * 2 > voters.len()
            })
            .max()
            .unwrap_or_default()
    }

    #[test]
    fn joint_configs_need_both_majorities() {
        let cluster = ClusterConfig {
            voters: ids(1..4),
            voters_outgoing: ids(3..6),
            learners: BTreeSet::new(),
            ..Default::default()
        };
        let matches: BTreeMap<NodeId, LogIndex> = [(1, 9), (2, 9), (3, 5), (4, 1), (5, 1)]
            .map(|(i, m)| (NodeId(i), LogIndex(m)))
            .into();
        let index = committed_index(&cluster, |id| matches.get(&id).copied().unwrap_or_default());
        assert_eq!(
            index,
            LogIndex(1),
            "the outgoing set {{3,4,5}} only has 1 on a majority"
        );
        assert!(!has_quorum(&cluster, &ids(1..3)));
        assert!(has_quorum(&cluster, &[1, 2, 4, 5].map(NodeId).into()));
        let votes: BTreeMap<NodeId, bool> =
            [(4, false), (5, false)].map(|(i, v)| (NodeId(i), v)).into();
        assert_eq!(vote_result(&cluster, &votes), VoteResult::Lost);
    }

    proptest! {
        #[test]
        fn committed_index_matches_the_definition(
            n in 1u64..8,
            raw in proptest::collection::vec(0u64..20, 8),
        ) {
            let cluster = ClusterConfig::with_voters((1..=n).map(NodeId));
            let matches: BTreeMap<NodeId, LogIndex> =
                (1..=n).map(|i| (NodeId(i), LogIndex(raw[(i - 1) as usize]))).collect();
            let index = committed_index(&cluster, |id| matches.get(&id).copied().unwrap_or_default());
            prop_assert_eq!(index, brute_force_index(&cluster.voters, &matches));
        }

        #[test]
        fn vote_result_is_consistent(n in 1u64..8, answers in proptest::collection::vec(0u8..3, 8)) {
            let cluster = ClusterConfig::with_voters((1..=n).map(NodeId));
            let votes: BTreeMap<NodeId, bool> = (1..=n)
                .filter_map(|i| match answers[(i - 1) as usize] {
                    0 => None,
                    1 => Some((NodeId(i), true)),
                    _ => Some((NodeId(i), false)),
                })
                .collect();
            let yes = votes.values().filter(|v| **v).count() as u64;
            let no = votes.values().filter(|v| !**v).count() as u64;
            let expected = if yes * 2 > n {
                VoteResult::Won
            } else if no * 2 >= n {
                VoteResult::Lost
            } else {
                VoteResult::Pending
            };
            prop_assert_eq!(vote_result(&cluster, &votes), expected);
        }
    }
}
