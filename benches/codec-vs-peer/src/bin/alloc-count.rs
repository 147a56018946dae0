//! Heap allocations per operation, ours and (with `--features peer`) the peer's, under a
//! counting global allocator; also checks that both codecs accept the benchmark's inputs
//! and agree on them (`codec_vs_peer::check_inputs`). Prints a markdown table; exits 1 if
//! any of our operations allocates.
//!
//!   cargo run --release --features peer --bin alloc-count

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use codec_vs_peer::{binary_response, check_inputs, json_response, ours, pull_body};
use rocketmq_proto::codes::SerializeType;

struct Counting;
thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

fn count(size: usize) {
    // try_with: the allocator may run while thread-locals are being torn down.
    let _ = ARMED.try_with(|a| {
        if a.get() {
            ALLOCS.with(|c| c.set(c.get() + 1));
            BYTES.with(|c| c.set(c.get() + size));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const RUNS: usize = 1000;

/// (allocations, bytes) per run of `f`, after one untimed warm-up run (lazy statics).
/// `setup` runs unarmed before each run (the peer's read buffer: the socket read's copy).
fn per_op<I>(mut setup: impl FnMut() -> I, mut f: impl FnMut(&mut I)) -> (f64, f64) {
    let mut input = setup();
    f(&mut input);
    let (mut allocs, mut bytes) = (0usize, 0usize);
    for _ in 0..RUNS {
        let mut input = setup();
        let (a0, b0) = (ALLOCS.with(Cell::get), BYTES.with(Cell::get));
        ARMED.with(|a| a.set(true));
        f(&mut input);
        ARMED.with(|a| a.set(false));
        allocs += ALLOCS.with(Cell::get) - a0;
        bytes += BYTES.with(Cell::get) - b0;
        drop(black_box(input));
    }
    (allocs as f64 / RUNS as f64, bytes as f64 / RUNS as f64)
}

fn cell((a, b): (f64, f64)) -> String {
    if a == 0.0 {
        "0".to_string()
    } else {
        format!("{a:.1} ({b:.0} B)")
    }
}

fn main() {
    let notes = check_inputs();
    if std::env::var_os("DUMP_FRAMES").is_some() {
        dump_frames();
    }
    let json = json_response();
    let binary = binary_response();
    let body = pull_body();

    let mut enc_j = ours::SendEncoder::new(SerializeType::Json);
    let mut enc_b = ours::SendEncoder::new(SerializeType::RocketMq);
    let ours_rows = [
        (
            "send_request_encode",
            per_op(
                || (),
                |_| {
                    black_box(enc_j.encode());
                },
            ),
            per_op(
                || (),
                |_| {
                    black_box(enc_b.encode());
                },
            ),
        ),
        (
            "send_response_decode",
            per_op(
                || (),
                |_| {
                    black_box(ours::decode_response(&json));
                },
            ),
            per_op(
                || (),
                |_| {
                    black_box(ours::decode_response(&binary));
                },
            ),
        ),
        (
            "send_roundtrip",
            per_op(
                || (),
                |_| {
                    black_box(enc_j.encode());
                    black_box(ours::decode_response(&json));
                },
            ),
            per_op(
                || (),
                |_| {
                    black_box(enc_b.encode());
                    black_box(ours::decode_response(&binary));
                },
            ),
        ),
        (
            "pull_body_decode_32x1KiB",
            per_op(
                || (),
                |_| {
                    black_box(ours::decode_pull(&body));
                },
            ),
            (f64::NAN, f64::NAN),
        ),
    ];

    #[cfg(feature = "peer")]
    let peer_rows: Vec<((f64, f64), (f64, f64))> = {
        use codec_vs_peer::peer;
        let mut enc_j = peer::SendEncoder::new(peer::SerializeType::JSON);
        let mut enc_b = peer::SendEncoder::new(peer::SerializeType::ROCKETMQ);
        let bytes = bytes::Bytes::from(body.clone());
        vec![
            (
                per_op(
                    || (),
                    |_| {
                        black_box(enc_j.encode());
                    },
                ),
                per_op(
                    || (),
                    |_| {
                        black_box(enc_b.encode());
                    },
                ),
            ),
            (
                per_op(
                    || peer::read_buffer(&json),
                    |b| {
                        black_box(peer::decode_response(b));
                    },
                ),
                per_op(
                    || peer::read_buffer(&binary),
                    |b| {
                        black_box(peer::decode_response(b));
                    },
                ),
            ),
            (
                per_op(
                    || peer::read_buffer(&json),
                    |b| {
                        black_box(enc_j.encode());
                        black_box(peer::decode_response(b));
                    },
                ),
                per_op(
                    || peer::read_buffer(&binary),
                    |b| {
                        black_box(enc_b.encode());
                        black_box(peer::decode_response(b));
                    },
                ),
            ),
            (
                per_op(
                    || (),
                    |_| {
                        black_box(peer::decode_pull(&bytes));
                    },
                ),
                (f64::NAN, f64::NAN),
            ),
        ]
    };

    println!("Heap allocations per operation (mean of {RUNS} runs after a warm-up; bytes requested in parentheses):");
    println!();
    #[cfg(feature = "peer")]
    {
        println!("| operation | ours JSON | ours binary | peer JSON | peer binary |");
        println!("|---|---|---|---|---|");
    }
    #[cfg(not(feature = "peer"))]
    {
        println!("| operation | ours JSON | ours binary |");
        println!("|---|---|---|");
    }
    let mut ours_allocates = false;
    for (i, (op, j, b)) in ours_rows.iter().enumerate() {
        let bin = if b.0.is_nan() { "—".into() } else { cell(*b) };
        ours_allocates |= j.0 != 0.0 || (b.0 != 0.0 && !b.0.is_nan());
        #[cfg(feature = "peer")]
        {
            let (pj, pb) = peer_rows[i];
            let pbin = if pb.0.is_nan() {
                "—".into()
            } else {
                cell(pb)
            };
            println!("| {op} | {} | {bin} | {} | {pbin} |", cell(*j), cell(pj));
        }
        #[cfg(not(feature = "peer"))]
        {
            let _ = i;
            println!("| {op} | {} | {bin} |", cell(*j));
        }
    }
    println!();
    println!("Inputs (both codecs decode them and agree on every field):");
    for note in notes {
        println!("- {note}");
    }
    if ours_allocates {
        eprintln!("FAIL: our codec allocated on a path that must not allocate");
        std::process::exit(1);
    }
}

/// DUMP_FRAMES=1: print both sides' JSON request frames (to compare them by eye).
fn dump_frames() {
    let mut enc = ours::SendEncoder::new(SerializeType::Json);
    let n = enc.encode();
    eprintln!("ours: {}", String::from_utf8_lossy(enc.frame(n)));
    #[cfg(feature = "peer")]
    {
        let mut enc =
            codec_vs_peer::peer::SendEncoder::new(codec_vs_peer::peer::SerializeType::JSON);
        enc.encode();
        eprintln!("peer: {}", String::from_utf8_lossy(enc.frame()));
    }
}
