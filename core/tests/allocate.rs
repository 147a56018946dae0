//! Queue allocation strategies against Java's algorithms (behaviour.md §4.4–§4.5).

use std::collections::BTreeSet;

use proptest::prelude::*;
use rocketmq_proto::body::{ConsumerIdList, MessageQueue};
use rocketmq_proto::collections::Fixed;
use rocketmq_proto::consumer::allocate::{
    broker_idc, queue_hash, ring_hash, sort_for_allocation, AllocateError, AllocateStrategy,
    Assignment, HashRing, InnerStrategy, MachineRoomResolver, RingNode, RoomFns,
    DEFAULT_VIRTUAL_NODES,
};
use rocketmq_proto::Text;

/// Run a strategy with buffers large enough for any input; the owned indices.
fn run(
    s: &AllocateStrategy<'_>,
    me: &str,
    mqs: &[MessageQueue<'_>],
    cids: &[Text<'_>],
) -> Result<Vec<usize>, AllocateError> {
    let mut out = vec![usize::MAX; mqs.len()];
    let mut ring = vec![RingNode::default(); s.ring_len(cids.len())];
    match s.allocate(me, mqs, cids, &mut out, &mut ring)? {
        Assignment::Indices(i) => Ok(i.to_vec()),
        Assignment::Configured(_) => panic!("index strategy returned a configured list"),
    }
}

fn queues(topic: &'static str, broker: &'static str, n: usize) -> Vec<MessageQueue<'static>> {
    (0..n as i32)
        .map(|q| MessageQueue::new(topic, broker, q))
        .collect()
}

fn ids(names: &[String]) -> Vec<Text<'_>> {
    names.iter().map(|s| Text::new(s)).collect()
}

fn names(c: usize) -> Vec<String> {
    (0..c).map(|i| format!("10.0.0.{i}@{i}")).collect()
}

// ---- straightforward transcriptions of the Java code (java.util.List semantics) ----

/// `AllocateMessageQueueAveragely.allocate` after the checks, line by line.
fn java_averagely(n: i32, c: i32, index: i32) -> Vec<usize> {
    let m = n % c;
    let average_size = if n <= c {
        1
    } else if m > 0 && index < m {
        n / c + 1
    } else {
        n / c
    };
    let start_index = if m > 0 && index < m {
        index * average_size
    } else {
        index * average_size + m
    };
    let range = average_size.min(n - start_index);
    (0..range)
        .map(|i| ((start_index + i) % n) as usize)
        .collect()
}

/// `AllocateMessageQueueAveragelyByCircle.allocate` after the checks.
fn java_by_circle(n: i32, c: i32, index: i32) -> Vec<usize> {
    let mut result = Vec::new();
    let mut i = index;
    while i < n {
        if i % c == index {
            result.push(i as usize);
        }
        i += 1;
    }
    result
}

#[test]
fn averagely_and_by_circle_match_java_exhaustively() {
    for n in 0..=20usize {
        let mqs = queues("T", "b", n);
        for c in 1..=8usize {
            let n_ids = names(c);
            let cids = ids(&n_ids);
            for (i, me) in n_ids.iter().enumerate() {
                let avg = run(&AllocateStrategy::Averagely, me, &mqs, &cids);
                let circle = run(&AllocateStrategy::AveragelyByCircle, me, &mqs, &cids);
                if n == 0 {
                    assert_eq!(avg, Err(AllocateError::NoQueues));
                    assert_eq!(circle, Err(AllocateError::NoQueues));
                    continue;
                }
                let (n32, c32, i32_) = (n as i32, c as i32, i as i32);
                assert_eq!(
                    avg.unwrap(),
                    java_averagely(n32, c32, i32_),
                    "AVG n={n} c={c} i={i}"
                );
                assert_eq!(
                    circle.unwrap(),
                    java_by_circle(n32, c32, i32_),
                    "AVG_BY_CIRCLE n={n} c={c} i={i}"
                );
            }
        }
    }
}

