//! Who a node is: its name, fixed by configuration, and its incarnation, new at every start.

use std::fmt;
use std::num::NonZeroU64;

/// The longest node name, in bytes.
pub const MAX_NODE_NAME_LEN: usize = 64;

/// The name of a node (a daemon) in the message space: 1 to 64 bytes of `[A-Za-z0-9._-]`, so it
/// fits in an address (`name@node`), a log line and a file name without quoting.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct NodeName(String);

/// A node name that [`NodeName::new`] refused.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum InvalidNodeName {
    /// The name is empty or longer than [`MAX_NODE_NAME_LEN`] bytes.
    #[error("a node name must be 1 to {MAX_NODE_NAME_LEN} bytes long, not {len}")]
    Length {
        /// The refused name's length in bytes.
        len: usize,
    },
    /// The name holds a byte outside `[A-Za-z0-9._-]`.
    #[error(
        "a node name may only hold letters, digits, '.', '_' and '-'; byte {byte:#04x} at offset {at} is none of them"
    )]
    Character {
        /// The first byte refused.
        byte: u8,
        /// Its offset in the name.
        at: usize,
    },
}

impl NodeName {
    /// Checks and wraps `name`.
    ///
    /// # Errors
    ///
    /// [`InvalidNodeName`] when `name` is empty, longer than 64 bytes, or holds a byte outside
    /// `[A-Za-z0-9._-]`.
    ///
    /// ```
    /// use postbox_wire::link::{InvalidNodeName, NodeName};
    ///
    /// assert_eq!(NodeName::new("db-1.eu").unwrap().as_str(), "db-1.eu");
    /// assert_eq!(NodeName::new(""), Err(InvalidNodeName::Length { len: 0 }));
    /// assert_eq!(
    ///     NodeName::new("a b"),
    ///     Err(InvalidNodeName::Character { byte: b' ', at: 1 })
    /// );
    /// ```
    pub fn new(name: impl AsRef<[u8]>) -> Result<NodeName, InvalidNodeName> {
        let bytes = name.as_ref();
        if bytes.is_empty() || bytes.len() > MAX_NODE_NAME_LEN {
            return Err(InvalidNodeName::Length { len: bytes.len() });
        }
        if let Some(at) = bytes
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')))
        {
            return Err(InvalidNodeName::Character {
                byte: bytes[at],
                at,
            });
        }
        // Every byte is ASCII, so this cannot fail; no panic path even so.
        let name = String::from_utf8_lossy(bytes).into_owned();
        Ok(NodeName(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name's bytes, as they go on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One run of a node: a daemon picks a new one each time it starts (from the time and a random
/// number, say), so that its peers can tell "the same process, reconnected" from "a new process
/// that lost everything". Never 0, which on the wire means "none known".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Incarnation(NonZeroU64);

impl Incarnation {
    /// Wraps a raw incarnation; `None` for 0.
    pub const fn new(raw: u64) -> Option<Incarnation> {
        match NonZeroU64::new(raw) {
            Some(raw) => Some(Incarnation(raw)),
            None => None,
        }
    }

    /// The raw value, as it goes on the wire.
    pub const fn get(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Incarnation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#018x}", self.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_every_allowed_byte_and_length_are_accepted() {
        let all = b"azAZ09._-";
        assert!(NodeName::new(all).is_ok());
        assert!(NodeName::new([b'x'; MAX_NODE_NAME_LEN]).is_ok());
        assert!(NodeName::new("a").is_ok());
    }

    #[test]
    fn empty_long_and_odd_names_are_refused_with_the_reason() {
        assert_eq!(NodeName::new(""), Err(InvalidNodeName::Length { len: 0 }));
        assert_eq!(
            NodeName::new([b'x'; MAX_NODE_NAME_LEN + 1]),
            Err(InvalidNodeName::Length { len: 65 })
        );
        for (name, byte, at) in [
            (&b"a/b"[..], b'/', 1),
            (b"@", b'@', 0),
            (b"ab\xff", 0xff, 2),
            (b"a\0", 0, 1),
        ] {
            assert_eq!(
                NodeName::new(name),
                Err(InvalidNodeName::Character { byte, at })
            );
        }
    }

    #[test]
    fn incarnation_zero_does_not_exist() {
        assert_eq!(Incarnation::new(0), None);
        assert_eq!(Incarnation::new(7).map(Incarnation::get), Some(7));
    }
}
