//! The versioned handshake that opens every connection, as two sans-IO state machines.
//!
//! The client sends `Hello`; the server answers `Welcome` (or an `Error`, then closes). Neither
//! machine touches a socket: the driver hands each decoded frame to `handle_frame` and writes
//! out whatever `poll_transmit` returns, encoded under [`FrameConfig::HANDSHAKE`]. When the
//! handshake succeeds, both sides switch their codec to [`Negotiated::frame_config`] for every later
//! frame. When it fails, the driver still sends what `poll_transmit` returns (an `Error` frame
//! telling the peer why, when the peer is at fault), then closes the connection.
//!
//! The server decides who may connect: [`ServerHandshake::handle_frame`] checks the `Hello`
//! (token, versions, limits) and returns an [`Admission`]; the driver then registers the process
//! and calls [`ServerHandshake::accept`] with its pid, or refuses with
//! [`ServerHandshake::reject`] (too many connections, shutting down).

use std::collections::VecDeque;

use crate::{
    Capabilities, DEFAULT_MAX_FRAME_LEN, ErrorBody, ErrorCode, Frame, FrameConfig, FrameKind,
    HANDSHAKE_MAX_FRAME_LEN, HandshakeError, Hello, MAX_OFFERED_VERSIONS, SUPPORTED_VERSIONS,
    Token, Version, Welcome,
};

/// What a successful handshake established; the parameters of the rest of the connection.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Negotiated {
    /// The version of every frame from now on.
    pub version: Version,
    /// The largest payload either side may send from now on.
    pub max_frame_len: u32,
    /// The pid the server assigned to the client's process.
    pub pid: u64,
    /// The optional features in force: offered by the client and granted by the server.
    pub capabilities: Capabilities,
}

impl Negotiated {
    /// The codec configuration for every frame after the handshake.
    pub fn frame_config(&self) -> FrameConfig {
        FrameConfig {
            version: self.version,
            max_frame_len: self.max_frame_len,
        }
    }
}

/// Checks the version list and frame limit both configurations share.
fn checked_versions(versions: &[Version]) -> Vec<Version> {
    assert!(
        !versions.is_empty() && versions.len() <= MAX_OFFERED_VERSIONS,
        "a handshake needs 1 to {MAX_OFFERED_VERSIONS} versions, not {}",
        versions.len()
    );
    versions.to_vec()
}

fn checked_max_frame_len(max_frame_len: u32) -> u32 {
    assert!(
        max_frame_len >= HANDSHAKE_MAX_FRAME_LEN,
        "the frame limit must be at least {HANDSHAKE_MAX_FRAME_LEN}, not {max_frame_len}"
    );
    max_frame_len
}

/// What a client offers: by default every version this crate speaks, a 1 MiB frame limit and no
/// token.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClientConfig {
    versions: Vec<Version>,
    max_frame_len: u32,
    token: Option<Token>,
    capabilities: Capabilities,
}

impl ClientConfig {
    /// The default offer.
    pub fn new() -> ClientConfig {
        ClientConfig {
            versions: SUPPORTED_VERSIONS.to_vec(),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            token: None,
            capabilities: Capabilities::NONE,
        }
    }

    /// Offers `versions` instead (the server picks the highest it also speaks).
    ///
    /// # Panics
    ///
    /// If `versions` is empty or longer than [`MAX_OFFERED_VERSIONS`].
    pub fn with_versions(mut self, versions: &[Version]) -> ClientConfig {
        self.versions = checked_versions(versions);
        self
    }

    /// Offers to accept payloads up to `max_frame_len` bytes (the smaller offer wins).
    ///
    /// # Panics
    ///
    /// If `max_frame_len` is below [`HANDSHAKE_MAX_FRAME_LEN`], too small for the protocol's own
    /// frames.
    pub fn with_max_frame_len(mut self, max_frame_len: u32) -> ClientConfig {
        self.max_frame_len = checked_max_frame_len(max_frame_len);
        self
    }

