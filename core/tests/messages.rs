//! Messages and ACL signing: messages.md §9 vectors M1–M7 and wire.md W4 byte for byte,
//! the stored messages and batch body of the real captures, property round-trips and
//! hostile input.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;
use rocketmq_proto::acl::{SessionCredentials, SIGNATURE};
use rocketmq_proto::codes::{RequestCode, SerializeType};
use rocketmq_proto::command::{Command, CommandEncoder, Header};
use rocketmq_proto::error::{DecodeError, EncodeError};
use rocketmq_proto::ext::{EncodeFields, FieldSink, FieldValue};
use rocketmq_proto::frame::{Decoded, FrameDecoder};
use rocketmq_proto::message::{
    body_crc, decode_batch, encode_batch, keys, ms_since_month_start, parse_tag_expression,
    properties_len, record, tag_hash, write_properties, BatchEntry, CompressionType, MessageRecord,
    MessageSysFlag, MessageVersion, OffsetMsgId, Properties, PropertiesView, RecordIter,
    TagExpression, TransactionType, UniqKey, UniqKeyGenerator,
};
use rocketmq_proto::out::SliceOut;
use rocketmq_proto::text::Text;

fn unhex(s: &str) -> Vec<u8> {
    let clean: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    hex::decode(clean).expect("valid hex")
}

fn capture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/data/captures/{name}.hex",
        env!("CARGO_MANIFEST_DIR")
    );
    hex::decode(std::fs::read_to_string(path).unwrap().trim()).unwrap()
}

/// The body of a captured frame: skip the 4-byte length, the serialize-type byte and
/// the 3-byte header length, then the header.
fn frame_body(frame: &[u8]) -> &[u8] {
    let header_len = u32::from_be_bytes([0, frame[5], frame[6], frame[7]]) as usize;
    &frame[8 + header_len..]
}

fn records(body: &[u8]) -> Vec<MessageRecord<'_>> {
    RecordIter::new(body)
        .collect::<Result<Vec<_>, _>>()
        .expect("records decode")
}

fn encode_record(r: &MessageRecord<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; r.encoded_len()];
    let n = record::encode_to_slice(&mut buf, r).unwrap();
    assert_eq!(n, buf.len());
    buf
}

// ---------------------------------------------------------------- M1 properties

const M1: &str = "54 41 47 53 01 54 61 67 41 02 4b 45 59 53 01 6b 31 20 6b 32 02 57 41 49
54 01 74 72 75 65 02";

#[test]
fn m1_properties_encode_byte_exact() {
    let expected = unhex(M1);
    assert_eq!(expected.len(), 31);
    let pairs = [
        (keys::TAGS, "TagA"),
        (keys::KEYS, "k1 k2"),
        (keys::WAIT, "true"),
    ];

    let mut buf = [0u8; 64];
    let mut p = Properties::new(&mut buf);
    for (k, v) in pairs {
        p.put(k, v).unwrap();
    }
    assert_eq!(p.as_bytes(), &expected[..]);

    let mut buf = [0u8; 31];
    let mut out = SliceOut::new(&mut buf);
    assert_eq!(write_properties(&mut out, pairs).unwrap(), 31);
    assert_eq!(out.finish().unwrap(), 31);
    assert_eq!(&buf[..], &expected[..]);
    assert_eq!(properties_len(pairs).unwrap(), 31);

    #[cfg(feature = "alloc")]
    {
        let mut m = rocketmq_proto::message::PropertyMap::new();
        for (k, v) in pairs {
            m.insert(k, v).unwrap();
        }
        assert_eq!(m.to_string().as_bytes(), &expected[..]);
        let mut v = Vec::new();
        m.write_to(&mut rocketmq_proto::out::BufMutOut(&mut v))
            .unwrap();
        assert_eq!(v, expected);
    }

    let view = PropertiesView::new(std::str::from_utf8(&expected).unwrap());
    assert_eq!(view.iter().collect::<Vec<_>>(), pairs);
    assert_eq!(view.tags(), Some("TagA"));
    assert_eq!(view.keys().collect::<Vec<_>>(), ["k1", "k2"]);
    assert_eq!(view.get(keys::WAIT), Some("true"));
    assert_eq!(view.len(), 3);
}

#[test]
fn m1_properties_decode_rules() {
    let v = PropertiesView::new("A\u{1}\u{2}B\u{1}x\u{2}");
    assert_eq!(v.iter().collect::<Vec<_>>(), [("B", "x")]);
    assert_eq!(v.get("A"), None);
    let v = PropertiesView::new("K\u{1}v1\u{2}K\u{1}v2\u{2}");
    assert_eq!(v.get("K"), Some("v2"));
    assert_eq!(v.len(), 1);
    assert_eq!(PropertiesView::new("K\u{1}v").get("K"), Some("v"));
    // Segments without 0x01, with an empty key or shorter than 3 chars are dropped.
    let v = PropertiesView::new("nosep\u{2}\u{1}v\u{2}ab\u{2}\u{2}\u{2}Z\u{1}1\u{2}");
    assert_eq!(v.iter().collect::<Vec<_>>(), [("Z", "1")]);
    #[cfg(feature = "alloc")]
    {
        let m = rocketmq_proto::message::PropertyMap::parse("K\u{1}v1\u{2}L\u{1}x\u{2}K\u{1}v2");
        assert_eq!(m.get("K"), Some("v2"));
        assert_eq!(m.len(), 2);
    }
}

/// A properties value in a JSON header is bounded only by the frame (16 MiB): parsing
/// it must not compare every pair with every earlier one. 200 000 distinct names took
/// minutes with the per-pair scan; indexed, it is well under a second.
#[cfg(feature = "alloc")]
#[test]
fn property_map_parse_scales_to_many_pairs() {
    use std::fmt::Write as _;
    let mut s = String::new();
    for i in 0..200_000u32 {
        write!(s, "k{i}\u{1}v\u{2}").unwrap();
    }
    // A repeated name keeps its first position and takes the last value.
    s.push_str("k7\u{1}last\u{2}");
    let start = std::time::Instant::now();
    let m = rocketmq_proto::message::PropertyMap::parse(&s);
    let took = start.elapsed();
    assert_eq!(m.len(), 200_000);
    assert_eq!(m.get("k7"), Some("last"));
    assert_eq!(m.iter().nth(7), Some(("k7", "last")));
    assert_eq!(m.iter().last(), Some(("k199999", "v")));
    assert!(
        took < std::time::Duration::from_secs(10),
        "parse took {took:?}"
    );
}

