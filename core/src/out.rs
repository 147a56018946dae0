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

    /// Room to write up to `max` bytes in place, at the current position: the caller
    /// writes to the front of the slice, then calls [`advance`](Out::advance) with the
    /// count. `None` when the sink cannot offer that (the caller then uses
    /// [`put`](Out::put)): encoders write through it on their hot paths, one bounds check
    /// for a whole field instead of one per piece.
    #[inline]
    fn spare(&mut self, max: usize) -> Option<&mut [u8]> {
        let _ = max;
        None
    }

    /// All the room there is to write in place at the current position: for writers
    /// that know only roughly how much they will write and check the length
    /// themselves. `None` (the default) when the sink cannot offer room in place this
    /// way; [`SliceOut`] can. Then [`advance`](Out::advance) as after
    /// [`spare`](Out::spare).
    #[inline]
    fn spare_rest(&mut self) -> Option<&mut [u8]> {
        None
    }

    /// Count `n` bytes written into the slice [`spare`](Out::spare) gave.
    #[inline]
    fn advance(&mut self, n: usize) {
        let _ = n;
    }

    /// Whether bytes already written can be overwritten with [`patch`](Out::patch)
    /// (a length known only once the content is written), so an encoder can write
    /// once instead of measuring first.
    const PATCHABLE: bool = false;

    /// Bytes written (or counted) so far; meaningful where [`PATCHABLE`](Out::PATCHABLE).
    #[inline]
    fn written(&self) -> usize {
        0
    }

    /// Overwrite bytes at `at` (a position from [`written`](Out::written)); does
    /// nothing unless [`PATCHABLE`](Out::PATCHABLE).
    #[inline]
    fn patch(&mut self, at: usize, bytes: &[u8]) {
        let _ = (at, bytes);
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

    const PATCHABLE: bool = true;

    #[inline]
    fn written(&self) -> usize {
        self.0
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

    /// Overwrite bytes at `at` (for lengths known only after the content is written).
    /// Does nothing where the range lies past the end (the result is unusable anyway).
    #[inline]
    pub fn patch(&mut self, at: usize, bytes: &[u8]) {
        if let Some(dst) = at
            .checked_add(bytes.len())
            .and_then(|end| self.buf.get_mut(at..end))
        {
            dst.copy_from_slice(bytes);
        }
    }

    /// Whether everything written so far fit.
    #[inline]
    pub fn fits(&self) -> bool {
        self.pos <= self.buf.len()
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

    #[inline]
    fn spare(&mut self, max: usize) -> Option<&mut [u8]> {
        let end = self.pos.checked_add(max)?;
        self.buf.get_mut(self.pos..end)
    }

    #[inline]
    fn spare_rest(&mut self) -> Option<&mut [u8]> {
        self.buf.get_mut(self.pos..)
    }

    #[inline]
    fn advance(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n);
    }

    const PATCHABLE: bool = true;

    #[inline]
    fn written(&self) -> usize {
        self.pos
    }

    #[inline]
    fn patch(&mut self, at: usize, bytes: &[u8]) {
        SliceOut::patch(self, at, bytes)
    }
}

/// Copies pieces one after another into a slice sized for all of them (from
/// [`Out::spare`]); a piece past the end is dropped, and [`Cursor::at`] still counts it.
pub(crate) struct Cursor<'w> {
    buf: &'w mut [u8],
    at: usize,
}

impl<'w> Cursor<'w> {
    #[cfg_attr(not(rmq_size_opt), inline(always))]
    #[cfg_attr(rmq_size_opt, inline)]
    pub(crate) fn new(buf: &'w mut [u8]) -> Self {
        Cursor { buf, at: 0 }
    }

    /// Bytes put so far.
    #[cfg_attr(not(rmq_size_opt), inline(always))]
    #[cfg_attr(rmq_size_opt, inline)]
    pub(crate) fn at(&self) -> usize {
        self.at
    }

    #[cfg_attr(not(rmq_size_opt), inline(always))]
    #[cfg_attr(rmq_size_opt, inline)]
    pub(crate) fn put(&mut self, src: &[u8]) {
        let end = self.at + src.len();
        if let Some(dst) = self.buf.get_mut(self.at..end) {
            copy_small(dst, src);
        }
        self.at = end;
    }

