//! `extFields`: the string map that carries every command's parameters (wire.md §2.1).
//!
//! Decoding gives an [`ExtFields`] view over the header bytes, validated once; its
//! keys and values are borrowed [`Text`]s. Encoding goes the other way through
//! [`EncodeFields`]: a typed header (or a plain list of pairs, or a decoded
//! `ExtFields`) hands its fields to a [`FieldSink`], which the JSON and binary header
//! encoders implement — so each typed header is written once for both serializations.
//!
//! ```
//! use rocketmq_proto::ext::{EncodeFields, FieldSink, FieldValue};
//! use rocketmq_proto::text::Text;
//!
//! struct Collect(Vec<(String, String)>);
//! impl<'s> FieldSink<'s> for Collect {
//!     fn field(&mut self, key: Text<'s>, value: FieldValue<'s>) {
//!         self.0.push((key.to_string(), value.to_string()));
//!     }
//! }
//! let mut c = Collect(Vec::new());
//! [("topic", "TopicTest")].encode_fields(&mut c);
//! assert_eq!(c.0, [("topic".to_string(), "TopicTest".to_string())]);
//! ```

use core::fmt;

use crate::error::DecodeError;
use crate::json::{FlatObjectIter, JsonSpans, Scanner, SpanIter};
use crate::out::Out;
use crate::text::Text;

/// A field value before it is turned into its wire string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue<'s> {
    /// A string.
    Text(Text<'s>),
    /// A Java `int`, written in decimal.
    I32(i32),
    /// A Java `long`, written in decimal.
    I64(i64),
    /// A Java `boolean`, written `true` / `false`.
    Bool(bool),
}

impl<'s> From<&'s str> for FieldValue<'s> {
    fn from(s: &'s str) -> Self {
        FieldValue::Text(Text::new(s))
    }
}

impl FieldValue<'_> {
    /// Write the wire string (decoded, no JSON escaping).
    pub fn write_plain(&self, out: &mut impl Out) {
        match self {
            FieldValue::Text(t) => match t.as_str() {
                Some(s) => out.put(s.as_bytes()),
                None => {
                    let mut b = [0u8; 4];
                    for c in t.chars() {
                        out.put(c.encode_utf8(&mut b).as_bytes());
                    }
                }
            },
            FieldValue::I32(v) => out.put_decimal(*v),
            FieldValue::I64(v) => out.put_decimal(*v),
            FieldValue::Bool(true) => out.put(b"true"),
            FieldValue::Bool(false) => out.put(b"false"),
        }
    }

    /// Byte length of the wire string.
    pub fn plain_len(&self) -> usize {
        match self {
            FieldValue::Text(t) => t.len(),
            _ => {
                let mut c = crate::out::Counter::default();
                self.write_plain(&mut c);
                c.0
            }
        }
    }
}

impl fmt::Display for FieldValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Text(t) => fmt::Display::fmt(t, f),
            FieldValue::I32(v) => fmt::Display::fmt(v, f),
            FieldValue::I64(v) => fmt::Display::fmt(v, f),
            FieldValue::Bool(v) => fmt::Display::fmt(v, f),
        }
    }
}

/// Receives the fields of a command, in order.
pub trait FieldSink<'s> {
    /// One field.
    fn field(&mut self, key: Text<'s>, value: FieldValue<'s>);
}

/// Something that can be written as `extFields`.
pub trait EncodeFields {
    /// Hand every field to `sink`.
    fn encode_fields<'s, S: FieldSink<'s> + ?Sized>(&'s self, sink: &mut S);

    /// Whether the command has an `extFields` map at all. Java writes `"extFields":{}`
    /// for a command with an (empty) header class and omits the key without one
    /// (wire.md §2.2); [`NoFields`] answers `false`.
    fn has_ext_fields(&self) -> bool {
        true
    }

    /// Whether the type writes its JSON members itself
    /// ([`write_json_members`](Self::write_json_members): a send's header, on the
    /// producer's hot path). `false` (the default): the JSON encoder goes through
    /// [`encode_fields`](Self::encode_fields).
    #[inline]
    fn has_json_writer(&self) -> bool {
        false
    }

    /// The JSON `extFields` members (`"k":"v",…`, no braces) written into `w` (the
    /// output's room, as much as it has) exactly as the field sink would write them;
    /// the bytes written, or `None` if they did not fit (what `w` holds is then
    /// garbage, and the encoder takes the sink). Past the returned length, up to 32
    /// bytes of `w` may be overwritten too (fixed-size copies): the encoder writes the
    /// rest of the header there.
    #[inline]
    fn write_json_members(&self, w: &mut [u8]) -> Option<usize> {
        let _ = w;
        None
    }

    /// Whether the type writes its binary (ROCKETMQ) map entries itself
    /// ([`write_binary_members`](Self::write_binary_members)); `false` by default.
    #[inline]
    fn has_binary_writer(&self) -> bool {
        false
    }

    /// The binary `extFields` entries (`i16 keyLen, key, i32 valueLen, value`, …) written
    /// into `w` exactly as the field sink would write them; the bytes written, or `None`
    /// if they did not fit or a value is a string kept JSON-escaped (the encoder then
    /// takes the sink). As with [`write_json_members`](Self::write_json_members), up to
    /// 32 bytes past the returned length may be overwritten.
    #[inline]
    fn write_binary_members(&self, w: &mut [u8]) -> Option<usize> {
        let _ = w;
        None
    }
}

/// The start of a JSON `extFields` member, `,"key":"`, built at compile time from a wire
/// key known to need no escaping, so writing it is one fixed-size copy
/// ([`json_member`]).
#[cfg(not(rmq_size_opt))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonKey {
    bytes: [u8; JsonKey::ROOM],
    len: usize,
}

