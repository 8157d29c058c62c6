//! The [`Model`] trait: a sequential specification the search linearizes operations against, and the
//! [`Operation`] type it works on.
//!
//! A model says, for a state and an operation (input plus observed output), which states may follow;
//! none means the operation is illegal there. Models may be nondeterministic (several next states). An
//! operation whose output is `None` is indeterminate: the model must accept it without checking an
//! output. [`FromHistory`] turns history events into a model's inputs and outputs.

use crate::history::Event;
use std::fmt::Debug;
use std::hash::Hash;

/// One client operation as the search sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<I, O> {
    /// Position in the operation list (dense, from 0).
    pub id: usize,
    /// The client process that ran it.
    pub process: u64,
    /// What was asked.
    pub input: I,
    /// What was observed; `None` = indeterminate (may take effect at any time after `call`, or never).
    pub output: Option<O>,
    /// Order of the invocation: position of the invoke event in the history.
    pub call: usize,
    /// Order of the return: position of the completion event, or `None` for +infinity (indeterminate).
    pub ret: Option<usize>,
}

impl<I, O> Operation<I, O> {
    /// The return order with +infinity as `usize::MAX`.
    pub fn ret_order(&self) -> usize {
        self.ret.unwrap_or(usize::MAX)
    }
}

/// The states that may follow an operation. Empty means the operation is illegal in that state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Steps<S> {
    /// No next state: illegal.
    Illegal,
    /// Exactly one next state (deterministic models; no allocation).
    One(S),
    /// Any number of next states (nondeterministic models).
    Many(Vec<S>),
}

impl<S> Steps<S> {
    /// Whether there is no next state.
    pub fn is_illegal(&self) -> bool {
        match self {
            Steps::Illegal => true,
            Steps::One(_) => false,
            Steps::Many(states) => states.is_empty(),
        }
    }
}

impl<S> From<Vec<S>> for Steps<S> {
    fn from(states: Vec<S>) -> Steps<S> {
        Steps::Many(states)
    }
}

impl<S> From<Option<S>> for Steps<S> {
    fn from(state: Option<S>) -> Steps<S> {
        state.map_or(Steps::Illegal, Steps::One)
    }
}

impl<S> IntoIterator for Steps<S> {
    type Item = S;
    type IntoIter = StepsIter<S>;

    fn into_iter(self) -> StepsIter<S> {
        match self {
            Steps::Illegal => StepsIter::Empty,
            Steps::One(state) => StepsIter::One(Some(state)),
            Steps::Many(states) => StepsIter::Many(states.into_iter()),
        }
    }
}

/// Iterator over [`Steps`].
#[derive(Debug)]
pub enum StepsIter<S> {
    /// Nothing left.
    Empty,
    /// One state, not yet taken.
    One(Option<S>),
    /// Several states.
    Many(std::vec::IntoIter<S>),
}

impl<S> Iterator for StepsIter<S> {
    type Item = S;

    fn next(&mut self) -> Option<S> {
        match self {
            StepsIter::Empty => None,
            StepsIter::One(state) => state.take(),
            StepsIter::Many(states) => states.next(),
        }
    }
}

/// A group of operations that can be checked on its own (P-compositionality, e.g. one key of a map).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// A name for display, e.g. `key "3"`.
    pub label: String,
    /// Ids of the operations in it, ascending.
    pub ops: Vec<usize>,
}

/// A sequential specification.
///
/// `Sync` because partitions are checked in parallel against the same model value.
pub trait Model: Sync {
    /// The state. Hashed and compared on every step, so keep it small and cheap to clone.
    type State: Clone + Eq + Hash + Send + Sync + Debug;
    /// What a client asked.
    type Input: Send + Sync + Debug;
    /// What a client observed.
    type Output: Send + Sync + Debug;

    /// The initial state.
    fn init(&self) -> Self::State;

    /// The states that may follow `state` when the operation takes effect there. `output` is `None` for an
    /// indeterminate operation: accept it without checking an output.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Steps<Self::State>;

