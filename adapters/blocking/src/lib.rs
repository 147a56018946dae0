//! A blocking RocketMQ client over any [`embedded_io`] transport: the simplest way to
//! drive the [`rocketmq_proto`] engine from a plain loop — an RTOS task, a serial
//! modem, a test harness, or std's `TcpStream` (feature `std`).
//!
//! Cargo features `acl`, `orderly` and `admin` (on by default) forward to
//! [`rocketmq_proto`]'s: a device that does without ACL signing, orderly consumption
//! and answers to the broker's admin requests turns them off (`default-features =
//! false`) and saves their flash.
//!
//! `#![no_std]` and allocation-free: every table and buffer has a capacity chosen by
//! the application (const generics). Nothing protocol-specific is written here; this
//! crate owns the connections and the clock and runs the engine's loop:
//!
//! ```text
//! loop { write every poll_transmit · act on every poll_event · read what is ready ·
//!        handle_timeout when poll_timeout is due · idle a moment when nothing moved }
//! ```
//!
//! Blocking calls ([`Client::send`], [`Client::poll`], …) run that loop until their
//! outcome arrives, so the client keeps heartbeating and pulling while they wait.
//!
//! ```no_run
//! # #[cfg(feature = "std")] {
//! use rocketmq_blocking::{Client, StdClock, StdNetwork};
//! use rocketmq_proto::collections::Fixed;
//! use rocketmq_proto::engine::client::{Config, Message};
//! use rocketmq_proto::engine::client_id::{ClientId, InstanceName};
//!
//! let id = ClientId::build("127.0.0.1", InstanceName::Named("demo"), None).unwrap();
//! // 8 connections, 4 KiB frame buffers, 16 requests in flight, 16-entry tables.
//! let mut client: Client<StdNetwork, StdClock, Fixed<16>, heapless::Vec<u8, 4096>, 16, 8, 4096> =
//!     Client::new(StdNetwork, StdClock::new(), Config::new(id), "127.0.0.1:9876", 1).unwrap();
//! client.register_producer("PG").unwrap();
//! let receipt = client.send(&Message::new("TopicTest", b"hello")).unwrap();
//! # let _ = receipt;
//! # }
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// A send error carries the broker's remark and name inline (no allocator to box them
// in); errors are rare and returned once, so their size costs nothing on the hot path.
#![allow(clippy::large_enum_variant, clippy::result_large_err)]

#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "std")]
mod std_net;
#[cfg(feature = "std")]
pub use std_net::{StdClock, StdConn, StdNetwork};

use embedded_io::{Read, ReadReady, Write};
use rocketmq_proto::collections::Collections;
use rocketmq_proto::engine::client::{
    CallError, Client as Engine, Config, ConsumerConfig, Event, Message, MessageBuf, SendError,
    SendReceipt,
};
use rocketmq_proto::engine::{ConnId, Instant, Millis};
use rocketmq_proto::message::{MessageRecord, UniqKeyGenerator};
use rocketmq_proto::producer::retry::SendMode;

/// Opens connections (TCP or anything that carries bytes in order).
pub trait Network {
    /// One open connection.
    type Conn: Read + Write + ReadReady;
    /// Why a connect failed.
    type Error: core::fmt::Debug;
    /// Connect to `addr` (`host:port`), blocking until it is open or failed.
    fn connect(&mut self, addr: &str) -> Result<Self::Conn, Self::Error>;
}

/// Time, and what to do while nothing happens.
pub trait Clock {
    /// A monotonic millisecond count (any origin).
    fn now_ms(&mut self) -> u64;
    /// Milliseconds since the Unix epoch (message born timestamps and ids).
    fn wall_ms(&mut self) -> i64;
    /// Nothing to do for up to `ms` milliseconds: sleep, or yield to other tasks. The
    /// loop calls it with at most 1 ms when connections are open (data may arrive).
    fn idle(&mut self, ms: u32);
}

/// Why a blocking call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The engine refused the call at once (invalid message, table full, shut down).
    Call(CallError),
    /// The send failed (broker code and remark, no route, timeout, transport).
    Send(SendError),
}

impl From<CallError> for Error {
    fn from(e: CallError) -> Self {
        Error::Call(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Call(e) => write!(f, "refused: {e:?}"),
            Error::Send(e) => write!(f, "send failed: {e:?}"),
        }
    }
}

