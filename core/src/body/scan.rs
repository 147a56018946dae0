//! Shared pieces of the body decoders and encoders: field readers over [`Scanner`] that
//! treat an explicit `null` like an absent field (fastjson and the Rust servers write
//! both), list readers generic over [`Collections`], and a small JSON object writer.

use core::fmt::Debug;

use crate::collections::{self, Collections};
use crate::error::{DecodeError, EncodeError, JsonError};
use crate::json::{self, Key, Scanner};
use crate::out::{Counter, Out, SliceOut};
use crate::text::Text;

pub(crate) type R<T> = Result<T, DecodeError>;

/// Decode one whole document with `f`; nothing but whitespace may follow it.
pub(crate) fn whole<'a, T>(body: &'a [u8], f: impl FnOnce(&mut Scanner<'a>) -> R<T>) -> R<T> {
    let mut s = Scanner::new(body);
    let v = f(&mut s)?;
    s.finish()?;
    Ok(v)
}

/// Walk the members of an object; `f` must consume each member's value.
pub(crate) fn object<'a>(
    s: &mut Scanner<'a>,
    mut f: impl FnMut(&mut Scanner<'a>, Key<'a>) -> R<()>,
) -> R<()> {
    s.begin_object()?;
    while let Some(key) = s.next_key()? {
        f(s, key)?;
    }
    Ok(())
}

/// Walk the members of an object whose keys must be property names (strings); `f` gets
/// the name and must consume the value.
pub(crate) fn fields<'a>(
    s: &mut Scanner<'a>,
    mut f: impl FnMut(&mut Scanner<'a>, Text<'a>) -> R<()>,
) -> R<()> {
    object(s, |s, key| match key {
        Key::Str(name) => f(s, name),
        // A bean has only named properties; a number/object key cannot name one.
        Key::Number(_) | Key::Object(_) => s.skip_value(),
    })
}

/// A string, or `None` for `null`.
pub(crate) fn text<'a>(s: &mut Scanner<'a>) -> R<Option<Text<'a>>> {
    s.string_or_null()
}

/// An `i32`, or `None` for `null`.
pub(crate) fn i32_or_null(s: &mut Scanner<'_>) -> R<Option<i32>> {
    if s.null()? {
        Ok(None)
    } else {
        s.i32().map(Some)
    }
}

/// An `i64`, or `None` for `null`.
pub(crate) fn i64_or_null(s: &mut Scanner<'_>) -> R<Option<i64>> {
    if s.null()? {
        Ok(None)
    } else {
        s.i64().map(Some)
    }
}

/// A `bool`, or `None` for `null`.
pub(crate) fn bool_or_null(s: &mut Scanner<'_>) -> R<Option<bool>> {
    if s.null()? {
        Ok(None)
    } else {
        s.bool().map(Some)
    }
}

/// An array decoded element by element into a `C::List`; `null` is an empty list (a
/// Java collection field left null is omitted or written as `null`).
pub(crate) fn list<'a, C, T>(
    s: &mut Scanner<'a>,
    what: &'static str,
    mut f: impl FnMut(&mut Scanner<'a>) -> R<T>,
) -> R<C::List<T>>
where
    C: Collections,
    T: Debug + Clone + PartialEq + Eq,
{
    let mut out = C::List::<T>::default();
    if s.null()? {
        return Ok(out);
    }
    s.begin_array()?;
    while s.next_element()? {
        let v = f(s)?;
        collections::push::<C, T>(&mut out, v, what)?;
    }
    Ok(out)
}

/// An array of strings (`null` elements are dropped, as they carry nothing).
pub(crate) fn texts<'a, C: Collections>(
    s: &mut Scanner<'a>,
    what: &'static str,
) -> R<C::List<Text<'a>>> {
    let mut out = C::List::<Text<'a>>::default();
    if s.null()? {
        return Ok(out);
    }
    s.begin_array()?;
    while s.next_element()? {
        if let Some(t) = s.string_or_null()? {
            collections::push::<C, Text<'a>>(&mut out, t, what)?;
        }
    }
    Ok(out)
}

/// A value that must be present and not `null`.
pub(crate) fn required<T>(v: Option<T>, field: &'static str) -> R<T> {
    v.ok_or(DecodeError::MissingField(field))
}

/// A JSON error at the scanner's current position, for a value of the wrong type.
pub(crate) fn wrong_type(s: &Scanner<'_>) -> DecodeError {
    DecodeError::Json {
        offset: s.offset() as u32,
        error: JsonError::WrongType,
    }
}

/// Writes one JSON object member by member. Keys are the crate's own ASCII constants
/// and are written as they are; values are escaped.
pub(crate) struct ObjectWriter<'o, O: Out> {
    out: &'o mut O,
    first: bool,
}

impl<'o, O: Out> ObjectWriter<'o, O> {
    pub(crate) fn begin(out: &'o mut O) -> Self {
        out.put_u8(b'{');
        ObjectWriter { out, first: true }
    }

    /// Write `"key":` and hand out the sink for the value.
    pub(crate) fn key(&mut self, key: &str) -> &mut O {
        if !self.first {
            self.out.put_u8(b',');
        }
        self.first = false;
        self.out.put_u8(b'"');
        self.out.put(key.as_bytes());
        self.out.put(b"\":");
        self.out
    }

