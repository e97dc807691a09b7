//! postbox through two linked nodes (`postbox node link`): every message goes client → node `a`
//! → node `b` → client, over the same `tcp://` client connections as `postbox tcp://`, so that
//! the two rows of one run differ only by the node hop (the target: at least 0.5× the one-way
//! throughput of `postbox tcp://`, and at most 2.5× its round trip).
//!
//! Receivers connect to node `b` and senders to node `a`:
//!
//! - throughput: the consumer creates `bench.queue` on `b`; the producer sends to
//!   `bench.queue@b`;
//! - ping-pong: the ponger creates `bench.ping` on `b`, the pinger creates `bench.pong` on `a`
//!   and sends to `bench.ping@b`; the ponger answers to `bench.pong@a`, so the round trip
//!   crosses the link both ways.
//!
//! Fan-in and competing consumers are left to the one-daemon rows: the target is about a
//! single stream across the link.

use std::io;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::mechanism::{Case, Endpoint, Mechanism, Prepared, Role, Workload};
use crate::plan::format_size;

use super::daemon::MAX_MESSAGE;
use super::endpoint::{Flow, MailboxEnd, SendTo};
use super::mechanism::{RunAddress, bounded, connect, open_error, write_token_file};
use super::node_pair::{NodePair, postbox_binary};

/// The ping mailbox, on node `b`.
const PING: &str = "bench.ping";
/// The pong mailbox, on node `a`.
const PONG: &str = "bench.pong";
/// The queue of a throughput run, on node `b`.
const QUEUE: &str = "bench.queue";

/// postbox across a link between two daemons on this machine: the sender's connection to node
/// `a`, the receiver's to node `b` (`bench.queue@b`; ping-pong `bench.ping@b` and
/// `bench.pong@a`).
#[derive(Clone, Copy, Debug)]
pub struct PostboxNodeLink;

/// Where each side's roles connect.
#[derive(Debug, Serialize, Deserialize)]
struct PairAddress {
    /// Node `a`: senders (producers, the pinger).
    a: RunAddress,
    /// Node `b`: receivers (consumers, the ponger).
    b: RunAddress,
}

impl Mechanism for PostboxNodeLink {
    fn name(&self) -> String {
        "postbox node link".to_owned()
    }

    fn unsupported(&self, case: &Case) -> Option<String> {
        if !matches!(case.workload, Workload::PingPong | Workload::Throughput) {
            return Some("one stream across the link: ping-pong and throughput only".to_owned());
        }
        if case.size > MAX_MESSAGE {
            return Some(format!(
                "above postbox's largest message ({})",
                format_size(MAX_MESSAGE)
            ));
        }
        postbox_binary().err().map(|e| e.to_string())
    }

    fn prepare(&self, _case: &Case, scratch: &Path) -> io::Result<Prepared> {
        let postbox = postbox_binary()?;
        let token_file = write_token_file(scratch)?;
        let pair = NodePair::start(&postbox, scratch, &token_file)?;
        let at = |tcp| RunAddress {
            url: format!("tcp://{tcp}"),
            token_file: Some(token_file.clone()),
        };
        let address = PairAddress {
            a: at(pair.a()),
            b: at(pair.b()),
        };
        Ok(Prepared {
            address: serde_json::to_string(&address).map_err(io::Error::other)?,
            guard: pair.into_guard(),
        })
    }

    fn open(&self, case: &Case, address: &str, role: Role) -> io::Result<Box<dyn Endpoint>> {
        let address: PairAddress = serde_json::from_str(address).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("bad address: {e}"))
        })?;
        let size = case.size;
        let (process, send_to, recv_from, flow) = match (case.workload, role) {
            (Workload::PingPong, Role::Ponger) => {
                let process = connect(&address.b)?;
                let ping = bounded(process.mailbox(PING), size)
                    .create()
                    .map_err(open_error(PING))?;
                let pong = format!("{PONG}@a");
                (process, SendTo::Later(pong), Some(ping), Flow::Blocking)
            }
            (Workload::PingPong, Role::Pinger) => {
                let process = connect(&address.a)?;
                let pong = bounded(process.mailbox(PONG), size)
                    .create()
                    .map_err(open_error(PONG))?;
                let name = format!("{PING}@b");
                let ping = process.mailbox(&name).open().map_err(open_error(&name))?;
                let send_to = SendTo::Open(Arc::new(ping));
                (process, send_to, Some(pong), Flow::Blocking)
            }
            (Workload::Throughput, Role::Consumer { .. }) => {
                let process = connect(&address.b)?;
                let queue = bounded(process.mailbox(QUEUE), size)
                    .create()
                    .map_err(open_error(QUEUE))?;
                (process, SendTo::Nothing, Some(queue), Flow::Pipelined)
            }
            (Workload::Throughput, Role::Producer { .. }) => {
                let process = connect(&address.a)?;
                let name = format!("{QUEUE}@b");
                let queue = process.mailbox(&name).open().map_err(open_error(&name))?;
                let send_to = SendTo::Open(Arc::new(queue));
                (process, send_to, None, Flow::Pipelined)
            }
            (workload, role) => {
                return Err(io::Error::other(format!(
                    "{role:?} has no part in {workload:?} across a node link"
                )));
            }
        };
        Ok(Box::new(MailboxEnd::new(send_to, recv_from, flow, process)))
    }
}
