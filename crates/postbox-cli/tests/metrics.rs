//! `postbox daemon --metrics tcp://ADDR:PORT`: a real scrape over HTTP, against figures the test
//! produced with the real binary.
//!
//! The daemon is asked for port 0 and the test learns the port from the `info` line it logs at
//! start (`metrics endpoint listening on http://ADDR/metrics`), so tests never race for ports.

mod support;

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use support::{Background, eventually};

/// A daemon serving metrics, with the address they are served at.
struct MetricsDaemon {
    _daemon: Background,
    url: String,
    metrics: String,
    _dir: tempfile::TempDir,
}

impl MetricsDaemon {
    fn start(flags: &[&str]) -> MetricsDaemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("pb.sock");
        let socket_arg = socket.to_str().unwrap();
        let mut args = vec![
            "daemon",
            "--socket",
            socket_arg,
            "--metrics",
            "tcp://127.0.0.1:0",
            "--log",
            "info",
        ];
        args.extend_from_slice(flags);
        let mut command = support::command(&args);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let daemon = Background::spawn(command);
        let metrics = loop {
            let line = daemon.stderr_line();
            if let Some((_, rest)) = line.split_once("metrics endpoint listening on http://") {
                break rest.split('/').next().unwrap().to_owned();
            }
        };
        let url = format!("unix://{}", socket.display());
        eventually("the daemon accepts", || {
            std::os::unix::net::UnixStream::connect(&socket).is_ok()
        });
        MetricsDaemon {
            _daemon: daemon,
            url,
            metrics,
            _dir: dir,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = support::command(args);
        command.env("POSTBOX_URL", &self.url);
        command
    }

    fn run(&self, args: &[&str]) -> support::Out {
        support::run_command(self.command(args), None)
    }

