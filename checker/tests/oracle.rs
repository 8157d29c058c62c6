//! The main checker against the stateright oracle ([`checker::oracle`]) on many small random histories.
//!
//! Each history comes from its own seed: a sequential run of a few processes with overlapping intervals
//! around the linearization points (so linearizable, with failures and indeterminate operations), then,
//! for most seeds, a few mutations that usually break it (a read sees another value, a cas outcome
//! flips, two operations swap their effects, a write changes its value, an operation becomes
//! indeterminate). Both checkers must agree on every one, with and without explain mode.
//!
//! `ORACLE_SEED=<n>` replays from seed n (one history unless `ORACLE_RUNS` says more); `ORACLE_RUNS=<n>`
//! widens the run. A disagreement prints the seed and the history as JSON Lines.

use checker::history::{Event, EventType, Function, History, Process, ERROR_MISMATCH};
use checker::models::{CasRegister, Kv, Register};
use checker::oracle::{self, OracleModel};
use checker::{check_history, CheckOptions, CheckResult, Verdict};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::time::Instant;

const DEFAULT_SEED: u64 = 0x5eed_0ac1e;
const DEFAULT_RUNS: u64 = 20_000;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|e| panic!("{name}={v:?}: {e}")))
}

/// One operation of the generated run, before it becomes events.
#[derive(Clone, Debug)]
struct GenOp {
    process: u64,
    f: Function,
    key: Option<String>,
    /// Invocation value.
    value: Json,
    /// Completion: type, value, error; `None` = never completes.
    completion: Option<(EventType, Json, Option<String>)>,
    invoke_time: u64,
    return_time: u64,
}

fn random_value(rng: &mut ChaCha8Rng, model: OracleModel) -> Json {
    match (model, rng.gen_range(0..6)) {
        (_, 0) => Json::Null,
        (OracleModel::Kv, 1) => json!("x"),
        (_, n) => json!(n % 3),
    }
}

/// A linearizable history by construction (see the module doc).
fn sequential_run(rng: &mut ChaCha8Rng, model: OracleModel) -> Vec<GenOp> {
    let processes = rng.gen_range(2..=4u64);
    let op_count = rng.gen_range(4..=10usize);
    let keys: Vec<String> = match model {
        OracleModel::Kv => (0..rng.gen_range(1..=2)).map(|k| format!("k{k}")).collect(),
        _ => vec![String::new()],
    };
    let mut state: BTreeMap<String, Json> = BTreeMap::new();
    // Per process: the earliest time it may invoke again (`u64::MAX` once it has an op that never ends).
    let mut free_at = vec![0u64; processes as usize];
    let mut point = 0u64;
    let mut ops = Vec::new();
    for _ in 0..op_count {
        point += rng.gen_range(20..120);
        let free: Vec<u64> = (0..processes)
            .filter(|&p| free_at[p as usize] < point)
            .collect();
        let process = if free.is_empty() {
            let Some((p, &at)) = free_at
                .iter()
                .enumerate()
                .filter(|(_, &at)| at != u64::MAX)
                .min_by_key(|(_, &at)| at)
            else {
                break; // every process has an operation that never ends
            };
            point = at + rng.gen_range(1..50);
            p as u64
        } else {
            free[rng.gen_range(0..free.len())]
        };
        let invoke_time =
            rng.gen_range(free_at[process as usize].max(point.saturating_sub(150))..point);
        let return_time = rng.gen_range(point + 1..point + 150);
        let key = keys[rng.gen_range(0..keys.len())].clone();
        let current = state.get(&key).cloned().unwrap_or(Json::Null);
        let kinds: &[Function] = match model {
            OracleModel::Register => &[Function::Read, Function::Write],
            OracleModel::CasRegister => &[Function::Read, Function::Write, Function::Cas],
            OracleModel::Kv => &[
                Function::Read,
                Function::Write,
                Function::Cas,
                Function::Delete,
                Function::Append,
            ],
        };
        let f = kinds[rng.gen_range(0..kinds.len())].clone();
        // What the operation would do, and whether it can complete ok.
        let (value, next, ok_value, executes) = match f {
            Function::Read => (Json::Null, current.clone(), current.clone(), true),
            Function::Write => {
                let v = random_value(rng, model);
                (v.clone(), v.clone(), v, true)
            }
            Function::Cas => {
                let expected = if rng.gen_bool(0.5) {
                    current.clone()
                } else {
                    random_value(rng, model)
                };
                let new = random_value(rng, model);
                let matches = expected == current;
                let value = json!([expected, new]);
                (
                    value.clone(),
                    if matches { new } else { current.clone() },
                    value,
                    matches,
                )
            }
            Function::Delete => (Json::Null, Json::Null, Json::Null, true),
            _ => {
                let suffix = if rng.gen_bool(0.5) { "a" } else { "b" };
                match &current {
                    Json::Null => (json!(suffix), json!(suffix), json!(suffix), true),
                    Json::String(s) => (
                        json!(suffix),
                        json!(format!("{s}{suffix}")),
                        json!(suffix),
                        true,
                    ),
                    _ => (json!(suffix), current.clone(), json!(suffix), false),
                }
            }
        };
        let roll = rng.gen_range(0..100);
        let (completion, applied) = if roll < 8 {
            // Indeterminate: took effect or not; sometimes it never completes at all.
            let applied = executes && rng.gen_bool(0.5);
            let completion = if rng.gen_bool(0.5) {
                Some((EventType::Info, value.clone(), None))
            } else {
                None
            };
            (completion, applied)
        } else if roll < 13 || (!executes && f != Function::Cas) {
            (
                Some((EventType::Fail, value.clone(), Some("timeout".to_string()))),
                false,
            )
        } else if !executes {
            (
                Some((
                    EventType::Fail,
                    value.clone(),
                    Some(ERROR_MISMATCH.to_string()),
                )),
                false,
            )
        } else {
            (Some((EventType::Ok, ok_value, None)), true)
        };
        if applied {
            state.insert(key.clone(), next);
        }
        free_at[process as usize] = if completion.is_some() {
            return_time + 1
        } else {
            u64::MAX
        };
        let key = (model == OracleModel::Kv).then_some(key);
        ops.push(GenOp {
            process,
            f,
            key,
            value,
            completion,
            invoke_time,
            return_time,
        });
    }
    ops
}

