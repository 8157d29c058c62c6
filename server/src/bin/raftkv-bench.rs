//! Throughput and latency benchmark: a 3-node raftkv cluster (in-process nodes on loopback, real WAL with
//! fsync on) under N closed-loop clients doing puts for T seconds; prints puts/s and p50/p99 latency.
//! With `--etcd ENDPOINT`, drives a running etcd through its HTTP/JSON gateway (`POST /v3/kv/put`) with
//! the same closed loop instead, for a like-for-like ratio.
//!
//! ```text
//! cargo run --release -p raftkv --bin raftkv-bench -- --clients 1,16,64 --duration-secs 10
//! cargo run --release -p raftkv --bin raftkv-bench -- --etcd http://127.0.0.1:2379 --clients 1,16,64
//! ```
//!
//! Every client waits for each answer before it sends the next request; only acknowledged puts count.

use anyhow::{bail, Context as _};
use clap::Parser;
use hdrhistogram::Histogram;
use raftkv::client::{Client, ClientOptions, Outcome};
use raftkv::node::{self, NodeConfig};
use raftkv::raft::NodeId;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// Benchmark options.
#[derive(Parser, Debug)]
#[command(name = "raftkv-bench")]
struct Args {
    /// Numbers of concurrent clients to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    clients: Vec<usize>,
    /// Measured seconds per client count.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Unmeasured seconds before each measurement.
    #[arg(long, default_value_t = 1)]
    warmup_secs: u64,
    /// Bytes per value.
    #[arg(long, default_value_t = 64)]
    value_size: usize,
    /// Drive etcd at this HTTP endpoint (e.g. http://127.0.0.1:2379) instead of raftkv.
    #[arg(long)]
    etcd: Option<String>,
    /// Where the in-process nodes keep their WALs (default: a fresh folder under the temp dir, removed
    /// afterwards). Put it on the disk you want to measure.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// Latencies and counts of one run.
struct RunStats {
    histogram: Histogram<u64>,
    acknowledged: u64,
    errors: u64,
}

impl RunStats {
    fn new() -> anyhow::Result<RunStats> {
        Ok(RunStats {
            histogram: Histogram::new_with_bounds(1, 60_000_000, 3).context("histogram")?,
            acknowledged: 0,
            errors: 0,
        })
    }

    fn record(&mut self, started: Instant, ok: bool) {
        if ok {
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let _ = self.histogram.record(micros.max(1));
            self.acknowledged += 1;
        } else {
            self.errors += 1;
        }
    }

    fn merge(&mut self, other: RunStats) -> anyhow::Result<()> {
        self.histogram
            .add(other.histogram)
            .context("merge histograms")?;
        self.acknowledged += other.acknowledged;
        self.errors += other.errors;
        Ok(())
    }

    fn print(&self, system: &str, clients: usize, measured: Duration) {
        let ms = |q: f64| self.histogram.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{system} clients={clients} puts/s={:.0} p50={:.2}ms p99={:.2}ms errors={}",
            self.acknowledged as f64 / measured.as_secs_f64(),
            ms(0.50),
            ms(0.99),
            self.errors
        );
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.clients.is_empty() || args.clients.contains(&0) {
        bail!("--clients needs positive numbers");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("runtime")?;
    runtime.block_on(async move {
        match args.etcd.clone() {
            Some(endpoint) => bench_etcd(&args, &endpoint).await,
            None => bench_raftkv(&args).await,
        }
    })
}

/// The in-process cluster: node addresses and the switches that stop the nodes.
struct LocalCluster {
    addrs: Vec<SocketAddr>,
    stops: Vec<oneshot::Sender<()>>,
    nodes: Vec<tokio::task::JoinHandle<Result<(), node::NodeError>>>,
}

async fn start_cluster(base: &Path) -> anyhow::Result<LocalCluster> {
    let mut listeners = Vec::new();
    for _ in 0..3 {
        listeners.push(tokio::net::TcpListener::bind("127.0.0.1:0").await?);
    }
    let addrs = listeners
        .iter()
        .map(|l| l.local_addr())
        .collect::<Result<Vec<_>, _>>()?;
    let mut cluster = LocalCluster {
        addrs: addrs.clone(),
        stops: Vec::new(),
        nodes: Vec::new(),
    };
    for (i, listener) in listeners.into_iter().enumerate() {
        let id = NodeId(i as u64 + 1);
        let peers: BTreeMap<NodeId, SocketAddr> = addrs
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(j, &addr)| (NodeId(j as u64 + 1), addr))
            .collect();
        let config = NodeConfig::new(id, peers, base.join(format!("n{}", id.0)));
        let (stop, stopped) = oneshot::channel::<()>();
        cluster.stops.push(stop);
        cluster
            .nodes
            .push(tokio::spawn(node::run(config, listener, async move {
                let _ = stopped.await;
            })));
    }
    Ok(cluster)
}

async fn bench_raftkv(args: &Args) -> anyhow::Result<()> {
    let (base, remove_after) = match &args.data_dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("raftkv-bench-{}", std::process::id())),
            true,
        ),
    };
    let cluster = start_cluster(&base).await?;
    let result = run_raftkv_loads(args, &cluster.addrs).await;
    for stop in cluster.stops {
        let _ = stop.send(());
    }
    for node in cluster.nodes {
        node.await.context("node task")?.context("node")?;
    }
    if remove_after {
        std::fs::remove_dir_all(&base).with_context(|| format!("remove {}", base.display()))?;
    }
    result
}

