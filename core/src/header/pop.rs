//! The 5.x POP family: POP_MESSAGE (200050), ACK_MESSAGE (200051),
//! CHANGE_MESSAGE_INVISIBLETIME (200053) (wire.md §6.14). The codes do not fit a binary
//! header, so these commands need the JSON header. BATCH_ACK_MESSAGE (200151) has no
//! fields ([`EmptyFields`](crate::ext::EmptyFields)) and a JSON body.

use crate::ext_header;
use crate::text::Text;

ext_header! {
    /// POP_MESSAGE (200050) request.
    pub struct PopMessageRequest<'a> {
        /// Consumer group.
        consumer_group: req Text<'a> = "consumerGroup",
        /// Topic.
        topic: req Text<'a> = "topic",
        /// Queue id; −1 pops from all queues of the topic on this broker.
        queue_id: req i32 = "queueId",
        /// Batch size (Java default 32).
        max_msg_nums: req i32 = "maxMsgNums",
        /// ms the popped messages stay invisible (Java 60000; allowed 5000…300000).
        invisible_time: req i64 = "invisibleTime",
        /// Long-poll time, ms (Java 15000); 0 = no polling.
        poll_time: req i64 = "pollTime",
        /// Client clock, ms since the epoch.
        born_time: req i64 = "bornTime",
        /// Where a new group starts: 0 = earliest, 1 = latest.
        init_mode: req i32 = "initMode",
        /// `TAG` / `SQL92`.
        exp_type: opt Text<'a> = "expType",
        /// Filter expression.
        exp: opt Text<'a> = "exp",
        /// FIFO pop (default false).
        order: opt bool = "order",
        /// Idempotency token for retried pops.
        attempt_id: opt Text<'a> = "attemptId",
        /// Target broker name (inherited, 5.x).
        broker_name: opt Text<'a> = "bname",
    }
}

ext_header! {
    /// POP_MESSAGE (200050) response; the body holds the stored messages. The `*Info`
    /// strings are `;`-separated records; Java leaves them out when nothing was popped.
    pub struct PopMessageResponse<'a> {
        /// Broker time of the pop, ms since the epoch.
        pop_time: req i64 = "popTime",
        /// Invisible time granted, ms.
        invisible_time: req i64 = "invisibleTime",
        /// Revive queue id, part of every receipt.
        revive_qid: req i32 = "reviveQid",
        /// Messages left.
        rest_num: req i64 = "restNum",
        /// `<retryFlag> <queueId> <startOffset>` records.
        start_offset_info: opt Text<'a> = "startOffsetInfo",
        /// `<retryFlag> <queueId> <off1>,<off2>,…` records.
        msg_offset_info: opt Text<'a> = "msgOffsetInfo",
        /// `<retryFlag> <queueId> <count>` records (order pops).
        order_count_info: opt Text<'a> = "orderCountInfo",
    }
}

ext_header! {
    /// ACK_MESSAGE (200051) request.
    pub struct AckMessageRequest<'a> {
        /// Consumer group.
        consumer_group: req Text<'a> = "consumerGroup",
        /// The real topic (for retry flags 1/2 the pop-retry topic name).
        topic: req Text<'a> = "topic",
        /// Queue id.
        queue_id: req i32 = "queueId",
        /// The receipt.
        extra_info: req Text<'a> = "extraInfo",
        /// The message's queue offset.
        offset: req i64 = "offset",
        /// Target broker name (inherited, 5.x).
        broker_name: opt Text<'a> = "bname",
    }
}

ext_header! {
    /// CHANGE_MESSAGE_INVISIBLETIME (200053) request.
    pub struct ChangeInvisibleTimeRequest<'a> {
        /// Consumer group.
        consumer_group: req Text<'a> = "consumerGroup",
        /// The real topic (for retry flags 1/2 the pop-retry topic name).
        topic: req Text<'a> = "topic",
        /// Queue id.
        queue_id: req i32 = "queueId",
        /// The receipt.
        extra_info: req Text<'a> = "extraInfo",
        /// The message's queue offset.
        offset: req i64 = "offset",
        /// New invisible time, ms.
        invisible_time: req i64 = "invisibleTime",
        /// Target broker name (inherited, 5.x).
        broker_name: opt Text<'a> = "bname",
    }
}

ext_header! {
    /// CHANGE_MESSAGE_INVISIBLETIME (200053) response: build a new receipt from it.
    pub struct ChangeInvisibleTimeResponse {
        /// Broker time of the change, ms since the epoch.
        pop_time: req i64 = "popTime",
        /// Invisible time granted, ms.
        invisible_time: req i64 = "invisibleTime",
        /// Revive queue id.
        revive_qid: req i32 = "reviveQid",
    }
}