#[test]
fn properties_encoder_rejects_bad_input() {
    let mut buf = [0u8; 64];
    let mut out = SliceOut::new(&mut buf);
    for (k, v) in [("a\u{1}", "v"), ("a\u{2}", "v"), ("", "v")] {
        assert_eq!(
            write_properties(&mut out, [(k, v)]),
            Err(EncodeError::InvalidValue {
                field: "property name"
            })
        );
    }
    for v in ["x\u{1}y", "x\u{2}", ""] {
        assert_eq!(
            write_properties(&mut out, [("k", v)]),
            Err(EncodeError::InvalidValue {
                field: "property value"
            })
        );
    }
    assert_eq!(out.position(), 0, "nothing written on error");

    // 32 767 bytes is the limit: "k" 0x01 value 0x02 = 3 + value.
    let ok = "v".repeat(32_767 - 3);
    assert_eq!(properties_len([("k", ok.as_str())]), Ok(32_767));
    let too_long = "v".repeat(32_767 - 2);
    assert_eq!(
        properties_len([("k", too_long.as_str())]),
        Err(EncodeError::ValueOutOfRange {
            field: "message properties"
        })
    );
    let mut big = vec![0u8; 40_000];
    let mut p = Properties::new(&mut big);
    p.put("k", &ok).unwrap();
    assert!(matches!(
        p.put("a", "b"),
        Err(EncodeError::ValueOutOfRange { .. })
    ));
    assert_eq!(p.len(), 32_767);
}

#[test]
fn properties_from_escaped_json_header() {
    // The JSON header carries `properties` with \u0001 / \u0002 escapes.
    let frame = capture("send-v1-request");
    let Decoded::Frame { frame, .. } = FrameDecoder::new().decode(&frame).unwrap() else {
        panic!("complete frame expected")
    };
    let cmd = Command::decode(frame).unwrap();
    let text = cmd.fields().get("properties").unwrap();
    assert!(text.is_escaped());
    let mut scratch = [0u8; 256];
    let props = PropertiesView::from_text(&text, &mut scratch).unwrap();
    assert_eq!(props.tags(), Some("TagA"));
    assert_eq!(props.uniq_key(), Some("C0000202136AAC4C820C7932E4830000"));
    assert_eq!(props.get(keys::KEYS), Some("r1795524578424-k0"));
    assert_eq!(props.get(keys::WAIT), Some("true"));
    let mut small = [0u8; 8];
    assert!(matches!(
        PropertiesView::from_text(&text, &mut small),
        Err(DecodeError::CapacityExceeded { .. })
    ));
    // Unescaped text borrows without scratch.
    let plain = Text::new("WAIT\u{1}true\u{2}");
    assert_eq!(
        PropertiesView::from_text(&plain, &mut [])
            .unwrap()
            .get("WAIT"),
        Some("true")
    );
    #[cfg(feature = "alloc")]
    {
        let m = rocketmq_proto::message::PropertyMap::from_text(&text);
        assert_eq!(m.get(keys::TAGS), Some("TagA"));
        assert_eq!(m.len(), 4);
    }
}

// ---------------------------------------------------------------- M2 / M3 records

const M2: &str = "00 00 00 a7 da a3 20 a7 77 d1 89 82 00 00 00 01 00 00 00 00 00 00 00 00
00 00 00 05 00 00 00 00 00 00 10 00 00 00 00 00 00 00 01 8b cf e5 68 00
c0 a8 00 0a 00 00 d4 31 00 00 01 8b cf e5 68 7b c0 a8 00 14 00 00 2a 9f
00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 05 48 65 6c 6c 6f 09 54 6f
70 69 63 54 65 73 74 00 3e 54 41 47 53 01 54 61 67 41 02 57 41 49 54 01
74 72 75 65 02 55 4e 49 51 5f 4b 45 59 01 43 30 41 38 30 31 30 41 31 32
33 34 32 41 33 42 34 43 35 44 30 37 35 42 43 44 31 35 30 30 30 31 02";

const M3: &str = "00 00 00 75 da a3 20 a7 77 d1 89 82 00 00 00 01 00 00 00 00 00 00 00 00
00 00 00 05 00 00 00 00 00 00 10 00 00 00 00 10 00 00 01 8b cf e5 68 00
20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 00 00 d4 31 00 00 01 8b
cf e5 68 7b c0 a8 00 14 00 00 2a 9f 00 00 00 00 00 00 00 00 00 00 00 00
00 00 00 05 48 65 6c 6c 6f 09 54 6f 70 69 63 54 65 73 74 00 00";

const M2_PROPS: &str =
    "TAGS\u{1}TagA\u{2}WAIT\u{1}true\u{2}UNIQ_KEY\u{1}C0A8010A12342A3B4C5D075BCD150001\u{2}";

fn m2_record() -> MessageRecord<'static> {
    MessageRecord {
        version: MessageVersion::V1,
        body_crc: 0x77D1_8982,
        queue_id: 1,
        flag: 0,
        queue_offset: 5,
        physical_offset: 4096,
        sys_flag: MessageSysFlag(0),
        born_timestamp: 1_700_000_000_000,
        born_host: "192.168.0.10:54321".parse().unwrap(),
        store_timestamp: 1_700_000_000_123,
        store_host: "192.168.0.20:10911".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: b"Hello",
        topic: "TopicTest",
        properties: PropertiesView::new(M2_PROPS),
    }
}

fn m3_record() -> MessageRecord<'static> {
    MessageRecord {
        sys_flag: MessageSysFlag(0x10),
        born_host: "[2001:db8::1]:54321".parse().unwrap(),
        properties: PropertiesView::new(""),
        ..m2_record()
    }
}

#[test]
fn m2_stored_record_both_directions() {
    let bytes = unhex(M2);
    assert_eq!(bytes.len(), 167);
    let (rec, n) = MessageRecord::decode(&bytes, 0).unwrap();
    assert_eq!(n, 167);
    assert_eq!(rec, m2_record());
    assert_eq!(rec.properties.as_str().len(), 62);
    assert!(rec.verify_body_crc());
    assert_eq!(body_crc(b"Hello"), 0x77D1_8982);
    assert_eq!(
        rec.offset_msg_id().to_hex(),
        "C0A8001400002A9F0000000000001000"
    );
    assert_eq!(rec.uniq_key(), Some("C0A8010A12342A3B4C5D075BCD150001"));
    assert_eq!(rec.tags(), Some("TagA"));
    assert_eq!(rec.encoded_len(), 167);
    assert_eq!(encode_record(&m2_record()), bytes);
    assert!(rec.inner_messages().is_none());
}

#[test]
fn m3_ipv6_born_host_and_multi_record_loop() {
    let m3 = unhex(M3);
    assert_eq!(m3.len(), 117);
    let (rec, n) = MessageRecord::decode(&m3, 0).unwrap();
    assert_eq!(n, 117);
    assert_eq!(rec, m3_record());
    assert!(rec.sys_flag.born_host_v6());
    assert!(rec.properties.is_empty());
    assert!(rec.verify_body_crc());
    assert_eq!(encode_record(&m3_record()), m3);

    let mut both = unhex(M2);
    both.extend_from_slice(&m3);
    assert_eq!(both.len(), 284);
    let recs = records(&both);
    assert_eq!(recs, [m2_record(), m3_record()]);
}

