//! Framing and connection setup shared by the node and the client: tarpc over TCP with bincode, an
//! explicit maximum frame length and `TCP_NODELAY`.
//!
//! Frames are tarpc's length-delimited frames (4-byte big-endian length, then the bincode body). The
//! maximum frame is set explicitly on both sides because tarpc's default (8 MiB) turns a big AppendEntries
//! into a vague disconnect.

use super::service::{KvNodeClient, KvNodeRequest, KvNodeResponse};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tarpc::serde_transport::Transport;
use tarpc::tokio_serde::formats::Bincode;
use tarpc::tokio_util::codec::{Framed, LengthDelimitedCodec};
use tarpc::{ClientMessage, Response as TarpcResponse};
use tokio::net::TcpStream;

/// The largest frame either side accepts.
pub const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// How long a TCP connect may take before it counts as failed.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Requests one client connection may have in flight (tarpc queues more).
pub const MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION: usize = 1024;

/// The server side of one connection.
pub type ServerTransport = Transport<
    TcpStream,
    ClientMessage<KvNodeRequest>,
    TarpcResponse<KvNodeResponse>,
    Bincode<ClientMessage<KvNodeRequest>, TarpcResponse<KvNodeResponse>>,
>;

fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME_BYTES)
        .new_codec()
}

/// Wraps an accepted connection (sets `TCP_NODELAY`).
pub fn server_transport(stream: TcpStream) -> io::Result<ServerTransport> {
    stream.set_nodelay(true)?;
    Ok(tarpc::serde_transport::new(
        Framed::new(stream, codec()),
        Bincode::default(),
    ))
}

/// Dials `addr` and returns a tarpc client for it. tarpc never reconnects: when calls on the client fail
/// with a connection error, dial again.
pub async fn connect(addr: SocketAddr) -> io::Result<KvNodeClient> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    let transport = tarpc::serde_transport::new(Framed::new(stream, codec()), Bincode::default());
    let mut config = tarpc::client::Config::default();
    config.max_in_flight_requests = MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION;
    Ok(KvNodeClient::new(config, transport).spawn())
}

/// A tarpc context whose deadline is `timeout` from now.
pub fn context_with_timeout(timeout: Duration) -> tarpc::context::Context {
    let mut ctx = tarpc::context::current();
    ctx.deadline = std::time::Instant::now() + timeout;
    ctx
}
