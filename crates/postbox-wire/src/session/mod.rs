//! Sessions: everything a connection's two ends must agree on, from the first byte to the last,
//! as two sans-IO state machines.
//!
//! [`ClientSession`] and [`ServerSession`] own the whole conversation of `docs/protocol.md`
//! §4–§8 — the handshake, request ids, the table of requests in flight, `Cancel`, answers,
//! events, `Close`, and which frame kinds each side may send when — so that every driver (the
//! library's socket transport, the daemon's connections, test clients, benchmarks) only moves
//! bytes and time in and out, in the manner of quinn-proto:
//!
//! - input: [`handle_input`](ClientSession::handle_input) with the bytes read,
//!   [`handle_end`](ClientSession::handle_end) when the stream ends, and the caller's decisions
//!   (a request to send, an answer to give);
//! - output: [`transmit`](ClientSession::transmit), the bytes to write, and
//!   [`poll_event`](ClientSession::poll_event), what happened.
//!
//! Neither reads a clock: the client's deadlines are [`Instant`](std::time::Instant)s the driver
//! passes in and checks with [`poll_timeout`](ClientSession::poll_timeout) and
//! [`handle_timeout`](ClientSession::handle_timeout).
//!
//! A whole conversation, in memory:
//!
//! ```
//! use bytes::BytesMut;
//! use postbox_wire::*;
//!
//! let mut client = ClientSession::new(ClientConfig::new());
//! let mut server = ServerSession::new(ServerConfig::new(), 16);
//! let mut pipe = |from: &mut BytesMut, to: &mut BytesMut| to.extend_from_slice(&from.split());
//! let (mut to_server, mut to_client) = (BytesMut::new(), BytesMut::new());
//!
//! // Hello: the server decides, then welcomes the client as process 7.
//! pipe(client.transmit(), &mut to_server);
//! server.handle_input(&mut to_server);
//! let Some(ServerEvent::Hello(admission)) = server.poll_event() else { panic!() };
//! server.accept(admission, 7)?;
//! pipe(server.transmit(), &mut to_client);
//! client.handle_input(&mut to_client);
//! assert!(matches!(client.poll_event(), Some(ClientEvent::Connected(n)) if n.pid == 7));
//!
//! // A request and its answer.
//! let id = client.request(&Request::NodeStats, None)?;
//! pipe(client.transmit(), &mut to_server);
//! server.handle_input(&mut to_server);
//! let Some(ServerEvent::Request { id: asked, .. }) = server.poll_event() else { panic!() };
//! server.respond(asked, &Response::Done);
//! pipe(server.transmit(), &mut to_client);
//! client.handle_input(&mut to_client);
//! let Some(ClientEvent::Answer { id: answered, result }) = client.poll_event() else { panic!() };
//! assert_eq!((answered, result), (id, Ok(Response::Done)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod attachments;
mod client;
mod ending;
mod input;
mod server;

pub use attachments::{DEFAULT_ATTACH_FROM, Departure};
pub use client::{ClientEvent, ClientSession, RequestError, RequestFailure};
pub use ending::Ending;
pub use server::{ServerEvent, ServerSession};