#[test]
fn encoder_sets_ipv6_bits_and_v2_topic_width() {
    // The encoder derives the IPv6 bits from the addresses, like the broker.
    let r = MessageRecord {
        sys_flag: MessageSysFlag(0x10), // claims IPv6 born host, but both are IPv4
        ..m2_record()
    };
    let bytes = encode_record(&r);
    assert_eq!(bytes, unhex(M2));

    let long_topic = "T".repeat(200);
    let r = MessageRecord {
        version: MessageVersion::V2,
        topic: &long_topic,
        store_host: "[::1]:10911".parse().unwrap(),
        ..m2_record()
    };
    let bytes = encode_record(&r);
    assert_eq!(&bytes[4..8], &[0xda, 0xa3, 0x20, 0xab]);
    let back = records(&bytes);
    assert_eq!(back[0].topic, long_topic);
    assert!(back[0].sys_flag.store_host_v6());
    assert_eq!(back[0].store_host, r.store_host);
    assert_eq!(
        MessageVersion::for_topic_len(long_topic.len()),
        MessageVersion::V2
    );

    let too_long = MessageRecord {
        topic: &long_topic,
        ..m2_record()
    };
    assert_eq!(
        record::encode(&mut rocketmq_proto::out::Counter::default(), &too_long),
        Err(EncodeError::ValueOutOfRange {
            field: "message topic"
        })
    );
}

// ---------------------------------------------------------------- real captures

fn check_capture_records(name: &str, topic: &str, queue_id: i32, expected: &[(&str, i64)]) {
    let frame = capture(name);
    let body = frame_body(&frame);
    let recs = records(body);
    assert_eq!(recs.len(), expected.len(), "{name}");
    for (rec, (uniq, queue_offset)) in recs.iter().zip(expected) {
        assert_eq!(rec.version, MessageVersion::V1);
        assert_eq!(rec.topic, topic);
        assert_eq!(rec.queue_id, queue_id);
        assert_eq!(rec.queue_offset, *queue_offset);
        assert_eq!(rec.body.len(), 128);
        assert!(rec.body.starts_with(b"r17955"));
        assert!(rec.verify_body_crc(), "{name}: BODYCRC");
        assert_eq!(rec.uniq_key(), Some(*uniq));
        assert_eq!(rec.tags(), Some("TagA"));
        assert_eq!(rec.properties.get(keys::CLUSTER), Some("DefaultCluster"));
        assert_eq!(rec.properties.get(keys::WAIT), Some("true"));
        assert_eq!(rec.properties.len(), 7);
        assert_eq!(rec.sys_flag, MessageSysFlag(0));
        assert_eq!(rec.born_host.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(rec.store_timestamp >= rec.born_timestamp);
        let id = rec.offset_msg_id();
        assert_eq!(OffsetMsgId::parse(&id.to_hex()).unwrap(), id);
    }
    // Re-encoding gives the captured bytes back.
    let mut again = Vec::new();
    for r in &recs {
        again.extend_from_slice(&encode_record(r));
    }
    assert_eq!(again, body, "{name}: re-encoded");
}

#[test]
fn captured_pull_responses_decode() {
    check_capture_records(
        "pull-response",
        "PeerCaptureV2",
        1,
        &[
            ("C000020215EBAC4C820C793431A60000", 0),
            ("C000020215EBAC4C820C793431AF0001", 1),
            ("C000020215EBAC4C820C793431B60003", 2),
        ],
    );
    check_capture_records(
        "pull-response-1msg",
        "PeerCaptureV2",
        2,
        &[("C000020215EBAC4C820C793431B70004", 0)],
    );
    check_capture_records(
        "bin-pull-response",
        "PeerCaptureBin",
        3,
        &[
            ("C000020218BBAC4C820C793533180000", 0),
            ("C000020218BBAC4C820C7935332B0003", 1),
        ],
    );
    let frame = capture("pull-response");
    let recs = records(frame_body(&frame));
    assert_eq!(recs[0].physical_offset, 48_519_098);
    assert_eq!(recs[0].store_host, "127.0.0.1:10911".parse().unwrap());
    assert_eq!(recs[0].born_host.port(), 55860);
    assert_eq!(
        recs[0].offset_msg_id().to_hex(),
        "7F00000100002A9F0000000002E457BA"
    );
}

#[test]
fn captured_batch_body_decodes() {
    let frame = capture("send-batch-request");
    let body = frame_body(&frame);
    assert_eq!(body.len(), 708);
    let entries = decode_batch(body).collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(entries.len(), 3);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.flag, 0);
        assert_eq!(e.body.len(), 128);
        assert!(e
            .body
            .starts_with(format!("r1795524663713b-0000000{i}").as_bytes()));
        assert_eq!(
            e.properties.uniq_key(),
            Some(format!("C000020215EBAC4C820C793431BC000{}", i + 6).as_str())
        );
        assert_eq!(e.properties.tags(), Some("TagA"));
        assert_eq!(
            e.properties.get(keys::KEYS),
            Some(format!("r1795524663713b-k{i}").as_str())
        );
    }
    let mut buf = vec![0u8; body.len()];
    assert_eq!(encode_batch(&mut buf, &entries).unwrap(), body.len());
    assert_eq!(buf, body);
}

// ---------------------------------------------------------------- M4 batch

const M4: &str = "00 00 00 20 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 02 6d 31 00 08
4b 45 59 53 01 6b 31 02 00 00 00 18 00 00 00 00 00 00 00 00 00 00 00 00
00 00 00 02 6d 32 00 00";

#[test]
fn m4_batch_body_both_directions() {
    let expected = unhex(M4);
    let entries = [
        BatchEntry {
            flag: 0,
            body: b"m1",
            properties: PropertiesView::new("KEYS\u{1}k1\u{2}"),
        },
        BatchEntry {
            flag: 0,
            body: b"m2",
            properties: PropertiesView::new(""),
        },
    ];
    assert_eq!(entries[0].encoded_len(), Ok(32));
    assert_eq!(entries[1].encoded_len(), Ok(24));
    let mut buf = [0u8; 56];
    assert_eq!(encode_batch(&mut buf, &entries), Ok(56));
    assert_eq!(&buf[..], &expected[..]);
    let mut small = [0u8; 40];
    assert_eq!(
        encode_batch(&mut small, &entries),
        Err(EncodeError::BufferTooSmall { needed: 56 })
    );
    let back = decode_batch(&expected)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(back, entries);
}

