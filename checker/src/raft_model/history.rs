//! The run's history: for the linearizability property, stateright's `LinearizabilityTester` against
//! [`CasRegister`], fed from the network hooks (a request leaving a client is an invocation, a reply
//! reaching it is a return); for the crash budget, how many restarts the run has had.
//!
//! Guarantees: each scripted operation is invoked once (retries of the same operation are not new
//! invocations) and returns at most once (duplicated or stale replies are ignored), so the tester sees
//! exactly the operations the clients perform.

use crate::raft_model::actor::ModelMsg;
use crate::raft_model::spec::CasRegister;
use stateright::actor::{Envelope, Id};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};

/// The model's history: the tester plus per-client counters of invoked and returned operations.
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct ClientHistory {
    /// The linearizability tester.
    pub tester: LinearizabilityTester<Id, CasRegister>,
    /// Operations invoked per client (index = client number).
    pub invoked: Vec<u8>,
    /// Operations returned per client.
    pub returned: Vec<u8>,
    /// How many times a server restarted after a crash in this run (a server that had persisted
    /// nothing loses nothing by crashing, and its restarts are not counted). The crash budget is the
    /// run's, not a server's: which server used it is not state, so it is kept here and not with
    /// the servers, where it would tell apart states that differ only in who restarted.
    pub restarts: u8,
    /// 0 in every model state; only the symmetry stand-in (see `symmetry::representative`) sets it,
    /// to the fingerprint of the representative it stands for.
    pub symmetry_class: u64,
}

impl ClientHistory {
    /// An empty history for `clients` clients.
    pub fn new(clients: usize) -> ClientHistory {
        ClientHistory {
            tester: LinearizabilityTester::new(CasRegister::default()),
            invoked: vec![0; clients],
            returned: vec![0; clients],
            restarts: 0,
            symmetry_class: 0,
        }
    }

    /// The history of the symmetry stand-in state for the class with fingerprint `class`.
    pub fn stand_in(class: u64) -> ClientHistory {
        ClientHistory {
            symmetry_class: class,
            ..ClientHistory::new(0)
        }
    }

    /// Whether the completed operations have a linearization.
    pub fn is_linearizable(&self) -> bool {
        self.tester.serialized_history().is_some()
    }
}

/// The client number of actor `id` when the model has `servers` servers first.
fn client_number(servers: usize, id: Id) -> Option<usize> {
    usize::from(id).checked_sub(servers)
}

/// Records a client's first request for an operation as an invocation.
pub fn record_out(
    servers: usize,
    history: &ClientHistory,
    env: Envelope<&ModelMsg>,
) -> Option<ClientHistory> {
    let ModelMsg::Request { seq, op } = env.msg else {
        return None;
    };
    let client = client_number(servers, env.src)?;
    if history.invoked.get(client) != Some(seq) {
        return None;
    }
    let mut next = history.clone();
    next.tester.on_invoke(env.src, *op).ok()?;
    next.invoked[client] += 1;
    Some(next)
}

/// Records the first reply to a client's current operation as its return.
pub fn record_in(
    servers: usize,
    history: &ClientHistory,
    env: Envelope<&ModelMsg>,
) -> Option<ClientHistory> {
    let ModelMsg::Reply { seq, ret } = env.msg else {
        return None;
    };
    let client = client_number(servers, env.dst)?;
    let returned = *history.returned.get(client)?;
    if returned != *seq || history.invoked[client] <= returned {
        return None;
    }
    let mut next = history.clone();
    next.tester.on_return(env.dst, *ret).ok()?;
    next.returned[client] += 1;
    Some(next)
}
