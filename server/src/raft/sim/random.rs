//! Randomized simulation runs: a cluster of 3 or 5 nodes over the simulated network with drops,
//! duplicates, reordering, partitions (random halves, isolated leader), crash-restarts that keep only
//! durable state, client proposals and reads. The safety properties are checked after every step; after
//! the faults heal, a new proposal must commit within a bounded number of ticks.
//!
//! `SIM_SEED=n` replays one seed, `SIM_RUNS=n` widens the default sweep. A failure prints its seed.

use super::cluster::Cluster;
use super::network::{Network, NetworkFaults};
use crate::bugs::BugSet;
use crate::raft::rng::SplitMix64;
use crate::raft::safety::Violation;
use crate::raft::{Config, LogIndex, NodeId, Term};

/// Settings of one run.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Cluster size.
    pub nodes: u64,
    /// Ticks with faults.
    pub fault_ticks: u64,
    /// After healing, a proposal must commit within this many ticks.
    pub heal_ticks_max: u64,
    /// Network fault rates during the fault phase.
    pub faults: NetworkFaults,
    /// Per-mille chance per tick of a partition change.
    pub partition_per_mille: u64,
    /// Per-mille chance per tick of a crash.
    pub crash_per_mille: u64,
    /// Percent chance per tick and node of an fsync (slow disks widen the unsynced window).
    pub fsync_percent: u64,
    /// Bug switches for every node.
    pub bugs: BugSet,
    /// Compact a node's log after this many applied entries (0: never).
    pub snapshot_threshold: u64,
    /// InstallSnapshot chunk size.
    pub snapshot_chunk_bytes: usize,
    /// Per-mille chance per tick that the leader starts a membership change (add a learner, remove a
    /// member, or a joint change to a random voter set).
    pub membership_change_per_mille: u64,
}

impl SimOptions {
    /// The default mix for `nodes` nodes.
    pub fn new(nodes: u64) -> SimOptions {
        SimOptions {
            nodes,
            fault_ticks: 1_000,
            heal_ticks_max: 1_000,
            faults: NetworkFaults {
                drop_per_mille: 50,
                duplicate_per_mille: 20,
                delay_ticks_max: 3,
            },
            partition_per_mille: 15,
            crash_per_mille: 8,
            fsync_percent: 60,
            bugs: BugSet::none(),
            snapshot_threshold: 0,
            snapshot_chunk_bytes: 8,
            membership_change_per_mille: 0,
        }
    }

    /// Swarm testing: fault rates drawn from the seed, so that different seeds stress different mixes
    /// (calm networks, lossy ones, crash storms, slow disks).
    pub fn swarm(seed: u64) -> SimOptions {
        let mut rng = SplitMix64::new(seed ^ 0x5EED_5EED);
        let mut pick = |choices: &[u64]| choices[rng.gen_range(0, choices.len() as u64) as usize];
        let nodes = [3, 5][(seed % 2) as usize];
        let mut options = SimOptions::new(nodes);
        options.faults.drop_per_mille = pick(&[0, 20, 50, 200]);
        options.faults.duplicate_per_mille = pick(&[0, 20, 100]);
        options.faults.delay_ticks_max = pick(&[1, 3, 8]);
        options.partition_per_mille = pick(&[0, 5, 15, 40]);
        options.crash_per_mille = pick(&[0, 8, 30, 60]);
        options.fsync_percent = pick(&[10, 30, 60, 95]);
        options.snapshot_threshold = pick(&[0, 3, 10, 40]);
        options.snapshot_chunk_bytes = pick(&[3, 7, 64]) as usize;
        options.membership_change_per_mille = pick(&[0, 0, 5, 20]);
        options
    }
}

/// What a successful run did (so tests can check the run was not vacuous).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Entries known committed.
    pub committed: usize,
    /// Crashes injected.
    pub crashes: u64,
    /// Highest term reached.
    pub max_term: Term,
    /// Reads served.
    pub reads_served: usize,
    /// Snapshots taken (compactions).
    pub snapshots_taken: u64,
    /// Snapshots installed through InstallSnapshot.
    pub snapshots_installed: u64,
    /// Membership changes the leader accepted.
    pub membership_changes: u64,
}

