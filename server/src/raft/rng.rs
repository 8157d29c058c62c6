//! A tiny seeded pseudo-random generator (SplitMix64) for the Raft core's election timeouts.
//!
//! Guarantees: the same seed gives the same sequence on every platform, and the generator is plain data
//! (Clone + Eq + Hash), so a `RawNode` that holds one can sit in a stateright state. Not cryptographic.

/// SplitMix64 (Steele, Lea, Flood 2014): one u64 of state, good statistical quality for timeouts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `[low, high)`; returns `low` when the range is empty. The modulo bias is irrelevant for
    /// timeouts.
    pub fn gen_range(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        low + self.next_u64() % (high - low)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_range_respected() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        let mut c = SplitMix64::new(8);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..1000 {
            let v = a.gen_range(15, 30);
            assert!((15..30).contains(&v));
            seen.insert(v);
        }
        assert_eq!(seen.len(), 15, "every value of the range shows up");
        assert_eq!(a.gen_range(5, 5), 5);
    }
}
