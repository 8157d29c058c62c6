//! The one fault vocabulary: every fault the harness can inject, with its parameters, its history name
//! and its `--nemesis` spelling.
//!
//! Guarantees: `Display` and `FromStr` round-trip (`fault.to_string().parse() == Ok(fault)`); parameters
//! equal to the defaults are omitted when displayed, so the common spellings stay short (`kill`,
//! `delay`, `random-halves`); a list spelling (`partition,kill:leader,delay:80:40`) parses into
//! [`FaultList`], where `partition` expands to every partition shape.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Default mean added latency of the `delay` fault, in milliseconds.
pub const DELAY_MEAN_MS_DEFAULT: u64 = 50;
/// Default jitter of the `delay` fault, in milliseconds.
pub const DELAY_JITTER_MS_DEFAULT: u64 = 25;
/// Default frame loss probability of the `loss` fault.
pub const LOSS_PROBABILITY_DEFAULT: f64 = 0.2;
/// The most faults one `--nemesis` list may hold (a bound on parsing, far above any real use).
pub const FAULT_LIST_LEN_MAX: usize = 64;

/// How the network is cut. Each shape is computed by [`crate::nemesis::plan_partition`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionShape {
    /// Two random halves (minority and majority); links across are cut both ways.
    RandomHalves,
    /// The leader (or a random node if none is known) alone against the rest.
    IsolateLeader,
    /// Every node sees a majority, no two nodes see the same majority (Jepsen's majorities ring).
    MajoritiesRing,
    /// Two halves joined by one bridge node that sees everyone.
    Bridge,
    /// Two random halves; links from one side to the other are cut, the reverse direction passes.
    OneWay,
}

impl PartitionShape {
    /// Every shape, in a fixed order.
    pub const ALL: [PartitionShape; 5] = [
        PartitionShape::RandomHalves,
        PartitionShape::IsolateLeader,
        PartitionShape::MajoritiesRing,
        PartitionShape::Bridge,
        PartitionShape::OneWay,
    ];

    /// The kebab-case name, as in `--nemesis` and the history.
    pub fn name(self) -> &'static str {
        match self {
            PartitionShape::RandomHalves => "random-halves",
            PartitionShape::IsolateLeader => "isolate-leader",
            PartitionShape::MajoritiesRing => "majorities-ring",
            PartitionShape::Bridge => "bridge",
            PartitionShape::OneWay => "one-way",
        }
    }
}

/// Which nodes a process fault (kill, pause, lost-writes) hits; resolved when the fault starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// One random node.
    One,
    /// The current leader (a random node if none is known).
    Leader,
    /// A random minority: floor((N-1)/2) nodes, at least one.
    Minority,
    /// A random majority: floor(N/2)+1 nodes.
    Majority,
    /// Every node.
    All,
}

impl Target {
    /// Every target, in a fixed order.
    pub const ALL: [Target; 5] = [
        Target::One,
        Target::Leader,
        Target::Minority,
        Target::Majority,
        Target::All,
    ];

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Target::One => "one",
            Target::Leader => "leader",
            Target::Minority => "minority",
            Target::Majority => "majority",
            Target::All => "all",
        }
    }
}

impl FromStr for Target {
    type Err = FaultParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Target::ALL
            .into_iter()
            .find(|target| target.name() == text)
            .ok_or_else(|| FaultParseError::BadArgument {
                fault: text.to_string(),
                reason: "target must be one of one, leader, minority, majority, all".to_string(),
            })
    }
}

/// Every fault the harness can inject. Each has a start and a stop: the stop undoes the start (heal the
/// links, restart the killed, continue the paused). `Heal` undoes every active fault at its start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "kebab-case")]
pub enum Fault {
    /// Cut links by a partition shape (proxy `Drop` on the cut links).
    Partition {
        /// The shape of the cut.
        shape: PartitionShape,
    },
    /// Delay every frame on every link by `mean_ms ± jitter_ms`.
    Delay {
        /// Mean added latency in milliseconds.
        mean_ms: u64,
        /// Half-width of the uniform jitter, in milliseconds.
        jitter_ms: u64,
    },
    /// Drop each frame on every link with this probability.
    Loss {
        /// Probability that a frame is dropped, 0.0..=1.0.
        probability: f64,
    },
    /// kill -9 the target nodes at start; restart them at stop.
    Kill {
        /// Which nodes.
        target: Target,
    },
    /// SIGSTOP the target nodes at start; SIGCONT at stop.
    Pause {
        /// Which nodes.
        target: Target,
    },
    /// kill -9 target nodes that run with `--unsafe-lose-unsynced-writes` (they lose unsynced bytes);
    /// restart them at stop.
    LostWrites {
        /// Which nodes.
        target: Target,
    },
    /// Undo every active fault.
    Heal,
}

