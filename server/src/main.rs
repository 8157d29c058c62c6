//! The `raftkv` binary: runs a node, or acts as a client. (Being built.)
fn main() {}
