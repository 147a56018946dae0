//! The engine's consumer path against the simulated brokers: rebalance with Java's
//! allocation, offset lookup, long-poll pulls, application acks, offset commits, tag
//! filtering — and for a group of two, every queue owned by exactly one member and every
//! message consumed exactly once.

use std::collections::{BTreeMap, BTreeSet};

use rocketmq_proto::body::ConsumeFromWhere;
use rocketmq_proto::engine::client::{Config, ConsumerConfig, Event};
use rocketmq_proto::engine::client_id::{ClientId, InstanceName};
use rocketmq_proto::engine::Instant;
use rocketmq_proto::message::UniqKeyGenerator;
use rocketmq_tests::drive::{EngineClient, World};
use rocketmq_tests::sim::{BrokerSpec, Sim, SimConfig, TopicSpec};

const NS: &str = "127.0.0.1:9876";
const A: &str = "127.0.0.1:10911";
const B: &str = "127.0.0.1:20911";
const GROUP: &str = "CG";

fn engine(pid: u32) -> EngineClient {
    let id = ClientId::build("127.0.0.1", InstanceName::Process { pid, nonce: 1 }, None).unwrap();
    let uniq = UniqKeyGenerator::new("127.0.0.1".parse().unwrap(), pid as u16, 0);
    let mut c = EngineClient::new(Config::new(id), uniq, pid, Instant::from_millis(0));
    c.set_namesrv(NS).unwrap();
    c
}

fn sim(brokers: &[(&str, &str)]) -> Sim {
    let mut cfg = SimConfig::new(NS);
    for (name, addr) in brokers {
        cfg = cfg.broker(BrokerSpec::new(name, addr).topic(TopicSpec::new("TopicTest", 4)));
    }
    Sim::new(cfg)
}

fn subscribe(w: &mut World, node: usize, expression: &str) {
    let mut cfg = ConsumerConfig::new(GROUP);
    cfg.from_where = ConsumeFromWhere::FirstOffset;
    let now = w.now;
    w.nodes[node]
        .client
        .subscribe(
            Instant::from_millis(now),
            1_700_000_000_000,
            &cfg,
            "TopicTest",
            expression,
        )
        .unwrap();
}

fn inject(
    w: &mut World,
    brokers: &[&str],
    range: std::ops::Range<usize>,
    tag: impl Fn(usize) -> &'static str,
) {
    for i in range {
        let broker = brokers[i % brokers.len()];
        let queue = ((i / brokers.len()) % 4) as i32;
        let now = w.now;
        let body = format!("m{i}");
        w.sim
            .inject_message(
                now,
                broker,
                "TopicTest",
                queue,
                body.as_bytes(),
                &[("TAGS", tag(i))],
            )
            .unwrap();
    }
}

/// Consume (acking everything) until `got` holds at least `n` messages, within
/// `limit_ms` of virtual time.
fn consume_until(w: &mut World, got: &mut Vec<(usize, String)>, n: usize, limit_ms: u64) {
    w.run_until(limit_ms, |w| {
        consume(w, got);
        got.len() >= n
    })
    .unwrap();
}

/// Ack every delivered batch; record (node, body) for each message.
fn consume(w: &mut World, got: &mut Vec<(usize, String)>) {
    let now = Instant::from_millis(w.now);
    for node in 0..w.nodes.len() {
        let events = std::mem::take(&mut w.nodes[node].events);
        for e in events {
            if let Event::Messages { id } = e {
                let c = &mut w.nodes[node].client;
                let d = c.delivery(id).expect("a delivery until acked");
                for m in d.messages() {
                    got.push((node, String::from_utf8(m.body.to_vec()).unwrap()));
                }
                c.ack(now, id);
            }
        }
    }
}

#[test]
fn one_consumer_reads_every_message_once_and_commits_its_offsets() {
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    inject(&mut w, &["broker-a"], 0..100, |_| "TagA");
    subscribe(&mut w, 0, "*");
    let mut got = Vec::new();
    consume_until(&mut w, &mut got, 100, 60_000);
    let bodies: BTreeSet<&str> = got.iter().map(|(_, b)| b.as_str()).collect();
    assert_eq!(got.len(), 100, "no duplicates");
    assert_eq!(bodies.len(), 100);
    assert_eq!(w.client().owned_queues().count(), 4);
    // Within a commit interval the consumed offsets reach the broker.
    w.advance(6_000);
    assert_committed_to_the_end(&w);
    // The retry topic (created by the broker on the first heartbeat) is picked up by
    // the next route refresh and rebalance.
    w.advance(31_000);
    assert_eq!(
        w.client().owned_queues().count(),
        4 + 1,
        "+ %RETRY%CG's one queue"
    );
    // The retry topic (created by the broker on the first heartbeat) is picked up by
    // the next route refresh and rebalance.
    w.advance(31_000);
    assert_eq!(
        w.client().owned_queues().count(),
        4 + 1,
        "+ %RETRY%CG's one queue"
    );
    // New messages arrive through the held long poll.
    inject(&mut w, &["broker-a"], 100..108, |_| "TagA");
    let before = got.len();
    consume_until(&mut w, &mut got, before + 8, 20_000);
}

#[test]
fn two_consumers_share_the_queues_of_two_brokers_without_overlap() {
    let mut w = World::new(sim(&[("broker-a", A), ("broker-b", B)]), engine(1), 0);
    w.add(engine(2));
    subscribe(&mut w, 0, "*");
    subscribe(&mut w, 1, "*");
    let mut got = Vec::new();
    // Let both heartbeats land and a rebalance (20 s, or sooner on notify) settle.
    w.advance(25_000);
    consume(&mut w, &mut got);
    let owned: Vec<BTreeSet<(String, String, i32)>> = (0..2)
        .map(|n| {
            w.nodes[n]
                .client
                .owned_queues()
                .filter(|(t, _, _)| *t == "TopicTest")
                .map(|(t, b, q)| (t.to_string(), b.to_string(), q))
                .collect()
        })
        .collect();
    assert!(owned[0].is_disjoint(&owned[1]), "{owned:?}");
    assert_eq!(
        owned[0].len() + owned[1].len(),
        8,
        "every queue owned: {owned:?}"
    );
    assert_eq!(owned[0].len(), 4, "Java's averagely: 4 and 4");

    inject(&mut w, &["broker-a", "broker-b"], 0..200, |_| "TagA");
    consume_until(&mut w, &mut got, 200, 60_000);
    w.advance(2_000);
    consume(&mut w, &mut got);
    let mut per_body: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, b) in &got {
        *per_body.entry(b).or_default() += 1;
    }
    assert_eq!(per_body.len(), 200);
    assert!(
        per_body.values().all(|&n| n == 1),
        "each message consumed exactly once"
    );
    let per_node: BTreeSet<usize> = got.iter().map(|(n, _)| *n).collect();
    assert_eq!(per_node.len(), 2, "both members consumed");
}

#[test]
fn tag_subscription_filters_and_still_advances_past_other_tags() {
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    inject(&mut w, &["broker-a"], 0..60, |i| {
        if i % 3 == 0 {
            "TagA"
        } else {
            "TagB"
        }
    });
    subscribe(&mut w, 0, "TagA");
    let mut got = Vec::new();
    consume_until(&mut w, &mut got, 20, 60_000);
    w.advance(6_000);
    consume(&mut w, &mut got);
    assert_eq!(got.len(), 20, "only TagA: {got:?}");
    assert!(got
        .iter()
        .all(|(_, b)| b[1..].parse::<usize>().unwrap() % 3 == 0));
    // Filtered-out messages do not hold the committed offset back.
    assert_committed_to_the_end(&w);
}

