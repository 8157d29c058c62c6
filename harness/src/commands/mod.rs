//! One module per `harness` subcommand.

pub mod check;
