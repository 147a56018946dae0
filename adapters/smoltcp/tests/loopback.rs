//! rocketmq-smoltcp against scripted servers on smoltcp's loopback device, in virtual
//! time (no root, no network): a NameServer and a broker are listening sockets in the
//! same socket set that answer whole frames, written back in small pieces so the
//! client sees frames arrive in parts and wrap around its socket's ring buffer.

// A SendError is returned once per test send.
#![allow(clippy::result_large_err)]

use rocketmq_proto::codes::{RequestCode, ResponseCode, SerializeType};
use rocketmq_proto::collections::Tailored;
use rocketmq_proto::command::{Command, CommandEncoder, Header};
use rocketmq_proto::engine::client::{Config, Event, Message, SendError};
use rocketmq_proto::engine::client_id::{ClientId, InstanceName};
use rocketmq_proto::ext::NoFields;
use rocketmq_proto::frame::{Decoded, FrameDecoder};
use rocketmq_smoltcp::Client;
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Loopback, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr};

type Mq = Client<Tailored<4, 1, 1, 0>, heapless::Vec<u8, 1024>, 8, 2, 1024>;

const NAMESRV_PORT: u16 = 9876;
const BROKER_PORT: u16 = 10911;

fn response(opaque: i32, fields: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let enc = CommandEncoder::new(SerializeType::Json);
    let h = Header::response(ResponseCode::SUCCESS, opaque);
    let mut out = vec![0u8; enc.frame_len(&h, fields, body).unwrap()];
    let n = if fields.is_empty() {
        enc.encode(&mut out, &h, &NoFields, body).unwrap()
    } else {
        enc.encode(&mut out, &h, fields, body).unwrap()
    };
    out.truncate(n);
    out
}

fn route(padding: usize) -> Vec<u8> {
    format!(
        r#"{{"brokerDatas":[{{"brokerAddrs":{{0:"127.0.0.1:{BROKER_PORT}"}},"brokerName":"b","cluster":"c{}"}}],"filterServerTable":{{}},"queueDatas":[{{"brokerName":"b","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}}]}}"#,
        "x".repeat(padding)
    )
    .into_bytes()
}

/// A scripted server: one listening socket, re-armed after each connection; answers
/// every whole request frame, writing at most `piece` bytes per poll.
struct Server {
    handle: SocketHandle,
    port: u16,
    inbox: Vec<u8>,
    outbox: Vec<u8>,
    piece: usize,
    /// Padding of route bodies (a large one makes a frame the client cannot take).
    route_padding: usize,
    requests: Vec<RequestCode>,
    /// Connections accepted.
    connections: usize,
    listening: bool,
}

impl Server {
    fn new(sockets: &mut SocketSet<'static>, port: u16, piece: usize) -> Server {
        let handle = sockets.add(tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 8192]),
            tcp::SocketBuffer::new(vec![0; 8192]),
        ));
        Server {
            handle,
            port,
            inbox: Vec::new(),
            outbox: Vec::new(),
            piece,
            route_padding: 0,
            requests: Vec::new(),
            connections: 0,
            listening: false,
        }
    }

    fn poll(&mut self, sockets: &mut SocketSet<'static>) {
        let s = sockets.get_mut::<tcp::Socket>(self.handle);
        if !s.is_open() {
            s.listen(self.port).unwrap();
            self.inbox.clear();
            self.outbox.clear();
        }
        if s.state() == tcp::State::CloseWait {
            s.close();
        }
        if s.is_listening() {
            self.listening = true;
        } else if self.listening && s.state() == tcp::State::Established {
            self.listening = false;
            self.connections += 1;
        }
        if s.may_recv() && s.can_recv() {
            let mut buf = [0u8; 2048];
            let n = s.recv_slice(&mut buf).unwrap();
            self.inbox.extend_from_slice(&buf[..n]);
        }
        while let Ok(Decoded::Frame { frame, consumed }) = FrameDecoder::new().decode(&self.inbox) {
            let cmd = Command::decode(frame).unwrap();
            let code = cmd.header.request_code();
            self.requests.push(code);
            let opaque = cmd.header.opaque;
            let answer = if cmd.header.is_oneway() {
                None
            } else if code == RequestCode::GET_ROUTEINFO_BY_TOPIC {
                Some(response(opaque, &[], &route(self.route_padding)))
            } else if code == RequestCode::SEND_MESSAGE_V2 {
                Some(response(
                    opaque,
                    &[
                        ("msgId", "7F00000100002A9F0000000000001000"),
                        ("queueId", "1"),
                        ("queueOffset", "7"),
                    ],
                    b"",
                ))
            } else {
                Some(response(opaque, &[], b""))
            };
            self.outbox.extend(answer.unwrap_or_default());
            self.inbox.drain(..consumed);
        }
        if !self.outbox.is_empty() && s.can_send() {
            let n = self.outbox.len().min(self.piece);
            let sent = s.send_slice(&self.outbox[..n]).unwrap();
            self.outbox.drain(..sent);
        }
    }
}

