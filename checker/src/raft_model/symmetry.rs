//! Symmetry reduction over server ids (placeholder: identity).

use crate::raft_model::RaftModelState;

/// The canonical representative of `state`'s symmetry class.
pub fn representative(state: &RaftModelState) -> RaftModelState {
    state.clone()
}
