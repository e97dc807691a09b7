//! Associations on a simulated network with virtual time: two nodes, one connection at a time
//! between them, and a seeded faulty pipe that cuts connections at random byte offsets, flips
//! bytes, duplicates, drops and delays whole writes. A checker classifies every message sent.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use postbox_wire::link::{
    Admission, Association, ConnectionId, DownReason, Incarnation, LinkConfig, LinkEvent,
    LinkSendError, LinkState, NodeName, Origin,
};

/// splitmix64: small, seeded, good enough to pick faults.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `per_million / 1_000_000`.
    fn chance(&mut self, per_million: u64) -> bool {
        self.below(1_000_000) < per_million
    }
}

/// How often each fault strikes, per write (in millionths), and the largest delay.
#[derive(Clone, Copy)]
struct Faults {
    cut: u64,
    flip: u64,
    duplicate: u64,
    drop: u64,
    max_delay_ms: u64,
}

const NO_FAULTS: Faults = Faults {
    cut: 0,
    flip: 0,
    duplicate: 0,
    drop: 0,
    max_delay_ms: 0,
};

/// What the checker found for one direction.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
struct Verdict {
    sent: u64,
    once: u64,
    lost: u64,
    duplicated: u64,
    unexpected: u64,
    reordered: u64,
    /// Sends failed by a fence (handed back) or lost in a crash of the sender.
    failed: u64,
}

impl std::ops::AddAssign for Verdict {
    fn add_assign(&mut self, other: Verdict) {
        self.sent += other.sent;
        self.once += other.once;
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.unexpected += other.unexpected;
        self.reordered += other.reordered;
        self.failed += other.failed;
    }
}

/// Classifies every message: `sent` are the ids sent (in order), `fenced` those whose send failed
/// (handed back by a fence, or lost in the sender's crash), `delivered` the ids the other side
/// delivered, in delivery order.
fn check(sent: &[u64], fenced: &[u64], delivered: &[u64]) -> Verdict {
    let limit = sent.iter().max().map_or(0, |max| max + 1) as usize;
    let mut was_sent = vec![false; limit];
    for &id in sent {
        was_sent[id as usize] = true;
    }
    let mut times = vec![0u32; limit];
    let mut verdict = Verdict {
        sent: sent.len() as u64,
        failed: fenced.len() as u64,
        ..Verdict::default()
    };
    let mut last = None;
    for &id in delivered {
        if (id as usize) >= limit || !was_sent[id as usize] {
            verdict.unexpected += 1;
            continue;
        }
        times[id as usize] += 1;
        if last.is_some_and(|last| id <= last) && times[id as usize] == 1 {
            verdict.reordered += 1;
        }
        last = Some(last.map_or(id, |last: u64| last.max(id)));
    }
    let mut is_fenced = vec![false; limit];
    for &id in fenced {
        is_fenced[id as usize] = true;
    }
    for &id in sent {
        match times[id as usize] {
            0 if is_fenced[id as usize] => {}
            0 => verdict.lost += 1,
            1 => verdict.once += 1,
            _ => verdict.duplicated += 1,
        }
    }
    verdict
}

/// One node of the simulation: its association and what it saw.
struct Node {
    association: Association,
    connection: Option<ConnectionId>,
    /// Ids of the messages sent, in order.
    sent: Vec<u64>,
    /// Ids handed back by a fence.
    fenced: Vec<u64>,
    /// Ids delivered from the peer, in order.
    delivered: Vec<u64>,
    events: Vec<LinkEvent>,
    next_id: u64,
    full: u64,
}

impl Node {
    fn new(config: LinkConfig, local: &str, incarnation: u64, peer: &str, now: Instant) -> Node {
        Node {
            association: Association::new(
                config,
                NodeName::new(local).unwrap(),
                Incarnation::new(incarnation).unwrap(),
                NodeName::new(peer).unwrap(),
                now,
            ),
            connection: None,
            sent: Vec::new(),
            fenced: Vec::new(),
            delivered: Vec::new(),
            events: Vec::new(),
            next_id: 0,
            full: 0,
        }
    }

