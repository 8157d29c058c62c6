//! One directed link i→j: its current fault (settable at run time from any thread) and its counters.
//!
//! Guarantees: a fault change takes effect for the next frame read on every connection of the link; every
//! random choice (loss, delay jitter) comes from a ChaCha RNG seeded from the root seed, the link and the
//! direction, so one direction's traffic never shifts the other direction's random choices.

use raftkv::raft::NodeId;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// What a link does to the frames that cross it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum LinkFault {
    /// Forward every frame at once.
    #[default]
    Pass,
    /// Discard every frame (a partition). The TCP connection stays up, so healing needs no reconnect.
    Drop,
    /// Hold each frame for `mean_ms ± jitter_ms` (uniform), never reordering frames of one direction.
    Delay {
        /// Mean added latency in milliseconds.
        mean_ms: u64,
        /// Half-width of the uniform jitter around the mean, in milliseconds.
        jitter_ms: u64,
    },
    /// Discard each frame independently with this probability (0.0..=1.0).
    Loss {
        /// Probability that a frame is discarded.
        probability: f64,
    },
}

impl fmt::Display for LinkFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkFault::Pass => write!(f, "pass"),
            LinkFault::Drop => write!(f, "drop"),
            LinkFault::Delay { mean_ms, jitter_ms } => {
                write!(f, "delay {mean_ms}ms ±{jitter_ms}ms")
            }
            LinkFault::Loss { probability } => write!(f, "loss p={probability}"),
        }
    }
}

/// Which way a frame travels on a proxied connection of link i→j.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From node i (the dialer) towards node j.
    Forward,
    /// From node j back to node i on i's connection (tarpc responses). Treated like `Forward`.
    Backward,
}

/// What to do with one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Discard the whole frame.
    Discard,
    /// Deliver the frame after this much added latency (zero: at once).
    Deliver(Duration),
}

/// Frame counters of a link, both directions together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStats {
    /// Frames handed on towards their destination.
    pub frames_forwarded: u64,
    /// Frames discarded by `Drop` or `Loss`.
    pub frames_dropped: u64,
}

struct LinkState {
    fault: LinkFault,
    rng_forward: ChaCha8Rng,
    rng_backward: ChaCha8Rng,
}

struct LinkShared {
    from: NodeId,
    to: NodeId,
    state: Mutex<LinkState>,
    frames_forwarded: AtomicU64,
    frames_dropped: AtomicU64,
}

/// A cheap, cloneable handle on one directed link's shared state.
#[derive(Clone)]
pub struct LinkHandle {
    shared: Arc<LinkShared>,
}

impl fmt::Debug for LinkHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkHandle")
            .field("from", &self.shared.from)
            .field("to", &self.shared.to)
            .field("fault", &self.fault())
            .finish()
    }
}

/// splitmix64: spreads (seed, link, direction) into independent-looking RNG seeds.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The RNG seed of one direction of link `from`→`to` under `root_seed`.
pub fn link_seed(root_seed: u64, from: NodeId, to: NodeId, direction: Direction) -> u64 {
    let direction_tag = match direction {
        Direction::Forward => 1,
        Direction::Backward => 2,
    };
    mix(mix(mix(root_seed ^ mix(from.0)) ^ to.0) ^ direction_tag)
}

impl LinkHandle {
    /// A passing link whose random choices derive from `root_seed`.
    pub fn new(from: NodeId, to: NodeId, root_seed: u64) -> LinkHandle {
        let state = LinkState {
            fault: LinkFault::Pass,
            rng_forward: ChaCha8Rng::seed_from_u64(link_seed(
                root_seed,
                from,
                to,
                Direction::Forward,
            )),
            rng_backward: ChaCha8Rng::seed_from_u64(link_seed(
                root_seed,
                from,
                to,
                Direction::Backward,
            )),
        };
        LinkHandle {
            shared: Arc::new(LinkShared {
                from,
                to,
                state: Mutex::new(state),
                frames_forwarded: AtomicU64::new(0),
                frames_dropped: AtomicU64::new(0),
            }),
        }
    }

    /// The node that dials (i in i→j).
    pub fn from(&self) -> NodeId {
        self.shared.from
    }

    /// The node that is dialed (j in i→j).
    pub fn to(&self) -> NodeId {
        self.shared.to
    }

