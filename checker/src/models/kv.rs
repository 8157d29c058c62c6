//! The operation types of the built-in models and the three models over them.
//!
//! [`Kv`] keeps the value of one key as its state: it is only correct together with its
//! [`Model::partition`], which puts each key in its own partition. The checker always partitions, so
//! this holds for every public entry point.

use super::lookahead::ReadReachability;
use super::Value;
use crate::history::{Event, Function};
use crate::model::{
    Completion, DecodeError, FromHistory, Lookahead, Model, Operation, Partition, Steps, ValueFlow,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// An operation on one register.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvOp {
    /// Read the value.
    Read,
    /// Set the value.
    Write(Value),
    /// Set `new` if the value is `expected`.
    Cas {
        /// The value that must be there.
        expected: Value,
        /// The value to set.
        new: Value,
    },
    /// Set nil.
    Delete,
    /// Concatenate a string to the value.
    Append(Value),
}

/// What a client asked: an operation, on a key for the [`Kv`] model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KvInput {
    /// The key (`None` for the single-register models).
    pub key: Option<Arc<str>>,
    /// The operation.
    pub op: KvOp,
}

/// What a client observed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvOutput {
    /// A read returned this value.
    Read(Value),
    /// A write, delete, append or successful cas completed.
    Done,
    /// A cas executed and found a value other than the expected one.
    Mismatch,
}

/// The sequential specification shared by all three models.
fn step(state: &Value, op: &KvOp, output: Option<&KvOutput>) -> Steps<Value> {
    let legal = |ok: bool| {
        if ok {
            Steps::One(state.clone())
        } else {
            Steps::Illegal
        }
    };
    match (op, output) {
        (KvOp::Read, Some(KvOutput::Read(seen))) => legal(seen == state),
        (KvOp::Read, _) => legal(true),
        (KvOp::Write(value), _) => Steps::One(value.clone()),
        (KvOp::Delete, _) => Steps::One(Value::Nil),
        (KvOp::Cas { expected, new }, Some(KvOutput::Mismatch)) => {
            let _ = new;
            legal(expected != state)
        }
        (KvOp::Cas { expected, new }, Some(_)) => {
            if expected == state {
                Steps::One(new.clone())
            } else {
                Steps::Illegal
            }
        }
        (KvOp::Cas { expected, new }, None) => Steps::One(if expected == state {
            new.clone()
        } else {
            state.clone()
        }),
        (KvOp::Append(suffix), _) => match (state, suffix) {
            (Value::Nil, _) => Steps::One(suffix.clone()),
            (Value::Str(prefix), Value::Str(tail)) => {
                let mut joined = String::with_capacity(prefix.len() + tail.len());
                joined.push_str(prefix);
                joined.push_str(tail);
                Steps::One(Value::Str(Arc::from(joined)))
            }
            // Appending to a non-string fails on the server: an indeterminate append then had no effect.
            _ if output.is_none() => Steps::One(state.clone()),
            _ => Steps::Illegal,
        },
    }
}

fn is_read_only(op: &KvOp, output: Option<&KvOutput>) -> bool {
    matches!(
        (op, output),
        (KvOp::Read, _) | (KvOp::Cas { .. }, Some(KvOutput::Mismatch))
    )
}

/// Writes produce their value; a read of a non-nil value and a successful cas need it written.
fn value_flow(op: &KvOp, output: Option<&KvOutput>) -> ValueFlow {
    let needs = |v: &Value| {
        if *v == Value::Nil {
            Vec::new()
        } else {
            vec![v.to_string()]
        }
    };
    match (op, output) {
        (KvOp::Read, Some(KvOutput::Read(seen))) => ValueFlow {
            produces: Vec::new(),
            requires: needs(seen),
        },
        (KvOp::Write(v), _) | (KvOp::Append(v), _) => ValueFlow {
            produces: vec![v.to_string()],
            requires: Vec::new(),
        },
        (KvOp::Cas { expected, new }, Some(KvOutput::Done)) => ValueFlow {
            produces: vec![new.to_string()],
            requires: needs(expected),
        },
        (KvOp::Cas { new, .. }, None) => ValueFlow {
            produces: vec![new.to_string()],
            requires: Vec::new(),
        },
        _ => ValueFlow::default(),
    }
}

fn describe(input: &KvInput, output: Option<&KvOutput>) -> String {
    let call = match &input.op {
        KvOp::Read => "read()".to_string(),
        KvOp::Write(v) => format!("write({v})"),
        KvOp::Cas { expected, new } => format!("cas({expected}, {new})"),
        KvOp::Delete => "delete()".to_string(),
        KvOp::Append(v) => format!("append({v})"),
    };
    let call = match &input.key {
        Some(key) => format!("{key:?} {call}"),
        None => call,
    };
    match output {
        None => format!("{call} -> ?"),
        Some(KvOutput::Read(v)) => format!("{call} -> {v}"),
        Some(KvOutput::Done) => call,
        Some(KvOutput::Mismatch) => format!("{call} -> mismatch"),
    }
}

/// Which functions a model accepts.
#[derive(Clone, Copy)]
struct Accepts {
    name: &'static str,
    cas: bool,
    delete_append: bool,
    needs_key: bool,
}

