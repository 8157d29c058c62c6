//! The client library. (Being built.)
