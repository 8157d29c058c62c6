//! The checked model: stateright's actor model of the servers and clients ([`ActorSystem`]) with
//! three refinements, and the [`saturation`] reduction applied after every step on the duplicating
//! network. The refinements: only servers crash (clients drive the test); a server that crashes is
//! replaced by its crash image (what a dead process still shows: storage, role, term, log); and a
//! message between a client and a server is consumed by its delivery on every network. Everything
//! else (boundary, formatting, the sequence diagrams of the web explorer) is the actor model's own.
//! On the duplicating network a saturated state does not offer the steps that lead back to itself
//! (pure deliveries and timeouts, see [`saturation::Prober::is_self_loop`]): they are no steps.
//!
//! Guarantees: every state this model yields is reachable in the refined actor model by real steps
//! (the action taken, then pure deliveries and timeouts); with `saturate` off, or on the other network
//! kinds, it is exactly the refined actor model.

use crate::raft_model::actor::{ActorState, ModelMsg, RaftActor};
use crate::raft_model::client_answers;
use crate::raft_model::dead_votes;
use crate::raft_model::eager_timeouts;
use crate::raft_model::ghost_forgetting;
use crate::raft_model::properties;
use crate::raft_model::refusals;
use crate::raft_model::rejections;
use crate::raft_model::restarts;
use crate::raft_model::saturation::{self, SystemAction};
use crate::raft_model::subsumption::Subsumption;
use crate::raft_model::{ActorSystem, ModelConfig, RaftModelState};
use raftkv::raft::MessageBody;
use stateright::actor::{ActorModelAction, Envelope, Id, Network};
use stateright::{Model, Path, Property};
use std::sync::Arc;

/// The model the checkers run.
pub struct RaftModel {
    /// The actor model (servers around the real core, clients, network, crashes, history).
    pub system: ActorSystem,
    /// Saturate states (duplicating network only; see [`saturation`]).
    pub saturate: bool,
    /// Deliver a vote rejection only with the others that lose the round ([`rejections`]; applies
    /// where saturation does).
    pub rejections_together: bool,
    /// Take the election timeouts whose only choice is "now or later" at once ([`eager_timeouts`];
    /// applies where saturation does).
    pub eager_timeouts: bool,
    /// Leave out deliveries of client requests that a server refuses without changing anything
    /// ([`refusals`]; every network).
    pub refusals_are_no_step: bool,
    /// Forget what the ghost state can no longer use after every step ([`ghost_forgetting`]; every
    /// network).
    pub forget_settled_ghost: bool,
    /// Forget for whom a server voted once that candidate can never read the vote
    /// ([`dead_votes`]; every network).
    pub forget_done_votes: bool,
    /// Restart a server that was not the leader in the same step as its crash ([`restarts`]; every
    /// network).
    pub restart_at_once: bool,
    /// Deliver the answers to clients that start nothing new in the step that sent them
    /// ([`client_answers`]; every network).
    pub client_answers_at_once: bool,
    /// Skip states covered by one already recorded ([`subsumption`]); set by the runner for a DFS
    /// run on the saturated duplicating network, None everywhere else.
    pub subsumption: Option<Arc<Subsumption>>,
}

impl RaftModel {
    /// The bounds and settings the model was built from.
    pub fn cfg(&self) -> &ModelConfig {
        &self.system.cfg
    }

    /// The states one step from `state` that are within the boundary, in the order of its actions.
    pub fn successors(&self, state: &RaftModelState) -> Vec<RaftModelState> {
        let mut actions = Vec::new();
        Model::actions(self, state, &mut actions);
        actions
            .into_iter()
            .filter_map(|action| Model::next_state(self, state, action))
            .filter(|next| Model::within_boundary(self, next))
            .collect()
    }

    /// What one step from the (saturated) state `last` does, for a readable counterexample: the
    /// rejections delivered with `action` (see [`rejections`]) and the pure steps saturation then
    /// took. None: `action` is no step.
    pub fn step_with_closure(
        &self,
        last: &RaftModelState,
        action: SystemAction,
    ) -> Option<StepTrace> {
        let (raw, counted_with) = self.step_counting_rejections(last, action)?;
        let mut client_answers = Vec::new();
        let raw = self.deliver_client_answers(raw, &mut client_answers);
        let mut eager_timeouts = Vec::new();
        let raw = self.fire_eager_timeouts(raw, &mut eager_timeouts);
        let raw = self.rewritten(raw);
        let mut pure = Vec::new();
        if self.saturate {
            saturation::close_traced(&self.system, Some(last), raw, &mut |a| pure.push(a.clone()));
        }
        Some(StepTrace {
            counted_with,
            client_answers,
            eager_timeouts,
            pure,
        })
    }