impl Fault {
    /// The short kind name used in history events (`start-<name>` / `stop-<name>`).
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Partition { shape } => shape.name(),
            Fault::Delay { .. } => "delay",
            Fault::Loss { .. } => "loss",
            Fault::Kill { .. } => "kill",
            Fault::Pause { .. } => "pause",
            Fault::LostWrites { .. } => "lost-writes",
            Fault::Heal => "heal",
        }
    }

    /// Whether the fault acts on links (and so needs the proxy mesh).
    pub fn needs_proxy(&self) -> bool {
        matches!(
            self,
            Fault::Partition { .. } | Fault::Delay { .. } | Fault::Loss { .. }
        )
    }

    /// Whether the nodes must run with `--unsafe-lose-unsynced-writes` for this fault to mean anything.
    pub fn needs_unsafe_lose_unsynced_writes(&self) -> bool {
        matches!(self, Fault::LostWrites { .. })
    }

    fn default_target(name: &str) -> Target {
        if name == "lost-writes" {
            // Unsynced writes are only lost for good if every copy is lost: kill everyone at once.
            Target::All
        } else {
            Target::One
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        match self {
            Fault::Partition { .. } | Fault::Heal => write!(f, "{name}"),
            Fault::Delay { mean_ms, jitter_ms } => {
                if (*mean_ms, *jitter_ms) == (DELAY_MEAN_MS_DEFAULT, DELAY_JITTER_MS_DEFAULT) {
                    write!(f, "{name}")
                } else {
                    write!(f, "{name}:{mean_ms}:{jitter_ms}")
                }
            }
            Fault::Loss { probability } => {
                if *probability == LOSS_PROBABILITY_DEFAULT {
                    write!(f, "{name}")
                } else {
                    write!(f, "{name}:{probability}")
                }
            }
            Fault::Kill { target } | Fault::Pause { target } | Fault::LostWrites { target } => {
                if *target == Fault::default_target(name) {
                    write!(f, "{name}")
                } else {
                    write!(f, "{name}:{}", target.name())
                }
            }
        }
    }
}

/// A fault spelling that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultParseError {
    /// The name is not in the vocabulary.
    #[error("unknown fault {0:?}; known: partition, random-halves, isolate-leader, majorities-ring, bridge, one-way, delay[:MEAN_MS:JITTER_MS], loss[:P], kill[:TARGET], pause[:TARGET], lost-writes[:TARGET], heal")]
    UnknownFault(String),
    /// The name is known but its arguments are wrong.
    #[error("bad arguments for fault {fault:?}: {reason}")]
    BadArgument {
        /// The spelling given.
        fault: String,
        /// What is wrong.
        reason: String,
    },
    /// The list is longer than `FAULT_LIST_LEN_MAX`.
    #[error("too many faults in the list (max {FAULT_LIST_LEN_MAX})")]
    TooMany,
}

fn bad(text: &str, reason: &str) -> FaultParseError {
    FaultParseError::BadArgument {
        fault: text.to_string(),
        reason: reason.to_string(),
    }
}

fn parse_number<T: FromStr>(text: &str, part: &str, what: &str) -> Result<T, FaultParseError> {
    part.parse()
        .map_err(|_| bad(text, &format!("{what} must be a number, got {part:?}")))
}

impl FromStr for Fault {
    type Err = FaultParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let mut parts = text.split(':');
        let name = parts.next().unwrap_or_default();
        let args: Vec<&str> = parts.collect();
        if let Some(shape) = PartitionShape::ALL
            .into_iter()
            .find(|shape| shape.name() == name)
        {
            return if args.is_empty() {
                Ok(Fault::Partition { shape })
            } else {
                Err(bad(text, "partition shapes take no arguments"))
            };
        }
        match name {
            "heal" if args.is_empty() => Ok(Fault::Heal),
            "heal" => Err(bad(text, "heal takes no arguments")),
            "delay" => match args.as_slice() {
                [] => Ok(Fault::Delay {
                    mean_ms: DELAY_MEAN_MS_DEFAULT,
                    jitter_ms: DELAY_JITTER_MS_DEFAULT,
                }),
                [mean, jitter] => Ok(Fault::Delay {
                    mean_ms: parse_number(text, mean, "MEAN_MS")?,
                    jitter_ms: parse_number(text, jitter, "JITTER_MS")?,
                }),
                _ => Err(bad(text, "expected delay or delay:MEAN_MS:JITTER_MS")),
            },
            "loss" => match args.as_slice() {
                [] => Ok(Fault::Loss {
                    probability: LOSS_PROBABILITY_DEFAULT,
                }),
                [p] => {
                    let probability: f64 = parse_number(text, p, "P")?;
                    if (0.0..=1.0).contains(&probability) {
                        Ok(Fault::Loss { probability })
                    } else {
                        Err(bad(text, "P must be within 0..=1"))
                    }
                }
                _ => Err(bad(text, "expected loss or loss:P")),
            },
            "kill" | "pause" | "lost-writes" => {
                let target = match args.as_slice() {
                    [] => Fault::default_target(name),
                    [target] => target.parse().map_err(|_| {
                        bad(
                            text,
                            "TARGET must be one of one, leader, minority, majority, all",
                        )
                    })?,
                    _ => return Err(bad(text, "expected NAME or NAME:TARGET")),
                };
                Ok(match name {
                    "kill" => Fault::Kill { target },
                    "pause" => Fault::Pause { target },
                    _ => Fault::LostWrites { target },
                })
            }
            _ => Err(FaultParseError::UnknownFault(text.to_string())),
        }
    }
}