    /// Presents `token`, for a server that requires one.
    pub fn with_token(mut self, token: Token) -> ClientConfig {
        self.token = Some(token);
        self
    }

    /// Offers `capabilities` (none by default): only what the client's transport can carry.
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> ClientConfig {
        self.capabilities = capabilities;
        self
    }
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig::new()
    }
}

/// Who a server lets in. An enum rather than an `Option<Token>` so that the choice reads at the
/// call site.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Auth {
    /// Anyone who can reach the socket (a Unix socket, guarded by file permissions). A token sent
    /// anyway is ignored.
    Open,
    /// Only clients presenting this token (compared in constant time).
    Token(Token),
}

/// What a server accepts: by default every version this crate speaks, a 1 MiB frame limit and
/// [`Auth::Open`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ServerConfig {
    versions: Vec<Version>,
    max_frame_len: u32,
    auth: Auth,
    capabilities: Capabilities,
}

impl ServerConfig {
    /// The default configuration.
    pub fn new() -> ServerConfig {
        ServerConfig {
            versions: SUPPORTED_VERSIONS.to_vec(),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            auth: Auth::Open,
            capabilities: Capabilities::NONE,
        }
    }

    /// Speaks `versions` instead.
    ///
    /// # Panics
    ///
    /// If `versions` is empty or longer than [`MAX_OFFERED_VERSIONS`].
    pub fn with_versions(mut self, versions: &[Version]) -> ServerConfig {
        self.versions = checked_versions(versions);
        self
    }

    /// Accepts payloads up to `max_frame_len` bytes (the smaller offer wins).
    ///
    /// # Panics
    ///
    /// If `max_frame_len` is below [`HANDSHAKE_MAX_FRAME_LEN`].
    pub fn with_max_frame_len(mut self, max_frame_len: u32) -> ServerConfig {
        self.max_frame_len = checked_max_frame_len(max_frame_len);
        self
    }

    /// Lets in whom `auth` says.
    pub fn with_auth(mut self, auth: Auth) -> ServerConfig {
        self.auth = auth;
        self
    }

    /// Grants `capabilities` (none by default) to clients that offer them: only what this
    /// listener's transport can carry.
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> ServerConfig {
        self.capabilities = capabilities;
        self
    }
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig::new()
    }
}

/// The queued `Error` frame telling the peer why the handshake failed, and the error itself.
fn fail(transmit: &mut VecDeque<Frame>, code: ErrorCode, error: HandshakeError) -> HandshakeError {
    transmit.push_back(ErrorBody::new(code, error.to_string()).to_frame(None));
    error
}

/// What ends a handshake whatever the side: the peer's `Error` or `Close`, or a kind this side
/// does not expect.
fn unexpected(transmit: &mut VecDeque<Frame>, frame: Frame) -> HandshakeError {
    match frame.kind() {
        FrameKind::Error => match ErrorBody::decode(frame.payload()) {
            Ok(body) => HandshakeError::PeerError(body),
            // Even a peer's error must be well-formed; tell it so, as for any other garbage.
            Err(source) => fail(
                transmit,
                ErrorCode::MALFORMED_PAYLOAD,
                HandshakeError::MalformedPayload {
                    kind: FrameKind::Error,
                    source,
                },
            ),
        },
        FrameKind::Close => HandshakeError::Closed,
        kind => fail(
            transmit,
            ErrorCode::PROTOCOL_VIOLATION,
            HandshakeError::UnexpectedFrame { kind },
        ),
    }
}

