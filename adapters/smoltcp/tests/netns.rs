//! rocketmq-smoltcp on a real network stack: smoltcp runs in this process on a TUN
//! device that lives in a network namespace the test creates, and produces and
//! consumes 100 messages through the real NameServer and Broker at `$RMQ_NAMESRV`.
//!
//! ```text
//!  this process                 namespace rmqsmol-<pid>          default namespace
//!  smoltcp 10.77.0.2 ── TUN ──▶ kernel 10.77.0.1                  (loopback only)
//!                               socat :9876  ── unix socket ──▶ socat ─▶ NameServer proxy
//!                               socat :<broker port> ─ unix ──▶ socat ─▶ broker 127.0.0.1
//! ```
//!
//! The NameServer proxy ([`FaultProxy::start_rewriting`]) rewrites the broker's
//! address in routes to `10.77.0.1:<port>`, where the namespace's relay forwards it.
//! No address outside loopback and the namespace is used. Needs root.

use std::collections::BTreeSet;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use rocketmq_proto::body::ConsumeFromWhere;
use rocketmq_proto::collections::Tailored;
use rocketmq_proto::engine::client::{Config, ConsumerConfig, Event, Message};
use rocketmq_proto::engine::client_id::{ClientId, InstanceName};
use rocketmq_smoltcp::Client;
use rocketmq_tests::fault::FaultProxy;
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{wait, Medium, TunTapInterface};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address};

/// The device configuration (under 16 KiB, `tests/footprint.rs`): 2 entries per table,
/// one send at a time, one delivered batch, no extras; 1 KiB message buffers; 4
/// requests in flight; 2 sockets (the NameServer and the broker); 4 KiB frame buffers.
type Mq = Client<Tailored<2, 1, 1, 0>, heapless::Vec<u8, 1024>, 4, 2, 4096>;

const KERNEL_IP: &str = "10.77.0.1";
const SMOLTCP_IP: Ipv4Address = Ipv4Address::new(10, 77, 0, 2);

fn sh(args: &[&str]) {
    let st = Command::new(args[0])
        .args(&args[1..])
        .status()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(st.success(), "{args:?} failed: {st}");
}

/// The namespace, TUN device and relays; removed on drop.
struct Netns {
    name: String,
    relays: Vec<Child>,
    sockets: Vec<String>,
}

impl Netns {
    fn create(name: &str, tun: &str) -> Netns {
        let _ = Command::new("ip")
            .args(["netns", "del", name])
            .stderr(Stdio::null())
            .status();
        sh(&["ip", "netns", "add", name]);
        let ns = Netns {
            name: name.to_string(),
            relays: Vec::new(),
            sockets: Vec::new(),
        };
        sh(&["ip", "-n", name, "link", "set", "lo", "up"]);
        let _ = Command::new("ip")
            .args(["tuntap", "del", "dev", tun, "mode", "tun"])
            .stderr(Stdio::null())
            .status();
        sh(&["ip", "tuntap", "add", "dev", tun, "mode", "tun"]);
        ns
    }

    /// After the device is opened: move it into the namespace (the open file stays
    /// attached) and give the kernel's end its address.
    fn take_tun(&self, tun: &str) {
        sh(&["ip", "link", "set", tun, "netns", &self.name]);
        let cidr = format!("{KERNEL_IP}/24");
        sh(&["ip", "-n", &self.name, "addr", "add", &cidr, "dev", tun]);
        sh(&["ip", "-n", &self.name, "link", "set", tun, "up"]);
    }