#[test]
fn doc_examples_literally() {
    let mqs = queues("T", "b", 8);
    let cids = [Text::new("c0"), Text::new("c1"), Text::new("c2")];
    let avg = |me| run(&AllocateStrategy::Averagely, me, &mqs, &cids).unwrap();
    assert_eq!(avg("c0"), [0, 1, 2]);
    assert_eq!(avg("c1"), [3, 4, 5]);
    assert_eq!(avg("c2"), [6, 7]);
    let circle = |me| run(&AllocateStrategy::AveragelyByCircle, me, &mqs, &cids).unwrap();
    assert_eq!(circle("c0"), [0, 3, 6]);
    assert_eq!(circle("c1"), [1, 4, 7]);
    assert_eq!(circle("c2"), [2, 5]);

    let mqs = queues("T", "b", 3);
    let cids: Vec<Text> = ["c0", "c1", "c2", "c3", "c4"].map(Text::new).to_vec();
    let avg = |me| run(&AllocateStrategy::Averagely, me, &mqs, &cids).unwrap();
    assert_eq!(avg("c0"), [0]);
    assert_eq!(avg("c1"), [1]);
    assert_eq!(avg("c2"), [2]);
    assert_eq!(avg("c3"), Vec::<usize>::new());
    assert_eq!(avg("c4"), Vec::<usize>::new());
}

/// Every queue owned by exactly one consumer.
fn assert_partition(s: &AllocateStrategy<'_>, mqs: &[MessageQueue<'_>], cids: &[Text<'_>]) {
    let mut owner = vec![None; mqs.len()];
    for cid in cids {
        let me = cid.as_str().unwrap();
        for k in run(s, me, mqs, cids).unwrap() {
            assert!(owner[k].is_none(), "{} gives queue {k} twice", s.name());
            owner[k] = Some(me);
        }
    }
    assert!(
        owner.iter().all(Option::is_some),
        "{} orphans a queue: {owner:?}",
        s.name()
    );
}

#[test]
fn strategies_partition_the_queues() {
    for n in 1..=20usize {
        let mut mqs = queues("T", "broker-a", n);
        mqs.extend(queues("T", "broker-b", n / 2));
        for c in 1..=8usize {
            let n_ids = names(c);
            let cids = ids(&n_ids);
            assert_partition(&AllocateStrategy::Averagely, &mqs, &cids);
            assert_partition(&AllocateStrategy::AveragelyByCircle, &mqs, &cids);
            for v in [1, 3, DEFAULT_VIRTUAL_NODES] {
                assert_partition(
                    &AllocateStrategy::ConsistentHash { virtual_nodes: v },
                    &mqs,
                    &cids,
                );
            }
        }
    }
}

// ---- consistent hash ----
//
// The expected owners below were computed with an independent implementation written
// for this test: a Python script using `hashlib.md5` (first 4 digest bytes, big-endian),
// a dict + sorted keys standing in for Java's TreeMap, later `put`s overwriting and a
// repeated id continuing its replica numbering (`getExistingReplicas`). Its output is
// pasted here as literals.

fn owners(v: u32, mqs: &[MessageQueue<'_>], cids: &[Text<'_>]) -> Vec<usize> {
    let s = AllocateStrategy::ConsistentHash { virtual_nodes: v };
    let mut owner = vec![usize::MAX; mqs.len()];
    for (ci, cid) in cids.iter().enumerate() {
        for k in run(&s, cid.as_str().unwrap(), mqs, cids).unwrap() {
            owner[k] = ci;
        }
    }
    owner
}

#[test]
fn consistent_hash_ring_hashes() {
    assert_eq!(ring_hash("127.0.0.1@1-0"), 0x9e72_b41b);
    assert_eq!(
        queue_hash(&MessageQueue::new("TopicTest", "broker-a", 0)),
        0x767d_59fc
    );
    // A JSON-escaped topic hashes as its decoded text.
    let body = br#"{"consumerIdList":["Topic\u0054est"]}"#;
    let decoded = ConsumerIdList::<Fixed<1>>::decode(body).unwrap();
    let escaped = decoded.consumer_id_list[0];
    assert!(escaped.is_escaped());
    let mq = MessageQueue {
        topic: escaped,
        broker_name: Text::new("broker-a"),
        queue_id: 0,
    };
    assert_eq!(queue_hash(&mq), 0x767d_59fc);
}

