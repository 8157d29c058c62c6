//! The model's properties (Raft paper Figure 3 plus linearizability) and its boundary.
//!
//! Guarantees: every "always" property reads only the state (servers' cores, their durable mirrors, the
//! ghost state and the clients' history), never the path, so a violation found in a state is a real
//! violation of some execution; crashed servers keep their last state in stateright, and the checks
//! include it (a leader that crashed still counts for Election Safety in its term).

use crate::raft_model::actor::{ActorState, ServerState};
use crate::raft_model::reduction;
use crate::raft_model::{ModelConfig, NetworkKind, RaftModel, RaftModelState};
use raftkv::raft::{Entry, Role, Term};
use stateright::actor::Network;
use stateright::Property;

/// Property: at most one leader per term.
pub const ELECTION_SAFETY: &str = "election safety";
/// Property: a leader never overwrites or deletes entries of its own log.
pub const LEADER_APPEND_ONLY: &str = "leader append-only";
/// Property: two logs with an entry of the same index and term agree up to that index.
pub const LOG_MATCHING: &str = "log matching";
/// Property: an entry committed in a term is in the log of every leader of a later term.
pub const LEADER_COMPLETENESS: &str = "leader completeness";
/// Property: no two servers apply different entries at the same index.
pub const STATE_MACHINE_SAFETY: &str = "state machine safety";
/// Property: the clients' completed operations are linearizable.
pub const LINEARIZABLE: &str = "linearizable";
/// Sometimes-property: some client's value is committed and applied.
pub const VALUE_COMMITTED: &str = "a value is committed";
/// Sometimes-property: a leader crashed and a leader of a later term was elected.
pub const LEADER_AFTER_CRASH: &str = "a leader is elected after a crash";

/// Every "always" property, in report order.
pub const ALWAYS: [&str; 6] = [
    ELECTION_SAFETY,
    LEADER_APPEND_ONLY,
    LOG_MATCHING,
    LEADER_COMPLETENESS,
    STATE_MACHINE_SAFETY,
    LINEARIZABLE,
];

/// The server states (including crashed servers' last states).
pub fn servers(state: &RaftModelState) -> impl Iterator<Item = &ServerState> {
    state.actor_states.iter().filter_map(|s| match &**s {
        ActorState::Server(server) => Some(&**server),
        ActorState::Client(_) => None,
    })
}

/// The highest term a server is in or campaigns for: a pre-candidate asks for votes in the term after
/// its own, so with pre-vote on, a server whose election timer fires in the last term is beyond the
/// bound exactly as a candidate of the next term is without pre-vote. (Otherwise pre-vote rounds that
/// can never win would run on at the bound and multiply the states.)
pub fn campaign_term(server: &ServerState) -> Term {
    match server.role() {
        Role::PreCandidate => Term(server.term().0 + 1),
        _ => server.term(),
    }
}

/// The boundary: the run's stop flag is down (a time limit raises it) and `state` is
/// [`within_bounds`].
pub fn within_boundary(cfg: &ModelConfig, state: &RaftModelState) -> bool {
    !cfg.stop.is_raised() && within_bounds(cfg, state)
}

/// The bounds: terms (see [`campaign_term`]), log lengths, crashes and (on non-duplicating networks)
/// one copy per in-flight message that is not dead (see [`reduction`]; dead copies are irrelevant).
pub fn within_bounds(cfg: &ModelConfig, state: &RaftModelState) -> bool {
    let bounded = servers(state)
        .all(|s| campaign_term(s).0 <= cfg.max_term && s.node.log_entries().len() <= cfg.max_log);
    if !bounded {
        return false;
    }
    // Total crashes: those recovered from plus those still down.
    let restarts = usize::from(state.history.restarts);
    let down = state.crashed.iter().filter(|&&c| c).count();
    if restarts + down > cfg.crashes {
        return false;
    }
    match (&state.network, cfg.network) {
        (
            Network::UnorderedNonDuplicating(multiset),
            NetworkKind::Unordered | NetworkKind::Lossy,
        ) => multiset.iter().all(|(env, copies)| {
            *copies <= 1 || reduction::is_dead(state, env.src, env.dst, &env.msg)
        }),
        _ => true,
    }
}

/// Every property, in report order; `with_crashes` adds the after-crash sometimes-property.
pub fn all(with_crashes: bool) -> Vec<Property<RaftModel>> {
    let mut all = vec![
        Property::always(ELECTION_SAFETY, |_, s| election_safety(s)),
        Property::always(LEADER_APPEND_ONLY, |_, s| {
            servers(s).all(|server| !server.durable.ghost.append_only_broken)
        }),
        Property::always(LOG_MATCHING, |_, s| log_matching(s)),
        Property::always(LEADER_COMPLETENESS, |_, s| leader_completeness(s)),
        Property::always(STATE_MACHINE_SAFETY, |_, s| state_machine_safety(s)),
        Property::always(LINEARIZABLE, |_, s: &RaftModelState| {
            s.history.is_linearizable()
        }),
        Property::sometimes(VALUE_COMMITTED, |model: &RaftModel, s| {
            // Without clients the committed "value" is any entry (the leader's no-op).
            if model.cfg().clients == 0 {
                servers(s).any(|server| !server.durable.ghost.applied.is_empty())
            } else {
                servers(s).any(|server| server.kv_value != 0)
            }
        }),
    ];
    if with_crashes {
        all.push(Property::sometimes(LEADER_AFTER_CRASH, |_, s| {
            leader_after_crash(s)
        }));
    }
    all
}

