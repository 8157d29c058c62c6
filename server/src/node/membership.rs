//! The shell's side of membership changes: turning a client's request into a core call (with the
//! members' addresses filled in), reporting the membership, and answering each request once its
//! configuration entry is committed (or durable, for the forced `set-peers`).
//!
//! Guarantees:
//! - A refused request changes nothing, and its error names the problem (already a member, not a
//!   member, a change in flight, a bad address, no voters, `--force` missing).
//! - A change is refused while a learner waits for promotion (besides the core's own rule: the newest
//!   configuration must be committed and not joint), so an added node finishes joining before the next
//!   change starts; removing that learner is allowed, to cancel a join that cannot finish.
//! - Every waiter is answered exactly once: when its entry is committed with the term it was proposed
//!   in, with `ProposalDropped` when another entry took its slot, or dropped when the node stops (its
//!   handler then reports a timeout). At most [`MEMBERSHIP_WAITERS_MAX`] wait at once.

use super::service::{MembersInfo, RequestError};
use crate::raft::{ClusterConfig, ConfChangeError, LogIndex, NodeId, RawNode, Role, Term};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use tokio::sync::oneshot;

/// Membership requests that may wait for their entry at once.
pub const MEMBERSHIP_WAITERS_MAX: usize = 64;

/// Where a membership answer goes.
pub type MembershipReply = oneshot::Sender<Result<MembersInfo, RequestError>>;

/// A membership request from a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MembershipRequest {
    /// Add `id` at `addr` as a learner (promoted once caught up).
    AddNode {
        /// The new node.
        id: NodeId,
        /// Its listen address.
        addr: String,
    },
    /// Remove voter or learner `id`.
    RemoveNode {
        /// The member to remove.
        id: NodeId,
    },
    /// Joint consensus to exactly these voters (`None`: keep the known address).
    ChangeMembers {
        /// The new voters.
        voters: BTreeMap<NodeId, Option<String>>,
    },
    /// UNSAFE disaster recovery: force this node's configuration.
    SetPeers {
        /// The voters to force.
        voters: BTreeMap<NodeId, Option<String>>,
        /// The caller's explicit consent.
        force: bool,
    },
}

/// What a waiter waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WaitFor {
    /// The entry at `index` committed in `term`.
    Committed,
    /// The entry committed and the configuration is final again (C_new after a joint change).
    Settled,
    /// The entry is durable on this node (set-peers: nothing else can be promised).
    Durable,
}

struct Waiter {
    index: LogIndex,
    term: Term,
    /// The entry was seen committed with its own term: it can no longer be replaced, so a later
    /// compaction of it (a snapshot while waiting for the change to settle) changes nothing.
    committed: bool,
    wait_for: WaitFor,
    reply: MembershipReply,
}

/// Membership requests waiting for their entry.
#[derive(Default)]
pub struct MembershipWaiters {
    waiting: Vec<Waiter>,
}

/// The shell's context a request needs: this node's address and the routes it uses for others.
pub struct AddressBook<'a> {
    /// This node's advertised address.
    pub own_addr: &'a str,
    /// The address this node uses for every peer it knows.
    pub routes: &'a BTreeMap<NodeId, SocketAddr>,
}

impl AddressBook<'_> {
    /// The address to record for `id` when the configuration has none.
    fn address_of(&self, me: NodeId, id: NodeId) -> Option<String> {
        if id == me {
            return Some(self.own_addr.to_string());
        }
        self.routes.get(&id).map(ToString::to_string)
    }
}

/// Whether a change is unfinished (see [`MembersInfo::change_in_flight`]).
pub fn change_in_flight(raw: &RawNode) -> bool {
    raw.config_change_in_flight() || !raw.cluster().learners.is_empty()
}

/// This node's view of the membership.
pub fn members_info(raw: &RawNode, routes: &BTreeMap<NodeId, SocketAddr>) -> MembersInfo {
    let status = raw.status();
    let cluster = raw.cluster();
    MembersInfo {
        node: status.id,
        role: status.role,
        leader: status.leader,
        voters: cluster.voters.clone(),
        voters_outgoing: cluster.voters_outgoing.clone(),
        learners: cluster.learners.clone(),
        addresses: cluster.addresses.clone(),
        routes: routes
            .iter()
            .map(|(id, addr)| (*id, addr.to_string()))
            .collect(),
        config_index: raw.config_index(),
        change_in_flight: change_in_flight(raw),
    }
}

