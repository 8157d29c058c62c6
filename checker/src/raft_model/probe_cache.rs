//! A per-thread memo of saturation's pure-step probes: whether delivering a message to (or firing a
//! timer of) a server in a given state only sends, and what. The answer depends only on the model's
//! configuration, the server's state and the input, and the same server states come back in many
//! system states, so most probes are answered from here instead of running the core again.
//!
//! Guarantees: an entry is keyed by a hash of the model configuration, a 64-bit hash of the server's
//! state (the same collision risk as stateright's own 64-bit state fingerprints) and the exact input
//! (looked up by its hash, compared in full);
//! the memo holds at most [`PROBES_MAX`] entries per thread (it is cleared when full) and never
//! changes an answer, only how fast it comes.

use crate::raft_model::actor::{ActorState, ModelMsg};
use crate::raft_model::fingerprint::hash_of;
use crate::raft_model::saturation::SystemAction;
use crate::raft_model::ModelConfig;
use stateright::actor::Envelope;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// Entries kept per thread before the memo is cleared (a few hundred MB at most).
pub const PROBES_MAX: usize = 1 << 21;

/// What a probe found: None for an impure step, else the messages it sends.
pub type ProbeResult = Option<Arc<[Envelope<ModelMsg>]>>;

/// (configuration hash, server state hash, action hash): the action itself is kept in the entry
/// and compared on a hit, so a lookup neither clones it nor trusts its hash alone.
type Key = (u64, u64, u64);

thread_local! {
    static PROBES: RefCell<HashMap<Key, (SystemAction, ProbeResult), ahash::RandomState>> =
        RefCell::new(HashMap::with_hasher(ahash::RandomState::new()));
}

/// A hash that identifies a configuration's behaviour (the actors are built from it alone).
pub fn config_key(cfg: &ModelConfig) -> u64 {
    hash_of(cfg)
}

/// A hash of one actor's state.
pub fn state_key(state: &ActorState) -> u64 {
    hash_of(state)
}

/// The memoised answer for `action` on a server whose state hashes to `state`, computing it with
/// `probe` the first time.
pub fn probe(
    config: u64,
    state: u64,
    action: &SystemAction,
    probe: impl FnOnce() -> ProbeResult,
) -> ProbeResult {
    let key = (config, state, hash_of(action));
    let found = PROBES.with(|p| {
        p.borrow()
            .get(&key)
            .filter(|(probed, _)| probed == action)
            .map(|(_, result)| result.clone())
    });
    if let Some(found) = found {
        return found;
    }
    let result = probe();
    PROBES.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() >= PROBES_MAX {
            p.clear();
        }
        // An entry whose action only shares the hash is replaced.
        p.insert(key, (action.clone(), result.clone()));
    });
    result
}
