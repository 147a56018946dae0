//! Interop helper for the RocketMQ client tests, built on the third-party
//! `rocketmq-client-rust` 1.0.0 crate (the rocketmq-rust project's own client).
//! Derived from /work/shared/peers/rocketmq-rust/smoke-client.
//!
//! Usage (normally through scripts/peer-client):
//!   peer-client produce <topic> <n>
//!       n synchronous sends; message i (0..n-1): body "interop-<i>", tag "TagI",
//!       key "key-<i>", user properties color=blue, index=<i>.
//!       Prints "SENT <msgId>" per message, then "DONE <n>"; exit 1 on any failure.
//!   peer-client consume <topic> <group> <n> <timeout_secs>
//!       push consumer (clustering, CONSUME_FROM_FIRST_OFFSET, subscription "*");
//!       prints one JSON object per distinct message (deduplicated by msgId, at most n):
//!       {"body":..,"tags":..,"keys":..,"props":{user properties}}; exit 1 if fewer
//!       than n arrived before the timeout.
//!   peer-client smoke   [N=1000]  [topic=PeerSmoke]
//!   peer-client bench   [N=10000] [topic=PeerBench]
//!   peer-client capture [N=6]     [topic=PeerCapture]
//!   peer-client bench-consume --topic T --group G --count N [--timeout S]
//!       push consumer from the first offset, counting messages; one JSON line with the
//!       keys of `rmq bench consume --json` (messages, seconds, tps, cpu_seconds).
//!   peer-client bench-produce [--mode sync|async] [--concurrency N] [--count N | --duration S]
//!                             [--size B] [--topic T] [--group G]
//!       the workloads of `rmq bench produce` on this client, one JSON line with the same
//!       keys as `rmq bench produce --json` (see bench_produce below).
//! Env: NAMESRV_ADDR (default 127.0.0.1:9876), RUST_LOG (enables client logs on stderr),
//!   PEER_CLIENT_PRODUCER_GROUP (produce; default PeerInteropProducer_<run id>),
//!   PEER_CLIENT_VERBOSE=1 (consume: add msgId, topic, brokerName, queueId, queueOffset,
//!   reconsumeTimes and "sys" = the system properties to each JSON object),
//!   PEER_CLIENT_LINGER_MS (consume: wait before shutdown so offsets get committed; 1000).
#![recursion_limit = "512"]

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use futures::stream::StreamExt;
use rocketmq_client_rust::ClientResult;
use rocketmq_client_rust::ClientRuntime;
use rocketmq_client_rust::ClientRuntimeConfig;
use rocketmq_client_rust::ConsumeConcurrentlyContext;
use rocketmq_client_rust::ConsumeConcurrentlyStatus;
use rocketmq_client_rust::DefaultMQProducer;
use rocketmq_client_rust::DefaultMQPushConsumer;
use rocketmq_client_rust::MQPushConsumer;
use rocketmq_client_rust::MessageListenerConcurrently;
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::common::message::MessageTrait;
use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel;
use rocketmq_runtime::RuntimeConfig;
use rocketmq_runtime::RuntimeOwner;

const BODY_LEN: usize = 128;
const TAG: &str = "TagA";

fn body_for(run: &str, i: usize) -> Vec<u8> {
    let mut b = format!("{run}-{i:08}-").into_bytes();
    let mut k = 0u8;
    while b.len() < BODY_LEN {
        b.push(b'a' + (k % 26));
        k = k.wrapping_add(1);
    }
    b.truncate(BODY_LEN);
    b
}

fn key_for(run: &str, i: usize) -> String {
    format!("{run}-k{i}")
}

fn msg(topic: &str, run: &str, i: usize) -> Message {
    Message::builder()
        .topic(topic)
        .tags(TAG)
        .key(key_for(run, i))
        .body_slice(&body_for(run, i))
        .build_unchecked()
}

fn namesrv() -> String {
    std::env::var("NAMESRV_ADDR").unwrap_or_else(|_| "127.0.0.1:9876".to_string())
}

fn run_id() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    format!("r{t}")
}

type Err = Box<dyn std::error::Error + Send + Sync>;

async fn new_producer(rt: &Arc<ClientRuntime>, group: &str) -> ClientResult<DefaultMQProducer> {
    let mut producer = DefaultMQProducer::builder(rt.clone())
        .producer_group(group.to_string())
        .name_server_addr(namesrv())
        .build();
    producer.start().await?;
    Ok(producer)
}

