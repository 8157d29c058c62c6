//! Scripted scenarios of the Raft paper's cases, each with explicit message delivery: elections and the
//! vote rule, durable votes, conflict backtracking with hints, Figure 8 (with and without
//! `CommitOldTerm`), pre-vote against term inflation, check-quorum, the leader lease, ReadIndex,
//! batching/pipelining limits, crash recovery and leadership transfer.

use super::cluster::Cluster;
use crate::bugs::{Bug, BugSet};
use crate::raft::progress::ProgressState;
use crate::raft::read_index::ReadIndexQueue;
use crate::raft::safety::Violation;
use crate::raft::{
    ClusterConfig, Config, Entry, EntryPayload, HardState, InitialState, LogIndex, Message,
    MessageBody, NodeId, ProposeError, RawNode, ReadState, Role, Term,
};
use std::cell::Cell;
use std::collections::BTreeMap;

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);
const N4: NodeId = NodeId(4);
const N5: NodeId = NodeId(5);

/// The paper's protocol without the thesis extensions (pre-vote, check-quorum, lease).
pub(super) fn paper_config(id: NodeId) -> Config {
    Config {
        pre_vote: false,
        check_quorum: false,
        ..Config::new(id)
    }
}

fn with_bugs(config: Config, bugs: &[Bug]) -> Config {
    Config {
        bugs: bugs.iter().copied().collect::<BugSet>(),
        ..config
    }
}

fn entry(index: u64, term: u64) -> Entry {
    Entry {
        term: Term(term),
        index: LogIndex(index),
        payload: EntryPayload::Command(vec![index as u8, term as u8]),
    }
}

/// A node's durable state with the given entry terms (index 1 onward), term and commit index.
fn recovered(terms: &[u64], term: u64, commit: u64, voters: u64) -> InitialState {
    InitialState {
        hard_state: HardState {
            term: Term(term),
            voted_for: None,
            commit_index: LogIndex(commit),
        },
        entries: terms
            .iter()
            .enumerate()
            .map(|(i, t)| entry(i as u64 + 1, *t))
            .collect(),
        snapshot_meta: None,
        bootstrap_config: ClusterConfig::with_voters((1..=voters).map(NodeId)),
    }
}

fn among(ids: &'static [NodeId]) -> impl Fn(&Message) -> bool {
    move |m| ids.contains(&m.from) && ids.contains(&m.to)
}

/// Elects `id` by firing its election timeout and delivering everything.
pub(super) fn elect(cluster: &mut Cluster, id: NodeId) -> Result<(), Violation> {
    cluster.fire_election_timeout(id)?;
    cluster.stabilize()?;
    assert_eq!(cluster.leader(), Some(id), "{id} should have won");
    Ok(())
}

pub(super) fn message(from: NodeId, to: NodeId, term: u64, body: MessageBody) -> Message {
    Message {
        from,
        to,
        term: Term(term),
        body,
    }
}

#[test]
fn election_commits_a_noop_and_followers_learn_the_commit() -> Result<(), Violation> {
    let mut c = Cluster::new(3, Config::new, 1);
    elect(&mut c, N1)?;
    assert_eq!(c.term(N1), Term(1), "pre-vote does not spend a term");
    for id in [N2, N3] {
        assert_eq!(c.node(id).status().leader, Some(N1));
        assert_eq!(c.node(id).status().role, Role::Follower);
    }
    assert_eq!(
        c.node(N1).status().commit_index,
        LogIndex(1),
        "the Noop commits"
    );
    assert_eq!(c.node(N1).log_entries()[0].payload, EntryPayload::Noop);
    c.fire_heartbeat_timeout(N1)?;
    c.stabilize()?;
    for id in [N2, N3] {
        assert_eq!(
            c.node(id).status().commit_index,
            LogIndex(1),
            "heartbeats carry the commit"
        );
    }
    Ok(())
}

#[test]
fn ticks_alone_elect_exactly_one_leader_with_randomized_timeouts() -> Result<(), Violation> {
    for seed in 0..20 {
        let mut c = Cluster::new(5, Config::new, seed);
        let timeouts: Vec<u64> = c
            .alive()
            .iter()
            .map(|id| c.node(*id).randomized_election_timeout_ticks)
            .collect();
        assert!(
            timeouts.iter().all(|t| (15..30).contains(t)),
            "{timeouts:?}"
        );
        let mut ticks = 0;
        while c.leader().is_none() && ticks < 200 {
            for id in c.alive() {
                c.tick(id)?;
            }
            c.stabilize()?;
            ticks += 1;
        }
        assert!(
            c.leader().is_some(),
            "seed {seed}: no leader after 200 ticks"
        );
    }
    Ok(())
}

/// A vote request of term 1 to node 2 from a candidate with an empty log.
fn vote_request_of_term_1_to_n2(from: NodeId) -> Message {
    message(
        from,
        N2,
        1,
        MessageBody::RequestVote {
            last_log_index: LogIndex(0),
            last_log_term: Term(0),
            leadership_transfer: false,
        },
    )
}

#[test]
fn a_vote_is_durable_before_it_is_sent_and_given_once_per_term() {
    let initial = recovered(&[], 0, 0, 3);
    let mut node = RawNode::new(paper_config(N2), initial, 7).expect("valid");
    let request = vote_request_of_term_1_to_n2;
    node.step(request(N1));
    let ready = node.ready();
    assert!(
        ready.messages.is_empty(),
        "a vote must not leave before it is durable"
    );
    assert_eq!(
        ready.hard_state,
        Some(HardState {
            term: Term(1),
            voted_for: Some(N1),
            commit_index: LogIndex(0)
        })
    );
    assert_eq!(
        ready.persisted_messages,
        vec![message(
            N2,
            N1,
            1,
            MessageBody::RequestVoteResponse { granted: true }
        )]
    );
    node.step(request(N3));
    assert_eq!(
        node.ready().persisted_messages,
        vec![message(
            N2,
            N3,
            1,
            MessageBody::RequestVoteResponse { granted: false }
        )],
        "one vote per term"
    );
    node.step(request(N1));
    assert_eq!(
        node.ready().persisted_messages,
        vec![message(
            N2,
            N1,
            1,
            MessageBody::RequestVoteResponse { granted: true }
        )],
        "a repeated request from the same candidate is granted again"
    );
}

