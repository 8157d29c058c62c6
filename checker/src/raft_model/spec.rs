//! The sequential specification the model's client operations are checked against: one register holding
//! a small value, with put, read and compare-and-set (the model's tiny KV store has a single key).
//!
//! Guarantees: [`CasRegister::invoke`] is the reference semantics that both the servers' state machine
//! ([`apply`]) and stateright's `LinearizabilityTester` use, so the two cannot drift apart.

use serde::Serialize;
use stateright::semantics::SequentialSpec;

/// A client operation on the register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum RegisterOp {
    /// Overwrite the value.
    Put(u8),
    /// Read the value.
    Read,
    /// Set the value to `new` if it equals `expected`.
    Cas {
        /// The value the register must hold.
        expected: u8,
        /// The value to store if it does.
        new: u8,
    },
}

/// The answer to a [`RegisterOp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum RegisterRet {
    /// The put took effect.
    PutOk,
    /// The value read.
    ReadOk(u8),
    /// Whether the compare-and-set swapped.
    CasOk(bool),
}

/// The register's value (0 initially).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct CasRegister(pub u8);

/// Applies `op` to `value` and returns the answer: the one definition of the register's semantics.
pub fn apply(value: &mut u8, op: RegisterOp) -> RegisterRet {
    match op {
        RegisterOp::Put(v) => {
            *value = v;
            RegisterRet::PutOk
        }
        RegisterOp::Read => RegisterRet::ReadOk(*value),
        RegisterOp::Cas { expected, new } => {
            let swapped = *value == expected;
            if swapped {
                *value = new;
            }
            RegisterRet::CasOk(swapped)
        }
    }
}

impl SequentialSpec for CasRegister {
    type Op = RegisterOp;
    type Ret = RegisterRet;

    fn invoke(&mut self, op: &RegisterOp) -> RegisterRet {
        apply(&mut self.0, *op)
    }
}

/// Encodes a client command as log-entry bytes: `[client, seq, tag, a, b]`.
pub fn encode_command(client: u8, seq: u8, op: RegisterOp) -> Vec<u8> {
    let (tag, a, b) = match op {
        RegisterOp::Put(v) => (0, v, 0),
        RegisterOp::Read => (1, 0, 0),
        RegisterOp::Cas { expected, new } => (2, expected, new),
    };
    vec![client, seq, tag, a, b]
}

/// Decodes [`encode_command`]'s bytes into `(client, seq, op)`; None for bytes it did not produce.
pub fn decode_command(bytes: &[u8]) -> Option<(u8, u8, RegisterOp)> {
    let [client, seq, tag, a, b] = *bytes else {
        return None;
    };
    let op = match tag {
        0 => RegisterOp::Put(a),
        1 => RegisterOp::Read,
        2 => RegisterOp::Cas {
            expected: a,
            new: b,
        },
        _ => return None,
    };
    Some((client, seq, op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_and_cas_semantics() {
        for op in [
            RegisterOp::Put(3),
            RegisterOp::Read,
            RegisterOp::Cas {
                expected: 1,
                new: 2,
            },
        ] {
            assert_eq!(decode_command(&encode_command(4, 7, op)), Some((4, 7, op)));
        }
        assert_eq!(decode_command(&[1, 2, 9, 0, 0]), None);
        assert_eq!(decode_command(&[1, 2]), None);
        let mut value = 1;
        assert_eq!(
            apply(
                &mut value,
                RegisterOp::Cas {
                    expected: 2,
                    new: 5
                }
            ),
            RegisterRet::CasOk(false)
        );
        assert_eq!(
            apply(
                &mut value,
                RegisterOp::Cas {
                    expected: 1,
                    new: 5
                }
            ),
            RegisterRet::CasOk(true)
        );
        assert_eq!(apply(&mut value, RegisterOp::Read), RegisterRet::ReadOk(5));
    }
}