#[cfg(not(rmq_size_opt))]
impl JsonKey {
    /// Bytes a member's start takes in the output (all are copied; `len` are kept).
    pub(crate) const ROOM: usize = 32;

    /// `,"key":"`. A key that would need escaping or does not fit fails the build.
    #[allow(clippy::indexing_slicing)] // compile time only: bounds checked by the assert
    pub(crate) const fn new(key: &str) -> JsonKey {
        let k = key.as_bytes();
        let mut i = 0;
        while i < k.len() {
            assert!(
                k[i] >= 0x20 && k[i] != b'"' && k[i] != b'\\',
                "wire key needs escaping"
            );
            i += 1;
        }
        let (bytes, len) = key_piece(b",\"", k, b"\":\"");
        JsonKey { bytes, len }
    }
}

/// `prefix`, `key` and `suffix` back to back at the start of a [`JsonKey::ROOM`]-byte
/// array, and their length, at compile time; past the room the build fails.
#[cfg(not(rmq_size_opt))]
#[allow(clippy::indexing_slicing)] // compile time only: bounds checked by the assert
const fn key_piece(prefix: &[u8], key: &[u8], suffix: &[u8]) -> ([u8; JsonKey::ROOM], usize) {
    let len = prefix.len() + key.len() + suffix.len();
    assert!(len <= JsonKey::ROOM, "wire key too long");
    let mut bytes = [0u8; JsonKey::ROOM];
    let mut at = 0;
    let parts = [prefix, key, suffix];
    let mut p = 0;
    while p < parts.len() {
        let part = parts[p];
        let mut i = 0;
        while i < part.len() {
            bytes[at] = part[i];
            at += 1;
            i += 1;
        }
        p += 1;
    }
    (bytes, len)
}

/// One member, `,"key":"value"` (no comma when `first`), as [`JsonFieldWriter`] writes
/// it. Past the cursor's room pieces are dropped and still counted (the caller checks).
#[cfg(not(rmq_size_opt))]
#[inline(always)]
pub(crate) fn json_member(
    c: &mut crate::out::Cursor<'_>,
    key: &JsonKey,
    first: bool,
    value: FieldValue<'_>,
) {
    if first {
        c.put(key.bytes.get(1..key.len).unwrap_or_default());
    } else {
        c.put_prefix(&key.bytes, key.len);
    }
    let mut digits = itoa::Buffer::new();
    match value {
        FieldValue::Text(t) if t.is_escaped() || t.is_json_clean() => {
            c.put(t.raw().as_bytes());
            c.put(b"\"");
        }
        FieldValue::Text(t) => crate::json::escaped_close_into(c, t.raw().as_bytes()),
        FieldValue::I32(v) => {
            c.put(decimal(v.into(), &mut digits));
            c.put(b"\"");
        }
        FieldValue::I64(v) => {
            c.put(decimal(v, &mut digits));
            c.put(b"\"");
        }
        FieldValue::Bool(true) => c.put(b"true\""),
        FieldValue::Bool(false) => c.put(b"false\""),
    }
}

/// The start of a binary `extFields` entry, `i16 keyLen` then the key, built at compile
/// time, so writing it is one fixed-size copy ([`binary_member`]).
#[cfg(not(rmq_size_opt))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct BinaryKey {
    /// `len` bytes kept of [`JsonKey::ROOM`] copied.
    bytes: [u8; JsonKey::ROOM],
    len: usize,
}

#[cfg(not(rmq_size_opt))]
impl BinaryKey {
    /// `keyLen` (big-endian) and `key`. A key that does not fit fails the build.
    pub(crate) const fn new(key: &str) -> BinaryKey {
        let k = key.as_bytes();
        let (bytes, len) = key_piece(&[(k.len() >> 8) as u8, k.len() as u8], k, b"");
        BinaryKey { bytes, len }
    }
}

/// One binary entry, as [`BinaryFieldWriter`] writes it; `false` (nothing useful
/// written) for a string kept JSON-escaped or longer than an `i32` says. Past the
/// cursor's room pieces are dropped and still counted (the caller checks).
#[cfg(not(rmq_size_opt))]
#[inline(always)]
pub(crate) fn binary_member(
    c: &mut crate::out::Cursor<'_>,
    key: &BinaryKey,
    value: FieldValue<'_>,
) -> bool {
    let mut digits = itoa::Buffer::new();
    let v = match value {
        FieldValue::Text(t) => match t.as_str() {
            Some(s) => s.as_bytes(),
            None => return false,
        },
        FieldValue::I32(v) => decimal(v.into(), &mut digits),
        FieldValue::I64(v) => decimal(v, &mut digits),
        FieldValue::Bool(true) => b"true",
        FieldValue::Bool(false) => b"false",
    };
    let Ok(len) = i32::try_from(v.len()) else {
        return false;
    };
    c.put_prefix(&key.bytes, key.len);
    c.put(&len.to_be_bytes());
    c.put(v);
    true
}

