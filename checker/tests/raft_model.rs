//! Model checks of the real Raft core (`checker::raft_model`): a small configuration is explored
//! exhaustively with every property holding, and each bug switch yields a counterexample of the expected
//! property. Bounds are chosen so that the whole file runs in well under a minute in the dev profile.

use checker::raft_model::actor::{ActorState, ModelMsg};
use checker::raft_model::client_answers;
use checker::raft_model::dead_votes;
use checker::raft_model::ghost_forgetting;
use checker::raft_model::properties::{self, LEADER_COMPLETENESS, LINEARIZABLE};
use checker::raft_model::reduction;
use checker::raft_model::render::render_path;
use checker::raft_model::runner::{run_check, PropertyOutcome, RunOptions, RunReport, Strategy};
use checker::raft_model::subsumption::Subsumption;
use checker::raft_model::symmetry::{
    canonical_perm, canonical_perm_with, class_fingerprint_with, class_parts, StaleRequests,
};
use checker::raft_model::{ModelConfig, NetworkKind, RaftModel, RaftModelState, StopFlag};
use raftkv::bugs::{Bug, BugSet};
use raftkv::raft::Role;
use stateright::actor::ActorModelAction;
use stateright::{Expectation, Model};
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// A safety net only: the tests below finish far sooner; hitting it makes the run non-exhaustive.
const TEST_TIME_LIMIT: Duration = Duration::from_secs(300);

fn tiny(bugs: BugSet) -> ModelConfig {
    ModelConfig {
        servers: 3,
        max_term: 1,
        max_log: 1,
        clients: 0,
        ops_per_client: 1,
        crashes: 0,
        network: NetworkKind::Unordered,
        pre_vote: false,
        entries_per_append: None,
        inflight_appends: None,
        saturate: true,
        rejections_together: true,
        eager_timeouts: true,
        refusals_are_no_step: true,
        forget_settled_ghost: true,
        forget_done_votes: true,
        restart_at_once: true,
        client_answers_at_once: true,
        bugs,
        stop: StopFlag::default(),
    }
}

fn check(config: &ModelConfig, strategy: Strategy, threads: usize) -> RunReport {
    let options = RunOptions {
        threads,
        strategy,
        symmetry: true,
        time_limit: Some(TEST_TIME_LIMIT),
        max_states: None,
        max_depth: None,
        subsumption: true,
    };
    run_check(config, &options, &mut |_| {}).expect("valid configuration")
}

fn assert_all_hold(report: &RunReport) {
    assert!(
        report.exhausted,
        "the bounded space must be explored completely"
    );
    for property in &report.properties {
        assert!(
            matches!(
                property.outcome,
                PropertyOutcome::Holds | PropertyOutcome::Found(_)
            ),
            "{} failed: {:?}",
            property.name,
            property.outcome
        );
    }
    assert_eq!(report.exit_code(), 0);
}

/// Exhausts `config` with DFS (1 thread: with subsumption, which states are skipped depends on the
/// order they come in, so only a single thread's count is fixed), asserts every property holds and
/// the space has exactly `unique_states` states.
fn assert_exhausted_safe(config: &ModelConfig, unique_states: usize) {
    let report = check(config, Strategy::Dfs, 1);
    assert_all_hold(&report);
    assert_eq!(report.unique_states, unique_states);
}

#[test]
fn tiny_cluster_is_exhaustively_safe_with_a_stable_state_count() {
    // The number of unique states (after symmetry reduction) is a fingerprint of the model: a change
    // means the state space changed (core, model or bounds), not that the test is flaky. Verified equal
    // with 1 and 2 threads. 59,854 before answers of the receiver's own term that it can never read
    // were dead (`raft_model::reduction`).
    // 21,283 before a heartbeat carried the commit index only as far as its receiver matched (as
    // etcd's) and followers forgot how far they matched (`RawNode::normalize_leader_knowledge`).
    // 19,960 before a vote for a candidate done with its term was forgotten and a vote request of
    // such a candidate to a server that had voted was dead (`raft_model::dead_votes`).
    assert_exhausted_safe(&tiny(BugSet::none()), 4_972);
}

/// `crashes` bounds the total number of crashes (not only servers down at once): with one crash the tiny
/// configuration, where every server may crash and restart at any point, is still exhausted, every
/// always-property holds, and the space has exactly this size.
#[test]
fn one_crash_in_total_is_exhausted_with_every_safety_property_holding() {
    let config = ModelConfig {
        crashes: 1,
        ..tiny(BugSet::none())
    };
    let report = check(&config, Strategy::Dfs, 2);
    assert!(
        report.exhausted,
        "the bounded space must be explored completely"
    );
    for property in &report.properties {
        if property.always {
            assert!(
                matches!(property.outcome, PropertyOutcome::Holds),
                "{} must hold: {:?}",
                property.name,
                property.outcome
            );
        }
    }
    // A fingerprint of the space, as above; with crashes counted only while servers are down (the
    // earlier meaning) the count would be larger and grow with every crash-restart cycle. 620,478
    // before answers of the receiver's own term that it can never read were dead; 206,838 before
    // answers to a server that is down were dead too; 194,589 before a server that was not the
    // leader restarted in the same step as its crash (`raft_model::restarts`); 132,258 before a
    // follower counted its commit index as matching its leader, 126,693 before one that voted
    // forgot a leader it knew no more of (both `RawNode::normalize_leader_knowledge`); 93,593
    // before a heartbeat carried the commit index only as far as its receiver matched; 61,122
    // before votes for candidates done with their term were forgotten (`raft_model::dead_votes`).
    assert_eq!(report.unique_states, 17_833);
}

/// The duplicating network with saturation (the default): every behaviour of the unordered and lossy
/// networks and more, in a fraction of the states.
fn tiny_duplicating(bugs: BugSet) -> ModelConfig {
    ModelConfig {
        network: NetworkKind::UnorderedDuplicating,
        ..tiny(bugs)
    }
}

