//! Typed extFields headers against the real captures (tests/data/captures/README.md),
//! re-encoding in both serializations, property round trips and decode errors.

use proptest::prelude::*;
use rocketmq_proto::codes::{RequestCode, SerializeType};
use rocketmq_proto::command::{Command, CommandEncoder, Header};
use rocketmq_proto::error::DecodeError;
use rocketmq_proto::ext::{DecodeFields, EncodeFields};
use rocketmq_proto::frame::{Decoded, FrameDecoder};
use rocketmq_proto::header::*;
use rocketmq_proto::text::Text;

const BOTH: [SerializeType; 2] = [SerializeType::Json, SerializeType::RocketMq];

macro_rules! capture {
    ($name:literal) => {
        hex::decode(include_str!(concat!("data/captures/", $name, ".hex")).trim())
            .expect("capture is hex")
    };
}

/// Decode one whole frame.
fn command(bytes: &[u8]) -> Command<'_> {
    match FrameDecoder::new().decode(bytes).expect("frame") {
        Decoded::Frame { frame, consumed } => {
            assert_eq!(consumed, bytes.len(), "one frame per capture");
            Command::decode(frame).expect("command")
        }
        Decoded::Incomplete { needed } => panic!("incomplete frame, needs {needed}"),
    }
}

/// Encode `fields` as a request frame in the given serialization.
fn encode<F: EncodeFields + ?Sized>(st: SerializeType, code: RequestCode, fields: &F) -> Vec<u8> {
    let h = Header::request(code, 7);
    let enc = CommandEncoder::new(st);
    let mut buf = vec![0u8; enc.frame_len(&h, fields, b"").expect("frame length")];
    let n = enc.encode(&mut buf, &h, fields, b"").expect("encode");
    assert_eq!(n, buf.len());
    buf
}

/// Re-encode a typed header in `st`, decode it again and compare with `$expected`.
macro_rules! assert_reencodes {
    ($ty:ty, $value:expr, $code:expr, $st:expr, $expected:expr) => {{
        let bytes = encode($st, $code, &$value);
        let cmd = command(&bytes);
        assert_eq!(cmd.serialize_type, $st);
        let back: $ty = cmd.decode_fields().expect("re-decode");
        assert_eq!(back, $expected, "{:?} round trip", $st);
    }};
    ($ty:ty, $value:expr, $code:expr) => {{
        for st in BOTH {
            assert_reencodes!($ty, $value, $code, st, $value);
        }
    }};
}

// ---------------------------------------------------------------- NameServer routes

#[test]
fn route_requests_decode_in_every_serialization() {
    for (bytes, topic, st) in [
        (
            capture!("route-request"),
            "PeerCaptureV2",
            SerializeType::Json,
        ),
        (
            capture!("bin-route-request"),
            "PeerCaptureBin",
            SerializeType::RocketMq,
        ),
        (
            capture!("mixed-route-request-rocketmq"),
            "PeerCaptureV2",
            SerializeType::RocketMq,
        ),
    ] {
        let cmd = command(&bytes);
        assert_eq!(
            cmd.header.request_code(),
            RequestCode::GET_ROUTEINFO_BY_TOPIC
        );
        assert_eq!(cmd.serialize_type, st);
        let req: GetRouteInfoRequest<'_> = cmd.decode_fields().unwrap();
        assert_eq!(req.topic, topic);
        assert_eq!(req.accept_standard_json_only, None);
        assert_reencodes!(
            GetRouteInfoRequest<'_>,
            req,
            RequestCode::GET_ROUTEINFO_BY_TOPIC
        );
    }
}

// ---------------------------------------------------------------- send

#[test]
fn send_v1_request_capture() {
    let bytes = capture!("send-v1-request");
    let cmd = command(&bytes);
    assert_eq!(cmd.header.request_code(), RequestCode::SEND_MESSAGE);
    let req: SendMessageRequest<'_> = cmd.decode_fields().unwrap();
    let expected = SendMessageRequest {
        producer_group: "PeerCaptureProducer".into(),
        topic: "PeerCapture".into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 1,
        sys_flag: 0,
        born_timestamp: 1_795_524_578_435,
        flag: 0,
        properties: Some(
            "KEYS\u{1}r1795524578424-k0\u{2}TAGS\u{1}TagA\u{2}UNIQ_KEY\u{1}C0000202136AAC4C820C7932E4830000\u{2}WAIT\u{1}true\u{2}"
                .into(),
        ),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        max_reconsume_times: None,
        batch: Some(false),
        broker_name: Some("broker-a".into()),
    };
    assert_eq!(req, expected);
    assert!(
        req.properties.unwrap().is_escaped(),
        "JSON \\u0001 kept lazily"
    );
    assert!(!req.is_batch());

    // The explicit decoders agree; the detecting wrapper names the form.
    assert_eq!(
        SendMessageRequest::decode_v1(&cmd.fields()).unwrap(),
        expected
    );
    assert_eq!(
        SendMessageRequest::decode_for_code(cmd.header.request_code(), &cmd.fields()),
        Some(Ok(expected))
    );
    let f: SendMessageFields<'_> = cmd.decode_fields().unwrap();
    assert_eq!(f.form, SendHeaderForm::V1);
    // A V1 map has none of the V2 keys.
    assert_eq!(
        SendMessageRequest::decode_v2(&cmd.fields()),
        Err(DecodeError::MissingField("a"))
    );

    for form in [SendHeaderForm::V1, SendHeaderForm::V2] {
        assert_reencodes!(
            SendMessageRequest<'_>,
            req.with_form(form),
            RequestCode::SEND_MESSAGE,
            SerializeType::Json,
            req
        );
        assert_reencodes!(
            SendMessageRequest<'_>,
            req.with_form(form),
            RequestCode::SEND_MESSAGE,
            SerializeType::RocketMq,
            req
        );
    }
}