/// [`EncodeFields`] through dynamic dispatch, for code size: encoders generic over the
/// fields type are then built once for every header type instead of once per type (the
/// engine encodes about twenty header types; monomorphized, the JSON, binary and signing
/// paths of each took tens of KiB of a microcontroller's flash). One indirect call per
/// field is the price.
///
/// ```
/// use rocketmq_proto::codes::{RequestCode, SerializeType};
/// use rocketmq_proto::command::{CommandEncoder, Header};
/// use rocketmq_proto::ext::ErasedFields;
/// let fields = [("topic", "T")];
/// let enc = CommandEncoder::new(SerializeType::Json);
/// let h = Header::request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 1);
/// let mut a = [0u8; 256];
/// let mut b = [0u8; 256];
/// let n = enc.encode(&mut a, &h, &fields[..], b"").unwrap();
/// let m = enc.encode(&mut b, &h, &ErasedFields::new(&&fields[..]), b"").unwrap();
/// assert_eq!(a[..n], b[..m]);
/// ```
#[derive(Clone, Copy)]
pub struct ErasedFields<'a>(&'a dyn DynEncodeFields);

impl<'a> ErasedFields<'a> {
    /// Erase the type of `fields` (an unsized one, such as a slice of pairs, is
    /// passed by reference: `&&pairs[..]`).
    pub fn new<F: EncodeFields>(fields: &'a F) -> Self {
        ErasedFields(fields)
    }
}

impl core::fmt::Debug for ErasedFields<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ErasedFields")
    }
}

impl EncodeFields for ErasedFields<'_> {
    fn encode_fields<'s, S: FieldSink<'s> + ?Sized>(&'s self, sink: &mut S) {
        self.0.encode_fields_dyn(&mut Forward(sink));
    }
    fn has_ext_fields(&self) -> bool {
        self.0.has_ext_fields_dyn()
    }
    // Size builds leave the JSON fast path out of the erased encoder (flash).
    #[cfg(not(rmq_size_opt))]
    fn has_json_writer(&self) -> bool {
        self.0.has_json_writer_dyn()
    }
    #[cfg(not(rmq_size_opt))]
    fn write_json_members(&self, w: &mut [u8]) -> Option<usize> {
        self.0.write_json_members_dyn(w)
    }
    #[cfg(not(rmq_size_opt))]
    fn has_binary_writer(&self) -> bool {
        self.0.has_binary_writer_dyn()
    }
    #[cfg(not(rmq_size_opt))]
    fn write_binary_members(&self, w: &mut [u8]) -> Option<usize> {
        self.0.write_binary_members_dyn(w)
    }
}

/// The object-safe form of [`EncodeFields`].
trait DynEncodeFields {
    fn encode_fields_dyn<'s>(&'s self, sink: &mut dyn FieldSink<'s>);
    fn has_ext_fields_dyn(&self) -> bool;
    #[cfg(not(rmq_size_opt))]
    fn has_json_writer_dyn(&self) -> bool;
    #[cfg(not(rmq_size_opt))]
    fn write_json_members_dyn(&self, w: &mut [u8]) -> Option<usize>;
    #[cfg(not(rmq_size_opt))]
    fn has_binary_writer_dyn(&self) -> bool;
    #[cfg(not(rmq_size_opt))]
    fn write_binary_members_dyn(&self, w: &mut [u8]) -> Option<usize>;
}

impl<T: EncodeFields> DynEncodeFields for T {
    fn encode_fields_dyn<'s>(&'s self, sink: &mut dyn FieldSink<'s>) {
        self.encode_fields(sink)
    }
    fn has_ext_fields_dyn(&self) -> bool {
        self.has_ext_fields()
    }
    #[cfg(not(rmq_size_opt))]
    fn has_json_writer_dyn(&self) -> bool {
        self.has_json_writer()
    }
    #[cfg(not(rmq_size_opt))]
    fn write_json_members_dyn(&self, w: &mut [u8]) -> Option<usize> {
        self.write_json_members(w)
    }
    #[cfg(not(rmq_size_opt))]
    fn has_binary_writer_dyn(&self) -> bool {
        self.has_binary_writer()
    }
    #[cfg(not(rmq_size_opt))]
    fn write_binary_members_dyn(&self, w: &mut [u8]) -> Option<usize> {
        self.write_binary_members(w)
    }
}

/// A sized sink forwarding to a possibly unsized one (so it can become `dyn`).
struct Forward<'a, S: ?Sized>(&'a mut S);

impl<'s, S: FieldSink<'s> + ?Sized> FieldSink<'s> for Forward<'_, S> {
    fn field(&mut self, key: Text<'s>, value: FieldValue<'s>) {
        self.0.field(key, value)
    }
}

/// No `extFields` at all (e.g. GET_BROKER_CLUSTER_INFO).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoFields;

impl EncodeFields for NoFields {
    fn encode_fields<'s, S: FieldSink<'s> + ?Sized>(&'s self, _: &mut S) {}
    fn has_ext_fields(&self) -> bool {
        false
    }
}

/// An empty `extFields` map (`{}`), as Java sends for HEART_BEAT and LOCK_BATCH_MQ.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmptyFields;

impl EncodeFields for EmptyFields {
    fn encode_fields<'s, S: FieldSink<'s> + ?Sized>(&'s self, _: &mut S) {}
}

impl<'p> EncodeFields for [(&'p str, &'p str)] {
    fn encode_fields<'s, S: FieldSink<'s> + ?Sized>(&'s self, sink: &mut S) {
        for (k, v) in self {
            sink.field(Text::new(k), FieldValue::Text(Text::new(v)));
        }
    }
}

impl<'p, const N: usize> EncodeFields for [(&'p str, &'p str); N] {
    fn encode_fields<'s, S: FieldSink<'s> + ?Sized>(&'s self, sink: &mut S) {
        self.as_slice().encode_fields(sink)
    }
}

