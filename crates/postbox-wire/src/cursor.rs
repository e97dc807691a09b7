//! A bounds-checked reader over a payload, so that payload decoders cannot panic on short input.

use crate::PayloadError;

/// Reads little-endian fields off the front of a byte slice; every read names its field so that a
/// short payload says where it was cut.
pub(crate) struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { rest: bytes }
    }

    /// The next `N` bytes, or `Truncated` naming `field`.
    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], PayloadError> {
        let (head, rest) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(PayloadError::Truncated { field })?;
        self.rest = rest;
        Ok(*head)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, PayloadError> {
        let [byte] = self.array(field)?;
        Ok(byte)
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, PayloadError> {
        self.array(field).map(u16::from_le_bytes)
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, PayloadError> {
        self.array(field).map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, PayloadError> {
        self.array(field).map(u64::from_le_bytes)
    }

    /// The next `len` bytes, or `Truncated` naming `field`.
    pub(crate) fn bytes(
        &mut self,
        len: usize,
        field: &'static str,
    ) -> Result<&'a [u8], PayloadError> {
        if len > self.rest.len() {
            return Err(PayloadError::Truncated { field });
        }
        let (head, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(head)
    }

    /// Whether everything has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Everything not read yet.
    pub(crate) fn rest(self) -> &'a [u8] {
        self.rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_fields_in_order_and_reports_the_cut_field() {
        let bytes = [1, 0x02, 0x01, 4, 3, 2, 1, 9, 9];
        let mut cursor = Cursor::new(&bytes);
        assert_eq!(cursor.u8("a"), Ok(1));
        assert_eq!(cursor.u16("b"), Ok(0x0102));
        assert_eq!(cursor.u32("c"), Ok(0x0102_0304));
        assert_eq!(cursor.u64("d"), Err(PayloadError::Truncated { field: "d" }));
        assert_eq!(
            cursor.bytes(3, "e"),
            Err(PayloadError::Truncated { field: "e" })
        );
        assert_eq!(cursor.bytes(1, "f"), Ok(&[9][..]));
        assert_eq!(cursor.rest(), &[9]);
    }
}
