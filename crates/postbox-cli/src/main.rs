//! `postbox`: run the postbox daemon, and use it from the shell.
//!
//! `main` only parses the command line, sets up logging, runs the command and turns its outcome
//! into an exit code ([`exit`] holds the table and the mapping). Each command lives in
//! [`commands`]; `demo` in [`demo`].

#![warn(clippy::missing_docs_in_private_items)]

mod activity;
mod app;
mod args;
mod commands;
mod config_file;
mod demo;
mod exit;
mod logging;
mod node;
mod output;
mod values;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    // Usage errors, --help and --version exit here, with clap's own codes (2, 0).
    let cli = args::Cli::parse();
    app::init_logging(&cli.command);
    match app::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit::report(&error),
    }
}
