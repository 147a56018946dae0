//! The operations the codec benchmark times, one function per (codec, operation), shared by
//! the criterion bench (`benches/codec_vs_peer.rs`) and the allocation counter
//! (`src/bin/alloc-count.rs`), so both measure exactly the same code.
//!
//! Same inputs on both sides:
//! * send request: SEND_MESSAGE_V2 (request code 310), producer group `BenchProducerGroup`,
//!   topic `BenchTopic`, default topic `TBW102` with 4 queues, queue 3, sysFlag 0, a fixed
//!   bornTimestamp, flag 0, reconsumeTimes 0, unitMode false, batch false, broker `broker-a`,
//!   a 128-byte body and the properties UNIQ_KEY, KEYS, TAGS, WAIT — the properties string is
//!   built per message on both sides (ours from the pairs, the peer from its message's
//!   property map, as its producer does in `send_kernel_impl`). Ours builds it the way its
//!   producer keeps a send's properties: for a JSON header already JSON-escaped
//!   (`JsonProperties`), which the header then copies, for a binary one as it is;
//! * send response: the captured broker responses in `core/tests/data/captures`
//!   (`send-v2-response.hex`, JSON; `bin-send-v2-response.hex`, ROCKETMQ binary);
//! * pull body: 32 stored messages of 1 KiB each (same properties), built once by our
//!   `record::encode`, decoded by both (checked in `check_inputs`).

use rocketmq_proto::codes::{RequestCode, SerializeType};
use rocketmq_proto::command::{Command, CommandEncoder, Header};
use rocketmq_proto::frame::{Decoded, FrameDecoder};
use rocketmq_proto::header::{SendMessageRequest, SendMessageResponse};
use rocketmq_proto::message::properties::{keys, JsonProperties, Properties, PropertiesView};
use rocketmq_proto::message::record::{self, MessageRecord, RecordIter};
use rocketmq_proto::out::BufMutOut;
use rocketmq_proto::text::Text;
use std::hint::black_box;

pub const PRODUCER_GROUP: &str = "BenchProducerGroup";
pub const TOPIC: &str = "BenchTopic";
pub const BROKER_NAME: &str = "broker-a";
pub const QUEUE_ID: i32 = 3;
pub const BORN_TIMESTAMP: i64 = 1_795_524_663_718;
pub const BODY: [u8; 128] = [0x5a; 128];
/// UNIQ_KEY, KEYS, TAGS, WAIT — what a Java producer sends with a keyed, tagged message.
pub const PROPERTIES: [(&str, &str); 4] = [
    (keys::UNIQ_KEY, "C000020215EBAC4C820C793431A60000"),
    (keys::KEYS, "order-1795524663713"),
    (keys::TAGS, "TagA"),
    (keys::WAIT, "true"),
];
pub const PULL_MESSAGES: usize = 32;
pub const PULL_BODY_LEN: usize = 1024;

/// A captured frame from `core/tests/data/captures`.
pub fn capture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../core/tests/data/captures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

pub fn json_response() -> Vec<u8> {
    capture("send-v2-response.hex")
}

pub fn binary_response() -> Vec<u8> {
    capture("bin-send-v2-response.hex")
}

/// 32 stored messages of 1 KiB, as a PULL_MESSAGE response body carries them.
pub fn pull_body() -> Vec<u8> {
    let body = vec![0x42u8; PULL_BODY_LEN];
    let mut props = [0u8; 256];
    let n = ours::typical_properties(&mut props);
    let props = core::str::from_utf8(&props[..n]).unwrap();
    let mut out = Vec::new();
    for i in 0..PULL_MESSAGES as i64 {
        let msg = MessageRecord {
            topic: TOPIC,
            queue_id: QUEUE_ID,
            queue_offset: 1000 + i,
            physical_offset: 4096 * i,
            born_timestamp: BORN_TIMESTAMP,
            store_timestamp: BORN_TIMESTAMP + 2,
            born_host: "127.0.0.1:54321".parse().unwrap(),
            store_host: "127.0.0.1:10911".parse().unwrap(),
            body: &body,
            body_crc: record::body_crc(&body),
            properties: PropertiesView::new(props),
            ..MessageRecord::default()
        };
        record::encode(&mut BufMutOut(&mut out), &msg).unwrap();
    }
    out
}

/// Our codec (rocketmq-proto): borrowed, allocation-free.
pub mod ours {
    use super::*;

    pub fn typical_properties(buf: &mut [u8]) -> usize {
        let mut p = Properties::new(buf);
        for (k, v) in PROPERTIES {
            p.put(k, v).unwrap();
        }
        p.len()
    }

