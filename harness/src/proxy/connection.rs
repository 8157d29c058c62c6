//! One proxied TCP connection: two frame pumps (dialer→target and back) that judge each WHOLE frame.
//!
//! Guarantees: bytes are never split or merged across frames — a frame is read completely (however the
//! TCP stream chops it) before it is forwarded or discarded, so dropping never corrupts the framing.
//! Within a direction, delivered frames keep their order (each frame's delivery time is at least the
//! previous one's). Memory is bounded: per direction at most `FRAMES_IN_FLIGHT_MAX` frames and
//! `BYTES_IN_FLIGHT_MAX` bytes wait (then reading pauses, which back-pressures the sender through TCP);
//! a frame longer than `FRAME_LEN_MAX` closes the connection. When either side closes or fails,
//! the whole connection ends (tarpc redials).

use super::link::{Direction, LinkHandle, Verdict};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The largest frame payload forwarded, in bytes. Equal to the server's own limit
/// (`raftkv::node::wire::MAX_FRAME_BYTES`, 64 MiB), so the proxy never rejects a frame the server accepts.
pub const FRAME_LEN_MAX: usize = 64 << 20;
/// The most frames waiting (delayed or unwritten) per direction of one connection.
pub const FRAMES_IN_FLIGHT_MAX: usize = 1024;
/// The most frame bytes waiting per direction of one connection; the reader stops reading (TCP
/// back-pressure) until the writer catches up. At least `FRAME_LEN_MAX` so any single frame fits.
pub const BYTES_IN_FLIGHT_MAX: usize = 2 * FRAME_LEN_MAX;
/// How long to wait for the target to accept before giving up on the incoming connection.
pub const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Read buffer per direction, in bytes.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Reads one length-prefixed frame (4-byte big-endian length, then payload) and returns the whole frame
/// including its prefix, or `None` on a clean end of stream before the first byte of a frame.
pub async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut prefix = [0u8; 4];
    match reader.read_exact(&mut prefix).await {
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let payload_len = usize::try_from(u32::from_be_bytes(prefix)).unwrap_or(usize::MAX);
    if payload_len > FRAME_LEN_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {payload_len} bytes exceeds FRAME_LEN_MAX {FRAME_LEN_MAX}"),
        ));
    }
    let mut frame = vec![0u8; 4 + payload_len];
    frame[..4].copy_from_slice(&prefix);
    reader.read_exact(&mut frame[4..]).await?;
    Ok(Some(frame))
}

/// Reads frames from `reader`, judges each on `link`, and writes the delivered ones to `writer` in order.
/// Returns when the reader reaches end of stream (after writing what is still queued) or on an error.
pub async fn pump<R, W>(
    reader: R,
    mut writer: W,
    link: LinkHandle,
    direction: Direction,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (queue_tx, mut queue_rx) =
        mpsc::channel::<(Instant, Vec<u8>, OwnedSemaphorePermit)>(FRAMES_IN_FLIGHT_MAX);
    let byte_budget = Arc::new(Semaphore::new(BYTES_IN_FLIGHT_MAX));
    let read_side = async move {
        let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, reader);
        let mut last_delivery = Instant::now();
        while let Some(frame) = read_frame(&mut reader).await? {
            let Verdict::Deliver(delay) = link.judge(direction) else {
                continue;
            };
            // Never schedule a frame before its predecessor: that is what keeps delayed frames in order.
            let delivery = (Instant::now() + delay).max(last_delivery);
            last_delivery = delivery;
            let frame_bytes =
                u32::try_from(frame.len()).expect("frames are at most FRAME_LEN_MAX + 4 bytes");
            let Ok(permit) = Arc::clone(&byte_budget)
                .acquire_many_owned(frame_bytes)
                .await
            else {
                break; // The semaphore is never closed; nothing to forward to if it were.
            };
            if queue_tx.send((delivery, frame, permit)).await.is_err() {
                break; // The writer failed; its error is reported by the write side.
            }
        }
        Ok::<(), io::Error>(())
    };
    let write_side = async move {
        while let Some((delivery, frame, permit)) = queue_rx.recv().await {
            tokio::time::sleep_until(delivery).await;
            writer.write_all(&frame).await?;
            drop(permit); // Only now are the frame's bytes no longer held.
        }
        writer.shutdown().await
    };
    tokio::try_join!(read_side, write_side).map(|_| ())
}

