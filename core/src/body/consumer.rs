//! `GetConsumerListByGroupResponseBody` (`{"consumerIdList":[…]}`, wire.md §7.4) and
//! `TopicList` (`{"topicList":[…],"brokerAddr":…}`).

use crate::collections::Collections;
use crate::json::Scanner;
use crate::text::Text;

use super::scan::{self, R};

/// The client ids of a consumer group (GET_CONSUMER_LIST_BY_GROUP response body).
///
/// ```
/// use rocketmq_proto::body::ConsumerIdList;
/// use rocketmq_proto::collections::Fixed;
/// let ids = ConsumerIdList::<Fixed<8>>::decode(br#"{"consumerIdList":["10.0.0.1@1","10.0.0.2@7"]}"#).unwrap();
/// assert_eq!(ids.consumer_id_list.len(), 2);
/// assert_eq!(ids.consumer_id_list[1], "10.0.0.2@7");
/// ```
#[derive(Debug, Clone)]
pub struct ConsumerIdList<'a, C: Collections> {
    /// `consumerIdList`.
    pub consumer_id_list: C::List<Text<'a>>,
}

eq_across_lifetimes!(ConsumerIdList {
    plain: [],
    lists: [consumer_id_list]
});

impl<'a, C: Collections> ConsumerIdList<'a, C> {
    /// Decode a GET_CONSUMER_LIST_BY_GROUP response body.
    pub fn decode(body: &'a [u8]) -> R<Self> {
        scan::whole(body, Self::scan)
    }

    /// Read the object at the scanner's position.
    pub fn scan(s: &mut Scanner<'a>) -> R<Self> {
        let mut consumer_id_list = C::List::default();
        scan::fields(s, |s, k| {
            if k == "consumerIdList" {
                consumer_id_list = scan::texts::<C>(s, "consumerIdList")?;
            } else {
                s.skip_value()?;
            }
            Ok(())
        })?;
        Ok(ConsumerIdList { consumer_id_list })
    }
}

/// A list of topic names (`TopicList`: GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
/// GET_TOPICS_BY_CLUSTER, system topic lists).
///
/// ```
/// use rocketmq_proto::body::TopicList;
/// use rocketmq_proto::collections::Fixed;
/// let l = TopicList::<Fixed<4>>::decode(br#"{"topicList":["t1","t2"]}"#).unwrap();
/// assert_eq!(l.topic_list.len(), 2);
/// assert_eq!(l.topic_list[1], "t2");
/// assert!(l.broker_addr.is_none());
/// ```
#[derive(Debug, Clone)]
pub struct TopicList<'a, C: Collections> {
    /// `topicList`.
    pub topic_list: C::List<Text<'a>>,
    /// `brokerAddr` (optional).
    pub broker_addr: Option<Text<'a>>,
}

eq_across_lifetimes!(TopicList {
    plain: [broker_addr],
    lists: [topic_list]
});

impl<'a, C: Collections> TopicList<'a, C> {
    /// Decode a topic list body.
    pub fn decode(body: &'a [u8]) -> R<Self> {
        scan::whole(body, Self::scan)
    }

    /// Read the object at the scanner's position.
    pub fn scan(s: &mut Scanner<'a>) -> R<Self> {
        let mut l = TopicList {
            topic_list: C::List::default(),
            broker_addr: None,
        };
        scan::fields(s, |s, k| {
            if k == "topicList" {
                l.topic_list = scan::texts::<C>(s, "topicList")?;
            } else if k == "brokerAddr" {
                l.broker_addr = scan::text(s)?;
            } else {
                s.skip_value()?;
            }
            Ok(())
        })?;
        Ok(l)
    }
}
