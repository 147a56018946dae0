//! `rmq` against the real NameServer and Broker at `$RMQ_NAMESRV` (scripts/test starts
//! the rocketmq-rust peer): every command a user runs daily, checked through its
//! `--json` output.

use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

fn unique(prefix: &str) -> String {
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    format!("{prefix}_{t}")
}

/// Run `rmq --json args…`; its stdout lines parsed as JSON, or the failure.
fn rmq(args: &[&str]) -> Result<Vec<Value>, String> {
    let ns = std::env::var("RMQ_NAMESRV").expect("RMQ_NAMESRV names the peer NameServer");
    let out = Command::new(env!("CARGO_BIN_EXE_rmq"))
        .arg("--json")
        .args(args)
        .env("RMQ_NAMESRV", ns)
        .output()
        .expect("rmq runs");
    let stdout = String::from_utf8(out.stdout).unwrap();
    if !out.status.success() {
        return Err(format!(
            "rmq {args:?} failed: {}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect())
}

#[test]
fn topic_route_cluster_send_consume_offsets_and_bench() {
    let cluster = rmq(&["cluster"]).unwrap();
    let brokers = cluster[0]["brokers"].as_array().unwrap();
    assert!(!brokers.is_empty());
    let broker = brokers[0]["name"].as_str().unwrap().to_owned();

    let topic = unique("E2E_cli");
    let created = rmq(&["topic", "create", &topic, "--queues", "2"]).unwrap();
    assert_eq!(created[0]["created"], true);
    // The broker registers the topic with the NameServer on its own schedule.
    let deadline = Instant::now() + Duration::from_secs(40);
    let route = loop {
        match rmq(&["route", &topic]) {
            Ok(r) => break r,
            Err(e) if Instant::now() > deadline => panic!("{e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    };
    let queues = route[0]["queues"].as_array().unwrap();
    assert_eq!(queues.len(), 1);
    assert_eq!(queues[0]["broker"], broker.as_str());
    assert_eq!(queues[0]["writeQueues"], 2);

    let sent = rmq(&["send", "--topic", &topic, "--count", "5", "--tags", "T1"]).unwrap();
    assert_eq!(sent.len(), 5);
    assert!(sent
        .iter()
        .all(|s| s["msgId"].as_str().unwrap().len() == 32));

    let group = unique("CG_cli");
    let got = rmq(&[
        "consume",
        "--topic",
        &topic,
        "--group",
        &group,
        "--from",
        "first",
        "--count",
        "5",
        "--timeout",
        "30",
    ])
    .unwrap();
    assert_eq!(got.len(), 5);
    let mut bodies: Vec<&str> = got.iter().map(|m| m["body"].as_str().unwrap()).collect();
    bodies.sort();
    assert_eq!(
        bodies,
        ["hello-0", "hello-1", "hello-2", "hello-3", "hello-4"]
    );
    assert!(got.iter().all(|m| m["tags"] == "T1"));

    // The consumer committed at shutdown: no lag.
    let offsets = rmq(&["offsets", "--group", &group, "--topic", &topic]).unwrap();
    assert_eq!(offsets[0]["lag"], 0, "{offsets:?}");
    assert_eq!(offsets[0]["queues"].as_array().unwrap().len(), 2);

    // Benchmarks report what they did.
    let p = rmq(&[
        "bench",
        "produce",
        "--topic",
        &topic,
        "--mode",
        "async",
        "--concurrency",
        "100",
        "--count",
        "300",
        "--duration",
        "60",
    ])
    .unwrap();
    assert_eq!(p[0]["messages"], 300, "{p:?}");
    assert_eq!(p[0]["errors"], 0);
    assert!(p[0]["p99_ms"].as_f64().unwrap() >= p[0]["p50_ms"].as_f64().unwrap());
    let s = rmq(&[
        "bench",
        "produce",
        "--topic",
        &topic,
        "--concurrency",
        "4",
        "--count",
        "40",
        "--duration",
        "60",
    ])
    .unwrap();
    assert!(s[0]["messages"].as_u64().unwrap() >= 40, "{s:?}");
    let c = rmq(&[
        "bench",
        "consume",
        "--topic",
        &topic,
        "--count",
        "345",
        "--timeout",
        "60",
    ])
    .unwrap();
    assert!(c[0]["messages"].as_u64().unwrap() >= 345, "{c:?}");

    // A topic that does not exist is a clear error.
    let err = rmq(&["route", &unique("E2E_missing")]).unwrap_err();
    assert!(err.contains("no route"), "{err}");
}
