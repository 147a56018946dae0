//! The SEND_BATCH_MESSAGE body (messages.md §3.2): one entry per message, back to back.
//!
//! | field | size |
//! |---|---|
//! | TOTALSIZE | i32, whole entry |
//! | MAGICCODE | i32, `0` |
//! | BODYCRC | i32, `0` (the broker computes it) |
//! | FLAG | i32 |
//! | BODYLEN + BODY | i32 + bytes |
//! | PROPLEN + PROPERTIES | i16 + UTF-8 (§1.1) |
//!
//! The same layout forms the body of an inner-batch stored record (§2.6).
//!
//! ```
//! use rocketmq_proto::message::{decode_batch, BatchEntry, PropertiesView};
//! let entries = [
//!     BatchEntry { flag: 0, body: b"m1", properties: PropertiesView::new("KEYS\u{1}k1\u{2}") },
//!     BatchEntry { flag: 0, body: b"m2", properties: PropertiesView::new("") },
//! ];
//! let mut buf = [0u8; 56];
//! let n = rocketmq_proto::message::encode_batch(&mut buf, &entries).unwrap();
//! assert_eq!(n, 56);
//! let back: Vec<_> = decode_batch(&buf).collect::<Result<_, _>>().unwrap();
//! assert_eq!(back, entries);
//! ```

use super::properties::{PropertiesView, MAX_PROPERTIES_LEN};
use super::reader::Reader;
use crate::error::{DecodeError, EncodeError};
use crate::out::{Out, SliceOut};

/// Bytes of an entry besides its body and properties (five i32 + the i16 PROPLEN).
pub const BATCH_ENTRY_OVERHEAD: usize = 22;

/// One message of a batch body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchEntry<'a> {
    /// The message's user flag.
    pub flag: i32,
    /// The raw body (batches are never compressed).
    pub body: &'a [u8],
    /// This message's own properties (its `UNIQ_KEY`, `TAGS`, `KEYS`, `WAIT` …).
    pub properties: PropertiesView<'a>,
}

impl BatchEntry<'_> {
    /// TOTALSIZE of this entry, or an error if a length does not fit its wire width
    /// (properties over [`MAX_PROPERTIES_LEN`], entry over `i32::MAX`).
    pub fn encoded_len(&self) -> Result<usize, EncodeError> {
        let props = self.properties.as_str().len();
        if props > MAX_PROPERTIES_LEN {
            return Err(EncodeError::ValueOutOfRange {
                field: "message properties",
            });
        }
        BATCH_ENTRY_OVERHEAD
            .checked_add(self.body.len())
            .and_then(|n| n.checked_add(props))
            .filter(|&n| n <= i32::MAX as usize)
            .ok_or(EncodeError::ValueOutOfRange {
                field: "batch entry TOTALSIZE",
            })
    }

    /// Write the entry; returns its length. Nothing is written on error.
    pub fn encode(&self, out: &mut impl Out) -> Result<usize, EncodeError> {
        let total = self.encoded_len()?;
        let props = self.properties.as_str().as_bytes();
        out.put_i32(total as i32);
        out.put_i32(0); // MAGICCODE, ignored by the broker
        out.put_i32(0); // BODYCRC, computed by the broker
        out.put_i32(self.flag);
        out.put_i32(self.body.len() as i32);
        out.put(self.body);
        out.put_i16(props.len() as i16);
        out.put(props);
        Ok(total)
    }
}

/// Write every entry to `out`; returns the total length. Entries are validated before
/// anything is written.
pub fn write_batch<'e, 'a: 'e>(
    out: &mut impl Out,
    entries: impl IntoIterator<Item = &'e BatchEntry<'a>> + Clone,
) -> Result<usize, EncodeError> {
    let mut total = 0usize;
    for e in entries.clone() {
        total = total
            .checked_add(e.encoded_len()?)
            .ok_or(EncodeError::ValueOutOfRange {
                field: "batch body",
            })?;
    }
    for e in entries {
        e.encode(out)?;
    }
    Ok(total)
}

/// Encode a batch body into `buf`; `BufferTooSmall { needed }` if it does not fit.
pub fn encode_batch<'e, 'a: 'e>(
    buf: &mut [u8],
    entries: impl IntoIterator<Item = &'e BatchEntry<'a>> + Clone,
) -> Result<usize, EncodeError> {
    let mut o = SliceOut::new(buf);
    write_batch(&mut o, entries)?;
    o.finish()
}

/// Iterate the entries of a batch body.
pub fn decode_batch(body: &[u8]) -> BatchIter<'_> {
    BatchIter {
        rest: body,
        offset: 0,
    }
}

/// Iterator over a batch body, yielding each entry or the first error (then it stops).
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> BatchIter<'a> {
    /// Byte offset of the next entry in the body.
    pub fn offset(&self) -> usize {
        self.offset
    }

    fn decode_one(&mut self) -> Result<BatchEntry<'a>, DecodeError> {
        let mut head = Reader::new(self.rest, self.offset);
        let total = head.len_i32("batch entry TOTALSIZE")?;
        if total < BATCH_ENTRY_OVERHEAD || total > self.rest.len() {
            return Err(DecodeError::InvalidLength {
                what: "batch entry TOTALSIZE",
                length: total as i64,
            });
        }
        let (entry, rest) = self
            .rest
            .split_at_checked(total)
            .unwrap_or((self.rest, &[]));
        let mut r = Reader::new(entry, self.offset);
        r.take(12, "batch entry header")?; // TOTALSIZE, MAGICCODE, BODYCRC
        let flag = r.i32("batch entry FLAG")?;
        let body_len = r.len_i32("batch entry BODYLEN")?;
        let body = r.take(body_len, "batch entry BODY")?;
        let props_len = r.len_i16("batch entry PROPLEN")?;
        let props = r.utf8(props_len, "batch entry PROPERTIES")?;
        if r.remaining() != 0 {
            return Err(DecodeError::InvalidLength {
                what: "batch entry TOTALSIZE",
                length: total as i64,
            });
        }
        self.rest = rest;
        self.offset += total;
        Ok(BatchEntry {
            flag,
            body,
            properties: PropertiesView::new(props),
        })
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<BatchEntry<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.decode_one();
        if r.is_err() {
            self.rest = &[];
        }
        Some(r)
    }
}
