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
//! The representative also leaves out dead envelopes and, on the duplicating network, holds each
//! class of stale requests as one stand-in (see [`reduction`] for why both are sound).
//!
//! Guarantees: `representative` returns a member of the state's orbit (the state with servers renamed,
//! relabelled once) and ignores dead envelopes. It returns the same value for every permutation of a
//! state unless two servers tie on their id-free keys without being interchangeable, which only costs
//! reduction, never soundness (see [`representative`]).

use crate::raft_model::actor::{actor_of, node_of, ActorState, Durable, ModelMsg, ServerState};
use crate::raft_model::fingerprint::{hash_of, hasher, FingerprintHasher};
use crate::raft_model::history::ClientHistory;
use crate::raft_model::reduction;
use crate::raft_model::RaftModelState;
use raftkv::raft::relabel::{relabel_entry, relabel_hard_state, relabel_message};
use raftkv::raft::{EntryPayload, MessageBody, NodeId};
use stateright::actor::{Envelope, Id, Network};
use stateright::{Rewrite, RewritePlan};
use std::borrow::Cow;
use std::cell::Cell;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Hashes a durable mirror (or storage) without ids: the vote is reduced to "none / self / another".
fn hash_durable_id_free(durable: &Durable, me: NodeId, h: &mut FingerprintHasher) {
    durable.hard_state.term.hash(h);
    durable.hard_state.commit_index.hash(h);
    durable.hard_state.voted_for.map(|v| v == me).hash(h);
    durable.entries.hash(h);
    durable.ghost.hash(h);
}

/// A message's content without its sender and receiver (the only server ids a model message holds,
/// apart from config entries, which the model never proposes).
fn message_content_hash(msg: &ModelMsg) -> u64 {
    match msg {
        ModelMsg::Raft(m) => hash_of(&(0u8, m.term, &m.body)),
        other => hash_of(&(1u8, other)),
    }
}