#[test]
fn graceful_shutdown_commits_unregisters_and_a_restart_redelivers_nothing() {
    use rocketmq_proto::codes::RequestCode;
    use rocketmq_proto::engine::client::CallError;
    use rocketmq_proto::engine::Millis;

    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    inject(&mut w, &["broker-a"], 0..40, |_| "TagA");
    subscribe(&mut w, 0, "*");
    let mut got = Vec::new();
    consume_until(&mut w, &mut got, 40, 60_000);
    // More batches arrive (one per queue) and are held (not acked) when shutdown
    // starts.
    inject(&mut w, &["broker-a"], 40..44, |_| "TagA");
    let mut held = Vec::new();
    w.run_until(20_000, |w| {
        for e in std::mem::take(&mut w.nodes[0].events) {
            if let Event::Messages { id } = e {
                held.push(id);
            }
        }
        held.len() == 4
    })
    .unwrap();
    let now = Instant::from_millis(w.now);
    w.client().shutdown(now, Millis(10_000));
    assert!(matches!(
        w.client()
            .subscribe(now, 0, &ConsumerConfig::new(GROUP), "TopicTest", "*"),
        Err(CallError::Closed)
    ));
    // The application finishes all but the last during the drain: they count.
    w.advance(500);
    let last = held.pop().unwrap();
    for id in held {
        let d = w.client().delivery(id).unwrap();
        assert_eq!(d.messages().count(), 1);
        for m in d.messages() {
            got.push((0, String::from_utf8(m.body.to_vec()).unwrap()));
        }
        let now = Instant::from_millis(w.now);
        w.client().ack(now, id);
    }
    assert!(
        !w.client().is_shut_down(),
        "the drain waits for the batch still out"
    );
    // The last one is never acked: at the drain's end it is given up, not committed.
    assert!(w.client().delivery(last).is_some());
    let mut complete = 0;
    w.run_until(10_000, |w| {
        for e in std::mem::take(&mut w.nodes[0].events) {
            match e {
                Event::ShutdownComplete => complete += 1,
                Event::Messages { .. } => panic!("nothing is delivered after shutdown"),
                _ => {}
            }
        }
        complete > 0
    })
    .unwrap();
    w.advance(5_000);
    for e in std::mem::take(&mut w.nodes[0].events) {
        assert!(!matches!(e, Event::ShutdownComplete), "reported once");
    }
    assert!(w.client().is_shut_down());
    assert!(w.sim.request_count(A, RequestCode::UNREGISTER_CLIENT) >= 1);
    assert!(w.sim.consumer_ids(A, GROUP).is_empty(), "unregistered");

    // Everything acked before or during shutdown was committed: a new member of the
    // group starts after it and sees only the rest of the last batch, if any.
    let total: usize = (0..4)
        .map(|q| w.sim.max_offset("broker-a", "TopicTest", q) as usize)
        .sum();
    let mut w2 = World::new(std::mem::replace(&mut w.sim, sim(&[])), engine(2), w.now);
    subscribe(&mut w2, 0, "*");
    let mut again = Vec::new();
    let _ = w2.run_until(30_000, |w| {
        consume(w, &mut again);
        false
    });
    let first: BTreeSet<&str> = got.iter().map(|(_, b)| b.as_str()).collect();
    for (_, b) in &again {
        assert!(
            !first.contains(b.as_str()),
            "re-delivered {b} that was consumed before shutdown"
        );
    }
    assert_eq!(first.len() + again.len(), total, "and nothing is lost");
}

#[test]
fn a_failed_batch_goes_back_to_the_broker_and_returns_through_the_retry_topic() {
    use rocketmq_proto::codes::RequestCode;

    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    inject(&mut w, &["broker-a"], 0..8, |_| "TagA");
    subscribe(&mut w, 0, "*");
    // Fail every batch of the original topic once; ack everything else.
    let mut first_pass = Vec::new();
    let mut retried = Vec::new();
    w.run_until(120_000, |w| {
        let now = Instant::from_millis(w.now);
        for e in std::mem::take(&mut w.nodes[0].events) {
            let Event::Messages { id } = e else { continue };
            let c = &mut w.nodes[0].client;
            let d = c.delivery(id).unwrap();
            let retry = d.topic.starts_with("%RETRY%");
            for m in d.messages() {
                let body = String::from_utf8(m.body.to_vec()).unwrap();
                if retry {
                    let origin = m.properties.get("RETRY_TOPIC").map(str::to_string);
                    retried.push((body, m.reconsume_times, origin));
                } else {
                    first_pass.push(body);
                }
            }
            if retry {
                c.ack(now, id);
            } else {
                c.nack(now, id, 0);
            }
        }
        retried.len() >= 8
    })
    .unwrap();
    assert_eq!(first_pass.len(), 8);
    assert!(w.sim.request_count(A, RequestCode::CONSUMER_SEND_MSG_BACK) >= 8);
    let mut bodies: Vec<&str> = retried.iter().map(|(b, _, _)| b.as_str()).collect();
    bodies.sort();
    let mut want: Vec<&str> = first_pass.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(bodies, want, "every failed message came back once");
    for (_, times, origin) in &retried {
        assert_eq!(*times, 1);
        assert_eq!(origin.as_deref(), Some("TopicTest"));
    }
    // The original queue's offsets moved past the sent-back messages.
    w.advance(6_000);
    for q in 0..4 {
        assert_eq!(
            w.sim.committed_offset("broker-a", GROUP, "TopicTest", q),
            Some(w.sim.max_offset("broker-a", "TopicTest", q))
        );
    }
}

#[test]
fn a_broker_offset_reset_moves_the_owned_queues() {
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    inject(&mut w, &["broker-a"], 0..20, |_| "TagA");
    subscribe(&mut w, 0, "*");
    let mut got = Vec::new();
    consume_until(&mut w, &mut got, 20, 60_000);
    // The admin rewinds queues 0 and 1 to the start.
    let now = w.now;
    let sent = w
        .sim
        .reset_consumer_client_offset(now, A, GROUP, "TopicTest", 0, &[(0, 0), (1, 0)]);
    assert!(
        !sent.is_empty(),
        "the reset reached the client's connection"
    );
    let expected = (w.sim.max_offset("broker-a", "TopicTest", 0)
        + w.sim.max_offset("broker-a", "TopicTest", 1)) as usize;
    let mut again = Vec::new();
    consume_until(&mut w, &mut again, expected, 30_000);
    w.advance(2_000);
    consume(&mut w, &mut again);
    assert_eq!(
        again.len(),
        expected,
        "queues 0 and 1 consumed again, others not"
    );
    let first: BTreeSet<&str> = got.iter().map(|(_, b)| b.as_str()).collect();
    assert!(again.iter().all(|(_, b)| first.contains(b.as_str())));
}

#[test]
fn lite_pull_assign_seek_and_explicit_commit() {
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    inject(&mut w, &["broker-a"], 0..40, |_| "TagA");
    let mut cfg = ConsumerConfig::lite_pull("LITE");
    cfg.from_where = ConsumeFromWhere::FirstOffset;
    cfg.auto_commit = false;
    let now = Instant::from_millis(w.now);
    w.client()
        .assign(
            now,
            0,
            &cfg,
            &[("TopicTest", "broker-a", 0), ("TopicTest", "broker-a", 2)],
        )
        .unwrap();
    let expected = (w.sim.max_offset("broker-a", "TopicTest", 0)
        + w.sim.max_offset("broker-a", "TopicTest", 2)) as usize;
    let mut got = Vec::new();
    consume_until(&mut w, &mut got, expected, 60_000);
    w.advance(25_000); // past any rebalance or auto-commit time
    consume(&mut w, &mut got);
    assert_eq!(got.len(), expected, "only the assigned queues 0 and 2");
    let owned: BTreeSet<i32> = w.client().owned_queues().map(|(_, _, q)| q).collect();
    assert_eq!(
        owned,
        BTreeSet::from([0, 2]),
        "no rebalance, no retry topic"
    );
    assert_eq!(
        w.sim.committed_offset("broker-a", "LITE", "TopicTest", 0),
        None,
        "auto-commit off"
    );
    w.client().commit();
    w.advance(100);
    assert_eq!(
        w.sim.committed_offset("broker-a", "LITE", "TopicTest", 0),
        Some(w.sim.max_offset("broker-a", "TopicTest", 0))
    );
    // Seek queue 2 back to its start: its messages come again.
    let now = Instant::from_millis(w.now);
    assert!(w.client().seek(now, "TopicTest", "broker-a", 2, 0));
    assert!(
        !w.client().seek(now, "TopicTest", "broker-a", 1, 0),
        "not owned"
    );
    let mut again = Vec::new();
    let q2 = w.sim.max_offset("broker-a", "TopicTest", 2) as usize;
    consume_until(&mut w, &mut again, q2, 30_000);
    assert_eq!(again.len(), q2);
}

