//! Frames and command headers: wire.md §12 vectors byte for byte, every real capture,
//! split feeding, hostile input and property round-trips.

use proptest::prelude::*;
use rocketmq_proto::codes::{LanguageCode, RequestCode, ResponseCode, SerializeType};
use rocketmq_proto::command::{Command, CommandEncoder, Header, FLAG_ONEWAY, FLAG_RESPONSE};
use rocketmq_proto::error::DecodeError;
use rocketmq_proto::ext::{EncodeFields, FieldSink, FieldValue, NoFields};
use rocketmq_proto::frame::{Decoded, Frame, FrameDecoder};
use rocketmq_proto::text::Text;

fn unhex(s: &str) -> Vec<u8> {
    let clean: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    hex::decode(clean).expect("valid hex")
}

fn one_frame(bytes: &[u8]) -> (Frame<'_>, usize) {
    match FrameDecoder::new().decode(bytes).expect("decodes") {
        Decoded::Frame { frame, consumed } => (frame, consumed),
        Decoded::Incomplete { needed } => panic!("incomplete, needs {needed}"),
    }
}

fn fields_of(cmd: &Command<'_>) -> Vec<(String, String)> {
    let mut v: Vec<_> = cmd
        .fields()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

const W1: &str = "00 00 00 8a 00 00 00 86 7b 22 63 6f 64 65 22 3a 31 30 35 2c 22 65 78 74
46 69 65 6c 64 73 22 3a 7b 22 74 6f 70 69 63 22 3a 22 54 65 5a 5f 54 65
73 74 5f 4c 6e 67 22 7d 2c 22 66 6c 61 67 22 3a 30 2c 22 6c 61 6e 67 75
61 67 65 22 3a 22 4a 41 56 41 22 2c 22 6f 70 61 71 75 65 22 3a 30 2c 22
73 65 72 69 61 6c 69 7a 65 54 79 70 65 43 75 72 72 65 6e 74 52 50 43 22
3a 22 4a 53 4f 4e 22 2c 22 76 65 72 73 69 6f 6e 22 3a 34 35 33 7d";

const W2: &str = "00 00 00 2d 01 00 00 29 00 69 0c 01 df 00 00 00 07 00 00 00 00 00 00 00
00 00 00 00 14 00 05 74 6f 70 69 63 00 00 00 09 54 6f 70 69 63 54 65 73
74";

const W3: &str = "00 00 00 99 01 00 00 95 00 00 00 01 75 00 00 06 28 00 00 00 01 00 00 00
00 00 00 00 80 00 07 71 75 65 75 65 49 64 00 00 00 01 36 00 08 54 52 41
43 45 5f 4f 4e 00 00 00 04 74 72 75 65 00 0a 4d 53 47 5f 52 45 47 49 4f
4e 00 00 00 0d 44 65 66 61 75 6c 74 52 65 67 69 6f 6e 00 05 6d 73 67 49
64 00 00 00 20 30 41 30 39 30 46 32 38 30 30 30 30 32 41 39 46 30 30 30
30 32 32 39 45 38 39 37 43 46 33 38 32 00 0b 71 75 65 75 65 4f 66 66 73
65 74 00 00 00 07 36 33 37 39 38 38 31";

const W3_EMPTY: &str =
    "00 00 00 19 01 00 00 15 00 00 00 01 75 00 00 06 27 00 00 00 01 00 00 00 00 00 00 00 00";

const W5: &str = "00 00 00 bd 00 00 00 b9 7b 22 63 6f 64 65 22 3a 31 35 2c 22 65 78 74 46
69 65 6c 64 73 22 3a 7b 22 63 6f 6d 6d 69 74 4f 66 66 73 65 74 22 3a 22
34 32 22 2c 22 63 6f 6e 73 75 6d 65 72 47 72 6f 75 70 22 3a 22 63 67 22
2c 22 71 75 65 75 65 49 64 22 3a 22 30 22 2c 22 74 6f 70 69 63 22 3a 22
54 6f 70 69 63 54 65 73 74 22 7d 2c 22 66 6c 61 67 22 3a 32 2c 22 6c 61
6e 67 75 61 67 65 22 3a 22 52 55 53 54 22 2c 22 6f 70 61 71 75 65 22 3a
39 2c 22 73 65 72 69 61 6c 69 7a 65 54 79 70 65 43 75 72 72 65 6e 74 52
50 43 22 3a 22 4a 53 4f 4e 22 2c 22 76 65 72 73 69 6f 6e 22 3a 34 37 39
7d";

#[test]
fn w1_json_request_decodes_and_reencodes_byte_exact() {
    let bytes = unhex(W1);
    let (frame, consumed) = one_frame(&bytes);
    assert_eq!(consumed, 142); // length 138 + the length field
    assert_eq!(frame.serialize_type, SerializeType::Json);
    assert_eq!(frame.header.len(), 134);
    let cmd = Command::decode(frame).unwrap();
    assert_eq!(cmd.header.code, 105);
    assert_eq!(cmd.header.language, LanguageCode::JAVA);
    assert_eq!(cmd.header.version, 453);
    assert_eq!(cmd.header.opaque, 0);
    assert_eq!(cmd.header.flag, 0);
    assert!(!cmd.header.is_response() && !cmd.header.is_oneway());
    assert_eq!(cmd.header.remark, None);
    assert_eq!(
        fields_of(&cmd),
        [("topic".to_string(), "TeZ_Test_Lng".to_string())]
    );
    assert!(cmd.body.is_empty());

    // Our encoder writes Java's exact shape.
    let mut out = [0u8; 256];
    let n = CommandEncoder::new(SerializeType::Json)
        .encode(&mut out, &cmd.header, &cmd.fields(), cmd.body)
        .unwrap();
    assert_eq!(&out[..n], &bytes[..]);
}

#[test]
fn w2_binary_request_encodes_byte_exact() {
    let bytes = unhex(W2);
    let header = Header {
        language: LanguageCode::RUST,
        version: 479,
        ..Header::request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 7)
    };
    let mut out = [0u8; 64];
    let n = CommandEncoder::new(SerializeType::RocketMq)
        .encode(&mut out, &header, &[("topic", "TopicTest")], b"")
        .unwrap();
    assert_eq!(&out[..n], &bytes[..]);
    let (frame, _) = one_frame(&bytes);
    let cmd = Command::decode(frame).unwrap();
    assert_eq!(cmd.header, header);
    assert_eq!(cmd.fields().get("topic").unwrap(), "TopicTest");
}

