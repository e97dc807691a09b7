//! Heartbeats on an established connection: when to ping, and the round trip a pong measures.

use std::time::{Duration, Instant};

use super::link_config::later;

/// A `Ping` goes out at least every this many heartbeat intervals, even on a busy connection, so
/// that the round-trip time stays fresh.
const PING_AT_LEAST_EVERY: u32 = 4;

/// The heartbeat of one established connection.
#[derive(Debug)]
pub(crate) struct Heartbeat {
    /// When the current interval ends.
    next_tick: Instant,
    /// Whether anything was written in the current interval.
    wrote: bool,
    /// Intervals ended since the last `Ping`.
    ticks_since_ping: u32,
    /// The `Ping` awaiting its `Pong`: its id and when it went out.
    outstanding: Option<(u64, Instant)>,
    next_id: u64,
}

impl Heartbeat {
    /// The heartbeat of a connection established at `now`.
    pub(crate) fn new(now: Instant, interval: Duration) -> Heartbeat {
        Heartbeat {
            next_tick: later(now, interval),
            wrote: false,
            ticks_since_ping: 0,
            outstanding: None,
            next_id: 1,
        }
    }

    /// When [`tick`](Self::tick) has something to do.
    pub(crate) fn next_tick(&self) -> Instant {
        self.next_tick
    }

    /// Something other than the heartbeat's own `Ping` or `Pong` was written on the connection:
    /// the current interval is busy and needs no `Ping`.
    pub(crate) fn wrote(&mut self) {
        self.wrote = true;
    }

    /// Ends the interval if `now` is past it; returns the id of the `Ping` to write if the
    /// interval was idle, or if pings have been skipped for too long.
    pub(crate) fn tick(&mut self, now: Instant, interval: Duration) -> Option<u64> {
        if now < self.next_tick {
            return None;
        }
        self.ticks_since_ping = self.ticks_since_ping.saturating_add(1);
        let ping = !self.wrote || self.ticks_since_ping >= PING_AT_LEAST_EVERY;
        self.wrote = false;
        self.next_tick = later(now, interval);
        if !ping {
            return None;
        }
        self.ticks_since_ping = 0;
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.outstanding = Some((id, now));
        Some(id)
    }

    /// The `Pong` of ping `id` arrived at `now`: the round trip, if it answers the latest ping.
    pub(crate) fn pong(&mut self, id: u64, now: Instant) -> Option<Duration> {
        let (sent_id, sent_at) = self.outstanding?;
        if sent_id != id {
            return None;
        }
        self.outstanding = None;
        Some(now.saturating_duration_since(sent_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(500);

    #[test]
    fn an_idle_interval_pings_a_busy_one_does_not_until_the_fourth() {
        let start = Instant::now();
        let mut heartbeat = Heartbeat::new(start, INTERVAL);
        assert_eq!(
            heartbeat.tick(start, INTERVAL),
            None,
            "the interval is not over"
        );
        assert_eq!(heartbeat.tick(start + INTERVAL, INTERVAL), Some(1));
        let mut pings = Vec::new();
        for n in 2..=9u32 {
            heartbeat.wrote();
            pings.push(heartbeat.tick(start + INTERVAL * n, INTERVAL));
        }
        assert_eq!(
            pings,
            [None, None, None, Some(2), None, None, None, Some(3)]
        );
    }

    #[test]
    fn only_the_latest_pings_pong_measures_the_round_trip() {
        let start = Instant::now();
        let mut heartbeat = Heartbeat::new(start, INTERVAL);
        let id = heartbeat.tick(start + INTERVAL, INTERVAL).unwrap();
        assert_eq!(heartbeat.pong(id + 1, start + INTERVAL), None);
        let rtt = heartbeat.pong(id, start + INTERVAL + Duration::from_millis(3));
        assert_eq!(rtt, Some(Duration::from_millis(3)));
        assert_eq!(
            heartbeat.pong(id, start + INTERVAL * 2),
            None,
            "answered already"
        );
    }
}
