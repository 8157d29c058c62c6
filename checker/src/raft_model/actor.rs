//! The stateright actors of the Raft model: a server actor that wraps the real [`RawNode`] and handles
//! each `Ready` exactly as the server shell does, and a client actor that runs a short script of register
//! operations against servers picked nondeterministically (by which copy of a request is delivered).
//!
//! Guarantees: the protocol logic is the core's own, never re-implemented here. After every input a
//! server handles `Ready`s in the shell's order: persist (the actor's storage, saved with `o.save`) →
//! send `messages` and `persisted_messages` → `on_persisted` → apply committed entries → `on_applied` →
//! answer reads and writes. Persisting is synchronous with the step, so a crash keeps exactly what the
//! core handed out for persisting and loses everything else (role, progress, pending requests, the KV
//! store, which is rebuilt by re-applying the log). Ghost state (what each server applied, flags for
//! transition properties) lives next to the durable state so that it survives crashes; it never
//! influences the protocol.

use crate::raft_model::fingerprint::{hasher, HashMemo, KeyedHashMemo};
use crate::raft_model::spec::{self, RegisterOp, RegisterRet};
use raftkv::bugs::Bug;
use raftkv::raft::{
    ClusterConfig, Config, Entry, EntryPayload, HardState, InitialState, LogIndex, Message, NodeId,
    RawNode, Role, Term,
};
use stateright::actor::{model_timeout, Actor, Id, Out};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// At most this many `Ready` rounds per input (the core settles after two or three).
pub const READY_ROUNDS_MAX: usize = 16;

/// The model's timers: one firing is one call of the core's `fire_*_timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum RaftTimer {
    /// The election timer (a leader's check-quorum round).
    Election,
    /// The leader's heartbeat timer (ignored by non-leaders).
    Heartbeat,
}

/// Everything that travels over the model's network.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ModelMsg {
    /// A Raft message between servers (shared: the checker copies envelopes a lot).
    Raft(Arc<Message>),
    /// A client's request; `seq` is the operation's position in the client's script.
    Request {
        /// Which operation of the client's script.
        seq: u8,
        /// The operation.
        op: RegisterOp,
    },
    /// A server's answer to a request.
    Reply {
        /// The request answered.
        seq: u8,
        /// The result.
        ret: RegisterRet,
    },
    /// The server cannot serve the request (not the leader, or leadership lost); retry elsewhere.
    NotLeader {
        /// The request answered.
        seq: u8,
    },
}

impl ModelMsg {
    /// A cheap ordering key; ties fall back to the serialized form (see `Ord`).
    fn sort_key(&self) -> (u8, u64, u64, u64) {
        match self {
            ModelMsg::Raft(m) => (0, m.from.0, m.to.0, m.term.0),
            ModelMsg::Request { seq, .. } => (1, u64::from(*seq), 0, 0),
            ModelMsg::Reply { seq, .. } => (2, u64::from(*seq), 0, 0),
            ModelMsg::NotLeader { seq } => (3, u64::from(*seq), 0, 0),
        }
    }
}

impl PartialOrd for ModelMsg {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

// Stateright sorts actions, which needs `Ord` on messages; the core's `Message` has no `Ord`, so order by
// a cheap key, then by hash, and break the remaining ties by the JSON form, which is injective for these
// types: a lexicographic order on (key, hash, JSON), total and consistent with `Eq`.
impl Ord for ModelMsg {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sort_key().cmp(&other.sort_key()).then_with(|| {
            if self == other {
                return Ordering::Equal;
            }
            // Unequal messages almost always differ in their hashes; serializing is the rare tie-break.
            let hash = |m: &ModelMsg| {
                let mut h = std::hash::DefaultHasher::new();
                std::hash::Hash::hash(m, &mut h);
                std::hash::Hasher::finish(&h)
            };
            let by_hash = hash(self).cmp(&hash(other));
            if by_hash != Ordering::Equal {
                return by_hash;
            }
            let a = serde_json::to_vec(self).unwrap_or_default();
            let b = serde_json::to_vec(other).unwrap_or_default();
            a.cmp(&b)
        })
    }
}