fn expected_v2<'a>(
    topic: &'a str,
    queue_id: i32,
    born: i64,
    props: &'a str,
) -> SendMessageRequest<'a> {
    SendMessageRequest {
        producer_group: "PeerCaptureProducer".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: 0,
        born_timestamp: born,
        flag: 0,
        properties: Some(props.into()),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        max_reconsume_times: None,
        batch: Some(false),
        broker_name: Some("broker-a".into()),
    }
}

#[test]
fn send_v2_and_batch_request_captures() {
    let json = capture!("send-v2-request");
    let bin = capture!("bin-send-v2-request");
    let batch = capture!("send-batch-request");
    let cases = [
        (
            &json[..],
            RequestCode::SEND_MESSAGE_V2,
            expected_v2(
                "PeerCaptureV2",
                1,
                1_795_524_663_718,
                "UNIQ_KEY\u{1}C000020215EBAC4C820C793431A60000\u{2}KEYS\u{1}r1795524663713-k0\u{2}TAGS\u{1}TagA\u{2}WAIT\u{1}true\u{2}",
            ),
        ),
        (
            &bin[..],
            RequestCode::SEND_MESSAGE_V2,
            expected_v2(
                "PeerCaptureBin",
                3,
                1_795_524_729_624,
                "TAGS\u{1}TagA\u{2}KEYS\u{1}r1795524729617-k0\u{2}WAIT\u{1}true\u{2}UNIQ_KEY\u{1}C000020218BBAC4C820C793533180000\u{2}",
            ),
        ),
        (
            &batch[..],
            RequestCode::SEND_BATCH_MESSAGE,
            SendMessageRequest {
                batch: Some(true),
                ..expected_v2(
                    "PeerCaptureV2",
                    0,
                    1_795_524_663_740,
                    "WAIT\u{1}true\u{2}UNIQ_KEY\u{1}C000020215EBAC4C820C793431BC0009\u{2}",
                )
            },
        ),
    ];
    for (bytes, code, expected) in cases {
        let cmd = command(bytes);
        assert_eq!(cmd.header.request_code(), code);
        let req: SendMessageRequest<'_> = cmd.decode_fields().unwrap();
        assert_eq!(req, expected);
        assert_eq!(req.is_batch(), code == RequestCode::SEND_BATCH_MESSAGE);
        assert_eq!(
            SendMessageRequest::decode_v2(&cmd.fields()).unwrap(),
            expected
        );
        assert_eq!(SendHeaderForm::for_code(code), Some(SendHeaderForm::V2));
        let f: SendMessageFields<'_> = cmd.decode_fields().unwrap();
        assert_eq!(f, expected.v2());
        // A V2 map has none of the V1 keys (its `bname` alone does not make it V1).
        assert_eq!(
            SendMessageRequest::decode_v1(&cmd.fields()),
            Err(DecodeError::MissingField("producerGroup"))
        );
        for form in [SendHeaderForm::V1, SendHeaderForm::V2] {
            for st in BOTH {
                assert_reencodes!(SendMessageRequest<'_>, req.with_form(form), code, st, req);
            }
        }
    }
}

#[test]
fn v2_form_writes_only_one_letter_keys_and_v1_writes_bname() {
    let req = expected_v2("T", 0, 1, "P");
    let bytes = encode(SerializeType::Json, RequestCode::SEND_MESSAGE_V2, &req.v2());
    let cmd = command(&bytes);
    let keys: Vec<String> = cmd.fields().iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(
        keys,
        ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "m", "n"]
    );
    assert_eq!(cmd.fields().get("n").unwrap(), "broker-a");

    let bytes = encode(
        SerializeType::RocketMq,
        RequestCode::SEND_MESSAGE,
        &req.v1(),
    );
    let cmd = command(&bytes);
    assert_eq!(cmd.fields().get("bname").unwrap(), "broker-a");
    assert_eq!(
        cmd.fields().get("producerGroup").unwrap(),
        "PeerCaptureProducer"
    );
    assert!(cmd.fields().get("n").is_none());
}

#[test]
fn v2_falls_back_to_bname_when_n_is_absent() {
    let pairs = [
        ("a", "G"),
        ("b", "T"),
        ("c", "TBW102"),
        ("d", "4"),
        ("e", "-1"),
        ("f", "0"),
        ("g", "5"),
        ("h", "0"),
        ("bname", "broker-b"),
    ];
    let bytes = encode(SerializeType::Json, RequestCode::SEND_MESSAGE_V2, &pairs);
    let req: SendMessageRequest<'_> = command(&bytes).decode_fields().unwrap();
    assert_eq!(req.broker_name.unwrap(), "broker-b");
    assert_eq!(req.queue_id, -1);
    assert_eq!(req.properties, None);
}