/// Pre-vote on the duplicating network at the tiny bounds, with `crashes` crashes in total.
fn pre_vote_crashes(crashes: usize) -> ModelConfig {
    ModelConfig {
        pre_vote: true,
        crashes,
        ..tiny_duplicating(BugSet::none())
    }
}

/// Pre-vote on the duplicating network with one client's put (logs up to 2).
fn pre_vote_put() -> ModelConfig {
    ModelConfig {
        pre_vote: true,
        max_log: 2,
        clients: 1,
        ..tiny_duplicating(BugSet::none())
    }
}

/// Saturation is sound and pays: on the duplicating network the tiny configuration gives the same
/// verdicts with and without it (every always-property holds, a value is committed), and with it the
/// space has exactly this many states, several times fewer.
#[test]
fn saturation_keeps_the_verdicts_and_shrinks_the_space() {
    // Fingerprints of the two spaces, as in the tests above. 100 before leader commit indexes a
    // receiver had passed were left out of the representative (`raft_model::reduction`); 95 before
    // a follower that voted forgot a leader it knew no more of (`RawNode::normalize_leader_knowledge`);
    // 75 before votes for candidates done with their term were forgotten (`raft_model::dead_votes`);
    // 53 before DFS explored answers between servers and client deliveries after requests and
    // timeouts (`system::exploration_rank`).
    assert_exhausted_safe(&tiny_duplicating(BugSet::none()), 54);
    let plain = ModelConfig {
        saturate: false,
        ..tiny_duplicating(BugSet::none())
    };
    // 4,035 before answers of the receiver's own term that it can never read were dead; 749 before
    // leader commit indexes a receiver had passed were left out of the representative; 691 before
    // a heartbeat carried the commit index only as far as its receiver matched; 698 before votes
    // for candidates done with their term were forgotten (`raft_model::dead_votes`).
    assert_exhausted_safe(&plain, 533);
}

/// With pre-vote and check-quorum on, a pre-candidate counts as in the term it campaigns for, so the
/// tiny bounds stay finite (pre-vote rounds that could never win used to run on at the bound without end)
/// and are exhausted with every property holding.
#[test]
fn pre_vote_at_the_term_bound_is_exhausted() {
    let config = ModelConfig {
        pre_vote: true,
        ..tiny_duplicating(BugSet::none())
    };
    // 1,746 before leaders normalized their quorum activity (`RawNode::normalize_quorum_activity`);
    // 1,202 before rejections were delivered only in losing sets (`raft_model::rejections`); 1,111
    // before the eager timeouts (`raft_model::eager_timeouts`: 345 with only leaderless followers
    // campaigning at once, 245 with passing check-quorum rounds too, before subsumption); 243 before
    // pre-votes for the receiver's term were answered as stale and passed leader commit indexes were
    // left out (`raft_model::reduction`); 215 before a heartbeat carried the commit index only as
    // far as its receiver matched (more distinct heartbeats in flight); 225 before votes for
    // candidates done with their term were forgotten (`raft_model::dead_votes`), appends were held
    // without the entries their receiver holds and pre-votes whose sender reached their term as
    // stale ones (`raft_model::reduction`); 151 before DFS explored answers between servers and
    // client deliveries after requests and timeouts (`system::exploration_rank`).
    assert_exhausted_safe(&config, 153);
}

/// Classic Raft with two terms and two entries (the bounds of the published TLC run of raft.tla, whose
/// network also neither drops nor duplicates) and one crash anywhere, on the duplicating network
/// (which includes the non-duplicating behaviours), is exhausted with every always-property holding.
#[test]
fn two_terms_two_entries_and_a_crash_are_exhausted_on_the_duplicating_network() {
    let config = ModelConfig {
        max_term: 2,
        max_log: 2,
        crashes: 1,
        ..tiny_duplicating(BugSet::none())
    };
    // 160,411 before rejections were delivered only in losing sets (`raft_model::rejections`);
    // 138,212 before stale requests were held as one stand-in per answer (`raft_model::reduction`),
    // 79,101 before answers of the receiver's own term that it can never read were dead, 70,136
    // before stale requests whose answers are dead at a sender at the term bound were dead, 33,953
    // before subsumption (`raft_model::subsumption`), 26,262 before the model forgot settled ghost
    // records (`raft_model::ghost_forgetting`), 23,972 before leader commit indexes a receiver had
    // passed were left out of the representative (`raft_model::reduction`), 20,838 before answers
    // to a server that is down were dead, 20,751 before a server that was not the leader restarted
    // in the same step as its crash (`raft_model::restarts`: 12,960), the crash budget was the
    // run's and not a server's (12,879), and DFS explored crashes last so that subsumption covers
    // a state after a restart by the same state without one; 11,739 before a leader that steps
    // down forgot that its term was durable (`RawNode::leave_leadership`), a flag only a leader
    // reads and that would tell a former leader apart from a server that never led; 10,110 before a
    // follower counted its commit index as matching its leader, 9,626 before one that voted forgot
    // a leader it knew no more of (both `RawNode::normalize_leader_knowledge`); 6,269 before
    // classic Raft stopped answering requests of an older term but pre-votes (`RawNode::answer_stale`,
    // as etcd: a stale append, heartbeat or vote request is then dead at once); 5,155 before a
    // heartbeat carried the commit index only as far as its receiver matched and a follower that
    // voted forgot its leader whatever it knew to match; 4,466 before votes for candidates done
    // with their term were forgotten (`raft_model::dead_votes`) and appends were held without the
    // entries their receiver holds (`raft_model::reduction`); 2,935 before DFS explored answers
    // between servers and client deliveries after requests and timeouts
    // (`system::exploration_rank`: fewer states at the goal's bounds, more at these); 3,080 before
    // successors were checked against the records before their closure (one successor is covered
    // before it in the canonical renaming, whose closure that renaming no longer lines up with the
    // cover) and a step back to the state it left was recognised after the rewrites (`subsumption`).
    assert_exhausted_safe(&config, 3_079);
}

