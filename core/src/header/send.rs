//! Sending: SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320) and the
//! request-reply sends SEND_REPLY_MESSAGE (324) / SEND_REPLY_MESSAGE_V2 (325)
//! (wire.md §6.2, §6.15).
//!
//! All five share one logical header, [`SendMessageRequest`], written in one of two
//! key sets ([`SendHeaderForm`]): V1 uses Java's long field names, V2 (and batch) the
//! one-letter keys `a`…`n`. The key set must match the request code — a Java broker
//! decodes code 10 with the V1 names and 310/320 with the V2 names — so the header is
//! encoded through [`SendMessageFields`], which names its form.
//!
//! ```
//! use rocketmq_proto::codes::{RequestCode, SerializeType};
//! use rocketmq_proto::command::{Command, CommandEncoder, Header};
//! use rocketmq_proto::frame::{Decoded, FrameDecoder};
//! use rocketmq_proto::header::{SendHeaderForm, SendMessageRequest};
//!
//! let req = SendMessageRequest {
//!     producer_group: "PG".into(),
//!     topic: "TopicTest".into(),
//!     default_topic: SendMessageRequest::DEFAULT_TOPIC.into(),
//!     default_topic_queue_nums: SendMessageRequest::DEFAULT_TOPIC_QUEUE_NUMS,
//!     queue_id: 1,
//!     sys_flag: 0,
//!     born_timestamp: 1_700_000_000_000,
//!     flag: 0,
//!     properties: Some("WAIT\u{1}true\u{2}".into()),
//!     reconsume_times: Some(0),
//!     unit_mode: Some(false),
//!     max_reconsume_times: None,
//!     batch: Some(false),
//!     broker_name: Some("broker-a".into()),
//! };
//! let mut buf = [0u8; 512];
//! let n = CommandEncoder::new(SerializeType::Json)
//!     .encode(&mut buf, &Header::request(RequestCode::SEND_MESSAGE_V2, 1), &req.v2(), b"body")
//!     .unwrap();
//! let Decoded::Frame { frame, .. } = FrameDecoder::new().decode(&buf[..n]).unwrap() else { unreachable!() };
//! let cmd = Command::decode(frame).unwrap();
//! assert_eq!(cmd.fields().get("b").unwrap(), "TopicTest");
//! assert_eq!(SendMessageRequest::decode_v2(&cmd.fields()).unwrap(), req);
//! assert_eq!(SendHeaderForm::for_code(RequestCode::SEND_BATCH_MESSAGE), Some(SendHeaderForm::V2));
//! ```

use crate::codes::RequestCode;
use crate::error::DecodeError;
#[cfg(not(rmq_size_opt))]
use crate::ext::{BinaryKey, JsonKey};
use crate::ext::{DecodeFields, EncodeFields, ExtFields, FieldSink, FieldValue};
use crate::ext_header;
use crate::header::{parse_field, FieldType};
use crate::text::Text;

/// Which key set a send header is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendHeaderForm {
    /// Java's long field names (SEND_MESSAGE 10, SEND_REPLY_MESSAGE 324); the broker
    /// name travels in the inherited `bname`.
    V1,
    /// One-letter keys `a`…`n` (SEND_MESSAGE_V2 310, SEND_BATCH_MESSAGE 320,
    /// SEND_REPLY_MESSAGE_V2 325); the broker name travels in `n`.
    V2,
}

impl SendHeaderForm {
    /// The form a request code's header uses; `None` for codes that are not sends.
    pub const fn for_code(code: RequestCode) -> Option<Self> {
        match code {
            RequestCode::SEND_MESSAGE | RequestCode::SEND_REPLY_MESSAGE => Some(Self::V1),
            RequestCode::SEND_MESSAGE_V2
            | RequestCode::SEND_BATCH_MESSAGE
            | RequestCode::SEND_REPLY_MESSAGE_V2 => Some(Self::V2),
            _ => None,
        }
    }

