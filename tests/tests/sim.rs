//! The NameServer/broker simulation driven with raw frames built by rocketmq-proto.

use std::collections::BTreeMap;

use rocketmq_proto::body::{
    ClusterInfo, ConsumeFromWhere, ConsumeType, ConsumerData, ConsumerIdList, EncodeBody,
    ExpressionType, HeartbeatData, LockBatchRequestBody, LockBatchResponseBody, MessageModel,
    MessageQueue, ProducerData, ResetOffsetBody, SubscriptionData, TopicRouteData,
};
use rocketmq_proto::codes::{version, LanguageCode, RequestCode, ResponseCode, SerializeType};
use rocketmq_proto::collections::Growable;
use rocketmq_proto::command::{Command, CommandEncoder, Header};
use rocketmq_proto::ext::{EmptyFields, EncodeFields, NoFields};
use rocketmq_proto::frame::{Decoded, FrameDecoder};
use rocketmq_proto::header::{
    ConsumerSendMsgBackRequest, EndTransactionRequest, GetConsumerListByGroupRequest,
    GetMaxOffsetRequest, GetRouteInfoRequest, PullMessageRequest, PullSysFlag,
    QueryConsumerOffsetRequest, SendMessageRequest, TransactionResolution,
    UpdateConsumerOffsetRequest,
};
use rocketmq_proto::message::{
    encode_batch, keys, tag_hash, BatchEntry, MessageSysFlag, OffsetMsgId, PropertiesView,
    RecordIter,
};
use rocketmq_tests::sim::{BrokerSpec, ConnError, ConnId, ConnectError, Sim, SimConfig, TopicSpec};

const NS: &str = "10.0.0.1:9876";
const A: &str = "10.0.0.2:10911";
const A_SLAVE: &str = "10.0.0.3:10911";
const B: &str = "10.0.0.4:10911";

fn sim() -> Sim {
    Sim::new(
        SimConfig::new(NS)
            .broker(
                BrokerSpec::new("broker-a", A)
                    .slave(1, A_SLAVE)
                    .topic(TopicSpec::new("T", 4)),
            )
            .broker(
                BrokerSpec::new("broker-b", B)
                    .auto_create(false)
                    .topic(TopicSpec::new("T", 2)),
            ),
    )
}