impl<'p> EncodeFields for [(&'p str, FieldValue<'p>)] {
    fn encode_fields<'s, S: FieldSink<'s> + ?Sized>(&'s self, sink: &mut S) {
        for (k, v) in self {
            sink.field(Text::new(k), *v);
        }
    }
}

impl<T: EncodeFields + ?Sized> EncodeFields for &T {
    fn encode_fields<'s, S: FieldSink<'s> + ?Sized>(&'s self, sink: &mut S) {
        (**self).encode_fields(sink)
    }
    fn has_ext_fields(&self) -> bool {
        (**self).has_ext_fields()
    }
    fn has_json_writer(&self) -> bool {
        (**self).has_json_writer()
    }
    fn write_json_members(&self, w: &mut [u8]) -> Option<usize> {
        (**self).write_json_members(w)
    }
    fn has_binary_writer(&self) -> bool {
        (**self).has_binary_writer()
    }
    fn write_binary_members(&self, w: &mut [u8]) -> Option<usize> {
        (**self).write_binary_members(w)
    }
}

/// Both field sets, first `A` then `B` (e.g. a typed header plus `bname`, or plus the
/// ACL fields).
impl<A: EncodeFields, B: EncodeFields> EncodeFields for (A, B) {
    fn encode_fields<'s, S: FieldSink<'s> + ?Sized>(&'s self, sink: &mut S) {
        self.0.encode_fields(sink);
        self.1.encode_fields(sink);
    }
    fn has_ext_fields(&self) -> bool {
        self.0.has_ext_fields() || self.1.has_ext_fields()
    }
}

/// Decoding a typed header from `extFields`.
pub trait DecodeFields<'a>: Sized {
    /// Decode; a missing required field is [`DecodeError::MissingField`].
    fn decode_fields(fields: &ExtFields<'a>) -> Result<Self, DecodeError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repr<'a> {
    /// A validated JSON object's text, `{` … `}`, whether it is compact, and where its
    /// entries lie (see `Scanner::flat_object`; both functions of the text, so equality
    /// is unchanged).
    Json(&'a str, bool, JsonSpans),
    /// A validated binary map (entries back to back) that is UTF-8 as a whole, with
    /// every key and value on a character boundary: its strings are sliced out without
    /// checking them again. The common case: with every length below 128, the length
    /// fields are ASCII.
    BinaryText(&'a str),
    /// A validated binary map that is not UTF-8 as a whole (a length field holds a byte
    /// of 0x80 or more): each string is checked again as it is read.
    Binary(&'a [u8]),
}

/// A validated, borrowed `extFields` map.
///
/// Iteration yields fields in wire order. A JSON `null` value and (as in Java) an empty
/// binary value count as absent. [`get`](ExtFields::get) returns the last occurrence of
/// a key, as a Java `HashMap` would keep it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ExtFields<'a> {
    repr: Repr<'a>,
}

impl<'a> ExtFields<'a> {
    /// An empty map.
    pub const EMPTY: ExtFields<'static> = ExtFields {
        repr: Repr::Binary(&[]),
    };

    /// Validate a JSON object as an `extFields` map: string keys; string, number,
    /// boolean or null values. The scanner must be positioned at the `{`.
    pub(crate) fn from_json(s: &mut Scanner<'a>) -> Result<Self, DecodeError> {
        let (text, compact, spans) = s.flat_object()?;
        Ok(ExtFields {
            repr: Repr::Json(text, compact, spans),
        })
    }

    /// Validate a binary map of exactly `bytes.len()` bytes.
    pub(crate) fn from_binary(bytes: &'a [u8], base_offset: usize) -> Result<Self, DecodeError> {
        // One UTF-8 check of the whole map instead of one per string (twice, when the
        // fields are then read): a whole that is UTF-8 makes each string UTF-8 exactly
        // when it starts and ends on a character boundary, which slicing checks.
        let text = core::str::from_utf8(bytes).ok();
        let mut pos = 0usize;
        while pos < bytes.len() {
            let entry = binary_entry(bytes, pos).ok_or_else(|| match entry_error(bytes, pos) {
                DecodeError::Truncated { what, .. } => DecodeError::Truncated {
                    what,
                    offset: (base_offset + pos) as u32,
                },
                other => other,
            })?;
            match text {
                Some(t) => {
                    if t.get(entry.key.clone()).is_none() {
                        return Err(DecodeError::InvalidUtf8 {
                            what: "extFields key",
                        });
                    }
                    if t.get(entry.value.clone()).is_none() {
                        return Err(DecodeError::InvalidUtf8 {
                            what: "extFields value",
                        });
                    }
                }
                None => {
                    utf8(bytes, entry.key.clone(), "extFields key")?;
                    utf8(bytes, entry.value.clone(), "extFields value")?;
                }
            }
            pos = entry.end;
        }
        Ok(ExtFields {
            repr: match text {
                Some(t) => Repr::BinaryText(t),
                None => Repr::Binary(bytes),
            },
        })
    }

    /// The fields in wire order.
    pub fn iter(&self) -> ExtIter<'a> {
        match self.repr {
            Repr::Json(doc, _, spans) if spans.is_complete() => {
                ExtIter(IterRepr::Spans(spans.iter(doc)))
            }
            Repr::Json(doc, compact, _) => {
                ExtIter(IterRepr::Json(FlatObjectIter::new(doc, compact)))
            }
            Repr::BinaryText(t) => {
                ExtIter(IterRepr::BinaryText(BinaryTextIter { text: t, pos: 0 }))
            }
            Repr::Binary(b) => ExtIter(IterRepr::Binary(BinaryIter { bytes: b, pos: 0 })),
        }
    }

    /// The value of `key` (its last occurrence).
    pub fn get(&self, key: &str) -> Option<Text<'a>> {
        self.iter()
            .filter(|(k, _)| *k == key)
            .last()
            .map(|(_, v)| v)
    }

    /// Call `f` with each field in wire order, stopping at its first error: what
    /// [`iter`](Self::iter) gives, iterated inside. Speed builds pick the map's form
    /// once and run one loop per form with `f` inlined into it, so each field reaches
    /// `f` in registers; an `ExtIter` item, merged from its four forms, comes back
    /// through memory, in stores that the next wide load cannot forward from (a stall
    /// per field: half of a send response's `decode_fields` time).
    ///
    /// ```
    /// use rocketmq_proto::codes::{RequestCode, SerializeType};
    /// use rocketmq_proto::command::{Command, CommandEncoder, Header};
    /// use rocketmq_proto::frame::{Decoded, FrameDecoder};
    /// let mut buf = [0u8; 256];
    /// let h = Header::request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 1);
    /// let fields = [("topic", "T"), ("queueId", "3")];
    /// let n = CommandEncoder::new(SerializeType::Json)
    ///     .encode(&mut buf, &h, &fields[..], b"")
    ///     .unwrap();
    /// let Ok(Decoded::Frame { frame, .. }) = FrameDecoder::new().decode(&buf[..n]) else {
    ///     unreachable!()
    /// };
    /// let cmd = Command::decode(frame).unwrap();
    /// let mut queue_id = None;
    /// cmd.fields()
    ///     .try_for_each(|k, v| {
    ///         if k == "queueId" {
    ///             queue_id = Some(v.parse_i32().ok_or("queueId")?);
    ///         }
    ///         Ok::<(), &str>(())
    ///     })
    ///     .unwrap();
    /// assert_eq!(queue_id, Some(3));
    /// ```
    #[cfg_attr(not(rmq_size_opt), inline(always))]
    #[cfg_attr(rmq_size_opt, inline)]
    pub fn try_for_each<E>(
        &self,
        mut f: impl FnMut(Text<'a>, Text<'a>) -> Result<(), E>,
    ) -> Result<(), E> {
        #[cfg(not(rmq_size_opt))]
        match self.iter().0 {
            IterRepr::Spans(mut it) => it.try_for_each(|(k, v)| f(k, v)),
            IterRepr::Json(mut it) => it.try_for_each(|(k, v)| f(k, v)),
            IterRepr::BinaryText(mut it) => it.try_for_each(|(k, v)| f(k, v)),
            IterRepr::Binary(mut it) => it.try_for_each(|(k, v)| f(k, v)),
        }
        #[cfg(rmq_size_opt)]
        self.iter().try_for_each(|(k, v)| f(k, v))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Decode a typed header from these fields.
    pub fn decode<H: DecodeFields<'a>>(&self) -> Result<H, DecodeError> {
        H::decode_fields(self)
    }

    /// Whether the map came from a JSON header.
    pub fn is_json(&self) -> bool {
        matches!(self.repr, Repr::Json(..))
    }
}

