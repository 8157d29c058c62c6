//! Model checks of the real Raft core (see `checker::raft_model`).

use checker::raft_model::runner::{run_check, RunOptions, Strategy};
use checker::raft_model::{ModelConfig, NetworkKind};
use std::time::Duration;

#[test]
fn explore_sizes() {
    let config = ModelConfig {
        servers: 3,
        max_term: std::env::var("MT").map(|v| v.parse().unwrap()).unwrap_or(2),
        max_log: std::env::var("ML").map(|v| v.parse().unwrap()).unwrap_or(2),
        clients: std::env::var("CL").map(|v| v.parse().unwrap()).unwrap_or(1),
        ops_per_client: 1,
        crashes: std::env::var("CR").map(|v| v.parse().unwrap()).unwrap_or(0),
        network: NetworkKind::Unordered,
        pre_vote: std::env::var("PV").is_ok(),
        bugs: std::env::var("BUG")
            .map(|b| {
                [b.parse::<raftkv::bugs::Bug>().unwrap()]
                    .into_iter()
                    .collect()
            })
            .unwrap_or_default(),
    };
    let options = RunOptions {
        threads: 2,
        strategy: if std::env::var("BFS").is_ok() {
            Strategy::Bfs
        } else {
            Strategy::Dfs
        },
        symmetry: std::env::var("SYM").is_ok(),
        time_limit: Some(Duration::from_secs(
            std::env::var("TL")
                .map(|v| v.parse().unwrap())
                .unwrap_or(60),
        )),
        max_states: None,
    };
    let report = run_check(&config, &options, &mut |p| eprintln!("{p:?}")).unwrap();
    eprintln!(
        "unique {} gen {} depth {} {:?} exhausted {}",
        report.unique_states,
        report.states_generated,
        report.max_depth,
        report.elapsed,
        report.exhausted
    );
    for p in &report.properties {
        eprintln!(
            "{} {:?}",
            p.name,
            match &p.outcome {
                checker::raft_model::runner::PropertyOutcome::Violated(path) =>
                    format!("VIOLATED {:?}", path.clone().into_actions()),
                o => format!("{:?}", std::mem::discriminant(o)),
            }
        );
    }
}
