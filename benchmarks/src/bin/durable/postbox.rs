//! postbox: a durable mailbox in a real `postbox daemon` (the CLI binary), its producers using
//! the library, one connection (`postbox::connect`) per producer.

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use postbox::{Capacity, Durability, Ownership};

use crate::load::{self, Run, Timing};
use crate::server::Server;

/// The mailbox every producer sends to.
const MAILBOX: &str = "durable-bench";

/// A `postbox daemon` with its socket and state directory in a run's scratch directory.
#[derive(Debug)]
pub(crate) struct Daemon {
    url: String,
    // Dropped last: the daemon is killed after the producers have disconnected.
    server: Server,
}

impl Daemon {
    /// Starts `postbox daemon --socket DIR/postbox.sock --state-dir DIR/state` and waits (at
    /// most 10 s) until it accepts connections.
    ///
    /// # Errors
    ///
    /// When it cannot start, exits, or does not accept in time (with its log).
    pub(crate) fn start(postbox: &Path, dir: &Path) -> Result<Daemon> {
        let socket = dir.join("postbox.sock");
        let args: Vec<OsString> = vec![
            "daemon".into(),
            "--socket".into(),
            socket.clone().into(),
            "--state-dir".into(),
            dir.join("state").into(),
            // Nothing receives: the memory reference's fastest runs queue more than the default
            // quota within a window.
            "--max-queued-bytes".into(),
            "4GiB".into(),
        ];
        let mut server = Server::start(
            "the postbox daemon",
            postbox,
            &args,
            &dir.join("postbox.log"),
        )?;
        let url = format!("unix://{}", socket.display());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if postbox::connect(&url).is_ok() {
                return Ok(Daemon { url, server });
            }
            server.check_running()?;
            if Instant::now() >= deadline {
                bail!(server.failure("the postbox daemon did not accept connections within 10 s"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// One run: creates the mailbox (system-owned, unbounded, so that nothing waits for room;
    /// durable unless `durability` says memory), then `producers` threads send `size`-byte
    /// messages to it, each on its own connection.
    ///
    /// # Errors
    ///
    /// When the mailbox cannot be created, a producer cannot connect, or a send fails.
    pub(crate) fn run(
        &mut self,
        durability: Durability,
        producers: usize,
        size: usize,
        timing: Timing,
    ) -> Result<Run> {
        let admin = postbox::connect(&self.url).context("connecting to the postbox daemon")?;
        admin
            .mailbox(MAILBOX)
            .ownership(Ownership::System)
            .durability(durability)
            .capacity(Capacity::Unbounded)
            .create()
            .with_context(|| format!("creating the mailbox {MAILBOX} ({durability:?})"))?;
        let payload = Bytes::from(vec![0x5a; size]);
        let url = &self.url;
        let run = load::threads(producers, timing, |_| {
            let process = postbox::connect(url).context("connecting")?;
            let mailbox = process
                .mailbox(MAILBOX)
                .open()
                .context("opening the mailbox")?;
            let payload = payload.clone();
            Ok(move || {
                let _connection = &process;
                mailbox.send(payload.clone()).map(drop).context("send")
            })
        });
        self.server.check_running()?;
        run
    }
}
