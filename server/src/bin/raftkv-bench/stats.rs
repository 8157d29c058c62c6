//! Latency histogram and counts of one closed-loop run, and the one line that reports them.

use anyhow::Context as _;
use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

/// Latencies (microseconds) of acknowledged requests and counts of one run.
pub struct RunStats {
    histogram: Histogram<u64>,
    /// Requests that were acknowledged.
    pub acknowledged: u64,
    /// Requests that failed or timed out.
    pub errors: u64,
}

impl RunStats {
    /// Empty statistics (latencies from 1 µs to 60 s, 3 significant digits).
    pub fn new() -> anyhow::Result<RunStats> {
        Ok(RunStats {
            histogram: Histogram::new_with_bounds(1, 60_000_000, 3).context("histogram")?,
            acknowledged: 0,
            errors: 0,
        })
    }

    /// Records one request that started at `started` and has just ended.
    pub fn record(&mut self, started: Instant, ok: bool) {
        if ok {
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let _ = self.histogram.record(micros.max(1));
            self.acknowledged += 1;
        } else {
            self.errors += 1;
        }
    }

    /// Adds another client's statistics to these.
    pub fn merge(&mut self, other: RunStats) -> anyhow::Result<()> {
        self.histogram
            .add(other.histogram)
            .context("merge histograms")?;
        self.acknowledged += other.acknowledged;
        self.errors += other.errors;
        Ok(())
    }

    /// Prints `system clients=N puts/s=.. p50=.. p99=.. errors=..`.
    pub fn print(&self, system: &str, clients: usize, measured: Duration) {
        let ms = |q: f64| self.histogram.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{system} clients={clients} puts/s={:.0} p50={:.2}ms p99={:.2}ms p99.9={:.2}ms max={:.2}ms errors={}",
            self.acknowledged as f64 / measured.as_secs_f64(),
            ms(0.50),
            ms(0.99),
            ms(0.999),
            self.histogram.max() as f64 / 1000.0,
            self.errors
        );
    }
}
