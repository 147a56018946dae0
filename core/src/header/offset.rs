//! Consumer offsets and queue offset lookups: QUERY_CONSUMER_OFFSET (14),
//! UPDATE_CONSUMER_OFFSET (15), SEARCH_OFFSET_BY_TIMESTAMP (29), GET_MAX_OFFSET (30),
//! GET_MIN_OFFSET (31), GET_EARLIEST_MSG_STORETIME (32) (wire.md §6.7, §6.8).

use crate::ext::FieldValue;
use crate::ext_header;
use crate::header::FieldType;
use crate::text::Text;

ext_header! {
    /// QUERY_CONSUMER_OFFSET (14) request (wire.md §6.7). Answered with
    /// [`QueryConsumerOffsetResponse`], or QUERY_NOT_FOUND (22) with no fields.
    pub struct QueryConsumerOffsetRequest<'a> {
        /// Consumer group.
        consumer_group: req Text<'a> = "consumerGroup",
        /// Topic.
        topic: req Text<'a> = "topic",
        /// Queue id.
        queue_id: req i32 = "queueId",
        /// Answer 0 instead of QUERY_NOT_FOUND when the queue still starts at 0 in memory (absent = true).
        set_zero_if_not_found: opt bool = "setZeroIfNotFound",
        /// Target broker name (inherited, 5.x).
        broker_name: opt Text<'a> = "bname",
    }
}

ext_header! {
    /// UPDATE_CONSUMER_OFFSET (15) request, often oneway (wire.md §6.7). The response
    /// has no fields.
    pub struct UpdateConsumerOffsetRequest<'a> {
        /// Consumer group.
        consumer_group: req Text<'a> = "consumerGroup",
        /// Topic.
        topic: req Text<'a> = "topic",
        /// Queue id.
        queue_id: req i32 = "queueId",
        /// The offset to store.
        commit_offset: req i64 = "commitOffset",
        /// Target broker name (inherited, 5.x).
        broker_name: opt Text<'a> = "bname",
    }
}

ext_header! {
    /// GET_MAX_OFFSET (30) request (wire.md §6.8).
    pub struct GetMaxOffsetRequest<'a> {
        /// Topic.
        topic: req Text<'a> = "topic",
        /// Queue id.
        queue_id: req i32 = "queueId",
        /// Only count committed messages (absent = true).
        committed: opt bool = "committed",
        /// Target broker name (inherited, 5.x).
        broker_name: opt Text<'a> = "bname",
    }
}

ext_header! {
    /// GET_MIN_OFFSET (31) request (wire.md §6.8).
    pub struct GetMinOffsetRequest<'a> {
        /// Topic.
        topic: req Text<'a> = "topic",
        /// Queue id.
        queue_id: req i32 = "queueId",
        /// Target broker name (inherited, 5.x).
        broker_name: opt Text<'a> = "bname",
    }
}

/// Which offset SEARCH_OFFSET_BY_TIMESTAMP returns when several messages share the
/// timestamp (Java `BoundaryType`).
///
/// Written as `LOWER` / `UPPER`. Decoded as Java's `BoundaryType.getType` does:
/// `upper` in any letter case is [`Upper`](Self::Upper), anything else
/// [`Lower`](Self::Lower).
///
/// ```
/// use rocketmq_proto::header::{BoundaryType, FieldType};
/// assert_eq!(BoundaryType::parse("upper".into()), Some(BoundaryType::Upper));
/// assert_eq!(BoundaryType::parse("LOWER".into()), Some(BoundaryType::Lower));
/// assert_eq!(BoundaryType::Upper.name(), "UPPER");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BoundaryType {
    /// The first matching offset (the default).
    #[default]
    Lower,
    /// The last matching offset.
    Upper,
}

impl BoundaryType {
    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            BoundaryType::Lower => "LOWER",
            BoundaryType::Upper => "UPPER",
        }
    }
}

impl FieldType<'_> for BoundaryType {
    const EXPECTED: &'static str = "LOWER or UPPER";
    fn parse(v: Text<'_>) -> Option<Self> {
        // A value too long to be `upper` fails to decode into the scratch: LOWER.
        let mut buf = [0u8; 8];
        Some(match v.decode_into(&mut buf) {
            Ok(s) if s.eq_ignore_ascii_case("upper") => BoundaryType::Upper,
            _ => BoundaryType::Lower,
        })
    }
    fn to_value(&self) -> FieldValue<'_> {
        FieldValue::Text(Text::new(self.name()))
    }
}

ext_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29) request (wire.md §6.8).
    pub struct SearchOffsetRequest<'a> {
        /// Topic.
        topic: req Text<'a> = "topic",
        /// Queue id.
        queue_id: req i32 = "queueId",
        /// Store timestamp to look for, ms since the epoch.
        timestamp: req i64 = "timestamp",
        /// Which of several matches to return (absent = LOWER).
        boundary_type: opt BoundaryType = "boundaryType",
        /// Target broker name (inherited, 5.x).
        broker_name: opt Text<'a> = "bname",
    }
}

ext_header! {
    /// GET_EARLIEST_MSG_STORETIME (32) request (wire.md §6.8).
    pub struct GetEarliestMsgStoretimeRequest<'a> {
        /// Topic.
        topic: req Text<'a> = "topic",
        /// Queue id.
        queue_id: req i32 = "queueId",
        /// Target broker name (inherited, 5.x).
        broker_name: opt Text<'a> = "bname",
    }
}

ext_header! {
    /// The one-field `offset` response of QUERY_CONSUMER_OFFSET, GET_MAX_OFFSET,
    /// GET_MIN_OFFSET and SEARCH_OFFSET_BY_TIMESTAMP (wire.md §6.7, §6.8).
    pub struct OffsetResponse {
        /// The offset (for GET_MAX_OFFSET: the next offset to be written).
        offset: req i64 = "offset",
    }
}

/// QUERY_CONSUMER_OFFSET (14) SUCCESS response: the stored consumer offset.
pub type QueryConsumerOffsetResponse = OffsetResponse;
/// GET_MAX_OFFSET (30) response.
pub type GetMaxOffsetResponse = OffsetResponse;
/// GET_MIN_OFFSET (31) response.
pub type GetMinOffsetResponse = OffsetResponse;
/// SEARCH_OFFSET_BY_TIMESTAMP (29) response.
pub type SearchOffsetResponse = OffsetResponse;

ext_header! {
    /// GET_EARLIEST_MSG_STORETIME (32) response (wire.md §6.8).
    pub struct GetEarliestMsgStoretimeResponse {
        /// Store time of the queue's first message, ms since the epoch.
        timestamp: req i64 = "timestamp",
    }
}
