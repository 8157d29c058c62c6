//! The search for one partition: Wing and Gong's algorithm with Lowe's just-in-time linearization and
//! configuration cache, as in porcupine's `checker.go`, made resumable so partitions can share threads.
//!
//! Entries (one call and one return per operation, sorted by order) form a doubly linked list. Walking
//! it, a call entry whose operation is legal in the current state is *lifted* (both of its entries are
//! unlinked, the operation joins the linearized set, the old state is pushed) unless the resulting
//! configuration was already visited; reaching a return entry means its operation can no longer be
//! linearized, so the search backtracks (pops, *unlifts*, and tries the next entry). An empty list means
//! every operation was linearized: Ok. Backtracking past the first lift: Illegal.
//!
//! Two sound prunings on top of porcupine's:
//! - Read-only operations (per [`Model::is_read_only`]) are linearized as soon as they are legal and
//!   never tried later: moving a state-preserving operation earlier keeps every other step valid and
//!   respects real time (it is callable now). So when backtracking reaches one, its configuration is
//!   exhausted and the search keeps backtracking; and if lifting one would enter an already-visited
//!   configuration, the current configuration is a dead end.
//! - Indeterminate read-only operations constrain nothing and are left out of the search.
//! - A model may supply a [`Lookahead`] that proves configurations dead before they are entered (for
//!   the built-in models: a pending read's value can no longer be produced).

use super::cache::{configuration_hash, Cache, SlotId};
use super::opset::OpSet;
use crate::model::{Lookahead, Model, Operation, SearchView, Steps};

const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;

/// How many longest partial linearizations (with distinct blocking operations) are kept.
pub const PARTIALS_MAX: usize = 8;

/// The outcome of running a search for a while.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Every operation was linearized.
    Ok,
    /// No linearization exists.
    Illegal,
    /// The step budget ran out; call [`Search::run`] again to continue.
    Pending,
}

/// A partial linearization recorded in explain mode: operation ids (global) with the state after each,
/// and the operation whose return was reached before it could be placed.
#[derive(Clone, Debug)]
pub struct RawPartial<S> {
    /// (operation id, state after it), in linearization order.
    pub steps: Vec<(usize, S)>,
    /// The operation that could not be linearized after `steps`.
    pub blocked_op: usize,
}

struct Frame<S> {
    /// The lifted call entry.
    entry: u32,
    /// The state before the lift.
    state_before: SlotId,
    /// Other next states of a nondeterministic step, still to try.
    alternatives: Vec<S>,
    /// A read-only operation: its configuration is exhausted once this frame is popped.
    forced: bool,
}

/// The resumable search over one partition.
pub struct Search<'a, M: Model> {
    model: &'a M,
    ops: &'a [Operation<M::Input, M::Output>],
    /// Global operation id of each local operation.
    members: Vec<usize>,
    /// Per entry: local operation index.
    entry_op: Vec<u32>,
    /// Per entry: the matching return entry for calls, `NIL` for returns.
    entry_match: Vec<u32>,
    /// Per local op: whether it is read-only.
    read_only: Vec<bool>,
    /// Per entry: its order (history position; `usize::MAX` for +infinity).
    entry_order: Vec<usize>,
    /// The model's optional pruning.
    lookahead: Option<Box<dyn Lookahead<M::State>>>,
    next: Vec<u32>,
    prev: Vec<u32>,
    linearized: OpSet,
    cache: Cache<M::State>,
    state: SlotId,
    stack: Vec<Frame<M::State>>,
    /// Where the walk continues.
    entry: u32,
    done: Option<Progress>,
    steps: u64,
    explain: bool,
    partials: Vec<RawPartial<M::State>>,
    best_len: usize,
}