/// The client's side of the handshake: sends `Hello`, waits for `Welcome`.
///
/// ```
/// use postbox_wire::{Capabilities, ClientConfig, ClientHandshake, FrameKind, Version, Welcome};
///
/// let mut client = ClientHandshake::new(ClientConfig::new());
/// assert_eq!(client.poll_transmit().unwrap().kind(), FrameKind::Hello);
/// assert_eq!(client.poll_transmit(), None);
///
/// let welcome = Welcome {
///     version: Version::V1,
///     max_frame_len: 65536,
///     pid: 12,
///     capabilities: Capabilities::NONE,
/// };
/// let session = client.handle_frame(welcome.to_frame()).unwrap();
/// assert_eq!((session.pid, session.max_frame_len), (12, 65536));
/// ```
#[derive(Debug)]
pub struct ClientHandshake {
    hello: Hello,
    finished: bool,
    transmit: VecDeque<Frame>,
}

impl ClientHandshake {
    /// Starts a handshake offering what `config` says; the `Hello` is ready to transmit.
    pub fn new(config: ClientConfig) -> ClientHandshake {
        let hello = Hello::new(&config.versions, config.max_frame_len, config.token)
            .with_capabilities(config.capabilities);
        let transmit = VecDeque::from([hello.to_frame()]);
        ClientHandshake {
            hello,
            finished: false,
            transmit,
        }
    }

    /// The next frame to send, if any: the `Hello`, or an `Error` after a failure.
    pub fn poll_transmit(&mut self) -> Option<Frame> {
        self.transmit.pop_front()
    }

    /// Handles the server's answer. Any answer ends the handshake, in success or failure.
    ///
    /// # Errors
    ///
    /// - [`HandshakeError::PeerError`]: the server refused (the body says why: a wrong token,
    ///   no common version, a limit).
    /// - [`HandshakeError::BadNegotiation`] and [`HandshakeError::FrameLimitTooSmall`]: the
    ///   `Welcome` names a version or limit the client did not offer.
    /// - [`HandshakeError::MalformedPayload`], [`HandshakeError::UnexpectedFrame`],
    ///   [`HandshakeError::Closed`]: the server broke the protocol or went away.
    /// - [`HandshakeError::Finished`]: the handshake had already ended.
    pub fn handle_frame(&mut self, frame: Frame) -> Result<Negotiated, HandshakeError> {
        if self.finished {
            return Err(HandshakeError::Finished);
        }
        self.finished = true;
        if frame.kind() != FrameKind::Welcome {
            return Err(unexpected(&mut self.transmit, frame));
        }
        let welcome = Welcome::decode(frame.payload()).map_err(|source| {
            fail(
                &mut self.transmit,
                ErrorCode::MALFORMED_PAYLOAD,
                HandshakeError::MalformedPayload {
                    kind: FrameKind::Welcome,
                    source,
                },
            )
        })?;
        if welcome.max_frame_len < HANDSHAKE_MAX_FRAME_LEN {
            return Err(fail(
                &mut self.transmit,
                ErrorCode::PROTOCOL_VIOLATION,
                HandshakeError::FrameLimitTooSmall {
                    offered: welcome.max_frame_len,
                    min: HANDSHAKE_MAX_FRAME_LEN,
                },
            ));
        }
        if !self.hello.versions().contains(&welcome.version)
            || welcome.max_frame_len > self.hello.max_frame_len()
        {
            return Err(fail(
                &mut self.transmit,
                ErrorCode::PROTOCOL_VIOLATION,
                HandshakeError::BadNegotiation {
                    version: welcome.version,
                    max_frame_len: welcome.max_frame_len,
                },
            ));
        }
        Ok(Negotiated {
            version: welcome.version,
            max_frame_len: welcome.max_frame_len,
            pid: welcome.pid,
            // A bit granted but never offered is ignored: the client could not use it.
            capabilities: welcome.capabilities.intersection(self.hello.capabilities()),
        })
    }
}

/// An acceptable `Hello`, awaiting the driver's decision: [`ServerHandshake::accept`] or
/// [`ServerHandshake::reject`] consumes it.
#[derive(PartialEq, Eq, Debug)]
#[must_use = "the client waits until the admission is accepted or rejected"]
pub struct Admission {
    hello: Hello,
    version: Version,
    max_frame_len: u32,
    capabilities: Capabilities,
}