impl fmt::Debug for ExtFields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl EncodeFields for ExtFields<'_> {
    fn encode_fields<'s, S: FieldSink<'s> + ?Sized>(&'s self, sink: &mut S) {
        for (k, v) in self.iter() {
            sink.field(k, FieldValue::Text(v));
        }
    }
}

/// Iterator over [`ExtFields`].
#[derive(Debug, Clone)]
pub struct ExtIter<'a>(IterRepr<'a>);

#[derive(Debug, Clone)]
enum IterRepr<'a> {
    Spans(SpanIter<'a>),
    Json(FlatObjectIter<'a>),
    BinaryText(BinaryTextIter<'a>),
    Binary(BinaryIter<'a>),
}

impl<'a> Iterator for ExtIter<'a> {
    type Item = (Text<'a>, Text<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Spans(it) => it.next(),
            IterRepr::Json(it) => it.next(),
            IterRepr::BinaryText(it) => it.next(),
            IterRepr::Binary(it) => it.next(),
        }
    }
}

/// Where one binary map entry's key and value lie, and where the next entry starts.
struct BinaryEntry {
    key: core::ops::Range<usize>,
    value: core::ops::Range<usize>,
    end: usize,
}

/// The entry at `pos`: `i16 keyLen, key, i32 valueLen, value`, or `None` where a
/// length is negative or runs past the map ([`entry_error`] says which). The strings
/// are not looked at.
#[cfg_attr(not(rmq_size_opt), inline(always))]
#[cfg_attr(rmq_size_opt, inline)]
fn binary_entry(bytes: &[u8], pos: usize) -> Option<BinaryEntry> {
    let kl = i16::from_be_bytes(*bytes.get(pos..)?.first_chunk::<2>()?);
    let key = pos + 2..pos + 2 + usize::try_from(kl).ok()?;
    let vl = i32::from_be_bytes(*bytes.get(key.end..)?.first_chunk::<4>()?);
    let start = key.end + 4;
    let value = start..start.checked_add(usize::try_from(vl).ok()?)?;
    if value.end > bytes.len() {
        return None;
    }
    Some(BinaryEntry {
        key,
        end: value.end,
        value,
    })
}

/// Why [`binary_entry`] found no entry at `pos`.
#[cold]
fn entry_error(bytes: &[u8], pos: usize) -> DecodeError {
    let truncated = |what| DecodeError::Truncated { what, offset: 0 };
    let Some(kl) = bytes.get(pos..).and_then(|b| b.first_chunk::<2>()) else {
        return truncated("extFields key length");
    };
    let kl = i16::from_be_bytes(*kl);
    if kl < 0 {
        return DecodeError::InvalidLength {
            what: "extFields key",
            length: kl.into(),
        };
    }
    let key_end = pos + 2 + kl as usize;
    if key_end > bytes.len() {
        return truncated("extFields key");
    }
    let Some(vl) = bytes.get(key_end..).and_then(|b| b.first_chunk::<4>()) else {
        return truncated("extFields value length");
    };
    let vl = i32::from_be_bytes(*vl);
    if vl < 0 {
        return DecodeError::InvalidLength {
            what: "extFields value",
            length: vl.into(),
        };
    }
    truncated("extFields value")
}

fn utf8<'a>(
    bytes: &'a [u8],
    range: core::ops::Range<usize>,
    what: &'static str,
) -> Result<&'a str, DecodeError> {
    bytes
        .get(range)
        .and_then(|b| core::str::from_utf8(b).ok())
        .ok_or(DecodeError::InvalidUtf8 { what })
}

