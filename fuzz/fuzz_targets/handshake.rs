//! Feeds arbitrary bytes to the handshake payload decoders, and arbitrary frames built from them to
//! a client's and a server's handshake.
//!
//! The frames are built here rather than decoded (the `frame_decoder` target covers decoding), so
//! the fuzzer does not have to forge a CRC32C to reach the state machines. Checks, beyond "does
//! not panic": every payload that decodes re-encodes to one that decodes the same, an admitted
//! client never gets a frame limit below the handshake minimum, and a handshake only ever sends
//! `Hello`, `Welcome` or `Error` frames.

#![no_main]

use libfuzzer_sys::fuzz_target;
use postbox_wire::{
    Auth, ClientConfig, ClientHandshake, ErrorBody, Frame, FrameKind, HANDSHAKE_MAX_FRAME_LEN,
    Hello, ServerConfig, ServerHandshake, Token, Welcome,
};

/// Cuts `data` into frames: a kind byte, a request-id byte, a length byte, then that many bytes
/// of payload (fewer if the data runs out).
fn frames(mut data: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    while let [kind, id, len, rest @ ..] = data {
        let (payload, rest) = rest.split_at(usize::from(*len).min(rest.len()));
        data = rest;
        let kind = FrameKind::ALL[usize::from(*kind) % FrameKind::ALL.len()];
        if let Ok(frame) = Frame::new(kind, u64::from(*id), payload.to_vec()) {
            frames.push(frame);
        }
    }
    frames
}

fn check_sent(frame: Frame) {
    assert!(matches!(
        frame.kind(),
        FrameKind::Hello | FrameKind::Welcome | FrameKind::Error
    ));
    assert_eq!(frame.request_id(), None);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(hello) = Hello::decode(data) {
        assert_eq!(Hello::decode(&hello.encode()), Ok(hello));
    }
    if let Ok(welcome) = Welcome::decode(data) {
        assert_eq!(Welcome::decode(&welcome.encode()), Ok(welcome));
    }
    if let Ok(body) = ErrorBody::decode(data) {
        assert_eq!(
            ErrorBody::decode(&body.encode()).map(|b| b.code()),
            Ok(body.code())
        );
    }

    // An odd first byte makes the server require a token (which the fuzzer must then guess, with
    // no comparison to guide it), an even one lets everybody in so admission is reachable.
    let auth = match data.first() {
        Some(byte) if byte % 2 == 1 => Auth::Token(Token::new("fuzz").expect("a valid token")),
        _ => Auth::Open,
    };
    let mut server = ServerHandshake::new(ServerConfig::new().with_auth(auth));
    let mut client = ClientHandshake::new(ClientConfig::new());
    for frame in frames(data) {
        if let Ok(session) = client.handle_frame(frame.clone()) {
            assert!(session.max_frame_len >= HANDSHAKE_MAX_FRAME_LEN);
        }
        if let Ok(admission) = server.handle_frame(frame) {
            assert!(admission.max_frame_len() >= HANDSHAKE_MAX_FRAME_LEN);
            let _ = server.accept(admission, 1);
        }
        while let Some(frame) = server.poll_transmit() {
            check_sent(frame);
        }
        while let Some(frame) = client.poll_transmit() {
            check_sent(frame);
        }
    }
});
