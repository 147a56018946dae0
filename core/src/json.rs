//! A small, lenient, zero-copy JSON pull scanner and a JSON string writer.
//!
//! Why not only serde-json-core: the JSON RocketMQ servers send is not always standard.
//! fastjson writes maps with non-string keys as bare numbers (`{0:"host:port"}`) or as
//! whole objects (`{{"topic":"t",...}:100}`) — see wire.md §7. This scanner accepts a
//! string, a bare number or an object as an object key ([`Key`]). It also borrows every
//! string from the input and leaves escapes for [`Text`] to decode lazily, so decoding a
//! header never copies and never needs an allocator. Encoding of standard JSON bodies
//! uses serde-json-core.
//!
//! The scanner is bounded: nesting deeper than [`MAX_DEPTH`] is an error, and every
//! step consumes input, so it terminates on any input.
//!
//! ```
//! use rocketmq_proto::json::{Scanner, Key};
//! let mut s = Scanner::new(br#"{"brokerAddrs":{0:"127.0.0.1:10911"}}"#);
//! s.begin_object().unwrap();
//! assert!(matches!(s.next_key().unwrap(), Some(Key::Str(k)) if k == "brokerAddrs"));
//! s.begin_object().unwrap();
//! assert!(matches!(s.next_key().unwrap(), Some(Key::Number("0"))));
//! assert_eq!(s.string().unwrap(), "127.0.0.1:10911");
//! assert!(s.next_key().unwrap().is_none());
//! assert!(s.next_key().unwrap().is_none());
//! s.finish().unwrap();
//! ```

use crate::error::{DecodeError, JsonError};
use crate::out::Out;
use crate::text::Text;

/// Maximum nesting of objects and arrays.
pub const MAX_DEPTH: u32 = 32;

/// An object key as fastjson may write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key<'a> {
    /// A standard JSON string key.
    Str(Text<'a>),
    /// A bare integer key (fastjson's `Map<Long, …>`), as its literal text.
    Number(&'a str),
    /// An object used as a key (fastjson's `Map<MessageQueue, …>`): its raw JSON text,
    /// validated; parse it with a new [`Scanner`].
    Object(&'a [u8]),
}

/// The JSON type of the next value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{`
    Object,
    /// `[`
    Array,
    /// `"`
    String,
    /// `-` or a digit
    Number,
    /// `true` / `false`
    Bool,
    /// `null`
    Null,
}

/// A pull scanner over one JSON document.
#[derive(Debug, Clone)]
pub struct Scanner<'a> {
    input: &'a [u8],
    /// The input as text when it is valid UTF-8 (checked once, up front): strings are
    /// then sliced out of it by byte position instead of being re-validated one by one.
    text: Option<&'a str>,
    pos: usize,
    depth: u32,
    /// Bit `d` set: the container at depth `d` already has an element (a comma must
    /// come before the next one).
    non_empty: u64,
}

type R<T> = Result<T, DecodeError>;

impl<'a> Scanner<'a> {
    /// A scanner at the start of `input`. Input that is not UTF-8 fails at the first
    /// string or number that is read.
    pub fn new(input: &'a [u8]) -> Self {
        Scanner {
            input,
            text: core::str::from_utf8(input).ok(),
            pos: 0,
            depth: 0,
            non_empty: 0,
        }
    }

    /// A scanner over text already known to be UTF-8 (skips the check).
    pub fn from_text(text: &'a str) -> Self {
        Scanner {
            input: text.as_bytes(),
            text: Some(text),
            pos: 0,
            depth: 0,
            non_empty: 0,
        }
    }

    /// A scanner over `text` (UTF-8, checked by the caller) at byte `pos`, inside
    /// `depth` containers: where a caller that read the start of the document itself
    /// hands the rest over.
    #[cfg(not(rmq_size_opt))]
    pub(crate) fn resume(text: &'a str, pos: usize, depth: u32) -> Self {
        Scanner {
            input: text.as_bytes(),
            text: Some(text),
            pos,
            depth,
            non_empty: 0,
        }
    }