#[test]
fn consistent_hash_matches_reference_tables() {
    let mqs = queues("TopicTest", "broker-a", 8);
    let cids = [
        Text::new("127.0.0.1@1"),
        Text::new("127.0.0.1@2"),
        Text::new("127.0.0.1@3"),
    ];
    assert_eq!(owners(10, &mqs, &cids), [1, 0, 1, 0, 0, 0, 1, 2]);
    assert_eq!(owners(1, &mqs, &cids), [1, 1, 1, 1, 1, 2, 0, 1]);

    let mut mqs = queues("orders", "broker-a", 4);
    mqs.extend(queues("orders", "broker-b", 4));
    let cids = [
        "10.0.0.1@100",
        "10.0.0.2@200",
        "10.0.0.3@300",
        "10.0.0.4@400",
    ]
    .map(Text::new);
    assert_eq!(owners(10, &mqs, &cids), [1, 0, 0, 3, 3, 2, 0, 2]);
    assert_eq!(owners(3, &mqs, &cids), [1, 2, 0, 3, 2, 2, 0, 2]);
}

#[test]
fn consistent_hash_duplicate_id_continues_replicas() {
    // Java's addNode numbers a repeated id's nodes after those it already has on the
    // ring ("a-10".."a-19"), which wins queue 5 here; with ids ["a","b"] it does not.
    let mqs = queues("TopicTest", "broker-a", 8);
    let s = AllocateStrategy::ConsistentHash { virtual_nodes: 10 };
    let dup = ["a", "a", "b"].map(Text::new);
    assert_eq!(run(&s, "a", &mqs, &dup).unwrap(), [0, 1, 5, 6, 7]);
    assert_eq!(run(&s, "b", &mqs, &dup).unwrap(), [2, 3, 4]);
    let single = ["a", "b"].map(Text::new);
    assert_eq!(run(&s, "a", &mqs, &single).unwrap(), [0, 1, 6, 7]);
    // Reference script: v=3 → owners [0, 0, 2, 2, 2, 2, 0, 0] with the duplicate.
    let s3 = AllocateStrategy::ConsistentHash { virtual_nodes: 3 };
    assert_eq!(run(&s3, "a", &mqs, &dup).unwrap(), [0, 1, 6, 7]);
    // Reference script: v=3 without the duplicate → owners [0, 1, 1, 1, 1, 1, 0, 1].
    assert_eq!(run(&s3, "a", &mqs, &single).unwrap(), [0, 6]);
}

#[test]
fn consistent_hash_ring_is_sorted_unique_and_bounded() {
    let cids = ["x", "y", "z"].map(Text::new);
    let mut buf = [RingNode::default(); 30];
    let ring = HashRing::build(&mut buf, &cids, 10).unwrap();
    let nodes = ring.nodes();
    assert_eq!(nodes.len(), 30);
    assert!(nodes.windows(2).all(|w| w[0].hash < w[1].hash));
    assert_eq!(nodes.iter().filter(|n| n.consumer == 1).count(), 10);
    assert!(nodes
        .iter()
        .any(|n| n.hash == ring_hash("y-9") && n.consumer == 1));
    // Routing: smallest hash ≥ key, wrapping to the first.
    let last = nodes.last().unwrap();
    assert_eq!(ring.route(last.hash), Some(last.consumer));
    if last.hash < u32::MAX {
        assert_eq!(ring.route(last.hash + 1), Some(nodes[0].consumer));
    }
    assert_eq!(ring.route(nodes[0].hash + 1), Some(nodes[1].consumer));
    assert_eq!(ring.route(0), Some(nodes[0].consumer));

    let mut small = [RingNode::default(); 29];
    assert_eq!(
        HashRing::build(&mut small, &cids, 10),
        Err(AllocateError::RingTooSmall { needed: 30 })
    );
    let mut none: [RingNode; 0] = [];
    let empty = HashRing::build(&mut none, &cids, 0).unwrap();
    assert_eq!(empty.route(5), None);
}

#[test]
fn consistent_hash_zero_virtual_nodes_assigns_nothing() {
    let mqs = queues("T", "b", 4);
    let cids = ["a", "b"].map(Text::new);
    let s = AllocateStrategy::ConsistentHash { virtual_nodes: 0 };
    assert_eq!(run(&s, "a", &mqs, &cids).unwrap(), Vec::<usize>::new());
}

// ---- pre-checks, buffers, names, config ----