#[test]
fn w3_binary_responses_decode() {
    let bytes = unhex(W3);
    let (frame, consumed) = one_frame(&bytes);
    assert_eq!(consumed, 157);
    assert_eq!(frame.header.len(), 149);
    let cmd = Command::decode(frame).unwrap();
    assert_eq!(cmd.serialize_type, SerializeType::RocketMq);
    assert_eq!(cmd.header.response_code(), ResponseCode::SUCCESS);
    assert_eq!(cmd.header.language, LanguageCode::JAVA);
    assert_eq!(cmd.header.version, 373);
    assert_eq!(cmd.header.opaque, 1576);
    assert_eq!(cmd.header.flag, FLAG_RESPONSE);
    assert_eq!(cmd.header.remark, None);
    let f = cmd.fields();
    assert_eq!(f.len(), 5);
    assert_eq!(f.get("queueId").unwrap(), "6");
    assert_eq!(f.get("TRACE_ON").unwrap(), "true");
    assert_eq!(f.get("MSG_REGION").unwrap(), "DefaultRegion");
    assert_eq!(f.get("msgId").unwrap(), "0A090F2800002A9F0000229E897CF382");
    assert_eq!(f.get("queueOffset").unwrap().parse_i64(), Some(6379881));

    let bytes = unhex(W3_EMPTY);
    let (frame, consumed) = one_frame(&bytes);
    assert_eq!(consumed, 29);
    let cmd = Command::decode(frame).unwrap();
    assert_eq!(cmd.header.opaque, 1575);
    assert_eq!(cmd.header.version, 373);
    assert!(cmd.header.is_response());
    assert!(cmd.ext_fields.is_none());
    // Re-encoding the empty response is byte-exact too.
    let mut out = [0u8; 64];
    let n = CommandEncoder::new(SerializeType::RocketMq)
        .encode(&mut out, &cmd.header, &NoFields, b"")
        .unwrap();
    assert_eq!(&out[..n], &bytes[..]);
}

