//! The executor: turns fault starts and stops into actions on a running [`Cluster`] and its proxy mesh,
//! and describes each action as a history record.
//!
//! Guarantees: a stop undoes exactly what its start did (restarts the nodes it killed, resumes the nodes
//! it paused, heals the links); `Heal` undoes every active fault; a stop of a fault that is not active
//! (e.g. after a heal) is a no-op that says so; every runtime choice (which nodes, which halves) is drawn
//! from the event's `choice_seed`. Link faults replace one another: links hold one setting each, so two
//! link faults active at once leave the later one's settings, and stopping either heals all links.

use super::{plan_partition, Fault, Phase, ScheduledEvent, Target};
use crate::cluster::{Cluster, ClusterError, NodeState};
use crate::proxy::LinkFault;
use raftkv::raft::NodeId;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The server flag a node must run with for `lost-writes` to lose anything.
pub const UNSAFE_LOSE_UNSYNCED_WRITES_FLAG: &str = "--unsafe-lose-unsynced-writes";
/// The history `process` of nemesis events.
pub const NEMESIS_PROCESS: &str = "nemesis";
/// The history `type` of nemesis events.
pub const NEMESIS_EVENT_TYPE: &str = "info";

/// What the history records for one nemesis action: process `nemesis`, type `info`, this `f` and value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NemesisRecord {
    /// `start-<name>` or `stop-<name>`.
    pub f: String,
    /// What was done, e.g. `{"shape": "bridge", "components": [[1,2,3],[3,4,5]], "dropped": [[1,4], ...]}`.
    pub value: serde_json::Value,
}

/// Why a fault could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum NemesisError {
    /// A link fault on a cluster started without the proxy mesh.
    #[error("fault {0} needs the proxy mesh, but the cluster runs without it")]
    NoProxy(String),
    /// `lost-writes` on nodes not started with `--unsafe-lose-unsynced-writes`.
    #[error("lost-writes needs nodes started with {UNSAFE_LOSE_UNSYNCED_WRITES_FLAG}; node(s) {0:?} are not")]
    LostWritesNeedsUnsafeFlag(Vec<NodeId>),
    /// A process operation failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

#[derive(Clone, Debug)]
enum Undo {
    HealLinks,
    Restart(Vec<NodeId>),
    Resume(Vec<NodeId>),
}

#[derive(Clone, Debug)]
struct ActiveFault {
    fault: Fault,
    undo: Undo,
}

/// Picks the target nodes among `candidates` (sorted result). `Leader` falls back to a random candidate
/// when the leader is unknown or not a candidate. Empty candidates give an empty result.
pub fn resolve_targets<R: Rng + ?Sized>(
    target: Target,
    candidates: &[NodeId],
    leader: Option<NodeId>,
    rng: &mut R,
) -> Vec<NodeId> {
    let mut shuffled = candidates.to_vec();
    shuffled.sort();
    shuffled.dedup();
    shuffled.shuffle(rng);
    let n = shuffled.len();
    let count = match target {
        Target::One => 1,
        Target::Leader => {
            if let Some(leader) = leader.filter(|id| shuffled.contains(id)) {
                return vec![leader];
            }
            1
        }
        Target::Minority => ((n.saturating_sub(1)) / 2).max(1),
        Target::Majority => n / 2 + 1,
        Target::All => n,
    };
    let mut chosen: Vec<NodeId> = shuffled.into_iter().take(count.min(n)).collect();
    chosen.sort();
    chosen
}

/// Applies faults to one cluster and remembers how to undo them.
#[derive(Debug, Default)]
pub struct Nemesis {
    active: Vec<ActiveFault>,
}

fn record(phase: Phase, fault: &Fault, value: serde_json::Value) -> NemesisRecord {
    NemesisRecord {
        f: format!("{phase}-{}", fault.name()),
        value,
    }
}

impl Nemesis {
    /// A nemesis with nothing active.
    pub fn new() -> Nemesis {
        Nemesis::default()
    }

    /// The faults currently in effect, oldest first.
    pub fn active(&self) -> Vec<Fault> {
        self.active
            .iter()
            .map(|active| active.fault.clone())
            .collect()
    }

