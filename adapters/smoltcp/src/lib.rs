//! A RocketMQ client on [smoltcp](https://docs.rs/smoltcp) TCP sockets, for
//! microcontrollers: the [`rocketmq_proto`] engine driven with smoltcp's time.
//!
//! Cargo features `acl`, `orderly` and `admin` (on by default) forward to
//! [`rocketmq_proto`]'s: a device that does without ACL signing, orderly consumption
//! and answers to the broker's admin requests turns them off (`default-features =
//! false`) and saves their flash.
//!
//! `#![no_std]`, no allocator. The application owns the smoltcp [`Interface`], its
//! device and the [`SocketSet`], and hands this client the handles of `CONNS` TCP
//! sockets it created (with buffers of its choosing); the client connects them to the
//! NameServer and brokers as the engine asks. Every capacity is a const generic.
//! Nothing protocol-specific is written here: routes, sends and retries, rebalance,
//! pulls, offsets, heartbeats and reconnects are the engine's.
//!
//! The loop: poll the interface, then this client, until neither has work; sleep until
//! the earlier of [`Interface::poll_delay`] and [`Client::poll_delay`].
//!
//! ```no_run
//! use rocketmq_proto::collections::Tailored;
//! use rocketmq_proto::engine::client::{Config, ConsumerConfig, Event, Message};
//! use rocketmq_proto::engine::client_id::{ClientId, InstanceName};
//! use rocketmq_smoltcp::Client;
//! use smoltcp::iface::{Config as IfaceConfig, Interface, SocketSet, SocketStorage};
//! use smoltcp::phy::Device;
//! use smoltcp::socket::tcp;
//! use smoltcp::time::{Duration, Instant};
//! use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr};
//!
//! // 4 entries per table, 1 send at a time, 1 delivered batch, no extras; 1 KiB
//! // message buffers; 8 requests in flight; 2 connections; 4 KiB frames.
//! type Mq = Client<Tailored<4, 1, 1, 0>, heapless::Vec<u8, 1024>, 8, 2, 4096>;
//!
//! fn run(device: &mut impl Device, clock: impl Fn() -> Instant, mut on_command: impl FnMut(&[u8])) {
//!     // The network stack is the application's: interface, sockets, their buffers.
//!     let mac = EthernetAddress([0x02, 0, 0, 0, 0, 0x02]);
//!     let mut iface = Interface::new(IfaceConfig::new(mac.into()), device, clock());
//!     iface.update_ip_addrs(|a| {
//!         a.push(IpCidr::new(IpAddress::v4(10, 0, 0, 2), 24)).unwrap();
//!     });
//!     let mut storage: [SocketStorage; 2] = Default::default();
//!     let mut sockets = SocketSet::new(&mut storage[..]);
//!     // Each socket receives into 4 KiB (a whole frame must fit) and sends from 2 KiB.
//!     let [mut r0, mut r1] = [[0u8; 4096]; 2];
//!     let [mut t0, mut t1] = [[0u8; 2048]; 2];
//!     let tcp = [
//!         sockets.add(tcp::Socket::new(tcp::SocketBuffer::new(&mut r0[..]), tcp::SocketBuffer::new(&mut t0[..]))),
//!         sockets.add(tcp::Socket::new(tcp::SocketBuffer::new(&mut r1[..]), tcp::SocketBuffer::new(&mut t1[..]))),
//!     ];
//!
//!     // The client: a producer and a pull consumer on those two sockets.
//!     let id = ClientId::build("10.0.0.2", InstanceName::Named("mcu-7"), None).unwrap();
//!     let mut mq = Mq::new(Config::new(id), "10.0.0.1:9876", 7, clock(), &iface, tcp).unwrap();
//!     mq.register_producer("sensors").unwrap();
//!     mq.subscribe(clock(), &ConsumerConfig::lite_pull("mcu-7"), "Commands", "*").unwrap();
//!
//!     let mut next_reading = clock();
//!     loop {
//!         let now = clock();
//!         if now >= next_reading {
//!             // One send at a time (SENDS = 1): a second is refused as Full meanwhile.
//!             if mq.send(now, &Message::new("Telemetry", b"21.5C")).is_ok() {
//!                 next_reading = now + Duration::from_secs(1);
//!             }
//!         }
//!         iface.poll(now, device, &mut sockets);
//!         while let Some(event) = mq.poll(now, &mut iface, &mut sockets) {
//!             match event {
//!                 Event::Messages { id } => {
//!                     if let Some(batch) = mq.delivery(id) {
//!                         batch.messages().for_each(|m| on_command(m.body));
//!                     }
//!                     mq.ack(now, id); // committed to the broker every 5 s
//!                 }
//!                 Event::SendFailed { error, .. } => { let _ = error; /* log, count */ }
//!                 _ => {}
//!             }
//!         }
//!         iface.poll(now, device, &mut sockets); // write what the client queued
//!         // Sleep (WFI) until the earlier of mq.poll_delay(now) and
//!         // iface.poll_delay(now, &sockets), or a packet arrives.
//!     }
//! }
//! ```
//!
//! Buffers: one frame buffer for sending and one for receiving, `FRAME` bytes each,
//! shared by every connection (a frame is read only once it is whole in its socket's
//! receive buffer, so the sockets' receive buffers must hold a whole frame too). A frame
//! larger than `FRAME` cannot be sent (its request fails) or received (the connection
//! is closed); pulls ask for as many messages as the engine's message buffer holds.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use rocketmq_proto::collections::Collections;
use rocketmq_proto::engine::client::{
    CallError, Client as Engine, Config, ConsumerConfig, Delivery, DeliveryId, Event, Message,
    MessageBuf, SendId,
};
use rocketmq_proto::engine::{ConnId, Instant, Millis};
use rocketmq_proto::message::UniqKeyGenerator;
use rocketmq_proto::producer::retry::SendMode;
use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant as SmolInstant};
use smoltcp::wire::{IpAddress, IpEndpoint};

