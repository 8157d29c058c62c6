//! Unit tests of the stateright oracle: its verdicts on small hand-made histories.
use super::*;

fn history(lines: &[&str]) -> History {
    History::from_jsonl_str(&lines.join("\n")).expect("well-formed test history")
}

#[test]
fn stale_read_after_write_is_illegal() {
    let h = history(&[
        r#"{"type":"invoke","process":0,"f":"write","value":1,"time":0}"#,
        r#"{"type":"ok","process":0,"f":"write","value":1,"time":1}"#,
        r#"{"type":"invoke","process":1,"f":"read","value":null,"time":2}"#,
        r#"{"type":"ok","process":1,"f":"read","value":null,"time":3}"#,
    ]);
    assert_eq!(verdict(OracleModel::Register, &h), Ok(Verdict::Illegal));
}

#[test]
fn concurrent_read_may_see_either_value() {
    let h = history(&[
        r#"{"type":"invoke","process":0,"f":"write","value":1,"time":0}"#,
        r#"{"type":"invoke","process":1,"f":"read","value":null,"time":1}"#,
        r#"{"type":"ok","process":1,"f":"read","value":null,"time":2}"#,
        r#"{"type":"ok","process":0,"f":"write","value":1,"time":3}"#,
    ]);
    assert_eq!(verdict(OracleModel::Register, &h), Ok(Verdict::Ok));
}

#[test]
fn indeterminate_write_may_take_effect_late_or_never() {
    // The info write of 1 is seen by a read long after, then not seen is impossible (1 stays).
    let seen = history(&[
        r#"{"type":"invoke","process":0,"f":"write","value":1,"time":0}"#,
        r#"{"type":"info","process":0,"f":"write","value":1,"time":1}"#,
        r#"{"type":"invoke","process":0,"f":"read","value":null,"time":2}"#,
        r#"{"type":"ok","process":0,"f":"read","value":null,"time":3}"#,
        r#"{"type":"invoke","process":1,"f":"read","value":null,"time":4}"#,
        r#"{"type":"ok","process":1,"f":"read","value":1,"time":5}"#,
    ]);
    assert_eq!(verdict(OracleModel::Register, &seen), Ok(Verdict::Ok));
    let never = history(&[
        r#"{"type":"invoke","process":0,"f":"write","value":1,"time":0}"#,
        r#"{"type":"invoke","process":1,"f":"read","value":null,"time":4}"#,
        r#"{"type":"ok","process":1,"f":"read","value":null,"time":5}"#,
    ]);
    assert_eq!(verdict(OracleModel::Register, &never), Ok(Verdict::Ok));
    let flip_back = history(&[
        r#"{"type":"invoke","process":0,"f":"write","value":1,"time":0}"#,
        r#"{"type":"info","process":0,"f":"write","value":1,"time":1}"#,
        r#"{"type":"invoke","process":1,"f":"read","value":null,"time":2}"#,
        r#"{"type":"ok","process":1,"f":"read","value":1,"time":3}"#,
        r#"{"type":"invoke","process":1,"f":"read","value":null,"time":4}"#,
        r#"{"type":"ok","process":1,"f":"read","value":null,"time":5}"#,
    ]);
    assert_eq!(
        verdict(OracleModel::Register, &flip_back),
        Ok(Verdict::Illegal)
    );
}

#[test]
fn cas_mismatch_needs_another_value_and_plain_failures_are_dropped() {
    let mismatch_on_expected = history(&[
        r#"{"type":"invoke","process":0,"f":"cas","value":[null,1],"time":0}"#,
        r#"{"type":"fail","process":0,"f":"cas","value":[null,1],"time":1,"error":"mismatch"}"#,
    ]);
    assert_eq!(
        verdict(OracleModel::CasRegister, &mismatch_on_expected),
        Ok(Verdict::Illegal)
    );
    let failed_write_has_no_effect = history(&[
        r#"{"type":"invoke","process":0,"f":"write","value":1,"time":0}"#,
        r#"{"type":"fail","process":0,"f":"write","value":1,"time":1,"error":"timeout"}"#,
        r#"{"type":"invoke","process":1,"f":"read","value":null,"time":2}"#,
        r#"{"type":"ok","process":1,"f":"read","value":null,"time":3}"#,
    ]);
    assert_eq!(
        verdict(OracleModel::CasRegister, &failed_write_has_no_effect),
        Ok(Verdict::Ok)
    );
}

#[test]
fn kv_keys_are_independent_registers() {
    let h = history(&[
        r#"{"type":"invoke","process":0,"f":"write","key":"a","value":1,"time":0}"#,
        r#"{"type":"ok","process":0,"f":"write","key":"a","value":1,"time":1}"#,
        r#"{"type":"invoke","process":1,"f":"append","key":"b","value":"x","time":2}"#,
        r#"{"type":"ok","process":1,"f":"append","key":"b","value":"x","time":3}"#,
        r#"{"type":"invoke","process":1,"f":"read","key":"b","value":null,"time":4}"#,
        r#"{"type":"ok","process":1,"f":"read","key":"b","value":"x","time":5}"#,
        r#"{"type":"invoke","process":1,"f":"read","key":"a","value":null,"time":6}"#,
        r#"{"type":"ok","process":1,"f":"read","key":"a","value":1,"time":7}"#,
    ]);
    assert_eq!(verdict(OracleModel::Kv, &h), Ok(Verdict::Ok));
    let int_append = history(&[
        r#"{"type":"invoke","process":0,"f":"append","key":"a","value":"x","time":0}"#,
        r#"{"type":"ok","process":0,"f":"append","key":"a","value":"x","time":1}"#,
        r#"{"type":"invoke","process":0,"f":"write","key":"a","value":1,"time":2}"#,
        r#"{"type":"ok","process":0,"f":"write","key":"a","value":1,"time":3}"#,
        r#"{"type":"invoke","process":0,"f":"append","key":"a","value":"y","time":4}"#,
        r#"{"type":"ok","process":0,"f":"append","key":"a","value":"y","time":5}"#,
    ]);
    assert_eq!(verdict(OracleModel::Kv, &int_append), Ok(Verdict::Illegal));
}

#[test]
fn unsupported_functions_and_missing_keys_are_refused() {
    let cas = history(&[r#"{"type":"invoke","process":0,"f":"cas","value":[1,2],"time":0}"#]);
    assert!(matches!(
        verdict(OracleModel::Register, &cas),
        Err(OracleError::Unsupported { position: 0, .. })
    ));
    assert!(matches!(
        verdict(OracleModel::Kv, &cas),
        Err(OracleError::Unsupported { position: 0, .. })
    ));
}
