//! Output sinks for encoders: a caller's `&mut [u8]`, a byte counter (to size a buffer
//! before writing), and, with `alloc`, any [`bytes::BufMut`].
//!
//! Encoders are written once against [`Out`]; a sink never fails while writing. A
//! [`SliceOut`] that runs out of room keeps counting, so the caller learns the exact
//! size needed (`EncodeError::BufferTooSmall { needed }`) in one pass.

use crate::error::EncodeError;

/// A byte sink that encoders write to.
pub trait Out {
    /// Append bytes.
    fn put(&mut self, bytes: &[u8]);

    /// Append one byte.
    #[inline]
    fn put_u8(&mut self, b: u8) {
        self.put(&[b]);
    }
    /// Append a big-endian i16.
    #[inline]
    fn put_i16(&mut self, v: i16) {
        self.put(&v.to_be_bytes());
    }
    /// Append a big-endian i32.
    #[inline]
    fn put_i32(&mut self, v: i32) {
        self.put(&v.to_be_bytes());
    }
    /// Append a big-endian i64.
    #[inline]
    fn put_i64(&mut self, v: i64) {
        self.put(&v.to_be_bytes());
    }
    /// Append the decimal form of an integer, as Java's `toString` writes it.
    #[inline]
    fn put_decimal(&mut self, v: impl itoa::Integer) {
        let mut b = itoa::Buffer::new();
        self.put(b.format(v).as_bytes());
    }
}

/// Counts bytes without storing them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counter(pub usize);

impl Out for Counter {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.0 = self.0.saturating_add(bytes.len());
    }
}

/// Writes into a caller-owned slice; past the end it only counts.
#[derive(Debug)]
pub struct SliceOut<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> SliceOut<'b> {
    /// A sink writing from the start of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        SliceOut { buf, pos: 0 }
    }

    /// Bytes written (or that would have been written).
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Whether everything written so far fit.
    #[inline]
    pub fn fits(&self) -> bool {
        self.pos <= self.buf.len()
    }

    /// Overwrite bytes at `at` (for lengths known only after the content is written).
    /// Does nothing where the range lies past the end (the result is unusable anyway).
    pub fn patch(&mut self, at: usize, bytes: &[u8]) {
        if let Some(dst) = at
            .checked_add(bytes.len())
            .and_then(|end| self.buf.get_mut(at..end))
        {
            dst.copy_from_slice(bytes);
        }
    }

    /// The written length, or `BufferTooSmall` with the size that would have been needed.
    pub fn finish(self) -> Result<usize, EncodeError> {
        if self.fits() {
            Ok(self.pos)
        } else {
            Err(EncodeError::BufferTooSmall { needed: self.pos })
        }
    }
}

impl Out for SliceOut<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
    }
}

/// Adapts any [`bytes::BufMut`] (e.g. `BytesMut`, `Vec<u8>`) as a sink.
#[cfg(feature = "alloc")]
#[derive(Debug)]
pub struct BufMutOut<'b, B: bytes::BufMut>(pub &'b mut B);

#[cfg(feature = "alloc")]
impl<B: bytes::BufMut> Out for BufMutOut<'_, B> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        // A BufMut without room panics in put_slice; write only what fits. Callers size
        // growable buffers (BytesMut, Vec) which always have room.
        let n = bytes.len().min(self.0.remaining_mut());
        self.0.put_slice(bytes.get(..n).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_out_reports_needed_size() {
        let mut buf = [0u8; 4];
        let mut o = SliceOut::new(&mut buf);
        o.put(b"abc");
        o.put_i32(7);
        assert!(!o.fits());
        assert_eq!(o.finish(), Err(EncodeError::BufferTooSmall { needed: 7 }));
        let mut c = Counter::default();
        c.put_decimal(-1234i64);
        assert_eq!(c.0, 5);
    }
}