/// A `--nemesis` list: comma-separated fault spellings; `partition` expands to every partition shape;
/// duplicates are kept once, in first-seen order; `none` or an empty string is the empty list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultList(pub Vec<Fault>);

impl FromStr for FaultList {
    type Err = FaultParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut faults: Vec<Fault> = Vec::new();
        for item in text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty() && *item != "none")
        {
            let expanded: Vec<Fault> = if item == "partition" {
                PartitionShape::ALL
                    .into_iter()
                    .map(|shape| Fault::Partition { shape })
                    .collect()
            } else {
                vec![item.parse()?]
            };
            for fault in expanded {
                if !faults.contains(&fault) {
                    faults.push(fault);
                }
            }
            if faults.len() > FAULT_LIST_LEN_MAX {
                return Err(FaultParseError::TooMany);
            }
        }
        Ok(FaultList(faults))
    }
}

impl fmt::Display for FaultList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return write!(f, "none");
        }
        let spellings: Vec<String> = self.0.iter().map(Fault::to_string).collect();
        write!(f, "{}", spellings.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<Fault> {
        let mut faults: Vec<Fault> = PartitionShape::ALL
            .into_iter()
            .map(|shape| Fault::Partition { shape })
            .collect();
        faults.extend([
            Fault::Delay {
                mean_ms: DELAY_MEAN_MS_DEFAULT,
                jitter_ms: DELAY_JITTER_MS_DEFAULT,
            },
            Fault::Delay {
                mean_ms: 80,
                jitter_ms: 0,
            },
            Fault::Loss {
                probability: LOSS_PROBABILITY_DEFAULT,
            },
            Fault::Loss { probability: 0.05 },
            Fault::Heal,
        ]);
        for target in Target::ALL {
            faults.extend([
                Fault::Kill { target },
                Fault::Pause { target },
                Fault::LostWrites { target },
            ]);
        }
        faults
    }

    #[test]
    fn display_and_from_str_round_trip_for_every_fault() {
        for fault in every_kind() {
            let spelled = fault.to_string();
            assert_eq!(
                spelled.parse::<Fault>(),
                Ok(fault.clone()),
                "spelling {spelled}"
            );
        }
    }

    #[test]
    fn serde_round_trip_for_every_fault() {
        for fault in every_kind() {
            let json = serde_json::to_string(&fault).expect("serialize");
            let back: Fault = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, fault, "json {json}");
        }
        let json = serde_json::to_value(Fault::Kill {
            target: Target::Leader,
        })
        .expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({"fault": "kill", "target": "leader"})
        );
    }

    #[test]
    fn defaults_have_short_spellings() {
        assert_eq!(
            "kill".parse::<Fault>(),
            Ok(Fault::Kill {
                target: Target::One
            })
        );
        assert_eq!(
            "lost-writes".parse::<Fault>(),
            Ok(Fault::LostWrites {
                target: Target::All
            })
        );
        assert_eq!(
            Fault::Kill {
                target: Target::Leader
            }
            .to_string(),
            "kill:leader"
        );
        assert_eq!(
            "delay:80:40".parse::<Fault>(),
            Ok(Fault::Delay {
                mean_ms: 80,
                jitter_ms: 40
            })
        );
        assert_eq!(
            Fault::Kill {
                target: Target::Leader
            }
            .name(),
            "kill"
        );
    }

    #[test]
    fn list_expands_partition_and_deduplicates() {
        let list: FaultList = "partition, kill,pause,lost-writes,kill,bridge"
            .parse()
            .expect("parses");
        let names: Vec<&str> = list.0.iter().map(Fault::name).collect();
        assert_eq!(
            names,
            [
                "random-halves",
                "isolate-leader",
                "majorities-ring",
                "bridge",
                "one-way",
                "kill",
                "pause",
                "lost-writes"
            ]
        );
        assert_eq!(list.to_string().parse::<FaultList>(), Ok(list));
        assert_eq!("none".parse::<FaultList>(), Ok(FaultList::default()));
    }

    #[test]
    fn bad_spellings_are_rejected_with_a_reason() {
        for text in [
            "explode",
            "loss:2",
            "loss:x",
            "kill:everyone",
            "delay:5",
            "bridge:1",
            "heal:now",
        ] {
            assert!(text.parse::<Fault>().is_err(), "{text} must not parse");
        }
        assert!(matches!(
            "kill,explode".parse::<FaultList>(),
            Err(FaultParseError::UnknownFault(_))
        ));
    }
}