/// At most one leader per term: no two servers were ever leader in the same term (each server's ghost
/// records its terms as leader and survives crashes, so a leader that has crashed or stepped down
/// still counts).
pub fn election_safety(state: &RaftModelState) -> bool {
    let mut led = 0u64;
    for server in servers(state) {
        let terms = server.durable.ghost.led_terms;
        if led & terms != 0 {
            return false;
        }
        led |= terms;
    }
    true
}

/// Every log to compare: each server's in-memory log and its durable log.
fn all_logs(state: &RaftModelState) -> Vec<&[Entry]> {
    servers(state)
        .flat_map(|s| [s.node.log_entries(), s.durable.entries.as_slice()])
        .collect()
}

/// Log Matching: same index and term at some position implies identical prefixes up to there.
pub fn log_matching(state: &RaftModelState) -> bool {
    let logs = all_logs(state);
    for (i, a) in logs.iter().enumerate() {
        for b in &logs[i + 1..] {
            // Logs start at index 1 (no snapshots in the model), so position p holds index p + 1.
            let common = a.len().min(b.len());
            if let Some(last_agree) = (0..common).rev().find(|p| a[*p].term == b[*p].term) {
                if a[..=last_agree] != b[..=last_agree] {
                    return false;
                }
            }
        }
    }
    true
}

/// Leader Completeness: a leader of term T holds every entry some server applied while in a term < T.
pub fn leader_completeness(state: &RaftModelState) -> bool {
    let applied: Vec<_> = servers(state)
        .flat_map(|s| s.durable.ghost.applied.iter().enumerate())
        .collect();
    servers(state)
        .filter(|s| s.role() == Role::Leader)
        .all(|leader| {
            let log = leader.node.log_entries();
            applied.iter().all(|(position, entry)| {
                entry.known_in_term >= leader.term()
                    || log.get(*position).is_some_and(|e| e.term == entry.term)
            })
        })
}

/// State Machine Safety: the applied sequences of any two servers agree where both applied.
pub fn state_machine_safety(state: &RaftModelState) -> bool {
    let ghosts: Vec<_> = servers(state).map(|s| &s.durable.ghost).collect();
    if ghosts.iter().any(|g| g.apply_mismatch) {
        return false;
    }
    ghosts.iter().enumerate().all(|(i, a)| {
        ghosts[i + 1..].iter().all(|b| {
            a.applied
                .iter()
                .zip(&b.applied)
                .all(|(x, y)| x.term == y.term)
        })
    })
}

/// A crashed server was leader when it went down and a live server leads a later term.
pub fn leader_after_crash(state: &RaftModelState) -> bool {
    let mut crashed_leader_term = None;
    let mut live_leader_terms = Vec::new();
    for (index, actor) in state.actor_states.iter().enumerate() {
        let ActorState::Server(server) = &**actor else {
            continue;
        };
        if server.role() != Role::Leader {
            continue;
        }
        if state.crashed.get(index).copied().unwrap_or(false) {
            crashed_leader_term = crashed_leader_term.max(Some(server.term()));
        } else {
            live_leader_terms.push(server.term());
        }
    }
    crashed_leader_term.is_some_and(|crashed| live_leader_terms.iter().any(|t| *t > crashed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft_model::ModelConfig;
    use stateright::Model;
    use std::sync::Arc;

    /// The first state (breadth-first, within a bound) with a leader.
    fn a_state_with_a_leader() -> RaftModelState {
        let model = ModelConfig {
            max_term: 1,
            max_log: 1,
            clients: 0,
            crashes: 0,
            pre_vote: false,
            ..ModelConfig::default()
        }
        .into_model()
        .expect("valid configuration");
        let mut queue: std::collections::VecDeque<_> = model.init_states().into();
        for _ in 0..10_000 {
            let state = queue.pop_front().expect("the space has a leader");
            if servers(&state).any(|s| s.role() == Role::Leader) {
                return state;
            }
            queue.extend(model.successors(&state));
        }
        panic!("no leader within 10,000 states");
    }

    /// A leader's ghost records its term, and two servers that led the same term break Election
    /// Safety even when neither leads now.
    #[test]
    fn election_safety_reads_the_terms_each_server_led() {
        let mut state = a_state_with_a_leader();
        let leader = servers(&state)
            .position(|s| s.role() == Role::Leader)
            .expect("a leader");
        let ActorState::Server(s) = &*state.actor_states[leader] else {
            unreachable!("servers come first");
        };
        let led = s.durable.ghost.led_terms;
        assert_eq!(led, 1 << s.term().0, "the leader's ghost records its term");
        assert!(election_safety(&state));
        let other = (leader + 1) % 3;
        if let ActorState::Server(s) = Arc::make_mut(&mut state.actor_states[other]) {
            s.durable.ghost.led_terms = led << 1;
        }
        assert!(election_safety(&state), "another term is no conflict");
        if let ActorState::Server(s) = Arc::make_mut(&mut state.actor_states[other]) {
            s.durable.ghost.led_terms = led;
        }
        assert!(!election_safety(&state), "two leaders of one term");
    }
}
