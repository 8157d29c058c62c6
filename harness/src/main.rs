//! The `harness` command: Jepsen-style runs against raftkv, history checking and model checking.
//! Subcommands live in `harness::commands`; this file only parses arguments and maps results to exit codes.

use clap::{Parser, Subcommand};
use harness::commands::{bench_check, bench_model, check, model, test};
use std::process::ExitCode;

/// The model checker allocates and frees states at a high rate; mimalloc does that faster than glibc's
/// allocator (see BENCHMARKS.md, round 6).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "harness",
    version,
    about = "Jepsen-style linearizability testing for raftkv"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a real raftkv cluster under faults, record and check the history, write a report
    /// (exit 0 linearizable, 1 not, 2 unknown, 3 the harness failed).
    Test(Box<test::TestArgs>),
    /// Check a history for linearizability (exit 0 linearizable, 1 not, 2 unknown, 3 bad input).
    Check(check::CheckArgs),
    /// Model-check the real Raft core with stateright (exit 0 all properties hold and the space was
    /// exhausted, 1 a property fails, 2 a budget ran out, 3 bad input).
    Model(Box<model::ModelArgs>),
    /// Benchmark the checker on porcupine's data set and a large generated history.
    BenchCheck(bench_check::BenchCheckArgs),
    /// Benchmark the model checker on a ladder of bounds with 1 and 2 threads (a Markdown table).
    BenchModel(bench_model::BenchModelArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Test(args) => {
            let mut stderr = std::io::stderr();
            ExitCode::from(test::run(&args, &mut stdout, &mut stderr))
        }
        Command::Check(args) => match check::run(&args, &mut stdout) {
            Ok(outcome) => ExitCode::from(outcome.exit_code()),
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(check::EXIT_BAD_INPUT)
            }
        },
        Command::Model(args) => ExitCode::from(u8::try_from(model::run(&args)).unwrap_or(3)),
        Command::BenchCheck(args) => match bench_check::run(&args, &mut stdout) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        },
        Command::BenchModel(args) => match bench_model::run(&args, &mut stdout) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        },
    }
}
