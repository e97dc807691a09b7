//! What a [`FaultProxy`](crate::FaultProxy) does, and when: faults drawn from a seed.

use std::fmt;
use std::time::Duration;

use crate::seed::{Rng, Seed};

/// How a cut ends a connection, on both sides.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cut {
    /// An abortive close: both sides get a TCP RST (`connection reset by peer`).
    Reset,
    /// An orderly close: both sides read end of stream (FIN), mid-frame or not.
    Close,
}

/// Which way a chunk travels through the proxy.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Direction {
    /// From the side that dialled the proxy to the upstream it dials.
    Upstream,
    /// From the upstream back to the side that dialled the proxy.
    Downstream,
}

/// One fault. Cuts, stalls and partitions act at once; the chunk faults (`Delay`, `Flip`,
/// `Drop`, `Duplicate`) wait for the next chunk read in their direction on each connection open
/// when they were injected.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
    /// End every live connection.
    Cut(Cut),
    /// Forward nothing, either way, for this long; connections stay open.
    Stall(Duration),
    /// Forward nothing for this long, and hold new connections unanswered until it ends: the
    /// network between the two sides is gone, then back.
    Partition(Duration),
    /// Hold the next chunk this long before forwarding it (later chunks queue behind it).
    Delay(Direction, Duration),
    /// Flip the bits of `mask` in the byte at `offset` (modulo the length) of the next chunk.
    Flip {
        /// Which way.
        direction: Direction,
        /// Where in the chunk.
        offset: u32,
        /// Which bits; never 0.
        mask: u8,
    },
    /// Forward the next chunk not at all.
    Drop(Direction),
    /// Forward the next chunk twice.
    Duplicate(Direction),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Cut(Cut::Reset) => write!(f, "cut (reset)"),
            Fault::Cut(Cut::Close) => write!(f, "cut (close)"),
            Fault::Stall(d) => write!(f, "stall {d:?}"),
            Fault::Partition(d) => write!(f, "partition {d:?}"),
            Fault::Delay(direction, d) => write!(f, "delay {direction:?} {d:?}"),
            Fault::Flip {
                direction,
                offset,
                mask,
            } => write!(f, "flip {direction:?} byte {offset} ^ {mask:#04x}"),
            Fault::Drop(direction) => write!(f, "drop {direction:?}"),
            Fault::Duplicate(direction) => write!(f, "duplicate {direction:?}"),
        }
    }
}

/// How often each kind of fault is drawn (relative weights; 0 = never) and how long the timed
/// ones last.
#[derive(Clone, Debug)]
pub struct FaultMix {
    /// Weight of [`Fault::Cut`] (reset or close, even odds).
    pub cut: u32,
    /// Weight of [`Fault::Stall`].
    pub stall: u32,
    /// Weight of [`Fault::Partition`].
    pub partition: u32,
    /// Weight of [`Fault::Delay`].
    pub delay: u32,
    /// Weight of [`Fault::Flip`].
    pub flip: u32,
    /// Weight of [`Fault::Drop`].
    pub drop: u32,
    /// Weight of [`Fault::Duplicate`].
    pub duplicate: u32,
    /// The pause before each fault: drawn from this range.
    pub gap: (Duration, Duration),
    /// How long a stall lasts.
    pub stall_for: (Duration, Duration),
    /// How long a partition lasts.
    pub partition_for: (Duration, Duration),
    /// How long a delayed chunk is held.
    pub delay_for: (Duration, Duration),
    /// Whether the fault after a stall or partition may land while it lasts.
    pub after_outage: Spacing,
}

/// When the fault after a stall or partition (an outage) may come.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Spacing {
    /// After its own gap, counted from the outage's start: it may land during the outage (a
    /// cut of a stalled connection).
    Overlapping,
    /// Only once the outage has ended and this long has passed besides (then its own gap):
    /// time for the link to notice, reconnect and resume, so that faults never pile up into
    /// one outage longer than the node timeout.
    Recover(Duration),
}

impl FaultMix {
    /// Only cuts.
    pub fn cuts_only() -> FaultMix {
        FaultMix {
            cut: 1,
            stall: 0,
            partition: 0,
            delay: 0,
            flip: 0,
            drop: 0,
            duplicate: 0,
            ..FaultMix::default()
        }
    }
}

impl Default for FaultMix {
    /// Cuts most, then each chunk fault, some stalls, no partitions; every timed fault well
    /// inside the links' connection timeout (1.5 s), so none of them alone makes a peer down;
    /// faults may overlap a stall.
    fn default() -> FaultMix {
        FaultMix {
            cut: 6,
            stall: 1,
            partition: 0,
            delay: 1,
            flip: 1,
            drop: 1,
            duplicate: 1,
            gap: (Duration::from_millis(10), Duration::from_millis(100)),
            stall_for: (Duration::from_millis(50), Duration::from_millis(600)),
            partition_for: (Duration::from_millis(500), Duration::from_millis(2000)),
            delay_for: (Duration::from_millis(1), Duration::from_millis(200)),
            after_outage: Spacing::Overlapping,
        }
    }
}

/// One step of a schedule: wait `after`, then do `fault`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Step {
    /// The pause before the fault, counted from when the previous one was applied (begun, for
    /// a stall or partition).
    pub after: Duration,
    /// The fault.
    pub fault: Fault,
}

/// An endless, reproducible sequence of faults: the same seed and mix give the same steps.
#[derive(Clone, Debug)]
pub struct Schedule {
    rng: Rng,
    mix: FaultMix,
    /// What the previous step's fault adds to the next pause: for an outage followed by
    /// [`Spacing::Recover`], its duration and the recovery time.
    lasting: Duration,
}

