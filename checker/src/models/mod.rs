//! Built-in models: [`Register`] (read/write), [`CasRegister`] (read/write/cas) and [`Kv`] (a map of
//! registers with read, write, cas, delete and string append, partitioned by key).
//!
//! All three share the operation types in [`kv`] and one step function, so their semantics agree: the
//! initial value is nil; a read must observe the current value; a write sets it; a cas that completed
//! `ok` needs the expected value and sets the new one, one that failed with `mismatch` needs any other
//! value and changes nothing, and an indeterminate one sets the new value only if the expected one is
//! there; delete sets nil; append concatenates strings (appending to nil gives the appended string).

pub mod kv;
pub mod lookahead;
mod value;

pub use kv::{CasRegister, Kv, KvInput, KvMap, KvOp, KvOutput, MapState, Register};
pub use value::Value;
