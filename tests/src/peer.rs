//! The real peer's processes as test handles: its second broker (broker-b,
//! `scripts/peer-broker-b`), started fresh, killed with SIGKILL (store kept, NameServer
//! not told) and restarted on the same store, stopped when the handle drops; and its
//! NameServer (`scripts/peer-namesrv`), killed with SIGKILL and restarted.

use std::path::PathBuf;
use std::process::Command;

/// broker-b for a test's duration (stopped even when the test fails).
pub struct BrokerB {
    _private: (),
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/peer-broker-b")
}

/// The NameServer's port, from `$RMQ_NAMESRV` (9876 without it).
fn namesrv_port() -> String {
    std::env::var("RMQ_NAMESRV")
        .ok()
        .and_then(|a| a.rsplit_once(':').map(|(_, p)| p.to_owned()))
        .unwrap_or_else(|| "9876".into())
}

fn run(verb: &str, reuse_store: bool) -> String {
    let port = namesrv_port();
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

/// The peer's NameServer (the one `$RMQ_NAMESRV` reaches). Dropping the handle
/// restarts it if a test left it killed, so later tests find it running (its brokers
/// register again within 30 s).
pub struct NameServer {
    killed: std::sync::atomic::AtomicBool,
}

fn namesrv_command(verb: &str) -> Command {
    let mut cmd =
        Command::new(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/peer-namesrv"));
    cmd.arg(verb).env("RMQ_NAMESRV_PORT", namesrv_port());
    cmd
}

fn namesrv(verb: &str) {
    let out = namesrv_command(verb)
        .output()
        .expect("scripts/peer-namesrv runs");
    assert!(
        out.status.success(),
        "peer-namesrv {verb} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl NameServer {
    /// A handle on the running NameServer.
    pub fn running() -> NameServer {
        NameServer {
            killed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// SIGKILL: no shutdown; its relays accept connections and close them at once.
    pub fn kill(&self) {
        namesrv("kill");
        self.killed.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Start it again (same port, config and home); returns once it listens. It knows
    /// no broker until they register again (every 30 s).
    pub fn restart(&self) {
        namesrv("restart");
        self.killed
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for NameServer {
    fn drop(&mut self) {
        if self.killed.load(std::sync::atomic::Ordering::SeqCst) {
            let _ = namesrv_command("restart").status();
        }
    }
}