/// Messages 0..12 over the 4 queues of broker-a: `a` = i and `color` blue (even) / red
/// (odd) for i < 10, then one blue message without `a` and one whose `a` is no number;
/// tags TagA for i % 4 < 2, else TagB.
fn inject_sql92_messages(w: &mut World) {
    for i in 0..12usize {
        let a = match i {
            10 => None,
            11 => Some("x".to_owned()),
            _ => Some(i.to_string()),
        };
        let color = if i % 2 == 0 || i >= 10 { "blue" } else { "red" };
        let tag = if i % 4 < 2 { "TagA" } else { "TagB" };
        let mut props = vec![("TAGS", tag), ("color", color)];
        if let Some(a) = &a {
            props.push(("a", a));
        }
        let now = w.now;
        let body = format!("m{i}");
        w.sim
            .inject_message(
                now,
                "broker-a",
                "TopicTest",
                (i % 4) as i32,
                body.as_bytes(),
                &props,
            )
            .unwrap();
    }
}

fn subscribe_sql92(w: &mut World, node: usize, group: &str, sql: &str) {
    let mut cfg = ConsumerConfig::new(group);
    cfg.from_where = ConsumeFromWhere::FirstOffset;
    let now = Instant::from_millis(w.now);
    w.nodes[node]
        .client
        .subscribe_sql92(now, 1, &cfg, "TopicTest", sql)
        .unwrap();
}

#[test]
fn sql92_subscription_is_evaluated_by_the_broker_and_not_refiltered_by_tag() {
    use rocketmq_proto::codes::RequestCode;
    const SQL: &str = "a > 3 AND color = 'blue'";
    const TAG_GROUP: &str = "CG_TAG";
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    inject_sql92_messages(&mut w);
    subscribe_sql92(&mut w, 0, GROUP, SQL);
    // A TAG consumer of the same topic in another group.
    let tag_node = w.add(engine(2));
    let mut cfg = ConsumerConfig::new(TAG_GROUP);
    cfg.from_where = ConsumeFromWhere::FirstOffset;
    let now = Instant::from_millis(w.now);
    w.nodes[tag_node]
        .client
        .subscribe(now, 1, &cfg, "TopicTest", "TagA")
        .unwrap();

    let mut got = Vec::new();
    consume_until(&mut w, &mut got, 3 + 6, 60_000);
    w.advance(6_000);
    consume(&mut w, &mut got);
    let of = |node: usize| -> BTreeSet<&str> {
        got.iter()
            .filter(|(n, _)| *n == node)
            .map(|(_, b)| b.as_str())
            .collect()
    };
    assert_eq!(got.len(), 9, "each message once: {got:?}");
    // Exactly a > 3 and blue: 4, 6, 8 — both tags (m4 TagA, m6 TagB), so nothing was
    // dropped by a client-side tag filter; the message without `a` and the one whose `a`
    // is not a number are not delivered.
    assert_eq!(of(0), BTreeSet::from(["m4", "m6", "m8"]));
    // The TAG consumer is unaffected by the selector: every TagA message.
    assert_eq!(
        of(tag_node),
        BTreeSet::from(["m0", "m1", "m4", "m5", "m8", "m9"])
    );

    // The subscription reaches the broker as SQL92, by heartbeat and with every pull.
    let sub = w
        .sim
        .subscription(A, GROUP, "TopicTest")
        .expect("registered by heartbeat");
    assert_eq!(sub.expression_type, "SQL92");
    assert_eq!(sub.sub_string, SQL);
    let pulls: Vec<_> = w
        .sim
        .requests()
        .iter()
        .filter(|r| r.code == RequestCode::PULL_MESSAGE)
        .filter(|r| r.fields.get("consumerGroup").map(String::as_str) == Some(GROUP))
        .filter(|r| r.fields.get("topic").map(String::as_str) == Some("TopicTest"))
        .collect();
    assert!(!pulls.is_empty());
    for r in pulls {
        assert_eq!(r.fields["expressionType"], "SQL92");
        assert_eq!(r.fields["subscription"], SQL);
        // Growable message buffers: no byte limit asked for (as Java).
        assert!(!r.fields.contains_key("maxMsgBytes"), "{:?}", r.fields);
    }
    // Skipped messages do not hold the committed offsets back.
    assert_committed_to_the_end(&w);
}

#[test]
fn an_sql92_expression_the_broker_cannot_parse_delivers_nothing() {
    use rocketmq_proto::codes::RequestCode;
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    inject_sql92_messages(&mut w);
    // `!=` is not SQL92 as RocketMQ's broker parses it (it wants `<>`).
    subscribe_sql92(&mut w, 0, GROUP, "a != 3");
    let mut got = Vec::new();
    w.advance(10_000);
    consume(&mut w, &mut got);
    assert!(got.is_empty(), "{got:?}");
    let pulls = w
        .sim
        .requests()
        .iter()
        .filter(|r| r.code == RequestCode::PULL_MESSAGE)
        .count();
    assert!(
        pulls >= 4,
        "pulls are answered with an error and tried again: {pulls}"
    );
}

#[test]
fn a_restarted_broker_gets_a_heartbeat_at_once_and_consumption_resumes() {
    use rocketmq_proto::codes::RequestCode;
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    inject(&mut w, &["broker-a"], 0..8, |_| "TagA");
    subscribe(&mut w, 0, "*");
    let mut got = Vec::new();
    consume_until(&mut w, &mut got, 8, 60_000);
    let now = w.now;
    w.sim.take_down(now, A);
    w.advance(5_000);
    let before = w.sim.request_count(A, RequestCode::HEART_BEAT);
    let now = w.now;
    w.sim.bring_up(now, A);
    // Pulls reconnect within about a second; the heartbeat goes first on the new
    // connection, long before the 30 s period.
    w.advance(3_000);
    assert!(
        w.sim.request_count(A, RequestCode::HEART_BEAT) > before,
        "heartbeat on reconnect"
    );
    assert!(!w.sim.consumer_ids(A, GROUP).is_empty(), "registered again");
    inject(&mut w, &["broker-a"], 8..16, |_| "TagA");
    consume_until(&mut w, &mut got, 16, 30_000);
    let bodies: BTreeSet<&str> = got.iter().map(|(_, b)| b.as_str()).collect();
    assert_eq!(
        bodies.len(),
        16,
        "all queues resumed without restarting the consumer"
    );
}

#[test]
fn offset_moved_resets_to_the_brokers_next_offset_and_consumption_goes_on() {
    // The group's committed offset points below what the broker still has (old
    // commit-log files deleted): the pull answers OFFSET_MOVED with nextBeginOffset, and
    // the consumer continues from there instead of retrying the bad offset.
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    inject(&mut w, &["broker-a"], 0..40, |_| "TagA"); // 10 per queue
    for q in 0..4 {
        w.sim.truncate_queue("broker-a", "TopicTest", q, 6);
    }
    let mut got = Vec::new();
    subscribe(&mut w, 0, "*"); // FirstOffset: starts at 0, below the new minimum 6
    consume_until(&mut w, &mut got, 16, 60_000);
    w.advance(6_000);
    consume(&mut w, &mut got);
    assert_eq!(got.len(), 16, "4 remaining per queue: {got:?}");
    for q in 0..4 {
        assert_eq!(
            w.sim.committed_offset("broker-a", GROUP, "TopicTest", q),
            Some(10),
            "queue {q} committed past the moved range"
        );
    }
}

