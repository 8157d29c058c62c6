//! The search on small known cases: indeterminate operations, cas mismatch constraints, partitions,
//! explain mode, limits, nondeterministic models and shrinking.

use checker::history::History;
use checker::models::{CasRegister, Kv, Register};
use checker::shrink::{shrink, ShrinkOptions};
use checker::{
    check_history, check_operations, operations, CheckOptions, Model, Operation, Partition, Steps,
    UnknownReason, Verdict,
};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// Builds a history from compact lines: `P invoke|ok|fail|info|mismatch F [KEY] VALUE`, one per line,
/// times increasing.
fn history(spec: &str) -> History {
    let mut lines = Vec::new();
    for (time, raw) in spec
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let parts: Vec<&str> = raw.split_whitespace().collect();
        let (process, kind, f) = (parts[0], parts[1], parts[2]);
        let (key, value) = if parts.len() == 5 {
            (Some(parts[3]), parts[4])
        } else {
            (None, parts[3])
        };
        let (kind, error) = match kind {
            "mismatch" => ("fail", Some("mismatch")),
            other => (other, None),
        };
        let mut event = serde_json::json!({
            "type": kind, "process": process.parse::<u64>().expect("process"), "f": f,
            "value": serde_json::from_str::<serde_json::Value>(value).expect("JSON value"), "time": time,
        });
        if let Some(key) = key {
            event["key"] = key.into();
        }
        if let Some(error) = error {
            event["error"] = error.into();
        }
        lines.push(event.to_string());
    }
    History::from_jsonl_str(&lines.join("\n")).expect("well-formed test history")
}

fn verdict(spec: &str) -> Verdict {
    check_history(&CasRegister, &history(spec), &CheckOptions::default())
        .expect("decodes")
        .verdict
}

#[test]
fn sequential_and_concurrent_basics() {
    assert_eq!(
        verdict("0 invoke write 1\n0 ok write 1\n1 invoke read null\n1 ok read 1"),
        Verdict::Ok
    );
    assert_eq!(
        verdict("0 invoke write 1\n0 ok write 1\n1 invoke read null\n1 ok read null"),
        Verdict::Illegal
    );
    // A read concurrent with a write may see either value.
    let concurrent = "0 invoke write 1\n1 invoke read null\n1 ok read VALUE\n0 ok write 1";
    assert_eq!(verdict(&concurrent.replace("VALUE", "null")), Verdict::Ok);
    assert_eq!(verdict(&concurrent.replace("VALUE", "1")), Verdict::Ok);
    assert_eq!(verdict(&concurrent.replace("VALUE", "2")), Verdict::Illegal);
}

#[test]
fn indeterminate_write_may_take_effect_late_or_never_but_only_once() {
    let prefix = "0 invoke write 1\n0 ok write 1\n1 invoke write 2\n1 info write 2\n";
    // Never took effect.
    assert_eq!(
        verdict(&format!("{prefix}0 invoke read null\n0 ok read 1")),
        Verdict::Ok
    );
    // Took effect long after its info.
    assert_eq!(
        verdict(&format!(
            "{prefix}0 invoke read null\n0 ok read 1\n0 invoke read null\n0 ok read 2"
        )),
        Verdict::Ok
    );
    // Took effect, then the old value came back: impossible.
    assert_eq!(
        verdict(&format!(
            "{prefix}0 invoke read null\n0 ok read 2\n0 invoke read null\n0 ok read 1"
        )),
        Verdict::Illegal
    );
    // An invoke with no completion at all behaves the same.
    assert_eq!(
        verdict(
            "0 invoke write 1\n0 ok write 1\n1 invoke write 2\n0 invoke read null\n0 ok read 2"
        ),
        Verdict::Ok
    );
}

#[test]
fn cas_mismatch_is_a_constraint_and_other_failures_are_dropped() {
    let set = "0 invoke write 1\n0 ok write 1\n";
    assert_eq!(
        verdict(&format!("{set}1 invoke cas [1,2]\n1 mismatch cas [1,2]")),
        Verdict::Illegal
    );
    assert_eq!(
        verdict(&format!("{set}1 invoke cas [3,2]\n1 mismatch cas [3,2]")),
        Verdict::Ok
    );
    assert_eq!(
        verdict(&format!(
            "{set}1 invoke cas [1,2]\n1 fail cas [1,2]\n0 invoke read null\n0 ok read 1"
        )),
        Verdict::Ok
    );
    assert_eq!(
        verdict(&format!(
            "{set}1 invoke cas [1,2]\n1 ok cas [1,2]\n0 invoke read null\n0 ok read 2"
        )),
        Verdict::Ok
    );
    assert_eq!(
        verdict(&format!("{set}1 invoke cas [5,2]\n1 ok cas [5,2]")),
        Verdict::Illegal
    );
}

#[test]
fn register_model_checks_reads_and_writes() {
    let h = history("0 invoke write 1\n1 invoke write 2\n0 ok write 1\n1 ok write 2\n2 invoke read null\n2 ok read 1");
    assert_eq!(
        check_history(&Register, &h, &CheckOptions::default())
            .expect("decodes")
            .verdict,
        Verdict::Ok
    );
}

