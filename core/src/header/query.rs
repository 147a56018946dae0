//! Message lookups: QUERY_MESSAGE (12) and VIEW_MESSAGE_BY_ID (33) (wire.md §6.12).

use crate::ext_header;
use crate::text::Text;

ext_header! {
    /// QUERY_MESSAGE (12) request; query every master broker of the topic and merge.
    /// Answered with [`QueryMessageResponse`] and stored messages, or QUERY_NOT_FOUND.
    pub struct QueryMessageRequest<'a> {
        /// Topic.
        topic: req Text<'a> = "topic",
        /// A UNIQ_KEY or one of the message KEYS, as `unique_key_query` says.
        key: req Text<'a> = "key",
        /// Maximum messages to return.
        max_num: req i32 = "maxNum",
        /// Range start, ms since the epoch.
        begin_timestamp: req i64 = "beginTimestamp",
        /// Range end, ms since the epoch.
        end_timestamp: req i64 = "endTimestamp",
        /// `true`: `key` is a UNIQ_KEY (maxNum forced to 32); `false`: a message key.
        unique_key_query: opt bool = "_UNIQUE_KEY_QUERY",
        /// Target broker name (inherited, 5.x).
        broker_name: opt Text<'a> = "bname",
    }
}

ext_header! {
    /// QUERY_MESSAGE (12) SUCCESS response; the body holds the stored messages.
    pub struct QueryMessageResponse {
        /// When the index was last updated, ms since the epoch.
        index_last_update_timestamp: req i64 = "indexLastUpdateTimestamp",
        /// Commit-log offset of the last indexed message.
        index_last_update_phyoffset: req i64 = "indexLastUpdatePhyoffset",
    }
}

ext_header! {
    /// VIEW_MESSAGE_BY_ID (33) request, sent to the store host decoded from the offset
    /// msg id; the response body is exactly one stored message.
    pub struct ViewMessageRequest<'a> {
        /// Commit-log offset.
        offset: req i64 = "offset",
        /// Topic.
        topic: opt Text<'a> = "topic",
        /// Target broker name (inherited, 5.x).
        broker_name: opt Text<'a> = "bname",
    }
}
