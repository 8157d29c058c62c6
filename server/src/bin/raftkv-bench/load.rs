//! The closed loop against raftkv: each client sends one put and waits for its answer before the next;
//! only acknowledged puts count, and only those that started after the warm-up.

use crate::stats::RunStats;
use anyhow::Context as _;
use raftkv::client::{Client, ClientOptions, Outcome};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One closed-loop run: `clients` clients, a warm-up, then `measured` seconds; or, with `puts_max`, until
/// that many puts were acknowledged in total (whichever comes first).
pub struct Load<'a> {
    /// Node addresses.
    pub addrs: &'a [SocketAddr],
    /// Concurrent clients.
    pub clients: usize,
    /// Client ids are `id_base + client number`.
    pub id_base: u64,
    /// Unmeasured time before the measurement.
    pub warmup: Duration,
    /// Measured time.
    pub measured: Duration,
    /// Stop once this many puts were acknowledged over all clients.
    pub puts_max: Option<u64>,
    /// Bytes per value.
    pub value_size: usize,
}

impl Load<'_> {
    /// Runs the load and returns the merged statistics.
    pub async fn run(&self) -> anyhow::Result<RunStats> {
        let warmup_until = Instant::now() + self.warmup;
        let stop_at = warmup_until + self.measured;
        let per_client_max = self
            .puts_max
            .map(|total| total.div_ceil(self.clients as u64));
        let value = vec![b'v'; self.value_size];
        let mut tasks = Vec::new();
        for c in 0..self.clients {
            let client_id = self.id_base + c as u64;
            let mut client = Client::new(self.addrs, client_id, ClientOptions::default());
            let value = value.clone();
            tasks.push(tokio::spawn(async move {
                let mut stats = RunStats::new()?;
                let mut n = 0u64;
                loop {
                    let started = Instant::now();
                    if started >= stop_at
                        || per_client_max.is_some_and(|max| stats.acknowledged >= max)
                    {
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
        Ok(total)
    }
}