/// A decoded frame from the sim, owned.
#[derive(Debug)]
struct Frame {
    code: i32,
    opaque: i32,
    response: bool,
    oneway: bool,
    language: LanguageCode,
    remark: Option<String>,
    fields: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Frame {
    fn field(&self, k: &str) -> &str {
        self.fields.get(k).map_or("", String::as_str)
    }
    fn field_i64(&self, k: &str) -> i64 {
        self.field(k).parse().unwrap()
    }
}

fn decode(bytes: &[u8]) -> Frame {
    let Decoded::Frame { frame, consumed } = FrameDecoder::new().decode(bytes).unwrap() else {
        panic!("sim frames are whole")
    };
    assert_eq!(consumed, bytes.len());
    let cmd = Command::decode(frame).unwrap();
    Frame {
        code: cmd.header.code,
        opaque: cmd.header.opaque,
        response: cmd.header.is_response(),
        oneway: cmd.header.is_oneway(),
        language: cmd.header.language,
        remark: cmd.header.remark.map(|r| r.to_string_lossless()),
        fields: cmd
            .fields()
            .iter()
            .map(|(k, v)| (k.to_string_lossless(), v.to_string_lossless()))
            .collect(),
        body: cmd.body.to_vec(),
    }
}

fn frame<F: EncodeFields + ?Sized>(header: Header<'_>, fields: &F, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    CommandEncoder::new(SerializeType::Json)
        .encode_to(&mut v, &header, fields, body)
        .unwrap();
    v
}

fn request<F: EncodeFields + ?Sized>(
    code: RequestCode,
    opaque: i32,
    fields: &F,
    body: &[u8],
) -> Vec<u8> {
    frame(Header::request(code, opaque), fields, body)
}

/// Send one request and take its (immediate) answer.
fn call<F: EncodeFields + ?Sized>(
    sim: &mut Sim,
    now: u64,
    conn: ConnId,
    code: RequestCode,
    fields: &F,
    body: &[u8],
) -> Frame {
    sim.send(now, conn, &request(code, 7, fields, body))
        .unwrap();
    let f = decode(&sim.poll_recv(conn).expect("an immediate answer"));
    assert!(f.response);
    assert_eq!(f.opaque, 7);
    f
}

fn drain(sim: &mut Sim, conn: ConnId) -> Vec<Frame> {
    std::iter::from_fn(|| sim.poll_recv(conn))
        .map(|b| decode(&b))
        .collect()
}

fn send_header<'a>(topic: &'a str, queue_id: i32, props: &'a str) -> SendMessageRequest<'a> {
    SendMessageRequest {
        producer_group: "PG".into(),
        topic: topic.into(),
        default_topic: SendMessageRequest::DEFAULT_TOPIC.into(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        flag: 0,
        properties: Some(props.into()),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        max_reconsume_times: None,
        batch: Some(false),
        broker_name: Some("broker-a".into()),
    }
}

fn send(
    sim: &mut Sim,
    now: u64,
    conn: ConnId,
    topic: &str,
    queue_id: i32,
    props: &str,
    body: &[u8],
) -> Frame {
    let h = send_header(topic, queue_id, props);
    call(sim, now, conn, RequestCode::SEND_MESSAGE_V2, &h.v2(), body)
}

fn pull_header<'a>(
    topic: &'a str,
    queue_id: i32,
    offset: i64,
    flags: PullSysFlag,
    sub: Option<&'a str>,
) -> PullMessageRequest<'a> {
    PullMessageRequest {
        consumer_group: "G".into(),
        topic: topic.into(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: flags,
        commit_offset: 0,
        suspend_timeout_millis: 15_000,
        subscription: sub.map(Into::into),
        sub_version: 0,
        expression_type: Some("TAG".into()),
        max_msg_bytes: Some(262_144),
        request_source: None,
        proxy_forward_client_id: None,
        broker_name: Some("broker-a".into()),
    }
}

fn heartbeat_body(client_id: &str, group: &str, topic: &str, sub: &str) -> Vec<u8> {
    let mut hb = HeartbeatData::<Growable>::new(client_id.into());
    let tags: Vec<_> = if sub == "*" { vec![] } else { vec![sub.into()] };
    let codes = if sub == "*" {
        vec![]
    } else {
        vec![tag_hash(sub)]
    };
    hb.consumer_data_set.push(ConsumerData {
        group_name: group.into(),
        consume_type: ConsumeType::Passively,
        message_model: MessageModel::Clustering,
        consume_from_where: ConsumeFromWhere::LastOffset,
        subscription_data_set: vec![SubscriptionData {
            class_filter_mode: false,
            topic: topic.into(),
            sub_string: sub.into(),
            tags_set: tags,
            code_set: codes,
            sub_version: 1,
            expression_type: ExpressionType::Tag,
        }],
        unit_mode: false,
    });
    hb.producer_data_set.push(ProducerData {
        group_name: "PG".into(),
    });
    hb.to_vec()
}

/// Heartbeat as consumer of G (topic T, `*`) and producer of PG; returns the response
/// and any broker requests that came before it (Java writes NOTIFY_CONSUMER_IDS_CHANGED
/// from inside the registration, so ahead of the response).
fn heartbeat(sim: &mut Sim, now: u64, conn: ConnId, client_id: &str) -> (Frame, Vec<Frame>) {
    let body = heartbeat_body(client_id, "G", "T", "*");
    sim.send(
        now,
        conn,
        &request(RequestCode::HEART_BEAT, 7, &EmptyFields, &body),
    )
    .unwrap();
    let (mut resp, other): (Vec<Frame>, Vec<Frame>) =
        drain(sim, conn).into_iter().partition(|f| f.response);
    assert_eq!(resp.len(), 1);
    (resp.remove(0), other)
}

#[test]
fn route_lookup_follows_registration_and_json_dialect() {
    let mut sim = sim();
    let ns = sim.connect(0, NS).unwrap();
    let req = GetRouteInfoRequest {
        topic: "T".into(),
        accept_standard_json_only: None,
    };
    let f = call(
        &mut sim,
        0,
        ns,
        RequestCode::GET_ROUTEINFO_BY_TOPIC,
        &req,
        b"",
    );
    assert_eq!(f.code, ResponseCode::SUCCESS.0);
    assert_eq!(f.language, LanguageCode::JAVA);
    let route = TopicRouteData::<Growable>::decode(&f.body).unwrap();
    assert_eq!(route.master_addr("broker-a").unwrap(), A);
    assert_eq!(
        route.broker(&"broker-a".into()).unwrap().addr(1).unwrap(),
        A_SLAVE
    );
    assert_eq!(route.master_addr("broker-b").unwrap(), B);
    assert_eq!(route.publish_queues().count(), 6);
    // A 5.x client gets standard JSON.
    assert!(String::from_utf8_lossy(&f.body).contains(r#""0":"10.0.0.2:10911""#));

    // A pre-4.9.4 client gets fastjson's bare numeric keys.
    let mut h = Header::request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 8);
    h.version = version::V4_9_4 - 1;
    sim.send(0, ns, &frame(h, &req, b"")).unwrap();
    let old = decode(&sim.poll_recv(ns).unwrap());
    assert!(String::from_utf8_lossy(&old.body).contains(r#"{0:"10.0.0.2:10911""#));

    // Unknown topic; TBW102 only where auto-create is on.
    let unknown = GetRouteInfoRequest {
        topic: "Nope".into(),
        accept_standard_json_only: None,
    };
    let f = call(
        &mut sim,
        0,
        ns,
        RequestCode::GET_ROUTEINFO_BY_TOPIC,
        &unknown,
        b"",
    );
    assert_eq!(f.code, ResponseCode::TOPIC_NOT_EXIST.0);
    assert!(f
        .remark
        .unwrap()
        .contains("No topic route info in name server for the topic: Nope"));
    let tbw = GetRouteInfoRequest {
        topic: "TBW102".into(),
        accept_standard_json_only: None,
    };
    let f = call(
        &mut sim,
        0,
        ns,
        RequestCode::GET_ROUTEINFO_BY_TOPIC,
        &tbw,
        b"",
    );
    let route = TopicRouteData::<Growable>::decode(&f.body).unwrap();
    assert_eq!(route.broker_datas.len(), 1);
    assert_eq!(route.queue_datas[0].perm.0, 7);

    // Removing broker-b's only address removes it; removing broker-a's master leaves the
    // slave in the route.
    sim.ns_unregister(B);
    sim.ns_unregister(A);
    let f = call(
        &mut sim,
        0,
        ns,
        RequestCode::GET_ROUTEINFO_BY_TOPIC,
        &req,
        b"",
    );
    let route = TopicRouteData::<Growable>::decode(&f.body).unwrap();
    assert_eq!(route.broker_datas.len(), 1);
    assert_eq!(route.master_addr("broker-a"), None);
    assert_eq!(route.publish_queues().count(), 0);
    sim.ns_register(A);
    sim.ns_register(B);

    let f = call(
        &mut sim,
        0,
        ns,
        RequestCode::GET_BROKER_CLUSTER_INFO,
        &NoFields,
        b"",
    );
    let info = ClusterInfo::<Growable>::decode(&f.body).unwrap();
    assert_eq!(info.broker("broker-b").unwrap().master_addr().unwrap(), B);
    assert_eq!(info.cluster("DefaultCluster").unwrap().len(), 2);
    assert_eq!(
        sim.request_count(NS, RequestCode::GET_ROUTEINFO_BY_TOPIC),
        5
    );
}

#[test]
fn send_then_pull_returns_the_stored_record() {
    let mut sim = sim();
    let c = sim.connect(0, A).unwrap();
    let props = "TAGS\u{1}TagA\u{2}KEYS\u{1}k1\u{2}UNIQ_KEY\u{1}7F0000010001000000000001\u{2}WAIT\u{1}true\u{2}";
    let f = send(&mut sim, 1_000, c, "T", 1, props, b"hello");
    assert_eq!(f.code, ResponseCode::SUCCESS.0);
    assert_eq!(f.field("queueId"), "1");
    assert_eq!(f.field("queueOffset"), "0");
    assert_eq!(f.field("transactionId"), "7F0000010001000000000001");
    let id = OffsetMsgId::parse(f.field("msgId")).unwrap();
    assert_eq!(id.store_host.to_string(), A);
    assert_eq!(id.commit_log_offset, 0);

    // A second one, tagged differently, via the V1 header.
    let h = send_header("T", 1, "TAGS\u{1}TagB\u{2}");
    let f2 = call(
        &mut sim,
        1_001,
        c,
        RequestCode::SEND_MESSAGE,
        &h.v1(),
        b"second",
    );
    assert_eq!(f2.field("queueOffset"), "1");
    let id2 = OffsetMsgId::parse(f2.field("msgId")).unwrap();
    assert_eq!(
        id2.commit_log_offset,
        sim.messages("broker-a", "T", 1)[0].record.len() as i64
    );
    assert!(
        !f2.field("transactionId").is_empty(),
        "the broker generates a UNIQ_KEY"
    );

    // Pull everything with the request's own subscription.
    let p = pull_header("T", 1, 0, PullSysFlag::SUBSCRIPTION, Some("*"));
    let f = call(&mut sim, 2_000, c, RequestCode::PULL_MESSAGE, &p, b"");
    assert_eq!(f.code, ResponseCode::SUCCESS.0);
    assert_eq!(f.remark.as_deref(), Some("FOUND"));
    assert_eq!(
        (
            f.field_i64("nextBeginOffset"),
            f.field_i64("minOffset"),
            f.field_i64("maxOffset")
        ),
        (2, 0, 2)
    );
    assert_eq!(f.field("suggestWhichBrokerId"), "0");
    let recs: Vec<_> = RecordIter::new(&f.body).collect::<Result<_, _>>().unwrap();
    assert_eq!(recs.len(), 2);
    let r = recs[0];
    assert_eq!(r.body, b"hello");
    assert_eq!(r.topic, "T");
    assert_eq!((r.queue_id, r.queue_offset, r.physical_offset), (1, 0, 0));
    assert_eq!(r.tags(), Some("TagA"));
    assert_eq!(r.properties.get(keys::KEYS), Some("k1"));
    assert_eq!(r.uniq_key(), Some("7F0000010001000000000001"));
    assert_eq!(r.properties.get(keys::CLUSTER), Some("DefaultCluster"));
    assert_eq!(r.store_timestamp, 1_000);
    assert_eq!(r.born_timestamp, 1_700_000_000_000);
    assert!(r.verify_body_crc());
    assert_eq!(r.offset_msg_id(), id);
    assert_eq!(recs[1].body, b"second");

    // Tag filtering by hash code.
    let p = pull_header("T", 1, 0, PullSysFlag::SUBSCRIPTION, Some("TagB"));
    let f = call(&mut sim, 2_000, c, RequestCode::PULL_MESSAGE, &p, b"");
    let recs: Vec<_> = RecordIter::new(&f.body).collect::<Result<_, _>>().unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].body, b"second");
    let p = pull_header("T", 1, 0, PullSysFlag::SUBSCRIPTION, Some("TagC"));
    let f = call(&mut sim, 2_000, c, RequestCode::PULL_MESSAGE, &p, b"");
    assert_eq!(f.code, ResponseCode::PULL_RETRY_IMMEDIATELY.0);
    assert_eq!(f.field("nextBeginOffset"), "2");

    // Offsets past the end, at the end, and below an expired head.
    let p = pull_header("T", 1, 5, PullSysFlag::SUBSCRIPTION, Some("*"));
    let f = call(&mut sim, 2_000, c, RequestCode::PULL_MESSAGE, &p, b"");
    assert_eq!(
        (f.code, f.field("nextBeginOffset")),
        (ResponseCode::PULL_OFFSET_MOVED.0, "0")
    );
    let p = pull_header("T", 1, 2, PullSysFlag::SUBSCRIPTION, Some("*"));
    let f = call(&mut sim, 2_000, c, RequestCode::PULL_MESSAGE, &p, b"");
    assert_eq!(f.code, ResponseCode::PULL_NOT_FOUND.0);
    assert_eq!(f.remark.as_deref(), Some("OFFSET_OVERFLOW_ONE"));
    sim.truncate_queue("broker-a", "T", 1, 1);
    let p = pull_header("T", 1, 0, PullSysFlag::SUBSCRIPTION, Some("*"));
    let f = call(&mut sim, 2_000, c, RequestCode::PULL_MESSAGE, &p, b"");
    assert_eq!(
        (f.code, f.field("nextBeginOffset")),
        (ResponseCode::PULL_OFFSET_MOVED.0, "1")
    );

    // Without the subscription flag the heartbeat's subscription is required.
    let p = pull_header("T", 1, 1, PullSysFlag::NONE, None);
    let f = call(&mut sim, 2_000, c, RequestCode::PULL_MESSAGE, &p, b"");
    assert_eq!(f.code, ResponseCode::SUBSCRIPTION_NOT_EXIST.0);
}

#[test]
fn batch_send_stores_each_message_and_joins_ids() {
    let mut sim = sim();
    let c = sim.connect(0, A).unwrap();
    let entries = [
        BatchEntry {
            flag: 0,
            body: b"m1",
            properties: PropertiesView::new("UNIQ_KEY\u{1}AA\u{2}"),
        },
        BatchEntry {
            flag: 0,
            body: b"m2",
            properties: PropertiesView::new("UNIQ_KEY\u{1}BB\u{2}"),
        },
    ];
    let mut body = vec![0u8; 256];
    let n = encode_batch(&mut body, &entries).unwrap();
    body.truncate(n);
    let mut h = send_header("T", 0, "WAIT\u{1}true\u{2}");
    h.batch = Some(true);
    let f = call(
        &mut sim,
        5,
        c,
        RequestCode::SEND_BATCH_MESSAGE,
        &h.v2(),
        &body,
    );
    assert_eq!(f.code, ResponseCode::SUCCESS.0);
    let ids: Vec<_> = OffsetMsgId::parse_list(f.field("msgId"))
        .collect::<Result<_, _>>()
        .unwrap();
    let stored = sim.messages("broker-a", "T", 0);
    assert_eq!(stored.len(), 2);
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[1].commit_log_offset, stored[1].physical_offset);
    assert_eq!(stored[0].uniq_key().as_deref(), Some("AA"));
    assert_eq!(stored[1].body(), b"m2");
    // Batch-level properties are appended to each message (brokers ≤ 5.3.3).
    assert_eq!(stored[1].property(keys::WAIT).as_deref(), Some("true"));
}

#[test]
fn long_poll_is_woken_by_a_send_and_expires_at_the_hold_time() {
    let mut sim = sim();
    let consumer = sim.connect(0, A).unwrap();
    let producer = sim.connect(0, A).unwrap();
    assert_eq!(
        heartbeat(&mut sim, 0, consumer, "c@1").0.code,
        ResponseCode::SUCCESS.0
    );

    let p = pull_header("T", 2, 0, PullSysFlag::SUSPEND, None);
    sim.send(
        1_000,
        consumer,
        &request(RequestCode::PULL_MESSAGE, 11, &p, b""),
    )
    .unwrap();
    assert!(sim.poll_recv(consumer).is_none(), "parked");
    assert_eq!(sim.held_pulls(), 1);
    assert_eq!(sim.poll_timeout(), Some(16_000));

    // A message to another queue does not wake it; one to this queue does.
    send(&mut sim, 2_000, producer, "T", 3, "", b"elsewhere");
    assert!(sim.poll_recv(consumer).is_none());
    send(&mut sim, 3_000, producer, "T", 2, "", b"wake");
    let f = decode(&sim.poll_recv(consumer).expect("woken"));
    assert_eq!((f.opaque, f.code), (11, ResponseCode::SUCCESS.0));
    assert_eq!(
        RecordIter::new(&f.body).next().unwrap().unwrap().body,
        b"wake"
    );
    assert_eq!(sim.held_pulls(), 0);

    // The next pull finds nothing and expires with NO_NEW_MSG at exactly the hold time.
    let p = pull_header("T", 2, 1, PullSysFlag::SUSPEND, None);
    sim.send(
        4_000,
        consumer,
        &request(RequestCode::PULL_MESSAGE, 12, &p, b""),
    )
    .unwrap();
    assert_eq!(sim.poll_timeout(), Some(19_000));
    sim.handle_timeout(18_999);
    assert!(sim.poll_recv(consumer).is_none());
    sim.handle_timeout(19_000);
    let f = decode(&sim.poll_recv(consumer).expect("expired"));
    assert_eq!((f.opaque, f.code), (12, ResponseCode::PULL_NOT_FOUND.0));
    assert_eq!(f.field("nextBeginOffset"), "1");
    assert_eq!(sim.held_pulls(), 0);
}

#[test]
fn heartbeats_register_groups_and_notify_members() {
    let mut sim = sim();
    let a = sim.connect(0, A).unwrap();
    let b = sim.connect(0, A).unwrap();
    let (f, n) = heartbeat(&mut sim, 0, a, "a@1");
    assert_eq!(f.field("IS_SUB_CHANGE"), "true");
    assert_eq!(f.field("IS_SUPPORT_HEART_BEAT_V2"), "true");
    // Java notifies every channel of the group, the newcomer included.
    assert_eq!(n.len(), 1);
    let (_, to_b) = heartbeat(&mut sim, 1, b, "b@2");
    assert_eq!(to_b.len(), 1);
    let n = drain(&mut sim, a);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].code, RequestCode::NOTIFY_CONSUMER_IDS_CHANGED.0);
    assert!(n[0].oneway && !n[0].response);
    assert_eq!(n[0].field("consumerGroup"), "G");

    let req = GetConsumerListByGroupRequest {
        consumer_group: "G".into(),
        broker_name: None,
    };
    let f = call(
        &mut sim,
        2,
        a,
        RequestCode::GET_CONSUMER_LIST_BY_GROUP,
        &req,
        b"",
    );
    let ids = ConsumerIdList::<Growable>::decode(&f.body).unwrap();
    assert_eq!(ids.consumer_id_list, ["a@1", "b@2"]);
    assert_eq!(sim.producer_ids(A, "PG"), ["a@1", "b@2"]);
    assert_eq!(sim.subscription(A, "G", "T").unwrap().sub_string, "*");
    assert!(
        sim.topic("broker-a", "%RETRY%G").is_some(),
        "retry topic created"
    );

    // An unchanged heartbeat notifies no one; a member leaving notifies the rest.
    let (_, n) = heartbeat(&mut sim, 3, a, "a@1");
    assert!(n.is_empty());
    assert!(drain(&mut sim, b).is_empty());
    sim.disconnect(b);
    let n = drain(&mut sim, a);
    assert_eq!(n.len(), 1);
    assert_eq!(sim.consumer_ids(A, "G"), ["a@1"]);

    let unknown = GetConsumerListByGroupRequest {
        consumer_group: "Other".into(),
        broker_name: None,
    };
    let f = call(
        &mut sim,
        4,
        a,
        RequestCode::GET_CONSUMER_LIST_BY_GROUP,
        &unknown,
        b"",
    );
    assert_eq!(f.code, ResponseCode::SYSTEM_ERROR.0);
}

