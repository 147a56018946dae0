//! A hostile NameServer (issue 8, scenario 9): a scripted peer that answers the tokio
//! client's first request with malformed frames — an impossible length, a header longer
//! than its frame, invalid UTF-8, JSON nested past any sane depth, a frame declared
//! larger than the limit, an unknown serialization, a response to no request. Each must
//! end the send with a typed error within its deadline and (except the stray response,
//! which is dropped as Java does) close the connection at once — never a panic, never
//! an allocation near the declared sizes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rocketmq_proto::frame::{Decoded, FrameDecoder, DEFAULT_MAX_FRAME};
use rocketmq_tokio::{ClientOptions, Error, Message, Producer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Records the largest single allocation.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Largest = Largest;

/// A JSON-serialized frame: total length, header length, header, body.
fn frame(header: &[u8], body: &[u8]) -> Vec<u8> {
    let total = (4 + header.len() + body.len()) as u32;
    let mut f = total.to_be_bytes().to_vec();
    f.extend_from_slice(&(header.len() as u32).to_be_bytes());
    f.extend_from_slice(header);
    f.extend_from_slice(body);
    f
}

fn response_header(opaque: i32, remark: &[u8]) -> Vec<u8> {
    let mut h = format!(
        r#"{{"code":0,"flag":1,"language":"JAVA","opaque":{opaque},"serializeTypeCurrentRPC":"JSON","version":0,"remark":""#
    )
    .into_bytes();
    h.extend_from_slice(remark);
    h.extend_from_slice(b"\"}");
    h
}

/// What the hostile NameServer saw of the client after its answer.
#[derive(Debug)]
struct Seen {
    /// The client closed the connection this long after the answer was written.
    closed_after: Option<Duration>,
}

/// Serve one connection: read the first request, answer `answer(opaque)`, then wait up
/// to `watch` for the client to close.
async fn serve_once(
    listener: TcpListener,
    answer: impl Fn(i32) -> Vec<u8> + Send + 'static,
    watch: Duration,
) -> Seen {
    let (mut s, _) = listener.accept().await.unwrap();
    let mut buf = Vec::new();
    let opaque = loop {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the client closed before asking anything");
        buf.extend_from_slice(&chunk[..n]);
        if let Ok(Decoded::Frame { frame, .. }) = FrameDecoder::new().decode(&buf) {
            let cmd = rocketmq_proto::command::Command::decode(frame).unwrap();
            break cmd.header.opaque;
        }
    };
    let bytes = answer(opaque);
    // The peer may close while we write (it reads the prefix and gives up): fine.
    let _ = s.write_all(&bytes).await;
    let written = Instant::now();
    let closed_after = tokio::time::timeout(watch, async {
        let mut sink = [0u8; 4096];
        loop {
            match s.read(&mut sink).await {
                Ok(0) | Err(_) => return written.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok();
    Seen { closed_after }
}

/// Send once through a NameServer that answers with `answer`; the send's result, the
/// time it took, and what the NameServer saw.
async fn against(
    answer: impl Fn(i32) -> Vec<u8> + Send + 'static,
    watch: Duration,
) -> (Result<(), Error>, Duration, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(serve_once(listener, answer, watch));
    let options = ClientOptions::new(addr)
        .send_timeout(Duration::from_millis(1_500))
        .request_timeout(Duration::from_millis(1_000));
    let producer = Producer::start(options, "HostilePG").await.unwrap();
    let t0 = Instant::now();
    let result = producer
        .send(Message::new("HostileTopic", b"x".to_vec()))
        .await
        .map(|_| ());
    let took = t0.elapsed();
    let seen = server.await.unwrap();
    producer.shutdown().await;
    (result, took, seen)
}

/// The bytes a hostile server answers a request (given its opaque) with.
type Answer = Box<dyn Fn(i32) -> Vec<u8> + Send>;

/// The malformed answers that must close the connection at once.
fn malformed() -> Vec<(&'static str, Answer)> {
    vec![
        (
            "a total length of 4 GiB",
            Box::new(|_| [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 10].to_vec()),
        ),
        (
            "a frame declared at twice the limit",
            Box::new(|_| {
                let mut f = (DEFAULT_MAX_FRAME * 2).to_be_bytes().to_vec();
                f.extend_from_slice(&[0, 0, 0, 10]);
                f
            }),
        ),
        (
            "a header longer than its frame",
            Box::new(|_| {
                let mut f = 20u32.to_be_bytes().to_vec();
                f.extend_from_slice(&1_000u32.to_be_bytes());
                f.extend_from_slice(&[b'{'; 16]);
                f
            }),
        ),
        (
            "an unknown serialization type",
            Box::new(|_| {
                let mut f = 12u32.to_be_bytes().to_vec();
                f.extend_from_slice(&[7, 0, 0, 8]);
                f.extend_from_slice(b"{}{}{}{}");
                f
            }),
        ),
        (
            "invalid UTF-8 in the JSON header",
            Box::new(|opaque| frame(&response_header(opaque, &[0xFF, 0xFE, 0x80]), b"")),
        ),
        (
            "JSON nested 100,000 deep",
            Box::new(|opaque| {
                let mut h =
                    format!(r#"{{"code":0,"opaque":{opaque},"extFields":{{"a":"#).into_bytes();
                h.extend(std::iter::repeat_n(b'[', 100_000));
                h.extend(std::iter::repeat_n(b']', 100_000));
                h.extend_from_slice(b"}}");
                frame(&h, b"")
            }),
        ),
        (
            "a header that is not JSON at all",
            Box::new(|_| frame(b"\x00\x01\x02 not json", b"")),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_fail_the_send_and_close_the_connection_at_once() {
    for (what, answer) in malformed() {
        let (result, took, seen) = against(answer, Duration::from_secs(3)).await;
        let err = result.expect_err(what);
        assert!(
            matches!(
                err,
                Error::Timeout { .. } | Error::Transport { .. } | Error::NoRoute { .. }
            ),
            "{what}: {err:?}"
        );
        assert!(
            took < Duration::from_millis(2_500),
            "{what}: the send took {took:?}"
        );
        let closed = seen
            .closed_after
            .unwrap_or_else(|| panic!("{what}: the client kept the connection open"));
        eprintln!("{what}: {err} after {took:?}; connection closed {closed:?} after the answer");
        assert!(
            closed < Duration::from_millis(500),
            "{what}: closed only after {closed:?}"
        );
    }
    // Nothing near the declared sizes was ever reserved.
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest < 4 << 20,
        "largest allocation {largest} bytes after hostile lengths"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_to_no_request_is_dropped_and_the_request_times_out() {
    let (result, took, _) = against(
        |opaque| frame(&response_header(opaque.wrapping_add(1_000), b"stray"), b""),
        Duration::from_millis(100),
    )
    .await;
    let err = result.expect_err("no answer came for the route lookup");
    assert!(
        matches!(err, Error::Timeout { .. } | Error::NoRoute { .. }),
        "{err:?}"
    );
    assert!(took < Duration::from_millis(2_500), "took {took:?}");
}
