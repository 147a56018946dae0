//! Messages as the application builds and receives them (owned, `Send`).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use rocketmq_proto::message::MessageRecord;

/// A topic name, shared: cloning it copies a pointer. Build it once and give each
/// [`Message`] a clone, and making a message costs no allocation for its topic (a
/// `&str` or `String` works too, at one allocation per message).
///
/// ```
/// use rocketmq_tokio::{Message, Topic};
/// let orders = Topic::from("Orders");
/// let m = Message::new(orders.clone(), "paid");
/// assert_eq!(m.topic(), "Orders");
/// assert_eq!(&*orders, "Orders");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic(Arc<str>);

impl Topic {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Topic {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Topic {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Topic {
    fn from(name: &str) -> Self {
        Topic(name.into())
    }
}

impl From<&String> for Topic {
    fn from(name: &String) -> Self {
        Topic(name.as_str().into())
    }
}

impl From<String> for Topic {
    fn from(name: String) -> Self {
        Topic(name.into())
    }
}

impl From<Arc<str>> for Topic {
    fn from(name: Arc<str>) -> Self {
        Topic(name)
    }
}

impl From<&Topic> for Topic {
    fn from(topic: &Topic) -> Self {
        topic.clone()
    }
}

impl PartialEq<str> for Topic {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Topic {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Topic {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

/// A received message's properties, kept as they arrived (Java's
/// `name\u{1}value\u{2}…` text): one allocation per message, however many properties
/// it has, and looked up when asked for.
///
/// ```
/// use rocketmq_tokio::Properties;
/// let p = Properties::from_wire("KEYS\u{1}order-42\u{2}color\u{1}blue\u{2}");
/// assert_eq!(p.get("color"), Some("blue"));
/// assert_eq!(p.iter().count(), 2);
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Properties(String);

impl Properties {
    /// Properties from their wire text.
    pub fn from_wire(text: impl Into<String>) -> Self {
        Properties(text.into())
    }

    /// The last value of `name` (as Java's map keeps it).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.view().get(name)
    }

    /// Every pair, in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.view().iter()
    }

    /// No properties at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The wire text.
    pub fn as_wire(&self) -> &str {
        &self.0
    }

    fn view(&self) -> rocketmq_proto::message::PropertiesView<'_> {
        rocketmq_proto::message::PropertiesView::new(&self.0)
    }
}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A message to send.
///
/// ```
/// use rocketmq_tokio::Message;
/// let m = Message::new("TopicTest", "hello")
///     .with_tags("TagA")
///     .with_keys("order-42")
///     .with_property("region", "eu")
///     .with_delay_level(3);
/// assert_eq!(m.topic(), "TopicTest");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub(crate) topic: Topic,
    pub(crate) body: Bytes,
    pub(crate) tags: Option<String>,
    pub(crate) keys: Option<String>,
    pub(crate) properties: Vec<(String, String)>,
    pub(crate) flag: i32,
    pub(crate) delay_level: Option<u8>,
    pub(crate) deliver_at_ms: Option<i64>,
}

impl Message {
    /// A message for `topic` with `body` (a shared [`Topic`] and a `Bytes` body make
    /// this allocation-free).
    pub fn new(topic: impl Into<Topic>, body: impl Into<Bytes>) -> Self {
        Message {
            topic: topic.into(),
            body: body.into(),
            tags: None,
            keys: None,
            properties: Vec::new(),
            flag: 0,
            delay_level: None,
            deliver_at_ms: None,
        }
    }

    /// Set the tag (`TAGS`), which consumers can filter on.
    pub fn with_tags(mut self, tags: impl Into<String>) -> Self {
        self.tags = Some(tags.into());
        self
    }

    /// Set the business keys (`KEYS`, space-separated), indexed by the broker.
    pub fn with_keys(mut self, keys: impl Into<String>) -> Self {
        self.keys = Some(keys.into());
        self
    }

    /// Add a user property.
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.push((key.into(), value.into()));
        self
    }

    /// Deliver after a delay level (1..=18: 1 s, 5 s, 10 s, 30 s, 1 min, …, 2 h).
    pub fn with_delay_level(mut self, level: u8) -> Self {
        self.delay_level = Some(level);
        self
    }

    /// Deliver at this time, ms since the Unix epoch (5.x timer messages).
    pub fn with_deliver_at(mut self, epoch_ms: i64) -> Self {
        self.deliver_at_ms = Some(epoch_ms);
        self
    }

    /// Set the user flag.
    pub fn with_flag(mut self, flag: i32) -> Self {
        self.flag = flag;
        self
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Run `f` with the engine's borrowed view of this message.
    pub(crate) fn with_view<R>(
        &self,
        f: impl FnOnce(&rocketmq_proto::engine::client::Message<'_>) -> R,
    ) -> R {
        let props: Vec<(&str, &str)> = self
            .properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let m = rocketmq_proto::engine::client::Message {
            topic: &self.topic,
            body: &self.body,
            tags: self.tags.as_deref(),
            keys: self.keys.as_deref(),
            properties: &props,
            flag: self.flag,
            delay_level: self.delay_level,
            deliver_at_ms: self.deliver_at_ms,
            wait_store_msg_ok: true,
        };
        f(&m)
    }
}

/// A received message (Java `MessageExt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The topic as the application named it (a retried message shows its original
    /// topic). Shared by the messages of a batch.
    pub topic: Topic,
    /// The body (decompressed).
    pub body: Bytes,
    /// The tag, if any.
    pub tags: Option<String>,
    /// The business keys, if any.
    pub keys: Option<String>,
    /// The message id the producer gave it (UNIQ_KEY), else the broker's offset id.
    pub msg_id: String,
    /// The broker it was stored on.
    pub broker_name: String,
    /// Its queue.
    pub queue_id: i32,
    /// Its consume-queue offset.
    pub queue_offset: i64,
    /// How often it was delivered before (from the broker's retry bookkeeping).
    pub reconsume_times: i32,
    /// Producer time, ms since the epoch.
    pub born_timestamp: i64,
    /// Broker time, ms since the epoch.
    pub store_timestamp: i64,
    /// All properties (including TAGS, KEYS, UNIQ_KEY and user properties).
    pub properties: Properties,
}

impl ReceivedMessage {
    /// The value of property `key`.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.get(key)
    }

    /// `topic`: the batch's (one allocation per batch, not per message).
    pub(crate) fn from_record(r: &MessageRecord<'_>, broker_name: &str, topic: &Topic) -> Self {
        // Copied out of the pull body: the application keeps messages past the ack.
        let body = match r.decompressed_body(64 << 20) {
            Ok(std::borrow::Cow::Owned(b)) => Bytes::from(b),
            Ok(std::borrow::Cow::Borrowed(b)) => Bytes::copy_from_slice(b),
            Err(_) => Bytes::copy_from_slice(r.body),
        };
        ReceivedMessage {
            topic: topic.clone(),
            body,
            tags: r.tags().map(str::to_owned),
            keys: r.properties.get("KEYS").map(str::to_owned),
            msg_id: r
                .uniq_key()
                .map(str::to_owned)
                .unwrap_or_else(|| r.offset_msg_id().to_hex().to_string()),
            broker_name: broker_name.to_owned(),
            queue_id: r.queue_id,
            queue_offset: r.queue_offset,
            reconsume_times: r.reconsume_times,
            born_timestamp: r.born_timestamp,
            store_timestamp: r.store_timestamp,
            properties: Properties(r.properties.as_str().to_owned()),
        }
    }
}
