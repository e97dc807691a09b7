//! Typed services: a trait under [`#[postbox::service]`](macro@crate::service) becomes calls.
//!
//! For a trait `Calculator` the attribute generates, beside it: `CalculatorRequest` and
//! `CalculatorResponse` (one variant per method: its arguments, what it returned),
//! `CalculatorClient` (the trait's methods as calls, each also as `_timeout(…, timeout)` and
//! `_async`) and `CalculatorServer` (`serve`, a loop answering requests from the inbox or a
//! mailbox until receiving fails, `handle`, one request for a loop of your own such as a
//! [`Select`](crate::Select), and `dispatch`, one decoded request).
//!
//! ```
//! use postbox::InprocNode;
//! use postbox::service::{RequestSource, ServiceError};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! enum CalcError { DivideByZero }
//!
//! #[postbox::service]
//! trait Calculator {
//!     fn add(&self, a: i64, b: i64) -> i64;
//!     fn divide(&self, a: i64, b: i64) -> Result<i64, CalcError>;
//! }
//!
//! struct Calc;
//! impl Calculator for Calc {
//!     fn add(&self, a: i64, b: i64) -> i64 { a + b }
//!     fn divide(&self, a: i64, b: i64) -> Result<i64, CalcError> {
//!         a.checked_div(b).ok_or(CalcError::DivideByZero)
//!     }
//! }
//!
//! let node = InprocNode::new();
//! let (server, client) = (node.process(), node.process());
//! let callee = server.pid();
//! std::thread::spawn(move || CalculatorServer::serve(&server, RequestSource::Inbox, &Calc));
//!
//! let calc = CalculatorClient::new(&client, callee);
//! assert_eq!(calc.add(2, 3)?, 5);
//! assert_eq!(calc.divide(1, 0), Err(ServiceError::Failed(CalcError::DivideByZero)));
//! assert_eq!(calc.add_timeout(1, 1, std::time::Duration::from_secs(5))?, 2);
//! assert_eq!(pollster::block_on(calc.add_async(40, 2))?, 42);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What a service trait may hold
//!
//! Methods taking `&self` or `&mut self` (then `serve` and `handle` take the value `&mut`) and
//! other arguments by value, as plain names, of owned types that implement serde's `Serialize`
//! and `Deserialize`; the same for what they return. A method returning `Result<T, E>` (any
//! path ending in `Result` with two arguments) has `E` as its application error: the client's
//! call fails with [`ServiceError::Failed`]`(E)`; any other return type is the value itself
//! (`()` when there is none). Everything else is refused when the trait is compiled, with an
//! error saying why: a generic trait or method, `async fn` (use the client's `_async` forms),
//! references, `impl Trait` or `Self` in a signature, patterns as arguments, a method without
//! `&self`, associated types or constants, a method called `new` or `callee` (the client's
//! own). For example, a borrowed argument:
//!
//! ```compile_fail
//! #[postbox::service]
//! trait Greeter {
//!     fn greet(&self, name: &str) -> String; // error: use an owned type (`String`)
//! }
//! ```
//!
//! and an `async fn`:
//!
//! ```compile_fail
//! #[postbox::service]
//! trait Greeter {
//!     async fn greet(&self, name: String) -> String; // error: the client has `greet_async`
//! }
//! ```
//!
//! # Serving
//!
//! `serve` returns when receiving fails, with the reason: `Gone` once its mailbox is deleted
//! (the way to stop it), `Disconnected` once the process's transport is lost. It passes over
//! messages that are not requests (a plain send, a down notification) and answers whose caller
//! stopped waiting (`Revoked`). Every request gets an answer: the method's value, its
//! application error, or — for a request it does not understand — an [`IncompatibleService`].
//!
//! # On the wire
//!
//! A request is a call whose payload is the method's 64-bit identity (little-endian) followed by
//! its arguments, a tuple in [postcard](https://docs.rs/postcard). A returned value is the
//! answer ([`Process::reply`]); an application error (`Err` of a method returning
//! `Result<T, E>`) fails the call ([`Process::fail`]) with a tag byte `0` and `E` in postcard;
//! a server that does not know the method, or cannot decode its arguments, fails it with a tag
//! byte `1`, an [`IncompatibleKind`] byte (`0` unknown method, `1` bad request, `2` bad answer)
//! and a UTF-8 explanation.
//!
//! # What "compatible" means
//!
//! A method's identity is an FNV-1a hash, computed when the trait is compiled, of the text
//! `Service::method(T1,T2)->R`: the trait's name, the method's name and the *spelling* of its
//! argument and return types (whitespace removed). Renaming an argument keeps the identity;
//! adding, removing, reordering or retyping one changes it, and so does renaming the method or
//! the trait, so such a client gets [`ServiceError::Incompatible`] rather than a misread answer.
//! The "schema" is only the types' spelling: changing a type's *definition* while keeping its
//! name, or spelling the same type two ways (`Vec<u8>` and `std::vec::Vec<u8>`), is not seen by
//! the identity. Then postcard decodes what it can: bytes that do not decode, or leave bytes
//! over, still give [`ServiceError::Incompatible`] (`BadRequest` or `BadAnswer`), never a panic,
//! but a changed definition that happens to decode is misread. Keep service types in one crate
//! that client and server share.

