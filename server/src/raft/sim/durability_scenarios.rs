//! Scripted scenarios for two rules about durable state: a single voter, which wins an election by its
//! own vote, takes office only once its new term is durable; and the unsafe `force_configuration`
//! (set-peers) moves to a new term, appends the forced configuration and lets the node lead it alone.

use super::cluster::Cluster;
use crate::raft::safety::Violation;
use crate::raft::{
    ClusterConfig, ConfChangeError, Config, EntryPayload, LogIndex, NodeId, Role, Term,
};

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);

#[test]
fn a_single_voter_takes_office_only_once_its_term_is_durable() -> Result<(), Violation> {
    let mut c = Cluster::new(1, Config::new, 41);
    c.fire_election_timeout(N1)?;
    let node = c.node(N1);
    assert_eq!(
        node.status().role,
        Role::Candidate,
        "won, but not durable yet"
    );
    assert_eq!(c.leader(), None);
    let first_try = node.log_entries().to_vec();
    assert_eq!(first_try.len(), 1);
    assert_eq!(first_try[0].payload, EntryPayload::Noop);
    let term = node.hard_state().term;
    assert!(
        c.propose(N1, b"x".to_vec())?.is_some_and(|r| r.is_err()),
        "no proposals yet"
    );

    // A crash before the disk write loses the term; the same term is won again with the same entry.
    c.crash(N1)?;
    c.restart(N1);
    assert_eq!(c.node(N1).hard_state().term, Term(0));
    assert!(c.node(N1).log_entries().is_empty());
    c.fire_election_timeout(N1)?;
    assert_eq!(c.node(N1).hard_state().term, term);
    assert_eq!(
        c.node(N1).log_entries(),
        &first_try[..],
        "identical, so Log Matching holds"
    );

    // Once durable it leads and commits.
    c.fsync(N1)?;
    assert_eq!(c.leader(), Some(N1));
    assert_eq!(c.node(N1).status().commit_index, LogIndex(1));
    assert!(c.propose(N1, b"x".to_vec())?.is_some_and(|r| r.is_ok()));
    c.fsync(N1)?;
    assert_eq!(c.node(N1).status().commit_index, LogIndex(2));
    Ok(())
}

#[test]
fn force_configuration_lets_a_survivor_lead_alone_and_refuses_bad_input() -> Result<(), Violation> {
    let mut c = Cluster::new(3, Config::new, 42);
    c.fire_election_timeout(N1)?;
    c.stabilize()?;
    assert_eq!(c.leader(), Some(N1));
    assert!(c.propose(N1, b"kept".to_vec())?.is_some_and(|r| r.is_ok()));
    c.stabilize()?;
    c.crash(N2)?;
    c.crash(N3)?;
    let before = c.node(N1).cluster().clone();
    let term_before = c.node(N1).hard_state().term;

    // Refused: no voters, or this node left out. Nothing changes.
    let empty = c.change_membership(N1, |raw| raw.force_configuration(ClusterConfig::default()))?;
    assert_eq!(empty, Some(Err(ConfChangeError::NoVoters)));
    let without_me = c.change_membership(N1, |raw| {
        raw.force_configuration(ClusterConfig::with_voters([N2]))
    })?;
    assert_eq!(without_me, Some(Err(ConfChangeError::NotMember(N1))));
    assert_eq!(c.node(N1).cluster(), &before);
    assert_eq!(c.node(N1).hard_state().term, term_before);

    let mut forced = ClusterConfig::with_voters([N1]);
    forced.addresses.insert(N1, "127.0.0.1:1001".into());
    forced.addresses.insert(N2, "127.0.0.1:1002".into());
    let index = c
        .change_membership(N1, |raw| raw.force_configuration(forced.clone()))?
        .and_then(Result::ok)
        .expect("forced");
    let node = c.node(N1);
    assert_eq!(node.status().role, Role::Follower);
    assert_eq!(node.hard_state().term, Term(term_before.0 + 1));
    assert_eq!(node.hard_state().voted_for, Some(N1));
    assert_eq!(node.cluster().voters, [N1].into());
    assert_eq!(
        node.cluster().addresses.keys().copied().collect::<Vec<_>>(),
        vec![N1],
        "addresses of non-members are dropped"
    );
    assert_eq!(node.config_index(), index);

    // It now leads alone and commits new writes; the old ones are still there.
    c.fsync(N1)?;
    c.fire_election_timeout(N1)?;
    c.fsync(N1)?;
    assert_eq!(c.leader(), Some(N1));
    assert!(c.propose(N1, b"after".to_vec())?.is_some_and(|r| r.is_ok()));
    c.fsync(N1)?;
    let status = c.node(N1).status();
    assert!(status.commit_index > index, "{status:?}");
    Ok(())
}

#[test]
fn a_joining_node_in_no_configuration_never_campaigns() {
    // What `raftkv --join` starts: no voters known at all.
    let initial = crate::raft::InitialState::default();
    let mut node = crate::raft::RawNode::new(Config::new(NodeId(4)), initial, 3).expect("valid");
    for _ in 0..10 {
        node.fire_election_timeout();
        for _ in 0..Config::new(NodeId(4)).election_timeout_ticks_max {
            node.tick();
        }
    }
    assert_eq!(node.status().role, Role::Follower);
    assert_eq!(
        node.hard_state().term,
        Term(0),
        "it never started an election"
    );
    let ready = node.ready();
    assert!(
        ready.messages.is_empty() && ready.persisted_messages.is_empty(),
        "it asked nobody for votes: {ready:?}"
    );
}