    pub(crate) fn text(&mut self, key: &str, v: &Text<'_>) {
        let out = self.key(key);
        json::write_text(out, v);
    }

    pub(crate) fn str(&mut self, key: &str, v: &str) {
        let out = self.key(key);
        json::write_str(out, v);
    }

    pub(crate) fn int(&mut self, key: &str, v: impl itoa::Integer) {
        self.key(key).put_decimal(v);
    }

    pub(crate) fn bool(&mut self, key: &str, v: bool) {
        let lit: &[u8] = if v { b"true" } else { b"false" };
        self.key(key).put(lit);
    }

    /// An array member whose elements `f` writes.
    pub(crate) fn array<T>(&mut self, key: &str, items: &[T], mut f: impl FnMut(&mut O, &T)) {
        let out = self.key(key);
        out.put_u8(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.put_u8(b',');
            }
            f(out, item);
        }
        out.put_u8(b']');
    }

    pub(crate) fn end(self) {
        self.out.put_u8(b'}');
    }
}

/// A body the client sends, written as standard JSON with Java's property names (in
/// fastjson's alphabetical order, so output is deterministic).
///
/// Written by hand rather than with `serde_json_core::to_slice`: string fields are
/// [`Text`]s that may still hold JSON escapes (a decoded body re-encodes by copying),
/// and the [`Out`] sinks report the exact size needed when a buffer is too small.
pub trait EncodeBody {
    /// Write the JSON document.
    fn encode<O: Out>(&self, out: &mut O);

    /// The number of bytes [`encode`](Self::encode) writes.
    fn encoded_len(&self) -> usize {
        let mut c = Counter::default();
        self.encode(&mut c);
        c.0
    }

    /// Write into `buf`; the length written, or `BufferTooSmall { needed }`.
    fn encode_to_slice(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let mut out = SliceOut::new(buf);
        self.encode(&mut out);
        out.finish()
    }

    /// Write into a new `Vec`.
    #[cfg(feature = "alloc")]
    fn to_vec(&self) -> alloc::vec::Vec<u8> {
        let mut v = alloc::vec::Vec::with_capacity(self.encoded_len());
        self.encode(&mut crate::out::BufMutOut(&mut v));
        v
    }
}

/// A body whose type is erased, for code that frames bodies of several types (the
/// engine's requests and replies): each body type then has one `encode` (writing
/// through [`DynOut`]) instead of one per sink, and the framing code exists once.
/// Writes the same bytes as the body itself.
#[derive(Clone, Copy)]
pub(crate) struct ErasedBody<'a>(&'a dyn DynEncodeBody);

impl<'a> ErasedBody<'a> {
    /// Erase the type of `body`.
    pub(crate) fn new<B: EncodeBody>(body: &'a B) -> Self {
        ErasedBody(body)
    }
}

impl EncodeBody for ErasedBody<'_> {
    fn encode<O: Out>(&self, out: &mut O) {
        self.0.encode_dyn(&mut DynOut(out));
    }
}

/// The object-safe form of [`EncodeBody`].
trait DynEncodeBody {
    fn encode_dyn(&self, out: &mut DynOut<'_>);
}

impl<T: EncodeBody> DynEncodeBody for T {
    fn encode_dyn(&self, out: &mut DynOut<'_>) {
        self.encode(out);
    }
}

/// Any [`Out`] behind one type. Not patchable (whatever the sink): encoders then take
/// their measure-first paths, which every sink supports.
pub(crate) struct DynOut<'o>(&'o mut dyn DynSink);

/// The object-safe part of [`Out`] that [`DynOut`] forwards.
trait DynSink {
    fn put_dyn(&mut self, bytes: &[u8]);
    fn spare_dyn(&mut self, max: usize) -> Option<&mut [u8]>;
    fn advance_dyn(&mut self, n: usize);
}

impl<O: Out> DynSink for O {
    fn put_dyn(&mut self, bytes: &[u8]) {
        self.put(bytes);
    }
    fn spare_dyn(&mut self, max: usize) -> Option<&mut [u8]> {
        self.spare(max)
    }
    fn advance_dyn(&mut self, n: usize) {
        self.advance(n);
    }
}

impl Out for DynOut<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.0.put_dyn(bytes);
    }
    fn spare(&mut self, max: usize) -> Option<&mut [u8]> {
        self.0.spare_dyn(max)
    }
    fn advance(&mut self, n: usize) {
        self.0.advance_dyn(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::MessageQueue;

    #[test]
    fn an_erased_body_writes_the_same_bytes() {
        let mq = MessageQueue::new("Topic\"Test", "broker-a", 3);
        let erased = ErasedBody::new(&mq);
        assert_eq!(erased.encoded_len(), mq.encoded_len());
        let (mut a, mut b) = ([0u8; 128], [0u8; 128]);
        let n = mq.encode_to_slice(&mut a).unwrap();
        assert_eq!(erased.encode_to_slice(&mut b).unwrap(), n);
        assert_eq!(a[..n], b[..n]);
        // Too small: the same exact size needed.
        let mut small = [0u8; 8];
        assert_eq!(
            erased.encode_to_slice(&mut small),
            mq.encode_to_slice(&mut [0u8; 8])
        );
    }
}
