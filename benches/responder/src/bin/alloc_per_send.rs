//! Heap allocations per message of rocketmq-tokio's steady-state async send (issue 7,
//! "allocations"), with a counting `#[global_allocator]`.
//!
//! ```text
//! alloc_per_send --namesrv 127.0.0.1:19876 [--window 1000] [--warmup 50000]
//!                [--count 100000] [--size 128] [--topic AllocBench] [--backtraces K] [--json]
//! ```
//!
//! Runs against the responder (`responder`, same crate). A producer on a tokio runtime
//! like `rmq`'s (`#[tokio::main]`: multi-threaded, one worker per core) keeps `window`
//! async sends in flight on its one broker connection: it awaits the oldest send and
//! starts the next (the responder answers in order, so this is the pipeline `rmq bench
//! produce --mode async` runs, without `FuturesUnordered`'s per-future allocation). After
//! `warmup` sends it counts, over `count` sends, every allocation of every thread of the
//! process (the client's driver and connection tasks included) and reports the count per
//! message: in total, for building the `Message`s alone (the application's part: none,
//! with a shared `Topic` and a shared `Bytes` body), and the client's part (the
//! difference).
//!
//! `--backtraces K` captures K backtraces of allocations spread evenly over the measured
//! phase and prints each distinct one (a sample of where the allocations come from).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use rocketmq_tokio::{ClientOptions, Message, Producer, Topic};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static REALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// Allocations of the measured phase by size, in powers of two (bucket k: sizes in
// (2^(k-1), 2^k]): unbiased where the backtrace sample (every n-th allocation) can
// alias with a periodic pattern of allocations.
static MEASURING: AtomicBool = AtomicBool::new(false);
static BY_SIZE: [AtomicU64; 33] = [const { AtomicU64::new(0) }; 33];

fn count_size(size: usize) {
    if MEASURING.load(Ordering::Relaxed) {
        let k = (usize::BITS - size.saturating_sub(1).leading_zeros()).min(32) as usize;
        BY_SIZE[k].fetch_add(1, Ordering::Relaxed);
    }
}

// Backtrace sampling: every SAMPLE_EVERY-th allocation while SAMPLING is on.
static SAMPLING: AtomicBool = AtomicBool::new(false);
static SAMPLE_EVERY: AtomicU64 = AtomicU64::new(u64::MAX);
static SAMPLES_LEFT: AtomicUsize = AtomicUsize::new(0);
static SAMPLES: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());

thread_local! {
    static IN_SAMPLER: Cell<bool> = const { Cell::new(false) };
}

