//! `postbox bench`: how fast the node at the URL moves messages — throughput through a bounded
//! mailbox, and round-trip latency between two processes' inboxes.

use std::io::{self, Write as _};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use postbox::{Capacity, Message};

use crate::args::BenchArgs;
use crate::node::Node;
use crate::values::show_bytes;

/// `postbox bench`: two processes of this command (two connections) stream `--messages` messages
/// of `--size` bytes through a mailbox of `--capacity`, then play ping-pong `--round-trips`
/// times; prints messages per second and the round trip's p50, p99 and maximum.
///
/// # Errors
///
/// Connecting; any send or receive failing; writing to stdout.
pub(crate) fn run(node: &Node, args: &BenchArgs) -> anyhow::Result<()> {
    let sender = node.connect()?;
    let receiver = node.connect()?;
    let name = format!("postbox-bench-{}", std::process::id());
    let inbound = receiver
        .mailbox(&name)
        .capacity(Capacity::bounded(args.capacity, usize::MAX / 2))
        .create()
        .with_context(|| format!("cannot create mailbox {name}"))?;
    let outbound = sender
        .mailbox(&name)
        .open()
        .with_context(|| format!("cannot open mailbox {name}"))?;
    let payload = postbox::Bytes::from(vec![0x5a; args.size]);

    let started = Instant::now();
    thread::scope(|scope| -> anyhow::Result<()> {
        let consumer = scope.spawn(|| -> anyhow::Result<()> {
            for _ in 0..args.messages {
                inbound.recv().context("receive failed")?;
            }
            Ok(())
        });
        for _ in 0..args.messages {
            outbound
                .send(Message::new(payload.clone()))
                .map_err(|e| e.kind())
                .context("send failed")?;
        }
        consumer
            .join()
            .map_err(|_| anyhow::anyhow!("the receiving thread panicked"))?
    })?;
    let streamed = started.elapsed();

    let (ping, pong) = (&sender, &receiver);
    let mut round_trips = Vec::with_capacity(args.round_trips);
    thread::scope(|scope| -> anyhow::Result<()> {
        let echo = scope.spawn(|| -> anyhow::Result<()> {
            for _ in 0..args.round_trips {
                let got = pong.recv_from(ping.pid()).context("echo receive failed")?;
                pong.send_to(ping.pid(), got.message)
                    .map_err(|e| e.kind())
                    .context("echo send failed")?;
            }
            Ok(())
        });
        for _ in 0..args.round_trips {
            let sent = Instant::now();
            ping.send_to(pong.pid(), Message::new(payload.clone()))
                .map_err(|e| e.kind())
                .context("ping failed")?;
            ping.recv_from(pong.pid()).context("pong failed")?;
            round_trips.push(sent.elapsed());
        }
        echo.join()
            .map_err(|_| anyhow::anyhow!("the echoing thread panicked"))?
    })?;
    round_trips.sort_unstable();

    let seconds = streamed.as_secs_f64().max(f64::MIN_POSITIVE);
    // Lossy only past 2^53 messages or bytes.
    #[allow(clippy::cast_precision_loss)]
    let (rate, bytes_rate) = (
        args.messages as f64 / seconds,
        (args.messages * args.size) as f64 / seconds / f64::from(1 << 20),
    );
    let percentile = |p: usize| {
        round_trips
            .get((round_trips.len() * p / 100).min(round_trips.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let micros = |d: Duration| format!("{:.1} µs", d.as_secs_f64() * 1e6);
    let mut out = io::stdout().lock();
    writeln!(out, "node        {}", node.url())?;
    writeln!(
        out,
        "stream      {} messages of {} through a mailbox of capacity {}",
        args.messages,
        show_bytes(args.size),
        args.capacity
    )?;
    writeln!(out, "throughput  {rate:.0} msgs/s ({bytes_rate:.1} MiB/s)")?;
    writeln!(
        out,
        "round trip  p50 {}, p99 {}, max {} ({} round trips between two inboxes)",
        micros(percentile(50)),
        micros(percentile(99)),
        micros(round_trips.last().copied().unwrap_or_default()),
        args.round_trips
    )?;
    Ok(out.flush()?)
}