#[test]
fn pre_checks_as_java() {
    let mqs = queues("T", "b", 4);
    let cids = ["a", "b"].map(Text::new);
    let hash = AllocateStrategy::ConsistentHash { virtual_nodes: 10 };
    let rooms = RoomFns::new(|_| "r", |_| "r");
    let all = [
        AllocateStrategy::Averagely,
        AllocateStrategy::AveragelyByCircle,
        hash,
        AllocateStrategy::ByMachineRoom {
            consumer_idcs: &["hz"],
        },
        AllocateStrategy::MachineRoomNearby {
            inner: InnerStrategy::Averagely,
            resolver: &rooms,
        },
    ];
    for s in &all {
        assert_eq!(
            run(s, "", &mqs, &cids),
            Err(AllocateError::EmptyClientId),
            "{}",
            s.name()
        );
        assert_eq!(run(s, "", &[], &[]), Err(AllocateError::EmptyClientId));
        assert_eq!(run(s, "a", &[], &cids), Err(AllocateError::NoQueues));
        assert_eq!(run(s, "a", &[], &[]), Err(AllocateError::NoQueues));
        assert_eq!(run(s, "a", &mqs, &[]), Err(AllocateError::NoConsumers));
        assert_eq!(run(s, "nobody", &mqs, &cids), Ok(vec![]), "{}", s.name());
    }
}

#[test]
fn output_and_ring_too_small_are_typed_errors() {
    let mqs = queues("T", "b", 8);
    let cids = ["a", "b"].map(Text::new);
    let mut out = [0usize; 3];
    assert_eq!(
        AllocateStrategy::Averagely.allocate("a", &mqs, &cids, &mut out, &mut []),
        Err(AllocateError::OutputTooSmall { needed: 4 })
    );
    let mut out = [0usize; 8];
    let mut ring = [RingNode::default(); 19];
    let s = AllocateStrategy::ConsistentHash { virtual_nodes: 10 };
    assert_eq!(s.ring_len(2), 20);
    assert_eq!(
        s.allocate("a", &mqs, &cids, &mut out, &mut ring),
        Err(AllocateError::RingTooSmall { needed: 20 })
    );
    // No output at all is enough when nothing is owned.
    assert_eq!(
        AllocateStrategy::Averagely.allocate("zz", &mqs, &cids, &mut [], &mut []),
        Ok(Assignment::Indices(&[]))
    );
}

#[test]
fn names_as_java() {
    let rooms = RoomFns::new(|_| "r", |_| "r");
    let nearby = |inner| {
        AllocateStrategy::MachineRoomNearby {
            inner,
            resolver: &rooms,
        }
        .name()
    };
    assert_eq!(AllocateStrategy::default().name(), "AVG");
    assert_eq!(AllocateStrategy::AveragelyByCircle.name(), "AVG_BY_CIRCLE");
    assert_eq!(
        AllocateStrategy::ConsistentHash { virtual_nodes: 1 }.name(),
        "CONSISTENT_HASH"
    );
    assert_eq!(AllocateStrategy::ByConfig { queues: &[] }.name(), "CONFIG");
    assert_eq!(
        AllocateStrategy::ByMachineRoom { consumer_idcs: &[] }.name(),
        "MACHINE_ROOM"
    );
    assert_eq!(nearby(InnerStrategy::Averagely), "MACHINE_ROOM_NEARBY-AVG");
    assert_eq!(
        nearby(InnerStrategy::AveragelyByCircle),
        "MACHINE_ROOM_NEARBY-AVG_BY_CIRCLE"
    );
    assert_eq!(
        nearby(InnerStrategy::ConsistentHash { virtual_nodes: 10 }),
        "MACHINE_ROOM_NEARBY-CONSISTENT_HASH"
    );
    assert_eq!(
        nearby(InnerStrategy::ByMachineRoom { consumer_idcs: &[] }),
        "MACHINE_ROOM_NEARBY-MACHINE_ROOM"
    );
}

#[test]
fn by_config_returns_its_list_verbatim_without_checks() {
    let configured = [
        MessageQueue::new("Other", "x", 7),
        MessageQueue::new("T", "b", 1),
    ];
    let s = AllocateStrategy::ByConfig {
        queues: &configured,
    };
    let got = s.allocate("", &[], &[], &mut [], &mut []).unwrap();
    assert_eq!(got, Assignment::Configured(&configured));
    assert_eq!(got.len(), 2);
    let mqs = queues("T", "b", 2);
    assert_eq!(got.queues(&mqs).collect::<Vec<_>>(), configured);
}

// ---- machine rooms ----

#[test]
fn broker_idc_follows_java_split() {
    assert_eq!(broker_idc("hz@a"), Some("hz"));
    assert_eq!(broker_idc("hz@a@@"), Some("hz"));
    assert_eq!(broker_idc("hz@@a"), None);
    assert_eq!(broker_idc("@"), None);
    assert_eq!(broker_idc(""), None);
}