/// Over a [`Repr::BinaryText`] map. Entries with an empty key or value are skipped
/// (Java reads those as null and drops them). On anything unexpected — impossible for
/// a validated map — it ends instead of panicking.
#[derive(Debug, Clone)]
struct BinaryTextIter<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for BinaryTextIter<'a> {
    type Item = (Text<'a>, Text<'a>);

    #[cfg_attr(not(rmq_size_opt), inline(always))]
    #[cfg_attr(rmq_size_opt, inline)]
    fn next(&mut self) -> Option<Self::Item> {
        while self.pos < self.text.len() {
            let Some(e) = binary_entry(self.text.as_bytes(), self.pos) else {
                break;
            };
            self.pos = e.end;
            let (Some(k), Some(v)) = (self.text.get(e.key), self.text.get(e.value)) else {
                break;
            };
            if !k.is_empty() && !v.is_empty() {
                return Some((Text::new(k), Text::new(v)));
            }
        }
        self.pos = self.text.len();
        None
    }
}

/// Over a [`Repr::Binary`] map, checking each string as it is read.
#[derive(Debug, Clone)]
struct BinaryIter<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for BinaryIter<'a> {
    type Item = (Text<'a>, Text<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        while self.pos < self.bytes.len() {
            let Some(e) = binary_entry(self.bytes, self.pos) else {
                break;
            };
            self.pos = e.end;
            let (Ok(k), Ok(v)) = (utf8(self.bytes, e.key, ""), utf8(self.bytes, e.value, ""))
            else {
                break;
            };
            if !k.is_empty() && !v.is_empty() {
                return Some((Text::new(k), Text::new(v)));
            }
        }
        self.pos = self.bytes.len();
        None
    }
}

/// The decimal form of `v`: single digits (most header numbers: queue ids, flags,
/// counts) straight from a table, the rest through `itoa`.
#[cfg_attr(not(rmq_size_opt), inline(always))]
#[cfg_attr(rmq_size_opt, inline)]
fn decimal(v: i64, digits: &mut itoa::Buffer) -> &[u8] {
    const DIGITS: &[u8; 10] = b"0123456789";
    match usize::try_from(v) {
        Ok(d) if d < 10 => DIGITS.get(d..=d).unwrap_or_default(),
        _ => digits.format(v).as_bytes(),
    }
}

/// A field value's wire string when it needs no JSON escaping, formatted into
/// `digits` for numbers; `None` for a string that needs escaping (or is kept escaped).
#[cfg_attr(not(rmq_size_opt), inline(always))]
#[cfg_attr(rmq_size_opt, inline)]
fn clean_value<'v>(value: &FieldValue<'v>, digits: &'v mut itoa::Buffer) -> Option<&'v [u8]> {
    match *value {
        FieldValue::Text(t) => t
            .as_str()
            .map(str::as_bytes)
            .filter(|b| crate::json::is_clean(b)),
        FieldValue::I32(v) => Some(decimal(v.into(), digits)),
        FieldValue::I64(v) => Some(decimal(v, digits)),
        FieldValue::Bool(true) => Some(b"true"),
        FieldValue::Bool(false) => Some(b"false"),
    }
}

/// Writes fields as the inside of a JSON object: `"k":"v","k2":"v2"`.
pub(crate) struct JsonFieldWriter<'o, O: Out> {
    pub out: &'o mut O,
    pub first: bool,
}

impl<'s, O: Out> FieldSink<'s> for JsonFieldWriter<'_, O> {
    #[cfg_attr(not(rmq_size_opt), inline(always))]
    #[cfg_attr(rmq_size_opt, inline)]
    fn field(&mut self, key: Text<'s>, value: FieldValue<'s>) {
        let comma = !self.first;
        self.first = false;
        // The common case in one piece: a plain key and a value that needs no escaping
        // (every key and number, most strings).
        let mut digits = itoa::Buffer::new();
        let plain_key = if key.is_json_clean() {
            Some(key.raw().as_bytes())
        } else {
            key.as_str()
                .map(str::as_bytes)
                .filter(|k| crate::json::is_clean(k))
        };
        if let (Some(k), Some(v)) = (plain_key, clean_value(&value, &mut digits)) {
            let n = usize::from(comma) + k.len() + v.len() + 5;
            if let Some(buf) = self.out.spare(n) {
                let mut c = crate::out::Cursor::new(buf);
                c.put(if comma { b",\"" } else { b"\"" });
                c.put(k);
                c.put(b"\":\"");
                c.put(v);
                c.put(b"\"");
                self.out.advance(n);
                return;
            }
        }
        if comma {
            self.out.put_u8(b',');
        }
        crate::json::write_text(self.out, &key);
        self.out.put_u8(b':');
        match value {
            FieldValue::Text(t) => crate::json::write_text(self.out, &t),
            other => {
                // Numbers and booleans are strings in extFields: `"queueId":"3"`.
                self.out.put_u8(b'"');
                other.write_plain(self.out);
                self.out.put_u8(b'"');
            }
        }
    }
}