    /// The input text between two byte positions, if it is valid UTF-8 there.
    pub fn text_between(&self, start: usize, end: usize) -> Option<&'a str> {
        self.text.and_then(|t| t.get(start..end))
    }

    /// The input between two positions that lie on ASCII delimiters.
    fn slice_str(&self, start: usize, end: usize, what: &'static str) -> R<&'a str> {
        self.text
            .and_then(|t| t.get(start..end))
            .ok_or(DecodeError::InvalidUtf8 { what })
    }

    /// Current byte offset.
    pub fn offset(&self) -> usize {
        self.pos
    }

    #[cold]
    #[inline(never)]
    fn err(&self, error: JsonError) -> DecodeError {
        DecodeError::Json {
            offset: self.pos as u32,
            error,
        }
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(&b) = self.input.get(self.pos) {
            if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek_byte(&mut self) -> R<u8> {
        match self.input.get(self.pos) {
            // No whitespace before the token: the usual case, one compare.
            Some(&b) if b > b' ' => Ok(b),
            _ => {
                self.skip_ws();
                self.input
                    .get(self.pos)
                    .copied()
                    .ok_or_else(|| self.err(JsonError::UnexpectedEnd))
            }
        }
    }

    /// The next member of the current object: its key's raw text (between the quotes)
    /// and whether that holds escapes, with the `:` after it consumed; `None` (after
    /// consuming `}`) at the end. `first` says whether no member came before (so no
    /// comma is expected). A key that is not a string is [`JsonError::WrongType`].
    /// A lean [`next_key`](Self::next_key) for headers, whose keys are strings.
    #[inline]
    pub(crate) fn member(&mut self, first: bool) -> R<Option<(&'a [u8], bool)>> {
        let mut b = self.peek_byte()?;
        if b == b'}' {
            self.pos += 1;
            self.pop();
            return Ok(None);
        }
        if !first {
            if b != b',' {
                return Err(self.err(JsonError::UnexpectedByte(b)));
            }
            self.pos += 1;
            b = self.peek_byte()?;
        }
        if b != b'"' {
            return Err(self.err(match b {
                b'-' | b'0'..=b'9' | b'{' => JsonError::WrongType,
                other => JsonError::UnexpectedByte(other),
            }));
        }
        if self.text.is_none() {
            // As reading the key as text would find (strings are sliced from the input
            // checked once as a whole).
            return Err(DecodeError::InvalidUtf8 {
                what: "JSON string",
            });
        }
        self.pos += 1;
        let start = self.pos;
        let escaped = self.string_body()?;
        let key = self
            .input
            .get(start..self.pos.saturating_sub(1))
            .unwrap_or_default();
        self.expect(b':')?;
        Ok(Some((key, escaped)))
    }

    /// An integer in `i64` range, or `None` for `null`. Plain digits are read here;
    /// anything else (a fraction, an exponent, too many digits) goes the general way
    /// ([`i64`](Self::i64)), which gives its exact error.
    #[inline]
    pub(crate) fn nullable_integer(&mut self) -> R<Option<i64>> {
        let start = self.pos;
        if self.peek_byte()? == b'n' && self.literal(b"null") {
            return Ok(None);
        }
        let neg = self.input.get(self.pos) == Some(&b'-');
        let mut pos = self.pos + usize::from(neg);
        let digits_start = pos;
        let mut v: i64 = 0;
        while let Some(&d) = self.input.get(pos) {
            let d = d.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            match v.checked_mul(10).and_then(|v| v.checked_add(i64::from(d))) {
                Some(n) => v = n,
                None => return self.i64().map(Some), // overflow (or i64::MIN)
            }
            pos += 1;
        }
        let plain = pos > digits_start
            && !matches!(self.input.get(pos), Some(b'.' | b'e' | b'E' | b'0'..=b'9'));
        if !plain {
            self.pos = start;
            return self.i64().map(Some);
        }
        self.pos = pos;
        Ok(Some(if neg { -v } else { v }))
    }

    #[inline]
    fn expect(&mut self, b: u8) -> R<()> {
        let got = self.peek_byte()?;
        if got == b {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(JsonError::UnexpectedByte(got)))
        }
    }

    fn push(&mut self) -> R<()> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(JsonError::TooDeep));
        }
        self.depth += 1;
        self.non_empty &= !(1u64 << self.depth);
        Ok(())
    }

    fn pop(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// The type of the next value, without consuming it.
    pub fn peek(&mut self) -> R<Kind> {
        let b = self.peek_byte()?;
        Ok(match b {
            b'{' => Kind::Object,
            b'[' => Kind::Array,
            b'"' => Kind::String,
            b'-' | b'0'..=b'9' => Kind::Number,
            b't' | b'f' => Kind::Bool,
            b'n' => Kind::Null,
            other => return Err(self.err(JsonError::UnexpectedByte(other))),
        })
    }

    /// Enter an object (`{`).
    pub fn begin_object(&mut self) -> R<()> {
        self.expect(b'{')?;
        self.push()
    }

    /// Enter an array (`[`).
    pub fn begin_array(&mut self) -> R<()> {
        self.expect(b'[')?;
        self.push()
    }

    /// Step to the next key of the current object, consuming the `:` after it.
    /// `None` (after consuming `}`) at the end of the object.
    #[inline]
    pub fn next_key(&mut self) -> R<Option<Key<'a>>> {
        if self.peek_byte()? == b'}' {
            self.pos += 1;
            self.pop();
            return Ok(None);
        }
        self.element_separator()?;
        let key = match self.peek_byte()? {
            b'"' => Key::Str(self.string()?),
            b'-' | b'0'..=b'9' => Key::Number(self.number_raw()?),
            b'{' => {
                let start = self.pos;
                self.skip_value()?;
                Key::Object(self.input.get(start..self.pos).unwrap_or_default())
            }
            other => return Err(self.err(JsonError::UnexpectedByte(other))),
        };
        self.expect(b':')?;
        Ok(Some(key))
    }

    /// Step to the next element of the current array; `false` (after consuming `]`)
    /// at its end.
    pub fn next_element(&mut self) -> R<bool> {
        if self.peek_byte()? == b']' {
            self.pos += 1;
            self.pop();
            return Ok(false);
        }
        self.element_separator()?;
        Ok(true)
    }

    #[inline]
    fn element_separator(&mut self) -> R<()> {
        let bit = 1u64 << self.depth;
        if self.non_empty & bit != 0 {
            self.expect(b',')?;
        } else {
            self.non_empty |= bit;
        }
        Ok(())
    }

    /// A string value, borrowed. Escapes are validated here and decoded by [`Text`].
    #[inline]
    pub fn string(&mut self) -> R<Text<'a>> {
        self.expect(b'"')?;
        let start = self.pos;
        let escaped = self.string_body()?;
        let raw = self.slice_str(start, self.pos.saturating_sub(1), "JSON string")?;
        Ok(Text::json(raw, escaped))
    }

    /// Step over a string's content and closing quote (`pos` is just past the opening
    /// one); whether it held escapes. Escapes are validated.
    #[cfg_attr(not(rmq_size_opt), inline(always))]
    #[cfg_attr(rmq_size_opt, inline)]
    fn string_body(&mut self) -> R<bool> {
        // The usual string: no escape, so the first special byte is its closing quote.
        // (Inlined at each use; size builds take the loop below, the same steps.)
        #[cfg(not(rmq_size_opt))]
        {
            let rest = self.input.get(self.pos..).unwrap_or_default();
            let i = find_special(rest, false);
            if rest.get(i) == Some(&b'"') {
                self.pos += i + 1;
                return Ok(false);
            }
        }
        self.string_body_loop()
    }

    /// [`string_body`](Self::string_body), escape by escape.
    #[cfg_attr(not(rmq_size_opt), inline(never))]
    fn string_body_loop(&mut self) -> R<bool> {
        let mut escaped = false;
        loop {
            // Jump to the next quote or backslash; everything between is string content
            // (raw control characters are not standard JSON, but harmless: accepted).
            let rest = self.input.get(self.pos..).unwrap_or_default();
            let i = find_special(rest, false);
            let Some(&b) = rest.get(i) else {
                self.pos = self.input.len();
                return Err(self.err(JsonError::UnexpectedEnd));
            };
            self.pos += i + 1;
            if b == b'"' {
                return Ok(escaped);
            }
            escaped = true;
            self.escape()?;
        }
    }

    /// One escape sequence after its backslash.
    fn escape(&mut self) -> R<()> {
        let e = *self
            .input
            .get(self.pos)
            .ok_or_else(|| self.err(JsonError::UnexpectedEnd))?;
        match e {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 1,
            b'u' => {
                self.pos += 1;
                let hi = self.hex4()?;
                if (0xD800..0xDC00).contains(&hi) {
                    // A high surrogate must be followed by an escaped low one.
                    if self.input.get(self.pos..self.pos + 2) != Some(b"\\u") {
                        return Err(self.err(JsonError::InvalidEscape));
                    }
                    self.pos += 2;
                    let lo = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(self.err(JsonError::InvalidEscape));
                    }
                } else if (0xDC00..0xE000).contains(&hi) {
                    return Err(self.err(JsonError::InvalidEscape));
                }
            }
            _ => return Err(self.err(JsonError::InvalidEscape)),
        }
        Ok(())
    }

    /// Validate a flat object — string keys; string, number, boolean or null values, as
    /// `extFields` are — and return its text (`{` … `}`) and whether it is compact: no
    /// whitespace between tokens and no escape in any string, as fastjson and our own
    /// encoder write it (a [`FlatObjectIter`] over it then takes a faster path). Any
    /// other key or a nested value is [`JsonError::WrongType`]. One tight pass: this is
    /// on every response's path.
    ///
    /// It also records where the entries lie ([`JsonSpans`]), so that iterating them
    /// needs no second scan.
    pub(crate) fn flat_object(&mut self) -> R<(&'a str, bool, JsonSpans)> {
        self.skip_ws();
        let start = self.pos;
        self.expect(b'{')?;
        if self.depth >= MAX_DEPTH {
            return Err(self.err(JsonError::TooDeep));
        }
        #[cfg(not(rmq_size_opt))]
        if let Some(done) = self.compact_flat_object(start) {
            return done;
        }
        self.general_flat_object(start)
    }

    /// [`flat_object`](Self::flat_object) token by token, for any form; the object
    /// starts at `start` and `pos` is just past its `{`.
    fn general_flat_object(&mut self, start: usize) -> R<(&'a str, bool, JsonSpans)> {
        let mut compact = true;
        let mut spans = JsonSpans::EMPTY;
        if self.peek_tight(&mut compact)? != b'}' {
            loop {
                match self.peek_tight(&mut compact)? {
                    b'"' => self.pos += 1,
                    b'-' | b'0'..=b'9' | b'{' => return Err(self.err(JsonError::WrongType)),
                    other => return Err(self.err(JsonError::UnexpectedByte(other))),
                }
                let key_start = self.pos;
                let key_escaped = self.string_body()?;
                let key_end = self.pos.saturating_sub(1);
                compact &= !key_escaped;
                match self.peek_tight(&mut compact)? {
                    b':' => self.pos += 1,
                    other => return Err(self.err(JsonError::UnexpectedByte(other))),
                }
                let (value, value_escaped) = match self.peek_tight(&mut compact)? {
                    b'"' => {
                        self.pos += 1;
                        let from = self.pos;
                        let escaped = self.string_body()?;
                        compact &= !escaped;
                        (Some((from, self.pos.saturating_sub(1))), escaped)
                    }
                    b'-' | b'0'..=b'9' => {
                        let from = self.pos;
                        self.number_raw()?;
                        (Some((from, self.pos)), false)
                    }
                    b't' | b'f' => {
                        let from = self.pos;
                        self.bool()?;
                        (Some((from, self.pos)), false)
                    }
                    b'n' => {
                        if !self.literal(b"null") {
                            return Err(self.err(JsonError::WrongType));
                        }
                        (None, false) // absent: not an entry
                    }
                    b'{' | b'[' => return Err(self.err(JsonError::WrongType)),
                    other => return Err(self.err(JsonError::UnexpectedByte(other))),
                };
                if let Some(value) = value {
                    spans.push(
                        start,
                        (key_start, key_end, key_escaped),
                        (value.0, value.1, value_escaped),
                    );
                }
                match self.peek_tight(&mut compact)? {
                    b',' => self.pos += 1,
                    b'}' => break,
                    other => return Err(self.err(JsonError::UnexpectedByte(other))),
                }
            }
        }
        self.pos += 1; // `}`
        spans.seal(self.pos.saturating_sub(start));
        Ok((
            self.slice_str(start, self.pos, "extFields")?,
            compact,
            spans,
        ))
    }

    /// [`flat_object`](Self::flat_object) for the compact form Java and this crate
    /// write, `{"k":"v","k":"v"}` (string values, no whitespace, no escapes), read with
    /// one three-byte compare between key and value instead of a token at a time; the
    /// object starts at `start` and `pos` is just past its `{`. Gives exactly what the
    /// general loop gives for such an object; anything else is `None`, with `pos`
    /// unchanged, for the general loop.
    #[cfg(not(rmq_size_opt))]
    #[inline]
    fn compact_flat_object(&mut self, start: usize) -> Option<R<(&'a str, bool, JsonSpans)>> {
        let b = self.input;
        let mut i = self.pos;
        let mut spans = JsonSpans::EMPTY;
        if b.get(i) == Some(&b'}') {
            i += 1;
        } else {
            loop {
                if b.get(i) != Some(&b'"') {
                    return None;
                }
                let key_start = i + 1;
                let key_end = key_start + find_special(b.get(key_start..)?, false);
                if b.get(key_end..key_end + 3) != Some(b"\":\"") {
                    return None; // an escape, whitespace, or a value that is no string
                }
                let value_start = key_end + 3;
                let value_end = value_start + find_special(b.get(value_start..)?, false);
                if b.get(value_end) != Some(&b'"') {
                    return None;
                }
                spans.push(
                    start,
                    (key_start, key_end, false),
                    (value_start, value_end, false),
                );
                let (next, end) = after_compact_member(b, value_end + 1)?;
                i = next;
                if end {
                    break;
                }
            }
        }
        spans.seal(i - start);
        self.pos = i;
        Some(
            self.slice_str(start, i, "extFields")
                .map(|text| (text, true, spans)),
        )
    }

    /// [`peek_byte`](Self::peek_byte), clearing `tight` if whitespace came first.
    #[inline]
    fn peek_tight(&mut self, tight: &mut bool) -> R<u8> {
        match self.input.get(self.pos) {
            Some(&b) if b > b' ' => Ok(b),
            _ => {
                *tight = false;
                self.peek_byte()
            }
        }
    }

    #[inline]
    fn hex4(&mut self) -> R<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let b = *self
                .input
                .get(self.pos)
                .ok_or_else(|| self.err(JsonError::UnexpectedEnd))?;
            let d = (b as char)
                .to_digit(16)
                .ok_or_else(|| self.err(JsonError::InvalidEscape))?;
            v = (v << 4) | d;
            self.pos += 1;
        }
        Ok(v)
    }

    /// A number's literal text (`-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
    pub fn number_raw(&mut self) -> R<&'a str> {
        self.skip_ws();
        let start = self.pos;
        if self.input.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let digits = |s: &mut Self| -> R<()> {
            let d0 = s.pos;
            while matches!(s.input.get(s.pos), Some(b'0'..=b'9')) {
                s.pos += 1;
            }
            if s.pos == d0 {
                Err(s.err(JsonError::InvalidNumber))
            } else {
                Ok(())
            }
        };
        digits(self)?;
        if self.input.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            digits(self)?;
        }
        if matches!(self.input.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.input.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            digits(self)?;
        }
        // Only ASCII was accepted above; non-UTF-8 input elsewhere still fails here.
        self.slice_str(start, self.pos, "JSON number")
    }

    /// An integer value in `i64` range.
    pub fn i64(&mut self) -> R<i64> {
        let start = self.pos;
        let raw = self.number_raw()?;
        raw.parse().map_err(|_| DecodeError::Json {
            offset: start as u32,
            error: JsonError::InvalidNumber,
        })
    }

    /// An integer value in `i32` range.
    pub fn i32(&mut self) -> R<i32> {
        let start = self.pos;
        let v = self.i64()?;
        i32::try_from(v).map_err(|_| DecodeError::Json {
            offset: start as u32,
            error: JsonError::InvalidNumber,
        })
    }

    /// `true` or `false`.
    pub fn bool(&mut self) -> R<bool> {
        self.skip_ws();
        if self.literal(b"true") {
            Ok(true)
        } else if self.literal(b"false") {
            Ok(false)
        } else {
            Err(self.err(JsonError::WrongType))
        }
    }

    fn literal(&mut self, lit: &[u8]) -> bool {
        let end = self.pos.saturating_add(lit.len());
        if self.input.get(self.pos..end) == Some(lit) {
            self.pos = end;
            true
        } else {
            false
        }
    }

    /// Consume `null` if it is next; `true` if it was.
    pub fn null(&mut self) -> R<bool> {
        self.skip_ws();
        Ok(self.literal(b"null"))
    }

    /// A string, or `None` for `null`.
    pub fn string_or_null(&mut self) -> R<Option<Text<'a>>> {
        if self.null()? {
            Ok(None)
        } else {
            self.string().map(Some)
        }
    }

    /// Skip one value of any type (objects and arrays whole, within the depth limit).
    pub fn skip_value(&mut self) -> R<()> {
        match self.peek()? {
            Kind::String => self.string().map(drop),
            Kind::Number => self.number_raw().map(drop),
            Kind::Bool => self.bool().map(drop),
            Kind::Null => {
                if self.null()? {
                    Ok(())
                } else {
                    Err(self.err(JsonError::WrongType))
                }
            }
            Kind::Array => {
                // Iterative over siblings; recursion only per nesting level (bounded).
                self.begin_array()?;
                while self.next_element()? {
                    self.skip_value()?;
                }
                Ok(())
            }
            Kind::Object => {
                self.begin_object()?;
                while self.next_key()?.is_some() {
                    self.skip_value()?;
                }
                Ok(())
            }
        }
    }

    /// Skip one value and return its raw text.
    pub fn raw_value(&mut self) -> R<&'a [u8]> {
        self.skip_ws();
        let start = self.pos;
        self.skip_value()?;
        Ok(self.input.get(start..self.pos).unwrap_or_default())
    }

    /// Check that nothing but whitespace follows.
    pub fn finish(&mut self) -> R<()> {
        self.skip_ws();
        if self.pos < self.input.len() {
            Err(self.err(JsonError::TrailingBytes))
        } else {
            Ok(())
        }
    }
}