#[test]
fn the_vote_rule_compares_last_term_then_last_index() {
    for (bugs, expect_stale_granted) in [(vec![], false), (vec![Bug::VoteAnyLog], true)] {
        let vote = |last_index: u64, last_term: u64| {
            let mut node = RawNode::new(
                with_bugs(paper_config(N2), &bugs),
                recovered(&[1, 2], 2, 0, 3),
                1,
            )
            .expect("valid");
            node.step(message(
                N1,
                N2,
                3,
                MessageBody::RequestVote {
                    last_log_index: LogIndex(last_index),
                    last_log_term: Term(last_term),
                    leadership_transfer: false,
                },
            ));
            node.ready().persisted_messages
                == vec![message(
                    N2,
                    N1,
                    3,
                    MessageBody::RequestVoteResponse { granted: true },
                )]
        };
        assert_eq!(
            vote(5, 1),
            expect_stale_granted,
            "longer log, older last term"
        );
        assert_eq!(
            vote(1, 2),
            expect_stale_granted,
            "same last term, shorter log"
        );
        assert!(vote(2, 2), "equal logs");
        assert!(vote(1, 3), "newer last term");
    }
}

/// Node 1 commits entries with node 2 while node 3 is cut off; then node 1 dies and node 3 campaigns.
fn stale_candidate_scenario(bugs: &[Bug]) -> Result<Cluster, Violation> {
    let mut c = Cluster::new(3, |id| with_bugs(paper_config(id), bugs), 3);
    c.fire_election_timeout(N1)?;
    c.deliver_all(50, among(&[N1, N2]))?;
    assert_eq!(c.leader(), Some(N1));
    for value in 0..3u8 {
        c.propose(N1, vec![value])?;
    }
    c.deliver_all(50, among(&[N1, N2]))?;
    assert_eq!(c.node(N1).status().commit_index, LogIndex(4));
    c.crash(N1)?;
    // Node 2 already voted in term 1, so node 3 may need a second election.
    for _ in 0..3 {
        c.fire_election_timeout(N3)?;
        c.deliver_all(50, among(&[N2, N3]))?;
    }
    Ok(c)
}

#[test]
fn vote_any_log_elects_a_leader_without_committed_entries_and_the_monitor_catches_it(
) -> Result<(), Violation> {
    let c = stale_candidate_scenario(&[])?;
    assert_ne!(
        c.leader(),
        Some(N3),
        "node 3's log is stale: node 2 must refuse"
    );
    match stale_candidate_scenario(&[Bug::VoteAnyLog]) {
        Err(Violation::LeaderCompleteness { node, index, .. }) => {
            assert_eq!((node, index), (N3, LogIndex(1)));
            Ok(())
        }
        other => panic!(
            "expected a Leader Completeness violation, got {:?}",
            other.map(|c| c.leader())
        ),
    }
}

/// Counts AppendEntries rejections while delivering everything.
fn count_rejections(c: &mut Cluster) -> Result<u32, Violation> {
    let rejections = Cell::new(0);
    c.deliver_all(200, |m| {
        if let MessageBody::AppendEntriesResponse { success: false, .. } = m.body {
            rejections.set(rejections.get() + 1);
        }
        true
    })?;
    Ok(rejections.get())
}

#[test]
fn conflict_hints_skip_a_whole_term_per_round_trip() -> Result<(), Violation> {
    // Leader-to-be: 1 entry of term 1, 50 of term 3. Node 3: 100 entries of stale term 2.
    let good: Vec<u64> = std::iter::once(1)
        .chain(std::iter::repeat_n(3, 50))
        .collect();
    let stale: Vec<u64> = std::iter::once(1)
        .chain(std::iter::repeat_n(2, 100))
        .collect();
    let short = vec![1];
    for (follower_log, rejections_max) in [(stale, 1), (short, 1)] {
        let initial = BTreeMap::from([
            (N1, recovered(&good, 3, 1, 3)),
            (N2, recovered(&good, 3, 1, 3)),
            (N3, recovered(&follower_log, 3, 1, 3)),
        ]);
        let mut c = Cluster::with_initial(initial, paper_config, 5);
        c.fire_election_timeout(N1)?;
        let rejections = count_rejections(&mut c)?;
        assert!(
            rejections <= rejections_max,
            "{rejections} rejections; hints should need {rejections_max}"
        );
        assert_eq!(
            c.node(N3).log_entries(),
            c.node(N1).log_entries(),
            "node 3 caught up"
        );
    }
    Ok(())
}

