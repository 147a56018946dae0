//! The client instance: the sans-IO state machine an adapter drives.
//!
//! # The loop (drain invariant)
//!
//! After **any** call into the engine — [`Client::handle_input`],
//! [`Client::handle_connected`], [`Client::handle_closed`], [`Client::handle_timeout`],
//! or an application call such as [`Client::send`] — the adapter drains
//! [`Client::poll_transmit`] until it returns `None` (writing each frame to its
//! connection) and [`Client::poll_event`] until `None` (connect to an address, drop a
//! connection, deliver a send result), then sleeps until data arrives or until
//! [`Client::poll_timeout`], and on waking calls [`Client::handle_timeout`]. An adapter
//! that follows this loop needs no protocol knowledge.
//!
//! # Guarantees
//!
//! - Every request ends exactly once: response, deadline, or connection loss
//!   ([`InFlight`]). Every [`Client::send`] that returned `Ok(id)` ends with exactly
//!   one [`Event::SendOk`] or [`Event::SendFailed`] carrying that id (oneway sends end
//!   with `SendOk` once written).
//! - A send's timeout is a total deadline across route lookup and retries, as in Java.
//! - Bytes are consumed only in whole frames: `handle_input` returns how many bytes it
//!   used; the adapter keeps the rest and calls again when more arrive.
//!
//! Capacities: every table is a [`Collections`] list (fixed `Fixed<N>` without an
//! allocator, `Growable` with one), requests in flight are bounded by `INFLIGHT`, and
//! each message's properties and body are kept in a `B: MessageBuf` until it ends
//! (needed for retries).

use core::fmt::Debug;

use super::client_id::ClientId;
use super::inflight::InFlight;
use super::namesrv::{Addr, NameServers};
use super::{ConnId, Instant, Millis};
use crate::body::{EncodeBody, HeartbeatData, ProducerData, TopicRouteData};
use crate::codes::{LanguageCode, RequestCode, ResponseCode, SerializeType};
use crate::collections::{Collections, List};
use crate::command::{Command, CommandEncoder, Header};
use crate::error::{DecodeError, EncodeError};
use crate::ext::{EmptyFields, NoFields};
use crate::frame::{Decoded, FrameDecoder};
use crate::header::{GetRouteInfoRequest, SendMessageRequest, SendMessageResponse};
use crate::message::properties::{keys, write_properties};
use crate::message::{ms_since_month_start, UniqKeyGenerator};
use crate::out::{Out, SliceOut};
use crate::producer::retry::{classify, Attempt, RetryPolicy, SendMode, SendStatus, Verdict};
use crate::producer::select::RoundRobin;
use crate::producer::validate::{check_body, check_group, check_topic, ValidationError};
use crate::text::Text;

/// A topic, group or broker name held by the engine.
pub type Name = heapless::String<128>;
/// A message id (UNIQ_KEY or offset msg id: 32 or 56 hex characters).
pub type MsgId = heapless::String<56>;
/// A response remark kept for an error report (truncated).
pub type Remark = heapless::String<128>;

/// sysFlag of a zlib-compressed body as a 5.x Java producer sets it: COMPRESSED (0x1)
/// with compression type ZLIB (3 << 8) (messages.md §2.3–2.4).
pub const SYS_FLAG_ZLIB_COMPRESSED: i32 = 0x301;

/// The default topic auto-created topics are modelled on (behaviour.md §1.8).
pub const DEFAULT_TOPIC: &str = "TBW102";
/// Queues per broker when sending through the default topic's route.
pub const DEFAULT_TOPIC_QUEUE_NUMS: i32 = 4;

/// Storage for one message's properties and body while its send is in progress.
pub trait MessageBuf: Sized + Debug + Clone + PartialEq + Eq + AsRef<[u8]> {
    /// A buffer holding `parts` back to back, or `None` if it does not fit.
    fn from_parts(parts: &[&[u8]]) -> Option<Self>;
    /// Append `bytes`; `false` (nothing appended) if they do not fit.
    fn append(&mut self, bytes: &[u8]) -> bool;
}

impl<const N: usize> MessageBuf for heapless::Vec<u8, N> {
    fn from_parts(parts: &[&[u8]]) -> Option<Self> {
        let mut v = heapless::Vec::new();
        for p in parts {
            v.extend_from_slice(p).ok()?;
        }
        Some(v)
    }
    fn append(&mut self, bytes: &[u8]) -> bool {
        self.extend_from_slice(bytes).is_ok()
    }
}

#[cfg(feature = "alloc")]
impl MessageBuf for alloc::vec::Vec<u8> {
    fn from_parts(parts: &[&[u8]]) -> Option<Self> {
        let len = parts.iter().map(|p| p.len()).sum();
        let mut v = alloc::vec::Vec::new();
        v.try_reserve_exact(len).ok()?;
        for p in parts {
            v.extend_from_slice(p);
        }
        Some(v)
    }
    fn append(&mut self, bytes: &[u8]) -> bool {
        if self.try_reserve(bytes.len()).is_err() {
            return false;
        }
        self.extend_from_slice(bytes);
        true
    }
}

/// Engine settings. Defaults are Java's.
#[derive(Debug, Clone)]
pub struct Config {
    /// This client's id (see [`ClientId::build`]).
    pub client_id: ClientId,
    /// Header serialization for requests (JSON works with every server).
    pub serialize_type: SerializeType,
    /// Language announced in headers.
    pub language: LanguageCode,
    /// Version announced in headers.
    pub version: i32,
    /// Timeout of route queries and heartbeats (`mqClientApiTimeout`, 3 s).
    pub request_timeout: Millis,
    /// Total budget of one send including retries (`sendMsgTimeout`, 3 s).
    pub send_timeout: Millis,
    /// Heartbeat period (`heartbeatBrokerInterval`, 30 s).
    pub heartbeat_interval: Millis,
    /// Route refresh period (`pollNameServerInterval`, 30 s).
    pub route_refresh_interval: Millis,
    /// Send retries.
    pub retry: RetryPolicy,
    /// Largest body accepted (`maxMessageSize`, 4 MiB).
    pub max_message_size: usize,
    /// Local time zone offset, for UNIQ_KEY's "ms since start of month".
    pub utc_offset_ms: i64,
}

impl Config {
    /// Java's defaults for this client id.
    pub fn new(client_id: ClientId) -> Self {
        Config {
            client_id,
            serialize_type: SerializeType::Json,
            language: LanguageCode::RUST,
            version: crate::codes::version::CURRENT,
            request_timeout: Millis(3_000),
            send_timeout: Millis(3_000),
            heartbeat_interval: Millis(30_000),
            route_refresh_interval: Millis(30_000),
            retry: RetryPolicy::default(),
            max_message_size: crate::producer::validate::DEFAULT_MAX_MESSAGE_SIZE,
            utc_offset_ms: 0,
        }
    }
}

/// A message to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'m> {
    /// Target topic.
    pub topic: &'m str,
    /// Body (sent as is).
    pub body: &'m [u8],
    /// Tag (`TAGS`).
    pub tags: Option<&'m str>,
    /// Business keys (`KEYS`, space-separated).
    pub keys: Option<&'m str>,
    /// Extra user properties.
    pub properties: &'m [(&'m str, &'m str)],
    /// The user flag.
    pub flag: i32,
    /// Delay level 1..=18 (`DELAY`), if any.
    pub delay_level: Option<u8>,
    /// `WAIT`: whether the broker waits for the store before answering (Java default
    /// true).
    pub wait_store_msg_ok: bool,
}

impl<'m> Message<'m> {
    /// A message with Java's defaults.
    pub const fn new(topic: &'m str, body: &'m [u8]) -> Self {
        Message {
            topic,
            body,
            tags: None,
            keys: None,
            properties: &[],
            flag: 0,
            delay_level: None,
            wait_store_msg_ok: true,
        }
    }
}

impl Message<'_> {
    /// Write the properties string a Java producer sends for this message (user
    /// properties, TAGS, KEYS, DELAY, WAIT, UNIQ_KEY, then `extra`) into `buf`; its length.
    fn encode_properties<'p>(
        &'p self,
        buf: &mut [u8],
        uniq_key: &'p str,
        extra: impl Iterator<Item = (&'p str, &'p str)> + Clone,
    ) -> Result<usize, CallError> {
        let delay = self.delay_level.map(DecimalU8::new);
        let wait = if self.wait_store_msg_ok {
            "true"
        } else {
            "false"
        };
        let mut out = SliceOut::new(buf);
        let pairs = self
            .properties
            .iter()
            .copied()
            .chain(self.tags.map(|t| (keys::TAGS, t)))
            .chain(self.keys.map(|k| (keys::KEYS, k)))
            .chain(delay.as_ref().map(|d| (keys::DELAY, d.as_str())))
            .chain(core::iter::once((keys::WAIT, wait)))
            .chain(core::iter::once((keys::UNIQ_KEY, uniq_key)))
            // Re-borrow `extra`'s pairs for the local chain (associated types do not
            // shorten lifetimes by themselves).
            .chain(extra.map(|(k, v)| -> (&str, &str) { (k, v) }));
        write_properties(&mut out, pairs).map_err(CallError::Encode)?;
        out.finish().map_err(CallError::Encode)
    }
}

/// Identifies one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SendId(pub u32);

/// A stored message's receipt (Java `SendResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// How it was stored.
    pub status: SendStatus,
    /// The client id of the message (UNIQ_KEY).
    pub msg_id: MsgId,
    /// The broker's offset message id.
    pub offset_msg_id: MsgId,
    /// Broker that stored it.
    pub broker_name: Name,
    /// Queue it went to.
    pub queue_id: i32,
    /// Its consume-queue offset.
    pub queue_offset: i64,
}

/// Why a send failed.
// The broker variant keeps the broker's remark and name for the error report; sends end
// rarely enough that the size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// No route for the topic (nor for the default topic).
    NoRoute,
    /// The total send deadline passed.
    Timeout,
    /// The broker refused it with a code that is not retried (or retries ran out).
    Broker {
        /// The response code.
        code: ResponseCode,
        /// The broker's remark (truncated).
        remark: Remark,
        /// Which broker.
        broker_name: Name,
    },
    /// The connection failed and no retry remained.
    Transport,
    /// The engine is shutting down.
    Closed,
}

/// What the engine tells the adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Open a TCP connection to `addr` and report it with
    /// [`Client::handle_connected`] or [`Client::handle_closed`].
    Connect {
        /// The engine's id for it.
        conn: ConnId,
        /// `host:port`.
        addr: Addr,
    },
    /// Close this connection (protocol error from the peer); no report needed.
    Close {
        /// Which.
        conn: ConnId,
    },
    /// A send ended with the message stored.
    SendOk {
        /// Which send.
        id: SendId,
        /// The receipt (for oneway sends: only `msg_id` is meaningful).
        receipt: SendReceipt,
    },
    /// A send ended without success.
    SendFailed {
        /// Which send.
        id: SendId,
        /// Why.
        error: SendError,
    },
    /// A batch of messages is ready: read it with [`Client::delivery`], then
    /// [`Client::ack`] it. Until acked, its queue is not pulled further and its offset
    /// is not committed past it.
    Messages {
        /// Which batch.
        id: DeliveryId,
    },
    /// [`Client::shutdown`] finished: offsets committed, the client unregistered from
    /// the brokers (or the deadline passed), the last frames written. Reported once.
    ShutdownComplete,
    /// A broker asks how a transaction ended (CHECK_TRANSACTION_STATE): read it with
    /// [`Client::transaction_check`] and answer with [`Client::answer_check`].
    CheckTransaction {
        /// Which check.
        id: CheckId,
    },
    /// A broadcasting consumer's offsets moved: store [`Client::local_offsets`] (file,
    /// flash…) and give them back with [`Client::set_local_offset`] after a restart.
    /// Reported at most once per commit interval.
    PersistOffsets,
}

/// Why an application call was refused at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    /// The message or group is invalid (nothing was sent).
    Invalid(ValidationError),
    /// A table is full (too many sends, topics or brokers for the chosen capacity).
    Full(&'static str),
    /// No producer group is registered.
    NoProducer,
    /// No consumer exists yet (call `subscribe` or `assign` first).
    NoConsumer,
    /// The message does not fit its buffer or the wire widths.
    Encode(EncodeError),
    /// The client is shutting down.
    Closed,
}

