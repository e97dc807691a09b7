//! The socket transports: a process that is one connection to a daemon (`unix://`, `tcp://`,
//! `tls://`).
//!
//! Each connection is driven by the protocol's sans-IO client session, shared by the threads
//! that use the process ([`session`](self::session)). [`SocketLink`] makes requests and cancels;
//! one thread at a time [writes](self::writer) what the session queued; [`answers`](self::answers)
//! reads the daemon's answers into the slots of the requests that wait for them;
//! [`stream`](self::stream) is the connected socket of any kind; on `unix://`,
//! [`payloads`](self::payloads) attaches large payloads beside the frames. For `tls://`,
//! [`tls_client`](self::tls_client) runs the TLS handshake and a [pump](self::tls_pump) thread
//! carries the connection, handing the rest a plain Unix stream.

mod answers;
mod link;
mod payloads;
mod ring_lender;
mod session;
mod stream;
mod tls_client;
mod tls_pump;
mod writer;

pub(crate) use link::SocketLink;
pub(crate) use payloads::Payloads;
pub(crate) use stream::Endpoint;
pub(crate) use tls_client::TlsOptions;