/// One randomized run; `Err` names the first violated property.
pub fn run_seed(seed: u64, options: &SimOptions) -> Result<RunStats, Violation> {
    let mut rng = SplitMix64::new(seed);
    let bugs = options.bugs.clone();
    let mut cluster = Cluster::new(
        options.nodes,
        |id| Config {
            bugs: bugs.clone(),
            snapshot_chunk_bytes: options.snapshot_chunk_bytes,
            ..Config::new(id)
        },
        seed,
    );
    cluster.snapshot_threshold = options.snapshot_threshold;
    let mut network = Network::default();
    let mut stats = RunStats::default();
    let ids: Vec<NodeId> = (1..=options.nodes).map(NodeId).collect();
    let mut next_value = 0u64;
    let mut next_read = 0u64;

    for now in 0..options.fault_ticks {
        inject_faults(
            &mut cluster,
            &mut network,
            options,
            &ids,
            &mut rng,
            &mut stats,
        )?;
        step_tick(
            &mut cluster,
            &mut network,
            now,
            options.faults,
            options.fsync_percent,
            &ids,
            &mut rng,
        )?;
        if rng.gen_range(0, 100) < 30 {
            if let Some(leader) = cluster.leader() {
                next_value += 1;
                cluster.propose(leader, next_value.to_be_bytes().to_vec())?;
            }
        }
        if rng.gen_range(0, 1000) < 5 {
            if let Some(leader) = cluster.leader() {
                let target = ids[rng.gen_range(0, ids.len() as u64) as usize];
                cluster.transfer_leadership(leader, target)?;
            }
        }
        if rng.gen_range(0, 1000) < options.membership_change_per_mille
            && change_membership(&mut cluster, &ids, &mut rng)?
        {
            stats.membership_changes += 1;
        }
        if rng.gen_range(0, 100) < 10 {
            let target = ids[rng.gen_range(0, ids.len() as u64) as usize];
            next_read += 1;
            cluster.read_index(target, next_read)?;
        }
    }

    // Heal: reconnect, restart everyone, stop dropping; a new proposal must commit.
    network.heal();
    for id in &ids {
        cluster.restart(*id);
    }
    let calm = NetworkFaults {
        drop_per_mille: 0,
        duplicate_per_mille: 0,
        ..options.faults
    };
    let mut probe: Option<(LogIndex, Term, u64)> = None;
    let start = options.fault_ticks;
    for now in start..start + options.heal_ticks_max {
        step_tick(&mut cluster, &mut network, now, calm, 60, &ids, &mut rng)?;
        if let Some((index, term, _)) = probe {
            if cluster
                .monitor
                .applied_at(index)
                .is_some_and(|(t, _)| *t == term)
            {
                stats.committed = cluster.monitor.committed_count();
                stats.reads_served = cluster.reads_served.len();
                stats.snapshots_taken = cluster.snapshots_taken;
                stats.snapshots_installed = cluster.snapshots_installed;
                stats.max_term = ids
                    .iter()
                    .map(|id| cluster.term(*id))
                    .max()
                    .unwrap_or_default();
                return Ok(stats);
            }
        }
        // (Re)propose when there is no probe or its leader lost office.
        let stale = probe
            .is_none_or(|(_, term, _)| cluster.leader().is_none_or(|l| cluster.term(l) != term));
        if stale {
            if let Some(leader) = cluster.leader() {
                next_value += 1;
                if let Some(Ok((index, term))) =
                    cluster.propose(leader, next_value.to_be_bytes().to_vec())?
                {
                    probe = Some((index, term, now));
                }
            }
        }
    }
    let states: Vec<String> = ids
        .iter()
        .map(|id| {
            let status = cluster.node(*id).status();
            let configs: Vec<String> = cluster
                .node(*id)
                .log_entries()
                .iter()
                .filter_map(|e| match &e.payload {
                    crate::raft::EntryPayload::Config(c) => Some(format!(
                        "{}@{}:{:?}/{:?}",
                        e.index, e.term, c.voters, c.voters_outgoing
                    )),
                    _ => None,
                })
                .collect();
            format!(
                "{id} snap {} configs {configs:?}: {} term {} last {} commit {} voters {:?} outgoing {:?} learners {:?}",
                cluster.node(*id).snapshot_index(),
                status.role,
                status.term,
                status.last_index,
                status.commit_index,
                status.cluster.voters,
                status.cluster.voters_outgoing,
                status.cluster.learners
            )
        })
        .collect();
    Err(Violation::NoProgress {
        detail: format!(
            "no proposal committed within {} ticks after healing (probe {probe:?}); nodes: {}",
            options.heal_ticks_max,
            states.join("; ")
        ),
    })
}

/// The leader (if any) tries a random membership change; returns whether it was accepted.
fn change_membership(
    cluster: &mut Cluster,
    ids: &[NodeId],
    rng: &mut SplitMix64,
) -> Result<bool, Violation> {
    let Some(leader) = cluster.leader() else {
        return Ok(false);
    };
    let target = ids[rng.gen_range(0, ids.len() as u64) as usize];
    let kind = rng.gen_range(0, 3);
    let voters: std::collections::BTreeSet<NodeId> = ids
        .iter()
        .copied()
        .filter(|_| rng.gen_range(0, 3) > 0)
        .collect();
    // Configurations may shrink to a single voter: it takes office only once its term is durable (see
    // `election.rs`), which these runs check with crashes right after such wins.
    let accepted = cluster.change_membership(leader, |raw| match kind {
        0 => raw.add_learner(target).is_ok(),
        1 => raw.remove_member(target).is_ok(),
        2 if !voters.is_empty() => raw.change_voters(voters).is_ok(),
        _ => false,
    })?;
    Ok(accepted == Some(true))
}

