//! The engine's producer path, scripted frame by frame with the codec as the peer:
//! route lookup, TBW102 fallback, send, retry on another broker, timeouts, connection
//! loss, oneway — and the guarantee that every send ends exactly once.

use rocketmq_proto::codes::{RequestCode, ResponseCode, SerializeType};
use rocketmq_proto::collections::{Fixed, Tailored};
use rocketmq_proto::command::{Command, CommandEncoder, Header};
use rocketmq_proto::engine::client::{
    Client, Config, Event, Message, SendError, SendId, DEFAULT_TOPIC,
};
use rocketmq_proto::engine::client_id::{ClientId, InstanceName};
use rocketmq_proto::engine::{ConnId, Instant};
use rocketmq_proto::ext::NoFields;
use rocketmq_proto::frame::{Decoded, FrameDecoder};
use rocketmq_proto::header::{GetRouteInfoRequest, SendMessageRequest};
use rocketmq_proto::message::properties::PropertiesView;
use rocketmq_proto::message::UniqKeyGenerator;
use rocketmq_proto::producer::retry::{SendMode, SendStatus};

type TestClient = Client<Fixed<16>, heapless::Vec<u8, 1024>, 64>;
/// The test client with `N` requests in flight.
type Sized<const N: usize> = Client<Fixed<16>, heapless::Vec<u8, 1024>, N>;

const NS: &str = "127.0.0.1:9876";

/// The tests' engine settings (Java's defaults) and message id generator.
fn test_config() -> (Config, UniqKeyGenerator) {
    let id = ClientId::build(
        "127.0.0.1",
        InstanceName::Process { pid: 7, nonce: 1 },
        None,
    )
    .unwrap();
    let uniq = UniqKeyGenerator::new("127.0.0.1".parse().unwrap(), 7, 0x2A3B4C5D);
    (Config::new(id), uniq)
}

fn client(now: u64) -> TestClient {
    let (config, uniq) = test_config();
    let mut c = TestClient::new(config, uniq, 42, Instant::from_millis(now));
    c.set_namesrv(NS).unwrap();
    c.register_producer("PG").unwrap();
    c
}

/// One frame the client wrote.
struct Sent {
    conn: ConnId,
    bytes: Vec<u8>,
}

impl Sent {
    fn command(&self) -> Command<'_> {
        let Decoded::Frame { frame, consumed } = FrameDecoder::new().decode(&self.bytes).unwrap()
        else {
            panic!("incomplete frame")
        };
        assert_eq!(consumed, self.bytes.len());
        Command::decode(frame).unwrap()
    }
}

/// Drain, answering the heartbeats the engine sends on every broker connection
/// (behaviour.md §1.9) the way a broker does: the scripted exchanges below are about
/// the other frames.
fn drain<const N: usize>(c: &mut Sized<N>, now: u64) -> (Vec<Sent>, Vec<Event>) {
    let (mut all_sent, mut all_events) = (Vec::new(), Vec::new());
    loop {
        let (sent, events) = drain_all(c, now);
        all_events.extend(events);
        let mut answered = false;
        for s in sent {
            let cmd = s.command();
            if cmd.header.request_code() == RequestCode::HEART_BEAT {
                let r = response(cmd.header.opaque, ResponseCode::SUCCESS, &[], b"");
                c.handle_input(Instant::from_millis(now), s.conn, &r)
                    .unwrap();
                answered = true;
            } else {
                all_sent.push(s);
            }
        }
        if !answered {
            return (all_sent, all_events);
        }
    }
}

fn drain_all<const N: usize>(c: &mut Sized<N>, now: u64) -> (Vec<Sent>, Vec<Event>) {
    let mut sent = Vec::new();
    let mut buf = vec![0u8; 4096];
    while let Some(t) = c
        .poll_transmit(Instant::from_millis(now), &mut buf)
        .unwrap()
    {
        sent.push(Sent {
            conn: t.conn,
            bytes: buf[..t.len].to_vec(),
        });
    }
    let mut events = Vec::new();
    while let Some(e) = c.poll_event() {
        events.push(e);
    }
    (sent, events)
}

/// Drain like an adapter that opens every connection at once: Connect events are
/// answered with `handle_connected` and draining repeats until nothing moves.
fn settle<const N: usize>(c: &mut Sized<N>, now: u64) -> (Vec<Sent>, Vec<Event>) {
    let (mut all_sent, mut all_events) = (Vec::new(), Vec::new());
    loop {
        let (sent, events) = drain(c, now);
        let opened = connects(&events);
        let quiet = sent.is_empty() && opened.is_empty();
        for (conn, _) in &opened {
            c.handle_connected(Instant::from_millis(now), *conn);
        }
        all_sent.extend(sent);
        all_events.extend(
            events
                .into_iter()
                .filter(|e| !matches!(e, Event::Connect { .. })),
        );
        if quiet {
            return (all_sent, all_events);
        }
    }
}

fn connects(events: &[Event]) -> Vec<(ConnId, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Connect { conn, addr } => Some((*conn, addr.to_string())),
            _ => None,
        })
        .collect()
}

fn response(opaque: i32, code: ResponseCode, fields: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let enc = CommandEncoder::new(SerializeType::Json);
    let h = Header::response(code, opaque);
    let mut out = vec![0u8; enc.frame_len(&h, fields, body).unwrap()];
    let n = if fields.is_empty() {
        enc.encode(&mut out, &h, &NoFields, body).unwrap()
    } else {
        enc.encode(&mut out, &h, fields, body).unwrap()
    };
    out.truncate(n);
    out
}