/// A TCP connect that gets no answer is given up after this long (smoltcp retransmits
/// a SYN forever otherwise); the engine then backs off and tries again.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(3_000);

/// One of the application's TCP sockets and the engine connection it carries.
#[derive(Debug, Clone, Copy)]
struct Slot {
    handle: SocketHandle,
    /// The engine's connection on this socket, and whether it is established.
    conn: Option<(ConnId, bool)>,
}

/// A frame encoded in the send buffer and not yet all in its socket.
#[derive(Debug, Clone, Copy)]
struct Pending {
    conn: ConnId,
    written: usize,
    len: usize,
}

/// The client: the engine, the sockets it uses and two frame buffers.
///
/// Type parameters: the engine's collection family `C` (`Tailored`/`Fixed` without an
/// allocator) and message buffer `B`; `INFLIGHT` requests in flight; `CONNS` sockets
/// (one for the NameServer plus one per broker used); `FRAME` bytes per frame buffer.
///
/// Invariants: a socket carries at most one engine connection, and every connection
/// the engine opened is either on a socket or was reported closed to it; at most one
/// frame is partly written (frames behind it wait, in order).
pub struct Client<
    C: Collections,
    B: MessageBuf,
    const INFLIGHT: usize,
    const CONNS: usize,
    const FRAME: usize,
> {
    engine: Engine<C, B, INFLIGHT>,
    slots: [Slot; CONNS],
    tx: [u8; FRAME],
    pending: Option<Pending>,
    rx: [u8; FRAME],
    next_port: u16,
    /// Unix time minus smoltcp time, in ms (born timestamps and message ids).
    wall_offset_ms: i64,
}

/// The engine's instant for smoltcp's (which may start anywhere; negative clamps to 0).
fn engine_time(now: SmolInstant) -> Instant {
    Instant::from_millis(u64::try_from(now.total_millis()).unwrap_or(0))
}

/// `a.b.c.d:port` as an endpoint (smoltcp has no resolver here; brokers register
/// IP addresses).
fn endpoint(addr: &str) -> Option<IpEndpoint> {
    let (host, port) = addr.rsplit_once(':')?;
    let ip: core::net::Ipv4Addr = host.parse().ok()?;
    Some(IpEndpoint::new(IpAddress::Ipv4(ip), port.parse().ok()?))
}