    /// The same properties, JSON-escaped as they sit in a JSON header (what our producer
    /// keeps for a send whose requests are JSON: the header then copies them).
    pub fn typical_properties_json(buf: &mut [u8]) -> Text<'_> {
        let mut p = JsonProperties::new(buf);
        for (k, v) in PROPERTIES {
            p.put(k, v).unwrap();
        }
        p.into_text()
    }

    pub fn send_request<'a>(props: Text<'a>) -> SendMessageRequest<'a> {
        SendMessageRequest {
            producer_group: PRODUCER_GROUP.into(),
            topic: TOPIC.into(),
            default_topic: const { Text::key(SendMessageRequest::DEFAULT_TOPIC) },
            default_topic_queue_nums: SendMessageRequest::DEFAULT_TOPIC_QUEUE_NUMS,
            queue_id: QUEUE_ID,
            sys_flag: 0,
            born_timestamp: BORN_TIMESTAMP,
            flag: 0,
            properties: Some(props),
            reconsume_times: Some(0),
            unit_mode: Some(false),
            max_reconsume_times: None,
            batch: Some(false),
            broker_name: Some(BROKER_NAME.into()),
        }
    }

    /// Per message: build the properties string, then the whole frame (header and body)
    /// into a caller-owned contiguous buffer. Returns the frame length.
    pub struct SendEncoder {
        pub ser: SerializeType,
        pub enc: CommandEncoder,
        pub out: [u8; 1024],
        pub props: [u8; 256],
        pub opaque: i32,
    }

    impl SendEncoder {
        pub fn new(ser: SerializeType) -> Self {
            SendEncoder {
                ser,
                enc: CommandEncoder::new(ser),
                out: [0; 1024],
                props: [0; 256],
                opaque: 0,
            }
        }

        #[inline(never)]
        pub fn encode(&mut self) -> usize {
            // As our producer keeps them: JSON-escaped for JSON requests.
            let props = if self.ser == SerializeType::Json {
                typical_properties_json(&mut self.props)
            } else {
                let n = typical_properties(&mut self.props);
                Text::new(core::str::from_utf8(&self.props[..n]).unwrap())
            };
            self.opaque = self.opaque.wrapping_add(1);
            self.enc
                .encode(
                    &mut self.out,
                    &Header::request(RequestCode::SEND_MESSAGE_V2, self.opaque),
                    &send_request(props).v2(),
                    black_box(&BODY),
                )
                .unwrap()
        }

        pub fn frame(&self, len: usize) -> &[u8] {
            &self.out[..len]
        }
    }

    /// Frame, header, typed response header (what a producer reads of a send response).
    #[inline(never)]
    pub fn decode_response(frame: &[u8]) -> i64 {
        let Decoded::Frame { frame, .. } = FrameDecoder::new().decode(black_box(frame)).unwrap()
        else {
            unreachable!()
        };
        let cmd = Command::decode(frame).unwrap();
        let resp: SendMessageResponse = cmd.decode_fields().unwrap();
        black_box(resp.msg_id);
        black_box(resp.msg_region);
        black_box(resp.trace_on);
        resp.queue_offset
    }

    /// Every record with its properties and its UNIQ_KEY. Returns the bytes of body seen.
    #[inline(never)]
    pub fn decode_pull(body: &[u8]) -> usize {
        let mut total = 0usize;
        for rec in RecordIter::new(black_box(body)) {
            let rec = rec.unwrap();
            total += rec.body.len();
            black_box(rec.properties.get(keys::UNIQ_KEY));
        }
        total
    }

    /// As [`decode_pull`], but also walks every property pair of every record (the peer
    /// parses them all into a map; ours parses lazily, so this is the "all properties"
    /// upper bound).
    #[inline(never)]
    pub fn decode_pull_all_props(body: &[u8]) -> usize {
        let mut total = 0usize;
        for rec in RecordIter::new(black_box(body)) {
            let rec = rec.unwrap();
            total += rec.body.len();
            for (k, v) in rec.properties.iter() {
                black_box((k, v));
            }
            black_box(rec.properties.get(keys::UNIQ_KEY));
        }
        total
    }
}

