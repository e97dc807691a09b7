//! The payloads of the two handshake frames: the client's `Hello` and the server's `Welcome`.
//!
//! Both are read by peers of any version (they always travel under
//! [`Version::HANDSHAKE`]), so their layout only ever grows at the end: a receiver ignores bytes
//! after the fields it knows.

use bytes::{BufMut, Bytes, BytesMut};

use crate::cursor::Cursor;
use crate::{Capabilities, Frame, FrameKind, MAX_TOKEN_LEN, PayloadError, Token, Version};

/// The most versions one `Hello` can offer (the count is one byte).
pub const MAX_OFFERED_VERSIONS: usize = u8::MAX as usize;

/// What a client offers: the versions it speaks, the largest frame it accepts, a token if the
/// server wants one, and the optional features it can use.
///
/// ```text
/// offset  size  field
///      0     1  n, the number of versions offered (1..=255)
///      1     n  the versions, one byte each (1..=255), in any order
///    1+n     4  max frame length, u32 little-endian
///    5+n     2  t, the token length, u16 little-endian (0: no token; at most 1024)
///    7+n     t  the token
///  7+n+t     4  capabilities offered, u32 little-endian (absent: none)
/// 11+n+t     -  ignored (room for later versions)
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Hello {
    versions: Vec<Version>,
    max_frame_len: u32,
    token: Option<Token>,
    capabilities: Capabilities,
}

impl Hello {
    /// A `Hello` offering `versions` and `max_frame_len`, presenting `token`.
    ///
    /// # Panics
    ///
    /// If `versions` is empty or longer than [`MAX_OFFERED_VERSIONS`]: a client configured that
    /// way could never connect.
    pub fn new(versions: &[Version], max_frame_len: u32, token: Option<Token>) -> Hello {
        assert!(
            !versions.is_empty() && versions.len() <= MAX_OFFERED_VERSIONS,
            "a Hello offers 1 to {MAX_OFFERED_VERSIONS} versions, not {}",
            versions.len()
        );
        Hello {
            versions: versions.to_vec(),
            max_frame_len,
            token,
            capabilities: Capabilities::NONE,
        }
    }

    /// The same `Hello`, offering `capabilities` too.
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Hello {
        self.capabilities = capabilities;
        self
    }

    /// The optional features offered ([`Capabilities::NONE`] from a client that predates them).
    pub fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    /// The versions offered, in the order the client listed them.
    pub fn versions(&self) -> &[Version] {
        &self.versions
    }

    /// The largest payload the client accepts.
    pub fn max_frame_len(&self) -> u32 {
        self.max_frame_len
    }

    /// The token presented, if any.
    pub fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    /// The payload bytes.
    pub fn encode(&self) -> Bytes {
        let token = self.token.as_ref().map_or(&[][..], Token::as_bytes);
        let mut out = BytesMut::with_capacity(1 + self.versions.len() + 4 + 2 + token.len() + 4);
        // Both lengths are bounded by the constructors: at most 255 versions, 1024 token bytes.
        out.put_u8(self.versions.len() as u8);
        out.extend(self.versions.iter().map(|version| version.get()));
        out.put_u32_le(self.max_frame_len);
        out.put_u16_le(token.len() as u16);
        out.put_slice(token);
        out.put_u32_le(self.capabilities.bits());
        out.freeze()
    }

    /// The `Hello` frame carrying this payload.
    pub fn to_frame(&self) -> Frame {
        Frame::connection(FrameKind::Hello, self.encode())
    }

    /// Reads a `Hello` payload, ignoring any bytes after the fields it knows. A payload that ends
    /// after the token (an older client's) offers no capabilities.
    ///
    /// # Errors
    ///
    /// [`PayloadError`] if it is cut short, offers no version or version 0, or carries a token
    /// longer than [`MAX_TOKEN_LEN`].
    pub fn decode(payload: &[u8]) -> Result<Hello, PayloadError> {
        let mut cursor = Cursor::new(payload);
        let count = cursor.u8("version count")?;
        if count == 0 {
            return Err(PayloadError::NoVersions);
        }
        let versions = cursor
            .bytes(usize::from(count), "versions")?
            .iter()
            .map(|&raw| Version::new(raw).ok_or(PayloadError::ZeroVersion))
            .collect::<Result<Vec<Version>, PayloadError>>()?;
        let max_frame_len = cursor.u32("max frame length")?;
        let token_len = usize::from(cursor.u16("token length")?);
        if token_len > MAX_TOKEN_LEN {
            return Err(PayloadError::TokenTooLong { len: token_len });
        }
        let token = cursor.bytes(token_len, "token")?;
        let token = match token_len {
            0 => None,
            _ => Some(
                Token::new(Bytes::copy_from_slice(token))
                    .map_err(|_| PayloadError::TokenTooLong { len: token_len })?,
            ),
        };
        let capabilities = optional_capabilities(&mut cursor)?;
        Ok(Hello {
            versions,
            max_frame_len,
            token,
            capabilities,
        })
    }
}