#[test]
fn inner_batch_record_unwraps() {
    let entries = [
        BatchEntry {
            flag: 7,
            body: b"one",
            properties: PropertiesView::new("UNIQ_KEY\u{1}A\u{2}"),
        },
        BatchEntry {
            flag: 8,
            body: b"two!",
            properties: PropertiesView::new(""),
        },
    ];
    let mut batch = vec![0u8; 64];
    let n = encode_batch(&mut batch, &entries).unwrap();
    batch.truncate(n);
    let outer = MessageRecord {
        sys_flag: MessageSysFlag(MessageSysFlag::INNER_BATCH | MessageSysFlag::NEED_UNWRAP),
        body: &batch,
        body_crc: body_crc(&batch),
        ..m2_record()
    };
    let bytes = encode_record(&outer);
    let recs = records(&bytes);
    let inner = recs[0]
        .inner_messages()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(inner.len(), 2);
    assert_eq!(inner[0].queue_offset, 5);
    assert_eq!(inner[1].queue_offset, 6);
    assert_eq!((inner[0].flag, inner[0].body), (7, &b"one"[..]));
    assert_eq!((inner[1].flag, inner[1].body), (8, &b"two!"[..]));
    assert_eq!(inner[0].uniq_key(), Some("A"));
    assert_eq!(inner[1].topic, "TopicTest");
    assert!(inner.iter().all(|r| r.verify_body_crc()));
    // Only one of the two bits: not unwrapped.
    let only_one = MessageRecord {
        sys_flag: MessageSysFlag(MessageSysFlag::INNER_BATCH),
        ..outer
    };
    assert!(only_one.inner_messages().is_none());
}

// ---------------------------------------------------------------- M5 ids

#[test]
fn m5_uniq_keys() {
    let mut g = UniqKeyGenerator::new(
        IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)),
        0x1234,
        0x2A3B_4C5D,
    )
    .with_counter(1);
    assert_eq!(g.next(123_456_789), "C0A8010A12342A3B4C5D075BCD150001");
    assert_eq!(g.counter(), 2);
    assert_eq!(g.next(123_456_789), "C0A8010A12342A3B4C5D075BCD150002");
    // Counter wraps; Java starts at 0.
    let mut g = UniqKeyGenerator::new(
        IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)),
        0x1234,
        0x2A3B_4C5D,
    )
    .with_counter(u16::MAX);
    assert!(g.next(0).ends_with("FFFF"));
    assert!(g.next(0).ends_with("0000"));
    // Small negative times are clamped to 0, as in Java.
    assert!(g.next(-5).ends_with("000000000001"));

    let captured = "2400DD02100800152B2B7D0419D6DD5E9EFC18B4AAC246212A7D0000";
    let k = UniqKey::parse(captured).unwrap();
    assert_eq!(
        k.ip,
        "2400:dd02:1008:15:2b2b:7d04:19d6:dd5e"
            .parse::<Ipv6Addr>()
            .unwrap()
    );
    assert_eq!(k.pid, 0x9EFC);
    assert_eq!(k.class_loader_hash, 0x18B4_AAC2);
    assert_eq!(k.time, 1_176_578_685);
    assert_eq!(k.counter, 0);
    assert_eq!(k.to_hex(), captured);
    let mut g = UniqKeyGenerator::new(k.ip, 0x9EFC, 0x18B4_AAC2);
    // bornTimestamp 1749883778686 in UTC+8, 1 ms earlier.
    let t = ms_since_month_start(1_749_883_778_686 - 1, 8 * 3_600_000);
    assert_eq!(t, 1_176_578_685);
    assert_eq!(g.next(t), captured);
    assert_eq!(UniqKey::parse(&captured.to_lowercase()).unwrap(), k);
    assert!(UniqKey::parse("XYZ").is_err());
    assert!(UniqKey::parse(&"G".repeat(32)).is_err());
}

#[test]
fn m5_offset_msg_ids() {
    let id = OffsetMsgId::parse("0A02037500002A9F0000000001EC18FC").unwrap();
    assert_eq!(id.store_host, "10.2.3.117:10911".parse().unwrap());
    assert_eq!(id.commit_log_offset, 32_250_108);
    let id2 = OffsetMsgId::parse("0A090F2800002A9F0000229E897CF382").unwrap();
    assert_eq!(id2.store_host, "10.9.15.40:10911".parse().unwrap());
    assert_eq!(id2.commit_log_offset, 0x0000_229E_897C_F382);
    assert_eq!(id2.to_hex(), "0A090F2800002A9F0000229E897CF382");
    assert_eq!(
        OffsetMsgId::parse("0a090f2800002a9f0000229e897cf382").unwrap(),
        id2
    );
    let v6 = OffsetMsgId {
        store_host: "[2001:db8::20]:10911".parse().unwrap(),
        commit_log_offset: 4096,
    };
    let hex = v6.to_hex();
    assert_eq!(hex.len(), 56);
    assert_eq!(OffsetMsgId::parse(&hex).unwrap(), v6);
    // A batch response lists several ids.
    let list = "7F00000100002A9F0000000002E4609C,7F00000100002A9F0000000002E4624C,7F00000100002A9F0000000002E463FC";
    let ids = OffsetMsgId::parse_list(list)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[2].commit_log_offset, 0x02E4_63FC);
    for bad in [
        "",
        "0A02",
        "0A02037500002A9F0000000001EC18FZ",
        "0A0203750001869F0000000001EC18FC",
    ] {
        assert!(
            matches!(
                OffsetMsgId::parse(bad),
                Err(DecodeError::InvalidField { .. })
            ),
            "{bad}"
        );
    }
}

// ---------------------------------------------------------------- M6 tags

#[test]
fn m6_tag_hash_codes() {
    for (tag, hash) in [
        ("TagA", 2_598_919),
        ("TagB", 2_598_920),
        ("*", 42),
        ("标签", 857_175),
        ("😀", 1_772_899),
        ("", 0),
    ] {
        assert_eq!(tag_hash(tag), hash, "{tag}");
    }
}

#[test]
fn tag_expressions_parse_like_java() {
    let TagExpression::Tags(tags) = parse_tag_expression(" TagA ||TagB|| ||标签") else {
        panic!("tags expected")
    };
    let v: Vec<_> = tags.map(|t| (t.tag, t.code)).collect();
    assert_eq!(
        v,
        [("TagA", 2_598_919), ("TagB", 2_598_920), ("标签", 857_175)]
    );
    assert!(parse_tag_expression("").is_all());
    assert!(parse_tag_expression("*").is_all());
    assert_eq!(parse_tag_expression("").sub_string(""), "*");
    // " * " is not SUB_ALL: it is the tag "*".
    let e = parse_tag_expression(" * ");
    assert!(!e.is_all());
    assert!(e.matches_code(42));
    let e = parse_tag_expression("TagA || TagB");
    assert!(e.matches_code(2_598_920));
    assert!(!e.matches_code(0));
    assert!(e.matches_tag(Some("TagA")));
    assert!(!e.matches_tag(Some("TagC")));
    assert!(!e.matches_tag(None));
    // Nothing left after dropping empty parts: matches nothing.
    let e = parse_tag_expression("||");
    assert!(!e.is_all() && !e.matches_code(0) && !e.matches_tag(Some("")));
}