#[test]
fn offsets_commit_and_query() {
    let mut sim = sim();
    let c = sim.connect(0, A).unwrap();
    let q = |queue_id, zero| QueryConsumerOffsetRequest {
        consumer_group: "G".into(),
        topic: "T".into(),
        queue_id,
        set_zero_if_not_found: zero,
        broker_name: None,
    };
    let f = call(
        &mut sim,
        0,
        c,
        RequestCode::QUERY_CONSUMER_OFFSET,
        &q(0, None),
        b"",
    );
    assert_eq!(f.code, ResponseCode::QUERY_NOT_FOUND.0);

    // Oneway update: stored, never answered.
    let u = UpdateConsumerOffsetRequest {
        consumer_group: "G".into(),
        topic: "T".into(),
        queue_id: 0,
        commit_offset: 42,
        broker_name: None,
    };
    sim.send(
        1,
        c,
        &frame(
            Header::request(RequestCode::UPDATE_CONSUMER_OFFSET, 9).oneway(),
            &u,
            b"",
        ),
    )
    .unwrap();
    assert!(sim.poll_recv(c).is_none());
    assert_eq!(sim.committed_offset("broker-a", "G", "T", 0), Some(42));
    let f = call(
        &mut sim,
        2,
        c,
        RequestCode::QUERY_CONSUMER_OFFSET,
        &q(0, None),
        b"",
    );
    assert_eq!((f.code, f.field("offset")), (0, "42"));

    // A queue whose first message is still "in memory" answers 0 unless told not to.
    send(&mut sim, 3, c, "T", 3, "", b"x");
    let f = call(
        &mut sim,
        4,
        c,
        RequestCode::QUERY_CONSUMER_OFFSET,
        &q(3, None),
        b"",
    );
    assert_eq!((f.code, f.field("offset")), (0, "0"));
    let f = call(
        &mut sim,
        4,
        c,
        RequestCode::QUERY_CONSUMER_OFFSET,
        &q(3, Some(false)),
        b"",
    );
    assert_eq!(f.code, ResponseCode::QUERY_NOT_FOUND.0);

    // The pull commit flag stores commitOffset as a side effect.
    let mut p = pull_header(
        "T",
        3,
        0,
        PullSysFlag::COMMIT_OFFSET | PullSysFlag::SUBSCRIPTION,
        Some("*"),
    );
    p.commit_offset = 1;
    call(&mut sim, 5, c, RequestCode::PULL_MESSAGE, &p, b"");
    assert_eq!(sim.committed_offset("broker-a", "G", "T", 3), Some(1));

    let m = GetMaxOffsetRequest {
        topic: "T".into(),
        queue_id: 3,
        committed: None,
        broker_name: None,
    };
    let f = call(&mut sim, 6, c, RequestCode::GET_MAX_OFFSET, &m, b"");
    assert_eq!(f.field("offset"), "1");
}

