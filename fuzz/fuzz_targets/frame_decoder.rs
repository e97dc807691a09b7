//! Feeds arbitrary bytes to `FrameDecoder`, in arbitrary pieces, under an arbitrary limit.
//!
//! Checks, beyond "does not panic": no frame over the limit, nothing consumed without a frame,
//! no room reserved on error, errors are sticky, and every frame decoded re-encodes to bytes that
//! decode to the same frame.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use postbox_wire::{FrameConfig, FrameDecoder, FrameEncoder, HEADER_LEN, Version};

fuzz_target!(|data: &[u8]| {
    // The first three bytes choose the limit and the piece size; the rest is the stream.
    let [l0, l1, piece, stream @ ..] = data else {
        return;
    };
    let config = FrameConfig {
        version: Version::V1,
        max_frame_len: u32::from(u16::from_le_bytes([*l0, *l1])),
    };
    let max = config.max_frame_len as usize;
    let piece = usize::from(*piece).max(1);
    let mut decoder = FrameDecoder::new(config);
    let encoder = FrameEncoder::new(config);
    let mut buffer = BytesMut::new();
    for chunk in stream.chunks(piece) {
        buffer.extend_from_slice(chunk);
        loop {
            let (len, capacity) = (buffer.len(), buffer.capacity());
            match decoder.decode(&mut buffer) {
                Ok(Some(frame)) => {
                    assert!(frame.payload().len() <= max);
                    assert_eq!(buffer.len(), len - HEADER_LEN - frame.payload().len());
                    let mut again = BytesMut::new();
                    encoder
                        .encode(&frame, &mut again)
                        .expect("a decoded frame re-encodes");
                    assert_eq!(decoder.decode(&mut again), Ok(Some(frame)));
                    assert!(again.is_empty());
                }
                Ok(None) => {
                    assert_eq!(buffer.len(), len);
                    assert!(buffer.capacity() <= capacity.max(2 * (HEADER_LEN + max)));
                    break;
                }
                Err(error) => {
                    assert_eq!((buffer.len(), buffer.capacity()), (len, capacity));
                    assert_eq!(decoder.decode(&mut buffer), Err(error));
                    return;
                }
            }
        }
    }
});