/// One open connection and the bytes read from it that are not yet a whole frame.
struct Slot<C, const BUF: usize> {
    id: ConnId,
    conn: C,
    inbox: [u8; BUF],
    /// Bytes of `inbox` in use.
    len: usize,
}

/// A blocking client: the engine, its connections and a clock.
///
/// Type parameters: the network and clock; the engine's collection family `C`
/// (`Fixed<N>` without an allocator) and message buffer `B`; `INFLIGHT` requests in
/// flight; `CONNS` open connections; `BUF` bytes per frame buffer (the largest frame
/// this client can send or receive — pulls ask for as many messages as fit).
///
/// Invariant: between calls nothing is pending — every call ends with the engine's
/// transmits written and its events handled.
pub struct Client<
    N: Network,
    K: Clock,
    C: Collections,
    B: MessageBuf,
    const INFLIGHT: usize,
    const CONNS: usize,
    const BUF: usize,
> {
    engine: Engine<C, B, INFLIGHT>,
    network: N,
    clock: K,
    conns: heapless::Vec<Slot<N::Conn, BUF>, CONNS>,
    /// Frames are encoded here, then written.
    scratch: [u8; BUF],
    /// The send a blocking call waits for, and its outcome once it ended (outcomes of
    /// sends started through [`Client::engine`] are not kept).
    awaited: Option<(u32, Option<Result<SendReceipt, SendError>>)>,
    /// Deliveries announced and not yet handed to [`Client::poll`].
    ready: heapless::Vec<rocketmq_proto::engine::client::DeliveryId, 64>,
}

impl<N, K, C, B, const INFLIGHT: usize, const CONNS: usize, const BUF: usize>
    Client<N, K, C, B, INFLIGHT, CONNS, BUF>
