//! [`Value`]: the compact value type of the built-in models, decoded from JSON once, cheap to clone and
//! hash on the search's hot path (strings are shared `Arc<str>`).

use crate::model::DecodeError;
use std::fmt;
use std::sync::Arc;

/// A register value: nil (absent), an integer or a string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// No value (the key is absent).
    Nil,
    /// An integer.
    Int(i64),
    /// A string.
    Str(Arc<str>),
}

impl Value {
    /// Decodes a JSON scalar (`null`, an integer or a string).
    pub fn from_json(json: &serde_json::Value) -> Result<Value, DecodeError> {
        match json {
            serde_json::Value::Null => Ok(Value::Nil),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .ok_or_else(|| DecodeError(format!("value {n} is not a 64-bit integer"))),
            serde_json::Value::String(s) => Ok(Value::Str(Arc::from(s.as_str()))),
            other => Err(DecodeError(format!(
                "value {other} is not null, an integer or a string"
            ))),
        }
    }

    /// The JSON form.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Nil => serde_json::Value::Null,
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Str(s) => serde_json::Value::from(&**s),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("nil"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{s:?}"),
        }
    }
}
