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
use crate::ext::{EmptyFields, EncodeFields, NoFields};
use crate::frame::{Decoded, FrameDecoder};
use crate::header::{GetRouteInfoRequest, SendMessageRequest, SendMessageResponse};
// A send keeps its properties in one of the two forms the properties writers know.
use crate::message::properties::{
    keys, write_properties, write_properties_json, Form as PropsForm,
};
use crate::message::UniqKeyGenerator;
use crate::out::{Out, SliceOut};
use crate::producer::retry::{classify, Attempt, RetryPolicy, SendMode, SendStatus, Verdict};
use crate::producer::select::RoundRobin;
use crate::producer::validate::{check_body, check_group, check_topic, ValidationError};
use crate::text::Text;

mod admin;
mod call;
mod consumer;
mod orderly;
mod reply;
mod shutdown;
mod transaction;

pub use admin::{ConsumeResult, DirectId};
use admin::{DirectRequest, ReplyBody};
pub use call::{CallFailure, CallId, CallTarget};
use consumer::ConsumerState;
pub use consumer::{ConsumerConfig, Delivery, DeliveryId, MAX_RECONSUME_TIMES};
use reply::PendingRequest;
pub use reply::{ReplyMessage, RequestError};
use shutdown::Shutdown;
use transaction::EndTx;

/// Whether `list` can never hold an element: a list of bound 0, as the `Extras` of a
/// device that turns calls, request-reply, transactions and broker-forwarded messages
/// off. A constant per list type, so the code behind the check compiles away there;
/// it must do what the full list would make it do anyway.
fn never_holds<T, L: List<T>>(_list: &L) -> bool {
    L::BOUND == 0
}
pub use transaction::{CheckId, TransactionCheck};

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
pub trait MessageBuf: Sized + Debug + Default + Clone + PartialEq + Eq + AsRef<[u8]> {
    /// A buffer holding `parts` back to back, or `None` if it does not fit.
    fn from_parts(parts: &[&[u8]]) -> Option<Self>;
    /// Append `bytes`; `false` (nothing appended) if they do not fit.
    fn append(&mut self, bytes: &[u8]) -> bool;
    /// An empty buffer about to take some `len` bytes through [`append`](Self::append)
    /// (a hint: growable buffers reserve it once), or `None` if a bounded one cannot.
    ///
    /// ```
    /// use rocketmq_proto::engine::client::MessageBuf;
    /// assert!(<heapless::Vec<u8, 16> as MessageBuf>::with_capacity(16).is_some());
    /// assert!(<heapless::Vec<u8, 16> as MessageBuf>::with_capacity(17).is_none());
    /// ```
    fn with_capacity(len: usize) -> Option<Self> {
        if Self::LIMIT.is_some_and(|limit| len > limit) {
            return None;
        }
        Self::from_parts(&[])
    }
    /// The most bytes a buffer holds, if bounded: pulls then ask the broker for at
    /// most this many message bytes (`maxMsgBytes`), so answers fit.
    ///
    /// ```
    /// use rocketmq_proto::engine::client::MessageBuf;
    /// assert_eq!(<heapless::Vec<u8, 1024> as MessageBuf>::LIMIT, Some(1024));
    /// ```
    const LIMIT: Option<usize> = None;
}

impl<const N: usize> MessageBuf for heapless::Vec<u8, N> {
    const LIMIT: Option<usize> = Some(N);
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
    fn with_capacity(len: usize) -> Option<Self> {
        let mut v = alloc::vec::Vec::new();
        v.try_reserve_exact(len).ok()?;
        Some(v)
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
    /// Namespace (Java `namespace`, see [`crate::namespace`]): topics and groups the
    /// application names are sent as `<namespace>%<name>`, messages carry
    /// `INSTANCE_ID`, and names handed back are unwrapped.
    pub namespace: Option<Name>,
    /// ACL credentials: every request is signed with them (wire.md §9). Cargo
    /// feature `acl` (on by default).
    #[cfg(feature = "acl")]
    pub credentials: Option<Credentials>,
}

/// ACL credentials as the engine keeps them (owned, fixed capacity; see
/// [`crate::acl::SessionCredentials`] for the signing). Cargo feature `acl`.
///
/// ```
/// use rocketmq_proto::engine::client::Credentials;
/// let c = Credentials::new("rocketmq2", "12345678").unwrap();
/// assert_eq!(format!("{c:?}"), r#"Credentials { access_key: "rocketmq2", secret_key: "***", security_token: None }"#);
/// ```
#[cfg(feature = "acl")]
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Sent as `AccessKey`.
    pub access_key: Name,
    /// The HMAC key; never sent.
    pub secret_key: Name,
    /// Sent as `SecurityToken` and signed, when present.
    pub security_token: Option<heapless::String<SECURITY_TOKEN_CAPACITY>>,
}

/// Longest security token [`Credentials`] keep.
#[cfg(feature = "acl")]
pub const SECURITY_TOKEN_CAPACITY: usize = 512;

#[cfg(feature = "acl")]
impl Credentials {
    /// Access and secret key (each at most 128 bytes); `None` if either is longer.
    pub fn new(access_key: &str, secret_key: &str) -> Option<Self> {
        Some(Credentials {
            access_key: access_key.try_into().ok()?,
            secret_key: secret_key.try_into().ok()?,
            security_token: None,
        })
    }

    /// With a security token (at most [`SECURITY_TOKEN_CAPACITY`] bytes).
    pub fn with_security_token(mut self, token: &str) -> Option<Self> {
        self.security_token = Some(token.try_into().ok()?);
        Some(self)
    }

    /// The borrowed form that signs.
    pub fn session(&self) -> crate::acl::SessionCredentials<'_> {
        crate::acl::SessionCredentials {
            access_key: &self.access_key,
            secret_key: &self.secret_key,
            security_token: self.security_token.as_deref(),
        }
    }
}

#[cfg(feature = "acl")]
impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Keep the secret out of logs.
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key.as_str())
            .field("secret_key", &"***")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "***"),
            )
            .finish()
    }
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
            namespace: None,
            #[cfg(feature = "acl")]
            credentials: None,
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
    /// 5.x timer message: deliver at this time, ms since the Unix epoch
    /// (`TIMER_DELIVER_MS`; brokers before 5.0 ignore it).
    pub deliver_at_ms: Option<i64>,
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
            deliver_at_ms: None,
            wait_store_msg_ok: true,
        }
    }
}

impl Message<'_> {
    /// Write the properties string a Java producer sends for this message (user
    /// properties, TAGS, KEYS, DELAY, TIMER_DELIVER_MS, WAIT, UNIQ_KEY, then `extra`) to
    /// `out`, in `form`; its length. (Whether it all fit is `out`'s to tell.)
    fn encode_properties<'p>(
        &'p self,
        out: &mut impl Out,
        form: PropsForm,
        uniq_key: &'p str,
        extra: impl Iterator<Item = (&'p str, &'p str)> + Clone,
    ) -> Result<usize, CallError> {
        let delay = self.delay_level.map(DecimalU8::new);
        let mut deliver_buf = itoa::Buffer::new();
        let deliver = self.deliver_at_ms.map(|ms| deliver_buf.format(ms));
        let wait = if self.wait_store_msg_ok {
            "true"
        } else {
            "false"
        };
        // The optional ones in one array: a chain of six one-item iterators, walked
        // twice (length, then bytes), cost more than writing the properties did.
        let fixed = [
            self.tags.map(|t| (keys::TAGS, t)),
            self.keys.map(|k| (keys::KEYS, k)),
            delay.as_ref().map(|d| (keys::DELAY, d.as_str())),
            deliver.map(|d| (keys::TIMER_DELIVER_MS, d)),
            Some((keys::WAIT, wait)),
            Some((keys::UNIQ_KEY, uniq_key)),
        ];
        let pairs = self
            .properties
            .iter()
            .copied()
            .chain(fixed.iter().flatten().copied())
            // Re-borrow `extra`'s pairs for the local chain (associated types do not
            // shorten lifetimes by themselves).
            .chain(extra.map(|(k, v)| -> (&str, &str) { (k, v) }));
        // (The guard keeps the JSON writer out of size builds, which never keep that form.)
        match form {
            PropsForm::Json if cfg!(not(rmq_size_opt)) => write_properties_json(out, pairs),
            _ => write_properties(out, pairs),
        }
        .map_err(CallError::Encode)
    }
}

/// Writes through [`MessageBuf::append`], noting whether everything fit.
struct AppendOut<'b, B> {
    buf: &'b mut B,
    fits: bool,
}

impl<B: MessageBuf> Out for AppendOut<'_, B> {
    fn put(&mut self, bytes: &[u8]) {
        self.fits = self.fits && self.buf.append(bytes);
    }
}

/// How one message is sent.
#[derive(Debug, Clone, Copy)]
struct SendOptions<'a> {
    mode: SendMode,
    /// Ordered send: the queue is chosen by this key's hash.
    order_key: Option<&'a str>,
    /// The application chose the queue (broker name, queue id).
    queue: Option<(&'a str, i32)>,
    /// A transaction's half message.
    transactional: bool,
    /// A reply to a request-reply message (SEND_REPLY_MESSAGE_V2).
    reply: bool,
    /// The message of a request-reply request: its outcome is the request's.
    request: bool,
    /// Properties added after the message's own.
    extra: &'a [(&'a str, &'a str)],
    /// Total budget including retries.
    timeout: Millis,
}

impl SendOptions<'_> {
    fn new(mode: SendMode, timeout: Millis) -> Self {
        SendOptions {
            mode,
            order_key: None,
            queue: None,
            transactional: false,
            reply: false,
            request: false,
            extra: &[],
            timeout,
        }
    }
}

/// Identifies one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SendId(pub u32);

/// Where a send is: its id and its slot in the sends table. Slots never move while
/// a send lives, so a reference finds its send at once (a table scan per lookup was
/// most of the engine's time with thousands of sends in flight); the id tells a
/// stale reference (its send ended, the slot was reused) from a live one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SendRef {
    id: SendId,
    slot: u32,
}

/// No slot (the end of a slot list).
const NO_SLOT: u32 = u32::MAX;

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
    /// The reply to [`Client::request`] `id` arrived: read it with [`Client::reply`],
    /// then free it with [`Client::release_reply`].
    Reply {
        /// Which request.
        id: SendId,
    },
    /// Request `id` ended without a reply.
    RequestFailed {
        /// Which request.
        id: SendId,
        /// Why.
        error: RequestError,
    },
    /// A broker forwards an admin's "consume this message" (CONSUME_MESSAGE_DIRECTLY):
    /// read it with [`Client::direct_message`], run the listener on it, and answer
    /// with [`Client::answer_direct`].
    ConsumeDirectly {
        /// Which request.
        id: DirectId,
    },
    /// A broadcasting consumer's offsets moved: store [`Client::local_offsets`] (file,
    /// flash…) and give them back with [`Client::set_local_offset`] after a restart.
    /// Reported at most once per commit interval.
    PersistOffsets,
    /// Call `id` ([`Client::call`]) ended: read it with [`Client::call_response`],
    /// then free it with [`Client::release_call`].
    CallDone {
        /// Which call.
        id: CallId,
    },
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
    /// The feature this needs was left out of the build (the cargo feature named).
    Unsupported(&'static str),
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
    /// Its address is backing off after failed connects: [`Event::Connect`] is not
    /// handed out before this (requests on it wait, within their deadlines; sends
    /// do not choose such an address, they fail over at once).
    not_before: Instant,
    /// Last frame in or out (or the open), for idle closing.
    last_active: Instant,
    /// Last bytes received (or the open): a request timing out on a connection
    /// silent for a whole request timeout means it is dead (half-open).
    last_rx: Instant,
}