impl Schedule {
    /// The schedule of `seed` drawing from `mix`.
    ///
    /// # Panics
    ///
    /// If every weight of `mix` is 0 (a caller bug: there is nothing to draw).
    pub fn new(seed: Seed, mix: FaultMix) -> Schedule {
        let total =
            mix.cut + mix.stall + mix.partition + mix.delay + mix.flip + mix.drop + mix.duplicate;
        assert!(total > 0, "a fault mix needs at least one weight above 0");
        Schedule {
            rng: Rng::new(seed),
            mix,
            lasting: Duration::ZERO,
        }
    }

    fn duration(&mut self, (low, high): (Duration, Duration)) -> Duration {
        let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(self.rng.between(micros(low), micros(high)))
    }

    fn direction(&mut self) -> Direction {
        if self.rng.next_u64() & 1 == 0 {
            Direction::Upstream
        } else {
            Direction::Downstream
        }
    }
}

impl Iterator for Schedule {
    type Item = Step;

    fn next(&mut self) -> Option<Step> {
        let mix = &self.mix;
        let weights = [
            mix.cut,
            mix.stall,
            mix.partition,
            mix.delay,
            mix.flip,
            mix.drop,
            mix.duplicate,
        ];
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut pick = self.rng.between(0, total - 1);
        let mut kind = 0;
        for (index, &weight) in weights.iter().enumerate() {
            if pick < u64::from(weight) {
                kind = index;
                break;
            }
            pick -= u64::from(weight);
        }
        let after = self.duration(self.mix.gap) + self.lasting;
        let fault = match kind {
            0 if self.rng.next_u64() & 1 == 0 => Fault::Cut(Cut::Reset),
            0 => Fault::Cut(Cut::Close),
            1 => Fault::Stall(self.duration(self.mix.stall_for)),
            2 => Fault::Partition(self.duration(self.mix.partition_for)),
            3 => {
                let direction = self.direction();
                Fault::Delay(direction, self.duration(self.mix.delay_for))
            }
            4 => Fault::Flip {
                direction: self.direction(),
                offset: self.rng.next_u64() as u32,
                mask: 1 << (self.rng.next_u64() % 8),
            },
            5 => Fault::Drop(self.direction()),
            _ => Fault::Duplicate(self.direction()),
        };
        self.lasting = match (fault, self.mix.after_outage) {
            (Fault::Stall(lasts) | Fault::Partition(lasts), Spacing::Recover(recovery)) => {
                lasts + recovery
            }
            _ => Duration::ZERO,
        };
        Some(Step { after, fault })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_replays_the_same_steps() {
        let steps = |seed| {
            Schedule::new(Seed(seed), FaultMix::default())
                .take(200)
                .collect::<Vec<_>>()
        };
        assert_eq!(steps(11), steps(11));
        assert_ne!(steps(11), steps(12));
    }

    #[test]
    fn every_kind_is_drawn_and_stays_within_its_ranges() {
        let mix = FaultMix {
            partition: 1,
            ..FaultMix::default()
        };
        let steps: Vec<Step> = Schedule::new(Seed(3), mix.clone()).take(2000).collect();
        let within = |d: Duration, (low, high): (Duration, Duration)| low <= d && d <= high;
        let mut seen = [false; 8];
        for step in &steps {
            assert!(within(step.after, mix.gap), "{step:?}");
            let kind = match step.fault {
                Fault::Cut(Cut::Reset) => 0,
                Fault::Cut(Cut::Close) => 1,
                Fault::Stall(d) => {
                    assert!(within(d, mix.stall_for));
                    2
                }
                Fault::Partition(d) => {
                    assert!(within(d, mix.partition_for));
                    3
                }
                Fault::Delay(_, d) => {
                    assert!(within(d, mix.delay_for));
                    4
                }
                Fault::Flip { mask, .. } => {
                    assert_eq!(mask.count_ones(), 1);
                    5
                }
                Fault::Drop(_) => 6,
                Fault::Duplicate(_) => 7,
            };
            seen[kind] = true;
        }
        assert_eq!(seen, [true; 8]);
    }

    #[test]
    fn after_a_stall_or_partition_the_next_fault_waits_for_its_end_and_the_recovery() {
        let mix = FaultMix {
            partition: 2,
            partition_for: (Duration::from_millis(200), Duration::from_millis(900)),
            after_outage: Spacing::Recover(Duration::from_millis(700)),
            ..FaultMix::cuts_only()
        };
        let recovery = Duration::from_millis(700);
        let steps: Vec<Step> = Schedule::new(Seed(9), mix.clone()).take(500).collect();
        let mut spaced = 0;
        for pair in steps.windows(2) {
            let next = pair[1].after;
            match pair[0].fault {
                Fault::Partition(lasts) => {
                    assert!(next >= lasts + recovery + mix.gap.0, "{pair:?}");
                    assert!(next <= lasts + recovery + mix.gap.1, "{pair:?}");
                    spaced += 1;
                }
                _ => assert!(next <= mix.gap.1, "{pair:?}"),
            }
        }
        assert!(spaced > 100, "only {spaced} partitions drawn");
    }

    #[test]
    fn a_weight_of_zero_is_never_drawn() {
        let cuts = Schedule::new(Seed(5), FaultMix::cuts_only()).take(500);
        assert!(cuts.into_iter().all(|s| matches!(s.fault, Fault::Cut(_))));
    }

    #[test]
    #[should_panic(expected = "at least one weight")]
    fn a_mix_of_nothing_is_a_caller_bug() {
        let none = FaultMix {
            cut: 0,
            ..FaultMix::cuts_only()
        };
        let _ = Schedule::new(Seed(1), none);
    }
}