    const fn keys(self) -> &'static Keys<&'static str> {
        match self {
            Self::V1 => &V1_KEYS,
            Self::V2 => &V2_KEYS,
        }
    }

    const fn wire_keys(self) -> &'static Keys<Text<'static>> {
        match self {
            Self::V1 => &V1_WIRE,
            Self::V2 => &V2_WIRE,
        }
    }

    #[cfg(not(rmq_size_opt))]
    const fn json_keys(self) -> &'static Keys<JsonKey> {
        match self {
            Self::V1 => &V1_JSON,
            Self::V2 => &V2_JSON,
        }
    }

    #[cfg(not(rmq_size_opt))]
    const fn binary_keys(self) -> &'static Keys<BinaryKey> {
        match self {
            Self::V1 => &V1_BINARY,
            Self::V2 => &V2_BINARY,
        }
    }
}

/// The logical send header shared by SEND_MESSAGE, SEND_MESSAGE_V2, SEND_BATCH_MESSAGE
/// and the reply sends (wire.md §6.2). Field docs give the V2 / V1 wire keys.
///
/// Encode it with [`v1`](Self::v1), [`v2`](Self::v2) or [`with_form`](Self::with_form);
/// decode it with [`decode_v1`](Self::decode_v1), [`decode_v2`](Self::decode_v2), or
/// through [`DecodeFields`], which recognises either key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendMessageRequest<'a> {
    /// Producer group. Keys `a` / `producerGroup` (required).
    pub producer_group: Text<'a>,
    /// Target topic (namespace-wrapped if namespaces are used). Keys `b` / `topic` (required).
    pub topic: Text<'a>,
    /// Auto-create template topic, normally `TBW102`. Keys `c` / `defaultTopic` (required).
    pub default_topic: Text<'a>,
    /// Queues to create if the topic is auto-created (Java default 4). Keys `d` / `defaultTopicQueueNums` (required).
    pub default_topic_queue_nums: i32,
    /// Target queue; `< 0` lets the broker pick one. Keys `e` / `queueId` (required).
    pub queue_id: i32,
    /// Message sysFlag bits set by the client (compression, transaction prepared). Keys `f` / `sysFlag` (required).
    pub sys_flag: i32,
    /// Client wall clock, ms since the epoch. Keys `g` / `bornTimestamp` (required).
    pub born_timestamp: i64,
    /// The message's user `flag` (not the RPC flag). Keys `h` / `flag` (required).
    pub flag: i32,
    /// Properties string (0x01/0x02 separators). Keys `i` / `properties`.
    pub properties: Option<Text<'a>>,
    /// Normally 0; for `%RETRY%` topics the RECONSUME_TIME property. Keys `j` / `reconsumeTimes`.
    pub reconsume_times: Option<i32>,
    /// Normally `false`. Keys `k` / `unitMode`.
    pub unit_mode: Option<bool>,
    /// Only for sends to `%RETRY%` topics (MAX_RECONSUME_TIMES property). Keys `l` / `maxReconsumeTimes`.
    pub max_reconsume_times: Option<i32>,
    /// Must be `true` for SEND_BATCH_MESSAGE: the broker parses a batch from this flag. Keys `m` / `batch`.
    pub batch: Option<bool>,
    /// Target broker name (5.x). Keys `n` / `bname`.
    pub broker_name: Option<Text<'a>>,
}

/// The wire keys of one form, in the order they are written: as strings (`Keys<&str>`,
/// for decoding) and as [`Text::key`]s (`Keys<Text>`, for encoding).
struct Keys<K> {
    producer_group: K,
    topic: K,
    default_topic: K,
    default_topic_queue_nums: K,
    queue_id: K,
    sys_flag: K,
    born_timestamp: K,
    flag: K,
    properties: K,
    reconsume_times: K,
    unit_mode: K,
    max_reconsume_times: K,
    batch: K,
    broker_name: K,
}

