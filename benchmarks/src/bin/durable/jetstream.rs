//! NATS JetStream: a `nats-server` with JetStream on file storage and `sync_interval: always`
//! (every write is fsynced before the publish is acknowledged), a stream on one subject, and
//! producers as tasks on a tokio runtime, each with its own client connection (as each postbox
//! producer has its own), publishing with `publish(…).await?.await?` (the second await is the
//! stream's acknowledgement).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use async_nats::jetstream::{self, stream};
use bytes::Bytes;

use crate::load::{Run, Tally, Timing, Window};
use crate::server::Server;

/// The subject the stream holds.
const SUBJECT: &str = "durable.bench";

/// Finds `nats-server`: the one given, else `$NATS_SERVER`, else on `PATH`.
pub(crate) fn find(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = given {
        return Some(path.to_owned());
    }
    if let Some(path) = std::env::var_os("NATS_SERVER") {
        return Some(PathBuf::from(path));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("nats-server"))
        .find(|path| path.is_file())
}

/// A running `nats-server` and the runtime its clients use.
#[derive(Debug)]
pub(crate) struct Nats {
    url: String,
    runtime: tokio::runtime::Runtime,
    server: Server,
}

impl Nats {
    /// Writes a config (a random loopback port, JetStream storing in `DIR/jetstream` with
    /// `sync_interval: always`), starts the server and reads its port from the ports file it
    /// writes once listening (at most 10 s).
    ///
    /// # Errors
    ///
    /// When it cannot start, exits, or does not listen in time (with its log).
    pub(crate) fn start(program: &Path, dir: &Path) -> Result<Nats> {
        let store = dir.join("jetstream");
        let store = serde_json::to_string(&store.to_string_lossy()).context("quoting a path")?;
        let config = dir.join("nats.conf");
        std::fs::write(
            &config,
            format!(
                "listen: \"127.0.0.1:-1\"\njetstream {{\n  store_dir: {store}\n  sync_interval: always\n}}\n"
            ),
        )
        .with_context(|| format!("writing {}", config.display()))?;
        let args: Vec<OsString> = vec![
            "-c".into(),
            config.into(),
            "--ports_file_dir".into(),
            dir.into(),
        ];
        let mut server = Server::start("nats-server", program, &args, &dir.join("nats.log"))?;
        let ports = dir.join(format!("nats-server_{}.ports", server.pid()));
        let deadline = Instant::now() + Duration::from_secs(10);
        let url = loop {
            if let Some(url) = std::fs::read_to_string(&ports)
                .ok()
                .and_then(|text| client_url(&text))
            {
                break url;
            }
            server.check_running()?;
            if Instant::now() >= deadline {
                bail!(server.failure("nats-server did not listen within 10 s"));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting a tokio runtime")?;
        Ok(Nats {
            url,
            runtime,
            server,
        })
    }

    /// One run: creates a file-storage stream on [`SUBJECT`], then `producers` tasks publish
    /// `size`-byte messages to it, each on its own connection, each waiting for its ack.
    ///
    /// # Errors
    ///
    /// When the stream cannot be created, a producer cannot connect, or a publish fails.
    pub(crate) fn run(&mut self, producers: usize, size: usize, timing: Timing) -> Result<Run> {
        let url = self.url.clone();
        let run = self.runtime.block_on(run(url, producers, size, timing));
        self.server.check_running()?;
        run
    }
}

/// The client URL in a ports file (`{"nats":["nats://127.0.0.1:PORT"], …}`).
fn client_url(text: &str) -> Option<String> {
    let ports: serde_json::Value = serde_json::from_str(text).ok()?;
    Some(ports.get("nats")?.get(0)?.as_str()?.to_owned())
}

async fn run(url: String, producers: usize, size: usize, timing: Timing) -> Result<Run> {
    let admin = async_nats::connect(&url)
        .await
        .with_context(|| format!("connecting to nats-server at {url}"))?;
    jetstream::new(admin)
        .create_stream(stream::Config {
            name: "DURABLE_BENCH".to_owned(),
            subjects: vec![SUBJECT.to_owned()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("creating the stream: {e}"))?;
    let mut contexts = Vec::with_capacity(producers);
    for i in 0..producers {
        let client = async_nats::connect(&url)
            .await
            .with_context(|| format!("producer {i}: connecting"))?;
        contexts.push(jetstream::new(client));
    }
    let payload = Bytes::from(vec![0x5a; size]);
    // Every producer is connected: start them together.
    let window = Arc::new(OnceLock::new());
    let barrier = Arc::new(tokio::sync::Barrier::new(producers + 1));
    let mut tasks = Vec::with_capacity(producers);
    for (i, js) in contexts.into_iter().enumerate() {
        let (window, barrier, payload) = (window.clone(), barrier.clone(), payload.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let window: Window = *window.get().context("the window was not set")?;
            let mut tally = Tally::default();
            loop {
                let began = Instant::now();
                if began >= window.until {
                    return anyhow::Ok(tally);
                }
                js.publish(SUBJECT, payload.clone())
                    .await
                    .map_err(|e| anyhow!("producer {i}: publishing: {e}"))?
                    .await
                    .map_err(|e| anyhow!("producer {i}: waiting for the ack: {e}"))?;
                tally.record(&window, began, Instant::now());
            }
        }));
    }
    let _ = window.set(Window::starting_now(timing));
    barrier.wait().await;
    let mut tallies = Vec::with_capacity(producers);
    for task in tasks {
        tallies.push(task.await.context("a producer panicked")??);
    }
    let window = window.get().context("the window was not set")?;
    Run::of(tallies, window)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_url_is_read_from_the_ports_file() {
        let text = r#"{"nats":["nats://127.0.0.1:42439"],"monitoring":[]}"#;
        assert_eq!(client_url(text).as_deref(), Some("nats://127.0.0.1:42439"));
        assert_eq!(client_url("{"), None);
        assert_eq!(client_url(r#"{"nats":[]}"#), None);
    }
}
