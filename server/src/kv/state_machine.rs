//! The deterministic KV state machine: an ordered map of keys to values plus a client-session table that
//! remembers, per client, the last applied request number and its response. Both are persistent maps
//! (`imbl::OrdMap`, a B-tree with shared nodes), so cloning the state for a snapshot is O(1) and never
//! stalls the driver, however large the state.
//!
//! Guarantees:
//! - Entries are applied exactly in log order, each index once (`assert!`: a gap or a repeat is a bug in the
//!   caller and would silently diverge replicas).
//! - A retried write (same `client_id` and `seq` as the last applied one) is answered from the session
//!   table and not applied again; an older `seq` is ignored. [`crate::bugs::Bug::NoDedup`] disables this.
//! - The whole state, including the session table and the applied index, serializes (for snapshots).

use super::command::{Command, KvError, LoggedCommand, Response};
use crate::raft::{Entry, EntryPayload, LogIndex};
use imbl::OrdMap;
use serde::{Deserialize, Serialize};

/// The last request applied for one client.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Session {
    /// The client's last applied request number.
    pub seq: u64,
    /// The response that request produced (returned again to a retry).
    pub response: Response,
}

/// What applying one entry did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// A command was applied; `response` is its result.
    Applied {
        /// The requesting client.
        client_id: u64,
        /// The request number.
        seq: u64,
        /// The result.
        response: Response,
    },
    /// A retry of the client's last request: not applied again; `response` is the remembered result.
    Duplicate {
        /// The requesting client.
        client_id: u64,
        /// The request number.
        seq: u64,
        /// The remembered result.
        response: Response,
    },
    /// A request older than the client's last applied one: ignored (its client has moved on).
    Stale {
        /// The requesting client.
        client_id: u64,
        /// The request number.
        seq: u64,
    },
    /// A no-op or configuration entry: only the applied index moved.
    NotACommand,
    /// A command entry whose bytes do not decode. Every replica decodes the same bytes the same way, so
    /// skipping it keeps replicas identical; the caller should log it loudly.
    Malformed {
        /// Why decoding failed.
        reason: String,
    },
}

/// The replicated KV state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvStateMachine {
    data: OrdMap<Vec<u8>, Vec<u8>>,
    sessions: OrdMap<u64, Session>,
    applied_index: LogIndex,
    /// The `NoDedup` bug switch. Not part of the replicated state, so never serialized.
    #[serde(skip)]
    no_dedup: bool,
}

impl KvStateMachine {
    /// An empty state machine; `no_dedup` turns on [`crate::bugs::Bug::NoDedup`].
    pub fn new(no_dedup: bool) -> KvStateMachine {
        KvStateMachine {
            no_dedup,
            ..KvStateMachine::default()
        }
    }

    /// The index of the last applied entry.
    pub fn applied_index(&self) -> LogIndex {
        self.applied_index
    }