    /// Applies a scheduled event (start or stop).
    pub fn apply(
        &mut self,
        cluster: &mut Cluster,
        event: &ScheduledEvent,
        leader: Option<NodeId>,
    ) -> Result<NemesisRecord, NemesisError> {
        match event.phase {
            Phase::Start => self.start(cluster, &event.fault, leader, event.choice_seed),
            Phase::Stop => self.stop(cluster, &event.fault),
        }
    }

    /// Starts `fault`. `leader` is the caller's best knowledge of the current leader.
    pub fn start(
        &mut self,
        cluster: &mut Cluster,
        fault: &Fault,
        leader: Option<NodeId>,
        choice_seed: u64,
    ) -> Result<NemesisRecord, NemesisError> {
        let mut rng = ChaCha8Rng::seed_from_u64(choice_seed);
        let mesh = || {
            cluster
                .mesh()
                .ok_or_else(|| NemesisError::NoProxy(fault.to_string()))
        };
        let (value, undo) = match fault {
            Fault::Partition { shape } => {
                let plan = plan_partition(*shape, &cluster.ids(), leader, &mut rng);
                let mesh = mesh()?;
                for link in mesh.links() {
                    let cut = plan.dropped.contains(&(link.from(), link.to()));
                    link.set(if cut {
                        LinkFault::Drop
                    } else {
                        LinkFault::Pass
                    });
                }
                let value = serde_json::to_value(&plan)
                    .unwrap_or_else(|error| json!({"error": error.to_string()}));
                (value, Some(Undo::HealLinks))
            }
            Fault::Delay { mean_ms, jitter_ms } => {
                mesh()?.set_all(LinkFault::Delay {
                    mean_ms: *mean_ms,
                    jitter_ms: *jitter_ms,
                });
                (
                    json!({"links": "all", "mean_ms": mean_ms, "jitter_ms": jitter_ms}),
                    Some(Undo::HealLinks),
                )
            }
            Fault::Loss { probability } => {
                mesh()?.set_all(LinkFault::Loss {
                    probability: *probability,
                });
                (
                    json!({"links": "all", "probability": probability}),
                    Some(Undo::HealLinks),
                )
            }
            Fault::Kill { target } | Fault::LostWrites { target } => {
                let live = self.nodes_in(cluster, &[NodeState::Running, NodeState::Paused]);
                let nodes = resolve_targets(*target, &live, leader, &mut rng);
                if matches!(fault, Fault::LostWrites { .. }) {
                    let unflagged: Vec<NodeId> = nodes
                        .iter()
                        .copied()
                        .filter(|&id| {
                            cluster
                                .node(id)
                                .map(|node| {
                                    !node
                                        .spec()
                                        .args
                                        .iter()
                                        .any(|arg| arg == UNSAFE_LOSE_UNSYNCED_WRITES_FLAG)
                                })
                                .unwrap_or(true)
                        })
                        .collect();
                    if !unflagged.is_empty() {
                        return Err(NemesisError::LostWritesNeedsUnsafeFlag(unflagged));
                    }
                }
                let mut exits = Vec::new();
                for &id in &nodes {
                    exits.push(json!({"node": id, "exit": cluster.kill(id)?}));
                }
                (
                    json!({"target": target, "nodes": nodes, "exits": exits}),
                    Some(Undo::Restart(nodes)),
                )
            }
            Fault::Pause { target } => {
                let running = self.nodes_in(cluster, &[NodeState::Running]);
                let nodes = resolve_targets(*target, &running, leader, &mut rng);
                for &id in &nodes {
                    cluster.pause(id)?;
                }
                (
                    json!({"target": target, "nodes": nodes}),
                    Some(Undo::Resume(nodes)),
                )
            }
            Fault::Heal => {
                let mut undone = Vec::new();
                while let Some(active) = self.active.pop() {
                    let value = Self::undo(cluster, &active.undo)?;
                    undone.push(json!({"fault": active.fault.to_string(), "undo": value}));
                }
                (json!({"undone": undone}), None)
            }
        };
        if let Some(undo) = undo {
            self.active.push(ActiveFault {
                fault: fault.clone(),
                undo,
            });
        }
        Ok(record(Phase::Start, fault, value))
    }

