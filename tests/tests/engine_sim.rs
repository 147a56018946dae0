//! The engine's producer path against the simulated NameServer and brokers, in virtual
//! time, with faults: what the client reports as stored is stored, failover happens
//! within one retry, every send ends exactly once and within its deadline.

use std::collections::{BTreeMap, BTreeSet};

use rocketmq_proto::codes::RequestCode;
use rocketmq_proto::engine::client::{Config, Event, Message, SendError, SendId, SendReceipt};
use rocketmq_proto::engine::client_id::{ClientId, InstanceName};
use rocketmq_proto::engine::Instant;
use rocketmq_proto::message::UniqKeyGenerator;
use rocketmq_proto::producer::retry::SendMode;
use rocketmq_tests::drive::{EngineClient, World};
use rocketmq_tests::sim::{BrokerSpec, Sim, SimConfig, TopicSpec};

const NS: &str = "127.0.0.1:9876";
const A: &str = "127.0.0.1:10911";
const B: &str = "127.0.0.1:20911";

fn world(brokers: &[(&str, &str)]) -> World {
    let mut cfg = SimConfig::new(NS);
    for (name, addr) in brokers {
        cfg = cfg.broker(BrokerSpec::new(name, addr).topic(TopicSpec::new("TopicTest", 4)));
    }
    let sim = Sim::new(cfg);
    let id = ClientId::build(
        "127.0.0.1",
        InstanceName::Process { pid: 9, nonce: 3 },
        None,
    )
    .unwrap();
    let uniq = UniqKeyGenerator::new("127.0.0.1".parse().unwrap(), 9, 1);
    let mut client = EngineClient::new(Config::new(id), uniq, 1234, Instant::from_millis(0));
    client.set_namesrv(NS).unwrap();
    client.register_producer("PG").unwrap();
    World::new(sim, client, 0)
}

fn send(w: &mut World, i: usize) -> SendId {
    let body = format!("message-{i}");
    let msg = Message {
        keys: Some("k"),
        ..Message::new("TopicTest", body.as_bytes())
    };
    let now = w.now;
    w.client()
        .send(
            Instant::from_millis(now),
            1_700_000_000_000 + now as i64,
            &msg,
            SendMode::Sync,
        )
        .unwrap()
}

/// Outcomes by send id, asserting each send ended once.
fn outcomes(w: &World) -> BTreeMap<SendId, Result<SendReceipt, SendError>> {
    let mut out = BTreeMap::new();
    for e in w.events() {
        let (id, r) = match e {
            Event::SendOk { id, receipt } => (*id, Ok(receipt.clone())),
            Event::SendFailed { id, error } => (*id, Err(error.clone())),
            _ => continue,
        };
        assert!(out.insert(id, r).is_none(), "send {id:?} ended twice");
    }
    out
}

/// Every stored message of the topic, by UNIQ_KEY: (broker, queue, queue offset, body).
fn stored(w: &World, brokers: &[&str]) -> BTreeMap<String, (String, i32, i64, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for b in brokers {
        for q in 0..4 {
            for m in w.sim.messages(b, "TopicTest", q) {
                let key = m.uniq_key().expect("UNIQ_KEY stored");
                out.insert(key, (b.to_string(), q, m.queue_offset, m.body()));
            }
        }
    }
    out
}

#[test]
fn sends_spread_over_two_brokers_and_receipts_match_the_store() {
    let mut w = world(&[("broker-a", A), ("broker-b", B)]);
    let mut ids = Vec::new();
    for i in 0..200 {
        ids.push(send(&mut w, i));
        w.run_until(10_000, |w| outcomes(w).len() == ids.len())
            .unwrap();
    }
    let outs = outcomes(&w);
    let store = stored(&w, &["broker-a", "broker-b"]);
    assert_eq!(store.len(), 200);
    let mut per_broker = BTreeMap::new();
    for (i, id) in ids.iter().enumerate() {
        let r = outs[id].as_ref().expect("stored");
        let (broker, queue, offset, body) = &store[r.msg_id.as_str()];
        assert_eq!(broker, r.broker_name.as_str());
        assert_eq!(*queue, r.queue_id);
        assert_eq!(*offset, r.queue_offset);
        assert_eq!(body, format!("message-{i}").as_bytes());
        *per_broker.entry(broker.clone()).or_insert(0) += 1;
    }
    assert_eq!(
        per_broker.len(),
        2,
        "round robin over both brokers: {per_broker:?}"
    );
    assert!(per_broker.values().all(|&n| n >= 80), "{per_broker:?}");
}

