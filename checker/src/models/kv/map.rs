//! [`KvMap`]: the kv model checked as ONE register holding the whole map, without partitioning by key.
//! It gives the same verdicts as [`super::Kv`] (the kv specification is P-compositional by key) and
//! exists to measure the search on one large partition, as Porcupine's unpartitioned kv benchmark does.

use super::{decode, describe, is_read_only, step, value_flow, Accepts, KvInput, KvOutput};
use crate::history::Event;
use crate::model::{
    Completion, DecodeError, FromHistory, Model, Operation, Partition, Steps, ValueFlow,
};
use crate::models::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The kv model over the whole map as one state (no partitioning).
#[derive(Clone, Copy, Debug, Default)]
pub struct KvMap;

/// The map: absent keys are nil.
pub type MapState = BTreeMap<Arc<str>, Value>;

impl Model for KvMap {
    type State = MapState;
    type Input = KvInput;
    type Output = KvOutput;

    fn init(&self) -> MapState {
        MapState::new()
    }

    fn step(
        &self,
        state: &MapState,
        input: &KvInput,
        output: Option<&KvOutput>,
    ) -> Steps<MapState> {
        let key: Arc<str> = input.key.clone().unwrap_or_else(|| Arc::from(""));
        let current = state.get(&key).cloned().unwrap_or(Value::Nil);
        let with = |value: Value| {
            let mut next = state.clone();
            if value == Value::Nil {
                next.remove(&key);
            } else {
                next.insert(key.clone(), value);
            }
            next
        };
        match step(&current, &input.op, output) {
            Steps::Illegal => Steps::Illegal,
            Steps::One(value) if value == current => Steps::One(state.clone()),
            Steps::One(value) => Steps::One(with(value)),
            Steps::Many(values) => Steps::Many(values.into_iter().map(with).collect()),
        }
    }

    fn is_read_only(&self, input: &KvInput, output: Option<&KvOutput>) -> bool {
        is_read_only(&input.op, output)
    }

    fn value_flow(&self, input: &KvInput, output: Option<&KvOutput>) -> ValueFlow {
        let key = input.key.as_deref().unwrap_or("");
        let flow = value_flow(&input.op, output);
        // Values are per key in a map: qualify them so one key's write never explains another's read.
        ValueFlow {
            produces: flow
                .produces
                .into_iter()
                .map(|v| format!("{key:?}={v}"))
                .collect(),
            requires: flow
                .requires
                .into_iter()
                .map(|v| format!("{key:?}={v}"))
                .collect(),
        }
    }

    fn partition(&self, ops: &[Operation<KvInput, KvOutput>]) -> Vec<Partition> {
        vec![Partition {
            label: "map".to_string(),
            ops: (0..ops.len()).collect(),
        }]
    }

    fn describe_operation(&self, input: &KvInput, output: Option<&KvOutput>) -> String {
        describe(input, output)
    }

    fn describe_state(&self, state: &MapState) -> String {
        let entries: Vec<String> = state.iter().map(|(k, v)| format!("{k:?}: {v}")).collect();
        format!("{{{}}}", entries.join(", "))
    }
}

impl FromHistory for KvMap {
    fn decode(
        &self,
        invoke: &Event,
        completion: Completion<'_>,
    ) -> Result<(KvInput, Option<KvOutput>), DecodeError> {
        decode(
            Accepts {
                name: "kv-map",
                cas: true,
                delete_append: true,
                needs_key: true,
            },
            invoke,
            completion,
        )
    }
}
