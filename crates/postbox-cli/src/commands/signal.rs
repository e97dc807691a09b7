//! `postbox signal`: forwards the signals this command receives into a mailbox.

use postbox::events::Signals;

use crate::args::SignalArgs;
use crate::node::Node;

/// `postbox signal`: posts a signal event (type 102, payload `NUMBER NAME`) into mailbox NAME for
/// each of the named signals this command receives, until SIGINT, SIGTERM, SIGHUP or SIGQUIT
/// arrives (one of those that is named is forwarded instead). Its OS pid, where to send the
/// signals, is announced on stderr with its postbox pid.
///
/// # Errors
///
/// As [`super::source::run`].
pub(crate) fn run(node: &Node, args: &SignalArgs) -> anyhow::Result<()> {
    let names: Vec<&str> = args.signals.iter().map(|signal| signal.name()).collect();
    let what = format!(
        "forwarding {} into mailbox {}: send them to OS pid {}",
        names.join(", "),
        args.name,
        std::process::id()
    );
    super::source::run(node, &args.signals, &what, |process| {
        Signals::new(args.signals.iter().copied()).start(process, args.name.as_str())
    })
}