#[test]
fn by_machine_room_rules() {
    // Sorted by broker name. Qualifying for idcs {hz, sh}: hz@a ×3, hz@c@ ×1, sh@b ×2
    // → pre has 6 queues; "bj@d" (other idc), "hz@" (one part), "hz@x@y" (three parts),
    // "plain" (no @) are skipped.
    let mut mqs = Vec::new();
    for (b, n) in [
        ("bj@d", 2),
        ("hz@", 1),
        ("hz@a", 3),
        ("hz@c@", 1),
        ("hz@x@y", 1),
        ("plain", 1),
        ("sh@b", 2),
    ] {
        mqs.extend(queues("T", b, n));
    }
    let pre = [3, 4, 5, 6, 9, 10];
    let idcs = ["hz", "sh"];
    let s = AllocateStrategy::ByMachineRoom {
        consumer_idcs: &idcs,
    };
    // c = 4: per = 1, rem = 2 → c0 {pre0, pre4}, c1 {pre1, pre5}, c2 {pre2}, c3 {pre3}.
    let cids = ["c0", "c1", "c2", "c3"].map(Text::new);
    assert_eq!(run(&s, "c0", &mqs, &cids).unwrap(), [pre[0], pre[4]]);
    assert_eq!(run(&s, "c1", &mqs, &cids).unwrap(), [pre[1], pre[5]]);
    assert_eq!(run(&s, "c2", &mqs, &cids).unwrap(), [pre[2]]);
    assert_eq!(run(&s, "c3", &mqs, &cids).unwrap(), [pre[3]]);
    // Only idc "sh": pre = {9, 10} → per 0, rem 2.
    let s = AllocateStrategy::ByMachineRoom {
        consumer_idcs: &["sh"],
    };
    assert_eq!(run(&s, "c0", &mqs, &cids).unwrap(), [9]);
    assert_eq!(run(&s, "c1", &mqs, &cids).unwrap(), [10]);
    assert_eq!(run(&s, "c3", &mqs, &cids).unwrap(), Vec::<usize>::new());
    // JSON-escaped broker names are matched on their decoded text.
    let body = br#"{"consumerIdList":["\u0068z@a","hz\u0040a\u0040","hz@\u0040a","sh@"]}"#;
    let decoded = ConsumerIdList::<Fixed<4>>::decode(body).unwrap();
    let names = decoded.consumer_id_list;
    let mqs: Vec<MessageQueue> = names
        .iter()
        .map(|&b| MessageQueue {
            topic: Text::new("T"),
            broker_name: b,
            queue_id: 0,
        })
        .collect();
    let s = AllocateStrategy::ByMachineRoom {
        consumer_idcs: &["hz"],
    };
    assert_eq!(run(&s, "c0", &mqs, &[Text::new("c0")]).unwrap(), [0, 1]);
}

/// Brokers `<room>@…`, consumers `<room>-…`.
fn prefix_rooms() -> impl MachineRoomResolver {
    RoomFns::new(
        |mq| mq.broker_name.as_str().and_then(broker_idc).unwrap_or(""),
        |cid| cid.as_str().and_then(|c| c.split('-').next()).unwrap_or(""),
    )
}