/// The capabilities field that ends a `Hello` or `Welcome`: absent in an older peer's (none), or
/// four bytes.
fn optional_capabilities(cursor: &mut Cursor<'_>) -> Result<Capabilities, PayloadError> {
    if cursor.is_empty() {
        return Ok(Capabilities::NONE);
    }
    cursor.u32("capabilities").map(Capabilities::from_bits)
}

/// What a server answers to an acceptable `Hello`: the version, frame limit and optional features
/// now in force for both sides, and the pid the client's connection is known by.
///
/// ```text
/// offset  size  field
///      0     1  chosen version (one the client offered)
///      1     4  negotiated max frame length, u32 little-endian
///      5     8  the client's pid, u64 little-endian
///     13     4  capabilities granted, u32 little-endian (absent: none)
///     17     -  ignored (room for later versions)
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Welcome {
    /// The version both sides use from the next frame on.
    pub version: Version,
    /// The largest payload both sides accept from now on: the smaller of the two offers.
    pub max_frame_len: u32,
    /// The pid the server assigned to this connection's process.
    pub pid: u64,
    /// The optional features granted: some of those the client offered.
    pub capabilities: Capabilities,
}

impl Welcome {
    /// The length of a `Welcome` payload with its capabilities.
    const LEN: usize = 17;

