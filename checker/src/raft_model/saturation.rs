//! Saturation: the reduction that makes exhaustive checks of the duplicating network feasible. After
//! every step, each delivery or timeout that changes no actor state, timer, storage, crash flag, random
//! choice or client history (it only sends messages) is taken at once, until none is left, and dead
//! envelopes are dropped. The checker then only ever sees "saturated" states.
//!
//! Why it is sound. On the duplicating network a delivered Raft message stays deliverable (a
//! client's request or answer is consumed by its delivery, see `RaftModel`; pure steps never deliver
//! one). Write `s ⊑ t` when `s` and `t` agree on everything but the network and `net(s) ⊆ net(t)`.
//! 1. Simulation: if `s ⊑ t` and an action takes `s` to `s'`, the same action is enabled in `t` and
//!    takes it to some `t'` with `s' ⊑ t'`: the actor that moves has the same state, gets the same
//!    input (every envelope of `s` is in `t`) and so produces the same outputs (a consumed client
//!    message leaves both networks, so the inclusion stays); timeouts, crashes,
//!    restarts and client choices read only what the two states share. The boundary reads no network
//!    on this network kind, so `t'` is inside it whenever `s'` is.
//! 2. Properties: every always-property reads only actors, storages and history (Election Safety
//!    reads the ghost state's terms as leader), which `s` and `t` share, so a violation in `s` is one
//!    in `t`.
//! 3. The closure `close(s)` is reached from `s` by real steps (the pure ones), and `s ⊑ close(s)`.
//!
//! So every reachable state of the unreduced model is `⊑` some saturated state the checker visits
//! (induction over paths with 1 and 3), every violation shows in a visited state (2), and every
//! visited state is truly reachable (3): no false alarm, no missed violation. Dropping dead envelopes
//! is sound for the reasons in [`reduction`]. The closure is unique whatever the order of the pure
//! steps: whether a delivery is pure and what it sends depend only on its receiver, which no pure
//! step changes.
//!
//! Why it pays: on the non-duplicating network a state is an actor configuration times the subset of
//! its messages not yet delivered, and most of the space is those subsets (in the term-1 / log-1
//! configuration: 215 actor configurations, 59,854 states). Saturated, almost every actor
//! configuration comes with one network. The duplicating network includes every behaviour of the
//! unordered and lossy networks (deliver each message at most once, or never), so an exhaustive
//! check of it covers them too.
//!
//! Cost: only the candidates that can be new are tried: envelopes added by the step and envelopes
//! to, and timers of, actors the step changed (in a saturated state every other delivery is known
//! to be impure or to add nothing). A test checks this against trying every action.

use crate::raft_model::actor::{ModelMsg, RaftActor, RaftTimer};
use crate::raft_model::probe_cache::{self, ProbeResult};
use crate::raft_model::reduction;
use crate::raft_model::{ActorSystem, RaftModelState};
use stateright::actor::{Actor, ActorModelAction, Command, Envelope, Id, Network, Out};
use std::borrow::Cow;
use std::sync::Arc;

/// The model's action type.
pub type SystemAction = ActorModelAction<ModelMsg, RaftTimer, Id>;

/// Whether the state's network is the duplicating kind (the only one saturation applies to).
pub fn applies_to(state: &RaftModelState) -> bool {
    matches!(state.network, Network::UnorderedDuplicating(..))
}

/// Saturates `state`, the result of a step from the saturated state `before` (None: an initial or
/// otherwise unsaturated state, for which every candidate is tried). Returns `state` unchanged on
/// other network kinds.
pub fn close(
    system: &ActorSystem,
    before: Option<&RaftModelState>,
    state: RaftModelState,
) -> RaftModelState {
    close_traced(system, before, state, &mut |_| {})
}

/// Like [`close`], calling `on_step` with every pure step taken, in order (for rendering paths).
pub fn close_traced(
    system: &ActorSystem,
    before: Option<&RaftModelState>,
    mut state: RaftModelState,
    on_step: &mut dyn FnMut(&SystemAction),
) -> RaftModelState {
    if !applies_to(&state) {
        return state;
    }
    tidy(&mut state);
    let mut work = candidates(before, &state);
    // The closure never changes an actor, so each receiver's state is hashed once.
    let mut prober = Prober::new(system, &state);
    // Bounded: every step taken adds an envelope to the finite set of live envelopes within the
    // bounds, each envelope is queued at most once as new, and the initial candidates are finite.
    while let Some(action) = work.pop() {
        let Some(sends) = prober.pure_sends(system, &state, &action) else {
            continue;
        };
        let Network::UnorderedDuplicating(set, _) = &mut state.network else {
            unreachable!("checked above");
        };
        let mut added = false;
        for env in sends.iter() {
            if reduction::is_dead_owned(&state.actor_states, env) || set.contains(env) {
                continue;
            }
            set.insert(env.clone());
            work.push(deliver(env.clone()));
            added = true;
        }
        if added {
            on_step(&action);
        }
    }
    state
}

