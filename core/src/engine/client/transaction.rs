//! Transactions: END_TRANSACTION and the broker's CHECK_TRANSACTION_STATE.

use super::*;

/// Identifies a broker's transaction check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckId(pub u32);

/// A broker asking how a transaction ended (CHECK_TRANSACTION_STATE, wire.md §6.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionCheck {
    /// Which check.
    pub id: CheckId,
    /// The half message's UNIQ_KEY (the message id the application knows).
    pub msg_id: MsgId,
    /// The transaction id (= UNIQ_KEY).
    pub transaction_id: MsgId,
    /// The producer group the half message belongs to (its `PGROUP`, namespace
    /// removed).
    pub producer_group: Name,
    /// The real topic of the half message.
    pub topic: Name,
    pub(super) tran_state_table_offset: i64,
    pub(super) commit_log_offset: i64,
    pub(super) addr: Addr,
    pub(super) announced: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EndTx {
    pub(super) seq: u32,
    pub(super) group: Name,
    pub(super) tran_state_table_offset: i64,
    pub(super) commit_log_offset: i64,
    pub(super) resolution: crate::header::TransactionResolution,
    pub(super) msg_id: MsgId,
    pub(super) transaction_id: MsgId,
    pub(super) from_check: bool,
}

impl<C: Collections, B: MessageBuf, const INFLIGHT: usize> Client<C, B, INFLIGHT> {
    /// Resolve the transaction whose half message has `receipt` (from its
    /// [`Event::SendOk`]): END_TRANSACTION, oneway, to the broker that stored it, with
    /// the offsets the broker checks (`queueOffset`, and the commit-log offset from the
    /// offset message id).
    pub fn end_transaction(
        &mut self,
        receipt: &SendReceipt,
        resolution: crate::header::TransactionResolution,
    ) -> Result<(), CallError> {
        let commit_log_offset = crate::message::OffsetMsgId::parse(&receipt.offset_msg_id)
            .map_err(|_| {
                CallError::Encode(EncodeError::InvalidValue {
                    field: "offsetMsgId",
                })
            })?
            .commit_log_offset;
        let addr = find_name(&self.names, &receipt.broker_name)
            .and_then(|b| self.master_addr(b))
            .ok_or(CallError::Full("broker address"))?;
        let group = self
            .producer_groups
            .first()
            .cloned()
            .ok_or(CallError::NoProducer)?;
        self.push_end(
            &addr,
            EndTx {
                seq: 0,
                group,
                tran_state_table_offset: receipt.queue_offset,
                commit_log_offset,
                resolution,
                msg_id: receipt.msg_id.clone(),
                transaction_id: receipt.msg_id.clone(),
                from_check: false,
            },
        )
    }

    /// The check `id`, until it is answered.
    pub fn transaction_check(&self, id: CheckId) -> Option<&TransactionCheck> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// Answer a broker's check: END_TRANSACTION with `fromTransactionCheck=true`,
    /// echoing the broker's offsets, on the connection the check came from.
    pub fn answer_check(
        &mut self,
        id: CheckId,
        resolution: crate::header::TransactionResolution,
    ) -> Result<(), CallError> {
        let i = self
            .checks
            .iter()
            .position(|c| c.id == id)
            .ok_or(CallError::Full("no such check"))?;
        let c = self
            .checks
            .remove_at(i)
            .ok_or(CallError::Full("no such check"))?;
        let group = self.wrapped(&c.producer_group)?;
        self.push_end(
            &c.addr,
            EndTx {
                seq: 0,
                group,
                tran_state_table_offset: c.tran_state_table_offset,
                commit_log_offset: c.commit_log_offset,
                resolution,
                msg_id: c.msg_id,
                transaction_id: c.transaction_id,
                from_check: true,
            },
        )
    }

    pub(super) fn push_end(&mut self, addr: &Addr, mut end: EndTx) -> Result<(), CallError> {
        end.seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let seq = end.seq;
        self.ends
            .try_push(end)
            .map_err(|_| CallError::Full("pending END_TRANSACTION"))?;
        let conn = self.conn_for(addr);
        let opaque = self.next_oneway_opaque;
        self.next_oneway_opaque = self.next_oneway_opaque.wrapping_sub(1).min(-1);
        if self
            .outbound
            .try_push(Outbound {
                conn,
                opaque,
                purpose: Purpose::EndTransaction { seq },
                code: 0,
                mq: None,
            })
            .is_err()
        {
            self.ends.retain_where(|e| e.seq != seq);
            return Err(CallError::Full("outbound"));
        }
        Ok(())
    }

    pub(super) fn on_check_transaction(&mut self, conn: ConnId, cmd: &Command<'_>) {
        use crate::header::CheckTransactionStateRequest;
        if super::never_holds(&self.checks) {
            return; // dropped, as when the table is full (below)
        }
        let Ok(h) = cmd.decode_fields::<CheckTransactionStateRequest<'_>>() else {
            return;
        };
        // The same half message checked again before the application answered: one
        // pending check is enough.
        if self
            .checks
            .iter()
            .any(|c| c.commit_log_offset == h.commit_log_offset)
        {
            return;
        }
        let Some(addr) = self
            .conns
            .iter()
            .find(|c| c.id == conn)
            .map(|c| c.addr.clone())
        else {
            return;
        };
        let Some(Ok(record)) = crate::message::RecordIter::new(cmd.body).next() else {
            return;
        };
        let uniq = record
            .uniq_key()
            .or(h.msg_id.as_ref().and_then(Text::as_str))
            .unwrap_or_default();
        let id = CheckId(self.next_seq);
        self.next_seq = self.next_seq.wrapping_add(1);
        let check = TransactionCheck {
            id,
            msg_id: MsgId::try_from(uniq).unwrap_or_default(),
            transaction_id: h
                .transaction_id
                .map(|t| text_to(&t))
                .unwrap_or_else(|| MsgId::try_from(uniq).unwrap_or_default()),
            producer_group: self.unwrapped(record.properties.get(keys::PGROUP).unwrap_or_default()),
            topic: self.unwrapped(record.topic),
            tran_state_table_offset: h.tran_state_table_offset,
            commit_log_offset: h.commit_log_offset,
            addr,
            announced: false,
        };
        // Full: dropped; the broker checks again later (every 30 s, up to 15 times).
        let _ = self.checks.try_push(check);
    }
}