/// Raft Figure 8: S1 (term 4) replicates its term-2 entry at index 2 to S3, then S5 (log 2@3) wins with
/// S3 and S4 and overwrites it. Returns the cluster if no violation was seen.
fn figure_8(bugs: &[Bug]) -> Result<Cluster, Violation> {
    let initial = BTreeMap::from([
        (N1, recovered(&[1, 2], 3, 1, 5)),
        (N2, recovered(&[1, 2], 3, 1, 5)),
        (N3, recovered(&[1], 3, 1, 5)),
        (N4, recovered(&[1], 3, 1, 5)),
        (N5, recovered(&[1, 3], 3, 1, 5)),
    ]);
    let config = |id| Config {
        max_entries_per_append: 1,
        ..with_bugs(paper_config(id), bugs)
    };
    let mut c = Cluster::with_initial(initial, config, 8);
    // (c) S1 wins term 4 with S2 and S3; only index 2 (not the new Noop at 3) reaches S3. The first
    // probe to S3 (after index 2, carrying the Noop) is let through because S3 rejects it: too short.
    c.fire_election_timeout(N1)?;
    let probes_to_s3 = Cell::new(0);
    c.deliver_all(50, |m| {
        let noop_to_s3 = m.to == N3
            && matches!(&m.body, MessageBody::AppendEntries { entries, .. }
                if entries.iter().any(|e| e.index > LogIndex(2)));
        if noop_to_s3 {
            probes_to_s3.set(probes_to_s3.get() + 1);
        }
        among(&[N1, N2, N3])(m) && (!noop_to_s3 || probes_to_s3.get() == 1)
    })?;
    assert_eq!(c.leader(), Some(N1));
    assert_eq!(c.term(N1), Term(4));
    assert_eq!(
        c.node(N3).log_entries().len(),
        2,
        "index 2 is on a majority: S1, S2, S3"
    );
    let s1_commit = c.node(N1).status().commit_index;
    assert_eq!(
        s1_commit > LogIndex(1),
        bugs.contains(&Bug::CommitOldTerm),
        "S1 may commit index 2 by counting replicas only with the bug"
    );
    // (d) S1 crashes; S5 wins with S3 and S4 and overwrites index 2.
    c.crash(N1)?;
    for _ in 0..5 {
        if c.leader() == Some(N5) {
            break;
        }
        c.fire_election_timeout(N5)?;
        c.deliver_all(50, among(&[N3, N4, N5]))?;
    }
    assert_eq!(c.leader(), Some(N5));
    c.fire_heartbeat_timeout(N5)?;
    c.deliver_all(50, among(&[N2, N3, N4, N5]))?;
    c.restart(N1);
    c.fire_heartbeat_timeout(N5)?;
    c.stabilize()?;
    Ok(c)
}

#[test]
fn figure_8_an_old_term_entry_is_not_committed_by_counting_replicas() -> Result<(), Violation> {
    let c = figure_8(&[])?;
    for id in [N1, N2, N3, N4, N5] {
        let log = c.node(id).log_entries();
        assert_eq!(
            log[1].term,
            Term(3),
            "node {id}: S5's entry 2@3 won everywhere"
        );
        assert_eq!(
            c.node(id).status().commit_index,
            c.node(N5).status().commit_index
        );
    }
    Ok(())
}

#[test]
fn figure_8_with_commit_old_term_breaks_safety_and_is_caught() {
    match figure_8(&[Bug::CommitOldTerm]) {
        Err(
            Violation::LeaderCompleteness { index, .. }
            | Violation::StateMachineSafety { index, .. },
        ) => {
            assert_eq!(index, LogIndex(2));
        }
        other => panic!(
            "expected a safety violation at index 2, got {:?}",
            other.map(|c| c.leader())
        ),
    }
}

/// Node 3 is cut off and times out `rounds` times; returns the cluster and node 3's term before.
fn isolated_node_times_out(
    config: fn(NodeId) -> Config,
    rounds: u64,
) -> Result<(Cluster, u64), Violation> {
    let mut c = Cluster::new(3, config, 11);
    elect(&mut c, N1)?;
    let before = c.term(N3).0;
    for _ in 0..rounds {
        c.fire_election_timeout(N3)?;
        c.deliver_all(10, among(&[N1, N2]))?;
    }
    Ok((c, before))
}

#[test]
fn pre_vote_keeps_a_partitioned_node_from_inflating_its_term() -> Result<(), Violation> {
    let (mut c, before) = isolated_node_times_out(Config::new, 10)?;
    assert_eq!(c.term(N3).0, before, "pre-votes change no term");
    // Rejoining does not disturb the leader.
    c.fire_heartbeat_timeout(N1)?;
    c.stabilize()?;
    assert_eq!(c.leader(), Some(N1));
    assert_eq!(c.term(N1).0, before);
    assert_eq!(c.node(N3).status().leader, Some(N1));

    let (c, before) = isolated_node_times_out(paper_config, 10)?;
    assert_eq!(
        c.term(N3).0,
        before + 10,
        "without pre-vote every timeout spends a term"
    );
    Ok(())
}

#[test]
fn check_quorum_makes_an_isolated_leader_step_down_and_abort_its_reads() -> Result<(), Violation> {
    for check_quorum in [true, false] {
        let mut c = Cluster::new(
            3,
            |id| Config {
                check_quorum,
                ..Config::new(id)
            },
            12,
        );
        elect(&mut c, N1)?;
        c.read_index(N1, 42)?;
        for _ in 0..2 * Config::new(N1).election_timeout_ticks_min {
            c.tick(N1)?;
            c.deliver_all(10, among(&[N2, N3]))?;
        }
        let role = c.node(N1).status().role;
        if check_quorum {
            assert_eq!(role, Role::Follower);
            c.fsync(N1)?;
            assert_eq!(c.reads_aborted, vec![(N1, 42)]);
        } else {
            assert_eq!(role, Role::Leader, "without check-quorum nothing notices");
        }
    }
    Ok(())
}

