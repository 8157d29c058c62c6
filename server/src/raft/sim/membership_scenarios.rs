//! Scripted membership scenarios: bad requests are refused without changing the configuration; a
//! learner is promoted once caught up; a removed leader steps down once its removal commits; an
//! uncommitted configuration is reverted when a new leader truncates it; joint consensus needs
//! majorities of both the old and the new voter sets; a removed node that missed its removal does not
//! disrupt the cluster.

use super::cluster::Cluster;
use crate::raft::safety::Violation;
use crate::raft::{ConfChangeError, Config, Message, NodeId, Role};
use std::collections::BTreeSet;

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);
const N4: NodeId = NodeId(4);

fn elect(cluster: &mut Cluster, id: NodeId) -> Result<(), Violation> {
    cluster.fire_election_timeout(id)?;
    cluster.stabilize()?;
    assert_eq!(cluster.leader(), Some(id), "{id} should have won");
    Ok(())
}

/// Commits everything and lets followers learn the commit index.
fn settle(c: &mut Cluster, leader: NodeId) -> Result<(), Violation> {
    c.stabilize()?;
    c.fire_heartbeat_timeout(leader)?;
    c.stabilize()
}

fn voters(ids: &[NodeId]) -> BTreeSet<NodeId> {
    ids.iter().copied().collect()
}

/// Four nodes; node 4 is removed first so that it can be added again.
fn three_voters_and_an_outsider() -> Result<Cluster, Violation> {
    let mut c = Cluster::new(4, Config::new, 5);
    elect(&mut c, N1)?;
    let removed = c.change_membership(N1, |raw| raw.remove_member(N4))?;
    assert!(matches!(removed, Some(Ok(_))));
    settle(&mut c, N1)?;
    assert_eq!(c.node(N1).cluster().voters, voters(&[N1, N2, N3]));
    Ok(c)
}

#[test]
fn bad_requests_are_refused_and_change_nothing() -> Result<(), Violation> {
    let mut c = three_voters_and_an_outsider()?;
    let before = c.node(N1).cluster().clone();
    let add_existing = c.change_membership(N1, |raw| raw.add_learner(N2))?;
    assert_eq!(add_existing, Some(Err(ConfChangeError::AlreadyMember(N2))));
    let remove_unknown = c.change_membership(N1, |raw| raw.remove_member(NodeId(9)))?;
    assert_eq!(
        remove_unknown,
        Some(Err(ConfChangeError::NotMember(NodeId(9))))
    );
    let not_leader = c.change_membership(N2, |raw| raw.add_learner(N4))?;
    assert!(matches!(
        not_leader,
        Some(Err(ConfChangeError::NotLeader { .. }))
    ));
    // A second change while the first is in flight.
    let first = c.change_membership(N1, |raw| raw.add_learner(N4))?;
    assert!(matches!(first, Some(Ok(_))));
    let second = c.change_membership(N1, |raw| raw.remove_member(N3))?;
    assert_eq!(second, Some(Err(ConfChangeError::ChangeInProgress)));
    let mut expected = before;
    expected.learners.insert(N4);
    assert_eq!(
        c.node(N1).cluster(),
        &expected,
        "only the accepted change took effect"
    );
    Ok(())
}

#[test]
fn a_learner_is_promoted_once_caught_up() -> Result<(), Violation> {
    let mut c = three_voters_and_an_outsider()?;
    for value in 0..5u8 {
        c.propose(N1, vec![value])?;
    }
    settle(&mut c, N1)?;
    let added = c.change_membership(N1, |raw| raw.add_learner(N4))?;
    assert!(matches!(added, Some(Ok(_))));
    settle(&mut c, N1)?;
    settle(&mut c, N1)?;
    let cluster = c.node(N1).cluster().clone();
    assert_eq!(cluster.voters, voters(&[N1, N2, N3, N4]), "{cluster:?}");
    assert!(cluster.learners.is_empty());
    assert_eq!(c.node(N4).status().role, Role::Follower);
    Ok(())
}

#[test]
fn a_removed_leader_steps_down_once_its_removal_commits() -> Result<(), Violation> {
    let mut c = Cluster::new(3, Config::new, 6);
    elect(&mut c, N1)?;
    let removed = c.change_membership(N1, |raw| raw.remove_member(N1))?;
    assert!(matches!(removed, Some(Ok(_))));
    assert_eq!(
        c.node(N1).status().role,
        Role::Leader,
        "still leads until committed"
    );
    settle(&mut c, N1)?;
    assert_ne!(c.node(N1).status().role, Role::Leader);
    // It handed over: one of the remaining voters leads, and the removed node cannot campaign.
    let leader = c.leader().expect("a successor leads");
    assert!(leader == N2 || leader == N3);
    let term = c.term(N1);
    c.fire_election_timeout(N1)?;
    assert_eq!(c.term(N1), term);
    assert_ne!(c.node(N1).status().role, Role::PreCandidate);
    Ok(())
}

