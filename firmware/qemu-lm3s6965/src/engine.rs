//! The sans-IO client engine on the device, against a NameServer and a broker played
//! here frame by frame (as `core/tests/engine_producer.rs` does on the host): every
//! frame the engine writes is decoded and checked, and answered with real frames.

use core::mem::MaybeUninit;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use rocketmq_proto::codes::{RequestCode, ResponseCode, SerializeType};
use rocketmq_proto::collections::Tailored;
use rocketmq_proto::command::{Command, CommandEncoder, Header};
use rocketmq_proto::engine::client::{
    Client, Config, ConsumerConfig, Event, Message, SendReceipt, DEFAULT_TOPIC,
};
use rocketmq_proto::engine::client_id::{ClientId, InstanceName};
use rocketmq_proto::engine::{ConnId, Instant};
use rocketmq_proto::ext::{EncodeFields, ErasedFields, NoFields};
use rocketmq_proto::frame::{Decoded, FrameDecoder};
use rocketmq_proto::message::{
    keys, record, MessageRecord, MessageSysFlag, MessageVersion, PropertiesView, UniqKeyGenerator,
};
use rocketmq_proto::producer::retry::{SendMode, SendStatus};
use rocketmq_proto::text::Text;

use crate::check::Fail;

/// The engine as a small device would size it: 4 entries per table, one send at a
/// time, one delivered batch, no calls / request-reply / forwarded messages; 1 KiB
/// message buffers; 8 requests in flight.
pub type Device = Client<Lists, heapless::Vec<u8, 1024>, 8>;

/// The engine's collections; the codec checks decode routes with them too, so the
/// route decoder exists once in flash.
pub type Lists = Tailored<4, 1, 1, 0>;

/// Frame buffers: what the engine writes, what the peer answers.
pub struct Wire {
    tx: [u8; 2048],
    rx: [u8; 2048],
}

impl Wire {
    pub const fn new() -> Self {
        Wire {
            tx: [0; 2048],
            rx: [0; 2048],
        }
    }
}

/// What the engine scenarios run on: one engine slot and the frame buffers, both
/// statics, so the engine's RAM shows in `.bss`.
pub struct Ctx {
    pub device: &'static mut MaybeUninit<Device>,
    pub wire: &'static mut Wire,
}

type R = Result<(), Fail>;

const NS: &str = "10.0.0.1:9876";
const BROKER: &str = "10.0.0.3:10911";
const TOPIC: &str = "TopicTest";
const ROUTE: &[u8] = br#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.3:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#;
const OFFSET_MSG_ID: &str = "0A00000300002A9F0000000000001000";
const WALL_MS: i64 = 1_700_000_000_000;
/// The stored message the broker holds at queue 2, offset 5.
const PULLED_BODY: &[u8] = b"hello from the emulated broker";
const PULLED_PROPS: &str = "TAGS\u{1}TagA\u{2}UNIQ_KEY\u{1}0A00000200012A3B4C5D075BCD150009\u{2}";
const PULLED_QUEUE: i32 = 2;
const PULLED_OFFSET: i64 = 5;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    NameServer,
    Broker,
}

/// The NameServer and the broker: answers every request, remembers what it saw.
#[derive(Default)]
struct Peer {
    conns: heapless::Vec<(ConnId, Role), 4>,
    /// Request codes in arrival order.
    seen: heapless::Vec<i32, 32>,
    /// The send request's queue id and UNIQ_KEY.
    sent: Option<(i32, heapless::String<32>)>,
    send_ok: Option<SendReceipt>,
    offset_queries: u32,
    pulls: heapless::Vec<i64, 8>,
    delivered: u32,
    committed: Option<(i32, i64)>,
}

/// `n` in decimal (through itoa, which the library links anyway, not core::fmt).
fn number(n: i64) -> heapless::String<20> {
    let mut s = heapless::String::new();
    let _ = s.push_str(itoa::Buffer::new().format(n));
    s
}

fn respond<F: EncodeFields>(
    out: &mut [u8],
    code: ResponseCode,
    opaque: i32,
    fields: &F,
    body: &[u8],
) -> Result<usize, Fail> {
    // One encoder for every fields type (the engine's own), not one per type: flash.
    respond_erased(out, code, opaque, ErasedFields::new(fields), body)
}

fn respond_erased(
    out: &mut [u8],
    code: ResponseCode,
    opaque: i32,
    fields: ErasedFields<'_>,
    body: &[u8],
) -> Result<usize, Fail> {
    let enc = CommandEncoder::new(SerializeType::Json);
    Ok(tri!(enc.encode(
        out,
        &Header::response(code, opaque),
        &fields,
        body
    )))
}

impl Peer {
    fn role(&self, conn: ConnId) -> Result<Role, Fail> {
        Ok(some!(self.conns.iter().find(|(c, _)| *c == conn)).1)
    }

