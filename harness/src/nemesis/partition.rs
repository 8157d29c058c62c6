//! Pure computation of which directed links a partition shape cuts, from (nodes, leader, rng).
//!
//! Guarantees: the result depends only on its inputs (the node list is sorted before shuffling, so the
//! order callers pass does not matter); a link `from → to` is in `dropped` iff frames from `from` must not
//! reach `to`; no self-links; with fewer than 2 nodes nothing is cut. "Node p sees q" means p receives
//! from q (the link q → p passes), which is Jepsen's grudge direction.

use super::PartitionShape;
use raftkv::raft::NodeId;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The cut computed for one partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionPlan {
    /// The shape that produced the cut.
    pub shape: PartitionShape,
    /// Human-readable groups, each sorted: the two sides for halves, isolate-leader and one-way (for
    /// one-way, frames from the first side to the second are cut); the two halves each including the
    /// bridge node for bridge; for majorities-ring, the set each node sees, in ring order.
    pub components: Vec<Vec<NodeId>>,
    /// Every cut directed link (from, to).
    pub dropped: BTreeSet<(NodeId, NodeId)>,
}

impl PartitionPlan {
    /// Whether frames from `from` reach `to` under this plan.
    pub fn passes(&self, from: NodeId, to: NodeId) -> bool {
        !self.dropped.contains(&(from, to))
    }

    /// The nodes `node` receives from (including itself), among `nodes`.
    pub fn sees(&self, node: NodeId, nodes: &[NodeId]) -> BTreeSet<NodeId> {
        nodes
            .iter()
            .copied()
            .filter(|&from| from == node || self.passes(from, node))
            .collect()
    }
}

fn sorted(mut nodes: Vec<NodeId>) -> Vec<NodeId> {
    nodes.sort();
    nodes
}

/// Every directed link from a node of `sources` to a node of `sinks` (minus self-links).
fn links_between(sources: &[NodeId], sinks: &[NodeId]) -> BTreeSet<(NodeId, NodeId)> {
    sources
        .iter()
        .flat_map(|&from| sinks.iter().map(move |&to| (from, to)))
        .filter(|(from, to)| from != to)
        .collect()
}

fn both_ways(a: &[NodeId], b: &[NodeId]) -> BTreeSet<(NodeId, NodeId)> {
    let mut dropped = links_between(a, b);
    dropped.extend(links_between(b, a));
    dropped
}

/// Computes the cut for `shape` over `nodes`. `leader` is only used by `IsolateLeader` (a random node
/// stands in when it is `None` or not among `nodes`).
pub fn plan_partition<R: Rng + ?Sized>(
    shape: PartitionShape,
    nodes: &[NodeId],
    leader: Option<NodeId>,
    rng: &mut R,
) -> PartitionPlan {
    let mut shuffled = sorted(nodes.to_vec());
    shuffled.dedup();
    shuffled.shuffle(rng);
    let n = shuffled.len();
    if n < 2 {
        return PartitionPlan {
            shape,
            components: vec![sorted(shuffled)],
            dropped: BTreeSet::new(),
        };
    }
    let (minority, majority) = shuffled.split_at(n / 2);
    match shape {
        PartitionShape::RandomHalves => PartitionPlan {
            shape,
            components: vec![sorted(minority.to_vec()), sorted(majority.to_vec())],
            dropped: both_ways(minority, majority),
        },
        PartitionShape::IsolateLeader => {
            let isolated = leader
                .filter(|id| shuffled.contains(id))
                .unwrap_or(shuffled[0]);
            let rest: Vec<NodeId> = shuffled
                .iter()
                .copied()
                .filter(|&id| id != isolated)
                .collect();
            PartitionPlan {
                shape,
                components: vec![vec![isolated], sorted(rest.clone())],
                dropped: both_ways(&[isolated], &rest),
            }
        }
        PartitionShape::OneWay => {
            let (from_side, to_side) = if rng.gen_bool(0.5) {
                (minority, majority)
            } else {
                (majority, minority)
            };
            PartitionPlan {
                shape,
                components: vec![sorted(from_side.to_vec()), sorted(to_side.to_vec())],
                dropped: links_between(from_side, to_side),
            }
        }
        PartitionShape::Bridge => {
            // [left | bridge | right]: the bridge is the first node of the larger half.
            let bridge = majority[0];
            let right = &majority[1..];
            let mut left_component = minority.to_vec();
            left_component.push(bridge);
            let mut right_component = right.to_vec();
            right_component.push(bridge);
            PartitionPlan {
                shape,
                components: vec![sorted(left_component), sorted(right_component)],
                dropped: both_ways(minority, right),
            }
        }
        PartitionShape::MajoritiesRing => majorities_ring(&shuffled),
    }
}