/// Where the entries of a validated flat object lie, recorded by
/// [`Scanner::flat_object`] while it validates, so that iterating them
/// ([`JsonSpans::iter`]) slices the strings out instead of scanning the text again
/// (a tenth of a send response's decode).
///
/// Invariant: when `complete`, `at[..len]` holds every non-null entry in order, as byte
/// offsets from the object's `{` of its key's content and its value's (a string's
/// without the quotes), each on a character boundary of that text, with bit `2i`
/// (`2i + 1`) of `escaped` set when entry `i`'s key (value) holds escapes. Not complete
/// (more than [`JsonSpans::CAP`] entries, or an offset past `u16`): iterate by
/// scanning.
///
/// Size builds record nothing (a unit type below; 1.7 KiB of a microcontroller's
/// flash) and always scan.
#[cfg(not(rmq_size_opt))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JsonSpans {
    at: [[u16; 4]; JsonSpans::CAP],
    escaped: u16,
    len: u8,
    complete: bool,
}

#[cfg(not(rmq_size_opt))]
const _: () = assert!(2 * JsonSpans::CAP <= u16::BITS as usize);

#[cfg(not(rmq_size_opt))]
impl JsonSpans {
    /// Entries recorded at most: a send response has six, most headers fewer. (Two
    /// bits of `escaped` per entry: at most eight.)
    pub(crate) const CAP: usize = 8;