    fn connect(&mut self, conn: ConnId, addr: &str) -> R {
        let role = match addr {
            NS => Role::NameServer,
            BROKER => Role::Broker,
            _ => {
                crate::say(&["      connect to unknown address ", addr]);
                fail!("a connect to an unknown address")
            }
        };
        ensure!(self.conns.push((conn, role)).is_ok());
        Ok(())
    }

    /// Answer one frame written by the engine into `out`; the answer's length (0: no
    /// answer, as for oneway requests and held pulls).
    fn answer(&mut self, conn: ConnId, bytes: &[u8], out: &mut [u8]) -> Result<usize, Fail> {
        let role = self.role(conn)?;
        let Decoded::Frame { frame, consumed } = tri!(FrameDecoder::new().decode(bytes)) else {
            fail!("a transmit is not a whole frame");
        };
        ensure!(consumed == bytes.len());
        let cmd = tri!(Command::decode(frame));
        ensure!(!cmd.header.is_response());
        let code = cmd.header.request_code();
        let _ = self.seen.push(code.0);
        let opaque = cmd.header.opaque;
        match (role, code) {
            (Role::NameServer, RequestCode::GET_ROUTEINFO_BY_TOPIC) => {
                if text(&cmd, "topic")? == TOPIC {
                    respond(out, ResponseCode::SUCCESS, opaque, &NoFields, ROUTE)
                } else {
                    respond(out, ResponseCode::TOPIC_NOT_EXIST, opaque, &NoFields, b"")
                }
            }
            (Role::Broker, RequestCode::HEART_BEAT) => {
                respond(out, ResponseCode::SUCCESS, opaque, &NoFields, b"")
            }
            (Role::Broker, RequestCode::SEND_MESSAGE_V2) => {
                ensure!(!cmd.header.is_oneway());
                // SEND_MESSAGE_V2's one-letter keys (wire.md): a producerGroup, b topic,
                // c defaultTopic, e queueId, g bornTimestamp, i properties, n brokerName.
                ensure!(text(&cmd, "a")? == "PG");
                ensure!(text(&cmd, "b")? == TOPIC);
                ensure!(text(&cmd, "c")? == DEFAULT_TOPIC);
                ensure!(int(&cmd, "g")? == WALL_MS);
                ensure!(text(&cmd, "n")? == "broker-a");
                let queue_id = int(&cmd, "e")?;
                ensure!((0..4).contains(&queue_id));
                let props = text(&cmd, "i")?;
                let mut scratch = [0u8; 256];
                let props = tri!(PropertiesView::from_text(&props, &mut scratch));
                ensure!(props.get(keys::TAGS) == Some("TagA"));
                ensure!(props.get(keys::KEYS) == Some("k1"));
                ensure!(props.get(keys::WAIT) == Some("true"));
                let uniq = some!(props.get(keys::UNIQ_KEY));
                ensure!(uniq.len() == 32);
                ensure!(cmd.body == b"hello from qemu");
                self.sent = Some((some!(i32::try_from(queue_id).ok()), tri!(uniq.try_into())));
                let queue = number(queue_id);
                let fields = [
                    ("msgId", OFFSET_MSG_ID),
                    ("queueId", queue.as_str()),
                    ("queueOffset", "41"),
                ];
                respond(out, ResponseCode::SUCCESS, opaque, &fields, b"")
            }
            (Role::Broker, RequestCode::QUERY_CONSUMER_OFFSET) => {
                consumer_request(&cmd)?;
                ensure!(int(&cmd, "queueId")? == i64::from(PULLED_QUEUE));
                self.offset_queries += 1;
                let offset = number(PULLED_OFFSET);
                respond(
                    out,
                    ResponseCode::SUCCESS,
                    opaque,
                    &[("offset", offset.as_str())],
                    b"",
                )
            }
            (Role::Broker, RequestCode::PULL_MESSAGE) => {
                consumer_request(&cmd)?;
                ensure!(int(&cmd, "queueId")? == i64::from(PULLED_QUEUE));
                ensure!(int(&cmd, "maxMsgNums")? > 0);
                let queue_offset = int(&cmd, "queueOffset")?;
                ensure!(self.pulls.push(queue_offset).is_ok());
                if queue_offset != PULLED_OFFSET {
                    // Nothing newer: the broker holds the long poll.
                    return Ok(0);
                }
                let mut body = [0u8; 256];
                let n = tri!(record::encode_to_slice(&mut body, &pulled_record()));
                let fields = [
                    ("suggestWhichBrokerId", "0"),
                    ("nextBeginOffset", "6"),
                    ("minOffset", "0"),
                    ("maxOffset", "6"),
                ];
                respond(out, ResponseCode::SUCCESS, opaque, &fields, &body[..n])
            }
            (Role::Broker, RequestCode::UPDATE_CONSUMER_OFFSET) => {
                consumer_request(&cmd)?;
                let queue_id = some!(i32::try_from(int(&cmd, "queueId")?).ok());
                self.committed = Some((queue_id, int(&cmd, "commitOffset")?));
                if cmd.header.is_oneway() {
                    Ok(0)
                } else {
                    respond(out, ResponseCode::SUCCESS, opaque, &NoFields, b"")
                }
            }
            (role, code) => {
                let to = match role {
                    Role::NameServer => "NameServer",
                    Role::Broker => "broker",
                };
                let mut n = itoa::Buffer::new();
                crate::say(&[
                    "      unexpected request code ",
                    n.format(code.0),
                    " to the ",
                    to,
                ]);
                fail!("an unexpected request")
            }
        }
    }
}

