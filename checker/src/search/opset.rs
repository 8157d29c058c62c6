//! [`OpSet`]: the set of linearized operations of one search, with an incrementally maintained hash and
//! a compact canonical form for the cache.
//!
//! The hash is Zobrist-style (XOR of a per-operation 64-bit key), so adding or removing an operation
//! costs O(1). The canonical form drops the run of all-ones words at the front (operations long since
//! linearized) and the zero words at the back (operations not reached yet), so a cache entry stores only
//! the "window" of recently active operations: a few words even for partitions of millions of operations.

use crate::hash::mix64;

/// A set of operation indices `0..len` that knows its own hash and canonical window.
#[derive(Clone, Debug)]
pub struct OpSet {
    words: Vec<u64>,
    hash: u64,
    /// Number of leading words that are all ones.
    lead: usize,
    /// One past the last non-zero word (0 if empty).
    end: usize,
}

impl OpSet {
    /// An empty set over `len` operations.
    pub fn new(len: usize) -> OpSet {
        OpSet {
            words: vec![0; len.div_ceil(64)],
            hash: 0,
            lead: 0,
            end: 0,
        }
    }

    /// The hash key of one operation.
    #[inline]
    fn key(op: usize) -> u64 {
        mix64(op as u64 ^ 0x5bd1_e995_7f4a_7c15)
    }

    /// Whether `op` is in the set.
    #[inline]
    pub fn contains(&self, op: usize) -> bool {
        self.words[op / 64] & (1 << (op % 64)) != 0
    }

    /// Adds `op`, which must be absent.
    #[inline]
    pub fn insert(&mut self, op: usize) {
        let word = op / 64;
        assert!(!self.contains(op), "operation {op} linearized twice");
        self.words[word] |= 1 << (op % 64);
        self.hash ^= OpSet::key(op);
        self.end = self.end.max(word + 1);
        while self.lead < self.words.len() && self.words[self.lead] == u64::MAX {
            self.lead += 1;
        }
    }

    /// Removes `op`, which must be present.
    #[inline]
    pub fn remove(&mut self, op: usize) {
        let word = op / 64;
        assert!(self.contains(op), "operation {op} unlinearized but absent");
        self.words[word] &= !(1 << (op % 64));
        self.hash ^= OpSet::key(op);
        self.lead = self.lead.min(word);
        while self.end > 0 && self.words[self.end - 1] == 0 {
            self.end -= 1;
        }
    }

    /// The words of the bitset (bit `i` of word `i / 64` is operation `i`).
    #[inline]
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// The set's hash: equal sets have equal hashes, whatever the order of insertions.
    #[inline]
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The hash of this set with `op` added (without adding it).
    #[inline]
    pub fn hash_with(&self, op: usize) -> u64 {
        self.hash ^ OpSet::key(op)
    }

    /// The canonical form: (number of leading all-ones words, the words after them up to the last
    /// non-zero one). Equal sets over the same `len` have equal canonical forms.
    #[inline]
    pub fn window(&self) -> (usize, &[u64]) {
        let start = self.lead.min(self.end);
        (self.lead, &self.words[start..self.end.max(start)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_window_depend_only_on_the_members() {
        let mut a = OpSet::new(200);
        let mut b = OpSet::new(200);
        for op in 0..130 {
            a.insert(op);
        }
        a.insert(150);
        for op in (0..130).rev() {
            b.insert(op);
        }
        b.insert(151);
        b.insert(150);
        b.remove(151);
        assert_eq!(a.hash(), b.hash());
        assert_eq!(a.window(), b.window());
        assert_eq!(a.window().0, 2, "two leading full words");
        assert_eq!(a.window().1.len(), 1);
        b.remove(3);
        assert_ne!(a.hash(), b.hash());
        assert_eq!(b.window().0, 0);
        assert_eq!(b.window().1.len(), 3);
    }

    #[test]
    fn hash_with_predicts_insert() {
        let mut set = OpSet::new(10);
        set.insert(2);
        let predicted = set.hash_with(7);
        set.insert(7);
        assert_eq!(predicted, set.hash());
    }

    #[test]
    fn empty_set_has_an_empty_window() {
        let mut set = OpSet::new(64);
        assert_eq!(set.window(), (0, &[][..]));
        set.insert(5);
        set.remove(5);
        assert_eq!(set.window(), (0, &[][..]));
        for op in 0..64 {
            set.insert(op);
        }
        assert_eq!(set.window(), (1, &[][..]));
    }

    #[test]
    #[should_panic(expected = "linearized twice")]
    fn double_insert_is_an_invariant_violation() {
        let mut set = OpSet::new(8);
        set.insert(1);
        set.insert(1);
    }
}