#[test]
fn machine_room_nearby_rules() {
    // Sorted: bj@c 0..3 (no consumer in bj), hz@a 0..4, sh@b 0..2.
    let mut mqs = queues("T", "bj@c", 3);
    mqs.extend(queues("T", "hz@a", 4));
    mqs.extend(queues("T", "sh@b", 2));
    let cids = ["hz-1", "hz-2", "sh-1"].map(Text::new);
    let rooms = prefix_rooms();
    let s = AllocateStrategy::MachineRoomNearby {
        inner: InnerStrategy::Averagely,
        resolver: &rooms,
    };
    // My room first (among my room's consumers), then consumer-less rooms among all.
    assert_eq!(run(&s, "hz-1", &mqs, &cids).unwrap(), [3, 4, 0]);
    assert_eq!(run(&s, "hz-2", &mqs, &cids).unwrap(), [5, 6, 1]);
    assert_eq!(run(&s, "sh-1", &mqs, &cids).unwrap(), [7, 8, 2]);
    let s = AllocateStrategy::MachineRoomNearby {
        inner: InnerStrategy::AveragelyByCircle,
        resolver: &rooms,
    };
    assert_eq!(run(&s, "hz-1", &mqs, &cids).unwrap(), [3, 5, 0]);
    assert_partition(&s, &mqs, &cids);
    let s = AllocateStrategy::MachineRoomNearby {
        inner: InnerStrategy::ConsistentHash { virtual_nodes: 10 },
        resolver: &rooms,
    };
    assert_eq!(s.ring_len(3), 30);
    assert_partition(&s, &mqs, &cids);
    // sh-1 is alone in sh: it owns both sh queues whatever the hash says.
    assert!(run(&s, "sh-1", &mqs, &cids).unwrap().starts_with(&[7, 8]));

    // Empty rooms are errors, queues checked before consumers.
    let bad = RoomFns::new(|mq| if mq.queue_id == 2 { "" } else { "r" }, |_| "");
    let s = AllocateStrategy::MachineRoomNearby {
        inner: InnerStrategy::Averagely,
        resolver: &bad,
    };
    assert_eq!(
        run(&s, "hz-1", &mqs, &cids),
        Err(AllocateError::NoBrokerMachineRoom { queue: 2 })
    );
    let bad = RoomFns::new(|_| "r", |c| if c == "sh-1" { "" } else { "r" });
    let s = AllocateStrategy::MachineRoomNearby {
        inner: InnerStrategy::Averagely,
        resolver: &bad,
    };
    assert_eq!(
        run(&s, "hz-1", &mqs, &cids),
        Err(AllocateError::NoConsumerMachineRoom { consumer: 2 })
    );
}

#[test]
fn machine_room_nearby_walks_orphan_rooms_in_string_order() {
    // Broker "x" is in room "b", broker "y" in room "a"; nobody consumes in either room,
    // so Java's TreeMap visits room "a" (broker y) before room "b" (broker x).
    let mut mqs = queues("T", "x", 2);
    mqs.extend(queues("T", "y", 2));
    let rooms = RoomFns::new(|mq| if mq.broker_name == "x" { "b" } else { "a" }, |_| "c");
    let s = AllocateStrategy::MachineRoomNearby {
        inner: InnerStrategy::Averagely,
        resolver: &rooms,
    };
    assert_eq!(
        run(&s, "only", &mqs, &[Text::new("only")]).unwrap(),
        [2, 3, 0, 1]
    );
    // Rooms compare as Java strings: "\u{10000}" sorts before "\u{FF61}".
    let rooms = RoomFns::new(
        |mq| {
            if mq.broker_name == "x" {
                "\u{FF61}"
            } else {
                "\u{10000}"
            }
        },
        |_| "c",
    );
    let s = AllocateStrategy::MachineRoomNearby {
        inner: InnerStrategy::Averagely,
        resolver: &rooms,
    };
    assert_eq!(
        run(&s, "only", &mqs, &[Text::new("only")]).unwrap(),
        [2, 3, 0, 1]
    );
}

// ---- sorting and client-id text ----

#[test]
fn sort_matches_java_utf16_order() {
    // UTF-16: U+10000 is D800 DC00, below U+FF61; UTF-8 byte order says the opposite.
    let mut mqs = [
        MessageQueue::new("T", "\u{FF61}", 0),
        MessageQueue::new("T", "\u{10000}", 1),
        MessageQueue::new("T", "\u{10000}", 0),
        MessageQueue::new("S", "\u{FF61}", 10),
        MessageQueue::new("T", "broker-a", 2),
    ];
    let mut cids = [
        Text::new("\u{E000}@1"),
        Text::new("\u{1F600}@1"),
        Text::new("a@1"),
    ];
    sort_for_allocation(&mut mqs, &mut cids);
    assert_eq!(
        mqs,
        [
            MessageQueue::new("S", "\u{FF61}", 10),
            MessageQueue::new("T", "broker-a", 2),
            MessageQueue::new("T", "\u{10000}", 0),
            MessageQueue::new("T", "\u{10000}", 1),
            MessageQueue::new("T", "\u{FF61}", 0),
        ]
    );
    assert_eq!(cids, ["a@1", "\u{1F600}@1", "\u{E000}@1"].map(Text::new));
    // And numeric, not textual, queue ids.
    let mut mqs = [
        MessageQueue::new("T", "b", 10),
        MessageQueue::new("T", "b", 9),
    ];
    sort_for_allocation(&mut mqs, &mut []);
    assert_eq!(mqs.map(|m| m.queue_id), [9, 10]);
}