impl Admission {
    /// The client's `Hello`, for logging or further checks.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// The version chosen: the highest both sides speak.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The frame limit chosen: the smaller of the two offers.
    pub fn max_frame_len(&self) -> u32 {
        self.max_frame_len
    }

    /// The optional features granted: those offered that the server supports.
    pub fn capabilities(&self) -> Capabilities {
        self.capabilities
    }
}

/// Where a server's handshake stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ServerState {
    AwaitingHello,
    /// An [`Admission`] is out; the driver has not decided yet.
    Deciding,
    Finished,
}

/// The server's side of the handshake: checks the `Hello`, lets the driver assign a pid, answers
/// `Welcome`.
///
/// ```
/// use postbox_wire::*;
///
/// let token = Token::new("s3cret").unwrap();
/// let mut server = ServerHandshake::new(ServerConfig::new().with_auth(Auth::Token(token.clone())));
///
/// // The right token: admitted, then welcomed with a pid.
/// let hello = Hello::new(&[Version::V1], 65536, Some(token));
/// let admission = server.handle_frame(hello.to_frame()).unwrap();
/// let session = server.accept(admission, 7).unwrap();
/// let welcome = server.poll_transmit().unwrap();
/// assert_eq!(Welcome::decode(welcome.payload()).unwrap().pid, session.pid);
///
/// // A wrong token: refused, and the client is told why.
/// let mut server = ServerHandshake::new(
///     ServerConfig::new().with_auth(Auth::Token(Token::new("s3cret").unwrap())),
/// );
/// let hello = Hello::new(&[Version::V1], 65536, Some(Token::new("guess").unwrap()));
/// assert_eq!(server.handle_frame(hello.to_frame()).unwrap_err(), HandshakeError::Unauthorized);
/// let error = server.poll_transmit().unwrap();
/// assert_eq!(ErrorBody::decode(error.payload()).unwrap().code(), ErrorCode::UNAUTHORIZED);
/// ```
#[derive(Debug)]
pub struct ServerHandshake {
    config: ServerConfig,
    state: ServerState,
    transmit: VecDeque<Frame>,
}

impl ServerHandshake {
    /// Starts a handshake, waiting for the client's `Hello`.
    pub fn new(config: ServerConfig) -> ServerHandshake {
        ServerHandshake {
            config,
            state: ServerState::AwaitingHello,
            transmit: VecDeque::new(),
        }
    }

    /// The next frame to send, if any: the `Welcome` after [`accept`](Self::accept), or an
    /// `Error` after a refusal.
    pub fn poll_transmit(&mut self) -> Option<Frame> {
        self.transmit.pop_front()
    }

