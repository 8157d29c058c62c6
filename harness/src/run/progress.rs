//! The progress line shown while a run goes: time left, operations by outcome and the current faults.
//! On a terminal it redraws one line; elsewhere (CI logs) it prints a line every few seconds.

use crate::recorder::OutcomeCounts;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often a non-terminal gets a new progress line.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// Draws the progress line.
pub struct Progress {
    start: Instant,
    end: Instant,
    last_line: Option<Instant>,
    last_faults: Vec<String>,
    terminal: bool,
}

impl Progress {
    /// Progress of a client phase from `start` to `end`.
    pub fn new(start: Instant, end: Instant) -> Progress {
        Progress {
            start,
            end,
            last_line: None,
            last_faults: Vec::new(),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// The text of the line.
    pub fn line(
        elapsed: Duration,
        left: Duration,
        counts: OutcomeCounts,
        faults: &[String],
    ) -> String {
        let fault = if faults.is_empty() {
            "none".to_string()
        } else {
            faults.join(", ")
        };
        format!(
            "[{:>4.0}s, {:>4.0}s left] ops {} ok {} fail {} info {} | fault: {}",
            elapsed.as_secs_f64(),
            left.as_secs_f64(),
            counts.invoked,
            counts.ok,
            counts.fail,
            counts.info,
            fault
        )
    }

    /// Redraws (terminal) or prints (every few seconds, and whenever the faults change) the line.
    pub fn draw(&mut self, out: &mut (dyn Write + Send), counts: OutcomeCounts, faults: &[String]) {
        let now = Instant::now();
        let line = Self::line(
            now - self.start,
            self.end.saturating_duration_since(now),
            counts,
            faults,
        );
        if self.terminal {
            let _ = write!(out, "\r{line}\x1b[K");
            let _ = out.flush();
        } else if self.last_line.is_none_or(|t| now - t >= LINE_EVERY) || faults != self.last_faults
        {
            let _ = writeln!(out, "{line}");
            self.last_line = Some(now);
        }
        if faults != self.last_faults {
            self.last_faults = faults.to_vec();
        }
    }

    /// Ends the progress display with a final line.
    pub fn finish(&mut self, out: &mut (dyn Write + Send), counts: OutcomeCounts) {
        let line = Self::line(Instant::now() - self.start, Duration::ZERO, counts, &[]);
        if self.terminal {
            let _ = writeln!(out, "\r{line}\x1b[K");
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_time_counts_and_faults() {
        let counts = OutcomeCounts {
            invoked: 10,
            ok: 7,
            fail: 1,
            info: 2,
        };
        let line = Progress::line(
            Duration::from_secs(12),
            Duration::from_secs(48),
            counts,
            &["random-halves".to_string()],
        );
        assert!(line.contains("48s left"), "{line}");
        assert!(line.contains("ok 7 fail 1 info 2"), "{line}");
        assert!(line.contains("fault: random-halves"), "{line}");
        let calm = Progress::line(Duration::ZERO, Duration::ZERO, counts, &[]);
        assert!(calm.contains("fault: none"), "{calm}");
    }
}