/// A client's put and then read, on the default network with every interleaving of the servers'
/// messages, is exhausted: every always-property holds, linearizability included, and some run commits
/// the value. Client messages are delivered at most once (a request or answer per attempt), so the space
/// is finite without any dedup table in the servers; its size is a fingerprint as above.
#[test]
fn one_clients_put_then_read_is_exhausted_and_linearizable() {
    let config = ModelConfig {
        max_log: 2,
        clients: 1,
        ops_per_client: 2,
        ..tiny_duplicating(BugSet::none())
    };
    // 96,283 while a client picked its server in a step of its own (before session 5); 64,060
    // before rejections were delivered only in losing sets; 63,801 while leaders counted heartbeat
    // answers to find lost appends (before session 7: duplicated answers moved followers back to probe);
    // 17,665 while a refused request was a step; 12,995 before subsumption; 5,772 before leader
    // commit indexes a receiver had passed were left out of the representative; 3,258 before the
    // ghost state stopped counting restarts per server (the hashes that order servers changed, and
    // with them which states subsumption compares); 3,256 before answers that start nothing new
    // were delivered at once (`raft_model::client_answers`); 2,711 before a follower that voted
    // forgot a leader it knew no more of (`RawNode::normalize_leader_knowledge`); 2,349 before a
    // heartbeat carried the commit index only as far as its receiver matched; 2,369 before votes
    // for candidates done with their term were forgotten (`raft_model::dead_votes`) and appends
    // were held without the entries their receiver holds (`raft_model::reduction`); 1,166 before
    // heartbeats and their answers dropped the read contexts of settled ReadIndex rounds; 1,089
    // before DFS explored answers between servers and client deliveries after requests and
    // timeouts (`system::exploration_rank`: fewer states at the goal's bounds, more at these).
    assert_exhausted_safe(&config, 1_226);
}

/// What the properties and the clients can observe of a state, with servers in a canonical order:
/// each server's leadership (the properties read roles only as "leader or not"), term, vote, logs,
/// commit index, register, applied entries and crash flag, and the clients' states and history.
fn observable(state: &RaftModelState) -> String {
    let clients: Vec<String> = state
        .actor_states
        .iter()
        .filter_map(|actor| match &**actor {
            ActorState::Client(c) => Some(format!("{c:?}")),
            ActorState::Server(_) => None,
        })
        .collect();
    format!(
        "{} {clients:?} {:?}",
        servers_observable(state),
        state.history
    )
}

/// The servers' part of [`observable`]: each server's leadership, term, vote, logs, register,
/// applied entries and crash flag, in a canonical order.
fn servers_observable(state: &RaftModelState) -> String {
    let mut servers: Vec<String> = Vec::new();
    for (index, actor) in state.actor_states.iter().enumerate() {
        match &**actor {
            ActorState::Server(s) => servers.push(format!(
                "{} {:?} {:?} {:?} {:?} {} {:?} {}",
                s.role() == Role::Leader,
                s.term(),
                s.node.hard_state().voted_for.is_some(),
                s.node.log_entries(),
                s.durable.entries,
                s.kv_value,
                s.durable.ghost,
                state.crashed[index]
            )),
            ActorState::Client(_) => {}
        }
    }
    servers.sort();
    format!("{servers:?}")
}

/// Every observable projection ([`observable`]) of the states DFS reaches in `config`, and how many
/// states it reached.
fn observables(config: ModelConfig) -> (BTreeSet<String>, usize) {
    observables_with(config, StaleRequests::StandIns)
}

/// [`observables`] with the representative holding stale requests as `stale` says.
fn observables_with(config: ModelConfig, stale: StaleRequests) -> (BTreeSet<String>, usize) {
    projections(config, stale, observable)
}

/// The projections `project` of every state DFS reaches in `config`, and how many states it reached.
fn projections(
    config: ModelConfig,
    stale: StaleRequests,
    project: fn(&RaftModelState) -> String,
) -> (BTreeSet<String>, usize) {
    let model = config.into_model().expect("valid configuration");
    let mut seen = HashSet::new();
    let mut seen_observable = BTreeSet::new();
    let mut stack = model.init_states();
    while let Some(state) = stack.pop() {
        let perm = canonical_perm_with(&state, stale);
        if !seen.insert(class_fingerprint_with(&state, &perm, stale)) {
            continue;
        }
        seen_observable.insert(project(&state));
        stack.extend(model.successors(&state));
    }
    (seen_observable, seen.len())
}

/// Asserts that `reduced` reaches the same observable projections as `full`, in fewer states.
fn assert_same_observables(reduced: ModelConfig, full: ModelConfig) {
    let (with, with_states) = observables(reduced);
    let (without, without_states) = observables(full);
    assert_eq!(
        with, without,
        "the same observable states with and without the reduction"
    );
    assert!(
        with_states < without_states,
        "{with_states} states with the reduction, {without_states} without"
    );
}

/// For each of `configs`, the same observable states with the reduction as with it turned off by `off`.
fn assert_each_loses_nothing(
    configs: impl IntoIterator<Item = ModelConfig>,
    off: fn(&mut ModelConfig),
) {
    for config in configs {
        let mut full = config.clone();
        off(&mut full);
        assert_same_observables(config, full);
    }
}