impl Keys<&'static str> {
    /// Each key's JSON member start, for the send's own JSON writer.
    #[cfg(not(rmq_size_opt))]
    const fn json(&self) -> Keys<JsonKey> {
        Keys {
            producer_group: JsonKey::new(self.producer_group),
            topic: JsonKey::new(self.topic),
            default_topic: JsonKey::new(self.default_topic),
            default_topic_queue_nums: JsonKey::new(self.default_topic_queue_nums),
            queue_id: JsonKey::new(self.queue_id),
            sys_flag: JsonKey::new(self.sys_flag),
            born_timestamp: JsonKey::new(self.born_timestamp),
            flag: JsonKey::new(self.flag),
            properties: JsonKey::new(self.properties),
            reconsume_times: JsonKey::new(self.reconsume_times),
            unit_mode: JsonKey::new(self.unit_mode),
            max_reconsume_times: JsonKey::new(self.max_reconsume_times),
            batch: JsonKey::new(self.batch),
            broker_name: JsonKey::new(self.broker_name),
        }
    }

    /// Each key's binary entry start, for the send's own binary writer.
    #[cfg(not(rmq_size_opt))]
    const fn binary(&self) -> Keys<BinaryKey> {
        Keys {
            producer_group: BinaryKey::new(self.producer_group),
            topic: BinaryKey::new(self.topic),
            default_topic: BinaryKey::new(self.default_topic),
            default_topic_queue_nums: BinaryKey::new(self.default_topic_queue_nums),
            queue_id: BinaryKey::new(self.queue_id),
            sys_flag: BinaryKey::new(self.sys_flag),
            born_timestamp: BinaryKey::new(self.born_timestamp),
            flag: BinaryKey::new(self.flag),
            properties: BinaryKey::new(self.properties),
            reconsume_times: BinaryKey::new(self.reconsume_times),
            unit_mode: BinaryKey::new(self.unit_mode),
            max_reconsume_times: BinaryKey::new(self.max_reconsume_times),
            batch: BinaryKey::new(self.batch),
            broker_name: BinaryKey::new(self.broker_name),
        }
    }

    const fn wire(&self) -> Keys<Text<'static>> {
        Keys {
            producer_group: Text::key(self.producer_group),
            topic: Text::key(self.topic),
            default_topic: Text::key(self.default_topic),
            default_topic_queue_nums: Text::key(self.default_topic_queue_nums),
            queue_id: Text::key(self.queue_id),
            sys_flag: Text::key(self.sys_flag),
            born_timestamp: Text::key(self.born_timestamp),
            flag: Text::key(self.flag),
            properties: Text::key(self.properties),
            reconsume_times: Text::key(self.reconsume_times),
            unit_mode: Text::key(self.unit_mode),
            max_reconsume_times: Text::key(self.max_reconsume_times),
            batch: Text::key(self.batch),
            broker_name: Text::key(self.broker_name),
        }
    }
}

const V1_KEYS: Keys<&str> = Keys {
    producer_group: "producerGroup",
    topic: "topic",
    default_topic: "defaultTopic",
    default_topic_queue_nums: "defaultTopicQueueNums",
    queue_id: "queueId",
    sys_flag: "sysFlag",
    born_timestamp: "bornTimestamp",
    flag: "flag",
    properties: "properties",
    reconsume_times: "reconsumeTimes",
    unit_mode: "unitMode",
    max_reconsume_times: "maxReconsumeTimes",
    batch: "batch",
    broker_name: "bname",
};

const V2_KEYS: Keys<&str> = Keys {
    producer_group: "a",
    topic: "b",
    default_topic: "c",
    default_topic_queue_nums: "d",
    queue_id: "e",
    sys_flag: "f",
    born_timestamp: "g",
    flag: "h",
    properties: "i",
    reconsume_times: "j",
    unit_mode: "k",
    max_reconsume_times: "l",
    batch: "m",
    broker_name: "n",
};