#[test]
fn a_batch_held_while_its_queue_is_rebalanced_away_stays_readable_and_is_not_committed() {
    // Regression (found by the engine fuzz target): a rebalance used to drop an
    // announced, unacked batch together with its queue, so `delivery(id)` went None.
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    inject(&mut w, &["broker-a"], 0..8, |_| "TagA"); // 2 per queue
    subscribe(&mut w, 0, "*");
    // Member 1 takes every batch but acks none.
    let mut held = Vec::new();
    w.run_until(60_000, |w| {
        for e in std::mem::take(&mut w.nodes[0].events) {
            if let Event::Messages { id } = e {
                held.push(id);
            }
        }
        held.len() >= 4
    })
    .unwrap();
    // Member 2 joins: Java's averagely gives it queues 2 and 3.
    w.add(engine(2));
    subscribe(&mut w, 1, "*");
    w.advance(25_000);
    let mine: BTreeSet<i32> = w.nodes[0]
        .client
        .owned_queues()
        .filter(|(t, _, _)| *t == "TopicTest")
        .map(|(_, _, q)| q)
        .collect();
    assert_eq!(mine, BTreeSet::from([0, 1]));
    for id in &held {
        assert!(
            w.nodes[0].client.delivery(*id).is_some(),
            "held batch {id:?} still readable"
        );
    }
    let now = Instant::from_millis(w.now);
    for id in held {
        w.nodes[0].client.ack(now, id);
        assert!(w.nodes[0].client.delivery(id).is_none());
    }
    // The released queues' messages are consumed by their new owner (member 1's acks
    // of them counted for nothing).
    let mut got = Vec::new();
    w.run_until(30_000, |w| {
        consume(w, &mut got);
        got.iter().filter(|(n, _)| *n == 1).count() >= 4
    })
    .unwrap();
    w.advance(6_000);
    for q in 0..4 {
        assert_eq!(
            w.sim.committed_offset("broker-a", GROUP, "TopicTest", q),
            Some(2),
            "queue {q}"
        );
    }
}

#[test]
fn broadcasting_offsets_are_persisted_by_the_application_and_resume_after_restart() {
    use rocketmq_proto::body::MessageModel;
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    inject(&mut w, &["broker-a"], 0..12, |_| "TagA");
    let mut cfg = ConsumerConfig::new(GROUP);
    cfg.model = MessageModel::Broadcasting;
    cfg.from_where = ConsumeFromWhere::FirstOffset;
    let now = Instant::from_millis(w.now);
    w.client()
        .subscribe(now, 1, &cfg, "TopicTest", "*")
        .unwrap();
    let mut got = Vec::new();
    let mut persist_events = 0;
    w.run_until(60_000, |w| {
        for e in &w.nodes[0].events {
            if matches!(e, Event::PersistOffsets) {
                persist_events += 1;
            }
        }
        consume(w, &mut got);
        got.len() >= 12
    })
    .unwrap();
    w.advance(6_000);
    for e in std::mem::take(&mut w.nodes[0].events) {
        if matches!(e, Event::PersistOffsets) {
            persist_events += 1;
        }
    }
    assert!(persist_events >= 1, "the application is told to persist");
    let stored: Vec<(String, String, i32, i64)> = w
        .client()
        .local_offsets()
        .map(|(t, b, q, o)| (t.to_string(), b.to_string(), q, o))
        .collect();
    assert_eq!(stored.len(), 4);
    for (_, _, q, o) in &stored {
        assert_eq!(*o, w.sim.max_offset("broker-a", "TopicTest", *q));
    }
    // Broadcasting never commits to the broker.
    assert_eq!(
        w.sim.committed_offset("broker-a", GROUP, "TopicTest", 0),
        None
    );

    // Restart with the stored offsets: only new messages are consumed.
    inject(&mut w, &["broker-a"], 12..16, |_| "TagA");
    let sim2 = std::mem::replace(&mut w.sim, sim(&[]));
    let mut w2 = World::new(sim2, engine(2), w.now);
    let now = Instant::from_millis(w2.now);
    w2.client()
        .subscribe(now, 1, &cfg, "TopicTest", "*")
        .unwrap();
    for (t, b, q, o) in &stored {
        w2.client().set_local_offset(t, b, *q, *o).unwrap();
    }
    let mut again = Vec::new();
    consume_until(&mut w2, &mut again, 4, 30_000);
    w2.advance(2_000);
    consume(&mut w2, &mut again);
    let bodies: BTreeSet<&str> = again.iter().map(|(_, b)| b.as_str()).collect();
    assert_eq!(bodies, BTreeSet::from(["m12", "m13", "m14", "m15"]));
}

#[test]
fn pulls_follow_the_suggested_slave_and_switch_back_to_the_master() {
    use rocketmq_proto::codes::RequestCode;
    const SLAVE: &str = "127.0.0.1:10921";
    let cfg = SimConfig::new(NS).broker(
        BrokerSpec::new("broker-a", A)
            .slave(1, SLAVE)
            .topic(TopicSpec::new("TopicTest", 4)),
    );
    let mut w = World::new(Sim::new(cfg), engine(1), 0);
    inject(&mut w, &["broker-a"], 0..40, |_| "TagA");
    // The master tells consumers to read from slave 1 (e.g. it is overloaded).
    w.sim.set_suggest_broker_id("broker-a", 1);
    subscribe(&mut w, 0, "*");
    let mut got = Vec::new();
    consume_until(&mut w, &mut got, 40, 60_000);
    // The next pulls (after the acks) follow the suggestion to the slave, which has
    // nothing new and sends them back to the master (where they wait as long polls).
    let master_before = w.sim.request_count(A, RequestCode::PULL_MESSAGE);
    w.advance(500);
    let slave_pulls = w.sim.request_count(SLAVE, RequestCode::PULL_MESSAGE);
    assert!(
        slave_pulls >= 4,
        "each queue's next pull went to the suggested slave"
    );
    assert!(
        w.sim.request_count(A, RequestCode::PULL_MESSAGE) >= master_before + 4,
        "and came back to the master"
    );
    inject(&mut w, &["broker-a"], 40..44, |_| "TagA");
    consume_until(&mut w, &mut got, 44, 30_000);
    let bodies: BTreeSet<&str> = got.iter().map(|(_, b)| b.as_str()).collect();
    assert_eq!((got.len(), bodies.len()), (44, 44), "each message once");
    w.advance(6_000);
    for q in 0..4 {
        assert_eq!(
            w.sim.committed_offset("broker-a", GROUP, "TopicTest", q),
            Some(w.sim.max_offset("broker-a", "TopicTest", q))
        );
    }
}

/// Store `n` messages `m0`, `m1`… in queue 0 of TopicTest on broker-a.
fn fill_queue_0(w: &mut World, n: usize) {
    for i in 0..n {
        let body = format!("m{i}");
        w.sim
            .inject_message(0, "broker-a", "TopicTest", 0, body.as_bytes(), &[])
            .unwrap();
    }
}

/// Subscribe `node` with `cfg` (from the first offset) to all of TopicTest.
fn subscribe_with(w: &mut World, node: usize, mut cfg: ConsumerConfig<'static>) {
    cfg.from_where = ConsumeFromWhere::FirstOffset;
    let now = Instant::from_millis(w.now);
    w.nodes[node]
        .client
        .subscribe(now, 1_700_000_000_000, &cfg, "TopicTest", "*")
        .unwrap();
}

/// Queue ids of the PULL_MESSAGE requests the broker at `addr` served so far.
fn pulls_of_queue(w: &World, addr: &str, queue: i32) -> usize {
    use rocketmq_proto::codes::RequestCode;
    w.sim
        .requests()
        .iter()
        .filter(|r| r.addr == addr && r.code == RequestCode::PULL_MESSAGE)
        .filter(|r| r.fields.get("topic").map(String::as_str) == Some("TopicTest"))
        .filter(|r| r.fields.get("queueId").map(String::as_str) == Some(&queue.to_string()))
        .count()
}