#[test]
fn send_response_captures() {
    let cases = [
        (
            capture!("send-v1-response"),
            "7F00000100002A9F0000000002AAEDEC",
            1,
            0,
            "C0000202136AAC4C820C7932E4830000",
        ),
        (
            capture!("send-v2-response"),
            "7F00000100002A9F0000000002E457BA",
            1,
            0,
            "C000020215EBAC4C820C793431A60000",
        ),
        (
            capture!("send-batch-response"),
            "7F00000100002A9F0000000002E4609C,7F00000100002A9F0000000002E4624C,7F00000100002A9F0000000002E463FC",
            0,
            1,
            "C000020215EBAC4C820C793431BC0009",
        ),
        (
            capture!("bin-send-v2-response"),
            "7F000001000051AF0000000000000000",
            3,
            0,
            "C000020218BBAC4C820C793533180000",
        ),
    ];
    for (bytes, msg_id, queue_id, queue_offset, txn) in cases {
        let cmd = command(&bytes);
        assert!(cmd.header.is_response());
        let resp: SendMessageResponse<'_> = cmd.decode_fields().unwrap();
        assert_eq!(
            resp,
            SendMessageResponse {
                msg_id: msg_id.into(),
                queue_id,
                queue_offset,
                transaction_id: Some(txn.into()),
                batch_uniq_id: None,
                recall_handle: None,
                msg_region: Some("DefaultRegion".into()),
                trace_on: Some("true".into()),
            }
        );
        assert!(resp.is_trace_on());
        assert_reencodes!(SendMessageResponse<'_>, resp, RequestCode(0));
    }
    let off = SendMessageResponse {
        msg_id: "X".into(),
        queue_id: 0,
        queue_offset: 0,
        transaction_id: None,
        batch_uniq_id: None,
        recall_handle: None,
        msg_region: None,
        trace_on: Some("false".into()),
    };
    assert!(!off.is_trace_on());
    assert!(SendMessageResponse {
        trace_on: None,
        ..off
    }
    .is_trace_on());
}

// ---------------------------------------------------------------- heartbeat

#[test]
fn heartbeat_captures() {
    for bytes in [
        capture!("heartbeat-producer-response"),
        capture!("heartbeat-response"),
        capture!("bin-heartbeat-response"),
    ] {
        let cmd = command(&bytes);
        let resp: HeartbeatResponse = cmd.decode_fields().unwrap();
        assert_eq!(
            resp,
            HeartbeatResponse {
                is_support_heartbeat_v2: Some(true),
                is_sub_change: Some(true),
            }
        );
        assert_reencodes!(HeartbeatResponse, resp, RequestCode(0));
    }
    // The requests have no header fields: `{}` in JSON, none at all in binary.
    let json = capture!("heartbeat-request");
    let cmd = command(&json);
    assert!(cmd.ext_fields.is_some_and(|f| f.is_empty()));
    let bin = capture!("bin-heartbeat-request");
    assert!(command(&bin).ext_fields.is_none());
}

// ---------------------------------------------------------------- pull

fn expected_pull<'a>(
    group: &'a str,
    topic: &'a str,
    queue_id: i32,
    sub_version: i64,
) -> PullMessageRequest<'a> {
    PullMessageRequest {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id,
        queue_offset: 0,
        max_msg_nums: 32,
        sys_flag: PullSysFlag::SUSPEND,
        commit_offset: 0,
        suspend_timeout_millis: 15_000,
        subscription: Some("".into()),
        sub_version,
        expression_type: Some("TAG".into()),
        max_msg_bytes: Some(262_144),
        request_source: None,
        proxy_forward_client_id: None,
        broker_name: Some("broker-a".into()),
    }
}

