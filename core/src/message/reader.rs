//! A bounds-checked big-endian cursor for the binary message structures.

use crate::error::DecodeError;

#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Offset of `bytes[0]` in the enclosing body, for error reports.
    base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], base: usize) -> Self {
        Reader {
            bytes,
            pos: 0,
            base,
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n);
        match end.and_then(|e| self.bytes.get(self.pos..e)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(DecodeError::Truncated {
                what,
                offset: self.base.saturating_add(self.pos) as u32,
            }),
        }
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, what)?;
        s.try_into().map_err(|_| DecodeError::Truncated {
            what,
            offset: self.base as u32,
        })
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn i16(&mut self, what: &'static str) -> Result<i16, DecodeError> {
        self.array(what).map(i16::from_be_bytes)
    }

    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        self.array(what).map(i32::from_be_bytes)
    }

    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        self.array(what).map(i64::from_be_bytes)
    }

    pub(crate) fn ipv4(&mut self, what: &'static str) -> Result<[u8; 4], DecodeError> {
        self.array(what)
    }

    pub(crate) fn ipv6(&mut self, what: &'static str) -> Result<[u8; 16], DecodeError> {
        self.array(what)
    }

    /// A length field that must not be negative.
    pub(crate) fn len_i32(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let v = self.i32(what)?;
        usize::try_from(v).map_err(|_| DecodeError::InvalidLength {
            what,
            length: v.into(),
        })
    }

    /// An i16 length field that must not be negative.
    pub(crate) fn len_i16(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let v = self.i16(what)?;
        usize::try_from(v).map_err(|_| DecodeError::InvalidLength {
            what,
            length: v.into(),
        })
    }

    pub(crate) fn utf8(&mut self, n: usize, what: &'static str) -> Result<&'a str, DecodeError> {
        let b = self.take(n, what)?;
        core::str::from_utf8(b).map_err(|_| DecodeError::InvalidUtf8 { what })
    }
}