/// One applied entry, as remembered by the ghost state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AppliedEntry {
    /// The entry's term (with its index, its identity under Log Matching).
    pub term: Term,
    /// The applying server's term when it first applied the entry: the entry was committed in this term
    /// or earlier, so every leader of a later term must hold it (Leader Completeness).
    pub known_in_term: Term,
}

/// Model-only observations that survive crashes and never influence the protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ghost {
    /// Entries this server ever applied, by index - 1.
    pub applied: Vec<AppliedEntry>,
    /// A leader removed or changed an entry of its own log within its term.
    pub append_only_broken: bool,
    /// After a restart the server applied a different entry at an index it had applied before.
    pub apply_mismatch: bool,
    /// The terms this server was leader in, as a bit set (bit `t` for term `t`; the model's terms are
    /// at most [`TERMS_MAX`](crate::raft_model::TERMS_MAX)). Election Safety reads it.
    pub led_terms: u64,
}

impl Ghost {
    /// The bit of `term` in [`Ghost::led_terms`] (0 past the set's 64 bits, which the model's
    /// bounds never reach).
    pub fn term_bit(term: Term) -> u64 {
        u32::try_from(term.0)
            .ok()
            .and_then(|shift| 1u64.checked_shl(shift))
            .unwrap_or(0)
    }
}

/// What a server's disk holds (the actor's stateright storage), plus the ghost state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Durable {
    /// The last persisted hard state.
    pub hard_state: HardState,
    /// The persisted log.
    pub entries: Vec<Entry>,
    /// Model-only observations.
    pub ghost: Ghost,
}

/// The state of a server actor.
///
/// Guarantees: hashing writes one 64-bit digest of every field (memoised, see [`HashMemo`]), so two
/// states hash alike exactly when their digests do; equality compares every field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerState {
    /// The real Raft core.
    pub node: RawNode,
    /// The KV store: a single register.
    pub kv_value: u8,
    /// Client sessions: the last applied `seq` per client and its result, so a duplicated request is
    /// answered from here instead of being applied twice (as the real server's session table does).
    pub sessions: BTreeMap<u8, (u8, RegisterRet)>,
    /// Writes this server proposed and must answer once applied: (client actor index, seq).
    pub pending_writes: BTreeSet<(u8, u8)>,
    /// ReadIndex results waiting for the state machine to reach their index: read id → index.
    pub ready_reads: BTreeMap<u64, LogIndex>,
    /// A mirror of what this server's storage holds (the actor cannot read its storage after start).
    pub durable: Durable,
    /// Set while the server is down: its role when it crashed (see [`ServerActor::crash_image`]).
    pub crashed_role: Option<Role>,
    /// The model's bound on terms (the same for every server and state; `reduction` reads it).
    pub term_bound: Term,
    /// The digest of all the fields above (see [`ServerState::digest`]).
    pub digest: HashMemo,
    /// The id-free hash of the symmetry reduction (`symmetry::server_keys`).
    pub id_free: HashMemo,
    /// The digests of this state with the servers renamed, by renaming (`symmetry::class_fingerprint`).
    pub renamed: KeyedHashMemo,
}

impl std::hash::Hash for ServerState {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u64(self.digest());
    }
}

impl ServerState {
    /// A 64-bit hash of every field, memoised.
    pub fn digest(&self) -> u64 {
        self.digest
            .get_or_init(|| self.digest_with(&self.node, &self.durable))
    }

    /// The digest this state would have with `node` and `durable` in place of its own (the
    /// symmetry reduction hashes renamed servers with it, so a renamed state hashes as if built so).
    pub fn digest_with(&self, node: &RawNode, durable: &Durable) -> u64 {
        let mut h = hasher();
        self.hash_parts(&mut h, |_, h| node.hash(h), |_, h| durable.hash(h));
        h.finish()
    }

