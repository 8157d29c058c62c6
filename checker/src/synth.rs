//! Synthetic linearizable histories, for property tests and benchmarks.
//!
//! Operations are executed one after another against a sequential map (that order is the linearization),
//! and each gets an interval around its linearization point: the invocation is some time before, the
//! completion some time after, and each client's operations never overlap each other. With many clients
//! the intervals overlap heavily, but the history is linearizable by construction: each op's interval
//! strictly contains its linearization point, and those points are in execution order. Optionally some
//! operations fail (no effect), complete `info` (effect applied or not, at random) or never complete.
//! Everything derives from one seed.

use crate::history::{Event, EventType, Function, History, ERROR_MISMATCH};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value as Json;
use std::collections::HashMap;

/// Relative weights of the functions generated (0 disables one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mix {
    /// Reads.
    pub read: u32,
    /// Writes.
    pub write: u32,
    /// Compare-and-sets (half of them expect the current value).
    pub cas: u32,
    /// Deletes.
    pub delete: u32,
    /// String appends.
    pub append: u32,
}

impl Mix {
    /// Every kv function.
    pub const KV: Mix = Mix {
        read: 40,
        write: 25,
        cas: 20,
        delete: 5,
        append: 10,
    };
    /// Read and write only (the register model).
    pub const REGISTER: Mix = Mix {
        read: 60,
        write: 40,
        cas: 0,
        delete: 0,
        append: 0,
    };
    /// Read, write and cas (the cas-register model).
    pub const CAS_REGISTER: Mix = Mix {
        read: 50,
        write: 25,
        cas: 25,
        delete: 0,
        append: 0,
    };
}

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SynthConfig {
    /// Root seed: the same config gives the same history.
    pub seed: u64,
    /// Number of operations.
    pub ops: usize,
    /// Number of keys (`"k0"`, `"k1"`, ...); 0 generates key-less operations (register models).
    pub keys: usize,
    /// Number of concurrent clients.
    pub clients: usize,
    /// Function weights.
    pub mix: Mix,
    /// Probability that an operation fails without effect.
    pub fail_probability: f64,
    /// Probability that an operation is indeterminate (`info`, or no completion at all at the end).
    pub info_probability: f64,
    /// Ns between consecutive linearization points.
    pub spacing_ns: u64,
}

