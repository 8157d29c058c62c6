//! The recording clients: each worker owns a `raftkv::client::Client` that talks to its own node first (as
//! Jepsen's clients do) and follows leader hints from there, performs its generator's operations at the
//! requested rate, and records every invocation and completion.
//!
//! Jepsen's process semantics: a worker whose operation ended indeterminate (`info`) takes a new process
//! number (old + concurrency) and a new client session, so no process ever has two operations pending.

use crate::recorder::{Completion, OutcomeKind, Recorder};
use crate::workload::{Generator, OpSpec};
use checker::history::{Function, ERROR_MISMATCH};
use raftkv::client::{CasResult, Client, ClientOptions, Outcome};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one worker needs to run.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Worker number, 0-based; also its first process number.
    pub worker: u64,
    /// How many workers run (the process-number stride).
    pub concurrency: u64,
    /// Every node's client address; the worker's own node is `worker % nodes.len()`.
    pub nodes: Vec<SocketAddr>,
    /// Pause between the starts of two operations of this worker.
    pub interval: Duration,
    /// Timeout of one operation (all retries included).
    pub operation_timeout: Duration,
    /// Timeout of one attempt before the same request is retried.
    pub attempt_timeout: Duration,
}

/// Client ids are unique for ever within a run: process p uses client id p + 1 (0 is never used).
fn client_for(config: &WorkerConfig, process: u64) -> Client {
    let options = ClientOptions {
        preferred_node: usize::try_from(config.worker).unwrap_or(0) % config.nodes.len().max(1),
        operation_timeout: config.operation_timeout,
        attempt_timeout: config.attempt_timeout.min(config.operation_timeout),
        start_each_operation_at_preferred_node: true,
        ..ClientOptions::default()
    };
    Client::new(&config.nodes, process + 1, options)
}

fn encode(value: i64) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// Decodes a stored value back into the history's JSON: an integer, or the raw text if it is not one.
fn decode(bytes: Option<Vec<u8>>) -> Value {
    match bytes {
        None => Value::Null,
        Some(bytes) => {
            let text = String::from_utf8_lossy(&bytes).to_string();
            text.parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(text))
        }
    }
}

fn unit_completion(outcome: Outcome<()>, value: Value, node: Option<u64>) -> Completion {
    match outcome {
        Outcome::Ok(()) => Completion {
            outcome: OutcomeKind::Ok,
            value,
            node,
            error: None,
        },
        Outcome::Fail(reason) => Completion {
            outcome: OutcomeKind::Fail,
            value,
            node,
            error: Some(reason),
        },
        Outcome::Indeterminate(reason) => Completion {
            outcome: OutcomeKind::Info,
            value,
            node,
            error: Some(reason),
        },
    }
}

/// Performs one operation and says how it ended.
pub async fn perform(client: &mut Client, op: &OpSpec) -> Completion {
    let key = op.key().as_bytes().to_vec();
    let (outcome, value) = match op {
        OpSpec::Read { .. } => match client.get(&key).await {
            Outcome::Ok(bytes) => (Outcome::Ok(()), decode(bytes)),
            Outcome::Fail(reason) => (Outcome::Fail(reason), Value::Null),
            Outcome::Indeterminate(reason) => (Outcome::Indeterminate(reason), Value::Null),
        },
        OpSpec::Write { value, .. } => (client.put(&key, &encode(*value)).await, json!(value)),
        OpSpec::Delete { .. } => (client.delete(&key).await, Value::Null),
        OpSpec::Cas { expected, new, .. } => {
            let value = json!([expected, new]);
            let (expected, new) = (encode(*expected), encode(*new));
            match client.cas(&key, Some(&expected), &new).await {
                Outcome::Ok(CasResult::Ok) => (Outcome::Ok(()), value),
                Outcome::Ok(CasResult::Mismatch { .. }) => {
                    let node = client.last_node().map(|n| n.0);
                    return Completion {
                        outcome: OutcomeKind::Fail,
                        value,
                        node,
                        error: Some(ERROR_MISMATCH.to_string()),
                    };
                }
                Outcome::Fail(reason) => (Outcome::Fail(reason), value),
                Outcome::Indeterminate(reason) => (Outcome::Indeterminate(reason), value),
            }
        }
    };
    unit_completion(outcome, value, client.last_node().map(|n| n.0))
}

