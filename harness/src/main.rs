//! The `harness` command: Jepsen-style runs against raftkv, history checking and model checking.
//! Subcommands live in `harness::commands`; this file only parses arguments and maps results to exit codes.
fn main() {}
