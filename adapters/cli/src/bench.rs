//! `rmq bench produce|consume`: throughput and latency like Java's benchmark tool
//! (`Producer.java` / `Consumer.java` of rocketmq-example), with a live progress line
//! and a final report (TPS, p50/p99/max latency, client CPU seconds from rusage).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use rocketmq_tokio::{
    ClientOptions, ConsumeFromWhere, ConsumeResult, Error, Message, Producer, PushConsumer, Topic,
};
use serde_json::json;

/// How sends are issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// `concurrency` tasks, each sending and waiting for the result in a loop.
    Sync,
    /// One task keeping up to `concurrency` sends in flight.
    Async,
}

/// What `rmq bench produce` runs.
pub struct ProduceArgs {
    pub topic: String,
    pub group: String,
    pub mode: Mode,
    pub concurrency: usize,
    pub size: usize,
    pub duration: Duration,
    pub count: Option<u64>,
}

/// CPU seconds (user + system) this process used so far.
fn cpu_seconds() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    use nix::sys::time::TimeValLike;
    getrusage(UsageWho::RUSAGE_SELF).map_or(0.0, |ru| {
        (ru.user_time().num_microseconds() + ru.system_time().num_microseconds()) as f64 / 1e6
    })
}

/// Send latencies in microseconds, one sample per message, as tests/peer-client records
/// them: a push while the run is timed; sorting and quantiles after its CPU reading, so
/// the report's bookkeeping is not charged to the client. (Per-task hdrhistograms cost
/// 6-14% of this process's CPU against the real broker: 64 x 160 KB of counters zeroed
/// and merged inside the measured window.)
#[derive(Default)]
struct Latencies(Vec<u32>);

impl Latencies {
    fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    fn record(&mut self, since: Instant) {
        let us = since.elapsed().as_micros();
        self.0.push(u32::try_from(us).unwrap_or(u32::MAX));
    }

    fn append(&mut self, mut other: Latencies) {
        self.0.append(&mut other.0);
    }

    /// Sorts the samples; call once, before the quantiles.
    fn sort(&mut self) {
        self.0.sort_unstable();
    }

