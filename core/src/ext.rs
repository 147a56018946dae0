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

use crate::error::{DecodeError, JsonError};
use crate::json::{FlatObjectIter, Key, Scanner};
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
}

/// The object-safe form of [`EncodeFields`].
trait DynEncodeFields {
    fn encode_fields_dyn<'s>(&'s self, sink: &mut dyn FieldSink<'s>);
    fn has_ext_fields_dyn(&self) -> bool;
}

impl<T: EncodeFields> DynEncodeFields for T {
    fn encode_fields_dyn<'s>(&'s self, sink: &mut dyn FieldSink<'s>) {
        self.encode_fields(sink)
    }
    fn has_ext_fields_dyn(&self) -> bool {
        self.has_ext_fields()
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
    /// A validated JSON object's text, `{` … `}`.
    Json(&'a str),
    /// A validated binary map (entries back to back).
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
        let start = {
            // Position of the `{` after whitespace.
            s.peek()?;
            s.offset()
        };
        s.begin_object()?;
        while let Some(key) = s.next_key()? {
            if !matches!(key, Key::Str(_)) {
                return Err(DecodeError::Json {
                    offset: s.offset() as u32,
                    error: JsonError::WrongType,
                });
            }
            match s.peek()? {
                crate::json::Kind::Object | crate::json::Kind::Array => {
                    return Err(DecodeError::Json {
                        offset: s.offset() as u32,
                        error: JsonError::WrongType,
                    })
                }
                _ => s.skip_value()?,
            }
        }
        let text = s
            .text_between(start, s.offset())
            .ok_or(DecodeError::InvalidUtf8 { what: "extFields" })?;
        Ok(ExtFields {
            repr: Repr::Json(text),
        })
    }

    /// Validate a binary map of exactly `bytes.len()` bytes.
    pub(crate) fn from_binary(bytes: &'a [u8], base_offset: usize) -> Result<Self, DecodeError> {
        let mut it = BinaryIter { rest: bytes };
        let mut consumed = 0;
        while !it.rest.is_empty() {
            let before = it.rest.len();
            it.next_entry().map_err(|e| match e {
                DecodeError::Truncated { what, offset } => DecodeError::Truncated {
                    what,
                    offset: offset + (base_offset + consumed) as u32,
                },
                other => other,
            })?;
            consumed += before - it.rest.len();
        }
        Ok(ExtFields {
            repr: Repr::Binary(bytes),
        })
    }

    /// The fields in wire order.
    pub fn iter(&self) -> ExtIter<'a> {
        match self.repr {
            Repr::Json(doc) => ExtIter(IterRepr::Json(FlatObjectIter::new(doc))),
            Repr::Binary(b) => ExtIter(IterRepr::Binary(BinaryIter { rest: b })),
        }
    }

    /// The value of `key` (its last occurrence).
    pub fn get(&self, key: &str) -> Option<Text<'a>> {
        self.iter()
            .filter(|(k, _)| *k == key)
            .last()
            .map(|(_, v)| v)
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
        matches!(self.repr, Repr::Json(_))
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
    Json(FlatObjectIter<'a>),
    Binary(BinaryIter<'a>),
}

impl<'a> Iterator for ExtIter<'a> {
    type Item = (Text<'a>, Text<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Json(it) => it.next(),
            IterRepr::Binary(it) => loop {
                if it.rest.is_empty() {
                    return None;
                }
                match it.next_entry() {
                    Ok(Some(kv)) => return Some(kv),
                    Ok(None) => continue,
                    Err(_) => {
                        it.rest = &[];
                        return None;
                    }
                }
            },
        }
    }
}

#[derive(Debug, Clone)]
struct BinaryIter<'a> {
    rest: &'a [u8],
}

impl<'a> BinaryIter<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.rest.len() {
            return Err(DecodeError::Truncated { what, offset: 0 });
        }
        let (a, b) = self.rest.split_at(n);
        self.rest = b;
        Ok(a)
    }

    /// One entry; `None` for an entry with an empty key or value (Java reads those as
    /// null and drops them).
    fn next_entry(&mut self) -> Result<Option<(Text<'a>, Text<'a>)>, DecodeError> {
        let kl = i16::from_be_bytes(self.take(2, "extFields key length")?.try_into().map_err(
            |_| DecodeError::Truncated {
                what: "extFields key length",
                offset: 0,
            },
        )?);
        if kl < 0 {
            return Err(DecodeError::InvalidLength {
                what: "extFields key",
                length: kl.into(),
            });
        }
        let key = self.take(kl as usize, "extFields key")?;
        let vl = i32::from_be_bytes(self.take(4, "extFields value length")?.try_into().map_err(
            |_| DecodeError::Truncated {
                what: "extFields value length",
                offset: 0,
            },
        )?);
        if vl < 0 {
            return Err(DecodeError::InvalidLength {
                what: "extFields value",
                length: vl.into(),
            });
        }
        let value = self.take(vl as usize, "extFields value")?;
        let key = core::str::from_utf8(key).map_err(|_| DecodeError::InvalidUtf8 {
            what: "extFields key",
        })?;
        let value = core::str::from_utf8(value).map_err(|_| DecodeError::InvalidUtf8 {
            what: "extFields value",
        })?;
        if key.is_empty() || value.is_empty() {
            return Ok(None);
        }
        Ok(Some((Text::new(key), Text::new(value))))
    }
}

/// Writes fields as the inside of a JSON object: `"k":"v","k2":"v2"`.
pub(crate) struct JsonFieldWriter<'o, O: Out> {
    pub out: &'o mut O,
    pub first: bool,
}

impl<'s, O: Out> FieldSink<'s> for JsonFieldWriter<'_, O> {
    fn field(&mut self, key: Text<'s>, value: FieldValue<'s>) {
        if !self.first {
            self.out.put_u8(b',');
        }
        self.first = false;
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

/// Writes fields as binary map entries: `i16 keyLen, key, i32 valueLen, value`.
pub(crate) struct BinaryFieldWriter<'o, O: Out> {
    pub out: &'o mut O,
}

impl<'s, O: Out> FieldSink<'s> for BinaryFieldWriter<'_, O> {
    fn field(&mut self, key: Text<'s>, value: FieldValue<'s>) {
        let key = FieldValue::Text(key);
        // Lengths beyond the wire widths are rejected by `binary_fields_len` first.
        self.out.put_i16(key.plain_len() as i16);
        key.write_plain(self.out);
        self.out.put_i32(value.plain_len() as i32);
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
                    0..8,
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
                prop_assert_eq!(got, expected);
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
