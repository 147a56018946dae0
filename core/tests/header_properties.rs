//! Property round-trips for every typed header: from generated `extFields` (any subset
//! of the known wire keys, numeric or arbitrary string values), each header type that
//! decodes must encode (JSON and binary) and decode back to the same value.

use proptest::prelude::*;
use rocketmq_proto::codes::{RequestCode, SerializeType};
use rocketmq_proto::command::{Command, CommandEncoder, Header};
use rocketmq_proto::ext::{DecodeFields, EncodeFields, ExtFields, FieldSink, FieldValue};
use rocketmq_proto::frame::{Decoded, FrameDecoder};
use rocketmq_proto::header::*;
use rocketmq_proto::text::Text;

/// Every wire key the typed headers use, plus the V2 send letters.
const KEYS: &[&str] = &[
    "IS_SUB_CHANGE",
    "IS_SUPPORT_HEART_BEAT_V2",
    "MSG_REGION",
    "TRACE_ON",
    "_UNIQUE_KEY_QUERY",
    "acceptStandardJsonOnly",
    "attemptId",
    "attributes",
    "batch",
    "batchUniqId",
    "beginTimestamp",
    "bname",
    "bornHost",
    "bornTime",
    "bornTimestamp",
    "boundaryType",
    "brokerName",
    "cleanOffset",
    "clientAddr",
    "clientID",
    "clientId",
    "clusterName",
    "commitLogOffset",
    "commitOffset",
    "commitOrRollback",
    "committed",
    "consumerGroup",
    "defaultTopic",
    "defaultTopicQueueNums",
    "delayLevel",
    "endTimestamp",
    "exp",
    "expType",
    "expressionType",
    "extraInfo",
    "flag",
    "forbiddenType",
    "force",
    "fromTransactionCheck",
    "group",
    "groupName",
    "groupSysFlag",
    "indexLastUpdatePhyoffset",
    "indexLastUpdateTimestamp",
    "initMode",
    "invisibleTime",
    "isForce",
    "jstackEnable",
    "key",
    "maxMsgBytes",
    "maxMsgNums",
    "maxNum",
    "maxOffset",
    "maxReconsumeTimes",
    "minOffset",
    "msgId",
    "msgOffsetInfo",
    "namespace",
    "nextBeginOffset",
    "offset",
    "offsetDelta",
    "offsetMsgId",
    "order",
    "orderCountInfo",
    "originMsgId",
    "originTopic",
    "perm",
    "pollTime",
    "popTime",
    "producerGroup",
    "properties",
    "proxyFrowardClientId",
    "queueId",
    "queueOffset",
    "readQueueNums",
    "recallHandle",
    "reconsumeTimes",
    "requestSource",
    "restNum",
    "reviveQid",
    "setZeroIfNotFound",
    "startOffsetInfo",
    "storeHost",
    "storeTimestamp",
    "subVersion",
    "subscription",
    "suggestWhichBrokerId",
    "suspendTimeoutMillis",
    "sysFlag",
    "timestamp",
    "topic",
    "topicFilterType",
    "topicList",
    "topicSysFlag",
    "tranStateTableOffset",
    "transactionId",
    "unitMode",
    "value",
    "writeQueueNums",
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "h",
    "i",
    "j",
    "k",
    "l",
    "m",
    "n",
];

/// Keys whose values are enums: a number would not decode.
fn enum_values(key: &str) -> Option<&'static [&'static str]> {
    match key {
        "boundaryType" => Some(&["LOWER", "UPPER", "lower"]),
        "topicFilterType" => Some(&["SINGLE_TAG", "MULTI_TAG"]),
        "commitOrRollback" => Some(&["0", "8", "12"]),
        _ => None,
    }
}

struct Owned(Vec<(String, String)>);
impl EncodeFields for Owned {
    fn encode_fields<'s, S: FieldSink<'s> + ?Sized>(&'s self, sink: &mut S) {
        for (k, v) in &self.0 {
            sink.field(Text::new(k), FieldValue::Text(Text::new(v)));
        }
    }
}

/// Frame the fields as a JSON request and decode them back as `ExtFields`.
fn framed(fields: &impl EncodeFields, ser: SerializeType) -> Vec<u8> {
    let enc = CommandEncoder::new(ser);
    let header = Header::request(RequestCode::SEND_MESSAGE_V2, 1);
    let mut out = vec![0u8; enc.frame_len(&header, fields, b"").unwrap()];
    enc.encode(&mut out, &header, fields, b"").unwrap();
    out
}

