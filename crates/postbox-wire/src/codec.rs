//! A connection's codec: its decoder and encoder, configured together.

use bytes::BytesMut;

use crate::{
    DecodeError, EncodeError, Frame, FrameConfig, FrameDecoder, FrameEncoder, FrameKind, RequestId,
};

/// The decoder and encoder of one connection, which always share one [`FrameConfig`]: the
/// handshake's until it completes, the negotiated one after, switched in one call so that the
/// two halves can never disagree.
#[derive(Clone, Debug, Default)]
pub struct Codec {
    decoder: FrameDecoder,
    encoder: FrameEncoder,
}

impl Codec {
    /// A codec in `config`.
    pub fn new(config: FrameConfig) -> Codec {
        Codec {
            decoder: FrameDecoder::new(config),
            encoder: FrameEncoder::new(config),
        }
    }

    /// The version and limit in force, both ways.
    pub fn config(&self) -> FrameConfig {
        self.encoder.config()
    }

    /// Switches both halves to `config`, from the next frame on.
    pub fn set_config(&mut self, config: FrameConfig) {
        self.decoder.set_config(config);
        self.encoder.set_config(config);
    }

    /// [`FrameDecoder::decode`].
    ///
    /// # Errors
    ///
    /// As [`FrameDecoder::decode`]: the peer is corrupt.
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        self.decoder.decode(src)
    }

    /// [`FrameEncoder::encode`].
    ///
    /// # Errors
    ///
    /// As [`FrameEncoder::encode`]: the payload is over the limit.
    pub fn encode(&self, frame: &Frame, dst: &mut BytesMut) -> Result<(), EncodeError> {
        self.encoder.encode(frame, dst)
    }

    /// [`FrameEncoder::encode_with`].
    ///
    /// # Errors
    ///
    /// As [`FrameEncoder::encode_with`]: the payload is over the limit.
    pub fn encode_with(
        &self,
        kind: FrameKind,
        request_id: Option<RequestId>,
        dst: &mut BytesMut,
        write: impl FnOnce(&mut BytesMut),
    ) -> Result<(), EncodeError> {
        self.encoder.encode_with(kind, request_id, dst, write)
    }
}