const V1_WIRE: Keys<Text<'static>> = V1_KEYS.wire();
const V2_WIRE: Keys<Text<'static>> = V2_KEYS.wire();
#[cfg(not(rmq_size_opt))]
const V1_JSON: Keys<JsonKey> = V1_KEYS.json();
#[cfg(not(rmq_size_opt))]
const V2_JSON: Keys<JsonKey> = V2_KEYS.json();
#[cfg(not(rmq_size_opt))]
const V1_BINARY: Keys<BinaryKey> = V1_KEYS.binary();
#[cfg(not(rmq_size_opt))]
const V2_BINARY: Keys<BinaryKey> = V2_KEYS.binary();

/// Keys only a V1 header has (`bname` is left out: Java-derived clients send it with
/// V2 headers too).
const V1_ONLY: [&str; 13] = [
    "producerGroup",
    "topic",
    "defaultTopic",
    "defaultTopicQueueNums",
    "queueId",
    "sysFlag",
    "bornTimestamp",
    "flag",
    "properties",
    "reconsumeTimes",
    "unitMode",
    "maxReconsumeTimes",
    "batch",
];

/// Keys only a V2 header has.
const V2_ONLY: [&str; 14] = [
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n",
];

impl<'a> SendMessageRequest<'a> {
    /// The auto-create template topic Java sends in `defaultTopic` (`TBW102`).
    pub const DEFAULT_TOPIC: &'static str = "TBW102";
    /// Java's default `defaultTopicQueueNums`.
    pub const DEFAULT_TOPIC_QUEUE_NUMS: i32 = 4;

    /// This header in the V1 form (long names), for SEND_MESSAGE / SEND_REPLY_MESSAGE.
    pub const fn v1(&self) -> SendMessageFields<'a> {
        self.with_form(SendHeaderForm::V1)
    }

    /// This header in the V2 form (keys `a`…`n`), for SEND_MESSAGE_V2,
    /// SEND_BATCH_MESSAGE (with `batch: Some(true)`) and SEND_REPLY_MESSAGE_V2.
    pub const fn v2(&self) -> SendMessageFields<'a> {
        self.with_form(SendHeaderForm::V2)
    }

    /// This header in the given form.
    pub const fn with_form(&self, form: SendHeaderForm) -> SendMessageFields<'a> {
        SendMessageFields {
            form,
            header: *self,
        }
    }

    /// Whether the `batch` flag is set (a SEND_BATCH_MESSAGE header).
    pub fn is_batch(&self) -> bool {
        self.batch == Some(true)
    }

    /// Decode the V1 (long names) form.
    pub fn decode_v1(fields: &ExtFields<'a>) -> Result<Self, DecodeError> {
        decode_with(fields, SendHeaderForm::V1)
    }

    /// Decode the V2 (`a`…`n`) form. The broker name is taken from `n`, or from an
    /// inherited `bname` when `n` is absent.
    pub fn decode_v2(fields: &ExtFields<'a>) -> Result<Self, DecodeError> {
        decode_with(fields, SendHeaderForm::V2)
    }

    /// Decode the form that `code` uses, as a Java broker does; `None` for a code that
    /// is not a send.
    pub fn decode_for_code(
        code: RequestCode,
        fields: &ExtFields<'a>,
    ) -> Option<Result<Self, DecodeError>> {
        SendHeaderForm::for_code(code).map(|form| decode_with(fields, form))
    }
}

/// Detect the form by the first key that belongs to only one of the two key sets;
/// with none, V2 (the form Java clients use by default).
fn detect(fields: &ExtFields<'_>) -> SendHeaderForm {
    for (k, _) in fields.iter() {
        let Some(k) = k.as_str() else { continue };
        if V2_ONLY.contains(&k) {
            return SendHeaderForm::V2;
        }
        if V1_ONLY.contains(&k) {
            return SendHeaderForm::V1;
        }
    }
    SendHeaderForm::V2
}

