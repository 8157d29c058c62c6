//! The one hasher of the model's own fingerprints (symmetry keys and representatives, probe-memo
//! keys): ahash with fixed keys, as stateright fingerprints states, so a value hashes alike in every
//! thread and run of a build. About 5x cheaper per write than std's SipHash, which was a sixth of a
//! model run's time.
//!
//! Also the memos that let a server state be hashed once ([`HashMemo`], [`KeyedHashMemo`]).
//!
//! Guarantees: `hasher()` is deterministic (fixed seeds) and 64-bit; collisions cost what stateright's
//! own 64-bit fingerprints cost. A memo is empty in every clone and never takes part in equality or
//! hashing of the value holding it.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Mutex, OnceLock};

/// The model's fingerprint hasher.
pub type FingerprintHasher = ahash::AHasher;

const SEEDS: [u64; 4] = [
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
];

/// A hasher with fixed keys.
pub fn hasher() -> FingerprintHasher {
    ahash::RandomState::with_seeds(SEEDS[0], SEEDS[1], SEEDS[2], SEEDS[3]).build_hasher()
}

/// The fingerprint of one value.
pub fn hash_of(value: &impl Hash) -> u64 {
    let mut h = hasher();
    value.hash(&mut h);
    h.finish()
}

/// Makes a type invisible to the identity of the value holding it: every two values are equal and
/// hashing writes nothing. For fields that are not state (memos, the search's stop flag).
#[macro_export]
macro_rules! invisible_to_identity {
    ($t:ty) => {
        impl PartialEq for $t {
            fn eq(&self, _: &Self) -> bool {
                true
            }
        }
        impl Eq for $t {}
        impl std::hash::Hash for $t {
            fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
        }
    };
}

/// A memo: invisible to identity, empty in every clone (a clone is about to be changed), and shown
/// as `_`.
macro_rules! memo_traits {
    ($t:ident) => {
        invisible_to_identity!($t);
        impl Clone for $t {
            fn clone(&self) -> Self {
                $t::default()
            }
        }
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("_")
            }
        }
    };
}

memo_traits!(HashMemo);
memo_traits!(KeyedHashMemo);

/// A memoised 64-bit hash of the value that holds it: computed on first use, forgotten by `clone`
/// (a clone is about to be changed), and invisible to equality and hashing. Why: a server state is
/// immutable once it is part of a model state and is hashed many times (stateright's fingerprint,
/// the symmetry keys, the probe memo), which was a third of a model run's time.
#[derive(Default)]
pub struct HashMemo(OnceLock<u64>);

impl HashMemo {
    /// The memoised value, computing it with `f` the first time.
    pub fn get_or_init(&self, f: impl FnOnce() -> u64) -> u64 {
        *self.0.get_or_init(f)
    }
}

/// Memoised 64-bit hashes of the value that holds it, one per key (a renaming of the servers): like
/// [`HashMemo`], forgotten by `clone` and invisible to equality and hashing.
#[derive(Default)]
pub struct KeyedHashMemo(Mutex<Vec<(u64, u64)>>);

impl KeyedHashMemo {
    /// The memoised value for `key`, computing it with `f` the first time.
    pub fn get_or_insert(&self, key: u64, f: impl FnOnce() -> u64) -> u64 {
        let found = self
            .0
            .lock()
            .ok()
            .and_then(|m| m.iter().find(|(k, _)| *k == key).map(|(_, v)| *v));
        if let Some(value) = found {
            return value;
        }
        let value = f();
        if let Ok(mut m) = self.0.lock() {
            m.push((key, value));
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memo_computes_once_and_a_clone_starts_empty() {
        let memo = HashMemo::default();
        assert_eq!(memo.get_or_init(|| 7), 7);
        assert_eq!(memo.get_or_init(|| 8), 7, "memoised");
        assert_eq!(memo.clone().get_or_init(|| 8), 8, "a clone forgets");
        let keyed = KeyedHashMemo::default();
        assert_eq!(keyed.get_or_insert(1, || 10), 10);
        assert_eq!(keyed.get_or_insert(2, || 20), 20);
        assert_eq!(keyed.get_or_insert(1, || 11), 10, "memoised per key");
        assert_eq!(keyed.clone().get_or_insert(1, || 11), 11, "a clone forgets");
        assert!(memo == HashMemo::default() && keyed == KeyedHashMemo::default());
    }

    #[test]
    fn equal_values_hash_alike_and_different_ones_apart() {
        assert_eq!(hash_of(&(1u64, "a")), hash_of(&(1u64, "a")));
        assert_ne!(hash_of(&(1u64, "a")), hash_of(&(2u64, "a")));
        assert_ne!(hash_of(&[1u64, 2]), hash_of(&[2u64, 1]));
    }
}