impl<C, B, const INFLIGHT: usize, const CONNS: usize, const FRAME: usize>
    Client<C, B, INFLIGHT, CONNS, FRAME>
where
    C: Collections,
    B: MessageBuf,
{
    /// A client with `config` talking to the NameServers `namesrv` (`ip:port;ip:port`)
    /// through the TCP sockets `sockets` (they must be TCP sockets of the set later
    /// passed to [`Client::poll`], and stay there). `seed` seeds NameServer rotation,
    /// message ids and local ports (a hardware RNG or clock bits). Message ids carry
    /// the interface's first IPv4 address.
    pub fn new(
        config: Config,
        namesrv: &str,
        seed: u32,
        now: SmolInstant,
        iface: &Interface,
        sockets: [SocketHandle; CONNS],
    ) -> Result<Self, CallError> {
        let ip = iface.ipv4_addr().unwrap_or(core::net::Ipv4Addr::LOCALHOST);
        let uniq = UniqKeyGenerator::new(ip.into(), (seed & 0xFFFF) as u16, seed as i32);
        let mut engine = Engine::new(config, uniq, seed, engine_time(now));
        engine.set_namesrv(namesrv)?;
        Ok(Client {
            engine,
            slots: sockets.map(|handle| Slot { handle, conn: None }),
            tx: [0; FRAME],
            pending: None,
            rx: [0; FRAME],
            next_port: 49_152 + (seed % 16_000) as u16,
            wall_offset_ms: 0,
        })
    }

    /// Tell the client the Unix time (from an RTC or SNTP): messages' born timestamps
    /// use it. Until then they count from smoltcp's time origin.
    pub fn set_wall_clock(&mut self, now: SmolInstant, unix_ms: i64) {
        self.wall_offset_ms = unix_ms - now.total_millis();
    }

    fn wall(&self, now: SmolInstant) -> i64 {
        now.total_millis().saturating_add(self.wall_offset_ms)
    }

    /// The engine, for everything this wrapper does not cover (call [`Client::poll`]
    /// afterwards: that writes what the call queued).
    pub fn engine(&mut self) -> &mut Engine<C, B, INFLIGHT> {
        &mut self.engine
    }

    /// Register a producer group (before sending).
    pub fn register_producer(&mut self, group: &str) -> Result<(), CallError> {
        self.engine.register_producer(group)
    }

    /// Start a send; its outcome comes from [`Client::poll`] as `Event::SendOk` or
    /// `Event::SendFailed` with the returned id (retried on another broker as Java
    /// does, within the configured send timeout).
    pub fn send(&mut self, now: SmolInstant, msg: &Message<'_>) -> Result<SendId, CallError> {
        let wall = self.wall(now);
        self.engine
            .send(engine_time(now), wall, msg, SendMode::Sync)
    }

    /// Start a send nobody answers (its `Event::SendOk` comes once it is written).
    pub fn send_oneway(
        &mut self,
        now: SmolInstant,
        msg: &Message<'_>,
    ) -> Result<SendId, CallError> {
        let wall = self.wall(now);
        self.engine
            .send(engine_time(now), wall, msg, SendMode::Oneway)
    }

    /// Consume `topic` (a pull consumer, `ConsumerConfig::lite_pull`): the group shares
    /// its queues (rebalanced as Java does), offsets are committed to the broker.
    pub fn subscribe(
        &mut self,
        now: SmolInstant,
        config: &ConsumerConfig<'_>,
        topic: &str,
        expression: &str,
    ) -> Result<(), CallError> {
        let wall = self.wall(now);
        self.engine
            .subscribe(engine_time(now), wall, config, topic, expression)
    }

    /// Consume exactly `queues` (topic, broker name, queue id), no rebalancing.
    pub fn assign(
        &mut self,
        now: SmolInstant,
        config: &ConsumerConfig<'_>,
        queues: &[(&str, &str, i32)],
    ) -> Result<(), CallError> {
        let wall = self.wall(now);
        self.engine.assign(engine_time(now), wall, config, queues)
    }

    /// The messages of a delivered batch (`Event::Messages`).
    pub fn delivery(&self, id: DeliveryId) -> Option<Delivery<'_>> {
        self.engine.delivery(id)
    }

    /// Done with a batch: its offset is committed with the next commit.
    pub fn ack(&mut self, now: SmolInstant, id: DeliveryId) {
        self.engine.ack(engine_time(now), id);
    }

    /// Commit consumed offsets now (they are also committed every 5 s).
    pub fn commit(&mut self) {
        self.engine.commit();
    }

    /// Stop: drain up to `drain`, commit, unregister; `Event::ShutdownComplete` follows.
    pub fn shutdown(&mut self, now: SmolInstant, drain: Duration) {
        self.engine
            .shutdown(engine_time(now), Millis(drain.total_millis()));
    }

    /// How long until [`Client::poll`] must run again at the latest (`None`: only when
    /// the interface has news). Poll sooner after every interface poll.
    pub fn poll_delay(&mut self, now: SmolInstant) -> Option<Duration> {
        let at = self.engine.poll_timeout()?;
        let ms = at.as_millis().saturating_sub(engine_time(now).as_millis());
        Some(Duration::from_millis(ms))
    }

    /// Run the client: take up socket changes and whole frames, run timers, write
    /// frames into the sockets, open and close sockets as the engine asks. Returns the
    /// next event for the application, or `None` when nothing is left to do now. Call it
    /// until `None` after each [`Interface::poll`], then poll the interface again (it
    /// sends what was written).
    pub fn poll(
        &mut self,
        now: SmolInstant,
        iface: &mut Interface,
        sockets: &mut SocketSet<'_>,
    ) -> Option<Event> {
        let t = engine_time(now);
        self.take_socket_changes(t, sockets);
        self.read_frames(t, sockets);
        if self.engine.poll_timeout().is_some_and(|due| due <= t) {
            self.engine.handle_timeout(t);
        }
        loop {
            self.write_frames(t, sockets);
            let event = self.engine.poll_event()?;
            match event {
                Event::Connect { conn, addr } => self.connect(t, conn, &addr, iface, sockets),
                Event::Close { conn } => self.close(conn, sockets),
                other => return Some(other),
            }
        }
    }

    /// Connects established or failed, connections the peer closed.
    fn take_socket_changes(&mut self, t: Instant, sockets: &mut SocketSet<'_>) {
        for i in 0..CONNS {
            let Some(slot) = self.slots.get_mut(i) else {
                continue;
            };
            let Some((conn, open)) = slot.conn else {
                continue;
            };
            let socket = sockets.get_mut::<tcp::Socket>(slot.handle);
            let state = socket.state();
            if !open {
                match state {
                    tcp::State::Established => {
                        // Connected: no timeout any more (requests have their own).
                        socket.set_timeout(None);
                        slot.conn = Some((conn, true));
                        self.engine.handle_connected(t, conn);
                    }
                    tcp::State::SynSent | tcp::State::SynReceived => {}
                    _ => self.lose(t, i, sockets),
                }
            } else if !socket.is_active() || (!socket.may_recv() && socket.recv_queue() == 0) {
                // Reset, timed out, or closed by the peer with everything read.
                self.lose(t, i, sockets);
            }
        }
    }

    /// Hand every whole frame waiting in an open socket to the engine.
    fn read_frames(&mut self, t: Instant, sockets: &mut SocketSet<'_>) {
        for i in 0..CONNS {
            let Some(&Slot {
                handle,
                conn: Some((conn, true)),
            }) = self.slots.get(i)
            else {
                continue;
            };
            loop {
                let socket = sockets.get_mut::<tcp::Socket>(handle);
                let mut head = [0u8; 4];
                if socket.peek_slice(&mut head) != Ok(4) {
                    break;
                }
                let total = (u32::from_be_bytes(head) as usize).saturating_add(4);
                if total > FRAME || total > socket.recv_capacity() {
                    // Can never be whole here: this client cannot take it.
                    self.lose(t, i, sockets);
                    break;
                }
                if socket.recv_queue() < total {
                    break;
                }
                let Some(frame) = self.rx.get_mut(..total) else {
                    break;
                };
                // The one copy in: a frame may wrap around the socket's ring buffer.
                if socket.peek_slice(frame) != Ok(total) {
                    break;
                }
                let used = match self.engine.handle_input(t, conn, frame) {
                    Ok(used) => used,
                    // The engine closes the connection (Event::Close follows).
                    Err(_) => break,
                };
                if used == 0 {
                    break;
                }
                let mut left = used;
                while left > 0 {
                    match socket.recv(|b| {
                        let n = b.len().min(left);
                        (n, n)
                    }) {
                        Ok(n) if n > 0 => left -= n,
                        _ => break,
                    }
                }
            }
        }
    }

    /// Write the partly written frame on, then every frame the engine has, until a
    /// socket is full.
    fn write_frames(&mut self, t: Instant, sockets: &mut SocketSet<'_>) {
        loop {
            if let Some(p) = self.pending {
                let slot = self
                    .slots
                    .iter()
                    .position(|s| s.conn == Some((p.conn, true)));
                let Some(i) = slot else {
                    // Its connection is gone: the engine ends its request.
                    self.pending = None;
                    continue;
                };
                let handle = self.slots.get(i).map(|s| s.handle);
                let Some(handle) = handle else {
                    self.pending = None;
                    continue;
                };
                let socket = sockets.get_mut::<tcp::Socket>(handle);
                let rest = self.tx.get(p.written..p.len).unwrap_or_default();
                match socket.send_slice(rest) {
                    Ok(n) if p.written + n >= p.len => self.pending = None,
                    Ok(n) => {
                        self.pending = Some(Pending {
                            written: p.written + n,
                            ..p
                        });
                        return; // full: on with it after the interface sent some
                    }
                    Err(_) => {
                        self.pending = None;
                        self.lose(t, i, sockets);
                    }
                }
                continue;
            }
            match self.engine.poll_transmit(t, &mut self.tx) {
                Ok(Some(frame)) => {
                    self.pending = Some(Pending {
                        conn: frame.conn,
                        written: 0,
                        len: frame.len,
                    })
                }
                Ok(None) => return,
                // Larger than FRAME (or not encodable): its request fails, the rest go on.
                Err(_) => self.engine.discard_transmit(t),
            }
        }
    }

    fn connect(
        &mut self,
        t: Instant,
        conn: ConnId,
        addr: &str,
        iface: &mut Interface,
        sockets: &mut SocketSet<'_>,
    ) {
        let free = self.slots.iter().position(|s| s.conn.is_none());
        let (Some(i), Some(remote)) = (free, endpoint(addr)) else {
            // No free socket, or not an IPv4 address: the engine backs off and retries.
            self.engine.handle_closed(t, conn);
            return;
        };
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        let socket = sockets.get_mut::<tcp::Socket>(slot.handle);
        socket.abort();
        socket.set_timeout(Some(CONNECT_TIMEOUT));
        // Frames are whole writes: don't hold the tail of one back waiting for an ACK.
        socket.set_nagle_enabled(false);
        self.next_port = if self.next_port >= 65_000 {
            49_152
        } else {
            self.next_port + 1
        };
        if socket
            .connect(iface.context(), remote, self.next_port)
            .is_ok()
        {
            slot.conn = Some((conn, false));
        } else {
            self.engine.handle_closed(t, conn);
        }
    }

    /// The engine closed `conn` (a protocol error from the peer): reset its socket.
    fn close(&mut self, conn: ConnId, sockets: &mut SocketSet<'_>) {
        for slot in self.slots.iter_mut() {
            if slot.conn.is_some_and(|(c, _)| c == conn) {
                sockets.get_mut::<tcp::Socket>(slot.handle).abort();
                slot.conn = None;
            }
        }
        if self.pending.is_some_and(|p| p.conn == conn) {
            self.pending = None;
        }
    }

    /// The connection on socket `i` failed: reset the socket, tell the engine.
    fn lose(&mut self, t: Instant, i: usize, sockets: &mut SocketSet<'_>) {
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        let Some((conn, _)) = slot.conn.take() else {
            return;
        };
        sockets.get_mut::<tcp::Socket>(slot.handle).abort();
        if self.pending.is_some_and(|p| p.conn == conn) {
            self.pending = None;
        }
        self.engine.handle_closed(t, conn);
    }
}