    /// Hashes every field but the memos, the core and the durable mirror with the given functions
    /// (as they are, id-free, or renamed). Destructured so that a new field cannot be left out.
    pub fn hash_parts<H: Hasher>(
        &self,
        h: &mut H,
        hash_node: impl FnOnce(&RawNode, &mut H),
        hash_durable: impl FnOnce(&Durable, &mut H),
    ) {
        let ServerState {
            node,
            kv_value,
            sessions,
            pending_writes,
            ready_reads,
            durable,
            crashed_role,
            // The same in every state of a model.
            term_bound: _,
            digest: _,
            id_free: _,
            renamed: _,
        } = self;
        hash_node(node, h);
        kv_value.hash(h);
        sessions.hash(h);
        pending_writes.hash(h);
        ready_reads.hash(h);
        hash_durable(durable, h);
        crashed_role.hash(h);
    }

    /// The server's role (for a server that is down, its role when it crashed).
    pub fn role(&self) -> Role {
        self.crashed_role.unwrap_or_else(|| self.node.role())
    }
    /// The server's current term.
    pub fn term(&self) -> Term {
        self.node.hard_state().term
    }
}

/// Where a client is in its script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientPhase {
    /// The current operation's request is out (to a server picked when it is delivered, see
    /// [`ClientActor`]) or being handled: waiting for its answer.
    Waiting,
    /// The script is done.
    Done,
}

/// The state of a client actor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientState {
    /// The current operation's position in the script.
    pub seq: u8,
    /// What the client is doing.
    pub phase: ClientPhase,
}

/// A server or a client state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ActorState {
    /// A Raft server.
    Server(Box<ServerState>),
    /// A client.
    Client(ClientState),
}

/// How a server actor is set up.
#[derive(Clone, Debug)]
pub struct ServerActor {
    /// The core's configuration (id, pre-vote, check-quorum, bug switches).
    pub config: Config,
    /// The initial membership.
    pub bootstrap: ClusterConfig,
    /// The model's bound on terms.
    pub term_bound: Term,
}

/// How a client actor is set up. A client sends each attempt of an operation to every server at
/// once, and the delivery of one of these copies takes the others out of the network (see
/// `RaftModel`), so an attempt reaches exactly one server, picked by the delivery. Why: picking the
/// server when the request is sent was a step that nothing could observe (a server only sees the
/// request when it arrives), and it multiplied every state in between by the servers picked.
#[derive(Clone, Debug)]
pub struct ClientActor {
    /// The operations to run, one after the other.
    pub ops: Vec<RegisterOp>,
    /// The servers it may send to.
    pub servers: Vec<Id>,
}

/// The model's actor: a server or a client.
#[derive(Clone, Debug)]
pub enum RaftActor {
    /// A Raft server around `RawNode`.
    Server(ServerActor),
    /// A client running a script.
    Client(ClientActor),
}

/// The stateright actor id of the server with Raft id `node` (ids 1..=n map to actors 0..n).
pub fn actor_of(node: NodeId) -> Id {
    Id::from(usize::try_from(node.0.saturating_sub(1)).unwrap_or(usize::MAX))
}

/// The Raft id of the server actor `id`.
pub fn node_of(id: Id) -> NodeId {
    NodeId(usize::from(id) as u64 + 1)
}

/// The ReadIndex request id of a client's read: unique per (client, seq).
fn read_id(client: u8, seq: u8) -> u64 {
    (u64::from(client) << 8) | u64::from(seq)
}

/// The (client, seq) of a read id made by [`read_id`].
fn read_owner(id: u64) -> (u8, u8) {
    ((id >> 8) as u8, (id & 0xff) as u8)
}

type ServerOut = Out<RaftActor>;