/// Ring positions p = 0..n; node p sees the arc of `majority` consecutive positions starting at
/// p - (majority-1)/2, i.e. centred on itself when `majority` is odd (then "sees" is symmetric).
/// Distinct start positions give distinct arcs because an arc shorter than the ring determines its
/// start, so no two nodes see the same majority (for n ≥ 3; for n = 2 the majority is everyone).
fn majorities_ring(ring: &[NodeId]) -> PartitionPlan {
    let n = ring.len();
    let majority = n / 2 + 1;
    let back = (majority - 1) / 2;
    let mut components = Vec::with_capacity(n);
    let mut dropped = BTreeSet::new();
    for (position, &node) in ring.iter().enumerate() {
        let seen: BTreeSet<NodeId> = (0..majority)
            .map(|offset| ring[(position + n - back + offset) % n])
            .collect();
        for &from in ring {
            if !seen.contains(&from) {
                dropped.insert((from, node));
            }
        }
        components.push(seen.into_iter().collect());
    }
    PartitionPlan {
        shape: PartitionShape::MajoritiesRing,
        components,
        dropped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Node counts and seeds of the grid every property is checked over.
    const NODE_COUNTS: std::ops::RangeInclusive<u64> = 3..=7;
    const SEEDS_PER_COUNT: u64 = 50;

    fn grid() -> impl Iterator<Item = (Vec<NodeId>, u64)> {
        NODE_COUNTS.flat_map(|n| {
            (0..SEEDS_PER_COUNT).map(move |seed| ((1..=n).map(NodeId).collect(), seed))
        })
    }

    fn plan(
        shape: PartitionShape,
        nodes: &[NodeId],
        leader: Option<NodeId>,
        seed: u64,
    ) -> PartitionPlan {
        plan_partition(shape, nodes, leader, &mut ChaCha8Rng::seed_from_u64(seed))
    }

    fn majority(n: usize) -> usize {
        n / 2 + 1
    }

    #[test]
    fn random_halves_pass_inside_sides_and_cut_across() {
        for (nodes, seed) in grid() {
            let plan = plan(PartitionShape::RandomHalves, &nodes, None, seed);
            let [small, large] = [&plan.components[0], &plan.components[1]];
            assert_eq!(small.len(), nodes.len() / 2, "seed {seed}");
            assert_eq!(small.len() + large.len(), nodes.len());
            for &from in &nodes {
                for &to in &nodes {
                    let same_side = small.contains(&from) == small.contains(&to);
                    assert_eq!(
                        plan.passes(from, to),
                        same_side || from == to,
                        "seed {seed} {from}->{to}"
                    );
                }
            }
        }
    }

    #[test]
    fn majorities_ring_every_node_sees_a_distinct_majority() {
        for (nodes, seed) in grid() {
            let plan = plan(PartitionShape::MajoritiesRing, &nodes, None, seed);
            let seen: Vec<BTreeSet<NodeId>> =
                nodes.iter().map(|&node| plan.sees(node, &nodes)).collect();
            for (node, set) in nodes.iter().zip(&seen) {
                assert_eq!(set.len(), majority(nodes.len()), "seed {seed} node {node}");
                assert!(set.contains(node));
            }
            let distinct: BTreeSet<&BTreeSet<NodeId>> = seen.iter().collect();
            assert_eq!(
                distinct.len(),
                nodes.len(),
                "seed {seed}: two nodes see the same majority"
            );
        }
    }

    #[test]
    fn bridge_node_sees_everyone_and_the_sides_do_not_see_each_other() {
        for (nodes, seed) in grid() {
            let plan = plan(PartitionShape::Bridge, &nodes, None, seed);
            let [left, right] = [&plan.components[0], &plan.components[1]];
            let bridges: Vec<NodeId> = left
                .iter()
                .copied()
                .filter(|id| right.contains(id))
                .collect();
            assert_eq!(bridges.len(), 1, "seed {seed}");
            let bridge = bridges[0];
            assert_eq!(
                plan.sees(bridge, &nodes).len(),
                nodes.len(),
                "bridge sees all, seed {seed}"
            );
            for &from in &nodes {
                assert!(plan.passes(from, bridge) && plan.passes(bridge, from));
            }
            for &a in left.iter().filter(|&&id| id != bridge) {
                for &b in right.iter().filter(|&&id| id != bridge) {
                    assert!(
                        !plan.passes(a, b) && !plan.passes(b, a),
                        "seed {seed} {a}<->{b}"
                    );
                }
            }
            assert_eq!(left.len() + right.len(), nodes.len() + 1);
        }
    }

    #[test]
    fn one_way_cuts_exactly_one_direction() {
        for (nodes, seed) in grid() {
            let plan = plan(PartitionShape::OneWay, &nodes, None, seed);
            assert!(!plan.dropped.is_empty());
            for &(from, to) in &plan.dropped {
                assert!(
                    plan.passes(to, from),
                    "seed {seed}: reverse of {from}->{to} must pass"
                );
                assert!(plan.components[0].contains(&from) && plan.components[1].contains(&to));
            }
            let cross = plan.components[0].len() * plan.components[1].len();
            assert_eq!(plan.dropped.len(), cross, "seed {seed}");
        }
    }

    #[test]
    fn isolate_leader_isolates_the_given_leader_both_ways() {
        for (nodes, seed) in grid() {
            let leader = nodes[usize::try_from(seed).expect("small") % nodes.len()];
            let plan = plan(PartitionShape::IsolateLeader, &nodes, Some(leader), seed);
            assert_eq!(plan.components[0], vec![leader]);
            assert_eq!(plan.sees(leader, &nodes).len(), 1);
            for &other in nodes.iter().filter(|&&id| id != leader) {
                assert_eq!(
                    plan.sees(other, &nodes).len(),
                    nodes.len() - 1,
                    "seed {seed}"
                );
            }
        }
    }

    #[test]
    fn plans_depend_only_on_inputs_not_on_node_order() {
        let nodes: Vec<NodeId> = (1..=5).map(NodeId).collect();
        let reversed: Vec<NodeId> = nodes.iter().rev().copied().collect();
        for shape in PartitionShape::ALL {
            assert_eq!(
                plan(shape, &nodes, None, 9),
                plan(shape, &reversed, None, 9)
            );
        }
    }

    #[test]
    fn a_single_node_cuts_nothing() {
        for shape in PartitionShape::ALL {
            assert!(plan(shape, &[NodeId(1)], None, 1).dropped.is_empty());
        }
    }
}
