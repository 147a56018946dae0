//! Requests a broker sends to a client (wire.md §6.13). CHECK_TRANSACTION_STATE is in
//! [`transaction`](super::transaction).

use crate::ext_header;
use crate::text::Text;

ext_header! {
    /// NOTIFY_CONSUMER_IDS_CHANGED (40), oneway: trigger a rebalance; no reply.
    pub struct NotifyConsumerIdsChangedRequest<'a> {
        /// The group whose membership changed.
        consumer_group: req Text<'a> = "consumerGroup",
    }
}

ext_header! {
    /// RESET_CONSUMER_CLIENT_OFFSET (220), oneway; the body (ResetOffsetBody) gives the
    /// new offsets. INVOKE_BROKER_TO_RESET_OFFSET (222, admin → broker) uses the same
    /// header.
    pub struct ResetConsumerClientOffsetRequest<'a> {
        /// Topic.
        topic: req Text<'a> = "topic",
        /// Consumer group.
        group: req Text<'a> = "group",
        /// Reset to this store time, ms since the epoch.
        timestamp: req i64 = "timestamp",
        /// Also move offsets backwards.
        is_force: req bool = "isForce",
        /// One queue, or −1 (absent) for all.
        queue_id: opt i32 = "queueId",
        /// Explicit target offset.
        offset: opt i64 = "offset",
    }
}

ext_header! {
    /// GET_CONSUMER_STATUS_FROM_CLIENT (221, deprecated); reply SUCCESS with a
    /// GetConsumerStatusBody.
    pub struct GetConsumerStatusFromClientRequest<'a> {
        /// Topic.
        topic: req Text<'a> = "topic",
        /// Consumer group.
        group: req Text<'a> = "group",
        /// Address of the client asked.
        client_addr: opt Text<'a> = "clientAddr",
    }
}

ext_header! {
    /// GET_CONSUMER_RUNNING_INFO (307); reply SUCCESS with a ConsumerRunningInfo body.
    pub struct GetConsumerRunningInfoRequest<'a> {
        /// Consumer group.
        consumer_group: req Text<'a> = "consumerGroup",
        /// The client asked.
        client_id: req Text<'a> = "clientId",
        /// Include thread stacks (absent = false; Java marks it `@CFNullable`).
        jstack_enable: opt bool = "jstackEnable",
    }
}

ext_header! {
    /// CONSUME_MESSAGE_DIRECTLY (309); the body is one stored message; reply SUCCESS with
    /// a ConsumeMessageDirectlyResult body. Only `consumerGroup` is required, as in
    /// Java's `ConsumeMessageDirectlyResultRequestHeader` (the message itself is the body).
    pub struct ConsumeMessageDirectlyRequest<'a> {
        /// Consumer group.
        consumer_group: req Text<'a> = "consumerGroup",
        /// The client asked.
        client_id: opt Text<'a> = "clientId",
        /// The message's id.
        msg_id: opt Text<'a> = "msgId",
        /// The broker that stores the message (the broker fills it in when forwarding).
        broker_name: opt Text<'a> = "brokerName",
        /// Topic.
        topic: opt Text<'a> = "topic",
        /// The topic's sysFlag.
        topic_sys_flag: opt i32 = "topicSysFlag",
        /// The group's sysFlag.
        group_sys_flag: opt i32 = "groupSysFlag",
    }
}

ext_header! {
    /// PUSH_REPLY_MESSAGE_TO_CLIENT (326): a reply to this client's request-reply
    /// message; the body is the reply body (decompress if `sysFlag` says so). Match it by
    /// the `CORRELATION_ID` property.
    pub struct PushReplyMessageRequest<'a> {
        /// Producer group of the replier.
        producer_group: req Text<'a> = "producerGroup",
        /// Reply topic.
        topic: req Text<'a> = "topic",
        /// Auto-create template topic.
        default_topic: req Text<'a> = "defaultTopic",
        /// Queues of an auto-created topic.
        default_topic_queue_nums: req i32 = "defaultTopicQueueNums",
        /// Queue id.
        queue_id: req i32 = "queueId",
        /// Message sysFlag (compression bits).
        sys_flag: req i32 = "sysFlag",
        /// Born time, ms since the epoch.
        born_timestamp: req i64 = "bornTimestamp",
        /// The message's user flag.
        flag: req i32 = "flag",
        /// Properties string (0x01/0x02 separators).
        properties: opt Text<'a> = "properties",
        /// Reconsume times.
        reconsume_times: opt i32 = "reconsumeTimes",
        /// Unit mode.
        unit_mode: opt bool = "unitMode",
        /// Born host, `ip:port`.
        born_host: req Text<'a> = "bornHost",
        /// Store host, `ip:port`.
        store_host: req Text<'a> = "storeHost",
        /// Store time, ms since the epoch.
        store_timestamp: req i64 = "storeTimestamp",
    }
}
