//! Errors, grouped by who is to blame.
//!
//! Every error says *what* went wrong and *where* (the field, the offset, the limit).
//! [`DecodeError::blame`] and [`EncodeError::blame`] tell an adapter what to do:
//! a [`Blame::Peer`] error on a connection means "close it"; a [`Blame::Resource`]
//! error means a caller-chosen capacity was too small; a [`Blame::Config`] error means
//! the caller asked for something the protocol cannot express.

use core::fmt;

/// Who caused an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Blame {
    /// The remote peer sent bytes that break the protocol. Close the connection.
    Peer,
    /// The caller asked for something the protocol cannot represent.
    Config,
    /// A bound chosen by the caller (buffer, capacity, frame limit) was hit.
    Resource,
    /// The transport failed (reported by adapters, never by the codec).
    Transport,
}

/// What was wrong with a JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JsonError {
    /// The input ended inside a value.
    UnexpectedEnd,
    /// A byte that cannot start or continue the expected token.
    UnexpectedByte(u8),
    /// A string with an invalid escape sequence (or an unpaired surrogate).
    InvalidEscape,
    /// A number that does not fit the expected integer type, or is not an integer.
    InvalidNumber,
    /// Nesting deeper than the scanner's depth limit.
    TooDeep,
    /// A value of the wrong JSON type for the field (e.g. an array where a string belongs).
    WrongType,
    /// Bytes after the end of the top-level value.
    TrailingBytes,
}

/// An error decoding bytes received from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame's `length` field is below 4 (it must at least cover the header-length word).
    FrameTooShort {
        /// The length field as read.
        length: i32,
    },
    /// The frame (`length + 4`) exceeds the decoder's limit. Checked before anything else.
    FrameTooLarge {
        /// The announced frame size including the 4-byte length field.
        size: u64,
        /// The configured limit.
        limit: u32,
    },
    /// The header length announced in the frame runs past the frame's end.
    HeaderPastFrame {
        /// Announced header length.
        header_length: u32,
        /// Bytes available for header and body.
        available: u32,
    },
    /// The serialize-type byte is neither 0 (JSON) nor 1 (ROCKETMQ).
    UnknownSerializeType(u8),
    /// A JSON document (header or body) is malformed.
    Json {
        /// Byte offset inside the JSON text.
        offset: u32,
        /// What was wrong.
        error: JsonError,
    },
    /// A binary structure (binary header, stored message, batch entry) is truncated or
    /// announces a length that does not fit.
    Truncated {
        /// Which structure or field.
        what: &'static str,
        /// Byte offset where it happened.
        offset: u32,
    },
    /// A length field holds an impossible value (negative, or larger than its container).
    InvalidLength {
        /// Which length field.
        what: &'static str,
        /// The value read.
        length: i64,
    },
    /// Bytes that must be UTF-8 are not.
    InvalidUtf8 {
        /// Which field.
        what: &'static str,
    },
    /// A field that the command requires is absent.
    MissingField(&'static str),
    /// A field is present but its value cannot be parsed as its type.
    InvalidField {
        /// The field's wire name.
        field: &'static str,
        /// What was expected (e.g. "i64", "bool", "hex message id").
        expected: &'static str,
    },
    /// A stored-message record has an unknown magic code.
    BadMagic(i32),
    /// The body is compressed with an algorithm this build does not include
    /// (enable the `lz4` or `zstd` feature), or compression needs `alloc`.
    UnsupportedCompression(u8),
    /// A compressed body could not be inflated.
    Decompress,
    /// The decoded value does not fit a caller-chosen capacity
    /// (fixed-size collection, scratch buffer, decompression limit).
    CapacityExceeded {
        /// What overflowed.
        what: &'static str,
        /// The capacity that was exceeded.
        capacity: u32,
    },
}

impl DecodeError {
    /// Who is to blame for this error.
    pub fn blame(&self) -> Blame {
        match self {
            DecodeError::CapacityExceeded { .. } | DecodeError::FrameTooLarge { .. } => {
                Blame::Resource
            }
            DecodeError::UnsupportedCompression(_) => Blame::Config,
            _ => Blame::Peer,
        }
    }

