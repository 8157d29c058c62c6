//! Scenarios of requests from an older term (`RawNode::answer_stale`): which are answered, and with
//! what. The answers only tell the sender the newer term; etcd answers the same ones.

use super::cluster::Cluster;
use super::scenarios::{elect, message, paper_config};
use crate::raft::safety::Violation;
use crate::raft::{Config, LogIndex, Message, MessageBody, NodeId, Role, Term};

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);

/// One request of each kind, as node 1 would have sent it to node 3 in term 1.
fn stale_requests() -> Vec<(&'static str, Message)> {
    let request = |body| message(N1, N3, 1, body);
    vec![
        (
            "append",
            request(MessageBody::AppendEntries {
                prev_log_index: LogIndex(1),
                prev_log_term: Term(1),
                entries: Vec::new(),
                leader_commit: LogIndex(1),
            }),
        ),
        (
            "heartbeat",
            request(MessageBody::Heartbeat {
                leader_commit: LogIndex(1),
                read_context: Some(3),
            }),
        ),
        (
            "pre-vote",
            request(MessageBody::PreVote {
                last_log_index: LogIndex(1),
                last_log_term: Term(1),
            }),
        ),
        (
            "vote request",
            request(MessageBody::RequestVote {
                last_log_index: LogIndex(1),
                last_log_term: Term(1),
                leadership_transfer: false,
            }),
        ),
    ]
}

/// Delivers each request of term 1 to node 3, a follower in term 2 (node 1 led term 1 and handed
/// over to node 2), and returns what node 3 sent back for each, after asserting that it kept its
/// state.
fn answers(config: fn(NodeId) -> Config) -> Result<Vec<(&'static str, Vec<Message>)>, Violation> {
    let mut c = Cluster::new(3, config, 41);
    elect(&mut c, N1)?;
    c.deliver(message(N1, N2, 1, MessageBody::TimeoutNow))?;
    c.stabilize()?;
    assert_eq!(c.leader(), Some(N2));
    assert_eq!(c.term(N3), Term(2));
    assert_eq!(c.node(N3).status().role, Role::Follower);
    let mut out = Vec::new();
    for (kind, request) in stale_requests() {
        let before = c.node(N3).clone();
        c.outbox.clear();
        c.deliver(request)?;
        c.fsync(N3)?;
        assert_eq!(c.node(N3), &before, "a stale {kind} changed node 3");
        out.push((kind, std::mem::take(&mut c.outbox)));
    }
    Ok(out)
}

/// With pre-vote and check-quorum, a stale append or heartbeat is answered by an empty heartbeat
/// answer of the newer term (it must not echo a read context, nor a log position that would move a
/// leader of that term to probe for nothing), a stale pre-vote by a rejection, and a stale vote
/// request not at all.
#[test]
fn stale_requests_get_one_answer_of_the_newer_term_and_vote_requests_none() -> Result<(), Violation>
{
    for (kind, sent) in answers(Config::new)? {
        let expected = match kind {
            "append" | "heartbeat" => vec![message(
                N3,
                N1,
                2,
                MessageBody::HeartbeatResponse { read_context: None },
            )],
            "pre-vote" => vec![message(
                N3,
                N1,
                2,
                MessageBody::PreVoteResponse { granted: false },
            )],
            _ => Vec::new(),
        };
        assert_eq!(sent, expected, "the answer to a stale {kind}");
    }
    Ok(())
}

/// Without pre-vote and check-quorum a stale leader learns the newer term from a vote request of
/// that term, so only a stale pre-vote is answered.
#[test]
fn classic_raft_answers_only_a_stale_pre_vote() -> Result<(), Violation> {
    for (kind, sent) in answers(paper_config)? {
        let answered = !sent.is_empty();
        assert_eq!(answered, kind == "pre-vote", "a stale {kind}: {sent:?}");
    }
    Ok(())
}