#[test]
fn broker_down_refuses_connects_and_closes_connections() {
    let mut sim = sim();
    let c = sim.connect(0, A).unwrap();
    send(&mut sim, 0, c, "T", 0, "", b"kept");
    sim.take_down(10, A);
    assert_eq!(sim.poll_closed(), Some(c));
    assert_eq!(sim.poll_closed(), None);
    assert_eq!(sim.send(11, c, b"x"), Err(ConnError::Closed));
    assert_eq!(sim.connect(12, A), Err(ConnectError::Refused));
    assert_eq!(
        sim.connect(12, "10.9.9.9:1"),
        Err(ConnectError::UnknownAddress)
    );
    sim.bring_up(20, A);
    let c = sim.connect(20, A).unwrap();
    let p = pull_header("T", 0, 0, PullSysFlag::SUBSCRIPTION, Some("*"));
    let f = call(&mut sim, 21, c, RequestCode::PULL_MESSAGE, &p, b"");
    assert_eq!(f.code, ResponseCode::SUCCESS.0, "the store survived");
}

#[test]
fn black_holes_accept_bytes_and_never_answer() {
    let mut sim = sim();
    let c = sim.connect(0, NS).unwrap();
    let req = GetRouteInfoRequest {
        topic: "T".into(),
        accept_standard_json_only: None,
    };
    sim.black_hole_addr(NS, true);
    let c2 = sim.connect(0, NS).expect("connects still succeed");
    sim.send(
        0,
        c,
        &request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 1, &req, b""),
    )
    .unwrap();
    sim.send(
        0,
        c2,
        &request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 1, &req, b""),
    )
    .unwrap();
    sim.handle_timeout(1_000_000);
    assert!(sim.poll_recv(c).is_none() && sim.poll_recv(c2).is_none());
    assert_eq!(
        sim.request_count(NS, RequestCode::GET_ROUTEINFO_BY_TOPIC),
        0
    );

    sim.black_hole_addr(NS, false);
    sim.black_hole_conn(c, true);
    sim.send(
        1_000_001,
        c,
        &request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 2, &req, b""),
    )
    .unwrap();
    assert!(sim.poll_recv(c).is_none());
    let f = call(
        &mut sim,
        1_000_002,
        c2,
        RequestCode::GET_ROUTEINFO_BY_TOPIC,
        &req,
        b"",
    );
    assert_eq!(f.code, 0);
}