impl ServerActor {
    /// Builds the core from what the disk holds and settles its first `Ready`s (re-applying the log).
    fn start(&self, storage: &Option<Durable>, o: &mut ServerOut) -> ServerState {
        let durable = storage.clone().unwrap_or_default();
        let initial = InitialState {
            hard_state: durable.hard_state.clone(),
            entries: durable.entries.clone(),
            snapshot_meta: None,
            bootstrap_config: self.bootstrap.clone(),
        };
        let node = RawNode::new(self.config.clone(), initial, 0)
            .expect("the model's config is valid and its storage is what the core handed out");
        let mut state = ServerState {
            node,
            kv_value: 0,
            sessions: BTreeMap::new(),
            pending_writes: BTreeSet::new(),
            ready_reads: BTreeMap::new(),
            durable,
            crashed_role: None,
            term_bound: self.term_bound,
            digest: HashMemo::default(),
            id_free: HashMemo::default(),
            renamed: KeyedHashMemo::default(),
        };
        self.handle_ready(&mut state, o);
        state.node.normalize_timer_randomness();
        o.set_timer(RaftTimer::Election, model_timeout());
        o.set_timer(RaftTimer::Heartbeat, model_timeout());
        state
    }

    /// What stays of a server while it is down: what its storage holds, its role, term and log as
    /// they were when it crashed (the properties read them: a crashed leader still counts for
    /// Election Safety and Leader Completeness in its term), and its last KV value (read by the
    /// "value committed" sometimes-property). Everything else it had in memory (the leader's
    /// per-follower progress, vote tallies, pending reads and writes, sessions) is gone and can never
    /// be read again: a down server takes no step, and a restart rebuilds it from its storage alone.
    /// Forgetting it merges states that differ only in the memory of a dead process.
    ///
    /// Guarantees: the image's core is rebuilt from the durable state, whose log, term and vote equal
    /// the crashed core's (persisting is synchronous with each step); `role()` reports the role at
    /// the crash.
    pub fn crash_image(&self, crashed: &ServerState) -> ServerState {
        let durable = crashed.durable.clone();
        let initial = InitialState {
            hard_state: durable.hard_state.clone(),
            entries: durable.entries.clone(),
            snapshot_meta: None,
            bootstrap_config: self.bootstrap.clone(),
        };
        let mut node = RawNode::new(self.config.clone(), initial, 0)
            .expect("the model's storage is what the core handed out");
        node.normalize_timer_randomness();
        assert_eq!(
            node.log_entries(),
            crashed.node.log_entries(),
            "a crashed server's log is its durable log"
        );
        ServerState {
            node,
            kv_value: crashed.kv_value,
            sessions: BTreeMap::new(),
            pending_writes: BTreeSet::new(),
            ready_reads: BTreeMap::new(),
            durable,
            crashed_role: Some(crashed.role()),
            term_bound: self.term_bound,
            digest: HashMemo::default(),
            id_free: HashMemo::default(),
            renamed: KeyedHashMemo::default(),
        }
    }

    /// Runs `input` on a copy of the server, handles the resulting `Ready`s, checks Leader Append-Only
    /// across the step, and stores the copy if anything changed.
    fn with_input(
        &self,
        state: &mut Cow<ActorState>,
        o: &mut ServerOut,
        input: impl FnOnce(&mut ServerState, &mut ServerOut),
    ) {
        let ActorState::Server(old) = &**state else {
            return;
        };
        let mut next = old.clone();
        let leader_before =
            (next.role() == Role::Leader).then(|| (next.term(), next.node.log_entries().to_vec()));
        input(&mut next, o);
        self.handle_ready(&mut next, o);
        let mut ghost_changed = false;
        if let Some((term, log_before)) = leader_before {
            let still_leader = next.role() == Role::Leader && next.term() == term;
            if still_leader && !next.node.log_entries().starts_with(&log_before) {
                next.durable.ghost.append_only_broken = true;
                ghost_changed = true;
            }
        }
        if next.role() == Role::Leader {
            let bit = Ghost::term_bit(next.term());
            if next.durable.ghost.led_terms & bit == 0 {
                next.durable.ghost.led_terms |= bit;
                ghost_changed = true;
            }
        }
        if ghost_changed {
            o.save(next.durable.clone());
        }
        next.node.normalize_timer_randomness();
        next.node.normalize_quorum_activity();
        next.node.normalize_leader_knowledge();
        if next != *old {
            *state = Cow::Owned(ActorState::Server(next));
        }
    }