    /// Shift the offset of a JSON error found in a sub-slice so it is relative to the
    /// enclosing document.
    #[allow(dead_code)]
    pub(crate) fn offset_by(self, base: usize) -> Self {
        match self {
            DecodeError::Json { offset, error } => DecodeError::Json {
                offset: offset.saturating_add(base as u32),
                error,
            },
            other => other,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::FrameTooShort { length } => {
                write!(f, "frame length {length} is below the minimum of 4")
            }
            DecodeError::FrameTooLarge { size, limit } => {
                write!(
                    f,
                    "frame of {size} bytes exceeds the limit of {limit} bytes"
                )
            }
            DecodeError::HeaderPastFrame {
                header_length,
                available,
            } => write!(
                f,
                "header length {header_length} runs past the frame ({available} bytes left)"
            ),
            DecodeError::UnknownSerializeType(t) => write!(f, "unknown serialize type {t}"),
            DecodeError::Json { offset, error } => {
                write!(f, "malformed JSON at byte {offset}: {error:?}")
            }
            DecodeError::Truncated { what, offset } => {
                write!(f, "{what} truncated at byte {offset}")
            }
            DecodeError::InvalidLength { what, length } => {
                write!(f, "invalid length {length} for {what}")
            }
            DecodeError::InvalidUtf8 { what } => write!(f, "{what} is not valid UTF-8"),
            DecodeError::MissingField(name) => write!(f, "required field `{name}` is missing"),
            DecodeError::InvalidField { field, expected } => {
                write!(f, "field `{field}` is not a valid {expected}")
            }
            DecodeError::BadMagic(m) => write!(f, "unknown message magic code {m:#x}"),
            DecodeError::UnsupportedCompression(t) => {
                write!(f, "compression type {t} is not supported by this build")
            }
            DecodeError::Decompress => f.write_str("compressed body is corrupt"),
            DecodeError::CapacityExceeded { what, capacity } => {
                write!(f, "{what} exceeds the capacity of {capacity}")
            }
        }
    }
}

impl core::error::Error for DecodeError {}

/// An error encoding a command, header or body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is too small; `needed` bytes are required in total.
    BufferTooSmall {
        /// Total bytes the encoding needs.
        needed: usize,
    },
    /// The encoded frame would exceed the frame limit.
    FrameTooLarge {
        /// Encoded frame size including the 4-byte length field.
        size: usize,
        /// The limit.
        limit: u32,
    },
    /// A value does not fit the width the wire gives it (e.g. a request code above
    /// 32767 in a binary header, a properties string over 32767 bytes).
    ValueOutOfRange {
        /// Which field.
        field: &'static str,
    },
    /// A value is not allowed by the protocol (e.g. a property name containing the
    /// 0x01/0x02 separators).
    InvalidValue {
        /// Which field.
        field: &'static str,
    },
    /// A fixed-capacity container was too small.
    CapacityExceeded {
        /// What overflowed.
        what: &'static str,
        /// Its capacity.
        capacity: u32,
    },
}

impl EncodeError {
    /// Who is to blame for this error.
    pub fn blame(&self) -> Blame {
        match self {
            EncodeError::BufferTooSmall { .. }
            | EncodeError::FrameTooLarge { .. }
            | EncodeError::CapacityExceeded { .. } => Blame::Resource,
            EncodeError::ValueOutOfRange { .. } | EncodeError::InvalidValue { .. } => Blame::Config,
        }
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: {needed} bytes needed")
            }
            EncodeError::FrameTooLarge { size, limit } => {
                write!(
                    f,
                    "encoded frame of {size} bytes exceeds the limit of {limit}"
                )
            }
            EncodeError::ValueOutOfRange { field } => {
                write!(f, "value of `{field}` does not fit its wire width")
            }
            EncodeError::InvalidValue { field } => write!(f, "value of `{field}` is not allowed"),
            EncodeError::CapacityExceeded { what, capacity } => {
                write!(f, "{what} exceeds the capacity of {capacity}")
            }
        }
    }
}

impl core::error::Error for EncodeError {}