#[test]
fn pull_request_captures() {
    let bytes = capture!("pull-request");
    let cmd = command(&bytes);
    assert_eq!(cmd.header.request_code(), RequestCode::PULL_MESSAGE);
    let req: PullMessageRequest<'_> = cmd.decode_fields().unwrap();
    let expected = expected_pull(
        "PeerGroup_r1795524663713",
        "PeerCaptureV2",
        1,
        1_795_524_664_758,
    );
    assert_eq!(req, expected);
    assert!(req.sys_flag.contains(PullSysFlag::SUSPEND));
    assert!(!req.sys_flag.contains(PullSysFlag::COMMIT_OFFSET));
    assert_reencodes!(
        PullMessageRequest<'_>,
        req,
        RequestCode::PULL_MESSAGE,
        SerializeType::Json,
        expected
    );
    // A binary map cannot carry an empty value: Java (and this decoder) read it as absent.
    assert_reencodes!(
        PullMessageRequest<'_>,
        req,
        RequestCode::PULL_MESSAGE,
        SerializeType::RocketMq,
        PullMessageRequest {
            subscription: None,
            ..expected
        }
    );

    let bytes = capture!("bin-pull-request");
    let cmd = command(&bytes);
    let req: PullMessageRequest<'_> = cmd.decode_fields().unwrap();
    let expected = PullMessageRequest {
        subscription: None,
        ..expected_pull(
            "PeerGroup_r1795524729617",
            "PeerCaptureBin",
            3,
            1_795_524_730_659,
        )
    };
    assert_eq!(req, expected);
    assert_reencodes!(PullMessageRequest<'_>, req, RequestCode::LITE_PULL_MESSAGE);
}

#[test]
fn pull_response_captures() {
    for (bytes, next) in [
        (capture!("pull-response"), 3),
        (capture!("pull-response-1msg"), 1),
        (capture!("bin-pull-response"), 2),
    ] {
        let cmd = command(&bytes);
        assert!(!cmd.body.is_empty());
        let resp: PullMessageResponse = cmd.decode_fields().unwrap();
        assert_eq!(
            resp,
            PullMessageResponse {
                suggest_which_broker_id: 0,
                next_begin_offset: next,
                min_offset: 0,
                max_offset: next,
                offset_delta: None,
                topic_sys_flag: Some(0),
                group_sys_flag: Some(0),
                forbidden_type: None,
            }
        );
        assert_reencodes!(PullMessageResponse, resp, RequestCode(0));
    }
}

#[test]
fn pull_sys_flag_bits() {
    let mut f = PullSysFlag::NONE;
    f |= PullSysFlag::COMMIT_OFFSET;
    f |= PullSysFlag::SUBSCRIPTION | PullSysFlag::LITE_PULL_MESSAGE;
    assert_eq!(f.0, 0x15);
    assert!(f.contains(PullSysFlag::SUBSCRIPTION | PullSysFlag::COMMIT_OFFSET));
    assert!(!f.contains(PullSysFlag::CLASS_FILTER));
    assert_eq!(f.without(PullSysFlag::COMMIT_OFFSET).0, 0x14);
}

// ---------------------------------------------------------------- offsets

#[test]
fn query_offset_captures() {
    for (bytes, group, topic, bname, st) in [
        (
            capture!("query-offset-request"),
            "PeerGroup_r1795524663713",
            "PeerCaptureV2",
            None,
            SerializeType::Json,
        ),
        (
            capture!("mixed-query-offset-request-rocketmq"),
            "PeerGroup_r1795524663713",
            "PeerCaptureV2",
            None,
            SerializeType::RocketMq,
        ),
        (
            capture!("query-offset-not-found-request"),
            "PeerGroup_r1795524663713",
            "%RETRY%PeerGroup_r1795524663713",
            Some("broker-a"),
            SerializeType::Json,
        ),
        (
            capture!("bin-query-offset-request"),
            "PeerGroup_r1795524729617",
            "%RETRY%PeerGroup_r1795524729617",
            Some("broker-a"),
            SerializeType::RocketMq,
        ),
    ] {
        let cmd = command(&bytes);
        assert_eq!(cmd.serialize_type, st);
        assert_eq!(
            cmd.header.request_code(),
            RequestCode::QUERY_CONSUMER_OFFSET
        );
        let req: QueryConsumerOffsetRequest<'_> = cmd.decode_fields().unwrap();
        assert_eq!(
            req,
            QueryConsumerOffsetRequest {
                consumer_group: group.into(),
                topic: topic.into(),
                queue_id: 0,
                set_zero_if_not_found: None,
                broker_name: bname.map(Text::new),
            }
        );
        assert_reencodes!(
            QueryConsumerOffsetRequest<'_>,
            req,
            RequestCode::QUERY_CONSUMER_OFFSET
        );
    }

    for bytes in [
        capture!("query-offset-response"),
        capture!("mixed-query-offset-response-json"),
    ] {
        let resp: QueryConsumerOffsetResponse = command(&bytes).decode_fields().unwrap();
        assert_eq!(resp, OffsetResponse { offset: 8 });
        assert_reencodes!(QueryConsumerOffsetResponse, resp, RequestCode(0));
    }

    // QUERY_NOT_FOUND carries no offset: the typed decode names the missing key.
    for bytes in [
        capture!("query-offset-not-found-response"),
        capture!("bin-query-offset-response"),
    ] {
        let cmd = command(&bytes);
        assert_eq!(cmd.header.code, 22);
        assert_eq!(
            cmd.decode_fields::<QueryConsumerOffsetResponse>(),
            Err(DecodeError::MissingField("offset"))
        );
    }
}

#[test]
fn update_offset_captures() {
    for (bytes, group, topic, queue_id, offset, bname, oneway) in [
        (
            capture!("update-offset-request"),
            "PeerGroup_r1795524663713",
            "PeerCaptureV2",
            0,
            8,
            None,
            false,
        ),
        (
            capture!("update-offset-oneway-request"),
            "PeerGroup_r1795524663713",
            "PeerCaptureV2",
            2,
            1,
            Some("broker-a"),
            true,
        ),
        (
            capture!("bin-update-offset-oneway-request"),
            "PeerGroup_r1795524729617",
            "PeerCaptureBin",
            2,
            1,
            Some("broker-a"),
            true,
        ),
    ] {
        let cmd = command(&bytes);
        assert_eq!(
            cmd.header.request_code(),
            RequestCode::UPDATE_CONSUMER_OFFSET
        );
        assert_eq!(cmd.header.is_oneway(), oneway);
        let req: UpdateConsumerOffsetRequest<'_> = cmd.decode_fields().unwrap();
        assert_eq!(
            req,
            UpdateConsumerOffsetRequest {
                consumer_group: group.into(),
                topic: topic.into(),
                queue_id,
                commit_offset: offset,
                broker_name: bname.map(Text::new),
            }
        );
        assert_reencodes!(
            UpdateConsumerOffsetRequest<'_>,
            req,
            RequestCode::UPDATE_CONSUMER_OFFSET
        );
    }
}

#[test]
fn offset_lookups_round_trip_and_boundary_type_is_case_insensitive() {
    let search = SearchOffsetRequest {
        topic: "T".into(),
        queue_id: 2,
        timestamp: 1_700_000_000_000,
        boundary_type: Some(BoundaryType::Upper),
        broker_name: Some("b".into()),
    };
    assert_reencodes!(
        SearchOffsetRequest<'_>,
        search,
        RequestCode::SEARCH_OFFSET_BY_TIMESTAMP
    );
    let bytes = encode(
        SerializeType::Json,
        RequestCode::SEARCH_OFFSET_BY_TIMESTAMP,
        &search,
    );
    assert_eq!(
        command(&bytes).fields().get("boundaryType").unwrap(),
        "UPPER"
    );

    for (wire, expected) in [
        ("upper", BoundaryType::Upper),
        ("UpPeR", BoundaryType::Upper),
        ("lower", BoundaryType::Lower),
        ("sideways", BoundaryType::Lower),
    ] {
        let pairs = [
            ("topic", "T"),
            ("queueId", "0"),
            ("timestamp", "1"),
            ("boundaryType", wire),
        ];
        let bytes = encode(
            SerializeType::RocketMq,
            RequestCode::SEARCH_OFFSET_BY_TIMESTAMP,
            &pairs,
        );
        let req: SearchOffsetRequest<'_> = command(&bytes).decode_fields().unwrap();
        assert_eq!(req.boundary_type, Some(expected), "{wire}");
    }

    let max = GetMaxOffsetRequest {
        topic: "T".into(),
        queue_id: 1,
        committed: Some(true),
        broker_name: None,
    };
    assert_reencodes!(GetMaxOffsetRequest<'_>, max, RequestCode::GET_MAX_OFFSET);
    let min = GetMinOffsetRequest {
        topic: "T".into(),
        queue_id: 1,
        broker_name: Some("b".into()),
    };
    assert_reencodes!(GetMinOffsetRequest<'_>, min, RequestCode::GET_MIN_OFFSET);
    let earliest = GetEarliestMsgStoretimeRequest {
        topic: "T".into(),
        queue_id: 1,
        broker_name: None,
    };
    assert_reencodes!(
        GetEarliestMsgStoretimeRequest<'_>,
        earliest,
        RequestCode::GET_EARLIEST_MSG_STORETIME
    );
    assert_reencodes!(
        GetMaxOffsetResponse,
        OffsetResponse { offset: -1 },
        RequestCode(0)
    );
    assert_reencodes!(
        GetEarliestMsgStoretimeResponse,
        GetEarliestMsgStoretimeResponse {
            timestamp: i64::MAX
        },
        RequestCode(0)
    );
}

// ---------------------------------------------------------------- broker → client

#[test]
fn notify_consumer_ids_changed_capture() {
    let bytes = capture!("notify-consumer-ids-changed-request");
    let cmd = command(&bytes);
    assert_eq!(
        cmd.header.request_code(),
        RequestCode::NOTIFY_CONSUMER_IDS_CHANGED
    );
    assert!(cmd.header.is_oneway());
    let req: NotifyConsumerIdsChangedRequest<'_> = cmd.decode_fields().unwrap();
    assert_eq!(req.consumer_group, "PeerGroup_r1795524663713");
    assert_reencodes!(
        NotifyConsumerIdsChangedRequest<'_>,
        req,
        RequestCode::NOTIFY_CONSUMER_IDS_CHANGED
    );
}

#[test]
fn broker_requests_round_trip() {
    let reset = ResetConsumerClientOffsetRequest {
        topic: "T".into(),
        group: "G".into(),
        timestamp: 1_700_000_000_000,
        is_force: true,
        queue_id: Some(-1),
        offset: None,
    };
    assert_reencodes!(
        ResetConsumerClientOffsetRequest<'_>,
        reset,
        RequestCode::RESET_CONSUMER_CLIENT_OFFSET
    );
    let running = GetConsumerRunningInfoRequest {
        consumer_group: "G".into(),
        client_id: "192.0.2.2@123".into(),
        jstack_enable: Some(false),
    };
    assert_reencodes!(
        GetConsumerRunningInfoRequest<'_>,
        running,
        RequestCode::GET_CONSUMER_RUNNING_INFO
    );
    let direct = ConsumeMessageDirectlyRequest {
        consumer_group: "G".into(),
        client_id: Some("c".into()),
        msg_id: Some("7F00000100002A9F0000000002E457BA".into()),
        broker_name: Some("broker-a".into()),
        topic: Some("T".into()),
        topic_sys_flag: None,
        group_sys_flag: Some(0),
    };
    assert_reencodes!(
        ConsumeMessageDirectlyRequest<'_>,
        direct,
        RequestCode::CONSUME_MESSAGE_DIRECTLY
    );
    let status = GetConsumerStatusFromClientRequest {
        topic: "T".into(),
        group: "G".into(),
        client_addr: None,
    };
    assert_reencodes!(
        GetConsumerStatusFromClientRequest<'_>,
        status,
        RequestCode::GET_CONSUMER_STATUS_FROM_CLIENT
    );
    let reply = PushReplyMessageRequest {
        producer_group: "PG".into(),
        topic: "T".into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 0,
        sys_flag: 0,
        born_timestamp: 1,
        flag: 0,
        properties: Some("CORRELATION_ID\u{1}x\u{2}".into()),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        born_host: "127.0.0.1:5000".into(),
        store_host: "127.0.0.1:10911".into(),
        store_timestamp: 2,
    };
    assert_reencodes!(
        PushReplyMessageRequest<'_>,
        reply,
        RequestCode::PUSH_REPLY_MESSAGE_TO_CLIENT
    );
}

/// Java marks these fields `@CFNullable`: a request without them must still decode (the
/// client answers CONSUME_MESSAGE_DIRECTLY from the body alone).
#[test]
fn broker_requests_accept_what_java_accepts() {
    for st in BOTH {
        let bytes = encode(
            st,
            RequestCode::CONSUME_MESSAGE_DIRECTLY,
            &[("consumerGroup", "G")],
        );
        let req: ConsumeMessageDirectlyRequest<'_> = command(&bytes).decode_fields().unwrap();
        assert_eq!(req.consumer_group, "G");
        assert_eq!(
            (req.client_id, req.msg_id, req.broker_name),
            (None, None, None)
        );

        let bytes = encode(
            st,
            RequestCode::GET_CONSUMER_RUNNING_INFO,
            &[("consumerGroup", "G"), ("clientId", "c")],
        );
        let req: GetConsumerRunningInfoRequest<'_> = command(&bytes).decode_fields().unwrap();
        assert_eq!(req.jstack_enable, None);

        // The fields Java does require are still required.
        let bytes = encode(
            st,
            RequestCode::CONSUME_MESSAGE_DIRECTLY,
            &[("clientId", "c")],
        );
        assert_eq!(
            command(&bytes).decode_fields::<ConsumeMessageDirectlyRequest<'_>>(),
            Err(DecodeError::MissingField("consumerGroup"))
        );
        let bytes = encode(
            st,
            RequestCode::GET_CONSUMER_RUNNING_INFO,
            &[("consumerGroup", "G")],
        );
        assert_eq!(
            command(&bytes).decode_fields::<GetConsumerRunningInfoRequest<'_>>(),
            Err(DecodeError::MissingField("clientId"))
        );
    }
}

// ---------------------------------------------------------------- transactions

#[test]
fn transactions_round_trip_and_reject_unknown_resolutions() {
    for resolution in [
        TransactionResolution::Unknown,
        TransactionResolution::Commit,
        TransactionResolution::Rollback,
    ] {
        let end = EndTransactionRequest {
            producer_group: "PG".into(),
            tran_state_table_offset: 5,
            commit_log_offset: 32_250_108,
            commit_or_rollback: resolution,
            from_transaction_check: Some(true),
            msg_id: "C000020215EBAC4C820C793431A60000".into(),
            transaction_id: Some("C000020215EBAC4C820C793431A60000".into()),
            topic: None,
            broker_name: Some("broker-a".into()),
        };
        assert_reencodes!(EndTransactionRequest<'_>, end, RequestCode::END_TRANSACTION);
        let bytes = encode(SerializeType::Json, RequestCode::END_TRANSACTION, &end);
        let code = resolution.code().to_string();
        assert_eq!(
            command(&bytes).fields().get("commitOrRollback").unwrap(),
            code.as_str()
        );
    }
    let pairs = [
        ("producerGroup", "PG"),
        ("tranStateTableOffset", "1"),
        ("commitLogOffset", "2"),
        ("commitOrRollback", "4"),
        ("msgId", "M"),
    ];
    let bytes = encode(SerializeType::Json, RequestCode::END_TRANSACTION, &pairs);
    assert_eq!(
        command(&bytes).decode_fields::<EndTransactionRequest<'_>>(),
        Err(DecodeError::InvalidField {
            field: "commitOrRollback",
            expected: "transaction type 0, 8 or 12",
        })
    );

    let check = CheckTransactionStateRequest {
        topic: Some("RMQ_SYS_TRANS_HALF_TOPIC".into()),
        tran_state_table_offset: 5,
        commit_log_offset: 6,
        msg_id: Some("M".into()),
        transaction_id: Some("M".into()),
        offset_msg_id: Some("7F00000100002A9F0000000002E457BA".into()),
        broker_name: Some("broker-a".into()),
    };
    assert_reencodes!(
        CheckTransactionStateRequest<'_>,
        check,
        RequestCode::CHECK_TRANSACTION_STATE
    );
}

// ---------------------------------------------------------------- client, query, admin

#[test]
fn client_query_and_admin_headers_round_trip() {
    let unregister = UnregisterClientRequest {
        client_id: "192.0.2.2@1".into(),
        producer_group: None,
        consumer_group: Some("G".into()),
    };
    assert_reencodes!(
        UnregisterClientRequest<'_>,
        unregister,
        RequestCode::UNREGISTER_CLIENT
    );
    let bytes = encode(
        SerializeType::RocketMq,
        RequestCode::UNREGISTER_CLIENT,
        &unregister,
    );
    assert_eq!(
        command(&bytes).fields().get("clientID").unwrap(),
        "192.0.2.2@1"
    );

    let back = ConsumerSendMsgBackRequest {
        offset: 32_250_108,
        group: "G".into(),
        delay_level: 0,
        origin_msg_id: Some("U".into()),
        origin_topic: Some("T".into()),
        unit_mode: Some(false),
        max_reconsume_times: Some(16),
        broker_name: Some("broker-a".into()),
    };
    assert_reencodes!(
        ConsumerSendMsgBackRequest<'_>,
        back,
        RequestCode::CONSUMER_SEND_MSG_BACK
    );
    let list = GetConsumerListByGroupRequest {
        consumer_group: "G".into(),
        broker_name: None,
    };
    assert_reencodes!(
        GetConsumerListByGroupRequest<'_>,
        list,
        RequestCode::GET_CONSUMER_LIST_BY_GROUP
    );

    let query = QueryMessageRequest {
        topic: "T".into(),
        key: "C000020215EBAC4C820C793431A60000".into(),
        max_num: 32,
        begin_timestamp: 0,
        end_timestamp: i64::MAX,
        unique_key_query: Some(true),
        broker_name: None,
    };
    assert_reencodes!(QueryMessageRequest<'_>, query, RequestCode::QUERY_MESSAGE);
    let bytes = encode(SerializeType::Json, RequestCode::QUERY_MESSAGE, &query);
    assert_eq!(
        command(&bytes).fields().get("_UNIQUE_KEY_QUERY").unwrap(),
        "true"
    );
    let qr = QueryMessageResponse {
        index_last_update_timestamp: 1,
        index_last_update_phyoffset: 2,
    };
    assert_reencodes!(QueryMessageResponse, qr, RequestCode(0));
    let view = ViewMessageRequest {
        offset: 32_250_108,
        topic: Some("T".into()),
        broker_name: None,
    };
    assert_reencodes!(
        ViewMessageRequest<'_>,
        view,
        RequestCode::VIEW_MESSAGE_BY_ID
    );

    let topic = UpdateAndCreateTopicRequest {
        topic: "T".into(),
        default_topic: "TBW102".into(),
        read_queue_nums: 8,
        write_queue_nums: 8,
        perm: 6,
        topic_filter_type: TopicFilterType::SingleTag,
        topic_sys_flag: Some(0),
        order: false,
        attributes: Some("+message.type=NORMAL".into()),
        force: None,
    };
    assert_reencodes!(
        UpdateAndCreateTopicRequest<'_>,
        topic,
        RequestCode::UPDATE_AND_CREATE_TOPIC
    );
    let multi = UpdateAndCreateTopicRequest {
        topic_filter_type: TopicFilterType::MultiTag,
        ..topic
    };
    let bytes = encode(
        SerializeType::Json,
        RequestCode::UPDATE_AND_CREATE_TOPIC,
        &multi,
    );
    assert_eq!(
        command(&bytes).fields().get("topicFilterType").unwrap(),
        "MULTI_TAG"
    );
    assert_reencodes!(
        GetKvConfigRequest<'_>,
        GetKvConfigRequest {
            namespace: "ORDER_TOPIC_CONFIG".into(),
            key: "T".into()
        },
        RequestCode::GET_KV_CONFIG
    );
    assert_reencodes!(
        GetKvConfigResponse<'_>,
        GetKvConfigResponse {
            value: Some("v".into())
        },
        RequestCode(0)
    );
    assert_reencodes!(
        DeleteTopicInBrokerRequest<'_>,
        DeleteTopicInBrokerRequest { topic: "T".into() },
        RequestCode::DELETE_TOPIC_IN_BROKER
    );
    assert_reencodes!(
        GetConsumeStatsRequest<'_>,
        GetConsumeStatsRequest {
            consumer_group: "G".into(),
            topic: Some("T".into()),
            topic_list: None
        },
        RequestCode::GET_CONSUME_STATS
    );
    assert_reencodes!(
        GetTopicStatsInfoRequest<'_>,
        GetTopicStatsInfoRequest { topic: "T".into() },
        RequestCode::GET_TOPIC_STATS_INFO
    );
    assert_reencodes!(
        GetConsumerConnectionListRequest<'_>,
        GetConsumerConnectionListRequest {
            consumer_group: "G".into()
        },
        RequestCode::GET_CONSUMER_CONNECTION_LIST
    );
}

// ---------------------------------------------------------------- pop (JSON header only)

#[test]
fn pop_headers_round_trip_in_json() {
    let pop = PopMessageRequest {
        consumer_group: "G".into(),
        topic: "T".into(),
        queue_id: -1,
        max_msg_nums: 32,
        invisible_time: 60_000,
        poll_time: 15_000,
        born_time: 1_700_000_000_000,
        init_mode: 0,
        exp_type: Some("TAG".into()),
        exp: Some("*".into()),
        order: Some(false),
        attempt_id: None,
        broker_name: Some("broker-a".into()),
    };
    let json = SerializeType::Json;
    assert_reencodes!(
        PopMessageRequest<'_>,
        pop,
        RequestCode::POP_MESSAGE,
        json,
        pop
    );
    let resp = PopMessageResponse {
        pop_time: 1,
        invisible_time: 60_000,
        revive_qid: 3,
        rest_num: 0,
        start_offset_info: Some("0 1 5".into()),
        msg_offset_info: Some("0 1 5,6".into()),
        order_count_info: None,
    };
    assert_reencodes!(PopMessageResponse<'_>, resp, RequestCode(0), json, resp);
    let ack = AckMessageRequest {
        consumer_group: "G".into(),
        topic: "T".into(),
        queue_id: 1,
        extra_info: "5 1 60000 3 0 broker-a 1 5".into(),
        offset: 5,
        broker_name: Some("broker-a".into()),
    };
    assert_reencodes!(
        AckMessageRequest<'_>,
        ack,
        RequestCode::ACK_MESSAGE,
        json,
        ack
    );
    let change = ChangeInvisibleTimeRequest {
        consumer_group: "G".into(),
        topic: "T".into(),
        queue_id: 1,
        extra_info: "5 1 60000 3 0 broker-a 1 5".into(),
        offset: 5,
        invisible_time: 30_000,
        broker_name: None,
    };
    assert_reencodes!(
        ChangeInvisibleTimeRequest<'_>,
        change,
        RequestCode::CHANGE_MESSAGE_INVISIBLETIME,
        json,
        change
    );
    let cr = ChangeInvisibleTimeResponse {
        pop_time: 2,
        invisible_time: 30_000,
        revive_qid: 3,
    };
    assert_reencodes!(ChangeInvisibleTimeResponse, cr, RequestCode(0), json, cr);
}

// ---------------------------------------------------------------- errors

#[test]
fn missing_required_fields_name_the_wire_key() {
    for st in BOTH {
        let bytes = encode(
            st,
            RequestCode::PULL_MESSAGE,
            &[("topic", "T"), ("queueId", "1")],
        );
        assert_eq!(
            command(&bytes).decode_fields::<PullMessageRequest<'_>>(),
            Err(DecodeError::MissingField("consumerGroup"))
        );
        let bytes = encode(st, RequestCode::SEND_MESSAGE_V2, &[("a", "G")]);
        assert_eq!(
            command(&bytes).decode_fields::<SendMessageRequest<'_>>(),
            Err(DecodeError::MissingField("b"))
        );
        let bytes = encode(
            st,
            RequestCode::SEND_MESSAGE,
            &[("producerGroup", "G"), ("topic", "T")],
        );
        assert_eq!(
            command(&bytes).decode_fields::<SendMessageRequest<'_>>(),
            Err(DecodeError::MissingField("defaultTopic"))
        );
        let bytes = encode(
            st,
            RequestCode::UNREGISTER_CLIENT,
            &[("clientId", "wrong case")],
        );
        assert_eq!(
            command(&bytes).decode_fields::<UnregisterClientRequest<'_>>(),
            Err(DecodeError::MissingField("clientID"))
        );
    }
}

#[test]
fn non_numeric_values_are_invalid_fields() {
    for st in BOTH {
        let pairs = [
            ("consumerGroup", "G"),
            ("topic", "T"),
            ("queueId", "one"),
            ("commitOffset", "8"),
        ];
        let bytes = encode(st, RequestCode::UPDATE_CONSUMER_OFFSET, &pairs);
        assert_eq!(
            command(&bytes).decode_fields::<UpdateConsumerOffsetRequest<'_>>(),
            Err(DecodeError::InvalidField {
                field: "queueId",
                expected: "i32",
            })
        );
        let bytes = encode(st, RequestCode::SEND_MESSAGE_V2, &[("g", "12:00")]);
        assert_eq!(
            command(&bytes).decode_fields::<SendMessageRequest<'_>>(),
            Err(DecodeError::InvalidField {
                field: "g",
                expected: "i64",
            })
        );
        let bytes = encode(
            st,
            RequestCode::SEND_MESSAGE,
            &[("bornTimestamp", "99999999999999999999")],
        );
        assert_eq!(
            command(&bytes).decode_fields::<SendMessageRequest<'_>>(),
            Err(DecodeError::InvalidField {
                field: "bornTimestamp",
                expected: "i64",
            })
        );
        let bytes = encode(st, RequestCode(0), &[("offset", "8.5")]);
        assert_eq!(
            command(&bytes).decode_fields::<OffsetResponse>(),
            Err(DecodeError::InvalidField {
                field: "offset",
                expected: "i64",
            })
        );
        let bytes = encode(
            st,
            RequestCode::UPDATE_AND_CREATE_TOPIC,
            &[("topicFilterType", "single_tag")],
        );
        assert!(matches!(
            command(&bytes).decode_fields::<UpdateAndCreateTopicRequest<'_>>(),
            Err(DecodeError::InvalidField {
                field: "topicFilterType",
                ..
            })
        ));
    }
}

#[test]
fn unknown_keys_are_ignored_and_json_numbers_accepted() {
    // A lenient JSON peer may send numbers unquoted.
    let header = br#"{"code":0,"flag":1,"extFields":{"offset":8,"x":"y"}}"#;
    let mut frame = Vec::new();
    frame.extend_from_slice(&((4 + header.len()) as i32).to_be_bytes());
    frame.extend_from_slice(&(header.len() as u32).to_be_bytes());
    frame.extend_from_slice(header);
    let resp: OffsetResponse = command(&frame).decode_fields().unwrap();
    assert_eq!(resp.offset, 8);
}

// ---------------------------------------------------------------- properties

/// Strings that stress both encoders: separators, quotes, backslashes, non-ASCII and
/// any other char. Non-empty: a binary map cannot carry an empty value.
fn wire_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => any::<char>(),
            1 => Just('\u{1}'),
            1 => Just('\u{2}'),
            1 => Just('"'),
            1 => Just('\\'),
            1 => Just('é'),
            1 => Just('中'),
            1 => Just('😀'),
        ],
        1..24,
    )
    .prop_map(|v| v.into_iter().collect())
}

#[derive(Debug, Clone)]
struct OwnedSend {
    texts: [String; 3],
    props: Option<String>,
    bname: Option<String>,
    nums: (i32, i32, i32, i64, i32),
    opts: (Option<i32>, Option<bool>, Option<i32>, Option<bool>),
}

impl OwnedSend {
    fn view(&self) -> SendMessageRequest<'_> {
        SendMessageRequest {
            producer_group: self.texts[0].as_str().into(),
            topic: self.texts[1].as_str().into(),
            default_topic: self.texts[2].as_str().into(),
            default_topic_queue_nums: self.nums.0,
            queue_id: self.nums.1,
            sys_flag: self.nums.2,
            born_timestamp: self.nums.3,
            flag: self.nums.4,
            properties: self.props.as_deref().map(Text::new),
            reconsume_times: self.opts.0,
            unit_mode: self.opts.1,
            max_reconsume_times: self.opts.2,
            batch: self.opts.3,
            broker_name: self.bname.as_deref().map(Text::new),
        }
    }
}

fn owned_send() -> impl Strategy<Value = OwnedSend> {
    (
        [wire_text(), wire_text(), wire_text()],
        prop::option::of(wire_text()),
        prop::option::of(wire_text()),
        (
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
            any::<i64>(),
            any::<i32>(),
        ),
        (
            prop::option::of(any::<i32>()),
            prop::option::of(any::<bool>()),
            prop::option::of(any::<i32>()),
            prop::option::of(any::<bool>()),
        ),
    )
        .prop_map(|(texts, props, bname, nums, opts)| OwnedSend {
            texts,
            props,
            bname,
            nums,
            opts,
        })
}

proptest! {
    #[test]
    fn send_request_round_trips_in_both_forms_and_serializations(s in owned_send()) {
        let req = s.view();
        for (form, code) in [
            (SendHeaderForm::V1, RequestCode::SEND_MESSAGE),
            (SendHeaderForm::V2, RequestCode::SEND_MESSAGE_V2),
        ] {
            for st in BOTH {
                let bytes = encode(st, code, &req.with_form(form));
                let cmd = command(&bytes);
                let fields = cmd.fields();
                let detected: SendMessageFields<'_> = cmd.decode_fields().unwrap();
                prop_assert_eq!(detected, req.with_form(form));
                let explicit = match form {
                    SendHeaderForm::V1 => SendMessageRequest::decode_v1(&fields),
                    SendHeaderForm::V2 => SendMessageRequest::decode_v2(&fields),
                };
                prop_assert_eq!(explicit, Ok(req));
                prop_assert_eq!(SendMessageRequest::decode_for_code(code, &fields), Some(Ok(req)));
            }
        }
    }

    #[test]
    fn pull_request_round_trips(
        texts in [wire_text(), wire_text()],
        opt_texts in (prop::option::of(wire_text()), prop::option::of(wire_text()),
                      prop::option::of(wire_text()), prop::option::of(wire_text())),
        nums in (any::<i32>(), any::<i64>(), any::<i32>(), any::<i32>(), any::<i64>(), any::<i64>(), any::<i64>()),
        opt_nums in (prop::option::of(any::<i32>()), prop::option::of(any::<i32>())),
    ) {
        let req = PullMessageRequest {
            consumer_group: texts[0].as_str().into(),
            topic: texts[1].as_str().into(),
            queue_id: nums.0,
            queue_offset: nums.1,
            max_msg_nums: nums.2,
            sys_flag: PullSysFlag(nums.3),
            commit_offset: nums.4,
            suspend_timeout_millis: nums.5,
            subscription: opt_texts.0.as_deref().map(Text::new),
            sub_version: nums.6,
            expression_type: opt_texts.1.as_deref().map(Text::new),
            max_msg_bytes: opt_nums.0,
            request_source: opt_nums.1,
            proxy_forward_client_id: opt_texts.2.as_deref().map(Text::new),
            broker_name: opt_texts.3.as_deref().map(Text::new),
        };
        for st in BOTH {
            let bytes = encode(st, RequestCode::PULL_MESSAGE, &req);
            let back: PullMessageRequest<'_> = command(&bytes).decode_fields().unwrap();
            prop_assert_eq!(back, req);
        }
    }
}

#[test]
fn decode_fields_trait_is_usable_directly() {
    let bytes = capture!("route-request");
    let cmd = command(&bytes);
    let req = GetRouteInfoRequest::decode_fields(&cmd.fields()).unwrap();
    assert_eq!(req.topic, "PeerCaptureV2");
}
