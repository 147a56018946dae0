//! Every typed ext header decoder on the fields of an arbitrary header (first byte
//! picks the serialization): never panics; whatever decodes re-encodes (JSON and binary)
//! and decodes back to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocketmq_proto::codes::{RequestCode, SerializeType};
use rocketmq_proto::command::{decode_binary_header, decode_json_header, Command, CommandEncoder, Header};
use rocketmq_proto::ext::DecodeFields;
use rocketmq_proto::frame::{Decoded, FrameDecoder};
use rocketmq_proto::header::*;

fuzz_target!(|data: &[u8]| {
    let Some((&ser, header)) = data.split_first() else { return };
    let decoded = if ser & 1 == 0 {
        decode_json_header(header)
    } else {
        decode_binary_header(header)
    };
    let Ok((_, Some(fields))) = decoded else { return };
    // A macro, not a generic fn: each type's lifetime is inferred per use, so the value
    // decoded from the re-encoded bytes may borrow from them.
    macro_rules! all {
        ($($t:ident),* $(,)?) => { $(
            if let Ok(h) = <$t>::decode_fields(&fields) {
                for ser in [SerializeType::Json, SerializeType::RocketMq] {
                    let enc = CommandEncoder::new(ser);
                    let header = Header::request(RequestCode::SEND_MESSAGE_V2, 1);
                    let Ok(len) = enc.frame_len(&header, &h, b"") else { continue };
                    let mut out = vec![0u8; len];
                    enc.encode(&mut out, &header, &h, b"").expect("sized buffer");
                    let Ok(Decoded::Frame { frame, .. }) = FrameDecoder::new().decode(&out) else {
                        panic!("re-encoded frame does not decode")
                    };
                    let cmd = Command::decode(frame).expect("re-encoded command decodes");
                    // Binary headers cannot carry empty strings (Java reads them as
                    // null), so only JSON must give back exactly the same value.
                    if ser == SerializeType::Json {
                        let back = <$t>::decode_fields(&cmd.fields()).expect("re-encoded header decodes");
                        assert_eq!(back, h);
                    }
                }
            }
        )* };
    }
    all!(
        UpdateAndCreateTopicRequest, DeleteTopicInBrokerRequest, DeleteTopicInNamesrvRequest,
        DeleteSubscriptionGroupRequest, GetConsumerConnectionListRequest, GetConsumeStatsRequest,
        GetTopicStatsInfoRequest, NotifyConsumerIdsChangedRequest, ResetConsumerClientOffsetRequest,
        GetConsumerStatusFromClientRequest, GetConsumerRunningInfoRequest,
        ConsumeMessageDirectlyRequest, PushReplyMessageRequest, HeartbeatResponse,
        UnregisterClientRequest, ConsumerSendMsgBackRequest, GetConsumerListByGroupRequest,
        GetRouteInfoRequest, GetKvConfigRequest, GetKvConfigResponse, QueryConsumerOffsetRequest,
        UpdateConsumerOffsetRequest, GetMaxOffsetRequest, GetMinOffsetRequest, SearchOffsetRequest,
        GetEarliestMsgStoretimeRequest, OffsetResponse, GetEarliestMsgStoretimeResponse,
        PopMessageRequest, PopMessageResponse, AckMessageRequest, ChangeInvisibleTimeRequest,
        ChangeInvisibleTimeResponse, PullMessageRequest, PullMessageResponse, QueryMessageRequest,
        QueryMessageResponse, ViewMessageRequest, SendMessageFields, SendMessageResponse,
        EndTransactionRequest, CheckTransactionStateRequest,
    );
});