    /// Whether the operation never changes the state, in every state where it is legal (a read, a failed
    /// cas). The search then linearizes it as soon as it is legal and never tries it later, which is
    /// safe only if this holds. Default: `false` (always safe).
    fn is_read_only(&self, input: &Self::Input, output: Option<&Self::Output>) -> bool {
        let _ = (input, output);
        false
    }

    /// Which values the operation writes and which it needs to have been written, for shrinking: an
    /// operation is only removed from a failing history if every value a kept operation needs is still
    /// written by a kept one (or was never written in the original history), so the minimal history
    /// explains the failure instead of reading a value from nowhere. Default: no constraints.
    fn value_flow(&self, input: &Self::Input, output: Option<&Self::Output>) -> ValueFlow {
        let _ = (input, output);
        ValueFlow::default()
    }

    /// Splits the operations into independently checkable groups. Default: one group with everything.
    fn partition(&self, ops: &[Operation<Self::Input, Self::Output>]) -> Vec<Partition> {
        vec![Partition {
            label: "all".to_string(),
            ops: (0..ops.len()).collect(),
        }]
    }

    /// Optional pruning for one partition: a [`Lookahead`] that recognises configurations that can never
    /// be completed. `members` are the partition's operation ids in the search's local order (local index
    /// `i` is `members[i]`). Default: none.
    fn lookahead(
        &self,
        ops: &[Operation<Self::Input, Self::Output>],
        members: &[usize],
    ) -> Option<Box<dyn Lookahead<Self::State>>> {
        let _ = (ops, members);
        None
    }

    /// A short human-readable form of an operation, e.g. `cas(1, 2) -> mismatch`.
    fn describe_operation(&self, input: &Self::Input, output: Option<&Self::Output>) -> String;

    /// A short human-readable form of a state.
    fn describe_state(&self, state: &Self::State) -> String;
}

/// The values an operation writes and the values it observed (see [`Model::value_flow`]), as the
/// model's display strings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValueFlow {
    /// Values the operation may write.
    pub produces: Vec<String>,
    /// Values the operation saw, which some other operation must have written.
    pub requires: Vec<String>,
}

/// What a [`Lookahead`] may look at besides the state: which operations are linearized already.
#[derive(Clone, Copy, Debug)]
pub struct SearchView<'a> {
    /// Bit `i` (word `i / 64`, bit `i % 64`) is set when local operation `i` is linearized.
    pub linearized: &'a [u64],
    /// Every operation whose return order is below this is linearized (the order of the first entry
    /// still in the search's list).
    pub frontier: usize,
}

impl SearchView<'_> {
    /// Whether local operation `local` is linearized.
    #[inline]
    pub fn is_linearized(&self, local: usize) -> bool {
        self.linearized[local / 64] & (1 << (local % 64)) != 0
    }
}

/// A cheap necessary condition for completing a linearization, prepared for one partition.
///
/// Contract (soundness): [`Lookahead::dead_end`] may return `Some` only if no linearization of the
/// remaining operations exists from that configuration. Returning `None` is always safe.
pub trait Lookahead<S>: Send {
    /// If the configuration (`state`, the linearized set in `view`) certainly cannot be completed, the
    /// local index of an unlinearized operation that can never be placed (for explanations).
    fn dead_end(&self, state: &S, view: &SearchView<'_>) -> Option<usize>;
}

/// How an operation ended, as far as the model needs to know.
#[derive(Clone, Copy, Debug)]
pub enum Completion<'a> {
    /// Completed with `ok`; the event carries the result.
    Ok(&'a Event),
    /// A cas that executed and found another value (`fail` with `"error": "mismatch"`).
    Mismatch(&'a Event),
    /// Indeterminate: `info`, or no completion at all.
    Unknown,
}

/// Why an event could not be turned into a model operation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

/// A model whose inputs and outputs can be read from history events.
pub trait FromHistory: Model {
    /// The input and output of one operation, from its invocation and how it completed.
    fn decode(
        &self,
        invoke: &Event,
        completion: Completion<'_>,
    ) -> Result<(Self::Input, Option<Self::Output>), DecodeError>;
}