    /// The state after `action` from `last`, before saturation, with the rejections delivered with it
    /// when it is a countable rejection on the saturated duplicating network ([`rejections`]: a
    /// rejection is delivered only with others that lose the round; alone it is no step, None).
    fn step_counting_rejections(
        &self,
        last: &RaftModelState,
        action: SystemAction,
    ) -> Option<(RaftModelState, Vec<SystemAction>)> {
        let first = if self.saturate && self.rejections_together && saturation::applies_to(last) {
            rejections::countable_rejection(last, &action)
        } else {
            None
        };
        let Some(first) = first else {
            let next = self.raw_step(last, action.clone())?;
            if self.refusals_are_no_step && refusals::is_idle_refusal(last, &action, &next) {
                return None;
            }
            return Some((next, Vec::new()));
        };
        let mut next = self.raw_step(last, action)?;
        let mut counted_with = Vec::new();
        for other in rejections::companions(last, &first) {
            if rejections::round_ended(last, &next, first.dst) {
                break;
            }
            // A voter whose answer is already counted (a grant) changes nothing: no step.
            if let Some(after) = self.raw_step(&next, other.clone()) {
                next = after;
                counted_with.push(other);
            }
        }
        rejections::round_ended(last, &next, first.dst).then_some((next, counted_with))
    }

    /// Delivers the answers to clients that the model delivers at once ([`client_answers`]) when
    /// the reduction is on; each delivery is pushed to `delivered`.
    fn deliver_client_answers(
        &self,
        mut state: RaftModelState,
        delivered: &mut Vec<SystemAction>,
    ) -> RaftModelState {
        if !self.client_answers_at_once {
            return state;
        }
        // One pass: a delivery sends no answer (a retry sends requests, a finished client nothing).
        for delivery in client_answers::at_once(&self.system, &state) {
            if let Some(next) = self.raw_step(&state, delivery.clone()) {
                state = next;
                delivered.push(delivery);
            }
        }
        state
    }

    /// Fires the election timeouts that the model takes at once ([`eager_timeouts`]) when the
    /// reduction applies; each timeout fired is pushed to `fired`.
    fn fire_eager_timeouts(
        &self,
        mut state: RaftModelState,
        fired: &mut Vec<SystemAction>,
    ) -> RaftModelState {
        if !(self.saturate && self.eager_timeouts && saturation::applies_to(&state)) {
            return state;
        }
        for timeout in eager_timeouts::eager_timeouts(self.cfg(), &state) {
            if let Some(next) = self.raw_step(&state, timeout.clone()) {
                if eager_timeouts::did_as_expected(&state, &next, &timeout) {
                    state = next;
                    fired.push(timeout);
                }
            }
        }
        state
    }
}

/// One step of the checked model as a counterexample shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepTrace {
    /// Rejections delivered with the step, in order (they lose the receiver's round together).
    pub counted_with: Vec<SystemAction>,
    /// Answers to clients delivered at once with the step ([`client_answers`]).
    pub client_answers: Vec<SystemAction>,
    /// Election timeouts fired at once with the step ([`eager_timeouts`]).
    pub eager_timeouts: Vec<SystemAction>,
    /// The pure steps saturation took after it, in order.
    pub pure: Vec<SystemAction>,
}

/// Whether `action` delivers a message between a client and a server: such a message is delivered
/// at most once, on every network (a request or answer on the client's connection for one attempt;
/// only Raft messages between servers are duplicated).
fn is_client_delivery(action: &SystemAction) -> bool {
    matches!(action, ActorModelAction::Deliver { msg, .. } if !matches!(msg, ModelMsg::Raft(_)))
}

