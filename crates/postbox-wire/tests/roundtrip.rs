//! Properties of the codec: what the encoder writes, the decoder reads back unchanged however the
//! bytes are split; and whatever bytes arrive, the decoder neither panics nor hands out (or makes
//! room for) a frame over its limit.

use bytes::BytesMut;
use postbox_wire::{
    DecodeError, EncodeError, Frame, FrameConfig, FrameDecoder, FrameEncoder, FrameKind,
    HEADER_LEN, Version,
};
use proptest::prelude::*;
use proptest::sample::select;

const MAX: u32 = 1024;

fn config(max_frame_len: u32) -> FrameConfig {
    FrameConfig {
        version: Version::V1,
        max_frame_len,
    }
}

/// Any valid frame with a payload of up to `max_len` bytes: every kind, request ids including 0,
/// 1 and `u64::MAX` wherever the kind allows them.
fn any_frame(max_len: usize) -> impl Strategy<Value = Frame> {
    let request_id = prop_oneof![Just(0u64), Just(1), Just(u64::MAX), any::<u64>()];
    let payload = prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..=64.min(max_len)),
        1 => proptest::collection::vec(any::<u8>(), 0..=max_len),
    ];
    (select(FrameKind::ALL.to_vec()), request_id, payload).prop_map(|(kind, id, payload)| {
        Frame::new(kind, id, payload.clone())
            .or_else(|_| Frame::new(kind, if id == 0 { 1 } else { 0 }, payload))
            .expect("every kind accepts either 0 or 1")
    })
}

fn encode_all(frames: &[Frame], max_frame_len: u32) -> Vec<u8> {
    let encoder = FrameEncoder::new(config(max_frame_len));
    let mut wire = BytesMut::new();
    for frame in frames {
        encoder.encode(frame, &mut wire).expect("within the limit");
    }
    wire.to_vec()
}

/// Splits `bytes` at `cuts` (positions taken modulo the length).
fn chunks(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
    cuts.push(0);
    cuts.push(bytes.len());
    cuts.sort_unstable();
    cuts.windows(2)
        .map(|pair| bytes[pair[0]..pair[1]].to_vec())
        .collect()
}

/// What feeding a byte stream in pieces produced.
struct Fed {
    frames: Vec<Frame>,
    error: Option<DecodeError>,
    buffer: BytesMut,
}

/// Feeds `pieces` one at a time, decoding every whole frame after each, as a driver would, and
/// checks the decoder's promises as it goes.
fn feed(decoder: &mut FrameDecoder, pieces: &[Vec<u8>]) -> Fed {
    let max = decoder.config().max_frame_len as usize;
    let mut buffer = BytesMut::new();
    let mut frames = Vec::new();
    for piece in pieces {
        buffer.extend_from_slice(piece);
        loop {
            let len_before = buffer.len();
            let capacity_before = buffer.capacity();
            match decoder.decode(&mut buffer) {
                Ok(Some(frame)) => {
                    assert!(frame.payload().len() <= max, "frame over the limit");
                    assert_eq!(
                        buffer.len(),
                        len_before - HEADER_LEN - frame.payload().len()
                    );
                    frames.push(frame);
                }
                Ok(None) => {
                    assert_eq!(buffer.len(), len_before, "consumed without a frame");
                    // Room is made for at most one frame within the limit (`BytesMut` may
                    // double what it had).
                    assert!(
                        buffer.capacity() <= capacity_before.max(2 * (HEADER_LEN + max)),
                        "reserved {} bytes for a limit of {max}",
                        buffer.capacity()
                    );
                    break;
                }
                Err(error) => {
                    assert_eq!(buffer.len(), len_before, "consumed on error");
                    assert_eq!(buffer.capacity(), capacity_before, "reserved on error");
                    assert_eq!(decoder.decode(&mut buffer), Err(error), "error not sticky");
                    return Fed {
                        frames,
                        error: Some(error),
                        buffer,
                    };
                }
            }
        }
    }
    Fed {
        frames,
        error: None,
        buffer,
    }
}

