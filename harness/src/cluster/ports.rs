//! Free loopback ports for node listen addresses.
//!
//! Guarantees: the returned addresses are distinct and were bindable a moment ago (all are held bound at
//! once, then released). Another process may still grab one before the node binds it; the launcher
//! detects that (the node exits with "address in use") and retries with fresh ports.

use std::net::{SocketAddr, TcpListener};

/// Reserves `count` distinct free ports on 127.0.0.1 and releases them.
pub fn free_loopback_addrs(count: usize) -> std::io::Result<Vec<SocketAddr>> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    listeners.iter().map(TcpListener::local_addr).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn ports_are_distinct_loopback_and_bindable() {
        let addrs = free_loopback_addrs(7).expect("ports");
        let distinct: BTreeSet<u16> = addrs.iter().map(SocketAddr::port).collect();
        assert_eq!(distinct.len(), 7);
        for addr in addrs {
            assert!(addr.ip().is_loopback() && addr.port() != 0);
            // Released: binding it again works unless another process raced us (then it is reported).
            if let Err(error) = TcpListener::bind(addr) {
                assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse, "{addr}");
            }
        }
    }
}
