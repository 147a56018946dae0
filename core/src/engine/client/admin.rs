//! Requests brokers forward from admin tools (behaviour.md §7): GET_CONSUMER_RUNNING_INFO,
//! answered by the engine from its own state, and CONSUME_MESSAGE_DIRECTLY, handed to
//! the application as an event and answered with its verdict.

use super::*;
use crate::body::scan::ObjectWriter;
use crate::body::EncodeBody;
use crate::out::Out;

/// Identifies one CONSUME_MESSAGE_DIRECTLY request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DirectId(pub u32);

/// How the application's listener took a message sent by CONSUME_MESSAGE_DIRECTLY
/// (Java `CMResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsumeResult {
    /// Consumed (`CR_SUCCESS`).
    Success,
    /// Would be retried later (`CR_LATER`: RECONSUME_LATER or SUSPEND).
    Later,
    /// The listener failed with an error (`CR_THROW_EXCEPTION`).
    Failed,
    /// The listener returned nothing (`CR_RETURN_NULL`).
    NoResult,
}

impl ConsumeResult {
    fn wire_name(self) -> &'static str {
        match self {
            ConsumeResult::Success => "CR_SUCCESS",
            ConsumeResult::Later => "CR_LATER",
            ConsumeResult::Failed => "CR_THROW_EXCEPTION",
            ConsumeResult::NoResult => "CR_RETURN_NULL",
        }
    }
}

/// A CONSUME_MESSAGE_DIRECTLY waiting for (or holding) the application's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DirectRequest<B> {
    pub(super) id: DirectId,
    pub(super) conn: ConnId,
    pub(super) opaque: i32,
    /// The stored message record the broker sent.
    pub(super) body: B,
    pub(super) announced: bool,
    pub(super) answer: Option<(ConsumeResult, i64)>,
}

/// What a reply to a broker's request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReplyBody {
    /// Nothing (REQUEST_CODE_NOT_SUPPORTED, or a plain SUCCESS).
    Empty,
    /// SYSTEM_ERROR: the request names a group this client does not consume for.
    UnknownGroup,
    /// A ConsumerRunningInfo document of the consumer.
    RunningInfo,
    /// The ConsumeMessageDirectlyResult of this request.
    Direct(DirectId),
}

impl<C: Collections, B: MessageBuf, const INFLIGHT: usize> Client<C, B, INFLIGHT> {
    /// Queue a reply on `conn` to the request `opaque`.
    pub(super) fn push_reply(
        &mut self,
        conn: ConnId,
        opaque: i32,
        code: ResponseCode,
        body: ReplyBody,
    ) {
        // Full: the broker's request times out on its side; nothing of ours is lost.
        let _ = self.outbound.try_push(Outbound {
            conn,
            opaque,
            purpose: Purpose::Reply(body),
            code: code.0,
            mq: None,
        });
    }

    /// Whether a broker's request for `group` is for this client's consumer.
    fn is_my_group(&self, group: &Text<'_>) -> bool {
        self.consumer
            .as_ref()
            .is_some_and(|c| *group == c.group.as_str())
    }

    /// GET_CONSUMER_RUNNING_INFO: answered at once from the engine's state.
    pub(super) fn on_running_info(&mut self, conn: ConnId, cmd: &Command<'_>) {
        use crate::header::GetConsumerRunningInfoRequest;
        let opaque = cmd.header.opaque;
        let mine = cmd
            .decode_fields::<GetConsumerRunningInfoRequest<'_>>()
            .is_ok_and(|h| self.is_my_group(&h.consumer_group));
        if mine {
            self.push_reply(conn, opaque, ResponseCode::SUCCESS, ReplyBody::RunningInfo);
        } else {
            self.push_reply(
                conn,
                opaque,
                ResponseCode::SYSTEM_ERROR,
                ReplyBody::UnknownGroup,
            );
        }
    }