    /// `KERNEL_IP:port` inside the namespace forwards to `127.0.0.1:target` outside,
    /// through a unix socket (which crosses namespaces; TCP would not).
    fn relay(&mut self, port: u16, target: u16) {
        let sock = format!("/tmp/{}-{port}.sock", self.name);
        let _ = std::fs::remove_file(&sock);
        let outside = Command::new("socat")
            .arg(format!("UNIX-LISTEN:{sock},fork"))
            .arg(format!("TCP:127.0.0.1:{target}"))
            .stderr(Stdio::null())
            .spawn()
            .expect("socat (installed by the peer's start.sh)");
        self.relays.push(outside);
        self.sockets.push(sock.clone());
        for _ in 0..100 {
            if std::path::Path::new(&sock).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let inside = Command::new("ip")
            .args(["netns", "exec", &self.name, "socat"])
            .arg(format!("TCP-LISTEN:{port},bind={KERNEL_IP},fork,reuseaddr"))
            .arg(format!("UNIX-CONNECT:{sock}"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.relays.push(inside);
    }
}

impl Netns {
    /// Cut every connection through the relay of `port` (the relay processes and
    /// their forks die: both ends see their connection close), then relay anew.
    fn cut(&mut self, port: u16, target: u16) {
        let sock = format!("/tmp/{}-{port}.sock", self.name);
        sh(&["pkill", "-f", &sock]);
        for r in &mut self.relays {
            let _ = r.try_wait();
        }
        std::thread::sleep(Duration::from_millis(200));
        self.relay(port, target);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for r in &mut self.relays {
            let _ = r.kill();
            let _ = r.wait();
        }
        for s in &self.sockets {
            let _ = std::fs::remove_file(s);
        }
        // Deleting the namespace deletes the TUN device in it.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn unique(prefix: &str) -> String {
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    format!("{prefix}_{t}")
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit_once(':').unwrap().1.parse().unwrap()
}

/// smoltcp on the TUN device, and the client on two of its sockets.
struct Stack {
    device: TunTapInterface,
    iface: Interface,
    sockets: SocketSet<'static>,
    mq: Box<Mq>,
    origin: std::time::Instant,
}

impl Stack {
    fn now(&self) -> Instant {
        Instant::from_millis(self.origin.elapsed().as_millis() as i64)
    }

    /// Poll until `done` says so for an event, or `limit` passes.
    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Mq, Event) -> bool) {
        let end = std::time::Instant::now() + limit;
        while std::time::Instant::now() < end {
            let now = self.now();
            self.iface.poll(now, &mut self.device, &mut self.sockets);
            while let Some(e) = self.mq.poll(now, &mut self.iface, &mut self.sockets) {
                if done(&mut self.mq, e) {
                    self.iface.poll(now, &mut self.device, &mut self.sockets);
                    return;
                }
            }
            self.iface.poll(now, &mut self.device, &mut self.sockets);
            let delay = [
                self.iface.poll_delay(now, &self.sockets),
                self.mq.poll_delay(now),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(smoltcp::time::Duration::from_millis(50))
            .min(smoltcp::time::Duration::from_millis(50));
            wait(self.device.as_raw_fd(), Some(delay)).unwrap();
        }
        panic!("not done within {limit:?}");
    }
}

#[test]
fn smoltcp_on_a_tun_device_produces_and_pull_consumes_100_messages() {
    let namesrv = std::env::var("RMQ_NAMESRV").expect("RMQ_NAMESRV names the peer");
    let pid = std::process::id();
    let ns_name = format!("rmqsmol-{pid}");
    let tun = format!("rmqtun{}", pid % 100_000);

    // The broker's address as registered, and a NameServer proxy that rewrites it.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (broker_addr, proxy) = rt.block_on(async {
        let admin = rocketmq_tokio::Admin::start(rocketmq_tokio::ClientOptions::new(&namesrv))
            .await
            .unwrap();
        let cluster = admin.cluster().await.expect("the NameServer answers");
        admin.shutdown().await;
        let addr = cluster.brokers[0].addrs[0].1.clone();
        let inside = format!("{KERNEL_IP}:{}", port_of(&addr));
        let proxy = FaultProxy::start_rewriting(
            &namesrv,
            vec![(format!("\"{addr}\""), format!("\"{inside}\""))],
        )
        .await
        .unwrap();
        (addr, proxy)
    });

    let mut ns = Netns::create(&ns_name, &tun);
    let mut device = TunTapInterface::new(&tun, Medium::Ip).expect("open the TUN device");
    ns.take_tun(&tun);
    ns.relay(9876, proxy.addr().port());
    ns.relay(port_of(&broker_addr), port_of(&broker_addr));

    let origin = std::time::Instant::now();
    let mut iface = Interface::new(
        IfaceConfig::new(HardwareAddress::Ip),
        &mut device,
        Instant::from_millis(0),
    );
    iface.update_ip_addrs(|a| {
        a.push(IpCidr::new(IpAddress::Ipv4(SMOLTCP_IP), 24))
            .unwrap();
    });
    let mut sockets = SocketSet::new(Vec::new());
    let handles: [SocketHandle; 2] = std::array::from_fn(|_| {
        sockets.add(tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 8192]),
            tcp::SocketBuffer::new(vec![0; 4096]),
        ))
    });
    let id = ClientId::build("10.77.0.2", InstanceName::Named(&unique("smol")), None).unwrap();
    let namesrv_inside = format!("{KERNEL_IP}:9876");
    let mq = Box::new(
        Mq::new(
            Config::new(id),
            &namesrv_inside,
            pid,
            Instant::from_millis(0),
            &iface,
            handles,
        )
        .unwrap(),
    );
    let mut stack = Stack {
        device,
        iface,
        sockets,
        mq,
        origin,
    };
    let wall = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let now = stack.now();
    stack.mq.set_wall_clock(now, wall);

    // Produce 100, one at a time (the device sends one at a time).
    let topic = unique("E2E_smoltcp");
    stack.mq.register_producer(&unique("PG")).unwrap();
    let mut stored = 0;
    let mut tries = 0;
    let mut failed_after_cut = 0;
    let mut cut = false;
    while stored < 100 {
        if stored == 50 && !cut {
            // Reconnect: the broker connection dies under the client.
            ns.cut(port_of(&broker_addr), port_of(&broker_addr));
            cut = true;
        }
        let body = format!("m{stored}");
        let now = stack.now();
        let id = stack
            .mq
            .send(now, &Message::new(&topic, body.as_bytes()))
            .unwrap();
        let mut ok = false;
        stack.run_until(Duration::from_secs(10), |_, e| match e {
            Event::SendOk { id: i, .. } if i == id => {
                ok = true;
                true
            }
            Event::SendFailed { id: i, error } if i == id => {
                eprintln!("send {stored} failed: {error:?}");
                true
            }
            _ => false,
        });
        if ok {
            stored += 1;
        } else if stored == 0 {
            // A freshly started broker may not have registered TBW102 yet.
            tries += 1;
            assert!(tries < 30, "the broker never took a message");
            std::thread::sleep(Duration::from_secs(1));
        } else {
            // At most the send that met the cut connection fails (at-least-once:
            // it is sent again).
            failed_after_cut += 1;
            assert!(
                stored == 50 && failed_after_cut <= 1,
                "send {stored} failed"
            );
        }
    }

    // Pull-consume them with a subscription (rebalanced), then commit.
    let group = unique("CG");
    let mut cfg = ConsumerConfig::lite_pull(&group);
    cfg.from_where = ConsumeFromWhere::FirstOffset;
    // The default 32 messages a pull would not fit a 4 KiB frame: the engine asks the
    // broker for at most its 1 KiB message buffer (`maxMsgBytes`), and gets it.
    let now = stack.now();
    stack.mq.subscribe(now, &cfg, &topic, "*").unwrap();
    let mut got = BTreeSet::new();
    let origin = stack.origin;
    stack.run_until(Duration::from_secs(60), |mq, e| {
        if let Event::Messages { id } = e {
            if let Some(d) = mq.delivery(id) {
                for m in d.messages() {
                    got.insert(String::from_utf8(m.body.to_vec()).unwrap());
                }
            }
            let now = Instant::from_millis(origin.elapsed().as_millis() as i64);
            mq.ack(now, id);
        }
        got.len() == 100
    });
    assert!(got.contains("m0") && got.contains("m99"));
    stack.mq.commit();
    let now = stack.now();
    stack
        .mq
        .shutdown(now, smoltcp::time::Duration::from_millis(1_000));
    stack.run_until(Duration::from_secs(10), |_, e| {
        matches!(e, Event::ShutdownComplete)
    });
    eprintln!(
        "client: {} bytes (engine, 2 sockets, two 4 KiB frame buffers)",
        std::mem::size_of::<Mq>()
    );
    drop(ns);
    drop(proxy);
}