/// Id-free keys of the `servers` first actors: two servers get equal keys when they look alike from
/// everything the key covers (own state, storage, timers, clients' view of them, and in a second
/// round, how they relate to each other peer and that peer's own key). Computed from a fixed hash,
/// so it depends only on the state up to renaming servers.
fn server_keys(
    state: &RaftModelState,
    servers: usize,
    stale: StaleRequests,
    network: Keys,
) -> Vec<u64> {
    // Live messages between servers by (src, dst), and client traffic by server, as content hashes.
    let mut pair_msgs = vec![vec![Vec::<u64>::new(); servers]; servers];
    let mut client_view = vec![Vec::<(u8, usize, u64)>::new(); servers];
    let in_flight = match network {
        Keys::WithNetwork => Some(state.network.iter_all()),
        Keys::ActorsOnly => None,
    };
    for env in in_flight.into_iter().flatten() {
        if reduction::is_dead_envelope(state, &env) {
            continue;
        }
        let msg = stand_in(state, env.dst, env.msg, stale);
        let (src, dst) = (
            usize::from(stand_in_sender(&env, &msg)),
            usize::from(env.dst),
        );
        let content = message_content_hash(&msg);
        match (src < servers, dst < servers) {
            (true, true) => pair_msgs[src][dst].push(content),
            (false, true) => client_view[dst].push((0, src, content)),
            (true, false) => client_view[src].push((1, dst, content)),
            (false, false) => {}
        }
    }
    for row in &mut pair_msgs {
        for msgs in row {
            msgs.sort_unstable();
            if merges(state, stale) {
                // A set, as in `class_fingerprint`: stale requests of one class share a stand-in.
                msgs.dedup();
            }
        }
    }
    let server = |i: usize| match &*state.actor_states[i] {
        ActorState::Server(s) => Some(&**s),
        ActorState::Client(_) => None,
    };
    let own: Vec<u64> = (0..servers)
        .map(|i| {
            let mut h = hasher();
            state.crashed[i].hash(&mut h);
            state.timers_set[i].hash(&mut h);
            client_view[i].sort_unstable();
            client_view[i].hash(&mut h);
            if let Some(s) = server(i) {
                let me = s.node.config().id;
                s.id_free
                    .get_or_init(|| {
                        let mut h = hasher();
                        s.hash_parts(
                            &mut h,
                            |node, h| node.hash_id_free(h),
                            |durable, h| hash_durable_id_free(durable, me, h),
                        );
                        h.finish()
                    })
                    .hash(&mut h);
                match &state.actor_storages[i] {
                    Some(d) => hash_durable_id_free(d, me, &mut h),
                    None => 0u8.hash(&mut h),
                }
            }
            h.finish()
        })
        .collect();
    // relation[i][j]: what server i holds about peer j and sends it.
    let relation = |i: usize, j: usize| -> u64 {
        let mut h = hasher();
        if let (Some(s), Some(peer)) = (server(i), server(j)) {
            let peer_id = peer.node.config().id;
            s.node.hash_peer_relation(peer_id, &mut h);
            (s.durable.hard_state.voted_for == Some(peer_id)).hash(&mut h);
            state.actor_storages[i]
                .as_ref()
                .map(|d| d.hard_state.voted_for == Some(peer_id))
                .hash(&mut h);
        }
        pair_msgs[i][j].hash(&mut h);
        h.finish()
    };
    (0..servers)
        .map(|i| {
            let mut peers: Vec<(u64, u64, u64)> = (0..servers)
                .filter(|j| *j != i)
                .map(|j| (relation(i, j), relation(j, i), own[j]))
                .collect();
            peers.sort_unstable();
            hash_of(&(own[i], peers))
        })
        .collect()
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
                ModelMsg::Raft(Arc::new(relabel_message(message, &f)))
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

/// The state with server `i` renamed to server `perm[i]` everywhere, without dead envelopes.
pub fn permuted(state: &RaftModelState, perm: &Vec<usize>) -> RaftModelState {
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
    if perm.iter().enumerate().all(|(old, new)| old == *new) {
        // Nothing to rename: share the actor states, only drop dead envelopes.
        return RaftModelState {
            network: live_network(state, &plan),
            ..state.clone()
        };
    }
    let actor_states = (0..count)
        .map(|i| {
            Arc::new(match &*state.actor_states[reorder(i)] {
                ActorState::Server(s) => ActorState::Server(Box::new(ServerState {
                    node: s.node.relabeled(&f),
                    durable: relabel_durable(&s.durable, &f),
                    ..(**s).clone()
                })),
                ActorState::Client(c) => ActorState::Client(*c),
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
                if reduction::is_dead(state, env.src, env.dst, &env.msg) {
                    continue;
                }
                let env = env.rewrite(plan);
                envelopes.extend(std::iter::repeat_n(env, *copies));
            }
            Network::new_unordered_nonduplicating(envelopes)
        }
        Network::UnorderedDuplicating(set, _) => Network::new_unordered_duplicating(
            set.iter()
                .filter(|env| !reduction::is_dead(state, env.src, env.dst, &env.msg))
                .map(|env| {
                    Envelope {
                        src: env.src,
                        dst: env.dst,
                        msg: stand_in(state, env.dst, &env.msg, StaleRequests::StandIns)
                            .into_owned(),
                    }
                    .rewrite(plan)
                }),
        ),
        other => other.rewrite(plan),
    }
}

/// How the representative holds stale requests (see [`reduction::canonical`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaleRequests {
    /// On the duplicating network, one stand-in per class (the checker's choice).
    StandIns,
    /// As sent (only to measure and test the reduction).
    AsSent,
}

/// Whether stale requests of one class are merged into their stand-in: on the duplicating network
/// (a set of envelopes), unless `stale` says otherwise.
fn merges(state: &RaftModelState, stale: StaleRequests) -> bool {
    stale == StaleRequests::StandIns && matches!(state.network, Network::UnorderedDuplicating(..))
}

/// The message the representative holds for `msg` to `dst`: the stand-in of its class if stale
/// requests are merged and it is one ([`reduction::canonical`]), else `msg`.
fn stand_in<'a>(
    state: &RaftModelState,
    dst: Id,
    msg: &'a ModelMsg,
    stale: StaleRequests,
) -> Cow<'a, ModelMsg> {
    if merges(state, stale) {
        reduction::canonical(state, dst, msg)
    } else {
        Cow::Borrowed(msg)
    }
}