    /// The current value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.data.get(key).map(Vec::as_slice)
    }

    /// Number of keys stored.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The session of `client_id`, if it has applied anything.
    pub fn session(&self, client_id: u64) -> Option<&Session> {
        self.sessions.get(&client_id)
    }

    /// Applies the next committed entry. Panics if `entry.index` is not `applied_index + 1`: applying out of
    /// order would make this replica diverge.
    pub fn apply(&mut self, entry: &Entry) -> ApplyOutcome {
        assert!(
            entry.index == self.applied_index.next(),
            "entries must be applied in order: applied index {}, got entry {}",
            self.applied_index,
            entry.index
        );
        self.applied_index = entry.index;
        match &entry.payload {
            EntryPayload::Noop | EntryPayload::Config(_) => ApplyOutcome::NotACommand,
            EntryPayload::Command(bytes) => match LoggedCommand::decode(bytes) {
                Ok(logged) => self.apply_command(logged),
                Err(err) => ApplyOutcome::Malformed {
                    reason: err.to_string(),
                },
            },
        }
    }

    fn apply_command(&mut self, logged: LoggedCommand) -> ApplyOutcome {
        let LoggedCommand {
            client_id,
            seq,
            command,
        } = logged;
        if !self.no_dedup {
            if let Some(session) = self.sessions.get(&client_id) {
                if seq == session.seq {
                    return ApplyOutcome::Duplicate {
                        client_id,
                        seq,
                        response: session.response.clone(),
                    };
                }
                if seq < session.seq {
                    return ApplyOutcome::Stale { client_id, seq };
                }
            }
        }
        let response = self.execute(command);
        self.sessions.insert(
            client_id,
            Session {
                seq,
                response: response.clone(),
            },
        );
        ApplyOutcome::Applied {
            client_id,
            seq,
            response,
        }
    }

    /// Executes a command against the data (no session bookkeeping); also used to serve reads.
    pub fn execute(&mut self, command: Command) -> Response {
        match command {
            Command::Get { key } => Response::Value(self.data.get(&key).cloned()),
            Command::Put { key, value } => {
                self.data.insert(key, value);
                Response::Done
            }
            Command::Cas { key, expected, new } => {
                let current = self.data.get(&key);
                if current == expected.as_ref() {
                    self.data.insert(key, new);
                    Response::Done
                } else {
                    Response::CasMismatch {
                        current: current.cloned(),
                    }
                }
            }
            Command::Delete { key } => {
                self.data.remove(&key);
                Response::Done
            }
        }
    }

    /// Serializes the replicated state (data, sessions, applied index) for a snapshot.
    pub fn to_snapshot_bytes(&self) -> Result<Vec<u8>, KvError> {
        bincode::serialize(self).map_err(|source| KvError::Encode {
            what: "state machine",
            source,
        })
    }

    /// Restores a state machine from [`KvStateMachine::to_snapshot_bytes`]; the bug switch is not part of
    /// the snapshot and is given again.
    pub fn from_snapshot_bytes(bytes: &[u8], no_dedup: bool) -> Result<KvStateMachine, KvError> {
        let mut machine: KvStateMachine =
            bincode::deserialize(bytes).map_err(|source| KvError::Decode {
                what: "state machine",
                source,
            })?;
        machine.no_dedup = no_dedup;
        Ok(machine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::Term;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn entry(index: u64, client_id: u64, seq: u64, command: Command) -> Entry {
        let bytes = LoggedCommand {
            client_id,
            seq,
            command,
        }
        .encode()
        .expect("encode");
        Entry {
            term: Term(1),
            index: LogIndex(index),
            payload: EntryPayload::Command(bytes),
        }
    }

    fn put(key: &str, value: &str) -> Command {
        Command::Put {
            key: key.into(),
            value: value.into(),
        }
    }

    fn response_of(outcome: ApplyOutcome) -> Option<Response> {
        match outcome {
            ApplyOutcome::Applied { response, .. } | ApplyOutcome::Duplicate { response, .. } => {
                Some(response)
            }
            _ => None,
        }
    }

    /// A tiny key space so that operations collide often.
    fn command() -> impl Strategy<Value = Command> {
        let key = (0u8..3).prop_map(|k| vec![b'k', k]);
        let value = (0u8..3).prop_map(|v| vec![v]);
        prop_oneof![
            key.clone().prop_map(|key| Command::Get { key }),
            (key.clone(), value.clone()).prop_map(|(key, value)| Command::Put { key, value }),
            (key.clone(), proptest::option::of(value.clone()), value)
                .prop_map(|(key, expected, new)| Command::Cas { key, expected, new }),
            key.prop_map(|key| Command::Delete { key }),
        ]
    }

    /// The model: a plain map and the obvious semantics.
    fn model_execute(model: &mut BTreeMap<Vec<u8>, Vec<u8>>, command: &Command) -> Response {
        match command {
            Command::Get { key } => Response::Value(model.get(key).cloned()),
            Command::Put { key, value } => {
                model.insert(key.clone(), value.clone());
                Response::Done
            }
            Command::Cas { key, expected, new } => {
                if model.get(key) == expected.as_ref() {
                    model.insert(key.clone(), new.clone());
                    Response::Done
                } else {
                    Response::CasMismatch {
                        current: model.get(key).cloned(),
                    }
                }
            }
            Command::Delete { key } => {
                model.remove(key);
                Response::Done
            }
        }
    }

    proptest! {
        /// Applying commands (some of them retried) gives the model's responses and final state, and each
        /// retry gets the original response without changing state.
        #[test]
        fn matches_a_btreemap_model(ops in proptest::collection::vec((0u64..3, command(), any::<bool>()), 0..60)) {
            let mut machine = KvStateMachine::new(false);
            let mut model = BTreeMap::new();
            let mut next_seq = [1u64; 3];
            let mut index = 0;
            for (client, command, retry) in ops {
                let seq = next_seq[client as usize];
                next_seq[client as usize] += 1;
                index += 1;
                let expected = model_execute(&mut model, &command);
                let got = response_of(machine.apply(&entry(index, client, seq, command.clone())));
                prop_assert_eq!(got.as_ref(), Some(&expected));
                if retry {
                    index += 1;
                    let again = machine.apply(&entry(index, client, seq, command));
                    let is_duplicate = matches!(again, ApplyOutcome::Duplicate { .. });
                    prop_assert!(is_duplicate);
                    prop_assert_eq!(response_of(again), Some(expected));
                }
            }
            let data: BTreeMap<Vec<u8>, Vec<u8>> = machine.data.clone().into_iter().collect();
            prop_assert_eq!(&data, &model);
            prop_assert_eq!(machine.applied_index(), LogIndex(index));
        }

        /// The snapshot encoding round-trips the whole replicated state.
        #[test]
        fn snapshot_round_trips(ops in proptest::collection::vec((0u64..3, command()), 0..30)) {
            let mut machine = KvStateMachine::new(false);
            for (i, (client, command)) in ops.into_iter().enumerate() {
                machine.apply(&entry(i as u64 + 1, client, i as u64 + 1, command));
            }
            let bytes = machine.to_snapshot_bytes().expect("encode");
            let back = KvStateMachine::from_snapshot_bytes(&bytes, false).expect("decode");
            prop_assert_eq!(back, machine);
        }
    }

    /// Client 1's put is retried after client 2 overwrote the key: the retry must not apply again.
    fn interleaved_retry(no_dedup: bool) -> (KvStateMachine, ApplyOutcome) {
        let mut machine = KvStateMachine::new(no_dedup);
        machine.apply(&entry(1, 1, 1, put("k", "a")));
        machine.apply(&entry(2, 2, 1, put("k", "b")));
        let retry = machine.apply(&entry(3, 1, 1, put("k", "a")));
        (machine, retry)
    }

    #[test]
    fn a_retried_write_applies_once() {
        let (machine, retry) = interleaved_retry(false);
        assert_eq!(
            retry,
            ApplyOutcome::Duplicate {
                client_id: 1,
                seq: 1,
                response: Response::Done
            }
        );
        assert_eq!(machine.get(b"k"), Some(&b"b"[..]));
        assert_eq!(machine.applied_index(), LogIndex(3));
    }

    #[test]
    fn the_no_dedup_bug_applies_a_retry_again() {
        let (machine, retry) = interleaved_retry(true);
        assert!(matches!(retry, ApplyOutcome::Applied { .. }));
        assert_eq!(machine.get(b"k"), Some(&b"a"[..]));
    }

    #[test]
    fn an_older_request_is_ignored() {
        let mut machine = KvStateMachine::new(false);
        machine.apply(&entry(1, 1, 2, put("k", "new")));
        let old = machine.apply(&entry(2, 1, 1, put("k", "old")));
        assert_eq!(
            old,
            ApplyOutcome::Stale {
                client_id: 1,
                seq: 1
            }
        );
        assert_eq!(machine.get(b"k"), Some(&b"new"[..]));
    }

    #[test]
    fn cas_mismatch_reports_the_current_value_and_writes_nothing() {
        let mut machine = KvStateMachine::new(false);
        machine.apply(&entry(1, 1, 1, put("k", "a")));
        let cas = Command::Cas {
            key: b"k".to_vec(),
            expected: Some(b"x".to_vec()),
            new: b"y".to_vec(),
        };
        let outcome = response_of(machine.apply(&entry(2, 1, 2, cas)));
        assert_eq!(
            outcome,
            Some(Response::CasMismatch {
                current: Some(b"a".to_vec())
            })
        );
        assert_eq!(machine.get(b"k"), Some(&b"a"[..]));
    }

    #[test]
    fn noops_and_garbage_only_advance_the_index() {
        let mut machine = KvStateMachine::new(false);
        let noop = Entry {
            term: Term(1),
            index: LogIndex(1),
            payload: EntryPayload::Noop,
        };
        assert_eq!(machine.apply(&noop), ApplyOutcome::NotACommand);
        let garbage = Entry {
            term: Term(1),
            index: LogIndex(2),
            payload: EntryPayload::Command(vec![0xff, 0xff]),
        };
        assert!(matches!(
            machine.apply(&garbage),
            ApplyOutcome::Malformed { .. }
        ));
        assert!(machine.is_empty());
        assert_eq!(machine.applied_index(), LogIndex(2));
    }

    #[test]
    #[should_panic(expected = "applied in order")]
    fn applying_out_of_order_panics() {
        let mut machine = KvStateMachine::new(false);
        machine.apply(&entry(2, 1, 1, put("k", "a")));
    }
}
