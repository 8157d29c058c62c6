//! Scripted scenarios for snapshots and log compaction: InstallSnapshot in chunks with a lost chunk
//! resumed, a stale snapshot ignored, a matching log suffix kept (and a conflicting one dropped),
//! restart from a snapshot, and compaction that refuses snapshots that do not fit.

use super::cluster::Cluster;
use crate::raft::safety::Violation;
use crate::raft::{
    ClusterConfig, Config, Entry, EntryPayload, HardState, InitialState, LogIndex, Message,
    MessageBody, NodeId, RawNode, Snapshot, SnapshotMeta, Term,
};
use std::cell::Cell;

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);

fn small_chunks(id: NodeId) -> Config {
    Config {
        snapshot_chunk_bytes: 7,
        ..Config::new(id)
    }
}

fn elect(cluster: &mut Cluster, id: NodeId) -> Result<(), Violation> {
    cluster.fire_election_timeout(id)?;
    cluster.stabilize()?;
    assert_eq!(cluster.leader(), Some(id), "{id} should have won");
    Ok(())
}

fn is_chunk(m: &Message) -> Option<u64> {
    match &m.body {
        MessageBody::InstallSnapshot { offset, .. } => Some(*offset),
        _ => None,
    }
}

/// N3 misses many entries while cut off; the others compact; N3 catches up through InstallSnapshot.
/// Returns the cluster and one captured chunk (offset 0) of the transfer.
fn lagging_node_gets_a_snapshot(drop_offset: Option<u64>) -> Result<(Cluster, Message), Violation> {
    let mut c = Cluster::new(3, small_chunks, 1);
    c.snapshot_threshold = 5;
    elect(&mut c, N1)?;
    let cut_off = |m: &Message| m.from != N3 && m.to != N3;
    for value in 0..20u8 {
        c.propose(N1, vec![value])?;
        c.deliver_all(20, cut_off)?;
    }
    c.fire_heartbeat_timeout(N1)?;
    c.deliver_all(20, cut_off)?;
    assert!(c.node(N1).snapshot_index() > LogIndex(10), "N1 compacted");
    assert_eq!(c.node(N3).status().last_index, LogIndex(1));

    let dropped = Cell::new(0u32);
    let captured = std::cell::RefCell::new(None);
    for _ in 0..10 {
        c.fire_heartbeat_timeout(N1)?;
        c.deliver_all(50, |m| {
            if is_chunk(m) == Some(0) && captured.borrow().is_none() {
                *captured.borrow_mut() = Some(m.clone());
            }
            if is_chunk(m).is_some() && is_chunk(m) == drop_offset && dropped.get() == 0 {
                dropped.set(1);
                return false;
            }
            true
        })?;
    }
    if drop_offset.is_some() {
        assert_eq!(dropped.get(), 1, "the chunk to lose was sent");
    }
    let captured = captured.into_inner().expect("a transfer took place");
    Ok((c, captured))
}

#[test]
fn a_lagging_follower_catches_up_through_install_snapshot_after_a_lost_chunk(
) -> Result<(), Violation> {
    let (c, _) = lagging_node_gets_a_snapshot(Some(14))?;
    let leader = c.node(N1).status();
    let follower = c.node(N3).status();
    assert!(
        c.node(N3).snapshot_index() > LogIndex(0),
        "N3 installed a snapshot"
    );
    assert_eq!(follower.commit_index, leader.commit_index);
    assert_eq!(follower.last_index, leader.last_index);
    assert!(c.snapshots_installed >= 1);
    Ok(())
}

#[test]
fn a_stale_or_duplicate_snapshot_is_ignored() -> Result<(), Violation> {
    let (mut c, old_chunk) = lagging_node_gets_a_snapshot(None)?;
    let before = c.node(N3).clone();
    c.outbox.clear();
    c.deliver(old_chunk)?;
    c.fsync(N3)?;
    let after = c.node(N3);
    assert_eq!(after.log_entries(), before.log_entries());
    assert_eq!(after.snapshot_index(), before.snapshot_index());
    assert_eq!(after.status().commit_index, before.status().commit_index);
    let answer = c.outbox.iter().find_map(|m| match m.body {
        MessageBody::InstallSnapshotResponse { done, .. } if m.from == N3 => Some(done),
        _ => None,
    });
    assert_eq!(answer, Some(true), "a stale snapshot is answered as done");
    Ok(())
}

#[test]
fn a_node_restarts_from_its_snapshot_and_the_suffix_of_its_log() -> Result<(), Violation> {
    let (mut c, _) = lagging_node_gets_a_snapshot(None)?;
    for id in [N1, N2, N3] {
        let before = c.node(id).status();
        c.crash(id)?;
        c.restart(id);
        let raw = c.node(id);
        assert!(raw.snapshot_index() > LogIndex(0));
        assert_eq!(raw.status().last_index, before.last_index);
        assert!(
            raw.snapshot().is_some(),
            "the snapshot data is there to send"
        );
    }
    elect(&mut c, N2)?;
    c.propose(N2, vec![99])?;
    c.stabilize()?;
    c.fire_heartbeat_timeout(N2)?;
    c.stabilize()?;
    let commit = c.node(N2).status().commit_index;
    assert_eq!(c.node(N1).status().commit_index, commit);
    assert_eq!(c.node(N3).status().commit_index, commit);
    Ok(())
}

