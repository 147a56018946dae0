//! Transactions: END_TRANSACTION (37, client → broker, oneway) and
//! CHECK_TRANSACTION_STATE (39, broker → client, oneway) (wire.md §6.10,
//! messages.md §7).

use crate::ext::FieldValue;
use crate::ext_header;
use crate::header::FieldType;
use crate::text::Text;

/// How a transaction ends: END_TRANSACTION's `commitOrRollback`.
///
/// ```
/// use rocketmq_proto::header::{FieldType, TransactionResolution};
/// assert_eq!(TransactionResolution::Commit.code(), 8);
/// assert_eq!(TransactionResolution::parse("12".into()), Some(TransactionResolution::Rollback));
/// assert_eq!(TransactionResolution::parse("4".into()), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionResolution {
    /// `0`, TRANSACTION_NOT_TYPE: state unknown; the broker ignores it and checks later.
    Unknown,
    /// `8`, TRANSACTION_COMMIT_TYPE.
    Commit,
    /// `12`, TRANSACTION_ROLLBACK_TYPE.
    Rollback,
}

impl TransactionResolution {
    /// The wire value.
    pub const fn code(self) -> i32 {
        match self {
            TransactionResolution::Unknown => 0,
            TransactionResolution::Commit => 8,
            TransactionResolution::Rollback => 12,
        }
    }

    /// The resolution for a wire value; `None` for anything but 0, 8 and 12.
    pub const fn from_code(code: i32) -> Option<Self> {
        match code {
            0 => Some(TransactionResolution::Unknown),
            8 => Some(TransactionResolution::Commit),
            12 => Some(TransactionResolution::Rollback),
            _ => None,
        }
    }
}

impl FieldType<'_> for TransactionResolution {
    const EXPECTED: &'static str = "transaction type 0, 8 or 12";
    fn parse(v: Text<'_>) -> Option<Self> {
        v.parse_i32().and_then(Self::from_code)
    }
    fn to_value(&self) -> FieldValue<'_> {
        FieldValue::I32(self.code())
    }
}

ext_header! {
    /// END_TRANSACTION (37) request, sent oneway; the command `remark` may carry the
    /// reason (wire.md §6.10).
    pub struct EndTransactionRequest<'a> {
        /// Must equal the half message's `PGROUP` property.
        producer_group: req Text<'a> = "producerGroup",
        /// The half message's `queueOffset` (from the send response).
        tran_state_table_offset: req i64 = "tranStateTableOffset",
        /// The half message's commit-log offset (decoded from the send response `msgId`).
        commit_log_offset: req i64 = "commitLogOffset",
        /// Commit, rollback or unknown.
        commit_or_rollback: req TransactionResolution = "commitOrRollback",
        /// `true` when answering a CHECK_TRANSACTION_STATE.
        from_transaction_check: opt bool = "fromTransactionCheck",
        /// The message's UNIQ_KEY.
        msg_id: req Text<'a> = "msgId",
        /// Transaction id (= UNIQ_KEY).
        transaction_id: opt Text<'a> = "transactionId",
        /// Topic.
        topic: opt Text<'a> = "topic",
        /// Target broker name (inherited, 5.x).
        broker_name: opt Text<'a> = "bname",
    }
}

ext_header! {
    /// CHECK_TRANSACTION_STATE (39) request from a broker, oneway; the body is the half
    /// message (wire.md §6.10). The client answers later with END_TRANSACTION.
    pub struct CheckTransactionStateRequest<'a> {
        /// Brokers ≥ 5.3.0 only: the half topic `RMQ_SYS_TRANS_HALF_TOPIC`.
        topic: opt Text<'a> = "topic",
        /// Half message queue offset; echo into END_TRANSACTION.
        tran_state_table_offset: req i64 = "tranStateTableOffset",
        /// Half message commit-log offset; echo into END_TRANSACTION.
        commit_log_offset: req i64 = "commitLogOffset",
        /// UNIQ_KEY of the half message.
        msg_id: opt Text<'a> = "msgId",
        /// Same as `msgId`.
        transaction_id: opt Text<'a> = "transactionId",
        /// Offset msg id of the half message.
        offset_msg_id: opt Text<'a> = "offsetMsgId",
        /// Broker name (brokers ≥ 5.2.0).
        broker_name: opt Text<'a> = "bname",
    }
}
