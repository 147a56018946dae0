//! The RemotingCommand: header fields, `extFields` and body (wire.md §2–§3), in both
//! serializations.
//!
//! Decode with [`Command::decode`] from a [`Frame`]; encode with a [`CommandEncoder`]
//! into a caller's slice (or, with `alloc`, any `bytes::BufMut`).
//!
//! ```
//! use rocketmq_proto::codes::{RequestCode, SerializeType};
//! use rocketmq_proto::command::{Command, CommandEncoder, Header};
//! use rocketmq_proto::frame::{Decoded, FrameDecoder};
//!
//! let mut buf = [0u8; 256];
//! let header = Header::request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 7);
//! let n = CommandEncoder::new(SerializeType::Json)
//!     .encode(&mut buf, &header, &[("topic", "TopicTest")], b"")
//!     .unwrap();
//!
//! let Decoded::Frame { frame, consumed } = FrameDecoder::new().decode(&buf[..n]).unwrap() else {
//!     panic!("complete frame expected")
//! };
//! assert_eq!(consumed, n);
//! let cmd = Command::decode(frame).unwrap();
//! assert_eq!(cmd.header.code, 105);
//! assert_eq!(cmd.header.opaque, 7);
//! assert_eq!(cmd.fields().get("topic").unwrap(), "TopicTest");
//! ```

use crate::codes::{version, LanguageCode, RequestCode, ResponseCode, SerializeType};
use crate::error::{DecodeError, EncodeError, JsonError};
use crate::ext::{
    BinaryFieldLen, BinaryFieldWriter, DecodeFields, EncodeFields, ExtFields, JsonFieldWriter,
};
use crate::frame::{self, Frame, DEFAULT_MAX_FRAME, PREFIX_LEN};
use crate::json::Scanner;
use crate::out::{Counter, Out, SliceOut};
use crate::text::Text;

/// `flag` bit 0: the command is a response.
pub const FLAG_RESPONSE: i32 = 0x1;
/// `flag` bit 1: a oneway request (no response will come).
pub const FLAG_ONEWAY: i32 = 0x2;

/// Minimum binary header: code, language, version, opaque, flag, remark length, map length.
pub const BINARY_HEADER_MIN: usize = 21;

/// The fixed header fields of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Request code (requests) or response code (responses).
    pub code: i32,
    /// The sender's language.
    pub language: LanguageCode,
    /// The sender's version ordinal.
    pub version: i32,
    /// Request id, echoed by the response.
    pub opaque: i32,
    /// [`FLAG_RESPONSE`] | [`FLAG_ONEWAY`].
    pub flag: i32,
    /// Free text; the error message of a failed response.
    pub remark: Option<Text<'a>>,
}

impl<'a> Header<'a> {
    /// A two-way request from this client (language RUST, version V5_3_3).
    pub const fn request(code: RequestCode, opaque: i32) -> Self {
        Header {
            code: code.0,
            language: LanguageCode::RUST,
            version: version::CURRENT,
            opaque,
            flag: 0,
            remark: None,
        }
    }

    /// A response to the request with `opaque`.
    pub const fn response(code: ResponseCode, opaque: i32) -> Self {
        Header {
            code: code.0,
            language: LanguageCode::RUST,
            version: version::CURRENT,
            opaque,
            flag: FLAG_RESPONSE,
            remark: None,
        }
    }

    /// Mark as oneway.
    pub const fn oneway(mut self) -> Self {
        self.flag |= FLAG_ONEWAY;
        self
    }

    /// Set the remark.
    pub const fn with_remark(mut self, remark: &'a str) -> Self {
        self.remark = Some(Text::new(remark));
        self
    }

    /// Whether this is a response (flag bit 0).
    pub const fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    /// Whether this is a oneway request (flag bit 1).
    pub const fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    /// The code read as a request code.
    pub const fn request_code(&self) -> RequestCode {
        RequestCode(self.code)
    }

