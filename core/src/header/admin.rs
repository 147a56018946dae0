//! Topic and group administration (wire.md §6.16).
//!
//! UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200) has no fields
//! ([`EmptyFields`](crate::ext::EmptyFields)) and a SubscriptionGroupConfig body.

use crate::ext::FieldValue;
use crate::ext_header;
use crate::header::FieldType;
use crate::text::Text;

/// A topic's tag filter type (Java `TopicFilterType`), decoded by exact name as Java's
/// `valueOf` does.
///
/// ```
/// use rocketmq_proto::header::{FieldType, TopicFilterType};
/// assert_eq!(TopicFilterType::parse("MULTI_TAG".into()), Some(TopicFilterType::MultiTag));
/// assert_eq!(TopicFilterType::parse("multi_tag".into()), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TopicFilterType {
    /// `SINGLE_TAG` (the default).
    #[default]
    SingleTag,
    /// `MULTI_TAG`.
    MultiTag,
}

impl TopicFilterType {
    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            TopicFilterType::SingleTag => "SINGLE_TAG",
            TopicFilterType::MultiTag => "MULTI_TAG",
        }
    }
}

impl FieldType<'_> for TopicFilterType {
    const EXPECTED: &'static str = "SINGLE_TAG or MULTI_TAG";
    fn parse(v: Text<'_>) -> Option<Self> {
        if v == "SINGLE_TAG" {
            Some(TopicFilterType::SingleTag)
        } else if v == "MULTI_TAG" {
            Some(TopicFilterType::MultiTag)
        } else {
            None
        }
    }
    fn to_value(&self) -> FieldValue<'_> {
        FieldValue::Text(Text::new(self.name()))
    }
}

ext_header! {
    /// UPDATE_AND_CREATE_TOPIC (17) request, to each master broker.
    pub struct UpdateAndCreateTopicRequest<'a> {
        /// Topic.
        topic: req Text<'a> = "topic",
        /// Template topic (Java passes `TBW102`).
        default_topic: req Text<'a> = "defaultTopic",
        /// Read queue count.
        read_queue_nums: req i32 = "readQueueNums",
        /// Write queue count.
        write_queue_nums: req i32 = "writeQueueNums",
        /// Permission bits (wire.md §7.10).
        perm: req i32 = "perm",
        /// Tag filter type.
        topic_filter_type: req TopicFilterType = "topicFilterType",
        /// Topic sysFlag.
        topic_sys_flag: opt i32 = "topicSysFlag",
        /// Ordered topic.
        order: req bool = "order",
        /// Comma-separated `+key=value` to add, `-key` to delete (e.g. `+message.type=NORMAL`).
        attributes: opt Text<'a> = "attributes",
        /// Force the update.
        force: opt bool = "force",
    }
}

ext_header! {
    /// DELETE_TOPIC_IN_BROKER (215) request.
    pub struct DeleteTopicInBrokerRequest<'a> {
        /// Topic.
        topic: req Text<'a> = "topic",
    }
}

ext_header! {
    /// DELETE_TOPIC_IN_NAMESRV (216) request.
    pub struct DeleteTopicInNamesrvRequest<'a> {
        /// Topic.
        topic: req Text<'a> = "topic",
        /// Only in this cluster.
        cluster_name: opt Text<'a> = "clusterName",
    }
}

ext_header! {
    /// DELETE_SUBSCRIPTIONGROUP (207) request.
    pub struct DeleteSubscriptionGroupRequest<'a> {
        /// The group.
        group_name: req Text<'a> = "groupName",
        /// Also delete the group's offsets.
        clean_offset: opt bool = "cleanOffset",
    }
}

ext_header! {
    /// GET_CONSUMER_CONNECTION_LIST (203) request.
    pub struct GetConsumerConnectionListRequest<'a> {
        /// Consumer group.
        consumer_group: req Text<'a> = "consumerGroup",
    }
}

ext_header! {
    /// GET_CONSUME_STATS (208) request.
    pub struct GetConsumeStatsRequest<'a> {
        /// Consumer group.
        consumer_group: req Text<'a> = "consumerGroup",
        /// Only this topic.
        topic: opt Text<'a> = "topic",
        /// Only these topics.
        topic_list: opt Text<'a> = "topicList",
    }
}

ext_header! {
    /// GET_TOPIC_STATS_INFO (202) request.
    pub struct GetTopicStatsInfoRequest<'a> {
        /// Topic.
        topic: req Text<'a> = "topic",
    }
}