#[test]
fn flow_control_stops_pulling_a_queue_while_its_cached_messages_reach_the_threshold() {
    use rocketmq_proto::engine::client::DeliveryId;
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    fill_queue_0(&mut w, 200);
    let mut cfg = ConsumerConfig::new(GROUP);
    cfg.pull_threshold_for_queue = 40;
    subscribe_with(&mut w, 0, cfg);
    // The application does not ack: batches pile up until the threshold holds the queue.
    let mut out: Vec<DeliveryId> = Vec::new();
    let collect = |w: &mut World, out: &mut Vec<DeliveryId>| {
        for e in std::mem::take(&mut w.nodes[0].events) {
            if let Event::Messages { id } = e {
                out.push(id);
            }
        }
    };
    w.advance(5_000);
    collect(&mut w, &mut out);
    assert_eq!(out.len(), 2, "32 + 32 messages reach the threshold of 40");
    let pulls = pulls_of_queue(&w, A, 0);
    w.advance(30_000);
    collect(&mut w, &mut out);
    assert_eq!(out.len(), 2, "no pull while held");
    assert_eq!(pulls_of_queue(&w, A, 0), pulls, "not even a pull request");
    // One batch acked: 32 cached, under the threshold: the queue is pulled again.
    let now = Instant::from_millis(w.now);
    let first = out.remove(0);
    w.client().ack(now, first);
    w.advance(1_000);
    collect(&mut w, &mut out);
    assert_eq!(out.len(), 2, "exactly one more batch");
    assert_eq!(pulls_of_queue(&w, A, 0), pulls + 1);
    // The offset committed stops at the oldest batch still out: 32, not past it.
    w.advance(6_000);
    assert_eq!(
        w.sim.committed_offset("broker-a", GROUP, "TopicTest", 0),
        Some(32)
    );
    // Acking out of order: the newest first moves nothing; then the oldest moves it to
    // the end of both.
    let now = Instant::from_millis(w.now);
    w.client().ack(now, out[1]);
    w.advance(6_000);
    assert_eq!(
        w.sim.committed_offset("broker-a", GROUP, "TopicTest", 0),
        Some(32)
    );
    let now = Instant::from_millis(w.now);
    w.client().ack(now, out[0]);
    w.advance(6_000);
    assert!(
        w.sim
            .committed_offset("broker-a", GROUP, "TopicTest", 0)
            .unwrap()
            >= 96
    );
}

#[test]
fn the_size_threshold_holds_a_queue_too() {
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    let body = vec![b'x'; 1_000];
    for _ in 0..100 {
        w.sim
            .inject_message(0, "broker-a", "TopicTest", 0, &body, &[])
            .unwrap();
    }
    let mut cfg = ConsumerConfig::new(GROUP);
    cfg.pull_threshold_size_for_queue = 10_000; // one batch of 32 KB is over it
    subscribe_with(&mut w, 0, cfg);
    w.advance(10_000);
    let delivered = w
        .events()
        .iter()
        .filter(|e| matches!(e, Event::Messages { .. }))
        .count();
    assert_eq!(delivered, 1);
}

#[test]
fn averagely_by_circle_in_the_engine_matches_java_queue_for_queue() {
    use rocketmq_proto::consumer::allocate::AllocateStrategy;
    let mut w = World::new(sim(&[("broker-a", A), ("broker-b", B)]), engine(1), 0);
    w.add(engine(2));
    for node in 0..2 {
        let mut cfg = ConsumerConfig::new(GROUP);
        cfg.allocate = AllocateStrategy::AveragelyByCircle;
        subscribe_with(&mut w, node, cfg);
    }
    w.advance(45_000);
    // Java: sort queues (broker, id) and client ids; consumer i of c takes every queue k
    // with k mod c == i.
    let mut ids: Vec<String> = (0..2)
        .map(|n| w.nodes[n].client.client_id().to_string())
        .collect();
    ids.sort();
    let all: Vec<(&str, i32)> = ["broker-a", "broker-b"]
        .iter()
        .flat_map(|b| (0..4).map(move |q| (*b, q)))
        .collect();
    for n in 0..2 {
        let me = ids
            .iter()
            .position(|i| *i == w.nodes[n].client.client_id())
            .unwrap();
        let expected: BTreeSet<(String, i32)> = all
            .iter()
            .enumerate()
            .filter(|(k, _)| k % 2 == me)
            .map(|(_, (b, q))| (b.to_string(), *q))
            .collect();
        let owned: BTreeSet<(String, i32)> = w.nodes[n]
            .client
            .owned_queues()
            .filter(|(t, _, _)| *t == "TopicTest")
            .map(|(_, b, q)| (b.to_string(), q))
            .collect();
        assert_eq!(owned, expected, "node {n}");
    }
}

// ------------------------------------------------------------------------ orderly

/// Deliveries seen by an orderly test: (node, delivery id, queue, bodies).
type Seen = Vec<(
    usize,
    rocketmq_proto::engine::client::DeliveryId,
    i32,
    Vec<String>,
)>;

fn take_deliveries(w: &mut World, seen: &mut Seen) {
    for node in 0..w.nodes.len() {
        for e in std::mem::take(&mut w.nodes[node].events) {
            if let Event::Messages { id } = e {
                let d = w.nodes[node].client.delivery(id).unwrap();
                let bodies = d
                    .messages()
                    .map(|m| String::from_utf8(m.body.to_vec()).unwrap())
                    .collect();
                seen.push((node, id, d.queue_id, bodies));
            }
        }
    }
}

#[test]
fn orderly_locks_before_pulling_and_hands_out_one_batch_of_a_queue_at_a_time_in_order() {
    use rocketmq_proto::codes::RequestCode;
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    fill_queue_0(&mut w, 150);
    subscribe_with(&mut w, 0, ConsumerConfig::orderly(GROUP));
    let mut seen = Seen::new();
    let mut consumed = Vec::new();
    // Each round: take what was handed out (at most one batch per queue may be out),
    // check it, let time pass with it still out, then ack it.
    for _ in 0..40 {
        w.advance(300);
        let before = seen.len();
        take_deliveries(&mut w, &mut seen);
        let new = &seen[before..];
        let mut queues: Vec<i32> = new.iter().map(|s| s.2).collect();
        queues.sort();
        queues.dedup();
        assert_eq!(
            queues.len(),
            new.len(),
            "two batches of one queue out at once"
        );
        w.advance(300);
        let mut more = Seen::new();
        take_deliveries(&mut w, &mut more);
        assert!(
            more.iter().all(|m| !new.iter().any(|n| n.2 == m.2)),
            "a queue's next batch came before its previous one was acked"
        );
        seen.extend(more);
        let now = Instant::from_millis(w.now);
        for (_, id, q, bodies) in &seen[before..] {
            if *q == 0 {
                consumed.extend(bodies.iter().cloned());
            }
            w.client().ack(now, *id);
        }
    }
    let expected: Vec<String> = (0..150).map(|i| format!("m{i}")).collect();
    assert_eq!(consumed, expected, "queue 0 consumed once, in order");
    // Every pull came after the lock of its queue was granted.
    let reqs = w.sim.requests();
    let first_lock = reqs
        .iter()
        .position(|r| r.code == RequestCode::LOCK_BATCH_MQ)
        .expect("locked");
    let first_pull = reqs
        .iter()
        .position(|r| r.code == RequestCode::PULL_MESSAGE)
        .unwrap();
    assert!(first_lock < first_pull);
    let locks: Vec<_> = w
        .sim
        .locks("broker-a")
        .into_iter()
        .filter(|l| l.topic == "TopicTest")
        .collect();
    assert_eq!(locks.len(), 4, "all four queues locked: {locks:?}");
    // Renewed every 20 s.
    let renewals = w.sim.request_count(A, RequestCode::LOCK_BATCH_MQ);
    w.advance(41_000);
    assert!(w.sim.request_count(A, RequestCode::LOCK_BATCH_MQ) >= renewals + 2);
}

