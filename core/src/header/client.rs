//! Client registration: HEART_BEAT (34) response, UNREGISTER_CLIENT (35),
//! CONSUMER_SEND_MSG_BACK (36) and GET_CONSUMER_LIST_BY_GROUP (38) (wire.md §6.3, §6.4,
//! §6.9, §6.11).
//!
//! The HEART_BEAT request and LOCK_BATCH_MQ (41) / UNLOCK_BATCH_MQ (42) have no header
//! fields: send them with [`EmptyFields`](crate::ext::EmptyFields) and a JSON body.

use crate::ext_header;
use crate::text::Text;

ext_header! {
    /// HEART_BEAT (34) SUCCESS response (wire.md §6.3).
    pub struct HeartbeatResponse {
        /// The broker understands heartbeat v2 (fingerprints).
        is_support_heartbeat_v2: opt bool = "IS_SUPPORT_HEART_BEAT_V2",
        /// `true` for v1 heartbeats; for v2, whether the fingerprint changed.
        is_sub_change: opt bool = "IS_SUB_CHANGE",
    }
}

ext_header! {
    /// UNREGISTER_CLIENT (35) request; Java sends one call per group (wire.md §6.4).
    pub struct UnregisterClientRequest<'a> {
        /// The client id (note the capital `ID` on the wire).
        client_id: req Text<'a> = "clientID",
        /// Producer group to leave.
        producer_group: opt Text<'a> = "producerGroup",
        /// Consumer group to leave.
        consumer_group: opt Text<'a> = "consumerGroup",
    }
}

ext_header! {
    /// CONSUMER_SEND_MSG_BACK (36) request: a concurrently consumed message failed
    /// (wire.md §6.9).
    pub struct ConsumerSendMsgBackRequest<'a> {
        /// The message's commit-log (physical) offset.
        offset: req i64 = "offset",
        /// Consumer group.
        group: req Text<'a> = "group",
        /// 0 = broker chooses (3 + reconsumeTimes); > 0 explicit level; < 0 straight to the DLQ.
        delay_level: req i32 = "delayLevel",
        /// Message id as the client sees it (UNIQ_KEY if present, else the offset msg id).
        origin_msg_id: opt Text<'a> = "originMsgId",
        /// The topic the message was consumed from.
        origin_topic: opt Text<'a> = "originTopic",
        /// Default false.
        unit_mode: opt bool = "unitMode",
        /// The consumer's max reconsume times (Java default 16).
        max_reconsume_times: opt i32 = "maxReconsumeTimes",
        /// Target broker name (inherited, 5.x).
        broker_name: opt Text<'a> = "bname",
    }
}

ext_header! {
    /// GET_CONSUMER_LIST_BY_GROUP (38) request (wire.md §6.11); the response is a
    /// `consumerIdList` JSON body.
    pub struct GetConsumerListByGroupRequest<'a> {
        /// Consumer group.
        consumer_group: req Text<'a> = "consumerGroup",
        /// Target broker name (inherited, 5.x).
        broker_name: opt Text<'a> = "bname",
    }
}