    /// The code read as a response code.
    pub const fn response_code(&self) -> ResponseCode {
        ResponseCode(self.code)
    }
}

/// A decoded command, borrowing from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command<'a> {
    /// The fixed header fields.
    pub header: Header<'a>,
    /// `extFields`; `None` when the header had none (JSON key absent or `null`).
    pub ext_fields: Option<ExtFields<'a>>,
    /// How the header was serialized.
    pub serialize_type: SerializeType,
    /// The body.
    pub body: &'a [u8],
}

impl<'a> Command<'a> {
    /// Decode a frame's header (either serialization) and attach its body.
    // Inline in speed builds: called, the command came back through memory and its
    // caller's copy of it stalled on store-to-load forwarding (a send response's binary
    // decode took a quarter longer).
    #[cfg_attr(not(rmq_size_opt), inline(always))]
    pub fn decode(frame: Frame<'a>) -> Result<Self, DecodeError> {
        let (header, ext_fields) = match frame.serialize_type {
            SerializeType::Json => decode_json_header(frame.header)?,
            SerializeType::RocketMq => decode_binary_header(frame.header)?,
        };
        Ok(Command {
            header,
            ext_fields,
            serialize_type: frame.serialize_type,
            body: frame.body,
        })
    }

    /// The ext fields, empty if there were none.
    pub fn fields(&self) -> ExtFields<'a> {
        self.ext_fields.unwrap_or(ExtFields::EMPTY)
    }

    /// Decode the ext fields as a typed header.
    pub fn decode_fields<H: DecodeFields<'a>>(&self) -> Result<H, DecodeError> {
        H::decode_fields(&self.fields())
    }
}

fn json_err(offset: usize, error: JsonError) -> DecodeError {
    DecodeError::Json {
        offset: offset as u32,
        error,
    }
}

/// Decode a JSON header (wire.md §2.2), leniently: keys in any order, unknown keys
/// ignored, `null` accepted wherever a value may be absent.
pub fn decode_json_header(
    bytes: &[u8],
) -> Result<(Header<'_>, Option<ExtFields<'_>>), DecodeError> {
    // Speed builds try the compact form every client and broker writes first.
    #[cfg(not(rmq_size_opt))]
    if let Some(decoded) = core::str::from_utf8(bytes)
        .ok()
        .and_then(compact_json_header)
    {
        return decoded;
    }
    general_json_header(bytes)
}

/// A JSON header's values for absent keys: Java's defaults.
const JSON_HEADER_DEFAULTS: Header<'static> = Header {
    code: 0,
    language: LanguageCode::JAVA,
    version: 0,
    opaque: 0,
    flag: 0,
    remark: None,
};

/// [`decode_json_header`] for any form.
fn general_json_header(bytes: &[u8]) -> Result<(Header<'_>, Option<ExtFields<'_>>), DecodeError> {
    let mut s = Scanner::new(bytes);
    let mut h = JSON_HEADER_DEFAULTS;
    let mut ext = None;
    s.begin_object()?;
    let mut first = true;
    while let Some((key, escaped)) = s.member(first)? {
        first = false;
        // Known keys are plain ASCII; an escaped key cannot be one of them.
        let key: &[u8] = if escaped { b"" } else { key };
        match key {
            b"code" => h.code = nullable_i32(&mut s)?,
            b"flag" => h.flag = nullable_i32(&mut s)?,
            b"opaque" => h.opaque = nullable_i32(&mut s)?,
            b"version" => h.version = nullable_i32(&mut s)?,
            b"language" => {
                if let Some(l) = s.string_or_null()? {
                    h.language = match l.as_str() {
                        Some(name) => LanguageCode::from_name(name),
                        None => LanguageCode::OTHER,
                    };
                }
            }
            b"remark" => h.remark = s.string_or_null()?,
            b"extFields" => {
                ext = if s.null()? {
                    None
                } else {
                    Some(ExtFields::from_json(&mut s)?)
                }
            }
            _ => s.skip_value()?,
        }
    }
    s.finish()?;
    Ok((h, ext))
}