#[test]
fn orderly_nack_redelivers_the_same_batch_after_the_suspend_time_and_nothing_behind_it() {
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    fill_queue_0(&mut w, 40);
    subscribe_with(&mut w, 0, ConsumerConfig::orderly(GROUP));
    let mut seen = Seen::new();
    w.run_until(10_000, |w| {
        take_deliveries(w, &mut seen);
        !seen.is_empty()
    })
    .unwrap();
    let (_, id, _, first) = seen.remove(0);
    let nacked_at = w.now;
    w.client().nack(Instant::from_millis(nacked_at), id, 0);
    assert!(w.client().delivery(id).is_none(), "the nacked id is over");
    let mut again = Seen::new();
    w.run_until(5_000, |w| {
        take_deliveries(w, &mut again);
        !again.is_empty()
    })
    .unwrap();
    assert!(w.now >= nacked_at + 1_000, "suspended for 1 s");
    let (_, id2, _, bodies) = &again[0];
    assert_eq!(
        bodies, &first,
        "the same messages again, nothing behind them first"
    );
    assert_eq!(w.client().delivery(*id2).unwrap().redeliveries, 1);
    // Nothing was sent back: orderly retries stay local.
    use rocketmq_proto::codes::RequestCode;
    assert_eq!(
        w.sim.request_count(A, RequestCode::CONSUMER_SEND_MSG_BACK),
        0
    );
}

#[test]
fn orderly_gives_up_after_max_reconsume_times_by_sending_to_the_dlq() {
    use rocketmq_proto::codes::RequestCode;
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    w.sim
        .inject_message(0, "broker-a", "TopicTest", 0, b"poison", &[])
        .unwrap();
    w.sim
        .inject_message(0, "broker-a", "TopicTest", 0, b"next", &[])
        .unwrap();
    let mut cfg = ConsumerConfig::orderly(GROUP);
    cfg.max_reconsume_times = 3;
    cfg.batch_size = 1;
    subscribe_with(&mut w, 0, cfg);
    let mut deliveries = 0;
    let mut next_seen = false;
    w.run_until(30_000, |w| {
        let mut seen = Seen::new();
        take_deliveries(w, &mut seen);
        let now = Instant::from_millis(w.now);
        for (_, id, _, bodies) in seen {
            if bodies == ["poison"] {
                assert!(!next_seen);
                deliveries += 1;
                w.client().nack(now, id, 0);
            } else {
                next_seen = true;
                w.client().ack(now, id);
            }
        }
        next_seen
    })
    .unwrap();
    assert_eq!(deliveries, 3, "delivered max_reconsume_times times");
    assert_eq!(
        w.sim.request_count(A, RequestCode::CONSUMER_SEND_MSG_BACK),
        1
    );
    let back = w
        .sim
        .requests()
        .iter()
        .find(|r| r.code == RequestCode::CONSUMER_SEND_MSG_BACK)
        .unwrap();
    assert_eq!(
        back.fields.get("delayLevel").map(String::as_str),
        Some("-1")
    );
}

#[test]
fn an_orderly_queue_whose_lock_is_not_renewed_stops_after_30_s_and_resumes_when_locked() {
    use rocketmq_proto::codes::{RequestCode, ResponseCode};
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    subscribe_with(&mut w, 0, ConsumerConfig::orderly(GROUP));
    w.advance(5_000);
    assert_eq!(
        w.sim.locks("broker-a").len(),
        5,
        "TopicTest's 4 and the retry topic's"
    );
    let last_lock = w
        .sim
        .requests()
        .iter()
        .filter(|r| r.code == RequestCode::LOCK_BATCH_MQ)
        .map(|r| r.at)
        .max()
        .unwrap();
    // The broker refuses the next renewals (every 3 s after the first failure).
    w.sim
        .fail_next(A, RequestCode::LOCK_BATCH_MQ, ResponseCode::SYSTEM_ERROR, 6);
    w.advance(last_lock + 31_000 - w.now);
    // Expired in the client's view: a message arriving now is not handed out…
    w.sim
        .inject_message(w.now, "broker-a", "TopicTest", 1, b"late", &[])
        .unwrap();
    let mut seen = Seen::new();
    let relocked = loop {
        w.advance(100);
        take_deliveries(&mut w, &mut seen);
        let granted = w
            .sim
            .requests()
            .iter()
            .filter(|r| r.code == RequestCode::LOCK_BATCH_MQ && r.at > last_lock)
            .count()
            > 6;
        if granted || w.now > last_lock + 60_000 {
            break granted;
        }
        assert!(
            seen.is_empty(),
            "consumed at {} without a fresh lock",
            w.now
        );
    };
    assert!(relocked);
    // …until the lock is back.
    w.run_until(10_000, |w| {
        take_deliveries(w, &mut seen);
        !seen.is_empty()
    })
    .unwrap();
    assert_eq!(seen[0].3, ["late"]);
}

#[test]
fn an_orderly_queue_moves_to_a_new_member_only_after_the_old_one_acked_and_unlocked() {
    use rocketmq_proto::codes::RequestCode;
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    subscribe_with(&mut w, 0, ConsumerConfig::orderly(GROUP));
    w.advance(3_000);
    // Node 0 holds a batch of every queue.
    for q in 0..4 {
        for i in 0..3 {
            let body = format!("q{q}-{i}");
            w.sim
                .inject_message(w.now, "broker-a", "TopicTest", q, body.as_bytes(), &[])
                .unwrap();
        }
    }
    let mut held = Seen::new();
    w.run_until(5_000, |w| {
        take_deliveries(w, &mut held);
        held.len() == 4
    })
    .unwrap();
    // A second member joins; the rebalance gives it two queues.
    let n1 = w.add(engine(2));
    subscribe_with(&mut w, n1, ConsumerConfig::orderly(GROUP));
    let mut seen = Seen::new();
    w.advance(25_000);
    take_deliveries(&mut w, &mut seen);
    assert!(
        seen.is_empty(),
        "nothing handed out while node 0 still holds batches"
    );
    let moved: Vec<i32> = w.nodes[n1]
        .client
        .owned_queues()
        .filter(|(t, _, _)| *t == "TopicTest")
        .map(|(_, _, q)| q)
        .collect();
    assert_eq!(moved.len(), 2);
    for l in w.sim.locks("broker-a") {
        assert_eq!(
            l.client_id,
            w.nodes[0].client.client_id(),
            "still node 0's: {l:?}"
        );
    }
    // Node 0 finishes: its released queues are committed and unlocked; node 1 locks
    // them and goes on after the acked messages, in order.
    let now = Instant::from_millis(w.now);
    for (_, id, _, _) in &held {
        w.nodes[0].client.ack(now, *id);
    }
    for q in &moved {
        let body = format!("q{q}-after");
        w.sim
            .inject_message(w.now, "broker-a", "TopicTest", *q, body.as_bytes(), &[])
            .unwrap();
    }
    w.run_until(20_000, |w| {
        take_deliveries(w, &mut seen);
        seen.iter().filter(|s| s.0 == n1).count() >= 2
    })
    .unwrap();
    assert!(w.sim.request_count(A, RequestCode::UNLOCK_BATCH_MQ) >= 2);
    for (node, _, q, bodies) in seen.iter().filter(|s| moved.contains(&s.2)) {
        assert_eq!(
            *node, n1,
            "node 0 got nothing new of the moved queues: {seen:?}"
        );
        // Node 0 held the lock until it acked: its ack was committed before the queue
        // moved, so node 1 starts after it.
        let acked: Vec<&String> = held
            .iter()
            .filter(|h| h.2 == *q)
            .flat_map(|h| &h.3)
            .collect();
        assert!(
            bodies.iter().all(|b| !acked.contains(&b)),
            "nothing consumed twice: {seen:?}"
        );
        assert_eq!(bodies.last(), Some(&format!("q{q}-after")));
    }
}

// ------------------------------------------------------------------ broker requests