#[test]
fn broker_killed_sends_fail_over_within_one_retry_and_nothing_reported_is_lost() {
    let mut w = world(&[("broker-a", A), ("broker-b", B)]);
    let mut ids = Vec::new();
    for i in 0..100 {
        if i == 30 {
            let now = w.now;
            w.sim.take_down(now, A);
        }
        if i == 70 {
            let now = w.now;
            w.sim.bring_up(now, A);
        }
        ids.push(send(&mut w, i));
        w.run_until(10_000, |w| outcomes(w).len() == ids.len())
            .unwrap();
    }
    let outs = outcomes(&w);
    let store = stored(&w, &["broker-a", "broker-b"]);
    let ok: Vec<&SendReceipt> = outs.values().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(
        ok.len(),
        100,
        "every send succeeds, by retrying on the live broker"
    );
    for r in ok {
        assert!(
            store.contains_key(r.msg_id.as_str()),
            "reported stored but missing: {r:?}"
        );
    }
    // While broker-a was down, attempts to it were retried on broker-b at once: at most
    // two attempts per send (the first one may pick broker-a).
    let sends_to_b = w.sim.request_count(B, RequestCode::SEND_MESSAGE_V2);
    let sends_to_a = w.sim.request_count(A, RequestCode::SEND_MESSAGE_V2);
    assert!(sends_to_a + sends_to_b <= 200);
    // After it came back, broker-a stores again.
    let a_after: usize = (0..4)
        .map(|q| w.sim.messages("broker-a", "TopicTest", q).len())
        .sum();
    assert!(a_after > 0);
}

#[test]
fn a_black_holed_broker_costs_at_most_the_send_timeout_and_every_send_ends_once() {
    let mut w = world(&[("broker-a", A), ("broker-b", B)]);
    // Warm up the route.
    let first = send(&mut w, 0);
    w.run_until(10_000, |w| outcomes(w).contains_key(&first))
        .unwrap();
    w.sim.black_hole_addr(A, true);
    let mut started = BTreeMap::new();
    for i in 1..40 {
        let id = send(&mut w, i);
        started.insert(id, w.now);
        w.run_until(10_000, |w| outcomes(w).contains_key(&id))
            .unwrap();
        assert!(
            w.now - started[&id] <= 3_000,
            "ended within the send timeout"
        );
    }
    let outs = outcomes(&w);
    assert_eq!(outs.len(), 40);
    let failed: Vec<_> = outs.values().filter_map(|r| r.as_ref().err()).collect();
    // Java semantics: an attempt waits for the remaining budget, so a send whose first
    // pick is the black hole times out; the others succeed on broker-b.
    assert!(
        failed
            .iter()
            .all(|e| matches!(e, SendError::Transport | SendError::Timeout)),
        "{failed:?}"
    );
    assert!(outs.values().filter(|r| r.is_ok()).count() >= 15);
    assert_eq!(w.client().pending_sends(), 0);
}

#[test]
fn cached_routes_keep_sends_working_while_the_nameserver_is_down() {
    let mut w = world(&[("broker-a", A)]);
    let first = send(&mut w, 0);
    w.run_until(10_000, |w| outcomes(w).contains_key(&first))
        .unwrap();
    let now = w.now;
    w.sim.take_down(now, NS);
    // Route refreshes fail for a minute; sends keep using the cached route.
    let mut ids = vec![first];
    for i in 1..20 {
        w.advance(3_000);
        ids.push(send(&mut w, i));
        w.run_until(10_000, |w| outcomes(w).len() == ids.len())
            .unwrap();
    }
    let outs = outcomes(&w);
    assert!(outs.values().all(Result::is_ok), "{outs:?}");
    let now = w.now;
    w.sim.bring_up(now, NS);
    w.advance(31_000);
    assert!(
        w.sim.request_count(NS, RequestCode::GET_ROUTEINFO_BY_TOPIC) >= 2,
        "refreshes resumed"
    );
}

