//! [`Text`]: a string borrowed from received bytes, decoded lazily.
//!
//! Strings in binary headers and bodies are plain UTF-8 and are borrowed as they are.
//! Strings in JSON may contain escapes (`\u0001` appears in every message-properties
//! value); those are kept in their escaped form, already validated, and decoded on demand
//! — into a caller's scratch buffer, as a `char` iterator, or (with `alloc`) into a
//! `String`. So decoding never allocates and never needs a scratch buffer up front.

use core::fmt;
use core::str::Chars;

use crate::error::DecodeError;

/// A UTF-8 string borrowed from a decoded frame or body.
///
/// Equality and [`Display`](fmt::Display) use the decoded value, so
/// `Text::from("a\u{1}b")` equals the JSON text `"a\u0001b"` as decoded.
///
/// ```
/// use rocketmq_proto::text::Text;
/// let t = Text::from("TopicTest");
/// assert_eq!(t, "TopicTest");
/// assert_eq!(t.as_str(), Some("TopicTest"));
/// ```
#[derive(Clone, Copy)]
pub struct Text<'a> {
    raw: &'a str,
    /// Whether `raw` holds JSON escapes. A full word rather than a `bool`: with a
    /// one-byte field the compiler copies `Text` (and enums around it) with overlapping
    /// unaligned moves that stall store forwarding on the JSON decode hot path.
    escaped: Escaped,
}

#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
enum Escaped {
    No = 0,
    Yes = 1,
    /// Not escaped, and known to need no escaping in JSON either (checked when the
    /// text was made: see [`Text::key`]).
    Clean = 2,
}

impl<'a> Text<'a> {
    /// A text that needs no decoding.
    pub const fn new(s: &'a str) -> Self {
        Text {
            raw: s,
            escaped: Escaped::No,
        }
    }

    /// A wire key: a string known at compile time to need no JSON escaping, so encoders
    /// write it as it is. Meant for constants (`const { Text::key("topic") }`); a string
    /// that would need escaping is kept as a plain [`Text::new`].
    ///
    /// ```
    /// use rocketmq_proto::text::Text;
    /// const TOPIC: Text<'static> = Text::key("topic");
    /// assert_eq!(TOPIC, "topic");
    /// assert!(Text::key("topic").is_json_clean());
    /// assert!(!Text::key("a\"b").is_json_clean());
    /// ```
    pub const fn key(s: &'a str) -> Self {
        let mut rest = s.as_bytes();
        while let [b, tail @ ..] = rest {
            if *b < 0x20 || *b == b'"' || *b == b'\\' {
                return Text::new(s);
            }
            rest = tail;
        }
        Text {
            raw: s,
            escaped: Escaped::Clean,
        }
    }

    /// Whether the text is known to need no escaping in JSON (made by [`Text::key`]).
    #[inline]
    pub fn is_json_clean(&self) -> bool {
        self.escaped == Escaped::Clean
    }

    /// The inside of a JSON string literal (without quotes), already validated by the
    /// scanner. `escaped` says whether it contains a backslash.
    pub(crate) const fn json(raw: &'a str, escaped: bool) -> Self {
        Text {
            raw,
            escaped: if escaped { Escaped::Yes } else { Escaped::No },
        }
    }

    /// The string itself if it needs no decoding (no JSON escapes); `None` otherwise.
    #[inline]
    pub fn as_str(&self) -> Option<&'a str> {
        if self.is_escaped() {
            None
        } else {
            Some(self.raw)
        }
    }

    /// The bytes as they appeared on the wire (with JSON escapes, if any).
    #[inline]
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// Whether the wire form holds JSON escapes.
    #[inline]
    pub fn is_escaped(&self) -> bool {
        self.escaped == Escaped::Yes
    }

    /// The decoded characters.
    pub fn chars(&self) -> TextChars<'a> {
        TextChars {
            inner: self.raw.chars(),
            escaped: self.is_escaped(),
        }
    }

    /// Length of the decoded string in bytes.
    pub fn len(&self) -> usize {
        if self.is_escaped() {
            self.chars().map(char::len_utf8).sum()
        } else {
            self.raw.len()
        }
    }

    /// Whether the decoded string is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Decode into `scratch` and return the string. Borrows from the input instead when
    /// there is nothing to decode.
    ///
    /// ```
    /// use rocketmq_proto::text::Text;
    /// let t = Text::from("plain");
    /// let mut scratch = [0u8; 0];
    /// assert_eq!(t.decode_into(&mut scratch).unwrap(), "plain");
    /// ```
    pub fn decode_into<'b>(&self, scratch: &'b mut [u8]) -> Result<&'b str, DecodeError>
    where
        'a: 'b,
    {
        if !self.is_escaped() {
            return Ok(self.raw);
        }
        let mut pos = 0usize;
        for c in self.chars() {
            let n = c.len_utf8();
            let end = pos.checked_add(n).filter(|&e| e <= scratch.len()).ok_or(
                DecodeError::CapacityExceeded {
                    what: "text scratch buffer",
                    capacity: scratch.len() as u32,
                },
            )?;
            if let Some(dst) = scratch.get_mut(pos..end) {
                c.encode_utf8(dst);
            }
            pos = end;
        }
        let bytes = scratch.get(..pos).unwrap_or_default();
        core::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 { what: "text" })
    }

    /// Decode into an owned string.
    #[cfg(feature = "alloc")]
    pub fn to_string_lossless(&self) -> alloc::string::String {
        match self.as_str() {
            Some(s) => alloc::string::String::from(s),
            None => self.chars().collect(),
        }
    }

    /// Borrow when possible, otherwise decode into an owned string.
    #[cfg(feature = "alloc")]
    pub fn to_cow(&self) -> alloc::borrow::Cow<'a, str> {
        match self.as_str() {
            Some(s) => alloc::borrow::Cow::Borrowed(s),
            None => alloc::borrow::Cow::Owned(self.chars().collect()),
        }
    }

    /// Parse as a Java `int` (`Integer.parseInt`: optional sign, decimal digits).
    pub fn parse_i32(&self) -> Option<i32> {
        if !self.is_escaped() {
            return self.raw.parse().ok();
        }
        let mut buf = [0u8; 16];
        self.decode_into(&mut buf).ok()?.parse().ok()
    }

    /// Parse as a Java `long` (`Long.parseLong`).
    pub fn parse_i64(&self) -> Option<i64> {
        if !self.is_escaped() {
            return self.raw.parse().ok();
        }
        let mut buf = [0u8; 24];
        self.decode_into(&mut buf).ok()?.parse().ok()
    }

    /// Parse as Java's `Boolean.parseBoolean`: `true` in any letter case is true,
    /// anything else is false.
    pub fn parse_bool(&self) -> bool {
        if !self.is_escaped() {
            return self.raw.eq_ignore_ascii_case("true");
        }
        let mut buf = [0u8; 8];
        match self.decode_into(&mut buf) {
            Ok(s) => s.eq_ignore_ascii_case("true"),
            Err(_) => false,
        }
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Self {
        Text::new(s)
    }
}

