//! Codec vectors, byte for byte, as in `core/tests/frames.rs`, `headers.rs`,
//! `bodies.rs` and `messages.rs` (wire.md §12 W1–W6, messages.md §9 M1–M6) and the
//! real captures of `core/tests/data/captures/`, decoded from the same files.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use rocketmq_proto::acl::SessionCredentials;
use rocketmq_proto::body::{Perm, TopicRouteData};
use rocketmq_proto::codes::{LanguageCode, RequestCode, ResponseCode, SerializeType};
use rocketmq_proto::command::{Command, CommandEncoder, Header, FLAG_ONEWAY, FLAG_RESPONSE};
use rocketmq_proto::ext::{EncodeFields, ErasedFields, NoFields};
use rocketmq_proto::frame::{Decoded, FrameDecoder};
use rocketmq_proto::header::{SendMessageRequest, SendMessageResponse};
use rocketmq_proto::message::{
    body_crc, keys, record, tag_hash, write_properties, MessageRecord, MessageSysFlag,
    MessageVersion, OffsetMsgId, Properties, PropertiesView, RecordIter, UniqKeyGenerator,
};
use rocketmq_proto::out::SliceOut;

use crate::check::Fail;
use crate::engine::Lists;

type R = Result<(), Fail>;

// wire.md §12, copied from core/tests/frames.rs.
const W1: &[u8] = hex!(
    "00 00 00 8a 00 00 00 86 7b 22 63 6f 64 65 22 3a 31 30 35 2c 22 65 78 74
46 69 65 6c 64 73 22 3a 7b 22 74 6f 70 69 63 22 3a 22 54 65 5a 5f 54 65
73 74 5f 4c 6e 67 22 7d 2c 22 66 6c 61 67 22 3a 30 2c 22 6c 61 6e 67 75
61 67 65 22 3a 22 4a 41 56 41 22 2c 22 6f 70 61 71 75 65 22 3a 30 2c 22
73 65 72 69 61 6c 69 7a 65 54 79 70 65 43 75 72 72 65 6e 74 52 50 43 22
3a 22 4a 53 4f 4e 22 2c 22 76 65 72 73 69 6f 6e 22 3a 34 35 33 7d"
);
const W2: &[u8] = hex!(
    "00 00 00 2d 01 00 00 29 00 69 0c 01 df 00 00 00 07 00 00 00 00 00 00 00
00 00 00 00 14 00 05 74 6f 70 69 63 00 00 00 09 54 6f 70 69 63 54 65 73
74"
);
const W3: &[u8] = hex!(
    "00 00 00 99 01 00 00 95 00 00 00 01 75 00 00 06 28 00 00 00 01 00 00 00
00 00 00 00 80 00 07 71 75 65 75 65 49 64 00 00 00 01 36 00 08 54 52 41
43 45 5f 4f 4e 00 00 00 04 74 72 75 65 00 0a 4d 53 47 5f 52 45 47 49 4f
4e 00 00 00 0d 44 65 66 61 75 6c 74 52 65 67 69 6f 6e 00 05 6d 73 67 49
64 00 00 00 20 30 41 30 39 30 46 32 38 30 30 30 30 32 41 39 46 30 30 30
30 32 32 39 45 38 39 37 43 46 33 38 32 00 0b 71 75 65 75 65 4f 66 66 73
65 74 00 00 00 07 36 33 37 39 38 38 31"
);
const W3_EMPTY: &[u8] =
    hex!("00 00 00 19 01 00 00 15 00 00 00 01 75 00 00 06 27 00 00 00 01 00 00 00 00 00 00 00 00");