/// One frame to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// The connection to write to.
    pub conn: ConnId,
    /// Bytes written at the start of the caller's buffer.
    pub len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnState {
    Connecting,
    Open,
    /// Closed by the engine (protocol error); reported once as [`Event::Close`].
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Conn {
    id: ConnId,
    addr: Addr,
    state: ConnState,
    /// Whether [`Event::Connect`] (or, once closed, [`Event::Close`]) was handed out.
    announced: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PubQueue {
    broker: Name,
    queue_id: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct TopicInfo<C: Collections> {
    topic: Name,
    queues: C::List<PubQueue>,
    selector: RoundRobin,
    /// A route query for this topic is in flight.
    querying: bool,
    /// Borrowing TBW102's route (auto-creation).
    from_default: bool,
    /// The topic's own route was not found; TBW102's was asked for.
    tried_default: bool,
    /// The last answer said "no route".
    missing: bool,
    /// Queues consumers read (READ perm), from the topic's own route.
    sub_queues: C::List<PubQueue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct BrokerAddrs {
    name: Name,
    id: i64,
    addr: Addr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendPhase {
    /// Waiting for the topic's route.
    Route,
    /// An attempt is queued or in flight.
    Attempt,
    /// Ended; the outcome waits to be handed out by `poll_event`.
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SendOp<B: MessageBuf> {
    id: SendId,
    mode: SendMode,
    topic: Name,
    group: Name,
    /// Properties, then body.
    data: B,
    props_len: usize,
    flag: i32,
    /// Message sysFlag bits the producer sets (compression).
    sys_flag: i32,
    /// SEND_BATCH_MESSAGE: `data` holds the header properties, then the batch body.
    batch: bool,
    born_timestamp: i64,
    msg_id: MsgId,
    deadline: Instant,
    attempts: u32,
    last_broker: Option<Name>,
    current: Option<PubQueue>,
    /// Ordered send: the queue is chosen by this key's hash, and never retried
    /// elsewhere (that would break per-key order).
    order_key: Option<Name>,
    phase: SendPhase,
    last_error: Option<SendError>,
    /// Set when the send ends; handed out (and the op removed) by `poll_event`.
    outcome: Option<Result<SendReceipt, SendError>>,
    /// Order in which sends ended, so outcomes are reported in that order.
    ended_seq: u32,
}

/// What a request in flight is for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Purpose {
    /// The route for `topics[topic]`; with `via_default`, TBW102's route is asked for on
    /// its behalf. An index, not a name: topics are only ever appended, and this sits in
    /// every in-flight slot.
    Route {
        topic: u16,
        via_default: bool,
    },
    Heartbeat,
    Send(SendId),
    /// An answer to a broker's request: nothing waits for it.
    Reply,
    /// GET_CONSUMER_LIST_BY_GROUP for rebalancing `topics[topic]`.
    ConsumerList {
        topic: u16,
    },
    /// QUERY_CONSUMER_OFFSET (or, with `max`, GET_MAX_OFFSET) for an owned queue.
    Offset {
        token: u32,
        max: bool,
    },
    /// PULL_MESSAGE for an owned queue.
    Pull {
        token: u32,
    },
    /// UPDATE_CONSUMER_OFFSET, oneway: nothing waits for it.
    Commit {
        token: u32,
        offset: i64,
    },
    /// UNREGISTER_CLIENT for the consumer group (`producer: None`) or the producer
    /// group at that index.
    Unregister {
        producer: Option<u8>,
    },
    /// END_TRANSACTION, oneway: the entry of `ends` with this sequence number.
    EndTransaction {
        seq: u32,
    },
    /// CONSUMER_SEND_MSG_BACK of the `index`-th delivered message of the batch of an
    /// owned queue.
    SendBack {
        token: u32,
        index: u8,
        delay_level: i32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Outbound {
    conn: ConnId,
    opaque: i32,
    purpose: Purpose,
    /// For replies: the response code.
    code: i32,
}

/// The client engine. See the [module docs](self) for the loop it expects.
#[derive(Debug)]
pub struct Client<C: Collections, B: MessageBuf, const INFLIGHT: usize> {
    config: Config,
    namesrv: NameServers<4>,
    rng_state: u32,
    next_conn: u32,
    next_send: u32,
    ended_seq: u32,
    conns: C::List<Conn>,
    topics: C::List<TopicInfo<C>>,
    brokers: C::List<BrokerAddrs>,
    producer_groups: C::List<Name>,
    sends: C::List<SendOp<B>>,
    outbound: C::List<Outbound>,
    inflight: InFlight<Purpose, INFLIGHT>,
    decoder: FrameDecoder,
    uniq: UniqKeyGenerator,
    next_heartbeat: Instant,
    next_route_refresh: Instant,
    consumer: Option<ConsumerState<C, B>>,
    shutdown: Option<Shutdown>,
    /// END_TRANSACTION requests waiting to be written.
    ends: C::List<EndTx>,
    /// Broker transaction checks waiting for the application's answer.
    checks: C::List<TransactionCheck>,
    next_seq: u32,
    /// Opaques for oneway requests (no in-flight entry), counted down from -1 so they
    /// never meet the in-flight table's.
    next_oneway_opaque: i32,
}

impl<C: Collections, B: MessageBuf, const INFLIGHT: usize> Client<C, B, INFLIGHT> {
    /// A client with `config`; `uniq` generates message ids; `seed` seeds the
    /// NameServer rotation and queue selection (inject randomness for determinism).
    pub fn new(config: Config, uniq: UniqKeyGenerator, seed: u32, now: Instant) -> Self {
        let mut rng_state = seed | 1;
        let mut rng = || xorshift(&mut rng_state);
        let namesrv = NameServers::new(&mut rng);
        Client {
            config,
            namesrv,
            rng_state,
            next_conn: 0,
            next_send: 0,
            ended_seq: 0,
            conns: C::List::default(),
            topics: C::List::default(),
            brokers: C::List::default(),
            producer_groups: C::List::default(),
            sends: C::List::default(),
            outbound: C::List::default(),
            inflight: InFlight::new(),
            decoder: FrameDecoder::new(),
            uniq,
            // Java: first heartbeat 1 s after start, first route refresh after 10 ms.
            next_heartbeat: now + Millis(1_000),
            next_route_refresh: now + Millis(10),
            consumer: None,
            shutdown: None,
            ends: C::List::default(),
            checks: C::List::default(),
            next_seq: 0,
            next_oneway_opaque: -1,
        }
    }

    /// Set the NameServer list (`host:port;host:port`).
    pub fn set_namesrv(&mut self, list: &str) -> Result<(), CallError> {
        let mut state = self.rng_state;
        let r = self
            .namesrv
            .set_addresses(list, &mut || xorshift(&mut state))
            .map_err(CallError::Encode);
        self.rng_state = state;
        r
    }

    /// Register a producer group (included in heartbeats).
    pub fn register_producer(&mut self, group: &str) -> Result<(), CallError> {
        check_group(group).map_err(CallError::Invalid)?;
        if self.producer_groups.iter().any(|g| g == group) {
            return Ok(());
        }
        let name = name(group)?;
        self.producer_groups
            .try_push(name)
            .map_err(|_| CallError::Full("producer groups"))?;
        // Java heartbeats right after a producer starts.
        self.next_heartbeat = Instant::from_millis(0);
        Ok(())
    }

    /// Requests in flight (for back-pressure: compare with `INFLIGHT`).
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// Sends not yet ended.
    pub fn pending_sends(&self) -> usize {
        self.sends.len()
    }

    // ---------------------------------------------------------------- sending

    /// Start sending `msg` with the first registered producer group. `wall_clock_ms` is
    /// the current time since the Unix epoch (the born timestamp and UNIQ_KEY input).
    /// The outcome arrives as [`Event::SendOk`] / [`Event::SendFailed`].
    pub fn send(
        &mut self,
        now: Instant,
        wall_clock_ms: i64,
        msg: &Message<'_>,
        mode: SendMode,
    ) -> Result<SendId, CallError> {
        self.start_send(now, wall_clock_ms, msg, mode, None, false)
    }

    /// Send `msg` in order with every other message of the same `key`: the queue is
    /// Java's `SelectMessageQueueByHash` choice (`abs(key.hashCode() % queues)`), so Java
    /// and Rust producers put a key on the same queue. One attempt, no retry on another
    /// queue (behaviour.md §2.6).
    pub fn send_ordered(
        &mut self,
        now: Instant,
        wall_clock_ms: i64,
        msg: &Message<'_>,
        key: &str,
    ) -> Result<SendId, CallError> {
        self.start_send(now, wall_clock_ms, msg, SendMode::Sync, Some(key), false)
    }

    /// Send the half message of a transaction (messages.md §7): stored but invisible
    /// to consumers until [`Client::end_transaction`] commits it. Java properties
    /// `TRAN_MSG=true`, `PGROUP=<group>`, sysFlag TRANSACTION_PREPARED. The receipt of its
    /// [`Event::SendOk`] is what `end_transaction` needs.
    pub fn send_transactional(
        &mut self,
        now: Instant,
        wall_clock_ms: i64,
        msg: &Message<'_>,
    ) -> Result<SendId, CallError> {
        self.start_send(now, wall_clock_ms, msg, SendMode::Sync, None, true)
    }

    fn start_send(
        &mut self,
        now: Instant,
        wall_clock_ms: i64,
        msg: &Message<'_>,
        mode: SendMode,
        order_key: Option<&str>,
        transactional: bool,
    ) -> Result<SendId, CallError> {
        if self.shutdown.is_some() {
            return Err(CallError::Closed);
        }
        let group = self
            .producer_groups
            .first()
            .cloned()
            .ok_or(CallError::NoProducer)?;
        check_topic(msg.topic).map_err(CallError::Invalid)?;
        check_body(msg.body.len(), self.config.max_message_size).map_err(CallError::Invalid)?;
        let msg_id = {
            let hex = self.uniq.next(ms_since_month_start(
                wall_clock_ms,
                self.config.utc_offset_ms,
            ));
            MsgId::try_from(hex.as_str()).map_err(|_| CallError::Full("message id"))?
        };
        // The properties string, built once: retries reuse it (and its UNIQ_KEY).
        let mut props = [0u8; 2048];
        let props_len = msg.encode_properties(
            &mut props,
            &msg_id,
            transactional
                .then_some((keys::TRAN_MSG, "true"))
                .into_iter()
                .chain(transactional.then_some((keys::PGROUP, group.as_str()))),
        )?;
        // Java compresses single-message bodies of 4 KiB or more (zlib, level 5) and
        // marks them in sysFlag. Without an allocator bodies go uncompressed (valid on the
        // wire; only larger).
        #[cfg(feature = "alloc")]
        let compressed = crate::message::should_compress(msg.body.len())
            .then(|| crate::message::compress_zlib(msg.body, crate::message::DEFAULT_ZLIB_LEVEL));
        #[cfg(feature = "alloc")]
        let (body, sys_flag) = match &compressed {
            Some(c) => (c.as_slice(), SYS_FLAG_ZLIB_COMPRESSED),
            None => (msg.body, 0),
        };
        #[cfg(not(feature = "alloc"))]
        let (body, sys_flag) = (msg.body, 0);
        // TRANSACTION_PREPARED_TYPE (messages.md §2.3).
        let sys_flag = if transactional {
            sys_flag | 0x4
        } else {
            sys_flag
        };
        let data = B::from_parts(&[props.get(..props_len).unwrap_or_default(), body])
            .ok_or(CallError::Full("message buffer"))?;
        let topic = name(msg.topic)?;
        self.ensure_topic(&topic)?;
        let id = SendId(self.next_send);
        self.next_send = self.next_send.wrapping_add(1);
        let op = SendOp {
            id,
            mode,
            topic,
            group,
            data,
            props_len,
            flag: msg.flag,
            sys_flag,
            batch: false,
            born_timestamp: wall_clock_ms,
            msg_id,
            deadline: now + self.config.send_timeout,
            attempts: 0,
            last_broker: None,
            current: None,
            order_key: order_key.map(name).transpose()?,
            phase: SendPhase::Route,
            last_error: None,
            outcome: None,
            ended_seq: 0,
        };
        self.sends
            .try_push(op)
            .map_err(|_| CallError::Full("sends"))?;
        self.advance_send(now, id);
        Ok(id)
    }

    /// Send `msgs` as one SEND_BATCH_MESSAGE (Java `send(Collection<Message>)`): same
    /// topic, no delay level, one `WAIT` value, each message with its own UNIQ_KEY in
    /// its entry; only batch-wide properties travel in the header (messages.md §3.3, so
    /// brokers up to 5.3.3 do not give every message the same id). Batches are not
    /// compressed. The receipt's `msg_id` is the first message's UNIQ_KEY.
    pub fn send_batch(
        &mut self,
        now: Instant,
        wall_clock_ms: i64,
        msgs: &[Message<'_>],
    ) -> Result<SendId, CallError> {
        if self.shutdown.is_some() {
            return Err(CallError::Closed);
        }
        let group = self
            .producer_groups
            .first()
            .cloned()
            .ok_or(CallError::NoProducer)?;
        let first = msgs
            .first()
            .ok_or(CallError::Invalid(ValidationError::BodyEmpty))?;
        check_topic(first.topic).map_err(CallError::Invalid)?;
        if first.topic.starts_with("%RETRY%") {
            return Err(CallError::Invalid(ValidationError::TopicNotAllowed));
        }
        let mut total = 0usize;
        for m in msgs {
            if m.topic != first.topic
                || m.delay_level.is_some()
                || m.wait_store_msg_ok != first.wait_store_msg_ok
            {
                return Err(CallError::Encode(EncodeError::InvalidValue {
                    field: "batch",
                }));
            }
            check_body(m.body.len(), self.config.max_message_size).map_err(CallError::Invalid)?;
            total = total.saturating_add(m.body.len());
        }
        check_body(total, self.config.max_message_size).map_err(CallError::Invalid)?;
        let wait = if first.wait_store_msg_ok {
            "true"
        } else {
            "false"
        };
        let mut header_props = [0u8; 32];
        let header_len = {
            let mut out = SliceOut::new(&mut header_props);
            write_properties(&mut out, core::iter::once((keys::WAIT, wait)))
                .map_err(CallError::Encode)?;
            out.finish().map_err(CallError::Encode)?
        };
        let mut data = B::from_parts(&[header_props.get(..header_len).unwrap_or_default()])
            .ok_or(CallError::Full("message buffer"))?;
        let mut first_id = None;
        for m in msgs {
            let hex = self.uniq.next(ms_since_month_start(
                wall_clock_ms,
                self.config.utc_offset_ms,
            ));
            let id = MsgId::try_from(hex.as_str()).map_err(|_| CallError::Full("message id"))?;
            let mut props = [0u8; 2048];
            // Validated above: no delay level, and every WAIT equals the batch's.
            let props_len = m.encode_properties(&mut props, &id, core::iter::empty())?;
            let entry = crate::message::BatchEntry {
                flag: m.flag,
                body: m.body,
                properties: crate::message::PropertiesView::new(
                    core::str::from_utf8(props.get(..props_len).unwrap_or_default()).map_err(
                        |_| {
                            CallError::Encode(EncodeError::InvalidValue {
                                field: "properties",
                            })
                        },
                    )?,
                ),
            };
            // Each entry is encoded into a small stack buffer for its fixed head, then
            // appended piece by piece: no second copy of the body.
            let len = entry.encoded_len().map_err(CallError::Encode)?;
            let head = [
                (len as i32).to_be_bytes(),
                0i32.to_be_bytes(),
                0i32.to_be_bytes(),
                m.flag.to_be_bytes(),
                (m.body.len() as i32).to_be_bytes(),
            ];
            let ok = head.iter().all(|h| data.append(h))
                && data.append(m.body)
                && data.append(&(props_len as i16).to_be_bytes())
                && data.append(props.get(..props_len).unwrap_or_default());
            if !ok {
                return Err(CallError::Full("message buffer"));
            }
            first_id.get_or_insert(id);
        }
        let topic = name(first.topic)?;
        self.ensure_topic(&topic)?;
        let id = SendId(self.next_send);
        self.next_send = self.next_send.wrapping_add(1);
        let op = SendOp {
            id,
            mode: SendMode::Sync,
            topic,
            group,
            data,
            props_len: header_len,
            flag: 0,
            sys_flag: 0,
            batch: true,
            born_timestamp: wall_clock_ms,
            msg_id: first_id.unwrap_or_default(),
            deadline: now + self.config.send_timeout,
            attempts: 0,
            last_broker: None,
            current: None,
            order_key: None,
            phase: SendPhase::Route,
            last_error: None,
            outcome: None,
            ended_seq: 0,
        };
        self.sends
            .try_push(op)
            .map_err(|_| CallError::Full("sends"))?;
        self.advance_send(now, id);
        Ok(id)
    }

    fn ensure_topic(&mut self, topic: &Name) -> Result<(), CallError> {
        if self.topics.iter().any(|t| &t.topic == topic) {
            return Ok(());
        }
        self.topics
            .try_push(TopicInfo {
                topic: topic.clone(),
                queues: C::List::default(),
                selector: RoundRobin::new(xorshift(&mut self.rng_state)),
                querying: false,
                from_default: false,
                tried_default: false,
                missing: false,
                sub_queues: C::List::default(),
            })
            .map_err(|_| CallError::Full("topics"))
    }

    /// Move a send forward: ask for its route, pick a queue and queue an attempt, or
    /// end it.
    fn advance_send(&mut self, now: Instant, id: SendId) {
        let Some(pos) = self
            .sends
            .iter()
            .position(|s| s.id == id && s.phase != SendPhase::Done)
        else {
            return;
        };
        let Some(op) = self.sends.get(pos) else {
            return;
        };
        if now >= op.deadline {
            let err = op.last_error.clone().unwrap_or(SendError::Timeout);
            return self.end_send(id, Err(err));
        }
        let max_attempts = if op.order_key.is_some() {
            1
        } else {
            self.config.retry.max_attempts(op.mode)
        };
        if op.attempts >= max_attempts {
            let err = op.last_error.clone().unwrap_or(SendError::Transport);
            return self.end_send(id, Err(err));
        }
        let topic = op.topic.clone();
        let last_broker = op.last_broker.clone();
        let order_key = op.order_key.clone();
        let Some(ti) = self.topics.iter().position(|t| t.topic == topic) else {
            return self.end_send(id, Err(SendError::NoRoute));
        };
        let queue = {
            let Some(info) = self.topics.get_mut(ti) else {
                return;
            };
            if info.queues.is_empty() {
                if info.missing && info.tried_default {
                    return self.end_send(id, Err(SendError::NoRoute));
                }
                if !info.querying {
                    self.query_route(now, &topic, false);
                }
                if let Some(op) = self.sends.get_mut(pos) {
                    op.phase = SendPhase::Route;
                }
                return;
            }
            let i = match &order_key {
                Some(key) => Some(crate::producer::select::select_by_hash(
                    key,
                    info.queues.len(),
                )),
                None => info.selector.select(
                    &info.queues,
                    |q| q.broker.as_str(),
                    last_broker.as_deref(),
                ),
            };
            i.and_then(|i| info.queues.get(i)).cloned()
        };
        let Some(queue) = queue else {
            return self.end_send(id, Err(SendError::NoRoute));
        };
        let Some(addr) = self.master_addr(&queue.broker) else {
            // Java: "broker not exist" is retried on another broker.
            if let Some(op) = self.sends.get_mut(pos) {
                op.attempts += 1;
                op.last_broker = Some(queue.broker.clone());
                op.last_error = Some(SendError::NoRoute);
            }
            return self.advance_send(now, id);
        };
        let conn = self.conn_for(&addr);
        let Some(op) = self.sends.get_mut(pos) else {
            return;
        };
        op.attempts += 1;
        op.current = Some(queue);
        op.phase = SendPhase::Attempt;
        let deadline = op.deadline;
        let oneway = op.mode == SendMode::Oneway;
        match self.inflight.insert(conn, deadline, Purpose::Send(id)) {
            Ok(opaque) => {
                let pushed = self.outbound.try_push(Outbound {
                    conn,
                    opaque,
                    purpose: Purpose::Send(id),
                    code: 0,
                });
                if pushed.is_err() {
                    self.inflight.complete(opaque);
                    self.end_send(id, Err(SendError::Transport));
                } else if oneway {
                    // Nothing will answer: it ends once written (see poll_transmit).
                }
            }
            Err(_) => self.end_send(id, Err(SendError::Transport)),
        }
    }

    /// End a send once: its outcome stays in the table until `poll_event` hands it out,
    /// so no outcome can be lost to a full queue.
    fn end_send(&mut self, id: SendId, result: Result<SendReceipt, SendError>) {
        let seq = self.ended_seq;
        let Some(op) = self.live_send_mut(id) else {
            return;
        };
        op.phase = SendPhase::Done;
        op.outcome = Some(result);
        op.ended_seq = seq;
        self.ended_seq = seq.wrapping_add(1);
        // An attempt still queued for writing is void now.
        self.outbound
            .retain_where(|o| o.purpose != Purpose::Send(id));
    }

    /// A send that has not ended.
    fn live_send_mut(&mut self, id: SendId) -> Option<&mut SendOp<B>> {
        self.sends
            .iter_mut()
            .find(|s| s.id == id && s.phase != SendPhase::Done)
    }

    /// Where to pull from (Java `findBrokerAddressInSubscribe`): the suggested broker
    /// id; for a missing slave id the next one; else the master; else any address.
    fn pull_addr(&self, broker: &str, suggested: i64) -> Option<(Addr, i64)> {
        let by_id = |id: i64| {
            self.brokers
                .iter()
                .find(|b| b.name == broker && b.id == id)
                .map(|b| (b.addr.clone(), b.id))
        };
        by_id(suggested)
            .or_else(|| {
                (suggested > 0)
                    .then(|| by_id(suggested.saturating_add(1)))
                    .flatten()
            })
            .or_else(|| by_id(0))
            .or_else(|| {
                self.brokers
                    .iter()
                    .find(|b| b.name == broker)
                    .map(|b| (b.addr.clone(), b.id))
            })
    }

    fn master_addr(&self, broker: &str) -> Option<Addr> {
        self.brokers
            .iter()
            .find(|b| b.name == broker && b.id == 0)
            .map(|b| b.addr.clone())
    }

    // ---------------------------------------------------------------- routes

    fn query_route(&mut self, now: Instant, topic: &Name, via_default: bool) {
        let Some(index) = self.topics.iter().position(|t| &t.topic == topic) else {
            return;
        };
        let Some(addr) = self.namesrv.choose().and_then(|a| Addr::try_from(a).ok()) else {
            // No NameServer: every send waiting for this route fails.
            self.route_unavailable(topic);
            return;
        };
        let conn = self.conn_for(&addr);
        let purpose = Purpose::Route {
            topic: index as u16,
            via_default,
        };
        let deadline = now + self.config.request_timeout;
        let Ok(opaque) = self.inflight.insert(conn, deadline, purpose.clone()) else {
            return;
        };
        if self
            .outbound
            .try_push(Outbound {
                conn,
                opaque,
                purpose,
                code: 0,
            })
            .is_err()
        {
            self.inflight.complete(opaque);
            return;
        }
        if let Some(t) = self.topics.get_mut(index) {
            t.querying = true;
        }
    }

    /// The route of `topic` could not be had (no NameServer, or no answer): sends
    /// waiting for it fail.
    fn route_unavailable(&mut self, topic: &Name) {
        self.for_each_send(
            |s| &s.topic == topic && s.phase == SendPhase::Route,
            |c, id| c.end_send(id, Err(SendError::NoRoute)),
        );
    }

    /// Apply `f` to every send `pred` selects, in ascending id order (the order sends
    /// are kept in), however many there are. Ids are gathered a chunk at a time because
    /// `f` needs the whole client; `f` may end, advance or leave a send as it is.
    fn for_each_send(
        &mut self,
        pred: impl Fn(&SendOp<B>) -> bool,
        mut f: impl FnMut(&mut Self, SendId),
    ) {
        let mut after: Option<SendId> = None;
        loop {
            let chunk: heapless::Vec<SendId, 64> = self
                .sends
                .iter()
                .filter(|s| after.is_none_or(|a| s.id > a) && pred(s))
                .map(|s| s.id)
                .take(64)
                .collect();
            let Some(&last) = chunk.last() else { return };
            for id in chunk {
                f(self, id);
            }
            after = Some(last);
        }
    }

    fn on_route_response(
        &mut self,
        now: Instant,
        topic: u16,
        via_default: bool,
        cmd: &Command<'_>,
    ) {
        let Some(target) = self.topics.get(usize::from(topic)).map(|t| t.topic.clone()) else {
            return;
        };
        let default_for = via_default.then(|| target.clone());
        if let Some(t) = self.topics.iter_mut().find(|t| t.topic == target) {
            t.querying = false;
        }
        if cmd.header.response_code() != ResponseCode::SUCCESS {
            let Some(t) = self.topics.iter_mut().find(|t| t.topic == target) else {
                return;
            };
            t.missing = true;
            // Only a producer borrows TBW102's route (§1.8); a consumer's topic simply
            // has no queues until its route appears at a later refresh.
            let sends_waiting = self
                .sends
                .iter()
                .any(|s| s.topic == target && s.phase == SendPhase::Route);
            let Some(t) = self.topics.iter_mut().find(|t| t.topic == target) else {
                return;
            };
            if default_for.is_none() && !t.tried_default && t.queues.is_empty() && sends_waiting {
                // Fall back to the default topic's route (auto-creation, §1.8).
                t.tried_default = true;
                self.query_route(now, &target, true);
            } else {
                if default_for.is_some() {
                    t.tried_default = true;
                }
                self.wake_route_waiters(now, &target);
            }
            return;
        }
        let Ok(route) = TopicRouteData::<C>::decode(cmd.body) else {
            return self.wake_route_waiters(now, &target);
        };
        // Broker address table (masters and slaves).
        for bd in route.broker_datas.iter() {
            let Some(bname) = bd.broker_name.as_str() else {
                continue;
            };
            for ba in bd.broker_addrs.iter() {
                let Some(a) = ba.addr.as_str() else { continue };
                let known = self
                    .brokers
                    .iter_mut()
                    .find(|b| b.name == bname && b.id == ba.id);
                match known {
                    Some(b) => {
                        if let Ok(addr) = Addr::try_from(a) {
                            b.addr = addr;
                        }
                    }
                    None => {
                        if let (Ok(name), Ok(addr)) = (Name::try_from(bname), Addr::try_from(a)) {
                            let _ = self.brokers.try_push(BrokerAddrs {
                                name,
                                id: ba.id,
                                addr,
                            });
                        }
                    }
                }
            }
        }
        // Publish queues; through the default topic, clipped to 4 per broker.
        let mut queues = C::List::<PubQueue>::default();
        if default_for.is_none() {
            let mut subs = C::List::<PubQueue>::default();
            for (broker, queue_id) in route.subscribe_queues() {
                if let Some(b) = broker.as_str().and_then(|b| Name::try_from(b).ok()) {
                    // Full: a route with absurd queue counts (a hostile or broken
                    // NameServer) is cut at the table's capacity instead of iterated to
                    // the end (up to 2^31 queues).
                    if subs
                        .try_push(PubQueue {
                            broker: b,
                            queue_id,
                        })
                        .is_err()
                    {
                        break;
                    }
                }
            }
            if let Some(t) = self.topics.iter_mut().find(|t| t.topic == target) {
                t.sub_queues = subs;
            }
        }
        for (broker, queue_id) in route.publish_queues() {
            if default_for.is_some() {
                let read = route
                    .queue_datas
                    .iter()
                    .find(|q| q.broker_name == broker)
                    .map_or(0, |q| q.read_queue_nums);
                if queue_id >= DEFAULT_TOPIC_QUEUE_NUMS.min(read) {
                    continue;
                }
            }
            let Some(b) = broker.as_str().and_then(|b| Name::try_from(b).ok()) else {
                continue;
            };
            if queues
                .try_push(PubQueue {
                    broker: b,
                    queue_id,
                })
                .is_err()
            {
                break; // capacity reached: see the subscribe queues above
            }
        }
        if let Some(t) = self.topics.iter_mut().find(|t| t.topic == target) {
            if !queues.is_empty() || default_for.is_none() {
                // A real route replaces a borrowed one; an empty real route does not
                // wipe a working borrowed one.
                if !(queues.is_empty() && t.from_default) {
                    t.queues = queues;
                    t.from_default = default_for.is_some();
                }
            }
            t.missing = t.queues.is_empty();
            if default_for.is_some() {
                t.tried_default = true;
            }
        }
        self.wake_route_waiters(now, &target);
    }

    fn wake_route_waiters(&mut self, now: Instant, topic: &Name) {
        self.for_each_send(
            |s| &s.topic == topic && s.phase == SendPhase::Route,
            |c, id| c.advance_send(now, id),
        );
    }

    // ---------------------------------------------------------------- connections

    fn conn_for(&mut self, addr: &Addr) -> ConnId {
        if let Some(c) = self
            .conns
            .iter()
            .find(|c| &c.addr == addr && c.state != ConnState::Closed)
        {
            return c.id;
        }
        let id = ConnId(self.next_conn);
        self.next_conn = self.next_conn.wrapping_add(1);
        // The adapter learns of it from poll_event (Event::Connect). If the table is
        // full the requests queued for it end at their deadlines.
        let _ = self.conns.try_push(Conn {
            id,
            addr: addr.clone(),
            state: ConnState::Connecting,
            announced: false,
        });
        id
    }

    /// The connection `conn` is established.
    pub fn handle_connected(&mut self, now: Instant, conn: ConnId) {
        let Some(c) = self
            .conns
            .iter_mut()
            .find(|c| c.id == conn && c.state == ConnState::Connecting)
        else {
            return;
        };
        c.state = ConnState::Open;
        let addr = c.addr.clone();
        // Java 5.x: a connection to a known broker (first connect or reconnect) gets a
        // heartbeat at once, and the rebalance is woken — a restarted broker learns the
        // client's subscriptions before its pulls arrive (behaviour.md §1.9).
        let is_broker = self.brokers.iter().any(|b| b.addr == addr);
        if is_broker
            && (self.consumer.is_some() || !self.producer_groups.is_empty())
            && self.shutdown.is_none()
        {
            let deadline = now + self.config.request_timeout;
            let _ = self.push_request(&addr, deadline, Purpose::Heartbeat);
            if let Some(c) = self.consumer.as_mut() {
                c.next_rebalance = c
                    .next_rebalance
                    .min(now.max(c.last_rebalance + Millis(1_000)));
            }
        }
    }

    /// The connection `conn` failed to open, or closed. Its requests end: route
    /// queries move to the next NameServer, sends are retried or fail.
    pub fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        let addr = self
            .conns
            .iter()
            .position(|c| c.id == conn)
            .and_then(|i| self.conns.remove_at(i))
            .map(|c| c.addr);
        self.outbound.retain_where(|o| o.conn != conn);
        if let Some(addr) = &addr {
            self.namesrv.mark_failed(addr);
        }
        while let Some((_, purpose)) = self.inflight.poll_lost(conn) {
            self.request_failed(now, purpose);
        }
    }

    fn request_failed(&mut self, now: Instant, purpose: Purpose) {
        match purpose {
            Purpose::Route { topic, .. } => {
                let Some(t) = self.topics.get_mut(usize::from(topic)) else {
                    return;
                };
                t.querying = false;
                let target = t.topic.clone();
                // Retry on the next NameServer once the failed one is marked; sends
                // waiting for the route keep waiting until their own deadline.
                if self
                    .sends
                    .iter()
                    .any(|s| s.topic == target && s.phase == SendPhase::Route)
                {
                    self.query_route(now, &target, false);
                }
            }
            Purpose::Send(id) => {
                let policy = self.config.retry;
                if let Some(op) = self.live_send_mut(id) {
                    op.last_broker = op.current.take().map(|q| q.broker);
                    op.last_error = Some(SendError::Transport);
                    let verdict = classify(op.mode, Attempt::Transport, &policy);
                    if verdict == Verdict::Retry {
                        return self.advance_send(now, id);
                    }
                }
                self.end_send(id, Err(SendError::Transport));
            }
            Purpose::Heartbeat
            | Purpose::Reply
            | Purpose::Commit { .. }
            | Purpose::Unregister { .. }
            | Purpose::EndTransaction { .. } => {}
            Purpose::SendBack { token, index, .. } => self.send_back_done(now, token, index, false),
            Purpose::ConsumerList { .. } | Purpose::Offset { .. } | Purpose::Pull { .. } => {
                self.consumer_request_failed(now, &purpose)
            }
        }
    }

    // ---------------------------------------------------------------- input

    /// Bytes arrived on `conn`. Consumes whole frames only and returns how many bytes
    /// it used; keep the rest and call again when more arrive. A malformed frame is an
    /// error: the connection is closed (an [`Event::Close`] is queued) and its requests
    /// end as lost.
    pub fn handle_input(
        &mut self,
        now: Instant,
        conn: ConnId,
        bytes: &[u8],
    ) -> Result<usize, DecodeError> {
        let mut used = 0;
        loop {
            let rest = bytes.get(used..).unwrap_or_default();
            let decoded = self.decoder.decode(rest).and_then(|d| match d {
                Decoded::Frame { frame, consumed } => {
                    Command::decode(frame).map(|c| Some((c, consumed)))
                }
                Decoded::Incomplete { .. } => Ok(None),
            });
            match decoded {
                Ok(Some((cmd, consumed))) => {
                    used += consumed;
                    self.on_command(now, conn, &cmd);
                }
                Ok(None) => return Ok(used),
                Err(e) => {
                    self.handle_closed(now, conn);
                    // Keep an entry so the adapter is told to close it.
                    let _ = self.conns.try_push(Conn {
                        id: conn,
                        addr: Addr::new(),
                        state: ConnState::Closed,
                        announced: false,
                    });
                    return Err(e);
                }
            }
        }
    }

    fn on_command(&mut self, now: Instant, conn: ConnId, cmd: &Command<'_>) {
        if !cmd.header.is_response() {
            return self.on_server_request(now, conn, cmd);
        }
        let Some((_, purpose)) = self.inflight.complete(cmd.header.opaque) else {
            return; // late or unknown: dropped, as Java does
        };
        match purpose {
            Purpose::Route { topic, via_default } => {
                self.on_route_response(now, topic, via_default, cmd)
            }
            Purpose::Send(id) => self.on_send_response(now, id, cmd),
            Purpose::Heartbeat
            | Purpose::Reply
            | Purpose::Commit { .. }
            | Purpose::Unregister { .. }
            | Purpose::EndTransaction { .. } => {}
            Purpose::SendBack { token, index, .. } => {
                let ok = cmd.header.response_code() == ResponseCode::SUCCESS;
                self.send_back_done(now, token, index, ok)
            }
            Purpose::ConsumerList { topic } => self.on_consumer_list(now, topic, cmd),
            Purpose::Offset { token, max } => self.on_offset(now, token, max, cmd),
            Purpose::Pull { token } => self.on_pull(now, token, cmd),
        }
    }

    fn on_send_response(&mut self, now: Instant, id: SendId, cmd: &Command<'_>) {
        let policy = self.config.retry;
        let Some(op) = self.live_send_mut(id) else {
            return;
        };
        let code = cmd.header.response_code();
        let queue = op.current.take();
        let broker_name = queue.as_ref().map(|q| q.broker.clone()).unwrap_or_default();
        match classify(op.mode, Attempt::Response(code), &policy) {
            Verdict::Stored(status) => {
                let resp: Result<SendMessageResponse<'_>, _> = cmd.decode_fields();
                let receipt = match resp {
                    Ok(r) => SendReceipt {
                        status,
                        msg_id: op.msg_id.clone(),
                        offset_msg_id: text_to(&r.msg_id),
                        broker_name,
                        queue_id: r.queue_id,
                        queue_offset: r.queue_offset,
                    },
                    Err(_) => SendReceipt {
                        status,
                        msg_id: op.msg_id.clone(),
                        offset_msg_id: MsgId::new(),
                        broker_name,
                        queue_id: queue.map_or(-1, |q| q.queue_id),
                        queue_offset: -1,
                    },
                };
                self.end_send(id, Ok(receipt));
            }
            verdict => {
                let error = SendError::Broker {
                    code,
                    remark: cmd.header.remark.map(|r| text_to(&r)).unwrap_or_default(),
                    broker_name: broker_name.clone(),
                };
                op.last_broker = Some(broker_name);
                op.last_error = Some(error.clone());
                if verdict == Verdict::Retry {
                    self.advance_send(now, id);
                } else {
                    self.end_send(id, Err(error));
                }
            }
        }
    }

    /// A request from the broker. Unknown two-way requests get
    /// REQUEST_CODE_NOT_SUPPORTED, as Java answers (wire.md §3.2); oneway ones none.
    fn on_server_request(&mut self, now: Instant, conn: ConnId, cmd: &Command<'_>) {
        if cmd.header.request_code() == RequestCode::CHECK_TRANSACTION_STATE {
            return self.on_check_transaction(conn, cmd);
        }
        if cmd.header.request_code() == RequestCode::RESET_CONSUMER_CLIENT_OFFSET {
            return self.on_reset_offset(now, cmd);
        }
        if cmd.header.request_code() == RequestCode::NOTIFY_CONSUMER_IDS_CHANGED {
            // Wake the rebalance (Java: RebalanceService.wakeup), at most once a second.
            if let Some(c) = self.consumer.as_mut() {
                c.next_rebalance = c
                    .next_rebalance
                    .min(now.max(c.last_rebalance + Millis(1_000)));
            }
            return;
        }
        if cmd.header.is_oneway() {
            return;
        }
        let _ = self.outbound.try_push(Outbound {
            conn,
            opaque: cmd.header.opaque,
            purpose: Purpose::Reply,
            code: ResponseCode::REQUEST_CODE_NOT_SUPPORTED.0,
        });
    }

    // ---------------------------------------------------------------- output

    /// Write the next frame into `buf`. `Ok(None)` when nothing is ready to go (frames
    /// for connections still connecting wait). `BufferTooSmall { needed }` if `buf` is
    /// too small for the next frame (nothing is lost: call again with a larger one).
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        buf: &mut [u8],
    ) -> Result<Option<Transmit>, EncodeError> {
        let open = |conns: &C::List<Conn>, id: ConnId| {
            conns
                .iter()
                .any(|c| c.id == id && c.state == ConnState::Open)
        };
        let Some(pos) = self.outbound.iter().position(|o| open(&self.conns, o.conn)) else {
            return Ok(None);
        };
        let Some(ob) = self.outbound.get(pos).cloned() else {
            return Ok(None);
        };
        let len = self.encode_outbound(&ob, buf)?;
        let _ = self.outbound.remove_at(pos);
        if let Purpose::EndTransaction { seq } = ob.purpose {
            self.ends.retain_where(|e| e.seq != seq);
        }
        if let Purpose::Send(id) = ob.purpose {
            let oneway = self
                .sends
                .iter()
                .find(|s| s.id == id)
                .is_some_and(|s| s.mode == SendMode::Oneway);
            if oneway {
                self.inflight.complete(ob.opaque);
                let receipt = self.sends.iter().find(|s| s.id == id).map(|s| SendReceipt {
                    status: SendStatus::SendOk,
                    msg_id: s.msg_id.clone(),
                    offset_msg_id: MsgId::new(),
                    broker_name: s
                        .current
                        .as_ref()
                        .map(|q| q.broker.clone())
                        .unwrap_or_default(),
                    queue_id: s.current.as_ref().map_or(-1, |q| q.queue_id),
                    queue_offset: -1,
                });
                if let Some(r) = receipt {
                    self.end_send(id, Ok(r));
                }
            }
        }
        let _ = now;
        Ok(Some(Transmit { conn: ob.conn, len }))
    }

    fn header(&self, code: RequestCode, opaque: i32) -> Header<'static> {
        Header {
            language: self.config.language,
            version: self.config.version,
            ..Header::request(code, opaque)
        }
    }

    fn encode_outbound(&self, ob: &Outbound, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let enc = CommandEncoder::new(self.config.serialize_type);
        match &ob.purpose {
            Purpose::Route { topic, via_default } => {
                let name = match self.topics.get(usize::from(*topic)) {
                    Some(_) if *via_default => DEFAULT_TOPIC,
                    Some(t) => t.topic.as_str(),
                    None => return Err(EncodeError::InvalidValue { field: "topic" }),
                };
                let req = GetRouteInfoRequest {
                    topic: Text::new(name),
                    accept_standard_json_only: None,
                };
                enc.encode(
                    buf,
                    &self.header(RequestCode::GET_ROUTEINFO_BY_TOPIC, ob.opaque),
                    &req,
                    b"",
                )
            }
            Purpose::Heartbeat => {
                let mut hb = HeartbeatData::<C>::new(Text::new(self.config.client_id.as_str()));
                for g in self.producer_groups.iter() {
                    let _ = hb.producer_data_set.try_push(ProducerData {
                        group_name: Text::new(g),
                    });
                }
                if let Some(c) = &self.consumer {
                    let _ = hb.consumer_data_set.try_push(c.consumer_data());
                }
                // The body is written after the header: measure it, then write both.
                let body_len = hb.encoded_len();
                let header = self.header(RequestCode::HEART_BEAT, ob.opaque);
                let header_len = enc.header_len(&header, &EmptyFields)?;
                let total = crate::frame::PREFIX_LEN + header_len + body_len;
                let prefix = crate::frame::prefix(self.config.serialize_type, header_len, body_len)
                    .ok_or(EncodeError::ValueOutOfRange { field: "length" })?;
                let mut out = SliceOut::new(buf);
                out.put(&prefix);
                enc.write_header(&mut out, &header, &EmptyFields)?;
                hb.encode(&mut out);
                let n = out.finish()?;
                debug_assert_eq!(n, total);
                Ok(n)
            }
            Purpose::Send(id) => {
                let op = self
                    .sends
                    .iter()
                    .find(|s| s.id == *id)
                    .ok_or(EncodeError::InvalidValue { field: "send" })?;
                let data = op.data.as_ref();
                let (props, body) = data.split_at(op.props_len.min(data.len()));
                let props = core::str::from_utf8(props).map_err(|_| EncodeError::InvalidValue {
                    field: "properties",
                })?;
                let queue = op.current.as_ref();
                let req = SendMessageRequest {
                    producer_group: Text::new(&op.group),
                    topic: Text::new(&op.topic),
                    default_topic: Text::new(DEFAULT_TOPIC),
                    default_topic_queue_nums: DEFAULT_TOPIC_QUEUE_NUMS,
                    queue_id: queue.map_or(0, |q| q.queue_id),
                    sys_flag: op.sys_flag,
                    born_timestamp: op.born_timestamp,
                    flag: op.flag,
                    properties: Some(Text::new(props)),
                    reconsume_times: Some(0),
                    unit_mode: Some(false),
                    max_reconsume_times: None,
                    batch: Some(op.batch),
                    broker_name: queue.map(|q| Text::new(&q.broker)),
                };
                let code = if op.batch {
                    RequestCode::SEND_BATCH_MESSAGE
                } else {
                    RequestCode::SEND_MESSAGE_V2
                };
                let mut header = self.header(code, ob.opaque);
                if op.mode == SendMode::Oneway {
                    header = header.oneway();
                }
                enc.encode(buf, &header, &req.v2(), body)
            }
            Purpose::EndTransaction { seq } => {
                use crate::header::EndTransactionRequest;
                let e =
                    self.ends
                        .iter()
                        .find(|e| e.seq == *seq)
                        .ok_or(EncodeError::InvalidValue {
                            field: "transaction",
                        })?;
                let req = EndTransactionRequest {
                    producer_group: Text::new(&e.group),
                    tran_state_table_offset: e.tran_state_table_offset,
                    commit_log_offset: e.commit_log_offset,
                    commit_or_rollback: e.resolution,
                    from_transaction_check: Some(e.from_check),
                    msg_id: Text::new(&e.msg_id),
                    transaction_id: Some(Text::new(&e.transaction_id)),
                    topic: None,
                    broker_name: None,
                };
                let header = self
                    .header(RequestCode::END_TRANSACTION, ob.opaque)
                    .oneway();
                enc.encode(buf, &header, &req, b"")
            }
            Purpose::Unregister { producer } => {
                use crate::header::UnregisterClientRequest;
                let group = match producer {
                    Some(i) => self
                        .producer_groups
                        .get(usize::from(*i))
                        .map(|g| g.as_str()),
                    None => self.consumer.as_ref().map(|c| c.group.as_str()),
                }
                .ok_or(EncodeError::InvalidValue { field: "group" })?;
                let req = UnregisterClientRequest {
                    client_id: Text::new(self.config.client_id.as_str()),
                    producer_group: producer.map(|_| Text::new(group)),
                    consumer_group: producer.is_none().then(|| Text::new(group)),
                };
                enc.encode(
                    buf,
                    &self.header(RequestCode::UNREGISTER_CLIENT, ob.opaque),
                    &req,
                    b"",
                )
            }
            Purpose::ConsumerList { .. }
            | Purpose::Offset { .. }
            | Purpose::Pull { .. }
            | Purpose::Commit { .. }
            | Purpose::SendBack { .. } => self.encode_consumer_request(&enc, ob, buf),
            Purpose::Reply => {
                let header = Header {
                    language: self.config.language,
                    version: self.config.version,
                    ..Header::response(ResponseCode(ob.code), ob.opaque)
                };
                enc.encode(
                    buf,
                    &header.with_remark("request type not supported"),
                    &NoFields,
                    b"",
                )
            }
        }
    }

    /// The next event for the adapter.
    ///
    /// Events are derived from state, never queued, so none is lost however long the
    /// adapter waits: connections to open, connections to close, then ended sends in
    /// the order they ended.
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Some(c) = self
            .conns
            .iter_mut()
            .find(|c| !c.announced && c.state != ConnState::Closed)
        {
            c.announced = true;
            return Some(Event::Connect {
                conn: c.id,
                addr: c.addr.clone(),
            });
        }
        if let Some(i) = self.conns.iter().position(|c| c.state == ConnState::Closed) {
            let conn = self.conns.remove_at(i)?;
            return Some(Event::Close { conn: conn.id });
        }
        if let Some(id) = self
            .consumer
            .as_mut()
            .and_then(ConsumerState::announce_delivery)
        {
            return Some(Event::Messages { id });
        }
        if let Some(c) = self.checks.iter_mut().find(|c| !c.announced) {
            c.announced = true;
            return Some(Event::CheckTransaction { id: c.id });
        }
        if let Some(c) = self.consumer.as_mut().filter(|c| c.persist_pending) {
            c.persist_pending = false;
            return Some(Event::PersistOffsets);
        }
        let Some(i) = self
            .sends
            .iter()
            .enumerate()
            .filter(|(_, s)| s.outcome.is_some())
            .min_by_key(|(_, s)| s.ended_seq.wrapping_sub(self.ended_seq))
            .map(|(i, _)| i)
        else {
            return self.shutdown_event();
        };
        let op = self.sends.remove_at(i)?;
        Some(match op.outcome? {
            Ok(receipt) => Event::SendOk { id: op.id, receipt },
            Err(error) => Event::SendFailed { id: op.id, error },
        })
    }

    // ---------------------------------------------------------------- time

    /// When [`Client::handle_timeout`] must next be called.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let mut t = self.next_heartbeat.min(self.next_route_refresh);
        if let Some(d) = self.inflight.next_deadline() {
            t = t.min(d);
        }
        if let Some(c) = &self.consumer {
            if self.shutdown.is_none() {
                t = t.min(c.next_timer());
            }
        }
        if let Some(sd) = &self.shutdown {
            t = t.min(sd.until);
        }
        if let Some(d) = self
            .sends
            .iter()
            .filter(|s| s.phase != SendPhase::Done)
            .map(|s| s.deadline)
            .min()
        {
            t = t.min(d);
        }
        Some(t)
    }

    /// Time passed: expire requests and sends, run periodic heartbeats and route
    /// refreshes.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((_, conn, purpose)) = self.inflight.poll_expired(now) {
            self.outbound
                .retain_where(|o| !(o.conn == conn && matches!(&o.purpose, p if *p == purpose)));
            if let Purpose::Route { .. } = purpose {
                if let Some(addr) = self
                    .conns
                    .iter()
                    .find(|c| c.id == conn)
                    .map(|c| c.addr.clone())
                {
                    self.namesrv.mark_failed(&addr);
                }
            }
            self.request_failed(now, purpose);
        }
        // Sends whose total deadline passed while waiting for a route.
        self.for_each_send(
            |s| s.deadline <= now && s.phase == SendPhase::Route,
            |c, id| {
                let err = c
                    .sends
                    .iter()
                    .find(|s| s.id == id)
                    .and_then(|s| s.last_error.clone())
                    .unwrap_or(SendError::Timeout);
                c.end_send(id, Err(err));
            },
        );
        if now >= self.next_route_refresh {
            self.next_route_refresh = now + self.config.route_refresh_interval;
            // By index: topics are only ever appended, and every one is refreshed.
            for i in 0..self.topics.len() {
                let Some(t) = self.topics.get(i).filter(|t| !t.querying) else {
                    continue;
                };
                let topic = t.topic.clone();
                self.query_route(now, &topic, false);
            }
        }
        if now >= self.next_heartbeat {
            self.next_heartbeat = now + self.config.heartbeat_interval;
            self.send_heartbeats(now);
        }
        self.consumer_tick(now);
        self.shutdown_tick(now);
    }

    /// HEART_BEAT to every master (a producer-only client heartbeats masters only).
    fn send_heartbeats(&mut self, now: Instant) {
        if self.producer_groups.is_empty() && self.consumer.is_none() {
            return;
        }
        // With a consumer, slaves too (they serve pulls); producers only need masters.
        let all = self.consumer.is_some();
        let deadline = now + self.config.request_timeout;
        // By index: queuing a request does not touch the broker table.
        for i in 0..self.brokers.len() {
            let Some(b) = self.brokers.get(i).filter(|b| all || b.id == 0) else {
                continue;
            };
            let addr = b.addr.clone();
            self.push_request(&addr, deadline, Purpose::Heartbeat);
        }
    }
}

// ==================================================================== consumer

/// Identifies one batch of pulled messages handed to the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeliveryId(pub u32);

/// Settings of the (push-style) consumer. Defaults are Java's.
#[derive(Debug, Clone, Copy)]
pub struct ConsumerConfig<'a> {
    /// The consumer group.
    pub group: &'a str,
    /// Clustering (the group shares the queues) or broadcasting (each member reads all).
    pub model: crate::body::MessageModel,
    /// Where a queue with no committed offset starts.
    pub from_where: crate::body::ConsumeFromWhere,
    /// Messages per pull (`pullBatchSize`, 32).
    pub batch_size: i32,
    /// Long-poll hold on the broker (15 s).
    pub suspend: Millis,
    /// Pull timeout; must exceed the hold (30 s).
    pub pull_timeout: Millis,
    /// Rebalance period (20 s; woken sooner by NOTIFY_CONSUMER_IDS_CHANGED).
    pub rebalance_interval: Millis,
    /// Offset commit period (5 s).
    pub commit_interval: Millis,
    /// Commit consumed offsets every `commit_interval` (lite pull's `autoCommit`,
    /// default true); when false only [`Client::commit`] does.
    pub auto_commit: bool,
    /// A pull-style consumer (Java `DefaultLitePullConsumer`: `CONSUME_ACTIVELY` in
    /// heartbeats) rather than a push consumer.
    pub lite_pull: bool,
}