#[test]
fn w5_oneway_json_request_encodes_byte_exact() {
    let bytes = unhex(W5);
    let header = Header::request(RequestCode::UPDATE_CONSUMER_OFFSET, 9).oneway();
    assert_eq!(header.flag, FLAG_ONEWAY);
    let fields = [
        ("commitOffset", "42"),
        ("consumerGroup", "cg"),
        ("queueId", "0"),
        ("topic", "TopicTest"),
    ];
    let mut out = [0u8; 256];
    let n = CommandEncoder::new(SerializeType::Json)
        .encode(&mut out, &header, &fields, b"")
        .unwrap();
    assert_eq!(n, 193);
    assert_eq!(&out[..n], &bytes[..]);
    let cmd = Command::decode(one_frame(&bytes).0).unwrap();
    assert!(cmd.header.is_oneway());
    assert_eq!(
        cmd.fields().get("commitOffset").unwrap().parse_i64(),
        Some(42)
    );
}

/// Every captured frame, with its file name.
fn captures() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/captures");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("captures dir") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "hex") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                unhex(&text),
            ));
        }
    }
    out.sort();
    assert!(
        out.len() >= 40,
        "expected the captured frames, found {}",
        out.len()
    );
    out
}

#[test]
fn every_capture_decodes_and_reencodes_to_the_same_command() {
    for (name, bytes) in captures() {
        let (frame, consumed) = one_frame(&bytes);
        assert_eq!(consumed, bytes.len(), "{name}: one frame per file");
        let cmd = Command::decode(frame).unwrap_or_else(|e| panic!("{name}: {e}"));
        let json = name.starts_with("bin-") || name.contains("-rocketmq");
        assert_eq!(
            cmd.serialize_type,
            if json {
                SerializeType::RocketMq
            } else {
                SerializeType::Json
            },
            "{name}"
        );
        assert_eq!(
            cmd.header.is_response(),
            name.contains("-response"),
            "{name}: flag bit 0"
        );
        if name.contains("oneway") || name.starts_with("notify") {
            assert!(cmd.header.is_oneway(), "{name}");
        }
        // Real servers send `"remark":null` / `"extFields":null`; those decode as absent.
        if name == "route-response.hex" {
            assert!(cmd.ext_fields.is_none() && cmd.header.remark.is_none());
        }

        // Re-encode in both serializations; decoding gives the same logical command.
        for ser in [SerializeType::Json, SerializeType::RocketMq] {
            let enc = CommandEncoder::new(ser);
            let mut out = vec![0u8; enc.frame_len(&cmd.header, &cmd.fields(), cmd.body).unwrap()];
            let n = enc
                .encode(&mut out, &cmd.header, &cmd.fields(), cmd.body)
                .unwrap();
            assert_eq!(n, out.len(), "{name}: frame_len is exact");
            let again = Command::decode(one_frame(&out).0).unwrap();
            assert_eq!(again.header, cmd.header, "{name} via {ser:?}");
            let mut want = fields_of(&cmd);
            if ser == SerializeType::RocketMq {
                // Binary: an empty value reads back as absent (Java reads it as null).
                want.retain(|(_, v)| !v.is_empty());
            }
            assert_eq!(fields_of(&again), want, "{name} via {ser:?}");
            assert_eq!(again.body, cmd.body, "{name}");
        }
    }
}