/// Tells the generator what a completed operation revealed about its key.
fn learn(generator: &mut Generator, op: &OpSpec, completion: &Completion) {
    if completion.outcome != OutcomeKind::Ok {
        return;
    }
    match op {
        OpSpec::Read { key } => generator.observe(key, completion.value.as_i64()),
        OpSpec::Write { key, value } => generator.observe(key, Some(*value)),
        OpSpec::Cas { key, new, .. } => generator.observe(key, Some(*new)),
        OpSpec::Delete { key } => generator.observe(key, None),
    }
}

/// The history's function name and invocation value for an operation.
pub fn invocation(op: &OpSpec) -> (Function, Value) {
    match op {
        OpSpec::Read { .. } => (Function::Read, Value::Null),
        OpSpec::Write { value, .. } => (Function::Write, json!(value)),
        OpSpec::Cas { expected, new, .. } => (Function::Cas, json!([expected, new])),
        OpSpec::Delete { .. } => (Function::Delete, Value::Null),
    }
}

/// Runs one worker until `stop` is raised or `until` passes. Returns the last process number it used.
pub async fn run_worker(
    config: WorkerConfig,
    mut generator: Generator,
    recorder: Arc<Recorder>,
    stop: Arc<AtomicBool>,
    until: Instant,
) -> std::io::Result<u64> {
    let mut process = config.worker;
    let mut client = client_for(&config, process);
    let mut next_start = Instant::now();
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        let now = Instant::now();
        if next_start > now {
            tokio::time::sleep(next_start - now).await;
            continue;
        }
        next_start += config.interval;
        let op = generator.next_op();
        process = run_one(
            &config,
            &mut client,
            process,
            &op,
            &recorder,
            Some(&mut generator),
        )
        .await?;
    }
    Ok(process)
}

/// Performs and records one operation; returns the process number to use next.
pub async fn run_one(
    config: &WorkerConfig,
    client: &mut Client,
    process: u64,
    op: &OpSpec,
    recorder: &Recorder,
    generator: Option<&mut Generator>,
) -> std::io::Result<u64> {
    let outcome = perform_recorded(client, process, op, recorder, generator).await?;
    if outcome == OutcomeKind::Info {
        let next = process + config.concurrency;
        *client = client_for(config, next);
        Ok(next)
    } else {
        Ok(process)
    }
}

/// Performs `op` as `process`, recording its invocation and completion (and telling `generator` what it
/// revealed); returns how it ended.
pub async fn perform_recorded(
    client: &mut Client,
    process: u64,
    op: &OpSpec,
    recorder: &Recorder,
    generator: Option<&mut Generator>,
) -> std::io::Result<OutcomeKind> {
    let key = Some(op.key());
    let (f, invoke_value) = invocation(op);
    let invoke_ns = recorder.invoke(process, f.clone(), key, invoke_value)?;
    let completion = perform(client, op).await;
    if let Some(generator) = generator {
        learn(generator, op, &completion);
    }
    let outcome = completion.outcome;
    recorder.complete(process, f, key, invoke_ns, completion)?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_values_decode_to_integers_or_text() {
        assert_eq!(decode(None), Value::Null);
        assert_eq!(decode(Some(b"3".to_vec())), json!(3));
        assert_eq!(decode(Some(b"x y".to_vec())), json!("x y"));
        assert_eq!(encode(-7), b"-7".to_vec());
    }

    #[test]
    fn invocations_use_jepsen_shapes() {
        let cas = OpSpec::Cas {
            key: "0".into(),
            expected: 1,
            new: 2,
        };
        assert_eq!(invocation(&cas), (Function::Cas, json!([1, 2])));
        let read = OpSpec::Read { key: "0".into() };
        assert_eq!(invocation(&read), (Function::Read, Value::Null));
    }
}