impl<'a> ConsumerConfig<'a> {
    /// Java's defaults for a clustering consumer of `group`, starting at the last
    /// offset.
    pub fn new(group: &'a str) -> Self {
        ConsumerConfig {
            group,
            model: crate::body::MessageModel::Clustering,
            from_where: crate::body::ConsumeFromWhere::LastOffset,
            batch_size: 32,
            suspend: Millis(15_000),
            pull_timeout: Millis(30_000),
            rebalance_interval: Millis(20_000),
            commit_interval: Millis(5_000),
            auto_commit: true,
            lite_pull: false,
        }
    }

    /// Java's `DefaultLitePullConsumer` defaults: pull style, auto-commit on.
    pub fn lite_pull(group: &'a str) -> Self {
        ConsumerConfig {
            lite_pull: true,
            ..ConsumerConfig::new(group)
        }
    }
}

/// A batch handed to the application: the raw pull body and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'d> {
    /// The topic.
    pub topic: &'d str,
    /// The broker.
    pub broker_name: &'d str,
    /// The queue.
    pub queue_id: i32,
    /// The subscription's TAG expression (`*` for all).
    pub expression: &'d str,
    body: &'d [u8],
}

impl<'d> Delivery<'d> {
    /// The messages, with those whose tag the subscription does not name left out
    /// (the broker filters by hash only; Java re-filters by the exact tag). Records are
    /// as stored: a compressed body (sysFlag bit 0x1) is read with
    /// [`MessageRecord::decompressed_body`](crate::message::MessageRecord::decompressed_body)
    /// (needs `alloc`).
    pub fn messages(&self) -> impl Iterator<Item = crate::message::MessageRecord<'d>> + 'd {
        delivered_records(self.body, self.expression)
    }
}

