//! Pulling: PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361), which share one header, and
//! the pull sysFlag bits (wire.md §6.5).

use core::ops::{BitOr, BitOrAssign};

use crate::ext::FieldValue;
use crate::ext_header;
use crate::header::FieldType;
use crate::text::Text;

/// The pull request's `sysFlag` bits (Java `PullSysFlag`).
///
/// ```
/// use rocketmq_proto::header::PullSysFlag;
/// let f = PullSysFlag::COMMIT_OFFSET | PullSysFlag::SUSPEND;
/// assert_eq!(f.0, 3);
/// assert!(f.contains(PullSysFlag::SUSPEND));
/// assert!(!f.contains(PullSysFlag::SUBSCRIPTION));
/// assert_eq!(f.without(PullSysFlag::COMMIT_OFFSET), PullSysFlag::SUSPEND);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PullSysFlag(pub i32);

impl PullSysFlag {
    /// No flags.
    pub const NONE: PullSysFlag = PullSysFlag(0);
    /// FLAG_COMMIT_OFFSET (0x01): the broker stores `commitOffset` for the group.
    pub const COMMIT_OFFSET: PullSysFlag = PullSysFlag(0x01);
    /// FLAG_SUSPEND (0x02): long polling allowed.
    pub const SUSPEND: PullSysFlag = PullSysFlag(0x02);
    /// FLAG_SUBSCRIPTION (0x04): use `subscription`/`expressionType` from this request.
    pub const SUBSCRIPTION: PullSysFlag = PullSysFlag(0x04);
    /// FLAG_CLASS_FILTER (0x08): legacy filter-server mode.
    pub const CLASS_FILTER: PullSysFlag = PullSysFlag(0x08);
    /// FLAG_LITE_PULL_MESSAGE (0x10): Java sends LITE_PULL_MESSAGE (361) when set.
    pub const LITE_PULL_MESSAGE: PullSysFlag = PullSysFlag(0x10);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: PullSysFlag) -> bool {
        self.0 & other.0 == other.0
    }

    /// These flags plus `other`.
    pub const fn with(self, other: PullSysFlag) -> PullSysFlag {
        PullSysFlag(self.0 | other.0)
    }

    /// These flags minus `other` (Java clears COMMIT_OFFSET when pulling from a slave).
    pub const fn without(self, other: PullSysFlag) -> PullSysFlag {
        PullSysFlag(self.0 & !other.0)
    }
}

impl BitOr for PullSysFlag {
    type Output = PullSysFlag;
    fn bitor(self, rhs: PullSysFlag) -> PullSysFlag {
        self.with(rhs)
    }
}

impl BitOrAssign for PullSysFlag {
    fn bitor_assign(&mut self, rhs: PullSysFlag) {
        *self = self.with(rhs);
    }
}

impl FieldType<'_> for PullSysFlag {
    const EXPECTED: &'static str = "i32";
    fn parse(v: Text<'_>) -> Option<Self> {
        v.parse_i32().map(PullSysFlag)
    }
    fn to_value(&self) -> FieldValue<'_> {
        FieldValue::I32(self.0)
    }
}

ext_header! {
    /// PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361) request (wire.md §6.5).
    ///
    /// ```
    /// use rocketmq_proto::header::{PullMessageRequest, PullSysFlag};
    /// let req = PullMessageRequest {
    ///     consumer_group: "G".into(),
    ///     topic: "T".into(),
    ///     queue_id: 0,
    ///     queue_offset: 0,
    ///     max_msg_nums: 32,
    ///     sys_flag: PullSysFlag::SUSPEND,
    ///     commit_offset: 0,
    ///     suspend_timeout_millis: 15_000,
    ///     subscription: None,
    ///     sub_version: 0,
    ///     expression_type: Some("TAG".into()),
    ///     max_msg_bytes: Some(262_144),
    ///     request_source: None,
    ///     proxy_forward_client_id: None,
    ///     broker_name: Some("broker-a".into()),
    /// };
    /// # let _ = req;
    /// ```
    pub struct PullMessageRequest<'a> {
        /// Consumer group.
        consumer_group: req Text<'a> = "consumerGroup",
        /// Topic.
        topic: req Text<'a> = "topic",
        /// Queue id.
        queue_id: req i32 = "queueId",
        /// First consume-queue offset wanted.
        queue_offset: req i64 = "queueOffset",
        /// Batch size (Java push default 32).
        max_msg_nums: req i32 = "maxMsgNums",
        /// Pull flags.
        sys_flag: req PullSysFlag = "sysFlag",
        /// Consumer offset to commit as a side effect (used only with COMMIT_OFFSET; else 0).
        commit_offset: req i64 = "commitOffset",
        /// Long-poll hold time on the broker (Java push: 15000).
        suspend_timeout_millis: req i64 = "suspendTimeoutMillis",
        /// Subscription expression; used only with SUBSCRIPTION.
        subscription: opt Text<'a> = "subscription",
        /// The subscription's version, as in the heartbeat's SubscriptionData.
        sub_version: req i64 = "subVersion",
        /// `TAG` (default) or `SQL92`.
        expression_type: opt Text<'a> = "expressionType",
        /// Byte budget (Java push 262144).
        max_msg_bytes: opt i32 = "maxMsgBytes",
        /// Proxy use only.
        request_source: opt i32 = "requestSource",
        /// Proxy use only (the wire spelling is `proxyFrowardClientId`).
        proxy_forward_client_id: opt Text<'a> = "proxyFrowardClientId",
        /// Target broker name (inherited, 5.x).
        broker_name: opt Text<'a> = "bname",
    }
}

/// LITE_PULL_MESSAGE (361) request: the pull header.
pub type LitePullMessageRequest<'a> = PullMessageRequest<'a>;

ext_header! {
    /// PULL_MESSAGE / LITE_PULL_MESSAGE response (wire.md §6.5).
    pub struct PullMessageResponse {
        /// Broker id to use for the next pull of this queue (0 = master).
        suggest_which_broker_id: req i64 = "suggestWhichBrokerId",
        /// Offset to request next.
        next_begin_offset: req i64 = "nextBeginOffset",
        /// Queue min offset.
        min_offset: req i64 = "minOffset",
        /// Queue max offset.
        max_offset: req i64 = "maxOffset",
        /// Static/logical topics only: add to every returned message's queueOffset.
        offset_delta: opt i64 = "offsetDelta",
        /// The topic's sysFlag.
        topic_sys_flag: opt i32 = "topicSysFlag",
        /// The group's sysFlag.
        group_sys_flag: opt i32 = "groupSysFlag",
        /// Set with NO_PERMISSION (e.g. broadcast disabled, read forbidden).
        forbidden_type: opt i32 = "forbiddenType",
    }
}
