//! Our codec against the rocketmq-rust project's (rocketmq-protocol 1.0.0) on the same
//! inputs; see src/lib.rs for what each side does per iteration.
//!
//!   cargo bench                    ours only
//!   cargo bench --features peer    both (scripts/bench-codec prints the table)
//!
//! The peer's decoder consumes a `BytesMut` read buffer; filling it (the socket read's
//! copy) is done in criterion's untimed setup (`iter_batched_ref`), since our decoder reads
//! the same bytes in place and pays no copy either.

use codec_vs_peer::{binary_response, json_response, ours, pull_body};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rocketmq_proto::codes::SerializeType;
#[cfg(feature = "peer")]
use {codec_vs_peer::peer, criterion::BatchSize};

fn send_request_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("send_request_encode");
    g.throughput(Throughput::Elements(1));
    for (name, ser) in [
        ("ours_json", SerializeType::Json),
        ("ours_binary", SerializeType::RocketMq),
    ] {
        let mut enc = ours::SendEncoder::new(ser);
        g.bench_function(name, |b| b.iter(|| enc.encode()));
    }
    #[cfg(feature = "peer")]
    for (name, ser) in [
        ("peer", peer::DEFAULT_SERIALIZE_TYPE),
        ("peer_binary", peer::SerializeType::ROCKETMQ),
    ] {
        let mut enc = peer::SendEncoder::new(ser);
        g.bench_function(name, |b| b.iter(|| enc.encode()));
    }
    g.finish();
}

fn send_response_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("send_response_decode");
    g.throughput(Throughput::Elements(1));
    let json = json_response();
    let binary = binary_response();
    g.bench_function("ours_json", |b| b.iter(|| ours::decode_response(&json)));
    g.bench_function("ours_binary", |b| b.iter(|| ours::decode_response(&binary)));
    #[cfg(feature = "peer")]
    for (name, frame) in [("peer", &json), ("peer_binary", &binary)] {
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || peer::read_buffer(frame),
                peer::decode_response,
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn send_roundtrip(c: &mut Criterion) {
    let mut g = c.benchmark_group("send_roundtrip");
    g.throughput(Throughput::Elements(1));
    for (name, ser, response) in [
        ("ours_json", SerializeType::Json, json_response()),
        ("ours_binary", SerializeType::RocketMq, binary_response()),
    ] {
        let mut enc = ours::SendEncoder::new(ser);
        g.bench_function(name, |b| {
            b.iter(|| {
                std::hint::black_box(enc.encode());
                ours::decode_response(&response)
            })
        });
    }
    #[cfg(feature = "peer")]
    for (name, ser, response) in [
        ("peer", peer::DEFAULT_SERIALIZE_TYPE, json_response()),
        (
            "peer_binary",
            peer::SerializeType::ROCKETMQ,
            binary_response(),
        ),
    ] {
        let mut enc = peer::SendEncoder::new(ser);
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || peer::read_buffer(&response),
                |buf| {
                    std::hint::black_box(enc.encode());
                    peer::decode_response(buf)
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn pull_body_decode(c: &mut Criterion) {
    let body = pull_body();
    let mut g = c.benchmark_group("pull_body_decode_32x1KiB");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("ours", |b| b.iter(|| ours::decode_pull(&body)));
    g.bench_function("ours_all_props", |b| {
        b.iter(|| ours::decode_pull_all_props(&body))
    });
    #[cfg(feature = "peer")]
    {
        let bytes = bytes::Bytes::from(body.clone());
        g.bench_function("peer", |b| b.iter(|| peer::decode_pull(&bytes)));
    }
    g.finish();
}

criterion_group!(
    benches,
    send_request_encode,
    send_response_decode,
    send_roundtrip,
    pull_body_decode
);
criterion_main!(benches);
