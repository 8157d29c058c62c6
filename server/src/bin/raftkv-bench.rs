//! Throughput and latency benchmark for a 3-node raftkv cluster on loopback. (Being built.)
fn main() {}