/// The rocketmq-rust project's codec (crates.io rocketmq-protocol 1.0.0), driven the way
/// its client (rocketmq-client-rust 1.0.0) drives it on the hot paths:
/// * send: `DefaultMQProducerImpl::send_kernel_impl` builds a `SendMessageRequestHeader`
///   (properties via `MessageDecoder::message_properties_to_string`), `MQClientAPIImpl::
///   send_message` converts it with `SendMessageRequestHeaderV2::
///   create_send_message_request_header_v2` and `RemotingCommandFactory::
///   create_request_command`, sets the body (a `Bytes` clone), and the transport encodes it
///   with `EncodedFrame::from_command` (then `copy_to` a contiguous buffer, as its
///   coalescing/TLS writer and its tokio `Encoder` do; its plaintext vectored write would
///   skip copying the 128-byte body). Its client takes this V2 path when
///   `org.apache.rocketmq.client.sendSmartMsg` is set (and for every batch); by default it
///   sends SEND_MESSAGE (v1, long key names) instead — V2 is benchmarked so that both
///   sides put the same request on the wire. Its frame differs only in two more JSON
///   keys (`"remark":null`, and `"bname"` besides `"n"`: 33 bytes; none in binary);
/// * response: `RemotingCommand::decode` (what its `RemotingCommandCodec` calls after limit
///   checks; our decoder reads the frame in place, the peer's takes it out of a read
///   buffer, filled outside the timed region),
///   `decode_command_custom_header_fast::<SendMessageResponseHeader>()`, then the
///   MSG_REGION / TRACE_ON ext-field lookups its `send_message` result path does;
/// * pull: `MessageDecoder::decodes_batch(body, true, true)` (`PullAPIWrapper::
///   process_pull_result`), then the UNIQ_KEY property of each message. It parses every
///   property into a map and formats each message's offset id; ours parses properties
///   lazily and computes no id (`ours::decode_pull_all_props` walks them all). Neither
///   checks body CRCs.
#[cfg(feature = "peer")]
pub mod peer {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use cheetah_string::CheetahString;
    use rocketmq_protocol::common::message::message_decoder as MessageDecoder;
    use rocketmq_protocol::protocol::header::message_operation_header::send_message_request_header::SendMessageRequestHeader;
    use rocketmq_protocol::protocol::header::message_operation_header::send_message_request_header_v2::SendMessageRequestHeaderV2;
    use rocketmq_protocol::protocol::header::message_operation_header::send_message_response_header::SendMessageResponseHeader;
    use rocketmq_protocol::protocol::remoting_command_defaults::{
        RemotingCommandDefaults, RemotingCommandFactory,
    };
    pub use rocketmq_protocol::protocol::SerializeType;
    use rocketmq_protocol::protocol::SerializeType as PeerSerializeType;
    use rocketmq_protocol::{EncodedFrame, RemotingCommand, RequestCode as PeerRequestCode};
    use rocketmq_protocol::{RpcRequestHeader, TopicRequestHeader};
    use std::collections::HashMap;

    /// The serialization the peer's client uses unless `ROCKETMQ_SERIALIZE_TYPE` says
    /// otherwise.
    pub const DEFAULT_SERIALIZE_TYPE: PeerSerializeType = PeerSerializeType::JSON;

    /// State a producer holds across sends (its group, the message's topic and property
    /// map, the body `Bytes`, the command factory), plus a reused output buffer.
    pub struct SendEncoder {
        factory: RemotingCommandFactory,
        producer_group: CheetahString,
        topic: CheetahString,
        default_topic: CheetahString,
        broker_name: CheetahString,
        properties: HashMap<CheetahString, CheetahString>,
        body: Bytes,
        pub out: BytesMut,
    }

    impl SendEncoder {
        pub fn new(ser: PeerSerializeType) -> Self {
            let properties = PROPERTIES
                .iter()
                .map(|(k, v)| (CheetahString::from_slice(k), CheetahString::from_slice(v)))
                .collect();
            SendEncoder {
                factory: RemotingCommandFactory::new(RemotingCommandDefaults::new(
                    rocketmq_proto::codes::version::CURRENT,
                    ser,
                )),
                producer_group: CheetahString::from_slice(PRODUCER_GROUP),
                topic: CheetahString::from_slice(TOPIC),
                default_topic: CheetahString::from_slice("TBW102"),
                broker_name: CheetahString::from_slice(BROKER_NAME),
                properties,
                body: Bytes::copy_from_slice(&BODY),
                out: BytesMut::with_capacity(1024),
            }
        }

