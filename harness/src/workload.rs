//! Workloads: what the clients ask of the cluster. A [`Generator`] turns a seeded RNG into a stream of
//! [`OpSpec`]s for one client; the same seed and worker number always give the same stream.
//!
//! - `register`: one key, reads, writes and compare-and-sets of small integers (Jepsen's cas-register);
//! - `kv`: `keys` keys, reads, writes, compare-and-sets and deletes, checked per key.
//!
//! Every value a client writes (write, or the new value of a cas) is unique in the run, so a write that is
//! applied twice (a retry the server failed to deduplicate) or a read of a value nobody wrote cannot hide
//! behind another write of the same value. A compare-and-set expects the value this client last saw for
//! the key (or a value from a small range when it saw none), so that many of them succeed. Values are
//! stored on the server as their decimal text and recorded in the history as JSON integers.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The largest value a cas expects when its client has not seen the key yet (0..=VALUE_MAX).
pub const VALUE_MAX: i64 = 4;
/// Unique values are `(worker + 1) * VALUES_PER_WORKER + n`.
pub const VALUES_PER_WORKER: i64 = 1_000_000_000;

/// Which workload to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// One key: read, write, cas.
    Register,
    /// Many keys: read, write, cas, delete.
    Kv,
}

impl WorkloadKind {
    /// The checker model that fits the workload.
    pub fn model_name(self) -> &'static str {
        match self {
            WorkloadKind::Register => "cas-register",
            WorkloadKind::Kv => "kv",
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WorkloadKind::Register => "register",
            WorkloadKind::Kv => "kv",
        })
    }
}

impl FromStr for WorkloadKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "register" => Ok(WorkloadKind::Register),
            "kv" => Ok(WorkloadKind::Kv),
            other => Err(format!("unknown workload '{other}' (known: register, kv)")),
        }
    }
}

/// The shape of a workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadConfig {
    /// Which workload.
    pub kind: WorkloadKind,
    /// Number of keys (1 for `register`).
    pub keys: usize,
}

impl WorkloadConfig {
    /// The keys the workload touches, as recorded in the history.
    pub fn key_names(&self) -> Vec<String> {
        (0..self.key_count()).map(|k| k.to_string()).collect()
    }

    /// How many keys the workload touches.
    pub fn key_count(&self) -> usize {
        match self.kind {
            WorkloadKind::Register => 1,
            WorkloadKind::Kv => self.keys.max(1),
        }
    }
}

/// One operation to perform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpSpec {
    /// Read `key`.
    Read {
        /// The key.
        key: String,
    },
    /// Write `value` to `key`.
    Write {
        /// The key.
        key: String,
        /// The value.
        value: i64,
    },
    /// Set `key` to `new` if it holds `expected`.
    Cas {
        /// The key.
        key: String,
        /// The value that must be there.
        expected: i64,
        /// The value to set.
        new: i64,
    },
    /// Delete `key`.
    Delete {
        /// The key.
        key: String,
    },
}

impl OpSpec {
    /// The key the operation touches.
    pub fn key(&self) -> &str {
        match self {
            OpSpec::Read { key }
            | OpSpec::Write { key, .. }
            | OpSpec::Cas { key, .. }
            | OpSpec::Delete { key } => key,
        }
    }
}

/// A seeded stream of operations for one client.
#[derive(Clone, Debug)]
pub struct Generator {
    rng: ChaCha8Rng,
    config: WorkloadConfig,
    worker: u64,
    written: i64,
    last_seen: std::collections::BTreeMap<String, i64>,
}

impl Generator {
    /// The generator of client `worker` in a run with root seed `seed`.
    pub fn new(config: WorkloadConfig, seed: u64, worker: u64) -> Generator {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(worker.wrapping_add(1));
        Generator {
            rng,
            config,
            worker,
            written: 0,
            last_seen: std::collections::BTreeMap::new(),
        }
    }

    /// A value no other write of the run uses.
    fn unique_value(&mut self) -> i64 {
        self.written += 1;
        (self.worker as i64 + 1) * VALUES_PER_WORKER + self.written
    }

