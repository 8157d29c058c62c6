//! One module per `harness` subcommand.

pub mod bench_check;
pub mod bench_model;
pub mod check;
pub mod model;
pub mod test;