    /// The payload bytes.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(Welcome::LEN);
        out.put_u8(self.version.get());
        out.put_u32_le(self.max_frame_len);
        out.put_u64_le(self.pid);
        out.put_u32_le(self.capabilities.bits());
        out.freeze()
    }

    /// The `Welcome` frame carrying this payload.
    pub fn to_frame(&self) -> Frame {
        Frame::connection(FrameKind::Welcome, self.encode())
    }

    /// Reads a `Welcome` payload, ignoring any bytes after the fields it knows. A payload that
    /// ends after the pid (an older server's) grants no capabilities.
    ///
    /// # Errors
    ///
    /// [`PayloadError`] if it is cut short or names version 0.
    pub fn decode(payload: &[u8]) -> Result<Welcome, PayloadError> {
        let mut cursor = Cursor::new(payload);
        let version = Version::new(cursor.u8("version")?).ok_or(PayloadError::ZeroVersion)?;
        let max_frame_len = cursor.u32("max frame length")?;
        let pid = cursor.u64("pid")?;
        let capabilities = optional_capabilities(&mut cursor)?;
        Ok(Welcome {
            version,
            max_frame_len,
            pid,
            capabilities,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HANDSHAKE_MAX_FRAME_LEN;

    fn v(raw: u8) -> Version {
        Version::new(raw).unwrap()
    }

    #[test]
    fn hello_is_laid_out_as_documented() {
        let hello = Hello::new(&[v(1), v(3)], 0x0001_0000, Some(Token::new("tk").unwrap()))
            .with_capabilities(Capabilities::ATTACHMENTS);
        assert_eq!(
            &hello.encode()[..],
            &[
                2, 1, 3, 0x00, 0x00, 0x01, 0x00, 2, 0, b't', b'k', 1, 0, 0, 0
            ][..]
        );
        assert_eq!(Hello::decode(&hello.encode()), Ok(hello.clone()));
        assert_eq!(hello.to_frame().kind(), FrameKind::Hello);
        assert_eq!(hello.to_frame().request_id(), None);
    }

    #[test]
    fn hello_without_token_round_trips() {
        let hello = Hello::new(&[v(1)], u32::MAX, None);
        assert_eq!(
            &hello.encode()[..],
            &[1, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0][..]
        );
        assert_eq!(Hello::decode(&hello.encode()), Ok(hello));
    }

    #[test]
    fn the_largest_hello_fits_in_a_handshake_frame() {
        let versions: Vec<Version> = (1..=u8::MAX).map(v).collect();
        let token = Token::new(vec![b'x'; MAX_TOKEN_LEN]).unwrap();
        let hello = Hello::new(&versions, 0, Some(token));
        assert!(hello.encode().len() <= HANDSHAKE_MAX_FRAME_LEN as usize);
        assert_eq!(Hello::decode(&hello.encode()), Ok(hello));
    }

    #[test]
    #[should_panic(expected = "a Hello offers 1 to 255 versions")]
    fn hello_without_versions_is_a_caller_bug() {
        let _ = Hello::new(&[], 4096, None);
    }

    #[test]
    fn malformed_hellos_are_refused() {
        let cases: [(&[u8], PayloadError); 6] = [
            (
                &[],
                PayloadError::Truncated {
                    field: "version count",
                },
            ),
            (&[0, 0, 0, 0, 0, 0, 0], PayloadError::NoVersions),
            (&[2, 1], PayloadError::Truncated { field: "versions" }),
            (&[1, 0, 0, 16, 0, 0, 0, 0], PayloadError::ZeroVersion),
            (
                &[1, 1, 0, 16, 0],
                PayloadError::Truncated {
                    field: "max frame length",
                },
            ),
            (
                &[1, 1, 0, 16, 0, 0, 3, 0, b'a'],
                PayloadError::Truncated { field: "token" },
            ),
        ];
        for (payload, error) in cases {
            assert_eq!(Hello::decode(payload), Err(error), "{payload:?}");
        }
        let mut long_token = vec![1, 1, 0, 16, 0, 0];
        long_token.extend_from_slice(&1025u16.to_le_bytes());
        long_token.extend_from_slice(&[b'x'; 1025]);
        assert_eq!(
            Hello::decode(&long_token),
            Err(PayloadError::TokenTooLong { len: 1025 })
        );
    }

    #[test]
    fn trailing_bytes_are_left_for_later_versions() {
        let hello = Hello::new(&[v(1)], 8192, None);
        let mut extended = hello.encode().to_vec();
        extended.extend_from_slice(b"future field");
        assert_eq!(Hello::decode(&extended), Ok(hello));

        let welcome = Welcome {
            version: v(1),
            max_frame_len: 8192,
            pid: 9,
            capabilities: Capabilities::ATTACHMENTS,
        };
        let mut extended = welcome.encode().to_vec();
        extended.push(0xff);
        assert_eq!(Welcome::decode(&extended), Ok(welcome));
    }

    #[test]
    fn welcome_is_laid_out_as_documented() {
        let welcome = Welcome {
            version: v(1),
            max_frame_len: 0x0010_0000,
            pid: 0x0102,
            capabilities: Capabilities::ATTACHMENTS,
        };
        assert_eq!(
            &welcome.encode()[..],
            &[
                1, 0x00, 0x00, 0x10, 0x00, 0x02, 0x01, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0
            ][..]
        );
        assert_eq!(Welcome::decode(&welcome.encode()), Ok(welcome));
        assert_eq!(welcome.to_frame().kind(), FrameKind::Welcome);
    }

    #[test]
    fn an_older_peer_without_capabilities_offers_and_grants_none() {
        let hello = [1, 1, 0x00, 0x20, 0x00, 0x00, 0, 0];
        assert_eq!(
            Hello::decode(&hello).unwrap().capabilities(),
            Capabilities::NONE
        );
        let welcome = [1, 0x00, 0x20, 0x00, 0x00, 9, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            Welcome::decode(&welcome).unwrap().capabilities,
            Capabilities::NONE
        );
        let cut = [1, 1, 0x00, 0x20, 0x00, 0x00, 0, 0, 1, 0];
        assert_eq!(
            Hello::decode(&cut),
            Err(PayloadError::Truncated {
                field: "capabilities"
            })
        );
    }

    #[test]
    fn malformed_welcomes_are_refused() {
        assert_eq!(
            Welcome::decode(&[0, 0, 16, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
            Err(PayloadError::ZeroVersion)
        );
        assert_eq!(
            Welcome::decode(&[1, 0, 16, 0, 0, 1, 0]),
            Err(PayloadError::Truncated { field: "pid" })
        );
    }
}