    /// Tells the generator what this client learnt about `key` (a read, or its own write); a cas then
    /// expects that value.
    pub fn observe(&mut self, key: &str, value: Option<i64>) {
        match value {
            Some(v) => self.last_seen.insert(key.to_string(), v),
            None => self.last_seen.remove(key),
        };
    }

    /// The next operation: 40% reads, 30% writes, 25% (register: 30%) cas, 5% deletes (kv only).
    pub fn next_op(&mut self) -> OpSpec {
        let key = self.rng.gen_range(0..self.config.key_count()).to_string();
        let roll = self.rng.gen_range(0..100);
        let guess = self.rng.gen_range(0..=VALUE_MAX);
        match roll {
            0..=39 => OpSpec::Read { key },
            40..=69 => OpSpec::Write {
                key,
                value: self.unique_value(),
            },
            95.. if self.config.kind == WorkloadKind::Kv => OpSpec::Delete { key },
            _ => {
                let expected = self.last_seen.get(&key).copied().unwrap_or(guess);
                OpSpec::Cas {
                    key,
                    expected,
                    new: self.unique_value(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(keys: usize) -> WorkloadConfig {
        WorkloadConfig {
            kind: WorkloadKind::Kv,
            keys,
        }
    }

    #[test]
    fn same_seed_and_worker_give_the_same_stream() {
        let mut a = Generator::new(kv(5), 42, 3);
        let mut b = Generator::new(kv(5), 42, 3);
        let mut c = Generator::new(kv(5), 42, 4);
        let first: Vec<OpSpec> = (0..50).map(|_| a.next_op()).collect();
        let second: Vec<OpSpec> = (0..50).map(|_| b.next_op()).collect();
        let other: Vec<OpSpec> = (0..50).map(|_| c.next_op()).collect();
        assert_eq!(first, second);
        assert_ne!(first, other);
    }

    #[test]
    fn kv_uses_every_key_and_every_function_register_never_deletes() {
        let mut g = Generator::new(kv(4), 7, 0);
        let ops: Vec<OpSpec> = (0..2000).map(|_| g.next_op()).collect();
        for k in 0..4 {
            assert!(ops.iter().any(|op| op.key() == k.to_string()));
        }
        assert!(ops.iter().any(|op| matches!(op, OpSpec::Delete { .. })));
        assert!(ops.iter().any(|op| matches!(op, OpSpec::Cas { .. })));
        let register = WorkloadConfig {
            kind: WorkloadKind::Register,
            keys: 9,
        };
        let mut g = Generator::new(register, 7, 0);
        let ops: Vec<OpSpec> = (0..2000).map(|_| g.next_op()).collect();
        assert!(ops.iter().all(|op| op.key() == "0"));
        assert!(!ops.iter().any(|op| matches!(op, OpSpec::Delete { .. })));
    }

    #[test]
    fn written_values_are_unique_and_cas_expects_what_was_seen() {
        let mut a = Generator::new(kv(1), 9, 0);
        let mut b = Generator::new(kv(1), 9, 1);
        a.observe("0", Some(77));
        let mut written = std::collections::BTreeSet::new();
        let mut cas_expected_seen = false;
        for _ in 0..500 {
            for op in [a.next_op(), b.next_op()] {
                match op {
                    OpSpec::Write { value, .. } => assert!(written.insert(value), "{value} twice"),
                    OpSpec::Cas { expected, new, .. } => {
                        assert!(written.insert(new), "{new} twice");
                        cas_expected_seen |= expected == 77;
                    }
                    _ => {}
                }
            }
        }
        assert!(
            cas_expected_seen,
            "a cas must expect the value its client saw"
        );
    }

    #[test]
    fn unknown_workload_names_the_known_ones() {
        let err = "bank".parse::<WorkloadKind>().err().unwrap_or_default();
        assert!(err.contains("bank") && err.contains("register") && err.contains("kv"));
    }
}