/// The sender `env` is held with when it holds `msg` (its stand-in): the receiver for a stand-in
/// sent by its receiver to itself, which stands for requests from several senders (see
/// [`reduction::canonical`]), else the envelope's sender.
fn stand_in_sender(env: &Envelope<&ModelMsg>, msg: &ModelMsg) -> Id {
    match msg {
        ModelMsg::Raft(m) if m.from == m.to => env.dst,
        _ => env.src,
    }
}

/// The order of servers that [`representative`] renames to: `perm[old index] = new index`, servers
/// sorted by their id-free keys ([`server_keys`]) without the messages in flight, then with them
/// among ties, remaining ties kept in index order.
pub fn canonical_perm(state: &RaftModelState) -> Vec<usize> {
    canonical_perm_with(state, StaleRequests::StandIns)
}

/// What the server keys of a renaming cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keys {
    /// Everything, messages in flight included.
    WithNetwork,
    /// Everything but the messages in flight.
    ActorsOnly,
}

/// [`canonical_perm`] with stale requests held as `stale` says.
pub fn canonical_perm_with(state: &RaftModelState, stale: StaleRequests) -> Vec<usize> {
    let servers = state
        .actor_states
        .iter()
        .take_while(|s| matches!(***s, ActorState::Server(_)))
        .count();
    // Servers are ordered by what they are first and by their messages only among ties, so that two
    // states that differ only in their networks are mostly renamed alike and their networks can be
    // compared (see [`crate::raft_model::subsumption`]).
    let actors = server_keys(state, servers, stale, Keys::ActorsOnly);
    let mut distinct = actors.clone();
    distinct.sort_unstable();
    distinct.dedup();
    // The messages only break ties, so they are keyed only when there are ties.
    let full = if distinct.len() < servers {
        server_keys(state, servers, stale, Keys::WithNetwork)
    } else {
        vec![0; servers]
    };
    let mut order: Vec<usize> = (0..servers).collect();
    order.sort_by_key(|i| (actors[*i], full[*i], *i));
    // `order` lists old indexes by new position; `perm` maps old index to new position.
    let mut perm = vec![0; servers];
    for (new, old) in order.iter().enumerate() {
        perm[*old] = new;
    }
    perm
}

/// A hash of `permuted(state, perm)` computed without building it: every part of the renamed state
/// (actor states, timers, random choices, crash flags, storages, history, the multiset of live
/// envelopes, a set of stand-ins on the duplicating network) is hashed in the renamed order. Equal
/// renamed states give equal hashes (the only requirement: it is a function of `permuted(state,
/// perm)`; the unit test checks that).
pub fn class_fingerprint(state: &RaftModelState, perm: &Vec<usize>) -> u64 {
    class_fingerprint_with(state, perm, StaleRequests::StandIns)
}

/// [`class_fingerprint`] with stale requests held as `stale` says.
// `&Vec` as in `class_fingerprint`.
#[allow(clippy::ptr_arg)]
pub fn class_fingerprint_with(
    state: &RaftModelState,
    perm: &Vec<usize>,
    stale: StaleRequests,
) -> u64 {
    class_parts_with(state, perm, stale).fingerprint()
}

/// The parts [`class_fingerprint`] hashes, in the order `perm` renames to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassParts {
    /// Everything but the network and the run's restart count, as one hash.
    pub actors: u64,
    /// How many restarts the run has had (the crash budget spent; see `ClientHistory::restarts`).
    pub restarts: u8,
    /// The live envelopes as a sorted list of hashes (a set of stand-ins on the duplicating network).
    pub network: Vec<u64>,
}

