//! Servers that die and come back (issue 8, scenarios 1, 2, 3 and 5), against the real
//! NameServer + Broker at `$RMQ_NAMESRV`: broker-b (`scripts/peer-broker-b`) is killed
//! with SIGKILL during produce and consumption and restarted on the same store; the
//! NameServer is taken down behind a proxy (connections reset, connects refused), and
//! the real NameServer is killed with SIGKILL and restarted (`scripts/peer-namesrv`).
//!
//! The tests take turns (one lock): they kill and start a shared broker.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq_tests::fault::FaultProxy;
use rocketmq_tests::peer::{BrokerB, NameServer};
use rocketmq_tests::unique;
use rocketmq_tokio::{
    Admin, ClientOptions, ConsumeFromWhere, ConsumeResult, Error, Message, Producer, PushConsumer,
    ReceivedMessage, TopicConfig,
};
use tokio::time::Instant;

static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn namesrv() -> String {
    std::env::var("RMQ_NAMESRV").expect("RMQ_NAMESRV names the peer")
}

fn options() -> ClientOptions {
    ClientOptions::new(namesrv())
}

fn four_queues() -> TopicConfig {
    TopicConfig {
        queues: 4,
        ..TopicConfig::default()
    }
}

/// Wait until `topic`'s route names `brokers` brokers.
async fn wait_route(admin: &Admin, topic: &str, brokers: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = admin.route(topic).await {
            if r.queues.len() == brokers {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{topic}: route never showed {brokers} brokers"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// One send's outcome as the producer loop saw it.
#[derive(Debug, Clone)]
struct Sent {
    body: String,
    at: Instant,
    took: Duration,
    result: Result<String, String>,
}

/// Send `body-<i>` one after another (every `gap`) until the returned flag is set.
fn produce(
    producer: Arc<Producer>,
    topic: &str,
    gap: Duration,
) -> (
    Arc<std::sync::atomic::AtomicBool>,
    tokio::task::JoinHandle<Vec<Sent>>,
) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (flag, topic) = (stop.clone(), topic.to_string());
    let task = tokio::spawn(async move {
        let mut log = Vec::new();
        let mut i = 0;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            let body = format!("m{i}");
            i += 1;
            let at = Instant::now();
            let result = producer
                .send(Message::new(&topic, body.clone()))
                .await
                .map(|r| r.broker_name.to_string())
                .map_err(|e: Error| format!("{e:?}"));
            log.push(Sent {
                body,
                at,
                took: at.elapsed(),
                result,
            });
            tokio::time::sleep(gap).await;
        }
        log
    });
    (flag, task)
}

/// A consumer keeping every message it is given.
async fn collecting(group: &str, topic: &str) -> (PushConsumer, Arc<Mutex<Vec<ReceivedMessage>>>) {
    let got: Arc<Mutex<Vec<ReceivedMessage>>> = Arc::default();
    let sink = got.clone();
    let consumer = PushConsumer::builder(options(), group)
        .subscribe(topic, "*")
        .from_where(ConsumeFromWhere::FirstOffset)
        .start(move |msgs| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().extend(msgs);
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    (consumer, got)
}

fn bodies(got: &Mutex<Vec<ReceivedMessage>>) -> BTreeSet<String> {
    got.lock()
        .unwrap()
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect()
}

/// Wait until every body of `acked` was consumed (or `limit` passed).
async fn wait_consumed(
    got: &Mutex<Vec<ReceivedMessage>>,
    acked: &BTreeSet<String>,
    limit: Duration,
) {
    let deadline = Instant::now() + limit;
    while !acked.is_subset(&bodies(got)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// A steady produce (one send every `gap`) around an outage of broker-b: `before` of
/// sends, SIGKILL, `down`, a restart on its store, `after` more; the log, when it was
/// killed and when it was back.
async fn produce_through_outage(
    b: &Arc<BrokerB>,
    producer: &Arc<Producer>,
    topic: &str,
    gap: Duration,
    [before, down, after]: [Duration; 3],
) -> (Vec<Sent>, Instant, Instant) {
    let (stop, task) = produce(producer.clone(), topic, gap);
    tokio::time::sleep(before).await;
    let killed = Instant::now();
    let bk = b.clone();
    blocking(move || bk.kill()).await;
    tokio::time::sleep(down).await;
    let bk = b.clone();
    blocking(move || bk.restart()).await;
    let back = Instant::now();
    tokio::time::sleep(after).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    (task.await.unwrap(), killed, back)
}

/// One message sent and consumed: both clients have their routes (the consumer its
/// queues).
async fn warm_up(producer: &Producer, got: &Mutex<Vec<ReceivedMessage>>, topic: &str) {
    producer.send(Message::new(topic, "warm")).await.unwrap();
    let warm: BTreeSet<String> = ["warm".to_string()].into();
    wait_consumed(got, &warm, Duration::from_secs(30)).await;
    assert!(warm.is_subset(&bodies(got)), "the consumer started");
}

/// The bodies of the acknowledged sends.
fn acked(log: &[Sent]) -> BTreeSet<String> {
    log.iter()
        .filter(|s| s.result.is_ok())
        .map(|s| s.body.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_during_produce_loses_no_acknowledged_message_and_the_producer_resumes() {
    let _turn = TURN.lock().await;
    let b = Arc::new(blocking(BrokerB::start).await);
    let admin = Admin::start(options()).await.unwrap();
    // The topic lives on broker-b alone: while it is down nothing can be stored.
    let topic = unique("E2E_kill_produce");
    admin
        .create_topic_on(&b.addr(), &topic, four_queues())
        .await
        .unwrap();
    wait_route(&admin, &topic, 1).await;

    let producer = Arc::new(Producer::start(options(), &unique("PG")).await.unwrap());
    let (log, killed, back) = produce_through_outage(
        &b,
        &producer,
        &topic,
        Duration::from_millis(5),
        [2, 5, 12].map(Duration::from_secs),
    )
    .await;

    let acked = acked(&log);
    let failed: Vec<&Sent> = log.iter().filter(|s| s.result.is_err()).collect();
    let before = log
        .iter()
        .filter(|s| s.at < killed && s.result.is_ok())
        .count();
    let resumed = log
        .iter()
        .find(|s| s.at >= back && s.result.is_ok())
        .map(|s| s.at + s.took - back);
    eprintln!(
        "{} sends: {} acknowledged ({before} before the kill), {} failed; first success {:?} after the broker was back",
        log.len(),
        acked.len(),
        failed.len(),
        resumed
    );
    assert!(before > 50, "sends worked before the kill");
    // Every failure is a typed error within the send timeout (3 s), never a hang.
    for f in &failed {
        assert!(f.took <= Duration::from_millis(3_500), "{f:?}");
        assert!(
            f.at + f.took >= killed,
            "only sends during the outage fail: {f:?}"
        );
    }
    let resumed = resumed.expect("the producer resumed");
    assert!(
        resumed <= Duration::from_secs(10),
        "resumed {resumed:?} after the return"
    );

    // Every acknowledged message is there after the restart.
    let (consumer, got) = collecting(&unique("CG"), &topic).await;
    wait_consumed(&got, &acked, Duration::from_secs(60)).await;
    consumer.shutdown().await;
    let consumed = bodies(&got);
    let missing: Vec<&String> = acked.difference(&consumed).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged messages lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    Arc::try_unwrap(producer).ok().unwrap().shutdown().await;
    admin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_brokers_killed_during_consumption_sends_fail_over_and_its_queues_come_back() {
    let _turn = TURN.lock().await;
    let b = Arc::new(blocking(BrokerB::start).await);
    let admin = Admin::start(options()).await.unwrap();
    let topic = unique("E2E_kill_consume");
    admin.create_topic(&topic, four_queues()).await.unwrap();
    wait_route(&admin, &topic, 2).await;

    let group = unique("CG");
    let (consumer, got) = collecting(&group, &topic).await;
    let producer = Arc::new(Producer::start(options(), &unique("PG")).await.unwrap());
    // After the return: long enough for a route refresh (30 s) to bring broker-b's
    // queues back to the producer, and a rebalance to give them to the consumer.
    let (log, killed, back) = produce_through_outage(
        &b,
        &producer,
        &topic,
        Duration::from_millis(10),
        [4, 6, 40].map(Duration::from_secs),
    )
    .await;

    let acked = acked(&log);
    let failed: Vec<&Sent> = log.iter().filter(|s| s.result.is_err()).collect();
    let on_b_after: BTreeSet<String> = log
        .iter()
        .filter(|s| s.at > back && s.result.as_deref() == Ok("broker-b"))
        .map(|s| s.body.clone())
        .collect();
    let per_broker: BTreeMap<String, usize> = log
        .iter()
        .filter_map(|s| s.result.clone().ok())
        .fold(BTreeMap::new(), |mut m, b| {
            *m.entry(b).or_default() += 1;
            m
        });
    eprintln!(
        "{} sends, {} failed, per broker {per_broker:?}; {} stored on broker-b after its return",
        log.len(),
        failed.len(),
        on_b_after.len()
    );
    // Two brokers: a send that meets the dead one fails over within its retries.
    assert!(
        failed.is_empty(),
        "sends failed although broker-a was up: {:?}",
        &failed[..failed.len().min(5)]
    );
    assert!(
        !on_b_after.is_empty(),
        "the producer uses broker-b again after its return"
    );

    wait_consumed(&got, &acked, Duration::from_secs(60)).await;
    consumer.shutdown().await;
    let consumed = bodies(&got);
    let missing: Vec<&String> = acked.difference(&consumed).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged messages never consumed: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert!(
        on_b_after.is_subset(&consumed),
        "broker-b's queues are consumed again"
    );
    // At least once: duplicates only from what was consumed and not yet committed
    // when broker-b died (offsets are committed every 5 s).
    let total = got.lock().unwrap().len();
    let duplicates = total - consumed.len();
    let consumed_from_b_before_kill = log
        .iter()
        .filter(|s| s.at < killed && s.result.as_deref() == Ok("broker-b"))
        .count();
    eprintln!("{total} deliveries, {duplicates} duplicates");
    assert!(
        duplicates <= consumed_from_b_before_kill,
        "{duplicates} duplicates > {consumed_from_b_before_kill} messages broker-b held before the kill"
    );
    Arc::try_unwrap(producer).ok().unwrap().shutdown().await;
    admin.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_nameserver_down_clients_work_on_cached_routes_and_recover() {
    let _turn = TURN.lock().await;
    let ns = FaultProxy::start(namesrv()).await.unwrap();
    let via = || ClientOptions::new(ns.addr().to_string());
    let topic = unique("E2E_ns_down");
    let admin = Admin::start(options()).await.unwrap();
    admin.create_topic(&topic, four_queues()).await.unwrap();
    let brokers = admin.cluster().await.unwrap().brokers.len();
    wait_route(&admin, &topic, brokers).await;

    let got: Arc<Mutex<Vec<ReceivedMessage>>> = Arc::default();
    let sink = got.clone();
    let consumer = PushConsumer::builder(via(), &unique("CG"))
        .subscribe(&topic, "*")
        .from_where(ConsumeFromWhere::FirstOffset)
        .start(move |msgs| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().extend(msgs);
                ConsumeResult::Success
            }
        })
        .await
        .unwrap();
    let producer = Arc::new(Producer::start(via(), &unique("PG")).await.unwrap());
    // Both have their routes (the consumer its queues) before the NameServer goes.
    warm_up(&producer, &got, &topic).await;

    ns.faults().set_down(true);
    let down = Instant::now();
    let (stop, task) = produce(producer.clone(), &topic, Duration::from_millis(50));
    // Past a route refresh (30 s) and a heartbeat round.
    tokio::time::sleep(Duration::from_secs(35)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let log = task.await.unwrap();
    let acked = acked(&log);
    eprintln!(
        "NameServer down {:?}: {} of {} sends acknowledged",
        down.elapsed(),
        acked.len(),
        log.len()
    );
    assert_eq!(
        acked.len(),
        log.len(),
        "every send works on the cached route"
    );
    wait_consumed(&got, &acked, Duration::from_secs(30)).await;
    assert!(
        acked.is_subset(&bodies(&got)),
        "consumption goes on without the NameServer"
    );

    // Back: a topic the client never saw needs the NameServer, and gets its route.
    ns.faults().set_down(false);
    let back = Instant::now();
    let fresh = unique("E2E_ns_back");
    let mut sent = None;
    while sent.is_none() && back.elapsed() < Duration::from_secs(30) {
        if producer.send(Message::new(&fresh, "new")).await.is_ok() {
            sent = Some(back.elapsed());
        }
    }
    eprintln!("a new topic's first send succeeded {sent:?} after the NameServer returned");
    assert!(
        sent.is_some_and(|t| t <= Duration::from_secs(15)),
        "{sent:?}"
    );
    consumer.shutdown().await;
    Arc::try_unwrap(producer).ok().unwrap().shutdown().await;
    admin.shutdown().await;
}

/// Issue 8, scenario 3 with the real NameServer killed (SIGKILL) for 10 s and
/// restarted: every send and delivery goes on on cached routes meanwhile; once the
/// broker has registered again with the new NameServer (it does every 30 s), a topic
/// no client has seen gets its route, and every acknowledged message is consumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_nameserver_killed_and_restarted_clients_work_on_cached_routes_and_recover() {
    let _turn = TURN.lock().await;
    let topic = unique("E2E_ns_kill");
    let admin = Admin::start(options()).await.unwrap();
    admin.create_topic(&topic, four_queues()).await.unwrap();
    let brokers = admin.cluster().await.unwrap().brokers.len();
    wait_route(&admin, &topic, brokers).await;
    admin.shutdown().await;

    let (consumer, got) = collecting(&unique("CG"), &topic).await;
    let producer = Arc::new(Producer::start(options(), &unique("PG")).await.unwrap());
    warm_up(&producer, &got, &topic).await;

    let ns = NameServer::running();
    let (stop, task) = produce(producer.clone(), &topic, Duration::from_millis(50));
    tokio::time::sleep(Duration::from_secs(1)).await;
    ns.kill();
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    ns.restart();
    let back = Instant::now();
    eprintln!("NameServer killed for {:?}", back - killed);

    // Until the broker is registered again: a fresh admin's cluster query lists it.
    let registered = loop {
        if let Ok(a) = Admin::start(options()).await {
            let n = a.cluster().await.map(|c| c.brokers.len()).unwrap_or(0);
            a.shutdown().await;
            if n == brokers {
                break Some(back.elapsed());
            }
        }
        if back.elapsed() > Duration::from_secs(45) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eprintln!("the broker registered again {registered:?} after the restart");
    assert!(
        registered.is_some(),
        "the broker never registered with the new NameServer"
    );

    // A topic no client has seen needs the NameServer (auto-created through TBW102).
    let fresh = unique("E2E_ns_kill_new");
    let t = Instant::now();
    let mut sent = None;
    while sent.is_none() && t.elapsed() < Duration::from_secs(30) {
        if producer.send(Message::new(&fresh, "new")).await.is_ok() {
            sent = Some(t.elapsed());
        } else {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    eprintln!("a new topic's first send succeeded {sent:?} after the broker was back");
    assert!(
        sent.is_some(),
        "no route for a new topic after the NameServer returned"
    );

    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let log = task.await.unwrap();
    let during: Vec<&Sent> = log
        .iter()
        .filter(|s| s.at >= killed && s.at < back)
        .collect();
    let acked = acked(&log);
    eprintln!(
        "{} sends, {} acknowledged; {} while the NameServer was dead",
        log.len(),
        acked.len(),
        during.len()
    );
    assert!(during.len() >= 50, "the produce went on meanwhile");
    assert_eq!(
        acked.len(),
        log.len(),
        "every send works on the cached route"
    );
    wait_consumed(&got, &acked, Duration::from_secs(30)).await;
    let consumed = bodies(&got);
    let missing: Vec<&String> = acked.difference(&consumed).collect();
    assert!(
        missing.is_empty(),
        "acknowledged, never consumed: {missing:?}"
    );
    consumer.shutdown().await;
    Arc::try_unwrap(producer).ok().unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_restarted_after_a_graceful_shutdown_redelivers_nothing() {
    let _turn = TURN.lock().await;
    let admin = Admin::start(options()).await.unwrap();
    let topic = unique("E2E_graceful");
    admin.create_topic(&topic, four_queues()).await.unwrap();
    let brokers = admin.cluster().await.unwrap().brokers.len();
    wait_route(&admin, &topic, brokers).await;
    let producer = Producer::start(options(), &unique("PG")).await.unwrap();
    let send = |range: std::ops::Range<u32>| {
        let (producer, topic) = (&producer, &topic);
        async move {
            let mut acked = BTreeSet::new();
            for i in range {
                let body = format!("g{i}");
                producer
                    .send(Message::new(topic, body.clone()))
                    .await
                    .unwrap();
                acked.insert(body);
            }
            acked
        }
    };
    let first = send(0..100).await;
    let group = unique("CG");
    let (consumer, got) = collecting(&group, &topic).await;
    wait_consumed(&got, &first, Duration::from_secs(30)).await;
    assert!(first.is_subset(&bodies(&got)));
    // Graceful: the consumed offsets are committed before it returns.
    consumer.shutdown().await;

    let second = send(100..150).await;
    let (consumer, again) = collecting(&group, &topic).await;
    wait_consumed(&again, &second, Duration::from_secs(30)).await;
    // A moment more for anything redelivered to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    consumer.shutdown().await;
    let redelivered: Vec<String> = bodies(&again).intersection(&first).cloned().collect();
    eprintln!(
        "after the restart: {} new messages consumed, {} redelivered",
        bodies(&again).intersection(&second).count(),
        redelivered.len()
    );
    assert!(
        second.is_subset(&bodies(&again)),
        "the new messages are consumed"
    );
    assert!(
        redelivered.is_empty(),
        "redelivered after a graceful shutdown: {redelivered:?}"
    );
    producer.shutdown().await;
    admin.shutdown().await;
}
