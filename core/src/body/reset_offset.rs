//! `ResetOffsetBody` / `ResetOffsetBodyForC` (RESET_CONSUMER_CLIENT_OFFSET body,
//! broker → client, wire.md §7.7).

use crate::collections::{self, Collections};
use crate::error::DecodeError;
use crate::json::{Key, Kind, Scanner};

use super::message_queue::MessageQueue;
use super::scan::{self, EncodeBody, ObjectWriter, R};
use crate::out::Out;

/// A queue and an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageQueueOffset<'a> {
    /// The queue.
    pub message_queue: MessageQueue<'a>,
    /// The offset.
    pub offset: i64,
}

/// New consume offsets a broker tells the client to jump to.
///
/// `offsetTable` is accepted in all three forms seen on the wire: fastjson's map with
/// object keys `{{mq}:offset,…}`, the array of pairs `[[{mq},offset],…]`, and
/// `ResetOffsetBodyForC`'s `[{"brokerName","offset","queueId","topic"},…]`.
///
/// ```
/// use rocketmq_proto::body::ResetOffsetBody;
/// use rocketmq_proto::collections::Fixed;
/// let body = br#"{"offsetTable":{{"brokerName":"RaftNode00","queueId":0,"topic":"topicB"}:11110}}"#;
/// let r = ResetOffsetBody::<Fixed<4>>::decode(body).unwrap();
/// assert_eq!(r.offset_table[0].offset, 11110);
/// assert_eq!(r.offset_table[0].message_queue.topic, "topicB");
/// ```
#[derive(Debug, Clone)]
pub struct ResetOffsetBody<'a, C: Collections> {
    /// `offsetTable`, in wire order.
    pub offset_table: C::List<MessageQueueOffset<'a>>,
}

eq_across_lifetimes!(ResetOffsetBody {
    plain: [],
    lists: [offset_table]
});

const WHAT: &str = "offsetTable";

impl<'a, C: Collections> ResetOffsetBody<'a, C> {
    /// Decode a RESET_CONSUMER_CLIENT_OFFSET body.
    pub fn decode(body: &'a [u8]) -> R<Self> {
        scan::whole(body, Self::scan)
    }

    /// Read the object at the scanner's position.
    pub fn scan(s: &mut Scanner<'a>) -> R<Self> {
        let mut offset_table = C::List::default();
        scan::fields(s, |s, k| {
            if k == "offsetTable" {
                offset_table = scan_table::<C>(s)?;
            } else {
                s.skip_value()?;
            }
            Ok(())
        })?;
        Ok(ResetOffsetBody { offset_table })
    }

    /// The offset for `mq`, if listed.
    pub fn offset_of(&self, mq: &MessageQueue<'_>) -> Option<i64> {
        self.offset_table
            .iter()
            .find(|e| e.message_queue == *mq)
            .map(|e| e.offset)
    }
}

/// Written in fastjson's map form, `{"offsetTable":{{mq}:offset,…}}`: what Java's broker
/// sends and what Java's `LocalFileOffsetStore` keeps in `offsets.json`, so a file
/// written here is readable by either.
///
/// ```
/// # #[cfg(feature = "alloc")] {
/// use rocketmq_proto::body::{EncodeBody, MessageQueue, MessageQueueOffset, ResetOffsetBody};
/// use rocketmq_proto::collections::Growable;
/// let mut body = ResetOffsetBody::<Growable> { offset_table: Vec::new() };
/// body.offset_table.push(MessageQueueOffset {
///     message_queue: MessageQueue { topic: "T".into(), broker_name: "b".into(), queue_id: 1 },
///     offset: 7,
/// });
/// let json = body.to_vec();
/// assert_eq!(json, br#"{"offsetTable":{{"brokerName":"b","queueId":1,"topic":"T"}:7}}"#);
/// assert_eq!(ResetOffsetBody::<Growable>::decode(&json).unwrap(), body);
/// # }
/// ```
impl<C: Collections> EncodeBody for ResetOffsetBody<'_, C> {
    fn encode<O: Out>(&self, out: &mut O) {
        let mut w = ObjectWriter::begin(out);
        let out = w.key(WHAT);
        out.put_u8(b'{');
        for (i, e) in self.offset_table.iter().enumerate() {
            if i > 0 {
                out.put_u8(b',');
            }
            e.message_queue.encode(out);
            out.put_u8(b':');
            out.put_decimal(e.offset);
        }
        out.put_u8(b'}');
        w.end();
    }
}

fn scan_table<'a, C: Collections>(s: &mut Scanner<'a>) -> R<C::List<MessageQueueOffset<'a>>> {
    let mut list = C::List::<MessageQueueOffset<'a>>::default();
    let bad_key = DecodeError::InvalidField {
        field: WHAT,
        expected: "MessageQueue object key",
    };
    match s.peek()? {
        Kind::Null => {
            s.null()?;
        }
        Kind::Object => scan::object(s, |s, key| {
            let Key::Object(raw) = key else {
                return Err(bad_key);
            };
            let message_queue = MessageQueue::decode(raw)?;
            let offset = s.i64()?;
            let entry = MessageQueueOffset {
                message_queue,
                offset,
            };
            collections::push::<C, _>(&mut list, entry, WHAT)
        })?,
        Kind::Array => {
            s.begin_array()?;
            while s.next_element()? {
                let entry = match s.peek()? {
                    Kind::Array => pair(s)?,
                    Kind::Object => for_c(s)?,
                    _ => return Err(scan::wrong_type(s)),
                };
                collections::push::<C, _>(&mut list, entry, WHAT)?;
            }
        }
        _ => return Err(scan::wrong_type(s)),
    }
    Ok(list)
}

/// `[{mq}, offset]`.
fn pair<'a>(s: &mut Scanner<'a>) -> R<MessageQueueOffset<'a>> {
    s.begin_array()?;
    if !s.next_element()? {
        return Err(scan::wrong_type(s));
    }
    let message_queue = MessageQueue::scan(s)?;
    if !s.next_element()? {
        return Err(scan::wrong_type(s));
    }
    let offset = s.i64()?;
    if s.next_element()? {
        return Err(scan::wrong_type(s));
    }
    Ok(MessageQueueOffset {
        message_queue,
        offset,
    })
}

/// `{"brokerName":…,"offset":…,"queueId":…,"topic":…}` (ResetOffsetBodyForC).
fn for_c<'a>(s: &mut Scanner<'a>) -> R<MessageQueueOffset<'a>> {
    let mut offset = None;
    let message_queue = MessageQueue::scan_with(s, |s, k| {
        if k == "offset" {
            offset = scan::i64_or_null(s)?;
        } else {
            s.skip_value()?;
        }
        Ok(())
    })?;
    Ok(MessageQueueOffset {
        message_queue,
        offset: scan::required(offset, "offset")?,
    })
}