/// Delivering (pre-)vote rejections only in losing sets (`raft_model::rejections`) loses nothing a
/// property or a client could see: with and without it, the same observable projections are reached
/// (pre-vote with a crash, and classic Raft with a client's put and read), in fewer states with it.
#[test]
fn rejections_together_reach_every_observable_state() {
    let configs = [
        ModelConfig {
            pre_vote: true,
            crashes: 1,
            eager_timeouts: false,
            ..tiny_duplicating(BugSet::none())
        },
        ModelConfig {
            max_log: 2,
            clients: 1,
            ops_per_client: 2,
            ..tiny_duplicating(BugSet::none())
        },
    ];
    assert_each_loses_nothing(configs, |c| c.rejections_together = false);
}

/// The eager timeouts (`raft_model::eager_timeouts`: followers below the term bound campaign at
/// once, leaders run a passing check-quorum round at once) lose nothing a property or a client could
/// see: with and without them, the same observable projections are reached (pre-vote and
/// check-quorum with a crash, and with a client's put; and with two terms, where a follower of the
/// first term's leader campaigns at once, and its commit index, which the projection shows, must
/// still rise by the leader's heartbeats), in fewer states with them.
#[test]
fn eager_timeouts_reach_every_observable_state() {
    let two_terms = ModelConfig {
        max_term: 2,
        max_log: 1,
        ..pre_vote_crashes(0)
    };
    let configs = [pre_vote_crashes(1), pre_vote_put(), two_terms];
    assert_each_loses_nothing(configs, |c| c.eager_timeouts = false);
}

/// [`observable`], with a server that is down and was not the leader counted as up: what such a
/// server shows (its crash image: role, term, vote, log, register, ghost) is what it showed before
/// the crash, so the same state with the server up and idle has the same projection.
fn observable_down_as_up(state: &RaftModelState) -> String {
    let mut up = state.clone();
    for (index, actor) in state.actor_states.iter().enumerate() {
        if let ActorState::Server(server) = &**actor {
            if server.role() != Role::Leader {
                up.crashed[index] = false;
            }
        }
    }
    observable(&up)
}

/// Restarting a server that was not the leader in the same step as its crash
/// (`raft_model::restarts`) loses nothing a property or a client could see: with and without it,
/// the same projections are reached, a server that is down and not the leader counting as up (see
/// [`observable_down_as_up`]), in fewer states with it. Configurations: pre-vote with one crash and
/// with two (a leader down while another server crashes), and classic Raft with a client's put and
/// a crash. Without the reduction some non-leader is seen down, and a crashed leader still is.
#[test]
fn restarts_at_once_reach_every_observable_state() {
    let configs = [
        pre_vote_crashes(1),
        pre_vote_crashes(2),
        ModelConfig {
            max_log: 2,
            clients: 1,
            crashes: 1,
            ..tiny_duplicating(BugSet::none())
        },
    ];
    let down = |config: &ModelConfig, leader: bool| {
        let (seen, _) = projections(config.clone(), StaleRequests::StandIns, |state| {
            let down_as: Vec<bool> = properties::servers(state)
                .zip(&state.crashed)
                .filter(|(_, crashed)| **crashed)
                .map(|(server, _)| server.role() == Role::Leader)
                .collect();
            format!("{down_as:?}")
        });
        seen.iter()
            .any(|s| s.contains(if leader { "true" } else { "false" }))
    };
    for config in configs {
        let full = ModelConfig {
            restart_at_once: false,
            ..config.clone()
        };
        assert!(down(&full, false), "without it a non-leader is seen down");
        assert!(!down(&config, false), "with it no non-leader is down");
        assert!(down(&config, true), "a crashed leader still stays down");
        let (with, with_states) =
            projections(config, StaleRequests::StandIns, observable_down_as_up);
        let (without, without_states) =
            projections(full, StaleRequests::StandIns, observable_down_as_up);
        assert_eq!(with, without, "the same projections with and without it");
        assert!(
            with_states < without_states,
            "{with_states} states with it, {without_states} without"
        );
    }
}

/// Delivering the answers that start nothing new at once (`raft_model::client_answers`) loses no
/// server state and no linearizability violation: with and without it, the same server
/// projections ([`servers_observable`]) are reached, every one reached with a non-linearizable
/// history without it is reached with one with it, and it explores fewer states. Configurations:
/// classic Raft with the `stale-read` bug and a client's put then read (the put's reply starts the
/// read, so it stays in flight; the read's is delivered at once), which has violations, and
/// classic Raft with two clients' single operations.
#[test]
fn client_answers_at_once_keep_every_server_state_and_violation() {
    let stale_read = ModelConfig {
        max_log: 2,
        clients: 1,
        ops_per_client: 2,
        ..tiny_duplicating([Bug::StaleRead].into_iter().collect())
    };
    let two_clients = ModelConfig {
        max_log: 2,
        clients: 2,
        ..tiny_duplicating(BugSet::none())
    };
    let with_verdict = |state: &RaftModelState| {
        format!(
            "{} linearizable {}",
            servers_observable(state),
            state.history.is_linearizable()
        )
    };
    for (config, has_violations) in [(stale_read, true), (two_clients, false)] {
        let full = ModelConfig {
            client_answers_at_once: false,
            ..config.clone()
        };
        let (with, with_states) = projections(config, StaleRequests::StandIns, with_verdict);
        let (without, without_states) = projections(full, StaleRequests::StandIns, with_verdict);
        let servers = |seen: &BTreeSet<String>| -> BTreeSet<String> {
            seen.iter()
                .map(|s| {
                    s.rsplit_once(" linearizable")
                        .map_or(s.clone(), |(a, _)| a.to_string())
                })
                .collect()
        };
        assert_eq!(servers(&with), servers(&without), "the same server states");
        let violations: Vec<&String> = without.iter().filter(|s| s.ends_with("false")).collect();
        assert_eq!(
            !violations.is_empty(),
            has_violations,
            "violations: {violations:?}"
        );
        for violation in violations {
            assert!(with.contains(violation), "lost: {violation}");
        }
        assert!(
            with_states < without_states,
            "{with_states} states with it, {without_states} without"
        );
    }
}