fn check_address(id: NodeId, addr: &str) -> Result<(), RequestError> {
    addr.parse::<SocketAddr>()
        .map(|_| ())
        .map_err(|e| RequestError::Rejected(format!("bad address '{addr}' for node {id}: {e}")))
}

fn check_id(id: NodeId) -> Result<(), RequestError> {
    if id == NodeId(0) {
        return Err(RequestError::Rejected("node id 0 is not allowed".into()));
    }
    Ok(())
}

/// The addresses to record for `members`: given ones first, else the configuration's, else what this
/// node knows. Fails on a bad given address.
fn addresses_for(
    raw: &RawNode,
    members: &BTreeSet<NodeId>,
    given: &BTreeMap<NodeId, Option<String>>,
    book: &AddressBook<'_>,
) -> Result<BTreeMap<NodeId, String>, RequestError> {
    let me = raw.status().id;
    let mut addresses = BTreeMap::new();
    for &id in members {
        check_id(id)?;
        let address = match given.get(&id).cloned().flatten() {
            Some(addr) => {
                check_address(id, &addr)?;
                Some(addr)
            }
            None => raw
                .cluster()
                .addresses
                .get(&id)
                .cloned()
                .or_else(|| book.address_of(me, id)),
        };
        if let Some(address) = address {
            addresses.insert(id, address);
        }
    }
    Ok(addresses)
}

/// Maps a core refusal to the client's error.
fn refusal(err: ConfChangeError) -> RequestError {
    match err {
        ConfChangeError::NotLeader { .. } => {
            RequestError::Internal("not-leader must be answered by the caller".into())
        }
        ConfChangeError::LeaderNotReady | ConfChangeError::TransferInProgress => {
            RequestError::NotReady(err.to_string())
        }
        ConfChangeError::ChangeInProgress => RequestError::Rejected(
            "another membership change is in flight; retry once `members` shows none".into(),
        ),
        other => RequestError::Rejected(other.to_string()),
    }
}

/// Leader only: whether this node may start a change now. `Ok(false)`: not the leader (the caller
/// answers with its hint). `removing`: the member the request removes (a pending learner may be).
fn leader_gate(raw: &RawNode, removing: Option<NodeId>) -> Result<bool, RequestError> {
    if raw.status().role != Role::Leader {
        return Ok(false);
    }
    let learners = &raw.cluster().learners;
    if learners.is_empty() || removing.is_some_and(|id| learners.contains(&id)) {
        return Ok(true);
    }
    let list: Vec<String> = learners.iter().map(ToString::to_string).collect();
    Err(RequestError::Rejected(format!(
        "another membership change is in flight: learner {} is still catching up to be promoted \
         (remove it to cancel)",
        list.join(",")
    )))
}

/// Starts `request` on the core. `Ok(None)`: not the leader (the caller answers with its hint).
/// `Ok(Some(..))`: the entry to wait for.
fn start(
    raw: &mut RawNode,
    request: MembershipRequest,
    book: &AddressBook<'_>,
) -> Result<Option<(LogIndex, WaitFor)>, RequestError> {
    let started = match request {
        MembershipRequest::SetPeers { voters, force } => {
            return force_peers(raw, voters, force, book).map(Some)
        }
        MembershipRequest::AddNode { id, addr } => {
            if !leader_gate(raw, None)? {
                return Ok(None);
            }
            check_id(id)?;
            check_address(id, &addr)?;
            let mut members = raw.cluster().members();
            members.insert(id);
            let given = BTreeMap::from([(id, Some(addr))]);
            let addresses = addresses_for(raw, &members, &given, book)?;
            raw.add_learner_with(id, addresses)
                .map(|index| (index, WaitFor::Committed))
        }
        MembershipRequest::RemoveNode { id } => {
            if !leader_gate(raw, Some(id))? {
                return Ok(None);
            }
            let members = raw.cluster().members();
            let addresses = addresses_for(raw, &members, &BTreeMap::new(), book)?;
            raw.remove_member_with(id, addresses)
                .map(|index| (index, WaitFor::Committed))
        }
        MembershipRequest::ChangeMembers { voters } => {
            if !leader_gate(raw, None)? {
                return Ok(None);
            }
            let ids: BTreeSet<NodeId> = voters.keys().copied().collect();
            let mut members = raw.cluster().members();
            members.extend(ids.iter().copied());
            let addresses = addresses_for(raw, &members, &voters, book)?;
            if let Some(id) = ids.iter().find(|id| !addresses.contains_key(id)) {
                return Err(RequestError::Rejected(format!(
                    "no address known for new member {id}: give it as {id}=ADDR"
                )));
            }
            if ids == raw.cluster().voters && raw.cluster().voters_outgoing.is_empty() {
                return Err(RequestError::Rejected(
                    "the voters are already exactly these; nothing to change".into(),
                ));
            }
            raw.change_voters_with(ids, addresses)
                .map(|index| (index, WaitFor::Settled))
        }
    };
    started.map(Some).map_err(refusal)
}