/// Takes a delivered client message out of the network; for a request, also the copies of the same
/// attempt sent to the other servers (see [`ClientActor`](crate::raft_model::actor::ClientActor)):
/// one attempt reaches one server.
fn consume_attempt(network: &mut Network<ModelMsg>, delivered: &Envelope<ModelMsg>) {
    let same_attempt = |env: &Envelope<ModelMsg>| {
        env == delivered
            || (env.src == delivered.src
                && env.msg == delivered.msg
                && matches!(env.msg, ModelMsg::Request { .. }))
    };
    match network {
        Network::UnorderedDuplicating(set, _) => set.retain(|env| !same_attempt(env)),
        Network::UnorderedNonDuplicating(multiset) => multiset.retain(|env, _| !same_attempt(env)),
        Network::Ordered(_) => {}
    }
}

impl RaftModel {
    /// The state after `action` from `last` with the reductions that apply (rejections delivered
    /// together, eager timeouts, saturation); None when it is no step.
    fn step_and_close(
        &self,
        last: &RaftModelState,
        action: SystemAction,
    ) -> Option<RaftModelState> {
        // A client message is consumed by its delivery, so only the other steps leave a network
        // that has every envelope of `last` (which `adds_nothing` relies on).
        let network_grows = !is_client_delivery(&action);
        let (next, _) = self.step_counting_rejections(last, action)?;
        let next = self.deliver_client_answers(next, &mut Vec::new());
        if !self.saturate || !saturation::applies_to(&next) {
            return Some(self.rewritten(next));
        }
        // The closure is the costly part, and most steps are dropped after it; they are dropped
        // before it instead, which changes no result:
        // - outside the bounds: eager timeouts only raise terms, and the closure changes no actor
        //   (the boundary reads no message on this network), so a state outside them stays out;
        let outside = |state: &RaftModelState| !properties::within_bounds(self.cfg(), state);
        if outside(&next) {
            return None;
        }
        let next = self.fire_eager_timeouts(next, &mut Vec::new());
        let next = self.rewritten(next);
        if outside(&next) {
            return None;
        }
        // - a step back to `last` (no step; saves fingerprinting a known state);
        if network_grows && saturation::adds_nothing(last, &next) {
            return None;
        }
        // - covered by a recorded state: then its closure is covered too (see `subsumption`).
        if let Some(store) = &self.subsumption {
            if store.is_covered(&next) {
                return None;
            }
        }
        Some(saturation::close(&self.system, Some(last), next))
    }

    /// `state` with what no later step reads forgotten ([`ghost_forgetting`], [`dead_votes`]).
    /// The rewrites read and change only the actors and their storages, never the network, so
    /// they are taken before saturation's closure, which changes no actor.
    fn rewritten(&self, mut state: RaftModelState) -> RaftModelState {
        if self.forget_settled_ghost {
            ghost_forgetting::forget(&mut state);
        }
        if self.forget_done_votes {
            dead_votes::forget(&mut state);
        }
        state
    }

    fn is_server(&self, id: Id) -> bool {
        matches!(
            self.system.actors.get(usize::from(id)),
            Some(RaftActor::Server(_))
        )
    }

    /// The actor model's step, with a crashed server's memory replaced by its crash image
    /// ([`ServerActor::crash_image`](crate::raft_model::actor::ServerActor::crash_image)), a
    /// restart of a server that had persisted something counted in the run's history, and, with
    /// `restart_at_once`, a server that was not the leader restarted in the same step as its crash
    /// ([`restarts`]).
    fn raw_step(&self, last: &RaftModelState, action: SystemAction) -> Option<RaftModelState> {
        let crashed = match &action {
            ActorModelAction::Crash(id) => Some(usize::from(*id)),
            _ => None,
        };
        let restarted_with_storage = match &action {
            ActorModelAction::Recover(id) => last
                .actor_storages
                .get(usize::from(*id))
                .is_some_and(Option::is_some),
            _ => false,
        };
        let consumed = match &action {
            ActorModelAction::Deliver { src, dst, msg } if is_client_delivery(&action) => {
                Some(Envelope {
                    src: *src,
                    dst: *dst,
                    msg: msg.clone(),
                })
            }
            _ => None,
        };
        let mut next = self.system.next_state(last, action)?;
        if let Some(env) = consumed {
            consume_attempt(&mut next.network, &env);
        }
        if restarted_with_storage {
            next.history.restarts = next.history.restarts.saturating_add(1);
        }
        if let Some(index) = crashed {
            if let (Some(RaftActor::Server(server)), ActorState::Server(state)) =
                (self.system.actors.get(index), &*next.actor_states[index])
            {
                let image = server.crash_image(state);
                next.actor_states[index] = Arc::new(ActorState::Server(Box::new(image)));
            }
            if self.restart_at_once && restarts::restarts_at_once(last, index) {
                return self.raw_step(&next, ActorModelAction::Recover(Id::from(index)));
            }
        }
        Some(next)
    }
}

