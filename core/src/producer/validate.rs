//! Client-side validation before any I/O, as Java's `Validators` (behaviour.md §2.2).
//!
//! ```
//! use rocketmq_proto::producer::validate::{check_topic, check_group, check_body, ValidationError};
//! assert!(check_topic("TopicTest").is_ok());
//! assert_eq!(check_topic("bad topic"), Err(ValidationError::TopicIllegalChar(' ')));
//! assert_eq!(check_topic("SCHEDULE_TOPIC_XXXX"), Err(ValidationError::TopicNotAllowed));
//! assert!(check_group("DEFAULT_PRODUCER").is_err());
//! assert_eq!(check_body(0, 4 << 20), Err(ValidationError::BodyEmpty));
//! ```

use core::fmt;

use crate::error::Blame;

/// Longest topic name a client may send to (characters).
pub const MAX_TOPIC_LEN: usize = 127;
/// Longest group name (5.x; 4.x allowed 255).
pub const MAX_GROUP_LEN: usize = 120;
/// Java's default `maxMessageSize`: 4 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// Topics clients may not send to.
pub const NOT_ALLOWED_SEND_TOPICS: &[&str] = &[
    "SCHEDULE_TOPIC_XXXX",
    "RMQ_SYS_TRANS_HALF_TOPIC",
    "RMQ_SYS_TRANS_OP_HALF_TOPIC",
    "TRANS_CHECK_MAX_TIME_TOPIC",
    "SELF_TEST_TOPIC",
    "OFFSET_MOVED_EVENT",
];

/// Why a message or group was refused before any I/O. Always [`Blame::Config`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationError {
    /// Topic is empty or blank.
    TopicBlank,
    /// Topic longer than [`MAX_TOPIC_LEN`] characters.
    TopicTooLong(usize),
    /// Topic contains a character outside `%|a-zA-Z0-9_-`.
    TopicIllegalChar(char),
    /// Topic is a system topic clients may not send to.
    TopicNotAllowed,
    /// Group is empty or blank.
    GroupBlank,
    /// Group longer than [`MAX_GROUP_LEN`] characters.
    GroupTooLong(usize),
    /// Group contains a character outside `%|a-zA-Z0-9_-`.
    GroupIllegalChar(char),
    /// `DEFAULT_PRODUCER` / `DEFAULT_CONSUMER` are reserved.
    GroupReserved,
    /// The body is empty.
    BodyEmpty,
    /// The body exceeds the maximum message size.
    BodyTooLarge {
        /// Body length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl ValidationError {
    /// Always the caller's.
    pub fn blame(&self) -> Blame {
        Blame::Config
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TopicBlank => f.write_str("topic is blank"),
            Self::TopicTooLong(n) => {
                write!(f, "topic has {n} characters, more than {MAX_TOPIC_LEN}")
            }
            Self::TopicIllegalChar(c) => write!(f, "topic contains the illegal character {c:?}"),
            Self::TopicNotAllowed => f.write_str("sending to this system topic is not allowed"),
            Self::GroupBlank => f.write_str("group is blank"),
            Self::GroupTooLong(n) => {
                write!(f, "group has {n} characters, more than {MAX_GROUP_LEN}")
            }
            Self::GroupIllegalChar(c) => write!(f, "group contains the illegal character {c:?}"),
            Self::GroupReserved => f.write_str("group name is reserved"),
            Self::BodyEmpty => f.write_str("message body is empty"),
            Self::BodyTooLarge { len, max } => {
                write!(
                    f,
                    "message body of {len} bytes exceeds the maximum of {max}"
                )
            }
        }
    }
}

impl core::error::Error for ValidationError {}

fn legal(c: char) -> bool {
    u8::try_from(c).is_ok_and(legal_byte)
}

/// Java's alphabet for topic and group names, `%|a-zA-Z0-9_-`: the one definition.
const fn in_alphabet(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-')
}

/// Whether `b` is in [`in_alphabet`].
#[cfg(rmq_size_opt)]
#[inline]
fn legal_byte(b: u8) -> bool {
    in_alphabet(b)
}

/// [`in_alphabet`] by byte: a legal name is told with one load per byte (every send
/// checks its topic: 94 instructions for an 11-byte topic, 154 with the range
/// compares). Size builds compare instead (256 bytes of flash).
#[cfg(not(rmq_size_opt))]
const LEGAL_BYTES: [bool; 256] = {
    let mut set = [false; 256];
    let mut b = 0u8;
    while b < 128 {
        #[allow(clippy::indexing_slicing)] // compile time only, and below 128
        {
            set[b as usize] = in_alphabet(b);
        }
        b += 1;
    }
    set
};