/// The header members [`compact_json_header`] knows, by the bytes after the key's
/// opening quote up to its colon.
#[cfg(not(rmq_size_opt))]
#[derive(Clone, Copy)]
enum Member {
    Code,
    Flag,
    Opaque,
    Version,
    Language,
    Remark,
    ExtFields,
    SerializeType,
}

#[cfg(not(rmq_size_opt))]
impl Member {
    /// The member whose key starts `rest` (just past its opening quote), and the bytes
    /// of `key":` that name it.
    #[inline(always)]
    fn at(rest: &[u8]) -> Option<(Member, usize)> {
        // Each key's bytes compared whole, in its own arm: with the length known there,
        // LLVM makes it a few integer compares instead of a call to `memcmp`.
        macro_rules! key {
            ($member:expr, $key:literal) => {
                rest.starts_with($key).then_some(($member, $key.len()))
            };
        }
        match rest.first()? {
            b'c' => key!(Member::Code, b"code\":"),
            b'f' => key!(Member::Flag, b"flag\":"),
            b'o' => key!(Member::Opaque, b"opaque\":"),
            b'v' => key!(Member::Version, b"version\":"),
            b'l' => key!(Member::Language, b"language\":"),
            b'r' => key!(Member::Remark, b"remark\":"),
            b'e' => key!(Member::ExtFields, b"extFields\":"),
            b's' => key!(Member::SerializeType, b"serializeTypeCurrentRPC\":"),
            _ => None,
        }
    }
}

/// [`decode_json_header`] for the compact form: known keys only, no whitespace, no
/// escape in the header's own strings, integers of plain digits in `i32` range, the
/// document ending at its `}`. What it decodes is exactly what the general path decodes
/// from the same text; anything else (an unknown key, `null` where a value may be, an
/// error) is `None`, and the general path then reads the header from the start. The
/// members are found by their key bytes instead of scanning each key and matching it:
/// this is every response's path.
#[cfg(not(rmq_size_opt))]
fn compact_json_header(
    text: &str,
) -> Option<Result<(Header<'_>, Option<ExtFields<'_>>), DecodeError>> {
    let b = text.as_bytes();
    let mut h = JSON_HEADER_DEFAULTS;
    let mut ext = None;
    if b.first() != Some(&b'{') {
        return None;
    }
    let mut i = 1usize;
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let (member, key_len) = Member::at(b.get(i + 1..)?)?;
            i += 1 + key_len;
            match member {
                Member::Code | Member::Flag | Member::Opaque | Member::Version => {
                    let (v, end) = compact_i32(b, i)?;
                    i = end;
                    match member {
                        Member::Code => h.code = v,
                        Member::Flag => h.flag = v,
                        Member::Opaque => h.opaque = v,
                        _ => h.version = v,
                    }
                }
                Member::Language => {
                    let (name, end) = compact_string(text, i)?;
                    h.language = LanguageCode::from_name(name);
                    i = end;
                }
                Member::Remark => {
                    if b.get(i..i + 4) == Some(b"null") {
                        h.remark = None;
                        i += 4;
                    } else {
                        let (remark, end) = compact_string(text, i)?;
                        h.remark = Some(Text::json(remark, false));
                        i = end;
                    }
                }
                Member::ExtFields if b.get(i..i + 4) == Some(b"null") => {
                    ext = None;
                    i += 4;
                }
                Member::ExtFields => {
                    if b.get(i) != Some(&b'{') {
                        return None;
                    }
                    // The object as the general path reads it (depth 1: inside the
                    // header), errors included.
                    let mut s = Scanner::resume(text, i, 1);
                    match ExtFields::from_json(&mut s) {
                        Ok(fields) => ext = Some(fields),
                        Err(e) => return Some(Err(e)),
                    }
                    i = s.offset();
                }
                Member::SerializeType => i = compact_string(text, i)?.1,
            }
            let (next, end) = crate::json::after_compact_member(b, i)?;
            i = next;
            if end {
                break;
            }
        }
    }
    (i == b.len()).then_some(Ok((h, ext)))
}

