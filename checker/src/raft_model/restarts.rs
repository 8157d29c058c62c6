//! Restarts at once: a server that is not the leader when it crashes is restarted in the same step,
//! from its storage; only a crashed leader stays down for a while. On every network.
//!
//! Why: while a server is down, the others go on, and every state they reach was paired with every
//! crash image the down server could have left. In a census of pre-vote with terms and logs up to 2
//! and one crash (no subsumption), 148,765 of 417,884 states had a server down; none of them can
//! show anything that a state without the downtime does not.
//!
//! Why it is sound. Let `s` be a state of the model that keeps every crashed server down until a
//! restart step, with server `i` down after crashing in state `p` (not the leader), and let `t` be the
//! state reached by the same path without that crash: `i` is up in state `p`, has taken no step
//! since, and the crash budget it used is not spent yet.
//! 1. `t` is reachable here. A server that is up need not take any step: every message to it may wait
//!    (on every network). Two reductions move an up server without a delivery, and both keep the
//!    relation: saturation's pure steps change no server state, only add messages, which `t` may
//!    hold and `s` not (everything `s` can deliver, `t` can too); an eager timeout turns a leaderless
//!    follower into a pre-candidate, which `eager_timeouts` shows is `≼`-equivalent, and a crash of
//!    either leaves the same storage.
//! 2. Simulation: every step of `s` is a step of `t` to a related state. A step of another server
//!    or a client is the same step (no message to `i` is delivered in `s`, and `i` sends nothing).
//!    Answers to `i` that `s` treats as dead are live in `t`, which can simply not deliver them. The
//!    restart of `i` in `s` is matched by the crash of `i` in `t`, which restarts it at once: both
//!    rebuild the server from the same storage (persisting is synchronous with every step, so `p`'s
//!    storage is the crash image's) and count one restart, so they reach the same state. The
//!    boundary counts a server that is down as one crash, and a restart as one, so `t` is within
//!    it whenever `s` is.
//! 3. Properties: the always-properties read a server's role only as "leader or not", and its term,
//!    log, applied entries, register and ghost; a crash image keeps exactly these of `p`, so `s` and
//!    `t` get the same verdicts. The sometimes-property "a leader is elected after a crash" reads a
//!    crashed *leader* only, which still stays down; "a value is committed" reads the register,
//!    which the image keeps.
//!
//! So every state of the model with downtimes is related to one this model reaches with the same
//! verdicts, and every state this model reaches is reachable there (a crash followed at once by a
//! restart): nothing is missed and nothing is invented. A crashed leader stays down so that the
//! after-crash property keeps its witness: a later leader elected while the old one is down.

use crate::raft_model::actor::ActorState;
use crate::raft_model::RaftModelState;
use raftkv::raft::Role;

/// Whether a crash of server `index` in `state` (the state before the crash) is followed at once by
/// its restart: it is a live server that is not the leader.
pub fn restarts_at_once(state: &RaftModelState, index: usize) -> bool {
    let live = !state.crashed.get(index).copied().unwrap_or(true);
    let not_leader = state
        .actor_states
        .get(index)
        .is_some_and(|actor| matches!(&**actor, ActorState::Server(s) if s.role() != Role::Leader));
    live && not_leader
}
