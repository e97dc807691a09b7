//! The postbox protocol, sans-IO: frames, their codec, and the versioned handshake.
//!
//! Everything a client and the daemon say to each other travels in **frames**: a fixed 22-byte
//! header (magic `b"PB"`, version, kind, flags, request id, payload length, CRC32C) and a payload.
//! This crate turns frames into bytes and bytes into frames, and runs the handshake that opens
//! every connection. It does no I/O, reads no clock and spawns nothing: drivers (the `postbox`
//! library's socket transports, the daemon) feed it bytes and write out what it returns, which is
//! what lets every rule here be tested, property-tested and fuzzed without a socket.
//! `docs/protocol.md` specifies every byte.
//!
//! - [`FrameDecoder`] cuts frames out of received bytes. It treats its input as hostile: it
//!   never panics, refuses a frame over the limit from its header alone (before buffering or
//!   reserving room for the payload), and checks every frame's CRC32C.
//! - [`FrameEncoder`] writes frames; whatever it accepts, a decoder with the same
//!   [`FrameConfig`] reads back unchanged.
//! - [`ClientHandshake`] and [`ServerHandshake`] negotiate the version and frame limit, check
//!   the server's token, and give the client its pid: `handle_frame` for input, `poll_transmit`
//!   for output.
//! - After the handshake, many requests are in flight at once on one connection, each under its
//!   own [`RequestId`]: a `recv` blocked in the daemon does not hold up a `send` behind it.
//!   Request and response payloads are [`Request`] and [`Response`], encoded with postcard;
//!   [`apply`] carries a request out on the engine, the same way for every transport.
//!
//! A whole connection, in memory:
//!
//! ```
//! use bytes::BytesMut;
//! use postbox_wire::*;
//!
//! // Each side has a decoder and an encoder, in the handshake configuration until it completes.
//! let (mut client_in, mut client_out) = (FrameDecoder::default(), FrameEncoder::default());
//! let (mut server_in, mut server_out) = (FrameDecoder::default(), FrameEncoder::default());
//! let (mut to_server, mut to_client) = (BytesMut::new(), BytesMut::new());
//!
//! // The client says Hello.
//! let mut client = ClientHandshake::new(ClientConfig::new());
//! while let Some(frame) = client.poll_transmit() {
//!     client_out.encode(&frame, &mut to_server)?;
//! }
//!
//! // The server admits it, registers its process as pid 7, and says Welcome.
//! let mut server = ServerHandshake::new(ServerConfig::new());
//! let hello = server_in.decode(&mut to_server)?.expect("a whole frame arrived");
//! let admission = server.handle_frame(hello)?;
//! let server_session = server.accept(admission, 7)?;
//! while let Some(frame) = server.poll_transmit() {
//!     server_out.encode(&frame, &mut to_client)?;
//! }
//! server_in.set_config(server_session.frame_config());
//! server_out.set_config(server_session.frame_config());
//!
//! let welcome = client_in.decode(&mut to_client)?.expect("a whole frame arrived");
//! let session = client.handle_frame(welcome)?;
//! client_in.set_config(session.frame_config());
//! client_out.set_config(session.frame_config());
//! assert_eq!(session.pid, 7);
//!
//! // Two requests in flight; the server answers the second first, and ids match them up.
//! let (recv, send) = (RequestId::new(1).unwrap(), RequestId::new(2).unwrap());
//! client_out.encode(&Frame::request(recv, "a blocking recv"), &mut to_server)?;
//! client_out.encode(&Frame::request(send, "a send"), &mut to_server)?;
//! let first = server_in.decode(&mut to_server)?.unwrap();
//! let second = server_in.decode(&mut to_server)?.unwrap();
//! assert_eq!((first.request_id(), second.request_id()), (Some(recv), Some(send)));
//! server_out.encode(&Frame::response(send, "sent"), &mut to_client)?;
//! let answer = client_in.decode(&mut to_client)?.unwrap();
//! assert_eq!(answer.request_id(), Some(send));
//!
//! // A peer speaking something else is caught at once; tell it why, then close.
//! let mut garbage = BytesMut::from(&b"GET / HTTP/1.1\r\n"[..]);
//! let error = server_in.decode(&mut garbage).unwrap_err();
//! assert_eq!(error, DecodeError::BadMagic);
//! let goodbye = ErrorBody::new(error.code(), error.to_string()).to_frame(None);
//! server_out.encode(&goodbye, &mut to_client)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod address;
mod apply;
mod attachment;
mod capabilities;
mod codec;
mod concerns;
mod cursor;
mod decoder;
mod encoder;
mod engine_driver;
mod error;
mod error_body;
mod frame;
mod handshake;
mod header;
mod hello;
mod id_map;
pub mod link;
mod node_links;
mod node_message;
mod operation;
pub mod session;
mod shared_payload;
mod token;

pub use attachment::{
    ATTACHED, Attached, AttachedError, Attachment, Carrier, MAX_ATTACHMENTS, encode_attached,
};
pub use capabilities::Capabilities;
pub use codec::Codec;
pub use concerns::Concerns;
pub use decoder::FrameDecoder;
pub use encoder::FrameEncoder;
pub use engine_driver::{Carried, EngineDriver, Withdrawal};
pub use error::{
    DecodeError, EncodeError, HandshakeError, InvalidRequestId, InvalidToken, PayloadError,
};
pub use error_body::{ErrorBody, ErrorCode, MAX_ERROR_MESSAGE_LEN};
pub use frame::{
    DEFAULT_MAX_FRAME_LEN, Frame, FrameConfig, FrameKind, HANDSHAKE_MAX_FRAME_LEN, HEADER_LEN,
    MAGIC, RequestId, SUPPORTED_VERSIONS, Version,
};
pub use handshake::{
    Admission, Auth, ClientConfig, ClientHandshake, Negotiated, ServerConfig, ServerHandshake,
};
pub use hello::{Hello, MAX_OFFERED_VERSIONS, Welcome};
pub use id_map::IdMap;
pub use node_links::{LocalNode, NodeLinks, PeerLink, PeerState};
pub use node_message::{ENDED_PID, NodeMessage, PEER_PID};
pub use session::{
    ClientEvent, ClientSession, Ending, RequestError, RequestFailure, ServerEvent, ServerSession,
};
pub use shared_payload::{SHARE_FROM, decode_request_shared, decode_response_shared};
pub use token::{MAX_TOKEN_LEN, Token};

pub use address::default_socket_path;
pub use apply::{Applied, BatchWait, apply, cancelled_response, completion_response};
pub use operation::{
    MAX_BATCH, MAX_BRANCHES, NodeQuery, OperationError, RECEIVED_OVERHEAD, Request, Response,
    RingTerms, Target, decode_request, decode_response, encode_request, encode_request_into,
    encode_response, encode_response_into,
};
