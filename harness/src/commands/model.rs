//! `harness model`: model-checks the real Raft core with stateright (see `checker::raft_model`) within
//! bounds given on the command line, prints progress, a summary and every property's result, and for a
//! violation prints the shortest counterexample found as readable steps and writes it to a file.
//!
//! Exit codes: 0 every property holds and the bounded space was exhausted, 1 a property fails, 2 the
//! time or state budget ran out first, 3 bad input.

use checker::raft_model::render::render_path;
use checker::raft_model::runner::{run_check, PropertyOutcome, RunOptions, RunReport, Strategy};
use checker::raft_model::{ModelConfig, NetworkKind, RaftModel, StopFlag};
use clap::Args;
use raftkv::bugs::{Bug, BugSet};
use stateright::{Checker, Model};
use std::path::PathBuf;
use std::time::Duration;

/// Exit code for bad input.
pub const EXIT_BAD_INPUT: i32 = 3;

/// Arguments of `harness model`.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Number of servers.
    #[arg(long, default_value_t = 3)]
    pub servers: usize,
    /// Highest term explored.
    #[arg(long, default_value_t = 3)]
    pub max_term: u64,
    /// Longest log explored.
    #[arg(long, default_value_t = 3)]
    pub max_log: usize,
    /// Client actors (each runs --ops-per-client operations: put, read, cas in rotation).
    #[arg(long, default_value_t = 2)]
    pub clients: usize,
    /// Operations per client.
    #[arg(long, default_value_t = 1)]
    pub ops_per_client: usize,
    /// Crashes a run may have in total, each possibly followed by a restart (a crash loses everything
    /// not persisted).
    #[arg(long, default_value_t = 1)]
    pub crashes: usize,
    /// Network semantics: unordered-duplicating (every message delivered any number of times, or
    /// never: includes the other two; saturated, so the fastest to exhaust), unordered (at most once)
    /// or lossy (at most once, or dropped).
    #[arg(long, default_value = "unordered-duplicating")]
    pub network: String,
    /// Turn off the saturation reduction of the duplicating network (to measure it; see the README).
    #[arg(long)]
    pub no_saturation: bool,
    /// Classic Raft: turn pre-vote and check-quorum off (they are on in production).
    #[arg(long)]
    pub no_pre_vote: bool,
    /// Entries per AppendEntries (1 lets the Figure 8 bug bite; default: the core's).
    #[arg(long)]
    pub entries_per_append: Option<usize>,
    /// Appends in flight per follower (1 = stop-and-wait: a much smaller space; default: the core's).
    #[arg(long)]
    pub inflight_appends: Option<usize>,
    /// Checker threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Breadth-first search (shortest counterexample; no symmetry reduction).
    #[arg(long, conflicts_with_all = ["dfs", "simulate"])]
    pub bfs: bool,
    /// Depth-first search with symmetry reduction over server ids (the default).
    #[arg(long)]
    pub dfs: bool,
    /// Random walks from this seed instead of an exhaustive search (never exhaustive).
    #[arg(long)]
    pub simulate: Option<u64>,
    /// Turn off symmetry reduction for DFS.
    #[arg(long)]
    pub no_symmetry: bool,
    /// Turn off subsumption (DFS on the saturated duplicating network skips a state whose messages in
    /// flight are a subset of a recorded state's with the same servers and clients; to measure it).
    #[arg(long)]
    pub no_subsumption: bool,
    /// Switch a bug on (stale-read, commit-old-term, vote-any-log); repeatable.
    #[arg(long = "bug")]
    pub bugs: Vec<String>,
    /// Serve stateright's web explorer on this address (e.g. 127.0.0.1:3000) instead of checking.
    #[arg(long)]
    pub explore: Option<String>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Stop after about this many generated states.
    #[arg(long)]
    pub max_states: Option<usize>,
    /// Do not expand states beyond this depth (bug hunting only: the run is never exhaustive).
    #[arg(long)]
    pub max_depth: Option<usize>,
    /// Where to write a counterexample.
    #[arg(long, default_value = "model-counterexample.txt")]
    pub out: PathBuf,
}

/// The model configuration and run options `args` ask for, or why they are bad.
pub fn parse(args: &ModelArgs) -> Result<(ModelConfig, RunOptions), String> {
    let network: NetworkKind = args.network.parse().map_err(|e| format!("{e}"))?;
    let bugs = args
        .bugs
        .iter()
        .map(|name| name.parse::<Bug>().map_err(|e| e.to_string()))
        .collect::<Result<BugSet, String>>()?;
    let config = ModelConfig {
        servers: args.servers,
        max_term: args.max_term,
        max_log: args.max_log,
        clients: args.clients,
        ops_per_client: args.ops_per_client,
        crashes: args.crashes,
        network,
        pre_vote: !args.no_pre_vote,
        entries_per_append: args.entries_per_append,
        inflight_appends: args.inflight_appends,
        saturate: !args.no_saturation,
        rejections_together: true,
        eager_timeouts: true,
        refusals_are_no_step: true,
        forget_settled_ghost: true,
        forget_done_votes: true,
        restart_at_once: true,
        client_answers_at_once: true,
        bugs,
        stop: StopFlag::default(),
    };
    config.validate().map_err(|e| e.to_string())?;
    let time_limit = match args.time_limit {
        Some(secs) if !(secs.is_finite() && secs > 0.0) => {
            return Err("--time-limit must be positive".to_string())
        }
        Some(secs) => Some(Duration::from_secs_f64(secs)),
        None => None,
    };
    let strategy = match (args.bfs, args.simulate) {
        (true, _) => Strategy::Bfs,
        (false, Some(seed)) => Strategy::Simulation { seed },
        (false, None) => Strategy::Dfs,
    };
    let options = RunOptions {
        threads: args.threads.max(1),
        strategy,
        symmetry: !args.no_symmetry,
        time_limit,
        max_states: args.max_states,
        max_depth: args.max_depth,
        subsumption: !args.no_subsumption,
    };
    Ok((config, options))
}