const W5: &[u8] = hex!(
    "00 00 00 bd 00 00 00 b9 7b 22 63 6f 64 65 22 3a 31 35 2c 22 65 78 74 46
69 65 6c 64 73 22 3a 7b 22 63 6f 6d 6d 69 74 4f 66 66 73 65 74 22 3a 22
34 32 22 2c 22 63 6f 6e 73 75 6d 65 72 47 72 6f 75 70 22 3a 22 63 67 22
2c 22 71 75 65 75 65 49 64 22 3a 22 30 22 2c 22 74 6f 70 69 63 22 3a 22
54 6f 70 69 63 54 65 73 74 22 7d 2c 22 66 6c 61 67 22 3a 32 2c 22 6c 61
6e 67 75 61 67 65 22 3a 22 52 55 53 54 22 2c 22 6f 70 61 71 75 65 22 3a
39 2c 22 73 65 72 69 61 6c 69 7a 65 54 79 70 65 43 75 72 72 65 6e 74 52
50 43 22 3a 22 4a 53 4f 4e 22 2c 22 76 65 72 73 69 6f 6e 22 3a 34 37 39
7d"
);
// wire.md §7.2 (fastjson's bare numeric keys), copied from core/tests/bodies.rs.
const ROUTE_FASTJSON: &str = r#"{"brokerDatas":[{"brokerAddrs":{0:"10.2.3.117:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":8,"topicSysFlag":0,"writeQueueNums":8}]}"#;
// messages.md §9, copied from core/tests/messages.rs.
const M1: &[u8] = hex!(
    "54 41 47 53 01 54 61 67 41 02 4b 45 59 53 01 6b 31 20 6b 32 02 57 41 49
54 01 74 72 75 65 02"
);
const M2: &[u8] = hex!(
    "00 00 00 a7 da a3 20 a7 77 d1 89 82 00 00 00 01 00 00 00 00 00 00 00 00
00 00 00 05 00 00 00 00 00 00 10 00 00 00 00 00 00 00 01 8b cf e5 68 00
c0 a8 00 0a 00 00 d4 31 00 00 01 8b cf e5 68 7b c0 a8 00 14 00 00 2a 9f
00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 05 48 65 6c 6c 6f 09 54 6f
70 69 63 54 65 73 74 00 3e 54 41 47 53 01 54 61 67 41 02 57 41 49 54 01
74 72 75 65 02 55 4e 49 51 5f 4b 45 59 01 43 30 41 38 30 31 30 41 31 32
33 34 32 41 33 42 34 43 35 44 30 37 35 42 43 44 31 35 30 30 30 31 02"
);
const M2_PROPS: &str =
    "TAGS\u{1}TagA\u{2}WAIT\u{1}true\u{2}UNIQ_KEY\u{1}C0A8010A12342A3B4C5D075BCD150001\u{2}";

/// The frame and command of a whole frame (`consumed` must be all of it).
fn command(bytes: &[u8]) -> Result<Command<'_>, Fail> {
    match tri!(FrameDecoder::new().decode(bytes)) {
        Decoded::Frame { frame, consumed } => {
            ensure!(consumed == bytes.len());
            Ok(tri!(Command::decode(frame)))
        }
        Decoded::Incomplete { .. } => fail!("not a whole frame"),
    }
}

/// Encode into `out`; the bytes written.
fn encode<'o, F: EncodeFields>(
    out: &'o mut [u8],
    st: SerializeType,
    header: &Header<'_>,
    fields: &F,
    body: &[u8],
) -> Result<&'o [u8], Fail> {
    // One encoder for every fields type (the engine's own), not one per type: flash.
    encode_erased(out, st, header, ErasedFields::new(fields), body)
}

fn encode_erased<'o>(
    out: &'o mut [u8],
    st: SerializeType,
    header: &Header<'_>,
    fields: ErasedFields<'_>,
    body: &[u8],
) -> Result<&'o [u8], Fail> {
    let fields = &fields;
    let enc = CommandEncoder::new(st);
    let len = tri!(enc.frame_len(header, fields, body));
    let n = tri!(enc.encode(out, header, fields, body));
    ensure!(n == len);
    Ok(&out[..n])
}

fn frame_body(frame: &[u8]) -> &[u8] {
    let header_len = u32::from_be_bytes([0, frame[5], frame[6], frame[7]]) as usize;
    &frame[8 + header_len..]
}

pub fn w1_json_request() -> R {
    let cmd = command(W1)?;
    ensure!(cmd.serialize_type == SerializeType::Json);
    ensure!(cmd.header.code == 105);
    ensure!(cmd.header.language == LanguageCode::JAVA);
    ensure!(cmd.header.version == 453);
    ensure!(cmd.header.opaque == 0 && cmd.header.flag == 0);
    ensure!(cmd.header.remark.is_none());
    let f = cmd.fields();
    ensure!(f.len() == 1);
    ensure!(some!(f.get("topic")) == "TeZ_Test_Lng");
    ensure!(cmd.body.is_empty());
    let mut out = [0u8; 256];
    let again = encode(&mut out, SerializeType::Json, &cmd.header, &f, cmd.body)?;
    ensure!(again == W1);
    Ok(())
}