/// Sends `n` messages synchronously, one at a time. Returns elapsed time.
async fn sync_send(producer: &DefaultMQProducer, topic: &str, run: &str, n: usize) -> Result<Duration, Err> {
    let t0 = Instant::now();
    for i in 0..n {
        let r = producer.send_with_timeout(msg(topic, run, i), 5000).await?;
        let r = r.ok_or("send returned no result")?;
        if format!("{:?}", r.send_status) != "SendOk" {
            return Err(format!("message {i}: status {:?}", r.send_status).into());
        }
    }
    Ok(t0.elapsed())
}

struct Collector {
    run: String,
    seen: Mutex<HashMap<usize, usize>>, // index -> times seen
    bad: AtomicUsize,
    other_runs: AtomicUsize,
}

struct Listener(Arc<Collector>);

impl MessageListenerConcurrently for Listener {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _ctx: &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus> {
        let c = &self.0;
        for m in msgs {
            let body = m.body().map(|b| b.to_vec()).unwrap_or_default();
            let s = String::from_utf8_lossy(&body).to_string();
            let mut it = s.splitn(3, '-');
            let (r, idx) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
            if r != c.run {
                c.other_runs.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let Ok(i) = idx.parse::<usize>() else {
                c.bad.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let tags_ok = m.get_tags().map(|t| t.as_str() == TAG).unwrap_or(false);
            let keys_ok = m
                .message_inner()
                .get_keys()
                .map(|k| k.as_str() == key_for(&c.run, i))
                .unwrap_or(false);
            if body != body_for(&c.run, i) || !tags_ok || !keys_ok {
                c.bad.fetch_add(1, Ordering::Relaxed);
            }
            *c.seen.lock().unwrap().entry(i).or_insert(0) += 1;
        }
        Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}

/// Push-consume (clustering) until all `n` messages of `run` arrived or timeout.
async fn consume_all(
    rt: &Arc<ClientRuntime>,
    topic: &str,
    run: &str,
    n: usize,
    timeout: Duration,
    linger: Duration,
) -> Result<(usize, usize, usize, usize, Duration), Err> {
    let collector = Arc::new(Collector {
        run: run.to_string(),
        seen: Mutex::new(HashMap::new()),
        bad: AtomicUsize::new(0),
        other_runs: AtomicUsize::new(0),
    });
    let mut consumer = DefaultMQPushConsumer::builder(rt.clone())
        .consumer_group(format!("PeerGroup_{run}"))
        .name_server_addr(namesrv())
        .message_model(MessageModel::Clustering)
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build();
    consumer.subscribe(topic, TAG).await?;
    consumer.register_message_listener_concurrently(Listener(collector.clone()));
    let t0 = Instant::now();
    consumer.start().await?;
    loop {
        let distinct = collector.seen.lock().unwrap().len();
        if distinct >= n || t0.elapsed() > timeout {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = t0.elapsed();
    // let offsets be committed (persist interval is 5 s) before shutdown
    tokio::time::sleep(linger).await;
    consumer.shutdown().await;
    let seen = collector.seen.lock().unwrap();
    let distinct = seen.len();
    let total: usize = seen.values().sum();
    Ok((
        distinct,
        total,
        collector.bad.load(Ordering::Relaxed),
        collector.other_runs.load(Ordering::Relaxed),
        elapsed,
    ))
}

async fn smoke(rt: Arc<ClientRuntime>, n: usize, topic: &str, linger: Duration) -> Result<(), Err> {
    let run = run_id();
    println!("run={run} topic={topic} n={n} body={BODY_LEN}B tag={TAG} namesrv={}", namesrv());
    let mut producer = new_producer(&rt, &format!("PeerProducer_{run}")).await?;
    let el = sync_send(&producer, topic, &run, n).await;
    producer.shutdown().await;
    let el = el?;
    println!(
        "sync send: {n} msgs in {:.3}s = {:.0} msg/s",
        el.as_secs_f64(),
        n as f64 / el.as_secs_f64()
    );
    let (distinct, total, bad, other, cel) = consume_all(&rt, topic, &run, n, Duration::from_secs(120), linger).await?;
    println!(
        "push consume: distinct={distinct}/{n} total_deliveries={total} bad={bad} other_runs={other} in {:.3}s",
        cel.as_secs_f64()
    );
    if distinct != n || bad != 0 {
        return Err(format!("SMOKE FAILED: distinct={distinct} bad={bad}").into());
    }
    println!("SMOKE OK");
    Ok(())
}

async fn bench(rt: Arc<ClientRuntime>, n: usize, topic: &str) -> Result<(), Err> {
    let run = run_id();
    println!("run={run} topic={topic} n={n} body={BODY_LEN}B namesrv={}", namesrv());
    let mut producer = new_producer(&rt, &format!("PeerBench_{run}")).await?;
    // warm-up: route + auto-create + connection
    sync_send(&producer, topic, &format!("{run}w"), 100).await?;

    // 1) sync, sequential
    let el = sync_send(&producer, topic, &run, n).await?;
    println!(
        "[sync sequential] {n} msgs x {BODY_LEN}B: {:.3}s = {:.0} msg/s",
        el.as_secs_f64(),
        n as f64 / el.as_secs_f64()
    );

    // 2) async (send_with_callback), all issued then awaited
    let ok = Arc::new(AtomicUsize::new(0));
    let fail = Arc::new(AtomicUsize::new(0));
    let errs: Arc<Mutex<HashMap<String, usize>>> = Arc::new(Mutex::new(HashMap::new()));
    let t0 = Instant::now();
    let window: usize = std::env::var("ASYNC_WINDOW").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let sem = Arc::new(tokio::sync::Semaphore::new(window));
    for i in 0..n {
        let (ok2, fail2, errs2) = (ok.clone(), fail.clone(), errs.clone());
        let permit = Mutex::new(Some(sem.clone().acquire_owned().await?));
        producer
            .send_with_callback(msg(topic, &format!("{run}a"), i), move |r, e| {
                drop(permit.lock().unwrap().take());
                if r.is_some() && e.is_none() {
                    ok2.fetch_add(1, Ordering::Relaxed);
                } else {
                    fail2.fetch_add(1, Ordering::Relaxed);
                    let key = e.map(|e| e.to_string()).unwrap_or_else(|| "no result".into());
                    let key: String = key.chars().take(300).collect();
                    *errs2.lock().unwrap().entry(key).or_insert(0) += 1;
                }
            })
            .await?;
    }
    while ok.load(Ordering::Relaxed) + fail.load(Ordering::Relaxed) < n && t0.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let el = t0.elapsed();
    println!(
        "[async callback, window {window}] {n} msgs x {BODY_LEN}B: ok={} fail={} {:.3}s = {:.0} msg/s",
        ok.load(Ordering::Relaxed),
        fail.load(Ordering::Relaxed),
        el.as_secs_f64(),
        n as f64 / el.as_secs_f64()
    );
    for (e, c) in errs.lock().unwrap().iter() {
        println!("   async error x{c}: {e}");
    }

    // 3) concurrent sync sends, 32 in flight
    let t0 = Instant::now();
    let p = &producer;
    let results: Vec<_> = futures::stream::iter(0..n)
        .map(|i| {
            let m = msg(topic, &format!("{run}c"), i);
            async move { p.send_with_timeout(m, 5000).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let el = t0.elapsed();
    let okc = results.iter().filter(|r| matches!(r, Ok(Some(_)))).count();
    println!(
        "[sync 32-in-flight] {n} msgs x {BODY_LEN}B: ok={okc} {:.3}s = {:.0} msg/s",
        el.as_secs_f64(),
        n as f64 / el.as_secs_f64()
    );

    // 4) batch send (SEND_BATCH_MESSAGE), 100 msgs per batch, sequential
    let batch = 100usize;
    let t0 = Instant::now();
    let mut sent = 0usize;
    let mut i = 0usize;
    while i < n {
        let msgs: Vec<Message> = (i..(i + batch).min(n)).map(|j| msg(topic, &format!("{run}b"), j)).collect();
        let cnt = msgs.len();
        let r = producer.send_batch_with_timeout(msgs, 5000).await?;
        if format!("{:?}", r.send_status) != "SendOk" {
            return Err(format!("batch status {:?}", r.send_status).into());
        }
        sent += cnt;
        i += batch;
    }
    let el = t0.elapsed();
    println!(
        "[batch {batch}/req sequential] {sent} msgs x {BODY_LEN}B: {:.3}s = {:.0} msg/s",
        el.as_secs_f64(),
        sent as f64 / el.as_secs_f64()
    );
    producer.shutdown().await;
    Ok(())
}

async fn capture(rt: Arc<ClientRuntime>, n: usize, topic: &str) -> Result<(), Err> {
    let run = run_id();
    println!("capture run={run} topic={topic} n={n}");
    let mut producer = new_producer(&rt, "PeerCaptureProducer").await?;
    let el = sync_send(&producer, topic, &run, n).await;
    let batch: Vec<Message> = (0..3).map(|j| msg(topic, &format!("{run}b"), j)).collect();
    let br = producer.send_batch_with_timeout(batch, 5000).await;
    producer.shutdown().await;
    el?;
    println!("batch of 3: {:?}", br.map(|r| format!("{:?}", r.send_status)));
    let (distinct, total, bad, other, _) =
        consume_all(&rt, topic, &run, n, Duration::from_secs(60), Duration::from_secs(7)).await?;
    println!("capture consume: distinct={distinct}/{n} total={total} bad={bad} other={other}");
    if distinct != n || bad != 0 {
        return Err("CAPTURE FAILED".into());
    }
    println!("CAPTURE OK");
    Ok(())
}

// ---------------------------------------------------------------------------
// interop: produce / consume
// ---------------------------------------------------------------------------

const INTEROP_TAG: &str = "TagI";

fn interop_msg(topic: &str, i: usize) -> Result<Message, Err> {
    let m = Message::builder()
        .topic(topic)
        .tags(INTEROP_TAG)
        .key(format!("key-{i}"))
        .body_slice(format!("interop-{i}").as_bytes())
        .raw_property("color", "blue")?
        .raw_property("index", i.to_string())?
        .build()?;
    Ok(m)
}

async fn produce(rt: Arc<ClientRuntime>, topic: &str, n: usize) -> Result<(), Err> {
    use std::io::Write;
    let group = std::env::var("PEER_CLIENT_PRODUCER_GROUP")
        .unwrap_or_else(|_| format!("PeerInteropProducer_{}", run_id()));
    let mut producer = new_producer(&rt, &group).await?;
    let mut result: Result<(), Err> = Ok(());
    for i in 0..n {
        let r = match interop_msg(topic, i) {
            Ok(m) => producer.send_with_timeout(m, 5000).await.map_err(Err::from),
            Err(e) => Err(e),
        };
        match r {
            Ok(Some(r)) if format!("{:?}", r.send_status) == "SendOk" => {
                let id = r.msg_id.as_ref().map(|s| s.as_str().to_string()).unwrap_or_default();
                println!("SENT {id}");
                let _ = std::io::stdout().flush();
            }
            Ok(Some(r)) => {
                result = Err(format!("message {i}: send status {:?}", r.send_status).into());
                break;
            }
            Ok(None) => {
                result = Err(format!("message {i}: send returned no result").into());
                break;
            }
            Err(e) => {
                result = Err(format!("message {i}: {e}").into());
                break;
            }
        }
    }
    producer.shutdown().await;
    result?;
    println!("DONE {n}");
    Ok(())
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_opt(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.push_str("null"),
    }
}

fn json_map(out: &mut String, entries: &[(&str, &str)]) {
    out.push('{');
    for (k, (name, value)) in entries.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        json_str(out, name);
        out.push(':');
        json_str(out, value);
    }
    out.push('}');
}

struct InteropCollector {
    want: usize,
    verbose: bool,
    seen: Mutex<std::collections::HashSet<String>>,
}

struct InteropListener(Arc<InteropCollector>);

impl MessageListenerConcurrently for InteropListener {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _ctx: &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus> {
        use rocketmq_model::common::message::STRING_HASH_SET;
        use std::io::Write;
        let c = &self.0;
        for m in msgs {
            let inner = m.message_inner();
            // the client-side unique id (UNIQ_KEY) is what the producer reports as msgId
            let id = inner
                .property("UNIQ_KEY")
                .map(|s| s.to_string())
                .unwrap_or_else(|| m.msg_id().to_string());
            let mut seen = c.seen.lock().unwrap();
            if seen.len() >= c.want || !seen.insert(id.clone()) {
                continue; // beyond n, or a redelivery of a message already printed
            }
            let body = m.body().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
            let tags = m.get_tags().map(|t| t.to_string());
            let keys = inner.get_keys().map(|k| k.to_string());
            let mut user: Vec<(&str, &str)> = Vec::new();
            let mut sys: Vec<(&str, &str)> = Vec::new();
            for (k, v) in inner.properties().as_map() {
                if STRING_HASH_SET.contains(k.as_str()) {
                    sys.push((k.as_str(), v.as_str()));
                } else {
                    user.push((k.as_str(), v.as_str()));
                }
            }
            user.sort();
            sys.sort();
            let mut out = String::with_capacity(256);
            out.push_str("{\"body\":");
            json_str(&mut out, &body);
            out.push_str(",\"tags\":");
            json_opt(&mut out, tags.as_deref());
            out.push_str(",\"keys\":");
            json_opt(&mut out, keys.as_deref());
            out.push_str(",\"props\":");
            json_map(&mut out, &user);
            if c.verbose {
                out.push_str(",\"msgId\":");
                json_str(&mut out, &id);
                out.push_str(",\"offsetMsgId\":");
                json_str(&mut out, m.msg_id().as_str());
                out.push_str(",\"topic\":");
                json_str(&mut out, m.topic().as_str());
                out.push_str(",\"brokerName\":");
                json_str(&mut out, m.broker_name());
                out.push_str(&format!(
                    ",\"queueId\":{},\"queueOffset\":{},\"reconsumeTimes\":{}",
                    m.queue_id(),
                    m.queue_offset(),
                    m.reconsume_times()
                ));
                out.push_str(",\"sys\":");
                json_map(&mut out, &sys);
            }
            out.push('}');
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            let _ = writeln!(lock, "{out}");
            let _ = lock.flush();
        }
        Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}

async fn consume(
    rt: Arc<ClientRuntime>,
    topic: &str,
    group: &str,
    n: usize,
    timeout: Duration,
) -> Result<(), Err> {
    let collector = Arc::new(InteropCollector {
        want: n,
        verbose: std::env::var("PEER_CLIENT_VERBOSE").map(|v| v == "1").unwrap_or(false),
        seen: Mutex::new(std::collections::HashSet::new()),
    });
    let linger = Duration::from_millis(
        std::env::var("PEER_CLIENT_LINGER_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000),
    );
    let mut consumer = DefaultMQPushConsumer::builder(rt.clone())
        .consumer_group(group.to_string())
        .name_server_addr(namesrv())
        .message_model(MessageModel::Clustering)
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build();
    consumer.subscribe(topic, "*").await?;
    consumer.register_message_listener_concurrently(InteropListener(collector.clone()));
    let t0 = Instant::now();
    consumer.start().await?;
    while collector.seen.lock().unwrap().len() < n && t0.elapsed() < timeout {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = collector.seen.lock().unwrap().len();
    if got >= n {
        // let the consumed offsets be committed before shutdown
        tokio::time::sleep(linger).await;
    }
    consumer.shutdown().await;
    if got < n {
        return Err(format!("consume: only {got} of {n} messages arrived within {}s", timeout.as_secs()).into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// bench-consume: `rmq bench consume`'s workload on this client
// ---------------------------------------------------------------------------

struct CountListener(Arc<AtomicUsize>);

impl MessageListenerConcurrently for CountListener {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _ctx: &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus> {
        self.0.fetch_add(msgs.len(), Ordering::Relaxed);
        Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}

/// Consume `count` messages of `topic` from its first offset with a push consumer and
/// print one JSON line with the keys of `rmq bench consume --json`.
async fn bench_consume(rt: Arc<ClientRuntime>, topic: &str, group: &str, count: usize, timeout: Duration) -> Result<(), Err> {
    let got = Arc::new(AtomicUsize::new(0));
    let mut consumer = DefaultMQPushConsumer::builder(rt.clone())
        .consumer_group(group.to_string())
        .name_server_addr(namesrv())
        .message_model(MessageModel::Clustering)
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build();
    consumer.subscribe(topic, "*").await?;
    consumer.register_message_listener_concurrently(CountListener(got.clone()));
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    consumer.start().await?;
    while got.load(Ordering::Relaxed) < count && t0.elapsed() < timeout {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seconds = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    consumer.shutdown().await;
    let n = got.load(Ordering::Relaxed);
    println!(
        "{{\"bench\":\"consume\",\"messages\":{n},\"seconds\":{seconds},\"tps\":{},\"cpu_seconds\":{cpu}}}",
        n as f64 / seconds.max(1e-9)
    );
    if n < count {
        return Err(format!("bench-consume: only {n} of {count} messages within {}s", timeout.as_secs()).into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// bench-produce: `rmq bench produce`'s workloads on this client
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct BenchProduceArgs {
    mode_async: bool,
    concurrency: usize,
    count: Option<u64>,
    duration: Duration,
    size: usize,
    topic: String,
    group: String,
}

impl BenchProduceArgs {
    fn parse(args: &[String]) -> Result<Self, Err> {
        let mut a = BenchProduceArgs {
            mode_async: false,
            concurrency: 64,
            count: None,
            duration: Duration::from_secs(10),
            size: 128,
            topic: "BenchmarkTest".to_string(),
            group: format!("PeerBenchProduce_{}", run_id()),
        };
        let mut it = args.iter();
        while let Some(k) = it.next() {
            let v = it.next().ok_or_else(|| format!("bench-produce: {k} needs a value"))?;
            let bad = || -> Err { format!("bench-produce: bad value for {k}: {v}").into() };
            match k.as_str() {
                "--mode" => {
                    a.mode_async = match v.as_str() {
                        "sync" => false,
                        "async" => true,
                        _ => return Err(format!("bench-produce: --mode sync|async, not {v}").into()),
                    }
                }
                "--concurrency" => a.concurrency = v.parse().map_err(|_| bad())?,
                "--count" => a.count = Some(v.parse().map_err(|_| bad())?),
                "--duration" => a.duration = Duration::from_secs_f64(v.parse().map_err(|_| bad())?),
                "--size" => a.size = v.parse().map_err(|_| bad())?,
                "--topic" => a.topic = v.clone(),
                "--group" => a.group = v.clone(),
                _ => return Err(usage()),
            }
        }
        if a.count.is_some() && !args.iter().any(|k| k == "--duration") {
            // --count alone: run until the count is reached (as rmq's 10 s default would cut it)
            a.duration = Duration::from_secs(3600);
        }
        Ok(a)
    }
}

/// CPU seconds (user + system) of this process so far, from getrusage(RUSAGE_SELF) as
/// `rmq bench` reads it. Declared by hand (x86_64/aarch64 Linux layout) so the crate
/// needs no new dependency and its Cargo.lock stays the peer's.
fn cpu_seconds() -> f64 {
    #[repr(C)]
    struct Timeval {
        tv_sec: i64,
        tv_usec: i64,
    }
    #[repr(C)]
    struct Rusage {
        ru_utime: Timeval,
        ru_stime: Timeval,
        _rest: [i64; 14],
    }
    extern "C" {
        fn getrusage(who: i32, usage: *mut Rusage) -> i32;
    }
    let mut ru = std::mem::MaybeUninit::<Rusage>::zeroed();
    // SAFETY: RUSAGE_SELF = 0; `ru` is a writable struct of the kernel's layout.
    let rc = unsafe { getrusage(0, ru.as_mut_ptr()) };
    if rc != 0 {
        return 0.0;
    }
    // SAFETY: getrusage succeeded and filled it (and it was zeroed before).
    let ru = unsafe { ru.assume_init() };
    let us = |t: &Timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    us(&ru.ru_utime) + us(&ru.ru_stime)
}

/// Latency quantile (microseconds) of a sorted sample, hdrhistogram's convention (the
/// value at or below which `q` of the samples lie).
fn quantile(sorted: &[u32], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    u64::from(sorted[rank - 1])
}

/// `rmq bench produce` on this client: `--mode sync` runs `concurrency` tasks each
/// sending and awaiting in a loop (send_with_timeout); `--mode async` keeps up to
/// `concurrency` send_with_callback sends in flight (a semaphore window). Both until
/// `--duration` or `--count`, after one warm-up send (route, connection). Prints one
/// JSON line with `rmq bench produce --json`'s keys.
async fn bench_produce(rt: Arc<ClientRuntime>, a: BenchProduceArgs) -> Result<(), Err> {
    let mut producer = new_producer(&rt, &a.group).await?;
    let body = vec![b'x'; a.size];
    let mk = |topic: &str| Message::builder().topic(topic).body_slice(&body).build_unchecked();
    // the route first, as rmq does
    producer.send_with_timeout(mk(&a.topic), 3000).await?;

    let sent = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let limit = a.count.unwrap_or(u64::MAX) as usize;
    let conc = a.concurrency.max(1);
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let deadline = start + a.duration;
    let mut lat: Vec<u32> = Vec::new();
    if !a.mode_async {
        let p = Arc::new(producer.clone());
        let mut tasks = Vec::new();
        for _ in 0..conc {
            let (p, sent, failed) = (p.clone(), sent.clone(), failed.clone());
            let (topic, body) = (a.topic.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                let mut l: Vec<u32> = Vec::with_capacity(1 << 16);
                while Instant::now() < deadline && sent.load(Ordering::Relaxed) < limit {
                    let m = Message::builder().topic(topic.as_str()).body_slice(&body).build_unchecked();
                    let t = Instant::now();
                    match p.send_with_timeout(m, 3000).await {
                        Ok(Some(_)) => {
                            l.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                        r => {
                            if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                                eprintln!("bench-produce: sync send failed: {:?}", r.map(|_| ()));
                            }
                        }
                    }
                }
                l
            }));
        }
        for t in tasks {
            if let Ok(l) = t.await {
                lat.extend_from_slice(&l);
            }
        }
    } else {
        // On a runtime worker, as the sync senders are (and as rmq bench runs its
        // pipeline): completions wake it within the scheduler, not by unparking the
        // main thread.
        let lats: Arc<Mutex<Vec<u32>>> = Arc::new(Mutex::new(Vec::with_capacity(1 << 20)));
        let pipeline = {
            let producer = producer.clone();
            let (sent, failed, lats) = (sent.clone(), failed.clone(), lats.clone());
            let (topic, body) = (a.topic.clone(), body.clone());
            tokio::spawn(async move {
                let sem = Arc::new(tokio::sync::Semaphore::new(conc));
                let mut issued = 0usize;
                while Instant::now() < deadline && issued < limit {
                    let Ok(permit) = sem.clone().acquire_owned().await else {
                        break;
                    };
                    let permit = Mutex::new(Some(permit));
                    let (sent2, failed2, lats2) = (sent.clone(), failed.clone(), lats.clone());
                    let t = Instant::now();
                    let m = Message::builder().topic(topic.as_str()).body_slice(&body).build_unchecked();
                    let r = producer
                        .send_with_callback(m, move |r, e| {
                            if r.is_some() && e.is_none() {
                                let us = t.elapsed().as_micros().min(u32::MAX as u128) as u32;
                                lats2.lock().unwrap().push(us);
                                sent2.fetch_add(1, Ordering::Relaxed);
                            } else {
                                if failed2.fetch_add(1, Ordering::Relaxed) < 3 {
                                    let e = e.map(|e| e.to_string()).unwrap_or_else(|| "no result".into());
                                    eprintln!("bench-produce: async send failed: {e}");
                                }
                            }
                            drop(permit.lock().unwrap().take());
                        })
                        .await;
                    if let Err(e) = r {
                        if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("bench-produce: async send refused: {e}");
                        }
                    }
                    issued += 1;
                }
                // wait for every send in flight to end (the whole window back), as rmq
                // drains its pipeline; bounded by the send timeout
                let drain_until = Instant::now() + Duration::from_secs(10);
                while sem.available_permits() < conc && Instant::now() < drain_until {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            })
        };
        pipeline.await?;
        lat = std::mem::take(&mut *lats.lock().unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    producer.shutdown().await;

    lat.sort_unstable();
    let n = sent.load(Ordering::Relaxed);
    let errors = failed.load(Ordering::Relaxed);
    let tps = n as f64 / elapsed.max(1e-9);
    let cpu_per_100k = if n > 0 { cpu * 100_000.0 / n as f64 } else { 0.0 };
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "{{\"bench\":\"produce\",\"mode\":\"{}\",\"concurrency\":{},\"size\":{},\"messages\":{n},\
         \"errors\":{errors},\"seconds\":{elapsed},\"tps\":{tps},\"p50_ms\":{},\"p99_ms\":{},\
         \"max_ms\":{},\"cpu_seconds\":{cpu},\"cpu_seconds_per_100k\":{cpu_per_100k}}}",
        if a.mode_async { "async" } else { "sync" },
        a.concurrency,
        a.size,
        ms(quantile(&lat, 0.5)),
        ms(quantile(&lat, 0.99)),
        ms(lat.last().copied().map_or(0, u64::from)),
    );
    if n == 0 {
        return Err("no message was sent".into());
    }
    Ok(())
}

fn usage() -> Err {
    "usage: peer-client produce <topic> <n> | consume <topic> <group> <n> <timeout_secs> | \
     smoke [N] [topic] | bench [N] [topic] | capture [N] [topic] | \
     bench-produce [--mode sync|async] [--concurrency N] [--count N | --duration S] [--size B] \
     [--topic T] [--group G] | bench-consume --topic T --group G --count N [--timeout S]"
        .into()
}

fn main() -> Result<(), Err> {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("smoke").to_string();
    let (dn, dt) = match mode.as_str() {
        "bench" => (10_000, "PeerBench"),
        "capture" => (6, "PeerCapture"),
        _ => (1000, "PeerSmoke"),
    };
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(dn);
    let topic = args.get(3).cloned().unwrap_or_else(|| dt.to_string());
    // interop subcommands take positional arguments, all required
    let (i_topic, i_group, i_n, i_timeout) = match mode.as_str() {
        "produce" => {
            let (Some(t), Some(n)) = (args.get(2), args.get(3).and_then(|s| s.parse::<usize>().ok())) else {
                return Err(usage());
            };
            (t.clone(), String::new(), n, 0u64)
        }
        "consume" => {
            let (Some(t), Some(g), Some(n), Some(to)) = (
                args.get(2),
                args.get(3),
                args.get(4).and_then(|s| s.parse::<usize>().ok()),
                args.get(5).and_then(|s| s.parse::<u64>().ok()),
            ) else {
                return Err(usage());
            };
            (t.clone(), g.clone(), n, to)
        }
        "smoke" | "bench" | "capture" => (String::new(), String::new(), 0, 0),
        "bench-produce" => (String::new(), String::new(), 0, 0),
        "bench-consume" => {
            let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
            let (Some(t), Some(g), Some(n)) = (
                flag("--topic"),
                flag("--group"),
                flag("--count").and_then(|s| s.parse::<usize>().ok()),
            ) else {
                return Err(usage());
            };
            let to = flag("--timeout").and_then(|s| s.parse::<u64>().ok()).unwrap_or(300);
            (t, g, n, to)
        }
        _ => return Err(usage()),
    };

    let bp_args = if mode == "bench-produce" {
        Some(BenchProduceArgs::parse(&args[2..])?)
    } else {
        None
    };

    // PEER_WORKER_THREADS=N: a runtime of N workers instead of the crate's default (one
    // per core), so benches can give this client its best runtime as ours gets its own
    // (`rmq --worker-threads`); its runtime is always multi-threaded.
    let owner = match std::env::var("PEER_WORKER_THREADS").ok().and_then(|v| v.parse::<usize>().ok()) {
        Some(n) => RuntimeOwner::plan(RuntimeConfig::for_parallelism("peer-client", n))
            .map_err(|e| format!("PEER_WORKER_THREADS={n}: {e:?}"))?
            .build()?,
        None => RuntimeOwner::new()?,
    };
    let telemetry = if std::env::var_os("RUST_LOG").is_some() {
        rocketmq_observability::install_global(&rocketmq_observability::TelemetryBootstrapConfig::default())?
    } else {
        rocketmq_observability::TelemetryRuntimeGuard::noop()
    };
    let rt = ClientRuntime::try_new(
        owner.root_context().component("peer-client"),
        ClientRuntimeConfig::default(),
        telemetry.handle(),
    )?;
    let (result, report) = owner.block_on(async {
        let r = match mode.as_str() {
            "bench" => bench(rt.clone(), n, &topic).await,
            "bench-produce" => bench_produce(rt.clone(), bp_args.clone().expect("parsed above")).await,
            "capture" => capture(rt.clone(), n, &topic).await,
            "produce" => produce(rt.clone(), &i_topic, i_n).await,
            "consume" => consume(rt.clone(), &i_topic, &i_group, i_n, Duration::from_secs(i_timeout)).await,
            "bench-consume" => {
                bench_consume(rt.clone(), &i_topic, &i_group, i_n, Duration::from_secs(i_timeout)).await
            }
            _ => smoke(rt.clone(), n, &topic, Duration::from_secs(1)).await,
        };
        (r, rt.shutdown().await)
    });
    let _ = owner.shutdown_runtime_blocking();
    if !report.is_healthy() {
        eprintln!("warning: client runtime shutdown report unhealthy");
    }
    result
}