#[test]
fn captured_remarks_and_escapes_decode() {
    let caps = captures();
    let get = |n: &str| caps.iter().find(|(name, _)| name == n).unwrap().1.clone();
    let bytes = get("route-topic-not-exist-response.hex");
    let cmd = Command::decode(one_frame(&bytes).0).unwrap();
    assert_eq!(cmd.header.response_code(), ResponseCode::TOPIC_NOT_EXIST);
    assert_eq!(cmd.header.remark.unwrap(), "Topic route was not found");

    let bytes = get("pull-response.hex");
    let cmd = Command::decode(one_frame(&bytes).0).unwrap();
    assert_eq!(cmd.header.remark.unwrap(), "Some(Found)");

    // The `i` field carries \u0001 / \u0002 escapes, decoded lazily.
    let bytes = get("send-v2-request.hex");
    let cmd = Command::decode(one_frame(&bytes).0).unwrap();
    let props = cmd.fields().get("i").unwrap();
    assert!(props.is_escaped());
    assert_eq!(
        props,
        "UNIQ_KEY\u{1}C000020215EBAC4C820C793431A60000\u{2}KEYS\u{1}r1795524663713-k0\u{2}TAGS\u{1}TagA\u{2}WAIT\u{1}true\u{2}"
    );
    assert_eq!(cmd.body.len(), 128);
}

#[test]
fn every_capture_decodes_the_same_when_fed_split_at_every_byte() {
    let dec = FrameDecoder::new();
    for (name, bytes) in captures() {
        for cut in 0..bytes.len() {
            // The adapter's view: only the first `cut` bytes have arrived.
            match dec.decode(&bytes[..cut]).unwrap() {
                Decoded::Incomplete { needed } => {
                    assert!(needed > cut && needed <= bytes.len(), "{name} cut {cut}")
                }
                Decoded::Frame { .. } => panic!("{name}: frame from {cut} bytes"),
            }
        }
        // Two frames back to back: the first call yields exactly the first.
        let mut two = bytes.clone();
        two.extend_from_slice(&bytes);
        let (f1, c1) = one_frame(&two);
        assert_eq!(c1, bytes.len(), "{name}");
        assert_eq!(f1, one_frame(&bytes).0);
    }
}

#[test]
fn hostile_headers_give_typed_errors() {
    // JSON header that is not an object, truncated, deeply nested, wrong types.
    let cases: &[&[u8]] = &[
        b"[]",
        b"{\"code\":",
        b"{\"code\":\"105\"}",
        b"{\"code\":99999999999}",
        b"{\"extFields\":[]}",
        b"{\"extFields\":{\"a\":{}}}",
        b"{\"remark\":\"\xff\"}",
        b"{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        b"{} trailing",
    ];
    for &h in cases {
        let frame = Frame {
            serialize_type: SerializeType::Json,
            header: h,
            body: b"",
        };
        let err = Command::decode(frame).expect_err(std::str::from_utf8(h).unwrap_or("?"));
        assert_eq!(err.blame(), rocketmq_proto::Blame::Peer);
    }
    // Binary header: too short, negative remark length, remark past the end,
    // map length past the end, invalid UTF-8 in the remark.
    let mut base = unhex(W2)[8..].to_vec();
    let frame = |h: &[u8]| {
        Command::decode(Frame {
            serialize_type: SerializeType::RocketMq,
            header: h,
            body: b"",
        })
        .map(|_| ())
    };
    assert!(matches!(
        frame(&base[..20]),
        Err(DecodeError::Truncated { .. })
    ));
    base[13..17].copy_from_slice(&(-1i32).to_be_bytes());
    assert!(matches!(
        frame(&base),
        Err(DecodeError::InvalidLength { .. })
    ));
    base[13..17].copy_from_slice(&1000i32.to_be_bytes());
    assert!(matches!(frame(&base), Err(DecodeError::Truncated { .. })));
    let mut bad = unhex(W2)[8..].to_vec();
    bad[20] = 0x7f;
    assert!(matches!(frame(&bad), Err(DecodeError::Truncated { .. })));
    let mut bad = unhex(W2)[8..].to_vec();
    bad[24] = 0xff; // inside the key "topic"
    assert!(matches!(frame(&bad), Err(DecodeError::InvalidUtf8 { .. })));
}