/// Which answers are delivered at once (`raft_model::client_answers::at_once`): over the whole space
/// of a client's put then read with the reduction off, a reply to the put (not the client's last
/// operation: its delivery invokes the read) never is, a reply to the read always is, and so is a
/// "not leader" answer; each kind occurs.
#[test]
fn only_answers_that_start_nothing_new_are_delivered_at_once() {
    let config = ModelConfig {
        max_log: 2,
        clients: 1,
        ops_per_client: 2,
        refusals_are_no_step: false,
        client_answers_at_once: false,
        ..tiny_duplicating(BugSet::none())
    };
    let model = config.into_model().expect("valid configuration");
    let mut seen = [0usize; 3];
    for state in reachable(&model).values() {
        let at_once = client_answers::at_once(&model.system, state);
        for env in state.network.iter_all() {
            let live = !reduction::is_dead(state, env.src, env.dst, env.msg);
            let (kind, expected) = match env.msg {
                ModelMsg::Reply { seq: 0, .. } => (0, false),
                ModelMsg::Reply { .. } => (1, true),
                ModelMsg::NotLeader { .. } => (2, true),
                _ => continue,
            };
            if !live {
                continue;
            }
            seen[kind] += 1;
            let delivered = at_once.iter().any(|action| {
                matches!(action, ActorModelAction::Deliver { dst, msg, .. }
                    if *dst == env.dst && msg == env.msg)
            });
            assert_eq!(delivered, expected, "{:?} in {state:?}", env.msg);
        }
    }
    assert!(
        seen.iter().all(|n| *n > 0),
        "answers seen by kind: {seen:?}"
    );
}

/// Two terms on the duplicating network, so that requests go stale and reach senders at the term
/// bound: with a crash, and with a client's put.
fn two_term_configs() -> [ModelConfig; 2] {
    [
        ModelConfig {
            max_term: 2,
            max_log: 2,
            crashes: 1,
            ..tiny_duplicating(BugSet::none())
        },
        ModelConfig {
            max_term: 2,
            max_log: 2,
            clients: 1,
            ..tiny_duplicating(BugSet::none())
        },
    ]
}

/// The fingerprint the checker stores for `state` (stale requests as stand-ins).
fn merged_fingerprint(state: &RaftModelState) -> u64 {
    let perm = canonical_perm_with(state, StaleRequests::StandIns);
    class_fingerprint_with(state, &perm, StaleRequests::StandIns)
}

/// Holding each class of stale requests as one stand-in, and leaving out leader commit indexes their
/// receivers have passed, entries they hold, settled read contexts and the senders of vote requests
/// from done candidates (`raft_model::reduction::canonical`), merges only states with the same
/// futures: over the whole unmerged space of two terms with a crash, of two terms with a client's
/// put and of one term with a client's put and read, and the first 6,000 unmerged states of two terms with pre-vote (where pre-votes for the
/// receiver's own term are answered as stale, and some states hold one), states that get the same
/// fingerprint with stand-ins have the same observable projection and successors with the same
/// fingerprints, steps back into the class aside (a bisimulation up to stuttering), and some states
/// do merge.
#[test]
fn stale_requests_as_stand_ins_merge_only_states_with_the_same_futures() {
    let pre_vote = ModelConfig {
        max_term: 2,
        max_log: 1,
        pre_vote: true,
        ..tiny_duplicating(BugSet::none())
    };
    let [with_crash, with_put] = two_term_configs();
    // A read: its heartbeat round's context is left out once the round is settled.
    let put_then_read = ModelConfig {
        max_log: 2,
        clients: 1,
        ops_per_client: 2,
        ..tiny_duplicating(BugSet::none())
    };
    for (config, cap) in [
        (with_crash, None),
        (with_put, None),
        (put_then_read, None),
        (pre_vote, Some(6_000)),
    ] {
        let model = config.into_model().expect("valid configuration");
        let mut seen = HashSet::new();
        let mut classes: HashMap<u64, (String, BTreeSet<u64>)> = HashMap::new();
        let mut same_term_pre_votes = 0usize;
        let mut stack = model.init_states();
        while let Some(state) = stack.pop() {
            if cap.is_some_and(|cap| seen.len() >= cap) {
                break;
            }
            let perm = canonical_perm_with(&state, StaleRequests::AsSent);
            if !seen.insert(class_fingerprint_with(&state, &perm, StaleRequests::AsSent)) {
                continue;
            }
            same_term_pre_votes += usize::from(holds_pre_vote_for_receivers_term(&state));
            let successors = model.successors(&state);
            // A step back into the state's own class leads nowhere new (a member of the class may
            // send again, as a real step, a message another member holds in a merged form).
            let own = merged_fingerprint(&state);
            let futures = (
                observable(&state),
                successors
                    .iter()
                    .map(merged_fingerprint)
                    .filter(|next| *next != own)
                    .collect(),
            );
            match classes.entry(own) {
                Entry::Vacant(slot) => {
                    slot.insert(futures);
                }
                Entry::Occupied(slot) => assert_eq!(
                    *slot.get(),
                    futures,
                    "two merged states differ in what they show or where they lead"
                ),
            }
            stack.extend(successors);
        }
        assert!(
            classes.len() < seen.len(),
            "{} classes with stand-ins, {} states without",
            classes.len(),
            seen.len()
        );
        if model.cfg().pre_vote {
            assert!(
                same_term_pre_votes > 0,
                "no state held a pre-vote for its receiver's term"
            );
        }
    }
}