/// A heartbeat from an old term, answered by a node that has moved on, acknowledges no read of a later
/// leadership. Read contexts restart at 0 when a node restarts, so before the fix the answer to node
/// 1's term-1 heartbeat for read round 0 counted as node 2's ack of node 1's first read round in term
/// 2, given after node 2 had moved on to term 3 with node 3, which committed a write there: a stale read.
#[test]
fn a_stale_heartbeat_answer_acknowledges_no_read_of_a_later_leadership() -> Result<(), Violation> {
    let mut c = Cluster::new(3, paper_config, 17);
    elect(&mut c, N1)?;
    c.read_index(N1, 1)?;
    let is_read_heartbeat = |m: &Message| {
        m.to == N2
            && matches!(
                m.body,
                MessageBody::Heartbeat {
                    read_context: Some(_),
                    ..
                }
            )
    };
    let old_heartbeat = c
        .outbox
        .iter()
        .find(|m| is_read_heartbeat(m))
        .cloned()
        .expect("the read round sends node 2 a heartbeat");
    c.stabilize()?;
    assert!(c
        .reads_served
        .iter()
        .any(|(n, r)| *n == N1 && r.request_id == 1));
    // Node 1 restarts (its read contexts start at 0 again) and leads term 2.
    c.crash(N1)?;
    c.restart(N1);
    elect(&mut c, N1)?;
    assert_eq!(c.term(N1), Term(2));
    // The term-1 heartbeat reaches node 2, now in term 2; its answer is held back.
    c.deliver(old_heartbeat)?;
    c.fsync(N2)?;
    let answer_to_old = std::mem::take(&mut c.outbox);
    // Nodes 2 and 3 move on: node 3 leads term 3 and commits a write without node 1.
    c.fire_election_timeout(N3)?;
    c.deliver_all(20, among(&[N2, N3]))?;
    assert_eq!(c.node(N3).status().role, Role::Leader);
    c.propose(N3, b"newer".to_vec())?;
    c.deliver_all(20, among(&[N2, N3]))?;
    // Node 1, cut off and still leading term 2, gets a read; the held answer arrives.
    c.read_index(N1, 2)?;
    c.fsync(N1)?;
    c.outbox.clear();
    for msg in answer_to_old {
        c.deliver(msg)?;
    }
    c.fsync(N1)?;
    assert!(
        !c.reads_served.iter().any(|(n, r)| *n == N1 && r.request_id == 2),
        "node 1 served a read on an acknowledgement given before the read, by a node that has since \
         followed a newer leader"
    );
    Ok(())
}

/// A leader that steps down keeps nothing that only a leader reads: it numbers read rounds from 0
/// again and its term is no longer marked durable, as after a restart. Otherwise a former leader
/// would differ for ever from a node that never led, in values nothing reads (for the model
/// checker, states that behave alike but count twice). Leading again, it serves reads as before.
#[test]
fn a_leader_that_steps_down_keeps_nothing_only_a_leader_reads() -> Result<(), Violation> {
    let mut c = Cluster::new(3, paper_config, 23);
    elect(&mut c, N1)?;
    c.read_index(N1, 1)?;
    c.stabilize()?;
    let served = |c: &Cluster, id: u64| {
        c.reads_served
            .iter()
            .any(|(n, r)| *n == N1 && r.request_id == id)
    };
    assert!(served(&c, 1));
    assert!(c.node(N1).leader_term_durable);
    assert_ne!(
        c.node(N1).reads,
        ReadIndexQueue::default(),
        "round 0 was numbered"
    );
    elect(&mut c, N2)?;
    assert_eq!(c.node(N1).status().role, Role::Follower);
    assert_eq!(c.node(N1).reads, ReadIndexQueue::default());
    assert!(!c.node(N1).leader_term_durable);
    elect(&mut c, N1)?;
    assert!(c.node(N1).leader_term_durable, "set again on taking office");
    c.read_index(N1, 2)?;
    let contexts: Vec<Option<u64>> = c
        .outbox
        .iter()
        .filter_map(|m| match m.body {
            MessageBody::Heartbeat { read_context, .. } => Some(read_context),
            _ => None,
        })
        .collect();
    assert!(
        !contexts.is_empty() && contexts.iter().all(|ctx| *ctx == Some(0)),
        "{contexts:?}"
    );
    c.stabilize()?;
    assert!(served(&c, 2));
    Ok(())
}

/// Steps two copies of a node that the model holds for one state (`normalize_leader_knowledge`) with
/// `msg`, asserts they hand out the same `Ready` and are equal once both are normalized again.
fn step_alike(a: &mut RawNode, b: &mut RawNode, msg: Message) {
    a.step(msg.clone());
    b.step(msg);
    assert_eq!(a.ready(), b.ready());
    a.normalize_leader_knowledge();
    b.normalize_leader_knowledge();
    assert_eq!(a, b);
}

/// A leader's heartbeat carries its commit index only as far as the member's log is known to match
/// the leader's (as etcd's heartbeats). Node 2 misses entry 2, which commits with node 3's answer:
/// the next heartbeat tells node 3 about index 2 and node 2 only about index 1.
#[test]
fn a_heartbeat_carries_the_commit_index_only_as_far_as_the_member_matches() -> Result<(), Violation>
{
    let mut c = Cluster::new(3, Config::new, 24);
    elect(&mut c, N1)?;
    c.fire_heartbeat_timeout(N1)?;
    c.stabilize()?;
    c.propose(N1, b"x".to_vec())?;
    c.deliver_all(100, |m| m.to != N2 && m.from != N2)?;
    assert_eq!(c.node(N1).status().commit_index, LogIndex(2));
    assert_eq!(c.node(N2).log_entries().len(), 1, "node 2 missed entry 2");
    c.fire_heartbeat_timeout(N1)?;
    let told: BTreeMap<NodeId, LogIndex> = c
        .outbox
        .iter()
        .filter_map(|m| match m.body {
            MessageBody::Heartbeat { leader_commit, .. } => Some((m.to, leader_commit)),
            _ => None,
        })
        .collect();
    assert_eq!(told, BTreeMap::from([(N2, LogIndex(1)), (N3, LogIndex(2))]));
    c.stabilize()?;
    assert_eq!(c.node(N2).status().commit_index, LogIndex(2), "caught up");
    Ok(())
}

