//! Running a parsed command line: logging, then dispatching to the command (see [`crate::node`]
//! for reaching the node and naming processes).

use tracing_subscriber::EnvFilter;

use crate::args::{Cli, Command};
use crate::commands::{admin, bench, daemon, list, monitor, recv, send};
use crate::demo;
use crate::node::Node;

/// Logs to stderr, filtered by `RUST_LOG`; by default the daemon reports at `info` and the other
/// commands only warnings (their output is for scripts).
pub(crate) fn init_logging(command: &Command) {
    let default = match command {
        Command::Daemon(_) => "info",
        _ => "warn",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, never into log files or pipes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Runs the command `cli` asks for.
///
/// # Errors
///
/// The command's failure, with context naming what it was doing; [`crate::exit`] turns it into an
/// exit code.
pub(crate) fn run(cli: Cli) -> anyhow::Result<()> {
    let node = Node::new(cli.url);
    match cli.command {
        Command::Daemon(args) => daemon::run(&args),
        Command::Create(args) => admin::create(&node, &args),
        Command::Open(args) => admin::open(&node, &args),
        Command::Rm(args) => admin::rm(&node, &args),
        Command::Set(args) => admin::set(&node, &args),
        Command::Ls(args) => list::ls(&node, &args),
        Command::Stat(args) => list::stat(&node, &args),
        Command::Ps(args) => list::ps(&node, &args),
        Command::Send(args) => send::run(&node, args),
        Command::Recv(args) => recv::run(&node, &args),
        Command::Monitor(args) => monitor::run(&node, &args),
        Command::Demo => demo::run(),
        Command::Bench(args) => bench::run(&node, &args),
    }
}