// ---------------------------------------------------------------- sysFlag

#[test]
fn sys_flag_bits() {
    let f = MessageSysFlag(0x301);
    assert!(f.is_compressed());
    assert_eq!(f.compression_type(), Ok(CompressionType::Zlib));
    assert_eq!(
        MessageSysFlag(0x1).compression_type(),
        Ok(CompressionType::Zlib)
    );
    assert_eq!(
        MessageSysFlag(0x101).compression_type(),
        Ok(CompressionType::Lz4)
    );
    assert_eq!(
        MessageSysFlag(0x201).compression_type(),
        Ok(CompressionType::Zstd)
    );
    assert_eq!(MessageSysFlag(0x401).compression_type(), Err(4));
    assert_eq!(
        MessageSysFlag(0).with_compression(CompressionType::Zlib),
        MessageSysFlag(0x301)
    );
    for (v, t) in [
        (0, TransactionType::NotType),
        (4, TransactionType::Prepared),
        (8, TransactionType::Commit),
        (12, TransactionType::Rollback),
    ] {
        assert_eq!(MessageSysFlag(v | 0x30).transaction_type(), t);
        assert_eq!(t.value(), v);
        assert_eq!(MessageSysFlag(0x31).with_transaction_type(t).0, 0x31 | v);
    }
}

// ---------------------------------------------------------------- M7 compression

#[cfg(feature = "alloc")]
mod compression {
    use super::*;
    use rocketmq_proto::message::{compress_zlib, decompress, decompress_with, should_compress};

    const M7: &str = "78 5e 73 74 a4 0c 00 00 10 7e 10 41";

    #[test]
    fn m7_zlib_decodes() {
        let z = unhex(M7);
        let zlib = MessageSysFlag(0x301);
        assert_eq!(decompress(zlib, &z, 1024).unwrap(), vec![b'A'; 64]);
        assert_eq!(
            decompress(MessageSysFlag(0x1), &z, 64).unwrap(),
            vec![b'A'; 64]
        );
        // One byte short of the output: a typed capacity error, not a huge allocation.
        assert_eq!(
            decompress(zlib, &z, 63),
            Err(DecodeError::CapacityExceeded {
                what: "decompressed body",
                capacity: 63
            })
        );
        // Not compressed: returned as is.
        assert_eq!(decompress(MessageSysFlag(0x300), &z, 0).unwrap(), z);
        assert_eq!(
            decompress(zlib, &z[..6], 1024),
            Err(DecodeError::Decompress)
        );
        assert_eq!(
            decompress(zlib, b"garbage", 1024),
            Err(DecodeError::Decompress)
        );
        assert_eq!(
            decompress(MessageSysFlag(0x501), &z, 1024),
            Err(DecodeError::UnsupportedCompression(5))
        );
    }

    #[test]
    fn zlib_round_trip_and_bomb() {
        assert!(!should_compress(4095));
        assert!(should_compress(4096));
        let body: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let z = compress_zlib(&body, rocketmq_proto::message::DEFAULT_ZLIB_LEVEL);
        // zlib container (RFC 1950): CM 8, header a multiple of 31. (FLEVEL may differ
        // from Java's `78 5E`; receivers ignore it.)
        assert_eq!(z[0], 0x78);
        assert_eq!(u16::from_be_bytes([z[0], z[1]]) % 31, 0);
        assert_eq!(
            decompress_with(CompressionType::Zlib, &z, body.len()).unwrap(),
            body
        );
        let bomb = compress_zlib(&vec![0u8; 10 << 20], 9);
        assert!(bomb.len() < 20_000);
        assert!(matches!(
            decompress_with(CompressionType::Zlib, &bomb, 1 << 20),
            Err(DecodeError::CapacityExceeded { .. })
        ));
        // Through a record: decompressed_body inflates only when flagged.
        let r = MessageRecord {
            sys_flag: MessageSysFlag(0x301),
            body: &z,
            ..m2_record()
        };
        assert_eq!(&*r.decompressed_body(1 << 20).unwrap(), &body[..]);
        assert_eq!(&*m2_record().decompressed_body(0).unwrap(), b"Hello");
    }

