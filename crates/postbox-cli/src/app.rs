//! Running a parsed command line: logging, then dispatching to the command (see [`crate::node`]
//! for reaching the node and naming processes).

use crate::args::{CertsCommand, Cli, Command, NodeArgs, usage_error};
use crate::commands::{
    admin, bench, call, certs, chat, daemon, docs, list, monitor, nodes, peek, purge, recv, send,
    serve, signal, timer, top,
};
use crate::demo;
use crate::logging;
use crate::node::Node;

/// Logs to stderr, filtered by `RUST_LOG`; by default only warnings (the commands' output is for
/// scripts). The daemon sets up its own logging once it has read its configuration (its `log`
/// setting, default `info`).
pub(crate) fn init_logging(command: &Command) {
    if matches!(command, Command::Daemon(_)) {
        return;
    }
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|filter| !filter.is_empty())
        .unwrap_or_else(|| "warn".to_owned());
    if logging::init(&filter).is_err() {
        let _ = logging::init("warn");
    }
}

/// Runs the command `cli` asks for.
///
/// # Errors
///
/// Usage: `--url` given twice (before and after the command), or to `daemon` or `demo`; else the
/// command's failure, with context naming what it was doing; [`crate::exit`] turns it into an
/// exit code.
pub(crate) fn run(cli: Cli) -> anyhow::Result<()> {
    let before = cli.url;
    let node = |after: &NodeArgs| match (&before, &after.url) {
        (Some(_), Some(_)) => Err(usage_error("give --url once, before or after the command")),
        (url, None) | (None, url) => Ok(Node::new(url.clone())),
    };
    let no_url = |refusal: &str| match before {
        Some(_) => Err(usage_error(refusal)),
        None => Ok(()),
    };
    match cli.command {
        Command::Daemon(args) => {
            no_url("`postbox daemon` takes no --url: it listens on --socket (and --listen)")?;
            daemon::run(&args)
        }
        Command::Create(args) => admin::create(&node(&args.node)?, &args),
        Command::Open(args) => admin::open(&node(&args.node)?, &args),
        Command::Rm(args) => admin::rm(&node(&args.node)?, &args),
        Command::Set(args) => admin::set(&node(&args.node)?, &args),
        Command::Ls(args) => list::ls(&node(&args.node)?, &args),
        Command::Stat(args) => list::stat(&node(&args.node)?, &args),
        Command::Peek(args) => peek::run(&node(&args.node)?, &args),
        Command::Purge(args) => purge::run(&node(&args.node)?, &args),
        Command::Ps(args) => list::ps(&node(&args.node)?, &args),
        Command::Nodes(args) => nodes::run(&node(&args.node)?, &args),
        Command::Top(args) => top::run(&node(&args.node)?, &args),
        Command::Send(args) => send::run(&node(&args.node)?, args),
        Command::Recv(args) => recv::run(&node(&args.node)?, &args),
        Command::Call(args) => call::run(&node(&args.node)?, args),
        Command::Serve(args) => serve::run(&node(&args.node)?, &args),
        Command::Monitor(args) => monitor::run(&node(&args.node)?, &args),
        Command::Chat(args) => chat::run(&node(&args.node)?, &args),
        Command::Timer(args) => timer::run(&node(&args.node)?, &args),
        Command::Signal(args) => signal::run(&node(&args.node)?, &args),
        Command::Demo => {
            no_url("`postbox demo` takes no --url: it starts a daemon of its own")?;
            demo::run()
        }
        Command::Bench(args) => bench::run(&node(&args.node)?, &args),
        Command::Certs(command) => {
            no_url("`postbox certs` takes no --url: it talks to no node")?;
            match command {
                CertsCommand::Init(args) => certs::init(&args),
                CertsCommand::Issue(args) => certs::issue(&args),
            }
        }
        Command::Completions(args) => {
            no_url("`postbox completions` takes no --url: it talks to no node")?;
            docs::completions(&args)
        }
        Command::Man(args) => {
            no_url("`postbox man` takes no --url: it talks to no node")?;
            docs::man(&args)
        }
    }
}