struct World {
    device: Loopback,
    iface: Interface,
    sockets: SocketSet<'static>,
    mq: Box<Mq>,
    namesrv: Server,
    broker: Server,
    now: Instant,
}

impl World {
    /// The client's sockets receive into `client_rx`-byte ring buffers.
    fn new(client_rx: usize, piece: usize) -> World {
        let mut device = Loopback::new(Medium::Ethernet);
        let config = IfaceConfig::new(EthernetAddress([2, 0, 0, 0, 0, 1]).into());
        let now = Instant::from_millis(0);
        let mut iface = Interface::new(config, &mut device, now);
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8)).unwrap();
        });
        let mut sockets = SocketSet::new(Vec::new());
        let namesrv = Server::new(&mut sockets, NAMESRV_PORT, piece);
        let broker = Server::new(&mut sockets, BROKER_PORT, piece);
        let handles: [SocketHandle; 2] = std::array::from_fn(|_| {
            sockets.add(tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; client_rx]),
                tcp::SocketBuffer::new(vec![0; 2048]),
            ))
        });
        let id = ClientId::build("127.0.0.1", InstanceName::Named("loop"), None).unwrap();
        let addr = format!("127.0.0.1:{NAMESRV_PORT}");
        let mq = Box::new(Mq::new(Config::new(id), &addr, 1, now, &iface, handles).unwrap());
        World {
            device,
            iface,
            sockets,
            mq,
            namesrv,
            broker,
            now,
        }
    }

    /// Run in 1 ms steps until an event is `Some(..)` from `f`, or `limit_ms` passes.
    fn run<T>(&mut self, limit_ms: i64, mut f: impl FnMut(Event) -> Option<T>) -> Option<T> {
        let end = self.now + smoltcp::time::Duration::from_millis(limit_ms as u64);
        while self.now < end {
            self.iface
                .poll(self.now, &mut self.device, &mut self.sockets);
            self.namesrv.poll(&mut self.sockets);
            self.broker.poll(&mut self.sockets);
            while let Some(e) = self.mq.poll(self.now, &mut self.iface, &mut self.sockets) {
                if let Some(t) = f(e) {
                    return Some(t);
                }
            }
            self.now += smoltcp::time::Duration::from_millis(1);
        }
        None
    }

    fn send(&mut self, body: &[u8]) -> Result<(), SendError> {
        let id = self.mq.send(self.now, &Message::new("T", body)).unwrap();
        self.run(5_000, |e| match e {
            Event::SendOk { id: got, receipt } if got == id => {
                assert_eq!(receipt.queue_offset, 7);
                Some(Ok(()))
            }
            Event::SendFailed { id: got, error } if got == id => Some(Err(error)),
            _ => None,
        })
        .expect("the send ends")
    }
}

#[test]
fn frames_in_pieces_and_around_the_ring_buffer_are_read_whole() {
    // 7-byte pieces; a 600-byte receive ring: every few answers wrap around it.
    let mut w = World::new(600, 7);
    w.mq.register_producer("PG").unwrap();
    for i in 0..40 {
        w.send(format!("m{i}").as_bytes())
            .unwrap_or_else(|e| panic!("send {i}: {e:?}"));
    }
    let sends = w
        .broker
        .requests
        .iter()
        .filter(|c| **c == RequestCode::SEND_MESSAGE_V2)
        .count();
    assert_eq!(sends, 40);
    assert_eq!(w.broker.connections, 1, "one broker connection throughout");
}

#[test]
fn a_frame_larger_than_the_frame_buffer_closes_the_connection_and_fails_the_send() {
    let mut w = World::new(4096, 512);
    // A route answer of about 1.3 KiB: the client's frames are 1 KiB.
    w.namesrv.route_padding = 1_200;
    w.mq.register_producer("PG").unwrap();
    let err = w.send(b"x").unwrap_err();
    assert!(
        matches!(err, SendError::NoRoute | SendError::Timeout),
        "{err:?}"
    );
    assert!(
        w.namesrv.connections >= 2,
        "the connection was dropped and made anew: {}",
        w.namesrv.connections
    );
    assert_eq!(w.broker.connections, 0);
    // Small routes again: the client recovers.
    w.namesrv.route_padding = 0;
    w.run(3_000, |_| None::<()>);
    w.send(b"y").unwrap();
}

#[test]
fn a_broker_that_closes_is_reconnected_and_the_send_succeeds() {
    let mut w = World::new(4096, 64);
    w.mq.register_producer("PG").unwrap();
    w.send(b"first").unwrap();
    // The broker closes its end (as a restart would).
    w.sockets.get_mut::<tcp::Socket>(w.broker.handle).abort();
    w.run(50, |_| None::<()>);
    w.send(b"second").unwrap();
    assert_eq!(w.broker.connections, 2);
}