/// Answers "which messages would `action` send, if it is a pure step?" for the actors of one
/// state, from the probe memo: the model configuration is hashed once and each actor's state at
/// most once (neither changes while the state is being saturated or its actions listed).
pub struct Prober {
    config: u64,
    keys: Vec<Option<u64>>,
}

impl Prober {
    /// A prober for the actors of `state`.
    pub fn new(system: &ActorSystem, state: &RaftModelState) -> Prober {
        Prober {
            config: probe_cache::config_key(&system.cfg),
            keys: vec![None; state.actor_states.len()],
        }
    }

    /// The messages `action` sends if it is a pure step (a delivery to, or a timer of, a live
    /// server that changes nothing else), else None.
    pub fn pure_sends(
        &mut self,
        system: &ActorSystem,
        state: &RaftModelState,
        action: &SystemAction,
    ) -> ProbeResult {
        let index = probed_actor(action)?;
        server_actor(system, state, index)?;
        let actor_state = state.actor_states.get(index)?;
        let key = *self
            .keys
            .get_mut(index)?
            .get_or_insert_with(|| probe_cache::state_key(actor_state));
        probe_cache::probe(self.config, key, action, || {
            pure_sends(system, state, action).map(Arc::from)
        })
    }

    /// Whether `action` is a step from the saturated `state` back to itself: a pure step whose
    /// every send is in flight already or dead. Such a step is no step, so the model does not offer
    /// it (in a saturated state most live envelopes are such deliveries: the closure took each of
    /// them once).
    pub fn is_self_loop(
        &mut self,
        system: &ActorSystem,
        state: &RaftModelState,
        action: &SystemAction,
    ) -> bool {
        let Network::UnorderedDuplicating(set, _) = &state.network else {
            return false;
        };
        self.pure_sends(system, state, action).is_some_and(|sends| {
            sends
                .iter()
                .all(|env| set.contains(env) || reduction::is_dead_owned(&state.actor_states, env))
        })
    }
}

/// The actor a pure-step candidate would run: deliveries of Raft messages and timeouts only (a
/// client's request is delivered at most once, see `RaftModel`, so it is never a pure step).
fn probed_actor(action: &SystemAction) -> Option<usize> {
    match action {
        ActorModelAction::Deliver {
            dst,
            msg: ModelMsg::Raft(_),
            ..
        } => Some(usize::from(*dst)),
        ActorModelAction::Timeout(id, _) => Some(usize::from(*id)),
        _ => None,
    }
}

/// The messages `action` would send if it changes nothing else (a pure step), else None. Runs the
/// actor on a borrowed state, without building the successor system state: only deliveries to live
/// servers and server timeouts qualify (a client's input always changes it or the history), and every
/// command must be a send, or for a timeout the renewal of that same timer.
fn pure_sends(
    system: &ActorSystem,
    state: &RaftModelState,
    action: &SystemAction,
) -> Option<Vec<Envelope<ModelMsg>>> {
    let index = probed_actor(action)?;
    let id = Id::from(index);
    let timer = match action {
        ActorModelAction::Timeout(_, timer) => Some(*timer),
        _ => None,
    };
    let actor = server_actor(system, state, index)?;
    let mut actor_state = Cow::Borrowed(&*state.actor_states[index]);
    let mut out = Out::new();
    match action {
        ActorModelAction::Deliver { src, msg, .. } => {
            actor.on_msg(id, &mut actor_state, *src, msg.clone(), &mut out)
        }
        ActorModelAction::Timeout(_, timer) => {
            actor.on_timeout(id, &mut actor_state, timer, &mut out)
        }
        _ => return None,
    }
    if matches!(actor_state, Cow::Owned(_)) {
        return None;
    }
    let mut sends = Vec::new();
    for command in out {
        match command {
            Command::Send(dst, msg) => sends.push(Envelope { src: id, dst, msg }),
            Command::SetTimer(t, _) if Some(t) == timer => {}
            _ => return None,
        }
    }
    Some(sends)
}

/// The server actor at `index` if it is a live server.
fn server_actor<'a>(
    system: &'a ActorSystem,
    state: &RaftModelState,
    index: usize,
) -> Option<&'a RaftActor> {
    let actor = system.actors.get(index)?;
    let live = !state.crashed.get(index).copied().unwrap_or(true);
    (live && matches!(actor, RaftActor::Server(_))).then_some(actor)
}

