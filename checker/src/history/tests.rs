//! Parsing, validation (with line numbers) and writing of histories.

use super::*;

fn line(kind: &str, process: &str, f: &str, value: &str, time: u64) -> String {
    format!(
        r#"{{"type":"{kind}","process":{process},"f":"{f}","key":"x","value":{value},"time":{time}}}"#
    )
}

fn malformed(text: &str) -> (usize, Problem) {
    match History::from_jsonl_str(text) {
        Err(HistoryError::Malformed { line, problem }) => (line, problem),
        other => panic!("expected a malformed history, got {other:?}"),
    }
}

#[test]
fn parses_a_history_and_pairs_operations() {
    let text = [
        line("invoke", "0", "write", "1", 10),
        line("invoke", "1", "read", "null", 11),
        r#"{"type":"info","process":"nemesis","f":"start-partition","time":12}"#.to_string(),
        line("ok", "0", "write", "1", 13),
        line("info", "1", "read", "null", 14),
        line("invoke", "2", "cas", "[1, 2]", 15),
    ]
    .join("\n");
    let history = History::from_jsonl_str(&text).expect("valid");
    assert_eq!(history.events().len(), 6);
    assert_eq!(history.events()[2].process, Process::Nemesis);
    assert_eq!(
        history.events()[2].f,
        Function::Other("start-partition".to_string())
    );
    assert_eq!(
        history.ops(),
        &[
            OpEvents {
                invoke: 0,
                completion: Some(3)
            },
            OpEvents {
                invoke: 1,
                completion: Some(4)
            },
            OpEvents {
                invoke: 5,
                completion: None
            },
        ]
    );
}

#[test]
fn bad_json_names_its_line_counting_blank_lines() {
    let text = format!("{}\n\n{{not json\n", line("invoke", "0", "read", "null", 1));
    let (number, problem) = malformed(&text);
    assert_eq!(number, 3);
    assert!(matches!(problem, Problem::BadJson(_)), "{problem:?}");
}

#[test]
fn missing_field_and_bad_process_are_bad_json() {
    let (number, problem) = malformed(r#"{"type":"invoke","process":0,"f":"read"}"#);
    assert_eq!(number, 1);
    assert!(
        matches!(&problem, Problem::BadJson(m) if m.contains("time")),
        "{problem:?}"
    );
    let (_, problem) = malformed(r#"{"type":"invoke","process":"bob","f":"read","time":0}"#);
    assert!(
        matches!(&problem, Problem::BadJson(m) if m.contains("nemesis")),
        "{problem:?}"
    );
    let (_, problem) = malformed(r#"{"type":"done","process":0,"f":"read","time":0}"#);
    assert!(matches!(problem, Problem::BadJson(_)), "{problem:?}");
}

#[test]
fn completion_without_invocation_is_rejected() {
    let text = [
        line("invoke", "0", "read", "null", 1),
        line("ok", "1", "read", "3", 2),
    ]
    .join("\n");
    assert_eq!(
        malformed(&text),
        (
            2,
            Problem::CompletionWithoutInvocation {
                process: 1,
                kind: "ok"
            }
        )
    );
}

#[test]
fn two_pending_operations_are_rejected_with_the_first_ones_line() {
    let text = [
        line("invoke", "0", "write", "1", 1),
        line("invoke", "1", "read", "null", 2),
        line("invoke", "0", "read", "null", 3),
    ]
    .join("\n");
    assert_eq!(
        malformed(&text),
        (
            3,
            Problem::TwoPendingOperations {
                process: 0,
                pending_line: 1
            }
        )
    );
}

#[test]
fn time_going_backwards_is_rejected() {
    let text = [
        line("invoke", "0", "write", "1", 10),
        line("ok", "0", "write", "1", 9),
    ]
    .join("\n");
    assert_eq!(
        malformed(&text),
        (
            2,
            Problem::TimeBackwards {
                time: 9,
                previous: 10
            }
        )
    );
}

#[test]
fn completion_must_match_the_invocations_function_and_key() {
    let text = [
        line("invoke", "0", "write", "1", 1),
        line("ok", "0", "read", "1", 2),
    ]
    .join("\n");
    let (number, problem) = malformed(&text);
    assert_eq!(number, 2);
    assert!(
        matches!(problem, Problem::FunctionMismatch { .. }),
        "{problem:?}"
    );
    let other_key = r#"{"type":"ok","process":0,"f":"write","key":"y","value":1,"time":2}"#;
    let (_, problem) =
        malformed(&[line("invoke", "0", "write", "1", 1), other_key.to_string()].join("\n"));
    assert!(
        matches!(problem, Problem::KeyMismatch { .. }),
        "{problem:?}"
    );
}

#[test]
fn write_then_read_round_trips() {
    let text = [
        line("invoke", "0", "cas", "[1,2]", 1),
        r#"{"type":"info","process":"nemesis","f":"kill","value":"n1","time":2}"#.to_string(),
        r#"{"type":"fail","process":0,"f":"cas","key":"x","value":[1,2],"time":3,"node":2,"error":"mismatch"}"#
            .to_string(),
    ]
    .join("\n");
    let history = History::from_jsonl_str(&text).expect("valid");
    let mut bytes = Vec::new();
    history.write_jsonl(&mut bytes).expect("in memory");
    let again =
        History::from_jsonl_str(std::str::from_utf8(&bytes).expect("utf-8")).expect("valid");
    assert_eq!(again.events(), history.events());
    assert!(again.events()[2].is_mismatch());
    assert_eq!(again.events()[2].node, Some(2));
}

#[test]
fn writer_refuses_a_malformed_event_and_writes_nothing_for_it() {
    let mut writer = JsonlWriter::new(Vec::new());
    let invoke = Event::client(
        0,
        EventType::Invoke,
        7,
        Function::Read,
        serde_json::Value::Null,
        5,
    );
    writer.write_event(&invoke).expect("first event");
    let early = Event::client(
        1,
        EventType::Ok,
        7,
        Function::Read,
        serde_json::Value::Null,
        4,
    );
    let error = writer.write_event(&early).expect_err("time goes backwards");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    let stray = Event::client(
        1,
        EventType::Ok,
        8,
        Function::Read,
        serde_json::Value::Null,
        6,
    );
    assert!(
        writer.write_event(&stray).is_err(),
        "process 8 has nothing pending"
    );
    assert_eq!(writer.written(), 1);
    let bytes = writer.into_inner().expect("in memory");
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1);
}

#[test]
fn with_ops_keeps_whole_operations_in_order() {
    let text = [
        line("invoke", "0", "write", "1", 1),
        line("invoke", "1", "read", "null", 2),
        line("ok", "0", "write", "1", 3),
        line("ok", "1", "read", "1", 4),
    ]
    .join("\n");
    let history = History::from_jsonl_str(&text).expect("valid");
    let only_read = history.with_ops(&[1]);
    assert_eq!(only_read.events().len(), 2);
    assert_eq!(only_read.events()[0].f, Function::Read);
    assert_eq!(only_read.line_of(1), 4, "original line numbers are kept");
}