/// Whether a pre-vote for its live receiver's own term is in flight in `state`.
fn holds_pre_vote_for_receivers_term(state: &RaftModelState) -> bool {
    state.network.iter_all().any(|env| {
        let receiver = state.actor_states.get(usize::from(env.dst)).map(|a| &**a);
        match (receiver, env.msg) {
            (Some(ActorState::Server(server)), ModelMsg::Raft(m)) => {
                m.term == server.term() && reduction::answered_as_stale(server.term(), m)
            }
            _ => false,
        }
    })
}

/// Dead envelopes (`raft_model::reduction::is_dead`) are dead in every reachable state: delivering
/// one changes no actor, and what it sends is dead too, so the state keeps its fingerprint.
#[test]
fn dead_envelopes_change_nothing_when_delivered() {
    for config in two_term_configs() {
        let model = config.into_model().expect("valid configuration");
        let fingerprint = merged_fingerprint;
        let mut seen = HashSet::new();
        let mut stack = model.init_states();
        let mut dead_seen = 0usize;
        while let Some(state) = stack.pop() {
            if !seen.insert(fingerprint(&state)) {
                continue;
            }
            // Saturation drops dead envelopes, so they are looked for in the unreduced successors.
            let mut actions = Vec::new();
            model.system.actions(&state, &mut actions);
            for raw in actions
                .into_iter()
                .filter_map(|action| model.system.next_state(&state, action))
                .filter(|raw| model.within_boundary(raw))
            {
                for env in raw.network.iter_all() {
                    if !reduction::is_dead_envelope(&raw, &env) {
                        continue;
                    }
                    dead_seen += 1;
                    let action = ActorModelAction::Deliver {
                        src: env.src,
                        dst: env.dst,
                        msg: env.msg.clone(),
                    };
                    if let Some(next) = model.system.next_state(&raw, action) {
                        assert_eq!(
                            next.actor_states, raw.actor_states,
                            "delivering the dead {env:?} changed an actor"
                        );
                        assert_eq!(
                            fingerprint(&next),
                            fingerprint(&raw),
                            "delivering the dead {env:?} sent a live message"
                        );
                    }
                }
            }
            stack.extend(model.successors(&state));
        }
        assert!(dead_seen > 0, "the space has dead envelopes");
    }
}

/// Subsumption (`raft_model::subsumption`) skips only states it covers: over the whole space of each
/// configuration (searched without it), every state is covered, under some renaming of the servers,
/// by a state the search with subsumption explores (the same actors, timers, storages, crash flags and
/// clients' history, a superset of its messages in flight, and no more restarts in the run), and
/// that search explores fewer states.
#[test]
fn subsumption_explores_a_cover_of_every_reachable_state() {
    let [_, with_put] = two_term_configs();
    for config in [with_put, pre_vote_crashes(1), pre_vote_put()] {
        let all = reachable(&config.clone().into_model().expect("valid configuration"));

        let mut reduced = config.into_model().expect("valid configuration");
        let store = Arc::new(Subsumption::default());
        reduced.subsumption = Some(Arc::clone(&store));
        let mut explored: HashMap<u64, Vec<(u8, Vec<u64>)>> = HashMap::new();
        let mut seen = HashSet::new();
        let mut stack: Vec<RaftModelState> = reduced
            .init_states()
            .into_iter()
            .filter(|s| reduced.within_boundary(s))
            .collect();
        while let Some(state) = stack.pop() {
            if !seen.insert(merged_fingerprint(&state)) {
                continue;
            }
            // A superseded state is offered no action: it is visited, not explored.
            if !store.is_superseded(&state) {
                let parts = class_parts(&state, &canonical_perm(&state));
                explored
                    .entry(parts.actors)
                    .or_default()
                    .push((parts.restarts, parts.network));
            }
            // Steps covered before the closure are no steps; `successors` asks the boundary, which
            // skips the covered states left and records the others.
            stack.extend(reduced.successors(&state));
        }
        assert!(store.superseded() > 0, "some states were superseded");

        // Covered: the same actors under some renaming, a superset of the messages, and no more
        // restarts (as much crash budget left, or more).
        let covers = |state: &RaftModelState| {
            permutations(3).iter().any(|perm| {
                let parts = class_parts(state, perm);
                explored.get(&parts.actors).is_some_and(|networks| {
                    networks.iter().any(|(restarts, big)| {
                        *restarts <= parts.restarts
                            && parts.network.iter().all(|env| big.contains(env))
                    })
                })
            })
        };
        for state in all.values() {
            assert!(covers(state), "no explored state covers {state:?}");
        }
        assert!(
            seen.len() < all.len(),
            "{} states explored with subsumption, {} without",
            seen.len(),
            all.len()
        );
    }
}

/// Every permutation of `0..n`, as `perm[old index] = new index`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for shorter in permutations(n - 1) {
        for at in 0..n {
            let mut perm = shorter.clone();
            perm.insert(at, n - 1);
            out.push(perm);
        }
    }
    out
}

/// Every state `model` reaches, by the fingerprint the checker stores.
fn reachable(model: &RaftModel) -> HashMap<u64, RaftModelState> {
    reachable_by(model, merged_fingerprint)
}

/// Every state `model` reaches, by `fingerprint`.
fn reachable_by(
    model: &RaftModel,
    fingerprint: fn(&RaftModelState) -> u64,
) -> HashMap<u64, RaftModelState> {
    let mut all = HashMap::new();
    let mut stack = model.init_states();
    while let Some(state) = stack.pop() {
        if let Entry::Vacant(slot) = all.entry(fingerprint(&state)) {
            stack.extend(model.successors(&state));
            slot.insert(state);
        }
    }
    all
}

