//! `postbox bench`: how fast the node at the URL moves messages — throughput through a bounded
//! mailbox, and round-trip latency between two processes' inboxes.

use std::io::{self, Write as _};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use postbox::{Capacity, Message, MessageSize, SendErrorKind};

use crate::args::BenchArgs;
use crate::node::{Node, raise_max_message_size};
use crate::values::show_bytes;

/// A send of `size` bytes that failed with `kind`, in context `what`; when it was too large,
/// with how the daemon's limit is raised.
fn failed(kind: SendErrorKind, size: usize, what: &str) -> anyhow::Error {
    let error = anyhow::Error::new(kind);
    match kind {
        SendErrorKind::TooLarge => error.context(format!(
            "{what}: messages of {} are over the daemon's largest message ({})",
            show_bytes(size),
            raise_max_message_size()
        )),
        _ => error.context(what.to_owned()),
    }
}

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
    // Its size rule takes messages of --size, so only the daemon's own limit can refuse them:
    // that is the one creating it fails on.
    let inbound = receiver
        .mailbox(&name)
        .capacity(Capacity::bounded(args.capacity, usize::MAX / 2))
        .size(MessageSize::Variable(args.size))
        .create()
        .with_context(|| match args.size {
            0 => format!("cannot create mailbox {name}"),
            size => format!(
                "cannot create mailbox {name} for messages of {} (bench a smaller --size, or \
                 {})",
                show_bytes(size),
                raise_max_message_size()
            ),
        })?;
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
            let sent = outbound
                .send(Message::new(payload.clone()))
                .map_err(|e| failed(e.kind(), args.size, "send failed"));
            if sent.is_err() {
                // The consumer waits for messages that will not come: deleting the mailbox ends
                // its wait (Gone), and the send's failure is the one to report.
                let _ = inbound.delete();
            }
            sent?;
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
                    .map_err(|e| failed(e.kind(), args.size, "echo send failed"))?;
            }
            Ok(())
        });
        for _ in 0..args.round_trips {
            let sent = Instant::now();
            ping.send_to(pong.pid(), Message::new(payload.clone()))
                .map_err(|e| failed(e.kind(), args.size, "ping failed"))?;
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