    /// CONSUME_MESSAGE_DIRECTLY: the message goes to the application
    /// ([`Event::ConsumeDirectly`]); its answer goes back on this connection.
    pub(super) fn on_consume_directly(&mut self, conn: ConnId, cmd: &Command<'_>) {
        use crate::header::ConsumeMessageDirectlyRequest;
        let opaque = cmd.header.opaque;
        if super::never_holds(&self.directs) {
            // The answer of a full table (below).
            return self.push_reply(
                conn,
                opaque,
                ResponseCode::SYSTEM_ERROR,
                ReplyBody::UnknownGroup,
            );
        }
        let push_consumer = self.consumer.as_ref().is_some_and(|c| !c.lite_pull);
        let mine = cmd
            .decode_fields::<ConsumeMessageDirectlyRequest<'_>>()
            .is_ok_and(|h| self.is_my_group(&h.consumer_group));
        let record_ok = matches!(
            crate::message::RecordIter::new(cmd.body).next(),
            Some(Ok(_))
        );
        let body = B::from_parts(&[cmd.body]);
        let (true, true, true, Some(body)) = (mine, push_consumer, record_ok, body) else {
            return self.push_reply(
                conn,
                opaque,
                ResponseCode::SYSTEM_ERROR,
                ReplyBody::UnknownGroup,
            );
        };
        let id = DirectId(self.next_seq);
        self.next_seq = self.next_seq.wrapping_add(1);
        let pushed = self.directs.try_push(DirectRequest {
            id,
            conn,
            opaque,
            body,
            announced: false,
            answer: None,
        });
        if pushed.is_err() {
            self.push_reply(
                conn,
                opaque,
                ResponseCode::SYSTEM_ERROR,
                ReplyBody::UnknownGroup,
            );
        }
    }

    /// The message of CONSUME_MESSAGE_DIRECTLY request `id`, until it is answered.
    pub fn direct_message(&self, id: DirectId) -> Option<crate::message::MessageRecord<'_>> {
        let d = self
            .directs
            .iter()
            .find(|d| d.id == id && d.answer.is_none())?;
        crate::message::RecordIter::new(d.body.as_ref())
            .next()?
            .ok()
    }

    /// Answer CONSUME_MESSAGE_DIRECTLY request `id` with the listener's verdict and how
    /// long it took. Nothing else follows from it: no offset moves, nothing is sent back
    /// (as in Java).
    pub fn answer_direct(
        &mut self,
        id: DirectId,
        result: ConsumeResult,
        spent_ms: i64,
    ) -> Result<(), CallError> {
        let d = self
            .directs
            .iter_mut()
            .find(|d| d.id == id && d.answer.is_none())
            .ok_or(CallError::Full("no such request"))?;
        d.answer = Some((result, spent_ms));
        let (conn, opaque) = (d.conn, d.opaque);
        self.push_reply(conn, opaque, ResponseCode::SUCCESS, ReplyBody::Direct(id));
        Ok(())
    }

    /// Write a reply to a broker's request.
    pub(super) fn encode_reply(
        &self,
        enc: &CommandEncoder,
        ob: &Outbound,
        body: ReplyBody,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let header = Header {
            language: self.config.language,
            version: self.config.version,
            ..Header::response(ResponseCode(ob.code), ob.opaque)
        };
        match body {
            ReplyBody::Empty if ob.code == ResponseCode::REQUEST_CODE_NOT_SUPPORTED.0 => enc
                .encode(
                    buf,
                    &header.with_remark("request type not supported"),
                    &NoFields,
                    b"",
                ),
            ReplyBody::Empty => self.encode_frame(enc, buf, &header, &NoFields, b""),
            ReplyBody::UnknownGroup => self.encode_frame(
                enc,
                buf,
                &header.with_remark("The Consumer Group not exist in this consumer"),
                &NoFields,
                b"",
            ),
            ReplyBody::RunningInfo => {
                let info = RunningInfo { client: self };
                self.encode_with_body(enc, buf, &header, &info)
            }
            ReplyBody::Direct(id) => {
                let (result, spent) = self
                    .directs
                    .iter()
                    .find(|d| d.id == id)
                    .and_then(|d| d.answer)
                    .ok_or(EncodeError::InvalidValue { field: "answer" })?;
                let orderly = self.consumer.as_ref().is_some_and(|c| c.orderly);
                let doc = DirectResult {
                    orderly,
                    result,
                    spent,
                };
                self.encode_with_body(enc, buf, &header, &doc)
            }
        }
    }
}

/// ConsumeMessageDirectlyResult (wire.md §7.8).
struct DirectResult {
    orderly: bool,
    result: ConsumeResult,
    spent: i64,
}

impl EncodeBody for DirectResult {
    fn encode<O: Out>(&self, out: &mut O) {
        let mut w = ObjectWriter::begin(out);
        w.bool("autoCommit", true);
        w.str("consumeResult", self.result.wire_name());
        w.bool("order", self.orderly);
        w.str("remark", "");
        w.int("spentTimeMills", self.spent);
        w.end();
    }
}