#[test]
fn escaped_client_ids_are_matched_and_hashed_decoded() {
    let body = br#"{"consumerIdList":["\u0041@1","B@2"]}"#;
    let decoded = ConsumerIdList::<Fixed<2>>::decode(body).unwrap();
    let cids = decoded.consumer_id_list;
    assert!(cids[0].is_escaped());
    let plain = ["A@1", "B@2"].map(Text::new);
    let mqs = queues("TopicTest", "broker-a", 8);
    for s in [
        AllocateStrategy::Averagely,
        AllocateStrategy::ConsistentHash { virtual_nodes: 10 },
    ] {
        let got = run(&s, "A@1", &mqs, &cids).unwrap();
        assert_eq!(got, run(&s, "A@1", &mqs, &plain).unwrap());
    }
    assert_eq!(
        run(&AllocateStrategy::Averagely, "A@1", &mqs, &cids).unwrap(),
        [0, 1, 2, 3]
    );
}

// ---- properties ----

fn strategies<'c>(
    rooms: &'c (dyn MachineRoomResolver + Sync),
    v: u32,
) -> [AllocateStrategy<'c>; 6] {
    [
        AllocateStrategy::Averagely,
        AllocateStrategy::AveragelyByCircle,
        AllocateStrategy::ConsistentHash { virtual_nodes: v },
        AllocateStrategy::MachineRoomNearby {
            inner: InnerStrategy::Averagely,
            resolver: rooms,
        },
        AllocateStrategy::MachineRoomNearby {
            inner: InnerStrategy::AveragelyByCircle,
            resolver: rooms,
        },
        AllocateStrategy::MachineRoomNearby {
            inner: InnerStrategy::ConsistentHash { virtual_nodes: v },
            resolver: rooms,
        },
    ]
}

proptest! {
    #[test]
    fn any_order_gives_a_partition(
        brokers in proptest::collection::vec((0u8..3, 0u8..4, 1usize..6), 1..5),
        consumers in proptest::collection::btree_set((0u8..3, 0u16..500), 1..9),
        v in 1u32..12,
        seed in any::<u64>(),
    ) {
        // Broker "<room>@b<k>" with some queues; consumer "<room>-<host>".
        let broker_names: Vec<String> = brokers
            .iter()
            .map(|(room, k, _)| format!("r{room}@b{k}"))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut mqs: Vec<MessageQueue> = Vec::new();
        for (name, (_, _, n)) in broker_names.iter().zip(&brokers) {
            for q in 0..*n as i32 {
                mqs.push(MessageQueue::new("T", name, q));
            }
        }
        let cid_names: Vec<String> = consumers.iter().map(|(room, h)| format!("r{room}-{h}")).collect();
        let mut cids = ids(&cid_names);
        // Shuffle both lists (deterministically from the seed) before sorting.
        let mut x = seed | 1;
        for i in (1..mqs.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            mqs.swap(i, (x % (i as u64 + 1)) as usize);
        }
        for i in (1..cids.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            cids.swap(i, (x % (i as u64 + 1)) as usize);
        }
        sort_for_allocation(&mut mqs, &mut cids);
        prop_assert!(mqs.windows(2).all(|w| w[0] < w[1]));

        let rooms = prefix_rooms();
        for s in strategies(&rooms, v) {
            let mut seen = vec![0u32; mqs.len()];
            for cid in &cids {
                for k in run(&s, cid.as_str().unwrap(), &mqs, &cids).unwrap() {
                    seen[k] += 1;
                }
            }
            prop_assert!(seen.iter().all(|&n| n == 1), "{}: {:?}", s.name(), seen);
        }

        // ByMachineRoom partitions exactly the queues of the configured idcs.
        let idcs = ["r0", "r2"];
        let s = AllocateStrategy::ByMachineRoom { consumer_idcs: &idcs };
        let mut seen = vec![0u32; mqs.len()];
        for cid in &cids {
            for k in run(&s, cid.as_str().unwrap(), &mqs, &cids).unwrap() {
                seen[k] += 1;
            }
        }
        for (mq, n) in mqs.iter().zip(&seen) {
            let wanted = idcs.contains(&broker_idc(mq.broker_name.as_str().unwrap()).unwrap());
            prop_assert_eq!(*n, u32::from(wanted));
        }
    }
}