use std::convert::Infallible;
use std::fmt;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use postbox_core::{CallError, CallErrorKind, Received, RecvError, ReplyError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::callee::Callee;
use crate::mailbox::Mailbox;
use crate::process::Process;

/// The tag byte of a failure carrying the method's application error.
const APPLICATION: u8 = 0;
/// The tag byte of a failure saying the request was not understood.
const INCOMPATIBLE: u8 = 1;

/// Why a client and a server of a service do not understand each other.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum IncompatibleKind {
    /// The server has no method with this identity: the client was built from another version
    /// of the trait (a method renamed, or its argument or return types changed), or the callee
    /// serves another service.
    UnknownMethod,
    /// The server knows the method but could not decode the arguments: the request's bytes do
    /// not match the argument types (a type changed under the same name, or the request was
    /// not made by a service client).
    BadRequest,
    /// The client could not decode the server's answer: the return or error type changed under
    /// the same name, or the callee is not a service server.
    BadAnswer,
}

impl IncompatibleKind {
    fn byte(self) -> u8 {
        match self {
            IncompatibleKind::UnknownMethod => 0,
            IncompatibleKind::BadRequest => 1,
            IncompatibleKind::BadAnswer => 2,
        }
    }

    fn from_byte(byte: u8) -> Option<IncompatibleKind> {
        match byte {
            0 => Some(IncompatibleKind::UnknownMethod),
            1 => Some(IncompatibleKind::BadRequest),
            2 => Some(IncompatibleKind::BadAnswer),
            _ => None,
        }
    }
}

impl fmt::Display for IncompatibleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IncompatibleKind::UnknownMethod => "the server does not know this method",
            IncompatibleKind::BadRequest => "the server could not decode the arguments",
            IncompatibleKind::BadAnswer => "the answer could not be decoded",
        })
    }
}

/// A client and a server built from different versions of a service trait (or a callee that
/// is no server of it): the call was not understood, and nothing was misread.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct IncompatibleService {
    kind: IncompatibleKind,
    detail: String,
}

impl IncompatibleService {
    /// An incompatibility of `kind`, explained by `detail`.
    pub fn new(kind: IncompatibleKind, detail: impl Into<String>) -> IncompatibleService {
        IncompatibleService {
            kind,
            detail: detail.into(),
        }
    }

    /// What was not understood.
    pub fn kind(&self) -> IncompatibleKind {
        self.kind
    }

    /// The explanation: which method, and what the other side said.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Its encoding in a failed call: tag, kind, explanation.
    fn to_failure(&self) -> Bytes {
        let mut bytes = BytesMut::with_capacity(2 + self.detail.len());
        bytes.put_u8(INCOMPATIBLE);
        bytes.put_u8(self.kind.byte());
        bytes.put_slice(self.detail.as_bytes());
        bytes.freeze()
    }
}

impl fmt::Display for IncompatibleService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "incompatible service: {}: {} (build client and server from the same trait)",
            self.kind, self.detail
        )
    }
}

impl std::error::Error for IncompatibleService {}

/// A failed call of a service method; `E` is the method's application error (`Infallible` for
/// methods that return no `Result`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ServiceError<E = Infallible> {
    /// The server's implementation returned `Err`.
    Failed(E),
    /// Client and server do not understand each other: see [`IncompatibleService`].
    Incompatible(IncompatibleService),
    /// The arguments could not be encoded (a serde implementation refused them); nothing was
    /// sent.
    Encode(String),
    /// The call itself failed: `Timeout`, `PeerGone` (the server terminated holding the
    /// request), `NotFound`, `Disconnected`… as for [`Process::call`].
    Call(CallError),
}

impl<E: fmt::Display> fmt::Display for ServiceError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::Failed(error) => write!(f, "the service failed: {error}"),
            ServiceError::Incompatible(incompatible) => incompatible.fmt(f),
            ServiceError::Encode(why) => write!(f, "cannot encode the arguments: {why}"),
            ServiceError::Call(error) => error.fmt(f),
        }
    }
}

impl<E: fmt::Display + fmt::Debug> std::error::Error for ServiceError<E> {}

impl<E> From<CallError> for ServiceError<E> {
    fn from(error: CallError) -> ServiceError<E> {
        ServiceError::Call(error)
    }
}

