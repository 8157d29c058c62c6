//! KV commands and responses, and their encoding inside Raft log entries.
//!
//! Keys and values are byte strings. Every command that goes through the log is wrapped in a
//! [`LoggedCommand`] that carries the client's `(client_id, seq)`, so that a retry of the same request can
//! be recognised by the state machine's session table. The encoding is bincode; it is the same on every
//! node, so decoding a committed entry is deterministic.

use serde::{Deserialize, Serialize};

/// A KV operation. `Get` is normally served through ReadIndex without touching the log, but it may also
/// be logged (a read through the log), so it is a command like the others.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Command {
    /// Read the value of `key`.
    Get {
        /// The key to read.
        key: Vec<u8>,
    },
    /// Set `key` to `value`.
    Put {
        /// The key to write.
        key: Vec<u8>,
        /// The new value.
        value: Vec<u8>,
    },
    /// Set `key` to `new` if its current value equals `expected` (`None`: the key must be absent).
    Cas {
        /// The key to compare and write.
        key: Vec<u8>,
        /// The value the key must hold now (`None`: absent).
        expected: Option<Vec<u8>>,
        /// The value to write when the comparison holds.
        new: Vec<u8>,
    },
    /// Remove `key` (succeeds whether or not it exists).
    Delete {
        /// The key to remove.
        key: Vec<u8>,
    },
}

impl Command {
    /// Whether the command changes state (everything but `Get`).
    pub fn is_write(&self) -> bool {
        !matches!(self, Command::Get { .. })
    }
}

/// The result of applying a [`Command`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Response {
    /// Answer to `Get`: the value, or `None` when the key is absent.
    Value(Option<Vec<u8>>),
    /// Answer to `Put`, `Delete` and a successful `Cas`.
    Done,
    /// Answer to a `Cas` whose comparison failed: nothing was written; `current` is the value found.
    CasMismatch {
        /// The key's value at the time of the comparison (`None`: absent).
        current: Option<Vec<u8>>,
    },
}

/// What a log entry of kind `EntryPayload::Command` holds: a command plus the identity of the request.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LoggedCommand {
    /// The client that sent the request (unique per client instance).
    pub client_id: u64,
    /// The client's request number; a retry reuses it. Sequence numbers of one client only grow.
    pub seq: u64,
    /// The operation.
    pub command: Command,
}

/// Errors of the KV layer.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// A command or state could not be encoded.
    #[error("cannot encode {what}: {source}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The codec's error.
        #[source]
        source: bincode::Error,
    },
    /// A command or state could not be decoded (corrupt or from an incompatible version).
    #[error("cannot decode {what}: {source}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// The codec's error.
        #[source]
        source: bincode::Error,
    },
}

impl LoggedCommand {
    /// Encodes the command for `EntryPayload::Command`.
    pub fn encode(&self) -> Result<Vec<u8>, KvError> {
        bincode::serialize(self).map_err(|source| KvError::Encode {
            what: "command",
            source,
        })
    }

    /// Decodes a command from the bytes of an `EntryPayload::Command`.
    pub fn decode(bytes: &[u8]) -> Result<LoggedCommand, KvError> {
        bincode::deserialize(bytes).map_err(|source| KvError::Decode {
            what: "command",
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..8)
    }

    fn command() -> impl Strategy<Value = Command> {
        prop_oneof![
            bytes().prop_map(|key| Command::Get { key }),
            (bytes(), bytes()).prop_map(|(key, value)| Command::Put { key, value }),
            (bytes(), proptest::option::of(bytes()), bytes())
                .prop_map(|(key, expected, new)| Command::Cas { key, expected, new }),
            bytes().prop_map(|key| Command::Delete { key }),
        ]
    }

    proptest! {
        #[test]
        fn logged_commands_round_trip(client_id: u64, seq: u64, command in command()) {
            let logged = LoggedCommand { client_id, seq, command };
            let bytes = logged.encode().expect("encoding a command cannot fail");
            let back = LoggedCommand::decode(&bytes).expect("round trip");
            prop_assert_eq!(back, logged);
        }
    }

    #[test]
    fn garbage_is_a_decode_error() {
        let err = LoggedCommand::decode(&[0xff; 3]).err();
        assert!(matches!(err, Some(KvError::Decode { .. })));
    }

    #[test]
    fn only_get_is_not_a_write() {
        assert!(!Command::Get { key: vec![] }.is_write());
        assert!(Command::Delete { key: vec![] }.is_write());
    }
}
