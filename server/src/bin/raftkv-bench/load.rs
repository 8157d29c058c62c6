//! The closed loop, the same for every system: each client sends one put and waits for its answer before
//! the next; only acknowledged puts count, and only those that started after the warm-up.

use crate::stats::RunStats;
use anyhow::Context as _;
use raftkv::client::{Client, ClientOptions, Outcome};
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One client of the system under test.
pub trait Putter: Send + 'static {
    /// Puts this client's `n`th key; Ok(true) if acknowledged, Ok(false) if it failed, Err if the client
    /// cannot go on.
    fn put(&mut self, n: u64) -> impl Future<Output = anyhow::Result<bool>> + Send;
}

/// A raftkv client writing `c<client id>-<n>`.
pub struct RaftkvPutter {
    client: Client,
    value: Vec<u8>,
}

impl RaftkvPutter {
    /// A client of the nodes at `addrs` with id `client_id`, writing values of `value_size` bytes.
    pub fn new(addrs: &[SocketAddr], client_id: u64, value_size: usize) -> RaftkvPutter {
        RaftkvPutter {
            client: Client::new(addrs, client_id, ClientOptions::default()),
            value: vec![b'v'; value_size],
        }
    }
}

impl Putter for RaftkvPutter {
    async fn put(&mut self, n: u64) -> anyhow::Result<bool> {
        let key = format!("c{}-{n}", self.client.client_id());
        Ok(matches!(
            self.client.put(key.as_bytes(), &self.value).await,
            Outcome::Ok(())
        ))
    }
}

/// One closed-loop run: `clients` clients, a warm-up, then `measured` seconds; or, with `puts_max`, until
/// that many puts were acknowledged in total (whichever comes first).
pub struct Load {
    /// Concurrent clients.
    pub clients: usize,
    /// Unmeasured time before the measurement.
    pub warmup: Duration,
    /// Measured time.
    pub measured: Duration,
    /// Stop once this many puts were acknowledged over all clients.
    pub puts_max: Option<u64>,
}

impl Load {
    /// Runs the load with client `c` made by `make_client(c)` and returns the merged statistics.
    pub async fn run<P: Putter>(
        &self,
        mut make_client: impl FnMut(usize) -> P,
    ) -> anyhow::Result<RunStats> {
        let warmup_until = Instant::now() + self.warmup;
        let stop_at = warmup_until + self.measured;
        let per_client_max = self
            .puts_max
            .map(|total| total.div_ceil(self.clients as u64));
        let mut tasks = Vec::new();
        for c in 0..self.clients {
            let mut client = make_client(c);
            tasks.push(tokio::spawn(async move {
                let mut stats = RunStats::new()?;
                for n in 0.. {
                    let started = Instant::now();
                    if started >= stop_at
                        || per_client_max.is_some_and(|max| stats.acknowledged >= max)
                    {
                        break;
                    }
                    let ok = client.put(n).await?;
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
        Ok(total)
    }
}