/// Whether `b` is in [`in_alphabet`].
#[cfg(not(rmq_size_opt))]
#[inline]
fn legal_byte(b: u8) -> bool {
    // Every u8 is an index of the table: the check compiles away.
    LEGAL_BYTES.get(usize::from(b)).copied().unwrap_or(false)
}

/// Java counts UTF-16 code units; for the legal (ASCII) alphabet that equals chars.
fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Validate a topic name for sending.
pub fn check_topic(topic: &str) -> Result<(), ValidationError> {
    // Every send checks its topic: a legal one (the usual case) is told in one pass over
    // its bytes; the checks below say what is wrong with any other.
    let legal_bytes = topic.bytes().all(legal_byte);
    if legal_bytes
        && !topic.is_empty()
        && topic.len() <= MAX_TOPIC_LEN
        && !NOT_ALLOWED_SEND_TOPICS.contains(&topic)
    {
        return Ok(());
    }
    if topic.trim().is_empty() {
        return Err(ValidationError::TopicBlank);
    }
    let len = utf16_len(topic);
    if len > MAX_TOPIC_LEN {
        return Err(ValidationError::TopicTooLong(len));
    }
    if let Some(c) = topic.chars().find(|&c| !legal(c)) {
        return Err(ValidationError::TopicIllegalChar(c));
    }
    if NOT_ALLOWED_SEND_TOPICS.contains(&topic) {
        return Err(ValidationError::TopicNotAllowed);
    }
    Ok(())
}

/// Validate a producer or consumer group name.
pub fn check_group(group: &str) -> Result<(), ValidationError> {
    if group.trim().is_empty() {
        return Err(ValidationError::GroupBlank);
    }
    let len = utf16_len(group);
    if len > MAX_GROUP_LEN {
        return Err(ValidationError::GroupTooLong(len));
    }
    if let Some(c) = group.chars().find(|&c| !legal(c)) {
        return Err(ValidationError::GroupIllegalChar(c));
    }
    if group == "DEFAULT_PRODUCER" || group == "DEFAULT_CONSUMER" {
        return Err(ValidationError::GroupReserved);
    }
    Ok(())
}

/// Validate a body length (before compression) against `max`.
pub fn check_body(len: usize, max: usize) -> Result<(), ValidationError> {
    if len == 0 {
        Err(ValidationError::BodyEmpty)
    } else if len > max {
        Err(ValidationError::BodyTooLarge { len, max })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;

    /// The byte test holds exactly Java's alphabet `%|a-zA-Z0-9_-`, byte by byte and for
    /// characters beyond ASCII.
    #[test]
    fn the_legal_set_is_javas_alphabet() {
        for b in 0..=u8::MAX {
            let want = b.is_ascii_alphanumeric() || b"%|_-".contains(&b);
            assert_eq!(legal_byte(b), want, "byte {b:#04x}");
            assert_eq!(legal(char::from(b)), want, "char U+{b:04X}");
        }
        for c in ['é', 'Ā', '中', '\u{10FFFF}'] {
            assert!(!legal(c), "{c:?}");
        }
    }

    #[test]
    fn java_rules() {
        assert!(check_topic("%RETRY%group_1|x-y").is_ok());
        assert_eq!(check_topic("  "), Err(ValidationError::TopicBlank));
        let long: String = "t".repeat(128);
        assert_eq!(check_topic(&long), Err(ValidationError::TopicTooLong(128)));
        assert!(check_topic(&long[..127]).is_ok());
        assert_eq!(
            check_topic("主题"),
            Err(ValidationError::TopicIllegalChar('主'))
        );
        assert_eq!(
            check_group(&"g".repeat(121)),
            Err(ValidationError::GroupTooLong(121))
        );
        assert_eq!(
            check_group("DEFAULT_CONSUMER"),
            Err(ValidationError::GroupReserved)
        );
        assert_eq!(
            check_group("a.b"),
            Err(ValidationError::GroupIllegalChar('.'))
        );
        assert_eq!(
            check_body(DEFAULT_MAX_MESSAGE_SIZE + 1, DEFAULT_MAX_MESSAGE_SIZE),
            Err(ValidationError::BodyTooLarge {
                len: DEFAULT_MAX_MESSAGE_SIZE + 1,
                max: DEFAULT_MAX_MESSAGE_SIZE
            })
        );
        assert!(check_body(DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_MESSAGE_SIZE).is_ok());
    }
}