fn route_body(brokers: &[(&str, &str)], queues: i32) -> Vec<u8> {
    let bd: Vec<String> = brokers
        .iter()
        .map(|(name, addr)| {
            format!(r#"{{"brokerAddrs":{{0:"{addr}"}},"brokerName":"{name}","cluster":"DefaultCluster"}}"#)
        })
        .collect();
    let qd: Vec<String> = brokers
        .iter()
        .map(|(name, _)| {
            format!(r#"{{"brokerName":"{name}","perm":6,"readQueueNums":{queues},"topicSysFlag":0,"writeQueueNums":{queues}}}"#)
        })
        .collect();
    format!(
        r#"{{"brokerDatas":[{}],"filterServerTable":{{}},"queueDatas":[{}]}}"#,
        bd.join(","),
        qd.join(",")
    )
    .into_bytes()
}

fn send_ok(opaque: i32, queue: &str, offset: &str) -> Vec<u8> {
    response(
        opaque,
        ResponseCode::SUCCESS,
        &[
            ("msgId", "7F00000100002A9F0000000000001000"),
            ("queueId", queue),
            ("queueOffset", offset),
        ],
        b"",
    )
}

fn feed<const N: usize>(c: &mut Sized<N>, now: u64, conn: ConnId, bytes: &[u8]) {
    let used = c
        .handle_input(Instant::from_millis(now), conn, bytes)
        .unwrap();
    assert_eq!(used, bytes.len());
}

/// Start a send and answer the route lookup with `brokers`; returns the broker
/// connections opened, by address.
fn send_through_route<const N: usize>(
    c: &mut Sized<N>,
    now: u64,
    brokers: &[(&str, &str)],
) -> (SendId, Vec<(ConnId, String)>) {
    let msg = Message {
        tags: Some("TagA"),
        keys: Some("k1"),
        ..Message::new("TopicTest", b"hello")
    };
    send_msg_through_route(c, now, brokers, &msg)
}

/// Send `msg` and serve its route lookup; the send and the brokers to connect to.
fn send_msg_through_route<const N: usize>(
    c: &mut Sized<N>,
    now: u64,
    brokers: &[(&str, &str)],
    msg: &Message<'_>,
) -> (SendId, Vec<(ConnId, String)>) {
    let id = c
        .send(
            Instant::from_millis(now),
            1_700_000_000_000,
            msg,
            SendMode::Sync,
        )
        .unwrap();
    let (sent, events) = drain(c, now);
    assert!(
        sent.is_empty(),
        "nothing is written before the connection opens"
    );
    let ns = connects(&events);
    assert_eq!(ns.len(), 1);
    assert_eq!(ns[0].1, NS);
    c.handle_connected(Instant::from_millis(now), ns[0].0);
    let (sent, _) = drain(c, now);
    assert_eq!(sent.len(), 1);
    let q = sent[0].command();
    assert_eq!(q.header.request_code(), RequestCode::GET_ROUTEINFO_BY_TOPIC);
    let req: GetRouteInfoRequest = q.decode_fields().unwrap();
    assert_eq!(req.topic, "TopicTest");
    feed(
        c,
        now,
        ns[0].0,
        &response(
            q.header.opaque,
            ResponseCode::SUCCESS,
            &[],
            &route_body(brokers, 4),
        ),
    );
    let (sent, events) = drain(c, now);
    assert!(sent.is_empty());
    (id, connects(&events))
}

#[test]
fn sync_send_goes_route_then_broker_and_reports_the_receipt() {
    let mut c = client(0);
    let (id, conns) = send_through_route(&mut c, 0, &[("broker-a", "127.0.0.1:10911")]);
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].1, "127.0.0.1:10911");
    c.handle_connected(Instant::from_millis(1), conns[0].0);
    let (sent, _) = drain(&mut c, 1);
    assert_eq!(sent.len(), 1);
    let cmd = sent[0].command();
    assert_eq!(cmd.header.request_code(), RequestCode::SEND_MESSAGE_V2);
    assert!(!cmd.header.is_oneway());
    let req = SendMessageRequest::decode_v2(&cmd.fields()).unwrap();
    assert_eq!(req.producer_group, "PG");
    assert_eq!(req.topic, "TopicTest");
    assert_eq!(req.default_topic, DEFAULT_TOPIC);
    assert_eq!(req.born_timestamp, 1_700_000_000_000);
    assert_eq!(req.broker_name.unwrap(), "broker-a");
    assert!((0..4).contains(&req.queue_id));
    let mut scratch = [0u8; 512];
    let props = PropertiesView::from_text(&req.properties.unwrap(), &mut scratch).unwrap();
    assert_eq!(props.get("TAGS"), Some("TagA"));
    assert_eq!(props.get("KEYS"), Some("k1"));
    assert_eq!(props.get("WAIT"), Some("true"));
    let uniq = props.get("UNIQ_KEY").unwrap().to_string();
    assert_eq!(uniq.len(), 32);
    assert_eq!(cmd.body, b"hello");

    feed(
        &mut c,
        2,
        conns[0].0,
        &send_ok(cmd.header.opaque, "2", "41"),
    );
    let (_, events) = drain(&mut c, 2);
    match &events[..] {
        [Event::SendOk { id: got, receipt }] => {
            assert_eq!(*got, id);
            assert_eq!(receipt.status, SendStatus::SendOk);
            assert_eq!(receipt.msg_id.as_str(), uniq);
            assert_eq!(
                receipt.offset_msg_id.as_str(),
                "7F00000100002A9F0000000000001000"
            );
            assert_eq!(receipt.queue_id, 2);
            assert_eq!(receipt.queue_offset, 41);
            assert_eq!(receipt.broker_name.as_str(), "broker-a");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.pending_sends(), 0);
    assert_eq!(c.in_flight(), 0);
}

/// A JSON engine keeps a send's properties JSON-escaped (its header then copies them),
/// and a binary one keeps them as they are: either way the frame is byte for byte what
/// the codec writes for the same header carrying the properties string itself,
/// including properties whose names and values hold bytes JSON escapes, and a message
/// that fills the send's bounded buffer (1,024 bytes here) with the string itself,
/// where the escaped form would not fit: it is kept as it is and sent all the same.
#[test]
fn a_send_frame_is_what_the_codec_writes_for_the_properties_string() {
    let user = [("quote\"d", "back\\slash\ttab"), ("é", "😀\u{7f}")];
    let small = Message {
        tags: Some("TagA"),
        keys: Some("k1 k2"),
        properties: &user,
        ..Message::new("TopicTest", b"hello")
    };
    // TAGS, WAIT and UNIQ_KEY (32 hex digits): 62 bytes unescaped, 92 escaped.
    let filling = vec![b'x'; 1024 - 62];
    let full = Message {
        tags: Some("TagA"),
        ..Message::new("TopicTest", &filling)
    };
    for (ser, msg) in [SerializeType::Json, SerializeType::RocketMq]
        .into_iter()
        .flat_map(|ser| [(ser, &small), (ser, &full)])
    {
        let (mut config, uniq) = test_config();
        config.serialize_type = ser;
        let mut c = TestClient::new(config, uniq, 42, Instant::from_millis(0));
        c.set_namesrv(NS).unwrap();
        c.register_producer("PG").unwrap();
        let (_, conns) = send_msg_through_route(&mut c, 0, &[("broker-a", "127.0.0.1:10911")], msg);
        c.handle_connected(Instant::from_millis(1), conns[0].0);
        let (sent, _) = drain(&mut c, 1);
        assert_eq!(sent.len(), 1);
        let cmd = sent[0].command();
        let req = SendMessageRequest::decode_v2(&cmd.fields()).unwrap();
        let mut scratch = [0u8; 512];
        let props = req.properties.unwrap().decode_into(&mut scratch).unwrap();
        let view = PropertiesView::new(props);
        assert_eq!(view.get("TAGS"), Some("TagA"));
        if msg.body == b"hello" {
            assert_eq!(view.get("quote\"d"), Some("back\\slash\ttab"));
            assert_eq!(view.get("é"), Some("😀\u{7f}"));
            assert_eq!(view.get("KEYS"), Some("k1 k2"));
        } else {
            assert_eq!(props.len(), 62);
            assert_eq!(cmd.body, &filling[..]);
        }
        let plain = SendMessageRequest {
            properties: Some(props.into()),
            ..req
        };
        let enc = CommandEncoder::new(ser);
        let mut buf = vec![0u8; 2048];
        let n = enc
            .encode(&mut buf, &cmd.header, &plain.v2(), cmd.body)
            .unwrap();
        assert_eq!(&buf[..n], &sent[0].bytes[..], "{ser:?}");
    }
}

#[test]
fn retryable_error_retries_on_the_other_broker_with_the_same_uniq_key() {
    let mut c = client(0);
    let (id, conns) = send_through_route(
        &mut c,
        0,
        &[
            ("broker-a", "127.0.0.1:10911"),
            ("broker-b", "127.0.0.1:20911"),
        ],
    );
    for (conn, _) in &conns {
        c.handle_connected(Instant::from_millis(1), *conn);
    }
    let (sent, _) = drain(&mut c, 1);
    let first = sent[0].command();
    let first_req = SendMessageRequest::decode_v2(&first.fields()).unwrap();
    let first_broker = first_req.broker_name.unwrap().to_string();
    let first_props = first_req.properties.unwrap().to_string();
    feed(
        &mut c,
        2,
        sent[0].conn,
        &response(first.header.opaque, ResponseCode::SYSTEM_BUSY, &[], b""),
    );
    let (sent2, events) = settle(&mut c, 2);
    assert!(events
        .iter()
        .all(|e| !matches!(e, Event::SendOk { .. } | Event::SendFailed { .. })));
    let retry = sent2[0].command();
    let retry_req = SendMessageRequest::decode_v2(&retry.fields()).unwrap();
    assert_ne!(
        retry_req.broker_name.unwrap().to_string(),
        first_broker,
        "moved to the other broker"
    );
    assert_eq!(
        retry_req.properties.unwrap().to_string(),
        first_props,
        "same UNIQ_KEY"
    );
    feed(
        &mut c,
        3,
        sent2[0].conn,
        &send_ok(retry.header.opaque, "0", "7"),
    );
    let (_, events) = drain(&mut c, 3);
    assert!(matches!(&events[..], [Event::SendOk { id: got, .. }] if *got == id));
}

#[test]
fn non_retryable_error_fails_at_once_with_code_remark_and_broker() {
    let mut c = client(0);
    let (id, conns) = send_through_route(&mut c, 0, &[("broker-a", "127.0.0.1:10911")]);
    c.handle_connected(Instant::from_millis(1), conns[0].0);
    let (sent, _) = drain(&mut c, 1);
    let cmd = sent[0].command();
    let mut resp = Header::response(ResponseCode::MESSAGE_ILLEGAL, cmd.header.opaque);
    resp = resp.with_remark("the message is illegal");
    let enc = CommandEncoder::new(SerializeType::Json);
    let mut out = vec![0u8; 256];
    let n = enc.encode(&mut out, &resp, &NoFields, b"").unwrap();
    feed(&mut c, 2, conns[0].0, &out[..n]);
    let (sent, events) = drain(&mut c, 2);
    assert!(sent.is_empty(), "no retry");
    match &events[..] {
        [Event::SendFailed {
            id: got,
            error:
                SendError::Broker {
                    code,
                    remark,
                    broker_name,
                },
        }] => {
            assert_eq!(*got, id);
            assert_eq!(*code, ResponseCode::MESSAGE_ILLEGAL);
            assert_eq!(remark.as_str(), "the message is illegal");
            assert_eq!(broker_name.as_str(), "broker-a");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_lost_connection_retries_and_the_total_deadline_ends_the_send() {
    let mut c = client(0);
    let (id, conns) = send_through_route(
        &mut c,
        0,
        &[
            ("broker-a", "127.0.0.1:10911"),
            ("broker-b", "127.0.0.1:20911"),
        ],
    );
    for (conn, _) in &conns {
        c.handle_connected(Instant::from_millis(1), *conn);
    }
    let (sent, _) = drain(&mut c, 1);
    // The first attempt's connection drops: retried on the other broker.
    c.handle_closed(Instant::from_millis(100), sent[0].conn);
    let (sent2, events) = settle(&mut c, 100);
    assert!(events
        .iter()
        .all(|e| !matches!(e, Event::SendFailed { .. })));
    assert_eq!(sent2.len(), 1);
    assert_ne!(sent2[0].conn, sent[0].conn);
    // The retry is black-holed: at the 3 s total deadline the send ends, exactly once.
    assert_eq!(
        c.poll_timeout(),
        Some(Instant::from_millis(1_000)).min(c.poll_timeout())
    );
    let mut ended = 0;
    for now in (100..=3_500).step_by(100) {
        c.handle_timeout(Instant::from_millis(now));
        let (_, events) = drain(&mut c, now);
        for e in events {
            if let Event::SendFailed { id: got, .. } = e {
                assert_eq!(got, id);
                assert!(now >= 3_000, "ended at {now}");
                ended += 1;
            }
        }
    }
    assert_eq!(ended, 1);
    assert_eq!(c.pending_sends(), 0);
}

#[test]
fn unknown_topic_borrows_the_default_topic_route() {
    let mut c = client(0);
    let msg = Message::new("NewTopic", b"x");
    let id = c
        .send(Instant::from_millis(0), 0, &msg, SendMode::Sync)
        .unwrap();
    let (_, events) = drain(&mut c, 0);
    let ns = connects(&events)[0].0;
    c.handle_connected(Instant::from_millis(0), ns);
    let (sent, _) = drain(&mut c, 0);
    let q = sent[0].command();
    feed(
        &mut c,
        1,
        ns,
        &response(q.header.opaque, ResponseCode::TOPIC_NOT_EXIST, &[], b""),
    );
    let (sent, _) = drain(&mut c, 1);
    let q2 = sent[0].command();
    let req: GetRouteInfoRequest = q2.decode_fields().unwrap();
    assert_eq!(req.topic, DEFAULT_TOPIC);
    // TBW102 has 8 queues on broker-a: the borrowed route is clipped to 4.
    feed(
        &mut c,
        2,
        ns,
        &response(
            q2.header.opaque,
            ResponseCode::SUCCESS,
            &[],
            &route_body(&[("broker-a", "127.0.0.1:10911")], 8),
        ),
    );
    let (_, events) = drain(&mut c, 2);
    let b = connects(&events)[0].0;
    c.handle_connected(Instant::from_millis(2), b);
    let (sent, _) = drain(&mut c, 2);
    let send = SendMessageRequest::decode_v2(&sent[0].command().fields()).unwrap();
    assert_eq!(send.topic, "NewTopic");
    assert!(send.queue_id < 4);
    feed(
        &mut c,
        3,
        b,
        &send_ok(sent[0].command().header.opaque, "1", "0"),
    );
    let (_, events) = drain(&mut c, 3);
    assert!(matches!(&events[..], [Event::SendOk { id: got, .. }] if *got == id));

    // No route at all (TBW102 missing too): the send fails with NoRoute.
    let id2 = c
        .send(
            Instant::from_millis(10),
            0,
            &Message::new("Other", b"y"),
            SendMode::Sync,
        )
        .unwrap();
    let (sent, _) = drain(&mut c, 10);
    let q = sent[0].command();
    feed(
        &mut c,
        11,
        ns,
        &response(q.header.opaque, ResponseCode::TOPIC_NOT_EXIST, &[], b""),
    );
    let (sent, _) = drain(&mut c, 11);
    let q = sent[0].command();
    feed(
        &mut c,
        12,
        ns,
        &response(q.header.opaque, ResponseCode::TOPIC_NOT_EXIST, &[], b""),
    );
    let (_, events) = drain(&mut c, 12);
    assert!(
        matches!(&events[..], [Event::SendFailed { id: got, error: SendError::NoRoute }] if *got == id2),
        "{events:?}"
    );
}

#[test]
fn oneway_send_ends_when_written_and_expects_no_answer() {
    let mut c = client(0);
    let (_, conns) = send_through_route(&mut c, 0, &[("broker-a", "127.0.0.1:10911")]);
    c.handle_connected(Instant::from_millis(1), conns[0].0);
    let (sent, _) = drain(&mut c, 1);
    feed(
        &mut c,
        1,
        conns[0].0,
        &send_ok(sent[0].command().header.opaque, "0", "0"),
    );
    let (_, events) = drain(&mut c, 1);
    assert!(matches!(&events[..], [Event::SendOk { .. }]));
    let id = c
        .send(
            Instant::from_millis(5),
            0,
            &Message::new("TopicTest", b"z"),
            SendMode::Oneway,
        )
        .unwrap();
    let (sent, events) = drain(&mut c, 5);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].command().header.is_oneway());
    assert!(matches!(&events[..], [Event::SendOk { id: got, .. }] if *got == id));
    assert_eq!(c.in_flight(), 0);
}

/// The code the client answers a broker's request `code` (opaque 77) with.
fn answer_to_broker_request(code: RequestCode, fields: &[(&str, &str)]) -> ResponseCode {
    let mut c = client(0);
    let (_, conns) = send_through_route(&mut c, 0, &[("broker-a", "127.0.0.1:10911")]);
    c.handle_connected(Instant::from_millis(1), conns[0].0);
    let _ = drain(&mut c, 1);
    let enc = CommandEncoder::new(SerializeType::Json);
    let mut out = vec![0u8; 256];
    let n = enc
        .encode(&mut out, &Header::request(code, 77), &fields, b"")
        .unwrap();
    feed(&mut c, 2, conns[0].0, &out[..n]);
    let (sent, _) = drain(&mut c, 2);
    let r = sent[0].command();
    assert!(r.header.is_response());
    assert_eq!(r.header.opaque, 77);
    r.header.response_code()
}

#[test]
fn unknown_broker_requests_get_request_code_not_supported() {
    assert_eq!(
        answer_to_broker_request(RequestCode(9999), &[]),
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED
    );
}

/// The broker's admin requests are handled with the `admin` feature (here: refused
/// as for a group this producer-only client does not have) and, without it, answered
/// as requests the client does not know.
#[test]
fn admin_requests_are_handled_only_with_the_admin_feature() {
    let expected = if cfg!(feature = "admin") {
        ResponseCode::SYSTEM_ERROR
    } else {
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED
    };
    let group = [("consumerGroup", "CG"), ("clientId", "x")];
    for code in [
        RequestCode::GET_CONSUMER_RUNNING_INFO,
        RequestCode::CONSUME_MESSAGE_DIRECTLY,
    ] {
        assert_eq!(answer_to_broker_request(code, &group), expected, "{code:?}");
    }
}

/// Orderly consumption needs the `orderly` feature (its broker locks); without it an
/// orderly subscription is refused, never run without locks.
#[test]
fn an_orderly_subscription_needs_the_orderly_feature() {
    use rocketmq_proto::engine::client::{CallError, ConsumerConfig};
    let mut c = client(0);
    let got = c.subscribe(
        Instant::from_millis(0),
        0,
        &ConsumerConfig::orderly("CG"),
        "TopicTest",
        "*",
    );
    if cfg!(feature = "orderly") {
        assert_eq!(got, Ok(()));
    } else {
        assert_eq!(got, Err(CallError::Unsupported("orderly")));
        // A concurrent subscription is unaffected.
        let concurrent = ConsumerConfig::new("CG");
        assert_eq!(
            c.subscribe(Instant::from_millis(0), 0, &concurrent, "TopicTest", "*"),
            Ok(())
        );
    }
}

#[test]
fn heartbeats_reach_masters_and_bad_frames_close_the_connection() {
    let mut c = client(0);
    let (_, conns) = send_through_route(&mut c, 0, &[("broker-a", "127.0.0.1:10911")]);
    c.handle_connected(Instant::from_millis(1), conns[0].0);
    let _ = drain(&mut c, 1);
    c.handle_timeout(Instant::from_millis(1_000));
    let (sent, _) = drain_all(&mut c, 1_000);
    let hb = sent
        .iter()
        .find(|s| s.command().header.request_code() == RequestCode::HEART_BEAT)
        .expect("a heartbeat");
    assert_eq!(hb.conn, conns[0].0);
    let cmd = hb.command();
    let body = rocketmq_proto::body::HeartbeatData::<Fixed<4>>::decode(cmd.body).unwrap();
    assert_eq!(body.client_id, "127.0.0.1@7#1");
    assert_eq!(body.producer_data_set.len(), 1);
    assert_eq!(body.producer_data_set[0].group_name, "PG");

    // A malformed frame: typed error, Close event, requests on it end (the heartbeat;
    // the route refresh on the NameServer connection stays in flight).
    let before = c.in_flight();
    let r = c.handle_input(Instant::from_millis(1_001), conns[0].0, &[0, 0, 0, 1]);
    assert!(r.is_err());
    let (_, events) = drain(&mut c, 1_001);
    assert!(events.contains(&Event::Close { conn: conns[0].0 }));
    assert_eq!(c.in_flight(), before - 1);
}

#[test]
fn a_retry_stuck_on_a_connection_that_never_opens_still_ends_at_the_deadline() {
    let mut c = client(0);
    let (id, conns) = send_through_route(
        &mut c,
        0,
        &[
            ("broker-a", "127.0.0.1:10911"),
            ("broker-b", "127.0.0.1:20911"),
        ],
    );
    c.handle_connected(Instant::from_millis(1), conns[0].0);
    let (sent, _) = drain(&mut c, 1);
    assert_eq!(sent.len(), 1);
    c.handle_closed(Instant::from_millis(100), sent[0].conn);
    // The retry asks for a connection to the other broker, which never opens.
    let (sent2, events) = drain(&mut c, 100);
    assert!(sent2.is_empty());
    assert_eq!(connects(&events).len(), 1);
    let mut ended = Vec::new();
    let mut now = 100;
    while now <= 4_000 {
        let next = c.poll_timeout().unwrap().as_millis().max(now + 1);
        now = next;
        c.handle_timeout(Instant::from_millis(now));
        let (_, events) = drain(&mut c, now);
        for e in events {
            if let Event::SendFailed { id: got, error } = e {
                ended.push((got, now, error));
            }
        }
    }
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0].0, id);
    assert!(ended[0].1 >= 3_000 && ended[0].1 < 3_100, "{ended:?}");
}