/// A request's header field `key`: present, or the check fails. The peer reads the
/// few fields it checks by name, not through the typed request decoders: those are
/// the broker's side, and the codec checks cover them.
fn text<'a>(cmd: &Command<'a>, key: &str) -> Result<Text<'a>, Fail> {
    Ok(some!(cmd.fields().get(key)))
}

/// A consumer request's group and topic are the scenario's.
fn consumer_request(cmd: &Command<'_>) -> R {
    ensure!(text(cmd, "consumerGroup")? == "CG" && text(cmd, "topic")? == TOPIC);
    Ok(())
}

/// A request's integer header field `key`.
fn int(cmd: &Command<'_>, key: &str) -> Result<i64, Fail> {
    Ok(some!(text(cmd, key)?.parse_i64()))
}

fn pulled_record() -> MessageRecord<'static> {
    MessageRecord {
        version: MessageVersion::V1,
        body_crc: rocketmq_proto::message::body_crc(PULLED_BODY),
        queue_id: PULLED_QUEUE,
        flag: 0,
        queue_offset: PULLED_OFFSET,
        physical_offset: 4096,
        sys_flag: MessageSysFlag(0),
        born_timestamp: WALL_MS - 1_000,
        born_host: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)), 54321),
        store_timestamp: WALL_MS - 990,
        store_host: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)), 10911),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: PULLED_BODY,
        topic: TOPIC,
        properties: PropertiesView::new(PULLED_PROPS),
    }
}

/// A new engine in `slot` (the previous one, if any, is forgotten: it owns nothing).
#[inline(never)]
fn new_device(slot: &mut MaybeUninit<Device>) -> Result<&mut Device, Fail> {
    let id = tri!(ClientId::build(
        "10.0.0.2",
        InstanceName::Named("qemu"),
        None
    ));
    let uniq = UniqKeyGenerator::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 1, 0x2A3B_4C5D);
    let c = slot.write(Device::new(
        Config::new(id),
        uniq,
        7,
        Instant::from_millis(0),
    ));
    tri!(c.set_namesrv(NS));
    Ok(c)
}

/// The adapter's loop (ARCHITECTURE.md, the drain invariant) over the peer: write
/// every transmit to the peer and feed its answer back, act on every event, and when
/// nothing moves advance virtual time to the engine's next timeout — until `done` or
/// `limit_ms` (or a bounded number of rounds, should time stop moving).
/// (One copy in flash for every scenario and goal.)
#[inline(never)]
fn drive(
    c: &mut Device,
    peer: &mut Peer,
    wire: &mut Wire,
    now: &mut u64,
    limit_ms: u64,
    done: &dyn Fn(&Peer) -> bool,
) -> R {
    for _round in 0..10_000 {
        loop {
            let at = Instant::from_millis(*now);
            let mut moved = false;
            while let Some(t) = tri!(c.poll_transmit(at, &mut wire.tx)) {
                moved = true;
                let n = peer.answer(t.conn, &wire.tx[..t.len], &mut wire.rx)?;
                if n > 0 {
                    let used = tri!(c.handle_input(at, t.conn, &wire.rx[..n]));
                    ensure!(used == n);
                }
            }
            while let Some(e) = c.poll_event() {
                moved = true;
                match e {
                    Event::Connect { conn, addr } => {
                        peer.connect(conn, addr.as_str())?;
                        c.handle_connected(at, conn);
                    }
                    Event::SendOk { receipt, .. } => peer.send_ok = Some(receipt),
                    Event::Messages { id } => {
                        let d = some!(c.delivery(id));
                        ensure!(d.topic == TOPIC && d.broker_name == "broker-a");
                        ensure!(d.queue_id == PULLED_QUEUE);
                        let mut n = 0;
                        for m in d.messages() {
                            ensure!(m == pulled_record());
                            ensure!(m.verify_body_crc());
                            ensure!(m.tags() == Some("TagA"));
                            ensure!(m.uniq_key() == Some("0A00000200012A3B4C5D075BCD150009"));
                            n += 1;
                        }
                        ensure!(n == 1);
                        c.ack(at, id);
                        peer.delivered += 1;
                    }
                    other => {
                        crate::say(&["      unexpected event ", event_name(&other)]);
                        fail!("an unexpected event");
                    }
                }
            }
            if !moved {
                break;
            }
        }
        if done(peer) {
            return Ok(());
        }
        let next = some!(c.poll_timeout());
        ensure!(next.as_millis() <= limit_ms);
        *now = (*now).max(next.as_millis());
        c.handle_timeout(Instant::from_millis(*now));
    }
    fail!("10,000 rounds without reaching the goal")
}