const TWO_KEYS: &str = "
    0 invoke write a 1
    0 ok write a 1
    1 invoke write b 1
    1 ok write b 1
    1 invoke write b 2
    1 ok write b 2
    2 invoke read b null
    2 ok read b 1
    2 invoke read a null
    2 ok read a 1";

#[test]
fn kv_checks_each_key_and_explains_the_illegal_one() {
    let h = history(TWO_KEYS);
    let options = CheckOptions {
        explain: true,
        ..CheckOptions::default()
    };
    let result = check_history(&Kv, &h, &options).expect("decodes");
    assert_eq!(result.verdict, Verdict::Illegal);
    let labels: Vec<(&str, Verdict)> = result
        .partitions
        .iter()
        .map(|p| (p.label.as_str(), p.verdict))
        .collect();
    assert_eq!(
        labels,
        vec![("key \"a\"", Verdict::Ok), ("key \"b\"", Verdict::Illegal)]
    );
    let bad = &result.partitions[1];
    let longest = bad
        .partials
        .first()
        .expect("explain mode records partial linearizations");
    // Both writes of b linearize; the stale read cannot be placed after them.
    let placed: Vec<&str> = longest
        .steps
        .iter()
        .map(|s| result.ops[s.op].description.as_str())
        .collect();
    assert_eq!(placed, vec!["\"b\" write(1)", "\"b\" write(2)"]);
    assert_eq!(longest.steps[1].state_after, "2");
    assert_eq!(
        result.ops[longest.blocked_op].description,
        "\"b\" read() -> 1"
    );
    // Times come from the history.
    assert_eq!(result.ops[longest.blocked_op].call_time_ns, 6);
    assert_eq!(result.ops[longest.blocked_op].return_time_ns, Some(7));
}

#[test]
fn limits_give_unknown_never_ok() {
    let h = history(TWO_KEYS.replace("ok read b 1", "ok read b 2").as_str());
    assert_eq!(
        check_history(&Kv, &h, &CheckOptions::default())
            .expect("decodes")
            .verdict,
        Verdict::Ok
    );
    let no_time = CheckOptions {
        time_limit: Some(Duration::ZERO),
        ..CheckOptions::default()
    };
    let result = check_history(&Kv, &h, &no_time).expect("decodes");
    assert_eq!(result.verdict, Verdict::Unknown);
    assert!(result
        .partitions
        .iter()
        .all(|p| p.unknown_reason == Some(UnknownReason::TimeLimit)));
    let cancelled = CheckOptions {
        cancel: Some(Arc::new(AtomicBool::new(true))),
        ..CheckOptions::default()
    };
    let result = check_history(&Kv, &h, &cancelled).expect("decodes");
    assert_eq!(result.verdict, Verdict::Unknown);
    assert!(result
        .partitions
        .iter()
        .all(|p| p.unknown_reason == Some(UnknownReason::Cancelled)));
}

/// A nondeterministic model: a counter where `inc` adds 1 or 2, and `get` must see the value.
struct FuzzyCounter;

impl Model for FuzzyCounter {
    type State = u32;
    type Input = Option<u32>;
    type Output = ();

    fn init(&self) -> u32 {
        0
    }

    fn step(&self, state: &u32, input: &Option<u32>, _: Option<&()>) -> Steps<u32> {
        match input {
            None => Steps::Many(vec![state + 1, state + 2]),
            Some(seen) if seen == state => Steps::One(*state),
            Some(_) => Steps::Illegal,
        }
    }

    fn describe_operation(&self, input: &Option<u32>, _: Option<&()>) -> String {
        format!("{input:?}")
    }

    fn describe_state(&self, state: &u32) -> String {
        state.to_string()
    }
}

fn sequential(inputs: &[Option<u32>]) -> Vec<Operation<Option<u32>, ()>> {
    inputs
        .iter()
        .enumerate()
        .map(|(id, input)| Operation {
            id,
            process: 0,
            input: *input,
            output: Some(()),
            call: 2 * id,
            ret: Some(2 * id + 1),
        })
        .collect()
}

#[test]
fn nondeterministic_models_try_every_next_state() {
    let check = |inputs: &[Option<u32>]| {
        check_operations(&FuzzyCounter, &sequential(inputs), &CheckOptions::default()).verdict
    };
    // inc, inc, get 3: needs 1+2 or 2+1 (the second alternative of one of the steps).
    assert_eq!(check(&[None, None, Some(3)]), Verdict::Ok);
    assert_eq!(check(&[None, Some(2), None, Some(4)]), Verdict::Ok);
    assert_eq!(check(&[None, None, Some(5)]), Verdict::Illegal);
    assert_eq!(check(&[None, Some(2), None, Some(2)]), Verdict::Illegal);
}