    /// Handles a frame from the client. The first must be an acceptable `Hello`; no frame may
    /// follow it before the `Welcome`.
    ///
    /// # Errors
    ///
    /// Each ends the handshake; all but the last three queue an `Error` frame for the client.
    ///
    /// - [`HandshakeError::Unauthorized`]: the server requires a token and this one is missing or
    ///   wrong. Checked first, so an unauthenticated client learns nothing else.
    /// - [`HandshakeError::FrameLimitTooSmall`]: the client's limit is below
    ///   [`HANDSHAKE_MAX_FRAME_LEN`].
    /// - [`HandshakeError::NoCommonVersion`]: the client speaks none of the server's versions.
    /// - [`HandshakeError::MalformedPayload`], [`HandshakeError::UnexpectedFrame`]: the client
    ///   broke the protocol (including a frame sent before the `Welcome`).
    /// - [`HandshakeError::PeerError`], [`HandshakeError::Closed`]: the client gave up.
    /// - [`HandshakeError::Finished`]: the handshake had already ended.
    pub fn handle_frame(&mut self, frame: Frame) -> Result<Admission, HandshakeError> {
        let state = std::mem::replace(&mut self.state, ServerState::Finished);
        if state == ServerState::Finished {
            return Err(HandshakeError::Finished);
        }
        if state == ServerState::Deciding || frame.kind() != FrameKind::Hello {
            return Err(unexpected(&mut self.transmit, frame));
        }
        let hello = Hello::decode(frame.payload()).map_err(|source| {
            fail(
                &mut self.transmit,
                ErrorCode::MALFORMED_PAYLOAD,
                HandshakeError::MalformedPayload {
                    kind: FrameKind::Hello,
                    source,
                },
            )
        })?;
        if let Auth::Token(expected) = &self.config.auth {
            if !hello.token().is_some_and(|token| token.ct_eq(expected)) {
                return Err(fail(
                    &mut self.transmit,
                    ErrorCode::UNAUTHORIZED,
                    HandshakeError::Unauthorized,
                ));
            }
        }
        if hello.max_frame_len() < HANDSHAKE_MAX_FRAME_LEN {
            return Err(fail(
                &mut self.transmit,
                ErrorCode::PROTOCOL_VIOLATION,
                HandshakeError::FrameLimitTooSmall {
                    offered: hello.max_frame_len(),
                    min: HANDSHAKE_MAX_FRAME_LEN,
                },
            ));
        }
        let common = self
            .config
            .versions
            .iter()
            .filter(|version| hello.versions().contains(version))
            .max()
            .copied();
        let Some(version) = common else {
            let spoken: Vec<String> = self.config.versions.iter().map(|v| v.to_string()).collect();
            self.transmit.push_back(
                ErrorBody::new(
                    ErrorCode::UNSUPPORTED_VERSION,
                    format!(
                        "no protocol version in common; the server speaks {}",
                        spoken.join(", ")
                    ),
                )
                .to_frame(None),
            );
            return Err(HandshakeError::NoCommonVersion);
        };
        let max_frame_len = hello.max_frame_len().min(self.config.max_frame_len);
        let capabilities = hello.capabilities().intersection(self.config.capabilities);
        self.state = ServerState::Deciding;
        Ok(Admission {
            hello,
            version,
            max_frame_len,
            capabilities,
        })
    }

    /// Lets the client in as process `pid`: queues the `Welcome` and returns the session.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::Finished`] if the handshake ended while the decision was pending (the
    /// driver handed over another frame, which failed it); no `Welcome` is sent.
    pub fn accept(&mut self, admission: Admission, pid: u64) -> Result<Negotiated, HandshakeError> {
        if self.state != ServerState::Deciding {
            return Err(HandshakeError::Finished);
        }
        self.state = ServerState::Finished;
        let welcome = Welcome {
            version: admission.version,
            max_frame_len: admission.max_frame_len,
            pid,
            capabilities: admission.capabilities,
        };
        self.transmit.push_back(welcome.to_frame());
        Ok(Negotiated {
            version: welcome.version,
            max_frame_len: welcome.max_frame_len,
            pid,
            capabilities: welcome.capabilities,
        })
    }