#[test]
fn responses_out_of_order_are_matched_by_opaque() {
    let mut w = world(&[("broker-a", A)]);
    let first = send(&mut w, 0);
    w.run_until(10_000, |w| outcomes(w).contains_key(&first))
        .unwrap();
    w.sim.reorder_next(A, 5);
    let ids: Vec<SendId> = (1..=5).map(|i| send(&mut w, i)).collect();
    w.run_until(10_000, |w| outcomes(w).len() == 6).unwrap();
    let outs = outcomes(&w);
    let store = stored(&w, &["broker-a"]);
    let mut offsets = BTreeSet::new();
    for (i, id) in ids.iter().enumerate() {
        let r = outs[id].as_ref().unwrap();
        let (_, q, off, body) = &store[r.msg_id.as_str()];
        assert_eq!((*q, *off), (r.queue_id, r.queue_offset));
        assert_eq!(body, format!("message-{}", i + 1).as_bytes());
        offsets.insert((r.queue_id, r.queue_offset));
    }
    assert_eq!(offsets.len(), 5);
}

#[test]
fn ordered_sends_keep_each_key_on_javas_queue_in_order() {
    use rocketmq_proto::producer::select::select_by_hash;
    let mut w = world(&[("broker-a", A), ("broker-b", B)]);
    let keys = ["order-1", "order-2", "order-3", "order-42"];
    let mut ids = Vec::new();
    for round in 0..5 {
        for key in keys {
            let body = format!("{key}:{round}");
            let now = w.now;
            let id = w
                .client()
                .send_ordered(
                    Instant::from_millis(now),
                    0,
                    &Message::new("TopicTest", body.as_bytes()),
                    key,
                )
                .unwrap();
            ids.push((id, key, round));
            w.run_until(10_000, |w| outcomes(w).contains_key(&id))
                .unwrap();
        }
    }
    let outs = outcomes(&w);
    // Publish queues in Java's order: broker-a 0..4 then broker-b 0..4.
    let queue_list: Vec<(&str, i32)> = ["broker-a", "broker-b"]
        .iter()
        .flat_map(|b| (0..4).map(move |q| (*b, q)))
        .collect();
    for (id, key, _) in &ids {
        let r = outs[id].as_ref().unwrap();
        let want = queue_list[select_by_hash(key, 8)];
        assert_eq!((r.broker_name.as_str(), r.queue_id), want, "key {key}");
    }
    // Within each key's queue, the rounds are stored in send order.
    for key in keys {
        let (b, q) = queue_list[select_by_hash(key, 8)];
        let rounds: Vec<String> = w
            .sim
            .messages(b, "TopicTest", q)
            .iter()
            .map(|m| String::from_utf8(m.body()).unwrap())
            .filter(|s| s.starts_with(&format!("{key}:")))
            .collect();
        let want: Vec<String> = (0..5).map(|r| format!("{key}:{r}")).collect();
        assert_eq!(rounds, want);
    }
}

#[test]
fn an_ordered_send_is_not_retried_on_another_queue() {
    let mut w = world(&[("broker-a", A), ("broker-b", B)]);
    let first = send(&mut w, 0);
    w.run_until(10_000, |w| outcomes(w).contains_key(&first))
        .unwrap();
    // Every send to either broker fails once with a retryable code.
    w.sim.fail_next(
        A,
        rocketmq_proto::codes::RequestCode::SEND_MESSAGE_V2,
        rocketmq_proto::codes::ResponseCode::SYSTEM_BUSY,
        1,
    );
    w.sim.fail_next(
        B,
        rocketmq_proto::codes::RequestCode::SEND_MESSAGE_V2,
        rocketmq_proto::codes::ResponseCode::SYSTEM_BUSY,
        1,
    );
    let now = w.now;
    let id = w
        .client()
        .send_ordered(
            Instant::from_millis(now),
            0,
            &Message::new("TopicTest", b"o"),
            "k",
        )
        .unwrap();
    w.run_until(10_000, |w| outcomes(w).contains_key(&id))
        .unwrap();
    assert!(matches!(&outcomes(&w)[&id], Err(SendError::Broker { .. })));
    let total = w.sim.request_count(A, RequestCode::SEND_MESSAGE_V2)
        + w.sim.request_count(B, RequestCode::SEND_MESSAGE_V2);
    assert_eq!(total, 2, "the warm-up send and exactly one ordered attempt");
}