        #[inline(never)]
        pub fn encode(&mut self) -> usize {
            let request_header = SendMessageRequestHeader {
                producer_group: self.producer_group.clone(),
                topic: self.topic.clone(),
                default_topic: self.default_topic.clone(),
                default_topic_queue_nums: 4,
                queue_id: QUEUE_ID,
                sys_flag: 0,
                born_timestamp: BORN_TIMESTAMP,
                flag: 0,
                properties: Some(MessageDecoder::message_properties_to_string(
                    &self.properties,
                )),
                reconsume_times: Some(0),
                unit_mode: Some(false),
                batch: Some(false),
                topic_request_header: Some(TopicRequestHeader {
                    rpc_request_header: Some(RpcRequestHeader {
                        broker_name: Some(self.broker_name.clone()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let v2 =
                SendMessageRequestHeaderV2::create_send_message_request_header_v2(&request_header);
            let mut request = self
                .factory
                .create_request_command(PeerRequestCode::SendMessageV2, v2);
            request.set_body_mut_ref(black_box(&self.body).clone());
            let frame = EncodedFrame::from_command(request).unwrap();
            self.out.clear();
            frame.copy_to(&mut self.out);
            self.out.len()
        }

        pub fn frame(&self) -> &[u8] {
            &self.out
        }
    }

    /// The bytes a socket read left in the connection's read buffer, in the state a
    /// long-lived read buffer is in: already shared (its codec has split frames off it
    /// before), so splitting this frame off does not pay the one-time promotion to a
    /// shared buffer (an allocation) that the first frame of a connection pays.
    pub fn read_buffer(frame: &[u8]) -> BytesMut {
        let mut buf = BytesMut::with_capacity(frame.len().max(8 * 1024));
        buf.extend_from_slice(frame);
        drop(buf.split_to(0)); // promote to the shared representation
        buf
    }

    /// Decode one response frame out of the read buffer (which it consumes, as the codec
    /// does), then its typed header and the two ext fields the client reads besides.
    #[inline(never)]
    pub fn decode_response(buf: &mut BytesMut) -> i64 {
        let cmd = RemotingCommand::decode(black_box(buf)).unwrap().unwrap();
        let header = cmd
            .decode_command_custom_header_fast::<SendMessageResponseHeader>()
            .unwrap();
        let fields = cmd.ext_fields();
        black_box(fields.and_then(|m| m.get("MSG_REGION")));
        black_box(fields.and_then(|m| m.get("TRACE_ON")));
        black_box(header.msg_id());
        header.queue_offset()
    }

    /// `decodes_batch` (what `PullAPIWrapper` calls), then each message's UNIQ_KEY.
    #[inline(never)]
    pub fn decode_pull(body: &Bytes) -> usize {
        let mut body = black_box(body).clone();
        let msgs = MessageDecoder::decodes_batch(&mut body, true, true);
        let mut total = 0usize;
        for m in &msgs {
            total += m.body().map_or(0, |b| b.len());
            black_box(m.properties().get("UNIQ_KEY"));
        }
        total
    }

    /// The peer's view of the frames/bodies, for `check_inputs`.
    pub fn decode_request_fields(frame: &[u8]) -> HashMap<String, String> {
        let mut buf = BytesMut::from(frame);
        let cmd = RemotingCommand::decode(&mut buf).unwrap().unwrap();
        cmd.ext_fields()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn pull_uniq_keys(body: &Bytes) -> Vec<Option<String>> {
        let mut body = body.clone();
        MessageDecoder::decodes_batch(&mut body, true, true)
            .iter()
            .map(|m| m.properties().get("UNIQ_KEY").map(|v| v.to_string()))
            .collect()
    }
}

/// Check that both codecs accept every input and agree on it; panics otherwise.
/// Returns a human-readable summary of the differences that remain (wire sizes).
pub fn check_inputs() -> Vec<String> {
    let mut notes = Vec::new();
    // Responses: both decode the same captured frames to the same typed header.
    for frame in [json_response(), binary_response()] {
        let ours = ours::decode_response(&frame);
        #[cfg(feature = "peer")]
        {
            let mut buf = peer::read_buffer(&frame);
            let theirs = peer::decode_response(&mut buf);
            assert_eq!(ours, theirs, "queueOffset differs");
            assert!(buf.is_empty());
        }
        let _ = ours;
    }
    // Pull body: 32 records, 32 KiB of body, every UNIQ_KEY found, on both sides.
    let body = pull_body();
    assert_eq!(ours::decode_pull(&body), PULL_MESSAGES * PULL_BODY_LEN);
    assert_eq!(
        ours::decode_pull_all_props(&body),
        PULL_MESSAGES * PULL_BODY_LEN
    );
    for rec in RecordIter::new(&body) {
        assert_eq!(
            rec.unwrap().properties.get(keys::UNIQ_KEY),
            Some(PROPERTIES[0].1)
        );
    }
    #[cfg(feature = "peer")]
    {
        let bytes = bytes::Bytes::from(body.clone());
        assert_eq!(peer::decode_pull(&bytes), PULL_MESSAGES * PULL_BODY_LEN);
        let uniq = peer::pull_uniq_keys(&bytes);
        assert_eq!(uniq.len(), PULL_MESSAGES);
        assert!(uniq.iter().all(|u| u.as_deref() == Some(PROPERTIES[0].1)));
    }
    notes.push(format!("pull body: {} bytes", body.len()));

    // Requests: the peer's frame carries the same fields our decoder reads (both ways).
    for (name, ser) in [
        ("JSON", SerializeType::Json),
        ("binary", SerializeType::RocketMq),
    ] {
        let mut enc = ours::SendEncoder::new(ser);
        let n = enc.encode();
        let ours_frame = enc.frame(n).to_vec();
        let ours_req = decode_send_v2(&ours_frame);
        assert_eq!(ours_req.code, 310);
        assert_eq!(ours_req.topic, TOPIC);
        assert_eq!(ours_req.broker_name.as_deref(), Some(BROKER_NAME));
        assert_eq!(ours_req.body, BODY);
        notes.push(format!("ours {name} request frame: {n} bytes"));
        #[cfg(feature = "peer")]
        {
            let pser = match ser {
                SerializeType::Json => peer::SerializeType::JSON,
                SerializeType::RocketMq => peer::SerializeType::ROCKETMQ,
            };
            let mut penc = peer::SendEncoder::new(pser);
            let pn = penc.encode();
            let peer_frame = penc.frame().to_vec();
            let mut peer_req = decode_send_v2(&peer_frame);
            // Property order differs (the peer iterates a HashMap); compare as sets.
            let sort = |s: &str| {
                let mut v: Vec<&str> = s.split('\u{2}').filter(|p| !p.is_empty()).collect();
                v.sort();
                v.join("\u{2}")
            };
            assert_eq!(
                sort(ours_req.properties.as_deref().unwrap()),
                sort(peer_req.properties.as_deref().unwrap())
            );
            peer_req.properties = ours_req.properties.clone();
            assert_eq!(ours_req, peer_req, "{name}: the two requests differ");
            // And the peer reads our frame's fields.
            let fields = peer::decode_request_fields(&ours_frame);
            assert_eq!(fields.get("b").map(String::as_str), Some(TOPIC));
            assert_eq!(fields.get("n").map(String::as_str), Some(BROKER_NAME));
            let extra: Vec<String> = {
                let ours_keys = peer::decode_request_fields(&ours_frame);
                let mut v: Vec<String> = fields_of(&peer_frame)
                    .into_iter()
                    .filter(|k| !ours_keys.contains_key(k))
                    .collect();
                v.sort();
                v
            };
            notes.push(format!(
                "peer {name} request frame: {pn} bytes (ext fields ours lacks: {extra:?})"
            ));
        }
    }
    notes
}

#[cfg(feature = "peer")]
fn fields_of(frame: &[u8]) -> Vec<String> {
    peer::decode_request_fields(frame).into_keys().collect()
}

/// An owned copy of a SEND_MESSAGE_V2 request's fields, decoded by our codec.
#[derive(Debug, PartialEq)]
pub struct SendV2 {
    pub code: i32,
    pub producer_group: String,
    pub topic: String,
    pub default_topic: String,
    pub default_topic_queue_nums: i32,
    pub queue_id: i32,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub flag: i32,
    pub properties: Option<String>,
    pub reconsume_times: Option<i32>,
    pub unit_mode: Option<bool>,
    pub batch: Option<bool>,
    pub broker_name: Option<String>,
    pub body: Vec<u8>,
}

pub fn decode_send_v2(frame: &[u8]) -> SendV2 {
    let Decoded::Frame { frame, consumed } = FrameDecoder::new().decode(frame).unwrap() else {
        panic!("incomplete frame")
    };
    let _ = consumed;
    let cmd = Command::decode(frame).unwrap();
    let r = SendMessageRequest::decode_v2(&cmd.fields()).unwrap();
    let s = |t: rocketmq_proto::text::Text<'_>| t.to_string();
    SendV2 {
        code: cmd.header.code,
        producer_group: s(r.producer_group),
        topic: s(r.topic),
        default_topic: s(r.default_topic),
        default_topic_queue_nums: r.default_topic_queue_nums,
        queue_id: r.queue_id,
        sys_flag: r.sys_flag,
        born_timestamp: r.born_timestamp,
        flag: r.flag,
        properties: r.properties.map(s),
        reconsume_times: r.reconsume_times,
        unit_mode: r.unit_mode,
        batch: r.batch,
        broker_name: r.broker_name.map(s),
        body: cmd.body.to_vec(),
    }
}