#[test]
fn get_consumer_running_info_is_answered_from_the_engines_state() {
    use rocketmq_proto::codes::ResponseCode;
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    inject(&mut w, &["broker-a"], 0..8, |_| "TagA");
    subscribe(&mut w, 0, "TagA || TagB");
    let mut got = Vec::new();
    consume_until(&mut w, &mut got, 8, 30_000);
    let id = w.client().client_id().to_string();
    let now = w.now;
    let (conn, opaque) = w
        .sim
        .get_consumer_running_info(now, A, GROUP, &id)
        .expect("the client is registered");
    w.advance(10);
    let reply = w.sim.client_reply(conn, opaque).expect("answered");
    assert_eq!(reply.code, ResponseCode::SUCCESS);
    let body = String::from_utf8(reply.body.clone()).unwrap();
    // The queues as fastjson object keys, so Java admin tools read them.
    for q in 0..4 {
        let key = format!(
            "{{\"brokerName\":\"broker-a\",\"queueId\":{q},\"topic\":\"TopicTest\"}}:{{\"cachedMsgCount\":0,"
        );
        assert!(body.contains(&key), "{key} in {body}");
    }
    for needle in [
        "\"PROP_CONSUME_TYPE\":\"CONSUME_PASSIVELY\"",
        "\"PROP_CONSUMEORDERLY\":\"false\"",
        "\"PROP_NAMESERVER_ADDR\":\"127.0.0.1:9876;\"",
        "\"consumerGroup\":\"CG\"",
        "\"subString\":\"TagA||TagB\"",
        "\"allocateMessageQueueStrategy\":\"AVG\"",
        "\"statusTable\":{}",
    ] {
        assert!(body.contains(needle), "{needle} in {body}");
    }
    // Committed offsets are reported: 2 messages per queue.
    assert!(body.contains("\"commitOffset\":2,"), "{body}");

    // Another group: SYSTEM_ERROR, as Java answers.
    let (conn, opaque) = {
        let h = [("consumerGroup", "other"), ("clientId", id.as_str())];
        let now = w.now;
        (
            conn,
            w.sim.request_client(
                now,
                conn,
                rocketmq_proto::codes::RequestCode::GET_CONSUMER_RUNNING_INFO,
                &h,
                b"",
                false,
            ),
        )
    };
    w.advance(10);
    let reply = w.sim.client_reply(conn, opaque).expect("answered");
    assert_eq!(reply.code, ResponseCode::SYSTEM_ERROR);
}

#[test]
fn consume_message_directly_goes_to_the_application_and_its_verdict_back_to_the_broker() {
    use rocketmq_proto::codes::{RequestCode, ResponseCode};
    use rocketmq_proto::engine::client::ConsumeResult;
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    let stored = w
        .sim
        .inject_message(
            0,
            "broker-a",
            "TopicTest",
            0,
            b"resend me",
            &[("KEYS", "k1")],
        )
        .unwrap();
    subscribe(&mut w, 0, "*");
    w.advance(3_000);
    w.nodes[0].events.clear();
    let id = w.client().client_id().to_string();
    let (conn, _) = w
        .sim
        .get_consumer_running_info(w.now, A, GROUP, &id)
        .unwrap();
    let msg_id = stored.offset_msg_id();
    let fields = [
        ("consumerGroup", GROUP),
        ("clientId", id.as_str()),
        ("msgId", msg_id.as_str()),
        ("brokerName", "broker-a"),
    ];
    let now = w.now;
    let opaque = w.sim.request_client(
        now,
        conn,
        RequestCode::CONSUME_MESSAGE_DIRECTLY,
        &fields,
        &stored.record,
        false,
    );
    w.advance(10);
    let direct = w
        .events()
        .iter()
        .find_map(|e| match e {
            Event::ConsumeDirectly { id } => Some(*id),
            _ => None,
        })
        .expect("handed to the application");
    let m = w.client().direct_message(direct).unwrap();
    assert_eq!(m.body, b"resend me");
    assert_eq!(m.properties.get("KEYS"), Some("k1"));
    assert!(
        w.sim.client_reply(conn, opaque).is_none(),
        "waits for the listener"
    );
    w.client()
        .answer_direct(direct, ConsumeResult::Success, 7)
        .unwrap();
    w.advance(10);
    let reply = w.sim.client_reply(conn, opaque).expect("answered");
    assert_eq!(reply.code, ResponseCode::SUCCESS);
    assert_eq!(
        std::str::from_utf8(&reply.body).unwrap(),
        r#"{"autoCommit":true,"consumeResult":"CR_SUCCESS","order":false,"remark":"","spentTimeMills":7}"#
    );
    assert!(w.client().direct_message(direct).is_none(), "answered once");
    assert!(w
        .client()
        .answer_direct(direct, ConsumeResult::Later, 1)
        .is_err());
}

/// A consumer (node 0) and a producer (node 1) in namespace `ns1`; the producer has
/// sent "hello" (TagA) to TopicTest.
fn namespaced_world_with_one_message() -> World {
    use rocketmq_proto::engine::client::Message;
    use rocketmq_proto::producer::retry::SendMode;
    let cfg = SimConfig::new(NS)
        .broker(BrokerSpec::new("broker-a", A).topic(TopicSpec::new("ns1%TopicTest", 4)));
    let namespaced = |pid| {
        let id =
            ClientId::build("127.0.0.1", InstanceName::Process { pid, nonce: 1 }, None).unwrap();
        let mut config = Config::new(id);
        config.namespace = Some("ns1".try_into().unwrap());
        let uniq = UniqKeyGenerator::new("127.0.0.1".parse().unwrap(), pid as u16, 0);
        let mut c = EngineClient::new(config, uniq, pid, Instant::from_millis(0));
        c.set_namesrv(NS).unwrap();
        c
    };
    let mut w = World::new(Sim::new(cfg), namespaced(1), 0);
    let p = w.add(namespaced(2));
    w.nodes[p].client.register_producer("PG").unwrap();
    subscribe(&mut w, 0, "*");
    w.advance(2_000);
    let now = Instant::from_millis(w.now);
    let mut msg = Message::new("TopicTest", b"hello");
    msg.tags = Some("TagA");
    w.nodes[p]
        .client
        .send(now, 1_700_000_000_000, &msg, SendMode::Sync)
        .unwrap();
    w
}

#[test]
fn a_namespace_wraps_topics_and_groups_on_the_wire_and_unwraps_what_the_application_sees() {
    let mut w = namespaced_world_with_one_message();
    let mut seen = Vec::new();
    w.run_until(20_000, |w| {
        for e in std::mem::take(&mut w.nodes[0].events) {
            if let Event::Messages { id } = e {
                let d = w.nodes[0].client.delivery(id).unwrap();
                let topic = d.topic.to_string();
                for m in d.messages() {
                    seen.push((
                        topic.clone(),
                        m.topic.to_string(),
                        m.properties.get("INSTANCE_ID").map(str::to_string),
                    ));
                }
                let now = Instant::from_millis(w.now);
                w.nodes[0].client.ack(now, id);
            }
        }
        !seen.is_empty()
    })
    .unwrap();
    assert_eq!(
        seen,
        [(
            "TopicTest".to_string(),
            "ns1%TopicTest".to_string(),
            Some("ns1".to_string())
        )],
        "stored under the namespace, shown without it"
    );
    // Groups and the retry topic carry the namespace on the broker.
    assert_eq!(w.sim.consumer_ids(A, "ns1%CG").len(), 1);
    assert!(w.sim.consumer_ids(A, "CG").is_empty());
    assert_eq!(w.sim.producer_ids(A, "ns1%PG").len(), 1);
    assert!(w.sim.subscription(A, "ns1%CG", "%RETRY%ns1%CG").is_some());
    let owned: BTreeSet<&str> = w.nodes[0]
        .client
        .owned_queues()
        .map(|(t, _, _)| t)
        .collect();
    assert_eq!(owned, BTreeSet::from(["TopicTest", "%RETRY%CG"]));
}