/// For each of `configs` (with whether a property must fail in it): over the whole space without a
/// rewrite (`off` turns it off), every state and its `rewrite` get the same verdict from every
/// property, and the model with the rewrite reaches exactly the rewrites (by `fingerprint`).
/// Returns how many states merged and how many the rewrite changed.
fn assert_rewrite_keeps_verdicts(
    configs: impl IntoIterator<Item = (ModelConfig, bool)>,
    off: fn(&mut ModelConfig),
    rewrite: fn(&mut RaftModelState),
    fingerprint: fn(&RaftModelState) -> u64,
) -> (usize, usize) {
    let mut merged = 0usize;
    let mut rewritten = 0usize;
    for (config, breaks_a_property) in configs {
        let mut without = config.clone();
        off(&mut without);
        let full = without.into_model().expect("valid configuration");
        let properties = full.properties();
        let mut rewrites = HashSet::new();
        let mut violations = 0usize;
        let states = reachable_by(&full, fingerprint);
        for state in states.values() {
            let mut rewritten_state = state.clone();
            rewrite(&mut rewritten_state);
            rewritten += usize::from(rewritten_state.actor_states != state.actor_states);
            for property in &properties {
                let verdict = (property.condition)(&full, state);
                violations += usize::from(property.expectation == Expectation::Always && !verdict);
                assert_eq!(
                    verdict,
                    (property.condition)(&full, &rewritten_state),
                    "{} differs on {state:?}",
                    property.name
                );
            }
            rewrites.insert(fingerprint(&rewritten_state));
        }
        let reduced = config.into_model().expect("valid configuration");
        let reached: HashSet<u64> = reachable_by(&reduced, fingerprint).into_keys().collect();
        assert_eq!(reached, rewrites, "the model reaches exactly the rewrites");
        merged += states.len() - reached.len();
        assert_eq!(
            violations > 0,
            breaks_a_property,
            "{violations} violating states"
        );
    }
    (merged, rewritten)
}

/// Two terms on the duplicating network with `vote-any-log` (a bug that breaks Leader Completeness).
fn two_terms_with_vote_any_log() -> ModelConfig {
    ModelConfig {
        max_term: 2,
        ..tiny_duplicating([Bug::VoteAnyLog].into_iter().collect())
    }
}

/// Forgetting what the ghost state can no longer use (`raft_model::ghost_forgetting`) changes no
/// verdict and commutes with the steps: over the whole space of each configuration without it (one
/// with a bug that breaks Leader Completeness, one with a crash, one with pre-vote and a crash),
/// every state and its rewrite get the same verdict from every property, the model with the rewrite
/// reaches exactly the rewrites of those states, and some states merge.
#[test]
fn forgetting_settled_ghost_records_keeps_every_verdict() {
    let vote_any_log = two_terms_with_vote_any_log();
    let [with_crash, _] = two_term_configs();
    let (merged, _) = assert_rewrite_keeps_verdicts(
        [
            (vote_any_log, true),
            (with_crash, false),
            (pre_vote_crashes(1), false),
        ],
        |config| config.forget_settled_ghost = false,
        ghost_forgetting::forget,
        merged_fingerprint,
    );
    assert!(merged > 0, "some states merge");
}

/// The fingerprint of `state` with every message as sent (no stand-ins, no trimmed fields).
fn as_sent_fingerprint(state: &RaftModelState) -> u64 {
    let perm = canonical_perm_with(state, StaleRequests::AsSent);
    class_fingerprint_with(state, &perm, StaleRequests::AsSent)
}

/// Forgetting for whom a server voted once the candidate can never read the vote
/// (`raft_model::dead_votes`) changes no verdict and commutes with the steps: over the whole space
/// of each configuration without it (two terms with a crash, two terms with a client's put,
/// pre-vote with a crash, one with a bug that breaks Leader Completeness), every state and its
/// rewrite get the same verdict from every property, the model with the rewrite reaches exactly
/// the rewrites of those states (messages compared as sent), and some states merge.
#[test]
fn forgetting_votes_nobody_can_read_keeps_every_verdict() {
    let vote_any_log = two_terms_with_vote_any_log();
    let [with_crash, with_put] = two_term_configs();
    let (merged, rewritten) = assert_rewrite_keeps_verdicts(
        [
            (vote_any_log, true),
            (with_crash, false),
            (with_put, false),
            (pre_vote_crashes(1), false),
        ],
        |config| config.forget_done_votes = false,
        dead_votes::forget,
        as_sent_fingerprint,
    );
    assert!(rewritten > 0, "some votes are forgotten");
    assert!(merged > 0, "some states merge");
}

fn expect_violation(config: ModelConfig, strategy: Strategy, property: &str) {
    let report = check(&config, strategy, 1);
    let violated = report.violated();
    assert_eq!(
        violated.first().copied(),
        Some(property),
        "violations: {violated:?}"
    );
    assert_eq!(report.exit_code(), 1);
    let path = report
        .properties
        .iter()
        .find_map(|p| match &p.outcome {
            PropertyOutcome::Violated(path) if p.name == property => Some(path.clone()),
            _ => None,
        })
        .expect("a violated property carries its path");
    let model = config.clone().into_model().expect("valid configuration");
    let text = render_path(&model, &path);
    assert!(text.contains("step 1: "), "rendered steps:\n{text}");
    assert!(
        text.contains("leader"),
        "the counterexample elects a leader:\n{text}"
    );
    // On the saturated network, the messages that pure steps sent have a visible origin.
    let saturated = config.network == NetworkKind::UnorderedDuplicating && config.saturate;
    assert_eq!(
        text.contains("and, changing no state: "),
        saturated,
        "rendered steps:\n{text}"
    );
}

#[test]
fn vote_any_log_breaks_leader_completeness() {
    for network in [NetworkKind::Unordered, NetworkKind::UnorderedDuplicating] {
        let mut config = tiny([Bug::VoteAnyLog].into_iter().collect());
        config.max_term = 2;
        config.network = network;
        expect_violation(config, Strategy::Bfs, LEADER_COMPLETENESS);
    }
}