impl SynthConfig {
    /// A kv history with every function and a little failure and indeterminacy.
    pub fn kv(seed: u64, ops: usize, keys: usize, clients: usize) -> SynthConfig {
        SynthConfig {
            seed,
            ops,
            keys,
            clients,
            mix: Mix::KV,
            fail_probability: 0.02,
            info_probability: 0.02,
            spacing_ns: 1_000,
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Read,
    Write,
    Cas,
    Delete,
    Append,
}

struct Client {
    process: u64,
    /// Time after which the client may invoke again.
    free_at: u64,
}

/// Generates a linearizable history.
pub fn generate(config: &SynthConfig) -> History {
    assert!(config.clients > 0, "at least one client");
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let total_weight =
        config.mix.read + config.mix.write + config.mix.cas + config.mix.delete + config.mix.append;
    assert!(total_weight > 0, "at least one function has a weight");
    let mut clients: Vec<Client> = (0..config.clients as u64)
        .map(|process| Client {
            process,
            free_at: 0,
        })
        .collect();
    let mut next_process = config.clients as u64;
    let mut state: HashMap<Option<usize>, Json> = HashMap::new();
    // (time, tie-break, event): sorted at the end.
    let mut timed: Vec<(u64, u64, Event)> = Vec::with_capacity(2 * config.ops);
    let mut counter: u64 = 0;
    // The spread of intervals: wide enough that about `clients` operations overlap.
    let spread = config.spacing_ns * config.clients as u64;
    for i in 0..config.ops {
        let point = (i as u64 + 1) * config.spacing_ns * 2 + spread;
        // A client that is free before this linearization point.
        let free: Vec<usize> = (0..clients.len())
            .filter(|&c| clients[c].free_at < point)
            .collect();
        let Some(&c) = free.get(rng.gen_range(0..free.len().max(1))) else {
            continue;
        };
        let key = (config.keys > 0).then(|| rng.gen_range(0..config.keys));
        let mut roll = rng.gen_range(0..total_weight);
        let mut kind = Kind::Read;
        for (weight, candidate) in [
            (config.mix.read, Kind::Read),
            (config.mix.write, Kind::Write),
            (config.mix.cas, Kind::Cas),
            (config.mix.delete, Kind::Delete),
            (config.mix.append, Kind::Append),
        ] {
            if roll < weight {
                kind = candidate;
                break;
            }
            roll -= weight;
        }
        counter += 1;
        let current = state.get(&key).cloned().unwrap_or(Json::Null);
        let fresh = Json::from(format!("v{counter}"));
        let (f, argument) = match kind {
            Kind::Read => (Function::Read, Json::Null),
            Kind::Write => (Function::Write, fresh.clone()),
            Kind::Cas => {
                let expected = if rng.gen_bool(0.5) {
                    current.clone()
                } else {
                    Json::from(format!("v{}", rng.gen_range(0..counter)))
                };
                (Function::Cas, Json::Array(vec![expected, fresh.clone()]))
            }
            Kind::Delete => (Function::Delete, Json::Null),
            Kind::Append => (Function::Append, Json::from(format!("a{counter};"))),
        };
        // Strictly after the client's previous completion, at or before the linearization point.
        let call = point - rng.gen_range(0..=(point - clients[c].free_at - 1).min(spread));
        let ret = point + rng.gen_range(1..=spread.max(1));
        let fails = rng.gen_bool(config.fail_probability);
        let indeterminate = !fails && rng.gen_bool(config.info_probability);
        let takes_effect = !fails && (!indeterminate || rng.gen_bool(0.5));
        // Execute at the linearization point.
        let (kind_done, result, error) = match kind {
            Kind::Read => (EventType::Ok, current.clone(), None),
            Kind::Cas => {
                let expected = &argument[0];
                if *expected == current {
                    if takes_effect {
                        state.insert(key, fresh.clone());
                    }
                    (EventType::Ok, argument.clone(), None)
                } else {
                    (EventType::Fail, argument.clone(), Some(ERROR_MISMATCH))
                }
            }
            Kind::Write | Kind::Delete | Kind::Append => {
                if takes_effect {
                    let next = match kind {
                        Kind::Write => fresh.clone(),
                        Kind::Delete => Json::Null,
                        _ => {
                            let prefix = current.as_str().unwrap_or("").to_string();
                            let tail = argument.as_str().unwrap_or("");
                            Json::from(prefix + tail)
                        }
                    };
                    if next.is_null() {
                        state.remove(&key);
                    } else {
                        state.insert(key, next);
                    }
                }
                (EventType::Ok, argument.clone(), None)
            }
        };
        let process = clients[c].process;
        let with_key = |event: Event| match key {
            Some(k) => event.with_key(format!("k{k}")),
            None => event,
        };
        timed.push((
            call,
            0,
            with_key(Event::client(
                0,
                EventType::Invoke,
                process,
                f.clone(),
                argument.clone(),
                call,
            )),
        ));
        let completion = if fails {
            Some(
                with_key(Event::client(0, EventType::Fail, process, f, argument, ret))
                    .with_error("unavailable"),
            )
        } else if indeterminate {
            // A mismatching cas that was "indeterminate" still had no effect: record it as info anyway.
            Some(
                with_key(Event::client(0, EventType::Info, process, f, argument, ret))
                    .with_error("timeout"),
            )
        } else {
            let mut event = with_key(Event::client(0, kind_done, process, f, result, ret));
            event.error = error.map(str::to_string);
            Some(event)
        };
        if indeterminate {
            // Jepsen retires a process after info; its successor gets a fresh id.
            clients[c].process = next_process;
            next_process += 1;
            // Half of the indeterminate ops never complete at all (the client crashed).
            if rng.gen_bool(0.5) {
                clients[c].free_at = ret;
                continue;
            }
        }
        if let Some(event) = completion {
            timed.push((ret, 1, event));
        }
        clients[c].free_at = ret;
    }
    timed.sort_by_key(|(time, tie, _)| (*time, *tie));
    let events = timed
        .into_iter()
        .enumerate()
        .map(|(index, (_, _, mut event))| {
            event.index = index as u64;
            event
        })
        .collect();
    History::new(events).expect("synthetic histories are well-formed by construction")
}
