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

use std::collections::VecDeque;

use bytes::Bytes;
use rmq_bench_responder::{
    by_size_report, measure, sample_every, samples_report, snapshot, Counting,
};
use rocketmq_tokio::{ClientOptions, Message, Producer, Topic};

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
            let f = start(producer, Message::new(topic.clone(), body.clone()))
                .map_err(|e| e.to_string())?;
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
    let failed_warm = pump(&producer, &topic, &body, a.warmup, a.window, &mut q, start).await?;

    // Baseline: what building the messages alone allocates (the application's part).
    let a0 = snapshot().allocs;
    let mut msgs = Vec::with_capacity(1000);
    for _ in 0..1000 {
        msgs.push(Message::new(topic.clone(), body.clone()));
    }
    let msg_allocs = (snapshot().allocs - a0) as f64 / 1000.0;
    drop(msgs);

    if a.backtraces > 0 {
        // Spread the samples over the expected number of allocations (a guess from a
        // short pre-run, refined below only by how many are actually taken).
        let g0 = snapshot().allocs;
        pump(&producer, &topic, &body, 10_000, a.window, &mut q, start).await?;
        let per = (snapshot().allocs - g0).max(1);
        let expected = per * a.count / 10_000;
        sample_every(expected / a.backtraces as u64, a.backtraces);
    }

    let cpu = std::time::Instant::now();
    let s0 = snapshot();
    measure(true);
    let failed = pump(&producer, &topic, &body, a.count, a.window, &mut q, start).await?;
    measure(false);
    let s1 = snapshot();
    let (a0, r0, b0, a1, r1, b1) = (
        s0.allocs,
        s0.reallocs,
        s0.bytes,
        s1.allocs,
        s1.reallocs,
        s1.bytes,
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
        println!("allocations per message by size: {}", by_size_report(n));
        print!("{}", samples_report());
    }
    Ok(())
}