#[test]
fn outcomes_are_never_lost_when_many_sends_end_at_once() {
    // Regression (found by the engine fuzz target): outcomes used to sit in a bounded
    // event queue next to Connect events and were dropped when it was full. Fill every
    // send slot, let all of them end in one handle_timeout, and count.
    let mut c = client(0);
    let mut ids = Vec::new();
    // Until the sends table is full (back-pressure).
    while let Ok(id) = c.send(
        Instant::from_millis(0),
        0,
        &Message::new("TopicTest", b"x"),
        SendMode::Sync,
    ) {
        ids.push(id);
    }
    assert_eq!(ids.len(), 16);
    // The NameServer connection is requested but never opens.
    c.handle_timeout(Instant::from_millis(5_000));
    let (_, events) = drain(&mut c, 5_000);
    let mut failed: Vec<SendId> = events
        .iter()
        .filter_map(|e| match e {
            Event::SendFailed { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    failed.sort();
    assert_eq!(failed, ids, "every send ends exactly once, in order");
    assert_eq!(c.pending_sends(), 0);
}

#[test]
fn a_route_with_absurd_queue_counts_is_cut_at_capacity_not_iterated() {
    // A broken or hostile NameServer announces 2^31 - 1 queues: the engine must stay
    // responsive (the table is filled to capacity, the rest ignored) and still send.
    let mut c = client(0);
    let id = c
        .send(
            Instant::from_millis(0),
            0,
            &Message::new("TopicTest", b"x"),
            SendMode::Sync,
        )
        .unwrap();
    let (_, events) = drain(&mut c, 0);
    let ns = connects(&events)[0].0;
    c.handle_connected(Instant::from_millis(0), ns);
    let (sent, _) = drain(&mut c, 0);
    let q = sent[0].command();
    let body = route_body(&[("broker-a", "127.0.0.1:10911")], i32::MAX);
    let started = std::time::Instant::now();
    feed(
        &mut c,
        1,
        ns,
        &response(q.header.opaque, ResponseCode::SUCCESS, &[], &body),
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "not iterated to 2^31"
    );
    let (_, events) = drain(&mut c, 1);
    let b = connects(&events)[0].0;
    c.handle_connected(Instant::from_millis(1), b);
    let (sent, _) = drain(&mut c, 1);
    let send = SendMessageRequest::decode_v2(&sent[0].command().fields()).unwrap();
    assert!(send.queue_id < 16, "one of the queues kept");
    feed(
        &mut c,
        2,
        b,
        &send_ok(sent[0].command().header.opaque, "0", "0"),
    );
    let (_, events) = drain(&mut c, 2);
    assert!(matches!(&events[..], [Event::SendOk { id: got, .. }] if *got == id));
}

#[test]
fn delay_level_and_deliver_time_travel_as_java_properties() {
    let mut c = client(0);
    let msg = Message {
        delay_level: Some(3),
        deliver_at_ms: Some(1_700_000_060_000),
        properties: &[("region", "eu")],
        ..Message::new("TopicTest", b"later")
    };
    let (_, conns) = send_msg_through_route(&mut c, 0, &[("broker-a", "127.0.0.1:10911")], &msg);
    c.handle_connected(Instant::from_millis(1), conns[0].0);
    let (sent, _) = drain(&mut c, 1);
    let cmd = sent[0].command();
    let req = SendMessageRequest::decode_v2(&cmd.fields()).unwrap();
    let mut scratch = [0u8; 512];
    let props = PropertiesView::from_text(&req.properties.unwrap(), &mut scratch).unwrap();
    assert_eq!(props.get("DELAY"), Some("3"));
    assert_eq!(props.get("TIMER_DELIVER_MS"), Some("1700000060000"));
    assert_eq!(props.get("region"), Some("eu"));
    // A batch cannot carry either (Java refuses delayed batches).
    let batch = [msg, Message::new("TopicTest", b"x")];
    assert!(c
        .send_batch(Instant::from_millis(2), 1_700_000_000_000, &batch)
        .is_err());
}

#[test]
fn a_call_goes_to_its_target_and_its_response_is_read_back() {
    use rocketmq_proto::engine::client::{CallFailure, CallTarget};
    use rocketmq_proto::engine::Millis;
    use rocketmq_proto::header::{TopicFilterType, UpdateAndCreateTopicRequest};
    let mut c = client(0);
    let req = UpdateAndCreateTopicRequest {
        topic: "T1".into(),
        default_topic: "TBW102".into(),
        read_queue_nums: 8,
        write_queue_nums: 8,
        perm: 6,
        topic_filter_type: TopicFilterType::SingleTag,
        topic_sys_flag: None,
        order: false,
        attributes: None,
        force: None,
    };
    let id = c
        .call(
            Instant::from_millis(0),
            CallTarget::Address("127.0.0.1:10911"),
            RequestCode::UPDATE_AND_CREATE_TOPIC,
            &req,
            b"",
            Millis(3_000),
        )
        .unwrap();
    let (sent, events) = settle(&mut c, 0);
    assert!(events.is_empty(), "{events:?}");
    let call = sent
        .iter()
        .find(|s| s.command().header.request_code() == RequestCode::UPDATE_AND_CREATE_TOPIC)
        .expect("the call was written");
    let cmd = call.command();
    // Exactly the typed header's fields, as Java writes them.
    let got: UpdateAndCreateTopicRequest<'_> = cmd.decode_fields().unwrap();
    assert_eq!(got, req);
    assert_eq!(cmd.fields().get("perm").unwrap(), "6");
    assert_eq!(cmd.fields().get("order").unwrap(), "false");

    feed(
        &mut c,
        5,
        call.conn,
        &response(
            cmd.header.opaque,
            ResponseCode::SUCCESS,
            &[("x", "1")],
            b"done",
        ),
    );
    let (_, events) = drain(&mut c, 5);
    assert!(
        matches!(events[..], [Event::CallDone { id: got }] if got == id),
        "{events:?}"
    );
    let r = c.call_response(id).unwrap().unwrap();
    assert_eq!(r.header.response_code(), ResponseCode::SUCCESS);
    assert_eq!(r.fields().get("x").unwrap(), "1");
    assert_eq!(r.body, b"done");
    c.release_call(id);
    assert!(c.call_response(id).is_none());
    assert_eq!(c.in_flight(), 0);

    // No answer: a timeout at the call's deadline, nothing left in flight.
    let id = c
        .call(
            Instant::from_millis(10),
            CallTarget::NameServer,
            RequestCode::GET_BROKER_CLUSTER_INFO,
            &rocketmq_proto::ext::EmptyFields,
            b"",
            Millis(500),
        )
        .unwrap();
    let (sent, _) = settle(&mut c, 10);
    assert!(sent
        .iter()
        .any(|s| s.command().header.request_code() == RequestCode::GET_BROKER_CLUSTER_INFO));
    assert!(c.poll_timeout().unwrap() <= Instant::from_millis(510));
    c.handle_timeout(Instant::from_millis(510));
    let (_, events) = drain(&mut c, 510);
    assert!(
        matches!(events[..], [Event::CallDone { id: got }] if got == id),
        "{events:?}"
    );
    assert_eq!(
        c.call_response(id).unwrap().unwrap_err(),
        CallFailure::Timeout
    );
    c.release_call(id);
    assert_eq!(c.in_flight(), 0);

    // The connection lost: a transport failure.
    let id = c
        .call(
            Instant::from_millis(600),
            CallTarget::Address("127.0.0.1:10911"),
            RequestCode::GET_BROKER_CLUSTER_INFO,
            &rocketmq_proto::ext::EmptyFields,
            b"",
            Millis(3_000),
        )
        .unwrap();
    let (sent, _) = settle(&mut c, 600);
    let conn = sent.last().unwrap().conn;
    c.handle_closed(Instant::from_millis(601), conn);
    let (_, events) = drain(&mut c, 601);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::CallDone { id: got } if *got == id)),
        "{events:?}"
    );
    assert_eq!(
        c.call_response(id).unwrap().unwrap_err(),
        CallFailure::Transport
    );
}