/// Applies one random mutation; returns its name.
fn mutate(rng: &mut ChaCha8Rng, model: OracleModel, ops: &mut [GenOp]) -> &'static str {
    let pick = |rng: &mut ChaCha8Rng, ops: &[GenOp], want: &dyn Fn(&GenOp) -> bool| {
        let found: Vec<usize> = (0..ops.len()).filter(|&i| want(&ops[i])).collect();
        (!found.is_empty()).then(|| found[rng.gen_range(0..found.len())])
    };
    let completed = |op: &GenOp| matches!(op.completion, Some((EventType::Ok, ..)));
    match rng.gen_range(0..5) {
        0 => {
            let Some(i) = pick(rng, ops, &|op| op.f == Function::Read && completed(op)) else {
                return "none";
            };
            if let Some((_, seen, _)) = &mut ops[i].completion {
                *seen = random_value(rng, model);
            }
            "read-value"
        }
        1 => {
            // A cas that completed ok or with "mismatch" (not a plain failure or an indeterminate one).
            let decided_cas = |op: &GenOp| {
                op.f == Function::Cas
                    && op.completion.as_ref().is_some_and(|(kind, _, error)| {
                        *kind == EventType::Ok || error.as_deref() == Some(ERROR_MISMATCH)
                    })
            };
            let Some(i) = pick(rng, ops, &decided_cas) else {
                return "none";
            };
            let value = ops[i].value.clone();
            let flipped = match &ops[i].completion {
                Some((EventType::Ok, ..)) => {
                    (EventType::Fail, value, Some(ERROR_MISMATCH.to_string()))
                }
                _ => (EventType::Ok, value, None),
            };
            ops[i].completion = Some(flipped);
            "cas-flip"
        }
        2 => {
            // Two completed operations swap what they did (keeping processes and times): reorders effects.
            let Some(i) = pick(rng, ops, &completed) else {
                return "none";
            };
            let Some(j) = pick(rng, ops, &|op| completed(op)) else {
                return "none";
            };
            let (a, b) = (ops[i].clone(), ops[j].clone());
            for (target, source) in [(i, &b), (j, &a)] {
                ops[target].f = source.f.clone();
                ops[target].key = source.key.clone();
                ops[target].value = source.value.clone();
                ops[target].completion = source.completion.clone();
            }
            "swap"
        }
        3 => {
            let Some(i) = pick(rng, ops, &|op| op.f == Function::Write && completed(op)) else {
                return "none";
            };
            let v = random_value(rng, model);
            ops[i].value = v.clone();
            ops[i].completion = Some((EventType::Ok, v, None));
            "write-value"
        }
        _ => {
            let Some(i) = pick(rng, ops, &|op| op.completion.is_some()) else {
                return "none";
            };
            let value = ops[i].value.clone();
            ops[i].completion = Some((EventType::Info, value, None));
            "indeterminate"
        }
    }
}