fn force_peers(
    raw: &mut RawNode,
    voters: BTreeMap<NodeId, Option<String>>,
    force: bool,
    book: &AddressBook<'_>,
) -> Result<(LogIndex, WaitFor), RequestError> {
    if !force {
        return Err(RequestError::Rejected(
            "set-peers is UNSAFE (it can lose committed writes and split the cluster); refused \
             without --force"
                .into(),
        ));
    }
    let ids: BTreeSet<NodeId> = voters.keys().copied().collect();
    let addresses = addresses_for(raw, &ids, &voters, book)?;
    let next = ClusterConfig {
        voters: ids,
        addresses,
        ..ClusterConfig::default()
    };
    let before = raw.cluster().clone();
    let index = raw
        .force_configuration(next.clone())
        .map_err(|err| match err {
            ConfChangeError::NotMember(id) => RequestError::Rejected(format!(
                "set-peers must keep this node ({id}) among the voters"
            )),
            other => RequestError::Rejected(other.to_string()),
        })?;
    tracing::error!(
        ?before,
        forced = ?next,
        %index,
        "UNSAFE set-peers: configuration forced without consensus (disaster recovery)"
    );
    Ok((index, WaitFor::Durable))
}

impl MembershipWaiters {
    /// Starts `request`; answers at once when refused, else waits for its entry. `leader_hint` answers a
    /// request this node cannot serve because it does not lead.
    pub fn start(
        &mut self,
        raw: &mut RawNode,
        request: MembershipRequest,
        book: &AddressBook<'_>,
        reply: MembershipReply,
        not_leader: impl FnOnce(&RawNode) -> RequestError,
    ) {
        if self.waiting.len() >= MEMBERSHIP_WAITERS_MAX {
            let _ = reply.send(Err(RequestError::Busy));
            return;
        }
        match start(raw, request, book) {
            Ok(Some((index, wait_for))) => {
                let term = raw.log_term(index).unwrap_or_default();
                tracing::info!(%index, ?wait_for, "membership change proposed");
                self.waiting.push(Waiter {
                    index,
                    term,
                    committed: false,
                    wait_for,
                    reply,
                });
            }
            Ok(None) => {
                let _ = reply.send(Err(not_leader(raw)));
            }
            Err(err) => {
                let _ = reply.send(Err(err));
            }
        }
    }

    /// Whether no request waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Answers every waiter whose condition now holds.
    pub fn poll(&mut self, raw: &RawNode, routes: &BTreeMap<NodeId, SocketAddr>) {
        if self.waiting.is_empty() {
            return;
        }
        let status = raw.status();
        let waiting = std::mem::take(&mut self.waiting);
        for mut waiter in waiting {
            let term_now = raw.log_term(waiter.index);
            if term_now == Some(waiter.term) && status.commit_index >= waiter.index {
                waiter.committed = true;
            }
            let replaced = !waiter.committed
                && (term_now.is_some_and(|t| t != waiter.term)
                    || (term_now.is_none() && waiter.index > status.last_index));
            let done = match waiter.wait_for {
                WaitFor::Durable => status.persisted_index >= waiter.index,
                WaitFor::Committed => status.commit_index >= waiter.index,
                WaitFor::Settled => {
                    status.commit_index >= waiter.index && !raw.config_change_in_flight()
                }
            };
            // Compacted away before it could be checked (an old leader that received a snapshot): the
            // index is committed, but perhaps with another leader's entry, so the outcome is unknown.
            let unverifiable =
                !waiter.committed && term_now.is_none() && waiter.index <= status.last_index;
            if replaced {
                let _ = waiter.reply.send(Err(RequestError::ProposalDropped));
            } else if unverifiable {
                let _ = waiter.reply.send(Err(RequestError::LeadershipLost));
            } else if done {
                let _ = waiter.reply.send(Ok(members_info(raw, routes)));
            } else {
                self.waiting.push(waiter);
            }
        }
    }
}