#[cfg(feature = "acl")]
#[test]
fn with_acl_credentials_every_request_is_signed_and_replies_are_not() {
    use rocketmq_proto::acl::{SessionCredentials, DEFAULT_MAX_SIGNED_FIELDS};
    use rocketmq_proto::engine::client::Credentials;
    let (mut config, uniq) = test_config();
    config.credentials = Some(Credentials::new("rocketmq2", "12345678").unwrap());
    let mut c = TestClient::new(config, uniq, 42, Instant::from_millis(0));
    c.set_namesrv(NS).unwrap();
    c.register_producer("PG").unwrap();

    // A route query, a heartbeat (JSON body streamed through the HMAC), a send (raw
    // body), and a reply to a broker's request.
    let (_, conns) = send_through_route(&mut c, 0, &[("broker-a", "127.0.0.1:10911")]);
    c.handle_connected(Instant::from_millis(1), conns[0].0);
    let request = {
        let enc = CommandEncoder::new(SerializeType::Json);
        let h = Header::request(RequestCode(9999), 77);
        let mut out = vec![0u8; 256];
        let n = enc.encode(&mut out, &h, &NoFields, b"").unwrap();
        out.truncate(n);
        out
    };
    feed(&mut c, 1, conns[0].0, &request);
    let (sent, _) = drain_all(&mut c, 1);
    let mut codes = Vec::new();
    for s in &sent {
        let cmd = s.command();
        let fields = cmd.fields();
        if cmd.header.is_response() {
            assert!(fields.get("Signature").is_none(), "replies are not signed");
            codes.push(-1);
            continue;
        }
        codes.push(cmd.header.code);
        assert_eq!(fields.get("AccessKey").unwrap(), "rocketmq2");
        let signature = fields.get("Signature").expect("signed");
        // What a broker checks: the other fields and the body, signed again.
        let others: Vec<(String, String)> = fields
            .iter()
            .filter(|(k, _)| *k != "Signature")
            .map(|(k, v)| (k.chars().collect::<String>(), v.chars().collect::<String>()))
            .collect();
        let others: Vec<(&str, &str)> = others
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let expected = SessionCredentials::new("rocketmq2", "12345678")
            .signature::<DEFAULT_MAX_SIGNED_FIELDS, _>(&others[..], cmd.body)
            .unwrap();
        assert_eq!(
            expected,
            signature.chars().collect::<String>().as_str(),
            "code {}",
            cmd.header.code
        );
    }
    // Heartbeat (34), send (310) and the reply were all there.
    assert!(
        codes.contains(&34) && codes.contains(&310) && codes.contains(&-1),
        "{codes:?}"
    );
}

/// A client whose first send went through route lookup and broker-a (127.0.0.1:10911)
/// and was answered at 2 ms: the broker connection is open and has been used.
fn client_with_a_broker_connection() -> (TestClient, ConnId) {
    let mut c = client(0);
    let (id, conns) = send_through_route(&mut c, 0, &[("broker-a", "127.0.0.1:10911")]);
    let broker = conns[0].0;
    c.handle_connected(Instant::from_millis(1), broker);
    let (sent, _) = drain(&mut c, 1);
    let send = sent
        .iter()
        .find(|s| s.command().header.request_code() == RequestCode::SEND_MESSAGE_V2)
        .unwrap();
    feed(
        &mut c,
        2,
        broker,
        &send_ok(send.command().header.opaque, "0", "1"),
    );
    let (_, events) = drain(&mut c, 2);
    assert!(matches!(events[..], [Event::SendOk { id: got, .. }] if got == id));
    (c, broker)
}