fn maybe_sample(n: u64, size: usize) {
    if !SAMPLING.load(Ordering::Relaxed) || !n.is_multiple_of(SAMPLE_EVERY.load(Ordering::Relaxed))
    {
        return;
    }
    let _ = IN_SAMPLER.try_with(|s| {
        if s.get() {
            return;
        }
        s.set(true);
        if SAMPLES_LEFT
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(1))
            .is_ok()
        {
            let bt = std::backtrace::Backtrace::force_capture().to_string();
            SAMPLES.lock().unwrap().push((size, bt));
        }
        s.set(false);
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let n = ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        count_size(layout.size());
        maybe_sample(n, layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let n = ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        count_size(layout.size());
        maybe_sample(n, layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A realloc is counted apart: growing a buffer is not a new allocation, but it
        // is a call into the allocator.
        REALLOCS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Args {
    namesrv: String,
    topic: String,
    window: usize,
    warmup: u64,
    count: u64,
    size: usize,
    backtraces: usize,
    json: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        namesrv: "127.0.0.1:19876".into(),
        topic: "AllocBench".into(),
        window: 1000,
        warmup: 50_000,
        count: 100_000,
        size: 128,
        backtraces: 0,
        json: false,
    };
    let usage = || -> ! {
        eprintln!(
            "usage: alloc_per_send [--namesrv A] [--topic T] [--window N] [--warmup N] [--count N] \
             [--size B] [--backtraces K] [--json]"
        );
        std::process::exit(2)
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--json" {
            a.json = true;
            continue;
        }
        let v = it.next().unwrap_or_else(|| usage());
        let num = |v: &str| v.parse::<u64>().unwrap_or_else(|_| usage());
        match k.as_str() {
            "--namesrv" => a.namesrv = v,
            "--topic" => a.topic = v,
            "--window" => a.window = num(&v) as usize,
            "--warmup" => a.warmup = num(&v),
            "--count" => a.count = num(&v),
            "--size" => a.size = num(&v) as usize,
            "--backtraces" => a.backtraces = num(&v) as usize,
            _ => usage(),
        }
    }
    a
}

/// Keeps `window` sends in flight for `n` completions, awaiting the oldest first.
/// `q` is reused across calls so that it never grows while counting.
async fn pump<F, E>(
    producer: &Producer,
    topic: &Topic,
    body: &Bytes,
    n: u64,
    window: usize,
    q: &mut VecDeque<F>,
    start: impl Fn(&Producer, Message) -> Result<F, E>,
) -> Result<u64, String>
where
    F: std::future::Future<Output = Result<rocketmq_tokio::SendResult, rocketmq_tokio::Error>>,
    E: std::fmt::Display,
{
    let mut issued = 0u64;
    let mut done = 0u64;
    let mut failed = 0u64;
    while done < n {
        while q.len() < window && issued < n {
            let f =
                start(producer, Message::new(topic.clone(), body.clone())).map_err(|e| e.to_string())?;
            q.push_back(f);
            issued += 1;
        }
        let f = q.pop_front().expect("sends in flight");
        match f.await {
            Ok(_) => {}
            Err(_) => failed += 1,
        }
        done += 1;
    }
    Ok(failed)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let a = parse_args();
    let producer = Producer::start(ClientOptions::new(&a.namesrv), "AllocBenchGroup")
        .await
        .map_err(|e| e.to_string())?;
    let body = Bytes::from(vec![b'x'; a.size]);
    // Shared, as an application sending many messages to one topic would hold it.
    let topic = Topic::from(&a.topic);
    let start = |p: &Producer, m: Message| p.send_async(m);
    // The queue's element type is the send future's; its capacity covers the window.
    let mut q = VecDeque::new();
    let _ = pump(&producer, &topic, &body, 1, 1, &mut q, start).await?;
    q.reserve(a.window + 1);
    // Warm-up: connections, route, buffers and tables grown to their steady size.
    let failed_warm = pump(
        &producer, &topic, &body, a.warmup, a.window, &mut q, start,
    )
    .await?;

    // Baseline: what building the messages alone allocates (the application's part).
    let a0 = ALLOCS.load(Ordering::Relaxed);
    let mut msgs = Vec::with_capacity(1000);
    for _ in 0..1000 {
        msgs.push(Message::new(topic.clone(), body.clone()));
    }
    let msg_allocs = (ALLOCS.load(Ordering::Relaxed) - a0) as f64 / 1000.0;
    drop(msgs);

    if a.backtraces > 0 {
        // Spread the samples over the expected number of allocations (a guess from a
        // short pre-run, refined below only by how many are actually taken).
        let g0 = ALLOCS.load(Ordering::Relaxed);
        pump(&producer, &topic, &body, 10_000, a.window, &mut q, start).await?;
        let per = (ALLOCS.load(Ordering::Relaxed) - g0).max(1);
        let expected = per * a.count / 10_000;
        SAMPLE_EVERY.store((expected / a.backtraces as u64).max(1), Ordering::Relaxed);
        SAMPLES_LEFT.store(a.backtraces, Ordering::Relaxed);
    }

    let cpu = std::time::Instant::now();
    let (a0, r0, b0) = (
        ALLOCS.load(Ordering::Relaxed),
        REALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    SAMPLING.store(a.backtraces > 0, Ordering::Relaxed);
    MEASURING.store(true, Ordering::Relaxed);
    let failed = pump(&producer, &topic, &body, a.count, a.window, &mut q, start).await?;
    MEASURING.store(false, Ordering::Relaxed);
    SAMPLING.store(false, Ordering::Relaxed);
    let (a1, r1, b1) = (
        ALLOCS.load(Ordering::Relaxed),
        REALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    let secs = cpu.elapsed().as_secs_f64();
    producer.shutdown().await;

    let n = a.count as f64;
    let per = (a1 - a0) as f64 / n;
    let reallocs = (r1 - r0) as f64 / n;
    let bytes = (b1 - b0) as f64 / n;
    if a.json {
        println!(
            "{{\"bench\":\"alloc_per_send\",\"messages\":{},\"window\":{},\"size\":{},\"failed\":{},\
             \"allocs_per_msg\":{per:.3},\"message_new_allocs_per_msg\":{msg_allocs:.3},\
             \"client_allocs_per_msg\":{:.3},\"reallocs_per_msg\":{reallocs:.3},\"bytes_per_msg\":{bytes:.1},\
             \"seconds\":{secs:.3}}}",
            a.count,
            a.window,
            a.size,
            failed + failed_warm,
            per - msg_allocs
        );
    } else {
        println!(
            "{} async sends ({} in flight, {} B bodies, after {} warm-up sends; {} failed): \
             {per:.3} allocations per message ({msg_allocs:.3} of them building the Message, \
             {:.3} in the client), {reallocs:.3} reallocs, {bytes:.1} bytes allocated per message, {secs:.2} s",
            a.count,
            a.window,
            a.size,
            a.warmup,
            failed + failed_warm,
            per - msg_allocs
        );
    }
    if !a.json {
        let by_size: Vec<String> = BY_SIZE
            .iter()
            .enumerate()
            .filter_map(|(k, c)| {
                let c = c.load(Ordering::Relaxed);
                (c > 0).then(|| format!("<= {} B: {:.3}", 1u64 << k, c as f64 / n))
            })
            .collect();
        println!("allocations per message by size: {}", by_size.join(", "));
    }
    let samples = std::mem::take(&mut *SAMPLES.lock().unwrap());
    if !samples.is_empty() {
        // Group identical stacks (after trimming the allocator's own frames).
        let mut groups: BTreeMap<String, (usize, Vec<usize>)> = BTreeMap::new();
        for (size, bt) in samples {
            let trimmed = trim(&bt);
            let e = groups.entry(trimmed).or_default();
            e.0 += 1;
            e.1.push(size);
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_by_key(|g| std::cmp::Reverse(g.1 .0));
        println!("\n{} distinct allocation stacks sampled:", groups.len());
        for (stack, (count, sizes)) in groups {
            println!("\n--- {count} sample(s), sizes {sizes:?}\n{stack}");
        }
    }
    Ok(())
}

/// The interesting frames of a backtrace: the allocator's own frames and the standard
/// library's allocation machinery dropped (the last std frame before the caller is kept
/// for context, e.g. `Arc::new`), then up to `DEPTH` frames with their source location.
fn trim(bt: &str) -> String {
    const DEPTH: usize = 16;
    // (function, location)
    let mut frames: Vec<(String, String)> = Vec::new();
    let mut lines = bt.lines().peekable();
    while let Some(l) = lines.next() {
        let Some((_, name)) = l.trim().split_once(": ") else {
            continue;
        };
        let mut at = String::new();
        if let Some(n) = lines.peek() {
            if let Some(a) = n.trim().strip_prefix("at ") {
                at = a.to_string();
                lines.next();
            }
        }
        frames.push((name.to_string(), at));
    }
    let is_std = |at: &str| at.contains("/rustc/") || at.contains("/library/") || at.is_empty();
    let is_ours = |at: &str| at.contains("alloc_per_send.rs");
    // skip the sampler and allocator frames at the top
    let mut i = 0;
    while i < frames.len() && (is_ours(&frames[i].1) || is_std(&frames[i].1)) {
        i += 1;
    }
    let from = i
        .saturating_sub(1)
        .max(frames.iter().position(|f| !is_ours(&f.1)).unwrap_or(0));
    let short = |at: &str| {
        for marker in ["/registry/src/", "/library/", "/work/main/"] {
            if let Some((_, r)) = at.rsplit_once(marker) {
                return r.split_once('/').map(|(_, r)| r).unwrap_or(r).to_string();
            }
        }
        at.to_string()
    };
    frames[from..]
        .iter()
        .take(DEPTH)
        .map(|(n, at)| format!("  {n}  ({})", short(at)))
        .collect::<Vec<_>>()
        .join("\n")
}