/// First pause after a failed connect to an address; doubled per further failure.
pub const CONNECT_BACKOFF_MIN: Millis = Millis(200);
/// Longest pause between connect attempts to one address (a broker that comes back is
/// reconnected within this).
pub const CONNECT_BACKOFF_MAX: Millis = Millis(5_000);
/// An open connection with nothing in flight and no traffic for this long is closed
/// (Java `clientChannelMaxIdleTimeSeconds`, 120 s); heartbeats and route refreshes keep
/// the ones in use busy.
pub const CONN_IDLE_TIMEOUT: Millis = Millis(120_000);

/// A queue of a topic's route: its broker by index in the engine's `names`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PubQueue {
    broker: u16,
    queue_id: i32,
}

/// An index no interned name has: matches no queue, reads as "".
const NO_NAME: u16 = u16::MAX;

/// The interned name at `i` ("" for none).
fn name_at(names: &[Name], i: u16) -> &str {
    names.get(usize::from(i)).map_or("", Name::as_str)
}

/// The index of `s` among the interned `names`.
fn find_name(names: &[Name], s: &str) -> Option<u16> {
    names
        .iter()
        .position(|n| n == s)
        .and_then(|i| u16::try_from(i).ok())
}

/// Intern `s`: its index, or `None` if it is too long or the table is full.
fn intern<L: List<Name>>(names: &mut L, s: &str) -> Option<u16> {
    if let Some(i) = find_name(names, s) {
        return Some(i);
    }
    let i = u16::try_from(names.len()).ok().filter(|i| *i != NO_NAME)?;
    names.try_push(Name::try_from(s).ok()?).ok()?;
    Some(i)
}

/// Where a topic's name as the application knows it (namespace removed) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    /// `topic[at..]`: no namespace, or `<namespace>%` in front.
    Suffix(u8),
    /// `names[i]`: not a part of the topic (`%RETRY%ns%G` shows as `%RETRY%G`).
    Interned(u16),
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
    /// Where the name as the application knows it is (see [`TopicInfo::display`]).
    shown: Shown,
    /// A subscribed topic without a route is asked for again at this time, sooner than
    /// the 30 s refresh: a topic auto-created by a first send reaches the NameServer
    /// with the broker's next registration (up to 30 s later), and a consumer should
    /// not wait another 30 s on top of that.
    route_retry: Option<(Instant, Millis)>,
}

