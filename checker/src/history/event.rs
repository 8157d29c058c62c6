//! One line of a history: an [`Event`] with Jepsen's field names, and its small value types.
//!
//! The serialised form is the JSON Lines format documented in `histories/README.md`. `process` is an
//! integer for client processes and the string `"nemesis"` for fault events; `f` is one of the known
//! functions or any other string (nemesis events use free-form names such as `start-partition`).

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// What an event says about an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// The process starts the operation.
    Invoke,
    /// The operation completed and took effect; the value is its result.
    Ok,
    /// The operation certainly had no effect.
    Fail,
    /// Indeterminate: the operation may take effect at any time after its invocation, or never.
    Info,
}

impl EventType {
    /// The lowercase name used in the JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Invoke => "invoke",
            EventType::Ok => "ok",
            EventType::Fail => "fail",
            EventType::Info => "info",
        }
    }
}

/// Who produced an event: a numbered client process, or the nemesis (fault injector).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    /// A client process. Each has at most one operation pending.
    Client(u64),
    /// The fault injector; its events are displayed but are not operations.
    Nemesis,
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(id) => write!(f, "{id}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(id) => serializer.serialize_u64(*id),
            Process::Nemesis => serializer.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ProcessVisitor;
        impl Visitor<'_> for ProcessVisitor {
            type Value = Process;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer or \"nemesis\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Process, E> {
                Ok(Process::Client(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Process, E> {
                u64::try_from(v)
                    .map(Process::Client)
                    .map_err(|_| E::custom(format!("process {v} is negative")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Process, E> {
                if v == "nemesis" {
                    Ok(Process::Nemesis)
                } else {
                    Err(E::custom(format!(
                        "process {v:?} is neither an integer nor \"nemesis\""
                    )))
                }
            }
        }
        deserializer.deserialize_any(ProcessVisitor)
    }
}

/// The function an operation calls. Unknown names are kept (nemesis events use free-form names).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    /// Read a register or key.
    Read,
    /// Overwrite a register or key.
    Write,
    /// Compare-and-set: `value` is `[expected, new]`.
    Cas,
    /// Remove a key.
    Delete,
    /// Append a string to a key's value.
    Append,
    /// Anything else (nemesis actions, or functions a custom model understands).
    Other(String),
}

impl Function {
    /// The name used in the JSON form.
    pub fn as_str(&self) -> &str {
        match self {
            Function::Read => "read",
            Function::Write => "write",
            Function::Cas => "cas",
            Function::Delete => "delete",
            Function::Append => "append",
            Function::Other(name) => name,
        }
    }

    /// Parses a name; never fails (unknown names become [`Function::Other`]).
    pub fn from_name(name: &str) -> Function {
        match name {
            "read" => Function::Read,
            "write" => Function::Write,
            "cas" => Function::Cas,
            "delete" => Function::Delete,
            "append" => Function::Append,
            other => Function::Other(other.to_string()),
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Function {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Function {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FunctionVisitor;
        impl Visitor<'_> for FunctionVisitor {
            type Value = Function;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a function name string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Function, E> {
                Ok(Function::from_name(v))
            }
        }
        deserializer.deserialize_str(FunctionVisitor)
    }
}

/// One line of a history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position of the event in the test (Jepsen's `:index`). Informational: the order of lines is the
    /// order of events. Defaults to 0 when absent.
    #[serde(default)]
    pub index: u64,
    /// Invoke, ok, fail or info.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The client process, or the nemesis.
    pub process: Process,
    /// The function called.
    pub f: Function,
    /// The key, for multi-key models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Argument (on invoke) or result (on ok): a value, `null`, or `[expected, new]` for cas.
    #[serde(default)]
    pub value: serde_json::Value,
    /// Nanoseconds since the start of the test. Never decreases along a history.
    pub time: u64,
    /// The server node that handled the request, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<u64>,
    /// Why an operation failed or is indeterminate (`"mismatch"` marks a cas that found another value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The `error` of a `fail` cas completion that executed and found a value other than the expected one.
pub const ERROR_MISMATCH: &str = "mismatch";

impl Event {
    /// A client event with no key, node or error.
    pub fn client(
        index: u64,
        kind: EventType,
        process: u64,
        f: Function,
        value: serde_json::Value,
        time: u64,
    ) -> Event {
        Event {
            index,
            kind,
            process: Process::Client(process),
            f,
            key: None,
            value,
            time,
            node: None,
            error: None,
        }
    }

    /// The same event with `key` set.
    pub fn with_key(mut self, key: impl Into<String>) -> Event {
        self.key = Some(key.into());
        self
    }

    /// The same event with `error` set.
    pub fn with_error(mut self, error: impl Into<String>) -> Event {
        self.error = Some(error.into());
        self
    }

    /// Whether this is a failed cas that executed and found another value (usable as a constraint).
    pub fn is_mismatch(&self) -> bool {
        self.kind == EventType::Fail && self.error.as_deref() == Some(ERROR_MISMATCH)
    }
}