/// An event's name (its `Debug` form would cost kilobytes of flash).
fn event_name(e: &Event) -> &'static str {
    match e {
        Event::Connect { .. } => "Connect",
        Event::Close { .. } => "Close",
        Event::SendOk { .. } => "SendOk",
        Event::SendFailed { .. } => "SendFailed",
        Event::Messages { .. } => "Messages",
        Event::ShutdownComplete => "ShutdownComplete",
        Event::CheckTransaction { .. } => "CheckTransaction",
        Event::Reply { .. } => "Reply",
        Event::RequestFailed { .. } => "RequestFailed",
        Event::ConsumeDirectly { .. } => "ConsumeDirectly",
        Event::PersistOffsets => "PersistOffsets",
        Event::CallDone { .. } => "CallDone",
        _ => "(newer event)",
    }
}

fn print_seen(peer: &Peer) {
    let mut line: heapless::String<256> = heapless::String::new();
    // Request codes as numbers: their names would cost 2 KiB of flash.
    for code in &peer.seen {
        let _ = line.push(' ');
        let _ = line.push_str(itoa::Buffer::new().format(*code));
    }
    crate::say(&["      request codes:", line.as_str()]);
}

pub fn producer_sends(ctx: &mut Ctx) -> R {
    let c = new_device(ctx.device)?;
    tri!(c.register_producer("PG"));
    let mut peer = Peer::default();
    let mut now = 0;
    let msg = Message {
        tags: Some("TagA"),
        keys: Some("k1"),
        ..Message::new(TOPIC, b"hello from qemu")
    };
    tri!(c.send(Instant::from_millis(now), WALL_MS, &msg, SendMode::Sync));
    drive(c, &mut peer, ctx.wire, &mut now, 3_000, &|p| {
        p.send_ok.is_some()
    })?;
    print_seen(&peer);
    // Route from the NameServer first, then the send on the broker.
    ensure!(peer.seen.first() == Some(&RequestCode::GET_ROUTEINFO_BY_TOPIC.0));
    ensure!(peer.seen.contains(&RequestCode::SEND_MESSAGE_V2.0));
    let (queue, uniq) = some!(peer.sent.as_ref());
    let r = some!(peer.send_ok.as_ref());
    ensure!(r.status == SendStatus::SendOk);
    ensure!(r.queue_id == *queue && r.queue_offset == 41);
    ensure!(r.msg_id.as_str() == uniq.as_str());
    ensure!(r.offset_msg_id.as_str() == OFFSET_MSG_ID);
    ensure!(r.broker_name.as_str() == "broker-a");
    ensure!(c.pending_sends() == 0 && c.in_flight() == 0);
    Ok(())
}

pub fn pull_consumer(ctx: &mut Ctx) -> R {
    let c = new_device(ctx.device)?;
    let mut peer = Peer::default();
    let mut now = 0;
    let mut cfg = ConsumerConfig::lite_pull("CG");
    cfg.auto_commit = false;
    tri!(c.assign(
        Instant::from_millis(now),
        WALL_MS,
        &cfg,
        &[(TOPIC, "broker-a", PULLED_QUEUE)]
    ));
    // Route, offset lookup, the pull with one message, its delivery and ack, and the
    // next pull (held by the broker) from the offset after it.
    drive(c, &mut peer, ctx.wire, &mut now, 10_000, &|p| {
        p.delivered == 1 && p.pulls.len() >= 2
    })?;
    ensure!(peer.offset_queries == 1);
    ensure!(peer.pulls[0] == PULLED_OFFSET && peer.pulls[1] == PULLED_OFFSET + 1);
    ensure!(c.owned_queues().count() == 1);
    // An explicit commit sends the consumed offset.
    c.commit();
    drive(c, &mut peer, ctx.wire, &mut now, 10_000, &|p| {
        p.committed.is_some()
    })?;
    print_seen(&peer);
    ensure!(peer.committed == Some((PULLED_QUEUE, PULLED_OFFSET + 1)));
    Ok(())
}