/// A compact JSON integer at `i` (`-?[0-9]{1,18}` followed by `,` or `}`) in `i32`
/// range, and where it ends.
#[cfg(not(rmq_size_opt))]
#[inline(always)]
fn compact_i32(b: &[u8], mut i: usize) -> Option<(i32, usize)> {
    let neg = b.get(i) == Some(&b'-');
    i += usize::from(neg);
    let start = i;
    let mut v: i64 = 0;
    while let Some(d) = b.get(i).map(|d| d.wrapping_sub(b'0')).filter(|d| *d <= 9) {
        // Eighteen digits cannot overflow an i64; a longer number takes the general path.
        if i - start == 18 {
            return None;
        }
        v = v * 10 + i64::from(d);
        i += 1;
    }
    if i == start || !matches!(b.get(i), Some(b',' | b'}')) {
        return None;
    }
    let v = i32::try_from(if neg { -v } else { v }).ok()?;
    Some((v, i))
}

/// A compact JSON string at `i` (quoted, no escape), its content, and where it ends.
#[cfg(not(rmq_size_opt))]
#[inline(always)]
fn compact_string(text: &str, i: usize) -> Option<(&str, usize)> {
    let b = text.as_bytes();
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let len = crate::json::find_special(b.get(start..)?, false);
    let end = start + len;
    if b.get(end) != Some(&b'"') {
        return None; // an escape, or no end
    }
    Some((text.get(start..end)?, end + 1))
}

/// A JSON integer in `i32` range, `null` read as 0 (Java's default).
fn nullable_i32(s: &mut Scanner<'_>) -> Result<i32, DecodeError> {
    let start = s.offset();
    match s.nullable_integer()? {
        None => Ok(0),
        Some(v) => i32::try_from(v).map_err(|_| json_err(start, JsonError::InvalidNumber)),
    }
}

/// Decode a binary (ROCKETMQ) header (wire.md §2.3).
pub fn decode_binary_header(
    bytes: &[u8],
) -> Result<(Header<'_>, Option<ExtFields<'_>>), DecodeError> {
    let Some(fixed) = bytes.first_chunk::<17>() else {
        return Err(DecodeError::Truncated {
            what: "binary header",
            offset: bytes.len() as u32,
        });
    };
    let code = i16::from_be_bytes([fixed[0], fixed[1]]);
    let language = LanguageCode(fixed[2]);
    let version = i16::from_be_bytes([fixed[3], fixed[4]]);
    let opaque = i32::from_be_bytes([fixed[5], fixed[6], fixed[7], fixed[8]]);
    let flag = i32::from_be_bytes([fixed[9], fixed[10], fixed[11], fixed[12]]);
    let remark_len = i32::from_be_bytes([fixed[13], fixed[14], fixed[15], fixed[16]]);
    let mut pos = 17usize;
    let remark_bytes = take_len(bytes, &mut pos, remark_len, "remark")?;
    let remark = if remark_bytes.is_empty() {
        None
    } else {
        Some(Text::new(
            core::str::from_utf8(remark_bytes)
                .map_err(|_| DecodeError::InvalidUtf8 { what: "remark" })?,
        ))
    };
    let map_len_bytes = bytes
        .get(pos..pos + 4)
        .and_then(|b| b.first_chunk::<4>())
        .ok_or(DecodeError::Truncated {
            what: "extFields length",
            offset: pos as u32,
        })?;
    let map_len = i32::from_be_bytes(*map_len_bytes);
    pos += 4;
    let map_start = pos;
    let map = take_len(bytes, &mut pos, map_len, "extFields")?;
    let ext = if map.is_empty() {
        None
    } else {
        Some(ExtFields::from_binary(map, map_start)?)
    };
    Ok((
        Header {
            code: code.into(),
            language,
            version: version.into(),
            opaque,
            flag,
            remark,
        },
        ext,
    ))
}

