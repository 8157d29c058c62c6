//! The `harness` command: Jepsen-style runs against raftkv. (Being built.)
fn main() {}
