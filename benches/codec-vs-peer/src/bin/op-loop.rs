//! Runs one benchmarked operation in a loop, for profilers (perf, valgrind):
//!
//!   op-loop <operation> [iterations]     e.g. op-loop ours_binary_encode 100000
//!
//! Operations: {ours_json,ours_binary,peer_json,peer_binary}_{encode,decode},
//! ours_pull, ours_pull_all_props, peer_pull (peer_* need `--features peer`).
//! `scripts/bench-codec` counts instructions per operation with callgrind through this
//! (toggling collection on the operation's function only, so setup is not counted).

use std::hint::black_box;

use codec_vs_peer::{binary_response, json_response, ours, pull_body};
use rocketmq_proto::codes::SerializeType;

fn main() {
    let mut args = std::env::args().skip(1);
    let op = args.next().unwrap_or_default();
    let n: usize = args
        .next()
        .map_or(100_000, |s| s.parse().expect("iterations"));
    let json = json_response();
    let binary = binary_response();
    let body = pull_body();
    match op.as_str() {
        "ours_json_encode" | "ours_binary_encode" => {
            let ser = if op.contains("json") {
                SerializeType::Json
            } else {
                SerializeType::RocketMq
            };
            let mut enc = ours::SendEncoder::new(ser);
            for _ in 0..n {
                black_box(enc.encode());
            }
        }
        "ours_json_decode" | "ours_binary_decode" => {
            let frame = if op.contains("json") { &json } else { &binary };
            for _ in 0..n {
                black_box(ours::decode_response(frame));
            }
        }
        "ours_json_roundtrip" | "ours_binary_roundtrip" => {
            let (ser, frame) = if op.contains("json") {
                (SerializeType::Json, &json)
            } else {
                (SerializeType::RocketMq, &binary)
            };
            let mut enc = ours::SendEncoder::new(ser);
            for _ in 0..n {
                black_box(enc.encode());
                black_box(ours::decode_response(frame));
            }
        }
        "ours_pull" => {
            for _ in 0..n {
                black_box(ours::decode_pull(&body));
            }
        }
        "ours_pull_all_props" => {
            for _ in 0..n {
                black_box(ours::decode_pull_all_props(&body));
            }
        }
        #[cfg(feature = "peer")]
        "peer_json_encode" | "peer_binary_encode" => {
            use codec_vs_peer::peer;
            let ser = if op.contains("json") {
                peer::SerializeType::JSON
            } else {
                peer::SerializeType::ROCKETMQ
            };
            let mut enc = peer::SendEncoder::new(ser);
            for _ in 0..n {
                black_box(enc.encode());
            }
        }
        #[cfg(feature = "peer")]
        "peer_json_decode" | "peer_binary_decode" => {
            use codec_vs_peer::peer;
            let frame = if op.contains("json") { &json } else { &binary };
            for _ in 0..n {
                let mut buf = peer::read_buffer(frame);
                black_box(peer::decode_response(&mut buf));
            }
        }
        #[cfg(feature = "peer")]
        "peer_pull" => {
            use codec_vs_peer::peer;
            let bytes = bytes::Bytes::from(body.clone());
            for _ in 0..n {
                black_box(codec_vs_peer::peer::decode_pull(&bytes));
            }
            let _ = peer::SerializeType::JSON;
        }
        other => {
            eprintln!("op-loop: unknown operation {other:?}");
            std::process::exit(2);
        }
    }
}
