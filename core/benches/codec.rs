//! Codec hot paths: encode a SEND_MESSAGE_V2 request (128-byte body, typical
//! properties), decode its response, decode a pull body of 32 × 1 KiB messages.
//!
//! `cargo bench -p rocketmq-proto --bench codec`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rocketmq_proto::codes::{RequestCode, SerializeType};
use rocketmq_proto::command::{Command, CommandEncoder, Header};
use rocketmq_proto::frame::{Decoded, FrameDecoder};
use rocketmq_proto::header::{SendMessageRequest, SendMessageResponse};
use rocketmq_proto::message::properties::{keys, Properties, PropertiesView};
use rocketmq_proto::message::record::{self, MessageRecord, RecordIter};
use rocketmq_proto::out::BufMutOut;

fn send_request<'a>(props: &'a str) -> SendMessageRequest<'a> {
    SendMessageRequest {
        producer_group: "BenchProducerGroup".into(),
        topic: "BenchTopic".into(),
        default_topic: SendMessageRequest::DEFAULT_TOPIC.into(),
        default_topic_queue_nums: SendMessageRequest::DEFAULT_TOPIC_QUEUE_NUMS,
        queue_id: 3,
        sys_flag: 0,
        born_timestamp: 1_795_524_663_718,
        flag: 0,
        properties: Some(props.into()),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        max_reconsume_times: None,
        batch: Some(false),
        broker_name: Some("broker-a".into()),
    }
}

fn bench_send(c: &mut Criterion) {
    let body = [0x5au8; 128];
    let mut out = [0u8; 1024];
    let mut props_buf = [0u8; 256];
    let mut g = c.benchmark_group("send");

    for (name, ser) in [
        ("json", SerializeType::Json),
        ("binary", SerializeType::RocketMq),
    ] {
        let enc = CommandEncoder::new(ser);
        let frame_len = {
            let props = typical_properties(&mut props_buf);
            let props = core::str::from_utf8(&props_buf[..props]).unwrap();
            enc.frame_len(
                &Header::request(RequestCode::SEND_MESSAGE_V2, 1),
                &send_request(props).v2(),
                &body,
            )
            .unwrap()
        };
        g.throughput(Throughput::Bytes(frame_len as u64));
        g.bench_function(format!("encode_send_v2_{name}"), |b| {
            let mut opaque = 0i32;
            b.iter(|| {
                // Per message: build the properties string, then the frame.
                let n = typical_properties(&mut props_buf);
                let props = core::str::from_utf8(&props_buf[..n]).unwrap();
                opaque = opaque.wrapping_add(1);
                let req = send_request(props);
                enc.encode(
                    &mut out,
                    &Header::request(RequestCode::SEND_MESSAGE_V2, opaque),
                    &req.v2(),
                    black_box(&body),
                )
                .unwrap()
            })
        });
    }

    for (name, file) in [
        ("json", "send-v2-response.hex"),
        ("binary", "bin-send-v2-response.hex"),
    ] {
        let frame = capture(file);
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function(format!("decode_send_response_{name}"), |b| {
            b.iter(|| {
                let Decoded::Frame { frame, .. } =
                    FrameDecoder::new().decode(black_box(&frame)).unwrap()
                else {
                    unreachable!()
                };
                let cmd = Command::decode(frame).unwrap();
                let resp: SendMessageResponse = cmd.decode_fields().unwrap();
                black_box(resp.queue_offset)
            })
        });
    }

    // The pair the README's target speaks of: encode a request and decode its response.
    for (name, ser, file) in [
        ("json", SerializeType::Json, "send-v2-response.hex"),
        (
            "binary",
            SerializeType::RocketMq,
            "bin-send-v2-response.hex",
        ),
    ] {
        let response = capture(file);
        let enc = CommandEncoder::new(ser);
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("encode_send_v2_and_decode_response_{name}"), |b| {
            b.iter(|| {
                let n = typical_properties(&mut props_buf);
                let props = core::str::from_utf8(&props_buf[..n]).unwrap();
                let len = enc
                    .encode(
                        &mut out,
                        &Header::request(RequestCode::SEND_MESSAGE_V2, 2),
                        &send_request(props).v2(),
                        black_box(&body),
                    )
                    .unwrap();
                black_box(len);
                let Decoded::Frame { frame, .. } =
                    FrameDecoder::new().decode(black_box(&response)).unwrap()
                else {
                    unreachable!()
                };
                let resp: SendMessageResponse =
                    Command::decode(frame).unwrap().decode_fields().unwrap();
                black_box(resp.queue_offset)
            })
        });
    }
    g.finish();
}

/// UNIQ_KEY, KEYS, TAGS, WAIT — what a Java producer sends with a keyed, tagged message.
fn typical_properties(buf: &mut [u8]) -> usize {
    let mut p = Properties::new(buf);
    p.put(keys::UNIQ_KEY, "C000020215EBAC4C820C793431A60000")
        .unwrap()
        .put(keys::KEYS, "order-1795524663713")
        .unwrap()
        .put(keys::TAGS, "TagA")
        .unwrap()
        .put(keys::WAIT, "true")
        .unwrap();
    p.len()
}

fn bench_pull(c: &mut Criterion) {
    let body = vec![0x42u8; 1024];
    let mut pull_body = Vec::new();
    let mut props = [0u8; 256];
    let n = typical_properties(&mut props);
    let props = core::str::from_utf8(&props[..n]).unwrap();
    for i in 0..32i64 {
        let msg = MessageRecord {
            topic: "BenchTopic",
            queue_id: 3,
            queue_offset: 1000 + i,
            physical_offset: 4096 * i,
            born_timestamp: 1_795_524_663_718,
            store_timestamp: 1_795_524_663_720,
            born_host: "127.0.0.1:54321".parse().unwrap(),
            store_host: "127.0.0.1:10911".parse().unwrap(),
            body: &body,
            properties: PropertiesView::new(props),
            ..MessageRecord::default()
        };
        record::encode(&mut BufMutOut(&mut pull_body), &msg).unwrap();
    }
    let mut g = c.benchmark_group("pull");
    g.throughput(Throughput::Bytes(pull_body.len() as u64));
    g.bench_function("decode_pull_body_32x1KiB", |b| {
        b.iter(|| {
            let mut total = 0usize;
            for rec in RecordIter::new(black_box(&pull_body)) {
                let rec = rec.unwrap();
                total += rec.body.len();
                black_box(rec.properties.get(keys::UNIQ_KEY));
            }
            assert_eq!(total, 32 * 1024);
            total
        })
    });
    g.finish();
}

fn capture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/captures/{name}", env!("CARGO_MANIFEST_DIR"));
    hex::decode(std::fs::read_to_string(path).unwrap().trim()).unwrap()
}

criterion_group!(benches, bench_send, bench_pull);
criterion_main!(benches);
