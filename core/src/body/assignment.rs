//! `QueryAssignmentRequestBody` / `QueryAssignmentResponseBody` (QUERY_ASSIGNMENT, 5.x:
//! the broker allocates queues for the client).
//!
//! Field names follow apache/rocketmq `remoting/.../protocol/body/QueryAssignmentRequestBody.java`,
//! `QueryAssignmentResponseBody.java` (`messageQueueAssignments`) and
//! `common/.../message/MessageQueueAssignment.java` (`messageQueue`, `mode` default PULL,
//! `attachments`).

use crate::collections::Collections;
use crate::json::Scanner;
use crate::out::Out;
use crate::text::Text;

use super::enums::{scan_enum, MessageModel, MessageRequestMode};
use super::message_queue::MessageQueue;
use super::scan::{self, EncodeBody, ObjectWriter, R};

/// Asks a broker which queues of `topic` this client should consume.
///
/// ```
/// use rocketmq_proto::body::{EncodeBody, MessageModel, QueryAssignmentRequestBody};
/// let req = QueryAssignmentRequestBody {
///     topic: "t".into(),
///     consumer_group: "cg".into(),
///     client_id: "10.0.0.1@1".into(),
///     strategy_name: "AVG".into(),
///     message_model: MessageModel::Clustering,
/// };
/// let mut buf = [0u8; 160];
/// let n = req.encode_to_slice(&mut buf).unwrap();
/// assert_eq!(
///     &buf[..n],
///     &br#"{"clientId":"10.0.0.1@1","consumerGroup":"cg","messageModel":"CLUSTERING","strategyName":"AVG","topic":"t"}"#[..]
/// );
/// assert_eq!(QueryAssignmentRequestBody::decode(&buf[..n]).unwrap(), req);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryAssignmentRequestBody<'a> {
    /// `topic`.
    pub topic: Text<'a>,
    /// `consumerGroup`.
    pub consumer_group: Text<'a>,
    /// `clientId`.
    pub client_id: Text<'a>,
    /// `strategyName` (e.g. `AVG`).
    pub strategy_name: Text<'a>,
    /// `messageModel`.
    pub message_model: MessageModel,
}

impl<'a> QueryAssignmentRequestBody<'a> {
    /// Decode a QUERY_ASSIGNMENT request body. Every field is required.
    pub fn decode(body: &'a [u8]) -> R<Self> {
        scan::whole(body, Self::scan)
    }

    /// Read the object at the scanner's position.
    pub fn scan(s: &mut Scanner<'a>) -> R<Self> {
        let (mut topic, mut consumer_group, mut client_id, mut strategy_name, mut model) =
            (None, None, None, None, None);
        scan::fields(s, |s, k| {
            if k == "topic" {
                topic = scan::text(s)?;
            } else if k == "consumerGroup" {
                consumer_group = scan::text(s)?;
            } else if k == "clientId" {
                client_id = scan::text(s)?;
            } else if k == "strategyName" {
                strategy_name = scan::text(s)?;
            } else if k == "messageModel" {
                model = scan_enum(s, "messageModel")?;
            } else {
                s.skip_value()?;
            }
            Ok(())
        })?;
        Ok(QueryAssignmentRequestBody {
            topic: scan::required(topic, "topic")?,
            consumer_group: scan::required(consumer_group, "consumerGroup")?,
            client_id: scan::required(client_id, "clientId")?,
            strategy_name: scan::required(strategy_name, "strategyName")?,
            message_model: scan::required(model, "messageModel")?,
        })
    }
}

impl EncodeBody for QueryAssignmentRequestBody<'_> {
    fn encode<O: Out>(&self, out: &mut O) {
        let mut w = ObjectWriter::begin(out);
        w.text("clientId", &self.client_id);
        w.text("consumerGroup", &self.consumer_group);
        w.str("messageModel", self.message_model.as_str());
        w.text("strategyName", &self.strategy_name);
        w.text("topic", &self.topic);
        w.end();
    }
}

/// One queue assigned to the client and how to consume it (`MessageQueueAssignment`).
/// `attachments` is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageQueueAssignment<'a> {
    /// `messageQueue`.
    pub message_queue: MessageQueue<'a>,
    /// `mode` (absent or null = PULL, Java's default).
    pub mode: MessageRequestMode,
}

impl<'a> MessageQueueAssignment<'a> {
    /// Read the object at the scanner's position. `messageQueue` is required.
    pub fn scan(s: &mut Scanner<'a>) -> R<Self> {
        let (mut message_queue, mut mode) = (None, None);
        scan::fields(s, |s, k| {
            if k == "messageQueue" {
                message_queue = if s.null()? {
                    None
                } else {
                    Some(MessageQueue::scan(s)?)
                };
            } else if k == "mode" {
                mode = scan_enum(s, "mode")?;
            } else {
                s.skip_value()?;
            }
            Ok(())
        })?;
        Ok(MessageQueueAssignment {
            message_queue: scan::required(message_queue, "messageQueue")?,
            mode: mode.unwrap_or(MessageRequestMode::Pull),
        })
    }
}

/// The queues a broker assigned (QUERY_ASSIGNMENT response body).
///
/// ```
/// use rocketmq_proto::body::{MessageRequestMode, QueryAssignmentResponseBody};
/// use rocketmq_proto::collections::Fixed;
/// let body = br#"{"messageQueueAssignments":[{"attachments":{},"messageQueue":{"brokerName":"b","queueId":2,"topic":"t"},"mode":"POP"}]}"#;
/// let r = QueryAssignmentResponseBody::<Fixed<8>>::decode(body).unwrap();
/// assert_eq!(r.message_queue_assignments[0].mode, MessageRequestMode::Pop);
/// assert_eq!(r.message_queue_assignments[0].message_queue.queue_id, 2);
/// ```
#[derive(Debug, Clone)]
pub struct QueryAssignmentResponseBody<'a, C: Collections> {
    /// `messageQueueAssignments`.
    pub message_queue_assignments: C::List<MessageQueueAssignment<'a>>,
}

eq_across_lifetimes!(QueryAssignmentResponseBody {
    plain: [],
    lists: [message_queue_assignments]
});

impl<'a, C: Collections> QueryAssignmentResponseBody<'a, C> {
    /// Decode a QUERY_ASSIGNMENT response body.
    pub fn decode(body: &'a [u8]) -> R<Self> {
        scan::whole(body, Self::scan)
    }

    /// Read the object at the scanner's position.
    pub fn scan(s: &mut Scanner<'a>) -> R<Self> {
        let mut message_queue_assignments = C::List::default();
        scan::fields(s, |s, k| {
            if k == "messageQueueAssignments" {
                message_queue_assignments =
                    scan::list::<C, _>(s, "messageQueueAssignments", MessageQueueAssignment::scan)?;
            } else {
                s.skip_value()?;
            }
            Ok(())
        })?;
        Ok(QueryAssignmentResponseBody {
            message_queue_assignments,
        })
    }
}
