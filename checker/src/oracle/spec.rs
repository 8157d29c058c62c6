//! The oracle's own sequential specification of a map of registers, written apart from
//! [`crate::models`] on purpose: a shared bug in one step function would make the two checkers agree
//! for the wrong reason. It implements stateright's [`SequentialSpec`].
//!
//! Semantics (the same contract the built-in models document): every key starts nil; a read returns the
//! current value; a write sets it; a cas that completed sets `new` if `expected` is there and is invalid
//! otherwise; a cas that returned `mismatch` is valid only if `expected` is not there and changes
//! nothing; delete sets nil; append concatenates strings (appending to nil gives the suffix; appending to
//! an integer fails on the server). An indeterminate operation is "invoked" by the tester without an
//! observed return, so [`SequentialSpec::invoke`] says what it would do if it took effect: a cas whose
//! expected value is absent and an append to an integer change nothing.

use stateright::semantics::SequentialSpec;
use std::collections::BTreeMap;

/// A register value, decoded from JSON by the oracle itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cell {
    /// Absent.
    Nil,
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
}

impl Cell {
    /// Decodes `null`, an integer or a string; anything else is refused (as the checker refuses it).
    pub fn from_json(json: &serde_json::Value) -> Option<Cell> {
        match json {
            serde_json::Value::Null => Some(Cell::Nil),
            serde_json::Value::Number(n) => n.as_i64().map(Cell::Int),
            serde_json::Value::String(s) => Some(Cell::Str(s.clone())),
            _ => None,
        }
    }
}

/// An operation on one key (`""` for the single-register models).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CellOp {
    /// The key.
    pub key: String,
    /// What is done to it.
    pub action: Action,
}

/// What an operation does.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read the value.
    Read,
    /// Set the value.
    Write(Cell),
    /// Set `1` if the value is `0`.
    Cas(Cell, Cell),
    /// Set nil.
    Delete,
    /// Concatenate a string.
    Append(String),
}

/// What an operation returned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CellRet {
    /// A read saw this value.
    Read(Cell),
    /// A write, delete, append or cas completed.
    Done,
    /// A cas found a value other than the expected one.
    Mismatch,
}

/// A map of registers, all nil at first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CellMap {
    cells: BTreeMap<String, Cell>,
}

impl CellMap {
    fn get(&self, key: &str) -> Cell {
        self.cells.get(key).cloned().unwrap_or(Cell::Nil)
    }

    fn set(&mut self, key: &str, cell: Cell) {
        if cell == Cell::Nil {
            self.cells.remove(key);
        } else {
            self.cells.insert(key.to_string(), cell);
        }
    }

    /// The appended value, or `None` if the current value is an integer.
    fn appended(&self, key: &str, suffix: &str) -> Option<Cell> {
        match self.get(key) {
            Cell::Nil => Some(Cell::Str(suffix.to_string())),
            Cell::Str(prefix) => Some(Cell::Str(prefix + suffix)),
            Cell::Int(_) => None,
        }
    }
}

impl SequentialSpec for CellMap {
    type Op = CellOp;
    type Ret = CellRet;

    fn invoke(&mut self, op: &CellOp) -> CellRet {
        let key = op.key.as_str();
        match &op.action {
            Action::Read => CellRet::Read(self.get(key)),
            Action::Write(cell) => {
                self.set(key, cell.clone());
                CellRet::Done
            }
            Action::Cas(expected, new) => {
                if self.get(key) == *expected {
                    self.set(key, new.clone());
                    CellRet::Done
                } else {
                    CellRet::Mismatch
                }
            }
            Action::Delete => {
                self.set(key, Cell::Nil);
                CellRet::Done
            }
            Action::Append(suffix) => {
                // On an integer the server refuses the append: no effect.
                if let Some(cell) = self.appended(key, suffix) {
                    self.set(key, cell);
                }
                CellRet::Done
            }
        }
    }

    fn is_valid_step(&mut self, op: &CellOp, ret: &CellRet) -> bool {
        let key = op.key.as_str();
        match (&op.action, ret) {
            (Action::Append(suffix), CellRet::Done) => match self.appended(key, suffix) {
                Some(cell) => {
                    self.set(key, cell);
                    true
                }
                // An append that completed ok cannot have met an integer.
                None => false,
            },
            _ => self.invoke(op) == *ret,
        }
    }
}
