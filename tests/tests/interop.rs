//! Interoperability with the rocketmq-rust project's own client (crate
//! rocketmq-client-rust 1.0.0, driven by tests/peer-client through scripts/peer-client):
//! what it sends, we consume intact, and the other way round.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use rocketmq_tokio::{ClientOptions, ConsumeFromWhere, Message, Producer, PushConsumer};

fn namesrv() -> String {
    std::env::var("RMQ_NAMESRV").expect("RMQ_NAMESRV names the peer")
}

use rocketmq_tests::{consume_until, unique};

/// Run the peer client (built on first use, cached under $HOME/.cache); its stdout.
fn peer_client(args: &[&str]) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/peer-client");
    let out = Command::new(script)
        .args(args)
        .env("NAMESRV_ADDR", namesrv())
        .output()
        .expect("scripts/peer-client runs");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "peer-client {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_from_the_peer_client_arrive_intact() {
    let topic = unique("E2E_from_peer");
    let out = peer_client(&["produce", &topic, "10"]);
    assert!(out.lines().any(|l| l == "DONE 10"), "{out}");

    let consumer = PushConsumer::builder(ClientOptions::new(namesrv()), &unique("CG"))
        .subscribe(&topic, "*")
        .from_where(ConsumeFromWhere::FirstOffset);
    let mut got = consume_until(consumer, Duration::from_secs(30), |got| got.len() >= 10).await;
    got.sort_by_key(|m| m.property("index").unwrap().parse::<u32>().unwrap());
    assert_eq!(got.len(), 10);
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.body.as_ref(), format!("interop-{i}").as_bytes());
        assert_eq!(m.tags.as_deref(), Some("TagI"));
        assert_eq!(m.keys.as_deref(), Some(format!("key-{i}").as_str()));
        assert_eq!(m.property("color"), Some("blue"));
        assert_eq!(m.property("index"), Some(i.to_string().as_str()));
        assert_eq!(m.msg_id.len(), 32, "the peer's UNIQ_KEY is our msg id");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_from_us_arrive_intact_at_the_peer_client() {
    let topic = unique("E2E_to_peer");
    let producer = Producer::start(ClientOptions::new(namesrv()), &unique("PG"))
        .await
        .unwrap();
    for i in 0..10 {
        producer
            .send(
                Message::new(&topic, format!("ours-{i}"))
                    .with_tags("TagO")
                    .with_keys(format!("k-{i} other-{i}"))
                    .with_property("color", "green")
                    .with_property("index", i.to_string()),
            )
            .await
            .unwrap();
    }
    producer.shutdown().await;

    let out = peer_client(&["consume", &topic, &unique("CG_peer"), "10", "60"]);
    let mut seen: BTreeMap<u32, String> = BTreeMap::new();
    for line in out.lines().filter(|l| l.starts_with('{')) {
        let index: u32 = field(line, "index").parse().unwrap();
        assert_eq!(field(line, "body"), format!("ours-{index}"), "{line}");
        assert_eq!(field(line, "tags"), "TagO", "{line}");
        assert_eq!(
            field(line, "keys"),
            format!("k-{index} other-{index}"),
            "{line}"
        );
        assert_eq!(field(line, "color"), "green", "{line}");
        seen.insert(index, line.to_owned());
    }
    assert_eq!(seen.len(), 10, "{out}");
}

/// The string value of `"key":"…"` in one of the peer client's JSON lines (flat keys,
/// unique across the line's levels; values here need no unescaping).
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\":\"");
    let start = line
        .find(&pat)
        .unwrap_or_else(|| panic!("{key} missing in {line}"))
        + pat.len();
    let end = line[start..].find('"').unwrap() + start;
    &line[start..end]
}