#[test]
fn custom_partitions_are_checked_independently() {
    struct Split;
    impl Model for Split {
        type State = u32;
        type Input = Option<u32>;
        type Output = ();
        fn init(&self) -> u32 {
            0
        }
        fn step(&self, state: &u32, input: &Option<u32>, output: Option<&()>) -> Steps<u32> {
            FuzzyCounter.step(state, input, output)
        }
        fn partition(&self, ops: &[Operation<Option<u32>, ()>]) -> Vec<Partition> {
            // Even and odd ids form two independent counters.
            (0..2)
                .map(|parity| Partition {
                    label: format!("parity {parity}"),
                    ops: ops
                        .iter()
                        .map(|op| op.id)
                        .filter(|id| id % 2 == parity)
                        .collect(),
                })
                .collect()
        }
        fn describe_operation(&self, input: &Option<u32>, _: Option<&()>) -> String {
            format!("{input:?}")
        }
        fn describe_state(&self, state: &u32) -> String {
            state.to_string()
        }
    }
    // Evens: inc, get 1 (ok). Odds: get 0, get 0 (ok). As one counter it would be illegal.
    let ops = sequential(&[None, Some(0), Some(1), Some(0)]);
    assert_eq!(
        check_operations(&FuzzyCounter, &ops, &CheckOptions::default()).verdict,
        Verdict::Illegal
    );
    let result = check_operations(&Split, &ops, &CheckOptions::default());
    assert_eq!(result.verdict, Verdict::Ok);
    assert_eq!(result.partitions.len(), 2);
    assert_eq!(result.ops[3].partition, 1);
}

const NOISY_BAD: &str = "
    0 invoke write 1
    0 ok write 1
    1 invoke write 2
    2 invoke read null
    2 ok read 1
    1 ok write 2
    3 invoke cas [2,3]
    3 ok cas [2,3]
    0 invoke read null
    1 invoke write 4
    0 ok read 3
    1 ok write 4
    2 invoke read null
    2 ok read 4
    2 invoke read null
    2 ok read 3
    0 invoke read null
    0 ok read 3";

#[test]
fn shrink_keeps_the_history_illegal_and_one_minimal() {
    let h = history(NOISY_BAD);
    let result = check_history(&CasRegister, &h, &CheckOptions::default()).expect("decodes");
    assert_eq!(result.verdict, Verdict::Illegal);
    let shrunk = shrink(&CasRegister, &h, &result, &ShrinkOptions::default())
        .expect("decodes")
        .expect("illegal");
    assert!(shrunk.minimal);
    assert!(
        shrunk.ops.len() < result.ops.len(),
        "{} of {}",
        shrunk.ops.len(),
        result.ops.len()
    );
    // Still illegal as a history of its own (written and read back).
    let mut bytes = Vec::new();
    shrunk.history.write_jsonl(&mut bytes).expect("in memory");
    let reread =
        History::from_jsonl_str(std::str::from_utf8(&bytes).expect("utf-8")).expect("valid");
    let ops = operations(&CasRegister, &reread).expect("decodes");
    assert_eq!(ops.len(), shrunk.ops.len());
    assert_eq!(
        check_operations(&CasRegister, &ops, &CheckOptions::default()).verdict,
        Verdict::Illegal
    );
    // Every value a kept read observed is written by a kept operation (no read from nowhere).
    for op in &ops {
        let flow = CasRegister.value_flow(&op.input, op.output.as_ref());
        for needed in &flow.requires {
            assert!(
                ops.iter().any(|w| CasRegister
                    .value_flow(&w.input, w.output.as_ref())
                    .produces
                    .contains(needed)),
                "the shrunk history reads {needed} but nothing in it writes {needed}"
            );
        }
    }
    // Removing any single operation makes it legal, unless it is the only writer of a value a kept
    // operation observed (shrinking never removes those).
    for skip in 0..ops.len() {
        let produced = CasRegister
            .value_flow(&ops[skip].input, ops[skip].output.as_ref())
            .produces;
        let sole_writer = produced.iter().any(|value| {
            let others_write = ops.iter().enumerate().any(|(i, w)| {
                i != skip
                    && CasRegister
                        .value_flow(&w.input, w.output.as_ref())
                        .produces
                        .contains(value)
            });
            let someone_needs = ops.iter().enumerate().any(|(i, r)| {
                i != skip
                    && CasRegister
                        .value_flow(&r.input, r.output.as_ref())
                        .requires
                        .contains(value)
            });
            someone_needs && !others_write
        });
        if sole_writer {
            continue;
        }
        let members: Vec<usize> = (0..ops.len()).filter(|&i| i != skip).collect();
        let without: Vec<Operation<_, _>> = members
            .iter()
            .enumerate()
            .map(|(id, &i)| Operation {
                id,
                ..ops[i].clone()
            })
            .collect();
        assert_eq!(
            check_operations(&CasRegister, &without, &CheckOptions::default()).verdict,
            Verdict::Ok,
            "removing op {skip} ({:?}) should make the shrunk history legal",
            ops[skip].input
        );
    }
}
