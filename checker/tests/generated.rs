//! Generated histories: a sequential run given overlapping intervals must check Ok with every built-in
//! model; corrupting one read must make it Illegal.
//!
//! Replay one case with `CHECKER_SEED=<seed> cargo test -p checker --test generated` (the other
//! parameters are derived from the seed and printed on failure).

use checker::history::{EventType, Function, History};
use checker::models::{CasRegister, Kv, Register};
use checker::synth::{generate, Mix, SynthConfig};
use checker::{check_history, CheckOptions, FromHistory, Verdict};
use proptest::prelude::*;

fn config(seed: u64) -> SynthConfig {
    // Derive every parameter from the seed so the seed alone replays a case.
    let pick = |salt: u64, n: u64| {
        (seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(salt as u32 * 7)
            ^ salt)
            % n
    };
    let mut config = SynthConfig::kv(
        seed,
        20 + pick(1, 280) as usize,
        1 + pick(2, 4) as usize,
        1 + pick(3, 8) as usize,
    );
    config.fail_probability = 0.05;
    config.info_probability = 0.05;
    config
}

fn verdict<M: FromHistory>(model: &M, history: &History) -> Verdict {
    check_history(model, history, &CheckOptions::default())
        .expect("generated histories decode")
        .verdict
}

fn check_seed(seed: u64) {
    let kv = config(seed);
    let kv_history = generate(&kv);
    assert_eq!(
        verdict(&Kv, &kv_history),
        Verdict::Ok,
        "kv, seed {seed}: {kv:?}"
    );
    let register = SynthConfig {
        keys: 0,
        mix: Mix::REGISTER,
        ..kv
    };
    assert_eq!(
        verdict(&Register, &generate(&register)),
        Verdict::Ok,
        "register, seed {seed}: {register:?}"
    );
    let cas = SynthConfig {
        keys: 0,
        mix: Mix::CAS_REGISTER,
        ..kv
    };
    assert_eq!(
        verdict(&CasRegister, &generate(&cas)),
        Verdict::Ok,
        "cas-register, seed {seed}: {cas:?}"
    );
    // A read of a value nobody ever wrote cannot be linearized.
    let mut events = kv_history.events().to_vec();
    if let Some(read) = events
        .iter_mut()
        .find(|e| e.kind == EventType::Ok && e.f == Function::Read)
    {
        read.value = serde_json::Value::from("never written");
        let corrupted = History::new(events).expect("still well-formed");
        assert_eq!(
            verdict(&Kv, &corrupted),
            Verdict::Illegal,
            "corrupted kv, seed {seed}: {kv:?}"
        );
    }
}

#[test]
fn replay_or_explore_generated_histories() {
    if let Ok(seed) = std::env::var("CHECKER_SEED") {
        check_seed(seed.parse().expect("CHECKER_SEED is a u64"));
        return;
    }
    proptest!(ProptestConfig::with_cases(64), |(seed in any::<u64>())| {
        check_seed(seed);
    });
}

#[test]
fn a_large_generated_history_checks_ok_quickly_enough_for_ci() {
    let history = generate(&SynthConfig::kv(7, 20_000, 50, 32));
    let result = check_history(&Kv, &history, &CheckOptions::default()).expect("decodes");
    assert_eq!(result.verdict, Verdict::Ok);
    assert_eq!(result.partitions.len(), 50);
}
