//! Shared helpers for the test suites: loading the captured frames and vectors, a
//! deterministic NameServer/broker simulation ([`sim`]) for engine tests, and a
//! fault-injecting TCP proxy ([`fault`]) for tests against real servers.

pub mod drive;
pub mod fault;
pub mod sim;

/// A name no earlier test used: `<prefix>_<µs since the epoch>` (end-to-end tests
/// share one broker, so every test takes its own topics and groups).
pub fn unique(prefix: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    format!("{prefix}_{t}")
}
