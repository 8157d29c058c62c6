//! `harness check`: check a recorded or imported history for linearizability. (Being built.)