fn decode_with<'a>(
    fields: &ExtFields<'a>,
    form: SendHeaderForm,
) -> Result<SendMessageRequest<'a>, DecodeError> {
    let k = form.keys();
    let mut producer_group = None;
    let mut topic = None;
    let mut default_topic = None;
    let mut default_topic_queue_nums = None;
    let mut queue_id = None;
    let mut sys_flag = None;
    let mut born_timestamp = None;
    let mut flag = None;
    let mut properties = None;
    let mut reconsume_times = None;
    let mut unit_mode = None;
    let mut max_reconsume_times = None;
    let mut batch = None;
    let mut broker_name = None;
    let mut bname = None;
    // Internal iteration, as every typed header reads its fields (see
    // `ExtFields::try_for_each`).
    fields.try_for_each(|key, v| {
        let Some(key) = key.as_str() else {
            return Ok(());
        };
        if key == k.producer_group {
            producer_group = Some(parse_field(v, k.producer_group)?);
        } else if key == k.topic {
            topic = Some(parse_field(v, k.topic)?);
        } else if key == k.default_topic {
            default_topic = Some(parse_field(v, k.default_topic)?);
        } else if key == k.default_topic_queue_nums {
            default_topic_queue_nums = Some(parse_field(v, k.default_topic_queue_nums)?);
        } else if key == k.queue_id {
            queue_id = Some(parse_field(v, k.queue_id)?);
        } else if key == k.sys_flag {
            sys_flag = Some(parse_field(v, k.sys_flag)?);
        } else if key == k.born_timestamp {
            born_timestamp = Some(parse_field(v, k.born_timestamp)?);
        } else if key == k.flag {
            flag = Some(parse_field(v, k.flag)?);
        } else if key == k.properties {
            properties = Some(v);
        } else if key == k.reconsume_times {
            reconsume_times = Some(parse_field(v, k.reconsume_times)?);
        } else if key == k.unit_mode {
            unit_mode = Some(parse_field(v, k.unit_mode)?);
        } else if key == k.max_reconsume_times {
            max_reconsume_times = Some(parse_field(v, k.max_reconsume_times)?);
        } else if key == k.batch {
            batch = Some(parse_field(v, k.batch)?);
        } else if key == k.broker_name {
            broker_name = Some(v);
        } else if key == "bname" {
            // Only reached in V2: the inherited field, used when `n` is absent.
            bname = Some(v);
        }
        Ok::<(), DecodeError>(())
    })?;
    let missing = DecodeError::MissingField;
    Ok(SendMessageRequest {
        producer_group: producer_group.ok_or(missing(k.producer_group))?,
        topic: topic.ok_or(missing(k.topic))?,
        default_topic: default_topic.ok_or(missing(k.default_topic))?,
        default_topic_queue_nums: default_topic_queue_nums
            .ok_or(missing(k.default_topic_queue_nums))?,
        queue_id: queue_id.ok_or(missing(k.queue_id))?,
        sys_flag: sys_flag.ok_or(missing(k.sys_flag))?,
        born_timestamp: born_timestamp.ok_or(missing(k.born_timestamp))?,
        flag: flag.ok_or(missing(k.flag))?,
        properties,
        reconsume_times,
        unit_mode,
        max_reconsume_times,
        batch,
        broker_name: broker_name.or(bname),
    })
}

impl<'a> DecodeFields<'a> for SendMessageRequest<'a> {
    /// Decode either form, recognised by its keys (see [`SendMessageFields`]).
    fn decode_fields(fields: &ExtFields<'a>) -> Result<Self, DecodeError> {
        decode_with(fields, detect(fields))
    }
}

/// SEND_REPLY_MESSAGE (324) / SEND_REPLY_MESSAGE_V2 (325) request: the send header
/// (wire.md §6.15).
pub type SendReplyMessageRequest<'a> = SendMessageRequest<'a>;

/// A [`SendMessageRequest`] together with the key set it is written in — what goes on
/// the wire.
///
/// Decoding recognises the form by the first key that belongs to only one key set
/// (`bname` counts for neither, as V2 senders often add it); a map with neither is
/// read as V2, so a missing-field error then names the V2 key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendMessageFields<'a> {
    /// The key set.
    pub form: SendHeaderForm,
    /// The header.
    pub header: SendMessageRequest<'a>,
}

