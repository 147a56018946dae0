//! Soak (issue 8, scenario 8): produce and consume at a steady rate for `$SOAK_SECS`
//! seconds (default 600) against the real NameServer + Broker at `$RMQ_NAMESRV`,
//! sampling this process's resident memory: after a one-minute warm-up it stays within
//! 10% of its level then, and every acknowledged message is consumed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq_tests::unique;
use rocketmq_tokio::{
    Admin, ClientOptions, ConsumeFromWhere, ConsumeResult, Message, Producer, PushConsumer,
    TopicConfig,
};
use tokio::time::Instant;

fn options() -> ClientOptions {
    ClientOptions::new(std::env::var("RMQ_NAMESRV").expect("RMQ_NAMESRV names the peer"))
}

/// Resident memory of this process, in KiB (Linux).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_produce_and_consume_keeps_memory_flat_and_loses_nothing() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let warm_up = Duration::from_secs(60.min(secs / 4));
    let admin = Admin::start(options()).await.unwrap();
    let topic = unique("E2E_soak");
    admin
        .create_topic(
            &topic,
            TopicConfig {
                queues: 4,
                ..TopicConfig::default()
            },
        )
        .await
        .unwrap();
    admin.shutdown().await;

    // Which sequence numbers arrived: a bitmap allocated up front for far more than
    // can be sent, so the test's own bookkeeping does not grow (a set of 70,000
    // numbers is ~1.5 MiB: it showed as a 14% "growth" of this process).
    let capacity = (secs as usize + 120) * 2_000;
    let consumed: Arc<Mutex<(Vec<u64>, u64)>> =
        Arc::new(Mutex::new((vec![0u64; capacity / 64 + 1], 0)));
    let deliveries = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (sink, count) = (consumed.clone(), deliveries.clone());
    let consumer = PushConsumer::builder(options(), &unique("CG"))
        .subscribe(&topic, "*")
        .from_where(ConsumeFromWhere::FirstOffset)
        .start(move |msgs| {
            let (sink, count) = (sink.clone(), count.clone());
            async move {
                count.fetch_add(msgs.len() as u64, std::sync::atomic::Ordering::Relaxed);
                let mut s = sink.lock().unwrap();
                for m in msgs {
                    let seq = m.body.get(..12).and_then(|d| std::str::from_utf8(d).ok());
                    if let Some(n) = seq.and_then(|d| d.parse::<usize>().ok()) {
                        let (bits, distinct) = &mut *s;
                        if let Some(word) = bits.get_mut(n / 64) {
                            if *word & (1 << (n % 64)) == 0 {
                                *word |= 1 << (n % 64);
                                *distinct += 1;
                            }
                        }
                    }
                }
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    let producer = Producer::start(options(), &unique("PG")).await.unwrap();

    // About 200 messages a second, 512-byte bodies.
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut acked = 0u64;
    let mut failed = 0u64;
    let mut baseline = None;
    let mut samples = Vec::new();
    let mut next_sample = start;
    let mut i = 0u64;
    let pad = "x".repeat(500);
    while Instant::now() < end && (i as usize) < capacity {
        let body = format!("{i:012}{pad}");
        match producer.send(Message::new(&topic, body)).await {
            Ok(_) => acked = i + 1,
            Err(_) => failed += 1,
        }
        i += 1;
        if Instant::now() >= next_sample {
            let rss = rss_kib();
            if baseline.is_none() && start.elapsed() >= warm_up {
                baseline = Some(rss);
            }
            samples.push((start.elapsed().as_secs(), rss));
            next_sample += Duration::from_secs(10);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Everything sent is consumed (bodies carry their sequence number).
    let deadline = Instant::now() + Duration::from_secs(60);
    while consumed.lock().unwrap().1 < i && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    consumer.shutdown().await;
    producer.shutdown().await;
    let got = consumed.lock().unwrap().1;
    let baseline = baseline.expect("sampled after the warm-up");
    let after: Vec<u64> = samples
        .iter()
        .filter(|(t, _)| *t >= warm_up.as_secs())
        .map(|(_, r)| *r)
        .collect();
    let peak = after.iter().copied().max().unwrap_or(baseline);
    let last = after.last().copied().unwrap_or(baseline);
    eprintln!(
        "{secs} s: {i} sent, {failed} failed, {got} distinct consumed ({} deliveries); RSS after warm-up {baseline} KiB, peak {peak} KiB, last {last} KiB; samples {samples:?}",
        deliveries.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert_eq!(failed, 0, "no send fails on a healthy broker");
    assert_eq!(got, i, "every message consumed ({acked} acknowledged)");
    assert!(
        peak * 10 <= baseline * 11,
        "resident memory grew from {baseline} KiB to {peak} KiB"
    );
}
