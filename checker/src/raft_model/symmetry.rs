//! Symmetry reduction over server ids: states that differ only by a permutation of the servers are one
//! state for the DFS checker, which stores the fingerprint of [`representative`] instead of the state.
//!
//! Why it is sound: servers are interchangeable. The core never orders decisions by id (quorums are
//! counts, maps are only iterated to send to every peer), every server runs the same configuration,
//! clients pick servers nondeterministically among all of them, and the properties are symmetric. The
//! representative renames every server id (actor ids, Raft node ids in cores, messages, votes, storage)
//! consistently, so it is the same state under another naming. Clients are not permuted: each client's
//! script differs.
//!
//! The representative also leaves out dead envelopes (see [`reduction`] for why that is sound).
//!
//! Guarantees: `representative` returns the same value for every permutation of a state (it minimises a
//! deterministic hash over all permutations that order servers by an id-free key, trying every order
//! of servers whose keys tie).

use crate::raft_model::actor::{
    actor_of, node_of, ActorState, ClientPhase, ClientState, Durable, ModelMsg, ServerState,
};
use crate::raft_model::reduction;
use crate::raft_model::RaftModelState;
use raftkv::raft::relabel::{relabel_entry, relabel_hard_state, relabel_message};
use raftkv::raft::{NodeId, Role};
use stateright::actor::{Id, Network};
use stateright::{Rewrite, RewritePlan};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

/// An id-free summary of a server, used to order servers before trying the orders of tied ones.
type ServerKey = (bool, u64, u8, Vec<u64>, u64, usize, bool, u8);

fn server_key(state: &RaftModelState, index: usize) -> ServerKey {
    let crashed = state.crashed.get(index).copied().unwrap_or(false);
    match &*state.actor_states[index] {
        ActorState::Server(s) => {
            let status = s.node.status();
            let role = match status.role {
                Role::Leader => 0,
                Role::Candidate => 1,
                Role::PreCandidate => 2,
                Role::Follower => 3,
                Role::Learner => 4,
            };
            let terms = s.node.log_entries().iter().map(|e| e.term.0).collect();
            (
                crashed,
                status.term.0,
                role,
                terms,
                status.commit_index.0,
                s.durable.ghost.applied.len(),
                s.node.hard_state().voted_for.is_some(),
                s.kv_value,
            )
        }
        ActorState::Client(_) => (crashed, 0, 0, Vec::new(), 0, 0, false, 0),
    }
}

/// Maps server actor `id` through `perm` (old index → new index); other ids stay.
// `&Vec` because stateright's `RewritePlan` calls `fn(&R, &S)` with `S = Vec<usize>`.
#[allow(clippy::ptr_arg)]
fn map_id(id: &Id, perm: &Vec<usize>) -> Id {
    let index = usize::from(*id);
    perm.get(index).map_or(*id, |new| Id::from(*new))
}

impl Rewrite<Id> for ModelMsg {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        match self {
            ModelMsg::Raft(message) => {
                let f = |node: NodeId| node_of(plan.rewrite(&actor_of(node)));
                ModelMsg::Raft(relabel_message(message, &f))
            }
            other => other.clone(),
        }
    }
}

fn relabel_durable(durable: &Durable, f: &dyn Fn(NodeId) -> NodeId) -> Durable {
    Durable {
        hard_state: relabel_hard_state(&durable.hard_state, f),
        entries: durable
            .entries
            .iter()
            .map(|e| relabel_entry(e, f))
            .collect(),
        ghost: durable.ghost.clone(),
    }
}