/// Runs `$body` for every field present in `$fields` (a [`SendMessageFields`]), in wire
/// order, with `$key` bound to the field's entry in `$keys` (a `&Keys<_>`) and `$value`
/// to its [`FieldValue`]: the one list that both the field sink and the JSON writer
/// walk. A macro rather than a function taking a closure, so that the body is inlined at
/// every field (the value's kind is then known at each, and a number costs a few
/// instructions; a closure called fourteen times was not inlined).
macro_rules! each_field {
    ($fields:expr, $keys:expr, |$key:ident, $value:ident| $body:expr) => {{
        let (k, h) = ($keys, &$fields.header);
        each_field!(@one k.producer_group, h.producer_group.to_value(), $key, $value, $body);
        each_field!(@one k.topic, h.topic.to_value(), $key, $value, $body);
        each_field!(@one k.default_topic, h.default_topic.to_value(), $key, $value, $body);
        each_field!(@one k.default_topic_queue_nums, h.default_topic_queue_nums.to_value(), $key, $value, $body);
        each_field!(@one k.queue_id, h.queue_id.to_value(), $key, $value, $body);
        each_field!(@one k.sys_flag, h.sys_flag.to_value(), $key, $value, $body);
        each_field!(@one k.born_timestamp, h.born_timestamp.to_value(), $key, $value, $body);
        each_field!(@one k.flag, h.flag.to_value(), $key, $value, $body);
        each_field!(@opt k.properties, h.properties, $key, $value, $body);
        each_field!(@opt k.reconsume_times, h.reconsume_times, $key, $value, $body);
        each_field!(@opt k.unit_mode, h.unit_mode, $key, $value, $body);
        each_field!(@opt k.max_reconsume_times, h.max_reconsume_times, $key, $value, $body);
        each_field!(@opt k.batch, h.batch, $key, $value, $body);
        each_field!(@opt k.broker_name, h.broker_name, $key, $value, $body);
    }};
    (@one $k:expr, $v:expr, $key:ident, $value:ident, $body:expr) => {{
        let $key = &$k;
        let $value: FieldValue<'_> = $v;
        $body;
    }};
    (@opt $k:expr, $v:expr, $key:ident, $value:ident, $body:expr) => {
        if let Some(v) = &$v {
            each_field!(@one $k, v.to_value(), $key, $value, $body);
        }
    };
}

impl EncodeFields for SendMessageFields<'_> {
    fn encode_fields<'s, S: FieldSink<'s> + ?Sized>(&'s self, sink: &mut S) {
        each_field!(self, self.form.wire_keys(), |key, value| sink
            .field(*key, value));
    }

    // Speed builds write a send's JSON members with their keys' starts precomputed
    // (one fixed-size copy each) and no room check per field, on every message a
    // producer sends.
    #[cfg(not(rmq_size_opt))]
    fn has_json_writer(&self) -> bool {
        true
    }

    #[cfg(not(rmq_size_opt))]
    #[allow(unused_assignments)] // `first` after the last field
    fn write_json_members(&self, w: &mut [u8]) -> Option<usize> {
        let room = w.len();
        let mut c = crate::out::Cursor::new(w);
        let mut first = true;
        each_field!(self, self.form.json_keys(), |key, value| {
            crate::ext::json_member(&mut c, key, first, value);
            first = false;
        });
        Some(c.at()).filter(|&n| n <= room)
    }

    // The same for binary headers: each key's length and bytes precomputed.
    #[cfg(not(rmq_size_opt))]
    fn has_binary_writer(&self) -> bool {
        true
    }

    #[cfg(not(rmq_size_opt))]
    fn write_binary_members(&self, w: &mut [u8]) -> Option<usize> {
        let room = w.len();
        let mut c = crate::out::Cursor::new(w);
        each_field!(self, self.form.binary_keys(), |key, value| {
            if !crate::ext::binary_member(&mut c, key, value) {
                return None;
            }
        });
        Some(c.at()).filter(|&n| n <= room)
    }
}