    /// Sends the next message (its id, then `padding` bytes); false if the association refused.
    fn send(&mut self, padding: usize) -> bool {
        let mut payload = self.next_id.to_le_bytes().to_vec();
        payload.resize(8 + padding, 0xa5);
        match self.association.send(Bytes::from(payload)) {
            Ok(_) => {
                self.sent.push(self.next_id);
                self.next_id += 1;
                true
            }
            Err(LinkSendError::Full(_)) => {
                self.full += 1;
                false
            }
            Err(error) => panic!("send refused: {error}"),
        }
    }
}

fn id_of(payload: &Bytes) -> u64 {
    u64::from_le_bytes(payload[..8].try_into().expect("an 8-byte id"))
}

/// One direction of the connection: writes in flight, each due at an instant.
#[derive(Default)]
struct Pipe {
    writes: VecDeque<(Instant, Bytes)>,
}

struct Net {
    now: Instant,
    a: Node,
    b: Node,
    /// The connection, while there is one: a's and b's ids for it, and the two directions.
    pipes: Option<(Pipe, Pipe)>,
    reconnect_at: Option<Instant>,
    faults: Faults,
    /// Writes from a (first) or b (second) vanish without breaking the connection: a
    /// partition, or a peer that stopped answering.
    silenced: (bool, bool),
    /// What b's earlier incarnations sent and delivered before they crashed.
    crashed_b: (Vec<u64>, Vec<u64>),
    rng: Rng,
    cuts: u64,
    races: u64,
    flips: u64,
    duplicates: u64,
    drops: u64,
}

const TICK: Duration = Duration::from_millis(1);

impl Net {
    fn new(seed: u64, faults: Faults) -> Net {
        let now = Instant::now();
        Net {
            now,
            a: Node::new(LinkConfig::new(), "alpha", 11, "beta", now),
            b: Node::new(LinkConfig::new(), "beta", 22, "alpha", now),
            pipes: None,
            reconnect_at: Some(now),
            faults,
            silenced: (false, false),
            crashed_b: (Vec::new(), Vec::new()),
            rng: Rng(seed),
            cuts: 0,
            races: 0,
            flips: 0,
            duplicates: 0,
            drops: 0,
        }
    }

    /// A new connection, dialled by a ("alpha", the lower name). Now and then b dials at the
    /// same moment, and each side is offered the two connections in a random order: both must
    /// end up on the one a dialled (the other is closed before it carries anything).
    fn connect(&mut self) {
        let race = self.rng.chance(300_000);
        let race_first_at_a = self.rng.chance(500_000);
        let race_first_at_b = self.rng.chance(500_000);
        if race && race_first_at_a {
            let _ = self.a.association.connection_up(self.now, Origin::Accepted);
        }
        let Admission::Use(at_a) = self.a.association.connection_up(self.now, Origin::Dialed)
        else {
            panic!("a refused the connection it dialled")
        };
        if race && !race_first_at_a {
            let refused = self.a.association.connection_up(self.now, Origin::Accepted);
            assert_eq!(refused, Admission::Refuse);
        }
        if race && race_first_at_b {
            let _ = self.b.association.connection_up(self.now, Origin::Dialed);
        }
        let Admission::Use(at_b) = self.b.association.connection_up(self.now, Origin::Accepted)
        else {
            panic!("b refused the connection a dialled")
        };
        if race && !race_first_at_b {
            let refused = self.b.association.connection_up(self.now, Origin::Dialed);
            assert_eq!(refused, Admission::Refuse);
        }
        assert_eq!(self.a.association.connection(), Some(at_a));
        assert_eq!(self.b.association.connection(), Some(at_b));
        self.races += u64::from(race);
        self.a.connection = Some(at_a);
        self.b.connection = Some(at_b);
        self.pipes = Some((Pipe::default(), Pipe::default()));
        self.reconnect_at = None;
    }

    /// The connection breaks: both ends learn it, bytes in flight are gone.
    fn break_connection(&mut self) {
        if self.pipes.take().is_none() {
            return;
        }
        self.cuts += 1;
        if let Some(id) = self.a.connection.take() {
            self.a.association.connection_lost(self.now, id);
        }
        if let Some(id) = self.b.connection.take() {
            self.b.association.connection_lost(self.now, id);
        }
        self.reconnect_at = Some(self.now + Duration::from_millis(1 + self.rng.below(20)));
    }

