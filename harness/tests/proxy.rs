//! Real-TCP tests of the fault proxy: frames pass unchanged, `Drop` discards whole frames and heals,
//! seeded `Loss` is reproducible, `Delay` keeps order, and frames split across TCP writes survive.
//! Waits are for conditions (with a generous bound), never assertions on timing.

use harness::proxy::{read_frame, LinkFault, ProxyMesh};
use raftkv::raft::NodeId;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Upper bound on any wait for a condition; reaching it means the test failed.
const WAIT_MAX: Duration = Duration::from_secs(10);

fn frame(n: u32) -> Vec<u8> {
    let payload = format!("frame-{n:05}").into_bytes();
    let mut bytes = u32::try_from(payload.len())
        .expect("small")
        .to_be_bytes()
        .to_vec();
    bytes.extend(payload);
    bytes
}

fn frame_number(bytes: &[u8]) -> u32 {
    let text = std::str::from_utf8(&bytes[4..]).expect("utf8 payload");
    text.trim_start_matches("frame-")
        .parse()
        .expect("numbered frame")
}

/// A target that forwards every received frame to the channel and, if `echo`, writes it back.
async fn start_target(echo: bool) -> (SocketAddr, mpsc::UnboundedReceiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind target");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut read = tokio::io::BufReader::new(read);
                while let Ok(Some(bytes)) = read_frame(&mut read).await {
                    if echo && write.write_all(&bytes).await.is_err() {
                        return;
                    }
                    if tx.send(bytes).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, rx)
}

async fn two_node_mesh(target: SocketAddr, seed: u64) -> ProxyMesh {
    // Node 2's address is the target; node 1's address is never dialed in these tests.
    let unused: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    let targets = BTreeMap::from([(NodeId(1), unused), (NodeId(2), target)]);
    ProxyMesh::start(&targets, seed).await.expect("mesh starts")
}

async fn recv(rx: &mut mpsc::UnboundedReceiver<Vec<u8>>) -> Vec<u8> {
    tokio::time::timeout(WAIT_MAX, rx.recv())
        .await
        .expect("frame arrives within WAIT_MAX")
        .expect("target alive")
}

async fn wait_until(mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT_MAX;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within WAIT_MAX"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn frames_pass_unchanged_both_ways() {
    let (target, mut received) = start_target(true).await;
    let mesh = two_node_mesh(target, 1).await;
    let mut stream = TcpStream::connect(mesh.proxy_addr(NodeId(1), NodeId(2)).expect("link 1->2"))
        .await
        .expect("dial proxy");
    for n in 0..50 {
        stream.write_all(&frame(n)).await.expect("write");
        assert_eq!(recv(&mut received).await, frame(n));
    }
    // The echoes come back through the proxy's backward direction, intact and in order.
    let (read, _write) = stream.split();
    let mut read = tokio::io::BufReader::new(read);
    for n in 0..50 {
        let bytes = tokio::time::timeout(WAIT_MAX, read_frame(&mut read))
            .await
            .expect("echo in time")
            .expect("read ok")
            .expect("frame");
        assert_eq!(bytes, frame(n));
    }
    assert_eq!(
        mesh.link(NodeId(1), NodeId(2))
            .expect("link")
            .stats()
            .frames_forwarded,
        100
    );
}

#[tokio::test]
async fn drop_discards_whole_frames_and_heal_restores_them() {
    let (target, mut received) = start_target(false).await;
    let mesh = two_node_mesh(target, 2).await;
    let link = mesh.link(NodeId(1), NodeId(2)).expect("link").clone();
    let mut stream = TcpStream::connect(mesh.proxy_addr(NodeId(1), NodeId(2)).expect("link"))
        .await
        .expect("dial proxy");
    for n in 0..10 {
        stream.write_all(&frame(n)).await.expect("write");
    }
    for n in 0..10 {
        assert_eq!(recv(&mut received).await, frame(n));
    }
    mesh.set_link(NodeId(1), NodeId(2), LinkFault::Drop)
        .expect("known link");
    for n in 10..20 {
        stream
            .write_all(&frame(n))
            .await
            .expect("write while partitioned");
    }
    wait_until(|| link.stats().frames_dropped == 10).await;
    mesh.heal();
    for n in 20..30 {
        stream.write_all(&frame(n)).await.expect("write after heal");
    }
    // The same connection still works and the framing is intact: exactly frames 20..30 follow.
    for n in 20..30 {
        assert_eq!(recv(&mut received).await, frame(n));
    }
    assert!(received.try_recv().is_err(), "no dropped frame may arrive");
}