impl ClassParts {
    /// The class fingerprint of these parts.
    pub fn fingerprint(&self) -> u64 {
        parts_fingerprint(self.actors, self.restarts, &self.network)
    }
}

/// The class fingerprint of parts held apart (see [`ClassParts::fingerprint`]).
pub fn parts_fingerprint(actors: u64, restarts: u8, network: &[u64]) -> u64 {
    hash_of(&(actors, restarts, network))
}

/// The parts [`class_fingerprint`] hashes (see [`ClassParts`]), all in the order `perm` renames to.
// `&Vec` as in `class_fingerprint`.
#[allow(clippy::ptr_arg)]
pub fn class_parts(state: &RaftModelState, perm: &Vec<usize>) -> ClassParts {
    class_parts_with(state, perm, StaleRequests::StandIns)
}

#[allow(clippy::ptr_arg)]
fn class_parts_with(state: &RaftModelState, perm: &Vec<usize>, stale: StaleRequests) -> ClassParts {
    let identity = perm.iter().enumerate().all(|(old, new)| old == *new);
    let plan = RewritePlan::new(perm.clone(), map_id);
    let f = |node: NodeId| node_of(map_id(&actor_of(node), perm));
    let count = state.actor_states.len();
    let mut reorder: Vec<usize> = (0..count).collect();
    for (old, new) in perm.iter().enumerate() {
        reorder[*new] = old;
    }
    // The renaming as a number (at most SERVERS_MAX < 16 servers: 4 bits each).
    let perm_code = perm
        .iter()
        .fold(0u64, |code, new| (code << 4) | *new as u64);
    let mut h = hasher();
    for old in reorder.iter().copied() {
        match &*state.actor_states[old] {
            ActorState::Server(s) if identity => s.hash(&mut h),
            // Hashed as `ServerState::hash` hashes the renamed server.
            ActorState::Server(s) => h.write_u64(s.renamed.get_or_insert(perm_code, || {
                s.digest_with(&s.node.relabeled(&f), &relabel_durable(&s.durable, &f))
            })),
            ActorState::Client(c) => (c.seq, c.phase).hash(&mut h),
        }
        state.timers_set[old].hash(&mut h);
        state.crashed[old].hash(&mut h);
        let mut choices: Vec<(&String, Vec<Id>)> = state.random_choices[old]
            .map
            .iter()
            .map(|(key, ids)| {
                let mut ids: Vec<Id> = ids.iter().map(|id| map_id(id, perm)).collect();
                ids.sort();
                (key, ids)
            })
            .collect();
        choices.sort();
        choices.hash(&mut h);
        match &state.actor_storages[old] {
            Some(d) if identity => Some(d).hash(&mut h),
            Some(d) => Some(relabel_durable(d, &f)).hash(&mut h),
            None => None::<&Durable>.hash(&mut h),
        }
    }
    // The history without the restart count, which `ClassParts` holds apart.
    let ClientHistory {
        tester,
        invoked,
        returned,
        restarts,
        symmetry_class,
    } = &state.history;
    (tester, invoked, returned, symmetry_class).hash(&mut h);
    let actors = h.finish();
    // Live envelopes as a sorted list of hashes (with their copies on the non-duplicating network).
    // The duplicating network's "last delivered message" is left out: it has no behaviour.
    let envelopes: Box<dyn Iterator<Item = (Envelope<&ModelMsg>, usize)>> = match &state.network {
        Network::UnorderedNonDuplicating(multiset) => {
            Box::new(multiset.iter().map(|(env, copies)| {
                (
                    Envelope {
                        src: env.src,
                        dst: env.dst,
                        msg: &env.msg,
                    },
                    *copies,
                )
            }))
        }
        other => Box::new(other.iter_all().map(|env| (env, 1))),
    };
    let mut hashes: Vec<u64> = Vec::with_capacity(state.network.len());
    for (env, copies) in envelopes {
        if reduction::is_dead_envelope(state, &env) {
            continue;
        }
        let msg = stand_in(state, env.dst, env.msg, stale);
        let (src, dst) = (
            map_id(&stand_in_sender(&env, &msg), perm),
            map_id(&env.dst, perm),
        );
        let one = renamed_envelope_hash(src, dst, &msg, &plan);
        hashes.extend(std::iter::repeat_n(one, copies));
    }
    hashes.sort_unstable();
    if merges(state, stale) {
        // A set: stale requests of one class share a stand-in.
        hashes.dedup();
    }
    ClassParts {
        actors,
        restarts: *restarts,
        network: hashes,
    }
}

