//! Names of mailboxes and registered processes.

use std::fmt;

/// The longest name, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// A validated name: 1 to 255 bytes of `[A-Za-z0-9._/-]`.
///
/// The alphabet is deliberately small: names appear in shell commands, file-like paths and logs,
/// and need no quoting or escaping anywhere.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Name(String);

impl Name {
    /// Validates `name`.
    ///
    /// # Errors
    ///
    /// [`InvalidName`] when it is empty, longer than 255 bytes, or has a byte outside the alphabet.
    pub fn new(name: &str) -> Result<Name, InvalidName> {
        let valid_byte =
            |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-');
        if name.is_empty() || name.len() > MAX_NAME_LEN || !name.as_bytes().iter().all(valid_byte) {
            return Err(InvalidName);
        }
        Ok(Name(name.to_owned()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The error for a name that breaks the naming rule.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("invalid name: names are 1 to 255 bytes of letters, digits and . _ / -")]
pub struct InvalidName;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_alphabet_and_the_longest_name() {
        assert!(Name::new("jobs/high-priority_1.q").is_ok());
        assert!(Name::new(&"a".repeat(MAX_NAME_LEN)).is_ok());
    }

    #[test]
    fn rejects_empty_long_and_foreign_bytes() {
        assert_eq!(Name::new(""), Err(InvalidName));
        assert_eq!(Name::new(&"a".repeat(MAX_NAME_LEN + 1)), Err(InvalidName));
        for bad in ["a b", "a\0", "é", "a:b", "a\n"] {
            assert_eq!(Name::new(bad), Err(InvalidName), "{bad:?}");
        }
    }
}