/// Where `action` goes in the order of a state's actions; DFS explores the highest rank first.
/// Why this order: subsumption skips a state covered by one recorded before it, so the states
/// with the most messages in flight and the most crash budget left should come first.
/// - Crashes last: a state reached after a restart is then mostly covered by the same state
///   reached without one, which has more crash budget left.
/// - Deliveries to and from clients before them: a client message is consumed by its delivery,
///   so the states after one hold fewer messages than those explored before.
/// - Answers between servers (vote, append and heartbeat responses) before those: the states
///   explored first, after requests and timeouts, send the answers these deliver.
fn exploration_rank(action: &SystemAction) -> u8 {
    match action {
        ActorModelAction::Crash(_) => 0,
        _ if is_client_delivery(action) => 1,
        ActorModelAction::Deliver {
            msg: ModelMsg::Raft(m),
            ..
        } if is_answer(&m.body) => 2,
        _ => 3,
    }
}

/// Whether `body` answers a request between servers.
fn is_answer(body: &MessageBody) -> bool {
    matches!(
        body,
        MessageBody::PreVoteResponse { .. }
            | MessageBody::RequestVoteResponse { .. }
            | MessageBody::AppendEntriesResponse { .. }
            | MessageBody::HeartbeatResponse { .. }
            | MessageBody::InstallSnapshotResponse { .. }
    )
}

impl Model for RaftModel {
    type State = RaftModelState;
    type Action = SystemAction;

    fn init_states(&self) -> Vec<RaftModelState> {
        let states = self.system.init_states();
        if !self.saturate {
            return states;
        }
        states
            .into_iter()
            .map(|s| {
                let s = self.fire_eager_timeouts(s, &mut Vec::new());
                saturation::close(&self.system, None, s)
            })
            .collect()
    }

    fn actions(&self, state: &RaftModelState, actions: &mut Vec<SystemAction>) {
        // A recorded state that a state recorded after it covers need not be expanded: that one
        // is (see `subsumption`).
        if self
            .subsumption
            .as_ref()
            .is_some_and(|store| store.is_superseded(state))
        {
            return;
        }
        self.system.actions(state, actions);
        // Only servers crash: a client is the test's driver, not a system under test (stateright
        // offers every actor; a crashed client would restart its script from the first operation).
        actions.retain(|action| match action {
            ActorModelAction::Crash(id) => self.is_server(*id),
            _ => true,
        });
        // In a saturated state a pure step leads back to the state itself: not a step.
        if self.saturate && saturation::applies_to(state) {
            let mut prober = saturation::Prober::new(&self.system, state);
            actions.retain(|action| !prober.is_self_loop(&self.system, state, action));
        }
        // DFS expands the last successor first, so the order below is explored back to front:
        // requests, timeouts and client steps first, then answers between servers, then
        // deliveries to and from clients, crashes last (see `exploration_rank`). Only the order
        // changes, never the set of steps.
        actions.sort_by_key(exploration_rank);
    }

    fn next_state(&self, last: &RaftModelState, action: SystemAction) -> Option<RaftModelState> {
        self.step_and_close(last, action)
    }

    fn format_action(&self, action: &SystemAction) -> String {
        self.system.format_action(action)
    }

    fn format_step(&self, last: &RaftModelState, action: SystemAction) -> Option<String> {
        self.system.format_step(last, action)
    }

    fn as_svg(&self, path: Path<RaftModelState, SystemAction>) -> Option<String> {
        self.system.as_svg(path)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties::all(self.cfg().crashes > 0)
    }

