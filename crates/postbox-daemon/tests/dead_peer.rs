//! A TCP peer that vanishes without a word (power lost, cable pulled: no FIN, no RST) is noticed
//! within the configured time, and whoever waits on its process is told.
//!
//! The vanishing is real: an nftables table drops every packet of the client's connection, in
//! both directions, while the client keeps its socket open. That needs root and `nft`; elsewhere
//! the test says why it is skipped — unless `POSTBOX_REQUIRE_FAULT_TESTS` is set (as `.ci/run`
//! does), where a skip is a failure.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Client, TestDaemon};
use postbox_core::{Selector, Source, Wait};
use postbox_daemon::{TcpIdentity, TcpListen};
use postbox_wire::{ClientConfig, Request, Response, Token};
use tokio::net::TcpStream;

/// An nftables table that drops every packet to or from one local TCP port, removed on drop.
struct Partition {
    table: String,
}

impl Partition {
    fn isolate(port: u16) -> Result<Partition, String> {
        let table = format!("postbox_dead_peer_{}_{port}", std::process::id());
        let script = format!(
            "table inet {table} {{\n\
             \tchain input {{ type filter hook input priority -10; policy accept;\n\
             \t\ttcp sport {port} drop\n\
             \t\ttcp dport {port} drop\n\
             \t}}\n\
             }}\n"
        );
        let mut nft = Command::new("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run nft: {e}"))?;
        nft.stdin
            .take()
            .expect("piped")
            .write_all(script.as_bytes())
            .map_err(|e| format!("cannot write to nft: {e}"))?;
        let out = nft
            .wait_with_output()
            .map_err(|e| format!("nft did not finish: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "nft refused the table: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Partition { table })
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        let _ = Command::new("nft")
            .args(["delete", "table", "inet", &self.table])
            .status();
    }
}

fn token() -> Token {
    Token::new("correct horse battery staple").unwrap()
}

/// Why this machine cannot cut a connection, if it cannot.
fn cannot_partition() -> Option<String> {
    if rustix::process::geteuid().as_raw() != 0 {
        return Some("needs root to add nftables rules".to_owned());
    }
    match Command::new("nft").arg("--version").output() {
        Ok(out) if out.status.success() => None,
        _ => Some("needs nft (Debian package nftables)".to_owned()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_tcp_peer_is_noticed_and_its_watchers_told_within_the_timeout() {
    if let Some(why) = cannot_partition() {
        assert!(
            std::env::var_os("POSTBOX_REQUIRE_FAULT_TESTS").is_none(),
            "fault test required but cannot run: {why}"
        );
        eprintln!("skipped: {why}");
        return;
    }
    let timeout = Duration::from_secs(3);
    let daemon = TestDaemon::start_with("dead-peer", |mut config| {
        config.tcp_dead_peer_timeout = timeout;
        let mut tcp = TcpListen::new("127.0.0.1:0".parse().unwrap(), token());
        tcp.identity = TcpIdentity::DaemonUser;
        config.with_tcp(tcp)
    });
    let address = daemon.tcp.expect("a TCP listener");
    let stream = TcpStream::connect(address).await.unwrap();
    let port = stream.local_addr().unwrap().port();
    let mut remote = Client::new(stream);
    remote
        .hello(ClientConfig::new().with_token(token()))
        .await
        .expect("admitted");
    let remote_pid = remote.pid;

    // A local process watches the remote one and waits for news of it.
    let mut watcher = daemon.client().await;
    let monitor = Request::Monitor { target: remote_pid };
    assert_eq!(watcher.call(&monitor).await, Response::Done);
    let down = watcher
        .request(&Request::Recv {
            branches: vec![postbox_core::Branch::new(
                Source::Inbox,
                Selector::From(remote_pid),
            )],
            wait: Wait::Block,
        })
        .await;

    let cut = Partition::isolate(port).expect("the partition");
    let since = Instant::now();
    let answer = tokio::time::timeout(timeout * 4, watcher.response(down))
        .await
        .expect("the vanished peer is noticed");
    let noticed = since.elapsed();
    drop(cut);
    let Response::Received { message, .. } = answer else {
        panic!("a down notification, not {answer:?}");
    };
    assert!(message.is_down() && message.sender == remote_pid);
    eprintln!("a vanished peer was noticed {noticed:?} after its packets stopped");
    assert!(
        noticed <= timeout + Duration::from_secs(2),
        "noticed after {noticed:?}, past the {timeout:?} bound"
    );
    drop(remote);
    daemon.stop().await;
}
