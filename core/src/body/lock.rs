//! `LockBatchRequestBody` / `UnlockBatchRequestBody` (LOCK_BATCH_MQ / UNLOCK_BATCH_MQ
//! bodies) and `LockBatchResponseBody` (wire.md §7.5).

use crate::collections::Collections;
use crate::json::Scanner;
use crate::out::Out;
use crate::text::Text;

use super::message_queue::MessageQueue;
use super::scan::{self, EncodeBody, ObjectWriter, R};

/// Queues an orderly consumer asks a broker to lock for it.
///
/// ```
/// use rocketmq_proto::body::{EncodeBody, LockBatchRequestBody, MessageQueue};
/// use rocketmq_proto::collections::Fixed;
/// let mut req = LockBatchRequestBody::<Fixed<4>>::new("cg".into(), "10.0.0.1@1".into());
/// req.mq_set.push(MessageQueue::new("t", "broker-a", 0)).unwrap();
/// let mut buf = [0u8; 160];
/// let n = req.encode_to_slice(&mut buf).unwrap();
/// assert_eq!(
///     &buf[..n],
///     &br#"{"clientId":"10.0.0.1@1","consumerGroup":"cg","mqSet":[{"brokerName":"broker-a","queueId":0,"topic":"t"}],"onlyThisBroker":false}"#[..]
/// );
/// assert_eq!(LockBatchRequestBody::<Fixed<4>>::decode(&buf[..n]).unwrap(), req);
/// ```
#[derive(Debug, Clone)]
pub struct LockBatchRequestBody<'a, C: Collections> {
    /// `consumerGroup`.
    pub consumer_group: Text<'a>,
    /// `clientId`.
    pub client_id: Text<'a>,
    /// `onlyThisBroker`: do not forward the lock to other brokers (5.x).
    pub only_this_broker: bool,
    /// `mqSet`.
    pub mq_set: C::List<MessageQueue<'a>>,
}

eq_across_lifetimes!(LockBatchRequestBody {
    plain: [consumer_group, client_id, only_this_broker],
    lists: [mq_set]
});

/// The UNLOCK_BATCH_MQ body has exactly the lock request's fields.
pub type UnlockBatchRequestBody<'a, C> = LockBatchRequestBody<'a, C>;

impl<'a, C: Collections> LockBatchRequestBody<'a, C> {
    /// A request with no queues.
    pub fn new(consumer_group: Text<'a>, client_id: Text<'a>) -> Self {
        LockBatchRequestBody {
            consumer_group,
            client_id,
            only_this_broker: false,
            mq_set: C::List::default(),
        }
    }

    /// Decode a lock or unlock request body.
    pub fn decode(body: &'a [u8]) -> R<Self> {
        scan::whole(body, Self::scan)
    }

    /// Read the object at the scanner's position. `consumerGroup` and `clientId` are
    /// required.
    pub fn scan(s: &mut Scanner<'a>) -> R<Self> {
        let (mut consumer_group, mut client_id) = (None, None);
        let mut b = LockBatchRequestBody::new(Text::new(""), Text::new(""));
        scan::fields(s, |s, k| {
            if k == "consumerGroup" {
                consumer_group = scan::text(s)?;
            } else if k == "clientId" {
                client_id = scan::text(s)?;
            } else if k == "onlyThisBroker" {
                b.only_this_broker = scan::bool_or_null(s)?.unwrap_or(false);
            } else if k == "mqSet" {
                b.mq_set = scan::list::<C, _>(s, "mqSet", MessageQueue::scan)?;
            } else {
                s.skip_value()?;
            }
            Ok(())
        })?;
        b.consumer_group = scan::required(consumer_group, "consumerGroup")?;
        b.client_id = scan::required(client_id, "clientId")?;
        Ok(b)
    }
}

impl<C: Collections> EncodeBody for LockBatchRequestBody<'_, C> {
    fn encode<O: Out>(&self, out: &mut O) {
        let mut w = ObjectWriter::begin(out);
        w.text("clientId", &self.client_id);
        w.text("consumerGroup", &self.consumer_group);
        w.array("mqSet", &self.mq_set, |o, mq| mq.encode(o));
        w.bool("onlyThisBroker", self.only_this_broker);
        w.end();
    }
}

/// The queues a broker locked (`LockBatchResponseBody`, LOCK_BATCH_MQ response).
///
/// ```
/// use rocketmq_proto::body::LockBatchResponseBody;
/// use rocketmq_proto::collections::Fixed;
/// let r = LockBatchResponseBody::<Fixed<4>>::decode(
///     br#"{"lockOKMQSet":[{"topic":"t","brokerName":"b","queueId":1}]}"#).unwrap();
/// assert_eq!(r.lock_ok_mq_set[0].queue_id, 1);
/// ```
#[derive(Debug, Clone)]
pub struct LockBatchResponseBody<'a, C: Collections> {
    /// `lockOKMQSet`.
    pub lock_ok_mq_set: C::List<MessageQueue<'a>>,
}

eq_across_lifetimes!(LockBatchResponseBody {
    plain: [],
    lists: [lock_ok_mq_set]
});

impl<'a, C: Collections> LockBatchResponseBody<'a, C> {
    /// Decode a LOCK_BATCH_MQ response body.
    pub fn decode(body: &'a [u8]) -> R<Self> {
        scan::whole(body, Self::scan)
    }

    /// Read the object at the scanner's position.
    pub fn scan(s: &mut Scanner<'a>) -> R<Self> {
        let mut lock_ok_mq_set = C::List::default();
        scan::fields(s, |s, k| {
            if k == "lockOKMQSet" {
                lock_ok_mq_set = scan::list::<C, _>(s, "lockOKMQSet", MessageQueue::scan)?;
            } else {
                s.skip_value()?;
            }
            Ok(())
        })?;
        Ok(LockBatchResponseBody { lock_ok_mq_set })
    }
}

impl<C: Collections> EncodeBody for LockBatchResponseBody<'_, C> {
    fn encode<O: Out>(&self, out: &mut O) {
        let mut w = ObjectWriter::begin(out);
        w.array("lockOKMQSet", &self.lock_ok_mq_set, |o, mq| mq.encode(o));
        w.end();
    }
}