    /// Turns the client away with `error` (for example [`ErrorCode::LIMIT_EXCEEDED`] or
    /// [`ErrorCode::SHUTTING_DOWN`]): queues the `Error` frame, after which the driver closes.
    /// Does nothing if the handshake already ended.
    pub fn reject(&mut self, admission: Admission, error: ErrorBody) {
        let _ = admission;
        if self.state == ServerState::Deciding {
            self.state = ServerState::Finished;
            self.transmit.push_back(error.to_frame(None));
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::{PayloadError, RequestId};

    fn v(raw: u8) -> Version {
        Version::new(raw).unwrap()
    }

    fn error_code(frame: Option<Frame>) -> ErrorCode {
        let frame = frame.expect("an Error frame is queued");
        assert_eq!(frame.kind(), FrameKind::Error);
        assert_eq!(frame.request_id(), None);
        ErrorBody::decode(frame.payload()).unwrap().code()
    }

    /// Runs both machines against each other, frames passed directly.
    fn connect(
        client: ClientConfig,
        server: ServerConfig,
        pid: u64,
    ) -> (
        Result<Negotiated, HandshakeError>,
        Result<Negotiated, HandshakeError>,
    ) {
        let mut client = ClientHandshake::new(client);
        let mut server = ServerHandshake::new(server);
        let hello = client.poll_transmit().unwrap();
        let server_side = server
            .handle_frame(hello)
            .and_then(|admission| server.accept(admission, pid));
        let answer = server.poll_transmit().unwrap();
        assert_eq!(server.poll_transmit(), None);
        let client_side = client.handle_frame(answer);
        (client_side, server_side)
    }

    #[test]
    fn capabilities_in_force_are_those_offered_and_granted() {
        let offer = ClientConfig::new().with_capabilities(Capabilities::ATTACHMENTS);
        let grant = ServerConfig::new().with_capabilities(Capabilities::ATTACHMENTS);
        for (client, server, expected) in [
            (offer.clone(), grant.clone(), Capabilities::ATTACHMENTS),
            (ClientConfig::new(), grant.clone(), Capabilities::NONE),
            (offer.clone(), ServerConfig::new(), Capabilities::NONE),
        ] {
            let (client_side, server_side) = connect(client, server, 5);
            assert_eq!(client_side.unwrap().capabilities, expected);
            assert_eq!(server_side.unwrap().capabilities, expected);
        }
        // A server granting what was not offered does not make it so.
        let mut client = ClientHandshake::new(ClientConfig::new());
        let _hello = client.poll_transmit();
        let welcome = Welcome {
            version: Version::V1,
            max_frame_len: 8192,
            pid: 1,
            capabilities: Capabilities::ATTACHMENTS,
        };
        let negotiated = client.handle_frame(welcome.to_frame()).unwrap();
        assert_eq!(negotiated.capabilities, Capabilities::NONE);
    }

    #[test]
    fn smoke() {
        let (client, server) = connect(ClientConfig::new(), ServerConfig::new(), 42);
        let expected = Negotiated {
            version: Version::V1,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            pid: 42,
            capabilities: Capabilities::NONE,
        };
        assert_eq!(client, Ok(expected));
        assert_eq!(server, Ok(expected));
        assert_eq!(
            expected.frame_config(),
            FrameConfig {
                version: Version::V1,
                max_frame_len: DEFAULT_MAX_FRAME_LEN
            }
        );
    }

    #[test]
    fn the_highest_common_version_and_the_smaller_limit_win() {
        let client = ClientConfig::new()
            .with_versions(&[v(3), v(1), v(2)])
            .with_max_frame_len(10_000);
        let server = ServerConfig::new()
            .with_versions(&[v(1), v(2), v(4)])
            .with_max_frame_len(20_000);
        let (client, server) = connect(client, server, 1);
        let session = client.unwrap();
        assert_eq!((session.version, session.max_frame_len), (v(2), 10_000));
        assert_eq!(server.unwrap(), session);

        let client = ClientConfig::new().with_max_frame_len(1 << 30);
        let server = ServerConfig::new().with_max_frame_len(8192);
        assert_eq!(connect(client, server, 1).0.unwrap().max_frame_len, 8192);
    }

    #[test]
    fn no_common_version_is_refused_and_the_client_learns_why() {
        let client = ClientConfig::new().with_versions(&[v(2)]);
        let (client, server) = connect(client, ServerConfig::new(), 1);
        assert_eq!(server, Err(HandshakeError::NoCommonVersion));
        let Err(HandshakeError::PeerError(body)) = client else {
            panic!("{client:?}")
        };
        assert_eq!(body.code(), ErrorCode::UNSUPPORTED_VERSION);
        assert!(body.message().contains("speaks 1"), "{body}");
    }

    #[test]
    fn a_server_with_a_token_admits_only_that_token() {
        let token = Token::new("s3cret").unwrap();
        let server = ServerConfig::new().with_auth(Auth::Token(token.clone()));
        let cases = [
            (None, false),
            (Some(Token::new("s3creT").unwrap()), false),
            (Some(token), true),
        ];
        for (presented, admitted) in cases {
            let mut client = ClientConfig::new();
            if let Some(presented) = presented {
                client = client.with_token(presented);
            }
            let (client, server) = connect(client, server.clone(), 5);
            assert_eq!(server.is_ok(), admitted);
            if !admitted {
                assert_eq!(server, Err(HandshakeError::Unauthorized));
                let Err(HandshakeError::PeerError(body)) = client else {
                    panic!("{client:?}")
                };
                assert_eq!(body.code(), ErrorCode::UNAUTHORIZED);
            }
        }
    }

    #[test]
    fn an_open_server_ignores_a_token() {
        let client = ClientConfig::new().with_token(Token::new("unneeded").unwrap());
        let (client, server) = connect(client, ServerConfig::new(), 5);
        assert!(client.is_ok() && server.is_ok());
    }

    #[test]
    fn the_driver_can_turn_an_acceptable_client_away() {
        let mut server = ServerHandshake::new(ServerConfig::new());
        let hello = ClientHandshake::new(ClientConfig::new())
            .poll_transmit()
            .unwrap();
        let admission = server.handle_frame(hello).unwrap();
        assert_eq!(admission.version(), Version::V1);
        assert_eq!(admission.hello().versions(), SUPPORTED_VERSIONS);
        server.reject(
            admission,
            ErrorBody::new(ErrorCode::LIMIT_EXCEEDED, "too many connections"),
        );
        assert_eq!(
            error_code(server.poll_transmit()),
            ErrorCode::LIMIT_EXCEEDED
        );
        assert_eq!(server.poll_transmit(), None);
        assert_eq!(
            server.handle_frame(Frame::close()),
            Err(HandshakeError::Finished)
        );
    }

    #[test]
    fn a_server_refuses_anything_but_a_hello_first() {
        let id = RequestId::new(1).unwrap();
        for frame in [Frame::request(id, "early"), Frame::cancel(id)] {
            let mut server = ServerHandshake::new(ServerConfig::new());
            let kind = frame.kind();
            assert_eq!(
                server.handle_frame(frame),
                Err(HandshakeError::UnexpectedFrame { kind })
            );
            assert_eq!(
                error_code(server.poll_transmit()),
                ErrorCode::PROTOCOL_VIOLATION
            );
        }
    }

    #[test]
    fn a_frame_before_the_welcome_fails_the_pending_admission() {
        let mut server = ServerHandshake::new(ServerConfig::new());
        let hello = Hello::new(&[Version::V1], 8192, None).to_frame();
        let admission = server.handle_frame(hello.clone()).unwrap();
        assert_eq!(
            server.handle_frame(hello),
            Err(HandshakeError::UnexpectedFrame {
                kind: FrameKind::Hello
            })
        );
        assert_eq!(
            error_code(server.poll_transmit()),
            ErrorCode::PROTOCOL_VIOLATION
        );
        assert_eq!(server.accept(admission, 1), Err(HandshakeError::Finished));
        assert_eq!(server.poll_transmit(), None);
    }

    #[test]
    fn a_server_refuses_malformed_hellos_and_tiny_limits() {
        let mut server = ServerHandshake::new(ServerConfig::new());
        let garbage = Frame::new(FrameKind::Hello, 0, Bytes::from_static(&[0])).unwrap();
        assert_eq!(
            server.handle_frame(garbage),
            Err(HandshakeError::MalformedPayload {
                kind: FrameKind::Hello,
                source: PayloadError::NoVersions
            })
        );
        assert_eq!(
            error_code(server.poll_transmit()),
            ErrorCode::MALFORMED_PAYLOAD
        );

        let mut server = ServerHandshake::new(ServerConfig::new());
        let tiny = Hello::new(&[Version::V1], 100, None).to_frame();
        assert_eq!(
            server.handle_frame(tiny),
            Err(HandshakeError::FrameLimitTooSmall {
                offered: 100,
                min: HANDSHAKE_MAX_FRAME_LEN
            })
        );
        assert_eq!(
            error_code(server.poll_transmit()),
            ErrorCode::PROTOCOL_VIOLATION
        );
    }

    #[test]
    fn a_peer_that_gives_up_is_not_answered() {
        let mut server = ServerHandshake::new(ServerConfig::new());
        assert_eq!(
            server.handle_frame(Frame::close()),
            Err(HandshakeError::Closed)
        );
        assert_eq!(server.poll_transmit(), None);

        let mut client = ClientHandshake::new(ClientConfig::new());
        let _hello = client.poll_transmit();
        let body = ErrorBody::new(ErrorCode::SHUTTING_DOWN, "bye");
        assert_eq!(
            client.handle_frame(body.to_frame(None)),
            Err(HandshakeError::PeerError(body))
        );
        assert_eq!(client.poll_transmit(), None);
    }

    #[test]
    fn a_client_refuses_a_welcome_it_did_not_negotiate() {
        let cases = [
            (
                v(2),
                8192,
                HandshakeError::BadNegotiation {
                    version: v(2),
                    max_frame_len: 8192,
                },
            ),
            (
                v(1),
                1 << 21,
                HandshakeError::BadNegotiation {
                    version: v(1),
                    max_frame_len: 1 << 21,
                },
            ),
            (
                v(1),
                512,
                HandshakeError::FrameLimitTooSmall {
                    offered: 512,
                    min: HANDSHAKE_MAX_FRAME_LEN,
                },
            ),
        ];
        for (version, max_frame_len, expected) in cases {
            let mut client = ClientHandshake::new(ClientConfig::new());
            let _hello = client.poll_transmit();
            let welcome = Welcome {
                version,
                max_frame_len,
                pid: 1,
                capabilities: Capabilities::NONE,
            };
            assert_eq!(client.handle_frame(welcome.to_frame()), Err(expected));
            assert_eq!(
                error_code(client.poll_transmit()),
                ErrorCode::PROTOCOL_VIOLATION
            );
            assert_eq!(
                client.handle_frame(welcome.to_frame()),
                Err(HandshakeError::Finished)
            );
        }
    }

    #[test]
    fn a_client_refuses_anything_but_a_welcome() {
        let mut client = ClientHandshake::new(ClientConfig::new());
        let hello = client.poll_transmit().unwrap();
        assert_eq!(
            client.handle_frame(hello),
            Err(HandshakeError::UnexpectedFrame {
                kind: FrameKind::Hello
            })
        );
        assert_eq!(
            error_code(client.poll_transmit()),
            ErrorCode::PROTOCOL_VIOLATION
        );

        let mut client = ClientHandshake::new(ClientConfig::new());
        let _hello = client.poll_transmit();
        let short = Frame::new(FrameKind::Welcome, 0, Bytes::from_static(&[1, 0])).unwrap();
        assert!(matches!(
            client.handle_frame(short),
            Err(HandshakeError::MalformedPayload {
                kind: FrameKind::Welcome,
                ..
            })
        ));
        assert_eq!(
            error_code(client.poll_transmit()),
            ErrorCode::MALFORMED_PAYLOAD
        );
    }

    #[test]
    #[should_panic(expected = "the frame limit must be at least 4096")]
    fn configuring_a_limit_below_the_handshake_minimum_is_a_caller_bug() {
        let _ = ClientConfig::new().with_max_frame_len(4095);
    }
}
