//! Shared helpers for the test suites: loading the captured frames and vectors, a
//! deterministic NameServer/broker simulation ([`sim`]) for engine tests, and a
//! fault-injecting TCP proxy ([`fault`]) for tests against real servers.

pub mod drive;
pub mod fault;
pub mod peer;
pub mod sim;

/// A name no earlier test used: `<prefix>_<µs since the epoch>` (end-to-end tests
/// share one broker, so every test takes its own topics and groups).
pub fn unique(prefix: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    format!("{prefix}_{t}")
}

/// Start `consumer` (configured by the caller: options, group, subscription, start
/// offset) with a listener that keeps every message, wait until `done` holds for what
/// arrived (or `limit` passed), shut it down (offsets committed) and return it all.
pub async fn consume_until(
    consumer: rocketmq_tokio::PushConsumerBuilder,
    limit: std::time::Duration,
    done: impl Fn(&[rocketmq_tokio::ReceivedMessage]) -> bool,
) -> Vec<rocketmq_tokio::ReceivedMessage> {
    use std::sync::{Arc, Mutex};
    let got: Arc<Mutex<Vec<rocketmq_tokio::ReceivedMessage>>> = Arc::default();
    let sink = got.clone();
    let consumer = consumer
        .start(move |msgs| {
            let sink = sink.clone();
            async move {
                sink.lock().expect("listener lock").extend(msgs);
                rocketmq_tokio::ConsumeResult::Success
            }
        })
        .await
        .expect("consumer starts");
    let deadline = tokio::time::Instant::now() + limit;
    while !done(&got.lock().expect("listener lock")) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    consumer.shutdown().await;
    let all = got.lock().expect("listener lock").clone();
    all
}
