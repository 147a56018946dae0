//! `MessageQueue` {topic, brokerName, queueId}: the unit of routing, locking, offsets
//! and rebalancing.

use core::cmp::Ordering;

use crate::json::Scanner;
use crate::out::Out;
use crate::text::Text;

use super::scan::{self, EncodeBody, ObjectWriter, R};

/// One queue of a topic on one broker.
///
/// Ordering is Java's `MessageQueue.compareTo`: topic, then broker name (both by
/// `String.compareTo`, i.e. UTF-16 code units), then queue id — the order Java's
/// rebalance sorts queues in before allocating them.
///
/// ```
/// use rocketmq_proto::body::{EncodeBody, MessageQueue};
/// let mq = MessageQueue::new("TopicTest", "broker-a", 3);
/// let mut buf = [0u8; 64];
/// let n = mq.encode_to_slice(&mut buf).unwrap();
/// assert_eq!(&buf[..n], br#"{"brokerName":"broker-a","queueId":3,"topic":"TopicTest"}"#);
/// assert_eq!(MessageQueue::decode(&buf[..n]).unwrap(), mq);
/// assert!(MessageQueue::new("t", "b", 2) < MessageQueue::new("t", "b", 10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageQueue<'a> {
    /// `topic`.
    pub topic: Text<'a>,
    /// `brokerName`.
    pub broker_name: Text<'a>,
    /// `queueId`.
    pub queue_id: i32,
}

impl<'a> MessageQueue<'a> {
    /// A queue from plain strings.
    pub fn new(topic: &'a str, broker_name: &'a str, queue_id: i32) -> Self {
        MessageQueue {
            topic: Text::new(topic),
            broker_name: Text::new(broker_name),
            queue_id,
        }
    }

    /// Decode a standalone `MessageQueue` JSON object.
    pub fn decode(body: &'a [u8]) -> R<Self> {
        scan::whole(body, Self::scan)
    }

    /// Read a `MessageQueue` object at the scanner's position. `topic` and `brokerName`
    /// are required; a missing `queueId` is 0 as in Java.
    pub fn scan(s: &mut Scanner<'a>) -> R<Self> {
        Self::scan_with(s, |s, _| s.skip_value())
    }

    /// [`scan`](Self::scan) for an object that extends `MessageQueue` (e.g.
    /// ResetOffsetBodyForC's entries): members other than the three queue fields go to
    /// `other`, which must consume each value.
    pub(super) fn scan_with(
        s: &mut Scanner<'a>,
        mut other: impl FnMut(&mut Scanner<'a>, Text<'a>) -> R<()>,
    ) -> R<Self> {
        let (mut topic, mut broker_name, mut queue_id) = (None, None, None);
        scan::fields(s, |s, k| {
            if k == "topic" {
                topic = scan::text(s)?;
            } else if k == "brokerName" {
                broker_name = scan::text(s)?;
            } else if k == "queueId" {
                queue_id = scan::i32_or_null(s)?;
            } else {
                other(s, k)?;
            }
            Ok(())
        })?;
        Ok(MessageQueue {
            topic: scan::required(topic, "topic")?,
            broker_name: scan::required(broker_name, "brokerName")?,
            queue_id: queue_id.unwrap_or(0),
        })
    }
}

impl EncodeBody for MessageQueue<'_> {
    fn encode<O: Out>(&self, out: &mut O) {
        let mut w = ObjectWriter::begin(out);
        w.text("brokerName", &self.broker_name);
        w.int("queueId", self.queue_id);
        w.text("topic", &self.topic);
        w.end();
    }
}

impl PartialOrd for MessageQueue<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MessageQueue<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        java_cmp(&self.topic, &other.topic)
            .then_with(|| java_cmp(&self.broker_name, &other.broker_name))
            .then_with(|| self.queue_id.cmp(&other.queue_id))
    }
}

/// Java's `String.compareTo`: lexicographic over UTF-16 code units of the decoded text.
/// (Differs from `str` order only between U+E000..U+FFFF and supplementary characters.)
pub fn java_cmp(a: &Text<'_>, b: &Text<'_>) -> Ordering {
    if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
        // Fast path: plain strings; byte order equals UTF-16 order unless a 4-byte
        // sequence meets a 3-byte one starting at or above U+E000.
        if x.is_ascii() || y.is_ascii() {
            return x.cmp(y);
        }
    }
    utf16(a).cmp(utf16(b))
}

fn utf16<'t>(t: &Text<'t>) -> impl Iterator<Item = u16> + 't {
    t.chars().flat_map(|c| {
        let mut buf = [0u16; 2];
        let n = c.encode_utf16(&mut buf).len();
        buf.into_iter().take(n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_order_uses_utf16_units() {
        // U+FF61 (one unit 0xFF61) sorts after U+10000 (units 0xD800 0xDC00) in Java,
        // the reverse of code point / UTF-8 order.
        let hi = Text::new("\u{FF61}");
        let sup = Text::new("\u{10000}");
        assert_eq!(java_cmp(&sup, &hi), Ordering::Less);
        assert!("\u{10000}" > "\u{FF61}");
        assert_eq!(java_cmp(&Text::new("a"), &Text::new("ab")), Ordering::Less);
        assert_eq!(
            java_cmp(&Text::new("b"), &Text::new("ab")),
            Ordering::Greater
        );
    }
}