/// The hash of an envelope renamed to go from `src` to `dst` (already renamed) with `msg` renamed by
/// `plan`, a function of the renamed envelope. A Raft message's sender and receiver are those of its
/// envelope, and only the config entries it may carry hold other ids, so a message without them is
/// hashed from its term and body, with nothing renamed or copied; clients are not renamed.
fn renamed_envelope_hash(
    src: Id,
    dst: Id,
    msg: &ModelMsg,
    plan: &RewritePlan<Id, Vec<usize>>,
) -> u64 {
    match msg {
        ModelMsg::Raft(m) if !carries_ids(&m.body) => hash_of(&(src, dst, 0u8, m.term, &m.body)),
        ModelMsg::Raft(_) => hash_of(&(src, dst, 1u8, msg.rewrite(plan))),
        other => hash_of(&(src, dst, 2u8, other)),
    }
}

/// Whether a message body may hold server ids: an append carrying a config entry, or a snapshot
/// chunk (its metadata holds a membership). The model sends neither, but the hash stays right.
fn carries_ids(body: &MessageBody) -> bool {
    match body {
        MessageBody::AppendEntries { entries, .. } => entries
            .iter()
            .any(|e| matches!(e.payload, EntryPayload::Config(_))),
        MessageBody::InstallSnapshot { .. } => true,
        _ => false,
    }
}

/// The symmetry function given to stateright's DFS, which only fingerprints what it returns: a
/// stand-in state that carries the fingerprint of the representative (see [`class_fingerprint`]), so
/// that the representative is never built. The stand-in is never expanded or checked.
///
/// The representative is `state` with servers renamed so that they appear in the order of their
/// id-free keys ([`canonical_perm`]). Why this is sound although it is not always canonical: symmetry
/// reduction only needs the representative to lie in the state's orbit (it is the state under a
/// renaming, so it has the same futures and verdicts). Servers whose keys tie keep their relative
/// order; if they are truly interchangeable (an automorphism swaps them) every order gives the same
/// state anyway, and if not, two members of one orbit may get different representatives, which only
/// stores the class twice (less reduction, never a missed state). The keys see almost everything about
/// a server, so such ties are rare; this replaces trying all n! orders of tied servers and building
/// and hashing each, which cost most of the time. Folding a 64-bit hash into stateright's 64-bit
/// fingerprint adds no collision risk beyond the fingerprint's own.
pub fn representative(state: &RaftModelState) -> RaftModelState {
    let fingerprint =
        take_remembered(state).unwrap_or_else(|| class_fingerprint(state, &canonical_perm(state)));
    RaftModelState {
        actor_states: Vec::new(),
        network: Network::new_unordered_nonduplicating([]),
        timers_set: Vec::new(),
        random_choices: Vec::new(),
        crashed: Vec::new(),
        history: ClientHistory::stand_in(fingerprint),
        actor_storages: Vec::new(),
    }
}

/// Which state a remembered fingerprint belongs to: its address and what it holds (the actors'
/// allocations and the network's size), so that a fingerprint is never handed to another state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StateTag {
    address: usize,
    actors: u64,
    network: usize,
}

