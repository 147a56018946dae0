//! Heap allocations per consumed message of rocketmq-tokio's push consumer (issue 7,
//! "allocations"), with a counting `#[global_allocator]`.
//!
//! ```text
//! alloc_per_consume --namesrv 127.0.0.1:9876 [--count 30000] [--warmup 5000]
//!                   [--size 1024] [--backtraces K] [--json]
//! ```
//!
//! Against a real broker (the consumer needs pulls, offsets and rebalancing): it first
//! produces `count` messages of `size` bytes to a new topic, then consumes them with a
//! `PushConsumer` from the first offset (the listener only counts). After `warmup`
//! messages it counts, until all `count` arrived, every allocation of every thread of
//! the process and reports the count per consumed message (by size too). `--backtraces
//! K` samples K allocation stacks over the measured phase (the sampler's own
//! allocations are not counted).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rmq_bench_responder::{
    by_size_report, measure, sample_every, samples_report, snapshot, Counting,
};
use rocketmq_tokio::{
    ClientOptions, ConsumeFromWhere, ConsumeResult, Message, Producer, PushConsumer, Topic,
};

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Args {
    namesrv: String,
    count: u64,
    warmup: u64,
    size: usize,
    backtraces: usize,
    json: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        namesrv: "127.0.0.1:9876".into(),
        count: 30_000,
        warmup: 5_000,
        size: 1024,
        backtraces: 0,
        json: false,
    };
    let usage = || -> ! {
        eprintln!(
            "usage: alloc_per_consume [--namesrv A] [--count N] [--warmup N] [--size B] \
             [--backtraces K] [--json]"
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
            "--count" => a.count = num(&v),
            "--warmup" => a.warmup = num(&v),
            "--size" => a.size = num(&v) as usize,
            "--backtraces" => a.backtraces = num(&v) as usize,
            _ => usage(),
        }
    }
    if a.warmup >= a.count {
        usage();
    }
    a
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let a = parse_args();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let topic = Topic::from(format!("AllocConsume{stamp}"));
    let options = ClientOptions::new(&a.namesrv);

    // Produce everything first (a pipeline of 256).
    let producer = Producer::start(options.clone(), "AllocConsumeProducer")
        .await
        .map_err(|e| e.to_string())?;
    let body = Bytes::from(vec![b'x'; a.size]);
    let mut pending = std::collections::VecDeque::new();
    let mut failed = 0u64;
    for _ in 0..a.count {
        let f = producer
            .send_async(Message::new(topic.clone(), body.clone()))
            .map_err(|e| e.to_string())?;
        pending.push_back(f);
        if pending.len() >= 256 {
            if let Some(f) = pending.pop_front() {
                if f.await.is_err() {
                    failed += 1;
                }
            }
        }
    }
    for f in pending {
        if f.await.is_err() {
            failed += 1;
        }
    }
    producer.shutdown().await;
    if failed > 0 {
        return Err(format!("{failed} of {} sends failed", a.count));
    }

    let got = Arc::new(AtomicU64::new(0));
    let counter = got.clone();
    let consumer = PushConsumer::builder(options, &format!("AllocConsumeGroup{stamp}"))
        .subscribe(&topic, "*")
        .from_where(ConsumeFromWhere::FirstOffset)
        .start(move |msgs| {
            counter.fetch_add(msgs.len() as u64, Ordering::Relaxed);
            async { ConsumeResult::Success }
        })
        .await
        .map_err(|e| e.to_string())?;
    let wait_for = |n: u64| {
        let got = got.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            while got.load(Ordering::Relaxed) < n {
                if Instant::now() > deadline {
                    return Err(format!(
                        "only {} of {n} consumed in 120 s",
                        got.load(Ordering::Relaxed)
                    ));
                }
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            Ok(got.load(Ordering::Relaxed))
        }
    };
    let g0 = wait_for(a.warmup).await?;
    if a.backtraces > 0 {
        // A guess at the allocations to come: ~20 per message.
        sample_every((a.count - g0) * 20 / a.backtraces as u64, a.backtraces);
    }
    let t0 = Instant::now();
    let s0 = snapshot();
    measure(true);
    let g1 = wait_for(a.count).await?;
    measure(false);
    let s1 = snapshot();
    let secs = t0.elapsed().as_secs_f64();
    consumer.shutdown().await;

    let n = (g1 - g0) as f64;
    let per = (s1.allocs - s0.allocs) as f64 / n;
    let reallocs = (s1.reallocs - s0.reallocs) as f64 / n;
    let bytes = (s1.bytes - s0.bytes) as f64 / n;
    if a.json {
        println!(
            "{{\"bench\":\"alloc_per_consume\",\"messages\":{},\"size\":{},\"allocs_per_msg\":{per:.3},\
             \"reallocs_per_msg\":{reallocs:.3},\"bytes_per_msg\":{bytes:.1},\"seconds\":{secs:.3}}}",
            g1 - g0,
            a.size
        );
    } else {
        println!(
            "{} messages of {} B consumed (after {g0} warm-up): {per:.3} allocations per message, \
             {reallocs:.3} reallocs, {bytes:.1} bytes allocated per message, {secs:.2} s",
            g1 - g0,
            a.size
        );
        println!("allocations per message by size: {}", by_size_report(n));
        print!("{}", samples_report());
    }
    Ok(())
}