/// What a saturated predecessor does not already account for (see the module docs).
fn candidates(before: Option<&RaftModelState>, state: &RaftModelState) -> Vec<SystemAction> {
    let changed: Vec<bool> = (0..state.actor_states.len())
        .map(|i| before.is_none_or(|b| !same_actor(b, state, i)))
        .collect();
    let mut work: Vec<SystemAction> = state
        .network
        .iter_all()
        .filter(|env| {
            let moved = |id: Id| changed.get(usize::from(id)).copied().unwrap_or(false);
            // Only an actor that changed sent anything: a pure step from a saturated state adds nothing.
            moved(env.dst) || (moved(env.src) && before.is_none_or(|b| !contains(&b.network, env)))
        })
        .map(|env| deliver(env.to_cloned_msg()))
        .collect();
    for (index, timers) in state.timers_set.iter().enumerate() {
        if changed[index] {
            work.extend(
                timers
                    .iter()
                    .map(|timer| ActorModelAction::Timeout(Id::from(index), *timer)),
            );
        }
    }
    work
}

fn deliver(env: Envelope<ModelMsg>) -> SystemAction {
    ActorModelAction::Deliver {
        src: env.src,
        dst: env.dst,
        msg: env.msg,
    }
}

/// Actor `i` is the same in both states (state, timers, crash flag, storage, pending choices).
fn same_actor(a: &RaftModelState, b: &RaftModelState, i: usize) -> bool {
    a.actor_states[i] == b.actor_states[i]
        && a.timers_set[i] == b.timers_set[i]
        && a.crashed[i] == b.crashed[i]
        && a.actor_storages[i] == b.actor_storages[i]
        && a.random_choices[i] == b.random_choices[i]
}

fn contains(network: &Network<ModelMsg>, env: &Envelope<&ModelMsg>) -> bool {
    match network {
        Network::UnorderedDuplicating(set, _) => set.contains(&env.to_cloned_msg()),
        _ => false,
    }
}

/// Whether `next`, a successor of the saturated `last` before the closure that delivered no client
/// message, is `last` again: the same actors, timers, storages, choices and history, and no live
/// envelope that `last` lacks. Its closure is then `last` too (no actor changed, so the closure
/// takes only steps that `last` took).
pub fn adds_nothing(last: &RaftModelState, next: &RaftModelState) -> bool {
    let (Network::UnorderedDuplicating(old, _), Network::UnorderedDuplicating(new, _)) =
        (&last.network, &next.network)
    else {
        return false;
    };
    last.history == next.history
        && (0..last.actor_states.len()).all(|i| same_actor(last, next, i))
        && (new.len() == old.len()
            || new
                .iter()
                .all(|env| old.contains(env) || reduction::is_dead_owned(&next.actor_states, env)))
}

/// Drops dead envelopes and forgets the last delivered message (stateright keeps it only so that a
/// delivery that changes nothing still yields a new state; it carries no behaviour).
fn tidy(state: &mut RaftModelState) {
    let dead: Vec<Envelope<ModelMsg>> = state
        .network
        .iter_all()
        .filter(|env| reduction::is_dead_envelope(state, env))
        .map(|env| env.to_cloned_msg())
        .collect();
    if let Network::UnorderedDuplicating(set, last) = &mut state.network {
        *last = None;
        for env in &dead {
            set.remove(env);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft_model::{ModelConfig, NetworkKind};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use stateright::Model;

    /// Saturating with every action as a candidate gives the same state as the incremental closure,
    /// along random walks with a client and a crash; and a closure takes at least one step somewhere.
    #[test]
    fn incremental_closure_equals_the_full_closure() {
        let config = ModelConfig {
            max_term: 2,
            max_log: 2,
            clients: 1,
            crashes: 1,
            network: NetworkKind::UnorderedDuplicating,
            ..ModelConfig::default()
        };
        let model = config.into_model().expect("valid configuration");
        let system = &model.system;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut compared, mut steps_taken) = (0usize, 0usize);
        let mut actions = Vec::new();
        for _walk in 0..20 {
            let mut state = model.init_states().remove(0);
            for _step in 0..40 {
                actions.clear();
                system.actions(&state, &mut actions);
                if actions.is_empty() {
                    break;
                }
                let action = actions.swap_remove(rng.gen_range(0..actions.len()));
                let Some(raw) = system.next_state(&state, action) else {
                    continue;
                };
                let mut taken = 0;
                let incremental = close_traced(system, Some(&state), raw.clone(), &mut |_| {
                    taken += 1;
                });
                let full = close(system, None, raw);
                assert_eq!(incremental, full, "closures differ");
                compared += 1;
                steps_taken += taken;
                if Model::within_boundary(system, &incremental) {
                    state = incremental;
                }
            }
        }
        assert!(compared > 300, "only {compared} closures compared");
        assert!(steps_taken > 0, "no closure took a pure step");
    }
}