/// Bytes that look like frames often enough to get past the magic: valid frames, headers with
/// random fields, and plain noise, concatenated.
fn frame_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let valid = any_frame(256).prop_map(|frame| encode_all(&[frame], MAX));
    let header = (
        0u8..=10,
        any::<u16>(),
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(kind, flags, id, len, crc)| {
            let mut bytes = b"PB\x01".to_vec();
            bytes.push(kind);
            bytes.extend_from_slice(&(flags & 1).to_le_bytes());
            bytes.extend_from_slice(&(id % 3).to_le_bytes());
            bytes.extend_from_slice(&(len % (2 * MAX)).to_le_bytes());
            bytes.extend_from_slice(&crc.to_le_bytes());
            bytes
        });
    let noise = proptest::collection::vec(any::<u8>(), 0..64);
    proptest::collection::vec(prop_oneof![valid, header, noise], 0..6)
        .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn encoded_frames_decode_unchanged_however_the_stream_is_split(
        frames in proptest::collection::vec(any_frame(MAX as usize), 1..8),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let wire = encode_all(&frames, MAX);
        let fed = feed(&mut FrameDecoder::new(config(MAX)), &chunks(&wire, &cuts));
        prop_assert_eq!(fed.error, None);
        prop_assert_eq!(fed.frames, frames);
        prop_assert!(fed.buffer.is_empty());
    }

    #[test]
    fn the_encoder_refuses_exactly_the_frames_the_decoder_would(
        frame in any_frame(600),
        max in 0u32..600,
    ) {
        let len = frame.payload().len();
        let mut wire = BytesMut::new();
        let encoded = FrameEncoder::new(config(max)).encode(&frame, &mut wire);
        let loose = encode_all(std::slice::from_ref(&frame), 600);
        let decoded = FrameDecoder::new(config(max)).decode(&mut BytesMut::from(&loose[..]));
        if len as u32 <= max {
            prop_assert_eq!(encoded, Ok(()));
            prop_assert_eq!(decoded, Ok(Some(frame)));
        } else {
            prop_assert_eq!(encoded, Err(EncodeError::TooLarge { len, max }));
            prop_assert!(wire.is_empty());
            prop_assert_eq!(decoded, Err(DecodeError::TooLarge { len: len as u32, max }));
        }
    }

    #[test]
    fn random_bytes_never_panic_or_exceed_the_limit(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        max in 0u32..2048,
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        feed(&mut FrameDecoder::new(config(max)), &chunks(&bytes, &cuts));
    }

    #[test]
    fn frame_like_bytes_never_panic_or_exceed_the_limit(
        bytes in frame_like_bytes(),
        max in prop_oneof![Just(0u32), Just(64), Just(MAX), 0u32..2048],
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        feed(&mut FrameDecoder::new(config(max)), &chunks(&bytes, &cuts));
    }

    /// A single corrupted byte is never taken for a frame: CRC32C catches every error burst up to
    /// 32 bits, and a corrupted length shifts what the checksum covers.
    #[test]
    fn a_corrupted_byte_is_never_taken_for_a_frame(
        frame in any_frame(256),
        at in any::<usize>(),
        xor in 1u8..=255,
    ) {
        let mut wire = encode_all(&[frame], MAX);
        let at = at % wire.len();
        wire[at] ^= xor;
        let fed = feed(&mut FrameDecoder::new(config(MAX)), &[wire]);
        prop_assert!(fed.frames.is_empty(), "corrupted byte {} accepted", at);
    }

    #[test]
    fn mutated_frames_never_panic_or_exceed_the_limit(
        frames in proptest::collection::vec(any_frame(256), 1..4),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        cut in proptest::option::of(any::<usize>()),
        insert in proptest::option::of((any::<usize>(), proptest::collection::vec(any::<u8>(), 1..32))),
        max in prop_oneof![Just(MAX), 0u32..300],
    ) {
        let mut wire = encode_all(&frames, MAX);
        for (at, xor) in flips {
            let at = at % wire.len();
            wire[at] ^= xor;
        }
        if let Some((at, bytes)) = insert {
            let at = at % (wire.len() + 1);
            wire.splice(at..at, bytes);
        }
        if let Some(cut) = cut {
            wire.truncate(cut % (wire.len() + 1));
        }
        feed(&mut FrameDecoder::new(config(max)), &[wire]);
    }
}