    /// The value (µs) at or below which `q` of the sorted samples lie (hdrhistogram's
    /// convention, as the peer harness computes it); 0 without samples.
    fn quantile(&self, q: f64) -> u64 {
        let n = self.0.len();
        if n == 0 {
            return 0;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.0.get(rank - 1).map_or(0, |&v| u64::from(v))
    }

    fn max(&self) -> u64 {
        self.0.last().map_or(0, |&v| u64::from(v))
    }
}

/// A spinner on stderr updated every 500 ms with `line()` (hidden when stderr is not
/// a terminal).
fn progress(
    line: impl Fn(Duration) -> String + Send + 'static,
) -> (ProgressBar, tokio::task::JoinHandle<()>) {
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("static template"));
    let b = bar.clone();
    let start = Instant::now();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            b.set_message(line(start.elapsed()));
            b.tick();
        }
    });
    (bar, ticker)
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// `rmq bench produce`.
pub async fn produce(
    options: ClientOptions,
    args: ProduceArgs,
    as_json: bool,
) -> Result<(), Error> {
    let producer = Producer::start(options, &args.group).await?;
    // The route first (as every real producer has it after its first send).
    let body = Bytes::from(vec![b'x'; args.size]);
    producer
        .send(Message::new(&args.topic, body.clone()))
        .await?;

    // Named once: a message shares the name instead of allocating its own copy.
    let topic = Topic::from(&args.topic);
    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let (bar, ticker) = {
        let (sent, failed) = (sent.clone(), failed.clone());
        progress(move |t| {
            let n = sent.load(Ordering::Relaxed);
            format!(
                "{:>6.1} s  sent {n}  {:.0} msg/s  errors {}",
                t.as_secs_f64(),
                n as f64 / t.as_secs_f64().max(1e-9),
                failed.load(Ordering::Relaxed)
            )
        })
    };
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let deadline = start + args.duration;
    let limit = args.count.unwrap_or(u64::MAX);
    let mut hist = Latencies::default();
    match args.mode {
        Mode::Sync => {
            let mut tasks = Vec::new();
            for _ in 0..args.concurrency.max(1) {
                let (producer, sent, failed) = (producer.clone(), sent.clone(), failed.clone());
                let (topic, body) = (topic.clone(), body.clone());
                tasks.push(tokio::spawn(async move {
                    let mut h = Latencies::with_capacity(1 << 16);
                    while Instant::now() < deadline && sent.load(Ordering::Relaxed) < limit {
                        let t = Instant::now();
                        match producer.send(Message::new(&topic, body.clone())).await {
                            Ok(_) => {
                                h.record(t);
                                sent.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(_) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    h
                }));
            }
            for t in tasks {
                if let Ok(h) = t.await {
                    hist.append(h);
                }
            }
        }
        Mode::Async => {
            // Spawned, as the sync senders are: on a multi-thread runtime
            // (`--worker-threads N`) it then runs on a worker, where the driver's
            // completions wake it within the scheduler instead of unparking the main
            // thread; on the default single thread it makes no difference.
            let (producer, sent, failed) = (producer.clone(), sent.clone(), failed.clone());
            let window = args.concurrency.max(1);
            let pipeline = tokio::spawn(async move {
                let mut h = Latencies::with_capacity(1 << 20);
                let mut in_flight = FuturesUnordered::new();
                let mut issued = 0u64;
                loop {
                    let t = Instant::now();
                    let open = t < deadline && issued < limit;
                    if open && in_flight.len() < window {
                        match producer.send_async(Message::new(&topic, body.clone())) {
                            Ok(f) => {
                                issued += 1;
                                // Only whether it was stored travels on: the receipt
                                // (a few hundred bytes) is not copied through the set.
                                in_flight.push(async move { (t, f.await.is_ok()) });
                                continue;
                            }
                            Err(_) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    match in_flight.next().await {
                        Some((t, true)) => {
                            h.record(t);
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                        Some((_, false)) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        None if !open => break,
                        None => {}
                    }
                }
                h
            });
            if let Ok(h) = pipeline.await {
                hist = h;
            }
        }
    }

    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    ticker.abort();
    bar.finish_and_clear();
    producer.shutdown().await;
    hist.sort();

    let n = sent.load(Ordering::Relaxed);
    let errors = failed.load(Ordering::Relaxed);
    let tps = n as f64 / elapsed.max(1e-9);
    let cpu_per_100k = if n > 0 {
        cpu * 100_000.0 / n as f64
    } else {
        0.0
    };
    let mode = match args.mode {
        Mode::Sync => "sync",
        Mode::Async => "async",
    };
    if as_json {
        println!(
            "{}",
            json!({
                "bench": "produce", "mode": mode, "concurrency": args.concurrency,
                "size": args.size, "messages": n, "errors": errors, "seconds": elapsed,
                "tps": tps, "p50_ms": ms(hist.quantile(0.5)),
                "p99_ms": ms(hist.quantile(0.99)), "max_ms": ms(hist.max()),
                "cpu_seconds": cpu, "cpu_seconds_per_100k": cpu_per_100k,
            })
        );
    } else {
        println!(
            "produce {mode}, concurrency {}, {} B bodies: {n} messages in {elapsed:.2} s, {errors} errors",
            args.concurrency, args.size
        );
        println!(
            "TPS {tps:.0}   latency p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms   client CPU {cpu:.2} s ({cpu_per_100k:.2} s per 100k messages)",
            ms(hist.quantile(0.5)),
            ms(hist.quantile(0.99)),
            ms(hist.max())
        );
    }
    if n == 0 {
        return Err(Error::Invalid("no message was sent".into()));
    }
    Ok(())
}

/// `rmq bench consume`: consume `count` messages of `topic` from its first offset.
pub async fn consume(
    options: ClientOptions,
    topic: &str,
    group: &str,
    count: u64,
    timeout: Duration,
    as_json: bool,
) -> Result<(), Error> {
    let got = Arc::new(AtomicU64::new(0));
    let (bar, ticker) = {
        let got = got.clone();
        progress(move |t| {
            let n = got.load(Ordering::Relaxed);
            format!(
                "{:>6.1} s  consumed {n}/{count}  {:.0} msg/s",
                t.as_secs_f64(),
                n as f64 / t.as_secs_f64().max(1e-9)
            )
        })
    };
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let counter = got.clone();
    let consumer = PushConsumer::builder(options, group)
        .subscribe(topic, "*")
        .from_where(ConsumeFromWhere::FirstOffset)
        .start(move |msgs| {
            counter.fetch_add(msgs.len() as u64, Ordering::Relaxed);
            async { ConsumeResult::Success }
        })
        .await?;
    let deadline = start + timeout;
    while got.load(Ordering::Relaxed) < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    ticker.abort();
    bar.finish_and_clear();
    consumer.shutdown().await;
    let n = got.load(Ordering::Relaxed);
    let tps = n as f64 / elapsed.max(1e-9);
    if as_json {
        println!(
            "{}",
            json!({"bench": "consume", "messages": n, "seconds": elapsed, "tps": tps, "cpu_seconds": cpu})
        );
    } else {
        println!("consumed {n} messages of {topic} in {elapsed:.2} s: {tps:.0} msg/s, client CPU {cpu:.2} s");
    }
    if n < count {
        return Err(Error::Timeout {
            what: format!("consuming {count} messages of {topic}"),
        });
    }
    Ok(())
}
