//! Framing (wire.md §1): `length:i32 | serializeType:u8 | headerLength:u24 | header | body`.
//!
//! [`FrameDecoder::decode`] looks at caller-owned bytes and yields at most one frame per
//! call. It never consumes anything: on success it says how many bytes the frame took,
//! and on incomplete input it says how many bytes it needs in total. Limits are checked
//! as early as the bytes allow: the frame size as soon as the length field is in,
//! serialize type and header length as soon as the second word is in — so garbage never
//! makes a caller wait for (or buffer) 16 MiB.
//!
//! ```
//! use rocketmq_proto::frame::{FrameDecoder, Decoded};
//! let bytes = [0, 0, 0, 6, 1, 0, 0, 0, b'h', b'i'];
//! let dec = FrameDecoder::new();
//! match dec.decode(&bytes).unwrap() {
//!     Decoded::Frame { frame, consumed } => {
//!         assert_eq!(consumed, 10);
//!         assert_eq!(frame.header, b"");
//!         assert_eq!(frame.body, b"hi");
//!     }
//!     Decoded::Incomplete { .. } => unreachable!(),
//! }
//! assert_eq!(dec.decode(&bytes[..5]).unwrap(), Decoded::Incomplete { needed: 8 });
//! ```

use crate::codes::SerializeType;
use crate::error::DecodeError;

/// Default maximum frame size, including the 4-byte length field (Java's
/// `com.rocketmq.remoting.frameMaxLength`): 16 MiB.
pub const DEFAULT_MAX_FRAME: u32 = 16 * 1024 * 1024;

/// Bytes before the header: the length field and the serialize-type/header-length word.
pub const PREFIX_LEN: usize = 8;

/// One frame, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// How the header is serialized.
    pub serialize_type: SerializeType,
    /// The header bytes (JSON text or binary header).
    pub header: &'a [u8],
    /// The body (possibly empty).
    pub body: &'a [u8],
}

/// The outcome of one [`FrameDecoder::decode`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole frame; the first `consumed` input bytes belong to it.
    Frame {
        /// The frame.
        frame: Frame<'a>,
        /// Bytes the frame occupies at the start of the input.
        consumed: usize,
    },
    /// Not enough input yet. `needed` is the total number of bytes (from the start of
    /// the input) required to make progress: 4, then 8, then the whole frame.
    Incomplete {
        /// Total bytes required.
        needed: usize,
    },
}

/// An incremental frame decoder over caller-owned bytes. It holds only its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameDecoder {
    max_frame: u32,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder with the 16 MiB default limit.
    pub const fn new() -> Self {
        FrameDecoder {
            max_frame: DEFAULT_MAX_FRAME,
        }
    }

    /// A decoder accepting frames of at most `max_frame` bytes (including the length
    /// field). Small devices set this to their receive buffer size.
    pub const fn with_max_frame(max_frame: u32) -> Self {
        FrameDecoder { max_frame }
    }

    /// The configured limit.
    pub const fn max_frame(&self) -> u32 {
        self.max_frame
    }

    /// Decode the frame at the start of `input`, if it is complete.
    // Inline in speed builds, for the reason `Command::decode` is.
    #[cfg_attr(not(rmq_size_opt), inline)]
    pub fn decode<'a>(&self, input: &'a [u8]) -> Result<Decoded<'a>, DecodeError> {
        let Some(len_bytes) = input.first_chunk::<4>() else {
            return Ok(Decoded::Incomplete { needed: 4 });
        };
        let length = i32::from_be_bytes(*len_bytes);
        let size = i64::from(length) + 4;
        // The limit first: nothing else is looked at for an oversized frame.
        if size > i64::from(self.max_frame) {
            return Err(DecodeError::FrameTooLarge {
                size: size as u64,
                limit: self.max_frame,
            });
        }
        if length < 4 {
            return Err(DecodeError::FrameTooShort { length });
        }
        // `length` is in 4..=max_frame-4 here, so these conversions are exact.
        let size = size as usize;
        let Some(word) = input.get(4..8).and_then(|w| w.first_chunk::<4>()) else {
            return Ok(Decoded::Incomplete { needed: 8 });
        };
        let word = u32::from_be_bytes(*word);
        let type_byte = (word >> 24) as u8;
        let header_length = word & 0x00FF_FFFF;
        let available = length as u32 - 4;
        if header_length > available {
            return Err(DecodeError::HeaderPastFrame {
                header_length,
                available,
            });
        }
        let serialize_type = SerializeType::from_u8(type_byte)
            .ok_or(DecodeError::UnknownSerializeType(type_byte))?;
        let Some(frame_bytes) = input.get(PREFIX_LEN..size) else {
            return Ok(Decoded::Incomplete { needed: size });
        };
        let (header, body) = frame_bytes.split_at(header_length as usize);
        Ok(Decoded::Frame {
            frame: Frame {
                serialize_type,
                header,
                body,
            },
            consumed: size,
        })
    }
}

/// The 8-byte prefix for a frame with this header length and body length.
/// `None` if the sizes do not fit the wire's widths.
pub fn prefix(
    serialize_type: SerializeType,
    header_len: usize,
    body_len: usize,
) -> Option<[u8; PREFIX_LEN]> {
    if header_len > 0x00FF_FFFF {
        return None;
    }
    let length = 4usize.checked_add(header_len)?.checked_add(body_len)?;
    let length = i32::try_from(length).ok()?;
    let word = (u32::from(serialize_type.as_u8()) << 24) | header_len as u32;
    let mut p = [0u8; PREFIX_LEN];
    p[..4].copy_from_slice(&length.to_be_bytes());
    p[4..].copy_from_slice(&word.to_be_bytes());
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_typed_and_early() {
        let d = FrameDecoder::new();
        assert_eq!(
            d.decode(&[0, 0, 0, 3]),
            Err(DecodeError::FrameTooShort { length: 3 })
        );
        assert_eq!(
            d.decode(&[0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::FrameTooShort { length: -1 })
        );
        assert_eq!(
            d.decode(&[0x7f, 0xff, 0xff, 0xff]),
            Err(DecodeError::FrameTooLarge {
                size: 0x8000_0003,
                limit: DEFAULT_MAX_FRAME
            })
        );
        // Header length 9 but only 4 bytes after the word: rejected before the rest arrives.
        assert_eq!(
            d.decode(&[0, 0, 0, 8, 0, 0, 0, 9]),
            Err(DecodeError::HeaderPastFrame {
                header_length: 9,
                available: 4
            })
        );
        assert_eq!(
            d.decode(&[0, 0, 0, 8, 2, 0, 0, 1]),
            Err(DecodeError::UnknownSerializeType(2))
        );
        let small = FrameDecoder::with_max_frame(64);
        assert!(matches!(
            small.decode(&[0, 0, 0, 61]),
            Err(DecodeError::FrameTooLarge { size: 65, .. })
        ));
        assert_eq!(
            small.decode(&[0, 0, 0, 60, 0, 0, 0, 0]),
            Ok(Decoded::Incomplete { needed: 64 })
        );
    }

    #[test]
    fn prefix_matches_layout() {
        assert_eq!(
            prefix(SerializeType::RocketMq, 41, 0),
            Some([0, 0, 0, 0x2d, 1, 0, 0, 0x29])
        );
        assert_eq!(prefix(SerializeType::Json, 0x0100_0000, 0), None);
    }
}