/// Drive timeouts due at `now` (as an adapter does when `poll_timeout` says so), then
/// drain.
fn tick<const N: usize>(c: &mut Sized<N>, now: u64) -> (Vec<Sent>, Vec<Event>) {
    while c
        .poll_timeout()
        .is_some_and(|t| t <= Instant::from_millis(now))
    {
        c.handle_timeout(Instant::from_millis(now));
        let (sent, events) = drain(c, now);
        if !sent.is_empty() || !events.is_empty() {
            return (sent, events);
        }
    }
    drain(c, now)
}

#[test]
fn failed_connects_back_off_and_a_send_to_the_only_broker_waits_for_the_next_connect() {
    let mut c = client(0);
    let broker = [("broker-a", "127.0.0.1:10911")];
    let (id, conns) = send_through_route(&mut c, 0, &broker);
    assert_eq!(conns.len(), 1);
    // The connect is refused.
    c.handle_closed(Instant::from_millis(1), conns[0].0);
    let (_, mut events) = drain(&mut c, 1);
    // No other broker to fail over to: no new connect while it backs off, and the
    // send waits (within its 3 s deadline) instead of failing at once.
    for _ in 0..5 {
        let (_, more) = tick(&mut c, 1);
        events.extend(more);
    }
    assert!(
        connects(&events).is_empty(),
        "no connect during the back-off: {events:?}"
    );
    assert!(
        !events.iter().any(|e| matches!(e, Event::SendFailed { .. })),
        "{events:?}"
    );
    assert_eq!(c.pending_sends(), 1);

    // 200 ms later the waiting send connects again.
    let (_, events) = tick(&mut c, 201);
    let again = connects(&events);
    assert_eq!(again.len(), 1, "{events:?}");
    // Refused again: the pause doubles to 400 ms.
    c.handle_closed(Instant::from_millis(220), again[0].0);
    let (_, events) = tick(&mut c, 220);
    assert!(connects(&events).is_empty());
    let (_, events) = tick(&mut c, 500);
    assert!(connects(&events).is_empty(), "still backing off at +280 ms");
    let (_, events) = tick(&mut c, 630);
    let third = connects(&events);
    assert_eq!(third.len(), 1, "connects again after 400 ms: {events:?}");
    // The broker is back: the send goes out and succeeds, 630 ms after it began.
    c.handle_connected(Instant::from_millis(631), third[0].0);
    let (sent, _) = drain(&mut c, 631);
    let frame = sent
        .iter()
        .find(|s| s.command().header.request_code() == RequestCode::SEND_MESSAGE_V2)
        .expect("the send is written once connected");
    let opaque = frame.command().header.opaque;
    feed(&mut c, 632, third[0].0, &send_ok(opaque, "1", "7"));
    let (_, events) = drain(&mut c, 632);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::SendOk { id: got, .. } if *got == id)),
        "{events:?}"
    );
    assert_eq!(c.pending_sends(), 0);
    let msg = Message::new("TopicTest", b"again");
    // It opens: the back-off is forgotten, a later failure starts from 200 ms again.
    c.handle_connected(Instant::from_millis(631), third[0].0);
    c.handle_closed(Instant::from_millis(700), third[0].0);
    c.send(Instant::from_millis(701), 0, &msg, SendMode::Sync)
        .unwrap();
    let (_, events) = tick(&mut c, 701);
    assert_eq!(
        connects(&events).len(),
        1,
        "a lost open connection is reconnected at once: {events:?}"
    );
}

#[test]
fn idle_connections_close_and_busy_ones_stay() {
    use rocketmq_proto::engine::client::CONN_IDLE_TIMEOUT;
    let (mut c, broker) = client_with_a_broker_connection();
    // The producer stops sending; heartbeats keep the broker connection busy (every
    // 30 s, answered), so it is not idle.
    let mut now = 2;
    let mut closed = Vec::new();
    while now < 2 * CONN_IDLE_TIMEOUT.0 {
        now += 1_000;
        let (_, events) = tick(&mut c, now);
        closed.extend(events.into_iter().filter_map(|e| match e {
            Event::Close { conn } => Some(conn),
            _ => None,
        }));
    }
    assert!(!closed.contains(&broker), "heartbeats keep it: {closed:?}");

    // A connection used once for a call and never again is closed after 120 s.
    use rocketmq_proto::engine::client::CallTarget;
    use rocketmq_proto::engine::Millis;
    let call = c
        .call(
            Instant::from_millis(now),
            CallTarget::Address("127.0.0.1:20000"),
            RequestCode::GET_BROKER_CLUSTER_INFO,
            &rocketmq_proto::ext::EmptyFields,
            b"",
            Millis(3_000),
        )
        .unwrap();
    let (sent, _) = settle(&mut c, now);
    let other = sent.last().unwrap();
    feed(
        &mut c,
        now,
        other.conn,
        &response(
            other.command().header.opaque,
            ResponseCode::SUCCESS,
            &[],
            b"",
        ),
    );
    let _ = drain(&mut c, now);
    c.release_call(call);
    let opened_at = now;
    let mut closed_at = None;
    while now < opened_at + CONN_IDLE_TIMEOUT.0 + 5_000 && closed_at.is_none() {
        now += 500;
        let (_, events) = tick(&mut c, now);
        if events
            .iter()
            .any(|e| matches!(e, Event::Close { conn } if *conn == other.conn))
        {
            closed_at = Some(now);
        }
    }
    let closed_at = closed_at.expect("the idle connection is closed");
    assert!(closed_at >= opened_at + CONN_IDLE_TIMEOUT.0, "{closed_at}");
    assert!(
        closed_at <= opened_at + CONN_IDLE_TIMEOUT.0 + 500,
        "{closed_at}"
    );
}

#[test]
fn a_send_started_while_the_default_route_is_asked_for_waits_for_it() {
    // Found by `rmq send --count 1000` to a new topic: sends issued after the topic's
    // TOPIC_NOT_EXIST and before TBW102's route answered failed with NoRoute at once.
    let mut c = client(0);
    let first = c
        .send(
            Instant::from_millis(0),
            0,
            &Message::new("NewTopic", b"1"),
            SendMode::Sync,
        )
        .unwrap();
    let (_, events) = drain(&mut c, 0);
    let ns = connects(&events)[0].0;
    c.handle_connected(Instant::from_millis(0), ns);
    let (sent, _) = drain(&mut c, 0);
    let q = sent[0].command();
    feed(
        &mut c,
        1,
        ns,
        &response(q.header.opaque, ResponseCode::TOPIC_NOT_EXIST, &[], b""),
    );
    let (sent, _) = drain(&mut c, 1);
    let q2 = sent[0].command();
    // The default topic's route is being asked for; another send starts now.
    let second = c
        .send(
            Instant::from_millis(1),
            0,
            &Message::new("NewTopic", b"2"),
            SendMode::Sync,
        )
        .unwrap();
    let (_, events) = drain(&mut c, 1);
    assert!(events.is_empty(), "it waits: {events:?}");
    feed(
        &mut c,
        2,
        ns,
        &response(
            q2.header.opaque,
            ResponseCode::SUCCESS,
            &[],
            &route_body(&[("broker-a", "127.0.0.1:10911")], 8),
        ),
    );
    let (_, events) = drain(&mut c, 2);
    let b = connects(&events)[0].0;
    c.handle_connected(Instant::from_millis(2), b);
    let (sent, _) = drain(&mut c, 2);
    let sends: Vec<_> = sent
        .iter()
        .filter(|s| s.command().header.request_code() == RequestCode::SEND_MESSAGE_V2)
        .collect();
    assert_eq!(sends.len(), 2, "both go out");
    for s in &sends {
        feed(&mut c, 3, b, &send_ok(s.command().header.opaque, "0", "0"));
    }
    let (_, events) = drain(&mut c, 3);
    let ok: Vec<SendId> = events
        .iter()
        .filter_map(|e| match e {
            Event::SendOk { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(ok, [first, second], "{events:?}");
}

#[test]
fn a_silent_connection_whose_request_times_out_is_replaced_and_a_busy_one_is_kept() {
    // Found by the fault-injection proxy (tests/tests/faults.rs): a black-holed broker
    // connection kept failing sends forever, because nothing ever closed it.
    let (mut c, broker) = client_with_a_broker_connection();

    // Busy: two sends, one answered late, the other never. The answer shows the
    // connection alive, so the timeout of the other does not close it.
    let msg = Message::new("TopicTest", b"x");
    let a = c
        .send(Instant::from_millis(10), 0, &msg, SendMode::Sync)
        .unwrap();
    let b = c
        .send(Instant::from_millis(10), 0, &msg, SendMode::Sync)
        .unwrap();
    let (sent, _) = drain(&mut c, 10);
    let opaques: Vec<i32> = sent
        .iter()
        .filter(|s| s.command().header.request_code() == RequestCode::SEND_MESSAGE_V2)
        .map(|s| s.command().header.opaque)
        .collect();
    assert_eq!(opaques.len(), 2);
    feed(&mut c, 2_900, broker, &send_ok(opaques[0], "0", "2"));
    let (_, events) = tick(&mut c, 3_010);
    let (_, more) = tick(&mut c, 3_010);
    let events: Vec<Event> = events.into_iter().chain(more).collect();
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::SendOk { id, .. } if *id == a)));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::SendFailed { id, error: SendError::Timeout } if *id == b)),
        "a timed-out send says Timeout: {events:?}"
    );
    assert!(
        !events.iter().any(|e| matches!(e, Event::Close { .. })),
        "kept: {events:?}"
    );

    // Silent: a send with nothing received for its whole timeout. The connection is
    // closed and the next send connects anew.
    let d = c
        .send(Instant::from_millis(4_000), 0, &msg, SendMode::Sync)
        .unwrap();
    let _ = drain(&mut c, 4_000);
    let (_, events) = tick(&mut c, 7_000);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::SendFailed { id, error: SendError::Timeout } if *id == d)),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Close { conn } if *conn == broker)),
        "the dead connection is closed: {events:?}"
    );
    c.send(Instant::from_millis(7_001), 0, &msg, SendMode::Sync)
        .unwrap();
    let (_, events) = tick(&mut c, 7_001);
    let again = connects(&events);
    assert_eq!(again.len(), 1, "a new connection: {events:?}");
    assert_ne!(again[0].0, broker);
}