#[test]
fn delays_and_reordering_change_delivery_order() {
    let mut sim = sim();
    let c = sim.connect(0, A).unwrap();
    let m = |queue_id| GetMaxOffsetRequest {
        topic: "T".into(),
        queue_id,
        committed: None,
        broker_name: None,
    };
    sim.delay_responses(A, 100);
    sim.send(0, c, &request(RequestCode::GET_MAX_OFFSET, 1, &m(0), b""))
        .unwrap();
    assert!(sim.poll_recv(c).is_none());
    assert_eq!(sim.poll_timeout(), Some(100));
    sim.handle_timeout(99);
    assert!(sim.poll_recv(c).is_none());
    sim.handle_timeout(100);
    assert_eq!(decode(&sim.poll_recv(c).unwrap()).opaque, 1);
    sim.delay_responses(A, 0);

    // A per-code delay lets a later answer overtake an earlier one.
    sim.delay_code(A, RequestCode::GET_MAX_OFFSET, 50);
    sim.send(200, c, &request(RequestCode::GET_MAX_OFFSET, 2, &m(0), b""))
        .unwrap();
    sim.send(200, c, &request(RequestCode::GET_MIN_OFFSET, 3, &m(0), b""))
        .unwrap();
    sim.handle_timeout(250);
    let order: Vec<i32> = drain(&mut sim, c).iter().map(|f| f.opaque).collect();
    assert_eq!(order, [3, 2]);
    sim.delay_code(A, RequestCode::GET_MAX_OFFSET, 0);

    // Reordering: the next three frames come out reversed, all at once.
    sim.reorder_next(A, 3);
    for opaque in 4..7 {
        sim.send(
            300,
            c,
            &request(RequestCode::GET_MAX_OFFSET, opaque, &m(0), b""),
        )
        .unwrap();
        if opaque < 6 {
            assert!(sim.poll_recv(c).is_none());
        }
    }
    let order: Vec<i32> = drain(&mut sim, c).iter().map(|f| f.opaque).collect();
    assert_eq!(order, [6, 5, 4]);
}

