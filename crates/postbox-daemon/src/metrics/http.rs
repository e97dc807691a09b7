//! A minimal HTTP/1.x server for scrapes: `GET /metrics` (and `HEAD`), one request per
//! connection.
//!
//! Bounded in every way a stranger could push it: at most [`MAX_SCRAPERS`] connections served at
//! once (more wait in the listen backlog), a request head of at most [`MAX_HEAD`] bytes read
//! within [`REQUEST_TIMEOUT`], the answer written within [`REQUEST_TIMEOUT`], then the connection
//! closed. Anything else is answered with a status and closed: `400` for what is not an HTTP/1
//! request, `404` for another path, `405` for another method, `408` for a head not complete in
//! time, `431` for one too large. Nothing a client sends panics or stops the daemon.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::Metrics;
use crate::shutdown::StopSignal;

/// Connections served at once; the next ones wait to be accepted.
pub(crate) const MAX_SCRAPERS: usize = 8;

/// The largest request head (request line and headers) read.
pub(crate) const MAX_HEAD: usize = 8 * 1024;

/// How long a client has to send its request, and to read the answer.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the input of a refused request is drained after the answer, so that closing does
/// not reset the connection before the client has read the answer.
const LINGER: Duration = Duration::from_millis(500);

/// The path served.
const PATH: &str = "/metrics";

/// Serves scrapes on `listener` until `stop`.
pub(crate) async fn serve(listener: TcpListener, metrics: Arc<Metrics>, mut stop: StopSignal) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = stop.stopped() => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept(), if tasks.len() < MAX_SCRAPERS => match accepted {
                Ok((stream, _)) => {
                    tasks.spawn(answer(stream, metrics.clone()));
                }
                Err(error) => {
                    tracing::warn!("metrics: accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    tasks.shutdown().await;
}

/// What a request asks, or why it is refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Verdict {
    /// `GET /metrics`: the metrics.
    Metrics,
    /// `HEAD /metrics`: the headers alone.
    Head,
    /// Refused with this status.
    Refused(u16),
}

/// Reads one request from `stream` and answers it.
async fn answer(mut stream: TcpStream, metrics: Arc<Metrics>) {
    let mut head = [0u8; MAX_HEAD];
    let verdict =
        match tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut stream, &mut head)).await {
            Ok(Some(length)) => judge(&head[..length]),
            Ok(None) => Verdict::Refused(431),
            Err(_) => Verdict::Refused(408),
        };
    let response = match verdict {
        Verdict::Metrics => response(200, &metrics.encode(), true),
        Verdict::Head => response(200, &metrics.encode(), false),
        Verdict::Refused(status) => {
            let reason = format!("{status} {}\n", reason(status));
            response(status, &reason, true)
        }
    };
    let written = tokio::time::timeout(REQUEST_TIMEOUT, async {
        stream.write_all(&response).await?;
        stream.shutdown().await
    })
    .await;
    if matches!(verdict, Verdict::Refused(_)) && matches!(written, Ok(Ok(()))) {
        let mut sink = [0u8; 4096];
        let _ = tokio::time::timeout(LINGER, async {
            while let Ok(1..) = stream.read(&mut sink).await {}
        })
        .await;
    }
}

/// Reads into `buffer` until the end of a request head (an empty line): `Some(length)` of the
/// bytes read, or `None` when the head does not fit. A client that closes early gets its bytes
/// judged as they are (and refused).
async fn read_head(stream: &mut TcpStream, buffer: &mut [u8]) -> Option<usize> {
    let mut filled = 0;
    loop {
        if filled == buffer.len() {
            return None;
        }
        match stream.read(&mut buffer[filled..]).await {
            Ok(0) | Err(_) => return Some(filled),
            Ok(n) => filled += n,
        }
        if ends_head(&buffer[..filled]) {
            return Some(filled);
        }
    }
}

/// Whether `bytes` hold a complete request head.
fn ends_head(bytes: &[u8]) -> bool {
    bytes.windows(4).any(|w| w == b"\r\n\r\n") || bytes.windows(2).any(|w| w == b"\n\n")
}

/// What a request head asks for.
fn judge(head: &[u8]) -> Verdict {
    if !ends_head(head) {
        return Verdict::Refused(400);
    }
    let Ok(head) = std::str::from_utf8(head) else {
        return Verdict::Refused(400);
    };
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Verdict::Refused(400);
    };
    if !matches!(version, "HTTP/1.0" | "HTTP/1.1") || !target.starts_with('/') {
        return Verdict::Refused(400);
    }
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    match (method, path == PATH) {
        (_, false) => Verdict::Refused(404),
        ("GET", true) => Verdict::Metrics,
        ("HEAD", true) => Verdict::Head,
        (_, true) => Verdict::Refused(405),
    }
}

/// A status's reason phrase.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

/// A whole response: status line, headers, and `body` unless `with_body` is false (`HEAD`).
fn response(status: u16, body: &str, with_body: bool) -> Vec<u8> {
    let content_type = if status == 200 {
        prometheus_client::encoding::prometheus_text::CONTENT_TYPE
    } else {
        "text/plain; charset=utf-8"
    };
    let allow = if status == 405 {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         {allow}Connection: close\r\n\r\n",
        reason(status),
        body.len()
    )
    .into_bytes();
    if with_body {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_get_and_head_of_the_metrics_path_are_served() {
        assert_eq!(
            judge(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Verdict::Metrics
        );
        assert_eq!(
            judge(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
            Verdict::Metrics
        );
        assert_eq!(judge(b"HEAD /metrics HTTP/1.1\r\n\r\n"), Verdict::Head);
        assert_eq!(judge(b"GET / HTTP/1.1\r\n\r\n"), Verdict::Refused(404));
        assert_eq!(
            judge(b"GET /metricsx HTTP/1.1\r\n\r\n"),
            Verdict::Refused(404)
        );
        assert_eq!(
            judge(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Verdict::Refused(405)
        );
        for garbage in [
            &b""[..],
            b"\r\n\r\n",
            b"GET /metrics\r\n\r\n",
            b"GET /metrics HTTP/2.0\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"\xff\xfe\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\n",
        ] {
            assert_eq!(judge(garbage), Verdict::Refused(400), "{garbage:?}");
        }
    }

    #[test]
    fn responses_say_their_length_and_close() {
        let text = String::from_utf8(response(404, "404 Not Found\n", true)).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
        assert!(text.contains("Content-Length: 14\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\n404 Not Found\n"));
        let head = String::from_utf8(response(200, "abc", false)).unwrap();
        assert!(head.contains("Content-Length: 3\r\n") && head.ends_with("\r\n\r\n"));
        let allow = String::from_utf8(response(405, "", true)).unwrap();
        assert!(allow.contains("Allow: GET, HEAD\r\n"));
    }
}