/// A follower that times out forgets its leader; when it hears from that leader again it commits as
/// far as a follower that kept waiting, since the leader's message says how far (the model checker's
/// eager timeouts rely on this). Node 2 holds entry 2 uncommitted; a heartbeat that commits it
/// leaves both copies equal (once `normalize_leader_knowledge` and the timer normalisation, model
/// checking only, are applied).
#[test]
fn a_follower_that_timed_out_commits_as_far_as_one_that_waited() -> Result<(), Violation> {
    let mut c = Cluster::new(3, Config::new, 24);
    elect(&mut c, N1)?;
    c.fire_heartbeat_timeout(N1)?;
    c.stabilize()?;
    c.propose(N1, b"x".to_vec())?;
    let appends: Vec<Message> = c
        .outbox
        .iter()
        .filter(|m| m.to == N2 && matches!(m.body, MessageBody::AppendEntries { .. }))
        .cloned()
        .collect();
    c.outbox.clear();
    for msg in appends {
        c.deliver(msg)?;
    }
    let mut waited = c.node(N2).clone();
    assert_eq!(waited.status().commit_index, LogIndex(1));
    assert_eq!(waited.log_entries().len(), 2);
    let mut timed_out = waited.clone();
    timed_out.fire_election_timeout();
    assert_eq!(timed_out.status().role, Role::PreCandidate);
    assert_eq!(timed_out.status().leader, None);
    let _pre_votes = timed_out.ready();
    let term = waited.status().term.0;
    let heartbeat = MessageBody::Heartbeat {
        leader_commit: LogIndex(2),
        read_context: None,
    };
    for node in [&mut waited, &mut timed_out] {
        node.step(message(N1, N2, term, heartbeat.clone()));
        node.normalize_leader_knowledge();
        node.normalize_timer_randomness();
    }
    assert_eq!(timed_out.status().commit_index, LogIndex(2));
    assert_eq!(timed_out.ready(), waited.ready());
    assert_eq!(timed_out, waited);
    Ok(())
}

/// Without pre-vote and check-quorum, `normalize_leader_knowledge` (model checking only) makes a
/// follower that has voted forget its leader, and what it knew to match the leader's log. The
/// follower that forgot and the one that did not answer an append beyond the commit index, a
/// heartbeat that commits it and a vote request alike and end alike; a follower that has not voted
/// keeps its leader, since it may vote only while it knows none.
#[test]
fn a_follower_that_voted_forgets_its_leader() -> Result<(), Violation> {
    let mut c = Cluster::new(3, paper_config, 25);
    elect(&mut c, N1)?;
    c.fire_heartbeat_timeout(N1)?;
    c.stabilize()?;
    let mut kept = c.node(N2).clone();
    assert_eq!(kept.hard_state().voted_for, Some(N1));
    assert_eq!(kept.leader_match_index, kept.status().commit_index);
    let mut forgot = kept.clone();
    forgot.normalize_leader_knowledge();
    assert_eq!(forgot.leader, None);
    assert_eq!(forgot.leader_match_index, LogIndex(0));
    let mut not_voted = kept.clone();
    not_voted.hard_state.voted_for = None;
    not_voted.normalize_leader_knowledge();
    assert_eq!(
        not_voted.leader,
        Some(N1),
        "it may vote only while it knows no leader"
    );
    let term = kept.status().term.0;
    let inputs = [
        message(
            N1,
            N2,
            term,
            MessageBody::AppendEntries {
                prev_log_index: LogIndex(1),
                prev_log_term: Term(term),
                entries: vec![Entry {
                    term: Term(term),
                    index: LogIndex(2),
                    payload: EntryPayload::Noop,
                }],
                leader_commit: LogIndex(1),
            },
        ),
        message(
            N1,
            N2,
            term,
            MessageBody::Heartbeat {
                leader_commit: LogIndex(2),
                read_context: None,
            },
        ),
        message(
            N3,
            N2,
            term,
            MessageBody::RequestVote {
                last_log_index: LogIndex(2),
                last_log_term: Term(term),
                leadership_transfer: false,
            },
        ),
    ];
    for msg in inputs {
        step_alike(&mut kept, &mut forgot, msg);
        assert_eq!(forgot.leader, None);
    }
    assert_eq!(forgot.status().commit_index, LogIndex(2));
    Ok(())
}

/// `normalize_quorum_activity` (model checking only) marks every member heard from once those heard
/// from form a quorum, and not before; the next check-quorum round decides alike either way.
#[test]
fn quorum_activity_is_normalized_only_once_a_quorum_was_heard() -> Result<(), Violation> {
    let mut c = Cluster::new(5, Config::new, 16);
    elect(&mut c, N1)?;
    // A round that passes (everyone answered during the election) clears every flag.
    c.fire_election_timeout(N1)?;
    let active = |node: &RawNode| -> Vec<NodeId> {
        node.progress
            .iter()
            .filter(|(_, pr)| pr.recent_active)
            .map(|(id, _)| *id)
            .collect()
    };
    let mut node = c.node(N1).clone();
    assert_eq!(active(&node), Vec::<NodeId>::new());
    let term = node.status().term.0;
    let answer = |from| {
        message(
            from,
            N1,
            term,
            MessageBody::HeartbeatResponse { read_context: None },
        )
    };
    node.step(answer(N2));
    node.normalize_quorum_activity();
    assert_eq!(
        active(&node),
        vec![N2],
        "2 of 5 is no quorum: kept as heard"
    );
    node.step(answer(N3));
    node.normalize_quorum_activity();
    assert_eq!(active(&node), vec![N2, N3, N4, N5], "3 of 5 is a quorum");
    node.fire_election_timeout();
    assert_eq!(node.status().role, Role::Leader, "the round passes");
    assert_eq!(active(&node), Vec::<NodeId>::new(), "and clears every flag");
    Ok(())
}