fn command(bytes: &[u8]) -> Command<'_> {
    let Decoded::Frame { frame, .. } = FrameDecoder::new().decode(bytes).unwrap() else {
        panic!("incomplete")
    };
    Command::decode(frame).unwrap()
}

/// For every header type: decode from `fields`; if it decodes, re-encode in both
/// serializations and decode back to an equal value. Returns how many types decoded.
fn round_trip_all(fields: &ExtFields<'_>) -> usize {
    let mut decoded = 0;
    macro_rules! each {
        ($($t:ident),* $(,)?) => { $(
            if let Ok(h) = <$t>::decode_fields(fields) {
                decoded += 1;
                for ser in [SerializeType::Json, SerializeType::RocketMq] {
                    let bytes = framed(&h, ser);
                    let cmd = command(&bytes);
                    let back = <$t>::decode_fields(&cmd.fields())
                        .unwrap_or_else(|e| panic!("{} via {ser:?}: {e}", stringify!($t)));
                    assert_eq!(back, h, "{} via {ser:?}", stringify!($t));
                }
            }
        )* };
    }
    each!(
        UpdateAndCreateTopicRequest,
        DeleteTopicInBrokerRequest,
        DeleteTopicInNamesrvRequest,
        DeleteSubscriptionGroupRequest,
        GetConsumerConnectionListRequest,
        GetConsumeStatsRequest,
        GetTopicStatsInfoRequest,
        NotifyConsumerIdsChangedRequest,
        ResetConsumerClientOffsetRequest,
        GetConsumerStatusFromClientRequest,
        GetConsumerRunningInfoRequest,
        ConsumeMessageDirectlyRequest,
        PushReplyMessageRequest,
        HeartbeatResponse,
        UnregisterClientRequest,
        ConsumerSendMsgBackRequest,
        GetConsumerListByGroupRequest,
        GetRouteInfoRequest,
        GetKvConfigRequest,
        GetKvConfigResponse,
        QueryConsumerOffsetRequest,
        UpdateConsumerOffsetRequest,
        GetMaxOffsetRequest,
        GetMinOffsetRequest,
        SearchOffsetRequest,
        GetEarliestMsgStoretimeRequest,
        OffsetResponse,
        GetEarliestMsgStoretimeResponse,
        PopMessageRequest,
        PopMessageResponse,
        AckMessageRequest,
        ChangeInvisibleTimeRequest,
        ChangeInvisibleTimeResponse,
        PullMessageRequest,
        PullMessageResponse,
        QueryMessageRequest,
        QueryMessageResponse,
        ViewMessageRequest,
        SendMessageFields,
        SendMessageResponse,
        EndTransactionRequest,
        CheckTransactionStateRequest,
    );
    decoded
}

const HEADER_TYPES: usize = 42;

#[test]
fn every_header_type_decodes_from_a_full_field_set() {
    // Guards the property test below: with every key present and well-typed, every
    // header type decodes (so the round-trip is exercised for all of them).
    let fields = Owned(
        KEYS.iter()
            .map(|k| {
                let v = enum_values(k).map_or("7", |v| v[0]);
                (k.to_string(), v.to_string())
            })
            .collect(),
    );
    for ser in [SerializeType::Json, SerializeType::RocketMq] {
        let bytes = framed(&fields, ser);
        assert_eq!(
            round_trip_all(&command(&bytes).fields()),
            HEADER_TYPES,
            "{ser:?}"
        );
    }
}

fn value_for(key: &'static str) -> BoxedStrategy<String> {
    if let Some(vals) = enum_values(key) {
        return proptest::sample::select(vals)
            .prop_map(str::to_string)
            .boxed();
    }
    prop_oneof![
        6 => any::<i64>().prop_map(|n| n.to_string()),
        2 => any::<i32>().prop_map(|n| n.to_string()),
        1 => prop_oneof![Just("true"), Just("false")].prop_map(str::to_string),
        // Non-empty: binary headers carry no empty strings (Java reads them as null).
        2 => "[^\u{0}]{1,16}",
        1 => Just("K\u{1}v\u{2}\"\\é😀".to_string()),
    ]
    .boxed()
}

fn field_sets() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::sample::subsequence(KEYS, 0..KEYS.len()).prop_flat_map(|keys| {
        keys.into_iter()
            .map(|k| value_for(k).prop_map(move |v| (k.to_string(), v)))
            .collect::<Vec<_>>()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn every_header_type_round_trips(fields in field_sets()) {
        let owned = Owned(fields);
        for ser in [SerializeType::Json, SerializeType::RocketMq] {
            let bytes = framed(&owned, ser);
            round_trip_all(&command(&bytes).fields());
        }
    }
}
