//! The handshake through the real codec, as a driver runs it, and against arbitrary frames.

use bytes::BytesMut;
use postbox_wire::{
    Auth, ClientConfig, ClientHandshake, DecodeError, ErrorBody, ErrorCode, Frame, FrameDecoder,
    FrameEncoder, FrameKind, HandshakeError, RequestId, ServerConfig, ServerHandshake, Token,
    Version,
};
use proptest::prelude::*;
use proptest::sample::select;

/// One end of a connection: its codec and the bytes it has received.
#[derive(Default)]
struct End {
    decoder: FrameDecoder,
    encoder: FrameEncoder,
    inbox: BytesMut,
}

impl End {
    fn send(&self, frame: &Frame, to: &mut End) {
        self.encoder.encode(frame, &mut to.inbox).unwrap();
    }

    fn receive(&mut self) -> Result<Option<Frame>, DecodeError> {
        self.decoder.decode(&mut self.inbox)
    }
}

#[test]
fn a_driver_connects_and_switches_to_the_negotiated_limit() {
    let (mut client_end, mut server_end) = (End::default(), End::default());
    let mut client = ClientHandshake::new(ClientConfig::new().with_max_frame_len(100_000));
    let mut server = ServerHandshake::new(ServerConfig::new());
    while let Some(frame) = client.poll_transmit() {
        client_end.send(&frame, &mut server_end);
    }
    let hello = server_end.receive().unwrap().unwrap();
    let admission = server.handle_frame(hello).unwrap();
    let server_session = server.accept(admission, 99).unwrap();
    while let Some(frame) = server.poll_transmit() {
        server_end.send(&frame, &mut client_end);
    }
    server_end.decoder.set_config(server_session.frame_config());
    server_end.encoder.set_config(server_session.frame_config());
    let welcome = client_end.receive().unwrap().unwrap();
    let session = client.handle_frame(welcome).unwrap();
    client_end.decoder.set_config(session.frame_config());
    client_end.encoder.set_config(session.frame_config());
    assert_eq!(session, server_session);
    assert_eq!((session.pid, session.max_frame_len), (99, 100_000));

    // A frame over the handshake limit but within the negotiated one now passes both ways.
    let id = RequestId::new(1).unwrap();
    let big = Frame::request(id, vec![7u8; 50_000]);
    client_end.send(&big, &mut server_end);
    assert_eq!(server_end.receive(), Ok(Some(big)));
    let reply = Frame::response(id, vec![8u8; 100_000]);
    server_end.send(&reply, &mut client_end);
    assert_eq!(client_end.receive(), Ok(Some(reply)));
}

#[test]
fn a_refused_client_receives_the_reason_before_the_connection_closes() {
    let (mut client_end, mut server_end) = (End::default(), End::default());
    let secret = Token::new("s3cret").unwrap();
    let mut client = ClientHandshake::new(ClientConfig::new());
    let mut server = ServerHandshake::new(ServerConfig::new().with_auth(Auth::Token(secret)));
    client_end.send(&client.poll_transmit().unwrap(), &mut server_end);
    let hello = server_end.receive().unwrap().unwrap();
    assert_eq!(
        server.handle_frame(hello),
        Err(HandshakeError::Unauthorized)
    );
    while let Some(frame) = server.poll_transmit() {
        server_end.send(&frame, &mut client_end);
    }
    let refusal = client_end.receive().unwrap().unwrap();
    let Err(HandshakeError::PeerError(body)) = client.handle_frame(refusal) else {
        panic!("the client should be refused")
    };
    assert_eq!(body.code(), ErrorCode::UNAUTHORIZED);
}

/// A client offering only versions the server does not speak still reads the refusal: handshake frames
/// always travel as version 1.
#[test]
fn a_client_from_the_future_is_told_which_versions_the_server_speaks() {
    let (mut client_end, mut server_end) = (End::default(), End::default());
    let v9 = Version::new(9).unwrap();
    let mut client = ClientHandshake::new(ClientConfig::new().with_versions(&[v9]));
    let mut server = ServerHandshake::new(ServerConfig::new());
    client_end.send(&client.poll_transmit().unwrap(), &mut server_end);
    let hello = server_end.receive().unwrap().unwrap();
    assert_eq!(
        server.handle_frame(hello),
        Err(HandshakeError::NoCommonVersion)
    );
    server_end.send(&server.poll_transmit().unwrap(), &mut client_end);
    let refusal = client_end.receive().unwrap().unwrap();
    let Err(HandshakeError::PeerError(body)) = client.handle_frame(refusal) else {
        panic!("the client should be refused")
    };
    assert_eq!(body.code(), ErrorCode::UNSUPPORTED_VERSION);
}

/// Any frame: every kind, with a payload that is random, or a valid handshake payload.
fn any_frame() -> impl Strategy<Value = Frame> {
    let payload = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        (any::<u8>(), any::<u32>(), any::<u64>()).prop_map(|(version, max, pid)| {
            let mut bytes = vec![version];
            bytes.extend_from_slice(&max.to_le_bytes());
            bytes.extend_from_slice(&pid.to_le_bytes());
            bytes
        }),
        (1u8..4, any::<u32>(), 0u16..4).prop_map(|(version, max, token_len)| {
            let mut bytes = vec![1, version];
            bytes.extend_from_slice(&max.to_le_bytes());
            bytes.extend_from_slice(&token_len.to_le_bytes());
            bytes.extend(std::iter::repeat_n(b't', usize::from(token_len)));
            bytes
        }),
    ];
    (select(FrameKind::ALL.to_vec()), payload, any::<bool>()).prop_map(|(kind, payload, zero)| {
        let id = if zero { 0 } else { 1 };
        Frame::new(kind, id, payload.clone())
            .or_else(|_| Frame::new(kind, 1 - id, payload))
            .unwrap()
    })
}

proptest! {
    /// Whatever a peer sends, the handshakes never panic, end at the first answer, and when they
    /// fail because of the peer they tell it why.
    #[test]
    fn arbitrary_frames_never_panic_a_handshake(frames in proptest::collection::vec(any_frame(), 1..4)) {
        let mut server = ServerHandshake::new(
            ServerConfig::new().with_auth(Auth::Token(Token::new("ttt").unwrap())),
        );
        let mut client = ClientHandshake::new(ClientConfig::new());
        let _hello = client.poll_transmit();
        let mut admitted = None;
        for (i, frame) in frames.into_iter().enumerate() {
            let by_client = client.handle_frame(frame.clone());
            if i > 0 {
                prop_assert_eq!(by_client, Err(HandshakeError::Finished));
            }
            match server.handle_frame(frame) {
                Ok(admission) => {
                    prop_assert!(admission.max_frame_len() >= 4096);
                    admitted = Some(admission);
                }
                Err(HandshakeError::PeerError(_) | HandshakeError::Closed | HandshakeError::Finished) => {}
                Err(_) => {
                    let refusal = server.poll_transmit();
                    prop_assert!(refusal.is_some_and(|frame| frame.kind() == FrameKind::Error));
                }
            }
        }
        if let Some(admission) = admitted {
            // Accepting works only if nothing failed the handshake meanwhile.
            let _ = server.accept(admission, 1);
        }
        while let Some(frame) = server.poll_transmit() {
            prop_assert!(matches!(frame.kind(), FrameKind::Welcome | FrameKind::Error));
            if frame.kind() == FrameKind::Error {
                prop_assert!(ErrorBody::decode(frame.payload()).is_ok());
            }
        }
    }
}