impl<'a> DecodeFields<'a> for SendMessageFields<'a> {
    fn decode_fields(fields: &ExtFields<'a>) -> Result<Self, DecodeError> {
        let form = detect(fields);
        Ok(SendMessageFields {
            form,
            header: decode_with(fields, form)?,
        })
    }
}

ext_header! {
    /// Response to a send (SUCCESS, FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT,
    /// SLAVE_NOT_AVAILABLE) (wire.md §6.2).
    pub struct SendMessageResponse<'a> {
        /// Offset message id (32 or 56 hex chars); for a batch, all ids joined with `,`.
        msg_id: req Text<'a> = "msgId",
        /// Queue actually used.
        queue_id: req i32 = "queueId",
        /// Consume-queue offset of the (first) message.
        queue_offset: req i64 = "queueOffset",
        /// The message's `UNIQ_KEY` (5.x sets it for every send).
        transaction_id: opt Text<'a> = "transactionId",
        /// Only for "inner batch" topics (batch consume queue).
        batch_uniq_id: opt Text<'a> = "batchUniqId",
        /// Only for timer (delay) messages, 5.3.x.
        recall_handle: opt Text<'a> = "recallHandle",
        /// The broker's `regionId` (default `DefaultRegion`).
        msg_region: opt Text<'a> = "MSG_REGION",
        /// `"true"`/`"false"`; see [`SendMessageResponse::is_trace_on`].
        trace_on: opt Text<'a> = "TRACE_ON",
    }
}