#[test]
fn a_frame_too_large_for_the_adapters_buffer_is_discarded_and_the_rest_go_on() {
    // An adapter with fixed buffers (rocketmq-blocking) cannot grow them: before
    // `discard_transmit`, such a frame held up every frame behind it for good.
    let (mut c, broker) = client_with_a_broker_connection();
    // 900 bytes that do not compress (more than the 700-byte buffer below), then a
    // small message.
    let mut x = 1u32;
    let big: Vec<u8> = (0..900)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect();
    let large = c
        .send(
            Instant::from_millis(10),
            0,
            &Message::new("TopicTest", &big),
            SendMode::Sync,
        )
        .unwrap();
    let small = c
        .send(
            Instant::from_millis(10),
            0,
            &Message::new("TopicTest", b"s"),
            SendMode::Sync,
        )
        .unwrap();
    let now = Instant::from_millis(10);
    let mut buf = vec![0u8; 700];
    let mut written = Vec::new();
    let mut discarded = 0;
    loop {
        match c.poll_transmit(now, &mut buf) {
            Ok(Some(t)) => written.push(buf[..t.len].to_vec()),
            Ok(None) => break,
            Err(rocketmq_proto::error::EncodeError::BufferTooSmall { needed }) => {
                assert!(needed > 700);
                discarded += 1;
                c.discard_transmit(now);
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(discarded >= 1);
    let bodies: Vec<Vec<u8>> = written
        .iter()
        .map(|f| Sent {
            conn: broker,
            bytes: f.clone(),
        })
        .filter(|s| s.command().header.request_code() == RequestCode::SEND_MESSAGE_V2)
        .map(|s| s.command().body.to_vec())
        .collect();
    assert_eq!(bodies, [b"s".to_vec()], "the small send went out");
    let mut events = Vec::new();
    while let Some(e) = c.poll_event() {
        events.push(e);
    }
    assert!(
        events.iter().any(
            |e| matches!(e, Event::SendFailed { id, error: SendError::Transport } if *id == large)
        ),
        "the large send failed: {events:?}"
    );
    assert!(!events
        .iter()
        .any(|e| matches!(e, Event::SendFailed { id, .. } if *id == small)));
}

#[test]
fn a_request_expiring_on_a_connect_deferred_by_back_off_does_not_push_the_connect_further() {
    // Review finding: with a request timeout shorter than the back-off pause, a
    // request expiring on the deferred (never announced) connection counted as a
    // failed connect, pushed the pause out again and again, and the address was never
    // dialled while requests kept coming.
    let (mut config, uniq) = test_config();
    config.request_timeout = rocketmq_proto::engine::Millis(100);
    let mut c = TestClient::new(config, uniq, 42, Instant::from_millis(0));
    c.set_namesrv(NS).unwrap();
    c.register_producer("PG").unwrap();
    c.send(
        Instant::from_millis(0),
        0,
        &Message::new("TopicTest", b"x"),
        SendMode::Sync,
    )
    .unwrap();
    let (_, events) = drain(&mut c, 0);
    let ns = connects(&events)[0].0;
    // The NameServer refuses: 200 ms pause.
    c.handle_closed(Instant::from_millis(1), ns);
    let mut connected_at = None;
    let mut now = 1;
    while now < 1_000 && connected_at.is_none() {
        now += 10;
        // Requests keep coming (a route query per send), each with a 100 ms timeout.
        let _ = c.send(
            Instant::from_millis(now),
            0,
            &Message::new("TopicTest", b"y"),
            SendMode::Oneway,
        );
        let (_, events) = tick(&mut c, now);
        if !connects(&events).is_empty() {
            connected_at = Some(now);
        }
    }
    let at = connected_at.expect("the NameServer is dialled again");
    assert!(
        (200..=220).contains(&at),
        "after the 200 ms pause, not later: {at}"
    );
}

#[test]
fn a_send_waiting_for_the_only_broker_ends_once_its_attempts_are_spent() {
    let mut c = client(0);
    let broker = [("broker-a", "127.0.0.1:10911")];
    let (id, conns) = send_through_route(&mut c, 0, &broker);
    c.handle_closed(Instant::from_millis(1), conns[0].0);
    let mut ended = None;
    let mut refused = 1;
    for now in (1..=3_200).step_by(10) {
        let (_, events) = tick(&mut c, now);
        for (conn, addr) in connects(&events) {
            assert_eq!(addr, "127.0.0.1:10911");
            c.handle_closed(Instant::from_millis(now), conn);
            refused += 1;
        }
        if let Some(e) = events.iter().find_map(|e| match e {
            Event::SendFailed { id: got, error } if *got == id => Some(error.clone()),
            _ => None,
        }) {
            ended = Some((now, e));
            break;
        }
    }
    let (at, error) = ended.expect("the send ends");
    // Each refused connect spends one of its three attempts (as in Java), the next
    // waiting out the back-off (200 then 400 ms): it ends with the third, well within
    // its 3 s deadline, as a transport failure.
    assert!((601..=611).contains(&at), "ended at {at} ms");
    assert_eq!(error, SendError::Transport);
    assert_eq!(refused, 3, "connect attempts");
    assert_eq!(c.pending_sends(), 0);
}

fn small_client() -> Sized<4> {
    let id = ClientId::build(
        "127.0.0.1",
        InstanceName::Process { pid: 7, nonce: 1 },
        None,
    )
    .unwrap();
    let uniq = UniqKeyGenerator::new("127.0.0.1".parse().unwrap(), 7, 0x2A3B4C5D);
    let mut c = Sized::<4>::new(Config::new(id), uniq, 42, Instant::from_millis(0));
    c.set_namesrv(NS).unwrap();
    c.register_producer("PG").unwrap();
    c
}

#[test]
fn sends_beyond_the_in_flight_table_wait_for_free_entries_and_all_succeed() {
    let mut c = small_client();
    let (first, conns) = send_through_route(&mut c, 0, &[("broker-a", "127.0.0.1:10911")]);
    c.handle_connected(Instant::from_millis(1), conns[0].0);
    let mut ids = vec![first];
    for i in 1..12 {
        let body = format!("m{i}");
        let msg = Message::new("TopicTest", body.as_bytes());
        ids.push(
            c.send(Instant::from_millis(1), 0, &msg, SendMode::Sync)
                .unwrap(),
        );
    }
    let mut ok = std::collections::BTreeSet::new();
    let mut most_at_once = 0;
    for now in 1..20 {
        let (sent, events) = drain(&mut c, now);
        for e in &events {
            match e {
                Event::SendOk { id, .. } => {
                    ok.insert(*id);
                }
                Event::SendFailed { .. } => panic!("a send failed for want of an entry: {e:?}"),
                _ => {}
            }
        }
        let sends: Vec<&Sent> = sent
            .iter()
            .filter(|s| s.command().header.request_code() == RequestCode::SEND_MESSAGE_V2)
            .collect();
        most_at_once = most_at_once.max(sends.len());
        for s in sends {
            feed(
                &mut c,
                now,
                s.conn,
                &send_ok(s.command().header.opaque, "1", "7"),
            );
        }
        if ok.len() == ids.len() {
            break;
        }
    }
    assert_eq!(ok.len(), 12, "every send succeeded");
    assert!(most_at_once <= 4, "{most_at_once} in flight at once");
    assert_eq!(c.pending_sends(), 0);
}

#[test]
fn sends_waiting_for_an_entry_go_out_oldest_first_whatever_order_entries_free_in() {
    // Four entries, twelve sends: the eight waiting ones must take freed entries in the
    // order they were started, however the broker orders its answers, and a retry (of
    // a send the broker was too busy for) takes nothing from that order.
    let mut c = small_client();
    let (_, conns) = send_through_route(&mut c, 0, &[("broker-a", "127.0.0.1:10911")]);
    c.handle_connected(Instant::from_millis(1), conns[0].0);
    for i in 1..12 {
        let body = format!("m{i}");
        let msg = Message::new("TopicTest", body.as_bytes());
        c.send(Instant::from_millis(1), 0, &msg, SendMode::Sync)
            .unwrap();
    }
    let mut written = Vec::new();
    let mut ok = 0;
    let mut busy_once = true;
    for now in 1..40 {
        let (sent, events) = drain(&mut c, now);
        ok += events
            .iter()
            .filter(|e| matches!(e, Event::SendOk { .. }))
            .count();
        assert!(
            !events.iter().any(|e| matches!(e, Event::SendFailed { .. })),
            "{events:?}"
        );
        let mut sends: Vec<(i32, String, ConnId)> = sent
            .iter()
            .filter(|s| s.command().header.request_code() == RequestCode::SEND_MESSAGE_V2)
            .map(|s| {
                let cmd = s.command();
                let body = String::from_utf8(cmd.body.to_vec()).unwrap();
                (cmd.header.opaque, body, s.conn)
            })
            .collect();
        written.extend(sends.iter().map(|(_, b, _)| b.clone()));
        // The newest answered first.
        sends.reverse();
        for (opaque, body, conn) in sends {
            if body == "m5" && busy_once {
                busy_once = false;
                feed(
                    &mut c,
                    now,
                    conn,
                    &response(opaque, ResponseCode::SYSTEM_BUSY, &[], b""),
                );
            } else {
                feed(&mut c, now, conn, &send_ok(opaque, "1", "7"));
            }
        }
        if ok == 12 {
            break;
        }
    }
    assert_eq!(ok, 12, "every send succeeded: {written:?}");
    let first_attempts: Vec<&String> = written
        .iter()
        .enumerate()
        .filter(|(i, b)| !written[..*i].contains(b))
        .map(|(_, b)| b)
        .collect();
    let expected: Vec<String> = (0..12)
        .map(|i| {
            if i == 0 {
                "hello".to_string()
            } else {
                format!("m{i}")
            }
        })
        .collect();
    assert_eq!(
        first_attempts,
        expected.iter().collect::<Vec<_>>(),
        "oldest first"
    );
    // m5 went out twice: its retry.
    let m5: Vec<usize> = (0..written.len()).filter(|&i| written[i] == "m5").collect();
    assert_eq!(m5.len(), 2, "{written:?}");
    assert_eq!(c.pending_sends(), 0);
    assert_eq!(c.in_flight(), 0);
}

#[test]
fn waiting_sends_go_out_in_batches_not_one_per_answer() {
    // The engine is built on the stack before it is boxed.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(waiting_sends_go_out_in_batches)
        .unwrap()
        .join()
        .unwrap();
}

fn waiting_sends_go_out_in_batches() {
    // 64 entries, 56 of them for sends (an eighth kept for heartbeats and routes), handed
    // to waiting sends 3 at a time (a sixteenth): a broker that stores what arrives
    // together in one commit gets bursts, not a trickle of single frames.
    type Big = Client<Tailored<64, 128, 1, 0>, heapless::Vec<u8, 256>, 64>;
    let (config, uniq) = test_config();
    let mut c = Box::new(Big::new(config, uniq, 42, Instant::from_millis(0)));
    c.set_namesrv(NS).unwrap();
    c.register_producer("PG").unwrap();
    let at = Instant::from_millis(0);
    // Write everything queued; answer heartbeats and route queries; open connections.
    let run = |c: &mut Big| -> Vec<(i32, ConnId)> {
        let mut sends = Vec::new();
        let mut buf = vec![0u8; 4096];
        loop {
            let mut moved = false;
            while let Some(e) = c.poll_event() {
                if let Event::Connect { conn, .. } = e {
                    c.handle_connected(at, conn);
                    moved = true;
                }
            }
            while let Some(t) = c.poll_transmit(at, &mut buf).unwrap() {
                moved = true;
                let sent = Sent {
                    conn: t.conn,
                    bytes: buf[..t.len].to_vec(),
                };
                let cmd = sent.command();
                let opaque = cmd.header.opaque;
                match cmd.header.request_code() {
                    RequestCode::SEND_MESSAGE_V2 => sends.push((opaque, t.conn)),
                    RequestCode::GET_ROUTEINFO_BY_TOPIC => {
                        let body = route_body(&[("broker-a", "127.0.0.1:10911")], 4);
                        let r = response(opaque, ResponseCode::SUCCESS, &[], &body);
                        c.handle_input(at, t.conn, &r).unwrap();
                    }
                    _ => {
                        let r = response(opaque, ResponseCode::SUCCESS, &[], b"");
                        c.handle_input(at, t.conn, &r).unwrap();
                    }
                }
            }
            if !moved {
                return sends;
            }
        }
    };
    for _ in 0..100 {
        c.send(at, 0, &Message::new("TopicTest", b"x"), SendMode::Async)
            .unwrap();
    }
    let first = run(&mut c);
    assert_eq!(first.len(), 56, "a full table of sends on the wire");
    let mut answered = first.iter();
    let mut answer = |c: &mut Big, n: usize| {
        for (opaque, conn) in answered.by_ref().take(n) {
            c.handle_input(at, *conn, &send_ok(*opaque, "1", "7"))
                .unwrap();
        }
    };
    answer(&mut c, 1);
    assert!(run(&mut c).is_empty(), "one free entry waits");
    answer(&mut c, 1);
    assert!(run(&mut c).is_empty(), "two free entries wait");
    answer(&mut c, 1);
    assert_eq!(run(&mut c).len(), 3, "three go out together");
}

#[test]
fn sends_waiting_for_an_entry_end_at_their_deadline() {
    let mut c = small_client();
    let (first, conns) = send_through_route(&mut c, 0, &[("broker-a", "127.0.0.1:10911")]);
    c.handle_connected(Instant::from_millis(1), conns[0].0);
    let mut ids = vec![first];
    for _ in 1..8 {
        let msg = Message::new("TopicTest", b"x");
        ids.push(
            c.send(Instant::from_millis(1), 0, &msg, SendMode::Sync)
                .unwrap(),
        );
    }
    let (_, events) = drain(&mut c, 1);
    assert!(!events.iter().any(|e| matches!(e, Event::SendFailed { .. })));
    // Nothing answers: at the 3 s send deadline every send ends, waiting or not.
    let (_, events) = tick(&mut c, 2_999);
    assert!(
        !events.iter().any(|e| matches!(e, Event::SendFailed { .. })),
        "{events:?}"
    );
    // The first send began at 0 ms, the others at 1 ms.
    let (_, mut events) = tick(&mut c, 3_000);
    events.extend(tick(&mut c, 3_001).1);
    let failed: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::SendFailed { id, error } => Some((*id, error.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 8, "{events:?}");
    // The silent connection is also closed when the first request expires (its other
    // requests are lost then): Timeout or Transport, never before the deadline.
    assert!(
        failed
            .iter()
            .all(|(_, e)| matches!(e, SendError::Timeout | SendError::Transport)),
        "{failed:?}"
    );
    assert_eq!(c.pending_sends(), 0);
}

/// Sends end in any order and their slots are reused at once: over 100 rounds of 12
/// sends on a 16-slot table, answered in a shuffled order, every outcome arrives
/// exactly once, in the order the answers came, for its own send (each answer names
/// the send's body in its queue offset); and an answer repeated for a send that has
/// ended already (its slot now holds another send) is a stray, not that send's.
#[test]
fn sends_ending_out_of_order_reuse_their_slots_and_outcomes_stay_with_their_sends() {
    let (mut c, broker) = client_with_a_broker_connection();
    let mut rng = 0x9E37_79B9u32;
    let mut stale: Option<i32> = None;
    for round in 0..100u32 {
        let now = 10 + u64::from(round);
        let mut ids = Vec::new();
        for i in 0..12u32 {
            let body = format!("{}", round * 100 + i);
            let id = c
                .send(
                    Instant::from_millis(now),
                    0,
                    &Message::new("TopicTest", body.as_bytes()),
                    SendMode::Async,
                )
                .unwrap_or_else(|e| panic!("round {round} send {i}: {e:?}"));
            ids.push((round * 100 + i, id));
        }
        let (sent, _) = drain(&mut c, now);
        let mut frames: Vec<(i32, u32)> = sent
            .iter()
            .map(|s| {
                let cmd = s.command();
                assert_eq!(cmd.header.request_code(), RequestCode::SEND_MESSAGE_V2);
                let n: u32 = std::str::from_utf8(cmd.body).unwrap().parse().unwrap();
                (cmd.header.opaque, n)
            })
            .collect();
        assert_eq!(frames.len(), 12, "round {round}: one frame per send");
        // Shuffle the answers (xorshift, fixed seed).
        for k in (1..frames.len()).rev() {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            frames.swap(k, rng as usize % (k + 1));
        }
        // Last round's first answer again: its send ended, its slot holds a new send.
        if let Some(opaque) = stale.take() {
            feed(&mut c, now, broker, &send_ok(opaque, "0", "999999"));
        }
        for (opaque, n) in &frames {
            feed(&mut c, now, broker, &send_ok(*opaque, "0", &n.to_string()));
        }
        stale = Some(frames[0].0);
        let (_, events) = drain(&mut c, now);
        let got: Vec<(SendId, i64)> = events
            .iter()
            .filter_map(|e| match e {
                Event::SendOk { id, receipt } => Some((*id, receipt.queue_offset)),
                Event::SendFailed { id, error } => {
                    panic!("round {round}: {id:?} failed: {error:?}")
                }
                _ => None,
            })
            .collect();
        let want: Vec<(SendId, i64)> = frames
            .iter()
            .map(|(_, n)| {
                let id = ids.iter().find(|(b, _)| b == n).unwrap().1;
                (id, i64::from(*n))
            })
            .collect();
        assert_eq!(
            got, want,
            "round {round}: outcomes in answer order, each its own"
        );
        assert_eq!(c.pending_sends(), 0);
    }
}

/// A send pipeline that fills the in-flight table still leaves heartbeats an entry:
/// with 16 entries, sends take at most 14 (the rest wait), and the heartbeat due at
/// 30 s goes out, next to the route refresh due then, although no send has been
/// answered (a client that stops heartbeating is dropped by its brokers; before the
/// reserve, sends took every entry).
#[test]
fn a_full_send_pipeline_leaves_heartbeats_an_entry() {
    let (mut config, uniq) = test_config();
    config.send_timeout = rocketmq_proto::engine::Millis(120_000);
    let mut c = Sized::<16>::new(config, uniq, 42, Instant::from_millis(0));
    c.set_namesrv(NS).unwrap();
    c.register_producer("PG").unwrap();
    let (_, conns) = send_through_route(&mut c, 0, &[("broker-a", "127.0.0.1:10911")]);
    let broker = conns[0].0;
    c.handle_connected(Instant::from_millis(1), broker);
    let (sent, _) = drain(&mut c, 1);
    let mut sends = sent.len();
    // Fill the sends table (16): the first send is on the wire already.
    while c
        .send(
            Instant::from_millis(2),
            0,
            &Message::new("TopicTest", b"x"),
            SendMode::Async,
        )
        .is_ok()
    {}
    let (sent, _) = drain_all(&mut c, 2);
    sends += sent
        .iter()
        .filter(|s| s.command().header.request_code() == RequestCode::SEND_MESSAGE_V2)
        .count();
    assert_eq!(sends, 14, "sends take all entries but an eighth");
    assert_eq!(c.in_flight(), 14);
    // Nothing is answered; the heartbeat comes due (drained without `drain`, which
    // answers heartbeats and leaves them out).
    c.handle_timeout(Instant::from_millis(30_001));
    let (sent, _) = drain_all(&mut c, 30_001);
    let heartbeats = sent
        .iter()
        .filter(|s| s.command().header.request_code() == RequestCode::HEART_BEAT)
        .count();
    assert!(
        heartbeats >= 1,
        "the heartbeat went out with the table full of sends"
    );
}

#[test]
fn a_device_without_extras_drops_checks_and_refuses_forwarded_messages() {
    use rocketmq_proto::collections::Tailored;
    use rocketmq_proto::engine::client::ConsumerConfig;
    use rocketmq_proto::message::{record, MessageRecord, MessageSysFlag, MessageVersion};
    // `Extras` of capacity 0: no transactions, request-reply, calls or forwarded
    // messages. The engine answers as it would with those tables full.
    type Device = Client<Tailored<4, 1, 1, 0>, heapless::Vec<u8, 1024>, 8>;
    let (config, uniq) = test_config();
    let mut c = Device::new(config, uniq, 42, Instant::from_millis(0));
    c.set_namesrv(NS).unwrap();
    c.register_producer("PG").unwrap();
    c.subscribe(
        Instant::from_millis(0),
        1_700_000_000_000,
        &ConsumerConfig::new("CG"),
        "TopicTest",
        "*",
    )
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let mut conn = None;
    while let Some(e) = c.poll_event() {
        if let Event::Connect { conn: id, .. } = e {
            conn = Some(id);
        }
    }
    let conn = conn.expect("a connection to the NameServer");
    c.handle_connected(Instant::from_millis(0), conn);
    while c
        .poll_transmit(Instant::from_millis(0), &mut buf)
        .unwrap()
        .is_some()
    {}
    while c.poll_event().is_some() {}

    let rec = MessageRecord {
        version: MessageVersion::V1,
        body_crc: rocketmq_proto::message::body_crc(b"half"),
        queue_id: 0,
        flag: 0,
        queue_offset: 3,
        physical_offset: 4096,
        sys_flag: MessageSysFlag(0),
        born_timestamp: 1_700_000_000_000,
        born_host: "127.0.0.1:5000".parse().unwrap(),
        store_timestamp: 1_700_000_000_001,
        store_host: "127.0.0.1:10911".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: b"half",
        topic: "TopicTest",
        properties: PropertiesView::new("PGROUP\u{1}PG\u{2}UNIQ_KEY\u{1}AB\u{2}"),
    };
    let mut body = [0u8; 256];
    let body_len = record::encode_to_slice(&mut body, &rec).unwrap();
    let request = |code: RequestCode, opaque: i32, fields: &[(&str, &str)], oneway: bool| {
        let enc = CommandEncoder::new(SerializeType::Json);
        let mut h = Header::request(code, opaque);
        if oneway {
            h = h.oneway();
        }
        let mut out = vec![0u8; 2048];
        let n = enc.encode(&mut out, &h, fields, &body[..body_len]).unwrap();
        out.truncate(n);
        out
    };
    let answers = |c: &mut Device| {
        let mut got = Vec::new();
        let mut out = vec![0u8; 4096];
        while let Some(t) = c.poll_transmit(Instant::from_millis(1), &mut out).unwrap() {
            let sent = Sent {
                conn: t.conn,
                bytes: out[..t.len].to_vec(),
            };
            let h = sent.command().header;
            got.push((h.opaque, h.response_code()));
        }
        let events: Vec<Event> = std::iter::from_fn(|| c.poll_event()).collect();
        (got, events)
    };

    // A transaction check: dropped (no event, no answer).
    let check = request(
        RequestCode::CHECK_TRANSACTION_STATE,
        1,
        &[("tranStateTableOffset", "3"), ("commitLogOffset", "4096")],
        true,
    );
    feed_any(&mut c, conn, &check);
    let (sent, events) = answers(&mut c);
    assert!(sent.is_empty(), "{sent:?}");
    assert!(events.is_empty(), "{events:?}");

    // A reply to a request-reply message: SUCCESS, as for an unknown correlation id.
    let props = "CORRELATION_ID\u{1}c1\u{2}";
    let reply = request(
        RequestCode::PUSH_REPLY_MESSAGE_TO_CLIENT,
        2,
        &[
            ("producerGroup", "PG"),
            ("topic", "TopicTest"),
            ("defaultTopic", "TBW102"),
            ("defaultTopicQueueNums", "4"),
            ("queueId", "0"),
            ("sysFlag", "0"),
            ("bornTimestamp", "1"),
            ("flag", "0"),
            ("properties", props),
            ("bornHost", "127.0.0.1:1"),
            ("storeHost", "127.0.0.1:2"),
            ("storeTimestamp", "2"),
        ],
        false,
    );
    feed_any(&mut c, conn, &reply);
    let (sent, events) = answers(&mut c);
    assert_eq!(sent, [(2, ResponseCode::SUCCESS)]);
    assert!(events.is_empty(), "{events:?}");

    // A message forwarded to the push consumer's group: SYSTEM_ERROR, as when the
    // table is full (without the `admin` feature: not supported, as any request the
    // client does not know).
    let direct = request(
        RequestCode::CONSUME_MESSAGE_DIRECTLY,
        3,
        &[("consumerGroup", "CG"), ("brokerName", "broker-a")],
        false,
    );
    feed_any(&mut c, conn, &direct);
    let (sent, events) = answers(&mut c);
    let refused = if cfg!(feature = "admin") {
        ResponseCode::SYSTEM_ERROR
    } else {
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED
    };
    assert_eq!(sent, [(3, refused)]);
    assert!(events.is_empty(), "{events:?}");
}

fn feed_any<C, B, const N: usize>(c: &mut Client<C, B, N>, conn: ConnId, bytes: &[u8])
where
    C: rocketmq_proto::collections::Collections,
    B: rocketmq_proto::engine::client::MessageBuf,
{
    let used = c
        .handle_input(Instant::from_millis(1), conn, bytes)
        .unwrap();
    assert_eq!(used, bytes.len());
}

/// Drive a send of `msg` to its broker on any client type; the SEND frame's bytes.
#[cfg(feature = "alloc")]
fn send_frame_of<C, B, const N: usize>(c: &mut Client<C, B, N>, msg: &Message<'_>) -> Vec<u8>
where
    C: rocketmq_proto::collections::Collections,
    B: rocketmq_proto::engine::client::MessageBuf,
{
    let now = Instant::from_millis(0);
    c.set_namesrv(NS).unwrap();
    c.register_producer("PG").unwrap();
    c.send(now, 1_700_000_000_000, msg, SendMode::Sync).unwrap();
    let mut buf = vec![0u8; 16 * 1024];
    let take_connect = |c: &mut Client<C, B, N>| {
        std::iter::from_fn(|| c.poll_event())
            .find_map(|e| match e {
                Event::Connect { conn, .. } => Some(conn),
                _ => None,
            })
            .expect("a connect")
    };
    let ns = take_connect(c);
    c.handle_connected(now, ns);
    let t = c
        .poll_transmit(now, &mut buf)
        .unwrap()
        .expect("the route lookup");
    let Decoded::Frame { frame, .. } = FrameDecoder::new().decode(&buf[..t.len]).unwrap() else {
        panic!("incomplete")
    };
    let opaque = Command::decode(frame).unwrap().header.opaque;
    let route = route_body(&[("broker-a", "127.0.0.1:10911")], 4);
    feed_any(c, ns, &response(opaque, ResponseCode::SUCCESS, &[], &route));
    let broker = take_connect(c);
    c.handle_connected(now, broker);
    while let Some(t) = c.poll_transmit(now, &mut buf).unwrap() {
        let Decoded::Frame { frame, .. } = FrameDecoder::new().decode(&buf[..t.len]).unwrap()
        else {
            panic!("incomplete")
        };
        if Command::decode(frame).unwrap().header.request_code() == RequestCode::SEND_MESSAGE_V2 {
            return buf[..t.len].to_vec();
        }
    }
    panic!("no SEND_MESSAGE_V2 written")
}

/// Properties are written straight into the send's buffer, so they are bounded by the
/// buffer (and Java's 32 KiB), not by a scratch array: 3 KiB of them go out whole
/// with a growable buffer, and a bounded buffer too small for them refuses the send.
#[test]
fn properties_larger_than_two_kib_go_out_whole_and_a_bounded_buffer_refuses_them() {
    let long = "v".repeat(3_000);
    let props = [("BIG", long.as_str())];
    let msg = Message {
        properties: &props,
        ..Message::new("TopicTest", b"body")
    };
    #[cfg(feature = "alloc")]
    {
        let (config, uniq) = test_config();
        let mut c =
            Client::<Fixed<16>, Vec<u8>, 64>::new(config, uniq, 42, Instant::from_millis(0));
        let bytes = send_frame_of(&mut c, &msg);
        let Decoded::Frame { frame, .. } = FrameDecoder::new().decode(&bytes).unwrap() else {
            panic!("incomplete")
        };
        let cmd = Command::decode(frame).unwrap();
        assert_eq!(cmd.body, b"body");
        let header: SendMessageRequest = cmd.decode_fields().unwrap();
        let mut scratch = vec![0u8; 8 * 1024];
        let text = header
            .properties
            .unwrap()
            .decode_into(&mut scratch)
            .unwrap();
        let view = PropertiesView::new(text);
        assert_eq!(view.get("BIG"), Some(long.as_str()));
        assert_eq!(view.get("WAIT"), Some("true"));
        assert_eq!(view.get("UNIQ_KEY").map(str::len), Some(32));
    }
    let mut c = client(0);
    assert_eq!(
        c.send(Instant::from_millis(0), 0, &msg, SendMode::Sync),
        Err(rocketmq_proto::engine::client::CallError::Full(
            "message buffer"
        ))
    );
}
