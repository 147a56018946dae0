//! Two brokers registered to one NameServer (the peer's broker-a plus broker-b, started
//! here with scripts/peer-broker-b): sends spread over both, a consumer group of two
//! members shares the queues of both with no overlap.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq_tokio::{
    Admin, ClientOptions, ConsumeFromWhere, ConsumeResult, Message, Producer, PushConsumer,
    TopicConfig,
};

fn options() -> ClientOptions {
    ClientOptions::new(std::env::var("RMQ_NAMESRV").expect("RMQ_NAMESRV names the peer"))
}

use rocketmq_tests::peer::BrokerB;
use rocketmq_tests::unique;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_spread_over_two_brokers_and_a_group_of_two_shares_their_queues() {
    let _b = BrokerB::start();
    let admin = Admin::start(options()).await.unwrap();
    let cluster = admin.cluster().await.unwrap();
    let names: BTreeSet<&str> = cluster.brokers.iter().map(|b| b.name.as_str()).collect();
    assert!(
        names.contains("broker-a") && names.contains("broker-b"),
        "{names:?}"
    );

    let topic = unique("E2E_two");
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
    // Both brokers register the topic with the NameServer on their own schedule.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = admin.route(&topic).await {
            if r.queues.len() == 2 {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the route never showed both brokers"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Two members of one group, started before anything is sent, so the queues are
    // shared by the time messages arrive.
    let group = unique("CG");
    let mut members = Vec::new();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let got: Arc<Mutex<Vec<(String, i32, String)>>> = Arc::default();
        let sink = got.clone();
        members.push(
            PushConsumer::builder(options(), &group)
                .subscribe(&topic, "*")
                .from_where(ConsumeFromWhere::FirstOffset)
                .start(move |msgs| {
                    let sink = sink.clone();
                    async move {
                        let mut s = sink.lock().unwrap();
                        for m in msgs {
                            s.push((
                                m.broker_name.clone(),
                                m.queue_id,
                                String::from_utf8(m.body.to_vec()).unwrap(),
                            ));
                        }
                        ConsumeResult::Success
                    }
                })
                .await
                .unwrap(),
        );
        seen.push(got);
    }
    // Rebalancing settles within a rebalance round after the second member joins.
    tokio::time::sleep(Duration::from_secs(8)).await;

    let producer = Producer::start(options(), &unique("PG")).await.unwrap();
    let mut per_broker: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..80 {
        let r = producer
            .send(Message::new(&topic, format!("t{i}")))
            .await
            .unwrap();
        *per_broker.entry(r.broker_name.to_string()).or_default() += 1;
    }
    assert_eq!(
        per_broker.len(),
        2,
        "sends reach both brokers: {per_broker:?}"
    );
    assert!(per_broker.values().all(|&n| n >= 20), "{per_broker:?}");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    while seen.iter().map(|s| s.lock().unwrap().len()).sum::<usize>() < 80
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for m in members {
        m.shutdown().await;
    }
    producer.shutdown().await;
    admin.shutdown().await;

    let got: Vec<Vec<(String, i32, String)>> =
        seen.iter().map(|s| s.lock().unwrap().clone()).collect();
    let bodies: Vec<&str> = got.iter().flatten().map(|(_, _, b)| b.as_str()).collect();
    let unique_bodies: BTreeSet<&str> = bodies.iter().copied().collect();
    assert_eq!(unique_bodies.len(), 80, "every message consumed");
    assert_eq!(bodies.len(), 80, "no message consumed twice");
    let queues: Vec<BTreeSet<(String, i32)>> = got
        .iter()
        .map(|g| g.iter().map(|(b, q, _)| (b.clone(), *q)).collect())
        .collect();
    assert!(
        queues[0].is_disjoint(&queues[1]),
        "no queue has two owners: {queues:?}"
    );
    assert_eq!(
        queues[0].len() + queues[1].len(),
        8,
        "all 8 queues consumed: {queues:?}"
    );
    assert!(
        queues.iter().all(|q| !q.is_empty()),
        "both members consume: {queues:?}"
    );
}