#[test]
fn an_uncommitted_config_is_reverted_when_truncated() -> Result<(), Violation> {
    let mut c = three_voters_and_an_outsider()?;
    // N1 appends a change that reaches nobody, then loses office.
    let added = c.change_membership(N1, |raw| raw.add_learner(N4))?;
    assert!(matches!(added, Some(Ok(_))));
    c.fsync(N1)?;
    c.outbox.clear();
    c.crash(N1)?;
    // Let the followers' leader lease run out, then elect N2.
    for _ in 0..Config::new(N2).election_timeout_ticks_min {
        c.tick(N2)?;
        c.tick(N3)?;
    }
    c.outbox.clear();
    elect(&mut c, N2)?;
    c.propose(N2, vec![42])?;
    settle(&mut c, N2)?;
    c.restart(N1);
    assert!(
        c.node(N1).cluster().learners.contains(&N4),
        "recovered with the uncommitted change"
    );
    settle(&mut c, N2)?;
    assert!(
        c.node(N1).cluster().learners.is_empty(),
        "the new leader's log replaced the uncommitted config"
    );
    assert_eq!(c.node(N1).cluster().voters, voters(&[N1, N2, N3]));
    Ok(())
}

#[test]
fn joint_consensus_needs_majorities_of_both_sets() -> Result<(), Violation> {
    let mut c = three_voters_and_an_outsider()?;
    // {1,2,3} -> {1,4}: C_old,new needs 2 of {1,2,3} and both of {1,4}.
    let joint = c.change_membership(N1, |raw| raw.change_voters(voters(&[N1, N4])))?;
    let Some(Ok(joint_index)) = joint else {
        panic!("joint change refused: {joint:?}");
    };
    // Node 4 cannot answer: the old set alone gives no commit.
    let without_n4 = |m: &Message| m.to != N4 && m.from != N4;
    c.deliver_all(50, without_n4)?;
    c.fire_heartbeat_timeout(N1)?;
    c.deliver_all(50, without_n4)?;
    assert!(
        c.node(N1).status().commit_index < joint_index,
        "C_old,new needs node 4"
    );
    // With node 4 it commits, and C_new follows automatically.
    settle(&mut c, N1)?;
    settle(&mut c, N1)?;
    let cluster = c.node(N1).cluster().clone();
    assert_eq!(cluster.voters, voters(&[N1, N4]));
    assert!(
        cluster.voters_outgoing.is_empty(),
        "C_new was appended: {cluster:?}"
    );
    assert!(!c.node(N1).config_change_in_flight());
    Ok(())
}

/// A node removed while it heard nothing still believes it is a voter and campaigns: with pre-vote it
/// never wins a pre-vote (everyone hears from a live leader), and without pre-vote its higher-term vote
/// requests are ignored under the leader lease; either way the leader and the term stay.
#[test]
fn a_removed_node_that_missed_its_removal_does_not_disrupt_the_leader() -> Result<(), Violation> {
    for pre_vote in [true, false] {
        let config_of = |id| {
            let mut config = Config::new(id);
            config.pre_vote = pre_vote;
            config
        };
        let mut c = Cluster::new(4, config_of, 8);
        elect(&mut c, N1)?;
        settle(&mut c, N1)?;
        let removed = c.change_membership(N1, |raw| raw.remove_member(N4))?;
        assert!(matches!(removed, Some(Ok(_))));
        let cut_off = |m: &Message| m.to != N4 && m.from != N4;
        c.deliver_all(100, cut_off)?;
        c.fire_heartbeat_timeout(N1)?;
        c.deliver_all(100, cut_off)?;
        assert_eq!(c.node(N1).cluster().voters, voters(&[N1, N2, N3]));
        assert!(
            c.node(N4).cluster().voters.contains(&N4),
            "N4 missed its removal"
        );
        let terms: Vec<_> = [N1, N2, N3].iter().map(|&id| c.term(id)).collect();
        for _ in 0..5 {
            c.fire_election_timeout(N4)?;
            let role = c.node(N4).status().role;
            assert!(
                matches!(role, Role::PreCandidate | Role::Candidate),
                "pre-vote {pre_vote}: N4 campaigns ({role:?})"
            );
            c.stabilize()?;
            c.fire_heartbeat_timeout(N1)?;
            c.stabilize()?;
        }
        assert_eq!(c.leader(), Some(N1), "pre-vote {pre_vote}: N1 still leads");
        let after: Vec<_> = [N1, N2, N3].iter().map(|&id| c.term(id)).collect();
        assert_eq!(after, terms, "pre-vote {pre_vote}: no term moved");
    }
    Ok(())
}
