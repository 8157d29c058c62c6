//! The visited-configuration cache of the search: every (set of linearized operations, state) pair that
//! was ever entered, stored once.
//!
//! The cache also owns every state of the search: the current state and the states saved on the
//! backtracking stack are slot indices, so a step never clones a state. Lookups hash the candidate with
//! one multiply-mix over the set's Zobrist hash and the state's Fx hash; entries with equal hashes are
//! chained and compared exactly, so a hash collision can never prune a configuration wrongly.

use super::opset::OpSet;
use crate::hash::{fx_hash, mix64, IdentityBuildHasher};
use std::collections::HashMap;
use std::hash::Hash;

/// Index of a stored configuration.
pub type SlotId = u32;

const NO_SLOT: SlotId = SlotId::MAX;

#[derive(Debug)]
struct Slot<S> {
    state: S,
    lead: u32,
    words_start: u32,
    words_len: u32,
    /// Next slot with the same hash.
    next: SlotId,
}

/// Visited configurations and the states they hold.
#[derive(Debug)]
pub struct Cache<S> {
    heads: HashMap<u64, SlotId, IdentityBuildHasher>,
    slots: Vec<Slot<S>>,
    words: Vec<u64>,
}

/// The hash of a configuration given its set's hash and its state.
#[inline]
pub fn configuration_hash<S: Hash>(set_hash: u64, state: &S) -> u64 {
    mix64(set_hash ^ fx_hash(state).rotate_left(23))
}

impl<S: Eq + Hash> Cache<S> {
    /// An empty cache.
    pub fn new() -> Cache<S> {
        Cache {
            heads: HashMap::default(),
            slots: Vec::new(),
            words: Vec::new(),
        }
    }

    /// The state stored in `slot`.
    #[inline]
    pub fn state(&self, slot: SlotId) -> &S {
        &self.slots[slot as usize].state
    }

    /// How many configurations are stored.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether (`set`, `state`) is stored; `hash` is its [`configuration_hash`].
    pub fn contains(&self, hash: u64, set: &OpSet, state: &S) -> bool {
        let (lead, window) = set.window();
        let mut slot = self.heads.get(&hash).copied().unwrap_or(NO_SLOT);
        while slot != NO_SLOT {
            let stored = &self.slots[slot as usize];
            if stored.lead as usize == lead
                && stored.words_len as usize == window.len()
                && self.words[stored.words_start as usize..][..window.len()] == *window
                && stored.state == *state
            {
                return true;
            }
            slot = stored.next;
        }
        false
    }

    /// Stores (`set`, `state`), which must not be stored yet, and returns its slot.
    pub fn insert(&mut self, hash: u64, set: &OpSet, state: S) -> SlotId {
        let (lead, window) = set.window();
        let slot = SlotId::try_from(self.slots.len())
            .expect("fewer than 2^32 configurations per partition");
        let words_start =
            u32::try_from(self.words.len()).expect("fewer than 2^32 cached words per partition");
        self.words.extend_from_slice(window);
        let head = self.heads.entry(hash).or_insert(NO_SLOT);
        self.slots.push(Slot {
            state,
            lead: u32::try_from(lead).expect("fewer than 2^32 words per set"),
            words_start,
            words_len: u32::try_from(window.len()).expect("fewer than 2^32 words per set"),
            next: *head,
        });
        *head = slot;
        slot
    }

    /// Approximate heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot<S>>()
            + self.words.capacity() * 8
            + self.heads.capacity() * (8 + 4 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_and_finds_exact_configurations_only() {
        let mut cache: Cache<u32> = Cache::new();
        let mut set = OpSet::new(100);
        set.insert(3);
        let hash = configuration_hash(set.hash(), &7u32);
        assert!(!cache.contains(hash, &set, &7));
        let slot = cache.insert(hash, &set, 7);
        assert!(cache.contains(hash, &set, &7));
        assert_eq!(*cache.state(slot), 7);
        // Same hash bucket forced, different state: not found.
        assert!(!cache.contains(hash, &set, &8));
        // Same state, different set.
        set.insert(4);
        let other = configuration_hash(set.hash(), &7u32);
        assert!(!cache.contains(other, &set, &7));
        // A forced collision (same hash key, different set) is told apart by the exact comparison.
        assert!(!cache.contains(hash, &set, &7));
        cache.insert(hash, &set, 7);
        assert!(cache.contains(hash, &set, &7));
        assert_eq!(cache.len(), 2);
    }
}