impl<E> From<IncompatibleService> for ServiceError<E> {
    fn from(incompatible: IncompatibleService) -> ServiceError<E> {
        ServiceError::Incompatible(incompatible)
    }
}

/// Where a server receives its requests: its process's inbox (callers call its pid), or a
/// mailbox its process has open (callers call the mailbox, and any of its receivers answers).
#[derive(Clone, Copy, Debug)]
pub enum RequestSource<'m> {
    /// The serving process's inbox.
    Inbox,
    /// This mailbox, opened by the serving process.
    Mailbox(&'m Mailbox),
}

impl<'m> From<&'m Mailbox> for RequestSource<'m> {
    fn from(mailbox: &'m Mailbox) -> RequestSource<'m> {
        RequestSource::Mailbox(mailbox)
    }
}

/// What the generated code calls; not a stable interface.
#[doc(hidden)]
pub mod __private {
    use super::*;

    /// How long a generated client call waits.
    #[derive(Clone, Copy, Debug)]
    pub enum Wait {
        /// Until the answer comes.
        Forever,
        /// At most this long, the send and the answer together.
        Timeout(Duration),
    }

    /// A server's answer to one request, ready to send.
    #[derive(Debug)]
    pub enum Answer {
        /// The returned value: the call returns it.
        Reply(Bytes),
        /// A failure: the call fails with these bytes.
        Fail(Bytes),
    }

    /// A request's payload: `method`, then `args` in postcard.
    pub fn encode_request<A: Serialize>(method: u64, args: &A) -> Result<Bytes, String> {
        let bytes = postcard::to_extend(args, method.to_le_bytes().to_vec());
        bytes.map(Bytes::from).map_err(|why| why.to_string())
    }

    /// A request's method identity and argument bytes; `None` if it is too short to hold one.
    pub fn split_request(payload: &[u8]) -> Option<(u64, &[u8])> {
        let (id, args) = payload.split_first_chunk::<8>()?;
        Some((u64::from_le_bytes(*id), args))
    }

    /// Decodes `method`'s arguments, all of `bytes`.
    pub fn decode_args<A: DeserializeOwned>(
        method: &str,
        bytes: &[u8],
    ) -> Result<A, IncompatibleService> {
        decode_all(bytes).map_err(|why| {
            IncompatibleService::new(IncompatibleKind::BadRequest, format!("{method}: {why}"))
        })
    }

    /// The server's answer to a request it does not understand.
    pub fn unknown(service: &str, payload: &[u8]) -> IncompatibleService {
        match split_request(payload) {
            Some((id, _)) => IncompatibleService::new(
                IncompatibleKind::UnknownMethod,
                format!("{service} has no method with identity {id:#018x}"),
            ),
            None => IncompatibleService::new(
                IncompatibleKind::BadRequest,
                format!(
                    "{service}: a request of {} bytes is too short to name a method (8 bytes)",
                    payload.len()
                ),
            ),
        }
    }

    /// The answer carrying a method's return value.
    pub fn answer_value<T: Serialize>(method: &str, value: &T) -> Answer {
        match postcard::to_allocvec(value) {
            Ok(bytes) => Answer::Reply(Bytes::from(bytes)),
            Err(why) => unencodable(method, why),
        }
    }

    /// The answer carrying a method's `Result`: a value, or an application failure.
    pub fn answer_result<T: Serialize, E: Serialize>(
        method: &str,
        result: &Result<T, E>,
    ) -> Answer {
        match result {
            Ok(value) => answer_value(method, value),
            Err(error) => match postcard::to_extend(error, vec![APPLICATION]) {
                Ok(bytes) => Answer::Fail(Bytes::from(bytes)),
                Err(why) => unencodable(method, why),
            },
        }
    }

    /// The answer of a server that did not understand the request.
    pub fn answer_incompatible(incompatible: &IncompatibleService) -> Answer {
        Answer::Fail(incompatible.to_failure())
    }

    fn unencodable(method: &str, why: postcard::Error) -> Answer {
        answer_incompatible(&IncompatibleService::new(
            IncompatibleKind::BadAnswer,
            format!("{method}: the server could not encode its answer: {why}"),
        ))
    }

    /// Sends `answer` to `request`'s caller.
    pub fn send_answer(
        process: &Process,
        request: &Received,
        answer: Answer,
    ) -> Result<(), ReplyError> {
        match answer {
            Answer::Reply(bytes) => process.reply(request, bytes),
            Answer::Fail(bytes) => process.fail(request, bytes),
        }
    }