fn take_len<'a>(
    bytes: &'a [u8],
    pos: &mut usize,
    len: i32,
    what: &'static str,
) -> Result<&'a [u8], DecodeError> {
    if len < 0 {
        return Err(DecodeError::InvalidLength {
            what,
            length: len.into(),
        });
    }
    let end = pos.saturating_add(len as usize);
    let s = bytes.get(*pos..end).ok_or(DecodeError::Truncated {
        what,
        offset: *pos as u32,
    })?;
    *pos = end;
    Ok(s)
}

/// Encodes commands as whole frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandEncoder {
    serialize_type: SerializeType,
    max_frame: u32,
}

impl CommandEncoder {
    /// An encoder for the given header serialization, with the 16 MiB frame limit.
    pub const fn new(serialize_type: SerializeType) -> Self {
        CommandEncoder {
            serialize_type,
            max_frame: DEFAULT_MAX_FRAME,
        }
    }

    /// Refuse to produce frames larger than `max_frame` bytes.
    pub const fn with_max_frame(mut self, max_frame: u32) -> Self {
        self.max_frame = max_frame;
        self
    }

    /// The header serialization.
    pub const fn serialize_type(&self) -> SerializeType {
        self.serialize_type
    }

    /// Encode one frame into `out`; returns the bytes written.
    ///
    /// On a short buffer, `BufferTooSmall { needed }` gives the exact size.
    pub fn encode<F: EncodeFields + ?Sized>(
        &self,
        out: &mut [u8],
        header: &Header<'_>,
        fields: &F,
        body: &[u8],
    ) -> Result<usize, EncodeError> {
        let mut o = SliceOut::new(out);
        o.put(&[0u8; PREFIX_LEN]); // patched below, once the header length is known
        self.write_header(&mut o, header, fields)?;
        let header_len = o.position() - PREFIX_LEN;
        o.put(body);
        let p = self.prefix(header_len, body.len())?;
        o.patch(0, &p);
        o.finish()
    }

    /// Encode one frame onto any `BufMut`; returns the bytes written.
    #[cfg(feature = "alloc")]
    pub fn encode_to<B: bytes::BufMut, F: EncodeFields + ?Sized>(
        &self,
        buf: &mut B,
        header: &Header<'_>,
        fields: &F,
        body: &[u8],
    ) -> Result<usize, EncodeError> {
        let header_len = self.header_len(header, fields)?;
        let p = self.prefix(header_len, body.len())?;
        let total = PREFIX_LEN + header_len + body.len();
        if buf.remaining_mut() < total {
            return Err(EncodeError::BufferTooSmall { needed: total });
        }
        let mut o = crate::out::BufMutOut(buf);
        o.put(&p);
        self.write_header(&mut o, header, fields)?;
        o.put(body);
        Ok(total)
    }

    /// The encoded header length (without prefix and body).
    pub fn header_len<F: EncodeFields + ?Sized>(
        &self,
        header: &Header<'_>,
        fields: &F,
    ) -> Result<usize, EncodeError> {
        let mut c = Counter::default();
        self.write_header(&mut c, header, fields)?;
        Ok(c.0)
    }

    /// The whole encoded frame's length.
    pub fn frame_len<F: EncodeFields + ?Sized>(
        &self,
        header: &Header<'_>,
        fields: &F,
        body: &[u8],
    ) -> Result<usize, EncodeError> {
        Ok(PREFIX_LEN + self.header_len(header, fields)? + body.len())
    }

    fn prefix(&self, header_len: usize, body_len: usize) -> Result<[u8; PREFIX_LEN], EncodeError> {
        let size = PREFIX_LEN + header_len + body_len;
        if size > self.max_frame as usize {
            return Err(EncodeError::FrameTooLarge {
                size,
                limit: self.max_frame,
            });
        }
        frame::prefix(self.serialize_type, header_len, body_len)
            .ok_or(EncodeError::ValueOutOfRange { field: "length" })
    }

