//! Broker request handlers: what a Java broker does with each command the simulation
//! serves (wire.md §6, messages.md §6–§7).

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use rocketmq_proto::body::{
    EncodeBody, HeartbeatData, LockBatchRequestBody, LockBatchResponseBody, MessageQueue,
    PERM_READ, PERM_WRITE,
};
use rocketmq_proto::codes::{RequestCode, ResponseCode};
use rocketmq_proto::collections::Growable;
use rocketmq_proto::command::Command;
use rocketmq_proto::error::DecodeError;
use rocketmq_proto::ext::{DecodeFields, EmptyFields, NoFields};
use rocketmq_proto::header::{
    BoundaryType, CheckTransactionStateRequest, ConsumerSendMsgBackRequest, EndTransactionRequest,
    GetConsumerListByGroupRequest, GetEarliestMsgStoretimeRequest, GetEarliestMsgStoretimeResponse,
    GetMaxOffsetRequest, GetMinOffsetRequest, NotifyConsumerIdsChangedRequest, OffsetResponse,
    PullMessageRequest, PullMessageResponse, PullSysFlag, QueryConsumerOffsetRequest,
    SearchOffsetRequest, SendMessageRequest, SendMessageResponse, TransactionResolution,
    UnregisterClientRequest, UpdateConsumerOffsetRequest, ViewMessageRequest,
};
use rocketmq_proto::message::properties::MAX_PROPERTIES_LEN;
use rocketmq_proto::message::record::{self, MessageRecord};
use rocketmq_proto::message::{
    decode_batch, keys, parse_tag_expression, MessageSysFlag, PropertyMap, TagExpression,
    UniqKeyGenerator,
};
use rocketmq_proto::out::BufMutOut;
use rocketmq_proto::text::Text;

use super::codec;
use super::sql92::{ParseError, Selector};
use super::store::{offset_msg_id, Filter, NewMessage, StoredMessage};
use super::{
    Channel, ConnId, Hold, Req, Sim, Subscription, TopicConfig, DEFAULT_MAX_RECONSUME_TIMES,
    LOCK_MAX_LIVE_MS,
};

/// Where half (prepared) transaction messages live.
pub(super) const HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
/// Where delay-level messages wait.
pub(super) const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
const RETRY_PREFIX: &str = "%RETRY%";
const DLQ_PREFIX: &str = "%DLQ%";
const FAQ: &str = "See http://rocketmq.apache.org/docs/faq/ for further details.";
/// Java's default `messageDelayLevel`: 1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m
/// 30m 1h 2h.
pub const DELAY_LEVELS_MS: [u64; 18] = [
    1_000, 5_000, 10_000, 30_000, 60_000, 120_000, 180_000, 240_000, 300_000, 360_000, 420_000,
    480_000, 540_000, 600_000, 1_200_000, 1_800_000, 3_600_000, 7_200_000,
];

/// The born host recorded for messages sent on `conn` (the sim has no client sockets).
pub(super) fn born_host(conn: ConnId) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 20_000 + (conn.0 % 40_000) as u16))
}

fn s(t: Text<'_>) -> String {
    t.to_string_lossless()
}

/// Java's remark for a header that fails to decode.
fn decode_remark(e: &DecodeError) -> String {
    match e {
        DecodeError::MissingField(f) => format!("the custom field <{f}> is null"),
        other => format!("{other:?}"),
    }
}

/// What a pull produced.
enum PullOutcome {
    Error(ResponseCode, String),
    Done {
        code: ResponseCode,
        remark: &'static str,
        header: PullMessageResponse,
        body: Vec<u8>,
    },
    Hold {
        deadline: u64,
        broker: String,
        topic: String,
        queue_id: i32,
    },
}