    /// Handles `Ready`s until the core has none, in the shell's order (see the module docs).
    fn handle_ready(&self, s: &mut ServerState, o: &mut ServerOut) {
        for _ in 0..READY_ROUNDS_MAX {
            if !s.node.has_ready() {
                return;
            }
            let ready = s.node.ready();
            let mut durable_changed = false;
            if let Some(hard_state) = &ready.hard_state {
                s.durable.hard_state = hard_state.clone();
                durable_changed = true;
            }
            if let Some(first) = ready.entries.first() {
                let first_index = first.index;
                s.durable.entries.retain(|e| e.index < first_index);
                s.durable.entries.extend(ready.entries.iter().cloned());
                durable_changed = true;
            }
            for message in ready.messages.into_iter().chain(ready.persisted_messages) {
                o.send(actor_of(message.to), ModelMsg::Raft(Arc::new(message)));
            }
            if let Some(last) = ready.entries.last() {
                s.node.on_persisted(last.index, last.term);
            }
            for entry in &ready.committed_entries {
                durable_changed |= self.apply(s, entry, o);
                s.node.on_applied(entry.index);
            }
            for read in ready.read_states {
                s.ready_reads.insert(read.request_id, read.index);
            }
            for id in ready.aborted_reads {
                let (client, seq) = read_owner(id);
                o.send(Id::from(usize::from(client)), ModelMsg::NotLeader { seq });
            }
            let applied_index = s.node.status().applied_index;
            let servable: Vec<u64> = s
                .ready_reads
                .iter()
                .filter(|(_, index)| **index <= applied_index)
                .map(|(id, _)| *id)
                .collect();
            for id in servable {
                s.ready_reads.remove(&id);
                let (client, seq) = read_owner(id);
                let ret = RegisterRet::ReadOk(s.kv_value);
                o.send(Id::from(usize::from(client)), ModelMsg::Reply { seq, ret });
            }
            if durable_changed {
                o.save(s.durable.clone());
            }
        }
        assert!(
            !s.node.has_ready(),
            "the core kept producing Ready batches for {READY_ROUNDS_MAX} rounds"
        );
    }

    /// Applies one committed entry to the KV store and the ghost; answers the client if this server
    /// proposed it. Returns whether the ghost changed.
    fn apply(&self, s: &mut ServerState, entry: &Entry, o: &mut ServerOut) -> bool {
        let term = s.term();
        let ghost = &mut s.durable.ghost;
        let position = usize::try_from(entry.index.0 - 1).unwrap_or(usize::MAX);
        let ghost_changed = match ghost.applied.get(position) {
            Some(seen) if seen.term == entry.term => false,
            Some(_) => {
                let changed = !ghost.apply_mismatch;
                ghost.apply_mismatch = true;
                changed
            }
            None => {
                assert_eq!(
                    position,
                    ghost.applied.len(),
                    "entries are applied in order"
                );
                ghost.applied.push(AppliedEntry {
                    term: entry.term,
                    known_in_term: term,
                });
                true
            }
        };
        if let EntryPayload::Command(bytes) = &entry.payload {
            let (client, seq, op) =
                spec::decode_command(bytes).expect("the model only proposes commands it encoded");
            let ret = match s.sessions.get(&client) {
                Some((last_seq, ret)) if *last_seq >= seq => *ret,
                _ => {
                    let ret = spec::apply(&mut s.kv_value, op);
                    s.sessions.insert(client, (seq, ret));
                    ret
                }
            };
            if s.pending_writes.remove(&(client, seq)) {
                o.send(Id::from(usize::from(client)), ModelMsg::Reply { seq, ret });
            }
        }
        ghost_changed
    }