fn to_history(ops: &[GenOp]) -> History {
    let mut timed: Vec<(u64, usize, Event)> = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        let event = |kind, value: &Json, error: &Option<String>, time| Event {
            index: 0,
            kind,
            process: Process::Client(op.process),
            f: op.f.clone(),
            key: op.key.clone(),
            value: value.clone(),
            time,
            node: None,
            error: error.clone(),
        };
        timed.push((
            op.invoke_time,
            2 * n,
            event(EventType::Invoke, &op.value, &None, op.invoke_time),
        ));
        if let Some((kind, value, error)) = &op.completion {
            timed.push((
                op.return_time,
                2 * n + 1,
                event(*kind, value, error, op.return_time),
            ));
        }
    }
    timed.sort_by_key(|(time, order, _)| (*time, *order));
    let events = timed
        .into_iter()
        .enumerate()
        .map(|(index, (_, _, mut event))| {
            event.index = index as u64;
            event
        })
        .collect();
    History::new(events).expect("generated histories are well-formed")
}

fn jsonl(history: &History) -> String {
    let mut out = Vec::new();
    history.write_jsonl(&mut out).expect("writing to memory");
    String::from_utf8(out).expect("JSON is UTF-8")
}

fn check(model: OracleModel, history: &History, explain: bool) -> CheckResult {
    let options = CheckOptions {
        explain,
        ..CheckOptions::default()
    };
    match model {
        OracleModel::Register => check_history(&Register, history, &options),
        OracleModel::CasRegister => check_history(&CasRegister, history, &options),
        OracleModel::Kv => check_history(&Kv, history, &options),
    }
    .expect("generated histories decode")
}

#[test]
fn checker_agrees_with_stateright_oracle() {
    let replay = env_u64("ORACLE_SEED");
    let root = replay.unwrap_or(DEFAULT_SEED);
    let runs = env_u64("ORACLE_RUNS").unwrap_or(if replay.is_some() { 1 } else { DEFAULT_RUNS });
    let started = Instant::now();
    let mut counts: BTreeMap<(&str, String), u64> = BTreeMap::new();
    for run in 0..runs {
        let seed = root.wrapping_add(run);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let model = [
            OracleModel::Register,
            OracleModel::CasRegister,
            OracleModel::Kv,
        ][rng.gen_range(0..3)];
        let mut ops = sequential_run(&mut rng, model);
        let mut mutations = Vec::new();
        if rng.gen_bool(0.6) {
            for _ in 0..rng.gen_range(1..=2) {
                mutations.push(mutate(&mut rng, model, &mut ops));
            }
        }
        let history = to_history(&ops);
        let expected =
            oracle::verdict(model, &history).expect("the oracle judges generated histories");
        if mutations.is_empty() {
            assert_eq!(expected, Verdict::Ok, "an unmutated run is linearizable by construction; the oracle says otherwise. ORACLE_SEED={seed}\n{}", jsonl(&history));
        }
        for explain in [false, true] {
            let result = check(model, &history, explain);
            assert_eq!(
                result.verdict,
                expected,
                "checker (explain={explain}) disagrees with the stateright oracle ({model:?}, mutations {mutations:?}).\n\
                 replay: ORACLE_SEED={seed} cargo test -p checker --test oracle\nhistory:\n{}",
                jsonl(&history)
            );
            if explain {
                for partition in result.partitions_with(Verdict::Illegal) {
                    assert!(
                        !partition.partials.is_empty(),
                        "explain mode gives no partial linearization. ORACLE_SEED={seed}"
                    );
                }
            }
        }
        *counts
            .entry((
                if mutations.is_empty() {
                    "run"
                } else {
                    "mutated"
                },
                format!("{expected:?}"),
            ))
            .or_default() += 1;
    }
    eprintln!(
        "{runs} histories from seed {root} in {:?}: {counts:?}",
        started.elapsed()
    );
    if replay.is_none() {
        let of = |verdict: Verdict| {
            counts
                .iter()
                .filter(|((_, v), _)| *v == format!("{verdict:?}"))
                .map(|(_, n)| n)
                .sum::<u64>()
        };
        assert!(
            of(Verdict::Ok) >= runs / 5,
            "too few Ok histories: {counts:?}"
        );
        assert!(
            of(Verdict::Illegal) >= runs / 10,
            "too few Illegal histories: {counts:?}"
        );
    }
}
