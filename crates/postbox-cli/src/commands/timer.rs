//! `postbox timer`: ticks into a mailbox, once or every period.

use postbox::events::Timer;

use crate::args::{TimerArgs, usage_error};
use crate::node::Node;
use crate::output;

/// `postbox timer`: posts a tick event (type 101, payload `TICK MISSED`) into mailbox NAME every
/// `--every` (until stopped, or `--count` ticks) or once after `--after`, from a process of its
/// own announced on stderr; exits 0 after the last tick, or when SIGINT, SIGTERM, SIGHUP or
/// SIGQUIT arrives.
///
/// # Errors
///
/// As [`super::source::run`].
pub(crate) fn run(node: &Node, args: &TimerArgs) -> anyhow::Result<()> {
    let (timer, what) = match (args.every, args.after) {
        (Some(period), _) => {
            let timer = Timer::every(period);
            let every = output::duration(period);
            match args.count {
                Some(count) => (
                    timer.count(count),
                    format!(
                        "{count} ticks into mailbox {}, one every {every}",
                        args.name
                    ),
                ),
                None => (
                    timer,
                    format!("a tick into mailbox {} every {every}", args.name),
                ),
            }
        }
        (None, Some(delay)) => (
            Timer::after(delay),
            format!(
                "one tick into mailbox {} after {}",
                args.name,
                output::duration(delay)
            ),
        ),
        // clap requires one of the two; this is for a caller that did not use it.
        (None, None) => return Err(usage_error("give --every DURATION or --after DURATION")),
    };
    super::source::run(node, &[], &what, |process| {
        timer.start(process, args.name.as_str())
    })
}