    #[test]
    fn lz4_and_zstd_without_or_with_features() {
        let body = vec![b'x'; 5000];
        #[cfg(not(feature = "lz4"))]
        assert_eq!(
            decompress(MessageSysFlag(0x101), &body, 1 << 20),
            Err(DecodeError::UnsupportedCompression(1))
        );
        #[cfg(feature = "lz4")]
        {
            use std::io::Write;
            let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
            enc.write_all(&body).unwrap();
            let c = enc.finish().unwrap();
            assert_eq!(&c[..4], &[0x04, 0x22, 0x4d, 0x18]);
            assert_eq!(decompress(MessageSysFlag(0x101), &c, 5000).unwrap(), body);
            assert!(matches!(
                decompress(MessageSysFlag(0x101), &c, 4999),
                Err(DecodeError::CapacityExceeded { .. })
            ));
            assert_eq!(
                decompress(MessageSysFlag(0x101), &c[..c.len() / 2], 1 << 20),
                Err(DecodeError::Decompress)
            );
        }
        #[cfg(not(feature = "zstd"))]
        assert_eq!(
            decompress(MessageSysFlag(0x201), &body, 1 << 20),
            Err(DecodeError::UnsupportedCompression(2))
        );
        #[cfg(feature = "zstd")]
        {
            let c = ruzstd::encoding::compress_to_vec(
                &body[..],
                ruzstd::encoding::CompressionLevel::Fastest,
            );
            assert_eq!(&c[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
            assert_eq!(decompress(MessageSysFlag(0x201), &c, 5000).unwrap(), body);
            assert!(matches!(
                decompress(MessageSysFlag(0x201), &c, 4999),
                Err(DecodeError::CapacityExceeded { .. })
            ));
            assert_eq!(
                decompress(MessageSysFlag(0x201), b"\x28\xb5\x2f\xfd", 1 << 20),
                Err(DecodeError::Decompress)
            );
        }
    }
}

// ---------------------------------------------------------------- W4 ACL

struct Collect(Vec<(String, String)>);
impl<'s> FieldSink<'s> for Collect {
    fn field(&mut self, key: Text<'s>, value: FieldValue<'s>) {
        self.0.push((key.to_string(), value.to_string()));
    }
}

fn fields_of(f: &impl EncodeFields) -> Vec<(String, String)> {
    let mut c = Collect(Vec::new());
    f.encode_fields(&mut c);
    c.0
}

#[test]
fn w4_captured_signature() {
    let creds = SessionCredentials::new("rocketmq2", "12345678");
    let fields = [("topic", "TBW102")];
    let signed = creds.sign(&fields, b"").unwrap();
    assert_eq!(signed.signature(), "/u5P/wZUbhjanu4LM/UzEdo2u2I=");
    assert_eq!(
        fields_of(&signed),
        [
            ("topic".into(), "TBW102".into()),
            ("AccessKey".into(), "rocketmq2".into()),
            ("Signature".into(), "/u5P/wZUbhjanu4LM/UzEdo2u2I=".into()),
        ]
    );

    // Encoded into a frame and decoded back, the server sees all three fields.
    for st in [SerializeType::Json, SerializeType::RocketMq] {
        let mut buf = [0u8; 512];
        let header = Header::request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 1);
        let n = CommandEncoder::new(st)
            .encode(&mut buf, &header, &signed, b"")
            .unwrap();
        let Decoded::Frame { frame, .. } = FrameDecoder::new().decode(&buf[..n]).unwrap() else {
            panic!("complete frame expected")
        };
        let cmd = Command::decode(frame).unwrap();
        let f = cmd.fields();
        assert_eq!(f.get(SIGNATURE).unwrap(), "/u5P/wZUbhjanu4LM/UzEdo2u2I=");
        assert_eq!(f.get("AccessKey").unwrap(), "rocketmq2");
        assert_eq!(f.get("topic").unwrap(), "TBW102");
        // Re-signing the received fields (which already hold Signature and AccessKey)
        // gives the same signature and no duplicate ACL fields.
        let again = creds.sign(&f, b"").unwrap();
        assert_eq!(again.signature(), signed.signature());
        assert_eq!(fields_of(&again).len(), 3);
    }
}

#[test]
fn w4_derived_signature_with_token_and_body() {
    let creds = SessionCredentials::new("ak", "sk").with_security_token("st");
    let fields = [("consumerGroup", "cg")];
    let signed = creds.sign(&fields, b"hello").unwrap();
    assert_eq!(signed.signature(), "U+BAcH9KQ4/7uiqo++w3hjbFJWY=");
    let f = fields_of(&signed);
    assert_eq!(f[1], ("AccessKey".into(), "ak".into()));
    assert_eq!(f[2], ("SecurityToken".into(), "st".into()));
    assert_eq!(f[3].0, "Signature");
    // Field order does not matter; the body does.
    let a = creds.sign(&[("b", "2"), ("a", "1")], b"").unwrap();
    let b = creds.sign(&[("a", "1"), ("b", "2")], b"").unwrap();
    assert_eq!(a.signature(), b.signature());
    assert_ne!(
        creds.sign(&fields, b"hello").unwrap().signature(),
        creds.sign(&fields, b"hellO").unwrap().signature()
    );
    assert!(!format!("{creds:?}").contains("sk"));
}

#[test]
fn acl_signs_numbers_as_encoded() {
    // A typed header with an i64 field signs its decimal text, like the string form.
    let creds = SessionCredentials::new("ak", "sk");
    let typed: [(&str, FieldValue<'_>); 2] = [
        ("queueOffset", FieldValue::I64(-1_700_000_000_000)),
        ("unitMode", FieldValue::Bool(false)),
    ];
    let strings = [("queueOffset", "-1700000000000"), ("unitMode", "false")];
    assert_eq!(
        creds.sign(&typed[..], b"").unwrap().signature(),
        creds.sign(&strings, b"").unwrap().signature()
    );
    let h = rocketmq_proto::header::GetRouteInfoRequest {
        topic: "TBW102".into(),
        accept_standard_json_only: None,
    };
    assert_eq!(
        SessionCredentials::new("rocketmq2", "12345678")
            .sign(&h, b"")
            .unwrap()
            .signature(),
        "/u5P/wZUbhjanu4LM/UzEdo2u2I="
    );
}

// ---------------------------------------------------------------- hostile input

fn all_record_samples() -> Vec<Vec<u8>> {
    let mut v = vec![unhex(M2), unhex(M3)];
    for name in ["pull-response-1msg", "bin-pull-response"] {
        let frame = capture(name);
        let body = frame_body(&frame);
        let (_, n) = MessageRecord::decode(body, 0).unwrap();
        v.push(body[..n].to_vec());
    }
    v
}

#[test]
fn truncated_records_give_typed_errors() {
    for rec in all_record_samples() {
        for cut in 0..rec.len() {
            let part = &rec[..cut];
            let res: Vec<_> = RecordIter::new(part).collect();
            if cut == 0 {
                assert!(res.is_empty());
                continue;
            }
            assert_eq!(res.len(), 1, "stops after the error");
            assert!(
                matches!(
                    res[0],
                    Err(DecodeError::Truncated { .. }) | Err(DecodeError::InvalidLength { .. })
                ),
                "cut {cut}: {:?}",
                res[0]
            );
        }
        // A record followed by a truncated one: the first decodes, then one error.
        let mut two = rec.clone();
        two.extend_from_slice(&rec[..rec.len() / 2]);
        let res: Vec<_> = RecordIter::new(&two).collect();
        assert_eq!(res.len(), 2);
        assert!(res[0].is_ok() && res[1].is_err());
    }
}

#[test]
fn lying_lengths_give_typed_errors() {
    let good = unhex(M2);
    let set_i32 =
        |b: &mut Vec<u8>, at: usize, v: i32| b[at..at + 4].copy_from_slice(&v.to_be_bytes());

    // TOTALSIZE larger than the body, smaller than the fields, below the minimum, negative.
    for total in [168, 90, 4, 0, -1, i32::MIN] {
        let mut b = good.clone();
        set_i32(&mut b, 0, total);
        assert!(
            matches!(
                MessageRecord::decode(&b, 0),
                Err(DecodeError::InvalidLength {
                    what: "message TOTALSIZE",
                    ..
                })
            ),
            "{total}"
        );
    }
    // TOTALSIZE one short: the last field runs past the record.
    let mut b = good.clone();
    set_i32(&mut b, 0, 166);
    assert_eq!(
        MessageRecord::decode(&b, 0).unwrap_err(),
        DecodeError::Truncated {
            what: "message PROPERTIES",
            offset: 105
        }
    );
    // TOTALSIZE agrees with the bytes but not with the fields (extra trailing byte).
    let mut b = good.clone();
    b.push(0);
    set_i32(&mut b, 0, 168);
    assert!(matches!(
        MessageRecord::decode(&b, 0),
        Err(DecodeError::InvalidLength { .. })
    ));
    // Negative / oversized BODYLENGTH (at offset 84 for IPv4 hosts).
    for len in [-1, i32::MIN, 1000] {
        let mut b = good.clone();
        set_i32(&mut b, 84, len);
        assert!(MessageRecord::decode(&b, 0).is_err(), "{len}");
    }
    let mut b = good.clone();
    set_i32(&mut b, 84, -5);
    assert_eq!(
        MessageRecord::decode(&b, 0).unwrap_err(),
        DecodeError::InvalidLength {
            what: "message BODYLENGTH",
            length: -5
        }
    );
    // Negative TOPICLENGTH (V1 signed byte at 93).
    let mut b = good.clone();
    b[93] = 0xF0;
    assert_eq!(
        MessageRecord::decode(&b, 0).unwrap_err(),
        DecodeError::InvalidLength {
            what: "message TOPICLENGTH",
            length: -16
        }
    );
    // Negative PROPERTIESLENGTH (i16 at 103).
    let mut b = good.clone();
    b[103] = 0xFF;
    assert!(matches!(
        MessageRecord::decode(&b, 0).unwrap_err(),
        DecodeError::InvalidLength {
            what: "message PROPERTIESLENGTH",
            ..
        }
    ));
    // Unknown magic, blank magic.
    let mut b = good.clone();
    set_i32(&mut b, 4, 0x1234);
    assert_eq!(
        MessageRecord::decode(&b, 0).unwrap_err(),
        DecodeError::BadMagic(0x1234)
    );
    set_i32(&mut b, 4, record::BLANK_MAGIC);
    assert!(matches!(
        MessageRecord::decode(&b, 0),
        Err(DecodeError::BadMagic(_))
    ));
    // Port outside 0..=65535.
    let mut b = good.clone();
    set_i32(&mut b, 52, 70_000);
    assert!(matches!(
        MessageRecord::decode(&b, 0),
        Err(DecodeError::InvalidField { .. })
    ));
    // IPv6 flag on an IPv4 record: the fields no longer add up.
    let mut b = good.clone();
    set_i32(&mut b, 36, 0x20);
    assert!(MessageRecord::decode(&b, 0).is_err());
    // Corrupt body: decodes, CRC check fails.
    let mut b = good.clone();
    b[88] ^= 1;
    assert!(!MessageRecord::decode(&b, 0).unwrap().0.verify_body_crc());
}

#[test]
fn invalid_utf8_gives_typed_errors() {
    let good = unhex(M2);
    let mut b = good.clone();
    b[94] = 0xFF; // first topic byte
    assert_eq!(
        MessageRecord::decode(&b, 0).unwrap_err(),
        DecodeError::InvalidUtf8 {
            what: "message TOPIC"
        }
    );
    let mut b = good.clone();
    b[105] = 0xC3; // a lead byte without continuation in the properties
    assert_eq!(
        MessageRecord::decode(&b, 0).unwrap_err(),
        DecodeError::InvalidUtf8 {
            what: "message PROPERTIES"
        }
    );
    let mut batch = unhex(M4);
    batch[24] = 0xFF;
    let res: Vec<_> = decode_batch(&batch).collect();
    assert_eq!(res.len(), 1);
    assert_eq!(
        res[0],
        Err(DecodeError::InvalidUtf8 {
            what: "batch entry PROPERTIES"
        })
    );
}

#[test]
fn hostile_batch_bodies() {
    let good = unhex(M4);
    for cut in (1..good.len()).filter(|&c| c != 32) {
        let res: Vec<_> = decode_batch(&good[..cut]).collect();
        assert!(res.last().unwrap().is_err(), "cut {cut}");
    }
    let set = |b: &mut Vec<u8>, at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
    for (at, v) in [
        (0usize, &(-1i32).to_be_bytes()[..]),
        (0, &21i32.to_be_bytes()[..]),
        (0, &33i32.to_be_bytes()[..]),
        (0, &1000i32.to_be_bytes()[..]),
        (16, &(-2i32).to_be_bytes()[..]),
        (16, &3i32.to_be_bytes()[..]),
        (22, &(-1i16).to_be_bytes()[..]),
        (22, &9i16.to_be_bytes()[..]),
    ] {
        let mut b = good.clone();
        set(&mut b, at, v);
        let first = decode_batch(&b).next().unwrap();
        assert!(
            matches!(
                first,
                Err(DecodeError::InvalidLength { .. }) | Err(DecodeError::Truncated { .. })
            ),
            "{at} {v:?}: {first:?}"
        );
    }
    let big = "v".repeat(40_000);
    let e = BatchEntry {
        flag: 0,
        body: b"",
        properties: PropertiesView::new(&big),
    };
    assert!(matches!(
        e.encoded_len(),
        Err(EncodeError::ValueOutOfRange { .. })
    ));
}

// ---------------------------------------------------------------- properties (proptest)

fn prop_name() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_#.\u{e9}\u{6807}]{0,12}"
}
fn prop_value() -> impl Strategy<Value = String> {
    "[ -~\u{e9}\u{6807}\u{1F600}]{1,24}"
}

fn arb_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        any::<[u8; 16]>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))),
    ]
}

