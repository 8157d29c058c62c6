//! `harness model --explore ADDR` serves stateright's web explorer for the model on a loopback address:
//! the page and its status endpoint (which lists the model's properties) answer over HTTP; a malformed
//! or busy address is refused with exit code 3 and a message that names it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Polls of the explorer before giving up (each waits [`POLL_INTERVAL`]): a bound, not a timing claim.
const POLLS_MAX: usize = 600;
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The smallest model configuration (the explorer explores it on demand).
const TINY_MODEL: [&str; 11] = [
    "model",
    "--servers",
    "3",
    "--max-term",
    "1",
    "--max-log",
    "1",
    "--clients",
    "0",
    "--crashes",
    "0",
];

/// Kills the explorer however the test ends (it serves until stopped).
struct Explorer(Child);

impl Drop for Explorer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_loopback_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr")
}

/// One HTTP/1.0 GET; the whole response (status line, headers, body), or None if nobody answers yet.
fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn explorer_serves_the_model_over_http_on_loopback() {
    let addr = free_loopback_addr();
    let child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(TINY_MODEL)
        .args(["--explore", &addr.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("harness starts");
    let mut explorer = Explorer(child);
    let mut status = None;
    for _ in 0..POLLS_MAX {
        if let Some(exit) = explorer.0.try_wait().expect("poll the explorer") {
            panic!("the explorer exited before serving: {exit}");
        }
        if let Some(response) = get(addr, "/.status") {
            status = Some(response);
            break;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    let status = status.expect("the explorer answers on its address");
    assert!(
        status.starts_with("HTTP/1.1 200") || status.starts_with("HTTP/1.0 200"),
        "{status}"
    );
    for property in ["election safety", "leader completeness", "linearizable"] {
        assert!(
            status.contains(property),
            "status lists {property}: {status}"
        );
    }
    let page = get(addr, "/").expect("the page answers");
    assert!(page.contains("Stateright Explorer"), "{page}");
}

#[test]
fn a_bad_explore_address_is_bad_input() {
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["model", "--explore", "not-an-address"])
        .output()
        .expect("harness runs");
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not-an-address"),
        "the error names the input: {stderr}"
    );
}

#[test]
fn a_busy_explore_address_is_a_clear_error_not_a_panic() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let addr = taken.local_addr().expect("local addr");
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(TINY_MODEL)
        .args(["--explore", &addr.to_string()])
        .output()
        .expect("harness runs");
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&addr.to_string()) && !stderr.contains("panicked"),
        "a one-line error naming the address: {stderr}"
    );
}