    /// No entry yet (complete).
    pub(crate) const EMPTY: JsonSpans = JsonSpans {
        at: [[0; 4]; JsonSpans::CAP],
        escaped: 0,
        len: 0,
        complete: true,
    };

    /// Record an entry: its key's and value's `(start, end, escaped)` as absolute
    /// positions in the scanner's input, where the object starts at `base` (all of
    /// them at or after it). An offset past `u16` wraps here: [`JsonSpans::seal`] then
    /// marks the spans incomplete.
    #[inline]
    fn push(&mut self, base: usize, key: (usize, usize, bool), value: (usize, usize, bool)) {
        let i = usize::from(self.len);
        let rel = |p: usize| p.wrapping_sub(base) as u16;
        match self.at.get_mut(i) {
            Some(slot) => {
                *slot = [rel(key.0), rel(key.1), rel(value.0), rel(value.1)];
                self.escaped |= (u16::from(key.2) | u16::from(value.2) << 1) << (2 * i);
                self.len += 1;
            }
            None => self.complete = false,
        }
    }

    /// Done recording an object of `len` bytes: past `u16` offsets, the spans are
    /// incomplete.
    #[inline]
    fn seal(&mut self, len: usize) {
        if len > usize::from(u16::MAX) {
            self.complete = false;
        }
    }

    /// Whether every entry was recorded.
    #[inline]
    pub(crate) fn is_complete(&self) -> bool {
        self.complete
    }

    /// The recorded entries of `text` (the object these spans were recorded from).
    #[inline]
    pub(crate) fn iter<'a>(&self, text: &'a str) -> SpanIter<'a> {
        SpanIter {
            text,
            spans: *self,
            next: 0,
        }
    }
}

/// Iterator over a flat object's entries through its [`JsonSpans`]; it ends early
/// (instead of panicking) on a span that does not fit the text, which the spans'
/// invariant rules out.
#[cfg(not(rmq_size_opt))]
#[derive(Debug, Clone)]
pub(crate) struct SpanIter<'a> {
    text: &'a str,
    spans: JsonSpans,
    next: u8,
}