async fn run_raftkv_loads(args: &Args, addrs: &[SocketAddr]) -> anyhow::Result<()> {
    // Wait for a leader: a write succeeds.
    let mut probe = Client::new(addrs, u64::MAX, ClientOptions::default());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !probe.put(b"warmup", b"x").await.is_ok() {
        if Instant::now() > deadline {
            bail!("the cluster elected no leader within 10 s");
        }
    }
    let value = vec![b'v'; args.value_size];
    for (run, &clients) in args.clients.iter().enumerate() {
        let warmup_until = Instant::now() + Duration::from_secs(args.warmup_secs);
        let stop_at = warmup_until + Duration::from_secs(args.duration_secs);
        let mut tasks = Vec::new();
        for c in 0..clients {
            let client_id = (run as u64 + 1) * 1_000_000 + c as u64;
            let mut client = Client::new(addrs, client_id, ClientOptions::default());
            let value = value.clone();
            tasks.push(tokio::spawn(async move {
                let mut stats = RunStats::new()?;
                let mut n = 0u64;
                loop {
                    let started = Instant::now();
                    if started >= stop_at {
                        break;
                    }
                    let key = format!("c{client_id}-{n}");
                    n += 1;
                    let ok = matches!(client.put(key.as_bytes(), &value).await, Outcome::Ok(()));
                    if started >= warmup_until {
                        stats.record(started, ok);
                    }
                }
                anyhow::Ok(stats)
            }));
        }
        let mut total = RunStats::new()?;
        for task in tasks {
            total.merge(task.await.context("client task")??)?;
        }
        total.print("raftkv", clients, Duration::from_secs(args.duration_secs));
    }
    Ok(())
}

async fn bench_etcd(args: &Args, endpoint: &str) -> anyhow::Result<()> {
    let host = endpoint
        .strip_prefix("http://")
        .context("--etcd takes an http:// endpoint")?
        .trim_end_matches('/')
        .to_string();
    let value = base64(&vec![b'v'; args.value_size]);
    for (run, &clients) in args.clients.iter().enumerate() {
        let warmup_until = Instant::now() + Duration::from_secs(args.warmup_secs);
        let stop_at = warmup_until + Duration::from_secs(args.duration_secs);
        let mut tasks = Vec::new();
        for c in 0..clients {
            let (host, value) = (host.clone(), value.clone());
            tasks.push(tokio::spawn(async move {
                let mut stats = RunStats::new()?;
                let mut connection = HttpConnection::connect(&host).await?;
                let mut n = 0u64;
                loop {
                    let started = Instant::now();
                    if started >= stop_at {
                        break;
                    }
                    let key = base64(format!("r{run}-c{c}-{n}").as_bytes());
                    n += 1;
                    let body = format!(r#"{{"key":"{key}","value":"{value}"}}"#);
                    let ok = match connection.post("/v3/kv/put", &body).await {
                        Ok(status) => status == 200,
                        Err(_) => {
                            connection = HttpConnection::connect(&host).await?;
                            false
                        }
                    };
                    if started >= warmup_until {
                        stats.record(started, ok);
                    }
                }
                anyhow::Ok(stats)
            }));
        }
        let mut total = RunStats::new()?;
        for task in tasks {
            total.merge(task.await.context("client task")??)?;
        }
        total.print("etcd", clients, Duration::from_secs(args.duration_secs));
    }
    Ok(())
}

/// Longest response header section or body accepted from etcd.
const HTTP_RESPONSE_BYTES_MAX: usize = 1 << 20;

/// A minimal HTTP/1.1 keep-alive client: POST with a JSON body, read status and body.
struct HttpConnection {
    host: String,
    stream: BufReader<TcpStream>,
}

impl HttpConnection {
    async fn connect(host: &str) -> anyhow::Result<HttpConnection> {
        let stream = TcpStream::connect(host)
            .await
            .with_context(|| format!("connect to {host}"))?;
        stream.set_nodelay(true)?;
        Ok(HttpConnection {
            host: host.to_string(),
            stream: BufReader::new(stream),
        })
    }

    /// Sends one request and returns the status code (the body is read and discarded).
    async fn post(&mut self, path: &str, body: &str) -> anyhow::Result<u16> {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.stream.get_mut().write_all(request.as_bytes()).await?;
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let mut content_length = None;
        let mut chunked = false;
        let mut header_bytes = 0;
        loop {
            line.clear();
            header_bytes += self.stream.read_line(&mut line).await?;
            if header_bytes > HTTP_RESPONSE_BYTES_MAX {
                bail!("response headers too long");
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let lower = header.to_ascii_lowercase();
            if let Some(value) = lower.strip_prefix("content-length:") {
                content_length = Some(value.trim().parse::<usize>()?);
            } else if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        if chunked {
            loop {
                line.clear();
                self.stream.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim(), 16)?;
                self.discard(size + 2).await?; // chunk and its CRLF
                if size == 0 {
                    break;
                }
            }
        } else {
            self.discard(content_length.context("no content length")?)
                .await?;
        }
        Ok(status)
    }

    async fn discard(&mut self, bytes: usize) -> anyhow::Result<()> {
        if bytes > HTTP_RESPONSE_BYTES_MAX {
            bail!("response body too long");
        }
        let mut buffer = vec![0; bytes];
        self.stream.read_exact(&mut buffer).await?;
        Ok(())
    }
}

/// Standard base64 with padding (what etcd's JSON gateway expects for bytes fields).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }
}