pub fn w2_binary_request() -> R {
    let header = Header {
        language: LanguageCode::RUST,
        version: 479,
        ..Header::request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 7)
    };
    let mut out = [0u8; 64];
    let bytes = encode(
        &mut out,
        SerializeType::RocketMq,
        &header,
        &[("topic", "TopicTest")],
        b"",
    )?;
    ensure!(bytes == W2);
    let cmd = command(W2)?;
    ensure!(cmd.header == header);
    ensure!(some!(cmd.fields().get("topic")) == "TopicTest");
    Ok(())
}

pub fn w3_binary_responses() -> R {
    let cmd = command(W3)?;
    ensure!(cmd.serialize_type == SerializeType::RocketMq);
    ensure!(cmd.header.response_code() == ResponseCode::SUCCESS);
    ensure!(cmd.header.language == LanguageCode::JAVA);
    ensure!(cmd.header.version == 373 && cmd.header.opaque == 1576);
    ensure!(cmd.header.flag == FLAG_RESPONSE);
    let f = cmd.fields();
    ensure!(f.len() == 5);
    ensure!(some!(f.get("queueId")) == "6");
    ensure!(some!(f.get("TRACE_ON")) == "true");
    ensure!(some!(f.get("MSG_REGION")) == "DefaultRegion");
    ensure!(some!(f.get("msgId")) == "0A090F2800002A9F0000229E897CF382");
    ensure!(some!(f.get("queueOffset")).parse_i64() == Some(6_379_881));
    let resp: SendMessageResponse<'_> = tri!(cmd.decode_fields());
    ensure!(resp.queue_id == 6 && resp.queue_offset == 6_379_881);

    let cmd = command(W3_EMPTY)?;
    ensure!(cmd.header.opaque == 1575 && cmd.header.is_response());
    ensure!(cmd.ext_fields.is_none());
    let mut out = [0u8; 64];
    let again = encode(
        &mut out,
        SerializeType::RocketMq,
        &cmd.header,
        &NoFields,
        b"",
    )?;
    ensure!(again == W3_EMPTY);
    Ok(())
}

pub fn w5_oneway_json_request() -> R {
    let header = Header::request(RequestCode::UPDATE_CONSUMER_OFFSET, 9).oneway();
    ensure!(header.flag == FLAG_ONEWAY);
    let fields = [
        ("commitOffset", "42"),
        ("consumerGroup", "cg"),
        ("queueId", "0"),
        ("topic", "TopicTest"),
    ];
    let mut out = [0u8; 256];
    let bytes = encode(&mut out, SerializeType::Json, &header, &fields, b"")?;
    ensure!(bytes.len() == 193);
    ensure!(bytes == W5);
    let cmd = command(W5)?;
    ensure!(cmd.header.is_oneway());
    ensure!(some!(cmd.fields().get("commitOffset")).parse_i64() == Some(42));
    Ok(())
}

pub fn w4_acl_signature() -> R {
    let creds = SessionCredentials::new("rocketmq2", "12345678");
    let fields = [("topic", "TBW102")];
    // Signed through ErasedFields, as the engine signs: one instance in flash.
    let erased = ErasedFields::new(&fields);
    let signed = tri!(creds.sign(&erased, b""));
    ensure!(signed.signature() == "/u5P/wZUbhjanu4LM/UzEdo2u2I=");
    for st in [SerializeType::Json, SerializeType::RocketMq] {
        let mut out = [0u8; 512];
        let header = Header::request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 1);
        let bytes = encode(&mut out, st, &header, &signed, b"")?;
        let cmd = command(bytes)?;
        let f = cmd.fields();
        ensure!(some!(f.get("Signature")) == "/u5P/wZUbhjanu4LM/UzEdo2u2I=");
        ensure!(some!(f.get("AccessKey")) == "rocketmq2");
        ensure!(some!(f.get("topic")) == "TBW102");
        // Re-signing what the server received gives the same signature.
        let received = ErasedFields::new(&f);
        let again = tri!(creds.sign(&received, b""));
        ensure!(again.signature() == signed.signature());
    }
    let derived = SessionCredentials::new("ak", "sk").with_security_token("st");
    let group = [("consumerGroup", "cg")];
    let group = ErasedFields::new(&group);
    let s = tri!(derived.sign(&group, b"hello"));
    ensure!(s.signature() == "U+BAcH9KQ4/7uiqo++w3hjbFJWY=");
    Ok(())
}