    fn lock(&self) -> MutexGuard<'_, LinkState> {
        // A panic while holding this lock cannot leave the state half-written (each field is replaced
        // whole), so a poisoned lock is still safe to use.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sets the fault; it applies to the next frame read on any connection of this link.
    ///
    /// Panics if a `Loss` probability is not within 0.0..=1.0 (a caller bug).
    pub fn set(&self, fault: LinkFault) {
        if let LinkFault::Loss { probability } = fault {
            assert!(
                (0.0..=1.0).contains(&probability),
                "loss probability {probability} is outside 0..=1"
            );
        }
        self.lock().fault = fault;
    }

    /// The current fault.
    pub fn fault(&self) -> LinkFault {
        self.lock().fault
    }

    /// The frame counters so far.
    pub fn stats(&self) -> LinkStats {
        LinkStats {
            frames_forwarded: self.shared.frames_forwarded.load(Ordering::Relaxed),
            frames_dropped: self.shared.frames_dropped.load(Ordering::Relaxed),
        }
    }

    /// Decides the fate of the next frame travelling in `direction`, and counts it.
    pub fn judge(&self, direction: Direction) -> Verdict {
        let verdict = {
            let mut state = self.lock();
            let state = &mut *state;
            let rng = match direction {
                Direction::Forward => &mut state.rng_forward,
                Direction::Backward => &mut state.rng_backward,
            };
            match state.fault {
                LinkFault::Pass => Verdict::Deliver(Duration::ZERO),
                LinkFault::Drop => Verdict::Discard,
                LinkFault::Loss { probability } => {
                    if rng.gen_bool(probability) {
                        Verdict::Discard
                    } else {
                        Verdict::Deliver(Duration::ZERO)
                    }
                }
                LinkFault::Delay { mean_ms, jitter_ms } => {
                    let low_ms = mean_ms.saturating_sub(jitter_ms);
                    let high_ms = mean_ms.saturating_add(jitter_ms);
                    Verdict::Deliver(Duration::from_millis(rng.gen_range(low_ms..=high_ms)))
                }
            }
        };
        let counter = match verdict {
            Verdict::Discard => &self.shared.frames_dropped,
            Verdict::Deliver(_) => &self.shared.frames_forwarded,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_decisions_are_a_function_of_the_seed() {
        let pattern = |seed: u64| -> Vec<bool> {
            let link = LinkHandle::new(NodeId(1), NodeId(2), seed);
            link.set(LinkFault::Loss { probability: 0.5 });
            (0..200)
                .map(|_| link.judge(Direction::Forward) == Verdict::Discard)
                .collect()
        };
        assert_eq!(pattern(7), pattern(7));
        assert_ne!(pattern(7), pattern(8));
    }

    #[test]
    fn backward_traffic_does_not_shift_forward_choices() {
        let link_a = LinkHandle::new(NodeId(1), NodeId(2), 3);
        let link_b = LinkHandle::new(NodeId(1), NodeId(2), 3);
        for link in [&link_a, &link_b] {
            link.set(LinkFault::Loss { probability: 0.5 });
        }
        let mut forward_a = Vec::new();
        let mut forward_b = Vec::new();
        for _ in 0..100 {
            forward_a.push(link_a.judge(Direction::Forward));
            let _ = link_b.judge(Direction::Backward);
            forward_b.push(link_b.judge(Direction::Forward));
        }
        assert_eq!(forward_a, forward_b);
    }

    #[test]
    fn delay_stays_within_mean_plus_minus_jitter_and_counts() {
        let link = LinkHandle::new(NodeId(2), NodeId(1), 11);
        link.set(LinkFault::Delay {
            mean_ms: 20,
            jitter_ms: 5,
        });
        for _ in 0..100 {
            match link.judge(Direction::Forward) {
                Verdict::Deliver(delay) => {
                    assert!(
                        delay >= Duration::from_millis(15) && delay <= Duration::from_millis(25)
                    )
                }
                Verdict::Discard => panic!("delay must never discard"),
            }
        }
        link.set(LinkFault::Drop);
        assert_eq!(link.judge(Direction::Backward), Verdict::Discard);
        assert_eq!(
            link.stats(),
            LinkStats {
                frames_forwarded: 100,
                frames_dropped: 1
            }
        );
    }

    #[test]
    #[should_panic(expected = "outside 0..=1")]
    fn loss_probability_out_of_range_is_a_bug() {
        LinkHandle::new(NodeId(1), NodeId(2), 0).set(LinkFault::Loss { probability: 1.5 });
    }
}