#[test]
fn large_bodies_are_compressed_like_java_and_decompress_to_the_original() {
    use rocketmq_proto::message::RecordIter;
    let mut w = world(&[("broker-a", A)]);
    let body: Vec<u8> = (0..10_000u32).map(|i| (i % 7) as u8 + b'a').collect();
    let small = b"small".to_vec();
    let mut ids = Vec::new();
    for b in [&body, &small] {
        let now = w.now;
        let id = w
            .client()
            .send(
                Instant::from_millis(now),
                0,
                &Message::new("TopicTest", b),
                SendMode::Sync,
            )
            .unwrap();
        ids.push(id);
        w.run_until(10_000, |w| outcomes(w).contains_key(&id))
            .unwrap();
    }
    let outs = outcomes(&w);
    let mut seen = 0;
    for id in &ids {
        let r = outs[id].as_ref().unwrap();
        let stored = w.sim.messages("broker-a", "TopicTest", r.queue_id);
        let m = stored
            .iter()
            .find(|m| m.queue_offset == r.queue_offset)
            .unwrap();
        let rec = RecordIter::new(&m.record).next().unwrap().unwrap();
        let plain = rec.decompressed_body(1 << 20).unwrap();
        if plain.len() == body.len() {
            assert_eq!(
                rec.sys_flag.0 & 0x301,
                0x301,
                "zlib-compressed, as Java marks it"
            );
            assert!(rec.body.len() < body.len() / 4, "and actually smaller");
            assert_eq!(&plain[..], &body[..]);
        } else {
            assert_eq!(rec.sys_flag.0 & 0x1, 0, "below 4 KiB: sent as is");
            assert_eq!(&plain[..], &small[..]);
        }
        seen += 1;
    }
    assert_eq!(seen, 2);
}

#[test]
fn transactions_commit_rollback_and_answer_the_brokers_check() {
    use rocketmq_proto::header::TransactionResolution;
    let mut w = world(&[("broker-a", A)]);
    let half = |w: &mut World, body: &[u8]| {
        let now = w.now;
        let id = w
            .client()
            .send_transactional(
                Instant::from_millis(now),
                0,
                &Message::new("TopicTest", body),
            )
            .unwrap();
        w.run_until(10_000, |w| outcomes(w).contains_key(&id))
            .unwrap();
        outcomes(w)[&id].clone().unwrap()
    };
    let visible = |w: &World| -> Vec<String> {
        (0..4)
            .flat_map(|q| w.sim.messages("broker-a", "TopicTest", q))
            .map(|m| String::from_utf8(m.body()).unwrap())
            .collect()
    };
    let commit = half(&mut w, b"commit-me");
    let rollback = half(&mut w, b"roll-me-back");
    let checked = half(&mut w, b"ask-me");
    assert!(visible(&w).is_empty(), "half messages are invisible");
    assert_eq!(w.sim.pending_half_messages("broker-a").len(), 3);

    w.client()
        .end_transaction(&commit, TransactionResolution::Commit)
        .unwrap();
    w.client()
        .end_transaction(&rollback, TransactionResolution::Rollback)
        .unwrap();
    w.advance(100);
    assert_eq!(visible(&w), ["commit-me"]);
    assert_eq!(w.sim.pending_half_messages("broker-a").len(), 1);

    // The broker checks the third one; the application commits it.
    let offset = rocketmq_proto::message::OffsetMsgId::parse(&checked.offset_msg_id)
        .unwrap()
        .commit_log_offset;
    let now = w.now;
    assert!(w.sim.check_transaction_state(now, A, offset).is_some());
    let mut check = None;
    w.run_until(5_000, |w| {
        for e in std::mem::take(&mut w.nodes[0].events) {
            if let Event::CheckTransaction { id } = e {
                check = Some(id);
            }
        }
        check.is_some()
    })
    .unwrap();
    let id = check.unwrap();
    let c = w.client().transaction_check(id).unwrap().clone();
    assert_eq!(
        c.msg_id, checked.msg_id,
        "the check names the half message's UNIQ_KEY"
    );
    assert_eq!(c.producer_group.as_str(), "PG");
    assert_eq!(c.topic.as_str(), "TopicTest");
    w.client()
        .answer_check(id, TransactionResolution::Commit)
        .unwrap();
    assert!(w.client().transaction_check(id).is_none());
    w.advance(100);
    let mut v = visible(&w);
    v.sort();
    assert_eq!(v, ["ask-me", "commit-me"]);
    assert!(w.sim.pending_half_messages("broker-a").is_empty());
}

