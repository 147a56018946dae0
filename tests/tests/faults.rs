//! Faults between the client and the real NameServer + Broker at `$RMQ_NAMESRV`
//! (issue 8), injected by [`FaultProxy`]: one proxy in front of each broker, and one in
//! front of the NameServer that rewrites each broker's address in the routes and
//! cluster info it returns to that broker's proxy, so clients given the NameServer
//! proxy reach the brokers only through their proxies.
//!
//! The tests take turns (one lock): they measure times, and two of them at once on a
//! small machine would measure each other.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq_tests::fault::{Direction, FaultProxy, Faults};
use rocketmq_tokio::{
    Admin, ClientOptions, ConsumeFromWhere, Error, Message, Producer, PushConsumer,
    ReceivedMessage, SendResult, SerializeType, TopicConfig,
};
use tokio::time::Instant;

static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn namesrv() -> String {
    std::env::var("RMQ_NAMESRV")
        .expect("RMQ_NAMESRV must name the peer NameServer (scripts/test starts it)")
}

/// Straight to the real NameServer and brokers.
fn direct() -> ClientOptions {
    ClientOptions::new(namesrv())
}

use rocketmq_tests::unique;

/// The NameServer proxy and one proxy per broker address.
struct Net {
    namesrv: FaultProxy,
    brokers: Vec<FaultProxy>,
}

impl Net {
    async fn start() -> Net {
        let admin = Admin::start(direct()).await.unwrap();
        let cluster = admin.cluster().await.expect("the NameServer answers");
        admin.shutdown().await;
        let addrs: BTreeSet<String> = cluster
            .brokers
            .iter()
            .flat_map(|b| b.addrs.iter().map(|(_, a)| a.clone()))
            .collect();
        assert!(!addrs.is_empty(), "the NameServer knows no broker");
        let mut brokers = Vec::new();
        let mut rewrites = Vec::new();
        for addr in addrs {
            let proxy = FaultProxy::start(addr.clone()).await.unwrap();
            // Quoted: a JSON string, never a prefix of a longer address.
            rewrites.push((format!("\"{addr}\""), format!("\"{}\"", proxy.addr())));
            brokers.push(proxy);
        }
        let namesrv = FaultProxy::start_rewriting(namesrv(), rewrites)
            .await
            .unwrap();
        Net { namesrv, brokers }
    }

    /// Through the proxies.
    fn options(&self) -> ClientOptions {
        ClientOptions::new(self.namesrv.addr().to_string())
    }

    fn brokers(&self) -> impl Iterator<Item = &Faults> {
        self.brokers.iter().map(FaultProxy::faults)
    }

    fn all(&self) -> impl Iterator<Item = &Faults> {
        std::iter::once(self.namesrv.faults()).chain(self.brokers())
    }

    fn broker_bytes(&self) -> (u64, u64) {
        self.brokers().fold((0, 0), |(u, d), f| {
            let s = f.stats();
            (u + s.to_upstream, d + s.to_client)
        })
    }
}

