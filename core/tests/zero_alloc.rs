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
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn count(size: usize) {
    if ARMED.with(Cell::get) {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        LARGEST.with(|c| c.set(c.get().max(size)));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
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

/// Run `f` and return the largest single allocation it made on this thread.
#[cfg(feature = "alloc")]
fn largest_allocation_in(f: impl FnOnce()) -> usize {
    LARGEST.with(|c| c.set(0));
    ARMED.with(|a| a.set(true));
    f();
    ARMED.with(|a| a.set(false));
    LARGEST.with(Cell::get)
}

#[test]
fn huge_json_header_decodes_without_allocating() {
    // A 12 MiB header of 400k ext fields, inside the 16 MiB frame limit.
    let mut header = String::from(r#"{"code":0,"flag":1,"extFields":{"#);
    for i in 0..400_000 {
        if i > 0 {
            header.push(',');
        }
        header.push_str(&format!(r#""key{i}":"value-{i}\u0001""#));
    }
    header.push_str("}}");
    assert!(header.len() > 12 << 20 && header.len() < 16 << 20);
    let mut frame = Vec::new();
    frame.extend_from_slice(&((4 + header.len()) as i32).to_be_bytes());
    frame.extend_from_slice(&(header.len() as u32).to_be_bytes());
    frame.extend_from_slice(header.as_bytes());
    let n = allocations_in(|| {
        let Decoded::Frame { frame, .. } = FrameDecoder::new().decode(&frame).unwrap() else {
            panic!()
        };
        let cmd = Command::decode(frame).unwrap();
        assert_eq!(cmd.fields().iter().count(), 400_000);
        assert_eq!(cmd.fields().get("key399999").unwrap(), "value-399999\u{1}");
    });
    assert_eq!(n, 0);
}

#[cfg(feature = "alloc")]
#[test]
fn hostile_bodies_never_allocate_beyond_the_frame_limit() {
    use rocketmq_proto::body::{ConsumerIdList, TopicRouteData};
    use rocketmq_proto::collections::{Fixed, Growable};
    use rocketmq_proto::error::DecodeError;
    use rocketmq_proto::frame::DEFAULT_MAX_FRAME;
    use rocketmq_proto::message::compression::decompress;
    use rocketmq_proto::message::sysflag::MessageSysFlag;

    // A 15 MiB list of one-character ids: the growable form allocates in proportion to
    // the input, never beyond the frame limit; the fixed form refuses without allocating.
    let mut body = String::from(r#"{"consumerIdList":["#);
    while body.len() < 15 << 20 {
        body.push_str(r#""a","#);
    }
    body.push_str(r#""a"]}"#);
    let largest = largest_allocation_in(|| {
        // 3.9 M ids of 24 bytes each would need 94 MB: refused at the 16 MiB cap.
        let r = ConsumerIdList::<Growable>::decode(body.as_bytes());
        assert!(
            matches!(r, Err(DecodeError::CapacityExceeded { .. })),
            "{r:?}"
        );
    });
    assert!(
        largest <= DEFAULT_MAX_FRAME as usize,
        "largest allocation {largest}"
    );
    // A list that fits the cap decodes.
    let ok = format!(r#"{{"consumerIdList":[{}"a"]}}"#, r#""a","#.repeat(100_000));
    let largest = largest_allocation_in(|| {
        let list = ConsumerIdList::<Growable>::decode(ok.as_bytes()).unwrap();
        assert_eq!(list.consumer_id_list.len(), 100_001);
    });
    assert!(
        largest <= DEFAULT_MAX_FRAME as usize,
        "largest allocation {largest}"
    );
    let n = allocations_in(|| {
        assert!(ConsumerIdList::<Fixed<64>>::decode(body.as_bytes()).is_err());
    });
    assert_eq!(n, 0);
    // Deep nesting is refused by the depth limit, without recursion or allocation.
    let deep = format!(r#"{{"brokerDatas":{}}}"#, "[".repeat(1 << 20));
    let n = allocations_in(|| {
        assert!(TopicRouteData::<Fixed<4>>::decode(deep.as_bytes()).is_err());
    });
    assert_eq!(n, 0);

    // A zip bomb: 16 MiB of zeros compressed; the decompression limit holds.
    let bomb = rocketmq_proto::message::compression::compress_zlib(&vec![0u8; 16 << 20], 6);
    let largest = largest_allocation_in(|| {
        let r = decompress(MessageSysFlag(0x1), &bomb, 1 << 20);
        assert!(r.is_err());
    });
    assert!(largest <= 2 << 20, "largest allocation {largest}");
}
