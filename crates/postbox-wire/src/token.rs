//! The shared secret a client presents in its `Hello` when the server asks for one (TCP).

use std::fmt;

use bytes::Bytes;

use crate::InvalidToken;

/// The longest token, in bytes: ample for a 256-bit secret in any text encoding, and small enough
/// that a `Hello` always fits in [`HANDSHAKE_MAX_FRAME_LEN`](crate::HANDSHAKE_MAX_FRAME_LEN).
pub const MAX_TOKEN_LEN: usize = 1024;

/// A secret of 1 to [`MAX_TOKEN_LEN`] bytes.
///
/// It is compared in constant time (`==` too), so that a remote peer cannot learn it byte by byte
/// from response times, and its `Debug` output shows only its length, so it never ends up in logs.
#[derive(Clone)]
pub struct Token(Bytes);

impl Token {
    /// Wraps a secret.
    ///
    /// # Errors
    ///
    /// [`InvalidToken`] if it is empty (no token is `None`, not an empty one) or longer than
    /// [`MAX_TOKEN_LEN`].
    pub fn new(secret: impl Into<Bytes>) -> Result<Token, InvalidToken> {
        let secret = secret.into();
        if secret.is_empty() || secret.len() > MAX_TOKEN_LEN {
            return Err(InvalidToken { len: secret.len() });
        }
        Ok(Token(secret))
    }

    /// The secret's bytes, to put on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Compares in time that depends only on the lengths, never on where the bytes differ.
    ///
    /// The lengths are not hidden: a token's length is not a secret worth the cost.
    pub fn ct_eq(&self, other: &Token) -> bool {
        let (a, b) = (self.as_bytes(), other.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
        std::hint::black_box(difference) == 0
    }
}

impl PartialEq for Token {
    /// Constant-time, see [`Token::ct_eq`].
    fn eq(&self, other: &Token) -> bool {
        self.ct_eq(other)
    }
}

impl Eq for Token {}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(<{} bytes>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_bounded_on_both_sides() {
        assert_eq!(Token::new("").unwrap_err(), InvalidToken { len: 0 });
        assert!(Token::new(vec![b'x'; MAX_TOKEN_LEN]).is_ok());
        assert_eq!(
            Token::new(vec![b'x'; MAX_TOKEN_LEN + 1]).unwrap_err(),
            InvalidToken {
                len: MAX_TOKEN_LEN + 1
            }
        );
    }

    #[test]
    fn equality_compares_every_byte() {
        let token = Token::new("s3cret").unwrap();
        assert_eq!(token, Token::new("s3cret").unwrap());
        assert_ne!(token, Token::new("s3creT").unwrap());
        assert_ne!(token, Token::new("S3cret").unwrap());
        assert_ne!(token, Token::new("s3cret!").unwrap());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let shown = format!("{:?}", Token::new("hunter2").unwrap());
        assert_eq!(shown, "Token(<7 bytes>)");
    }
}
