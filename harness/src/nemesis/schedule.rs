//! The seeded nemesis schedule: when each fault starts and stops.
//!
//! Shape: quiet for about one interval, start a fault drawn from the list, keep it for about one
//! interval, stop it, repeat. Each wait is drawn uniformly from [interval/2, 3·interval/2] so faults do
//! not line up with periodic timers. Guarantees: the schedule is a pure function of (faults, interval,
//! seed) — same inputs, same events; starts and stops alternate, every stop names the fault of the start
//! before it, and [`Schedule::until`] closes a started fault no later than the end of the run. Each start
//! carries a `choice_seed` from which the executor draws its runtime choices (which node, which halves),
//! so those too derive from the root seed.

use super::Fault;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// The smallest interval used (a zero interval would make an endless burst at t = 0).
pub const INTERVAL_MIN: Duration = Duration::from_millis(1);
/// The most events [`Schedule::until`] returns, whatever the run length.
pub const SCHEDULED_EVENTS_MAX: usize = 100_000;

/// Whether an event begins or ends a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The fault begins.
    Start,
    /// The fault is undone.
    Stop,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Start => "start",
            Phase::Stop => "stop",
        })
    }
}

/// One planned nemesis action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduledEvent {
    /// Offset from the start of the run.
    pub at: Duration,
    /// Start or stop.
    pub phase: Phase,
    /// The fault.
    pub fault: Fault,
    /// Seed for the runtime choices of this event (same for a start and its stop).
    pub choice_seed: u64,
}

/// An endless, seeded iterator of alternating start/stop events.
#[derive(Clone, Debug)]
pub struct Schedule {
    faults: Vec<Fault>,
    interval: Duration,
    rng: ChaCha8Rng,
    now: Duration,
    active: Option<(Fault, u64)>,
}

impl Schedule {
    /// A schedule over `faults` (empty: no events) with waits around `interval`, seeded by `seed`.
    pub fn new(faults: Vec<Fault>, interval: Duration, seed: u64) -> Schedule {
        Schedule {
            faults,
            interval: interval.max(INTERVAL_MIN),
            rng: ChaCha8Rng::seed_from_u64(seed),
            now: Duration::ZERO,
            active: None,
        }
    }

    fn wait(&mut self) -> Duration {
        let nanos = u64::try_from(self.interval.as_nanos()).unwrap_or(u64::MAX);
        let low = nanos / 2;
        let high = nanos.saturating_add(nanos / 2);
        Duration::from_nanos(self.rng.gen_range(low..=high))
    }

    /// The events that start before `run_duration`; a fault still active then gets a stop at
    /// `run_duration`, so the run ends healed. At most `SCHEDULED_EVENTS_MAX` events.
    pub fn until(self, run_duration: Duration) -> Vec<ScheduledEvent> {
        let mut events: Vec<ScheduledEvent> = Vec::new();
        for mut event in self {
            if events.len() >= SCHEDULED_EVENTS_MAX - 1 {
                break;
            }
            if event.at >= run_duration {
                if event.phase == Phase::Stop {
                    event.at = run_duration;
                    events.push(event);
                }
                break;
            }
            events.push(event);
        }
        if let Some(last) = events.last() {
            if last.phase == Phase::Start {
                let stop = ScheduledEvent {
                    at: run_duration,
                    phase: Phase::Stop,
                    ..last.clone()
                };
                events.push(stop);
            }
        }
        events
    }
}

impl Iterator for Schedule {
    type Item = ScheduledEvent;

    fn next(&mut self) -> Option<ScheduledEvent> {
        if self.faults.is_empty() {
            return None;
        }
        self.now = self.now.saturating_add(self.wait());
        if let Some((fault, choice_seed)) = self.active.take() {
            return Some(ScheduledEvent {
                at: self.now,
                phase: Phase::Stop,
                fault,
                choice_seed,
            });
        }
        let fault = self.faults[self.rng.gen_range(0..self.faults.len())].clone();
        let choice_seed = self.rng.gen();
        self.active = Some((fault.clone(), choice_seed));
        Some(ScheduledEvent {
            at: self.now,
            phase: Phase::Start,
            fault,
            choice_seed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::FaultList;

    fn faults() -> Vec<Fault> {
        "partition,kill,pause,lost-writes"
            .parse::<FaultList>()
            .expect("list")
            .0
    }

    #[test]
    fn same_seed_same_schedule_other_seed_other_schedule() {
        let run = Duration::from_secs(60);
        let a = Schedule::new(faults(), Duration::from_secs(2), 17).until(run);
        let b = Schedule::new(faults(), Duration::from_secs(2), 17).until(run);
        let c = Schedule::new(faults(), Duration::from_secs(2), 18).until(run);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn starts_and_stops_alternate_within_the_run_and_end_healed() {
        for seed in 0..100 {
            let run = Duration::from_secs(30);
            let events = Schedule::new(faults(), Duration::from_secs(3), seed).until(run);
            assert!(events.len() >= 2, "seed {seed}");
            for pair in events.chunks(2) {
                let [start, stop] = pair else {
                    panic!("seed {seed}: odd number of events")
                };
                assert_eq!(
                    (start.phase, stop.phase),
                    (Phase::Start, Phase::Stop),
                    "seed {seed}"
                );
                assert_eq!(start.fault, stop.fault);
                assert_eq!(start.choice_seed, stop.choice_seed);
            }
            assert!(
                events.windows(2).all(|w| w[0].at <= w[1].at),
                "seed {seed}: time goes back"
            );
            assert!(events.iter().all(|event| event.at <= run), "seed {seed}");
        }
    }

    #[test]
    fn waits_stay_within_half_to_one_and_a_half_intervals() {
        let interval = Duration::from_secs(4);
        let events: Vec<ScheduledEvent> = Schedule::new(faults(), interval, 5).take(200).collect();
        let mut previous = Duration::ZERO;
        for event in events {
            let wait = event.at - previous;
            assert!(
                wait >= interval / 2 && wait <= interval * 3 / 2,
                "wait {wait:?}"
            );
            previous = event.at;
        }
    }

    #[test]
    fn every_listed_fault_is_eventually_drawn() {
        let drawn: Vec<Fault> = Schedule::new(faults(), Duration::from_secs(1), 3)
            .take(1000)
            .filter(|event| event.phase == Phase::Start)
            .map(|event| event.fault)
            .collect();
        for fault in faults() {
            assert!(drawn.contains(&fault), "{fault} never drawn");
        }
    }

    #[test]
    fn no_faults_no_events() {
        assert!(Schedule::new(Vec::new(), Duration::from_secs(1), 1)
            .until(Duration::from_secs(10))
            .is_empty());
    }
}