#[test]
fn a_retried_message_in_a_namespace_shows_its_original_topic_without_the_namespace() {
    // Review finding: RETRY_TOPIC holds the wrapped name (`ns1%TopicTest`); the tokio
    // adapter handed it out as is. `Delivery::topic_of` unwraps it as Java does.
    let mut w = namespaced_world_with_one_message();
    let mut shown = Vec::new();
    w.run_until(120_000, |w| {
        for e in std::mem::take(&mut w.nodes[0].events) {
            if let Event::Messages { id } = e {
                let d = w.nodes[0].client.delivery(id).unwrap();
                for m in d.messages() {
                    shown.push((d.topic.to_string(), d.topic_of(&m).to_string()));
                }
                let now = Instant::from_millis(w.now);
                // Fail the first delivery: it comes back through the retry topic.
                if shown.len() == 1 {
                    w.nodes[0].client.nack(now, id, 0);
                } else {
                    w.nodes[0].client.ack(now, id);
                }
            }
        }
        shown.len() >= 2
    })
    .unwrap();
    assert_eq!(
        shown,
        [
            ("TopicTest".to_string(), "TopicTest".to_string()),
            ("%RETRY%CG".to_string(), "TopicTest".to_string()),
        ]
    );
}

// ------------------------------------------------------------------ request-reply

#[test]
fn request_reply_round_trip_through_the_broker_and_a_timeout_without_replier() {
    use rocketmq_proto::codes::RequestCode;
    use rocketmq_proto::engine::client::{Message, RequestError};
    use rocketmq_proto::engine::Millis;
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    let requester = w.add(engine(2));
    w.nodes[requester]
        .client
        .register_producer("PG-req")
        .unwrap();
    w.client().register_producer("PG-rep").unwrap();
    subscribe(&mut w, 0, "*");
    w.advance(2_000);
    let now = Instant::from_millis(w.now);
    let id = w.nodes[requester]
        .client
        .request(
            now,
            1_700_000_000_000,
            &Message::new("TopicTest", b"ping"),
            Millis(5_000),
        )
        .unwrap();
    // The replier consumes the request and answers it.
    let mut reply_event = None;
    w.run_until(10_000, |w| {
        for e in std::mem::take(&mut w.nodes[0].events) {
            if let Event::Messages { id } = e {
                let now = Instant::from_millis(w.now);
                let c = &mut w.nodes[0].client;
                let records: Vec<Vec<u8>> = c
                    .delivery(id)
                    .unwrap()
                    .messages()
                    .map(|m| {
                        assert_eq!(m.body, b"ping");
                        let mut raw = Vec::new();
                        rocketmq_proto::message::record::encode(
                            &mut rocketmq_proto::out::BufMutOut(&mut raw),
                            &m,
                        )
                        .unwrap();
                        raw
                    })
                    .collect();
                for raw in records {
                    let m = rocketmq_proto::message::RecordIter::new(&raw)
                        .next()
                        .unwrap()
                        .unwrap();
                    c.send_reply(now, 1_700_000_000_000, &m.properties, b"pong")
                        .unwrap();
                }
                c.ack(now, id);
            }
        }
        for e in std::mem::take(&mut w.nodes[requester].events) {
            match e {
                Event::Reply { id: r } => reply_event = Some(r),
                Event::SendOk { id: s, .. } if s == id => {
                    panic!("a request's SendOk is not reported")
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        reply_event.is_some()
    })
    .unwrap();
    assert_eq!(reply_event, Some(id));
    assert_eq!(
        w.sim.request_count(A, RequestCode::SEND_REPLY_MESSAGE_V2),
        1
    );
    let c = &mut w.nodes[requester].client;
    let reply = c.reply(id).unwrap();
    assert_eq!(reply.body, b"pong");
    assert_eq!(reply.properties.get("MSG_TYPE"), Some("reply"));
    let correlation = reply.properties.get("CORRELATION_ID").unwrap().to_string();
    assert_eq!(correlation.len(), 36, "a UUID: {correlation}");
    c.release_reply(id);
    assert!(c.reply(id).is_none());

    // Nobody answers the next one: it fails after its timeout, not before.
    w.nodes[0]
        .client
        .shutdown(Instant::from_millis(w.now), Millis(0));
    w.advance(1_000);
    let start = w.now;
    let now = Instant::from_millis(start);
    let id = w.nodes[requester]
        .client
        .request(
            now,
            1_700_000_000_000,
            &Message::new("TopicTest", b"ping"),
            Millis(3_000),
        )
        .unwrap();
    let mut failed = None;
    w.run_until(10_000, |w| {
        for e in std::mem::take(&mut w.nodes[requester].events) {
            if let Event::RequestFailed { id: f, error } = e {
                failed = Some((f, error, w.now));
            }
        }
        failed.is_some()
    })
    .unwrap();
    let (f, error, at) = failed.unwrap();
    assert_eq!((f, error), (id, RequestError::NoReply));
    assert_eq!(at, start + 3_000);
}

#[test]
fn a_rebalance_that_changes_the_owned_queues_heartbeats_at_once() {
    use rocketmq_proto::codes::RequestCode;
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    subscribe(&mut w, 0, "*");
    w.advance(40_000);
    let heartbeats_of = |w: &World, conn, after: u64| {
        w.sim
            .requests()
            .iter()
            .filter(|r| r.conn == conn && r.code == RequestCode::HEART_BEAT && r.at > after)
            .count()
    };
    let conn0 = w
        .sim
        .requests()
        .iter()
        .find(|r| r.addr == A && r.code == RequestCode::HEART_BEAT)
        .unwrap()
        .conn;
    let last = w
        .sim
        .requests()
        .iter()
        .filter(|r| r.conn == conn0 && r.code == RequestCode::HEART_BEAT)
        .map(|r| r.at)
        .max()
        .unwrap();
    // Joined 10 s after node 0's last periodic heartbeat: the next is 20 s away.
    w.advance(last + 10_000 - w.now);
    let joined = w.now;
    let n1 = w.add(engine(2));
    subscribe(&mut w, n1, "*");
    w.advance(5_000);
    assert_eq!(
        w.nodes[0].client.owned_queues().count(),
        2 + 1,
        "half of TopicTest and the retry queue"
    );
    assert!(
        heartbeats_of(&w, conn0, joined) >= 1,
        "node 0 told the broker of its new queues at once"
    );
}

#[test]
fn a_subscribed_topic_created_later_is_picked_up_within_seconds_not_at_the_next_30_s_refresh() {
    use rocketmq_proto::engine::client::Message;
    use rocketmq_proto::producer::retry::SendMode;
    let mut w = World::new(sim(&[("broker-a", A)]), engine(1), 0);
    let now = Instant::from_millis(0);
    let mut cfg = ConsumerConfig::new(GROUP);
    cfg.from_where = ConsumeFromWhere::FirstOffset;
    w.client()
        .subscribe(now, 1_700_000_000_000, &cfg, "LateTopic", "*")
        .unwrap();
    w.advance(3_000);
    // A producer's first send auto-creates the topic (through TBW102).
    let p = w.add(engine(2));
    w.nodes[p].client.register_producer("PG").unwrap();
    let now = Instant::from_millis(w.now);
    w.nodes[p]
        .client
        .send(
            now,
            1_700_000_000_000,
            &Message::new("LateTopic", b"late"),
            SendMode::Sync,
        )
        .unwrap();
    let mut got = Vec::new();
    let start = w.now;
    w.run_until(20_000, |w| {
        consume(w, &mut got);
        !got.is_empty()
    })
    .unwrap();
    assert!(w.now - start < 10_000, "took {} ms", w.now - start);
    assert_eq!(got[0].1, "late");
}

/// Every queue of TopicTest on broker-a has GROUP's offset committed at its end.
fn assert_committed_to_the_end(w: &World) {
    for q in 0..4 {
        assert_eq!(
            w.sim.committed_offset("broker-a", GROUP, "TopicTest", q),
            Some(w.sim.max_offset("broker-a", "TopicTest", q)),
            "queue {q}"
        );
    }
}