fn entry(index: u64, term: u64) -> Entry {
    Entry {
        term: Term(term),
        index: LogIndex(index),
        payload: EntryPayload::Noop,
    }
}

/// A follower (node 3) holding entries 1..=5 of term 1, nothing committed.
fn follower_with_five_entries() -> RawNode {
    let initial = InitialState {
        hard_state: HardState {
            term: Term(2),
            voted_for: None,
            commit_index: LogIndex(0),
        },
        entries: (1..=5).map(|i| entry(i, 1)).collect(),
        snapshot_meta: None,
        bootstrap_config: ClusterConfig::with_voters([N1, N2, N3]),
    };
    RawNode::new(Config::new(N3), initial, 3).expect("valid state")
}

fn install(node: &mut RawNode, index: u64, term: u64) -> crate::raft::Ready {
    let meta = SnapshotMeta {
        last_included_index: LogIndex(index),
        last_included_term: Term(term),
        config: ClusterConfig::with_voters([N1, N2, N3]),
    };
    node.step(Message {
        from: N1,
        to: N3,
        term: Term(2),
        body: MessageBody::InstallSnapshot {
            meta,
            offset: 0,
            data: b"state".to_vec(),
            done: true,
        },
    });
    node.ready()
}

#[test]
fn installing_keeps_a_matching_suffix_and_drops_a_conflicting_one() {
    let mut node = follower_with_five_entries();
    let ready = install(&mut node, 3, 1);
    assert_eq!(node.snapshot_index(), LogIndex(3));
    assert_eq!(node.log_entries(), &[entry(4, 1), entry(5, 1)][..]);
    assert_eq!(node.status().commit_index, LogIndex(3));
    let snapshot: Snapshot = ready.snapshot.expect("handed to the shell");
    assert_eq!(snapshot.data, b"state");
    assert!(
        ready.committed_entries.is_empty(),
        "the snapshot is not re-applied"
    );
    assert!(matches!(
        ready.persisted_messages[..],
        [Message {
            body: MessageBody::InstallSnapshotResponse { done: true, .. },
            ..
        }]
    ));

    let mut node = follower_with_five_entries();
    install(&mut node, 3, 2);
    assert_eq!(node.snapshot_index(), LogIndex(3));
    assert!(
        node.log_entries().is_empty(),
        "a conflicting suffix is dropped"
    );
    assert_eq!(node.status().last_index, LogIndex(3));
}

#[test]
fn compaction_refuses_a_snapshot_that_does_not_fit() {
    let mut node = follower_with_five_entries();
    // Nothing is applied yet: no snapshot can be taken.
    assert_eq!(node.snapshot_meta_at(LogIndex(2)), None);
    let bogus = Snapshot {
        meta: SnapshotMeta {
            last_included_index: LogIndex(2),
            last_included_term: Term(1),
            config: ClusterConfig::default(),
        },
        data: Vec::new(),
    };
    assert!(node.compact(bogus).is_err());
    assert_eq!(node.log_entries().len(), 5);
}

#[test]
fn an_incoming_snapshot_larger_than_the_bound_is_aborted_and_a_smaller_one_installs() {
    let config = Config {
        snapshot_bytes_max: 10,
        ..Config::new(N2)
    };
    let initial = InitialState {
        bootstrap_config: ClusterConfig::with_voters([N1, N2, N3]),
        ..Default::default()
    };
    let mut follower = RawNode::new(config, initial, 7).expect("valid");
    let meta = |index: u64| SnapshotMeta {
        last_included_index: LogIndex(index),
        last_included_term: Term(1),
        config: ClusterConfig::with_voters([N1, N2, N3]),
    };
    let chunk = |index: u64, offset: u64, data: &[u8], done: bool| Message {
        from: N1,
        to: N2,
        term: Term(1),
        body: MessageBody::InstallSnapshot {
            meta: meta(index),
            offset,
            data: data.to_vec(),
            done,
        },
    };
    let answers = |node: &mut RawNode| {
        let ready = node.ready();
        ready
            .messages
            .into_iter()
            .chain(ready.persisted_messages)
            .filter_map(|m| match m.body {
                MessageBody::InstallSnapshotResponse {
                    next_offset, done, ..
                } => Some((next_offset, done)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    follower.step(chunk(50, 0, b"abcdef", false));
    assert_eq!(answers(&mut follower), vec![(6, false)]);
    // 6 + 6 > 10: aborted, the leader is asked to start over, nothing is installed.
    follower.step(chunk(50, 6, b"ghijkl", true));
    assert_eq!(answers(&mut follower), vec![(0, false)]);
    assert_eq!(follower.oversized_snapshots(), 1);
    assert_eq!(follower.snapshot_index(), LogIndex(0));
    // The buffer was dropped: a resent second chunk is not appended to anything.
    follower.step(chunk(50, 6, b"gh", true));
    assert_eq!(answers(&mut follower), vec![(0, false)]);
    assert_eq!(follower.snapshot_index(), LogIndex(0));
    // A snapshot within the bound installs.
    follower.step(chunk(60, 0, b"abcde", false));
    follower.step(chunk(60, 5, b"fghij", true));
    assert_eq!(answers(&mut follower), vec![(5, false), (10, true)]);
    assert_eq!(follower.snapshot_index(), LogIndex(60));
}