#[cfg(not(rmq_size_opt))]
impl<'a> Iterator for SpanIter<'a> {
    type Item = (Text<'a>, Text<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let i = usize::from(self.next);
        if i >= usize::from(self.spans.len) {
            return None;
        }
        let [k0, k1, v0, v1] = *self.spans.at.get(i)?;
        let esc = self.spans.escaped >> (2 * i);
        let key = self.text.get(usize::from(k0)..usize::from(k1));
        let value = self.text.get(usize::from(v0)..usize::from(v1));
        let (Some(key), Some(value)) = (key, value) else {
            self.next = self.spans.len;
            return None;
        };
        self.next += 1;
        Some((
            Text::json(key, esc & 1 != 0),
            Text::json(value, esc & 2 != 0),
        ))
    }
}

/// A size build's [`JsonSpans`]: nothing recorded, never complete.
#[cfg(rmq_size_opt)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JsonSpans;

#[cfg(rmq_size_opt)]
impl JsonSpans {
    pub(crate) const EMPTY: JsonSpans = JsonSpans;

    #[inline(always)]
    fn push(&mut self, _: usize, _: (usize, usize, bool), _: (usize, usize, bool)) {}

    #[inline(always)]
    fn seal(&mut self, _: usize) {}

    #[inline(always)]
    pub(crate) fn is_complete(&self) -> bool {
        false
    }

    #[inline(always)]
    pub(crate) fn iter<'a>(&self, _: &'a str) -> SpanIter<'a> {
        SpanIter(core::marker::PhantomData)
    }
}

/// A size build's [`SpanIter`]: empty (never used: its spans are never complete).
#[cfg(rmq_size_opt)]
#[derive(Debug, Clone)]
pub(crate) struct SpanIter<'a>(core::marker::PhantomData<&'a str>);

#[cfg(rmq_size_opt)]
impl<'a> Iterator for SpanIter<'a> {
    type Item = (Text<'a>, Text<'a>);

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        None
    }
}

/// Iterates a JSON object already validated as a flat map (string keys; string,
/// number, boolean or null values), as `extFields` are. A lean second pass: the scanner
/// checked everything once when the header was decoded, so this only finds token
/// boundaries. `null` values are skipped. On anything unexpected — impossible for
/// validated input — it ends instead of panicking.
#[derive(Debug, Clone)]
pub(crate) struct FlatObjectIter<'a> {
    text: &'a str,
    pos: usize,
    /// The object is compact (see [`Scanner::flat_object`]): no whitespace, and every
    /// string ends at the next quote.
    compact: bool,
}

impl<'a> FlatObjectIter<'a> {
    /// Over `text`, which must start with `{` (after optional whitespace). `compact`
    /// must be what [`Scanner::flat_object`] said of it.
    pub(crate) fn new(text: &'a str, compact: bool) -> Self {
        let mut it = FlatObjectIter {
            text,
            pos: 0,
            compact,
        };
        it.skip_ws();
        if it.byte() == Some(b'{') {
            it.pos += 1;
        } else {
            it.pos = text.len();
        }
        it
    }

    #[inline]
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while matches!(self.byte(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.pos += 1;
        }
    }

    /// A string whose opening quote is at `pos`.
    fn string(&mut self) -> Option<Text<'a>> {
        let bytes = self.text.as_bytes();
        let start = self.pos + 1;
        let mut pos = start;
        let mut escaped = false;
        loop {
            pos += find_special(bytes.get(pos..)?, false);
            match bytes.get(pos)? {
                b'"' => break,
                _ => {
                    // A validated escape: skip the backslash and the byte after it
                    // (`\uXXXX` digits are plain bytes for this search).
                    escaped = true;
                    pos += 2;
                }
            }
        }
        let raw = self.text.get(start..pos)?;
        self.pos = pos + 1;
        Some(Text::json(raw, escaped))
    }

    /// The next entry of a compact object: `"key":value`, after a `,` unless first;
    /// `Some(None)` for a `null` value, `None` at the `}`. No whitespace to skip and no
    /// escapes to step over: each string ends at the first special byte, its closing
    /// quote. (Two thirds of the cost of the general path on a send response.)
    #[inline]
    fn compact_entry(&mut self) -> Option<Option<(Text<'a>, Text<'a>)>> {
        let bytes = self.text.as_bytes();
        let mut pos = self.pos;
        if *bytes.get(pos)? == b',' {
            pos += 1;
        }
        if *bytes.get(pos)? != b'"' {
            return None; // `}`: the end
        }
        let key_start = pos + 1;
        let key_end = key_start + find_special(bytes.get(key_start..)?, false);
        // `":` then the value.
        let value_start = key_end + 2;
        let (value, end) = if *bytes.get(value_start)? == b'"' {
            let start = value_start + 1;
            let end = start + find_special(bytes.get(start..)?, false);
            (Some(Text::json(self.text.get(start..end)?, false)), end + 1)
        } else {
            let rest = bytes.get(value_start..)?;
            let len = rest.iter().position(|&b| b == b',' || b == b'}')?;
            let raw = self.text.get(value_start..value_start + len)?;
            let value = (raw != "null").then(|| Text::new(raw));
            (value, value_start + len)
        };
        let key = Text::json(self.text.get(key_start..key_end)?, false);
        self.pos = end;
        Some(value.map(|v| (key, v)))
    }

    fn entry(&mut self) -> Option<Option<(Text<'a>, Text<'a>)>> {
        if self.compact {
            return self.compact_entry();
        }
        self.skip_ws();
        if self.byte()? == b',' {
            self.pos += 1;
            self.skip_ws();
        }
        if self.byte()? != b'"' {
            return None; // `}`: the end
        }
        let key = self.string()?;
        self.skip_ws();
        if self.byte()? != b':' {
            return None;
        }
        self.pos += 1;
        self.skip_ws();
        let value = match self.byte()? {
            b'"' => self.string()?,
            _ => {
                let start = self.pos;
                while !matches!(
                    self.byte(),
                    None | Some(b',' | b'}' | b' ' | b'\n' | b'\r' | b'\t')
                ) {
                    self.pos += 1;
                }
                let raw = self.text.get(start..self.pos)?;
                if raw == "null" {
                    return Some(None);
                }
                Text::new(raw)
            }
        };
        Some(Some((key, value)))
    }
}

impl<'a> Iterator for FlatObjectIter<'a> {
    type Item = (Text<'a>, Text<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.entry() {
                Some(Some(kv)) => return Some(kv),
                Some(None) => continue,
                None => {
                    self.pos = self.text.len();
                    return None;
                }
            }
        }
    }
}