/// A follower whose election timer fires forgets its leader and what it knew to match that leader's
/// log: a leader it learns again starts from 0 anyway, so the value could never be read, and keeping it
/// only told otherwise identical states apart (for the model checker).
#[test]
fn a_node_that_forgets_its_leader_forgets_the_matched_index_too() -> Result<(), Violation> {
    let mut c = Cluster::new(3, Config::new, 21);
    elect(&mut c, N1)?;
    let mut node = c.node(N2).clone();
    assert_eq!(node.leader, Some(N1));
    assert!(
        node.leader_match_index > LogIndex(0),
        "the follower matched the leader's Noop"
    );
    node.fire_election_timeout();
    assert_eq!(node.status().role, Role::PreCandidate);
    assert_eq!(node.leader, None);
    assert_eq!(node.leader_match_index, LogIndex(0));
    Ok(())
}

#[test]
fn a_follower_with_a_live_leader_ignores_vote_requests_unless_transferring() -> Result<(), Violation>
{
    let mut c = Cluster::new(3, Config::new, 13);
    elect(&mut c, N1)?;
    let request = |transfer| {
        message(
            N3,
            N2,
            5,
            MessageBody::RequestVote {
                last_log_index: LogIndex(9),
                last_log_term: Term(4),
                leadership_transfer: transfer,
            },
        )
    };
    c.deliver(request(false))?;
    assert_eq!(
        c.term(N2),
        Term(1),
        "ignored: node 2 heard from its leader recently"
    );
    c.deliver(request(true))?;
    assert_eq!(c.term(N2), Term(5));
    assert_eq!(c.node(N2).hard_state().voted_for, Some(N3));
    Ok(())
}

#[test]
fn a_stale_leader_learns_the_newer_term_from_an_answer() -> Result<(), Violation> {
    let mut c = Cluster::new(3, Config::new, 14);
    elect(&mut c, N1)?;
    // Node 2 moved on to term 7 (say it campaigned during a partition).
    c.deliver(message(N3, N2, 7, MessageBody::TimeoutNow))?;
    c.crash(N3)?;
    c.fsync(N2)?;
    c.outbox.clear();
    c.fire_heartbeat_timeout(N1)?;
    c.stabilize()?;
    assert_eq!(c.node(N1).status().role, Role::Follower);
    assert!(
        c.term(N1) >= Term(8),
        "node 1 adopted the newer term: {}",
        c.term(N1)
    );
    Ok(())
}

#[test]
fn read_index_waits_for_a_heartbeat_quorum() -> Result<(), Violation> {
    let mut c = Cluster::new(5, Config::new, 15);
    elect(&mut c, N1)?;
    c.propose(N1, b"x".to_vec())?;
    c.stabilize()?;
    assert_eq!(c.node(N1).status().commit_index, LogIndex(2));
    c.read_index(N1, 7)?;
    // Only node 2 answers: the leader plus one is not a majority of five.
    c.deliver_all(10, |m| m.from == N2 || m.to == N2)?;
    assert!(
        c.reads_served.is_empty(),
        "served without a quorum: {:?}",
        c.reads_served
    );
    // Node 3's answer to the next heartbeat (which carries the round) completes the quorum.
    c.fire_heartbeat_timeout(N1)?;
    c.deliver_all(10, |m| m.from == N3 || m.to == N3)?;
    c.fsync(N1)?;
    assert_eq!(
        c.reads_served,
        vec![(
            N1,
            ReadState {
                request_id: 7,
                index: LogIndex(2)
            }
        )]
    );
    assert_eq!(
        c.read_index(N2, 8)?,
        Some(Err(ProposeError::NotLeader {
            leader_hint: Some(N1)
        }))
    );
    Ok(())
}

#[test]
fn a_new_leader_serves_reads_only_after_committing_in_its_term() -> Result<(), Violation> {
    let mut c = Cluster::new(3, Config::new, 16);
    elect(&mut c, N1)?;
    c.propose(N1, b"x".to_vec())?;
    c.stabilize()?;
    // Node 2 takes over; a read arrives before its Noop commits.
    c.deliver(message(N1, N2, 1, MessageBody::TimeoutNow))?;
    c.deliver_all(10, |m| {
        matches!(
            m.body,
            MessageBody::RequestVote { .. } | MessageBody::RequestVoteResponse { .. }
        )
    })?;
    assert_eq!(c.leader(), Some(N2));
    c.outbox.clear();
    c.read_index(N2, 9)?;
    c.fire_heartbeat_timeout(N2)?;
    c.deliver_all(10, |m| {
        matches!(
            m.body,
            MessageBody::Heartbeat { .. } | MessageBody::HeartbeatResponse { .. }
        )
    })?;
    assert!(
        c.reads_served.is_empty(),
        "read index must not predate the term's first commit"
    );
    c.fire_heartbeat_timeout(N2)?;
    c.stabilize()?;
    c.fire_heartbeat_timeout(N2)?;
    c.stabilize()?;
    assert_eq!(
        c.reads_served,
        vec![(
            N2,
            ReadState {
                request_id: 9,
                index: LogIndex(3)
            }
        )]
    );
    Ok(())
}

#[test]
fn a_single_node_serves_reads_without_a_round_trip() -> Result<(), Violation> {
    let mut c = Cluster::new(1, Config::new, 17);
    c.fire_election_timeout(N1)?;
    c.fsync(N1)?;
    assert_eq!(c.leader(), Some(N1));
    c.fsync(N1)?;
    assert_eq!(
        c.node(N1).status().commit_index,
        LogIndex(1),
        "commits once durable"
    );
    c.read_index(N1, 1)?;
    c.fsync(N1)?;
    assert_eq!(
        c.reads_served,
        vec![(
            N1,
            ReadState {
                request_id: 1,
                index: LogIndex(1)
            }
        )]
    );
    Ok(())
}

