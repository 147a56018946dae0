//! The real peer's second broker (broker-b, `scripts/peer-broker-b`) as a test handle:
//! started fresh, killed with SIGKILL (store kept, NameServer not told) and restarted
//! on the same store, stopped when the handle drops.

use std::path::PathBuf;
use std::process::Command;

/// broker-b for a test's duration (stopped even when the test fails).
pub struct BrokerB {
    _private: (),
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/peer-broker-b")
}

fn run(verb: &str, reuse_store: bool) -> String {
    let port = std::env::var("RMQ_NAMESRV")
        .ok()
        .and_then(|a| a.rsplit_once(':').map(|(_, p)| p.to_owned()))
        .unwrap_or_else(|| "9876".into());
    let mut cmd = Command::new(script());
    cmd.arg(verb).env("RMQ_NAMESRV_PORT", port);
    if reuse_store {
        cmd.env("RMQ_BROKER_B_REUSE_STORE", "1");
    }
    let out = cmd.output().expect("scripts/peer-broker-b runs");
    assert!(
        out.status.success(),
        "peer-broker-b {verb} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl BrokerB {
    /// Start broker-b with a fresh store and wait until the NameServer lists it.
    pub fn start() -> BrokerB {
        run("start", false);
        BrokerB { _private: () }
    }

    /// Its address (`127.0.0.1:<port>`).
    pub fn addr(&self) -> String {
        let port = std::env::var("RMQ_BROKER_B_PORT").unwrap_or_else(|_| "10921".into());
        format!("127.0.0.1:{port}")
    }

    /// SIGKILL: no shutdown, the store stays, the NameServer is not told.
    pub fn kill(&self) {
        run("kill", false);
    }

    /// Start again on the store the kill left; returns once it is registered.
    pub fn restart(&self) {
        run("start", true);
    }
}

impl Drop for BrokerB {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").status();
    }
}