/// The records of a pull body the application sees: those its TAG expression names
/// (the broker filters by hash only; Java re-filters by the exact tag).
fn delivered_records<'d>(
    body: &'d [u8],
    expression: &'d str,
) -> impl Iterator<Item = crate::message::MessageRecord<'d>> + 'd {
    crate::message::RecordIter::new(body)
        .map_while(Result::ok)
        .filter(move |m| crate::message::parse_tag_expression(expression).matches_tag(m.tags()))
        .take(64)
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Sub {
    topic: Name,
    expression: Name,
    version: i64,
    /// A SQL92 expression over message properties (broker-side filtering only)
    /// instead of a TAG expression.
    sql92: bool,
}

impl Sub {
    /// The expression the client re-filters delivered messages with: the TAG
    /// expression, or `*` for SQL92 (the broker alone evaluates those).
    fn client_filter(&self) -> &str {
        if self.sql92 {
            "*"
        } else {
            &self.expression
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueueStep {
    /// Find the starting offset.
    NeedOffset,
    /// An offset query is in flight.
    QueryingOffset,
    /// Pull when possible.
    Ready,
    /// A pull is in flight.
    Pulling,
    /// A batch is with the application.
    Delivered,
    /// Retry the offset lookup at this time.
    OffsetAt(Instant),
    /// Retry the pull at this time.
    PullAt(Instant),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Batch<B> {
    id: DeliveryId,
    body: B,
    /// The queue offset after the batch.
    next_offset: i64,
    announced: bool,
    /// Set by `nack`: the delay level asked for, and which delivered messages still
    /// have to be sent back (bit per message; a batch holds at most 64).
    nack: Option<(i32, u64)>,
    /// Failed send-backs are tried again at this time.
    retry_backs_at: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct OwnedQueue<B> {
    /// Identifies this ownership: responses for a queue dropped (and maybe re-owned)
    /// since carry an old token and are ignored.
    token: u32,
    topic: u16,
    broker: Name,
    queue_id: i32,
    step: QueueStep,
    next_offset: i64,
    /// Everything before this offset is consumed (the commit candidate); -1 unknown.
    consumed: i64,
    committed: i64,
    batch: Option<Batch<B>>,
    /// Rebalanced away while a batch was with the application: kept only so that
    /// batch stays readable until acked; never pulled or committed again, and its
    /// ack/nack changes no offset and sends nothing back (behaviour.md §12, item 2).
    released: bool,
    /// The broker id the last pull response suggested (`suggestWhichBrokerId`; 0 =
    /// master): the next pull goes there (behaviour.md §1.6).
    suggested: i64,
    /// The pull in flight goes to a slave: it must not carry a commit.
    from_slave: bool,
}

#[derive(Debug)]
struct ConsumerState<C: Collections, B: MessageBuf> {
    group: Name,
    model: crate::body::MessageModel,
    from_where: crate::body::ConsumeFromWhere,
    batch_size: i32,
    suspend: Millis,
    pull_timeout: Millis,
    rebalance_interval: Millis,
    commit_interval: Millis,
    subs: C::List<Sub>,
    queues: heapless::Vec<OwnedQueue<B>, 64>,
    next_rebalance: Instant,
    last_rebalance: Instant,
    next_commit: Instant,
    next_token: u32,
    next_delivery: u32,
    auto_commit: bool,
    lite_pull: bool,
    /// Queues were assigned by the application: no rebalance.
    assigned: bool,
    /// Broadcasting: offsets kept by the application (topic, broker, queue, offset).
    local_offsets: heapless::Vec<(Name, Name, i32, i64), 64>,
    /// Broadcasting: `PersistOffsets` is due.
    persist_pending: bool,
}

impl<C: Collections, B: MessageBuf> ConsumerState<C, B> {
    fn consumer_data(&self) -> crate::body::ConsumerData<'_, C> {
        use crate::body::{ConsumeType, ConsumerData, ExpressionType, SubscriptionData};
        let mut data = ConsumerData {
            group_name: Text::new(&self.group),
            consume_type: if self.lite_pull {
                ConsumeType::Actively
            } else {
                ConsumeType::Passively
            },
            message_model: self.model,
            consume_from_where: self.from_where,
            subscription_data_set: C::List::default(),
            unit_mode: false,
        };
        for sub in self.subs.iter() {
            let mut sd = SubscriptionData {
                class_filter_mode: false,
                topic: Text::new(&sub.topic),
                sub_string: Text::new(&sub.expression),
                tags_set: C::List::default(),
                code_set: C::List::default(),
                sub_version: sub.version,
                expression_type: if sub.sql92 {
                    ExpressionType::Sql92
                } else {
                    ExpressionType::Tag
                },
            };
            if let (false, crate::message::TagExpression::Tags(tags)) = (
                sub.sql92,
                crate::message::parse_tag_expression(&sub.expression),
            ) {
                for t in tags {
                    let _ = List::try_push(&mut sd.tags_set, Text::new(t.tag));
                    let _ = List::try_push(&mut sd.code_set, t.code);
                }
            }
            let _ = List::try_push(&mut data.subscription_data_set, sd);
        }
        data
    }

    fn announce_delivery(&mut self) -> Option<DeliveryId> {
        let b = self
            .queues
            .iter_mut()
            .filter_map(|q| q.batch.as_mut())
            .filter(|b| !b.announced)
            .min_by_key(|b| b.id)?;
        b.announced = true;
        Some(b.id)
    }

    fn next_timer(&self) -> Instant {
        let mut t = self.next_rebalance.min(self.next_commit);
        for q in &self.queues {
            if let Some(at) = q.batch.as_ref().and_then(|b| b.retry_backs_at) {
                t = t.min(at);
            }
            match q.step {
                QueueStep::OffsetAt(at) | QueueStep::PullAt(at) => t = t.min(at),
                QueueStep::NeedOffset | QueueStep::Ready => t = Instant::from_millis(0),
                _ => {}
            }
        }
        t
    }
}

impl<C: Collections, B: MessageBuf, const INFLIGHT: usize> Client<C, B, INFLIGHT> {
    /// Subscribe the consumer (created by the first call) to `topic` with a TAG
    /// expression (`*`, `TagA || TagB`). A clustering consumer also subscribes to its
    /// group's retry topic `%RETRY%<group>`, as Java does. `wall_clock_ms` becomes the
    /// subscription version.
    pub fn subscribe(
        &mut self,
        now: Instant,
        wall_clock_ms: i64,
        config: &ConsumerConfig<'_>,
        topic: &str,
        expression: &str,
    ) -> Result<(), CallError> {
        self.subscribe_with(now, wall_clock_ms, config, topic, expression, false)
    }

    /// Subscribe with a SQL92 expression over message properties (e.g.
    /// `a > 5 AND region = 'eu'`); the broker filters (it needs
    /// `enablePropertyFilter=true` and version ≥ 4.1.0).
    pub fn subscribe_sql92(
        &mut self,
        now: Instant,
        wall_clock_ms: i64,
        config: &ConsumerConfig<'_>,
        topic: &str,
        sql: &str,
    ) -> Result<(), CallError> {
        self.subscribe_with(now, wall_clock_ms, config, topic, sql, true)
    }

    fn subscribe_with(
        &mut self,
        now: Instant,
        wall_clock_ms: i64,
        config: &ConsumerConfig<'_>,
        topic: &str,
        expression: &str,
        sql92: bool,
    ) -> Result<(), CallError> {
        if self.shutdown.is_some() {
            return Err(CallError::Closed);
        }
        check_group(config.group).map_err(CallError::Invalid)?;
        check_topic(topic).map_err(CallError::Invalid)?;
        if self.consumer.is_none() {
            self.consumer = Some(ConsumerState {
                group: name(config.group)?,
                model: config.model,
                from_where: config.from_where,
                batch_size: config.batch_size,
                suspend: config.suspend,
                pull_timeout: config.pull_timeout,
                rebalance_interval: config.rebalance_interval,
                commit_interval: config.commit_interval,
                subs: C::List::default(),
                queues: heapless::Vec::new(),
                next_rebalance: now,
                last_rebalance: now,
                next_commit: now + config.commit_interval,
                next_token: 0,
                next_delivery: 0,
                auto_commit: config.auto_commit,
                lite_pull: config.lite_pull,
                assigned: false,
                local_offsets: heapless::Vec::new(),
                persist_pending: false,
            });
        }
        let mut retry = Name::new();
        let clustering = config.model == crate::body::MessageModel::Clustering && !config.lite_pull;
        if clustering {
            retry
                .push_str("%RETRY%")
                .and_then(|()| retry.push_str(config.group))
                .map_err(|()| CallError::Full("name length"))?;
        }
        let mut add: heapless::Vec<(Name, Name), 2> = heapless::Vec::new();
        let _ = add.push((name(topic)?, name(expression)?));
        if clustering {
            let _ = add.push((retry, name("*")?));
        }
        for (t, e) in add {
            self.ensure_topic(&t)?;
            let Some(c) = self.consumer.as_mut() else {
                break;
            };
            c.subs.retain_where(|s| s.topic != t);
            c.subs
                .try_push(Sub {
                    topic: t.clone(),
                    expression: e,
                    version: wall_clock_ms,
                    sql92: sql92 && t.as_str() == topic,
                })
                .map_err(|_| CallError::Full("subscriptions"))?;
            if !self
                .topics
                .iter()
                .any(|ti| ti.topic == t && (ti.querying || !ti.sub_queues.is_empty()))
            {
                self.query_route(now, &t, false);
            }
        }
        // Tell the brokers at once (Java heartbeats after subscribe) and rebalance.
        self.next_heartbeat = now;
        Ok(())
    }

    /// The batch `id`, while it is not acked.
    pub fn delivery(&self, id: DeliveryId) -> Option<Delivery<'_>> {
        let c = self.consumer.as_ref()?;
        let q = c
            .queues
            .iter()
            .find(|q| q.batch.as_ref().is_some_and(|b| b.id == id))?;
        let topic = self.topics.get(usize::from(q.topic))?;
        let expression = c
            .subs
            .iter()
            .find(|s| s.topic == topic.topic)
            .map_or("*", Sub::client_filter);
        Some(Delivery {
            topic: &topic.topic,
            broker_name: &q.broker,
            queue_id: q.queue_id,
            expression,
            body: q.batch.as_ref()?.body.as_ref(),
        })
    }

    /// The application finished batch `id`: its offsets count as consumed (committed
    /// at the next commit) and its queue is pulled again.
    pub fn ack(&mut self, now: Instant, id: DeliveryId) {
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        if let Some(i) = c
            .queues
            .iter()
            .position(|q| q.batch.as_ref().is_some_and(|b| b.id == id))
        {
            if let Some(q) = c.queues.get_mut(i) {
                if q.released {
                    // Its new owner consumes it again; nothing of ours counts.
                    let _ = c.queues.remove(i);
                } else {
                    if let Some(b) = q.batch.take() {
                        q.consumed = b.next_offset;
                    }
                    q.step = QueueStep::Ready;
                }
            }
        }
        self.consumer_tick(now);
        self.shutdown_tick(now);
    }

    /// Queues this consumer owns now: (topic, broker, queue id).
    pub fn owned_queues(&self) -> impl Iterator<Item = (&str, &str, i32)> {
        self.consumer.iter().flat_map(move |c| {
            c.queues
                .iter()
                .filter(|q| !q.released)
                .filter_map(move |q| {
                    let t = self.topics.get(usize::from(q.topic))?;
                    Some((t.topic.as_str(), q.broker.as_str(), q.queue_id))
                })
        })
    }

    fn push_request(&mut self, addr: &Addr, deadline: Instant, purpose: Purpose) -> bool {
        let conn = self.conn_for(addr);
        let Ok(opaque) = self.inflight.insert(conn, deadline, purpose.clone()) else {
            return false;
        };
        let ok = self
            .outbound
            .try_push(Outbound {
                conn,
                opaque,
                purpose,
                code: 0,
            })
            .is_ok();
        if !ok {
            self.inflight.complete(opaque);
        }
        ok
    }

    fn consumer_tick(&mut self, now: Instant) {
        if self.shutdown.is_some() {
            return; // shutdown_tick commits; nothing new is pulled
        }
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        if now >= c.next_rebalance {
            c.next_rebalance = now + c.rebalance_interval;
            c.last_rebalance = now;
            self.rebalance(now);
        }
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        if now >= c.next_commit {
            c.next_commit = now + c.commit_interval;
            if c.auto_commit {
                self.commit_offsets();
            }
        }
        self.drive_queues(now);
    }

    fn rebalance(&mut self, now: Instant) {
        let Some(c) = self.consumer.as_ref() else {
            return;
        };
        if c.assigned {
            return;
        }
        let broadcasting = c.model == crate::body::MessageModel::Broadcasting;
        let subs = c.subs.len();
        for si in 0..subs {
            // By index: a rebalance does not change the subscriptions.
            let Some(ti) = self
                .consumer
                .as_ref()
                .and_then(|c| c.subs.get(si))
                .and_then(|s| self.topics.iter().position(|t| t.topic == s.topic))
                .and_then(|i| u16::try_from(i).ok())
            else {
                continue;
            };
            if broadcasting {
                // Every member reads every queue.
                let all: heapless::Vec<(Name, i32), 64> = self
                    .topics
                    .get(usize::from(ti))
                    .map(|t| {
                        t.sub_queues
                            .iter()
                            .map(|q| (q.broker.clone(), q.queue_id))
                            .take(64)
                            .collect()
                    })
                    .unwrap_or_default();
                self.apply_assignment(ti, &all);
                continue;
            }
            // Ask one broker of the topic for the group's members (Java: a random one).
            let Some(broker) = self
                .topics
                .get(usize::from(ti))
                .and_then(|t| t.sub_queues.first())
                .map(|q| q.broker.clone())
            else {
                continue;
            };
            let Some(addr) = self.master_addr(&broker) else {
                continue;
            };
            let deadline = now + self.config.request_timeout;
            self.push_request(&addr, deadline, Purpose::ConsumerList { topic: ti });
        }
    }

    fn on_consumer_list(&mut self, now: Instant, topic: u16, cmd: &Command<'_>) {
        use crate::body::{ConsumerIdList, MessageQueue};
        use crate::consumer::allocate::{sort_for_allocation, AllocateStrategy};
        if cmd.header.response_code() != ResponseCode::SUCCESS {
            return self.rebalance_soon(now);
        }
        let Ok(list) = ConsumerIdList::<crate::collections::Fixed<64>>::decode(cmd.body) else {
            return self.rebalance_soon(now);
        };
        let mine: heapless::Vec<(Name, i32), 64> = {
            let Some(t) = self.topics.get(usize::from(topic)) else {
                return;
            };
            let mut mqs: heapless::Vec<MessageQueue<'_>, 64> = heapless::Vec::new();
            for q in t.sub_queues.iter() {
                let _ = mqs.push(MessageQueue {
                    topic: Text::new(&t.topic),
                    broker_name: Text::new(&q.broker),
                    queue_id: q.queue_id,
                });
            }
            let mut cids: heapless::Vec<Text<'_>, 64> =
                list.consumer_id_list.iter().copied().collect();
            sort_for_allocation(&mut mqs, &mut cids);
            let mut out = [0usize; 64];
            let me = self.config.client_id.as_str();
            let mine: heapless::Vec<(Name, i32), 64> =
                match AllocateStrategy::Averagely.allocate(me, &mqs, &cids, &mut out, &mut []) {
                    Ok(a) => a
                        .queues(&mqs)
                        .filter_map(|mq| {
                            Some((Name::try_from(mq.broker_name.as_str()?).ok()?, mq.queue_id))
                        })
                        .collect(),
                    Err(_) => heapless::Vec::new(),
                };
            mine
        };
        self.apply_assignment(topic, &mine);
    }

    fn rebalance_soon(&mut self, now: Instant) {
        if let Some(c) = self.consumer.as_mut() {
            c.next_rebalance = c.next_rebalance.min(now + Millis(1_000));
        }
    }

    /// Make the owned queues of `topic` exactly `mine`: drop the others (committing
    /// what was consumed first), add the new ones.
    fn apply_assignment(&mut self, topic: u16, mine: &[(Name, i32)]) {
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        let mut dropped: heapless::Vec<(u32, i64, Name, i32), 64> = heapless::Vec::new();
        for q in c.queues.iter_mut() {
            let keep = q.released
                || q.topic != topic
                || mine
                    .iter()
                    .any(|(b, id)| *b == q.broker && *id == q.queue_id);
            if !keep {
                if q.consumed > q.committed {
                    let _ = dropped.push((q.token, q.consumed, q.broker.clone(), q.queue_id));
                }
                // A batch with the application stays readable until acked.
                q.released = true;
            }
        }
        c.queues.retain(|q| !q.released || q.batch.is_some());
        for (broker, queue_id) in mine {
            let Some(c) = self.consumer.as_mut() else {
                return;
            };
            if c.queues.iter().any(|q| {
                !q.released && q.topic == topic && q.broker == *broker && q.queue_id == *queue_id
            }) {
                continue;
            }
            let token = c.next_token;
            c.next_token = c.next_token.wrapping_add(1);
            let _ = c.queues.push(OwnedQueue {
                token,
                topic,
                broker: broker.clone(),
                queue_id: *queue_id,
                step: QueueStep::NeedOffset,
                next_offset: -1,
                consumed: -1,
                committed: -1,
                batch: None,
                released: false,
                suggested: 0,
                from_slave: false,
            });
        }
        // Persist the offsets of released queues so their next owner starts there.
        for (token, offset, broker, queue_id) in dropped {
            self.push_commit(topic, token, offset, &broker, queue_id);
        }
    }

    fn push_commit(&mut self, topic: u16, token: u32, offset: i64, broker: &Name, _queue_id: i32) {
        let _ = topic;
        let Some(addr) = self.master_addr(broker) else {
            return;
        };
        let conn = self.conn_for(&addr);
        let opaque = self.next_oneway_opaque;
        self.next_oneway_opaque = self.next_oneway_opaque.wrapping_sub(1).min(-1);
        let _ = self.outbound.try_push(Outbound {
            conn,
            opaque,
            purpose: Purpose::Commit { token, offset },
            code: topic as i32,
        });
    }

    fn commit_offsets(&mut self) {
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        if c.model == crate::body::MessageModel::Broadcasting {
            // Local offsets: record them and tell the application to store them.
            let topics = &self.topics;
            for q in c.queues.iter_mut() {
                if q.released || q.consumed < 0 || q.consumed <= q.committed {
                    continue;
                }
                let Some(t) = topics.get(usize::from(q.topic)) else {
                    continue;
                };
                q.committed = q.consumed;
                let entry = (t.topic.clone(), q.broker.clone(), q.queue_id, q.consumed);
                match c
                    .local_offsets
                    .iter_mut()
                    .find(|e| e.0 == entry.0 && e.1 == entry.1 && e.2 == entry.2)
                {
                    Some(e) => e.3 = entry.3,
                    None => {
                        let _ = c.local_offsets.push(entry);
                    }
                }
                c.persist_pending = true;
            }
            return;
        }
        let due: heapless::Vec<(u16, u32, i64, Name, i32), 64> = c
            .queues
            .iter_mut()
            .filter(|q| !q.released && q.consumed >= 0 && q.consumed > q.committed)
            .map(|q| {
                q.committed = q.consumed;
                (q.topic, q.token, q.consumed, q.broker.clone(), q.queue_id)
            })
            .collect();
        for (topic, token, offset, broker, queue_id) in due {
            self.push_commit(topic, token, offset, &broker, queue_id);
        }
    }

    fn drive_queues(&mut self, now: Instant) {
        self.retry_send_backs(now);
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        let mut todo: heapless::Vec<(u32, bool), 64> = heapless::Vec::new();
        for q in c.queues.iter_mut().filter(|q| !q.released) {
            match q.step {
                QueueStep::OffsetAt(at) if now >= at => q.step = QueueStep::NeedOffset,
                QueueStep::PullAt(at) if now >= at => q.step = QueueStep::Ready,
                _ => {}
            }
            match q.step {
                QueueStep::NeedOffset => {
                    let _ = todo.push((q.token, false));
                }
                QueueStep::Ready => {
                    let _ = todo.push((q.token, true));
                }
                _ => {}
            }
        }
        for (token, pull) in todo {
            if pull {
                self.start_pull(now, token);
            } else {
                self.start_offset_lookup(now, token);
            }
        }
    }

    fn queue_mut(&mut self, token: u32) -> Option<&mut OwnedQueue<B>> {
        self.consumer
            .as_mut()?
            .queues
            .iter_mut()
            .find(|q| q.token == token)
    }

    fn start_offset_lookup(&mut self, now: Instant, token: u32) {
        use crate::body::{ConsumeFromWhere, MessageModel};
        let Some(c) = self.consumer.as_ref() else {
            return;
        };
        let (model, from_where) = (c.model, c.from_where);
        let Some(q) = c.queues.iter().find(|q| q.token == token) else {
            return;
        };
        let broker = q.broker.clone();
        if model == MessageModel::Broadcasting {
            // A stored local offset first (given back by the application).
            let topic = self
                .topics
                .get(usize::from(q.topic))
                .map(|t| t.topic.clone());
            let local = c
                .local_offsets
                .iter()
                .find(|e| Some(&e.0) == topic.as_ref() && e.1 == broker && e.2 == q.queue_id)
                .map(|e| e.3);
            if let Some(off) = local {
                if let Some(q) = self.queue_mut(token) {
                    q.next_offset = off;
                    q.consumed = off;
                    q.committed = off;
                    q.step = QueueStep::Ready;
                }
                return;
            }
            // No broker-side offset: start per ConsumeFromWhere.
            if from_where == ConsumeFromWhere::FirstOffset {
                if let Some(q) = self.queue_mut(token) {
                    q.next_offset = 0;
                    q.step = QueueStep::Ready;
                }
                return;
            }
            return self.request_offset(now, token, &broker, true);
        }
        self.request_offset(now, token, &broker, false);
    }

    fn request_offset(&mut self, now: Instant, token: u32, broker: &Name, max: bool) {
        let Some(addr) = self.master_addr(broker) else {
            if let Some(q) = self.queue_mut(token) {
                q.step = QueueStep::OffsetAt(now + Millis(1_000));
            }
            return;
        };
        let ok = self.push_request(
            &addr,
            now + self.config.request_timeout,
            Purpose::Offset { token, max },
        );
        if let Some(q) = self.queue_mut(token) {
            q.step = if ok {
                QueueStep::QueryingOffset
            } else {
                QueueStep::OffsetAt(now + Millis(1_000))
            };
        }
    }

    fn on_offset(&mut self, now: Instant, token: u32, max: bool, cmd: &Command<'_>) {
        use crate::body::ConsumeFromWhere;
        use crate::header::OffsetResponse;
        let from_where = self.consumer.as_ref().map(|c| c.from_where);
        let is_retry_topic = self
            .queue_mut(token)
            .map(|q| q.topic)
            .and_then(|t| self.topics.get(usize::from(t)))
            .is_some_and(|t| t.topic.starts_with("%RETRY%"));
        let code = cmd.header.response_code();
        let offset: Option<i64> = cmd.decode_fields::<OffsetResponse>().ok().map(|r| r.offset);
        let Some(broker) = self.queue_mut(token).map(|q| q.broker.clone()) else {
            return; // dropped meanwhile
        };
        match (code, offset) {
            (ResponseCode::SUCCESS, Some(off)) => {
                if let Some(q) = self.queue_mut(token) {
                    q.next_offset = off;
                    q.consumed = off;
                    q.committed = if max { -1 } else { off };
                    q.step = QueueStep::Ready;
                }
            }
            (ResponseCode::QUERY_NOT_FOUND, _) if !max => {
                // First start of this group on this queue (wire.md §6.7).
                match from_where {
                    Some(ConsumeFromWhere::FirstOffset) => {
                        if let Some(q) = self.queue_mut(token) {
                            q.next_offset = 0;
                            q.consumed = 0;
                            q.step = QueueStep::Ready;
                        }
                    }
                    _ if is_retry_topic => {
                        if let Some(q) = self.queue_mut(token) {
                            q.next_offset = 0;
                            q.consumed = 0;
                            q.step = QueueStep::Ready;
                        }
                    }
                    // LAST (and TIMESTAMP, approximated): the queue's max offset.
                    _ => self.request_offset(now, token, &broker, true),
                }
            }
            _ => {
                if let Some(q) = self.queue_mut(token) {
                    q.step = QueueStep::OffsetAt(now + Millis(1_000));
                }
            }
        }
        self.drive_queues(now);
    }

    fn start_pull(&mut self, now: Instant, token: u32) {
        let Some(c) = self.consumer.as_ref() else {
            return;
        };
        let timeout = c.pull_timeout;
        let Some((broker, suggested)) = c
            .queues
            .iter()
            .find(|q| q.token == token)
            .map(|q| (q.broker.clone(), q.suggested))
        else {
            return;
        };
        let Some((addr, id)) = self.pull_addr(&broker, suggested) else {
            if let Some(q) = self.queue_mut(token) {
                q.step = QueueStep::PullAt(now + Millis(1_000));
            }
            return;
        };
        let ok = self.push_request(&addr, now + timeout, Purpose::Pull { token });
        if let Some(q) = self.queue_mut(token) {
            q.from_slave = id != 0;
            q.step = if ok {
                QueueStep::Pulling
            } else {
                QueueStep::PullAt(now + Millis(1_000))
            };
        }
    }

    fn on_pull(&mut self, now: Instant, token: u32, cmd: &Command<'_>) {
        use crate::header::PullMessageResponse;
        let code = cmd.header.response_code();
        let header: Option<PullMessageResponse> = cmd.decode_fields().ok();
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        let delivery = DeliveryId(c.next_delivery);
        let Some(q) = c.queues.iter_mut().find(|q| q.token == token) else {
            return; // dropped meanwhile: the pulled messages go to the next owner
        };
        let next = header.as_ref().map(|h| h.next_begin_offset);
        if let Some(h) = &header {
            q.suggested = h.suggest_which_broker_id;
        }
        if self.shutdown.is_some() {
            // Stopping: nothing new reaches the application; the next owner pulls it.
            q.step = QueueStep::Ready;
            return;
        }
        match (code, next) {
            (ResponseCode::SUCCESS, Some(next)) => match B::from_parts(&[cmd.body]) {
                Some(body) => {
                    q.batch = Some(Batch {
                        id: delivery,
                        body,
                        next_offset: next,
                        announced: false,
                        nack: None,
                        retry_backs_at: None,
                    });
                    q.next_offset = next;
                    q.step = QueueStep::Delivered;
                    c.next_delivery = c.next_delivery.wrapping_add(1);
                }
                // Larger than a message buffer: try again later (smaller batches are
                // a configuration matter; the data is not lost).
                None => q.step = QueueStep::PullAt(now + Millis(1_000)),
            },
            (ResponseCode::PULL_NOT_FOUND | ResponseCode::PULL_RETRY_IMMEDIATELY, Some(next)) => {
                // Nothing (matching) there: everything before `next` is consumed.
                q.next_offset = next;
                q.consumed = next;
                q.step = QueueStep::Ready;
            }
            (ResponseCode::PULL_OFFSET_MOVED, Some(next)) => {
                // OFFSET_ILLEGAL: reset to where the broker says, and persist it.
                q.next_offset = next;
                q.consumed = next;
                q.committed = -1;
                q.step = QueueStep::Ready;
            }
            // Errors: Java pulls again after 1 s (20 ms after FLOW_CONTROL).
            (ResponseCode::FLOW_CONTROL, _) => q.step = QueueStep::PullAt(now + Millis(20)),
            _ => q.step = QueueStep::PullAt(now + Millis(1_000)),
        }
        self.drive_queues(now);
    }

    fn consumer_request_failed(&mut self, now: Instant, purpose: &Purpose) {
        match *purpose {
            Purpose::SendBack { token, index, .. } => self.send_back_done(now, token, index, false),
            Purpose::ConsumerList { .. } => self.rebalance_soon(now),
            Purpose::Offset { token, .. } => {
                if let Some(q) = self.queue_mut(token) {
                    q.step = QueueStep::OffsetAt(now + Millis(1_000));
                }
            }
            Purpose::Pull { token } => {
                if let Some(q) = self.queue_mut(token) {
                    q.step = QueueStep::PullAt(now + Millis(1_000));
                }
            }
            _ => {}
        }
    }

    fn encode_consumer_request(
        &self,
        enc: &CommandEncoder,
        ob: &Outbound,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        use crate::header::{
            GetConsumerListByGroupRequest, GetMaxOffsetRequest, PullMessageRequest, PullSysFlag,
            QueryConsumerOffsetRequest, UpdateConsumerOffsetRequest,
        };
        let missing = EncodeError::InvalidValue { field: "consumer" };
        let c = self.consumer.as_ref().ok_or(missing)?;
        let queue = |token: u32| c.queues.iter().find(|q| q.token == token);
        let topic_of = |t: u16| self.topics.get(usize::from(t)).map(|t| t.topic.as_str());
        match ob.purpose {
            Purpose::ConsumerList { .. } => {
                let req = GetConsumerListByGroupRequest {
                    consumer_group: Text::new(&c.group),
                    broker_name: None,
                };
                enc.encode(
                    buf,
                    &self.header(RequestCode::GET_CONSUMER_LIST_BY_GROUP, ob.opaque),
                    &req,
                    b"",
                )
            }
            Purpose::Offset { token, max } => {
                let q = queue(token).ok_or(missing)?;
                let topic = Text::new(topic_of(q.topic).ok_or(missing)?);
                if max {
                    let req = GetMaxOffsetRequest {
                        topic,
                        queue_id: q.queue_id,
                        committed: None,
                        broker_name: Some(Text::new(&q.broker)),
                    };
                    enc.encode(
                        buf,
                        &self.header(RequestCode::GET_MAX_OFFSET, ob.opaque),
                        &req,
                        b"",
                    )
                } else {
                    let req = QueryConsumerOffsetRequest {
                        consumer_group: Text::new(&c.group),
                        topic,
                        queue_id: q.queue_id,
                        set_zero_if_not_found: None,
                        broker_name: Some(Text::new(&q.broker)),
                    };
                    enc.encode(
                        buf,
                        &self.header(RequestCode::QUERY_CONSUMER_OFFSET, ob.opaque),
                        &req,
                        b"",
                    )
                }
            }
            Purpose::Pull { token } => {
                let q = queue(token).ok_or(missing)?;
                let topic = topic_of(q.topic).ok_or(missing)?;
                let sub = c.subs.iter().find(|s| s.topic == topic).ok_or(missing)?;
                let clustering = c.model == crate::body::MessageModel::Clustering;
                let mut flag = PullSysFlag::SUSPEND | PullSysFlag::SUBSCRIPTION;
                // Only push consumers commit on pulls (wire.md §6.5); a pull consumer, or
                // one with auto-commit off, commits only when asked.
                if clustering && q.consumed > 0 && c.auto_commit && !c.lite_pull && !q.from_slave {
                    flag = flag.with(PullSysFlag::COMMIT_OFFSET);
                }
                let req = PullMessageRequest {
                    consumer_group: Text::new(&c.group),
                    topic: Text::new(topic),
                    queue_id: q.queue_id,
                    queue_offset: q.next_offset,
                    max_msg_nums: c.batch_size,
                    sys_flag: flag,
                    commit_offset: q.consumed.max(0),
                    suspend_timeout_millis: c.suspend.0 as i64,
                    subscription: Some(Text::new(&sub.expression)),
                    sub_version: sub.version,
                    expression_type: Some(Text::new(if sub.sql92 { "SQL92" } else { "TAG" })),
                    max_msg_bytes: None,
                    request_source: None,
                    proxy_forward_client_id: None,
                    broker_name: Some(Text::new(&q.broker)),
                };
                enc.encode(
                    buf,
                    &self.header(RequestCode::PULL_MESSAGE, ob.opaque),
                    &req,
                    b"",
                )
            }
            Purpose::Commit { token, offset } => {
                // The queue may have been released: its identity travels in the
                // outbound (topic index in `code`) only as far as the token allows.
                let (topic, queue_id, broker) = match queue(token) {
                    Some(q) => (topic_of(q.topic), q.queue_id, Some(q.broker.as_str())),
                    None => (None, -1, None),
                };
                let topic = topic
                    .or_else(|| u16::try_from(ob.code).ok().and_then(topic_of))
                    .ok_or(missing)?;
                let req = UpdateConsumerOffsetRequest {
                    consumer_group: Text::new(&c.group),
                    topic: Text::new(topic),
                    queue_id,
                    commit_offset: offset,
                    broker_name: broker.map(Text::new),
                };
                enc.encode(
                    buf,
                    &self
                        .header(RequestCode::UPDATE_CONSUMER_OFFSET, ob.opaque)
                        .oneway(),
                    &req,
                    b"",
                )
            }
            Purpose::SendBack {
                token,
                index,
                delay_level,
            } => {
                use crate::header::ConsumerSendMsgBackRequest;
                let q = queue(token).ok_or(missing)?;
                let topic = topic_of(q.topic).ok_or(missing)?;
                let expression = c
                    .subs
                    .iter()
                    .find(|s| s.topic == topic)
                    .map_or("*", Sub::client_filter);
                let batch = q.batch.as_ref().ok_or(missing)?;
                let m = delivered_records(batch.body.as_ref(), expression)
                    .nth(usize::from(index))
                    .ok_or(missing)?;
                let offset_id = m.offset_msg_id().to_hex();
                let origin_msg_id = m.uniq_key().unwrap_or(offset_id.as_str());
                // A message from the retry topic names its original topic.
                let origin_topic = m.properties.get("RETRY_TOPIC").unwrap_or(m.topic);
                let req = ConsumerSendMsgBackRequest {
                    offset: m.physical_offset,
                    group: Text::new(&c.group),
                    delay_level,
                    origin_msg_id: Some(Text::new(origin_msg_id)),
                    origin_topic: Some(Text::new(origin_topic)),
                    unit_mode: Some(false),
                    max_reconsume_times: Some(MAX_RECONSUME_TIMES),
                    broker_name: Some(Text::new(&q.broker)),
                };
                enc.encode(
                    buf,
                    &self.header(RequestCode::CONSUMER_SEND_MSG_BACK, ob.opaque),
                    &req,
                    b"",
                )
            }
            _ => Err(missing),
        }
    }
}

/// Java's default `maxReconsumeTimes` for concurrent consumption: after this many
/// retries the broker moves a message to the dead-letter topic `%DLQ%<group>`.
pub const MAX_RECONSUME_TIMES: i32 = 16;

impl<C: Collections, B: MessageBuf, const INFLIGHT: usize> Client<C, B, INFLIGHT> {
    /// The application failed to process batch `id`: every message of it goes back to
    /// the broker (CONSUMER_SEND_MSG_BACK) to be redelivered later through the group's
    /// retry topic — `delay_level` 0 lets the broker choose (3 + reconsume times, i.e.
    /// 10 s, 30 s, 1 min …), a negative level sends it straight to the DLQ. Once every
    /// message is accepted the batch counts as consumed; a failed send-back is tried
    /// again after a second, so nothing is lost. Broadcasting consumers never send back
    /// (Java drops the failure): there this acts as [`Client::ack`].
    pub fn nack(&mut self, now: Instant, id: DeliveryId, delay_level: i32) {
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        if c.model == crate::body::MessageModel::Broadcasting {
            return self.ack(now, id);
        }
        let topics = &self.topics;
        let subs = &c.subs;
        if c.queues
            .iter()
            .any(|q| q.released && q.batch.as_ref().is_some_and(|b| b.id == id))
        {
            return self.ack(now, id); // rebalanced away: no send-back
        }
        let Some(q) = c.queues.iter_mut().find(|q| {
            q.batch
                .as_ref()
                .is_some_and(|b| b.id == id && b.nack.is_none())
        }) else {
            return;
        };
        let token = q.token;
        let Some(b) = q.batch.as_mut() else { return };
        let expression = topics
            .get(usize::from(q.topic))
            .and_then(|t| subs.iter().find(|s| s.topic == t.topic))
            .map_or("*", Sub::client_filter);
        let n = delivered_records(b.body.as_ref(), expression).count();
        let mask = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
        b.nack = Some((delay_level, mask));
        if n == 0 {
            return self.ack(now, id);
        }
        self.push_send_backs(now, token);
    }

    /// Queue a send-back for every message still marked in the batch of `token`.
    fn push_send_backs(&mut self, now: Instant, token: u32) {
        let Some(c) = self.consumer.as_ref() else {
            return;
        };
        let Some(q) = c.queues.iter().find(|q| q.token == token) else {
            return;
        };
        let Some((delay_level, mask)) = q.batch.as_ref().and_then(|b| b.nack) else {
            return;
        };
        let broker = q.broker.clone();
        let Some(addr) = self.master_addr(&broker) else {
            if let Some(b) = self.queue_mut(token).and_then(|q| q.batch.as_mut()) {
                b.retry_backs_at = Some(now + Millis(1_000));
            }
            return;
        };
        let deadline = now + self.config.request_timeout;
        for index in 0..64u8 {
            if mask & (1u64 << index) != 0 {
                let purpose = Purpose::SendBack {
                    token,
                    index,
                    delay_level,
                };
                // Already queued or in flight for this message: leave it.
                let busy = self.inflight.iter().any(|(_, _, _, p)| *p == purpose);
                if !busy && !self.push_request(&addr, deadline, purpose) {
                    if let Some(b) = self.queue_mut(token).and_then(|q| q.batch.as_mut()) {
                        b.retry_backs_at = Some(now + Millis(1_000));
                    }
                }
            }
        }
    }

    fn send_back_done(&mut self, now: Instant, token: u32, index: u8, ok: bool) {
        let Some(q) = self.queue_mut(token) else {
            return;
        };
        let Some(b) = q.batch.as_mut() else { return };
        let Some((level, mask)) = b.nack else { return };
        if !ok {
            b.retry_backs_at = Some(now + Millis(1_000));
            return;
        }
        let mask = mask & !(1u64 << index);
        b.nack = Some((level, mask));
        if mask == 0 {
            // Every message is safely with the broker: the batch is consumed.
            let id = b.id;
            self.ack(now, id);
        }
    }

    fn retry_send_backs(&mut self, now: Instant) {
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        let mut due: heapless::Vec<u32, 64> = heapless::Vec::new();
        for q in c.queues.iter_mut() {
            if let Some(b) = q.batch.as_mut() {
                if b.retry_backs_at.is_some_and(|t| now >= t) {
                    b.retry_backs_at = None;
                    let _ = due.push(q.token);
                }
            }
        }
        for token in due {
            self.push_send_backs(now, token);
        }
    }
}

impl<C: Collections, B: MessageBuf, const INFLIGHT: usize> Client<C, B, INFLIGHT> {
    /// RESET_CONSUMER_CLIENT_OFFSET (an admin reset through the broker, wire.md §6.13):
    /// every owned queue named in the body jumps to its new offset. The batch with the
    /// application (if any) is abandoned, a pull in flight is disowned (its answer will
    /// carry a stale token), and the new offset is committed at the next commit.
    fn on_reset_offset(&mut self, now: Instant, cmd: &Command<'_>) {
        use crate::body::ResetOffsetBody;
        use crate::header::ResetConsumerClientOffsetRequest;
        let Ok(h) = cmd.decode_fields::<ResetConsumerClientOffsetRequest<'_>>() else {
            return;
        };
        let Ok(body) = ResetOffsetBody::<crate::collections::Fixed<64>>::decode(cmd.body) else {
            return;
        };
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        if h.group != c.group.as_str() {
            return;
        }
        let topics = &self.topics;
        for q in c.queues.iter_mut() {
            let Some(topic) = topics.get(usize::from(q.topic)) else {
                continue;
            };
            if h.topic != topic.topic.as_str() {
                continue;
            }
            let Some(entry) = body.offset_table.iter().find(|e| {
                e.message_queue.queue_id == q.queue_id
                    && e.message_queue.broker_name == q.broker.as_str()
                    && e.message_queue.topic == topic.topic.as_str()
            }) else {
                continue;
            };
            q.token = c.next_token;
            c.next_token = c.next_token.wrapping_add(1);
            q.batch = None;
            q.next_offset = entry.offset;
            q.consumed = entry.offset;
            q.committed = -1;
            q.step = QueueStep::Ready;
        }
        self.drive_queues(now);
    }
}

impl<C: Collections, B: MessageBuf, const INFLIGHT: usize> Client<C, B, INFLIGHT> {
    /// Lite pull, assign mode: consume exactly `queues` (topic, broker name, queue id),
    /// without rebalancing (Java `DefaultLitePullConsumer.assign`). Replaces any earlier
    /// assignment; offsets start from the committed ones (or `from_where`).
    pub fn assign(
        &mut self,
        now: Instant,
        wall_clock_ms: i64,
        config: &ConsumerConfig<'_>,
        queues: &[(&str, &str, i32)],
    ) -> Result<(), CallError> {
        for (topic, _, _) in queues {
            if self
                .consumer
                .as_ref()
                .is_none_or(|c| !c.subs.iter().any(|s| s.topic == *topic))
            {
                self.subscribe(now, wall_clock_ms, config, topic, "*")?;
            }
        }
        let Some(c) = self.consumer.as_mut() else {
            return Err(CallError::NoConsumer);
        };
        c.assigned = true;
        let topics: heapless::Vec<u16, 16> = c
            .subs
            .iter()
            .filter_map(|s| self.topics.iter().position(|t| t.topic == s.topic))
            .filter_map(|i| u16::try_from(i).ok())
            .take(16)
            .collect();
        for ti in topics {
            let Some(tname) = self.topics.get(usize::from(ti)).map(|t| t.topic.clone()) else {
                continue;
            };
            let mine: heapless::Vec<(Name, i32), 64> = queues
                .iter()
                .filter(|(t, _, _)| *t == tname.as_str())
                .filter_map(|(_, b, q)| Some((Name::try_from(*b).ok()?, *q)))
                .collect();
            self.apply_assignment(ti, &mine);
        }
        self.drive_queues(now);
        Ok(())
    }

    /// Move an owned queue to `offset` (Java `seek`): its next pull starts there, a batch
    /// with the application and a pull in flight are abandoned. `false` if the queue is
    /// not owned.
    pub fn seek(
        &mut self,
        now: Instant,
        topic: &str,
        broker: &str,
        queue_id: i32,
        offset: i64,
    ) -> bool {
        let Some(ti) = self.topics.iter().position(|t| t.topic == topic) else {
            return false;
        };
        let Some(c) = self.consumer.as_mut() else {
            return false;
        };
        let token = c.next_token;
        let Some(q) = c
            .queues
            .iter_mut()
            .find(|q| usize::from(q.topic) == ti && q.broker == broker && q.queue_id == queue_id)
        else {
            return false;
        };
        q.token = token;
        q.batch = None;
        q.next_offset = offset;
        q.consumed = offset;
        q.committed = -1;
        q.step = QueueStep::Ready;
        c.next_token = c.next_token.wrapping_add(1);
        self.drive_queues(now);
        true
    }

    /// Commit every consumed offset now (for `auto_commit: false`, or before a planned
    /// stop). Commits are oneway, as Java sends them.
    pub fn commit(&mut self) {
        self.commit_offsets();
    }
}

// ==================================================================== transactions

/// Identifies a broker's transaction check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckId(pub u32);

/// A broker asking how a transaction ended (CHECK_TRANSACTION_STATE, wire.md §6.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionCheck {
    /// Which check.
    pub id: CheckId,
    /// The half message's UNIQ_KEY (the message id the application knows).
    pub msg_id: MsgId,
    /// The transaction id (= UNIQ_KEY).
    pub transaction_id: MsgId,
    /// The producer group the half message belongs to (its `PGROUP`).
    pub producer_group: Name,
    /// The real topic of the half message.
    pub topic: Name,
    tran_state_table_offset: i64,
    commit_log_offset: i64,
    addr: Addr,
    announced: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct EndTx {
    seq: u32,
    group: Name,
    tran_state_table_offset: i64,
    commit_log_offset: i64,
    resolution: crate::header::TransactionResolution,
    msg_id: MsgId,
    transaction_id: MsgId,
    from_check: bool,
}

impl<C: Collections, B: MessageBuf, const INFLIGHT: usize> Client<C, B, INFLIGHT> {
    /// Resolve the transaction whose half message has `receipt` (from its
    /// [`Event::SendOk`]): END_TRANSACTION, oneway, to the broker that stored it, with
    /// the offsets the broker checks (`queueOffset`, and the commit-log offset from the
    /// offset message id).
    pub fn end_transaction(
        &mut self,
        receipt: &SendReceipt,
        resolution: crate::header::TransactionResolution,
    ) -> Result<(), CallError> {
        let commit_log_offset = crate::message::OffsetMsgId::parse(&receipt.offset_msg_id)
            .map_err(|_| {
                CallError::Encode(EncodeError::InvalidValue {
                    field: "offsetMsgId",
                })
            })?
            .commit_log_offset;
        let addr = self
            .master_addr(&receipt.broker_name)
            .ok_or(CallError::Full("broker address"))?;
        let group = self
            .producer_groups
            .first()
            .cloned()
            .ok_or(CallError::NoProducer)?;
        self.push_end(
            &addr,
            EndTx {
                seq: 0,
                group,
                tran_state_table_offset: receipt.queue_offset,
                commit_log_offset,
                resolution,
                msg_id: receipt.msg_id.clone(),
                transaction_id: receipt.msg_id.clone(),
                from_check: false,
            },
        )
    }

    /// The check `id`, until it is answered.
    pub fn transaction_check(&self, id: CheckId) -> Option<&TransactionCheck> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// Answer a broker's check: END_TRANSACTION with `fromTransactionCheck=true`,
    /// echoing the broker's offsets, on the connection the check came from.
    pub fn answer_check(
        &mut self,
        id: CheckId,
        resolution: crate::header::TransactionResolution,
    ) -> Result<(), CallError> {
        let i = self
            .checks
            .iter()
            .position(|c| c.id == id)
            .ok_or(CallError::Full("no such check"))?;
        let c = self
            .checks
            .remove_at(i)
            .ok_or(CallError::Full("no such check"))?;
        self.push_end(
            &c.addr,
            EndTx {
                seq: 0,
                group: c.producer_group,
                tran_state_table_offset: c.tran_state_table_offset,
                commit_log_offset: c.commit_log_offset,
                resolution,
                msg_id: c.msg_id,
                transaction_id: c.transaction_id,
                from_check: true,
            },
        )
    }

    fn push_end(&mut self, addr: &Addr, mut end: EndTx) -> Result<(), CallError> {
        end.seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let seq = end.seq;
        self.ends
            .try_push(end)
            .map_err(|_| CallError::Full("pending END_TRANSACTION"))?;
        let conn = self.conn_for(addr);
        let opaque = self.next_oneway_opaque;
        self.next_oneway_opaque = self.next_oneway_opaque.wrapping_sub(1).min(-1);
        if self
            .outbound
            .try_push(Outbound {
                conn,
                opaque,
                purpose: Purpose::EndTransaction { seq },
                code: 0,
            })
            .is_err()
        {
            self.ends.retain_where(|e| e.seq != seq);
            return Err(CallError::Full("outbound"));
        }
        Ok(())
    }

    fn on_check_transaction(&mut self, conn: ConnId, cmd: &Command<'_>) {
        use crate::header::CheckTransactionStateRequest;
        let Ok(h) = cmd.decode_fields::<CheckTransactionStateRequest<'_>>() else {
            return;
        };
        // The same half message checked again before the application answered: one
        // pending check is enough.
        if self
            .checks
            .iter()
            .any(|c| c.commit_log_offset == h.commit_log_offset)
        {
            return;
        }
        let Some(addr) = self
            .conns
            .iter()
            .find(|c| c.id == conn)
            .map(|c| c.addr.clone())
        else {
            return;
        };
        let Some(Ok(record)) = crate::message::RecordIter::new(cmd.body).next() else {
            return;
        };
        let uniq = record
            .uniq_key()
            .or(h.msg_id.as_ref().and_then(Text::as_str))
            .unwrap_or_default();
        let id = CheckId(self.next_seq);
        self.next_seq = self.next_seq.wrapping_add(1);
        let check = TransactionCheck {
            id,
            msg_id: MsgId::try_from(uniq).unwrap_or_default(),
            transaction_id: h
                .transaction_id
                .map(|t| text_to(&t))
                .unwrap_or_else(|| MsgId::try_from(uniq).unwrap_or_default()),
            producer_group: Name::try_from(record.properties.get(keys::PGROUP).unwrap_or_default())
                .unwrap_or_default(),
            topic: Name::try_from(record.topic).unwrap_or_default(),
            tran_state_table_offset: h.tran_state_table_offset,
            commit_log_offset: h.commit_log_offset,
            addr,
            announced: false,
        };
        // Full: dropped; the broker checks again later (every 30 s, up to 15 times).
        let _ = self.checks.try_push(check);
    }
}

impl<C: Collections, B: MessageBuf, const INFLIGHT: usize> Client<C, B, INFLIGHT> {
    /// A broadcasting consumer's consumed offsets, to store after
    /// [`Event::PersistOffsets`]: (topic, broker name, queue id, next offset to consume).
    pub fn local_offsets(&self) -> impl Iterator<Item = (&str, &str, i32, i64)> {
        self.consumer
            .iter()
            .flat_map(|c| c.local_offsets.iter())
            .map(|(t, b, q, o)| (t.as_str(), b.as_str(), *q, *o))
    }

    /// Give a broadcasting consumer a stored offset (after a restart), right after
    /// `subscribe` (before the next `handle_timeout`): a queue it owns starts there
    /// instead of per ConsumeFromWhere.
    pub fn set_local_offset(
        &mut self,
        topic: &str,
        broker: &str,
        queue_id: i32,
        offset: i64,
    ) -> Result<(), CallError> {
        let c = self.consumer.as_mut().ok_or(CallError::NoConsumer)?;
        let (t, b) = (name(topic)?, name(broker)?);
        match c
            .local_offsets
            .iter_mut()
            .find(|e| e.0 == t && e.1 == b && e.2 == queue_id)
        {
            Some(e) => e.3 = offset,
            None => c
                .local_offsets
                .push((t, b, queue_id, offset))
                .map_err(|_| CallError::Full("local offsets"))?,
        }
        Ok(())
    }
}

// ==================================================================== shutdown

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShutdownPhase {
    /// Nothing new is pulled or sent; waiting for delivered batches to be acked and
    /// sends to end.
    Draining,
    /// Offsets committed; UNREGISTER_CLIENT in flight.
    Unregistering,
    /// Finished; `ShutdownComplete` once the last frames are written.
    Done,
    /// `ShutdownComplete` handed out.
    Reported,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shutdown {
    phase: ShutdownPhase,
    /// Deadline of the current phase.
    until: Instant,
}

impl<C: Collections, B: MessageBuf, const INFLIGHT: usize> Client<C, B, INFLIGHT> {
    /// Begin a graceful shutdown (behaviour.md §8), bounded in time:
    ///
    /// 1. stop pulling and refuse new sends and subscriptions;
    /// 2. wait up to `drain` for delivered batches to be acked and sends to end;
    /// 3. commit the consumed offsets and send UNREGISTER_CLIENT for every group to every
    ///    known broker (waiting up to the request timeout for answers);
    /// 4. report [`Event::ShutdownComplete`] once the last frames are written.
    ///
    /// Sends still running when the drain ends fail with [`SendError::Closed`]; batches
    /// not acked by then are not committed (their next owner gets them again). Calling
    /// it again changes nothing.
    pub fn shutdown(&mut self, now: Instant, drain: Millis) {
        if self.shutdown.is_some() {
            return;
        }
        self.shutdown = Some(Shutdown {
            phase: ShutdownPhase::Draining,
            until: now + drain,
        });
        // Pulls in flight are abandoned: a late answer must not deliver anything.
        let pulls: heapless::Vec<i32, 64> = self
            .inflight
            .iter()
            .filter(|(_, _, _, p)| matches!(p, Purpose::Pull { .. }))
            .map(|(o, _, _, _)| o)
            .take(64)
            .collect();
        for o in pulls {
            self.inflight.complete(o);
        }
        self.outbound
            .retain_where(|o| !matches!(o.purpose, Purpose::Pull { .. }));
        self.shutdown_tick(now);
    }

    /// Whether [`Client::shutdown`] has finished.
    pub fn is_shut_down(&self) -> bool {
        matches!(
            self.shutdown.map(|s| s.phase),
            Some(ShutdownPhase::Done | ShutdownPhase::Reported)
        )
    }

    fn shutdown_tick(&mut self, now: Instant) {
        let Some(sd) = self.shutdown else { return };
        match sd.phase {
            ShutdownPhase::Draining => {
                let unacked = self
                    .consumer
                    .as_ref()
                    .is_some_and(|c| c.queues.iter().any(|q| q.batch.is_some()));
                let sending = self.sends.iter().any(|s| s.phase != SendPhase::Done);
                if (unacked || sending) && now < sd.until {
                    return;
                }
                self.for_each_send(
                    |s| s.phase != SendPhase::Done,
                    |c, id| c.end_send(id, Err(SendError::Closed)),
                );
                if let Some(c) = self.consumer.as_mut() {
                    for q in c.queues.iter_mut() {
                        q.batch = None;
                    }
                }
                self.commit_offsets();
                self.unregister_everywhere(now);
                self.shutdown = Some(Shutdown {
                    phase: ShutdownPhase::Unregistering,
                    until: now + self.config.request_timeout,
                });
                self.shutdown_tick(now);
            }
            ShutdownPhase::Unregistering => {
                let waiting = self
                    .inflight
                    .iter()
                    .any(|(_, _, _, p)| matches!(p, Purpose::Unregister { .. }));
                if waiting && now < sd.until {
                    return;
                }
                // Frames for connections that never opened cannot be written.
                let conns = &self.conns;
                self.outbound.retain_where(|o| {
                    conns
                        .iter()
                        .any(|c| c.id == o.conn && c.state == ConnState::Open)
                });
                self.shutdown = Some(Shutdown {
                    phase: ShutdownPhase::Done,
                    until: now,
                });
            }
            ShutdownPhase::Done | ShutdownPhase::Reported => {}
        }
    }

    fn unregister_everywhere(&mut self, now: Instant) {
        let producers = self.producer_groups.len().min(usize::from(u8::MAX));
        let deadline = now + self.config.request_timeout;
        for i in 0..self.brokers.len() {
            let Some(addr) = self.brokers.get(i).map(|b| b.addr.clone()) else {
                continue;
            };
            let addr = &addr;
            if self.consumer.is_some() {
                self.push_request(addr, deadline, Purpose::Unregister { producer: None });
            }
            for i in 0..producers {
                self.push_request(
                    addr,
                    deadline,
                    Purpose::Unregister {
                        producer: Some(i as u8),
                    },
                );
            }
        }
    }

    fn shutdown_event(&mut self) -> Option<Event> {
        let sd = self.shutdown.as_mut()?;
        if sd.phase == ShutdownPhase::Done && self.outbound.is_empty() {
            sd.phase = ShutdownPhase::Reported;
            return Some(Event::ShutdownComplete);
        }
        None
    }
}

fn name(s: &str) -> Result<Name, CallError> {
    Name::try_from(s).map_err(|_| CallError::Full("name length"))
}

fn text_to<const N: usize>(t: &Text<'_>) -> heapless::String<N> {
    let mut s = heapless::String::new();
    for c in t.chars() {
        if s.push(c).is_err() {
            break;
        }
    }
    s
}

fn xorshift(state: &mut u32) -> u32 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    x
}

/// A small decimal rendering of a `u8` (delay levels) without allocation.
struct DecimalU8 {
    buf: [u8; 3],
    len: usize,
}

impl DecimalU8 {
    fn new(v: u8) -> Self {
        let mut b = itoa::Buffer::new();
        let s = b.format(v).as_bytes();
        let mut buf = [0u8; 3];
        let len = s.len().min(3);
        if let (Some(dst), Some(src)) = (buf.get_mut(..len), s.get(..len)) {
            dst.copy_from_slice(src);
        }
        DecimalU8 { buf, len }
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or("0")
    }
}