/// Writes fields as binary map entries: `i16 keyLen, key, i32 valueLen, value`, and
/// notes a key or value too long for its length field.
pub(crate) struct BinaryFieldWriter<'o, O: Out> {
    pub out: &'o mut O,
    pub too_long: bool,
}

impl<'s, O: Out> FieldSink<'s> for BinaryFieldWriter<'_, O> {
    #[cfg_attr(not(rmq_size_opt), inline(always))]
    #[cfg_attr(rmq_size_opt, inline)]
    fn field(&mut self, key: Text<'s>, value: FieldValue<'s>) {
        let mut digits = itoa::Buffer::new();
        let plain = match value {
            FieldValue::Text(t) => t.as_str().map(str::as_bytes),
            FieldValue::I32(v) => Some(decimal(v.into(), &mut digits)),
            FieldValue::I64(v) => Some(decimal(v, &mut digits)),
            FieldValue::Bool(true) => Some(&b"true"[..]),
            FieldValue::Bool(false) => Some(&b"false"[..]),
        };
        if let (Some(k), Some(v)) = (key.as_str().map(str::as_bytes), plain) {
            let (Ok(kl), Ok(vl)) = (i16::try_from(k.len()), i32::try_from(v.len())) else {
                self.too_long = true;
                return;
            };
            let n = 6 + k.len() + v.len();
            if let Some(buf) = self.out.spare(n) {
                let mut c = crate::out::Cursor::new(buf);
                c.put(&kl.to_be_bytes());
                c.put(k);
                c.put(&vl.to_be_bytes());
                c.put(v);
                self.out.advance(n);
            } else {
                self.out.put_i16(kl);
                self.out.put(k);
                self.out.put_i32(vl);
                self.out.put(v);
            }
            return;
        }
        // A key or value decoded from JSON with escapes: written decoded.
        let key = FieldValue::Text(key);
        let (Ok(kl), Ok(vl)) = (
            i16::try_from(key.plain_len()),
            i32::try_from(value.plain_len()),
        ) else {
            self.too_long = true;
            return;
        };
        self.out.put_i16(kl);
        key.write_plain(self.out);
        self.out.put_i32(vl);
        value.write_plain(self.out);
    }
}

/// Measures the binary map and checks every length fits its wire width.
pub(crate) struct BinaryFieldLen {
    pub len: usize,
    pub too_long: bool,
}