pub fn w6_route_body() -> R {
    let r = tri!(TopicRouteData::<Lists>::decode(ROUTE_FASTJSON.as_bytes()));
    ensure!(r.broker_datas.len() == 1);
    let b = &r.broker_datas[0];
    ensure!(b.broker_name == "broker-a");
    ensure!(some!(b.cluster) == "DefaultCluster");
    ensure!(!b.enable_acting_master);
    ensure!(some!(b.master_addr()) == "10.2.3.117:10911");
    ensure!(b.addr(1).is_none());
    ensure!(r.queue_datas.len() == 1);
    let q = r.queue_datas[0];
    ensure!(q.perm == Perm(6) && q.perm.is_readable() && q.perm.is_writable());
    ensure!((q.read_queue_nums, q.write_queue_nums, q.topic_sys_flag) == (8, 8, 0));
    ensure!(r.publish_queues().count() == 8);
    for (i, (broker, queue)) in r.subscribe_queues().enumerate() {
        ensure!(broker == "broker-a" && queue == i as i32);
    }
    Ok(())
}

pub fn m1_properties() -> R {
    let pairs = [
        (keys::TAGS, "TagA"),
        (keys::KEYS, "k1 k2"),
        (keys::WAIT, "true"),
    ];
    let mut buf = [0u8; 64];
    let mut p = Properties::new(&mut buf);
    for (k, v) in pairs {
        tri!(p.put(k, v));
    }
    ensure!(p.as_bytes() == M1);
    let mut buf = [0u8; 31];
    let mut out = SliceOut::new(&mut buf);
    ensure!(tri!(write_properties(&mut out, pairs)) == 31);
    ensure!(tri!(out.finish()) == 31);
    ensure!(buf == *M1);
    let view = PropertiesView::new(tri!(core::str::from_utf8(M1)));
    ensure!(view.iter().eq(pairs.iter().copied()));
    ensure!(view.tags() == Some("TagA"));
    ensure!(view.keys().eq(["k1", "k2"]));
    ensure!(view.len() == 3);
    // Java's decode rules: empty values dropped, last wins, short segments dropped.
    ensure!(PropertiesView::new("A\u{1}\u{2}B\u{1}x\u{2}")
        .iter()
        .eq([("B", "x")]));
    let v = PropertiesView::new("K\u{1}v1\u{2}K\u{1}v2\u{2}");
    ensure!(v.get("K") == Some("v2") && v.len() == 1);
    Ok(())
}

fn m2_expected() -> MessageRecord<'static> {
    MessageRecord {
        version: MessageVersion::V1,
        body_crc: 0x77D1_8982,
        queue_id: 1,
        flag: 0,
        queue_offset: 5,
        physical_offset: 4096,
        sys_flag: MessageSysFlag(0),
        born_timestamp: 1_700_000_000_000,
        born_host: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 10)), 54321),
        store_timestamp: 1_700_000_000_123,
        store_host: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 20)), 10911),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: b"Hello",
        topic: "TopicTest",
        properties: PropertiesView::new(M2_PROPS),
    }
}

pub fn m2_record() -> R {
    ensure!(M2.len() == 167);
    let (rec, n) = tri!(MessageRecord::decode(M2, 0));
    ensure!(n == 167);
    ensure!(rec == m2_expected());
    ensure!(rec.verify_body_crc());
    ensure!(body_crc(b"Hello") == 0x77D1_8982);
    ensure!(rec.offset_msg_id().to_hex() == "C0A8001400002A9F0000000000001000");
    ensure!(rec.uniq_key() == Some("C0A8010A12342A3B4C5D075BCD150001"));
    ensure!(rec.tags() == Some("TagA"));
    ensure!(rec.encoded_len() == 167);
    let mut out = [0u8; 167];
    ensure!(tri!(record::encode_to_slice(&mut out, &m2_expected())) == 167);
    ensure!(out == *M2);
    Ok(())
}

