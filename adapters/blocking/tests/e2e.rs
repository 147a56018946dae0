//! The blocking client over std's TcpStream against the real NameServer and Broker at
//! `$RMQ_NAMESRV`, with the engine in its no-allocator configuration (fixed tables and
//! buffers): produce 100 messages, consume them with a pull consumer, commit.

use std::collections::BTreeSet;
use std::time::SystemTime;

use rocketmq_blocking::{Client, StdClock, StdNetwork};
use rocketmq_proto::collections::Fixed;
use rocketmq_proto::engine::client::{Config, ConsumerConfig, Message};
use rocketmq_proto::engine::client_id::{ClientId, InstanceName};

type Blocking = Client<StdNetwork, StdClock, Fixed<32>, heapless::Vec<u8, 4096>, 32, 4, 32768>;

fn unique(prefix: &str) -> String {
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    format!("{prefix}_{t}")
}

fn client(name: &str) -> Box<Blocking> {
    let ns = std::env::var("RMQ_NAMESRV").expect("RMQ_NAMESRV names the peer");
    let id = ClientId::build("127.0.0.1", InstanceName::Named(name), None).unwrap();
    Box::new(
        Client::new(
            StdNetwork,
            StdClock::new(),
            Config::new(id),
            &ns,
            std::process::id(),
        )
        .unwrap(),
    )
}

#[test]
fn produce_and_pull_consume_100_messages() {
    eprintln!("client size: {} bytes", std::mem::size_of::<Blocking>());
    // Debug builds move the client (fixed tables and buffers, no heap) through the
    // stack a few times while building it: give the test thread room.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(produce_and_consume)
        .unwrap()
        .join()
        .unwrap();
}

fn produce_and_consume() {
    let topic = unique("E2E_blocking");
    let mut producer = client(&unique("p"));
    producer.register_producer(&unique("PG")).unwrap();
    // A freshly started broker may not have registered TBW102 yet.
    let mut first = None;
    for _ in 0..30 {
        match producer.send(&Message::new(&topic, b"m0")) {
            Ok(r) => {
                first = Some(r);
                break;
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_secs(1)),
        }
    }
    assert!(first.is_some(), "the broker never took a message");
    for i in 1..100 {
        let body = format!("m{i}");
        let r = producer
            .send(&Message {
                tags: Some("TagB"),
                ..Message::new(&topic, body.as_bytes())
            })
            .unwrap();
        assert_eq!(r.msg_id.len(), 32);
    }
    producer.shutdown(1_000);

    let group = unique("CG");
    let mut consumer = client(&unique("c"));
    let mut cfg = ConsumerConfig::lite_pull(&group);
    cfg.from_where = rocketmq_proto::body::ConsumeFromWhere::FirstOffset;
    consumer.subscribe(&cfg, &topic, "*").unwrap();
    let mut got = BTreeSet::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while got.len() < 100 && std::time::Instant::now() < deadline {
        consumer
            .poll(1_000, |m| {
                got.insert(String::from_utf8(m.body.to_vec()).unwrap());
            })
            .unwrap();
    }
    assert_eq!(got.len(), 100);
    assert!(got.contains("m0") && got.contains("m99"));
    consumer.commit();
    consumer.shutdown(1_000);
}