impl Sim {
    pub(super) fn handle_broker(
        &mut self,
        req: &Req,
        cmd: &Command<'_>,
        frame: &[u8],
        name: &str,
        id: i64,
    ) {
        match RequestCode(req.code) {
            RequestCode::SEND_MESSAGE
            | RequestCode::SEND_MESSAGE_V2
            | RequestCode::SEND_BATCH_MESSAGE => self.handle_send(req, cmd, name, id),
            RequestCode::PULL_MESSAGE | RequestCode::LITE_PULL_MESSAGE => {
                self.handle_pull(req, cmd, frame)
            }
            RequestCode::QUERY_CONSUMER_OFFSET => self.handle_query_offset(req, cmd, name),
            RequestCode::UPDATE_CONSUMER_OFFSET => self.handle_update_offset(req, cmd, name),
            RequestCode::GET_MAX_OFFSET => {
                if let Some(h) = self.fields::<GetMaxOffsetRequest<'_>>(req, cmd) {
                    let off = self.groups[name].store.max_offset(&s(h.topic), h.queue_id);
                    self.ok_offset(req, off);
                }
            }
            RequestCode::GET_MIN_OFFSET => {
                if let Some(h) = self.fields::<GetMinOffsetRequest<'_>>(req, cmd) {
                    let off = self.groups[name].store.min_offset(&s(h.topic), h.queue_id);
                    self.ok_offset(req, off);
                }
            }
            RequestCode::SEARCH_OFFSET_BY_TIMESTAMP => {
                if let Some(h) = self.fields::<SearchOffsetRequest<'_>>(req, cmd) {
                    let upper = h.boundary_type == Some(BoundaryType::Upper);
                    let off = self.groups[name].store.search_by_time(
                        &s(h.topic),
                        h.queue_id,
                        h.timestamp,
                        upper,
                    );
                    self.ok_offset(req, off);
                }
            }
            RequestCode::GET_EARLIEST_MSG_STORETIME => {
                if let Some(h) = self.fields::<GetEarliestMsgStoretimeRequest<'_>>(req, cmd) {
                    let st = &self.groups[name].store;
                    let topic = s(h.topic);
                    let ts = st
                        .message(&topic, h.queue_id, st.min_offset(&topic, h.queue_id))
                        .map_or(-1, |m| m.store_timestamp);
                    let f = GetEarliestMsgStoretimeResponse { timestamp: ts };
                    self.respond(req, ResponseCode::SUCCESS, None, &f, &[]);
                }
            }
            RequestCode::VIEW_MESSAGE_BY_ID => {
                if let Some(h) = self.fields::<ViewMessageRequest<'_>>(req, cmd) {
                    match self.groups[name].store.by_physical_offset(h.offset) {
                        Some(m) => {
                            let body = m.record.clone();
                            self.respond(req, ResponseCode::SUCCESS, None, &NoFields, &body);
                        }
                        None => self.error(
                            req,
                            ResponseCode::SYSTEM_ERROR,
                            &format!("can not find message by the offset, {}", h.offset),
                        ),
                    }
                }
            }
            RequestCode::HEART_BEAT => self.handle_heartbeat(req, cmd, name),
            RequestCode::UNREGISTER_CLIENT => self.handle_unregister(req, cmd),
            RequestCode::GET_CONSUMER_LIST_BY_GROUP => {
                if let Some(h) = self.fields::<GetConsumerListByGroupRequest<'_>>(req, cmd) {
                    let group = s(h.consumer_group);
                    let ids = self.consumer_ids(&req.addr, &group);
                    if ids.is_empty() {
                        self.error(
                            req,
                            ResponseCode::SYSTEM_ERROR,
                            &format!("no consumer for this group, {group}"),
                        );
                    } else {
                        let body = codec::string_list("consumerIdList", &ids);
                        self.respond(req, ResponseCode::SUCCESS, None, &EmptyFields, &body);
                    }
                }
            }
            RequestCode::LOCK_BATCH_MQ => self.handle_lock(req, cmd, name, true),
            RequestCode::UNLOCK_BATCH_MQ => self.handle_lock(req, cmd, name, false),
            RequestCode::CONSUMER_SEND_MSG_BACK => self.handle_send_back(req, cmd, name, id),
            RequestCode::END_TRANSACTION => self.handle_end_transaction(req, cmd, name),
            RequestCode::SEND_REPLY_MESSAGE | RequestCode::SEND_REPLY_MESSAGE_V2 => {
                self.handle_send_reply(req, cmd, name)
            }
            _ => self.error(
                req,
                ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
                &format!(" request type {} not supported", req.code),
            ),
        }
    }

    /// Decode a typed header, answering SYSTEM_ERROR as Java does when it cannot.
    fn fields<'a, H: DecodeFields<'a>>(&mut self, req: &Req, cmd: &Command<'a>) -> Option<H> {
        match cmd.decode_fields::<H>() {
            Ok(h) => Some(h),
            Err(e) => {
                self.error(req, ResponseCode::SYSTEM_ERROR, &decode_remark(&e));
                None
            }
        }
    }

    fn ok_offset(&mut self, req: &Req, offset: i64) {
        self.respond(
            req,
            ResponseCode::SUCCESS,
            None,
            &OffsetResponse { offset },
            &[],
        );
    }

    pub(super) fn broker_of(&self, addr: &str) -> Option<(String, i64)> {
        match &self.servers.get(addr)?.role {
            super::Role::Broker { name, id } => Some((name.clone(), *id)),
            super::Role::NameServer => None,
        }
    }

    /// Create a topic with `queues` read/write queues (perm 6) if it is missing, as
    /// Java's `createTopicInSendMessageBackMethod` does for retry and DLQ topics.
    fn ensure_topic(&mut self, name: &str, topic: &str, queues: i32) {
        if let Some(g) = self.groups.get_mut(name) {
            g.topics.entry(topic.to_owned()).or_insert(TopicConfig {
                read: queues,
                write: queues,
                perm: PERM_READ | PERM_WRITE,
                sys_flag: 0,
            });
        }
    }

    /// The topic a send goes to, auto-creating it from `default_topic` when allowed.
    fn topic_for_send(
        &mut self,
        name: &str,
        topic: &str,
        default_topic: &str,
        default_nums: i32,
    ) -> Result<TopicConfig, String> {
        if topic.starts_with(RETRY_PREFIX) {
            self.ensure_topic(name, topic, 1);
        }
        let g = self
            .groups
            .get_mut(name)
            .ok_or_else(|| "no such broker".to_owned())?;
        if let Some(t) = g.topics.get(topic) {
            return Ok(*t);
        }
        let template = g.topics.get(default_topic).copied();
        match template {
            Some(d)
                if g.spec.auto_create_topic_enable
                    && d.perm & rocketmq_proto::body::PERM_INHERIT != 0 =>
            {
                let n = default_nums.min(d.write).max(0);
                let t = TopicConfig {
                    read: n,
                    write: n,
                    perm: d.perm & !rocketmq_proto::body::PERM_INHERIT,
                    sys_flag: 0,
                };
                g.topics.insert(topic.to_owned(), t);
                Ok(t)
            }
            _ => Err(format!(
                "topic[{topic}] not exist, apply first please! {FAQ}"
            )),
        }
    }

    fn gen_uniq(&mut self, name: &str) -> String {
        let ip: IpAddr = self.groups[name].store_host.ip();
        let counter = self.uniq_counter as u16;
        self.uniq_counter = self.uniq_counter.wrapping_add(1);
        UniqKeyGenerator::new(ip, 0, 0)
            .with_counter(counter)
            .next(self.now as i64)
            .as_str()
            .to_owned()
    }

    fn group_holds_locks(&self, name: &str, group: &str) -> bool {
        self.groups[name]
            .locks
            .iter()
            .any(|((g, ..), (_, t))| g == group && self.now.saturating_sub(*t) <= LOCK_MAX_LIVE_MS)
    }

    // -----------------------------------------------------------------------------------
    // Storing

    /// Store a message and wake the pulls parked on its queue.
    pub(super) fn put_message(&mut self, name: &str, m: NewMessage) -> StoredMessage {
        let stored = self.put_message_quiet(name, m);
        self.wake_holds(name, &stored.topic, stored.queue_id);
        stored
    }

    /// Store a message; a `DELAY` level parks it in the schedule topic until due.
    fn put_message_quiet(&mut self, name: &str, mut m: NewMessage) -> StoredMessage {
        let mut props = PropertyMap::parse(&m.properties);
        let level = props
            .get(keys::DELAY)
            .and_then(|v| v.parse::<i32>().ok())
            .unwrap_or(0);
        let tx = m.sys_flag & MessageSysFlag::TRANSACTION_MASK;
        let mut due = None;
        if level > 0
            && (tx == MessageSysFlag::TRANSACTION_NOT_TYPE
                || tx == MessageSysFlag::TRANSACTION_COMMIT_TYPE)
            && m.topic != SCHEDULE_TOPIC
            && m.topic != HALF_TOPIC
        {
            let level = level.min(DELAY_LEVELS_MS.len() as i32);
            if props.insert(keys::DELAY, &level.to_string()).is_ok()
                && props.insert(keys::REAL_TOPIC, &m.topic).is_ok()
                && props
                    .insert(keys::REAL_QID, &m.queue_id.to_string())
                    .is_ok()
            {
                m.properties = props.to_string();
                m.topic = SCHEDULE_TOPIC.to_owned();
                m.queue_id = level - 1;
                due = Some(m.store_timestamp as u64 + DELAY_LEVELS_MS[(level - 1) as usize]);
            }
        }
        let g = self
            .groups
            .get_mut(name)
            .unwrap_or_else(|| panic!("no broker group {name}"));
        let stored = g.store.put(m, g.store_host);
        if let Some(due) = due {
            let seq = self.next_seq();
            self.schedule
                .insert((due, seq), (name.to_owned(), stored.physical_offset));
        }
        stored
    }

    /// A scheduled message is due: copy it to its real topic without `DELAY`.
    pub(super) fn deliver_scheduled(&mut self, name: &str, offset: i64, _due: u64) {
        let Some(m) = self
            .groups
            .get(name)
            .and_then(|g| g.store.by_physical_offset(offset))
        else {
            return;
        };
        let r = m.view();
        let mut props = PropertyMap::parse(r.properties.as_str());
        let topic = props.get(keys::REAL_TOPIC).map(str::to_owned);
        let qid = props
            .get(keys::REAL_QID)
            .and_then(|q| q.parse::<i32>().ok());
        let (Some(topic), Some(queue_id)) = (topic, qid) else {
            return;
        };
        props.remove(keys::DELAY);
        let new = NewMessage {
            topic,
            queue_id,
            flag: r.flag,
            sys_flag: r.sys_flag.0,
            born_timestamp: r.born_timestamp,
            born_host: r.born_host,
            store_timestamp: self.now as i64,
            reconsume_times: r.reconsume_times,
            prepared_transaction_offset: r.prepared_transaction_offset,
            body: r.body.to_vec(),
            properties: props.to_string(),
        };
        self.put_message(name, new);
    }

    // -----------------------------------------------------------------------------------
    // Send

    fn handle_send(&mut self, req: &Req, cmd: &Command<'_>, name: &str, id: i64) {
        let h = match SendMessageRequest::decode_for_code(RequestCode(req.code), &cmd.fields()) {
            Some(Ok(h)) => h,
            Some(Err(e)) => return self.error(req, ResponseCode::SYSTEM_ERROR, &decode_remark(&e)),
            None => return,
        };
        if id != 0 {
            return self.error(
                req,
                ResponseCode::SERVICE_NOT_AVAILABLE,
                "service not available now. It may be caused by one of the following reasons: \
                 the broker's disk is full, messages are put to the slave, message store has been shut down, etc.",
            );
        }
        let mut topic = s(h.topic);
        let tc = match self.topic_for_send(
            name,
            &topic,
            &s(h.default_topic),
            h.default_topic_queue_nums,
        ) {
            Ok(t) => t,
            Err(remark) => return self.error(req, ResponseCode::TOPIC_NOT_EXIST, &remark),
        };
        if tc.perm & PERM_WRITE == 0 {
            return self.error(
                req,
                ResponseCode::NO_PERMISSION,
                &format!("the topic[{topic}] sending message is forbidden"),
            );
        }
        if h.queue_id >= tc.read.max(tc.write) {
            return self.error(
                req,
                ResponseCode::INVALID_PARAMETER,
                &format!(
                    "request queueId[{}] is illegal, topic:[{topic}]",
                    h.queue_id
                ),
            );
        }
        let mut queue_id = if h.queue_id < 0 {
            let g = self.groups.get_mut(name).map(|g| {
                g.next_queue += 1;
                g.next_queue
            });
            (g.unwrap_or(0) % tc.write.max(1) as u64) as i32
        } else {
            h.queue_id
        };
        let mut props = PropertyMap::from_text(&h.properties.unwrap_or(Text::new("")));
        let cluster = self.groups[name].spec.cluster.clone();
        if h.is_batch() {
            return self.send_batch(req, cmd, name, &h, topic, queue_id, props, &cluster);
        }
        props.remove(keys::POP_CK);
        if props.get(keys::UNIQ_KEY).is_none() {
            let k = self.gen_uniq(name);
            let _ = props.insert(keys::UNIQ_KEY, &k);
        }
        let _ = props.insert(keys::CLUSTER, &cluster);
        let reconsume = h.reconsume_times.unwrap_or(0);
        if let Some(group) = topic.strip_prefix(RETRY_PREFIX) {
            // SendMessageProcessor.handleRetryAndDLQ: strictly greater, or the group
            // still holds queue locks (an orderly consumer).
            let max = h.max_reconsume_times.unwrap_or(DEFAULT_MAX_RECONSUME_TIMES);
            if reconsume > max || self.group_holds_locks(name, group) {
                topic = format!("{DLQ_PREFIX}{group}");
                self.ensure_topic(name, &topic, 1);
                queue_id = 0;
                props.remove(keys::DELAY);
            }
        }
        let resp_queue_id = queue_id;
        let mut sys_flag = h.sys_flag;
        let prepared = props
            .get(keys::TRAN_MSG)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if prepared {
            if let Some(u) = props.get(keys::UNIQ_KEY).map(str::to_owned) {
                let _ = props.insert(keys::TRANSACTION_ID, &u);
            }
            let _ = props.insert(keys::REAL_TOPIC, &topic);
            let _ = props.insert(keys::REAL_QID, &queue_id.to_string());
            sys_flag &= !MessageSysFlag::TRANSACTION_MASK;
            topic = HALF_TOPIC.to_owned();
            queue_id = 0;
        }
        let properties = props.to_string();
        if properties.len() > MAX_PROPERTIES_LEN {
            return self.error(
                req,
                ResponseCode::MESSAGE_ILLEGAL,
                "the message properties length too long",
            );
        }
        let uniq = props.get(keys::UNIQ_KEY).map(str::to_owned);
        let m = NewMessage {
            topic,
            queue_id,
            flag: h.flag,
            sys_flag,
            born_timestamp: h.born_timestamp,
            born_host: born_host(req.conn),
            store_timestamp: self.now as i64,
            reconsume_times: reconsume,
            prepared_transaction_offset: 0,
            body: cmd.body.to_vec(),
            properties,
        };
        let stored = self.put_message(name, m);
        let msg_id = offset_msg_id(self.groups[name].store_host, stored.physical_offset);
        let resp = SendMessageResponse {
            msg_id: Text::new(&msg_id),
            queue_id: resp_queue_id,
            queue_offset: stored.queue_offset,
            transaction_id: uniq.as_deref().map(Text::new),
            batch_uniq_id: None,
            recall_handle: None,
            msg_region: Some(Text::new("DefaultRegion")),
            trace_on: Some(Text::new("true")),
        };
        self.respond(req, ResponseCode::SUCCESS, None, &resp, &[]);
    }

    /// SEND_REPLY_MESSAGE(_V2), as Java's `ReplyMessageProcessor`: push the reply to the
    /// producer channel of the client named by `REPLY_TO_CLIENT`
    /// (PUSH_REPLY_MESSAGE_TO_CLIENT) and answer the replier. Reply messages are not
    /// stored here (Java's `storeReplyMessageEnable` is not simulated).
    fn handle_send_reply(&mut self, req: &Req, cmd: &Command<'_>, name: &str) {
        use rocketmq_proto::header::PushReplyMessageRequest;
        let h = match SendMessageRequest::decode_for_code(RequestCode(req.code), &cmd.fields()) {
            Some(Ok(h)) => h,
            Some(Err(e)) => return self.error(req, ResponseCode::SYSTEM_ERROR, &decode_remark(&e)),
            None => return,
        };
        let mut props = PropertyMap::from_text(&h.properties.unwrap_or(Text::new("")));
        let _ = props.insert(keys::PUSH_REPLY_TIME, &self.now.to_string());
        let Some(sender) = props.get(keys::REPLY_TO_CLIENT).map(str::to_owned) else {
            return self.error(req, ResponseCode::SYSTEM_ERROR, "REPLY_TO_CLIENT is null");
        };
        let channel = self.servers.get(&req.addr).and_then(|srv| {
            srv.clients
                .producers
                .values()
                .flat_map(|chans| chans.iter())
                .find(|(_, ch)| ch.client_id == sender)
                .map(|(c, _)| *c)
        });
        let Some(conn) = channel else {
            return self.error(
                req,
                ResponseCode::SYSTEM_ERROR,
                &format!("push reply message fail, channel of <{sender}> not found."),
            );
        };
        let properties = props.to_string();
        let born = born_host(req.conn).to_string();
        let store = self.groups[name].store_host.to_string();
        let push = PushReplyMessageRequest {
            producer_group: h.producer_group,
            topic: h.topic,
            default_topic: h.default_topic,
            default_topic_queue_nums: h.default_topic_queue_nums,
            queue_id: h.queue_id,
            sys_flag: h.sys_flag,
            born_timestamp: h.born_timestamp,
            flag: h.flag,
            properties: Some(Text::new(&properties)),
            reconsume_times: h.reconsume_times,
            unit_mode: h.unit_mode,
            born_host: Text::new(&born),
            store_host: Text::new(&store),
            store_timestamp: self.now as i64,
        };
        self.push_request(
            conn,
            RequestCode::PUSH_REPLY_MESSAGE_TO_CLIENT,
            &push,
            cmd.body,
            false,
        );
        let resp = SendMessageResponse {
            msg_id: Text::new(""),
            queue_id: h.queue_id,
            queue_offset: 0,
            transaction_id: None,
            batch_uniq_id: None,
            recall_handle: None,
            msg_region: Some(Text::new("DefaultRegion")),
            trace_on: Some(Text::new("true")),
        };
        self.respond(req, ResponseCode::SUCCESS, None, &resp, &[]);
    }

    #[allow(clippy::too_many_arguments)]
    fn send_batch(
        &mut self,
        req: &Req,
        cmd: &Command<'_>,
        name: &str,
        h: &SendMessageRequest<'_>,
        topic: String,
        queue_id: i32,
        mut batch_props: PropertyMap,
        cluster: &str,
    ) {
        if topic.starts_with(RETRY_PREFIX) {
            return self.error(
                req,
                ResponseCode::MESSAGE_ILLEGAL,
                &format!("batch request does not support retry group {topic}"),
            );
        }
        if topic.len() > 127 {
            return self.error(
                req,
                ResponseCode::MESSAGE_ILLEGAL,
                &format!("message topic length too long {}", topic.len()),
            );
        }
        let entries = match decode_batch(cmd.body).collect::<Result<Vec<_>, _>>() {
            Ok(e) if !e.is_empty() => e,
            Ok(_) => return self.error(req, ResponseCode::MESSAGE_ILLEGAL, "the batch is empty"),
            Err(e) => return self.error(req, ResponseCode::SYSTEM_ERROR, &format!("{e:?}")),
        };
        let _ = batch_props.insert(keys::CLUSTER, cluster);
        let suffix = if self.groups[name].spec.append_batch_properties {
            batch_props.to_string()
        } else {
            format!("{}\u{1}{cluster}\u{2}", keys::CLUSTER)
        };
        let props: Vec<String> = entries
            .iter()
            .map(|e| format!("{}{suffix}", e.properties.as_str()))
            .collect();
        if props.iter().any(|p| p.len() > MAX_PROPERTIES_LEN) {
            return self.error(
                req,
                ResponseCode::MESSAGE_ILLEGAL,
                "the message properties length too long",
            );
        }
        let store_host = self.groups[name].store_host;
        let mut ids = Vec::new();
        let mut first = None;
        for (e, properties) in entries.iter().zip(props) {
            let m = NewMessage {
                topic: topic.clone(),
                queue_id,
                flag: e.flag,
                sys_flag: h.sys_flag,
                born_timestamp: h.born_timestamp,
                born_host: born_host(req.conn),
                store_timestamp: self.now as i64,
                reconsume_times: 0,
                prepared_transaction_offset: 0,
                body: e.body.to_vec(),
                properties,
            };
            let stored = self.put_message_quiet(name, m);
            first.get_or_insert(stored.queue_offset);
            ids.push(offset_msg_id(store_host, stored.physical_offset));
        }
        // The batch is appended at once: parked pulls see all of it.
        self.wake_holds(name, &topic, queue_id);
        let msg_id = ids.join(",");
        let resp = SendMessageResponse {
            msg_id: Text::new(&msg_id),
            queue_id,
            queue_offset: first.unwrap_or(0),
            transaction_id: batch_props.get(keys::UNIQ_KEY).map(Text::new),
            batch_uniq_id: None,
            recall_handle: None,
            msg_region: Some(Text::new("DefaultRegion")),
            trace_on: Some(Text::new("true")),
        };
        self.respond(req, ResponseCode::SUCCESS, None, &resp, &[]);
    }

    // -----------------------------------------------------------------------------------
    // Pull

    fn handle_pull(&mut self, req: &Req, cmd: &Command<'_>, frame: &[u8]) {
        match self.pull(req, cmd, true) {
            PullOutcome::Error(code, remark) => self.error(req, code, &remark),
            PullOutcome::Done {
                code,
                remark,
                header,
                body,
            } => self.respond(req, code, Some(remark), &header, &body),
            PullOutcome::Hold {
                deadline,
                broker,
                topic,
                queue_id,
            } => {
                let id = self.next_seq();
                self.holds.insert(
                    id,
                    Hold {
                        req: req.clone(),
                        frame: frame.to_vec(),
                        deadline,
                        broker,
                        topic,
                        queue_id,
                    },
                );
            }
        }
    }

    /// Re-run a parked pull (never parking again). With `only_found`, answer only if it
    /// now finds messages; returns whether it answered.
    pub(super) fn answer_hold(&mut self, h: &Hold, only_found: bool) -> bool {
        let Some(cmd) = super::decode_frame(&h.frame) else {
            return true;
        };
        match self.pull(&h.req, &cmd, false) {
            PullOutcome::Done {
                code,
                remark,
                header,
                body,
            } if !only_found || code == ResponseCode::SUCCESS => {
                self.respond(&h.req, code, Some(remark), &header, &body);
                true
            }
            PullOutcome::Error(code, remark) if !only_found => {
                self.error(&h.req, code, &remark);
                true
            }
            _ => false,
        }
    }

    fn wake_holds(&mut self, name: &str, topic: &str, queue_id: i32) {
        let ids: Vec<u64> = self
            .holds
            .iter()
            .filter(|(_, h)| h.broker == name && h.topic == topic && h.queue_id == queue_id)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let Some(h) = self.holds.get(&id).cloned() else {
                continue;
            };
            if self.answer_hold(&h, true) {
                self.holds.remove(&id);
            }
        }
    }

    /// PullMessageProcessor + DefaultMessageStore.getMessage.
    fn pull(&mut self, req: &Req, cmd: &Command<'_>, allow_suspend: bool) -> PullOutcome {
        let h: PullMessageRequest<'_> = match cmd.decode_fields() {
            Ok(h) => h,
            Err(e) => return PullOutcome::Error(ResponseCode::SYSTEM_ERROR, decode_remark(&e)),
        };
        let Some((name, id)) = self.broker_of(&req.addr) else {
            return PullOutcome::Error(ResponseCode::SYSTEM_ERROR, "not a broker".into());
        };
        let topic = s(h.topic);
        let group = s(h.consumer_group);
        let g = &self.groups[&name];
        let Some(tc) = g.topics.get(&topic).copied() else {
            return PullOutcome::Error(
                ResponseCode::TOPIC_NOT_EXIST,
                format!("topic[{topic}] not exist, apply first please! {FAQ}"),
            );
        };
        if tc.perm & PERM_READ == 0 {
            return PullOutcome::Error(
                ResponseCode::NO_PERMISSION,
                format!("the topic[{topic}] pulling message is forbidden"),
            );
        }
        if h.queue_id < 0 || h.queue_id >= tc.read {
            return PullOutcome::Error(
                ResponseCode::SYSTEM_ERROR,
                format!(
                    "queueId[{}] is illegal, topic:[{topic}] topicConfig.readQueueNums:[{}] consumer:[{group}]",
                    h.queue_id, tc.read
                ),
            );
        }
        let filter = if h.sys_flag.contains(PullSysFlag::SUBSCRIPTION) {
            // The pull's own subscription (FilterAPI.build + ConsumerFilterManager.build).
            // A selector that does not compile is SUBSCRIPTION_PARSE_FAILED, what the Java
            // code means (`assert consumerFilterData != null`); a production JVM runs
            // without -ea and would instead serve the pull unfiltered.
            let expr = h.subscription.map(s).unwrap_or_default();
            let expression_type = h.expression_type.map(s).unwrap_or_default();
            match expression_filter(&expression_type, &expr) {
                Ok(filter) => filter,
                Err(_) => {
                    return PullOutcome::Error(
                        ResponseCode::SUBSCRIPTION_PARSE_FAILED,
                        "parse the consumer's subscription failed".into(),
                    )
                }
            }
        } else {
            let Some(cg) = self.servers[&req.addr].clients.consumers.get(&group) else {
                return PullOutcome::Error(
                    ResponseCode::SUBSCRIPTION_NOT_EXIST,
                    format!("the consumer's group info not exist {FAQ}"),
                );
            };
            let Some(sub) = cg.subscriptions.get(&topic) else {
                return PullOutcome::Error(
                    ResponseCode::SUBSCRIPTION_NOT_EXIST,
                    format!("the consumer's subscription not exist {FAQ}"),
                );
            };
            if sub.sub_version < h.sub_version {
                return PullOutcome::Error(
                    ResponseCode::SUBSCRIPTION_NOT_LATEST,
                    "the consumer's subscription not latest".into(),
                );
            }
            if is_tag_type(&sub.expression_type) {
                if sub.sub_string == "*" {
                    Filter::All
                } else {
                    Filter::Codes(sub.codes.clone())
                }
            } else {
                // The heartbeat registered the expression (ConsumerFilterManager); one that
                // did not compile left no filter data behind.
                match expression_filter(&sub.expression_type, &sub.sub_string) {
                    Ok(filter) => filter,
                    Err(_) => {
                        return PullOutcome::Error(
                            ResponseCode::FILTER_DATA_NOT_EXIST,
                            "The broker's consumer filter data is not exist!Your expression may be wrong!"
                                .into(),
                        )
                    }
                }
            }
        };
        let r = g.store.get(
            &topic,
            h.queue_id,
            h.queue_offset,
            h.max_msg_nums,
            h.max_msg_bytes.unwrap_or(i32::MAX),
            &filter,
        );
        let mut code = match r.status {
            "FOUND" => ResponseCode::SUCCESS,
            "NO_MATCHED_MESSAGE" => ResponseCode::PULL_RETRY_IMMEDIATELY,
            "OFFSET_OVERFLOW_ONE" => ResponseCode::PULL_NOT_FOUND,
            "NO_MESSAGE_IN_QUEUE" if h.queue_offset == 0 => ResponseCode::PULL_NOT_FOUND,
            _ => ResponseCode::PULL_OFFSET_MOVED,
        };
        let mut suggest = g.suggest_broker_id;
        if id != 0 {
            // A slave sends the consumer back to the master, and serves only FOUND.
            suggest = 0;
            if code != ResponseCode::SUCCESS {
                code = ResponseCode::PULL_RETRY_IMMEDIATELY;
            }
        }
        if allow_suspend && id == 0 && h.sys_flag.contains(PullSysFlag::COMMIT_OFFSET) {
            if let Some(g) = self.groups.get_mut(&name) {
                g.offsets
                    .insert((group, topic.clone(), h.queue_id), h.commit_offset);
            }
        }
        if allow_suspend
            && code == ResponseCode::PULL_NOT_FOUND
            && h.sys_flag.contains(PullSysFlag::SUSPEND)
        {
            return PullOutcome::Hold {
                deadline: self.now + h.suspend_timeout_millis.max(0) as u64,
                broker: name,
                topic,
                queue_id: h.queue_id,
            };
        }
        PullOutcome::Done {
            code,
            remark: r.status,
            header: PullMessageResponse {
                suggest_which_broker_id: suggest,
                next_begin_offset: r.next_begin_offset,
                min_offset: r.min_offset,
                max_offset: r.max_offset,
                offset_delta: None,
                topic_sys_flag: Some(tc.sys_flag),
                group_sys_flag: Some(0),
                forbidden_type: None,
            },
            body: r.body,
        }
    }

    // -----------------------------------------------------------------------------------
    // Offsets

    fn handle_query_offset(&mut self, req: &Req, cmd: &Command<'_>, name: &str) {
        let Some(h) = self.fields::<QueryConsumerOffsetRequest<'_>>(req, cmd) else {
            return;
        };
        let (group, topic) = (s(h.consumer_group), s(h.topic));
        let g = &self.groups[name];
        if let Some(off) = g.offsets.get(&(group, topic.clone(), h.queue_id)) {
            let off = *off;
            return self.ok_offset(req, off);
        }
        if h.set_zero_if_not_found == Some(false) {
            return self.error(
                req,
                ResponseCode::QUERY_NOT_FOUND,
                "Not found, do not set to zero, maybe this group boot first",
            );
        }
        // The first message is still in memory: Java answers 0 rather than "not found".
        if g.store.min_offset(&topic, h.queue_id) <= 0
            && g.store.message(&topic, h.queue_id, 0).is_some()
        {
            return self.ok_offset(req, 0);
        }
        self.error(
            req,
            ResponseCode::QUERY_NOT_FOUND,
            "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first",
        );
    }

    fn handle_update_offset(&mut self, req: &Req, cmd: &Command<'_>, name: &str) {
        let Some(h) = self.fields::<UpdateConsumerOffsetRequest<'_>>(req, cmd) else {
            return;
        };
        let topic = s(h.topic);
        let Some(g) = self.groups.get_mut(name) else {
            return;
        };
        if !g.topics.contains_key(&topic) {
            return self.error(
                req,
                ResponseCode::TOPIC_NOT_EXIST,
                &format!("Topic {topic} not exist!"),
            );
        }
        g.offsets
            .insert((s(h.consumer_group), topic, h.queue_id), h.commit_offset);
        self.respond(req, ResponseCode::SUCCESS, None, &EmptyFields, &[]);
    }

    // -----------------------------------------------------------------------------------
    // Clients

    fn handle_heartbeat(&mut self, req: &Req, cmd: &Command<'_>, name: &str) {
        let hb = match HeartbeatData::<Growable>::decode(cmd.body) {
            Ok(hb) => hb,
            Err(e) => return self.error(req, ResponseCode::SYSTEM_ERROR, &format!("{e:?}")),
        };
        let now = self.now;
        let client_id = s(hb.client_id);
        let fingerprint = hb.heartbeat_fingerprint;
        let notify_enabled = self.groups[name].spec.notify_consumer_ids_changed_enable;
        for cd in hb.consumer_data_set.iter() {
            self.ensure_topic(name, &format!("{RETRY_PREFIX}{}", s(cd.group_name)), 1);
        }
        let Some(server) = self.servers.get_mut(&req.addr) else {
            return;
        };
        let old_fp = server
            .clients
            .consumers
            .values()
            .filter_map(|g| g.channels.get(&req.conn))
            .chain(
                server
                    .clients
                    .producers
                    .values()
                    .filter_map(|g| g.get(&req.conn)),
            )
            .map(|c| c.fingerprint)
            .next();
        let channel = Channel {
            client_id: client_id.clone(),
            last_update: now,
            fingerprint,
        };
        let mut changed_groups = Vec::new();
        for cd in hb.consumer_data_set.iter() {
            let group = s(cd.group_name);
            let cg = server.clients.consumers.entry(group.clone()).or_default();
            cg.message_model = cd.message_model.as_str().to_owned();
            // ConsumerGroupInfo.updateChannel: a new channel, or a new client id on it.
            let r1 = match cg.channels.insert(req.conn, channel.clone()) {
                None => true,
                Some(old) => old.client_id != client_id,
            };
            // ConsumerGroupInfo.updateSubscription: a topic added or removed.
            let mut r2 = false;
            if !hb.without_sub {
                let mut topics = BTreeSet::new();
                for sd in cd.subscription_data_set.iter() {
                    let topic = s(sd.topic);
                    topics.insert(topic.clone());
                    let sub = Subscription {
                        sub_string: s(sd.sub_string),
                        expression_type: sd.expression_type.as_str().to_owned(),
                        tags: sd.tags_set.iter().map(|t| s(*t)).collect(),
                        codes: sd.code_set.to_vec(),
                        sub_version: sd.sub_version,
                    };
                    match cg.subscriptions.get(&topic) {
                        None => {
                            cg.subscriptions.insert(topic, sub);
                            r2 = true;
                        }
                        Some(old) if sub.sub_version > old.sub_version => {
                            cg.subscriptions.insert(topic, sub);
                        }
                        Some(_) => {}
                    }
                }
                let before = cg.subscriptions.len();
                cg.subscriptions.retain(|t, _| topics.contains(t));
                r2 |= cg.subscriptions.len() != before;
            }
            if (r1 || r2) && notify_enabled {
                changed_groups.push(group);
            }
        }
        for pd in hb.producer_data_set.iter() {
            server
                .clients
                .producers
                .entry(s(pd.group_name))
                .or_default()
                .insert(req.conn, channel.clone());
        }
        for g in changed_groups {
            self.notify_ids_changed(&req.addr, &g);
        }
        let sub_change = fingerprint == 0 || old_fp != Some(fingerprint);
        let resp = rocketmq_proto::header::HeartbeatResponse {
            is_support_heartbeat_v2: Some(true),
            is_sub_change: Some(sub_change),
        };
        self.respond(req, ResponseCode::SUCCESS, None, &resp, &[]);
    }

    /// NOTIFY_CONSUMER_IDS_CHANGED (oneway) to every channel of `group` on `addr`
    /// (Java's DefaultConsumerIdsChangeListener; broadcasting groups are not notified).
    pub(super) fn notify_ids_changed(&mut self, addr: &str, group: &str) {
        let Some(server) = self.servers.get(addr) else {
            return;
        };
        let Some(cg) = server.clients.consumers.get(group) else {
            return;
        };
        if cg.message_model == "BROADCASTING" {
            return;
        }
        let conns: Vec<ConnId> = cg.channels.keys().copied().collect();
        let h = NotifyConsumerIdsChangedRequest {
            consumer_group: Text::new(group),
        };
        for c in conns {
            self.push_request(c, RequestCode::NOTIFY_CONSUMER_IDS_CHANGED, &h, b"", true);
        }
    }

    fn handle_unregister(&mut self, req: &Req, cmd: &Command<'_>) {
        let Some(h) = self.fields::<UnregisterClientRequest<'_>>(req, cmd) else {
            return;
        };
        let Some(server) = self.servers.get_mut(&req.addr) else {
            return;
        };
        if let Some(pg) = h.producer_group.map(s) {
            if let Some(chans) = server.clients.producers.get_mut(&pg) {
                chans.remove(&req.conn);
                if chans.is_empty() {
                    server.clients.producers.remove(&pg);
                }
            }
        }
        let mut notify = None;
        if let Some(cg) = h.consumer_group.map(s) {
            if let Some(g) = server.clients.consumers.get_mut(&cg) {
                if g.channels.remove(&req.conn).is_some() {
                    notify = Some(cg.clone());
                }
                if g.channels.is_empty() {
                    server.clients.consumers.remove(&cg);
                }
            }
        }
        if let (Some(g), Some((name, _))) = (notify, self.broker_of(&req.addr)) {
            if self.groups[&name].spec.notify_consumer_ids_changed_enable {
                self.notify_ids_changed(&req.addr, &g);
            }
        }
        self.respond(req, ResponseCode::SUCCESS, None, &EmptyFields, &[]);
    }

    fn handle_lock(&mut self, req: &Req, cmd: &Command<'_>, name: &str, lock: bool) {
        let body = match LockBatchRequestBody::<Growable>::decode(cmd.body) {
            Ok(b) => b,
            Err(e) => return self.error(req, ResponseCode::SYSTEM_ERROR, &format!("{e:?}")),
        };
        let now = self.now;
        let group = s(body.consumer_group);
        let client = s(body.client_id);
        let Some(g) = self.groups.get_mut(name) else {
            return;
        };
        let mut locked: Vec<MessageQueue<'_>> = Vec::new();
        for mq in body.mq_set.iter() {
            let key = (group.clone(), s(mq.topic), s(mq.broker_name), mq.queue_id);
            if lock {
                let free = match g.locks.get(&key) {
                    None => true,
                    Some((owner, t)) => {
                        *owner == client || now.saturating_sub(*t) > LOCK_MAX_LIVE_MS
                    }
                };
                if free {
                    g.locks.insert(key, (client.clone(), now));
                    locked.push(*mq);
                }
            } else if g.locks.get(&key).is_some_and(|(owner, _)| *owner == client) {
                g.locks.remove(&key);
            }
        }
        if lock {
            let body = LockBatchResponseBody::<Growable> {
                lock_ok_mq_set: locked,
            }
            .to_vec();
            self.respond(req, ResponseCode::SUCCESS, None, &EmptyFields, &body);
        } else {
            self.respond(req, ResponseCode::SUCCESS, None, &NoFields, &[]);
        }
    }

    // -----------------------------------------------------------------------------------
    // Retry and transactions

    fn handle_send_back(&mut self, req: &Req, cmd: &Command<'_>, name: &str, id: i64) {
        let Some(h) = self.fields::<ConsumerSendMsgBackRequest<'_>>(req, cmd) else {
            return;
        };
        if id != 0 {
            return self.error(
                req,
                ResponseCode::SERVICE_NOT_AVAILABLE,
                "service not available now, messages are put to the slave",
            );
        }
        let group = s(h.group);
        let Some(orig) = self.groups[name]
            .store
            .by_physical_offset(h.offset)
            .cloned()
        else {
            return self.error(
                req,
                ResponseCode::SYSTEM_ERROR,
                &format!("look message by offset failed, {}", h.offset),
            );
        };
        let r = orig.view();
        let mut props = PropertyMap::parse(r.properties.as_str());
        if props.get(keys::RETRY_TOPIC).is_none() {
            let _ = props.insert(keys::RETRY_TOPIC, r.topic);
        }
        let _ = props.insert(keys::WAIT, "false");
        let origin = match h.origin_msg_id.map(s).filter(|o| !o.trim().is_empty()) {
            Some(o) => o,
            None => orig.offset_msg_id(),
        };
        let _ = props.insert(keys::ORIGIN_MESSAGE_ID, &origin);
        let max = h.max_reconsume_times.unwrap_or(DEFAULT_MAX_RECONSUME_TIMES);
        props.remove(keys::DELAY);
        let topic = if r.reconsume_times >= max || h.delay_level < 0 {
            format!("{DLQ_PREFIX}{group}")
        } else {
            let level = if h.delay_level == 0 {
                3 + r.reconsume_times
            } else {
                h.delay_level
            };
            let _ = props.insert(keys::DELAY, &level.to_string());
            format!("{RETRY_PREFIX}{group}")
        };
        self.ensure_topic(name, &topic, 1);
        let m = NewMessage {
            topic,
            queue_id: 0,
            flag: r.flag,
            sys_flag: r.sys_flag.0,
            born_timestamp: r.born_timestamp,
            born_host: r.born_host,
            store_timestamp: self.now as i64,
            reconsume_times: r.reconsume_times + 1,
            prepared_transaction_offset: 0,
            body: r.body.to_vec(),
            properties: props.to_string(),
        };
        self.put_message(name, m);
        self.respond(req, ResponseCode::SUCCESS, None, &NoFields, &[]);
    }

    fn handle_end_transaction(&mut self, req: &Req, cmd: &Command<'_>, name: &str) {
        let Some(h) = self.fields::<EndTransactionRequest<'_>>(req, cmd) else {
            return;
        };
        if h.commit_or_rollback == TransactionResolution::Unknown {
            return; // Java returns no response at all and checks later.
        }
        let g = &self.groups[name];
        let half = g
            .store
            .by_physical_offset(h.commit_log_offset)
            .filter(|m| m.topic == HALF_TOPIC && !g.resolved_half.contains(&m.physical_offset))
            .cloned();
        let Some(half) = half else {
            return self.error(
                req,
                ResponseCode::SYSTEM_ERROR,
                "Find prepared transaction message failed",
            );
        };
        let r = half.view();
        if r.properties.get(keys::PGROUP) != Some(&*s(h.producer_group)) {
            return self.error(req, ResponseCode::SYSTEM_ERROR, "The producer group wrong");
        }
        if half.queue_offset != h.tran_state_table_offset {
            return self.error(
                req,
                ResponseCode::SYSTEM_ERROR,
                "The transaction state table offset wrong",
            );
        }
        if let Some(g) = self.groups.get_mut(name) {
            g.resolved_half.insert(half.physical_offset);
        }
        if h.commit_or_rollback == TransactionResolution::Commit {
            let mut props = PropertyMap::parse(r.properties.as_str());
            let topic = props.remove(keys::REAL_TOPIC).unwrap_or_default();
            let queue_id = props
                .remove(keys::REAL_QID)
                .and_then(|q| q.parse().ok())
                .unwrap_or(0);
            props.remove(keys::TRAN_MSG);
            let m = NewMessage {
                topic,
                queue_id,
                flag: r.flag,
                sys_flag: r
                    .sys_flag
                    .without(MessageSysFlag::TRANSACTION_MASK)
                    .with(MessageSysFlag::TRANSACTION_COMMIT_TYPE)
                    .0,
                born_timestamp: r.born_timestamp,
                born_host: r.born_host,
                store_timestamp: r.store_timestamp,
                reconsume_times: r.reconsume_times,
                prepared_transaction_offset: half.physical_offset,
                body: r.body.to_vec(),
                properties: props.to_string(),
            };
            self.put_message(name, m);
        }
        self.respond(req, ResponseCode::SUCCESS, None, &NoFields, &[]);
    }

    /// Send CHECK_TRANSACTION_STATE (39, oneway) for the half message at
    /// `commit_log_offset` on `broker_addr`'s group to a producer channel of its
    /// `PGROUP` on that address (the lowest connection id). The body is the half message
    /// with its real topic and queue restored. Returns the connection used.
    pub fn check_transaction_state(
        &mut self,
        now: u64,
        broker_addr: &str,
        commit_log_offset: i64,
    ) -> Option<ConnId> {
        self.advance(now);
        let (name, _) = self.broker_of(broker_addr)?;
        let g = self.groups.get(&name)?;
        let half = g.store.by_physical_offset(commit_log_offset)?;
        if half.topic != HALF_TOPIC || g.resolved_half.contains(&commit_log_offset) {
            return None;
        }
        let r = half.view();
        let pgroup = r.properties.get(keys::PGROUP)?;
        let conn = *self
            .servers
            .get(broker_addr)?
            .clients
            .producers
            .get(pgroup)?
            .keys()
            .next()?;
        let real_topic = r.properties.get(keys::REAL_TOPIC).unwrap_or(r.topic);
        let real_qid = r
            .properties
            .get(keys::REAL_QID)
            .and_then(|q| q.parse().ok())
            .unwrap_or(r.queue_id);
        let restored = MessageRecord {
            topic: real_topic,
            queue_id: real_qid,
            version: rocketmq_proto::message::MessageVersion::for_topic_len(real_topic.len()),
            ..r
        };
        let mut body = Vec::new();
        record::encode(&mut BufMutOut(&mut body), &restored).ok()?;
        let uniq = r.uniq_key().map(str::to_owned);
        let offset_id = half.offset_msg_id();
        let header = CheckTransactionStateRequest {
            topic: Some(Text::new(HALF_TOPIC)),
            tran_state_table_offset: half.queue_offset,
            commit_log_offset,
            msg_id: uniq.as_deref().map(Text::new),
            transaction_id: uniq.as_deref().map(Text::new),
            offset_msg_id: Some(Text::new(&offset_id)),
            broker_name: Some(Text::new(&name)),
        };
        self.push_request(
            conn,
            RequestCode::CHECK_TRANSACTION_STATE,
            &header,
            &body,
            true,
        );
        Some(conn)
    }
}

/// Java `ExpressionType.isTagType`: absent, empty or `TAG`.
fn is_tag_type(expression_type: &str) -> bool {
    expression_type.is_empty() || expression_type == "TAG"
}

/// The broker-side filter of a subscription: tag hash codes for TAG, a compiled selector
/// for SQL92; any other type has no filter factory and fails like a bad expression.
fn expression_filter(expression_type: &str, expr: &str) -> Result<Filter, ParseError> {
    if is_tag_type(expression_type) {
        return Ok(match parse_tag_expression(expr) {
            TagExpression::All => Filter::All,
            TagExpression::Tags(tags) => Filter::Codes(tags.map(|t| t.code).collect()),
        });
    }
    if expression_type != "SQL92" {
        return Err(ParseError {
            at: 0,
            message: format!("no filter for expression type {expression_type}"),
        });
    }
    Selector::parse(expr).map(Filter::Sql)
}