/// A new topic with 4 queues on every master, once the NameServer routes it.
async fn new_topic(prefix: &str) -> String {
    let topic = unique(prefix);
    let admin = Admin::start(direct()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let created = admin
            .create_topic(
                &topic,
                TopicConfig {
                    queues: 4,
                    ..TopicConfig::default()
                },
            )
            .await;
        if created.is_ok() && admin.route(&topic).await.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "topic {topic} never routed: {created:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    admin.shutdown().await;
    topic
}

/// One send, timed; `None` if it had not ended after `limit` (a hang).
async fn timed_send(
    producer: &Producer,
    msg: Message,
    limit: Duration,
) -> (Option<Result<SendResult, Error>>, Duration) {
    let t0 = Instant::now();
    let r = tokio::time::timeout(limit, producer.send(msg)).await.ok();
    (r, t0.elapsed())
}

/// Consume `topic` as a new group from the first offset until `done` says so (or
/// `limit` passed); everything that arrived.
async fn consume_until(
    options: ClientOptions,
    topic: &str,
    limit: Duration,
    done: impl Fn(&[ReceivedMessage]) -> bool,
) -> Vec<ReceivedMessage> {
    let consumer = PushConsumer::builder(options, &unique("CG"))
        .subscribe(topic, "*")
        .from_where(ConsumeFromWhere::FirstOffset);
    rocketmq_tests::consume_until(consumer, limit, done).await
}

const SEND_TIMEOUT: Duration = Duration::from_secs(2);
/// What a send may take past its timeout (scheduling on a busy 2-core machine).
const SLACK: Duration = Duration::from_secs(1);
/// Past this a send counts as hung.
const HANG: Duration = Duration::from_secs(15);

/// A producer through `net` with a 2 s send timeout, once a first send went through.
async fn proxied_producer(net: &Net, topic: &str) -> Producer {
    let producer = Producer::start(
        net.options()
            .send_timeout(SEND_TIMEOUT)
            .request_timeout(SEND_TIMEOUT),
        &unique("PG"),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (r, _) = timed_send(&producer, Message::new(topic, "warm-up"), HANG).await;
        if matches!(r, Some(Ok(_))) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no send through the proxies: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        net.brokers().map(|f| f.stats().accepted).sum::<u64>() >= 1,
        "the producer reached the broker through its proxy"
    );
    producer
}

/// Sends `n` messages while the brokers' paths are broken: each must end, with an
/// error, within the send timeout. Their times.
async fn sends_fail_in_time(producer: &Producer, topic: &str, n: usize) -> Vec<Duration> {
    let mut times = Vec::new();
    for i in 0..n {
        let (r, took) = timed_send(producer, Message::new(topic, format!("lost-{i}")), HANG).await;
        let r = r.unwrap_or_else(|| panic!("send {i} hung: no outcome after {HANG:?}"));
        assert!(r.is_err(), "send {i} through a black hole succeeded: {r:?}");
        assert!(
            took <= SEND_TIMEOUT + SLACK,
            "send {i} took {took:?}, more than the send timeout {SEND_TIMEOUT:?} + {SLACK:?}: {r:?}"
        );
        eprintln!("black-holed send {i}: {:?} after {took:?}", r.unwrap_err());
        times.push(took);
    }
    times
}

/// Sends until one succeeds (each must end within the send timeout); how long from
/// the start until that success.
async fn time_to_recover(producer: &Producer, topic: &str, limit: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    let mut i = 0;
    while t0.elapsed() < limit {
        let (r, took) = timed_send(producer, Message::new(topic, format!("after-{i}")), HANG).await;
        let r = r.unwrap_or_else(|| panic!("send after-{i} hung: no outcome after {HANG:?}"));
        assert!(
            took <= SEND_TIMEOUT + SLACK,
            "send after-{i} took {took:?}: {r:?}"
        );
        match r {
            Ok(_) => return Some(t0.elapsed()),
            Err(e) => eprintln!(
                "  not yet ({:?}): after-{i} failed after {took:?}: {e}",
                t0.elapsed()
            ),
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Issue 8, scenario 4, with the whole path black-holed: sends end in time with an
/// error and work again soon after the black hole is lifted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_holed_broker_fails_sends_within_the_send_timeout_and_they_recover_when_it_lifts() {
    let _turn = TURN.lock().await;
    let net = Net::start().await;
    let topic = new_topic("FLT_bh").await;
    let producer = proxied_producer(&net, &topic).await;
    for i in 0..5 {
        producer
            .send(Message::new(&topic, format!("before-{i}")))
            .await
            .expect("sends work before the fault");
    }

    for f in net.brokers() {
        f.set_black_hole(true);
    }
    let times = sends_fail_in_time(&producer, &topic, 4).await;
    eprintln!("black hole: failed sends took {times:?}");

    for f in net.brokers() {
        f.set_black_hole(false);
    }
    let recovered = time_to_recover(&producer, &topic, Duration::from_secs(20)).await;
    eprintln!("black hole lifted: first successful send after {recovered:?}");
    let recovered = recovered.expect("sends work again within 20 s of the black hole lifting");
    assert!(
        recovered <= SEND_TIMEOUT + SLACK,
        "the first send after the black hole lifted should succeed, took {recovered:?}"
    );
    for i in 0..5 {
        producer
            .send(Message::new(&topic, format!("again-{i}")))
            .await
            .expect("sends keep working");
    }
    assert_nothing_left_behind(&producer, "black hole lifted").await;
    producer.shutdown().await;
}

/// Issue 8, scenario 4, with the client's connection dead for good (it forwards
/// nothing any more, its socket stays open; a new connection works): sends end in time
/// with an error, and the client gets around it by replacing the connection, as Java
/// does (its sync invoke closes the channel on a timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dead_for_good_fails_sends_in_time_and_is_replaced() {
    let _turn = TURN.lock().await;
    let net = Net::start().await;
    let topic = new_topic("FLT_dead").await;
    let producer = proxied_producer(&net, &topic).await;
    let accepted_before: u64 = net.brokers().map(|f| f.stats().accepted).sum();

    let struck: usize = net.brokers().map(Faults::black_hole_current).sum();
    assert!(struck >= 1, "the producer's broker connection was struck");
    // The first send's timeout closes the connection (nothing came back on it for a
    // whole request timeout): one failed send is all a dead connection costs.
    let times = sends_fail_in_time(&producer, &topic, 1).await;
    eprintln!("dead connection: failed sends took {times:?}");

    let recovered = time_to_recover(&producer, &topic, Duration::from_secs(45)).await;
    let accepted_after: u64 = net.brokers().map(|f| f.stats().accepted).sum();
    eprintln!(
        "dead connection: first successful send after {recovered:?} more; broker connections \
         opened meanwhile: {}",
        accepted_after - accepted_before
    );
    let recovered = recovered.expect(
        "sends never worked again within 45 s: the client keeps using a connection that \
         answers nothing and never opens a new one",
    );
    assert!(
        recovered <= 3 * SEND_TIMEOUT + SLACK,
        "recovery took {recovered:?}"
    );
    assert!(
        accepted_after > accepted_before,
        "the dead connection was replaced by a new one"
    );
    assert_nothing_left_behind(&producer, "dead connection replaced").await;
    producer.shutdown().await;
}

/// Issue 8, scenario 4, with the connection's socket full: a black hole swallows more
/// than the socket buffers and the proxy hold (3,000 sends of 4,000 bytes, 12 MB, all
/// started at once), so the connection's writes block for good. Every send ends with
/// an error within its deadline; then nothing is left behind: no request in the
/// in-flight table, no send pending, no call awaiting, and no connection task beyond
/// the connections the client holds (the black-holed connection's task, stuck in a
/// write, ends within its linger once the client drops the connection). The client
/// replaces the connection and sends again once the black hole lifts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_hole_with_megabytes_queued_leaves_no_request_or_task_behind() {
    let _turn = TURN.lock().await;
    let net = Net::start().await;
    let topic = new_topic("FLT_leak").await;
    let producer = proxied_producer(&net, &topic).await;
    let before = producer.stats().await.unwrap();
    // (A heartbeat or route query may be in flight now.)
    eprintln!("before the black hole: {before:?}");

    for f in net.brokers() {
        f.set_black_hole(true);
    }
    // Under 4 KiB: sent as is, not compressed (so every byte goes to the socket).
    let body = vec![b'x'; 4_000];
    let t0 = Instant::now();
    let sends: Vec<_> = (0..3_000)
        .map(|_| {
            producer
                .send_async(Message::new(&topic, body.clone()))
                .expect("the client takes the send")
        })
        .collect();
    let mut failed = 0;
    for (i, send) in sends.into_iter().enumerate() {
        let r = tokio::time::timeout(HANG, send)
            .await
            .unwrap_or_else(|_| panic!("send {i} hung: no outcome after {HANG:?}"));
        assert!(r.is_err(), "send {i} through a black hole succeeded: {r:?}");
        failed += 1;
    }
    let took = t0.elapsed();
    eprintln!("black hole: all {failed} sends failed after {took:?}");
    assert!(
        took <= SEND_TIMEOUT + SLACK,
        "the last send ended {took:?} after the first started: beyond its deadline"
    );

    // The black-holed connection is dropped by the client once a request timed out on
    // it; its task may linger for 2 s flushing before it gives up.
    assert_nothing_left_behind(&producer, "after the black hole").await;

    for f in net.brokers() {
        f.set_black_hole(false);
    }
    let recovered = time_to_recover(&producer, &topic, Duration::from_secs(20)).await;
    eprintln!("black hole lifted: first successful send after {recovered:?}");
    recovered.expect("sends work again within 20 s of the black hole lifting");
    assert_nothing_left_behind(&producer, "after recovery").await;
    producer.shutdown().await;
}

/// Within 10 s (a heartbeat may be answered meanwhile, a dropped connection's task may
/// linger 2 s): no request in flight, no send pending, no call awaiting, and no more
/// connection tasks than connections.
async fn assert_nothing_left_behind(producer: &Producer, when: &str) {
    let t0 = Instant::now();
    let settled = loop {
        let s = producer.stats().await.unwrap();
        let clean = s.requests_in_flight == 0
            && s.sends_pending == 0
            && s.calls_awaiting == 0
            && s.connection_tasks <= s.connections;
        if clean || t0.elapsed() > Duration::from_secs(10) {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("{when}: {settled:?} after {:?}", t0.elapsed());
    assert_eq!(
        settled.requests_in_flight, 0,
        "{when}: in-flight entries left: {settled:?}"
    );
    assert_eq!(settled.sends_pending, 0, "{when}: sends left: {settled:?}");
    assert_eq!(settled.calls_awaiting, 0, "{when}: calls left: {settled:?}");
    assert!(
        settled.connection_tasks <= settled.connections,
        "{when}: connection tasks left behind: {settled:?}"
    );
}

/// 200 messages produced and consumed through proxies that pass everything on in
/// pieces of 1..=7 bytes, each its own write, 1 ms late, NameServer and broker alike
/// (the NameServer's pieces also 1 ms apart, so the client reads them one by one: its
/// routes arrive a few bytes at a time): every message arrives with its body, tags,
/// keys, properties and msg id intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_in_tiny_pieces_with_latency_carry_200_messages_intact() {
    let _turn = TURN.lock().await;
    let net = Net::start().await;
    for (seed, f) in net.all().enumerate() {
        f.set_pieces(7, 0x5EED + seed as u64);
        f.set_latency(Duration::from_millis(1));
    }
    net.namesrv.faults().set_piece_gap(Duration::from_millis(1));
    let topic = new_topic("FLT_pieces").await;
    // Routes come at about 2 bytes a millisecond.
    let options = net
        .options()
        .send_timeout(Duration::from_secs(10))
        .request_timeout(Duration::from_secs(10));
    let producer = Producer::start(options.clone(), &unique("PG"))
        .await
        .unwrap();

    let body = |i: usize| -> Vec<u8> {
        // Two bodies past 4 KiB go compressed; the rest 1..=300 bytes, every byte value.
        let len = if i % 100 == 50 {
            6_000
        } else {
            1 + (i * 37) % 300
        };
        (0..len).map(|j| (i * 31 + j * 7) as u8).collect()
    };
    let message = |i: usize| {
        Message::new(&topic, body(i))
            .with_tags(format!("T{}", i % 3))
            .with_keys(format!("k{i} key-{i}"))
            .with_property("i", i.to_string())
            .with_property("u", format!("héllo ✓ {i} = a&b"))
    };
    let t0 = Instant::now();
    let mut receipts = BTreeMap::new();
    for start in (0..200).step_by(8) {
        let pending: Vec<_> = (start..start + 8)
            .map(|i| (i, producer.send_async(message(i)).unwrap()))
            .collect();
        for (i, p) in pending {
            let r = tokio::time::timeout(Duration::from_secs(60), p)
                .await
                .unwrap_or_else(|_| panic!("send {i} hung"))
                .unwrap_or_else(|e| panic!("send {i} failed: {e}"));
            receipts.insert(i, r.msg_id.to_string());
        }
    }
    let produced = t0.elapsed();
    let (up, down) = net.broker_bytes();
    eprintln!("pieces: 200 sends took {produced:?}; broker proxy bytes {up} up, {down} down");

    let t1 = Instant::now();
    let got = consume_until(options, &topic, Duration::from_secs(180), |m| {
        m.iter()
            .filter_map(|m| m.property("i"))
            .collect::<BTreeSet<_>>()
            .len()
            >= 200
    })
    .await;
    eprintln!(
        "pieces: consumed {} messages in {:?}; broker proxy bytes now {:?}",
        got.len(),
        t1.elapsed(),
        net.broker_bytes()
    );
    let mut seen = BTreeSet::new();
    for m in &got {
        let i: usize = m
            .property("i")
            .expect("property i")
            .parse()
            .expect("a number");
        assert_eq!(m.topic, topic);
        assert_eq!(m.body.as_ref(), body(i).as_slice(), "body of {i}");
        assert_eq!(m.tags.as_deref(), Some(format!("T{}", i % 3).as_str()));
        assert_eq!(m.keys.as_deref(), Some(format!("k{i} key-{i}").as_str()));
        assert_eq!(m.property("u"), Some(format!("héllo ✓ {i} = a&b").as_str()));
        assert_eq!(Some(&m.msg_id), receipts.get(&i), "msg id of {i}");
        seen.insert(i);
    }
    let missing: Vec<usize> = (0..200).filter(|i| !seen.contains(i)).collect();
    assert!(missing.is_empty(), "never consumed: {missing:?}");
    let s = net.brokers[0].faults().stats();
    assert!(s.to_upstream > 200 * 150, "the sends went through: {s:?}");
    let s = net.namesrv.faults().stats();
    assert!(
        s.to_client > 0,
        "routes came through the NameServer's proxy: {s:?}"
    );
    producer.shutdown().await;
}

/// A client set to ROCKETMQ binary headers (Java's `rocketmq.serialize.type=ROCKETMQ`)
/// produces and consumes through the real NameServer and broker: every frame it writes,
/// to either, has a binary header, and every message comes back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_headers_produce_and_consume_through_the_real_broker() {
    let _turn = TURN.lock().await;
    let net = Net::start().await;
    let topic = new_topic("FLT_binary").await;
    let options = net.options().serialize_type(SerializeType::RocketMq);
    let producer = Producer::start(options.clone(), &unique("PG"))
        .await
        .unwrap();
    let message = |i: usize| {
        Message::new(&topic, format!("binary-{i}"))
            .with_tags(format!("T{}", i % 3))
            .with_keys(format!("k{i}"))
            .with_property("i", i.to_string())
            .with_property("u", format!("héllo ✓ {i}"))
    };
    let mut receipts = BTreeMap::new();
    for i in 0..50 {
        let r = producer.send(message(i)).await.expect("sync send");
        receipts.insert(i, r.msg_id.to_string());
    }
    let pending: Vec<_> = (50..100)
        .map(|i| (i, producer.send_async(message(i)).unwrap()))
        .collect();
    for (i, p) in pending {
        let r = p.await.unwrap_or_else(|e| panic!("async send {i}: {e}"));
        receipts.insert(i, r.msg_id.to_string());
    }
    let got = consume_until(options, &topic, Duration::from_secs(120), |m| {
        m.iter()
            .filter_map(|m| m.property("i"))
            .collect::<BTreeSet<_>>()
            .len()
            >= 100
    })
    .await;
    let mut seen = BTreeSet::new();
    for m in &got {
        let i: usize = m.property("i").expect("property i").parse().unwrap();
        assert_eq!(m.body.as_ref(), format!("binary-{i}").as_bytes());
        assert_eq!(m.tags.as_deref(), Some(format!("T{}", i % 3).as_str()));
        assert_eq!(m.keys.as_deref(), Some(format!("k{i}").as_str()));
        assert_eq!(m.property("u"), Some(format!("héllo ✓ {i}").as_str()));
        assert_eq!(Some(&m.msg_id), receipts.get(&i), "msg id of {i}");
        seen.insert(i);
    }
    let missing: Vec<usize> = (0..100).filter(|i| !seen.contains(i)).collect();
    assert!(missing.is_empty(), "never consumed: {missing:?}");
    producer.shutdown().await;
    // Route lookups, heartbeats, sends, pulls, offset commits: all binary.
    let ns = net.namesrv.faults().stats();
    eprintln!("binary: NameServer proxy {ns:?}");
    assert_eq!(
        ns.upstream_frames.json, 0,
        "a JSON header to the NameServer: {ns:?}"
    );
    assert!(ns.upstream_frames.binary >= 2, "route lookups: {ns:?}");
    for f in net.brokers() {
        let s = f.stats();
        eprintln!("binary: broker proxy {s:?}");
        assert_eq!(
            s.upstream_frames.json, 0,
            "a JSON header to the broker: {s:?}"
        );
    }
    let to_brokers: u64 = net
        .brokers()
        .map(|f| f.stats().upstream_frames.binary)
        .sum();
    assert!(to_brokers >= 100, "100 sends and the pulls: {to_brokers}");
    // And the default is JSON, as Java's: the same counts see it.
    let before = net.namesrv.faults().stats().upstream_frames.json;
    let admin = Admin::start(net.options()).await.unwrap();
    admin.route(&topic).await.expect("a route");
    admin.shutdown().await;
    assert!(net.namesrv.faults().stats().upstream_frames.json > before);
}

/// What one send of the steady stream did.
#[derive(Debug)]
struct Outcome {
    body: String,
    started: Instant,
    took: Duration,
    /// The msg id, the error, or `None` for a hang.
    result: Option<Result<String, Error>>,
}

/// A steady produce (6 senders) through the proxies while the broker proxy resets its
/// connections three times, then cuts one mid-frame in each direction: no send hangs,
/// failures are errors in time, the producer recovers by itself after every fault, and
/// every send reported OK is consumed (with its msg id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_and_cuts_during_a_steady_produce_lose_no_acknowledged_message() {
    let _turn = TURN.lock().await;
    let net = Net::start().await;
    let topic = new_topic("FLT_reset").await;
    let producer = proxied_producer(&net, &topic).await;
    let stop = Arc::new(AtomicBool::new(false));
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let mut senders = Vec::new();
    for t in 0..6 {
        let (producer, stop, outcomes, topic) = (
            producer.clone(),
            stop.clone(),
            outcomes.clone(),
            topic.clone(),
        );
        senders.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let body = format!("c-{t}-{n}");
                let started = Instant::now();
                let (r, took) =
                    timed_send(&producer, Message::new(&topic, body.clone()), HANG).await;
                let hung = r.is_none();
                outcomes.lock().unwrap().push(Outcome {
                    body,
                    started,
                    took,
                    result: r.map(|r| r.map(|s| s.msg_id.to_string())),
                });
                if hung {
                    return;
                }
                n += 1;
            }
        }));
    }

    let mut faults = Vec::new();
    let pause = Duration::from_secs(2);
    tokio::time::sleep(pause).await;
    for k in 0..3 {
        let n: usize = net.brokers().map(Faults::reset_all).sum();
        eprintln!("reset {k}: {n} connection(s)");
        faults.push((format!("reset {k}"), Instant::now()));
        tokio::time::sleep(pause).await;
    }
    for (what, dir, n) in [
        ("cut upstream after 150 bytes", Direction::Upstream, 150),
        ("cut downstream after 40 bytes", Direction::Downstream, 40),
    ] {
        let f = net.brokers[0].faults();
        f.cut_after(dir, n);
        let armed = Instant::now();
        while f.cut_pending() && armed.elapsed() < pause {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(!f.cut_pending(), "{what}: no traffic to cut");
        faults.push((what.to_string(), Instant::now()));
        tokio::time::sleep(pause).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    for s in senders {
        s.await.unwrap();
    }
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());

    let hung: Vec<&Outcome> = outcomes.iter().filter(|o| o.result.is_none()).collect();
    assert!(hung.is_empty(), "sends hung: {hung:?}");
    let ok: BTreeMap<&str, &str> = outcomes
        .iter()
        .filter_map(|o| match &o.result {
            Some(Ok(id)) => Some((o.body.as_str(), id.as_str())),
            _ => None,
        })
        .collect();
    let failed: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| matches!(o.result, Some(Err(_))))
        .collect();
    let slowest = outcomes.iter().map(|o| o.took).max().unwrap_or_default();
    eprintln!(
        "steady produce: {} sends, {} OK, {} failed, slowest {slowest:?}",
        outcomes.len(),
        ok.len(),
        failed.len()
    );
    for o in &failed {
        eprintln!("  failed: {} after {:?}: {:?}", o.body, o.took, o.result);
    }
    let late: Vec<&&Outcome> = failed
        .iter()
        .filter(|o| o.took > SEND_TIMEOUT + SLACK)
        .collect();
    assert!(late.is_empty(), "failures past the send timeout: {late:?}");
    // After every fault the producer works again by itself.
    for (what, at) in &faults {
        let first_ok = outcomes
            .iter()
            .filter(|o| o.started >= *at && matches!(o.result, Some(Ok(_))))
            .map(|o| o.started + o.took - *at)
            .min();
        eprintln!("after {what}: first OK send completed {first_ok:?} later");
        let first_ok = first_ok.unwrap_or_else(|| panic!("no send succeeded after {what}"));
        assert!(
            first_ok <= SEND_TIMEOUT + SLACK,
            "after {what} the first OK send took {first_ok:?}"
        );
    }
    let end = faults.last().unwrap().1 + pause;
    assert!(
        outcomes
            .iter()
            .filter(|o| o.started >= end)
            .all(|o| matches!(o.result, Some(Ok(_)))),
        "sends fail long after the last fault"
    );

    // Every acknowledged message is stored: a consumer straight to the broker gets it.
    let want: BTreeSet<String> = ok.keys().map(|b| b.to_string()).collect();
    let got = consume_until(direct(), &topic, Duration::from_secs(90), |m| {
        let bodies: BTreeSet<&[u8]> = m.iter().map(|m| m.body.as_ref()).collect();
        want.iter().all(|b| bodies.contains(b.as_bytes()))
    })
    .await;
    let ids: BTreeMap<String, BTreeSet<String>> = got.iter().fold(BTreeMap::new(), |mut acc, m| {
        acc.entry(String::from_utf8_lossy(&m.body).into_owned())
            .or_default()
            .insert(m.msg_id.clone());
        acc
    });
    let lost: Vec<&str> = ok
        .keys()
        .copied()
        .filter(|b| !ids.contains_key(*b))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged sends never consumed: {lost:?}",
        lost.len()
    );
    for (body, id) in &ok {
        assert!(
            ids[*body].contains(*id),
            "{body}: acknowledged as {id}, consumed as {:?}",
            ids[*body]
        );
    }
    // A retried attempt keeps its UNIQ_KEY: a body stored twice has one msg id.
    eprintln!(
        "consumed {} for {} acknowledged sends: {} more of the same bodies (an attempt \
         stored, its answer lost to a fault, the retry stored again), {} other bodies \
         (the warm-up, failed sends the broker stored)",
        got.len(),
        ok.len(),
        got.len() - ids.len(),
        ids.len() - ok.len()
    );
    producer.shutdown().await;
}

