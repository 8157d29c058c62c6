//! The checked model: stateright's actor model of the servers and clients ([`ActorSystem`]) with the
//! [`saturation`] reduction applied after every step on the duplicating network. Everything else
//! (actions, boundary, formatting, the sequence diagrams of the web explorer) is the actor model's own.
//!
//! Guarantees: every state this model yields is reachable in the actor model by real steps (the
//! action taken, then pure deliveries and timeouts); with `saturate` off, or on the other network
//! kinds, it is exactly the actor model.

use crate::raft_model::properties;
use crate::raft_model::saturation::{self, SystemAction};
use crate::raft_model::{ActorSystem, ModelConfig, RaftModelState};
use stateright::{Model, Path, Property};

/// The model the checkers run.
pub struct RaftModel {
    /// The actor model (servers around the real core, clients, network, crashes, history).
    pub system: ActorSystem,
    /// Saturate states (duplicating network only; see [`saturation`]).
    pub saturate: bool,
}

impl RaftModel {
    /// The bounds and settings the model was built from.
    pub fn cfg(&self) -> &ModelConfig {
        &self.system.cfg
    }

    /// The state after `action` from the (saturated) state `last`, before saturation, and the pure
    /// steps saturation then takes: what a readable counterexample shows for one step.
    pub fn step_with_closure(
        &self,
        last: &RaftModelState,
        action: SystemAction,
    ) -> Option<Vec<SystemAction>> {
        let raw = self.system.next_state(last, action)?;
        let mut pure = Vec::new();
        if self.saturate {
            saturation::close_traced(&self.system, Some(last), raw, &mut |a| pure.push(a.clone()));
        }
        Some(pure)
    }
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
            .map(|s| saturation::close(&self.system, None, s))
            .collect()
    }

    fn actions(&self, state: &RaftModelState, actions: &mut Vec<SystemAction>) {
        self.system.actions(state, actions);
    }

    fn next_state(&self, last: &RaftModelState, action: SystemAction) -> Option<RaftModelState> {
        let next = self.system.next_state(last, action)?;
        if !self.saturate || !saturation::applies_to(&next) {
            return Some(next);
        }
        let next = saturation::close(&self.system, Some(last), next);
        // A step back to `last` is no step (saves the checker fingerprinting a known state).
        (!saturation::is_same_state(last, &next)).then_some(next)
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
    }
}