/// Serves one accepted connection of `link`: dials `target` and pumps both directions until either ends.
pub async fn serve(inbound: TcpStream, target: SocketAddr, link: LinkHandle) -> io::Result<()> {
    let outbound = tokio::time::timeout(UPSTREAM_CONNECT_TIMEOUT, TcpStream::connect(target))
        .await
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connect to {target} timed out"),
            )
        })??;
    // Raft heartbeats are tiny; Nagle would add latency the fault model does not ask for.
    inbound.set_nodelay(true)?;
    outbound.set_nodelay(true)?;
    let (inbound_read, inbound_write) = inbound.into_split();
    let (outbound_read, outbound_write) = outbound.into_split();
    let forward = pump(
        inbound_read,
        outbound_write,
        link.clone(),
        Direction::Forward,
    );
    let backward = pump(outbound_read, inbound_write, link, Direction::Backward);
    // The first direction to finish ends the connection; dropping the other closes its sockets.
    tokio::select! {
        result = forward => result,
        result = backward => result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::LinkFault;
    use raftkv::raft::NodeId;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut bytes = u32::try_from(payload.len())
            .expect("small test frame")
            .to_be_bytes()
            .to_vec();
        bytes.extend_from_slice(payload);
        bytes
    }

    #[tokio::test]
    async fn frame_split_across_reads_is_reassembled() {
        let whole = frame(b"hello raft");
        // A reader that yields the frame 3 bytes at a time.
        let mut builder = tokio_test_reader(&whole, 3);
        let read = read_frame(&mut builder)
            .await
            .expect("read ok")
            .expect("one frame");
        assert_eq!(read, whole);
        assert!(read_frame(&mut builder).await.expect("clean eof").is_none());
    }

    #[tokio::test]
    async fn truncated_frame_is_an_error_not_a_frame() {
        let mut whole = frame(b"abcdef");
        whole.truncate(7);
        let mut reader = &whole[..];
        assert!(read_frame(&mut reader).await.is_err());
    }

    #[tokio::test]
    async fn oversized_frame_is_rejected() {
        let prefix = u32::try_from(FRAME_LEN_MAX + 1)
            .expect("fits")
            .to_be_bytes();
        let mut reader = &prefix[..];
        let error = read_frame(&mut reader).await.expect_err("too long");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn pump_drops_whole_frames_only() {
        let link = LinkHandle::new(NodeId(1), NodeId(2), 5);
        link.set(LinkFault::Loss { probability: 0.5 });
        let mut input = Vec::new();
        for n in 0u32..100 {
            input.extend(frame(&n.to_be_bytes()));
        }
        let mut output = Vec::new();
        pump(&input[..], &mut output, link.clone(), Direction::Forward)
            .await
            .expect("pump ok");
        // Re-parse the output: it must be a sequence of intact, increasing frames.
        let mut reader = &output[..];
        let mut previous = None;
        let mut count = 0u64;
        while let Some(bytes) = read_frame(&mut reader).await.expect("intact framing") {
            assert_eq!(bytes.len(), 8);
            let n = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
            assert!(previous.is_none_or(|p| p < n), "frames out of order");
            previous = Some(n);
            count += 1;
        }
        let stats = link.stats();
        assert_eq!(stats.frames_forwarded, count);
        assert_eq!(stats.frames_forwarded + stats.frames_dropped, 100);
        assert!(stats.frames_dropped > 0 && count > 0);
    }

    /// An in-memory reader that hands out at most `chunk` bytes per read.
    fn tokio_test_reader(bytes: &[u8], chunk: usize) -> impl AsyncRead + Unpin {
        let (mut client, server) = tokio::io::duplex(chunk);
        let bytes = bytes.to_vec();
        tokio::spawn(async move {
            for piece in bytes.chunks(chunk) {
                client.write_all(piece).await.expect("duplex write");
                tokio::task::yield_now().await;
            }
        });
        server
    }
}
