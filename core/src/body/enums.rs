//! Enum values as JSON bodies spell them: Java's `Enum.name()` (wire.md §8).
//!
//! ```
//! use rocketmq_proto::body::{ConsumeType, WireEnum};
//! assert_eq!(ConsumeType::Passively.as_str(), "CONSUME_PASSIVELY");
//! assert_eq!(ConsumeType::from_wire("CONSUME_POP"), Some(ConsumeType::Pop));
//! assert_eq!(ConsumeType::from_wire("consume_pop"), None);
//! ```

use crate::json::Scanner;
use crate::text::Text;

use super::scan::R;
use crate::error::DecodeError;

/// An enum written as its Java constant name.
pub trait WireEnum: Sized + Copy + 'static {
    /// The type's name, for error reports.
    const NAME: &'static str;
    /// Every value, in Java declaration order.
    const ALL: &'static [Self];
    /// The exact wire string.
    fn as_str(self) -> &'static str;
    /// The value with this exact wire string (case-sensitive, as fastjson matches names).
    fn from_wire(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }
    /// The value whose wire string equals this (possibly escaped) text.
    fn from_text(t: &Text<'_>) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| *t == v.as_str())
    }
}

macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $wire:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl WireEnum for $name {
            const NAME: &'static str = stringify!($name);
            const ALL: &'static [Self] = &[$( $name::$variant ),+];
            fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $wire, )+
                }
            }
        }

        impl $name {
            /// The exact wire string.
            pub fn as_str(self) -> &'static str {
                <Self as WireEnum>::as_str(self)
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// How a consumer gets messages (`ConsumeType`).
    ConsumeType {
        /// `CONSUME_ACTIVELY`: a pull consumer.
        Actively = "CONSUME_ACTIVELY",
        /// `CONSUME_PASSIVELY`: a push consumer.
        Passively = "CONSUME_PASSIVELY",
        /// `CONSUME_POP`: a 5.x POP consumer (4.x brokers read it as null).
        Pop = "CONSUME_POP",
    }
}

wire_enum! {
    /// Whether a group shares queues or every member reads everything (`MessageModel`).
    MessageModel {
        /// `BROADCASTING`: every consumer gets every message; offsets kept locally.
        Broadcasting = "BROADCASTING",
        /// `CLUSTERING`: queues are divided among the group.
        Clustering = "CLUSTERING",
    }
}

wire_enum! {
    /// Where a new consumer group starts (`ConsumeFromWhere`).
    ConsumeFromWhere {
        /// `CONSUME_FROM_LAST_OFFSET`.
        LastOffset = "CONSUME_FROM_LAST_OFFSET",
        /// `CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST` (deprecated in Java).
        LastOffsetAndFromMinWhenBootFirst = "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
        /// `CONSUME_FROM_MIN_OFFSET` (deprecated in Java).
        MinOffset = "CONSUME_FROM_MIN_OFFSET",
        /// `CONSUME_FROM_MAX_OFFSET` (deprecated in Java).
        MaxOffset = "CONSUME_FROM_MAX_OFFSET",
        /// `CONSUME_FROM_FIRST_OFFSET`.
        FirstOffset = "CONSUME_FROM_FIRST_OFFSET",
        /// `CONSUME_FROM_TIMESTAMP`.
        Timestamp = "CONSUME_FROM_TIMESTAMP",
    }
}

wire_enum! {
    /// The language of a subscription expression (`ExpressionType`). An empty or absent
    /// value means `TAG`.
    ExpressionType {
        /// `TAG`: `*` or `TagA || TagB`.
        Tag = "TAG",
        /// `SQL92`: a property filter (the broker must enable it).
        Sql92 = "SQL92",
    }
}

wire_enum! {
    /// How an assigned queue is consumed (`MessageRequestMode`, 5.x assignments).
    MessageRequestMode {
        /// `PULL`.
        Pull = "PULL",
        /// `POP`.
        Pop = "POP",
    }
}

/// Read an enum value; `None` for `null`. An unknown name is an error naming the field
/// (Java would read it as null and fail later, less clearly).
pub(crate) fn scan_enum<E: WireEnum>(s: &mut Scanner<'_>, field: &'static str) -> R<Option<E>> {
    match s.string_or_null()? {
        None => Ok(None),
        Some(t) => E::from_text(&t).map(Some).ok_or(DecodeError::InvalidField {
            field,
            expected: E::NAME,
        }),
    }
}