    /// Write just the header bytes.
    pub fn write_header<O: Out, F: EncodeFields + ?Sized>(
        &self,
        out: &mut O,
        header: &Header<'_>,
        fields: &F,
    ) -> Result<(), EncodeError> {
        match self.serialize_type {
            SerializeType::Json => {
                write_json_header(out, header, fields);
                Ok(())
            }
            SerializeType::RocketMq => write_binary_header(out, header, fields),
        }
    }
}

/// Write a JSON header exactly as Java does: alphabetical top-level keys,
/// `serializeTypeCurrentRPC` always, `remark` only when present, `extFields` when the
/// command has a header class.
pub fn write_json_header<O: Out, F: EncodeFields + ?Sized>(
    out: &mut O,
    header: &Header<'_>,
    fields: &F,
) {
    out.put(b"{\"code\":");
    out.put_decimal(header.code);
    if fields.has_ext_fields() {
        out.put(b",\"extFields\":{");
        // A type's own writer where it has one and the sink offers room in place.
        let fast = if fields.has_json_writer() {
            out.spare_rest().and_then(|w| fields.write_json_members(w))
        } else {
            None
        };
        match fast {
            Some(n) => out.advance(n),
            None => {
                let mut w = JsonFieldWriter {
                    out: &mut *out,
                    first: true,
                };
                fields.encode_fields(&mut w);
            }
        }
        out.put_u8(b'}');
    }
    out.put(b",\"flag\":");
    out.put_decimal(header.flag);
    out.put(b",\"language\":\"");
    out.put(header.language.json_name().as_bytes());
    out.put(b"\",\"opaque\":");
    out.put_decimal(header.opaque);
    if let Some(r) = &header.remark {
        out.put(b",\"remark\":");
        crate::json::write_text(out, r);
    }
    out.put(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    out.put_decimal(header.version);
    out.put_u8(b'}');
}

/// Write a binary (ROCKETMQ) header.
pub fn write_binary_header<O: Out, F: EncodeFields + ?Sized>(
    out: &mut O,
    header: &Header<'_>,
    fields: &F,
) -> Result<(), EncodeError> {
    let code =
        i16::try_from(header.code).map_err(|_| EncodeError::ValueOutOfRange { field: "code" })?;
    let version = i16::try_from(header.version)
        .map_err(|_| EncodeError::ValueOutOfRange { field: "version" })?;
    let remark = header.remark.map(crate::ext::FieldValue::Text);
    let remark_len = remark.map_or(0, |r| r.plain_len());
    let remark_len =
        i32::try_from(remark_len).map_err(|_| EncodeError::ValueOutOfRange { field: "remark" })?;
    let too_long = EncodeError::ValueOutOfRange { field: "extFields" };
    // Where the sink can patch, the map is written once and its length filled in after;
    // elsewhere it is measured first.
    let map_len = if O::PATCHABLE {
        0
    } else {
        let mut m = BinaryFieldLen {
            len: 0,
            too_long: false,
        };
        fields.encode_fields(&mut m);
        if m.too_long {
            return Err(too_long);
        }
        i32::try_from(m.len).map_err(|_| too_long)?
    };
    out.put_i16(code);
    out.put_u8(header.language.0);
    out.put_i16(version);
    out.put_i32(header.opaque);
    out.put_i32(header.flag);
    out.put_i32(remark_len);
    if let Some(r) = remark {
        r.write_plain(out);
    }
    let map_at = out.written();
    out.put_i32(map_len);
    // A type's own writer where it has one and the sink offers room in place (and can
    // patch the map's length: the writer does not measure first).
    #[cfg(not(rmq_size_opt))]
    let own = if O::PATCHABLE && fields.has_binary_writer() {
        out.spare_rest()
            .and_then(|w| fields.write_binary_members(w))
    } else {
        None
    };
    #[cfg(rmq_size_opt)]
    let own: Option<usize> = None;
    match own {
        Some(n) => out.advance(n),
        None => {
            let mut w = BinaryFieldWriter {
                out: &mut *out,
                too_long: false,
            };
            fields.encode_fields(&mut w);
            if w.too_long {
                return Err(too_long);
            }
        }
    }
    if O::PATCHABLE {
        let written = out.written().saturating_sub(map_at + 4);
        let map_len = i32::try_from(written).map_err(|_| too_long)?;
        out.patch(map_at, &map_len.to_be_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::{EmptyFields, NoFields};

    #[test]
    fn json_header_shape_matches_java() {
        let mut buf = [0u8; 256];
        let h = Header::request(RequestCode::HEART_BEAT, 3);
        let n = CommandEncoder::new(SerializeType::Json)
            .encode(&mut buf, &h, &EmptyFields, b"")
            .unwrap();
        assert_eq!(
            core::str::from_utf8(&buf[8..n]).unwrap(),
            r#"{"code":34,"extFields":{},"flag":0,"language":"RUST","opaque":3,"serializeTypeCurrentRPC":"JSON","version":479}"#
        );
        let n = CommandEncoder::new(SerializeType::Json)
            .encode(&mut buf, &h.with_remark("x"), &NoFields, b"")
            .unwrap();
        assert_eq!(
            core::str::from_utf8(&buf[8..n]).unwrap(),
            r#"{"code":34,"flag":0,"language":"RUST","opaque":3,"remark":"x","serializeTypeCurrentRPC":"JSON","version":479}"#
        );
    }

    #[test]
    fn binary_rejects_codes_over_16_bits() {
        let mut buf = [0u8; 64];
        let h = Header::request(RequestCode::POP_MESSAGE, 1);
        assert_eq!(
            CommandEncoder::new(SerializeType::RocketMq).encode(&mut buf, &h, &NoFields, b""),
            Err(EncodeError::ValueOutOfRange { field: "code" })
        );
    }

    #[test]
    fn short_buffer_reports_exact_size() {
        let h = Header::request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 7);
        let enc = CommandEncoder::new(SerializeType::RocketMq);
        let need = enc.frame_len(&h, &[("topic", "TopicTest")], b"").unwrap();
        assert_eq!(need, 49);
        let mut small = [0u8; 10];
        assert_eq!(
            enc.encode(&mut small, &h, &[("topic", "TopicTest")], b""),
            Err(EncodeError::BufferTooSmall { needed: 49 })
        );
    }

    #[test]
    fn frame_limit_applies_to_encoding() {
        let h = Header::request(RequestCode::SEND_MESSAGE_V2, 1);
        let enc = CommandEncoder::new(SerializeType::Json).with_max_frame(64);
        let mut buf = [0u8; 256];
        assert!(matches!(
            enc.encode(&mut buf, &h, &NoFields, &[0u8; 100]),
            Err(EncodeError::FrameTooLarge { .. })
        ));
    }

    /// The JSON headers of the recorded frames (JSON ones; the prefix and body cut off).
    #[cfg(all(not(rmq_size_opt), feature = "alloc"))]
    fn captured_json_headers() -> alloc::vec::Vec<alloc::vec::Vec<u8>> {
        let hex = [
            include_str!("../tests/data/captures/send-v2-request.hex"),
            include_str!("../tests/data/captures/send-v2-response.hex"),
            include_str!("../tests/data/captures/route-request.hex"),
            include_str!("../tests/data/captures/route-response.hex"),
            include_str!("../tests/data/captures/heartbeat-request.hex"),
            include_str!("../tests/data/captures/heartbeat-response.hex"),
            include_str!("../tests/data/captures/pull-request.hex"),
            include_str!("../tests/data/captures/pull-response.hex"),
        ];
        hex.iter()
            .map(|h| {
                let h = h.trim();
                let bytes: alloc::vec::Vec<u8> = (0..h.len() / 2)
                    .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
                    .collect();
                let header_len = u32::from_be_bytes(bytes[4..8].try_into().unwrap()) & 0xFF_FFFF;
                bytes[8..8 + header_len as usize].to_vec()
            })
            .collect()
    }

    #[cfg(all(not(rmq_size_opt), feature = "alloc"))]
    #[test]
    fn recorded_and_encoded_headers_take_the_compact_path_and_decode_as_the_general_one() {
        let mut headers = captured_json_headers();
        // Our own encoder's requests and responses.
        let mut buf = [0u8; 512];
        let enc = CommandEncoder::new(SerializeType::Json);
        let mut h = Header::request(RequestCode::SEND_MESSAGE_V2, 1_234_567_890);
        h.remark = Some(Text::new("ok ✓"));
        for (h, fields) in [
            (Header::request(RequestCode::HEART_BEAT, 3), &[][..]),
            (h, &[("a", "1"), ("topic", "T")][..]),
            (
                Header::response(ResponseCode::SUCCESS, -7),
                &[("queueId", "2")][..],
            ),
        ] {
            let n = enc.encode(&mut buf, &h, &fields, b"").unwrap();
            let header_len = u32::from_be_bytes(buf[4..8].try_into().unwrap()) & 0xFF_FFFF;
            headers.push(buf[8..8 + header_len as usize].to_vec());
            assert!(n >= 8 + header_len as usize);
        }
        for bytes in &headers {
            let text = core::str::from_utf8(bytes).unwrap();
            let fast = compact_json_header(text)
                .unwrap_or_else(|| panic!("not on the compact path: {text}"));
            assert_eq!(fast, general_json_header(bytes), "{text}");
            assert!(fast.is_ok(), "{text}");
        }
    }

    #[cfg(all(not(rmq_size_opt), feature = "alloc"))]
    proptest::proptest! {
        /// Whatever the compact path accepts, it decodes exactly as the general path
        /// (header, extFields and errors alike), over documents mixing compact members
        /// with what only the general path reads: whitespace, escapes, `null`s, numbers
        /// that are not plain `i32`s, unknown keys, duplicates, nested values.
        #[test]
        fn the_compact_path_agrees_with_the_general_one(
            members in proptest::collection::vec(
                (0usize..8, 0usize..12),
                0..10,
            ),
            spaced in proptest::bool::ANY,
            trailing in proptest::sample::select(alloc::vec!["", " ", "x", "}"]),
        ) {
            let keys = ["code", "flag", "opaque", "version", "language", "remark", "extFields", "serializeTypeCurrentRPC"];
            let numbers = ["0", "-1", "474", "007", "2147483647", "2147483648", "-2147483648",
                "1.5", "1e3", "null", "9999999999999999999", "12345678901234567890123"];
            let strings = ["\"RUST\"", "\"JAVA\"", "\"a\\nb\"", "\"héllo\"", "null", "17",
                "\"\"", "\"x\\u0041\"", "true", "[1]"];
            let objects = ["{}", "{\"a\":\"b\"}", "null", "{\"a\":1,\"b\":true,\"c\":null}",
                "{\"a\":{}}", "{ \"a\" : \"b\" }", "{\"a\\n\":\"v\"}", "[]", "\"s\"",
                "{\"k\":\"v\",}"];
            let mut doc = alloc::string::String::from("{");
            for (n, (k, v)) in members.iter().enumerate() {
                if n > 0 {
                    doc.push_str(if spaced && n % 2 == 0 { ", " } else { "," });
                }
                let key = if *v == 9 && *k == 0 { "unknown" } else { keys[*k] };
                let value = match *k {
                    0..=3 => numbers[*v],
                    4 | 5 | 7 => strings[*v % strings.len()],
                    _ => objects[*v % objects.len()],
                };
                doc.push('"');
                doc.push_str(key);
                doc.push_str("\":");
                doc.push_str(value);
            }
            doc.push('}');
            doc.push_str(trailing);
            if let Some(fast) = compact_json_header(&doc) {
                proptest::prop_assert_eq!(fast, general_json_header(doc.as_bytes()), "{}", doc);
            }
        }
    }
}