    /// Sends `request` as it is and returns the whole answer.
    fn http(&self, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(&self.metrics).unwrap();
        stream.set_read_timeout(Some(support::PATIENCE)).unwrap();
        stream.write_all(request).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// `GET /metrics`, parsed: each sample's name with its labels, and its value.
    fn scrape(&self) -> HashMap<String, f64> {
        let answer = self.http(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
        let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(
            head.contains("Content-Type: text/plain; version=0.0.4"),
            "{head}"
        );
        assert!(
            head.contains(&format!("Content-Length: {}\r\n", body.len())),
            "{head}"
        );
        body.lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| {
                let (name, value) = line.rsplit_once(' ').expect("a sample");
                (name.to_owned(), value.parse().expect("a number"))
            })
            .collect()
    }
}

fn value(samples: &HashMap<String, f64>, name: &str) -> f64 {
    *samples
        .get(name)
        .unwrap_or_else(|| panic!("no sample {name} in {samples:#?}"))
}

#[test]
fn a_scrape_reports_what_the_mailboxes_hold_and_did() {
    let daemon = MetricsDaemon::start(&["--metrics-max-mailboxes", "2"]);
    for name in ["alpha", "beta", "zeta"] {
        daemon.run(&["create", name]).code(0);
    }
    for payload in ["one", "two", "three"] {
        daemon.run(&["send", "alpha", payload]).code(0);
    }
    assert_eq!(daemon.run(&["recv", "alpha"]).ok(), "one\n");
    daemon.run(&["send", "zeta", "z"]).code(0);
    // A receiver left waiting on the empty `beta`.
    let mut waiting = daemon.command(&["recv", "beta"]);
    waiting
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let _waiting = Background::spawn(waiting);
    eventually("the receiver waits", || {
        daemon
            .scrape()
            .get("postbox_mailbox_blocked_receivers{mailbox=\"beta\"}")
            == Some(&1.0)
    });

    let samples = daemon.scrape();
    let alpha = |metric: &str| value(&samples, &format!("{metric}{{mailbox=\"alpha\"}}"));
    assert_eq!(alpha("postbox_mailbox_queued_messages"), 2.0);
    assert_eq!(alpha("postbox_mailbox_queued_bytes"), 8.0, "two + three");
    assert_eq!(alpha("postbox_mailbox_sent_total"), 3.0);
    assert_eq!(alpha("postbox_mailbox_received_total"), 1.0);
    assert_eq!(alpha("postbox_mailbox_dropped_total"), 0.0);
    assert_eq!(alpha("postbox_mailbox_blocked_senders"), 0.0);
    assert_eq!(
        value(
            &samples,
            "postbox_mailbox_queued_messages{mailbox=\"beta\"}"
        ),
        0.0
    );
    // The cap: the first two mailboxes by name, the third counted as omitted.
    assert!(
        !samples.keys().any(|name| name.contains("zeta")),
        "{samples:#?}"
    );
    assert_eq!(value(&samples, "postbox_metrics_mailboxes_omitted"), 1.0);

    // Daemon-wide figures cover every mailbox, the omitted one too.
    assert_eq!(value(&samples, "postbox_mailboxes"), 3.0);
    assert_eq!(value(&samples, "postbox_queued_messages"), 3.0);
    assert_eq!(value(&samples, "postbox_queued_bytes"), 9.0);
    assert_eq!(
        value(&samples, "postbox_quota_used_bytes"),
        9.0 + 3.0 * 256.0
    );
    assert_eq!(
        value(&samples, "postbox_quota_bytes"),
        256.0 * 1024.0 * 1024.0
    );
    assert_eq!(value(&samples, "postbox_messages_sent_total"), 4.0);
    assert_eq!(value(&samples, "postbox_messages_received_total"), 1.0);
    assert_eq!(
        value(&samples, "postbox_processes"),
        1.0,
        "the waiting receiver"
    );
    assert_eq!(value(&samples, "postbox_connections"), 1.0);
    let requests = value(&samples, "postbox_requests_total");
    assert!(requests >= 9.0, "creates, sends, receives: {requests}");
    assert_eq!(
        value(&samples, "postbox_request_duration_seconds_count"),
        requests
    );
    assert_eq!(
        value(
            &samples,
            "postbox_request_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        requests
    );
}

#[test]
fn garbage_requests_get_an_error_status_and_break_nothing() {
    let daemon = MetricsDaemon::start(&[]);
    let status = |request: &[u8]| {
        let answer = daemon.http(request);
        answer.lines().next().unwrap_or("").to_owned()
    };
    assert_eq!(status(b"garbage\r\n\r\n"), "HTTP/1.1 400 Bad Request");
    assert_eq!(status(b"\x00\xff\xfe\r\n\r\n"), "HTTP/1.1 400 Bad Request");
    assert_eq!(
        status(b"GET /metrics HTTP/9.9\r\n\r\n"),
        "HTTP/1.1 400 Bad Request"
    );
    assert_eq!(status(b"GET / HTTP/1.1\r\n\r\n"), "HTTP/1.1 404 Not Found");
    assert_eq!(
        status(b"DELETE /metrics HTTP/1.1\r\n\r\n"),
        "HTTP/1.1 405 Method Not Allowed"
    );
    let huge = vec![b'a'; 64 * 1024];
    assert_eq!(
        status(&huge),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    // A client that connects and goes, and one that says half a request and goes.
    drop(TcpStream::connect(&daemon.metrics).unwrap());
    let mut half = TcpStream::connect(&daemon.metrics).unwrap();
    half.write_all(b"GET /met").unwrap();
    drop(half);
    // HEAD: the headers alone.
    let head = daemon.http(b"HEAD /metrics HTTP/1.0\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.1 200 OK\r\n") && head.ends_with("\r\n\r\n"),
        "{head}"
    );

    // Still serving scrapes and clients.
    assert!(daemon.scrape().contains_key("postbox_requests_total"));
    daemon.run(&["create", "after"]).code(0);
    daemon.run(&["ls"]).code(0);
}