    /// A client request: writes are proposed, reads go through ReadIndex (or, with
    /// [`Bug::StaleRead`], are answered at once from the local state machine, on any server).
    fn on_request(
        &self,
        s: &mut ServerState,
        client: u8,
        seq: u8,
        op: RegisterOp,
        o: &mut ServerOut,
    ) {
        let reply_to = Id::from(usize::from(client));
        if op == RegisterOp::Read {
            if self.config.bugs.has(Bug::StaleRead) {
                let ret = RegisterRet::ReadOk(s.kv_value);
                o.send(reply_to, ModelMsg::Reply { seq, ret });
            } else if s.node.read_index(read_id(client, seq)).is_err() {
                o.send(reply_to, ModelMsg::NotLeader { seq });
            }
            return;
        }
        if let Some((last_seq, ret)) = s.sessions.get(&client) {
            if *last_seq == seq {
                let ret = *ret;
                o.send(reply_to, ModelMsg::Reply { seq, ret });
                return;
            }
        }
        match s.node.propose(spec::encode_command(client, seq, op)) {
            Ok(_) => {
                s.pending_writes.insert((client, seq));
            }
            Err(_) => o.send(reply_to, ModelMsg::NotLeader { seq }),
        }
    }
}

impl ClientActor {
    /// The client's state if it waits for the answer to `seq` (else the answer is stale or duplicated).
    fn waiting_for(&self, state: &ActorState, seq: u8) -> Option<ClientState> {
        match state {
            ActorState::Client(current)
                if current.seq == seq && current.phase == ClientPhase::Waiting =>
            {
                Some(*current)
            }
            _ => None,
        }
    }

    /// Starts operation `seq` (sends its request) or ends the script.
    fn phase_after(&self, seq: u8, o: &mut Out<RaftActor>) -> ClientState {
        if let Some(op) = self.ops.get(usize::from(seq)).copied() {
            for server in &self.servers {
                o.send(*server, ModelMsg::Request { seq, op });
            }
            ClientState {
                seq,
                phase: ClientPhase::Waiting,
            }
        } else {
            ClientState {
                seq,
                phase: ClientPhase::Done,
            }
        }
    }
}

impl Actor for RaftActor {
    type Msg = ModelMsg;
    type State = ActorState;
    type Timer = RaftTimer;
    type Random = Id;
    type Storage = Durable;

    fn on_start(&self, _id: Id, storage: &Option<Durable>, o: &mut Out<Self>) -> ActorState {
        match self {
            RaftActor::Server(server) => ActorState::Server(Box::new(server.start(storage, o))),
            RaftActor::Client(client) => ActorState::Client(client.phase_after(0, o)),
        }
    }

    fn on_msg(
        &self,
        _id: Id,
        state: &mut Cow<ActorState>,
        src: Id,
        msg: ModelMsg,
        o: &mut Out<Self>,
    ) {
        match (self, msg) {
            (RaftActor::Server(server), ModelMsg::Raft(message)) => {
                server.with_input(state, o, |s, _| s.node.step(Arc::unwrap_or_clone(message)));
            }
            (RaftActor::Server(server), ModelMsg::Request { seq, op }) => {
                let client =
                    u8::try_from(usize::from(src)).expect("the model has fewer than 256 actors");
                server.with_input(state, o, |s, o| server.on_request(s, client, seq, op, o));
            }
            (RaftActor::Client(client), ModelMsg::Reply { seq, .. }) => {
                if let Some(current) = client.waiting_for(state, seq) {
                    let next = client.phase_after(current.seq + 1, o);
                    *state = Cow::Owned(ActorState::Client(next));
                }
            }
            (RaftActor::Client(client), ModelMsg::NotLeader { seq }) => {
                if let Some(current) = client.waiting_for(state, seq) {
                    // The request had no effect: retry it on a server picked anew.
                    let next = client.phase_after(current.seq, o);
                    *state = Cow::Owned(ActorState::Client(next));
                }
            }
            _ => {}
        }
    }

    fn on_timeout(
        &self,
        _id: Id,
        state: &mut Cow<ActorState>,
        timer: &RaftTimer,
        o: &mut Out<Self>,
    ) {
        let RaftActor::Server(server) = self else {
            return;
        };
        o.set_timer(*timer, model_timeout());
        match timer {
            RaftTimer::Election => {
                server.with_input(state, o, |s, _| s.node.fire_election_timeout())
            }
            RaftTimer::Heartbeat => {
                server.with_input(state, o, |s, _| s.node.fire_heartbeat_timeout())
            }
        }
    }
}