    /// Stops `fault` (the most recent active instance equal to it); a no-op if it is not active.
    pub fn stop(
        &mut self,
        cluster: &mut Cluster,
        fault: &Fault,
    ) -> Result<NemesisRecord, NemesisError> {
        let Some(position) = self
            .active
            .iter()
            .rposition(|active| &active.fault == fault)
        else {
            return Ok(record(Phase::Stop, fault, json!({"note": "not active"})));
        };
        let active = self.active.remove(position);
        let value = Self::undo(cluster, &active.undo)?;
        Ok(record(Phase::Stop, fault, value))
    }

    /// Undoes every active fault (the same as starting `Heal`).
    pub fn heal_all(&mut self, cluster: &mut Cluster) -> Result<NemesisRecord, NemesisError> {
        self.start(cluster, &Fault::Heal, None, 0)
    }

    fn nodes_in(&self, cluster: &Cluster, states: &[NodeState]) -> Vec<NodeId> {
        cluster
            .nodes()
            .filter(|node| states.contains(&node.state()))
            .map(|node| node.id())
            .collect()
    }

    fn undo(cluster: &mut Cluster, undo: &Undo) -> Result<serde_json::Value, NemesisError> {
        match undo {
            Undo::HealLinks => {
                if let Some(mesh) = cluster.mesh() {
                    mesh.heal();
                }
                Ok(json!({"links": "all healed"}))
            }
            Undo::Restart(nodes) => {
                let mut pids = Vec::new();
                for &id in nodes {
                    // A node restarted meanwhile (e.g. by an overlapping fault) stays as it is.
                    if cluster.state(id)? == NodeState::Stopped {
                        pids.push(json!({"node": id, "pid": cluster.restart(id)?}));
                    }
                }
                Ok(json!({"restarted": pids}))
            }
            Undo::Resume(nodes) => {
                let mut resumed = Vec::new();
                for &id in nodes {
                    // A paused node that was killed meanwhile has nothing to resume.
                    if cluster.state(id)? == NodeState::Paused {
                        cluster.resume(id)?;
                        resumed.push(id);
                    }
                }
                Ok(json!({"resumed": resumed}))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: u64) -> Vec<NodeId> {
        (1..=n).map(NodeId).collect()
    }

    #[test]
    fn target_sizes_follow_their_names() {
        for n in 1..=7u64 {
            for seed in 0..20 {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let all = nodes(n);
                let size = |target| resolve_targets(target, &all, None, &mut rng.clone()).len();
                assert_eq!(size(Target::One), 1);
                assert_eq!(size(Target::Leader), 1);
                assert_eq!(size(Target::All), all.len());
                assert_eq!(size(Target::Majority), all.len() / 2 + 1);
                let minority = size(Target::Minority);
                assert!(
                    minority >= 1 && (n < 3 || minority < all.len() / 2 + 1),
                    "n={n}"
                );
                let chosen = resolve_targets(Target::Majority, &all, None, &mut rng);
                assert!(
                    chosen.windows(2).all(|w| w[0] < w[1])
                        && chosen.iter().all(|id| all.contains(id))
                );
            }
        }
    }

    #[test]
    fn leader_target_picks_the_leader_and_falls_back_when_unknown() {
        let all = nodes(5);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(
            resolve_targets(Target::Leader, &all, Some(NodeId(4)), &mut rng),
            vec![NodeId(4)]
        );
        assert_eq!(
            resolve_targets(Target::Leader, &all, Some(NodeId(9)), &mut rng).len(),
            1
        );
        assert!(resolve_targets(Target::All, &[], None, &mut rng).is_empty());
    }

    #[test]
    fn same_choice_seed_same_targets() {
        let all = nodes(7);
        let pick = |seed| {
            resolve_targets(
                Target::Minority,
                &all,
                None,
                &mut ChaCha8Rng::seed_from_u64(seed),
            )
        };
        assert_eq!(pick(3), pick(3));
        assert!((0..20).any(|seed| pick(seed) != pick(3)));
    }
}
