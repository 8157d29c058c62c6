//! Porcupine's key/value logs (`{:process P, :type :invoke, :f :get, :key "K", :value nil}`, one event per
//! line, line order is the clock), imported for the kv model.
//!
//! Mapping: `get` becomes `read`, `put` becomes `write`, `append` stays `append`. Porcupine's model starts
//! every key at `""` and its gets return `""` for an unset key; this project's kv model starts at nil, so
//! a get that returned `""` is imported as a read of `null`. That is exact for these files because every
//! put and append writes a non-empty token, so `""` can only mean "unset".

use super::ImportError;
use crate::history::{Event, EventType, Function, History};
use serde_json::Value as Json;
use std::io::BufRead;

/// Reads a whole log.
pub fn read(reader: impl BufRead) -> Result<History, ImportError> {
    let mut events = Vec::new();
    for (number, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let position = events.len() as u64;
        let event =
            parse_line(line.trim(), position).map_err(|problem| ImportError::Malformed {
                line: number + 1,
                problem,
            })?;
        events.push(event);
    }
    Ok(History::new(events)?)
}

/// A cursor over one line that expects literal pieces.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn expect(&mut self, literal: &str) -> Result<(), String> {
        self.rest = self
            .rest
            .strip_prefix(literal)
            .ok_or_else(|| format!("expected {literal:?} at {:?}", self.rest))?;
        Ok(())
    }

    fn until(&mut self, end: char) -> Result<&'a str, String> {
        let at = self
            .rest
            .find(end)
            .ok_or_else(|| format!("missing {end:?}"))?;
        let (taken, rest) = self.rest.split_at(at);
        self.rest = rest;
        Ok(taken)
    }
}

fn parse_line(line: &str, position: u64) -> Result<Event, String> {
    let mut cursor = Cursor { rest: line };
    cursor.expect("{:process ")?;
    let process: u64 = cursor
        .until(',')?
        .parse()
        .map_err(|_| "process is not an integer".to_string())?;
    cursor.expect(", :type :")?;
    let kind = match cursor.until(',')? {
        "invoke" => EventType::Invoke,
        "ok" => EventType::Ok,
        "fail" => EventType::Fail,
        "info" => EventType::Info,
        other => return Err(format!("unknown type {other:?}")),
    };
    cursor.expect(", :f :")?;
    let f = match cursor.until(',')? {
        "get" => Function::Read,
        "put" => Function::Write,
        "append" => Function::Append,
        other => return Err(format!("unknown function {other:?}")),
    };
    cursor.expect(", :key \"")?;
    let key = cursor.until('"')?.to_string();
    cursor.expect("\", :value ")?;
    let value = if cursor.rest == "nil}" {
        Json::Null
    } else {
        cursor.expect("\"")?;
        let text = cursor.until('"')?;
        cursor.expect("\"}")?;
        if f == Function::Read && text.is_empty() {
            Json::Null
        } else {
            Json::from(text)
        }
    };
    if f == Function::Read && kind == EventType::Invoke && !value.is_null() {
        return Err("get invocation with a value".to_string());
    }
    let mut event = Event::client(position, kind, process, f, value, position);
    event.key = Some(key);
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_get_put_append_and_maps_empty_reads_to_null() {
        let text = "{:process 1, :type :invoke, :f :get, :key \"9\", :value nil}\n\
                    {:process 1, :type :ok, :f :get, :key \"9\", :value \"\"}\n\
                    {:process 9, :type :invoke, :f :put, :key \"6\", :value \"x 9 3 y\"}\n\
                    {:process 9, :type :ok, :f :put, :key \"6\", :value \"x 9 3 y\"}\n\
                    {:process 4, :type :invoke, :f :append, :key \"1\", :value \"x 4 0 y\"}\n";
        let history = read(text.as_bytes()).expect("valid log");
        let events = history.events();
        assert_eq!(events[1].value, Json::Null);
        assert_eq!(events[2].f, Function::Write);
        assert_eq!(events[2].value, Json::from("x 9 3 y"));
        assert_eq!(events[4].key.as_deref(), Some("1"));
        assert_eq!(
            history.ops()[2].completion,
            None,
            "the last append never completed"
        );
    }

    #[test]
    fn reports_the_line_of_a_malformed_map() {
        let text = "{:process 1, :type :invoke, :f :get, :key \"9\", :value nil}\n{:process 1, :type :ok}\n";
        let error = read(text.as_bytes()).expect_err("malformed");
        assert!(error.to_string().starts_with("line 2:"), "{error}");
    }
}