    fn within_boundary(&self, state: &RaftModelState) -> bool {
        Model::within_boundary(&self.system, state)
            && !self
                .subsumption
                .as_ref()
                .is_some_and(|store| store.covered_or_record(state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft_model::actor::ServerState;
    use crate::raft_model::rejections;
    use crate::raft_model::{NetworkKind, RaftModelState};
    use raftkv::raft::Role;
    use std::collections::VecDeque;

    fn model() -> RaftModel {
        let config = ModelConfig {
            max_term: 1,
            max_log: 2,
            clients: 1,
            crashes: 1,
            pre_vote: false,
            network: NetworkKind::UnorderedDuplicating,
            ..ModelConfig::default()
        };
        config.into_model().expect("valid configuration")
    }

    /// Breadth-first, the first state (and an action enabled in it) that satisfies `wanted`.
    fn find(
        model: &RaftModel,
        wanted: impl Fn(&RaftModelState, &SystemAction) -> bool,
    ) -> (RaftModelState, SystemAction) {
        let mut queue: VecDeque<RaftModelState> = model.init_states().into();
        let mut actions = Vec::new();
        for _ in 0..20_000 {
            let state = queue.pop_front().expect("the space is large enough");
            actions.clear();
            model.actions(&state, &mut actions);
            if let Some(action) = actions.iter().find(|a| wanted(&state, a)) {
                return (state, action.clone());
            }
            queue.extend(model.successors(&state));
        }
        panic!("no such state within 20,000 states");
    }

    fn is_request(action: &SystemAction) -> bool {
        matches!(
            action,
            ActorModelAction::Deliver {
                msg: ModelMsg::Request { .. },
                ..
            }
        )
    }

    fn server(state: &RaftModelState, index: usize) -> &ServerState {
        match &*state.actor_states[index] {
            ActorState::Server(s) => s,
            ActorState::Client(_) => panic!("actor {index} is a client"),
        }
    }

    #[test]
    fn only_servers_are_offered_a_crash() {
        let model = model();
        let mut actions = Vec::new();
        model.actions(&model.init_states()[0], &mut actions);
        let crashes: Vec<usize> = actions
            .iter()
            .filter_map(|a| match a {
                ActorModelAction::Crash(id) => Some(usize::from(*id)),
                _ => None,
            })
            .collect();
        assert_eq!(
            crashes,
            vec![0, 1, 2],
            "servers 0..3 crash, client 3 does not"
        );
    }

    /// A state's actions come in the order DFS relies on (see `exploration_rank`): crashes, then
    /// deliveries to and from clients, then answers between servers, then the rest; each kind
    /// shows up somewhere in the space.
    #[test]
    fn actions_are_listed_crashes_first_then_client_deliveries_then_answers() {
        let model = model();
        let mut queue: VecDeque<RaftModelState> = model.init_states().into();
        let mut ranks_seen = [false; 4];
        let mut actions = Vec::new();
        for _ in 0..3_000 {
            let Some(state) = queue.pop_front() else {
                break;
            };
            actions.clear();
            model.actions(&state, &mut actions);
            let ranks: Vec<u8> = actions.iter().map(exploration_rank).collect();
            assert!(
                ranks.windows(2).all(|w| w[0] <= w[1]),
                "actions out of order: {ranks:?}"
            );
            for rank in ranks {
                ranks_seen[usize::from(rank)] = true;
            }
            queue.extend(model.successors(&state));
        }
        assert_eq!(ranks_seen, [true; 4], "every kind of action is offered");
        assert_eq!(exploration_rank(&ActorModelAction::Crash(Id::from(0))), 0);
    }

    /// The steps a saturated state does not offer are exactly steps back to itself, and there are such.
    #[test]
    fn only_steps_back_to_the_same_state_are_left_out() {
        let model = model();
        let mut queue: VecDeque<RaftModelState> = model.init_states().into();
        let (mut left_out, mut visited) = (0usize, 0usize);
        let (mut offered, mut all) = (Vec::new(), Vec::new());
        while let Some(state) = queue.pop_front() {
            visited += 1;
            if visited > 300 {
                break;
            }
            offered.clear();
            model.actions(&state, &mut offered);
            all.clear();
            model.system.actions(&state, &mut all);
            for action in all.drain(..) {
                let is_crash_of_client =
                    matches!(action, ActorModelAction::Crash(id) if !model.is_server(id));
                if is_crash_of_client || offered.contains(&action) {
                    continue;
                }
                left_out += 1;
                assert!(
                    model.next_state(&state, action.clone()).is_none(),
                    "{action:?} was left out but changes the state"
                );
            }
            queue.extend(model.successors(&state));
        }
        assert!(left_out > 100, "only {left_out} steps left out");
    }

    /// A step that changes no actor is dropped before the closure only when it adds no live
    /// message: its closure is then the state it left (`saturation::adds_nothing`). A step that
    /// changes no actor but sends a live message the state lacks leads to a new state, and there
    /// are such steps (a heartbeat answer to a leader, with the timeouts fired at once).
    #[test]
    fn a_step_back_is_recognised_before_the_closure() {
        // Pre-vote and check-quorum (the steps that change no actor and still send are here).
        let model = ModelConfig {
            pre_vote: true,
            ..model().cfg().clone()
        }
        .into_model()
        .expect("valid configuration");
        let mut queue: VecDeque<RaftModelState> = model.init_states().into();
        let (mut back, mut forward) = (0usize, 0usize);
        let mut actions = Vec::new();
        for _ in 0..20_000 {
            let Some(state) = queue.pop_front() else {
                break;
            };
            actions.clear();
            model.system.actions(&state, &mut actions);
            for action in actions.drain(..) {
                if is_client_delivery(&action) {
                    continue;
                }
                // The step as `step_and_close` takes it up to the closure.
                let Some((raw, _)) = model.step_counting_rejections(&state, action.clone()) else {
                    continue;
                };
                let raw = model.deliver_client_answers(raw, &mut Vec::new());
                let raw = model.fire_eager_timeouts(raw, &mut Vec::new());
                let raw = model.rewritten(raw);
                let closed = saturation::close(&model.system, Some(&state), raw.clone());
                let same_actors = raw.actor_states == state.actor_states
                    && raw.timers_set == state.timers_set
                    && raw.crashed == state.crashed
                    && raw.actor_storages == state.actor_storages
                    && raw.history == state.history;
                if saturation::adds_nothing(&state, &raw) {
                    back += 1;
                    assert_eq!(closed, state, "{action:?} was taken for a step back");
                } else if same_actors {
                    forward += 1;
                    assert_ne!(closed, state, "{action:?} is a step back");
                }
            }
            queue.extend(model.successors(&state));
        }
        assert!(
            back > 0 && forward > 0,
            "{back} steps back, {forward} forward"
        );
    }

    /// A rejection that would only be tallied is no step (the core would have tallied it); one that
    /// loses the round together with the other voter's rejection is delivered with it, the trace
    /// names that companion, and the receiver steps down in its own term.
    #[test]
    fn a_rejection_is_delivered_only_with_those_that_lose_the_round() {
        let model = model();
        let countable =
            |s: &RaftModelState, a: &SystemAction| rejections::countable_rejection(s, a);
        let (state, alone) = find(&model, |s, a| {
            countable(s, a).is_some_and(|env| rejections::companions(s, &env).is_empty())
        });
        assert_eq!(
            model.next_state(&state, alone.clone()),
            None,
            "a rejection that is only tallied is no step"
        );
        let tallied = model
            .system
            .next_state(&state, alone)
            .expect("the core handles it");
        assert_ne!(tallied, state, "the core alone would have tallied it");

        let (state, first) = find(&model, |s, a| {
            countable(s, a).is_some_and(|env| !rejections::companions(s, &env).is_empty())
        });
        let env = countable(&state, &first).expect("found a countable rejection");
        let trace = model
            .step_with_closure(&state, first.clone())
            .expect("a losing set is a step");
        assert_eq!(trace.counted_with, rejections::companions(&state, &env));
        let next = model
            .next_state(&state, first)
            .expect("a losing set is a step");
        let index = usize::from(env.dst);
        let (before, after) = (server(&state, index), server(&next, index));
        assert!(matches!(
            before.role(),
            Role::Candidate | Role::PreCandidate
        ));
        assert_eq!(after.role(), Role::Follower, "the round is lost");
        assert_eq!(after.term(), before.term(), "in the receiver's own term");
    }

    /// With pre-vote and check-quorum on (3 servers), no state the model yields has a live follower
    /// below the term bound, whether it knows a leader or not (it starts its round at once, so the
    /// initial servers are all pre-candidates), or a live leader whose check-quorum round would pass
    /// (it runs it at once); at the bound leaderless followers stay as they are, and there are some,
    /// and there are leaders.
    #[test]
    fn followers_below_the_bound_campaign_and_passing_rounds_run_at_once() {
        let model = ModelConfig {
            max_term: 2,
            max_log: 2,
            crashes: 1,
            clients: 0,
            ..ModelConfig::default()
        }
        .into_model()
        .expect("valid configuration");
        let init = model.init_states().remove(0);
        assert!((0..3).all(|i| server(&init, i).role() == Role::PreCandidate));
        let mut queue: VecDeque<RaftModelState> = VecDeque::from([init]);
        let (mut visited, mut idle_at_bound, mut leaders) = (0usize, 0usize, 0usize);
        while let Some(state) = queue.pop_front() {
            visited += 1;
            if visited > 3_000 {
                break;
            }
            for index in 0..3 {
                let s = server(&state, index);
                let follower = !state.crashed[index] && s.role() == Role::Follower;
                assert!(!follower || s.term().0 == 2, "a follower below the bound");
                idle_at_bound += usize::from(follower && s.node.leader().is_none());
                let live_leader = !state.crashed[index] && s.role() == Role::Leader;
                assert!(
                    !(live_leader && s.node.check_quorum_round_would_pass()),
                    "a leader that could run its passing round"
                );
                leaders += usize::from(live_leader);
            }
            queue.extend(model.successors(&state));
        }
        assert!(idle_at_bound > 0, "no leaderless follower at the bound");
        assert!(leaders > 0, "no leader");
    }

    #[test]
    fn a_crashed_leader_keeps_its_role_term_and_log_and_forgets_the_rest() {
        let model = model();
        let (state, crash) = find(&model, |s, a| match a {
            ActorModelAction::Crash(id) => {
                let s = server(s, usize::from(*id));
                s.role() == Role::Leader && s.node.log_entries().len() == 2
            }
            _ => false,
        });
        let ActorModelAction::Crash(id) = crash else {
            unreachable!("found a crash");
        };
        let index = usize::from(id);
        let before = server(&state, index).clone();
        let next = model.next_state(&state, crash).expect("a crash is a step");
        let after = server(&next, index);
        assert!(next.crashed[index]);
        assert_eq!(after.role(), Role::Leader, "properties still see a leader");
        assert_eq!(after.crashed_role, Some(Role::Leader));
        assert_eq!(after.term(), before.term());
        assert_eq!(after.node.log_entries(), before.node.log_entries());
        assert_eq!(after.durable, before.durable);
        assert_eq!(after.kv_value, before.kv_value);
        assert_eq!(
            after.node.status().role,
            Role::Follower,
            "the core is rebuilt"
        );
        assert_ne!(
            after.node, before.node,
            "the leader's progress is forgotten"
        );
        // Restarting clears the crash image.
        let recovered = model
            .next_state(&next, ActorModelAction::Recover(id))
            .expect("a restart is a step");
        assert_eq!(server(&recovered, index).crashed_role, None);
    }

    #[test]
    fn a_client_request_reaches_one_server_once_on_the_duplicating_network() {
        let model = model();
        // To a server that takes it (a refused request is no step: `refusals`).
        let (state, deliver) = find(&model, |s, a| {
            is_request(a) && model.next_state(s, a.clone()).is_some()
        });
        let ActorModelAction::Deliver { src, dst, msg } = deliver.clone() else {
            unreachable!("found a delivery");
        };
        let copies = |s: &RaftModelState| -> Vec<Id> {
            s.network
                .iter_all()
                .filter(|e| e.src == src && *e.msg == msg)
                .map(|e| e.dst)
                .collect()
        };
        let mut before = copies(&state);
        before.sort();
        assert_eq!(
            before,
            vec![Id::from(0), Id::from(1), Id::from(2)],
            "the attempt went out to every server"
        );
        assert!(before.contains(&dst));
        let next = model
            .next_state(&state, deliver)
            .expect("a request is answered or handled");
        assert_eq!(
            copies(&next),
            Vec::<Id>::new(),
            "the delivered request and its copies to the other servers were consumed"
        );
    }

    #[test]
    fn a_request_refused_without_effect_is_no_step() {
        let model = model();
        let (state, deliver) = find(&model, |s, a| {
            is_request(a) && model.next_state(s, a.clone()).is_none()
        });
        let raw = model
            .raw_step(&state, deliver.clone())
            .expect("the system itself takes the delivery");
        assert!(refusals::is_idle_refusal(&state, &deliver, &raw));
        let ActorModelAction::Deliver { dst, .. } = deliver else {
            unreachable!("found a delivery");
        };
        assert_ne!(
            server(&state, usize::from(dst)).node.role(),
            raftkv::raft::Role::Leader,
            "only a server that is not the leader refuses"
        );
    }
}
