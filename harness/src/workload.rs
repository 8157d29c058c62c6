//! Workloads: what the clients ask of the cluster. A [`Generator`] turns a seeded RNG into a stream of
//! [`OpSpec`]s for one client; the same seed and worker number always give the same stream.
//!
//! - `register`: one key, reads, writes and compare-and-sets of small integers (Jepsen's cas-register);
//! - `kv`: `keys` keys, reads, writes, compare-and-sets and deletes, checked per key.
//!
//! Values are small integers so that compare-and-set often succeeds; they are stored on the server as
//! their decimal text and recorded in the history as JSON integers.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The largest value a write or cas writes (values are 0..=VALUE_MAX).
pub const VALUE_MAX: i64 = 4;

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
}

impl Generator {
    /// The generator of client `worker` in a run with root seed `seed`.
    pub fn new(config: WorkloadConfig, seed: u64, worker: u64) -> Generator {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(worker.wrapping_add(1));
        Generator { rng, config }
    }

    /// The next operation: 40% reads, 30% writes, 25% (register: 30%) cas, 5% deletes (kv only).
    pub fn next_op(&mut self) -> OpSpec {
        let key = self.rng.gen_range(0..self.config.key_count()).to_string();
        let roll = self.rng.gen_range(0..100);
        let value = self.rng.gen_range(0..=VALUE_MAX);
        match roll {
            0..=39 => OpSpec::Read { key },
            40..=69 => OpSpec::Write { key, value },
            70..=94 => OpSpec::Cas {
                key,
                expected: self.rng.gen_range(0..=VALUE_MAX),
                new: value,
            },
            _ if self.config.kind == WorkloadKind::Kv => OpSpec::Delete { key },
            _ => OpSpec::Cas {
                key,
                expected: self.rng.gen_range(0..=VALUE_MAX),
                new: value,
            },
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
    fn unknown_workload_names_the_known_ones() {
        let err = "bank".parse::<WorkloadKind>().err().unwrap_or_default();
        assert!(err.contains("bank") && err.contains("register") && err.contains("kv"));
    }
}