/// Write `s` as a JSON string literal (with quotes), escaping `"`, `\\` and every code
/// point below 0x20 as `\\u00XX`, as fastjson does. Non-ASCII is written raw.
#[inline]
pub fn write_str(out: &mut impl Out, s: &str) {
    let bytes = s.as_bytes();
    let first = first_to_escape(bytes);
    // In place when the sink has room for the worst case (every byte a `\\u00XX`).
    let room = if first == bytes.len() {
        bytes.len() + 2
    } else {
        bytes.len().saturating_mul(6).saturating_add(2)
    };
    if let Some(w) = out.spare(room) {
        let n = quote_into(w, bytes, first);
        out.advance(n);
        return;
    }
    out.put_u8(b'"');
    write_str_content(out, s);
    out.put_u8(b'"');
}

/// Whether `bytes` can be written inside a JSON string as they are.
#[inline]
pub(crate) fn is_clean(bytes: &[u8]) -> bool {
    first_to_escape(bytes) == bytes.len()
}

/// The escape sequence for a byte that needs one (the first `n` of eight bytes), and
/// its length `n`. Eight bytes, not six: a word the caller stores whole from a register.
/// (Six-byte arrays went through the stack in pieces, and reading them back stalled on
/// store-to-load forwarding at each of a properties string's separators.)
#[inline]
fn escape_of(b: u8) -> ([u8; 8], usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hex = |n: u8| HEX.get(usize::from(n & 0xf)).copied().unwrap_or(b'0');
    // Speed builds: the control bytes' escapes from a table (property strings hold two
    // of them per property), not built digit by digit.
    #[cfg(not(rmq_size_opt))]
    {
        const CONTROL: [[u8; 8]; 32] = {
            let mut t = [[0u8; 8]; 32];
            let mut b = 0usize;
            while b < 32 {
                #[allow(clippy::indexing_slicing)] // compile time only, and below 32
                {
                    t[b] = [b'\\', b'u', b'0', b'0', HEX[b >> 4], HEX[b & 0xf], 0, 0];
                }
                b += 1;
            }
            t
        };
        if let Some(esc) = CONTROL.get(usize::from(b)) {
            return (*esc, 6);
        }
    }
    match b {
        b'"' => ([b'\\', b'"', 0, 0, 0, 0, 0, 0], 2),
        b'\\' => ([b'\\', b'\\', 0, 0, 0, 0, 0, 0], 2),
        _ => ([b'\\', b'u', b'0', b'0', hex(b >> 4), hex(b), 0, 0], 6),
    }
}

/// `"`, `bytes` escaped, `"` into `w` (which has room for the worst case), where the
/// first byte to escape is at `next`; the bytes written.
#[inline]
fn quote_into(w: &mut [u8], bytes: &[u8], next: usize) -> usize {
    let mut c = crate::out::Cursor::new(w);
    c.put(b"\"");
    escaped_close_from(&mut c, bytes, next);
    c.at()
}

/// `bytes` escaped, then the closing `"`, into `c` (which has room for the worst case).
/// Inline for the usual clean string; the escaping loop is called only for the rest.
#[cfg(not(rmq_size_opt))]
#[inline(always)]
pub(crate) fn escaped_close_into(c: &mut crate::out::Cursor<'_>, bytes: &[u8]) {
    let next = first_to_escape(bytes);
    if next == bytes.len() {
        c.put(bytes);
        c.put(b"\"");
    } else {
        escaped_close_from(c, bytes, next);
    }
}

/// [`escaped_close_into`] where the first byte to escape is at `next`.
#[cfg_attr(not(rmq_size_opt), inline(never))]
#[cfg_attr(rmq_size_opt, inline)]
fn escaped_close_from(c: &mut crate::out::Cursor<'_>, bytes: &[u8], mut next: usize) {
    let mut rest = bytes;
    loop {
        let (run, tail) = rest.split_at_checked(next).unwrap_or((rest, &[]));
        c.put(run);
        let Some((&b, after)) = tail.split_first() else {
            break;
        };
        let (esc, n) = escape_of(b);
        // Eight bytes stored whole where they fit (the worst case is reserved, so all
        // but a last escape do; that one is copied short), two or six kept.
        c.put_prefix(&esc, n);
        rest = after;
        next = first_to_escape(rest);
    }
    c.put(b"\"");
}

/// The inside of [`write_str`] (no quotes).
pub fn write_str_content(out: &mut impl Out, s: &str) {
    let mut rest = s.as_bytes();
    loop {
        let i = first_to_escape(rest);
        let (clean, tail) = rest.split_at(i.min(rest.len()));
        out.put(clean);
        let Some((&b, after)) = tail.split_first() else {
            return;
        };
        let (esc, n) = escape_of(b);
        out.put(esc.get(..n).unwrap_or_default());
        rest = after;
    }
}

/// Index of the first byte that needs escaping (`bytes.len()` if none).
#[cfg_attr(not(rmq_size_opt), inline(always))]
#[cfg_attr(rmq_size_opt, inline)]
fn first_to_escape(bytes: &[u8]) -> usize {
    find_special(bytes, true)
}

/// What follows a member of a compact object at `i`: past a `,` (`false`: more
/// members) or past the closing `}` (`true`); `None` for anything else.
#[cfg(not(rmq_size_opt))]
#[inline(always)]
pub(crate) fn after_compact_member(b: &[u8], i: usize) -> Option<(usize, bool)> {
    match b.get(i)? {
        b',' => Some((i + 1, false)),
        b'}' => Some((i + 1, true)),
        _ => None,
    }
}

/// The high bit of each byte lane of `w` (eight bytes, little-endian) that holds `"` or
/// `\` or, with `control`, a byte below 0x20: the bytes a JSON string escapes. A borrow
/// may also flag lanes above a true hit, never below one: the lowest flagged lane is
/// exact, and a word with no such byte flags nothing.
#[inline(always)]
pub(crate) const fn special_lanes(w: u64, control: bool) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    #[inline(always)]
    const fn zero_lanes(x: u64) -> u64 {
        x.wrapping_sub(ONES) & !x & HIGH
    }
    let mut h = zero_lanes(w ^ (ONES * 0x22)) | zero_lanes(w ^ (ONES * 0x5c));
    if control {
        h |= w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    }
    h
}

/// The length of `bytes` written inside a JSON string ([`write_str_content`]).
pub(crate) fn escaped_len(bytes: &[u8]) -> usize {
    bytes.iter().fold(0usize, |n, &b| {
        n.saturating_add(match b {
            b'"' | b'\\' => 2,
            0..=0x1f => 6,
            _ => 1,
        })
    })
}