pub fn m5_m6_ids_and_tags() -> R {
    let mut g = UniqKeyGenerator::new(
        IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)),
        0x1234,
        0x2A3B_4C5D,
    )
    .with_counter(1);
    ensure!(g.next(123_456_789) == "C0A8010A12342A3B4C5D075BCD150001");
    ensure!(g.next(123_456_789) == "C0A8010A12342A3B4C5D075BCD150002");
    let id = tri!(OffsetMsgId::parse("0A090F2800002A9F0000229E897CF382"));
    ensure!(id.store_host == SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 9, 15, 40)), 10911));
    ensure!(id.commit_log_offset == 0x0000_229E_897C_F382);
    ensure!(id.to_hex() == "0A090F2800002A9F0000229E897CF382");
    for (tag, hash) in [
        ("TagA", 2_598_919),
        ("TagB", 2_598_920),
        ("*", 42),
        ("标签", 857_175),
        ("😀", 1_772_899),
        ("", 0),
    ] {
        ensure!(tag_hash(tag) == hash);
    }
    Ok(())
}

pub fn send_v2_captures() -> R {
    let cases = [
        (
            capture!("send-v2-request"),
            "PeerCaptureV2",
            1,
            1_795_524_663_718,
            "UNIQ_KEY\u{1}C000020215EBAC4C820C793431A60000\u{2}KEYS\u{1}r1795524663713-k0\u{2}TAGS\u{1}TagA\u{2}WAIT\u{1}true\u{2}",
        ),
        (
            capture!("bin-send-v2-request"),
            "PeerCaptureBin",
            3,
            1_795_524_729_624,
            "TAGS\u{1}TagA\u{2}KEYS\u{1}r1795524729617-k0\u{2}WAIT\u{1}true\u{2}UNIQ_KEY\u{1}C000020218BBAC4C820C793533180000\u{2}",
        ),
    ];
    for (bytes, topic, queue_id, born, props) in cases {
        let cmd = command(bytes)?;
        ensure!(cmd.header.request_code() == RequestCode::SEND_MESSAGE_V2);
        let req: SendMessageRequest<'_> = tri!(cmd.decode_fields());
        ensure!(req.producer_group == "PeerCaptureProducer");
        ensure!(req.topic == topic);
        ensure!(req.default_topic == "TBW102" && req.default_topic_queue_nums == 4);
        ensure!(req.queue_id == queue_id && req.born_timestamp == born);
        ensure!(some!(req.broker_name) == "broker-a");
        let text = some!(req.properties);
        ensure!(text == props);
        let mut scratch = [0u8; 256];
        let view = tri!(PropertiesView::from_text(&text, &mut scratch));
        ensure!(view.tags() == Some("TagA") && view.get(keys::WAIT) == Some("true"));
        ensure!(cmd.body.len() == 128);
        // Typed header re-encoded in both serializations decodes to the same request.
        for st in [SerializeType::Json, SerializeType::RocketMq] {
            let mut out = [0u8; 1024];
            let header = Header::request(RequestCode::SEND_MESSAGE_V2, 7);
            let again = encode(&mut out, st, &header, &req.v2(), cmd.body)?;
            let back = command(again)?;
            let back_req: SendMessageRequest<'_> = tri!(back.decode_fields());
            ensure!(back_req == req);
            ensure!(back.body == cmd.body);
        }
    }
    Ok(())
}

pub fn send_response_capture() -> R {
    let cmd = command(capture!("send-v2-response"))?;
    ensure!(cmd.header.is_response());
    ensure!(cmd.header.response_code() == ResponseCode::SUCCESS);
    let resp: SendMessageResponse<'_> = tri!(cmd.decode_fields());
    ensure!(resp.msg_id == "7F00000100002A9F0000000002E457BA");
    ensure!(resp.queue_id == 1 && resp.queue_offset == 0);
    ensure!(some!(resp.transaction_id) == "C000020215EBAC4C820C793431A60000");
    ensure!(some!(resp.msg_region) == "DefaultRegion");
    ensure!(resp.is_trace_on());
    Ok(())
}

