//! Porcupine's Jepsen etcd logs (`INFO  jepsen.util - P :type :f value`, one event per line, line order
//! is the clock), imported for the cas-register model.
//!
//! Mapping: `:ok`/`:invoke` keep their values (`nil` becomes `null`, `[A B]` becomes `[A, B]`); `:fail
//! :cas` becomes `fail` with `"error": "mismatch"` (the cas ran and found another value, which porcupine's
//! model uses as a constraint); `:fail :read :timed-out` becomes a plain `fail` (no effect: dropped);
//! `:info ... :timed-out` becomes `info` (indeterminate).

use super::ImportError;
use crate::history::{Event, EventType, Function, History, ERROR_MISMATCH};
use serde_json::Value as Json;
use std::io::BufRead;

const PREFIX: &str = "INFO  jepsen.util - ";

/// Reads a whole log.
pub fn read(reader: impl BufRead) -> Result<History, ImportError> {
    let mut events = Vec::new();
    for (number, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let position = events.len() as u64;
        let event = parse_line(&line, position).map_err(|problem| ImportError::Malformed {
            line: number + 1,
            problem,
        })?;
        events.push(event);
    }
    Ok(History::new(events)?)
}

fn parse_value(text: &str) -> Result<Json, String> {
    if text == "nil" {
        return Ok(Json::Null);
    }
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        let parts: Vec<&str> = inner.split_whitespace().collect();
        let [expected, new] = parts.as_slice() else {
            return Err(format!("cas value {text:?} is not [A B]"));
        };
        return Ok(Json::Array(vec![parse_value(expected)?, parse_value(new)?]));
    }
    text.parse::<i64>()
        .map(Json::from)
        .map_err(|_| format!("value {text:?} is not nil, an integer or [A B]"))
}

fn parse_line(line: &str, position: u64) -> Result<Event, String> {
    let rest = line
        .strip_prefix(PREFIX)
        .ok_or_else(|| format!("line does not start with {PREFIX:?}"))?;
    let mut fields = rest.split_whitespace();
    let mut next = |what: &str| fields.next().ok_or_else(|| format!("missing {what}"));
    let process: u64 = next("process")?
        .parse()
        .map_err(|_| "process is not an integer".to_string())?;
    let kind = match next("type")? {
        ":invoke" => EventType::Invoke,
        ":ok" => EventType::Ok,
        ":fail" => EventType::Fail,
        ":info" => EventType::Info,
        other => return Err(format!("unknown type {other:?}")),
    };
    let f = match next("function")? {
        ":read" => Function::Read,
        ":write" => Function::Write,
        ":cas" => Function::Cas,
        other => return Err(format!("unknown function {other:?}")),
    };
    let value_text = fields.collect::<Vec<_>>().join(" ");
    let mut event = Event::client(position, kind, process, f, Json::Null, position);
    if value_text == ":timed-out" {
        if kind == EventType::Invoke || kind == EventType::Ok {
            return Err(format!("{} with :timed-out", kind.as_str()));
        }
        return Ok(event.with_error("timed-out"));
    }
    event.value = parse_value(&value_text)?;
    if kind == EventType::Fail {
        if event.f != Function::Cas {
            return Err(format!("fail of {} without :timed-out", event.f));
        }
        event = event.with_error(ERROR_MISMATCH);
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_line_shape() {
        let text = "INFO  jepsen.util - 2\t:invoke\t:cas\t[3 0]\n\
                    INFO  jepsen.util - 3\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 3   :ok     :read   nil\n\
                    INFO  jepsen.util - 2\t:fail\t:cas\t[3 0]\n\
                    INFO  jepsen.util - 4\t:invoke\t:write\t4\n\
                    INFO  jepsen.util - 4\t:info\t:write\t:timed-out\n";
        let history = read(text.as_bytes()).expect("valid log");
        let events = history.events();
        assert_eq!(events.len(), 6);
        assert_eq!(events[0].value, serde_json::json!([3, 0]));
        assert_eq!(events[2].value, Json::Null);
        assert!(events[3].is_mismatch());
        assert_eq!(events[5].kind, EventType::Info);
        assert_eq!(events[5].time, 5, "line order is the clock");
    }

    #[test]
    fn reports_the_line_of_a_bad_value() {
        let text =
            "INFO  jepsen.util - 2\t:invoke\t:write\t4\nINFO  jepsen.util - 2\t:ok\t:write\tfour\n";
        let error = read(text.as_bytes()).expect_err("bad value");
        assert!(error.to_string().starts_with("line 2:"), "{error}");
    }
}