#[test]
fn stale_read_breaks_linearizability() {
    // One client that puts and then reads: a follower that has not applied the put answers the read
    // with the old value. DFS with symmetry reaches it within a few thousand states (BFS needs about
    // 250k for the shortest, 13-step counterexample).
    for network in [NetworkKind::Unordered, NetworkKind::UnorderedDuplicating] {
        let mut config = tiny([Bug::StaleRead].into_iter().collect());
        config.max_log = 2;
        config.clients = 1;
        config.ops_per_client = 2;
        config.network = network;
        expect_violation(config, Strategy::Dfs, LINEARIZABLE);
    }
}

/// The seed of the random walks that find Figure 8; `MODEL_WALK_SEED` replays another one.
fn walk_seed() -> u64 {
    std::env::var("MODEL_WALK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(FIGURE_8_SEED)
}

/// A seed whose walks reach the Figure 8 interleaving after 157,368 states (about 2 s in release).
/// Random walks are a pure function of the seed and the model, so a change to the model's steps moves
/// the hit: after session 4 (leaders no longer track activity without check-quorum) 1 of 56 seeds
/// hit within 15 s of release walking; after session 7 (leaders no longer count heartbeat answers)
/// seed 32 stopped hitting within 2 M states, and of seeds 1-7 only 7 did. After session 13
/// (classic Raft stopped answering stale requests but pre-votes) none of seeds 1-11 hit within 2 M
/// states on the non-duplicating network; the walks moved to the duplicating network, where seed 1
/// hits (seeds 2 and 3 do not within 2 M states). After session 16 (DFS order: the model lists
/// answers between servers and client deliveries before requests and timeouts) seed 1 stopped
/// hitting within 2 M states; of seeds 1-10, 4, 6 and 8 hit, 8 after 157,368 states.
const FIGURE_8_SEED: u64 = 8;

#[test]
fn commit_old_term_breaks_leader_completeness() {
    // Figure 8 with three servers and no client: s1 leads t1 with its no-op at index 1 (nobody else has
    // it); s2 leads t2 with its own no-op at index 1; s1 leads t3 and, sending one entry per append,
    // brings s3 the t1 entry and counts it committed (the bug); s2 then wins t4 with s3's vote and
    // lacks it. One entry per append is a real core setting (`max_entries_per_append`): with batching,
    // the t1 entry only travels with the t3 no-op that makes counting it correct.
    let mut config = tiny_duplicating([Bug::CommitOldTerm].into_iter().collect());
    config.max_term = 4;
    config.max_log = 2;
    config.entries_per_append = Some(1);
    let seed = walk_seed();
    let options = RunOptions {
        threads: 1,
        strategy: Strategy::Simulation { seed },
        symmetry: false,
        time_limit: Some(TEST_TIME_LIMIT),
        // The walks are a pure function of the seed: the budget is in states, not time.
        max_states: Some(2_000_000),
        max_depth: None,
        subsumption: false,
    };
    let report = run_check(&config, &options, &mut |_| {}).expect("valid configuration");
    let violated = report.violated();
    assert_eq!(
        violated.first().copied(),
        Some(LEADER_COMPLETENESS),
        "seed {seed} (replay with MODEL_WALK_SEED={seed}): violations {violated:?} after {} states",
        report.states_generated
    );
    assert_eq!(report.exit_code(), 1);
    assert!(!report.exhausted, "random walks are never exhaustive");
}

/// Subsumption is on for exhaustive DFS and off under a depth cut, where a recorded state left
/// unexpanded at the cut would hide the states it covers.
#[test]
fn subsumption_skips_states_in_exhaustive_dfs_only() {
    let config = ModelConfig {
        pre_vote: true,
        ..tiny_duplicating(BugSet::none())
    };
    let exhaustive = check(&config, Strategy::Dfs, 1);
    assert!(exhaustive.states_covered > 0, "covered states are skipped");
    let options = RunOptions {
        max_depth: Some(8),
        ..RunOptions::default()
    };
    let cut = run_check(&config, &options, &mut |_| {}).expect("valid configuration");
    assert_eq!(cut.states_covered, 0, "no subsumption under a depth cut");
    assert!(!cut.exhausted);
}

#[test]
fn a_time_limit_stops_dfs_and_reports_unknown() {
    // Far too large to finish: without the stop flag a single DFS worker never looks at its timeout.
    let config = ModelConfig::default();
    let options = RunOptions {
        time_limit: Some(Duration::from_millis(500)),
        ..RunOptions::default()
    };
    let report = run_check(&config, &options, &mut |_| {}).expect("valid configuration");
    assert!(!report.exhausted);
    assert_eq!(report.exit_code(), 2);
    assert!(report
        .properties
        .iter()
        .filter(|p| p.always)
        .all(|p| matches!(p.outcome, PropertyOutcome::Unknown)));
}

/// Leaving out refused client requests (`raft_model::refusals`: a server that is not the leader
/// answers `NotLeader` and changes nothing) loses nothing a property or a client could see: with and
/// without it, the same observable projections are reached (classic Raft with a client's put and read,
/// and pre-vote with a client's put), in fewer states with it. Answers are left in flight here:
/// delivered at once (`raft_model::client_answers`), the refusal's answer puts the state back as it
/// was, so the two spaces would be the same and this reduction only saves generating that state.
#[test]
fn refusals_are_no_step_and_reach_every_observable_state() {
    let configs = [
        ModelConfig {
            max_log: 2,
            clients: 1,
            ops_per_client: 2,
            client_answers_at_once: false,
            ..tiny_duplicating(BugSet::none())
        },
        ModelConfig {
            pre_vote: true,
            max_log: 2,
            clients: 1,
            client_answers_at_once: false,
            ..tiny_duplicating(BugSet::none())
        },
    ];
    assert_each_loses_nothing(configs, |c| c.refusals_are_no_step = false);
}