    /// Decodes an answer to a call of `method`; `decode_error` decodes an application error
    /// (`None` if the method has none).
    pub fn decode_answer<T: DeserializeOwned, E>(
        method: &str,
        answer: Result<postbox_core::Message, CallError>,
        decode_error: fn(&[u8]) -> Result<E, String>,
    ) -> Result<T, ServiceError<E>> {
        let bad_answer = |why: String| {
            ServiceError::Incompatible(IncompatibleService::new(
                IncompatibleKind::BadAnswer,
                format!("{method}: {why}"),
            ))
        };
        match answer {
            Ok(message) => decode_all(&message.payload).map_err(bad_answer),
            Err(error) if error.kind() == CallErrorKind::Failed => {
                let failure = error.failure().map(Bytes::as_ref).unwrap_or_default();
                match failure.split_first() {
                    Some((&APPLICATION, rest)) => match decode_error(rest) {
                        Ok(error) => Err(ServiceError::Failed(error)),
                        Err(why) => Err(bad_answer(why)),
                    },
                    Some((&INCOMPATIBLE, rest)) => {
                        let (kind, detail) = rest.split_first().unwrap_or((&u8::MAX, &[]));
                        match IncompatibleKind::from_byte(*kind) {
                            Some(kind) => Err(ServiceError::Incompatible(
                                IncompatibleService::new(kind, String::from_utf8_lossy(detail)),
                            )),
                            None => Err(bad_answer(format!(
                                "unknown incompatibility {kind} in the server's failure"
                            ))),
                        }
                    }
                    _ => Err(bad_answer(format!(
                        "the callee failed the call with something no service sends: {:?}",
                        String::from_utf8_lossy(failure)
                    ))),
                }
            }
            Err(error) => Err(ServiceError::Call(error)),
        }
    }

    /// Decodes an application error (for methods returning `Result`).
    pub fn decode_error<E: DeserializeOwned>(bytes: &[u8]) -> Result<E, String> {
        decode_all(bytes)
    }

    /// For methods without an application error: a server never sends one.
    pub fn no_error(_: &[u8]) -> Result<Infallible, String> {
        Err("an application error from a method that returns no Result".to_owned())
    }

    /// Calls `callee` with `payload`, a request of `method`, and decodes the answer.
    pub fn call<T: DeserializeOwned, E>(
        process: &Process,
        callee: Callee,
        method: &str,
        payload: Result<Bytes, String>,
        wait: Wait,
        decode_error: fn(&[u8]) -> Result<E, String>,
    ) -> Result<T, ServiceError<E>> {
        let payload = payload.map_err(ServiceError::Encode)?;
        let answer = match wait {
            Wait::Forever => process.call(callee, payload),
            Wait::Timeout(timeout) => process.call_timeout(callee, payload, timeout),
        };
        decode_answer(method, answer, decode_error)
    }

    /// As [`call`], as a future.
    pub async fn call_async<T: DeserializeOwned, E>(
        process: &Process,
        callee: Callee,
        method: &str,
        payload: Result<Bytes, String>,
        decode_error: fn(&[u8]) -> Result<E, String>,
    ) -> Result<T, ServiceError<E>> {
        let payload = payload.map_err(ServiceError::Encode)?;
        let answer = process.call_async(callee, payload).await;
        decode_answer(method, answer, decode_error)
    }

    /// Receives from `source` and hands each request to `handle` until receiving fails, which
    /// it returns. Messages that are not requests, and answers the caller no longer waits for,
    /// are passed over.
    pub fn serve(
        process: &Process,
        source: RequestSource<'_>,
        mut handle: impl FnMut(&Received) -> Result<(), ReplyError>,
    ) -> RecvError {
        loop {
            let received = match source {
                RequestSource::Inbox => process.recv_any(),
                RequestSource::Mailbox(mailbox) => mailbox.recv(),
            };
            let received = match received {
                Ok(received) => received,
                Err(error) => return error,
            };
            if received.call().is_none() {
                continue;
            }
            match handle(&received) {
                Ok(()) | Err(ReplyError::Revoked | ReplyError::NoRight) => {}
                Err(ReplyError::Disconnected) => return RecvError::Disconnected,
                Err(ReplyError::Protocol) => return RecvError::Protocol,
                // The answer is too large or badly typed: say so rather than leave the caller
                // waiting.
                Err(ReplyError::TooLarge | ReplyError::InvalidType) => {
                    let too_large = IncompatibleService::new(
                        IncompatibleKind::BadAnswer,
                        "the server's answer is larger than the node allows",
                    );
                    let _ = process.fail(&received, too_large.to_failure());
                }
            }
        }
    }

    /// Decodes all of `bytes` as a `T`, trailing bytes being an error.
    fn decode_all<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
        match postcard::take_from_bytes(bytes) {
            Ok((value, [])) => Ok(value),
            Ok((_, rest)) => Err(format!("{} bytes left over after decoding", rest.len())),
            Err(why) => Err(why.to_string()),
        }
    }
}
