//! The one hasher of the model's own fingerprints (symmetry keys and representatives, probe-memo
//! keys): ahash with fixed keys, as stateright fingerprints states, so a value hashes alike in every
//! thread and run of a build. About 5x cheaper per write than std's SipHash, which was a sixth of a
//! model run's time.
//!
//! Guarantees: `hasher()` is deterministic (fixed seeds) and 64-bit; collisions cost what stateright's
//! own 64-bit fingerprints cost.

use std::hash::{BuildHasher, Hash, Hasher};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_hash_alike_and_different_ones_apart() {
        assert_eq!(hash_of(&(1u64, "a")), hash_of(&(1u64, "a")));
        assert_ne!(hash_of(&(1u64, "a")), hash_of(&(2u64, "a")));
        assert_ne!(hash_of(&[1u64, 2]), hash_of(&[2u64, 1]));
    }
}