    /// [`put`](Self::put) that also hands every byte of `src` to `flag` as it copies,
    /// in little-endian words (eight bytes at a time; a short tail or string as
    /// overlapping words, so some bytes are seen twice, and a string under four bytes
    /// padded with `pad`), and returns the OR of what `flag` gave: a check of what is
    /// copied without a second pass over it. `flag` must give 0 for a word of `pad`s.
    #[cfg(not(rmq_size_opt))]
    #[inline(always)]
    pub(crate) fn put_scanned(&mut self, src: &[u8], pad: u8, flag: impl Fn(u64) -> u64) -> u64 {
        let end = self.at + src.len();
        let mut seen = 0;
        let dst = self.buf.get_mut(self.at..end);
        if src.len() >= 8 {
            let word = |s: &[u8; 8]| u64::from_le_bytes(*s);
            match dst {
                Some(dst) => {
                    for (d, s) in dst.chunks_exact_mut(8).zip(src.chunks_exact(8)) {
                        if let (Some(d), Some(s)) = (d.first_chunk_mut::<8>(), s.first_chunk::<8>())
                        {
                            *d = *s;
                            seen |= flag(word(s));
                        }
                    }
                    if let (Some(d), Some(s)) = (dst.last_chunk_mut::<8>(), src.last_chunk::<8>()) {
                        *d = *s;
                        seen |= flag(word(s));
                    }
                }
                None => {
                    for s in src.chunks_exact(8) {
                        seen |= s.first_chunk::<8>().map_or(0, |s| flag(word(s)));
                    }
                    seen |= src.last_chunk::<8>().map_or(0, |s| flag(word(s)));
                }
            }
        } else {
            if let Some(dst) = dst {
                copy_small(dst, src);
            }
            // Under eight bytes: two overlapping halves (4..7 bytes), or first, middle
            // and last (1..3 bytes), which cover every byte.
            let w = match (src.first_chunk::<4>(), src.last_chunk::<4>()) {
                (Some(a), Some(b)) => {
                    u64::from(u32::from_le_bytes(*a)) | u64::from(u32::from_le_bytes(*b)) << 32
                }
                _ => {
                    let n = src.len();
                    let at = |i: usize| src.get(i).copied().unwrap_or(pad);
                    let (first, mid, last) = if n == 0 {
                        (pad, pad, pad)
                    } else {
                        (at(0), at(n / 2), at(n - 1))
                    };
                    u64::from_le_bytes([first, mid, last, pad, pad, pad, pad, pad])
                }
            };
            seen |= flag(w);
        }
        self.at = end;
        seen
    }

    /// Write all `N` bytes of `src` (where there is room for them), but count only the
    /// first `n`: a fixed-size copy, for pieces of varying length up to `N`.
    #[cfg_attr(not(rmq_size_opt), inline(always))]
    #[cfg_attr(rmq_size_opt, inline)]
    pub(crate) fn put_prefix<const N: usize>(&mut self, src: &[u8; N], n: usize) {
        if let Some(dst) = self
            .buf
            .get_mut(self.at..)
            .and_then(|d| d.first_chunk_mut::<N>())
        {
            *dst = *src;
            self.at += n.min(N);
        } else {
            self.put(src.get(..n).unwrap_or(src));
        }
    }
}

/// `dst.copy_from_slice(src)` for slices of the same length, without a call into
/// `memcpy` for the short strings header fields mostly are: two overlapping
/// fixed-size copies instead.
#[cfg_attr(not(rmq_size_opt), inline(always))]
#[cfg_attr(rmq_size_opt, inline)]
pub(crate) fn copy_small(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if n != dst.len() {
        return;
    }
    if n > 16 {
        dst.copy_from_slice(src);
    } else if n >= 8 {
        if let (Some(d), Some(s)) = (dst.first_chunk_mut::<8>(), src.first_chunk::<8>()) {
            *d = *s;
        }
        if let (Some(d), Some(s)) = (dst.last_chunk_mut::<8>(), src.last_chunk::<8>()) {
            *d = *s;
        }
    } else if n >= 4 {
        if let (Some(d), Some(s)) = (dst.first_chunk_mut::<4>(), src.first_chunk::<4>()) {
            *d = *s;
        }
        if let (Some(d), Some(s)) = (dst.last_chunk_mut::<4>(), src.last_chunk::<4>()) {
            *d = *s;
        }
    } else if n > 0 {
        // 1 to 3 bytes: first, middle and last cover them all.
        for i in [0, n / 2, n - 1] {
            if let (Some(d), Some(s)) = (dst.get_mut(i), src.get(i)) {
                *d = *s;
            }
        }
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