impl<'a, M: Model> Search<'a, M> {
    /// A search over the operations `members` (global ids into `ops`, any order).
    pub fn new(
        model: &'a M,
        ops: &'a [Operation<M::Input, M::Output>],
        members: &[usize],
        explain: bool,
    ) -> Self {
        // Indeterminate read-only operations are legal anywhere and change nothing: leave them out.
        let mut members: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&id| !(ops[id].output.is_none() && model.is_read_only(&ops[id].input, None)))
            .collect();
        members.sort_by_key(|&id| ops[id].call);
        let count = members.len();
        assert!(
            count < (u32::MAX / 2) as usize,
            "a partition holds fewer than 2^31 operations"
        );
        // Entries 1..=2n sorted by order; calls and returns have distinct orders except +infinity, where
        // ties keep call order (any fixed order is fine: those returns are all at the end).
        let mut order: Vec<(usize, usize, bool)> = Vec::with_capacity(2 * count);
        for (local, &id) in members.iter().enumerate() {
            order.push((ops[id].call, local, true));
            order.push((ops[id].ret_order(), local, false));
        }
        order.sort_unstable_by_key(|&(position, local, is_call)| (position, !is_call, local));
        let entries = 2 * count + 1;
        let mut entry_op = vec![NIL; entries];
        let mut entry_order = vec![0; entries];
        let mut entry_match = vec![NIL; entries];
        let mut return_entry = vec![NIL; count];
        for (i, &(position, local, is_call)) in order.iter().enumerate() {
            let entry = (i + 1) as u32;
            entry_op[entry as usize] = local as u32;
            entry_order[entry as usize] = position;
            if !is_call {
                return_entry[local] = entry;
            }
        }
        for (i, &(_, local, is_call)) in order.iter().enumerate() {
            if is_call {
                entry_match[i + 1] = return_entry[local];
            }
        }
        let next = (0..entries as u32)
            .map(|e| if e as usize + 1 < entries { e + 1 } else { NIL })
            .collect();
        let prev = (0..entries as u32)
            .map(|e| if e == 0 { NIL } else { e - 1 })
            .collect();
        let read_only = members
            .iter()
            .map(|&id| model.is_read_only(&ops[id].input, ops[id].output.as_ref()))
            .collect();
        let lookahead = model.lookahead(ops, &members);
        let linearized = OpSet::new(count);
        let mut cache = Cache::new();
        let init = model.init();
        let state = cache.insert(
            configuration_hash(linearized.hash(), &init),
            &linearized,
            init,
        );
        Search {
            model,
            ops,
            members,
            entry_op,
            entry_match,
            read_only,
            entry_order,
            lookahead,
            next,
            prev,
            linearized,
            cache,
            state,
            stack: Vec::new(),
            entry: if entries > 1 { 1 } else { NIL },
            done: None,
            steps: 0,
            explain,
            partials: Vec::new(),
            best_len: 0,
        }
    }

    /// Steps taken so far (entries visited).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Configurations visited so far.
    pub fn configurations(&self) -> usize {
        self.cache.len()
    }

    /// Approximate heap bytes held by the configuration cache.
    pub fn cache_bytes(&self) -> usize {
        self.cache.heap_bytes()
    }

    /// The longest partial linearizations seen (explain mode only), longest first.
    pub fn take_partials(&mut self) -> Vec<RawPartial<M::State>> {
        let mut partials = std::mem::take(&mut self.partials);
        partials.sort_by_key(|p| std::cmp::Reverse(p.steps.len()));
        partials
    }

    #[inline]
    fn lift(&mut self, entry: u32) {
        let ret = self.entry_match[entry as usize];
        for e in [entry, ret] {
            let (p, n) = (self.prev[e as usize], self.next[e as usize]);
            self.next[p as usize] = n;
            if n != NIL {
                self.prev[n as usize] = p;
            }
        }
    }

    #[inline]
    fn unlift(&mut self, entry: u32) {
        let ret = self.entry_match[entry as usize];
        // Reverse order of `lift`: dancing links restore exactly.
        for e in [ret, entry] {
            let (p, n) = (self.prev[e as usize], self.next[e as usize]);
            self.next[p as usize] = e;
            if n != NIL {
                self.prev[n as usize] = e;
            }
        }
    }

    /// If the model's lookahead proves the configuration (current set, `state`) cannot be completed: the
    /// local index of an operation that can never be placed.
    fn dead_end(&self, state: &M::State) -> Option<usize> {
        let lookahead = self.lookahead.as_ref()?;
        let first = self.next[HEAD as usize];
        let frontier = if first == NIL {
            usize::MAX
        } else {
            self.entry_order[first as usize]
        };
        lookahead.dead_end(
            state,
            &SearchView {
                linearized: self.linearized.words(),
                frontier,
            },
        )
    }

    /// Tries to enter the configuration "current set + op of `entry`, in `next_state`". Returns whether
    /// it was new (and entered) or already visited (nothing changed).
    fn try_enter(
        &mut self,
        entry: u32,
        next_state: M::State,
        alternatives: Vec<M::State>,
        forced: bool,
    ) -> bool {
        let local = self.entry_op[entry as usize] as usize;
        let hash = configuration_hash(self.linearized.hash_with(local), &next_state);
        self.linearized.insert(local);
        if self.cache.contains(hash, &self.linearized, &next_state) {
            self.linearized.remove(local);
            return false;
        }
        if let Some(blocked) = self.dead_end(&next_state) {
            if self.explain {
                self.record_partial(
                    self.members[blocked],
                    Some((self.members[local], next_state)),
                );
            }
            self.linearized.remove(local);
            return false;
        }
        let slot = self.cache.insert(hash, &self.linearized, next_state);
        self.stack.push(Frame {
            entry,
            state_before: self.state,
            alternatives,
            forced,
        });
        self.state = slot;
        self.lift(entry);
        true
    }

    /// Tries the next states of a nondeterministic step in order; returns whether one was entered.
    fn try_states(&mut self, entry: u32, states: Vec<M::State>, forced: bool) -> bool {
        let mut rest = states.into_iter();
        while let Some(candidate) = rest.next() {
            let remaining: Vec<M::State> = rest.by_ref().collect();
            if self.try_enter(entry, candidate, Vec::new(), forced) {
                if let Some(frame) = self.stack.last_mut() {
                    frame.alternatives = remaining;
                }
                return true;
            }
            rest = remaining.into_iter();
        }
        false
    }

    /// Backtracks from a dead end. Returns false when the first lift is undone (Illegal).
    fn backtrack(&mut self) -> bool {
        loop {
            let Some(frame) = self.stack.pop() else {
                return false;
            };
            let local = self.entry_op[frame.entry as usize] as usize;
            self.unlift(frame.entry);
            self.linearized.remove(local);
            self.state = frame.state_before;
            if frame.forced {
                // The configuration before a read-only lift is exhausted with it (see module docs).
                continue;
            }
            if !frame.alternatives.is_empty()
                && self.try_states(frame.entry, frame.alternatives, false)
            {
                self.entry = self.next[HEAD as usize];
                return true;
            }
            self.entry = self.next[frame.entry as usize];
            return true;
        }
    }

    /// Records the current linearization (plus `extra`, a last step that was not entered) if it is among
    /// the longest, with the operation that could not be placed after it.
    fn record_partial(&mut self, blocked_op: usize, extra: Option<(usize, M::State)>) {
        let len = self.stack.len() + usize::from(extra.is_some());
        if len < self.best_len {
            return;
        }
        if len == self.best_len
            && (self.partials.len() >= PARTIALS_MAX
                || self.partials.iter().any(|p| p.blocked_op == blocked_op))
        {
            return;
        }
        if len > self.best_len {
            self.partials.clear();
            self.best_len = len;
        }
        let mut steps = Vec::with_capacity(len);
        for (i, frame) in self.stack.iter().enumerate() {
            let after = self.stack.get(i + 1).map_or(self.state, |f| f.state_before);
            let op = self.members[self.entry_op[frame.entry as usize] as usize];
            steps.push((op, self.cache.state(after).clone()));
        }
        steps.extend(extra);
        self.partials.push(RawPartial { steps, blocked_op });
    }

    /// Runs for at most `budget` steps.
    pub fn run(&mut self, budget: u64) -> Progress {
        if let Some(done) = self.done {
            return done;
        }
        let mut remaining = budget;
        loop {
            if self.next[HEAD as usize] == NIL {
                self.done = Some(Progress::Ok);
                return Progress::Ok;
            }
            if remaining == 0 {
                return Progress::Pending;
            }
            remaining -= 1;
            self.steps += 1;
            let entry = self.entry;
            assert!(
                entry != NIL,
                "a non-empty entry list always ends with a return entry"
            );
            let ret = self.entry_match[entry as usize];
            if ret == NIL {
                // A return entry: its operation can no longer be linearized here.
                if self.explain {
                    self.record_partial(self.members[self.entry_op[entry as usize] as usize], None);
                }
                if !self.backtrack() {
                    self.done = Some(Progress::Illegal);
                    return Progress::Illegal;
                }
                continue;
            }
            let local = self.entry_op[entry as usize] as usize;
            let op = &self.ops[self.members[local]];
            let steps =
                self.model
                    .step(self.cache.state(self.state), &op.input, op.output.as_ref());
            let forced = self.read_only[local];
            let entered = match steps {
                Steps::Illegal => false,
                Steps::One(next_state) => {
                    let entered = self.try_enter(entry, next_state, Vec::new(), forced);
                    if !entered && forced {
                        // Lifting this read now would be the best move and it leads to a visited (failed) or
                        // dead configuration: the current configuration is a dead end.
                        if !self.backtrack() {
                            self.done = Some(Progress::Illegal);
                            return Progress::Illegal;
                        }
                        continue;
                    }
                    entered
                }
                Steps::Many(states) => self.try_states(entry, states, false),
            };
            self.entry = if entered {
                self.next[HEAD as usize]
            } else {
                self.next[entry as usize]
            };
        }
    }
}