where
    N: Network,
    K: Clock,
    C: Collections,
    B: MessageBuf,
{
    /// A client with `config`, talking to the NameServers `namesrv`
    /// (`host:port;host:port`); `seed` seeds NameServer rotation and ids (inject
    /// randomness: a hardware RNG, a clock's low bits).
    pub fn new(
        network: N,
        mut clock: K,
        config: Config,
        namesrv: &str,
        seed: u32,
    ) -> Result<Self, Error> {
        let ip = core::net::IpAddr::from([127, 0, 0, 1]);
        let uniq = UniqKeyGenerator::new(ip, (seed & 0xFFFF) as u16, seed as i32);
        let now = Instant::from_millis(clock.now_ms());
        let mut engine = Engine::new(config, uniq, seed, now);
        engine.set_namesrv(namesrv)?;
        Ok(Client {
            engine,
            network,
            clock,
            conns: heapless::Vec::new(),
            scratch: [0; BUF],
            awaited: None,
            ready: heapless::Vec::new(),
        })
    }

    /// The engine, for everything this wrapper does not cover (its calls must be
    /// followed by [`Client::run_for`] with 0 ms to write what they queued).
    pub fn engine(&mut self) -> &mut Engine<C, B, INFLIGHT> {
        &mut self.engine
    }

    fn now(&mut self) -> Instant {
        Instant::from_millis(self.clock.now_ms())
    }

    /// Register a producer group (before sending).
    pub fn register_producer(&mut self, group: &str) -> Result<(), Error> {
        self.engine.register_producer(group)?;
        Ok(())
    }

    /// Send and wait for the broker's receipt (retried on another broker as Java
    /// does, within the configured send timeout).
    pub fn send(&mut self, msg: &Message<'_>) -> Result<SendReceipt, Error> {
        let now = self.now();
        let wall = self.clock.wall_ms();
        let id = self.engine.send(now, wall, msg, SendMode::Sync)?;
        self.wait_send(id.0)
    }

    /// Send without waiting for the broker (returns once the frame is written).
    pub fn send_oneway(&mut self, msg: &Message<'_>) -> Result<(), Error> {
        let now = self.now();
        let wall = self.clock.wall_ms();
        let id = self.engine.send(now, wall, msg, SendMode::Oneway)?;
        self.wait_send(id.0).map(|_| ())
    }

    /// Send in order with every other message of `key` (Java's hash selector).
    pub fn send_ordered(&mut self, msg: &Message<'_>, key: &str) -> Result<SendReceipt, Error> {
        let now = self.now();
        let wall = self.clock.wall_ms();
        let id = self.engine.send_ordered(now, wall, msg, key)?;
        self.wait_send(id.0)
    }

    fn wait_send(&mut self, id: u32) -> Result<SendReceipt, Error> {
        self.awaited = Some((id, None));
        loop {
            if let Some((_, Some(outcome))) = self.awaited.take_if(|(_, o)| o.is_some()) {
                return outcome.map_err(Error::Send);
            }
            // The engine ends every send by its deadline: no extra timeout needed.
            self.turn(1);
        }
    }

    fn send_ended(&mut self, id: u32, outcome: Result<SendReceipt, SendError>) {
        if let Some((awaited, slot)) = self.awaited.as_mut() {
            if *awaited == id {
                *slot = Some(outcome);
            }
        }
    }

    /// Consume `topic` with `config` (a pull consumer: `ConsumerConfig::lite_pull`):
    /// the group shares its queues, offsets are committed to the broker.
    pub fn subscribe(
        &mut self,
        config: &ConsumerConfig<'_>,
        topic: &str,
        expression: &str,
    ) -> Result<(), Error> {
        let now = self.now();
        let wall = self.clock.wall_ms();
        self.engine
            .subscribe(now, wall, config, topic, expression)?;
        self.turn(0);
        Ok(())
    }

    /// Consume exactly `queues` (topic, broker name, queue id), no rebalancing.
    pub fn assign(
        &mut self,
        config: &ConsumerConfig<'_>,
        queues: &[(&str, &str, i32)],
    ) -> Result<(), Error> {
        let now = self.now();
        let wall = self.clock.wall_ms();
        self.engine.assign(now, wall, config, queues)?;
        self.turn(0);
        Ok(())
    }

    /// Wait up to `timeout_ms` for messages and hand each to `f` (one pull batch at
    /// most); the batch is then acknowledged (its offset committed with the next
    /// commit). Returns how many messages `f` saw.
    pub fn poll(
        &mut self,
        timeout_ms: u64,
        mut f: impl FnMut(&MessageRecord<'_>),
    ) -> Result<usize, Error> {
        let deadline = self.clock.now_ms().saturating_add(timeout_ms);
        loop {
            if !self.ready.is_empty() {
                let id = self.ready.remove(0);
                let mut n = 0;
                if let Some(d) = self.engine.delivery(id) {
                    for m in d.messages() {
                        f(&m);
                        n += 1;
                    }
                }
                let now = self.now();
                self.engine.ack(now, id);
                self.turn(0);
                return Ok(n);
            }
            if self.clock.now_ms() >= deadline {
                return Ok(0);
            }
            self.turn(1);
        }
    }

    /// Commit consumed offsets now.
    pub fn commit(&mut self) {
        self.engine.commit();
        self.turn(0);
    }

    /// Run the client for `ms` milliseconds (heartbeats, route refreshes, pulls).
    pub fn run_for(&mut self, ms: u64) {
        let until = self.clock.now_ms().saturating_add(ms);
        loop {
            self.turn(1);
            if self.clock.now_ms() >= until {
                return;
            }
        }
    }

    /// Stop: drain up to `drain_ms`, commit, unregister, close every connection.
    pub fn shutdown(&mut self, drain_ms: u64) {
        let now = self.now();
        self.engine.shutdown(now, Millis(drain_ms));
        let limit = self.clock.now_ms().saturating_add(drain_ms + 5_000);
        while !self.engine.is_shut_down() && self.clock.now_ms() < limit {
            self.turn(1);
        }
        self.conns.clear();
    }

    /// One turn of the loop: write, handle events, read, time out; idle up to
    /// `idle_ms` if nothing moved.
    fn turn(&mut self, idle_ms: u32) {
        let mut moved = self.drain();
        for i in 0..self.conns.len() {
            moved |= self.read_conn(i);
        }
        let now = self.now();
        if self.engine.poll_timeout().is_some_and(|t| t <= now) {
            self.engine.handle_timeout(now);
            moved = true;
        }
        moved |= self.drain();
        if !moved && idle_ms > 0 {
            let wait = self.engine.poll_timeout().map_or(idle_ms, |t| {
                t.as_millis()
                    .saturating_sub(now.as_millis())
                    .min(u64::from(idle_ms)) as u32
            });
            self.clock.idle(wait);
        }
    }

    /// Read what connection `i` has ready and feed it; whether anything happened.
    fn read_conn(&mut self, i: usize) -> bool {
        let Some(slot) = self.conns.get_mut(i) else {
            return false;
        };
        match slot.conn.read_ready() {
            Ok(true) => {}
            Ok(false) => return false,
            Err(_) => return self.lose(i),
        }
        let Some(room) = slot.inbox.get_mut(slot.len..).filter(|r| !r.is_empty()) else {
            // A frame larger than BUF: this client cannot take it.
            return self.lose(i);
        };
        let n = match slot.conn.read(room) {
            Ok(0) | Err(_) => return self.lose(i),
            Ok(n) => n,
        };
        slot.len = (slot.len + n).min(BUF);
        let id = slot.id;
        let now = Instant::from_millis(self.clock.now_ms());
        let Some(slot) = self.conns.get_mut(i) else {
            return true;
        };
        let input = slot.inbox.get(..slot.len).unwrap_or_default();
        match self.engine.handle_input(now, id, input) {
            Ok(used) => {
                let used = used.min(slot.len);
                slot.inbox.copy_within(used..slot.len, 0);
                slot.len -= used;
            }
            // The engine closes it (Event::Close).
            Err(_) => slot.len = 0,
        }
        true
    }

    /// Connection `i` failed: tell the engine and forget it.
    fn lose(&mut self, i: usize) -> bool {
        if i < self.conns.len() {
            let slot = self.conns.swap_remove(i);
            let now = self.now();
            self.engine.handle_closed(now, slot.id);
        }
        true
    }

    /// Write every frame, act on every event; whether anything happened.
    fn drain(&mut self) -> bool {
        let mut moved = false;
        loop {
            let mut progress = false;
            loop {
                let now = self.now();
                match self.engine.poll_transmit(now, &mut self.scratch) {
                    Ok(Some(t)) => {
                        progress = true;
                        let frame = &self.scratch[..t.len];
                        if let Some(i) = self.conns.iter().position(|s| s.id == t.conn) {
                            let ok = self.conns.get_mut(i).is_some_and(|s| {
                                s.conn
                                    .write_all(frame)
                                    .and_then(|()| s.conn.flush())
                                    .is_ok()
                            });
                            if !ok {
                                self.lose(i);
                            }
                        }
                    }
                    Ok(None) => break,
                    // A frame larger than BUF (which cannot grow), or one that does not
                    // encode: dropped, its request fails, the frames behind it go on.
                    Err(_) => {
                        progress = true;
                        let now = self.now();
                        self.engine.discard_transmit(now);
                    }
                }
            }
            while let Some(e) = self.engine.poll_event() {
                progress = true;
                self.on_event(e);
            }
            if !progress {
                return moved;
            }
            moved = true;
        }
    }

    fn on_event(&mut self, e: Event) {
        match e {
            Event::Connect { conn, addr } => {
                let now = self.now();
                match self.network.connect(&addr) {
                    Ok(c) => {
                        let slot = Slot {
                            id: conn,
                            conn: c,
                            inbox: [0; BUF],
                            len: 0,
                        };
                        if self.conns.push(slot).is_ok() {
                            self.engine.handle_connected(now, conn);
                        } else {
                            // No room for another connection.
                            self.engine.handle_closed(now, conn);
                        }
                    }
                    Err(_) => self.engine.handle_closed(now, conn),
                }
            }
            Event::Close { conn } => self.conns.retain(|s| s.id != conn),
            Event::SendOk { id, receipt } => self.send_ended(id.0, Ok(receipt)),
            Event::SendFailed { id, error } => self.send_ended(id.0, Err(error)),
            // Queued for `poll` in the guard; more batches than the table holds are
            // given back for redelivery.
            Event::Messages { id } if self.ready.push(id).is_err() => {
                let now = self.now();
                self.engine.nack(now, id, 0);
            }
            _ => {}
        }
    }
}