#[test]
fn a_batch_is_stored_in_order_with_one_uniq_key_per_message() {
    let mut w = world(&[("broker-a", A)]);
    let bodies: Vec<String> = (0..5).map(|i| format!("batch-{i}")).collect();
    let msgs: Vec<Message> = bodies
        .iter()
        .map(|b| Message {
            tags: Some("TagB"),
            ..Message::new("TopicTest", b.as_bytes())
        })
        .collect();
    let now = w.now;
    let id = w
        .client()
        .send_batch(Instant::from_millis(now), 0, &msgs)
        .unwrap();
    w.run_until(10_000, |w| outcomes(w).contains_key(&id))
        .unwrap();
    let r = outcomes(&w)[&id].clone().unwrap();
    assert_eq!(w.sim.request_count(A, RequestCode::SEND_BATCH_MESSAGE), 1);
    let stored = w.sim.messages("broker-a", "TopicTest", r.queue_id);
    let got: Vec<(String, String)> = stored
        .iter()
        .filter(|m| m.queue_offset >= r.queue_offset)
        .map(|m| (String::from_utf8(m.body()).unwrap(), m.uniq_key().unwrap()))
        .collect();
    assert_eq!(
        got.iter().map(|(b, _)| b.clone()).collect::<Vec<_>>(),
        bodies
    );
    let keys: BTreeSet<&str> = got.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(keys.len(), 5, "each message keeps its own UNIQ_KEY");
    assert_eq!(got[0].1, r.msg_id.as_str());
    for m in stored.iter().filter(|m| m.queue_offset >= r.queue_offset) {
        assert_eq!(m.tags_code, rocketmq_proto::message::tag_hash("TagB"));
    }
    // Mixed topics are refused before any I/O.
    let mixed = [Message::new("TopicTest", b"a"), Message::new("Other", b"b")];
    assert!(w
        .client()
        .send_batch(Instant::from_millis(now), 0, &mixed)
        .is_err());
}

#[test]
fn more_sends_than_a_chunk_waiting_for_a_route_all_go_out_when_it_arrives() {
    // One route answer must wake every send waiting for it, however many: the next
    // refresh is 30 s away, past their 3 s deadline.
    let cfg = SimConfig::new(NS).broker(
        BrokerSpec::new("broker-a", A)
            .topic(TopicSpec::new("TopicTest", 4))
            .topic(TopicSpec::new("Second", 4)),
    );
    let mut w = world(&[]);
    w.sim = Sim::new(cfg);
    let first = send(&mut w, 0);
    w.run_until(10_000, |w| outcomes(w).contains_key(&first))
        .unwrap();
    w.advance(1_000); // past the first periodic refresh (10 ms after start)
    let now = w.now;
    let ids: Vec<SendId> = (0..100)
        .map(|i| {
            let body = format!("second-{i}");
            w.client()
                .send(
                    Instant::from_millis(now),
                    0,
                    &Message::new("Second", body.as_bytes()),
                    SendMode::Sync,
                )
                .unwrap()
        })
        .collect();
    w.run_until(10_000, |w| {
        ids.iter().all(|id| outcomes(w).contains_key(id))
    })
    .unwrap();
    let outs = outcomes(&w);
    let failed = ids.iter().filter(|id| outs[id].is_err()).count();
    assert_eq!(failed, 0, "every waiting send went out");
    assert_eq!(
        w.sim.request_count(NS, RequestCode::GET_ROUTEINFO_BY_TOPIC),
        3,
        "TopicTest, its refresh, Second"
    );
}

#[test]
fn every_topic_is_refreshed_not_just_the_first_few() {
    let mut spec = BrokerSpec::new("broker-a", A);
    for i in 0..20 {
        spec = spec.topic(TopicSpec::new(&format!("T{i}"), 1));
    }
    let mut w = world(&[]);
    w.sim = Sim::new(SimConfig::new(NS).broker(spec));
    for i in 0..20 {
        let now = w.now;
        let topic = format!("T{i}");
        let id = w
            .client()
            .send(
                Instant::from_millis(now),
                0,
                &Message::new(&topic, b"x"),
                SendMode::Sync,
            )
            .unwrap();
        w.run_until(10_000, |w| outcomes(w).contains_key(&id))
            .unwrap();
    }
    w.advance(1_000); // the first refresh (10 ms after start) is behind us
    let before = w.sim.request_count(NS, RequestCode::GET_ROUTEINFO_BY_TOPIC);
    w.advance(30_000);
    let refreshed = w.sim.request_count(NS, RequestCode::GET_ROUTEINFO_BY_TOPIC) - before;
    assert_eq!(refreshed, 20, "one refresh per topic per 30 s");
}
