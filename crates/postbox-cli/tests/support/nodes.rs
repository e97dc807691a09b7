//! Node daemons for the CLI's tests: the harness the chaos tests use too (certificates from
//! `postbox certs`, daemons started with `--node`, peered over mutual TLS, each in a directory of
//! its own and killed on drop), plus ways to run `postbox` commands against one.

use std::process::{Command, Stdio};

#[path = "../../../postbox-chaos/tests/common/node_daemon.rs"]
mod node_daemon;

// Each test binary uses a different part of the harness.
#[allow(unused_imports)]
pub(crate) use node_daemon::{Certs, NodeDaemon, Pair};

use super::{Background, Out, command, run_command};

impl NodeDaemon {
    /// `postbox ARGS` against it, not yet run.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = command(args);
        command.env("POSTBOX_URL", self.url());
        command
    }

    /// Runs `postbox ARGS` against it.
    pub(crate) fn run(&self, args: &[&str]) -> Out {
        run_command(self.command(args), None)
    }

    /// Runs `postbox ARGS` against it with `input` on stdin.
    pub(crate) fn run_with_input(&self, args: &[&str], input: &str) -> Out {
        run_command(self.command(args), Some(input))
    }

    /// Waits until `stat NAME --json` on it has `field` equal to `value`.
    #[track_caller]
    pub(crate) fn wait_for_stat_field(&self, name: &str, field: &str, value: u64) {
        super::eventually(&format!("{name}.{field} == {value}"), || {
            self.run(&["stat", name, "--json"]).code(0).json()[field] == value
        });
    }

    /// Starts `postbox ARGS` against it in the background, stdin piped.
    pub(crate) fn spawn_command(&self, args: &[&str]) -> Background {
        let mut command = self.command(args);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Background::spawn(command)
    }
}