#[test]
fn appends_are_batched_and_the_pipeline_window_is_bounded() -> Result<(), Violation> {
    let config = |id| Config {
        max_entries_per_append: 4,
        max_inflight_appends: 2,
        ..Config::new(id)
    };
    let mut c = Cluster::new(3, config, 18);
    elect(&mut c, N1)?;
    for value in 0..20u8 {
        c.propose(N1, vec![value])?;
    }
    let to_n2 = |c: &Cluster| {
        c.outbox
            .iter()
            .filter(|m| m.to == N2 && matches!(m.body, MessageBody::AppendEntries { .. }))
            .count()
    };
    assert_eq!(to_n2(&c), 2, "window of two appends in flight");
    let largest = Cell::new(0);
    c.deliver_all(100, |m| {
        if let MessageBody::AppendEntries { entries, .. } = &m.body {
            largest.set(largest.get().max(entries.len()));
        }
        true
    })?;
    assert_eq!(
        largest.get(),
        4,
        "batches fill up to max_entries_per_append"
    );
    assert_eq!(c.node(N1).status().commit_index, LogIndex(21));
    assert_eq!(c.propose(N1, vec![0])?.map(|r| r.is_ok()), Some(true));
    Ok(())
}

#[test]
fn too_many_pending_proposals_are_refused() -> Result<(), Violation> {
    let config = |id| Config {
        max_pending_proposals: 3,
        ..Config::new(id)
    };
    let mut c = Cluster::new(3, config, 19);
    elect(&mut c, N1)?;
    for value in 0..3u8 {
        assert!(matches!(c.propose(N1, vec![value])?, Some(Ok(_))));
    }
    assert_eq!(
        c.propose(N1, vec![9])?,
        Some(Err(ProposeError::TooManyPending))
    );
    c.stabilize()?;
    assert!(
        matches!(c.propose(N1, vec![9])?, Some(Ok(_))),
        "accepted again once committed"
    );
    Ok(())
}

#[test]
fn a_crash_loses_exactly_the_unsynced_writes() -> Result<(), Violation> {
    let mut c = Cluster::new(3, Config::new, 20);
    elect(&mut c, N1)?;
    c.propose(N1, b"synced".to_vec())?;
    c.stabilize()?;
    c.propose(N1, b"unsynced".to_vec())?;
    // The append reaches node 2, which crashes before its fsync.
    let appends: Vec<Message> = std::mem::take(&mut c.outbox);
    for m in appends.into_iter().filter(|m| m.to == N2) {
        c.deliver(m)?;
    }
    assert_eq!(c.node(N2).status().last_index, LogIndex(3));
    c.crash(N2)?;
    c.crash(N1)?;
    c.restart(N2);
    c.restart(N1);
    assert_eq!(
        c.node(N2).status().last_index,
        LogIndex(2),
        "only durable entries survive"
    );
    assert_eq!(c.node(N1).status().last_index, LogIndex(2));
    assert_eq!(c.term(N2), Term(1), "the durable hard state survives");
    Ok(())
}

#[test]
fn leadership_transfer_hands_over_to_an_up_to_date_target() -> Result<(), Violation> {
    let mut c = Cluster::new(3, Config::new, 21);
    elect(&mut c, N1)?;
    let raw = c
        .nodes
        .get_mut(&N1)
        .and_then(|n| n.raw.as_mut())
        .expect("running");
    assert_eq!(raw.transfer_leadership(N2), Ok(()));
    assert_eq!(raw.propose(vec![1]), Err(ProposeError::TransferInProgress));
    c.stabilize()?;
    assert_eq!(c.leader(), Some(N2));
    assert_eq!(c.term(N2), Term(2));
    Ok(())
}

/// Delivers everything but what `lose` picks, which is lost silently (a proxy dropped the frames and the
/// connection has not timed out yet, so no transport reports it).
fn deliver_losing_silently(
    c: &mut Cluster,
    lose: impl Fn(&Message) -> bool,
) -> Result<(), Violation> {
    for _ in 0..100 {
        for id in c.alive() {
            c.fsync(id)?;
        }
        let batch = std::mem::take(&mut c.outbox);
        if batch.is_empty() {
            break;
        }
        for m in batch.into_iter().filter(|m| !lose(m)) {
            c.deliver(m)?;
        }
    }
    Ok(())
}

/// Messages lost in a pipeline are found out by the transport's report, not by counting heartbeat
/// answers (a count that duplicated or late answers would inflate): however many heartbeats a follower
/// answers, its lost appends are not resent and its lost answers not repeated, until a report comes.
#[test]
fn lost_appends_and_lost_answers_are_recovered_after_an_unreachable_report() -> Result<(), Violation>
{
    let last = |c: &Cluster, id| c.node(id).log_entries().last().map(|e| e.index);
    let heartbeats = |c: &mut Cluster| -> Result<(), Violation> {
        for _ in 0..10 {
            c.fire_heartbeat_timeout(N1)?;
            c.stabilize()?;
        }
        Ok(())
    };

    // Appends to node 2 lost: the leader probes it again after the report.
    let mut c = Cluster::new(3, Config::new, 31);
    elect(&mut c, N1)?;
    c.propose(N1, b"x".to_vec())?;
    deliver_losing_silently(&mut c, |m| {
        m.to == N2 && matches!(m.body, MessageBody::AppendEntries { .. })
    })?;
    assert_eq!(last(&c, N3), Some(LogIndex(2)), "node 3 got the entry");
    heartbeats(&mut c)?;
    assert_eq!(
        last(&c, N2),
        Some(LogIndex(1)),
        "heartbeats do not resend it"
    );
    assert_eq!(c.node(N1).progress[&N2].state, ProgressState::Replicate);
    c.report_unreachable(N1, N2)?;
    let pr = &c.node(N1).progress[&N2];
    assert_eq!(
        pr.state,
        ProgressState::Probe,
        "the report sends node 2 back to probing"
    );
    assert_eq!(pr.next_index, LogIndex(2), "from after the match");
    c.fire_heartbeat_timeout(N1)?;
    c.stabilize()?;
    assert_eq!(
        last(&c, N2),
        Some(LogIndex(2)),
        "the probe resent the entry"
    );
    assert_eq!(c.node(N2).status().commit_index, LogIndex(2));

    // Node 2's answers lost: node 2 answers again after its own transport's report.
    let mut c = Cluster::new(3, Config::new, 32);
    elect(&mut c, N1)?;
    c.propose(N1, b"y".to_vec())?;
    deliver_losing_silently(&mut c, |m| {
        m.from == N2 && matches!(m.body, MessageBody::AppendEntriesResponse { .. })
    })?;
    assert_eq!(last(&c, N2), Some(LogIndex(2)), "node 2 has the entry");
    heartbeats(&mut c)?;
    assert_eq!(
        c.node(N1).progress[&N2].match_index,
        LogIndex(1),
        "the leader does not know"
    );
    c.report_unreachable(N2, N1)?;
    c.stabilize()?;
    assert_eq!(
        c.node(N1).progress[&N2].match_index,
        LogIndex(2),
        "now it does"
    );
    Ok(())
}