async fn lossy_run(seed: u64) -> Vec<u32> {
    let (target, mut received) = start_target(false).await;
    let mesh = two_node_mesh(target, seed).await;
    let link = mesh.link(NodeId(1), NodeId(2)).expect("link").clone();
    link.set(LinkFault::Loss { probability: 0.5 });
    let mut stream = TcpStream::connect(mesh.proxy_addr(NodeId(1), NodeId(2)).expect("link"))
        .await
        .expect("dial proxy");
    for n in 0..200 {
        stream.write_all(&frame(n)).await.expect("write");
    }
    wait_until(|| {
        let stats = link.stats();
        stats.frames_forwarded + stats.frames_dropped == 200
    })
    .await;
    let forwarded = link.stats().frames_forwarded;
    let mut numbers = Vec::new();
    for _ in 0..forwarded {
        numbers.push(frame_number(&recv(&mut received).await));
    }
    numbers
}

#[tokio::test]
async fn seeded_loss_is_reproducible() {
    let first = lossy_run(42).await;
    let again = lossy_run(42).await;
    let other = lossy_run(43).await;
    assert_eq!(first, again, "same seed must drop the same frames");
    assert_ne!(
        first, other,
        "a different seed should drop different frames"
    );
    assert!(
        !first.is_empty() && first.len() < 200,
        "p=0.5 over 200 frames drops some, not all"
    );
    assert!(
        first.windows(2).all(|pair| pair[0] < pair[1]),
        "survivors keep their order"
    );
}

#[tokio::test]
async fn delay_keeps_frame_order() {
    let (target, mut received) = start_target(false).await;
    let mesh = two_node_mesh(target, 3).await;
    mesh.set_all(LinkFault::Delay {
        mean_ms: 10,
        jitter_ms: 10,
    });
    let mut stream = TcpStream::connect(mesh.proxy_addr(NodeId(1), NodeId(2)).expect("link"))
        .await
        .expect("dial proxy");
    for n in 0..100 {
        stream.write_all(&frame(n)).await.expect("write");
    }
    for n in 0..100 {
        assert_eq!(frame_number(&recv(&mut received).await), n);
    }
}

#[tokio::test]
async fn frame_split_across_tcp_writes_arrives_whole() {
    let (target, mut received) = start_target(false).await;
    let mesh = two_node_mesh(target, 4).await;
    let mut stream = TcpStream::connect(mesh.proxy_addr(NodeId(1), NodeId(2)).expect("link"))
        .await
        .expect("dial proxy");
    stream.set_nodelay(true).expect("nodelay");
    let bytes = [frame(7), frame(8)].concat();
    for byte in &bytes {
        stream
            .write_all(std::slice::from_ref(byte))
            .await
            .expect("write one byte");
        stream.flush().await.expect("flush");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(recv(&mut received).await, frame(7));
    assert_eq!(recv(&mut received).await, frame(8));
}

#[tokio::test]
async fn mesh_has_a_proxy_per_directed_link_and_peer_args_name_them() {
    let targets: BTreeMap<NodeId, SocketAddr> = (1..=3)
        .map(|id| {
            (
                NodeId(id),
                format!("127.0.0.1:{}", 7000 + id).parse().expect("addr"),
            )
        })
        .collect();
    let mesh = ProxyMesh::start(&targets, 9).await.expect("mesh");
    assert_eq!(mesh.links().count(), 6);
    let args = mesh.peer_args(NodeId(2));
    let expected = vec![
        "--peer".to_string(),
        format!("1={}", mesh.proxy_addr(NodeId(2), NodeId(1)).expect("2->1")),
        "--peer".to_string(),
        format!("3={}", mesh.proxy_addr(NodeId(2), NodeId(3)).expect("2->3")),
    ];
    assert_eq!(args, expected);
    assert_ne!(
        mesh.proxy_addr(NodeId(1), NodeId(3)),
        mesh.proxy_addr(NodeId(3), NodeId(1))
    );
    assert!(mesh
        .set_link(NodeId(1), NodeId(1), LinkFault::Drop)
        .is_err());
    mesh.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_open_connections() {
    let (target, mut received) = start_target(false).await;
    let mesh = two_node_mesh(target, 5).await;
    let mut stream = TcpStream::connect(mesh.proxy_addr(NodeId(1), NodeId(2)).expect("link"))
        .await
        .expect("dial proxy");
    stream.write_all(&frame(1)).await.expect("write");
    assert_eq!(recv(&mut received).await, frame(1));
    mesh.shutdown().await;
    // The proxy side of the connection is gone: reading sees end of stream (or a reset).
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(
        WAIT_MAX,
        tokio::io::AsyncReadExt::read(&mut stream, &mut byte),
    )
    .await
    .expect("connection closed within WAIT_MAX");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}