/// The state with server `i` renamed to server `perm[i]` everywhere.
fn permuted(state: &RaftModelState, perm: &Vec<usize>) -> RaftModelState {
    let plan = RewritePlan::new(perm.clone(), map_id);
    let f = |node: NodeId| node_of(map_id(&actor_of(node), perm));
    let servers = perm.len();
    let reorder = |index: usize| {
        // The old index whose content lands at `index`.
        if index < servers {
            perm.iter().position(|new| *new == index).unwrap_or(index)
        } else {
            index
        }
    };
    let count = state.actor_states.len();
    let actor_states = (0..count)
        .map(|i| {
            Arc::new(match &*state.actor_states[reorder(i)] {
                ActorState::Server(s) => ActorState::Server(Box::new(ServerState {
                    node: s.node.relabeled(&f),
                    durable: relabel_durable(&s.durable, &f),
                    ..(**s).clone()
                })),
                ActorState::Client(c) => ActorState::Client(ClientState {
                    phase: match c.phase {
                        ClientPhase::Waiting(id) => ClientPhase::Waiting(map_id(&id, perm)),
                        other => other,
                    },
                    ..*c
                }),
            })
        })
        .collect();
    let mut random_choices: Vec<_> = (0..count)
        .map(|i| state.random_choices[reorder(i)].rewrite(&plan))
        .collect();
    for choices in &mut random_choices {
        for ids in choices.map.values_mut() {
            ids.sort();
        }
    }
    RaftModelState {
        actor_states,
        network: live_network(state, &plan),
        timers_set: (0..count)
            .map(|i| state.timers_set[reorder(i)].clone())
            .collect(),
        random_choices,
        crashed: (0..count).map(|i| state.crashed[reorder(i)]).collect(),
        history: state.history.clone(),
        actor_storages: (0..count)
            .map(|i| {
                state.actor_storages[reorder(i)]
                    .as_ref()
                    .map(|d| relabel_durable(d, &f))
            })
            .collect(),
    }
}

/// The network renamed by `plan`, without dead envelopes (see [`reduction`]): states that differ only
/// in dead envelopes get the same representative.
fn live_network(state: &RaftModelState, plan: &RewritePlan<Id, Vec<usize>>) -> Network<ModelMsg> {
    match &state.network {
        Network::UnorderedNonDuplicating(multiset) => {
            let mut envelopes = Vec::with_capacity(multiset.len());
            for (env, copies) in multiset.iter() {
                if reduction::is_dead(state, env.dst, &env.msg) {
                    continue;
                }
                let env = env.rewrite(plan);
                envelopes.extend(std::iter::repeat_n(env, *copies));
            }
            Network::new_unordered_nonduplicating(envelopes)
        }
        other => other.rewrite(plan),
    }
}

fn stable_hash(state: &RaftModelState) -> u64 {
    let mut hasher = DefaultHasher::new();
    state.hash(&mut hasher);
    hasher.finish()
}

/// Every permutation (old index → new index) that sorts servers by key, trying all orders of ties.
fn candidate_perms(keys: &[ServerKey]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|a, b| keys[*a].cmp(&keys[*b]));
    // `orders` holds sequences of old indexes by new position.
    let mut orders: Vec<Vec<usize>> = vec![Vec::new()];
    let mut start = 0;
    while start < order.len() {
        let end = (start..order.len())
            .find(|p| keys[order[*p]] != keys[order[start]])
            .unwrap_or(order.len());
        let group = &order[start..end];
        let group_perms = permutations(group);
        orders = orders
            .iter()
            .flat_map(|prefix| {
                group_perms.iter().map(move |g| {
                    let mut next = prefix.clone();
                    next.extend_from_slice(g);
                    next
                })
            })
            .collect();
        start = end;
    }
    orders
        .into_iter()
        .map(|by_position| {
            let mut perm = vec![0; by_position.len()];
            for (new, old) in by_position.iter().enumerate() {
                perm[*old] = new;
            }
            perm
        })
        .collect()
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for (i, first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, *first);
            all.push(tail);
        }
    }
    all
}

/// The canonical member of `state`'s symmetry class (see the module docs).
pub fn representative(state: &RaftModelState) -> RaftModelState {
    let servers = state
        .actor_states
        .iter()
        .take_while(|s| matches!(***s, ActorState::Server(_)))
        .count();
    let keys: Vec<ServerKey> = (0..servers).map(|i| server_key(state, i)).collect();
    candidate_perms(&keys)
        .iter()
        .map(|perm| permuted(state, perm))
        .min_by_key(stable_hash)
        .unwrap_or_else(|| state.clone())
}
