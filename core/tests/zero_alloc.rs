//! The codec's hot paths make no heap allocation: a counting global allocator watches
//! encode and decode of real commands (armed per thread, so the test harness's own
//! allocations do not count).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;
thread_local! {
    // Per thread, so tests running in parallel do not count each other's allocations.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    if ARMED.with(Cell::get) {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Run `f` and return how many allocations it made on this thread.
fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    ARMED.with(|a| a.set(true));
    f();
    ARMED.with(|a| a.set(false));
    ALLOCATIONS.with(Cell::get) - before
}

fn capture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/captures/{name}", env!("CARGO_MANIFEST_DIR"));
    hex::decode(std::fs::read_to_string(path).unwrap().trim()).unwrap()
}

use rocketmq_proto::codes::{RequestCode, SerializeType};
use rocketmq_proto::command::{Command, CommandEncoder, Header};
use rocketmq_proto::frame::{Decoded, FrameDecoder};
use rocketmq_proto::header::GetRouteInfoRequest;

#[test]
fn the_counter_sees_allocations() {
    // Guards the test itself: an allocation inside the armed region is counted.
    let n = allocations_in(|| {
        let v = std::hint::black_box(vec![1u8; 16]);
        drop(v);
    });
    assert_eq!(n, 1);
}

#[test]
fn encoding_and_decoding_commands_does_not_allocate() {
    let send_req = capture("send-v2-request.hex");
    let send_resp = capture("bin-send-v2-response.hex");
    let pull_resp = capture("pull-response.hex");
    let mut out = [0u8; 2048];
    let mut scratch = [0u8; 512];
    let n = allocations_in(|| {
        for bytes in [&send_req, &send_resp, &pull_resp] {
            let Decoded::Frame { frame, .. } = FrameDecoder::new().decode(bytes).unwrap() else {
                panic!()
            };
            let cmd = Command::decode(frame).unwrap();
            for (k, v) in cmd.fields().iter() {
                std::hint::black_box((k.decode_into(&mut scratch).unwrap().len(), v.parse_i64()));
            }
            for ser in [SerializeType::Json, SerializeType::RocketMq] {
                let len = CommandEncoder::new(ser)
                    .encode(&mut out, &cmd.header, &cmd.fields(), cmd.body)
                    .unwrap();
                std::hint::black_box(len);
            }
        }
        let req = GetRouteInfoRequest {
            topic: "TopicTest".into(),
            accept_standard_json_only: Some(true),
        };
        let len = CommandEncoder::new(SerializeType::Json)
            .encode(
                &mut out,
                &Header::request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 1),
                &req,
                b"",
            )
            .unwrap();
        std::hint::black_box(len);
    });
    assert_eq!(n, 0, "heap allocations on the codec path");
}