/// Runs the command; returns the exit code.
pub fn run(args: &ModelArgs) -> i32 {
    let (config, options) = match parse(args) {
        Ok(parsed) => parsed,
        Err(why) => {
            eprintln!("error: {why}");
            return EXIT_BAD_INPUT;
        }
    };
    println!(
        "model: {} servers, max term {}, max log {}, {} clients x {} ops, {} crashes, {} network, pre-vote {}, bugs {:?}",
        config.servers,
        config.max_term,
        config.max_log,
        config.clients,
        config.ops_per_client,
        config.crashes,
        config.network,
        config.pre_vote,
        config.bugs.0.iter().map(|b| b.name()).collect::<Vec<_>>()
    );
    if let Some(address) = &args.explore {
        return explore(config, address);
    }
    let report = match run_check(&config, &options, &mut |p| {
        println!(
            "  ... {} states generated, {} unique, depth {}, {:.0}s",
            p.states_generated,
            p.unique_states,
            p.max_depth,
            p.elapsed.as_secs_f64()
        );
    }) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_BAD_INPUT;
        }
    };
    match config.into_model() {
        Ok(model) => print_report(&model, &report, &args.out),
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_BAD_INPUT;
        }
    }
    report.exit_code()
}

fn explore(config: ModelConfig, address: &str) -> i32 {
    let addr = match address.parse::<std::net::SocketAddr>() {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("error: --explore {address:?} is not IP:PORT (e.g. 127.0.0.1:3000): {error}");
            return EXIT_BAD_INPUT;
        }
    };
    // stateright's server panics when it cannot bind; find that out first and say so plainly.
    if let Err(error) = std::net::TcpListener::bind(addr) {
        eprintln!("error: cannot serve the explorer on {addr}: {error}");
        return EXIT_BAD_INPUT;
    }
    let model = match config.into_model() {
        Ok(model) => model,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_BAD_INPUT;
        }
    };
    println!("serving stateright's explorer on http://{address}/ (Ctrl-C to stop)");
    let checker = model.checker().serve(address);
    // `serve` blocks until the server stops; report what it saw.
    println!(
        "explorer stopped after {} unique states",
        checker.unique_state_count()
    );
    0
}

fn print_report(model: &RaftModel, report: &RunReport, out: &std::path::Path) {
    let secs = report.elapsed.as_secs_f64();
    println!("states generated: {}", report.states_generated);
    println!("unique states:    {}", report.unique_states);
    if report.states_covered > 0 {
        println!(
            "covered, skipped: {} (a recorded state has the same servers and clients and every message they have)",
            report.states_covered
        );
    }
    if report.states_superseded > 0 {
        println!(
            "superseded:       {} (not expanded: a state recorded after them covers them)",
            report.states_superseded
        );
    }
    println!("max depth:        {}", report.max_depth);
    println!("time:             {secs:.2}s");
    println!("states/s:         {:.0}", report.states_per_second());
    println!("exhausted:        {}", report.exhausted);
    let mut counterexample = None;
    for property in &report.properties {
        let kind = if property.always {
            "always"
        } else {
            "sometimes"
        };
        let verdict = match &property.outcome {
            PropertyOutcome::Holds => "holds".to_string(),
            PropertyOutcome::Violated(path) => {
                if counterexample.is_none() {
                    counterexample = Some((property.name, render_path(model, path)));
                }
                format!("VIOLATED ({} steps)", path.clone().into_actions().len())
            }
            PropertyOutcome::Found(path) => format!(
                "example found ({} steps)",
                path.clone().into_actions().len()
            ),
            PropertyOutcome::NotFound => "NO EXAMPLE in the whole space".to_string(),
            PropertyOutcome::Unknown => "unknown (search not finished)".to_string(),
        };
        println!("  {kind:9} {:36} {verdict}", property.name);
    }
    if let Some((name, steps)) = counterexample {
        println!("\ncounterexample for '{name}':\n{steps}");
        let text = format!("counterexample for '{name}'\n{steps}");
        match std::fs::write(out, text) {
            Ok(()) => println!("counterexample written to {}", out.display()),
            Err(error) => eprintln!("error: cannot write {}: {error}", out.display()),
        }
    }
}