    /// Takes what `from` wrote and puts it in flight, through the faults.
    fn write(&mut self, a_to_b: bool) {
        let from = if a_to_b { &mut self.a } else { &mut self.b };
        let bytes = from.association.transmit().split().freeze();
        let silenced = if a_to_b {
            self.silenced.0
        } else {
            self.silenced.1
        };
        if bytes.is_empty() || self.pipes.is_none() || silenced {
            return;
        }
        let faults = self.faults;
        let rng = &mut self.rng;
        let mut cut = false;
        let mut copies = 1;
        let mut bytes = bytes;
        if rng.chance(faults.drop) {
            self.drops += 1;
            self.break_connection();
            return;
        }
        if rng.chance(faults.cut) {
            bytes = bytes.slice(..rng.below(bytes.len() as u64) as usize);
            cut = true;
        }
        if !bytes.is_empty() && rng.chance(faults.flip) {
            let mut flipped = BytesMut::from(&bytes[..]);
            let at = rng.below(bytes.len() as u64) as usize;
            flipped[at] ^= 1 << rng.below(8);
            bytes = flipped.freeze();
            self.flips += 1;
        }
        if !cut && rng.chance(faults.duplicate) {
            copies = 2;
            self.duplicates += 1;
        }
        let delay = Duration::from_millis(rng.below(faults.max_delay_ms + 1));
        let (ab, ba) = self.pipes.as_mut().expect("a connection");
        let pipe = if a_to_b { ab } else { ba };
        // Writes on one stream stay in order: a later write is never due before an earlier one.
        let due = pipe
            .writes
            .back()
            .map_or(self.now + delay, |(last, _)| (*last).max(self.now + delay));
        for _ in 0..copies {
            pipe.writes.push_back((due, bytes.clone()));
        }
        if cut {
            // The receiver gets the prefix; then the connection is gone. Deliver what is due
            // first so the prefix is really read.
            let (at, _) = *pipe.writes.back().expect("just pushed");
            self.deliver_until(at);
            self.break_connection();
        }
    }

    /// Hands every write due by `until` to its receiver.
    fn deliver_until(&mut self, until: Instant) {
        loop {
            let Some((ab, ba)) = self.pipes.as_mut() else {
                return;
            };
            let next_ab = ab.writes.front().filter(|(due, _)| *due <= until).is_some();
            let next_ba = ba.writes.front().filter(|(due, _)| *due <= until).is_some();
            let (pipe, to) = match (next_ab, next_ba) {
                (true, _) => (ab, &mut self.b),
                (false, true) => (ba, &mut self.a),
                (false, false) => return,
            };
            let (_, bytes) = pipe.writes.pop_front().expect("checked");
            if let Some(id) = to.connection {
                let mut input = BytesMut::from(&bytes[..]);
                to.association.handle_input(self.now, id, &mut input);
            }
            self.drain_events();
        }
    }

    /// Acts on both nodes' events, as a driver would.
    fn drain_events(&mut self) {
        let mut reset = false;
        for node in [&mut self.a, &mut self.b] {
            while let Some(event) = node.association.poll_event() {
                match &event {
                    LinkEvent::Delivered(payload) => node.delivered.push(id_of(payload)),
                    LinkEvent::PeerRestarted { unsent, .. } => {
                        node.fenced.extend(unsent.iter().map(id_of));
                    }
                    LinkEvent::Reset { .. } => reset = true,
                    LinkEvent::Up { .. } | LinkEvent::Down { .. } => {}
                }
                if !matches!(event, LinkEvent::Delivered(_)) {
                    node.events.push(event);
                }
            }
        }
        if reset {
            self.break_connection();
        }
    }

    /// One millisecond: timeouts, reconnection, writes, deliveries.
    fn tick(&mut self) {
        self.now += TICK;
        for node in [&mut self.a, &mut self.b] {
            if node
                .association
                .poll_timeout()
                .is_some_and(|at| at <= self.now)
            {
                node.association.handle_timeout(self.now);
            }
        }
        self.drain_events();
        if self.reconnect_at.is_some_and(|at| at <= self.now) {
            self.connect();
        }
        self.write(true);
        self.write(false);
        self.deliver_until(self.now);
    }

    /// Sends up to `burst` messages from each side.
    fn send_some(&mut self, burst: u64) {
        for _ in 0..self.rng.below(burst + 1) {
            let padding = self.rng.below(48) as usize;
            self.a.send(padding);
        }
        for _ in 0..self.rng.below(burst + 1) {
            let padding = self.rng.below(48) as usize;
            self.b.send(padding);
        }
    }