/// QUERY_MESSAGE waits three request timeouts, as Java's `MQAdminImpl` does (an index
/// lookup may read many index files): through a link slower than one request timeout
/// but well within three, a query by key succeeds while an ordinary request times out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_by_key_waits_three_request_timeouts_as_java_does() {
    let _turn = TURN.lock().await;
    let net = Net::start().await;
    let topic = new_topic("FLT_query").await;
    let key = unique("key");
    let producer = Producer::start(direct(), &unique("PG")).await.unwrap();
    producer
        .send(Message::new(&topic, "indexed").with_keys(key.clone()))
        .await
        .unwrap();
    producer.shutdown().await;

    const TIMEOUT: Duration = Duration::from_millis(600);
    const ONE_WAY: Duration = Duration::from_millis(400);
    let admin = Admin::start(net.options().request_timeout(TIMEOUT))
        .await
        .unwrap();
    // The broker indexes on its own schedule: first see the key found on a fast link.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match admin.messages_by_key(&topic, &key, 10, 0, i64::MAX).await {
            Ok(found) if found.len() == 1 => break,
            other => assert!(Instant::now() < deadline, "never found: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    for f in net.brokers() {
        f.set_latency(ONE_WAY);
    }
    let t0 = Instant::now();
    let found = admin
        .messages_by_key(&topic, &key, 10, 0, i64::MAX)
        .await
        .expect("a query by key may take three request timeouts");
    let took = t0.elapsed();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].body.as_ref(), b"indexed");
    assert!(
        took > TIMEOUT,
        "the link was slower than one timeout: {took:?}"
    );
    // An ordinary request over the same link times out.
    let plain = admin.consumer_offsets(&unique("CG"), &topic).await;
    assert!(matches!(plain, Err(Error::Timeout { .. })), "{plain:?}");
    for f in net.brokers() {
        f.set_latency(Duration::ZERO);
    }
    admin.shutdown().await;
}