#[test]
fn partial_and_coalesced_frames() {
    let mut sim = sim();
    let c = sim.connect(0, NS).unwrap();
    let req = GetRouteInfoRequest {
        topic: "T".into(),
        accept_standard_json_only: None,
    };
    let bytes = request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 1, &req, b"");
    let (last, head) = bytes.split_last().unwrap();
    for b in head {
        sim.send(0, c, std::slice::from_ref(b)).unwrap();
        assert!(sim.poll_recv(c).is_none());
    }
    sim.send(0, c, std::slice::from_ref(last)).unwrap();
    assert_eq!(decode(&sim.poll_recv(c).unwrap()).opaque, 1);

    // Two frames and a half in one write: two answers, the half waits.
    let mut two = request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 2, &req, b"");
    two.extend(request(
        RequestCode::GET_BROKER_CLUSTER_INFO,
        3,
        &NoFields,
        b"",
    ));
    let third = request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 4, &req, b"");
    two.extend_from_slice(&third[..10]);
    sim.send(0, c, &two).unwrap();
    let got: Vec<i32> = drain(&mut sim, c).iter().map(|f| f.opaque).collect();
    assert_eq!(got, [2, 3]);
    sim.send(0, c, &third[10..]).unwrap();
    assert_eq!(decode(&sim.poll_recv(c).unwrap()).opaque, 4);

    // Garbage makes the server close the connection.
    sim.send(0, c, &[0xff, 0xff, 0xff, 0xff]).unwrap();
    assert_eq!(sim.poll_closed(), Some(c));
}