    /// Without faults, runs until both sides have every message acknowledged.
    fn settle(&mut self) {
        self.faults = NO_FAULTS;
        for _ in 0..60_000 {
            self.tick();
            let a = self.a.association.stats();
            let b = self.b.association.stats();
            if a.state == LinkState::Up
                && b.state == LinkState::Up
                && a.unacked == 0
                && b.unacked == 0
            {
                return;
            }
        }
        panic!(
            "never settled: a {:?}, b {:?}",
            self.a.association.stats(),
            self.b.association.stats()
        );
    }

    /// b crashes and starts again as `incarnation`, knowing nothing: what its dead incarnation
    /// sent and a has not delivered is lost with it (the checker counts those sends as failed).
    fn restart_b(&mut self, incarnation: u64) {
        self.break_connection();
        let mut new = Node::new(LinkConfig::new(), "beta", incarnation, "alpha", self.now);
        new.next_id = self.b.next_id;
        let old = std::mem::replace(&mut self.b, new);
        self.crashed_b.0.extend(old.sent);
        self.crashed_b.1.extend(old.delivered);
    }

    /// The checker's verdict on a → b, then b → a, across b's incarnations.
    fn verdicts(&self) -> (Verdict, Verdict) {
        let (crashed_sent, crashed_delivered) = &self.crashed_b;
        let b_delivered = [&crashed_delivered[..], &self.b.delivered[..]].concat();
        let b_sent = [&crashed_sent[..], &self.b.sent[..]].concat();
        let b_failed = [&crashed_sent[..], &self.b.fenced[..]].concat();
        (
            check(&self.a.sent, &self.a.fenced, &b_delivered),
            check(&b_sent, &b_failed, &self.a.delivered),
        )
    }
}