impl<'s> FieldSink<'s> for BinaryFieldLen {
    fn field(&mut self, key: Text<'s>, value: FieldValue<'s>) {
        let kl = key.len();
        let vl = value.plain_len();
        if kl > i16::MAX as usize || vl > i32::MAX as usize {
            self.too_long = true;
        }
        self.len = self.len.saturating_add(6 + kl + vl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_map_validates_and_drops_empty_values() {
        // "a" => "1", "b" => "" (dropped), "" => "x" (dropped)
        let bytes = [
            0, 1, b'a', 0, 0, 0, 1, b'1', 0, 1, b'b', 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, b'x',
        ];
        let f = ExtFields::from_binary(&bytes, 0).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f.get("a").unwrap(), "1");
        assert!(f.get("b").is_none());
        assert!(matches!(
            ExtFields::from_binary(&bytes[..5], 0),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(matches!(
            ExtFields::from_binary(&[0xff, 0xff], 0),
            Err(DecodeError::InvalidLength { .. })
        ));
    }

    /// The whole-map UTF-8 check must not let a string through that is not UTF-8 on its
    /// own: here the key's length (195 = 0x00C3) and the key's first byte (0xA9) form
    /// `é` together, so the map is UTF-8 as a whole while the key starts mid-character.
    #[test]
    fn binary_strings_are_utf8_on_their_own() {
        let mut map = [0u8; 2 + 195 + 4 + 1];
        map[1] = 0xC3;
        map[2] = 0xA9;
        for b in &mut map[3..2 + 195] {
            *b = b'k';
        }
        map[2 + 195 + 3] = 1;
        map[2 + 195 + 4] = b'v';
        assert!(core::str::from_utf8(&map).is_ok());
        assert_eq!(
            ExtFields::from_binary(&map, 0),
            Err(DecodeError::InvalidUtf8 {
                what: "extFields key"
            })
        );
        // A value of 200 bytes: its length field (0x000000C8) is not UTF-8, so the map
        // is read field by field; both ways give the same fields.
        let mut long = [0u8; 2 + 1 + 4 + 200 + 2 + 1 + 4 + 1];
        long[1] = 1;
        long[2] = b'a';
        long[6] = 200;
        for b in &mut long[7..207] {
            *b = b'x';
        }
        long[208] = 1;
        long[209] = b'b';
        long[213] = 1;
        long[214] = b'y';
        let f = ExtFields::from_binary(&long, 0).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f.get("a").unwrap().len(), 200);
        assert_eq!(f.get("b").unwrap(), "y");
        long[10] = 0xff;
        assert_eq!(
            ExtFields::from_binary(&long, 0),
            Err(DecodeError::InvalidUtf8 {
                what: "extFields value"
            })
        );
    }

    /// The fields as [`ExtFields::try_for_each`] gives them; and it stops at the first
    /// error `f` returns.
    #[cfg(feature = "alloc")]
    fn each_field(f: &ExtFields<'_>) -> std::vec::Vec<(std::string::String, std::string::String)> {
        let mut got = std::vec::Vec::new();
        f.try_for_each(|k, v| {
            got.push((k.to_string_lossless(), v.to_string_lossless()));
            Ok::<(), ()>(())
        })
        .unwrap();
        let mut calls = 0;
        assert_eq!(
            f.try_for_each(|_, _| {
                calls += 1;
                Err(calls)
            }),
            if got.is_empty() { Ok(()) } else { Err(1) }
        );
        got
    }

    #[cfg(feature = "alloc")]
    mod flat_object {
        extern crate std;
        use super::*;
        use proptest::prelude::*;
        use std::string::String;
        use std::vec::Vec;

        proptest::proptest! {
            /// The lean iterator over validated maps agrees with what was written, for any
            /// strings (escapes included), scalars, nulls and whitespace between tokens.
            #[test]
            fn validated_json_map_iterates_exactly(
                entries in proptest::collection::vec(
                    (".{0,12}", proptest::option::of(proptest::prop_oneof![
                        ".{0,12}".prop_map(|s| (s, true)),
                        "-?[0-9]{1,6}|true|false".prop_map(|s| (s, false)),
                    ])),
                    0..12, // past JsonSpans::CAP too: iterated by scanning then
                ),
                ws in proptest::collection::vec(proptest::sample::select(&["", " ", "\n\t ", "\r"][..]), 64),
            ) {
                let mut doc = Vec::new();
                let mut w = ws.iter().cycle();
                let mut sp = |d: &mut Vec<u8>| d.extend_from_slice(w.next().unwrap().as_bytes());
                let mut expected: Vec<(String, String)> = Vec::new();
                sp(&mut doc);
                doc.push(b'{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    sp(&mut doc);
                    if i > 0 {
                        doc.push(b',');
                        sp(&mut doc);
                    }
                    crate::json::write_str(&mut crate::out::BufMutOut(&mut doc), k);
                    sp(&mut doc);
                    doc.push(b':');
                    sp(&mut doc);
                    match v {
                        None => doc.extend_from_slice(b"null"),
                        Some((s, true)) => {
                            crate::json::write_str(&mut crate::out::BufMutOut(&mut doc), s);
                            expected.push((k.clone(), s.clone()));
                        }
                        Some((s, false)) => {
                            doc.extend_from_slice(s.as_bytes());
                            expected.push((k.clone(), s.clone()));
                        }
                    }
                }
                sp(&mut doc);
                doc.push(b'}');
                let f = ExtFields::from_json(&mut Scanner::new(&doc)).unwrap();
                let got: Vec<(String, String)> = f
                    .iter()
                    .map(|(k, v)| (k.to_string_lossless(), v.to_string_lossless()))
                    .collect();
                prop_assert_eq!(&got, &expected);
                prop_assert_eq!(super::each_field(&f), got);
            }
        }
    }

    #[cfg(feature = "alloc")]
    mod binary_map {
        extern crate std;
        use super::*;
        use proptest::prelude::*;
        use std::string::String;
        use std::vec::Vec;

        proptest::proptest! {
            /// A binary map reads back as its non-empty entries in order, whether they
            /// fit the recorded spans (up to eight) or are walked again (more), and
            /// whether the map is UTF-8 as a whole or is checked string by string (a
            /// length of 128 or more).
            #[test]
            fn binary_maps_read_back_their_non_empty_entries(
                entries in proptest::collection::vec(
                    (
                        proptest::prop_oneof!["", "[a-z]{1,8}", "\\PC{1,6}"],
                        proptest::prop_oneof!["", "[a-z0-9]{1,12}", "\\PC{1,6}", "x{128,140}"],
                    ),
                    0..12,
                ),
            ) {
                let mut map = Vec::new();
                for (k, v) in &entries {
                    map.extend_from_slice(&(k.len() as i16).to_be_bytes());
                    map.extend_from_slice(k.as_bytes());
                    map.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    map.extend_from_slice(v.as_bytes());
                }
                let f = ExtFields::from_binary(&map, 0).unwrap();
                let got: Vec<(String, String)> = f
                    .iter()
                    .map(|(k, v)| (k.to_string_lossless(), v.to_string_lossless()))
                    .collect();
                let want: Vec<(String, String)> = entries
                    .iter()
                    .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                    .cloned()
                    .collect();
                prop_assert_eq!(&got, &want);
                prop_assert_eq!(&super::each_field(&f), &want);
                prop_assert_eq!(f.len(), want.len());
                for (k, _) in &want {
                    let last = want.iter().rev().find(|(k2, _)| k2 == k).unwrap();
                    prop_assert_eq!(f.get(k).map(|v| v.to_string_lossless()), Some(last.1.clone()));
                }
            }
        }
    }

    #[test]
    fn json_map_accepts_scalars_and_null() {
        let doc = br#"{"a":"x","n":5,"b":true,"z":null,"a":"y"}"#;
        let mut s = Scanner::new(doc);
        let f = ExtFields::from_json(&mut s).unwrap();
        assert_eq!(f.get("a").unwrap(), "y");
        assert_eq!(f.get("n").unwrap(), "5");
        assert_eq!(f.get("b").unwrap(), "true");
        assert!(f.get("z").is_none());
        assert_eq!(f.len(), 4);
        let bad = br#"{"a":["x"]}"#;
        assert!(ExtFields::from_json(&mut Scanner::new(bad)).is_err());
    }
}