#[test]
fn scripted_errors_and_unknown_codes() {
    let mut sim = sim();
    let c = sim.connect(0, A).unwrap();
    sim.fail_next(
        A,
        RequestCode::SEND_MESSAGE_V2,
        ResponseCode::SYSTEM_BUSY,
        2,
    );
    assert_eq!(
        send(&mut sim, 0, c, "T", 0, "", b"x").code,
        ResponseCode::SYSTEM_BUSY.0
    );
    assert_eq!(
        send(&mut sim, 0, c, "T", 0, "", b"x").code,
        ResponseCode::SYSTEM_BUSY.0
    );
    assert_eq!(
        send(&mut sim, 0, c, "T", 0, "", b"x").code,
        ResponseCode::SUCCESS.0
    );
    assert_eq!(sim.messages("broker-a", "T", 0).len(), 1);
    assert_eq!(sim.request_count(A, RequestCode::SEND_MESSAGE_V2), 3);

    let f = call(&mut sim, 0, c, RequestCode::POP_MESSAGE, &EmptyFields, b"");
    assert_eq!(f.code, ResponseCode::REQUEST_CODE_NOT_SUPPORTED.0);
    assert_eq!(
        f.remark.as_deref(),
        Some(" request type 200050 not supported")
    );

    // A missing required header field is a SYSTEM_ERROR naming it, as in Java.
    let f = call(
        &mut sim,
        0,
        c,
        RequestCode::GET_MAX_OFFSET,
        &[("topic", "T")][..],
        b"",
    );
    assert_eq!(f.code, ResponseCode::SYSTEM_ERROR.0);
    assert_eq!(
        f.remark.as_deref(),
        Some("the custom field <queueId> is null")
    );

    // A slave refuses sends but serves pulls, pointing back at the master.
    let s = sim.connect(0, A_SLAVE).unwrap();
    assert_eq!(
        send(&mut sim, 0, s, "T", 0, "", b"x").code,
        ResponseCode::SERVICE_NOT_AVAILABLE.0
    );
    sim.set_suggest_broker_id("broker-a", 1);
    let p = pull_header("T", 0, 0, PullSysFlag::SUBSCRIPTION, Some("*"));
    let f = call(&mut sim, 0, s, RequestCode::PULL_MESSAGE, &p, b"");
    assert_eq!((f.code, f.field("suggestWhichBrokerId")), (0, "0"));
    let f = call(&mut sim, 0, c, RequestCode::PULL_MESSAGE, &p, b"");
    assert_eq!(f.field("suggestWhichBrokerId"), "1");
}

#[test]
fn auto_create_from_tbw102() {
    let mut sim = sim();
    let a = sim.connect(0, A).unwrap();
    let b = sim.connect(0, B).unwrap();
    let f = send(&mut sim, 0, a, "NewTopic", 0, "", b"x");
    assert_eq!(f.code, ResponseCode::SUCCESS.0);
    let t = sim.topic("broker-a", "NewTopic").unwrap();
    assert_eq!((t.read_queue_nums, t.write_queue_nums, t.perm), (4, 4, 6));
    let f = send(&mut sim, 0, b, "NewTopic", 0, "", b"x");
    assert_eq!(f.code, ResponseCode::TOPIC_NOT_EXIST.0);

    let ns = sim.connect(0, NS).unwrap();
    let req = GetRouteInfoRequest {
        topic: "NewTopic".into(),
        accept_standard_json_only: None,
    };
    let f = call(
        &mut sim,
        0,
        ns,
        RequestCode::GET_ROUTEINFO_BY_TOPIC,
        &req,
        b"",
    );
    let route = TopicRouteData::<Growable>::decode(&f.body).unwrap();
    assert_eq!(route.publish_queues().count(), 4);
}

#[test]
fn send_back_goes_to_retry_after_the_delay_then_to_the_dlq() {
    let mut sim = sim();
    let c = sim.connect(0, A).unwrap();
    send(&mut sim, 0, c, "T", 0, "UNIQ_KEY\u{1}U1\u{2}", b"payload");
    let orig = sim.messages("broker-a", "T", 0)[0].clone();
    let back = |offset, max| ConsumerSendMsgBackRequest {
        offset,
        group: "G".into(),
        delay_level: 0,
        origin_msg_id: Some("U1".into()),
        origin_topic: Some("T".into()),
        unit_mode: Some(false),
        max_reconsume_times: Some(max),
        broker_name: None,
    };
    let f = call(
        &mut sim,
        1_000,
        c,
        RequestCode::CONSUMER_SEND_MSG_BACK,
        &back(orig.physical_offset, 16),
        b"",
    );
    assert_eq!(f.code, 0);
    // Level 3 (10 s): parked in the schedule topic until due.
    assert!(sim.messages("broker-a", "%RETRY%G", 0).is_empty());
    assert_eq!(sim.poll_timeout(), Some(11_000));
    sim.handle_timeout(11_000);
    let retry = sim.messages("broker-a", "%RETRY%G", 0)[0].clone();
    let r = retry.view();
    assert_eq!(r.reconsume_times, 1);
    assert_eq!(r.body, b"payload");
    assert_eq!(r.properties.get(keys::RETRY_TOPIC), Some("T"));
    assert_eq!(r.properties.get(keys::ORIGIN_MESSAGE_ID), Some("U1"));
    assert_eq!(r.properties.get(keys::DELAY), None);

    // Past the max it goes to the DLQ, at once.
    let f = call(
        &mut sim,
        12_000,
        c,
        RequestCode::CONSUMER_SEND_MSG_BACK,
        &back(retry.physical_offset, 1),
        b"",
    );
    assert_eq!(f.code, 0);
    let dlq = &sim.messages("broker-a", "%DLQ%G", 0)[0];
    assert_eq!(dlq.view().reconsume_times, 2);
}