/// ConsumerRunningInfo (wire.md §7.8) of the engine's consumer: its settings in
/// `properties`, its subscriptions, and a ProcessQueueInfo per owned queue (`mqTable`,
/// keyed by the queue's JSON object as fastjson writes it, so Java admin tools read it).
/// Timestamps the engine does not keep (it has no wall clock) are 0.
struct RunningInfo<'c, C: Collections, B: MessageBuf, const INFLIGHT: usize> {
    client: &'c Client<C, B, INFLIGHT>,
}

impl<C: Collections, B: MessageBuf, const INFLIGHT: usize> EncodeBody
    for RunningInfo<'_, C, B, INFLIGHT>
{
    fn encode<O: Out>(&self, out: &mut O) {
        let client = self.client;
        let Some(c) = client.consumer.as_ref() else {
            out.put(
                b"{\"mqTable\":{},\"properties\":{},\"statusTable\":{},\"subscriptionSet\":[]}",
            );
            return;
        };
        let mut w = ObjectWriter::begin(out);
        // mqTable: {{"brokerName":…,"queueId":…,"topic":…}:{…}, …}
        let o = w.key("mqTable");
        o.put_u8(b'{');
        let mut first = true;
        for q in c.queues.iter() {
            let Some(topic) = client.topics.get(usize::from(q.topic)) else {
                continue;
            };
            if !first {
                o.put_u8(b',');
            }
            first = false;
            crate::body::MessageQueue {
                topic: Text::new(&topic.topic),
                broker_name: Text::new(name_at(&client.names, q.broker)),
                queue_id: q.queue_id,
            }
            .encode(o);
            o.put_u8(b':');
            let (count, size) = c.cached(q.token);
            let cached = c.batches.iter().filter(|b| b.token == q.token);
            let min = cached.clone().map(|b| b.start_offset).min().unwrap_or(0);
            let max = cached.map(|b| b.next_offset - 1).max().unwrap_or(0);
            let mut p = ObjectWriter::begin(o);
            p.int("cachedMsgCount", count);
            p.int("cachedMsgMaxOffset", max);
            p.int("cachedMsgMinOffset", min);
            p.int("cachedMsgSizeInMiB", size >> 20);
            p.int("commitOffset", q.committed.max(q.consumed));
            p.bool("droped", q.released);
            p.int("lastConsumeTimestamp", 0);
            p.int("lastLockTimestamp", 0);
            p.int("lastPullTimestamp", 0);
            p.bool("locked", q.locked_at.is_some());
            p.int("transactionMsgCount", 0);
            p.int("transactionMsgMaxOffset", 0);
            p.int("transactionMsgMinOffset", 0);
            p.int("tryUnlockTimes", 0);
            p.end();
        }
        o.put_u8(b'}');
        let o = w.key("properties");
        let mut p = ObjectWriter::begin(o);
        p.str("PROP_CLIENT_VERSION", "V5_3_3");
        p.str(
            "PROP_CONSUME_TYPE",
            if c.lite_pull {
                "CONSUME_ACTIVELY"
            } else {
                "CONSUME_PASSIVELY"
            },
        );
        p.str(
            "PROP_CONSUMEORDERLY",
            if c.orderly { "true" } else { "false" },
        );
        let started = c.subs.iter().map(|s| s.version).min().unwrap_or(0);
        p.int("PROP_CONSUMER_START_TIMESTAMP", started);
        let o = p.key("PROP_NAMESERVER_ADDR");
        // Java: every address followed by ';'.
        o.put_u8(b'"');
        for a in client.namesrv.addresses() {
            crate::json::write_str_content(o, a);
            o.put_u8(b';');
        }
        o.put_u8(b'"');
        p.int("PROP_THREADPOOL_CORE_SIZE", 1);
        p.str("allocateMessageQueueStrategy", c.allocate.name());
        p.str("consumeFromWhere", c.from_where.as_str());
        p.str("consumerGroup", &c.group);
        p.str("messageModel", c.model.as_str());
        p.int("maxReconsumeTimes", c.max_reconsume_times);
        p.int("pullBatchSize", c.batch_size);
        p.int("pullThresholdForQueue", c.pull_threshold_for_queue);
        p.int(
            "pullThresholdSizeForQueue",
            c.pull_threshold_size_for_queue >> 20,
        );
        p.int("suspendCurrentQueueTimeMillis", c.suspend_current_queue.0);
        p.end();
        let o = w.key("statusTable");
        o.put(b"{}");
        let data = c.consumer_data(&client.topics);
        w.array("subscriptionSet", &data.subscription_data_set, |o, s| {
            s.encode(o)
        });
        w.end();
    }
}