/// `forget_whom_it_voted_for` (model checking only) turns a vote for another candidate into one for
/// the node itself, keeping that it voted and persisting nothing new. The node then refuses every
/// vote request of the term, as before for every candidate but the one it voted for; that one,
/// granted again before and refused after, changes neither node. Everything else goes alike.
#[test]
fn a_forgotten_vote_refuses_every_request_and_changes_nothing_else() {
    let mut kept = RawNode::new(paper_config(N2), recovered(&[], 0, 0, 3), 7).expect("valid");
    let vote_request = vote_request_of_term_1_to_n2;
    kept.step(vote_request(N1));
    kept.ready();
    assert_eq!(kept.hard_state().voted_for, Some(N1));
    let mut forgot = kept.clone();
    forgot.forget_whom_it_voted_for();
    assert_eq!(forgot.hard_state().voted_for, Some(N2));
    assert_eq!(forgot.hard_state().term, Term(1));
    assert!(!forgot.has_ready(), "the rewrite persists nothing");
    // The two differ in the vote only (and, after a vote granted again, in the election timer's
    // random draw, which the model normalizes away).
    let alike = |kept: &RawNode, forgot: &RawNode| {
        let mut kept = kept.clone();
        let mut relabeled = forgot.clone();
        relabeled.hard_state.voted_for = kept.hard_state.voted_for;
        relabeled.handed_out_hard_state.voted_for = kept.handed_out_hard_state.voted_for;
        kept.normalize_timer_randomness();
        relabeled.normalize_timer_randomness();
        assert_eq!(kept, relabeled);
    };
    alike(&kept, &forgot);
    let answers = |node: &mut RawNode| -> Vec<(NodeId, MessageBody)> {
        let ready = node.ready();
        assert!(ready.hard_state.is_none(), "no vote changes");
        ready
            .messages
            .into_iter()
            .chain(ready.persisted_messages)
            .map(|m| (m.to, m.body))
            .collect()
    };
    kept.step(vote_request(N3));
    forgot.step(vote_request(N3));
    let refused = vec![(N3, MessageBody::RequestVoteResponse { granted: false })];
    assert_eq!(answers(&mut kept), refused);
    assert_eq!(answers(&mut forgot), refused);
    alike(&kept, &forgot);
    kept.step(vote_request(N1));
    forgot.step(vote_request(N1));
    let granted_again = vec![(N1, MessageBody::RequestVoteResponse { granted: true })];
    assert_eq!(answers(&mut kept), granted_again);
    let refused = vec![(N1, MessageBody::RequestVoteResponse { granted: false })];
    assert_eq!(answers(&mut forgot), refused);
    alike(&kept, &forgot);
    let append = message(
        N1,
        N2,
        1,
        MessageBody::AppendEntries {
            prev_log_index: LogIndex(0),
            prev_log_term: Term(0),
            entries: vec![Entry {
                term: Term(1),
                index: LogIndex(1),
                payload: EntryPayload::Noop,
            }],
            leader_commit: LogIndex(1),
        },
    );
    kept.step(append.clone());
    forgot.step(append);
    assert_eq!(kept.ready().messages, forgot.ready().messages);
    alike(&kept, &forgot);
    assert_eq!(forgot.status().commit_index, LogIndex(1));
}

/// `read_round_is_settled` (model checking only) holds for a round number exactly when no round at
/// or below it is pending: while read round 0 waits for its quorum it is not settled; once served,
/// it is, and a later round (numbered 1) leaves round 0 settled.
#[test]
fn a_read_round_is_settled_once_no_round_up_to_it_is_pending() -> Result<(), Violation> {
    let mut c = Cluster::new(3, paper_config, 18);
    elect(&mut c, N1)?;
    c.read_index(N1, 1)?;
    assert!(!c.node(N1).read_round_is_settled(0), "round 0 is pending");
    assert!(
        !c.node(N1).read_round_is_settled(1),
        "round 0 is at or below 1"
    );
    c.stabilize()?;
    assert!(c
        .reads_served
        .iter()
        .any(|(n, r)| *n == N1 && r.request_id == 1));
    assert!(c.node(N1).read_round_is_settled(0), "round 0 was served");
    c.read_index(N1, 2)?;
    assert!(
        c.node(N1).read_round_is_settled(0),
        "the new round is numbered 1"
    );
    assert!(!c.node(N1).read_round_is_settled(1), "round 1 is pending");
    Ok(())
}