impl<C: Collections> TopicInfo<C> {
    /// The name as the application knows it (namespace removed).
    fn display<'a>(&'a self, names: &'a [Name]) -> &'a str {
        match self.shown {
            Shown::Suffix(at) => self.topic.get(usize::from(at)..).unwrap_or_default(),
            Shown::Interned(i) => name_at(names, i),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct BrokerAddrs {
    /// Index in `names`.
    name: u16,
    id: i64,
    addr: Addr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendPhase {
    /// Waiting for the topic's route.
    Route,
    /// An attempt is queued or in flight.
    Attempt,
    /// The in-flight table is full: the next attempt waits for a free entry (within
    /// the send's deadline), oldest send first.
    Waiting,
    /// Ended; the outcome waits to be handed out by `poll_event`.
    Done,
    /// The slot holds no send (it is on the free list).
    Free,
}

/// A stored send's receipt as the engine keeps it until it is handed out (the broker
/// by index in `names`, the message id in the op).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    status: SendStatus,
    offset_msg_id: MsgId,
    broker: u16,
    queue_id: i32,
    queue_offset: i64,
}

/// [`SendError`] as the engine keeps it (the broker by index in `names`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    NoRoute,
    Timeout,
    Broker {
        code: ResponseCode,
        remark: Remark,
        broker: u16,
    },
    Transport,
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SendOp<B: MessageBuf> {
    id: SendId,
    mode: SendMode,
    /// Index in `topics` (only ever appended). The producer group is the first one
    /// registered (the one every send uses; the table is only ever appended too).
    topic: u16,
    /// Properties, then body.
    data: B,
    props_len: usize,
    /// The form `data`'s properties are in.
    props_form: PropsForm,
    flag: i32,
    /// Message sysFlag bits the producer sets (compression).
    sys_flag: i32,
    /// SEND_BATCH_MESSAGE: `data` holds the header properties, then the batch body.
    batch: bool,
    /// SEND_REPLY_MESSAGE_V2: a reply to a request-reply message.
    reply: bool,
    /// A request-reply request: its outcome is reported through the request.
    request: bool,
    born_timestamp: i64,
    msg_id: MsgId,
    deadline: Instant,
    attempts: u32,
    last_broker: Option<u16>,
    current: Option<PubQueue>,
    /// Ordered send: the queue is chosen by the key's hash (Java `hashCode`), and
    /// never retried elsewhere (that would break per-key order).
    order_hash: Option<i32>,
    /// The queue the application chose ([`Client::send_to_queue`]); never retried
    /// elsewhere either. [`NO_NAME`]: a broker no route can name.
    chosen: Option<PubQueue>,
    phase: SendPhase,
    /// While the send runs, the last attempt's failure; once it ended (`Done`), its
    /// outcome, handed out (and the op removed) by `poll_event`.
    result: Option<Result<Stored, Failure>>,
    /// The next slot in the list this one is on: the waiting sends (lowest id first),
    /// the ended sends in the order they ended (so outcomes are reported in that
    /// order), or the free slots. The phase says which: a slot is on one list at most.
    next: u32,
}

impl<B: MessageBuf> SendOp<B> {
    /// This slot holds send `id`, not ended yet.
    fn is_live(&self, id: SendId) -> bool {
        self.id == id && !matches!(self.phase, SendPhase::Done | SendPhase::Free)
    }

    /// The last attempt's failure (while the send runs).
    fn last_failure(&self) -> Option<Failure> {
        self.result.clone().and_then(Result::err)
    }
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
    Send(SendRef),
    /// An answer to a broker's request: nothing waits for it.
    Reply(ReplyBody),
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
    /// UPDATE_CONSUMER_OFFSET, oneway, of the outbound's queue: nothing waits for it.
    Commit {
        offset: i64,
    },
    /// LOCK_BATCH_MQ of every queue held on the broker `names[broker]` (orderly).
    Lock {
        broker: u16,
    },
    /// UNLOCK_BATCH_MQ, oneway, of the outbound's queue on `names[broker]`.
    Unlock {
        broker: u16,
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
    /// CONSUMER_SEND_MSG_BACK of the `index`-th delivered message of a batch.
    SendBack {
        batch: DeliveryId,
        index: u8,
        delay_level: i32,
    },
    /// An application's call.
    Call(CallId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Outbound {
    conn: ConnId,
    opaque: i32,
    purpose: Purpose,
    /// For replies: the response code.
    code: i32,
    /// The queue a commit or unlock is about (it may be gone when the frame is
    /// written).
    mq: Option<QueueRef>,
}

impl Outbound {
    /// What a taken entry of an [`OutQueue`] holds until the queue is compacted.
    const TAKEN: Outbound = Outbound {
        conn: ConnId(u32::MAX),
        opaque: 0,
        purpose: Purpose::Heartbeat,
        code: 0,
        mq: None,
    };
}

/// The frames waiting to be written, oldest first. They are nearly always taken from
/// the front, which a plain list pays for by shifting every entry behind (with a deep
/// send pipeline, hundreds per frame written: a tenth of a client's time). Taken front
/// entries are left behind `head` instead and dropped together once they are half the
/// list, so taking one costs O(1) amortized and the order is kept.
#[derive(Debug)]
struct OutQueue<C: Collections> {
    list: C::List<Outbound>,
    /// Entries before this index were taken (u32: a device's engine counts its RAM in
    /// bytes, and no list holds more entries).
    head: u32,
}

impl<C: Collections> OutQueue<C> {
    fn new() -> Self {
        OutQueue {
            list: C::List::default(),
            head: 0,
        }
    }

    /// The entries waiting, oldest first.
    fn waiting(&self) -> &[Outbound] {
        self.list.get(self.head as usize..).unwrap_or(&[])
    }

    fn iter(&self) -> core::slice::Iter<'_, Outbound> {
        self.waiting().iter()
    }

    fn get(&self, pos: usize) -> Option<&Outbound> {
        self.waiting().get(pos)
    }

    fn is_empty(&self) -> bool {
        self.waiting().is_empty()
    }

    fn try_push(&mut self, ob: Outbound) -> Result<(), Outbound> {
        if self.head > 0 && self.list.is_full() {
            self.compact();
        }
        self.list.try_push(ob)
    }

    /// Take the entry at `pos` (counted from the oldest waiting), order kept.
    fn remove_at(&mut self, pos: usize) -> Option<Outbound> {
        if pos > 0 {
            return self.list.remove_at((self.head as usize).checked_add(pos)?);
        }
        let slot = self.list.get_mut(self.head as usize)?;
        let taken = core::mem::replace(slot, Outbound::TAKEN);
        self.head = self.head.saturating_add(1);
        let head = self.head as usize;
        if head * 2 >= self.list.len() && head >= 16 || head >= self.list.len() {
            self.compact();
        }
        Some(taken)
    }

    fn retain_where(&mut self, keep: impl FnMut(&Outbound) -> bool) {
        self.compact();
        self.list.retain_where(keep);
    }

    /// Drop the taken entries.
    fn compact(&mut self) {
        if self.head == 0 {
            return;
        }
        let mut seen = 0;
        let head = self.head as usize;
        self.list.retain_where(|_| {
            seen += 1;
            seen > head
        });
        self.head = 0;
    }
}

/// A queue named by table indices (topics and names are only ever appended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct QueueRef {
    topic: u16,
    broker: u16,
    queue_id: i32,
}

/// The client engine. See the [module docs](self) for the loop it expects.
#[derive(Debug)]
pub struct Client<C: Collections, B: MessageBuf, const INFLIGHT: usize> {
    config: Config,
    namesrv: NameServers<4>,
    rng_state: u32,
    next_conn: u32,
    next_send: u32,
    /// Sends ended and not yet handed out: a list through [`SendOp::next`], oldest
    /// first (head and tail slots).
    ended_head: u32,
    ended_tail: u32,
    /// Free slots of the sends table, a list through [`SendOp::next`].
    free_head: u32,
    /// The sends in [`SendPhase::Waiting`], a list through [`SendOp::next`] in id order (oldest first), so a freed in-flight entry goes
    /// to the oldest at once: a send is on it exactly while its phase is `Waiting`
    /// ([`Client::set_send_phase`] keeps that so). Head and tail slots.
    wait_head: u32,
    wait_tail: u32,
    /// No send waiting for a route or an entry ([`SendPhase::Route`], `Waiting`) has
    /// its deadline before this: a lower bound, kept up as sends enter those phases and
    /// made exact again by the scan `handle_timeout` runs once it passes, so
    /// `poll_timeout` reads one field instead of scanning the sends table every turn.
    unplaced_deadline: Instant,
    conns: C::List<Conn>,
    topics: C::List<TopicInfo<C>>,
    /// Broker names, and the few other names tables refer to by index (a namespaced
    /// retry topic's display, a broadcasting offset's topic), each once. Only ever
    /// appended: an index stays valid, and tables hold 2 bytes instead of a name.
    names: C::List<Name>,
    brokers: C::List<BrokerAddrs>,
    producer_groups: C::List<Name>,
    sends: C::Sends<SendOp<B>>,
    outbound: OutQueue<C>,
    inflight: InFlight<Purpose, INFLIGHT>,
    decoder: FrameDecoder,
    uniq: UniqKeyGenerator,
    next_heartbeat: Instant,
    next_route_refresh: Instant,
    consumer: Option<ConsumerState<C, B>>,
    shutdown: Option<Shutdown>,
    /// END_TRANSACTION requests waiting to be written.
    ends: C::Extras<EndTx>,
    /// Broker transaction checks waiting for the application's answer.
    checks: C::Extras<TransactionCheck>,
    /// CONSUME_MESSAGE_DIRECTLY requests waiting for the application's answer.
    directs: C::Extras<DirectRequest<B>>,
    /// Request-reply requests waiting for (or holding) their reply.
    requests: C::Extras<PendingRequest<B>>,
    /// Calls ([`Client::call`]) waiting for (or holding) their response.
    calls: C::Extras<call::PendingCall<B>>,
    next_call: u32,
    /// Addresses whose connects failed: (address, failures − 1, no connect before).
    backoff: C::List<(Addr, u8, Instant)>,
    /// The latest `now` the engine was given (for decisions inside calls without one).
    clock: Instant,
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
            ended_head: NO_SLOT,
            ended_tail: NO_SLOT,
            free_head: NO_SLOT,
            wait_head: NO_SLOT,
            wait_tail: NO_SLOT,
            unplaced_deadline: Instant::from_millis(u64::MAX),
            conns: C::List::default(),
            topics: C::List::default(),
            names: C::List::default(),
            brokers: C::List::default(),
            producer_groups: C::List::default(),
            sends: Default::default(),
            outbound: OutQueue::new(),
            inflight: InFlight::new(),
            decoder: FrameDecoder::new(),
            uniq,
            // Java: first heartbeat 1 s after start, first route refresh after 10 ms.
            next_heartbeat: now + Millis(1_000),
            next_route_refresh: now + Millis(10),
            consumer: None,
            shutdown: None,
            ends: Default::default(),
            checks: Default::default(),
            directs: Default::default(),
            requests: Default::default(),
            calls: Default::default(),
            next_call: 0,
            backoff: C::List::default(),
            clock: now,
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
        let name = self.wrapped(group)?;
        if self.producer_groups.contains(&name) {
            return Ok(());
        }
        self.producer_groups
            .try_push(name)
            .map_err(|_| CallError::Full("producer groups"))?;
        // Java heartbeats right after a producer starts.
        self.next_heartbeat = Instant::from_millis(0);
        Ok(())
    }

    /// This client's id (as brokers list it among a group's members).
    pub fn client_id(&self) -> &str {
        self.config.client_id.as_str()
    }

    /// Requests in flight (for back-pressure: compare with `INFLIGHT`).
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// Sends not yet ended.
    pub fn pending_sends(&self) -> usize {
        // Counted when asked (diagnostics), not kept: a device's engine is measured
        // in bytes.
        self.sends
            .iter()
            .filter(|s| !matches!(s.phase, SendPhase::Done | SendPhase::Free))
            .count()
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
        let opts = SendOptions::new(mode, self.config.send_timeout);
        self.start_send(now, wall_clock_ms, msg, &opts)
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
        let opts = SendOptions {
            order_key: Some(key),
            ..SendOptions::new(SendMode::Sync, self.config.send_timeout)
        };
        self.start_send(now, wall_clock_ms, msg, &opts)
    }

    /// Send `msg` to the queue the application chose (Java `send(msg, selector, arg)`:
    /// the selector picked `queue_id` of `broker` from the topic's publish queues). One
    /// attempt, no retry elsewhere; [`SendError::NoRoute`] if the route has no such
    /// writable queue.
    pub fn send_to_queue(
        &mut self,
        now: Instant,
        wall_clock_ms: i64,
        msg: &Message<'_>,
        broker: &str,
        queue_id: i32,
    ) -> Result<SendId, CallError> {
        let opts = SendOptions {
            queue: Some((broker, queue_id)),
            ..SendOptions::new(SendMode::Sync, self.config.send_timeout)
        };
        self.start_send(now, wall_clock_ms, msg, &opts)
    }

    /// Send the half message of a transaction (messages.md §7): stored but invisible
    /// to consumers until [`Client::end_transaction`] commits it. Java properties
    /// `TRAN_MSG=true`, `PGROUP=<group>`, sysFlag TRANSACTION_PREPARED. The receipt of its
    /// [`Event::SendOk`] is what `end_transaction` needs. Refused as
    /// [`CallError::Full`] when the collections hold no transactions (`Extras` of
    /// capacity 0).
    pub fn send_transactional(
        &mut self,
        now: Instant,
        wall_clock_ms: i64,
        msg: &Message<'_>,
    ) -> Result<SendId, CallError> {
        // No room for END_TRANSACTION at all (`Extras` of capacity 0): the half message
        // could never be ended.
        if self.ends.is_empty() && self.ends.is_full() {
            return Err(CallError::Full("pending END_TRANSACTION"));
        }
        let opts = SendOptions {
            transactional: true,
            ..SendOptions::new(SendMode::Sync, self.config.send_timeout)
        };
        self.start_send(now, wall_clock_ms, msg, &opts)
    }

    fn start_send(
        &mut self,
        now: Instant,
        wall_clock_ms: i64,
        msg: &Message<'_>,
        opts: &SendOptions<'_>,
    ) -> Result<SendId, CallError> {
        let SendOptions {
            mode,
            order_key,
            queue,
            transactional,
            reply,
            request,
            extra,
            timeout,
        } = *opts;
        if self.shutdown.is_some() {
            return Err(CallError::Closed);
        }
        let group = self.producer_groups.first().ok_or(CallError::NoProducer)?;
        check_topic(msg.topic).map_err(CallError::Invalid)?;
        check_body(msg.body.len(), self.config.max_message_size).map_err(CallError::Invalid)?;
        let msg_id = {
            let hex = self.uniq.next_at(wall_clock_ms, self.config.utc_offset_ms);
            MsgId::try_from(hex.as_str()).map_err(|_| CallError::Full("message id"))?
        };
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
        // The properties string then the body, written once into the send's own buffer
        // (retries reuse it, UNIQ_KEY included). The properties' room is a guess: a
        // growable buffer grows past it, a bounded one is checked by its appends.
        const PROPERTIES_GUESS: usize = 192;
        let hint = body.len().saturating_add(PROPERTIES_GUESS);
        let room = B::LIMIT.map_or(hint, |limit| hint.min(limit));
        // Writes the properties in `form`, then the body, into `data`; their length, or
        // `None` if they did not fit.
        let fill = |data: &mut B, form| -> Result<Option<usize>, CallError> {
            let mut out = AppendOut {
                buf: data,
                fits: true,
            };
            let props_len = msg.encode_properties(
                &mut out,
                form,
                &msg_id,
                transactional
                    .then_some((keys::TRAN_MSG, "true"))
                    .into_iter()
                    .chain(transactional.then_some((keys::PGROUP, group.as_str())))
                    .chain(
                        self.config
                            .namespace
                            .as_deref()
                            .map(|ns| (keys::INSTANCE_ID, ns)),
                    )
                    .chain(extra.iter().copied()),
            )?;
            Ok((out.fits && out.buf.append(body)).then_some(props_len))
        };
        let mut props_form = PropsForm::for_requests(self.config.serialize_type);
        let mut data = B::with_capacity(room).ok_or(CallError::Full("message buffer"))?;
        let mut props_len = fill(&mut data, props_form)?;
        // The escaped form is longer: a bounded buffer may still hold the string itself
        // (a message that fits keeps fitting whatever form the requests take).
        if props_len.is_none() && cfg!(not(rmq_size_opt)) && props_form == PropsForm::Json {
            props_form = PropsForm::Raw;
            data = B::with_capacity(room).ok_or(CallError::Full("message buffer"))?;
            props_len = fill(&mut data, props_form)?;
        }
        let props_len = props_len.ok_or(CallError::Full("message buffer"))?;
        // A known topic without a namespace needs no wrapped copy (a 136-byte name per
        // send).
        let known = match self.config.namespace {
            None => self.topic_index(msg.topic),
            Some(_) => None,
        };
        let topic = match known {
            Some(index) => index,
            None => {
                let topic = self.wrapped(msg.topic)?;
                self.ensure_topic(&topic)?
            }
        };
        let id = SendId(self.next_send);
        self.next_send = self.next_send.wrapping_add(1);
        // Keys and chosen brokers longer than a name are refused.
        if let Some(key) = order_key {
            name(key)?;
        }
        let chosen = match queue {
            Some((b, q)) => {
                name(b)?;
                // A broker not known yet is kept for the route to come; with the name
                // table full no route can name it.
                let broker = intern(&mut self.names, b).unwrap_or(NO_NAME);
                Some(PubQueue {
                    broker,
                    queue_id: q,
                })
            }
            None => None,
        };
        let op = SendOp {
            id,
            mode,
            topic,
            data,
            props_len,
            props_form,
            flag: msg.flag,
            sys_flag,
            batch: false,
            reply,
            request,
            born_timestamp: wall_clock_ms,
            msg_id,
            deadline: now + timeout,
            attempts: 0,
            last_broker: None,
            current: None,
            order_hash: order_key.map(crate::message::tag_hash),
            chosen,
            phase: SendPhase::Route,
            result: None,
            next: NO_SLOT,
        };
        let at = self.insert_send(op)?;
        self.advance_send(now, at);
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
        if self.producer_groups.is_empty() {
            return Err(CallError::NoProducer);
        }
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
                || m.deliver_at_ms.is_some()
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
            let hex = self.uniq.next_at(wall_clock_ms, self.config.utc_offset_ms);
            let id = MsgId::try_from(hex.as_str()).map_err(|_| CallError::Full("message id"))?;
            let mut props = [0u8; 2048];
            // Validated above: no delay level, and every WAIT equals the batch's.
            let mut out = SliceOut::new(&mut props);
            m.encode_properties(&mut out, PropsForm::Raw, &id, core::iter::empty())?;
            let props_len = out.finish().map_err(CallError::Encode)?;
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
        let topic = self.wrapped(first.topic)?;
        let topic = self.ensure_topic(&topic)?;
        let id = SendId(self.next_send);
        self.next_send = self.next_send.wrapping_add(1);
        let op = SendOp {
            id,
            mode: SendMode::Sync,
            topic,
            data,
            props_len: header_len,
            props_form: PropsForm::Raw,
            flag: 0,
            sys_flag: 0,
            batch: true,
            reply: false,
            request: false,
            born_timestamp: wall_clock_ms,
            msg_id: first_id.unwrap_or_default(),
            deadline: now + self.config.send_timeout,
            attempts: 0,
            last_broker: None,
            current: None,
            order_hash: None,
            chosen: None,
            phase: SendPhase::Route,
            result: None,
            next: NO_SLOT,
        };
        let at = self.insert_send(op)?;
        self.advance_send(now, at);
        Ok(id)
    }

    /// `resource` as sent: under the namespace, if one is set.
    fn wrapped(&self, resource: &str) -> Result<Name, CallError> {
        match self.config.namespace.as_deref() {
            Some(ns) => crate::namespace::wrap(ns, resource).ok_or(CallError::Full("name length")),
            None => name(resource),
        }
    }

    /// `resource` as the application knows it.
    fn unwrapped(&self, resource: &str) -> Name {
        self.config
            .namespace
            .as_deref()
            .and_then(|ns| crate::namespace::unwrap(ns, resource))
            .or_else(|| Name::try_from(resource).ok())
            .unwrap_or_default()
    }

    /// The index of `topic` (as sent) in `topics`.
    fn topic_index(&self, topic: &str) -> Option<u16> {
        self.topics
            .iter()
            .position(|t| t.topic == topic)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// The index of `topic` in `topics`, added if new (tables name topics by a `u16`).
    fn ensure_topic(&mut self, topic: &Name) -> Result<u16, CallError> {
        if let Some(i) = self.topic_index(topic) {
            return Ok(i);
        }
        let selector = RoundRobin::new(xorshift(&mut self.rng_state));
        let index = u16::try_from(self.topics.len()).map_err(|_| CallError::Full("topics"))?;
        if self.topics.is_full() {
            return Err(CallError::Full("topics"));
        }
        let display = self.unwrapped(topic);
        let suffix = topic
            .len()
            .checked_sub(display.len())
            .filter(|at| topic.get(*at..) == Some(display.as_str()))
            .and_then(|at| u8::try_from(at).ok());
        let shown = match suffix {
            Some(at) => Shown::Suffix(at),
            None => {
                Shown::Interned(intern(&mut self.names, &display).ok_or(CallError::Full("names"))?)
            }
        };
        self.topics
            .try_push(TopicInfo {
                topic: topic.clone(),
                queues: C::List::default(),
                selector,
                querying: false,
                from_default: false,
                tried_default: false,
                missing: false,
                sub_queues: C::List::default(),
                shown,
                route_retry: None,
            })
            .map_err(|_| CallError::Full("topics"))?;
        Ok(index)
    }

    /// Move a send forward: ask for its route, pick a queue and queue an attempt, or
    /// end it.
    fn advance_send(&mut self, now: Instant, id: SendRef) {
        self.clock = self.clock.max(now);
        let pos = id.slot as usize;
        let Some(op) = self.sends.get(pos).filter(|s| s.is_live(id.id)) else {
            return;
        };
        if now >= op.deadline {
            let err = op.last_failure().unwrap_or(Failure::Timeout);
            return self.end_send(id, Err(err));
        }
        let max_attempts = if op.order_hash.is_some() || op.chosen.is_some() {
            1
        } else {
            self.config.retry.max_attempts(op.mode)
        };
        if op.attempts >= max_attempts {
            let err = op.last_failure().unwrap_or(Failure::Transport);
            return self.end_send(id, Err(err));
        }
        let (ti, last_broker, order_hash, chosen) = (
            usize::from(op.topic),
            op.last_broker,
            op.order_hash,
            op.chosen,
        );
        let queue = {
            let Some(info) = self.topics.get_mut(ti) else {
                return self.end_send(id, Err(Failure::NoRoute));
            };
            if info.queues.is_empty() {
                // Not while the default topic's route is being asked for: a send started
                // then waits for it like the ones before.
                if info.missing && info.tried_default && !info.querying {
                    return self.end_send(id, Err(Failure::NoRoute));
                }
                if !info.querying {
                    self.query_route(now, ti, false);
                }
                self.set_send_phase(id.slot, SendPhase::Route);
                return;
            }
            let i = match (order_hash, chosen) {
                (_, Some(c)) => info.queues.iter().position(|q| *q == c),
                (Some(hash), None) => Some(crate::producer::select::select_by_hash_value(
                    hash,
                    info.queues.len(),
                )),
                // Names are interned: the same index is the same broker.
                (None, None) => {
                    let queues = &info.queues;
                    info.selector.select_avoiding(
                        queues.len(),
                        last_broker.map(|last| {
                            move |i: usize| queues.get(i).is_some_and(|q| q.broker != last)
                        }),
                    )
                }
            };
            i.and_then(|i| info.queues.get(i)).copied()
        };
        let Some(queue) = queue else {
            return self.end_send(id, Err(Failure::NoRoute));
        };
        // Borrowed, not cloned (an address is 136 bytes, every attempt of every send).
        let Some(addr) = self.master_addr_ref(queue.broker) else {
            // Java: "broker not exist" is retried on another broker.
            if let Some(op) = self.sends.get_mut(pos) {
                op.attempts += 1;
                op.last_broker = Some(queue.broker);
                op.result = Some(Err(Failure::NoRoute));
            }
            return self.advance_send(now, id);
        };
        let free_to_fail_over = order_hash.is_none() && chosen.is_none();
        if self.backoff_until(addr).is_some()
            && free_to_fail_over
            && self.other_broker_reachable(ti, queue.broker)
        {
            // Its connects fail: this attempt fails as a refused connect would, and
            // the retry goes to another broker at once. With no other broker to go to
            // (or a queue the send must keep), the attempt waits for the deferred
            // connect instead, within the send's deadline.
            if let Some(op) = self.sends.get_mut(pos) {
                op.attempts += 1;
                op.last_broker = Some(queue.broker);
                op.result = Some(Err(Failure::Transport));
            }
            return self.advance_send(now, id);
        }
        let conn = match self.live_conn(addr) {
            Some(conn) => conn,
            None => {
                let addr = addr.clone();
                self.conn_for(&addr)
            }
        };
        let Some(op) = self.sends.get_mut(pos) else {
            return;
        };
        op.attempts += 1;
        op.current = Some(queue);
        let deadline = op.deadline;
        let oneway = op.mode == SendMode::Oneway;
        self.set_send_phase(id.slot, SendPhase::Attempt);
        let entry = if self.sends_may_take_entry() {
            self.inflight.insert(conn, deadline, Purpose::Send(id)).ok()
        } else {
            None
        };
        match entry {
            Some(opaque) => {
                let pushed = self.outbound.try_push(Outbound {
                    conn,
                    opaque,
                    purpose: Purpose::Send(id),
                    code: 0,
                    mq: None,
                });
                if pushed.is_err() {
                    self.inflight.complete(opaque);
                    self.end_send(id, Err(Failure::Transport));
                } else if oneway {
                    // Nothing will answer: it ends once written (see poll_transmit).
                }
            }
            None => {
                // Back-pressure, not a failure: wait for a free entry.
                if let Some(op) = self.sends.get_mut(pos) {
                    op.attempts = op.attempts.saturating_sub(1);
                    op.current = None;
                }
                self.set_send_phase(id.slot, SendPhase::Waiting);
            }
        }
    }

    /// In-flight entries sends may fill: all but an eighth, kept for heartbeats,
    /// route queries and the consumer's requests, which a deep send pipeline would
    /// otherwise starve (a client that stops heartbeating is dropped by its brokers).
    /// Tables under 8 entries (a device's) keep none: there the application paces its
    /// sends.
    const SEND_ENTRIES: usize = INFLIGHT - INFLIGHT / 8;

    fn sends_may_take_entry(&self) -> bool {
        self.inflight.len() < Self::SEND_ENTRIES
    }

    /// Give the in-flight entries freed since to waiting sends, oldest first: each
    /// takes the head of the waiting list, so a freed entry costs no search however many
    /// sends wait (a scan of the sends table per batch was 6% of a deep async pipeline's
    /// time).
    fn resume_waiting_sends(&mut self, now: Instant) {
        // Entries go out in batches (a sixteenth of the table, at most 64) while requests
        // are still in flight to free more: frames that reach a broker together are
        // stored together (its group commit), where a trickle of single frames, one per
        // answer, is stored one by one. Against the rocketmq-rust broker with 10,000
        // sends waiting, resuming one send per freed entry cut its rate from about
        // 1,500 to 500 messages a second.
        let batch = (Self::SEND_ENTRIES / 16).clamp(1, 64);
        let free = Self::SEND_ENTRIES.saturating_sub(self.inflight.len());
        if free < batch && !self.inflight.is_empty() {
            return;
        }
        while self.sends_may_take_entry() {
            let slot = self.wait_head;
            let Some(id) = self
                .sends
                .get(slot as usize)
                .map(|s| SendRef { id: s.id, slot })
            else {
                return;
            };
            self.advance_send(now, id);
            // advance_send takes it off the list (or ends it, which does too); one still
            // at the head found no entry after all, and waits on.
            if self.wait_head == slot {
                return;
            }
        }
    }

    /// Set the phase of the send at `slot`, keeping the waiting list exactly the sends
    /// in [`SendPhase::Waiting`]: one joins it in id order (a new send at the tail in
    /// O(1); a retry, older than most, placed from the head) and leaves it in O(1).
    fn set_send_phase(&mut self, slot: u32, phase: SendPhase) {
        let Some(op) = self.sends.get_mut(slot as usize) else {
            return;
        };
        let was = core::mem::replace(&mut op.phase, phase);
        let id = op.id;
        if matches!(phase, SendPhase::Route | SendPhase::Waiting) {
            self.unplaced_deadline = self.unplaced_deadline.min(op.deadline);
        }
        match (was == SendPhase::Waiting, phase == SendPhase::Waiting) {
            (true, false) => self.wait_unlink(slot),
            (false, true) => self.wait_link(slot, id),
            _ => {}
        }
    }

    /// The list is singly linked, through the slot's `next`, which costs the engine only
    /// its head and tail (a device's engine counts its RAM in bytes): a send leaves it
    /// from the head, but for one whose deadline passed while it waited, and those are
    /// the oldest, near the head.
    fn wait_link(&mut self, slot: u32, id: SendId) {
        let after_tail = self
            .sends
            .get(self.wait_tail as usize)
            .is_none_or(|tail| tail.id < id);
        let (mut prev, mut next) = (self.wait_tail, NO_SLOT);
        if !after_tail {
            // A retry, older than the tail: its place from the head (the walk is bounded
            // by the table, which the list cannot outgrow).
            (prev, next) = (NO_SLOT, self.wait_head);
            for _ in 0..self.sends.len() {
                match self.sends.get(next as usize) {
                    Some(s) if s.id < id => (prev, next) = (next, s.next),
                    _ => break,
                }
            }
        }
        if let Some(op) = self.sends.get_mut(slot as usize) {
            op.next = next;
        }
        match self.sends.get_mut(prev as usize) {
            Some(p) => p.next = slot,
            None => self.wait_head = slot,
        }
        if next == NO_SLOT {
            self.wait_tail = slot;
        }
    }

    fn wait_unlink(&mut self, slot: u32) {
        let Some(next) = self
            .sends
            .get_mut(slot as usize)
            .map(|op| core::mem::replace(&mut op.next, NO_SLOT))
        else {
            return;
        };
        let mut prev = NO_SLOT;
        if self.wait_head != slot {
            prev = self.wait_head;
            for _ in 0..self.sends.len() {
                match self.sends.get(prev as usize) {
                    Some(p) if p.next != slot => prev = p.next,
                    _ => break,
                }
            }
        }
        match self.sends.get_mut(prev as usize) {
            Some(p) => p.next = next,
            None => self.wait_head = next,
        }
        if self.wait_tail == slot {
            self.wait_tail = prev;
        }
    }

    /// End a send once: its outcome stays in the table until `poll_event` hands it out,
    /// so no outcome can be lost to a full queue.
    fn end_send(&mut self, id: SendRef, result: Result<Stored, Failure>) {
        if self.live_send_mut(id).is_none() {
            return;
        }
        self.set_send_phase(id.slot, SendPhase::Done);
        let Some(op) = self.sends.get_mut(id.slot as usize) else {
            return;
        };
        op.result = Some(result);
        op.next = NO_SLOT;
        // Appended to the ended list (reported oldest first).
        match self.sends.get_mut(self.ended_tail as usize) {
            Some(tail) => tail.next = id.slot,
            None => self.ended_head = id.slot,
        }
        self.ended_tail = id.slot;
        // An attempt of it still queued for writing (none is, on any path that ends a
        // send; a search here per send was measurable) is dropped by poll_transmit.
    }

    /// A send that has not ended.
    fn live_send_mut(&mut self, id: SendRef) -> Option<&mut SendOp<B>> {
        self.sends
            .get_mut(id.slot as usize)
            .filter(|s| s.is_live(id.id))
    }

    /// A send that has not been handed out (live or ended).
    fn send_at(&self, id: SendRef) -> Option<&SendOp<B>> {
        self.sends
            .get(id.slot as usize)
            .filter(|s| s.id == id.id && s.phase != SendPhase::Free)
    }

    /// Put `op` in a free slot (or a new one).
    fn insert_send(&mut self, op: SendOp<B>) -> Result<SendRef, CallError> {
        let id = op.id;
        if matches!(op.phase, SendPhase::Route | SendPhase::Waiting) {
            self.unplaced_deadline = self.unplaced_deadline.min(op.deadline);
        }
        let slot = match self.sends.get_mut(self.free_head as usize) {
            Some(free) => {
                let slot = self.free_head;
                self.free_head = free.next;
                *free = op;
                slot
            }
            None => {
                let slot = u32::try_from(self.sends.len()).map_err(|_| CallError::Full("sends"))?;
                if slot == NO_SLOT {
                    return Err(CallError::Full("sends"));
                }
                self.sends
                    .try_push(op)
                    .map_err(|_| CallError::Full("sends"))?;
                slot
            }
        };
        Ok(SendRef { id, slot })
    }

    /// Where to pull from (Java `findBrokerAddressInSubscribe`): the suggested broker
    /// id; for a missing slave id the next one; else the master; else any address.
    fn pull_addr(&self, broker: u16, suggested: i64) -> Option<(Addr, i64)> {
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

    /// Whether a queue of `topics[topic]` lives on a broker other than `broker` whose
    /// master is not backing off.
    fn other_broker_reachable(&self, topic: usize, broker: u16) -> bool {
        self.topics.get(topic).is_some_and(|t| {
            t.queues.iter().any(|q| {
                q.broker != broker
                    && self
                        .master_addr_ref(q.broker)
                        .is_some_and(|a| self.backoff_until(a).is_none())
            })
        })
    }

    // Not `master_addr_ref(broker).cloned()`: that costs a firmware 0.5 KiB of flash.
    fn master_addr(&self, broker: u16) -> Option<Addr> {
        self.brokers
            .iter()
            .find(|b| b.name == broker && b.id == 0)
            .map(|b| b.addr.clone())
    }

    fn master_addr_ref(&self, broker: u16) -> Option<&Addr> {
        self.brokers
            .iter()
            .find(|b| b.name == broker && b.id == 0)
            .map(|b| &b.addr)
    }

    // ---------------------------------------------------------------- routes

    /// Ask for the route of `topics[index]`.
    fn query_route(&mut self, now: Instant, index: usize, via_default: bool) {
        let Ok(topic_index) = u16::try_from(index) else {
            return; // not in the table (topics are added only up to index 65 535)
        };
        if index >= self.topics.len() {
            return;
        }
        let Some(addr) = self.namesrv.choose().and_then(|a| Addr::try_from(a).ok()) else {
            // No NameServer: every send waiting for this route fails.
            self.route_unavailable(topic_index);
            return;
        };
        let purpose = Purpose::Route {
            topic: topic_index,
            via_default,
        };
        let deadline = now + self.config.request_timeout;
        if !self.push_request(&addr, deadline, purpose) {
            return;
        }
        if let Some(t) = self.topics.get_mut(index) {
            t.querying = true;
        }
    }

    /// The route of `topic` could not be had (no NameServer, or no answer): sends
    /// waiting for it fail.
    fn route_unavailable(&mut self, topic: u16) {
        self.for_each_send(
            |s| s.topic == topic && s.phase == SendPhase::Route,
            |c, id| c.end_send(id, Err(Failure::NoRoute)),
        );
    }

    /// Apply `f` to every send `pred` selects, in ascending id order, however many
    /// there are. Ids are gathered a chunk at a time (the 64 lowest above the last
    /// chunk: sends are not kept in order) because `f` needs the whole client; `f` may
    /// end, advance or leave a send as it is.
    fn for_each_send(
        &mut self,
        pred: impl Fn(&SendOp<B>) -> bool,
        mut f: impl FnMut(&mut Self, SendRef),
    ) {
        let mut after: Option<SendId> = None;
        loop {
            let chunk = self.lowest_sends(64, |s| {
                s.phase != SendPhase::Free && after.is_none_or(|a| s.id > a) && pred(s)
            });
            let Some(&(last, _)) = chunk.last() else {
                return;
            };
            for (id, slot) in chunk {
                f(self, SendRef { id, slot });
            }
            after = Some(last);
        }
    }

    /// The `k` (at most 64) lowest ids among the sends `select` picks, with their slots,
    /// in ascending order. A sends table that can never hold more than 64 is collected
    /// whole and sorted (a small device: no heap code); a larger one keeps the `k`
    /// lowest in a max-heap whose top is the one to give up (one scan, O(n log k)).
    fn lowest_sends(
        &self,
        k: usize,
        select: impl Fn(&SendOp<B>) -> bool,
    ) -> heapless::Vec<(SendId, u32), 64> {
        let k = k.min(64);
        let picked = self
            .sends
            .iter()
            .enumerate()
            .filter(|(_, s)| select(s))
            .map(|(slot, s)| (s.id, slot as u32));
        let mut lowest = if <C::Sends<SendOp<B>> as List<SendOp<B>>>::BOUND <= 64 {
            // Everything fits.
            let mut all = heapless::Vec::new();
            for entry in picked {
                let _ = all.push(entry);
            }
            all
        } else {
            let mut heap: heapless::BinaryHeap<(SendId, u32), heapless::binary_heap::Max, 64> =
                heapless::BinaryHeap::new();
            for entry in picked {
                if heap.len() < k {
                    let _ = heap.push(entry);
                } else if heap.peek().is_some_and(|top| entry < *top) {
                    let _ = heap.pop();
                    let _ = heap.push(entry);
                }
            }
            heap.into_vec()
        };
        crate::sort::sort_unstable_by(&mut lowest, Ord::cmp);
        lowest.truncate(k);
        lowest
    }

    fn on_route_response(
        &mut self,
        now: Instant,
        topic: u16,
        via_default: bool,
        cmd: &Command<'_>,
    ) {
        let ti = usize::from(topic);
        let Some(t) = self.topics.get_mut(ti) else {
            return;
        };
        t.querying = false;
        if cmd.header.response_code() != ResponseCode::SUCCESS {
            t.missing = true;
            // Backing off 1 s, 2 s … 30 s until it appears.
            let backoff = t
                .route_retry
                .map_or(Millis(1_000), |(_, b)| Millis((b.0 * 2).min(30_000)));
            t.route_retry = Some((now + backoff, backoff));
            // Only a producer borrows TBW102's route (§1.8); a consumer's topic simply
            // has no queues until its route appears.
            let sends_waiting = self
                .sends
                .iter()
                .any(|s| s.topic == topic && s.phase == SendPhase::Route);
            let Some(t) = self.topics.get_mut(ti) else {
                return;
            };
            if !via_default && !t.tried_default && t.queues.is_empty() && sends_waiting {
                // Fall back to the default topic's route (auto-creation, §1.8).
                t.tried_default = true;
                self.query_route(now, ti, true);
            } else {
                if via_default {
                    t.tried_default = true;
                }
                self.wake_route_waiters(now, topic);
            }
            return;
        }
        let Ok(route) = TopicRouteData::<C>::decode(cmd.body) else {
            return self.wake_route_waiters(now, topic);
        };
        t.route_retry = None;
        // Broker address table (masters and slaves).
        for bd in route.broker_datas.iter() {
            let Some(bname) = bd.broker_name.as_str() else {
                continue;
            };
            for ba in bd.broker_addrs.iter() {
                let Some(a) = ba.addr.as_str() else { continue };
                let known = find_name(&self.names, bname).and_then(|name| {
                    self.brokers
                        .iter_mut()
                        .find(|b| b.name == name && b.id == ba.id)
                });
                match known {
                    Some(b) => {
                        if let Ok(addr) = Addr::try_from(a) {
                            b.addr = addr;
                        }
                    }
                    None => {
                        let Ok(addr) = Addr::try_from(a) else {
                            continue;
                        };
                        if let Some(name) = intern(&mut self.names, bname) {
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
        // A queue whose broker cannot be named (too long, or the name table is full)
        // is left out.
        let names = &mut self.names;
        let mut queue_of = |broker: &Text<'_>, queue_id| {
            let broker = broker.as_str().and_then(|b| intern(names, b))?;
            Some(PubQueue { broker, queue_id })
        };
        // Publish queues; through the default topic, clipped to 4 per broker.
        let mut queues = C::List::<PubQueue>::default();
        let mut subs = C::List::<PubQueue>::default();
        if !via_default {
            for (broker, queue_id) in route.subscribe_queues() {
                if let Some(q) = queue_of(&broker, queue_id) {
                    // Full: a route with absurd queue counts (a hostile or broken
                    // NameServer) is cut at the table's capacity instead of iterated to
                    // the end (up to 2^31 queues).
                    if subs.try_push(q).is_err() {
                        break;
                    }
                }
            }
        }
        for (broker, queue_id) in route.publish_queues() {
            if via_default {
                let read = route
                    .queue_datas
                    .iter()
                    .find(|q| q.broker_name == broker)
                    .map_or(0, |q| q.read_queue_nums);
                if queue_id >= DEFAULT_TOPIC_QUEUE_NUMS.min(read) {
                    continue;
                }
            }
            let Some(q) = queue_of(&broker, queue_id) else {
                continue;
            };
            if queues.try_push(q).is_err() {
                break; // capacity reached: see the subscribe queues above
            }
        }
        if !via_default {
            if let Some(t) = self.topics.get_mut(ti) {
                let changed = t.sub_queues != subs;
                t.sub_queues = subs;
                // A subscribed topic's queues changed (it appeared, a broker came or
                // went): rebalance now rather than at the next 20 s tick.
                let subscribed = self
                    .consumer
                    .as_ref()
                    .is_some_and(|c| c.subs.iter().any(|s| s.topic == topic));
                if changed && subscribed {
                    if let Some(c) = self.consumer.as_mut() {
                        c.next_rebalance = c
                            .next_rebalance
                            .min(now.max(c.last_rebalance + Millis(1_000)));
                    }
                }
            }
        }
        if let Some(t) = self.topics.get_mut(ti) {
            if !queues.is_empty() || !via_default {
                // A real route replaces a borrowed one; an empty real route does not
                // wipe a working borrowed one.
                if !(queues.is_empty() && t.from_default) {
                    t.queues = queues;
                    t.from_default = via_default;
                }
            }
            t.missing = t.queues.is_empty();
            if via_default {
                t.tried_default = true;
            }
        }
        self.wake_route_waiters(now, topic);
    }

    fn wake_route_waiters(&mut self, now: Instant, topic: u16) {
        self.for_each_send(
            |s| s.topic == topic && s.phase == SendPhase::Route,
            |c, id| c.advance_send(now, id),
        );
    }

    // ---------------------------------------------------------------- connections

    /// The connection to `addr` that is not closed, if there is one.
    fn live_conn(&self, addr: &Addr) -> Option<ConnId> {
        self.conns
            .iter()
            .find(|c| &c.addr == addr && c.state != ConnState::Closed)
            .map(|c| c.id)
    }

    fn conn_for(&mut self, addr: &Addr) -> ConnId {
        if let Some(id) = self.live_conn(addr) {
            return id;
        }
        let id = ConnId(self.next_conn);
        self.next_conn = self.next_conn.wrapping_add(1);
        // The adapter learns of it from poll_event (Event::Connect). If the table is
        // full the requests queued for it end at their deadlines.
        let not_before = self.backoff_until(addr).unwrap_or(self.clock);
        let _ = self.conns.try_push(Conn {
            id,
            addr: addr.clone(),
            state: ConnState::Connecting,
            announced: false,
            not_before,
            last_active: self.clock,
            last_rx: self.clock,
        });
        id
    }

    /// Until when `addr` backs off after failed connects, if it does now.
    fn backoff_until(&self, addr: &Addr) -> Option<Instant> {
        self.backoff
            .iter()
            .find(|(a, _, until)| a == addr && *until > self.clock)
            .map(|(_, _, until)| *until)
    }

    /// A connect to `addr` failed: back off (doubling from [`CONNECT_BACKOFF_MIN`] to
    /// [`CONNECT_BACKOFF_MAX`]).
    fn connect_failed(&mut self, now: Instant, addr: &Addr) {
        // Entries long past their pause are forgotten (addresses that went away must
        // not fill the table), so a later failure starts from the shortest pause.
        self.backoff
            .retain_where(|(a, _, until)| a == addr || *until + CONNECT_BACKOFF_MAX > now);
        match self.backoff.iter_mut().find(|(a, _, _)| a == addr) {
            Some((_, failures, until)) => {
                *failures = failures.saturating_add(1);
                let pause = CONNECT_BACKOFF_MIN
                    .0
                    .saturating_mul(1 << (*failures).min(16))
                    .min(CONNECT_BACKOFF_MAX.0);
                *until = now + Millis(pause);
            }
            None => {
                // Full: that address just is not backed off.
                let _ = self
                    .backoff
                    .try_push((addr.clone(), 0, now + CONNECT_BACKOFF_MIN));
            }
        }
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
        c.last_active = now;
        c.last_rx = now;
        let addr = c.addr.clone();
        self.clock = self.clock.max(now);
        self.backoff.retain_where(|(a, _, _)| *a != addr);
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

    /// Close `conn` from the engine's side: its requests end as lost now and the
    /// adapter is told to close it ([`Event::Close`]).
    fn close_dead(&mut self, now: Instant, conn: ConnId) {
        self.handle_closed(now, conn);
        let _ = self.conns.try_push(Conn {
            id: conn,
            addr: Addr::new(),
            state: ConnState::Closed,
            announced: false,
            not_before: now,
            last_active: now,
            last_rx: now,
        });
    }

    /// Close open connections idle for [`CONN_IDLE_TIMEOUT`] with nothing in flight
    /// (an idle one that still has a request waiting is left to that request's
    /// deadline).
    fn close_idle(&mut self, now: Instant) {
        for i in 0..self.conns.len() {
            let Some(c) = self.conns.get(i) else { continue };
            if c.state != ConnState::Open || c.last_active + CONN_IDLE_TIMEOUT > now {
                continue;
            }
            let id = c.id;
            let busy = self.inflight.iter().any(|(_, conn, _, _)| conn == id)
                || self.outbound.iter().any(|o| o.conn == id)
                || self.directs.iter().any(|d| d.conn == id);
            if let Some(c) = self.conns.get_mut(i) {
                if busy {
                    // Looked at again a full idle period later.
                    c.last_active = now;
                } else {
                    c.state = ConnState::Closed;
                    c.announced = false;
                }
            }
        }
    }

    /// The connection `conn` failed to open, or closed. Its requests end: route
    /// queries move to the next NameServer, sends are retried or fail.
    pub fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        self.clock = self.clock.max(now);
        let closed = self
            .conns
            .iter()
            .position(|c| c.id == conn)
            .and_then(|i| self.conns.remove_at(i));
        // A connect that was attempted (announced) and failed.
        if let Some(c) = closed
            .as_ref()
            .filter(|c| c.state == ConnState::Connecting && c.announced)
        {
            self.connect_failed(now, &c.addr);
        }
        let addr = closed.map(|c| c.addr);
        self.outbound.retain_where(|o| o.conn != conn);
        // Requests of a broker on this connection can no longer be answered.
        self.directs.retain_where(|d| d.conn != conn);
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
                // A parked back-off retry (see `route_retry`) goes on after its pause.
                if let Some((at, b)) = t.route_retry {
                    if at == Instant::from_millis(u64::MAX) {
                        t.route_retry = Some((now + b, b));
                    }
                }
                // Retry on the next NameServer once the failed one is marked; sends
                // waiting for the route keep waiting until their own deadline.
                if self
                    .sends
                    .iter()
                    .any(|s| s.topic == topic && s.phase == SendPhase::Route)
                {
                    self.query_route(now, usize::from(topic), false);
                }
            }
            Purpose::Send(id) => {
                let policy = self.config.retry;
                if let Some(op) = self.live_send_mut(id) {
                    op.last_broker = op.current.take().map(|q| q.broker);
                    op.result = Some(Err(Failure::Transport));
                    let verdict = classify(op.mode, Attempt::Transport, &policy);
                    if verdict == Verdict::Retry {
                        return self.advance_send(now, id);
                    }
                }
                self.end_send(id, Err(Failure::Transport));
            }
            Purpose::Heartbeat
            | Purpose::Reply(_)
            | Purpose::Commit { .. }
            | Purpose::Unlock { .. }
            | Purpose::EndTransaction { .. } => {}
            Purpose::Unregister { .. } => self.shutdown_tick(now),
            Purpose::Call(id) => self.end_call(id, Err(CallFailure::Transport)),
            Purpose::SendBack { .. }
            | Purpose::ConsumerList { .. }
            | Purpose::Offset { .. }
            | Purpose::Pull { .. }
            | Purpose::Lock { .. } => self.consumer_request_failed(now, &purpose),
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
        self.clock = self.clock.max(now);
        if let Some(c) = self.conns.iter_mut().find(|c| c.id == conn) {
            c.last_active = now;
            c.last_rx = now;
        }
        let mut used = 0;
        loop {
            let rest = bytes.get(used..).unwrap_or_default();
            let decoded = self.decoder.decode(rest).and_then(|d| match d {
                Decoded::Frame { frame, consumed } => {
                    let raw = rest.get(..consumed).unwrap_or_default();
                    Command::decode(frame).map(|c| Some((c, raw, consumed)))
                }
                Decoded::Incomplete { .. } => Ok(None),
            });
            match decoded {
                Ok(Some((cmd, frame, consumed))) => {
                    used += consumed;
                    self.on_command(now, conn, &cmd, frame);
                }
                Ok(None) => {
                    self.resume_waiting_sends(now);
                    return Ok(used);
                }
                Err(e) => {
                    self.close_dead(now, conn);
                    self.resume_waiting_sends(now);
                    return Err(e);
                }
            }
        }
    }

    fn on_command(&mut self, now: Instant, conn: ConnId, cmd: &Command<'_>, frame: &[u8]) {
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
            | Purpose::Reply(_)
            | Purpose::Commit { .. }
            | Purpose::Unlock { .. }
            | Purpose::EndTransaction { .. } => {}
            // The last answer ends the shutdown at once.
            Purpose::Unregister { .. } => self.shutdown_tick(now),
            Purpose::SendBack { batch, index, .. } => {
                let ok = cmd.header.response_code() == ResponseCode::SUCCESS;
                self.send_back_done(now, batch, index, ok)
            }
            Purpose::Lock { broker } => self.on_lock(now, broker, cmd),
            Purpose::ConsumerList { topic } => self.on_consumer_list(now, topic, cmd),
            Purpose::Offset { token, max } => self.on_offset(now, token, max, cmd),
            Purpose::Pull { token } => self.on_pull(now, token, cmd),
            Purpose::Call(id) => self.end_call(id, Ok(frame)),
        }
    }

    fn on_send_response(&mut self, now: Instant, id: SendRef, cmd: &Command<'_>) {
        let policy = self.config.retry;
        let Some(op) = self.live_send_mut(id) else {
            return;
        };
        let code = cmd.header.response_code();
        let queue = op.current.take();
        let broker = queue.map_or(NO_NAME, |q| q.broker);
        match classify(op.mode, Attempt::Response(code), &policy) {
            Verdict::Stored(status) => {
                let resp: Result<SendMessageResponse<'_>, _> = cmd.decode_fields();
                let stored = match resp {
                    Ok(r) => Stored {
                        status,
                        offset_msg_id: text_to(&r.msg_id),
                        broker,
                        queue_id: r.queue_id,
                        queue_offset: r.queue_offset,
                    },
                    Err(_) => Stored {
                        status,
                        offset_msg_id: MsgId::new(),
                        broker,
                        queue_id: queue.map_or(-1, |q| q.queue_id),
                        queue_offset: -1,
                    },
                };
                self.end_send(id, Ok(stored));
            }
            verdict => {
                let error = Failure::Broker {
                    code,
                    remark: cmd.header.remark.map(|r| text_to(&r)).unwrap_or_default(),
                    broker,
                };
                op.last_broker = Some(broker);
                if verdict == Verdict::Retry {
                    op.result = Some(Err(error));
                    self.advance_send(now, id);
                } else {
                    self.end_send(id, Err(error));
                }
            }
        }
    }

    /// A request from the broker. Unknown two-way requests get
    /// REQUEST_CODE_NOT_SUPPORTED, as Java answers (wire.md §3.2); oneway ones none.
    /// So do the admin requests without the `admin` feature (`cfg!`, not `#[cfg]`:
    /// their handlers still compile, and the constant false drops them from the build).
    fn on_server_request(&mut self, now: Instant, conn: ConnId, cmd: &Command<'_>) {
        let admin = cfg!(feature = "admin");
        match cmd.header.request_code() {
            RequestCode::CHECK_TRANSACTION_STATE => self.on_check_transaction(conn, cmd),
            RequestCode::PUSH_REPLY_MESSAGE_TO_CLIENT => self.on_push_reply(conn, cmd),
            RequestCode::GET_CONSUMER_RUNNING_INFO if admin => self.on_running_info(conn, cmd),
            RequestCode::CONSUME_MESSAGE_DIRECTLY if admin => self.on_consume_directly(conn, cmd),
            RequestCode::RESET_CONSUMER_CLIENT_OFFSET if admin => self.on_reset_offset(now, cmd),
            RequestCode::NOTIFY_CONSUMER_IDS_CHANGED => {
                // Wake the rebalance (Java: RebalanceService.wakeup), at most once a second.
                if let Some(c) = self.consumer.as_mut() {
                    c.next_rebalance = c
                        .next_rebalance
                        .min(now.max(c.last_rebalance + Millis(1_000)));
                }
            }
            _ if cmd.header.is_oneway() => {}
            _ => self.push_reply(
                conn,
                cmd.header.opaque,
                ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
                ReplyBody::Empty,
            ),
        }
    }

    // ---------------------------------------------------------------- output

    /// Where the next frame to write waits in `outbound` (frames for connections
    /// still connecting wait their turn).
    fn next_outbound(&self) -> Option<usize> {
        self.outbound.iter().position(|o| {
            self.conns
                .iter()
                .any(|c| c.id == o.conn && c.state == ConnState::Open)
        })
    }

    /// Write the next frame into `buf`. `Ok(None)` when nothing is ready to go (frames
    /// for connections still connecting wait). `BufferTooSmall { needed }` if `buf` is
    /// too small for the next frame (nothing is lost: call again with a larger one, or,
    /// an adapter whose buffer cannot grow, [`discard_transmit`](Self::discard_transmit)).
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        buf: &mut [u8],
    ) -> Result<Option<Transmit>, EncodeError> {
        let (pos, ob) = loop {
            let Some(pos) = self.next_outbound() else {
                return Ok(None);
            };
            let Some(ob) = self.outbound.get(pos) else {
                return Ok(None);
            };
            // The attempt of a send that has ended meanwhile is void.
            if let Purpose::Send(id) = ob.purpose {
                let live = self
                    .sends
                    .get(id.slot as usize)
                    .is_some_and(|s| s.is_live(id.id));
                if !live {
                    let opaque = ob.opaque;
                    let _ = self.outbound.remove_at(pos);
                    if self.inflight.value_of(opaque) == Some(&Purpose::Send(id)) {
                        self.inflight.complete(opaque);
                    }
                    continue;
                }
            }
            break (pos, ob);
        };
        let len = self.encode_outbound(ob, buf)?;
        let Some(ob) = self.outbound.remove_at(pos) else {
            return Ok(None);
        };
        self.clock = self.clock.max(now);
        if let Some(c) = self.conns.iter_mut().find(|c| c.id == ob.conn) {
            c.last_active = now;
        }
        if let Purpose::EndTransaction { seq } = ob.purpose {
            self.ends.retain_where(|e| e.seq != seq);
        }
        if let Purpose::Reply(ReplyBody::Direct(id)) = ob.purpose {
            self.directs.retain_where(|d| d.id != id);
        }
        if let Purpose::Send(id) = ob.purpose {
            let oneway = self.send_at(id).is_some_and(|s| s.mode == SendMode::Oneway);
            if oneway {
                self.inflight.complete(ob.opaque);
                let receipt = self.send_at(id).map(|s| Stored {
                    status: SendStatus::SendOk,
                    offset_msg_id: MsgId::new(),
                    broker: s.current.map_or(NO_NAME, |q| q.broker),
                    queue_id: s.current.map_or(-1, |q| q.queue_id),
                    queue_offset: -1,
                });
                if let Some(r) = receipt {
                    self.end_send(id, Ok(r));
                }
            }
        }
        Ok(Some(Transmit { conn: ob.conn, len }))
    }

    /// Drop the next frame [`poll_transmit`](Self::poll_transmit) would write, for an
    /// adapter that cannot write it (it needs more than the adapter's largest buffer, or
    /// failed to encode): its request ends as a transport failure (a send is retried
    /// elsewhere or fails), so the frames behind it are not held up.
    pub fn discard_transmit(&mut self, now: Instant) {
        let Some(ob) = self
            .next_outbound()
            .and_then(|pos| self.outbound.remove_at(pos))
        else {
            return;
        };
        match ob.purpose {
            Purpose::EndTransaction { seq } => self.ends.retain_where(|e| e.seq != seq),
            Purpose::Reply(ReplyBody::Direct(id)) => self.directs.retain_where(|d| d.id != id),
            _ => {}
        }
        if let Some((_, purpose)) = self.inflight.complete(ob.opaque) {
            self.request_failed(now, purpose);
        }
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
                self.encode_frame(
                    &enc,
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
                    let _ = hb.consumer_data_set.try_push(c.consumer_data(&self.topics));
                }
                let header = self.header(RequestCode::HEART_BEAT, ob.opaque);
                self.encode_with_body(&enc, buf, &header, &hb)
            }
            Purpose::Send(id) => {
                let op = self
                    .send_at(*id)
                    .ok_or(EncodeError::InvalidValue { field: "send" })?;
                let data = op.data.as_ref();
                let (props, body) = data.split_at(op.props_len.min(data.len()));
                let props = core::str::from_utf8(props).map_err(|_| EncodeError::InvalidValue {
                    field: "properties",
                })?;
                let queue = op.current.as_ref();
                let group = self
                    .producer_groups
                    .first()
                    .ok_or(EncodeError::InvalidValue { field: "group" })?;
                let topic = self
                    .topics
                    .get(usize::from(op.topic))
                    .ok_or(EncodeError::InvalidValue { field: "topic" })?;
                let req = SendMessageRequest {
                    producer_group: Text::new(group),
                    topic: Text::new(&topic.topic),
                    // Known clean at compile time: written without a scan.
                    default_topic: const { Text::key(DEFAULT_TOPIC) },
                    default_topic_queue_nums: DEFAULT_TOPIC_QUEUE_NUMS,
                    queue_id: queue.map_or(0, |q| q.queue_id),
                    sys_flag: op.sys_flag,
                    born_timestamp: op.born_timestamp,
                    flag: op.flag,
                    properties: Some(op.props_form.text(props)),
                    reconsume_times: Some(0),
                    unit_mode: Some(false),
                    max_reconsume_times: None,
                    batch: Some(op.batch),
                    broker_name: queue.map(|q| Text::new(name_at(&self.names, q.broker))),
                };
                let code = if op.batch {
                    RequestCode::SEND_BATCH_MESSAGE
                } else if op.reply {
                    RequestCode::SEND_REPLY_MESSAGE_V2
                } else {
                    RequestCode::SEND_MESSAGE_V2
                };
                let mut header = self.header(code, ob.opaque);
                if op.mode == SendMode::Oneway {
                    header = header.oneway();
                }
                // The hot path of a producer: speed builds encode an unsigned send's
                // header with its own encoder instead of the erased one (a dynamic call
                // per field: about 1,500 instructions of a message's 16,700).
                #[cfg(not(rmq_size_opt))]
                if self.credentials(&header).is_none() {
                    return enc.encode(buf, &header, &req.v2(), body);
                }
                self.encode_frame(&enc, buf, &header, &req.v2(), body)
            }
            Purpose::EndTransaction { seq } => {
                use crate::header::EndTransactionRequest;
                if never_holds(&self.ends) {
                    // As when `seq` is not found below.
                    return Err(EncodeError::InvalidValue {
                        field: "transaction",
                    });
                }
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
                self.encode_frame(&enc, buf, &header, &req, b"")
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
                self.encode_frame(
                    &enc,
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
            | Purpose::Lock { .. }
            | Purpose::Unlock { .. }
            | Purpose::SendBack { .. } => self.encode_consumer_request(&enc, ob, buf),
            Purpose::Reply(body) => self.encode_reply(&enc, ob, *body, buf),
            Purpose::Call(id) => self.encode_call(&enc, ob, *id, buf),
        }
    }

    /// Encode one frame; a request is signed when ACL credentials are configured
    /// (Java's `AclClientRPCHook` signs what the client sends, not its replies).
    fn encode_frame<F: EncodeFields>(
        &self,
        enc: &CommandEncoder,
        buf: &mut [u8],
        header: &Header<'_>,
        fields: &F,
        body: &[u8],
    ) -> Result<usize, EncodeError> {
        // One encoder (JSON, binary, signing) for every header type: code size.
        self.encode_erased(
            enc,
            buf,
            header,
            crate::ext::ErasedFields::new(fields),
            body,
        )
    }

    #[inline(never)]
    fn encode_erased(
        &self,
        enc: &CommandEncoder,
        buf: &mut [u8],
        header: &Header<'_>,
        fields: crate::ext::ErasedFields<'_>,
        body: &[u8],
    ) -> Result<usize, EncodeError> {
        match self.credentials(header) {
            Some(creds) => {
                let signed = creds.sign(&fields, body)?;
                enc.encode(buf, header, &crate::ext::ErasedFields::new(&signed), body)
            }
            None => enc.encode(buf, header, &fields, body),
        }
    }

    /// The credentials that sign `header`'s frame, if any.
    #[cfg(feature = "acl")]
    fn credentials(&self, header: &Header<'_>) -> Option<crate::acl::SessionCredentials<'_>> {
        self.config
            .credentials
            .as_ref()
            .filter(|_| !header.is_response())
            .map(Credentials::session)
    }

    /// None without the `acl` feature: the signing code then compiles away.
    #[cfg(not(feature = "acl"))]
    fn credentials(&self, _header: &Header<'_>) -> Option<crate::acl::SessionCredentials<'_>> {
        None
    }

    /// A frame with a JSON body written straight into `buf` after the header (no
    /// intermediate copy): the body is measured first (and, for a signed request,
    /// streamed through the HMAC), then both are written.
    fn encode_with_body(
        &self,
        enc: &CommandEncoder,
        buf: &mut [u8],
        header: &Header<'_>,
        body: &impl EncodeBody,
    ) -> Result<usize, EncodeError> {
        // One framing (measure, sign, write) for every body type: code size.
        self.encode_erased_body(enc, buf, header, crate::body::ErasedBody::new(body))
    }

    #[inline(never)]
    fn encode_erased_body(
        &self,
        enc: &CommandEncoder,
        buf: &mut [u8],
        header: &Header<'_>,
        body: crate::body::ErasedBody<'_>,
    ) -> Result<usize, EncodeError> {
        let body = &body;
        match self.credentials(header) {
            Some(creds) => {
                let sig = creds
                    .signature_of_body::<{ crate::acl::DEFAULT_MAX_SIGNED_FIELDS }, _, _>(
                        &EmptyFields,
                        body,
                    )?;
                let signed = creds.signed_with(&EmptyFields, sig);
                let fields = crate::ext::ErasedFields::new(&signed);
                self.write_with_body(enc, buf, header, &fields, body)
            }
            None => {
                let fields = crate::ext::ErasedFields::new(&EmptyFields);
                self.write_with_body(enc, buf, header, &fields, body)
            }
        }
    }

    fn write_with_body<F: EncodeFields + ?Sized>(
        &self,
        enc: &CommandEncoder,
        buf: &mut [u8],
        header: &Header<'_>,
        fields: &F,
        body: &impl EncodeBody,
    ) -> Result<usize, EncodeError> {
        let body_len = body.encoded_len();
        let header_len = enc.header_len(header, fields)?;
        let prefix = crate::frame::prefix(self.config.serialize_type, header_len, body_len)
            .ok_or(EncodeError::ValueOutOfRange { field: "length" })?;
        let mut out = SliceOut::new(buf);
        out.put(&prefix);
        enc.write_header(&mut out, header, fields)?;
        body.encode(&mut out);
        out.finish()
    }

    /// The next event for the adapter.
    ///
    /// Events are derived from state, never queued, so none is lost however long the
    /// adapter waits: connections to open, connections to close, then ended sends in
    /// the order they ended.
    pub fn poll_event(&mut self) -> Option<Event> {
        let clock = self.clock;
        if let Some(c) = self
            .conns
            .iter_mut()
            .find(|c| !c.announced && c.state != ConnState::Closed && c.not_before <= clock)
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
            .filter(|_| self.shutdown.is_none())
            .and_then(ConsumerState::announce_delivery)
        {
            return Some(Event::Messages { id });
        }
        if let Some(d) = self.directs.iter_mut().find(|d| !d.announced) {
            d.announced = true;
            return Some(Event::ConsumeDirectly { id: d.id });
        }
        if let Some(c) = self.checks.iter_mut().find(|c| !c.announced) {
            c.announced = true;
            return Some(Event::CheckTransaction { id: c.id });
        }
        if let Some(c) = self.consumer.as_mut().filter(|c| c.persist_pending) {
            c.persist_pending = false;
            return Some(Event::PersistOffsets);
        }
        if let Some(e) = self.call_event() {
            return Some(e);
        }
        loop {
            if let Some(e) = self.request_event() {
                return Some(e);
            }
            // The oldest ended send, taken off the ended list; its slot becomes free.
            let slot = self.ended_head;
            let Some(op) = self.sends.get_mut(slot as usize) else {
                return self.shutdown_event();
            };
            self.ended_head = op.next;
            if self.ended_head == NO_SLOT {
                self.ended_tail = NO_SLOT;
            }
            op.phase = SendPhase::Free;
            op.next = self.free_head;
            self.free_head = slot;
            // The buffer goes now, not when the slot is reused.
            let _ = core::mem::take(&mut op.data);
            let (id, request) = (op.id, op.request);
            let msg_id = core::mem::take(&mut op.msg_id);
            let Some(outcome) = op.result.take() else {
                continue;
            };
            // A request's send is reported through the request (which may have
            // ended already: no reply in time).
            if request {
                let error = outcome.err().map(|f| self.send_error(f));
                self.request_send_ended(id, error);
                continue;
            }
            return Some(match outcome {
                Ok(stored) => Event::SendOk {
                    id,
                    receipt: SendReceipt {
                        status: stored.status,
                        msg_id,
                        offset_msg_id: stored.offset_msg_id,
                        broker_name: self.name_of(stored.broker),
                        queue_id: stored.queue_id,
                        queue_offset: stored.queue_offset,
                    },
                },
                Err(f) => Event::SendFailed {
                    id,
                    error: self.send_error(f),
                },
            });
        }
    }

    /// The interned name at `i`, owned ("" for none).
    fn name_of(&self, i: u16) -> Name {
        self.names.get(usize::from(i)).cloned().unwrap_or_default()
    }

    /// A send's failure as the application sees it.
    fn send_error(&self, f: Failure) -> SendError {
        match f {
            Failure::NoRoute => SendError::NoRoute,
            Failure::Timeout => SendError::Timeout,
            Failure::Broker {
                code,
                remark,
                broker,
            } => SendError::Broker {
                code,
                remark,
                broker_name: self.name_of(broker),
            },
            Failure::Transport => SendError::Transport,
            Failure::Closed => SendError::Closed,
        }
    }

    // ---------------------------------------------------------------- time

    /// When [`Client::handle_timeout`] must next be called.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let mut t = if self.shutdown.is_some() {
            Instant::from_millis(u64::MAX) // no periodic work while stopping
        } else {
            self.next_heartbeat.min(self.next_route_refresh)
        };
        if let Some(at) = self
            .conns
            .iter()
            .filter(|c| !c.announced && c.state == ConnState::Connecting)
            .map(|c| c.not_before)
            .min()
        {
            t = t.min(at);
        }
        if let Some(idle) = self
            .conns
            .iter()
            .filter(|c| c.state == ConnState::Open)
            .map(|c| c.last_active + CONN_IDLE_TIMEOUT)
            .min()
        {
            t = t.min(idle);
        }
        if let Some(d) = self.inflight.next_deadline() {
            t = t.min(d);
        }
        if let Some(c) = &self.consumer {
            if self.shutdown.is_none() {
                t = t.min(c.next_timer());
            }
        }
        if let Some(sd) = self.shutdown.as_ref().filter(|sd| !sd.finished()) {
            t = t.min(sd.until);
        }
        // Sends with an attempt in flight are in the in-flight table, with their
        // deadline; the others are under this bound.
        t = t.min(self.unplaced_deadline);
        if let Some(d) = self.next_request_deadline() {
            t = t.min(d);
        }
        if self.consumer.is_some() && self.shutdown.is_none() {
            if let Some(at) = self
                .topics
                .iter()
                .filter_map(|t| t.route_retry)
                .map(|r| r.0)
                .min()
            {
                t = t.min(at);
            }
        }
        Some(t)
    }

    /// Time passed: expire requests and sends, run periodic heartbeats and route
    /// refreshes.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.clock = self.clock.max(now);
        self.close_idle(now);
        while let Some((_, conn, purpose)) = self.inflight.poll_expired(now) {
            self.outbound
                .retain_where(|o| !(o.conn == conn && matches!(&o.purpose, p if *p == purpose)));
            // Nothing received on it for a whole request timeout: half-open or dead.
            // Replace it (Java closes a channel whose sync call timed out); its other
            // requests end now as lost, the next request connects anew. A busy
            // connection that answers other requests is kept.
            // (Only a connection the adapter was told to open: one still deferred by
            // the connect back-off is not dead, it has not been tried.)
            let silent = self.conns.iter().any(|c| {
                c.id == conn
                    && c.announced
                    && c.state != ConnState::Closed
                    && c.last_rx + self.config.request_timeout <= now
            });
            match purpose {
                Purpose::Call(id) => self.end_call(id, Err(CallFailure::Timeout)),
                // The send's own deadline: nothing is left to retry with.
                Purpose::Send(id) => self.end_send(id, Err(Failure::Timeout)),
                _ => {}
            }
            if silent {
                self.close_dead(now, conn);
            }
            if matches!(purpose, Purpose::Call(_) | Purpose::Send(_)) {
                continue;
            }
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
        self.resume_waiting_sends(now);
        // Sends whose total deadline passed while waiting for a route or an entry.
        if self.unplaced_deadline <= now {
            self.for_each_send(
                |s| s.deadline <= now && matches!(s.phase, SendPhase::Route | SendPhase::Waiting),
                |c, id| {
                    let err = c
                        .send_at(id)
                        .and_then(SendOp::last_failure)
                        .unwrap_or(Failure::Timeout);
                    c.end_send(id, Err(err));
                },
            );
            self.unplaced_deadline = self
                .sends
                .iter()
                .filter(|s| matches!(s.phase, SendPhase::Route | SendPhase::Waiting))
                .map(|s| s.deadline)
                .min()
                .unwrap_or(Instant::from_millis(u64::MAX));
        }
        self.expire_requests(now);
        // Stopping: no more periodic work (Java cancels its timers first).
        if self.shutdown.is_some() {
            self.shutdown_tick(now);
            return;
        }
        // Subscribed topics still without a route, on their back-off.
        if self.consumer.is_some() {
            for i in 0..self.topics.len() {
                let Some(t) = self.topics.get_mut(i) else {
                    continue;
                };
                if t.route_retry.is_none_or(|(at, _)| at > now) {
                    continue;
                }
                // Parked until the answer (a failure schedules the next try); a query
                // already in flight counts as this try.
                let backoff = t.route_retry.map_or(Millis(1_000), |(_, b)| b);
                t.route_retry = Some((Instant::from_millis(u64::MAX), backoff));
                if t.querying {
                    continue;
                }
                self.query_route(now, i, false);
            }
        }
        if now >= self.next_route_refresh {
            self.next_route_refresh = now + self.config.route_refresh_interval;
            // By index: topics are only ever appended, and every one is refreshed.
            for i in 0..self.topics.len() {
                if self.topics.get(i).is_none_or(|t| t.querying) {
                    continue;
                }
                self.query_route(now, i, false);
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

fn name(s: &str) -> Result<Name, CallError> {
    Name::try_from(s).map_err(|_| CallError::Full("name length"))
}

fn text_to<const N: usize>(t: &Text<'_>) -> heapless::String<N> {
    let mut s = heapless::String::new();
    // Unescaped text that fits (message ids, regions: every send response) in one copy.
    if let Some(plain) = t.as_str() {
        if s.push_str(plain).is_ok() {
            return s;
        }
    }
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

#[cfg(test)]
mod out_queue_tests {
    extern crate std;
    use super::*;
    use crate::collections::Fixed;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn ob(opaque: i32) -> Outbound {
        Outbound {
            opaque,
            ..Outbound::TAKEN
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push,
        Take(usize),
        Drop(i32),
    }

    proptest! {
        /// Whatever mix of pushes, takes (mostly from the front) and removals, the queue
        /// holds what a plain list would, in the same order, within the same capacity.
        #[test]
        fn it_behaves_as_a_plain_list(ops in proptest::collection::vec(
            prop_oneof![
                4 => Just(Op::Push),
                3 => Just(Op::Take(0)),
                1 => (0usize..8).prop_map(Op::Take),
                1 => (0i32..64).prop_map(Op::Drop),
            ],
            0..400,
        )) {
            let mut q = OutQueue::<Fixed<48>>::new();
            let mut model: Vec<i32> = Vec::new();
            let mut next = 0;
            for op in ops {
                match op {
                    Op::Push => {
                        let pushed = q.try_push(ob(next)).is_ok();
                        prop_assert_eq!(pushed, model.len() < 48);
                        if pushed {
                            model.push(next);
                        }
                        next += 1;
                    }
                    Op::Take(pos) => {
                        let got = q.remove_at(pos).map(|o| o.opaque);
                        let want = (pos < model.len()).then(|| model.remove(pos));
                        prop_assert_eq!(got, want);
                    }
                    Op::Drop(m) => {
                        q.retain_where(|o| o.opaque % 64 != m);
                        model.retain(|o| o % 64 != m);
                    }
                }
                let held: Vec<i32> = q.iter().map(|o| o.opaque).collect();
                prop_assert_eq!(&held, &model);
                prop_assert_eq!(q.is_empty(), model.is_empty());
                prop_assert_eq!(q.get(0).map(|o| o.opaque), model.first().copied());
            }
        }
    }
}

#[cfg(test)]
mod text_to_tests {
    use super::*;

    #[test]
    fn plain_and_escaped_texts_copy_alike_and_truncate_at_a_char() {
        let plain: heapless::String<8> = text_to(&Text::new("abc"));
        assert_eq!(plain.as_str(), "abc");
        // Longer than the capacity: as many whole characters as fit, either way.
        let long: heapless::String<4> = text_to(&Text::new("abcdef"));
        assert_eq!(long.as_str(), "abcd");
        let wide: heapless::String<4> = text_to(&Text::new("ab\u{e9}\u{e9}"));
        assert_eq!(wide.as_str(), "ab\u{e9}");
        let escaped: heapless::String<8> = text_to(&Text::json("a\\u0041\\\"b", true));
        assert_eq!(escaped.as_str(), "aA\"b");
        let escaped_long: heapless::String<2> = text_to(&Text::json("\\u0041bc", true));
        assert_eq!(escaped_long.as_str(), "Ab");
    }
}