proptest! {
    /// The day-remembering clock answers exactly as the calendar arithmetic, over runs
    /// of nearby times (within a day, across midnights and month ends, backwards), in
    /// any zone, and at the extremes.
    #[test]
    fn month_clock_agrees_with_the_calendar(
        start in prop_oneof![0i64..4_102_444_800_000, any::<i64>()],
        steps in proptest::collection::vec(-90_000_000i64..90_000_000, 1..40),
        offset in -50_400_000i64..50_400_000,
    ) {
        let mut clock = rocketmq_proto::message::MonthClock::new();
        let mut t = start;
        for step in steps {
            prop_assert_eq!(
                clock.ms_since_month_start(t, offset),
                ms_since_month_start(t, offset),
                "t {} offset {}", t, offset
            );
            t = t.saturating_add(step);
        }
    }

    #[test]
    fn properties_round_trip(pairs in proptest::collection::vec((prop_name(), prop_value()), 0..12)) {
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut buf = vec![0u8; 2048];
        let mut p = Properties::new(&mut buf);
        for (k, v) in &refs {
            p.put(k, v).unwrap();
        }
        let view = p.view();
        prop_assert_eq!(view.iter().collect::<Vec<_>>(), refs.clone());
        for (k, _) in &refs {
            // Last wins.
            let last = refs.iter().rev().find(|(k2, _)| k2 == k).unwrap().1;
            prop_assert_eq!(view.get(k), Some(last));
        }
        prop_assert_eq!(properties_len(refs.iter().copied()).unwrap(), p.len());
    }

    /// `write_properties` gives the builder's bytes whether the pairs fit its stack
    /// buffer (speed builds, up to 256 bytes) or not, and writes nothing when any pair,
    /// on either side of that bound, is refused.
    #[test]
    fn write_properties_matches_the_builder_below_and_past_its_stack_buffer(
        pairs in proptest::collection::vec((prop_name(), prop_value()), 0..12),
        pad in 1usize..400,
        bad_at in proptest::option::of(0usize..13),
    ) {
        let mut pairs = pairs;
        pairs.push(("pad".to_string(), "p".repeat(pad)));
        if let Some(i) = bad_at {
            let i = i.min(pairs.len());
            pairs.insert(i, ("bad".to_string(), "x\u{2}y".to_string()));
        }
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut buf = vec![0u8; 2048];
        let mut out = SliceOut::new(&mut buf);
        let written = write_properties(&mut out, refs.iter().copied());
        let at = out.position();
        if bad_at.is_some() {
            prop_assert_eq!(written, Err(EncodeError::InvalidValue { field: "property value" }));
            prop_assert_eq!(at, 0, "nothing written on error");
        } else {
            let mut expected = vec![0u8; 2048];
            let mut p = Properties::new(&mut expected);
            for (k, v) in &refs {
                p.put(k, v).unwrap();
            }
            prop_assert_eq!(written, Ok(p.len()));
            prop_assert_eq!(&buf[..at], p.as_bytes());
        }
    }

    #[test]
    fn properties_parser_never_panics(s in "[\u{1}\u{2}a-c\u{e9}]{0,40}") {
        let v = PropertiesView::new(&s);
        for (k, val) in v.iter() {
            prop_assert!(!k.is_empty() && !val.is_empty());
            let seps = ['\u{1}', '\u{2}'];
            prop_assert!(!k.contains(seps) && !val.contains(seps[1]));
        }
    }

    #[test]
    fn batch_round_trip(msgs in proptest::collection::vec(
        (any::<i32>(), proptest::collection::vec(any::<u8>(), 0..64),
         proptest::collection::vec((prop_name(), prop_value()), 0..4)), 0..6)) {
        let props: Vec<String> = msgs.iter().map(|(_, _, p)| {
            let mut buf = vec![0u8; 1024];
            let mut b = Properties::new(&mut buf);
            for (k, v) in p { b.put(k, v).unwrap(); }
            b.as_str().to_string()
        }).collect();
        let entries: Vec<BatchEntry<'_>> = msgs.iter().zip(&props).map(|((flag, body, _), p)| BatchEntry {
            flag: *flag, body, properties: PropertiesView::new(p),
        }).collect();
        let mut buf = vec![0u8; 8192];
        let n = encode_batch(&mut buf, &entries).unwrap();
        let back = decode_batch(&buf[..n]).collect::<Result<Vec<_>, _>>().unwrap();
        prop_assert_eq!(back, entries);
    }

    #[test]
    fn record_round_trip(
        v2 in any::<bool>(),
        ints in (any::<i32>(), any::<i32>(), any::<i64>(), any::<i64>(), any::<i32>(), any::<i64>(), any::<i64>(), any::<i32>(), any::<i64>()),
        born in (arb_ip(), any::<u16>()),
        store in (arb_ip(), any::<u16>()),
        body in proptest::collection::vec(any::<u8>(), 0..200),
        topic in "[%A-Za-z0-9_|-]{0,150}",
        pairs in proptest::collection::vec((prop_name(), prop_value()), 0..5),
    ) {
        let version = if v2 || topic.len() > 127 { MessageVersion::V2 } else { MessageVersion::V1 };
        let mut pbuf = vec![0u8; 1024];
        let mut p = Properties::new(&mut pbuf);
        for (k, v) in &pairs { p.put(k, v).unwrap(); }
        let props = p.as_str().to_string();
        let (queue_id, flag, queue_offset, physical_offset, sys, born_ts, store_ts, reconsume, prepared) = ints;
        let rec = MessageRecord {
            version,
            body_crc: body_crc(&body),
            queue_id, flag, queue_offset, physical_offset,
            sys_flag: MessageSysFlag(sys),
            born_timestamp: born_ts,
            born_host: SocketAddr::new(born.0, born.1),
            store_timestamp: store_ts,
            store_host: SocketAddr::new(store.0, store.1),
            reconsume_times: reconsume,
            prepared_transaction_offset: prepared,
            body: &body,
            topic: &topic,
            properties: PropertiesView::new(&props),
        };
        let bytes = encode_record(&rec);
        let mut twice = bytes.clone();
        twice.extend_from_slice(&bytes);
        let back = records(&twice);
        let expected = MessageRecord { sys_flag: rec.normalized_sys_flag(), ..rec };
        prop_assert_eq!(back.len(), 2);
        prop_assert_eq!(back[0], expected);
        prop_assert_eq!(back[1], expected);
        prop_assert!(back[0].verify_body_crc());
        let id = back[0].offset_msg_id();
        prop_assert_eq!(OffsetMsgId::parse(&id.to_hex()).unwrap(), id);
    }

    #[test]
    fn record_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), seed in any::<usize>()) {
        // Random bytes, and a valid record with one byte replaced.
        for r in RecordIter::new(&bytes) { let _ = r; }
        let mut m = unhex(M2);
        let i = seed % m.len();
        m[i] = bytes.first().copied().unwrap_or(0xFF);
        for r in RecordIter::new(&m) { let _ = r; }
        for r in decode_batch(&bytes) { let _ = r; }
    }

    #[test]
    fn msg_ids_round_trip(ip in arb_ip(), port in any::<u16>(), offset in any::<i64>()) {
        let id = OffsetMsgId { store_host: SocketAddr::new(ip, port), commit_log_offset: offset };
        let hex = id.to_hex();
        prop_assert_eq!(hex.len(), if ip.is_ipv4() { 32 } else { 56 });
        prop_assert!(hex.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        prop_assert_eq!(OffsetMsgId::parse(&hex).unwrap(), id);
        prop_assert_eq!(OffsetMsgId::parse(&hex.to_lowercase()).unwrap(), id);
    }

    #[test]
    fn uniq_keys_round_trip(ip in arb_ip(), pid in any::<u16>(), hash in any::<i32>(),
                            time in 0i32..=i32::MAX, counter in any::<u16>()) {
        let mut g = UniqKeyGenerator::new(ip, pid, hash).with_counter(counter);
        let a = g.next(time.into());
        let b = g.next(time.into());
        prop_assert_ne!(a, b);
        let k = UniqKey::parse(&a).unwrap();
        prop_assert_eq!(k, UniqKey { ip, pid, class_loader_hash: hash, time, counter });
        prop_assert_eq!(k.to_hex(), a);
        prop_assert_eq!(UniqKey::parse(&b).unwrap().counter, counter.wrapping_add(1));
    }

    #[test]
    fn tag_hash_matches_utf16_definition(s in "\\PC{0,12}") {
        let expect = s.encode_utf16().fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(u as i32));
        prop_assert_eq!(tag_hash(&s), expect);
    }
}