impl SendMessageResponse<'_> {
    /// Whether the broker has tracing on: as in Java, anything but `"false"` (an absent
    /// field included) is on.
    pub fn is_trace_on(&self) -> bool {
        self.trace_on.is_none_or(|t| t != "false")
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    extern crate std;
    use super::*;
    use crate::codes::SerializeType;
    use crate::command::{CommandEncoder, Header};
    use proptest::prelude::*;
    use std::string::String;
    use std::vec::Vec;

    /// The same fields through the field sink only (no JSON writer of its own).
    struct SinkOnly<'x>(SendMessageFields<'x>);

    impl EncodeFields for SinkOnly<'_> {
        fn encode_fields<'s, S: FieldSink<'s> + ?Sized>(&'s self, sink: &mut S) {
            self.0.encode_fields(sink)
        }
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9%_-]{0,16}",
            "[\\x00-\\x1f\"\\\\a-z\u{e9}\u{1F600}]{0,16}",
            "\\PC{0,12}",
        ]
    }

    /// A header from generated values: five strings, six ints, and six switches for
    /// the optional fields.
    fn request<'x>(
        strings: &'x [String],
        ints: &[i32],
        born: i64,
        options: &[bool],
        bools: &[bool],
    ) -> SendMessageRequest<'x> {
        SendMessageRequest {
            producer_group: Text::new(&strings[0]),
            topic: Text::new(&strings[1]),
            default_topic: Text::new(&strings[2]),
            default_topic_queue_nums: ints[0],
            queue_id: ints[1],
            sys_flag: ints[2],
            born_timestamp: born,
            flag: ints[3],
            properties: options[0].then(|| Text::new(&strings[3])),
            reconsume_times: options[1].then_some(ints[4]),
            unit_mode: options[2].then_some(bools[0]),
            max_reconsume_times: options[3].then_some(ints[5]),
            batch: options[4].then_some(bools[1]),
            broker_name: options[5].then(|| Text::new(&strings[4])),
        }
    }

    fn encode(fields: &impl EncodeFields, room: Option<usize>) -> Vec<u8> {
        encode_as(SerializeType::Json, fields, room)
    }

    fn encode_as(ser: SerializeType, fields: &impl EncodeFields, room: Option<usize>) -> Vec<u8> {
        let enc = CommandEncoder::new(ser);
        let header = Header::request(RequestCode::SEND_MESSAGE_V2, 7);
        let len = enc.frame_len(&header, fields, b"body").unwrap();
        let mut buf = std::vec![0u8; room.unwrap_or(len)];
        let n = enc.encode(&mut buf, &header, fields, b"body").unwrap();
        buf.truncate(n);
        buf
    }

    proptest! {
        /// A send's own JSON and binary writers write exactly what the field sinks
        /// write, for any values (escapes, non-ASCII, extreme numbers, absent options),
        /// in both key sets, with room to spare or exactly enough.
        #[test]
        fn own_writers_match_the_field_sinks(
            strings in proptest::collection::vec(text(), 5),
            ints in proptest::collection::vec(any::<i32>(), 6),
            born in any::<i64>(),
            options in proptest::collection::vec(any::<bool>(), 6),
            bools in proptest::collection::vec(any::<bool>(), 2),
            v1 in any::<bool>(),
            spare in 0usize..2048,
            escaped_group in any::<bool>(),
            escaped in "([a-z]|\\\\n|\\\\\"|\\\\u00e9){0,8}",
        ) {
            let mut req = request(&strings, &ints, born, &options, &bools);
            if escaped_group {
                // A string kept as received, JSON escapes and all: written as it is.
                req.producer_group = Text::json(&escaped, true);
            }
            let fields = if v1 { req.v1() } else { req.v2() };
            let by_sink = encode(&SinkOnly(fields), None);
            // The writer itself (speed builds have one), against the members the sink
            // wrote: with room to spare, exactly enough (its fixed-size copies then
            // take their exact-size way near the end), and too little.
            #[cfg(not(rmq_size_opt))]
            {
                prop_assert!(fields.has_json_writer());
                let mut w = std::vec![0u8; by_sink.len() + 32];
                let n = fields.write_json_members(&mut w).unwrap();
                let open = b"\"extFields\":{";
                let at = by_sink.windows(open.len()).position(|x| x == open).unwrap() + open.len();
                prop_assert_eq!(&w[..n], &by_sink[at..at + n]);
                prop_assert_eq!(by_sink[at + n], b'}');
                let mut exact = std::vec![0u8; n];
                prop_assert_eq!(fields.write_json_members(&mut exact), Some(n));
                prop_assert_eq!(&exact[..], &by_sink[at..at + n]);
                prop_assert_eq!(fields.write_json_members(&mut w[..n - 1]), None);
            }
            // Whole frames: exactly enough room, and more.
            prop_assert_eq!(&encode(&fields, None), &by_sink);
            prop_assert_eq!(&encode(&fields, Some(by_sink.len() + spare)), &by_sink);
            prop_assert_eq!(&encode(&crate::ext::ErasedFields::new(&fields), None), &by_sink);

            // The same for the own binary writer: byte for byte what the binary field
            // sink writes (a string kept JSON-escaped makes it step aside).
            let binary = SerializeType::RocketMq;
            let by_sink = encode_as(binary, &SinkOnly(fields), None);
            #[cfg(not(rmq_size_opt))]
            {
                prop_assert!(fields.has_binary_writer());
                // The map follows the 17 fixed bytes, the remark (none) and its length.
                let map = &by_sink[8 + 17 + 4..by_sink.len() - 4];
                let mut w = std::vec![0u8; map.len() + 32];
                match fields.write_binary_members(&mut w) {
                    Some(n) => {
                        prop_assert!(!escaped_group);
                        prop_assert_eq!(&w[..n], map);
                        let mut exact = std::vec![0u8; n];
                        prop_assert_eq!(fields.write_binary_members(&mut exact), Some(n));
                        prop_assert_eq!(&exact[..], map);
                        if n > 0 {
                            prop_assert_eq!(fields.write_binary_members(&mut w[..n - 1]), None);
                        }
                    }
                    // A string kept escaped is written decoded, by the sink.
                    None => prop_assert!(escaped_group),
                }
            }
            prop_assert_eq!(&encode_as(binary, &fields, None), &by_sink);
            prop_assert_eq!(&encode_as(binary, &fields, Some(by_sink.len() + spare)), &by_sink);
            prop_assert_eq!(
                &encode_as(binary, &crate::ext::ErasedFields::new(&fields), None),
                &by_sink
            );
        }
    }
}