/// Index of the first `"` or `\` — and, with `control`, the first byte below 0x20 —
/// or `bytes.len()`. Checks eight bytes at a time (SWAR): most strings on the wire
/// (topics, groups, ids, numbers) are short and clean, where a call into a SIMD
/// search costs more than it saves. This sits on both the send and receive paths.
#[cfg_attr(not(rmq_size_opt), inline(always))]
#[cfg_attr(rmq_size_opt, inline)]
pub(crate) fn find_special(bytes: &[u8], control: bool) -> usize {
    let hits = |w: u64| special_lanes(w, control);
    let lane = |h: u64| (h.trailing_zeros() / 8) as usize;
    let mut chunks = bytes.chunks_exact(8);
    let mut start = 0;
    for chunk in &mut chunks {
        let Some(c) = chunk.first_chunk::<8>() else {
            break;
        };
        let h = hits(u64::from_le_bytes(*c));
        if h != 0 {
            return start + lane(h);
        }
        start += 8;
    }
    let tail = chunks.remainder().len();
    if tail == 0 {
        return bytes.len();
    }
    if let Some(last) = bytes.last_chunk::<8>() {
        // The last eight bytes, overlapping lanes already checked (clean: they flag
        // nothing, and a clean lane sets off no borrow into the lanes above it).
        let h = hits(u64::from_le_bytes(*last)) & (!0u64 << ((8 - tail) * 8));
        return if h != 0 {
            bytes.len() - 8 + lane(h)
        } else {
            bytes.len()
        };
    }
    // Speed builds: four to seven bytes (a short value such as `JSON` or `TBW102`, or
    // the end of a header) as two overlapping four-byte words, the upper lanes masked
    // off (borrows only move up); fewer byte by byte.
    #[cfg(not(rmq_size_opt))]
    if let (Some(first), Some(last)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        const LOW: u64 = 0x8080_8080;
        let h = hits(u64::from(u32::from_le_bytes(*first))) & LOW;
        if h != 0 {
            return lane(h);
        }
        let h = hits(u64::from(u32::from_le_bytes(*last))) & LOW;
        return if h != 0 {
            bytes.len() - 4 + lane(h)
        } else {
            bytes.len()
        };
    }
    bytes
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || (control && b < 0x20))
        .unwrap_or(bytes.len())
}