impl PartialEq for Text<'_> {
    fn eq(&self, other: &Self) -> bool {
        if !self.is_escaped() && !other.is_escaped() {
            return self.raw == other.raw;
        }
        self.chars().eq(other.chars())
    }
}
impl Eq for Text<'_> {}

impl PartialEq<str> for Text<'_> {
    fn eq(&self, other: &str) -> bool {
        if !self.is_escaped() {
            return self.raw == other;
        }
        self.chars().eq(other.chars())
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl PartialEq<Text<'_>> for &str {
    fn eq(&self, other: &Text<'_>) -> bool {
        *other == **self
    }
}

impl core::hash::Hash for Text<'_> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        for c in self.chars() {
            state.write_u32(c as u32);
        }
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_str() {
            Some(s) => f.write_str(s),
            None => {
                use fmt::Write;
                for c in self.chars() {
                    f.write_char(c)?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        f.write_char('"')?;
        for c in self.chars() {
            for e in c.escape_debug() {
                f.write_char(e)?;
            }
        }
        f.write_char('"')
    }
}

/// The decoded characters of a [`Text`].
#[derive(Clone, Debug)]
pub struct TextChars<'a> {
    inner: Chars<'a>,
    escaped: bool,
}

impl TextChars<'_> {
    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            v = (v << 4) | self.inner.next()?.to_digit(16)?;
        }
        Some(v)
    }
}

impl Iterator for TextChars<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let c = self.inner.next()?;
        if !self.escaped || c != '\\' {
            return Some(c);
        }
        // The scanner validated every escape; a malformed one can only come from a
        // caller-built `Text`, and decodes to U+FFFD rather than panicking.
        let e = self.inner.next()?;
        Some(match e {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let hi = self.hex4().unwrap_or(0xFFFD);
                if (0xD800..0xDC00).contains(&hi) {
                    let lo = match (self.inner.next(), self.inner.next()) {
                        (Some('\\'), Some('u')) => self.hex4().unwrap_or(0),
                        _ => 0,
                    };
                    if (0xDC00..0xE000).contains(&lo) {
                        let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                        char::from_u32(cp).unwrap_or('\u{FFFD}')
                    } else {
                        '\u{FFFD}'
                    }
                } else {
                    char::from_u32(hi).unwrap_or('\u{FFFD}')
                }
            }
            _ => '\u{FFFD}',
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_text_decodes() {
        let t = Text::json(r#"a\u0001b\"\\\n\ud83d\ude00"#, true);
        let mut buf = [0u8; 32];
        assert_eq!(t.decode_into(&mut buf).unwrap(), "a\u{1}b\"\\\n😀");
        assert_eq!(t, "a\u{1}b\"\\\n😀");
        assert_eq!(t.len(), "a\u{1}b\"\\\n😀".len());
        let mut small = [0u8; 3];
        assert!(matches!(
            t.decode_into(&mut small),
            Err(DecodeError::CapacityExceeded { .. })
        ));
    }

    #[test]
    fn numbers_and_bools_parse_like_java() {
        assert_eq!(Text::new("-42").parse_i32(), Some(-42));
        assert_eq!(Text::new("+7").parse_i64(), Some(7));
        assert_eq!(
            Text::new("1700000000000").parse_i64(),
            Some(1_700_000_000_000)
        );
        assert_eq!(Text::new("x").parse_i32(), None);
        assert_eq!(Text::new("99999999999").parse_i32(), None);
        assert!(Text::new("TRUE").parse_bool());
        assert!(!Text::new("yes").parse_bool());
        assert_eq!(Text::json(r"\u0034\u0032", true).parse_i32(), Some(42));
    }
}