#[test]
fn faults_lose_duplicate_and_reorder_nothing() {
    let faults = Faults {
        cut: 4_000,
        flip: 3_000,
        duplicate: 5_000,
        drop: 2_000,
        max_delay_ms: 3,
    };
    let mut total = Verdict::default();
    let (mut cuts, mut flips, mut duplicates, mut drops) = (0, 0, 0, 0);
    let (mut retransmissions, mut dropped_duplicates) = (0, 0);
    // POSTBOX_LINK_SEEDS=n runs n seeds instead of the default (for a longer hunt).
    let seeds: u64 = std::env::var("POSTBOX_LINK_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24);
    let mut races = 0;
    let (mut restarts, mut handed_back) = (0, 0);
    for seed in 0..seeds {
        let mut net = Net::new(seed, faults);
        // Every third run, b crashes once, mid-stream, and comes back as a new incarnation.
        let crash_at = (seed % 3 == 2).then(|| 500 + net.rng.below(1_500));
        for tick in 0..2_500 {
            if crash_at == Some(tick) {
                net.restart_b(1_000 + seed);
                restarts += 1;
            }
            net.send_some(8);
            net.tick();
        }
        net.settle();
        let fences = net
            .a
            .events
            .iter()
            .filter(|e| matches!(e, LinkEvent::PeerRestarted { .. }))
            .count();
        assert_eq!(fences, usize::from(crash_at.is_some()), "seed {seed}");
        handed_back += net.a.fenced.len();
        let (ab, ba) = net.verdicts();
        for verdict in [ab, ba] {
            assert_eq!(
                (
                    verdict.lost,
                    verdict.duplicated,
                    verdict.reordered,
                    verdict.unexpected
                ),
                (0, 0, 0, 0),
                "seed {seed}: {verdict:?}"
            );
            if crash_at.is_none() {
                assert_eq!(verdict.failed, 0, "seed {seed}: no incarnation changed");
            }
            total += verdict;
        }
        for node in [&net.a, &net.b] {
            assert!(
                !node
                    .events
                    .iter()
                    .any(|e| matches!(e, LinkEvent::Down { .. })),
                "seed {seed}: reconnections come well within the node timeout"
            );
            let stats = node.association.stats();
            retransmissions += stats.retransmissions;
            dropped_duplicates += stats.duplicates;
        }
        cuts += net.cuts;
        races += net.races;
        flips += net.flips;
        duplicates += net.duplicates;
        drops += net.drops;
    }
    eprintln!(
        "checker: {total:?}; faults: {cuts} broken connections ({drops} dropped writes), \
         {flips} flipped bytes, {duplicates} duplicated writes, {races} simultaneous dials, \
         {restarts} restarts of b ({handed_back} messages handed back by fences); \
         {retransmissions} retransmissions, {dropped_duplicates} duplicates dropped"
    );
    assert!(total.sent >= 100_000, "too few messages: {}", total.sent);
    assert!(cuts >= 100, "too few cuts: {cuts}");
    assert!(restarts > 0 && handed_back > 0, "fences were exercised");
    assert!(flips > 0 && duplicates > 0 && drops > 0 && races > 0 && dropped_duplicates > 0);
}

#[test]
fn the_checker_catches_every_kind_of_failure() {
    let sent = [0, 1, 2, 3, 4];
    assert_eq!(
        check(&sent, &[], &[0, 1, 2, 3, 4]),
        Verdict {
            sent: 5,
            once: 5,
            ..Verdict::default()
        }
    );
    let verdict = check(&sent, &[4], &[0, 2, 1, 2, 9]);
    assert_eq!(
        (
            verdict.once,
            verdict.lost,
            verdict.duplicated,
            verdict.reordered,
            verdict.unexpected,
            verdict.failed
        ),
        (2, 1, 1, 1, 1, 1)
    );
}

#[test]
fn a_new_incarnation_fences_the_old_session() {
    let mut net = Net::new(
        7,
        Faults {
            max_delay_ms: 5,
            ..NO_FAULTS
        },
    );
    for _ in 0..300 {
        net.send_some(8);
        net.tick();
    }
    // Messages are in flight both ways; b crashes. Bytes its old connection still held are kept
    // aside, to be replayed after the fence.
    assert!(
        net.a.association.stats().unacked > 0,
        "something is in flight"
    );
    let old_connection = net.a.connection.expect("connected");
    let mut stale = BytesMut::new();
    if let Some((_, ba)) = &net.pipes {
        for (_, bytes) in &ba.writes {
            stale.extend_from_slice(bytes);
        }
    }
    assert!(!stale.is_empty(), "b's old connection had bytes in flight");
    net.break_connection();
    let old_b = std::mem::replace(
        &mut net.b,
        Node::new(LinkConfig::new(), "beta", 33, "alpha", net.now),
    );
    let sent_before = net.a.sent.len();

    net.settle();
    let fences: Vec<_> = net
        .a
        .events
        .iter()
        .filter_map(|event| match event {
            LinkEvent::PeerRestarted { old, new, .. } => Some((old.get(), new.get())),
            _ => None,
        })
        .collect();
    assert_eq!(fences, [(22, 33)]);
    assert!(
        !net.a.fenced.is_empty(),
        "unacknowledged messages were handed back"
    );

    // Replaying the old connection's bytes after the fence delivers nothing.
    let delivered_at_fence = net.a.delivered.len();
    net.a
        .association
        .handle_input(net.now, old_connection, &mut stale);
    net.drain_events();
    assert_eq!(net.a.delivered.len(), delivered_at_fence);

    // The new incarnation gets only what was sent after the fence, from sequence 1, once each.
    for _ in 0..300 {
        net.send_some(4);
        net.tick();
    }
    net.settle();
    let after: Vec<u64> = net.a.sent[sent_before..].to_vec();
    assert_eq!(net.b.delivered, after);
    // Before the crash: each message was delivered by the old b, or handed back, or both
    // (delivered, but b crashed before acknowledging it); never neither.
    for &id in &net.a.sent[..sent_before] {
        let handed_back = net.a.fenced.contains(&id);
        assert!(
            old_b.delivered.contains(&id) || handed_back,
            "message {id} vanished"
        );
    }
    // What the old b sent before crashing: what a got of it came once each, in order (the rest
    // died with b).
    let from_old_b = check(&old_b.sent, &[], &net.a.delivered[..delivered_at_fence]);
    assert_eq!(
        (
            from_old_b.duplicated,
            from_old_b.reordered,
            from_old_b.unexpected
        ),
        (0, 0, 0)
    );
}

#[test]
fn silence_brings_the_peer_down_once_within_the_node_timeout_and_the_session_resumes() {
    let mut net = Net::new(3, NO_FAULTS);
    for _ in 0..50 {
        net.send_some(4);
        net.tick();
    }
    net.settle();
    net.a.send(0);
    let waiting = *net.a.sent.last().unwrap();
    let last_heard = net.a.association.stats().last_heard;
    net.silenced = (true, true);
    let mut down_at = None;
    for _ in 0..10_000 {
        net.tick();
        if down_at.is_none() && net.a.association.stats().state == LinkState::Down {
            down_at = Some(net.now);
        }
    }
    let down_at = down_at.expect("a reports b down");
    let timeout = LinkConfig::new().node_timeout;
    assert!(down_at >= last_heard + timeout && down_at <= last_heard + timeout + TICK);
    let downs: Vec<_> = net
        .a
        .events
        .iter()
        .filter(|event| matches!(event, LinkEvent::Down { .. }))
        .collect();
    assert_eq!(
        downs,
        [&LinkEvent::Down {
            reason: DownReason::Timeout
        }]
    );
    assert!(
        net.a.events.iter().any(|event| matches!(
            event,
            LinkEvent::Reset {
                reason: postbox_wire::link::ResetReason::Silent,
                ..
            }
        )),
        "the silent connection was reset before the node timeout"
    );
    assert!(matches!(
        net.a.association.send(Bytes::from_static(b"refused")),
        Err(LinkSendError::Down(_))
    ));

    // The partition heals: the same incarnations meet again and resume.
    net.silenced = (false, false);
    net.settle();
    assert!(
        net.a
            .events
            .iter()
            .any(|event| matches!(event, LinkEvent::Up { resumed: true, .. }))
    );
    assert_eq!(
        net.b.delivered.iter().filter(|&&id| id == waiting).count(),
        1
    );
    let (ab, ba) = net.verdicts();
    assert_eq!((ab.once, ba.once), (ab.sent, ba.sent));
}

#[test]
fn goodbye_comes_after_every_message_sent_before_it() {
    let mut net = Net::new(
        5,
        Faults {
            max_delay_ms: 3,
            ..NO_FAULTS
        },
    );
    net.settle();
    for _ in 0..100 {
        assert!(net.a.send(16));
    }
    net.a.association.close(net.now);
    for _ in 0..20 {
        net.tick();
    }
    assert_eq!(net.b.delivered, (0..100).collect::<Vec<u64>>());
    let last = net.b.events.last();
    assert_eq!(
        last,
        Some(&LinkEvent::Down {
            reason: DownReason::Goodbye
        })
    );
    assert_eq!(
        net.a.events.last(),
        Some(&LinkEvent::Down {
            reason: DownReason::Closed
        })
    );
    assert!(matches!(
        net.a.association.send(Bytes::from_static(b"late")),
        Err(LinkSendError::Down(_))
    ));
    assert_eq!(net.b.association.stats().state, LinkState::Down);
}

#[test]
fn a_peer_that_stops_acknowledging_fills_the_resend_buffer_and_then_it_drains() {
    for (messages, bytes, padding) in [(100, 1 << 20, 0), (10_000, 4096, 100)] {
        let mut net = Net::new(9, NO_FAULTS);
        let config = LinkConfig {
            max_unacked_messages: messages,
            max_unacked_bytes: bytes,
            ..LinkConfig::new()
        };
        net.a = Node::new(config, "alpha", 11, "beta", net.now);
        net.settle();
        net.silenced = (false, true);
        let mut accepted = 0;
        while net.a.send(padding) {
            accepted += 1;
            let stats = net.a.association.stats();
            assert!(stats.unacked <= messages && stats.unacked_bytes <= bytes);
            net.tick();
        }
        let per_message = 8 + padding;
        assert_eq!(accepted, messages.min(bytes / per_message));
        assert_eq!(net.a.full, 1);
        assert!(
            net.b.delivered.len() >= accepted - 1,
            "b got them, but its acks vanish"
        );

        net.silenced = (false, false);
        net.settle();
        assert!(
            net.a.send(padding),
            "room again once acknowledgements arrive"
        );
        net.settle();
        let (ab, _) = net.verdicts();
        assert_eq!(
            (ab.once, ab.sent),
            (accepted as u64 + 1, accepted as u64 + 1)
        );
    }
}