fn tag(state: &RaftModelState) -> StateTag {
    let mut h = hasher();
    for actor in &state.actor_states {
        (Arc::as_ptr(actor) as usize).hash(&mut h);
    }
    StateTag {
        address: state as *const RaftModelState as usize,
        actors: h.finish(),
        network: state.network.len(),
    }
}

thread_local! {
    /// The class fingerprint of the state the boundary check just computed it for: stateright's DFS
    /// asks for the representative of the same state right after (see [`remember`]).
    static REMEMBERED: Cell<Option<(StateTag, u64)>> = const { Cell::new(None) };
}

/// Remembers `fingerprint` as `class_fingerprint(state, &canonical_perm(state))`, for the next
/// [`representative`] of this state on this thread, which takes it instead of computing it again.
pub fn remember(state: &RaftModelState, fingerprint: u64) {
    REMEMBERED.with(|slot| slot.set(Some((tag(state), fingerprint))));
}

fn take_remembered(state: &RaftModelState) -> Option<u64> {
    let (tagged, fingerprint) = REMEMBERED.with(|slot| slot.take())?;
    (tagged == tag(state)).then_some(fingerprint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft_model::{ModelConfig, NetworkKind};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use stateright::Model;

    /// Every permutation of 0..3 (old index → new index).
    fn perms3() -> Vec<Vec<usize>> {
        let mut all = Vec::new();
        for a in 0..3 {
            for b in 0..3 {
                for c in 0..3 {
                    if a != b && b != c && a != c {
                        all.push(vec![a, b, c]);
                    }
                }
            }
        }
        all
    }

    /// States from seeded random walks of a model with a client and a crash (so that storages,
    /// client phases and client traffic are all exercised).
    fn sample_states(seed: u64) -> Vec<RaftModelState> {
        let config = ModelConfig {
            max_term: 2,
            max_log: 2,
            clients: 1,
            crashes: 1,
            network: NetworkKind::Unordered,
            ..ModelConfig::default()
        };
        let model = config.into_model().expect("valid configuration");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut states = Vec::new();
        let mut actions = Vec::new();
        for _walk in 0..20 {
            let mut state = model.init_states().remove(0);
            for _step in 0..40 {
                states.push(state.clone());
                actions.clear();
                model.actions(&state, &mut actions);
                if actions.is_empty() {
                    break;
                }
                let action = actions.swap_remove(rng.gen_range(0..actions.len()));
                match model.next_state(&state, action) {
                    Some(next) if Model::within_boundary(&model, &next) => state = next,
                    _ => {}
                }
            }
        }
        states
    }

    fn seed() -> u64 {
        std::env::var("MODEL_SYMMETRY_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
    }

    /// `class_fingerprint(s, p)` is a function of `permuted(s, p)`, and the representative of a
    /// renamed state is (almost always) that of the original.
    #[test]
    fn fingerprint_is_a_function_of_the_renamed_state_and_mostly_canonical() {
        let seed = seed();
        let states = sample_states(seed);
        let identity = vec![0, 1, 2];
        let (mut checked, mut canonical) = (0usize, 0usize);
        for state in &states {
            let own = class_fingerprint(state, &canonical_perm(state));
            for perm in perms3() {
                let renamed = permuted(state, &perm);
                assert_eq!(
                    class_fingerprint(state, &perm),
                    class_fingerprint(&renamed, &identity),
                    "seed {seed} (MODEL_SYMMETRY_SEED): fingerprint differs from the renamed state's"
                );
                checked += 1;
                if class_fingerprint(&renamed, &canonical_perm(&renamed)) == own {
                    canonical += 1;
                }
            }
        }
        assert!(checked > 1000, "seed {seed}: only {checked} checks");
        // Not required for soundness (see `representative`), but a drop here means the keys lost
        // information and the reduction got weaker.
        assert!(
            canonical * 100 >= checked * 95,
            "seed {seed}: only {canonical} of {checked} renamed states got the same representative"
        );
    }
}
