//! The built-in models' step semantics and decoding.

use super::*;
use crate::history::{Event, EventType, Function};
use serde_json::json;

fn s(text: &str) -> Value {
    Value::Str(Arc::from(text))
}

fn input(op: KvOp) -> KvInput {
    KvInput { key: None, op }
}

fn one(steps: Steps<Value>) -> Option<Value> {
    match steps {
        Steps::One(v) => Some(v),
        Steps::Illegal => None,
        Steps::Many(v) => panic!("built-in models are deterministic, got {v:?}"),
    }
}

#[test]
fn read_must_see_the_current_value_unless_indeterminate() {
    let m = CasRegister;
    let read = input(KvOp::Read);
    assert_eq!(
        one(m.step(&Value::Int(3), &read, Some(&KvOutput::Read(Value::Int(3))))),
        Some(Value::Int(3))
    );
    assert_eq!(
        one(m.step(&Value::Int(3), &read, Some(&KvOutput::Read(Value::Nil)))),
        None
    );
    assert_eq!(
        one(m.step(&Value::Int(3), &read, None)),
        Some(Value::Int(3))
    );
    assert!(m.is_read_only(&read, None));
}

#[test]
fn cas_semantics_ok_mismatch_and_indeterminate() {
    let m = CasRegister;
    let cas = input(KvOp::Cas {
        expected: Value::Int(1),
        new: Value::Int(2),
    });
    assert_eq!(
        one(m.step(&Value::Int(1), &cas, Some(&KvOutput::Done))),
        Some(Value::Int(2))
    );
    assert_eq!(
        one(m.step(&Value::Int(0), &cas, Some(&KvOutput::Done))),
        None
    );
    assert_eq!(
        one(m.step(&Value::Int(0), &cas, Some(&KvOutput::Mismatch))),
        Some(Value::Int(0))
    );
    assert_eq!(
        one(m.step(&Value::Int(1), &cas, Some(&KvOutput::Mismatch))),
        None
    );
    assert_eq!(one(m.step(&Value::Int(1), &cas, None)), Some(Value::Int(2)));
    assert_eq!(one(m.step(&Value::Nil, &cas, None)), Some(Value::Nil));
    assert!(m.is_read_only(&cas, Some(&KvOutput::Mismatch)));
    assert!(!m.is_read_only(&cas, Some(&KvOutput::Done)));
    assert!(!m.is_read_only(&cas, None));
}

#[test]
fn write_delete_and_append() {
    let m = Kv;
    assert_eq!(
        one(m.step(&Value::Int(1), &input(KvOp::Write(s("a"))), None)),
        Some(s("a"))
    );
    assert_eq!(
        one(m.step(&s("a"), &input(KvOp::Delete), Some(&KvOutput::Done))),
        Some(Value::Nil)
    );
    let append = input(KvOp::Append(s("b")));
    assert_eq!(
        one(m.step(&Value::Nil, &append, Some(&KvOutput::Done))),
        Some(s("b"))
    );
    assert_eq!(
        one(m.step(&s("a"), &append, Some(&KvOutput::Done))),
        Some(s("ab"))
    );
    assert_eq!(
        one(m.step(&Value::Int(1), &append, Some(&KvOutput::Done))),
        None
    );
    assert_eq!(
        one(m.step(&Value::Int(1), &append, None)),
        Some(Value::Int(1)),
        "indeterminate: no effect"
    );
}

fn event(kind: EventType, f: Function, value: serde_json::Value) -> Event {
    Event::client(0, kind, 1, f, value, 0)
}

#[test]
fn decoding_respects_each_models_functions() {
    let cas = event(EventType::Invoke, Function::Cas, json!([1, 2]));
    assert!(
        Register.decode(&cas, Completion::Unknown).is_err(),
        "register has no cas"
    );
    let (decoded, output) = CasRegister
        .decode(&cas, Completion::Unknown)
        .expect("cas-register has cas");
    assert_eq!(
        decoded.op,
        KvOp::Cas {
            expected: Value::Int(1),
            new: Value::Int(2)
        }
    );
    assert_eq!(output, None);
    let mismatch = event(EventType::Fail, Function::Cas, json!([1, 2])).with_error("mismatch");
    let (_, output) = CasRegister
        .decode(&cas, Completion::Mismatch(&mismatch))
        .expect("decodes");
    assert_eq!(output, Some(KvOutput::Mismatch));
    let append = event(EventType::Invoke, Function::Append, json!("x"));
    assert!(CasRegister.decode(&append, Completion::Unknown).is_err());
    let error = Kv
        .decode(&append, Completion::Unknown)
        .expect_err("kv needs a key");
    assert!(error.0.contains("key"), "{error}");
    let keyed = append.clone().with_key("k");
    assert!(Kv.decode(&keyed, Completion::Unknown).is_ok());
    let bad_cas = event(EventType::Invoke, Function::Cas, json!(3));
    assert!(CasRegister.decode(&bad_cas, Completion::Unknown).is_err());
    let read = event(EventType::Invoke, Function::Read, json!(null));
    let read_ok = event(EventType::Ok, Function::Read, json!({"a": 1}));
    assert!(
        CasRegister.decode(&read, Completion::Ok(&read_ok)).is_err(),
        "objects are not values"
    );
    let write_mismatch = event(EventType::Fail, Function::Write, json!(1)).with_error("mismatch");
    let write = event(EventType::Invoke, Function::Write, json!(1));
    assert!(CasRegister
        .decode(&write, Completion::Mismatch(&write_mismatch))
        .is_err());
}

#[test]
fn kv_partitions_by_key_and_registers_do_not() {
    let op = |id: usize, key: &str| Operation {
        id,
        process: 0,
        input: KvInput {
            key: Some(Arc::from(key)),
            op: KvOp::Read,
        },
        output: None,
        call: id,
        ret: None,
    };
    let ops = vec![op(0, "b"), op(1, "a"), op(2, "b")];
    let parts = Kv.partition(&ops);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].label, "key \"a\"");
    assert_eq!(parts[0].ops, vec![1]);
    assert_eq!(parts[1].ops, vec![0, 2]);
    assert_eq!(CasRegister.partition(&ops).len(), 1);
}

#[test]
fn descriptions_show_key_call_and_result() {
    let read = KvInput {
        key: Some(Arc::from("k")),
        op: KvOp::Read,
    };
    assert_eq!(
        Kv.describe_operation(&read, Some(&KvOutput::Read(Value::Int(4)))),
        "\"k\" read() -> 4"
    );
    let cas = input(KvOp::Cas {
        expected: Value::Nil,
        new: s("v"),
    });
    assert_eq!(
        CasRegister.describe_operation(&cas, Some(&KvOutput::Mismatch)),
        "cas(nil, \"v\") -> mismatch"
    );
    assert_eq!(
        CasRegister.describe_operation(&cas, None),
        "cas(nil, \"v\") -> ?"
    );
    assert_eq!(Kv.describe_state(&s("ab")), "\"ab\"");
}