pub fn route_response_capture() -> R {
    for (bytes, addr) in [
        (capture!("route-response"), "127.0.0.1:10911"),
        (capture!("bin-route-response"), "127.0.0.1:20911"),
    ] {
        let cmd = command(bytes)?;
        ensure!(cmd.header.response_code() == ResponseCode::SUCCESS);
        let r = tri!(TopicRouteData::<Lists>::decode(frame_body(bytes)));
        ensure!(r.order_topic_conf.is_none());
        ensure!(r.broker_datas.len() == 1);
        let b = &r.broker_datas[0];
        ensure!(b.broker_name == "broker-a");
        ensure!(some!(b.master_addr()) == addr);
        ensure!(r.queue_datas.len() == 1);
        let q = r.queue_datas[0];
        ensure!(
            (
                q.read_queue_nums,
                q.write_queue_nums,
                q.perm,
                q.topic_sys_flag
            ) == (4, 4, Perm(6), 0)
        );
        ensure!(r.publish_queues().count() == 4);
    }
    Ok(())
}

pub fn pull_response_capture() -> R {
    let frame = capture!("pull-response-1msg");
    let cmd = command(frame)?;
    ensure!(cmd.header.response_code() == ResponseCode::SUCCESS);
    ensure!(some!(cmd.header.remark) == "Some(Found)");
    let body = frame_body(frame);
    let mut out = [0u8; 512];
    let mut at = 0;
    let mut count = 0;
    for rec in RecordIter::new(body) {
        let rec = tri!(rec);
        ensure!(rec.version == MessageVersion::V1);
        ensure!(rec.topic == "PeerCaptureV2" && rec.queue_id == 2 && rec.queue_offset == 0);
        ensure!(rec.body.len() == 128 && rec.body.starts_with(b"r17955"));
        ensure!(rec.verify_body_crc());
        ensure!(rec.uniq_key() == Some("C000020215EBAC4C820C793431B70004"));
        ensure!(rec.tags() == Some("TagA"));
        ensure!(rec.properties.get(keys::CLUSTER) == Some("DefaultCluster"));
        ensure!(rec.properties.len() == 7);
        ensure!(rec.born_host.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST));
        let id = rec.offset_msg_id();
        ensure!(tri!(OffsetMsgId::parse(&id.to_hex())) == id);
        at += tri!(record::encode_to_slice(&mut out[at..], &rec));
        count += 1;
    }
    ensure!(count == 1);
    ensure!(&out[..at] == body);
    Ok(())
}

pub fn captures_split_and_reencode() -> R {
    let all: [&[u8]; 10] = [
        capture!("route-request"),
        capture!("bin-route-request"),
        capture!("heartbeat-request"),
        capture!("bin-heartbeat-response"),
        capture!("pull-request"),
        capture!("bin-pull-response"),
        capture!("query-offset-not-found-response"),
        capture!("update-offset-oneway-request"),
        capture!("notify-consumer-ids-changed-request"),
        capture!("route-topic-not-exist-response"),
    ];
    let dec = FrameDecoder::new();
    let mut out = [0u8; 2048];
    for bytes in all {
        // Only the first `cut` bytes have arrived: never a frame, always a valid need.
        for cut in 0..bytes.len() {
            match tri!(dec.decode(&bytes[..cut])) {
                Decoded::Incomplete { needed } => ensure!(needed > cut && needed <= bytes.len()),
                Decoded::Frame { .. } => fail!("a frame from part of one"),
            }
        }
        let cmd = command(bytes)?;
        for st in [SerializeType::Json, SerializeType::RocketMq] {
            let f = cmd.fields();
            let again = encode(&mut out, st, &cmd.header, &f, cmd.body)?;
            let back = command(again)?;
            ensure!(back.header == cmd.header);
            ensure!(back.body == cmd.body);
            // The same fields (binary: an empty value reads back as absent, as Java
            // reads it).
            let kept = f
                .iter()
                .filter(|(_, v)| st == SerializeType::Json || !v.is_empty())
                .count();
            ensure!(back.fields().len() == kept);
            for (k, v) in back.fields().iter() {
                ensure!(f.iter().any(|(k2, v2)| k2 == k && v2 == v));
            }
        }
    }
    Ok(())
}