#[test]
fn transactions_hide_half_messages_until_commit() {
    let mut sim = sim();
    let c = sim.connect(0, A).unwrap();
    heartbeat(&mut sim, 0, c, "p@1");
    let mut h = send_header(
        "T",
        0,
        "TRAN_MSG\u{1}true\u{2}PGROUP\u{1}PG\u{2}UNIQ_KEY\u{1}TX1\u{2}",
    );
    h.sys_flag = MessageSysFlag::TRANSACTION_PREPARED_TYPE;
    let f = call(&mut sim, 1, c, RequestCode::SEND_MESSAGE_V2, &h.v2(), b"tx");
    assert_eq!(f.code, 0);
    let half_offset = OffsetMsgId::parse(f.field("msgId"))
        .unwrap()
        .commit_log_offset;
    assert!(sim.messages("broker-a", "T", 0).is_empty(), "invisible");
    assert_eq!(sim.pending_half_messages("broker-a").len(), 1);

    // The broker asks the producer group.
    assert_eq!(sim.check_transaction_state(2, A, half_offset), Some(c));
    let check = decode(&sim.poll_recv(c).unwrap());
    assert_eq!(check.code, RequestCode::CHECK_TRANSACTION_STATE.0);
    assert!(check.oneway);
    assert_eq!(check.field("msgId"), "TX1");
    assert_eq!(check.field_i64("commitLogOffset"), half_offset);
    let body = RecordIter::new(&check.body).next().unwrap().unwrap();
    assert_eq!((body.topic, body.queue_id), ("T", 0));

    let end = EndTransactionRequest {
        producer_group: "PG".into(),
        tran_state_table_offset: f.field_i64("queueOffset"),
        commit_log_offset: half_offset,
        commit_or_rollback: TransactionResolution::Commit,
        from_transaction_check: Some(true),
        msg_id: "TX1".into(),
        transaction_id: Some("TX1".into()),
        topic: Some("T".into()),
        broker_name: None,
    };
    sim.send(
        3,
        c,
        &frame(
            Header::request(RequestCode::END_TRANSACTION, 5).oneway(),
            &end,
            b"",
        ),
    )
    .unwrap();
    assert!(sim.poll_recv(c).is_none(), "oneway");
    let committed = sim.messages("broker-a", "T", 0)[0].view();
    assert_eq!(committed.body, b"tx");
    assert_eq!(committed.prepared_transaction_offset, half_offset);
    assert_eq!(
        committed.sys_flag.0 & MessageSysFlag::TRANSACTION_MASK,
        MessageSysFlag::TRANSACTION_COMMIT_TYPE
    );
    assert_eq!(committed.properties.get(keys::TRAN_MSG), None);
    assert!(sim.pending_half_messages("broker-a").is_empty());
}

#[test]
fn queue_locks_expire_after_60_seconds() {
    let mut sim = sim();
    let c = sim.connect(0, A).unwrap();
    let lock = |client: &'static str| {
        let mut b = LockBatchRequestBody::<Growable>::new("G".into(), client.into());
        b.mq_set = vec![
            MessageQueue::new("T", "broker-a", 0),
            MessageQueue::new("T", "broker-a", 1),
        ];
        b.to_vec()
    };
    let f = call(
        &mut sim,
        0,
        c,
        RequestCode::LOCK_BATCH_MQ,
        &EmptyFields,
        &lock("a"),
    );
    assert_eq!(
        LockBatchResponseBody::<Growable>::decode(&f.body)
            .unwrap()
            .lock_ok_mq_set
            .len(),
        2
    );
    let f = call(
        &mut sim,
        1,
        c,
        RequestCode::LOCK_BATCH_MQ,
        &EmptyFields,
        &lock("b"),
    );
    assert!(LockBatchResponseBody::<Growable>::decode(&f.body)
        .unwrap()
        .lock_ok_mq_set
        .is_empty());
    assert_eq!(sim.locks("broker-a").len(), 2);
    let f = call(
        &mut sim,
        60_001,
        c,
        RequestCode::LOCK_BATCH_MQ,
        &EmptyFields,
        &lock("b"),
    );
    assert_eq!(
        LockBatchResponseBody::<Growable>::decode(&f.body)
            .unwrap()
            .lock_ok_mq_set
            .len(),
        2
    );
    assert_eq!(sim.locks("broker-a")[0].client_id, "b");
    call(
        &mut sim,
        60_002,
        c,
        RequestCode::UNLOCK_BATCH_MQ,
        &EmptyFields,
        &lock("b"),
    );
    assert!(sim.locks("broker-a").is_empty());
}

#[test]
fn server_initiated_requests_and_client_replies() {
    let mut sim = sim();
    let c = sim.connect(0, A).unwrap();
    heartbeat(&mut sim, 0, c, "c@1");
    let (conn, opaque) = sim.get_consumer_running_info(1, A, "G", "c@1").unwrap();
    assert_eq!(conn, c);
    let req = decode(&sim.poll_recv(c).unwrap());
    assert_eq!(
        (req.code, req.opaque, req.response),
        (RequestCode::GET_CONSUMER_RUNNING_INFO.0, opaque, false)
    );
    assert_eq!(req.field("clientId"), "c@1");
    let reply = frame(
        Header::response(ResponseCode::SUCCESS, opaque),
        &NoFields,
        b"{\"properties\":{}}",
    );
    sim.send(2, c, &reply).unwrap();
    let r = sim.client_reply(c, opaque).unwrap();
    assert_eq!(
        (r.code, r.body.as_slice()),
        (ResponseCode::SUCCESS, &b"{\"properties\":{}}"[..])
    );

    let sent = sim.reset_consumer_client_offset(3, A, "G", "T", 0, &[(0, 5), (1, 7)]);
    assert_eq!(sent, [c]);
    let reset = decode(&sim.poll_recv(c).unwrap());
    assert_eq!(reset.code, RequestCode::RESET_CONSUMER_CLIENT_OFFSET.0);
    let body = ResetOffsetBody::<Growable>::decode(&reset.body).unwrap();
    assert_eq!(
        body.offset_of(&MessageQueue::new("T", "broker-a", 1)),
        Some(7)
    );
}

#[test]
fn silent_channels_expire() {
    let mut sim = sim();
    let c = sim.connect(0, A).unwrap();
    heartbeat(&mut sim, 0, c, "c@1");
    assert_eq!(sim.poll_timeout(), Some(120_000));
    sim.handle_timeout(120_000);
    assert_eq!(sim.poll_closed(), Some(c));
    assert!(sim.consumer_ids(A, "G").is_empty());
}
