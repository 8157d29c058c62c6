//! A porcupine-style linearizability checker: one history type, a [`Model`] trait with built-in models,
//! the Wing-Gong-Lowe search with a configuration cache, shrinking to a minimal failing history, and
//! importers for porcupine's data sets.
//!
//! The library is pure: it never prints, and a check that runs out of time answers
//! [`Verdict::Unknown`], never [`Verdict::Ok`].
//!
//! ```
//! use checker::{check_history, history::History, models::CasRegister, CheckOptions, Verdict};
//! let history = History::from_jsonl_str(concat!(
//!     r#"{"type":"invoke","process":0,"f":"write","value":1,"time":0}"#, "\n",
//!     r#"{"type":"ok","process":0,"f":"write","value":1,"time":1}"#, "\n",
//!     r#"{"type":"invoke","process":1,"f":"read","value":null,"time":2}"#, "\n",
//!     r#"{"type":"ok","process":1,"f":"read","value":0,"time":3}"#, "\n",
//! )).expect("well-formed");
//! let result = check_history(&CasRegister, &history, &CheckOptions::default()).expect("decodes");
//! assert_eq!(result.verdict, Verdict::Illegal);
//! ```

pub mod hash;
pub mod history;
pub mod import;
pub mod model;
pub mod models;
pub mod operations;
pub mod oracle;
pub mod raft_model;
pub mod render;
pub mod result;
pub mod search;
pub mod shrink;
pub mod synth;

pub use model::{
    Completion, DecodeError, FromHistory, Lookahead, Model, Operation, Partition, SearchView, Steps,
};
pub use operations::{operations, OperationsError};
pub use result::{
    CheckResult, OpView, PartialLinearization, PartitionResult, UnknownReason, Verdict,
};
pub use search::{check_operations, CheckOptions};

use history::History;

/// Checks a history: decodes its operations for `model`, checks them, and fills in real times.
pub fn check_history<M: FromHistory>(
    model: &M,
    history: &History,
    options: &CheckOptions,
) -> Result<CheckResult, OperationsError> {
    let ops = operations(model, history)?;
    let mut result = check_operations(model, &ops, options);
    let events = history.events();
    for view in &mut result.ops {
        view.call_time_ns = events[view.call].time;
        view.return_time_ns = view.ret.map(|r| events[r].time);
    }
    Ok(result)
}