fn decode(
    accepts: Accepts,
    invoke: &Event,
    completion: Completion<'_>,
) -> Result<(KvInput, Option<KvOutput>), DecodeError> {
    let unsupported = || {
        DecodeError(format!(
            "the {} model does not support f {:?}",
            accepts.name,
            invoke.f.as_str()
        ))
    };
    let op = match &invoke.f {
        Function::Read => KvOp::Read,
        Function::Write => KvOp::Write(Value::from_json(&invoke.value)?),
        Function::Cas if accepts.cas => match invoke.value.as_array().map(Vec::as_slice) {
            Some([expected, new]) => KvOp::Cas {
                expected: Value::from_json(expected)?,
                new: Value::from_json(new)?,
            },
            _ => {
                return Err(DecodeError(format!(
                    "cas value {} is not [expected, new]",
                    invoke.value
                )))
            }
        },
        Function::Delete if accepts.delete_append => KvOp::Delete,
        Function::Append if accepts.delete_append => match Value::from_json(&invoke.value)? {
            value @ Value::Str(_) => KvOp::Append(value),
            other => return Err(DecodeError(format!("append value {other} is not a string"))),
        },
        _ => return Err(unsupported()),
    };
    let key = match (&invoke.key, accepts.needs_key) {
        (Some(key), true) => Some(Arc::from(key.as_str())),
        (None, true) => {
            return Err(DecodeError(format!(
                "the {} model needs a key on every operation",
                accepts.name
            )))
        }
        (_, false) => None,
    };
    let output = match completion {
        Completion::Unknown => None,
        Completion::Mismatch(_) if matches!(op, KvOp::Cas { .. }) => Some(KvOutput::Mismatch),
        Completion::Mismatch(_) => {
            return Err(DecodeError(format!(
                "a {} failed with \"mismatch\"; only cas can",
                invoke.f
            )));
        }
        Completion::Ok(event) if op == KvOp::Read => {
            Some(KvOutput::Read(Value::from_json(&event.value)?))
        }
        Completion::Ok(_) => Some(KvOutput::Done),
    };
    Ok((KvInput { key, op }, output))
}

macro_rules! register_like_model {
    ($model:ident, $accepts:expr) => {
        impl Model for $model {
            type State = Value;
            type Input = KvInput;
            type Output = KvOutput;

            fn init(&self) -> Value {
                Value::Nil
            }

            fn step(
                &self,
                state: &Value,
                input: &KvInput,
                output: Option<&KvOutput>,
            ) -> Steps<Value> {
                step(state, &input.op, output)
            }

            fn is_read_only(&self, input: &KvInput, output: Option<&KvOutput>) -> bool {
                is_read_only(&input.op, output)
            }

            fn describe_operation(&self, input: &KvInput, output: Option<&KvOutput>) -> String {
                describe(input, output)
            }

            fn value_flow(&self, input: &KvInput, output: Option<&KvOutput>) -> ValueFlow {
                value_flow(&input.op, output)
            }

            fn describe_state(&self, state: &Value) -> String {
                state.to_string()
            }

            fn partition(&self, ops: &[Operation<KvInput, KvOutput>]) -> Vec<Partition> {
                partition(self.partitions_by_key(), ops)
            }

            fn lookahead(
                &self,
                ops: &[Operation<KvInput, KvOutput>],
                members: &[usize],
            ) -> Option<Box<dyn Lookahead<Value>>> {
                ReadReachability::new(ops, members)
                    .map(|l| Box::new(l) as Box<dyn Lookahead<Value>>)
            }
        }

        impl FromHistory for $model {
            fn decode(
                &self,
                invoke: &Event,
                completion: Completion<'_>,
            ) -> Result<(KvInput, Option<KvOutput>), DecodeError> {
                decode($accepts, invoke, completion)
            }
        }
    };
}

fn partition(by_key: bool, ops: &[Operation<KvInput, KvOutput>]) -> Vec<Partition> {
    if !by_key {
        return vec![Partition {
            label: "register".to_string(),
            ops: (0..ops.len()).collect(),
        }];
    }
    let mut keys: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for op in ops {
        let key = op.input.key.as_deref().unwrap_or("");
        keys.entry(key).or_default().push(op.id);
    }
    keys.into_iter()
        .map(|(key, ops)| Partition {
            label: format!("key {key:?}"),
            ops,
        })
        .collect()
}

/// A single read/write register starting at nil. Keys are ignored.
#[derive(Clone, Copy, Debug, Default)]
pub struct Register;

impl Register {
    fn partitions_by_key(&self) -> bool {
        false
    }
}

/// A single read/write/cas register starting at nil. Keys are ignored.
#[derive(Clone, Copy, Debug, Default)]
pub struct CasRegister;

impl CasRegister {
    fn partitions_by_key(&self) -> bool {
        false
    }
}

/// A map from keys to registers with read, write, cas, delete and append, checked key by key.
#[derive(Clone, Copy, Debug, Default)]
pub struct Kv;

impl Kv {
    fn partitions_by_key(&self) -> bool {
        true
    }
}

register_like_model!(
    Register,
    Accepts {
        name: "register",
        cas: false,
        delete_append: false,
        needs_key: false
    }
);
register_like_model!(
    CasRegister,
    Accepts {
        name: "cas-register",
        cas: true,
        delete_append: false,
        needs_key: false
    }
);
register_like_model!(
    Kv,
    Accepts {
        name: "kv",
        cas: true,
        delete_append: true,
        needs_key: true
    }
);

mod map;
pub use map::{KvMap, MapState};

#[cfg(test)]
mod tests;
