//! An orderly consumer group scaled from three members to one and back to three while
//! messages flow (issue 8, scenario 6), against the real NameServer + Broker at
//! `$RMQ_NAMESRV`: after each rebalance settles every queue has exactly one owner, no
//! two messages of one queue are ever consumed at the same time (in one member or
//! across members), and every acknowledged message is consumed.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

/// One delivery: which member, which queue, what, when.
#[derive(Debug, Clone)]
struct Seen {
    member: usize,
    queue: (String, i32),
    body: String,
    at: Instant,
}

#[derive(Default)]
struct Group {
    seen: Mutex<Vec<Seen>>,
    /// Queues a listener is consuming right now (any member).
    busy: Mutex<HashSet<(String, i32)>>,
    overlaps: AtomicUsize,
}

async fn member(group: &Arc<Group>, name: &str, topic: &str, idx: usize) -> PushConsumer {
    let g = group.clone();
    PushConsumer::builder(options(), name)
        .subscribe(topic, "*")
        .from_where(ConsumeFromWhere::FirstOffset)
        .orderly()
        .start(move |msgs| {
            let g = g.clone();
            async move {
                let queues: BTreeSet<(String, i32)> = msgs
                    .iter()
                    .map(|m| (m.broker_name.clone(), m.queue_id))
                    .collect();
                for q in &queues {
                    if !g.busy.lock().unwrap().insert(q.clone()) {
                        g.overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                }
                let now = Instant::now();
                g.seen.lock().unwrap().extend(msgs.iter().map(|m| Seen {
                    member: idx,
                    queue: (m.broker_name.clone(), m.queue_id),
                    body: String::from_utf8_lossy(&m.body).into_owned(),
                    at: now,
                }));
                // Long enough that a second consumer of the same queue would overlap.
                tokio::time::sleep(Duration::from_millis(3)).await;
                let mut busy = g.busy.lock().unwrap();
                for q in &queues {
                    busy.remove(q);
                }
                ConsumeResult::Success
            }
        })
        .await
        .unwrap()
}

/// Who consumed each queue from `since` on.
fn owners(group: &Group, since: Instant) -> BTreeMap<(String, i32), BTreeSet<usize>> {
    let mut m: BTreeMap<(String, i32), BTreeSet<usize>> = BTreeMap::new();
    for s in group.seen.lock().unwrap().iter().filter(|s| s.at >= since) {
        m.entry(s.queue.clone()).or_default().insert(s.member);
    }
    m
}

/// Watch `window` after window until one has every queue consumed by exactly one
/// member and `members` members consuming, and return that window's owners. Fails if none has by `bound`.
///
/// A member joining settles within a second or two: the broker's
/// NOTIFY_CONSUMER_IDS_CHANGED wakes every member. That notification is best effort,
/// and this peer broker sends none when a member unregisters (rocketmq-broker 1.0.0
/// notifies only from heartbeats and channel housekeeping; its log shows no
/// GET_CONSUMER_LIST_BY_GROUP from the remaining member until its periodic rebalance).
/// Members then agree at the next periodic rebalance, up to 20 s later, as Java's do.
/// `bound` covers that, a lock retry (3 s) and a window.
async fn settled_owners(
    group: &Group,
    queues: usize,
    members: usize,
    window: Duration,
    bound: Duration,
) -> BTreeMap<(String, i32), BTreeSet<usize>> {
    let start = Instant::now();
    loop {
        let since = Instant::now();
        tokio::time::sleep(window).await;
        let o = owners(group, since);
        let used: BTreeSet<usize> = o.values().flatten().copied().collect();
        if o.len() == queues && o.values().all(|m| m.len() == 1) && used.len() == members {
            eprintln!(
                "settled: a {window:?} window with one owner per queue, {:?} after the change",
                since - start
            );
            return o;
        }
        eprintln!("not settled yet: {o:?}");
        assert!(
            start.elapsed() < bound,
            "no {window:?} window with every queue consumed by exactly one of {members} members within {bound:?}; the last: {o:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orderly_group_scaled_three_to_one_to_three_keeps_one_owner_per_queue() {
    let admin = Admin::start(options()).await.unwrap();
    let topic = unique("E2E_scale");
    admin
        .create_topic(
            &topic,
            TopicConfig {
                queues: 8,
                ..TopicConfig::default()
            },
        )
        .await
        .unwrap();
    let brokers = admin.cluster().await.unwrap().brokers.len();
    let queues = 8 * brokers;
    let deadline = Instant::now() + Duration::from_secs(60);
    while admin.route(&topic).await.map_or(0, |r| r.queues.len()) != brokers {
        assert!(Instant::now() < deadline, "no route");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let group = Arc::new(Group::default());
    let name = unique("CG");
    let mut members: Vec<Option<PushConsumer>> = Vec::new();
    for i in 0..3 {
        members.push(Some(member(&group, &name, &topic, i).await));
    }

    // A steady flow over every queue (round robin).
    let producer = Arc::new(Producer::start(options(), &unique("PG")).await.unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let flow = {
        let (producer, topic, stop) = (producer.clone(), topic.clone(), stop.clone());
        tokio::spawn(async move {
            let mut acked = BTreeSet::new();
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let body = format!("s{i}");
                i += 1;
                if producer
                    .send(Message::new(&topic, body.clone()))
                    .await
                    .is_ok()
                {
                    acked.insert(body);
                }
                tokio::time::sleep(Duration::from_millis(4)).await;
            }
            acked
        })
    };

    let window = Duration::from_secs(5);
    // The 20 s periodic rebalance, a lock retry, a window and slack.
    let bound = Duration::from_secs(35);
    let three = settled_owners(&group, queues, 3, window, bound).await;
    let used: BTreeSet<usize> = three.values().flatten().copied().collect();
    assert_eq!(
        used,
        BTreeSet::from([0, 1, 2]),
        "the three members share the queues: {three:?}"
    );

    // Down to one.
    for m in members.iter_mut().skip(1) {
        m.take().unwrap().shutdown().await;
    }
    let one = settled_owners(&group, queues, 1, window, bound).await;
    assert!(
        one.values().all(|m| m.contains(&0)),
        "the last member owns every queue: {one:?}"
    );

    // Back to three.
    for i in 3..5 {
        members.push(Some(member(&group, &name, &topic, i).await));
    }
    let again = settled_owners(&group, queues, 3, window, bound).await;
    let used: BTreeSet<usize> = again.values().flatten().copied().collect();
    assert_eq!(
        used,
        BTreeSet::from([0, 3, 4]),
        "the last member and the two new ones: {again:?}"
    );

    stop.store(true, Ordering::SeqCst);
    let acked = flow.await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let consumed = || -> BTreeSet<String> {
        group
            .seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.body.clone())
            .collect()
    };
    while !acked.is_subset(&consumed()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for m in members.into_iter().flatten() {
        m.shutdown().await;
    }
    let consumed = consumed();
    let missing = acked.difference(&consumed).count();
    let deliveries = group.seen.lock().unwrap().len();
    eprintln!(
        "{} acknowledged, {} consumed ({deliveries} deliveries), owners with three: {:?}",
        acked.len(),
        consumed.len(),
        three
            .values()
            .map(|m| *m.iter().next().unwrap())
            .collect::<Vec<_>>()
    );
    assert_eq!(missing, 0, "every acknowledged message is consumed");
    assert_eq!(
        group.overlaps.load(Ordering::SeqCst),
        0,
        "two messages of one queue were consumed at once"
    );
    Arc::try_unwrap(producer).ok().unwrap().shutdown().await;
    admin.shutdown().await;
}
