//! Small, fast, deterministic hashing for the search's hot path.
//!
//! The search hashes a model state and combines it with the hash of the set of linearized operations on
//! every step, so the hasher must be cheap. [`FxHasher`] is the multiply-rotate hasher used inside rustc:
//! fast on short keys and good enough because every value it produces is finished with [`mix64`] before
//! it is used as a table key. Nothing here is cryptographic or DoS-resistant; the inputs are histories the
//! user chose to check.

use std::hash::{BuildHasher, Hash, Hasher};

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// The rustc "Fx" hasher: one rotate, xor and multiply per word.
#[derive(Clone, Copy, Debug, Default)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add_to_hash(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add_to_hash(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length keeps "ab" and "ab\0" apart.
            self.add_to_hash(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add_to_hash(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add_to_hash(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add_to_hash(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add_to_hash(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Builds [`FxHasher`]s, for `HashMap`s keyed by small values.
#[derive(Clone, Copy, Debug, Default)]
pub struct FxBuildHasher;

impl BuildHasher for FxBuildHasher {
    type Hasher = FxHasher;

    fn build_hasher(&self) -> FxHasher {
        FxHasher::default()
    }
}

/// A hasher for keys that are already uniformly mixed 64-bit values: it passes them through unchanged.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdentityHasher {
    hash: u64,
}

impl Hasher for IdentityHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is expected; fold anything else in so the hasher stays correct if misused.
        for &byte in bytes {
            self.hash = self.hash.rotate_left(8) ^ u64::from(byte);
        }
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.hash = i;
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Builds [`IdentityHasher`]s.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdentityBuildHasher;

impl BuildHasher for IdentityBuildHasher {
    type Hasher = IdentityHasher;

    fn build_hasher(&self) -> IdentityHasher {
        IdentityHasher::default()
    }
}

/// The SplitMix64 finaliser: a bijection on `u64` whose output bits all depend on all input bits.
#[inline]
pub fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Hashes any `Hash` value with [`FxHasher`].
#[inline]
pub fn fx_hash<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut hasher = FxHasher::default();
    value.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix64_is_not_the_identity_and_spreads_neighbours() {
        assert_ne!(mix64(0), 0);
        let a = mix64(1);
        let b = mix64(2);
        // Neighbouring inputs differ in many bits (a weak but failing-capable avalanche check).
        assert!((a ^ b).count_ones() > 16, "{a:x} vs {b:x}");
    }

    #[test]
    fn fx_hash_tells_trailing_zero_bytes_apart() {
        assert_ne!(fx_hash(&b"ab"[..]), fx_hash(&b"ab\0"[..]));
        assert_ne!(fx_hash("abc"), fx_hash("abd"));
    }
}