#[test]
fn every_truncation_of_every_capture_header_is_an_error_not_a_panic() {
    for (name, bytes) in captures() {
        let (frame, _) = one_frame(&bytes);
        for cut in 0..frame.header.len() {
            let r = Command::decode(Frame {
                header: &frame.header[..cut],
                ..frame
            });
            assert!(r.is_err(), "{name}: header cut at {cut} decoded");
        }
    }
}

/// Fields as owned pairs, to drive the encoder from generated data.
struct Owned(Vec<(String, String)>);
impl EncodeFields for Owned {
    fn encode_fields<'s, S: FieldSink<'s> + ?Sized>(&'s self, sink: &mut S) {
        for (k, v) in &self.0 {
            sink.field(Text::new(k), FieldValue::Text(Text::new(v)));
        }
    }
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_%]{1,12}",
        any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
        Just("K\u{1}v\u{2}\"\\/\n\t\u{1F600}".to_string()),
    ]
}

proptest! {
    #[test]
    fn any_command_round_trips_in_both_serializations(
        code in any::<i16>(),
        lang in 0u8..14,
        version in any::<i16>(),
        opaque in any::<i32>(),
        flag in 0i32..4,
        remark in proptest::option::of(arb_string()),
        fields in proptest::collection::btree_map(arb_string(), arb_string(), 0..8),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let header = Header {
            code: code.into(),
            language: LanguageCode(lang),
            version: version.into(),
            opaque,
            flag,
            remark: remark.as_deref().map(Text::new),
        };
        let owned = Owned(fields.into_iter().collect());
        for ser in [SerializeType::Json, SerializeType::RocketMq] {
            let enc = CommandEncoder::new(ser);
            let len = enc.frame_len(&header, &owned, &body).unwrap();
            let mut out = vec![0u8; len];
            prop_assert_eq!(enc.encode(&mut out, &header, &owned, &body).unwrap(), len);
            // BufMut path gives the same bytes.
            #[cfg(feature = "alloc")]
            {
                let mut bm = Vec::new();
                enc.encode_to(&mut bm, &header, &owned, &body).unwrap();
                prop_assert_eq!(&bm, &out);
            }
            let cmd = Command::decode(one_frame(&out).0).unwrap();
            let mut want = header;
            if want.remark.is_some_and(|r| r.is_empty()) && ser == SerializeType::RocketMq {
                want.remark = None; // binary: an empty string reads back as absent, as in Java
            }
            prop_assert_eq!(cmd.header, want);
            let got: Vec<(String, String)> =
                cmd.fields().iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            prop_assert_eq!(got, owned.0.clone());
            prop_assert_eq!(cmd.body, &body[..]);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_frame_and_header_decoders(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let dec = FrameDecoder::with_max_frame(4096);
        if let Ok(Decoded::Frame { frame, consumed }) = dec.decode(&bytes) {
            prop_assert!(consumed <= bytes.len());
            let _ = Command::decode(frame);
        }
        for ser in [SerializeType::Json, SerializeType::RocketMq] {
            if let Ok(cmd) = Command::decode(Frame { serialize_type: ser, header: &bytes, body: b"" }) {
                let _ = cmd.fields().iter().count();
            }
        }
    }
}
