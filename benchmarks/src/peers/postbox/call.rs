//! postbox's call and reply over `unix://`, measured as a ping-pong: the pinger calls
//! `bench.ping` and the ponger answers each request with `reply`. Beside the send-and-receive
//! ping-pong of `postbox unix://` in the same run, it shows what a call's round trip costs
//! (the target: at most 1.1× the send-and-receive round trip).

use std::io;
use std::path::Path;

use postbox::{Bytes, Mailbox, Message, Process, Received};

use crate::mechanism::{Case, Endpoint, Mechanism, Prepared, Role, Workload};

use super::mechanism::{Postbox, Transport, bounded};

/// The mailbox the pinger calls and the ponger receives requests from.
const PING: &str = "bench.ping";

/// Call and reply through a daemon's Unix socket.
#[derive(Clone, Copy, Debug)]
pub struct PostboxCall;

impl PostboxCall {
    /// The send-and-receive mechanism whose daemon and connections it shares.
    const BASE: Postbox = Postbox {
        transport: Transport::Unix,
    };
}

impl Mechanism for PostboxCall {
    fn name(&self) -> String {
        "postbox unix:// call".to_owned()
    }

    fn unsupported(&self, case: &Case) -> Option<String> {
        if case.workload != Workload::PingPong {
            return Some("a call is a round trip: measured by ping-pong only".to_owned());
        }
        PostboxCall::BASE.unsupported(case)
    }

    fn prepare(&self, case: &Case, scratch: &Path) -> io::Result<Prepared> {
        PostboxCall::BASE.prepare(case, scratch)
    }

    fn open(&self, case: &Case, address: &str, role: Role) -> io::Result<Box<dyn Endpoint>> {
        let process = PostboxCall::BASE.connect_to(address)?;
        let open_error = |e: postbox::OpenError| io::Error::other(format!("mailbox {PING}: {e}"));
        match role {
            Role::Ponger => {
                let requests = bounded(process.mailbox(PING), case.size)
                    .create()
                    .map_err(open_error)?;
                Ok(Box::new(Server {
                    requests,
                    held: None,
                    process,
                }))
            }
            Role::Pinger => {
                let callee = process.mailbox(PING).open().map_err(open_error)?;
                Ok(Box::new(Client {
                    callee,
                    answer: None,
                    process,
                }))
            }
            other => Err(io::Error::other(format!(
                "{other:?} has no part in a call's ping-pong"
            ))),
        }
    }
}

/// The pinger: `send` calls, `recv` hands out the answer. The mailbox closes before the process.
struct Client {
    callee: Mailbox,
    answer: Option<Message>,
    #[allow(dead_code, reason = "kept alive for the mailbox handle")]
    process: Process,
}

impl Endpoint for Client {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let answer = self
            .callee
            .call(Bytes::copy_from_slice(message))
            .map_err(|e| io::Error::other(format!("call: {e}")))?;
        self.answer = Some(answer);
        Ok(())
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        let answer = self
            .answer
            .take()
            .ok_or_else(|| io::Error::other("no call has been answered"))?;
        *buf = Vec::from(answer.payload);
        Ok(())
    }
}

/// The ponger: `recv` takes a request and holds it, `send` answers it.
struct Server {
    requests: Mailbox,
    held: Option<Received>,
    process: Process,
}

impl Endpoint for Server {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let request = self
            .held
            .take()
            .ok_or_else(|| io::Error::other("no request to answer"))?;
        self.process
            .reply(&request, Bytes::copy_from_slice(message))
            .map_err(|e| io::Error::other(format!("reply: {e}")))
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        let request = self
            .requests
            .recv()
            .map_err(|e| io::Error::other(format!("receive: {e}")))?;
        if request.call().is_none() {
            return Err(io::Error::other("a message that is not a request arrived"));
        }
        *buf = request.payload().to_vec();
        self.held = Some(request);
        Ok(())
    }
}
