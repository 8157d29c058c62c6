//! One module per `harness` subcommand.

pub mod bench_check;
pub mod check;
pub mod model;
pub mod test;