/// Write a [`Text`] as a JSON string literal. Escaped JSON text is copied as it came
/// (it is already valid JSON), so re-encoding a decoded header costs a copy only.
pub fn write_text(out: &mut impl Out, t: &Text<'_>) {
    if t.is_escaped() || t.is_json_clean() {
        out.put_u8(b'"');
        out.put(t.raw().as_bytes());
        out.put_u8(b'"');
    } else {
        write_str(out, t.raw());
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::out::SliceOut;
    use proptest::strategy::Strategy;
    use std::string::ToString;

    /// Every byte that needs escaping gets JSON's escape: `\"`, `\\`, and `\u00xx`
    /// (lowercase hex) below 0x20.
    #[test]
    fn escapes_are_jsons() {
        for b in 0..=u8::MAX {
            let (esc, n) = escape_of(b);
            let got = std::str::from_utf8(&esc[..n]).unwrap();
            let want = match b {
                b'"' => "\\\"".to_string(),
                b'\\' => "\\\\".to_string(),
                _ => std::format!("\\u{:04x}", b),
            };
            if b < 0x20 || b == b'"' || b == b'\\' {
                assert_eq!(got, want, "byte {b:#04x}");
            }
        }
    }

    #[test]
    fn scans_nested_and_lenient_keys() {
        let doc =
            br#" {"a" : [1, -2.5e3, true, null, "x\"y"], 5 : {"k":{}}, {"t":"q","i":0}:100 } "#;
        let mut s = Scanner::new(doc);
        s.begin_object().unwrap();
        assert!(matches!(s.next_key().unwrap(), Some(Key::Str(k)) if k == "a"));
        s.begin_array().unwrap();
        assert!(s.next_element().unwrap());
        assert_eq!(s.i64().unwrap(), 1);
        assert!(s.next_element().unwrap());
        assert_eq!(s.number_raw().unwrap(), "-2.5e3");
        assert!(s.next_element().unwrap());
        assert!(s.bool().unwrap());
        assert!(s.next_element().unwrap());
        assert!(s.null().unwrap());
        assert!(s.next_element().unwrap());
        assert_eq!(s.string().unwrap(), "x\"y");
        assert!(!s.next_element().unwrap());
        assert!(matches!(s.next_key().unwrap(), Some(Key::Number("5"))));
        s.skip_value().unwrap();
        match s.next_key().unwrap() {
            Some(Key::Object(raw)) => assert_eq!(raw, br#"{"t":"q","i":0}"#),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.i32().unwrap(), 100);
        assert!(s.next_key().unwrap().is_none());
        s.finish().unwrap();
    }

    #[test]
    fn rejects_bad_documents() {
        for bad in [
            &br#"{"a":1,}"#[..],
            br#"{"a" 1}"#,
            br#"{"a":1 "b":2}"#,
            br#"["#,
            br#"{"a":"\x"}"#,
            br#"{"a":"\ud800"}"#,
            br#"{"a":tru}"#,
            br#"{"a":-}"#,
        ] {
            let mut s = Scanner::new(bad);
            let r = s.skip_value().and_then(|_| s.finish());
            assert!(r.is_err(), "{:?}", core::str::from_utf8(bad));
        }
        let deep = [b'['; 100];
        assert!(matches!(
            Scanner::new(&deep).skip_value(),
            Err(DecodeError::Json {
                error: JsonError::TooDeep,
                ..
            })
        ));
    }

    #[test]
    fn writes_escapes_like_fastjson() {
        let mut buf = [0u8; 64];
        let mut o = SliceOut::new(&mut buf);
        write_str(&mut o, "K\u{1}v\u{2}\"\\é");
        let n = o.finish().unwrap();
        assert_eq!(&buf[..n], "\"K\\u0001v\\u0002\\\"\\\\é\"".as_bytes());
    }

    #[test]
    fn escape_scan_finds_every_position() {
        // Every special byte at every position of strings crossing the 8-byte chunks,
        // among bytes that must not be flagged (incl. UTF-8 continuation bytes).
        for len in 0..24 {
            for pos in 0..len {
                for special in [0x00u8, 0x01, 0x1f, b'"', b'\\'] {
                    let mut v: std::vec::Vec<u8> = (0..len)
                        .map(|i| [b'a', 0x21, 0x5b, 0x7f, 0xc3, 0xa9, 0x20, 0x5d][i % 8])
                        .collect();
                    v[pos] = special;
                    assert_eq!(
                        first_to_escape(&v),
                        pos,
                        "len {len} pos {pos} byte {special:#x}"
                    );
                    // A second one after it changes nothing: the first is reported.
                    for later in pos + 1..len {
                        let mut w = v.clone();
                        w[later] = b'"';
                        assert_eq!(first_to_escape(&w), pos, "len {len} pos {pos} {later}");
                    }
                    // Without `control` only quotes and backslashes count.
                    let quote_or_backslash = special == b'"' || special == b'\\';
                    assert_eq!(
                        find_special(&v, false),
                        if quote_or_backslash { pos } else { len },
                        "len {len} pos {pos} byte {special:#x}, no control"
                    );
                }
            }
            let clean: std::vec::Vec<u8> = (0..len)
                .map(|i| [b'a', 0x21, 0x5b, 0x7f, 0xc3, 0xa9, 0x20, 0x5d][i % 8])
                .collect();
            assert_eq!(first_to_escape(&clean), len);
        }
    }

    /// Whether `doc` (one flat object) is compact, and every entry its iterator yields.
    fn flat_entries(
        doc: &str,
    ) -> (
        bool,
        std::vec::Vec<(std::string::String, std::string::String)>,
    ) {
        let (text, compact, spans) = Scanner::from_text(doc).flat_object().unwrap();
        assert_eq!(text, doc.trim());
        // Where the compact reading applies, it gives what the general one gives.
        #[cfg(not(rmq_size_opt))]
        {
            let mut fast = Scanner::from_text(doc);
            fast.skip_ws();
            let start = fast.pos;
            fast.pos += 1;
            let mut general = fast.clone();
            if let Some(got) = fast.compact_flat_object(start) {
                assert_eq!(got, general.general_flat_object(start), "{doc}");
                assert_eq!(fast.pos, general.pos, "{doc}");
            }
        }
        let entries = |compact| {
            FlatObjectIter::new(text, compact)
                .map(|(k, v)| {
                    assert!(!(compact && (k.is_escaped() || v.is_escaped())));
                    (k.to_string(), v.to_string())
                })
                .collect::<std::vec::Vec<_>>()
        };
        let general = entries(false);
        if compact {
            assert_eq!(entries(true), general, "{doc}");
        }
        // Speed builds record up to CAP entries: then the spans hold exactly them.
        #[cfg(not(rmq_size_opt))]
        assert_eq!(
            spans.is_complete(),
            general.len() <= JsonSpans::CAP,
            "{doc}"
        );
        if spans.is_complete() {
            let by_spans: std::vec::Vec<_> = spans
                .iter(text)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(by_spans, general, "{doc}");
        }
        (compact, general)
    }

    #[test]
    fn compact_objects_are_recognised() {
        let (compact, e) = flat_entries(r#"{"a":"x","bb":12,"c":null,"d":true,"e":"","f":-1.5}"#);
        assert!(compact);
        let pairs: std::vec::Vec<(&str, &str)> =
            e.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("a", "x"),
                ("bb", "12"),
                ("d", "true"),
                ("e", ""),
                ("f", "-1.5")
            ]
        );
        assert!(flat_entries("{}").0);
        // String values only: the compact reading takes it.
        #[cfg(not(rmq_size_opt))]
        for doc in [r#"{"a":"x","bb":"","c":"é ✓"}"#, "{}", r#"{"k":"v"}"#] {
            let mut s = Scanner::from_text(doc);
            s.pos = 1;
            assert!(s.compact_flat_object(0).is_some(), "{doc}");
        }
        // Whitespace around the object is not part of it.
        assert!(flat_entries(r#" {"a":"x"}"#).0);
        // Whitespace anywhere, or an escape in a key or a value: the general path.
        for loose in [
            r#"{ "a":"x"}"#,
            r#"{"a" :"x"}"#,
            r#"{"a": "x"}"#,
            r#"{"a":"x" }"#,
            r#"{"a":"x","b":1 }"#,
            r#"{"a":"x"	,"b":1}"#,
            r#"{"a\"":"x"}"#,
            r#"{"a":"x\u0041"}"#,
            r#"{"a":"x\\"}"#,
        ] {
            assert!(!flat_entries(loose).0, "{loose}");
        }
    }

    proptest::proptest! {
        /// The compact path yields exactly what the general one does, for objects with
        /// and without whitespace and escapes.
        #[test]
        fn compact_iteration_matches_the_general_one(
            entries in proptest::collection::vec(
                (
                    "[a-zA-Z\"\\\\é\u{1}]{0,12}",
                    proptest::prop_oneof![
                        "[a-z0-9\"\\\\:,{}\u{1f} é]{0,20}".prop_map(|s| (s, true)),
                        "-?[0-9]{1,5}(\\.[0-9]{1,3})?".prop_map(|s| (s, false)),
                        proptest::prop_oneof![
                            proptest::strategy::Just("true"),
                            proptest::strategy::Just("false"),
                            proptest::strategy::Just("null"),
                        ].prop_map(|s| (s.to_string(), false)),
                    ],
                ),
                0..8,
            ),
            spaces in proptest::collection::vec(0..3usize, 64),
            loose in proptest::bool::ANY,
        ) {
            let mut doc = std::string::String::new();
            let mut gaps = spaces.iter().cycle();
            let mut spaced = false;
            let mut gap = |doc: &mut std::string::String| {
                // Half the documents have no whitespace at all (the compact path).
                let n = if loose { *gaps.next().unwrap() } else { 0 };
                spaced |= n > 0;
                for _ in 0..n {
                    doc.push(' ');
                }
            };
            let quoted = |doc: &mut std::string::String, s: &str| {
                let mut buf = std::vec![0u8; s.len() * 6 + 2];
                let mut o = SliceOut::new(&mut buf);
                write_str(&mut o, s);
                let n = o.finish().unwrap();
                doc.push_str(core::str::from_utf8(&buf[..n]).unwrap());
            };
            doc.push('{');
            for (i, (key, (value, is_string))) in entries.iter().enumerate() {
                if i > 0 {
                    gap(&mut doc);
                    doc.push(',');
                }
                gap(&mut doc);
                quoted(&mut doc, key);
                gap(&mut doc);
                doc.push(':');
                gap(&mut doc);
                if *is_string {
                    quoted(&mut doc, value);
                } else {
                    doc.push_str(value);
                }
            }
            gap(&mut doc);
            doc.push('}');
            let (compact, got) = flat_entries(&doc);
            let expected: std::vec::Vec<(std::string::String, std::string::String)> = entries
                .iter()
                .filter(|(_, (v, s))| *s || v != "null")
                .map(|(k, (v, _))| (k.clone(), v.clone()))
                .collect();
            proptest::prop_assert_eq!(got, expected);
            let tight = !spaced && !doc.contains('\\');
            proptest::prop_assert_eq!(compact, tight, "{}", doc);
        }
    }
}