/// Random partitions, crashes and restarts.
fn inject_faults(
    cluster: &mut Cluster,
    network: &mut Network,
    options: &SimOptions,
    ids: &[NodeId],
    rng: &mut SplitMix64,
    stats: &mut RunStats,
) -> Result<(), Violation> {
    if rng.gen_range(0, 1000) < options.partition_per_mille {
        match rng.gen_range(0, 3) {
            0 => network.heal(),
            1 => {
                let minority: Vec<NodeId> = ids
                    .iter()
                    .copied()
                    .filter(|_| rng.gen_range(0, 2) == 0)
                    .collect();
                network.partition(&minority);
            }
            _ => {
                if let Some(leader) = cluster.leader() {
                    network.partition(&[leader]);
                }
            }
        }
    }
    if rng.gen_range(0, 1000) < options.crash_per_mille {
        let victim = ids[rng.gen_range(0, ids.len() as u64) as usize];
        if cluster.alive().contains(&victim) {
            cluster.crash(victim)?;
            stats.crashes += 1;
        }
    }
    for id in ids {
        if !cluster.alive().contains(id) && rng.gen_range(0, 100) < 5 {
            cluster.restart(*id);
        }
    }
    Ok(())
}

/// One tick of simulated time: deliver due messages, tick every node, fsync some, send what came out.
fn step_tick(
    cluster: &mut Cluster,
    network: &mut Network,
    now: u64,
    faults: NetworkFaults,
    fsync_percent: u64,
    ids: &[NodeId],
    rng: &mut SplitMix64,
) -> Result<(), Violation> {
    let (due, lost) = network.due(now);
    for msg in due {
        cluster.deliver(msg)?;
    }
    for msg in lost {
        cluster.report_unreachable(msg.from, msg.to)?;
    }
    for id in ids {
        cluster.tick(*id)?;
        if rng.gen_range(0, 100) < fsync_percent {
            cluster.fsync(*id)?;
        }
    }
    for msg in std::mem::take(&mut cluster.outbox) {
        let (from, to) = (msg.from, msg.to);
        if !network.send(msg, now, faults, rng) {
            cluster.report_unreachable(from, to)?;
        }
    }
    Ok(())
}

/// `SIM_SEED` (one seed) or the range `0..SIM_RUNS` (default `default_runs`).
pub fn seeds_from_env(default_runs: u64) -> Vec<u64> {
    if let Some(seed) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        return vec![seed];
    }
    let runs = std::env::var("SIM_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_runs);
    (0..runs).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugs::Bug;

    #[test]
    fn random_runs_keep_every_safety_property_and_recover() {
        let mut totals = RunStats::default();
        for seed in seeds_from_env(300) {
            let options = SimOptions::swarm(seed);
            let nodes = options.nodes;
            match run_seed(seed, &options) {
                Ok(stats) => {
                    totals.committed += stats.committed;
                    totals.crashes += stats.crashes;
                    totals.reads_served += stats.reads_served;
                    totals.snapshots_taken += stats.snapshots_taken;
                    totals.snapshots_installed += stats.snapshots_installed;
                    totals.membership_changes += stats.membership_changes;
                    totals.max_term = totals.max_term.max(stats.max_term);
                }
                Err(violation) => panic!(
                    "SIM_SEED={seed} ({nodes} nodes) failed: {violation}\nreplay: SIM_SEED={seed} cargo test -p raftkv random_runs"
                ),
            }
        }
        eprintln!("sim totals: {totals:?}");
        // The runs did real work: entries committed, crashes happened, reads were served, elections ran.
        assert!(totals.committed > 0, "no entry committed: {totals:?}");
        if std::env::var("SIM_SEED").is_err() {
            assert!(
                totals.crashes > 0
                    && totals.reads_served > 0
                    && totals.max_term > Term(1)
                    && totals.snapshots_taken > 0
                    && totals.snapshots_installed > 0
                    && totals.membership_changes > 0,
                "{totals:?}"
            );
        }
    }

    #[test]
    fn vote_any_log_breaks_leader_completeness_for_some_seed() {
        let mut options = SimOptions::new(3);
        options.bugs = [Bug::VoteAnyLog].into_iter().collect();
        let found = (0..200).find_map(|seed| match run_seed(seed, &options) {
            Err(
                v @ (Violation::LeaderCompleteness { .. } | Violation::StateMachineSafety { .. }),
            ) => Some((seed, v)),
            _ => None,
        });
        assert!(found.is_some(), "VoteAnyLog was never caught in 200 seeds");
    }
}
