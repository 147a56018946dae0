//! A deterministic, sans-IO simulation of a RocketMQ NameServer and brokers, for
//! driving a client engine in tests.
//!
//! The simulation speaks real frames through `rocketmq-proto`'s codec: the client's
//! bytes go in with [`Sim::send`], are split into frames, decoded and served as a Java
//! server would (wire.md §4–§7, §11); the responses come out of [`Sim::poll_recv`] as
//! whole encoded frames (JSON headers, language `JAVA`, by default). It never touches a
//! socket or a clock: every call that can move time takes `now` (milliseconds, any
//! origin, never decreasing), and [`Sim::poll_timeout`] / [`Sim::handle_timeout`] drive
//! long-poll expiry, delayed deliveries, scheduled (delay-level) messages and channel
//! expiry. Everything is ordered (`BTreeMap`s, counters), so a run is reproducible.
//!
//! # Model
//!
//! * One NameServer address and broker groups ([`BrokerSpec`]): a broker name, a master
//!   (id 0) and optional slaves, each with its own address. The group's topics, message
//!   store, consumer offsets and queue locks are shared by its members (replication is
//!   instant); client registrations (heartbeats) belong to each address.
//! * The NameServer's routes are computed from the brokers' current topic tables
//!   (auto-created topics show up at once) and its registration set, which a test edits
//!   with [`Sim::ns_unregister`] / [`Sim::ns_register`]. Taking a broker down does not
//!   unregister it: the route keeps pointing at a dead address until the test says so,
//!   which is exactly the window a client must survive.
//! * Served commands — NameServer: GET_ROUTEINFO_BY_TOPIC, GET_BROKER_CLUSTER_INFO,
//!   GET_ALL_TOPIC_LIST_FROM_NAMESERVER. Broker: SEND_MESSAGE(_V2), SEND_BATCH_MESSAGE,
//!   PULL_MESSAGE, LITE_PULL_MESSAGE, QUERY/UPDATE_CONSUMER_OFFSET, GET_MAX/MIN_OFFSET,
//!   SEARCH_OFFSET_BY_TIMESTAMP, GET_EARLIEST_MSG_STORETIME, VIEW_MESSAGE_BY_ID,
//!   HEART_BEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST_BY_GROUP, LOCK/UNLOCK_BATCH_MQ,
//!   CONSUMER_SEND_MSG_BACK, END_TRANSACTION. Anything else is answered
//!   REQUEST_CODE_NOT_SUPPORTED. Oneway requests are never answered.
//! * Server → client requests: NOTIFY_CONSUMER_IDS_CHANGED is sent by the broker on its
//!   own when a consumer group's membership or topic set changes (to every member, as
//!   Java's `DefaultConsumerIdsChangeListener` does, the newcomer included). Tests
//!   trigger the others: [`Sim::check_transaction_state`],
//!   [`Sim::reset_consumer_client_offset`], [`Sim::get_consumer_running_info`], or any
//!   request with [`Sim::request_client`]; the client's answers are kept
//!   ([`Sim::client_reply`]).
//! * Message filtering on pull, as Java's `ExpressionMessageFilter`: a TAG subscription by
//!   tag hash code, a SQL92 one by evaluating the selector over each stored message's
//!   properties ([`sql92`]: RocketMQ's grammar, Java's string/number and NULL semantics;
//!   the broker is taken to run with `enablePropertyFilter=true`). The expression is the
//!   pull's own (`subscription` / `expressionType`, with the SUBSCRIPTION sys flag) or
//!   else the one the group's heartbeat registered. Messages that do not match are
//!   skipped and the next offset still moves past them (NO_MATCHED_MESSAGE →
//!   PULL_RETRY_IMMEDIATELY when none in the scanned range match). A selector that does
//!   not compile fails the pull with SUBSCRIPTION_PARSE_FAILED when sent with it; a
//!   heartbeat carrying one is still answered SUCCESS (Java only logs it), and a later
//!   pull relying on it gets FILTER_DATA_NOT_EXIST.
//!
//! Not simulated: POP, QUERY_MESSAGE, CHECK_CLIENT_CONFIG, the bloom-filter bit maps of
//! SQL92 filtering (evaluation is always against the message), 5.x timer properties,
//! automatic transaction checks, the 120 s idle-connection close, ACL.
//!
//! # Faults
//!
//! [`Sim::take_down`] / [`Sim::bring_up`] (connections closed, connects refused, store
//! kept, in-memory client table and locks lost), [`Sim::black_hole_addr`] /
//! [`Sim::black_hole_conn`] (bytes accepted, never processed nor answered),
//! [`Sim::delay_responses`] / [`Sim::delay_code`], [`Sim::reorder_next`] (the next
//! `n` frames to an address come out in reverse order), [`Sim::fail_next`] (answer a
//! request code with an error code `n` times), [`Sim::close_conn`],
//! [`Sim::ns_unregister`] / [`Sim::ns_register`], [`Sim::truncate_queue`] (expired
//! commit-log files: OFFSET_MOVED below the min offset) and
//! [`Sim::set_suggest_broker_id`].
//!
//! # Example
//!
//! ```
//! use rocketmq_proto::codes::{RequestCode, ResponseCode, SerializeType};
//! use rocketmq_proto::command::{Command, CommandEncoder, Header};
//! use rocketmq_proto::frame::{Decoded, FrameDecoder};
//! use rocketmq_proto::header::GetRouteInfoRequest;
//! use rocketmq_tests::sim::{BrokerSpec, Sim, SimConfig, TopicSpec};
//!
//! let mut sim = Sim::new(
//!     SimConfig::new("10.0.0.1:9876")
//!         .broker(BrokerSpec::new("broker-a", "10.0.0.2:10911").topic(TopicSpec::new("T", 4))),
//! );
//! let ns = sim.connect(0, "10.0.0.1:9876").unwrap();
//!
//! let mut frame = Vec::new();
//! let req = GetRouteInfoRequest { topic: "T".into(), accept_standard_json_only: None };
//! CommandEncoder::new(SerializeType::Json)
//!     .encode_to(&mut frame, &Header::request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 1), &req, b"")
//!     .unwrap();
//! sim.send(0, ns, &frame).unwrap();
//!
//! let reply = sim.poll_recv(ns).expect("answered at once");
//! let Decoded::Frame { frame, .. } = FrameDecoder::new().decode(&reply).unwrap() else { unreachable!() };
//! let cmd = Command::decode(frame).unwrap();
//! assert_eq!(cmd.header.response_code(), ResponseCode::SUCCESS);
//! assert_eq!(cmd.header.opaque, 1);
//! assert!(std::str::from_utf8(cmd.body).unwrap().contains("10.0.0.2:10911"));
//! assert_eq!(sim.request_count("10.0.0.1:9876", RequestCode::GET_ROUTEINFO_BY_TOPIC), 1);
//! ```

mod broker;
mod codec;
mod namesrv;
pub mod sql92;
mod store;

pub use store::StoredMessage;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use rocketmq_proto::body::{PERM_INHERIT, PERM_READ, PERM_WRITE};
use rocketmq_proto::codes::{version, LanguageCode, RequestCode, ResponseCode, SerializeType};
use rocketmq_proto::command::{Command, CommandEncoder, Header, FLAG_ONEWAY, FLAG_RESPONSE};
use rocketmq_proto::ext::{EncodeFields, NoFields};
use rocketmq_proto::frame::{Decoded, FrameDecoder};
use rocketmq_proto::text::Text;

use store::Store;

/// The auto-create template topic.
pub const AUTO_CREATE_TOPIC: &str = "TBW102";
/// Java `rocketmq.broker.rebalance.lockMaxLiveTime`.
pub const LOCK_MAX_LIVE_MS: u64 = 60_000;
/// Java `channelExpiredTimeout`: a client channel without heartbeat for this long is
/// closed.
pub const CHANNEL_EXPIRED_TIMEOUT_MS: u64 = 120_000;
/// Java's default `maxReconsumeTimes` / group `retryMaxTimes`.
pub const DEFAULT_MAX_RECONSUME_TIMES: i32 = 16;

// ---------------------------------------------------------------------------------------
// Configuration

/// A topic as configured on a broker group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Topic name.
    pub name: String,
    /// `readQueueNums`.
    pub read_queue_nums: i32,
    /// `writeQueueNums`.
    pub write_queue_nums: i32,
    /// Permission bits (`PERM_READ | PERM_WRITE` = 6 by default).
    pub perm: i32,
    /// `topicSysFlag`.
    pub topic_sys_flag: i32,
}

impl TopicSpec {
    /// A read/write topic with `queues` read and write queues.
    pub fn new(name: &str, queues: i32) -> Self {
        TopicSpec {
            name: name.to_owned(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: PERM_READ | PERM_WRITE,
            topic_sys_flag: 0,
        }
    }

    /// Different read and write queue counts.
    pub fn queues(mut self, read: i32, write: i32) -> Self {
        self.read_queue_nums = read;
        self.write_queue_nums = write;
        self
    }

    /// Permission bits.
    pub fn perm(mut self, perm: i32) -> Self {
        self.perm = perm;
        self
    }
}

/// One broker group: a name, a master and optional slaves, and its topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerSpec {
    /// `brokerName`.
    pub name: String,
    /// Cluster name (`DefaultCluster`).
    pub cluster: String,
    /// Broker id → address (`ip:port`); id 0 is the master.
    pub addrs: BTreeMap<i64, String>,
    /// Configured topics.
    pub topics: Vec<TopicSpec>,
    /// `autoCreateTopicEnable` (Java default true): the group has `TBW102` (8 queues,
    /// perm 7) and creates unknown topics a producer sends with `defaultTopic=TBW102`.
    pub auto_create_topic_enable: bool,
    /// `notifyConsumerIdsChangedEnable` (default true).
    pub notify_consumer_ids_changed_enable: bool,
    /// Close client channels silent for this long (`None`: never).
    pub channel_expired_timeout_ms: Option<u64>,
    /// Brokers 4.8.0 … 5.3.3 append the batch-level properties (header `i`) to every
    /// message of a batch (messages.md §3.3); default true.
    pub append_batch_properties: bool,
}

impl BrokerSpec {
    /// A group with a master at `master_addr`, cluster `DefaultCluster`, auto-create on.
    pub fn new(name: &str, master_addr: &str) -> Self {
        BrokerSpec {
            name: name.to_owned(),
            cluster: "DefaultCluster".to_owned(),
            addrs: BTreeMap::from([(0, master_addr.to_owned())]),
            topics: Vec::new(),
            auto_create_topic_enable: true,
            notify_consumer_ids_changed_enable: true,
            channel_expired_timeout_ms: Some(CHANNEL_EXPIRED_TIMEOUT_MS),
            append_batch_properties: true,
        }
    }

    /// Add a slave.
    pub fn slave(mut self, id: i64, addr: &str) -> Self {
        self.addrs.insert(id, addr.to_owned());
        self
    }

    /// Add a topic.
    pub fn topic(mut self, t: TopicSpec) -> Self {
        self.topics.push(t);
        self
    }

    /// Set the cluster name.
    pub fn cluster(mut self, cluster: &str) -> Self {
        self.cluster = cluster.to_owned();
        self
    }

    /// Set `autoCreateTopicEnable`.
    pub fn auto_create(mut self, on: bool) -> Self {
        self.auto_create_topic_enable = on;
        self
    }

    fn master_addr(&self) -> &str {
        self.addrs.get(&0).map_or("", String::as_str)
    }
}

/// The whole simulated deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// The NameServer's address.
    pub namesrv_addr: String,
    /// Broker groups.
    pub brokers: Vec<BrokerSpec>,
    /// `version` the servers put in their headers (default V5_3_3).
    pub server_version: i32,
    /// `language` of server headers (default JAVA).
    pub server_language: LanguageCode,
    /// Header serialization of server frames; `None` = the request's (4.9.4 … 4.9.8
    /// behaviour). Default JSON (wire.md §2.4).
    pub response_serialize_type: Option<SerializeType>,
}

impl SimConfig {
    /// A NameServer at `namesrv_addr` and no brokers yet.
    pub fn new(namesrv_addr: &str) -> Self {
        SimConfig {
            namesrv_addr: namesrv_addr.to_owned(),
            brokers: Vec::new(),
            server_version: version::V5_3_3,
            server_language: LanguageCode::JAVA,
            response_serialize_type: Some(SerializeType::Json),
        }
    }

    /// Add a broker group.
    pub fn broker(mut self, b: BrokerSpec) -> Self {
        self.brokers.push(b);
        self
    }
}

// ---------------------------------------------------------------------------------------
// Public records

/// A connection from the client to one server address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// Why [`Sim::connect`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// No server has this address.
    UnknownAddress,
    /// The server is down.
    Refused,
}

/// Why [`Sim::send`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnError {
    /// No such connection was ever opened.
    Unknown,
    /// The connection is closed (by either side).
    Closed,
}

/// A request a server received (recorded before any fault or handler ran; black-holed
/// bytes are never decoded, so never recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// When it was processed.
    pub at: u64,
    /// The connection.
    pub conn: ConnId,
    /// The server address.
    pub addr: String,
    /// Request code.
    pub code: RequestCode,
    /// `opaque`.
    pub opaque: i32,
    /// Whether it was oneway.
    pub oneway: bool,
    /// Header serialization.
    pub serialize_type: SerializeType,
    /// `extFields`.
    pub fields: BTreeMap<String, String>,
    /// Body.
    pub body: Vec<u8>,
}

/// A client's response to a server-initiated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientReply {
    /// When it arrived.
    pub at: u64,
    /// Response code.
    pub code: ResponseCode,
    /// Remark.
    pub remark: Option<String>,
    /// `extFields`.
    pub fields: BTreeMap<String, String>,
    /// Body.
    pub body: Vec<u8>,
}

/// A consumer group's subscription to one topic, as registered by heartbeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// `subString`.
    pub sub_string: String,
    /// `expressionType` (`TAG` / `SQL92`).
    pub expression_type: String,
    /// `tagsSet`.
    pub tags: Vec<String>,
    /// `codeSet`: what the broker filters by.
    pub codes: Vec<i32>,
    /// `subVersion`.
    pub sub_version: i64,
}

/// A queue lock held on a broker group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    /// Consumer group.
    pub group: String,
    /// Topic.
    pub topic: String,
    /// Broker name of the queue.
    pub broker_name: String,
    /// Queue id.
    pub queue_id: i32,
    /// Owner.
    pub client_id: String,
    /// Last (re)lock time.
    pub last_update: u64,
}

// ---------------------------------------------------------------------------------------
// Internal state

#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    NameServer,
    Broker { name: String, id: i64 },
}

#[derive(Debug, Clone)]
struct Channel {
    client_id: String,
    last_update: u64,
    fingerprint: i32,
}

#[derive(Debug, Clone, Default)]
struct ConsumerGroup {
    channels: BTreeMap<ConnId, Channel>,
    message_model: String,
    subscriptions: BTreeMap<String, Subscription>,
}

#[derive(Debug, Clone, Default)]
struct Clients {
    producers: BTreeMap<String, BTreeMap<ConnId, Channel>>,
    consumers: BTreeMap<String, ConsumerGroup>,
}

#[derive(Debug, Clone)]
struct Server {
    role: Role,
    up: bool,
    black_hole: bool,
    clients: Clients,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TopicConfig {
    read: i32,
    write: i32,
    perm: i32,
    sys_flag: i32,
}

/// A broker group: what master and slaves share.
#[derive(Debug, Clone)]
struct Group {
    spec: BrokerSpec,
    store_host: SocketAddr,
    topics: BTreeMap<String, TopicConfig>,
    store: Store,
    /// (group, topic, queue) → committed offset
    offsets: BTreeMap<(String, String, i32), i64>,
    /// (group, topic, broker name, queue) → (client id, last update)
    locks: BTreeMap<(String, String, String, i32), (String, u64)>,
    /// commit-log offsets of half messages that were committed or rolled back
    resolved_half: BTreeSet<i64>,
    next_queue: u64,
    suggest_broker_id: i64,
}

#[derive(Debug, Clone)]
struct Conn {
    addr: String,
    open: bool,
    black_hole: bool,
    inbound: Vec<u8>,
    /// (deliver at, sequence) → frame
    outbound: BTreeMap<(u64, u64), Vec<u8>>,
}

/// A parked long-poll pull.
#[derive(Debug, Clone)]
struct Hold {
    req: Req,
    frame: Vec<u8>,
    deadline: u64,
    broker: String,
    topic: String,
    queue_id: i32,
}

/// What the dispatcher knows about a request.
#[derive(Debug, Clone)]
struct Req {
    conn: ConnId,
    addr: String,
    code: i32,
    opaque: i32,
    oneway: bool,
    version: i32,
    serialize_type: SerializeType,
}

/// A frame held back by a reorder fault: connection, delay, bytes.
type HeldFrame = (ConnId, u64, Vec<u8>);

#[derive(Debug, Clone, Default)]
struct Faults {
    delay_all: BTreeMap<String, u64>,
    delay_code: BTreeMap<(String, i32), u64>,
    /// address → (frames to collect, collected (conn, delay, frame))
    reorder: BTreeMap<String, (usize, Vec<HeldFrame>)>,
    /// (address, request code) → (response code, remaining)
    fail: BTreeMap<(String, i32), (ResponseCode, u32)>,
}

/// The simulation. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Sim {
    cfg: SimConfig,
    now: u64,
    seq: u64,
    next_conn: u64,
    next_opaque: i32,
    servers: BTreeMap<String, Server>,
    groups: BTreeMap<String, Group>,
    ns_registered: BTreeSet<String>,
    conns: BTreeMap<ConnId, Conn>,
    closed: Vec<ConnId>,
    holds: BTreeMap<u64, Hold>,
    /// (due, seq) → (broker name, commit-log offset of the scheduled copy)
    schedule: BTreeMap<(u64, u64), (String, i64)>,
    requests: Vec<RequestRecord>,
    replies: BTreeMap<(ConnId, i32), ClientReply>,
    faults: Faults,
    uniq_counter: u32,
}

fn parse_addr(addr: &str) -> SocketAddr {
    addr.parse()
        .unwrap_or_else(|_| panic!("sim addresses must be ip:port, got {addr:?}"))
}

fn topic_config(t: &TopicSpec) -> TopicConfig {
    TopicConfig {
        read: t.read_queue_nums,
        write: t.write_queue_nums,
        perm: t.perm,
        sys_flag: t.topic_sys_flag,
    }
}

/// Decode a whole frame held in `bytes`.
fn decode_frame(bytes: &[u8]) -> Option<Command<'_>> {
    match FrameDecoder::new().decode(bytes) {
        Ok(Decoded::Frame { frame, .. }) => Command::decode(frame).ok(),
        _ => None,
    }
}

impl Sim {
    /// Build the deployment; every broker address starts up and registered with the
    /// NameServer. Panics on a malformed configuration (addresses must be `ip:port`).
    pub fn new(cfg: SimConfig) -> Self {
        let mut servers = BTreeMap::new();
        servers.insert(
            cfg.namesrv_addr.clone(),
            Server {
                role: Role::NameServer,
                up: true,
                black_hole: false,
                clients: Clients::default(),
            },
        );
        let mut groups = BTreeMap::new();
        let mut ns_registered = BTreeSet::new();
        for b in &cfg.brokers {
            assert!(
                b.addrs.contains_key(&0),
                "broker {} needs a master (id 0)",
                b.name
            );
            for (id, addr) in &b.addrs {
                parse_addr(addr);
                let old = servers.insert(
                    addr.clone(),
                    Server {
                        role: Role::Broker {
                            name: b.name.clone(),
                            id: *id,
                        },
                        up: true,
                        black_hole: false,
                        clients: Clients::default(),
                    },
                );
                assert!(old.is_none(), "address {addr} used twice");
                ns_registered.insert(addr.clone());
            }
            let mut topics: BTreeMap<String, TopicConfig> = BTreeMap::new();
            if b.auto_create_topic_enable {
                topics.insert(
                    AUTO_CREATE_TOPIC.to_owned(),
                    TopicConfig {
                        read: 8,
                        write: 8,
                        perm: PERM_INHERIT | PERM_READ | PERM_WRITE,
                        sys_flag: 0,
                    },
                );
            }
            for t in &b.topics {
                topics.insert(t.name.clone(), topic_config(t));
            }
            groups.insert(
                b.name.clone(),
                Group {
                    store_host: parse_addr(b.master_addr()),
                    spec: b.clone(),
                    topics,
                    store: Store::default(),
                    offsets: BTreeMap::new(),
                    locks: BTreeMap::new(),
                    resolved_half: BTreeSet::new(),
                    next_queue: 0,
                    suggest_broker_id: 0,
                },
            );
        }
        Sim {
            cfg,
            now: 0,
            seq: 0,
            next_conn: 1,
            next_opaque: 1,
            servers,
            groups,
            ns_registered,
            conns: BTreeMap::new(),
            closed: Vec::new(),
            holds: BTreeMap::new(),
            schedule: BTreeMap::new(),
            requests: Vec::new(),
            replies: BTreeMap::new(),
            faults: Faults::default(),
            uniq_counter: 0,
        }
    }

    /// The latest time the simulation has seen.
    pub fn now(&self) -> u64 {
        self.now
    }

    fn advance(&mut self, now: u64) {
        self.now = self.now.max(now);
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    // -----------------------------------------------------------------------------------
    // Connections

    /// Open a connection to `addr`.
    pub fn connect(&mut self, now: u64, addr: &str) -> Result<ConnId, ConnectError> {
        self.advance(now);
        let server = self.servers.get(addr).ok_or(ConnectError::UnknownAddress)?;
        if !server.up {
            return Err(ConnectError::Refused);
        }
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        self.conns.insert(
            id,
            Conn {
                addr: addr.to_owned(),
                open: true,
                black_hole: false,
                inbound: Vec::new(),
                outbound: BTreeMap::new(),
            },
        );
        Ok(id)
    }

    /// Bytes from the client. They may hold partial frames (kept until completed) or
    /// several frames (all served, in order). A frame that cannot be decoded makes the
    /// server close the connection, as Netty's decoder does.
    pub fn send(&mut self, now: u64, conn: ConnId, bytes: &[u8]) -> Result<(), ConnError> {
        self.advance(now);
        let c = self.conns.get_mut(&conn).ok_or(ConnError::Unknown)?;
        if !c.open {
            return Err(ConnError::Closed);
        }
        let black_hole = c.black_hole || self.servers.get(&c.addr).is_some_and(|s| s.black_hole);
        if black_hole {
            return Ok(());
        }
        c.inbound.extend_from_slice(bytes);
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return Ok(());
            };
            if !c.open {
                return Ok(());
            }
            let consumed = match FrameDecoder::new().decode(&c.inbound) {
                Ok(Decoded::Frame { consumed, .. }) => consumed,
                Ok(Decoded::Incomplete { .. }) => return Ok(()),
                Err(_) => {
                    self.close_conn(conn);
                    return Ok(());
                }
            };
            let frame: Vec<u8> = c.inbound.drain(..consumed).collect();
            let addr = c.addr.clone();
            self.process_frame(conn, &addr, frame);
        }
    }

    /// The next frame for the client on `conn` whose delivery time has come.
    pub fn poll_recv(&mut self, conn: ConnId) -> Option<Vec<u8>> {
        let c = self.conns.get_mut(&conn)?;
        let (&key, _) = c.outbound.first_key_value()?;
        if key.0 > self.now {
            return None;
        }
        c.outbound.remove(&key)
    }

    /// A connection the server side closed (each reported once).
    pub fn poll_closed(&mut self) -> Option<ConnId> {
        if self.closed.is_empty() {
            None
        } else {
            Some(self.closed.remove(0))
        }
    }

    /// The client closed `conn`: its registrations and parked pulls go, and the other
    /// members of its consumer groups are notified.
    pub fn disconnect(&mut self, conn: ConnId) {
        self.drop_conn(conn, true);
    }

    /// The server closes `conn` (reported by [`poll_closed`](Self::poll_closed)).
    pub fn close_conn(&mut self, conn: ConnId) {
        if self.conns.get(&conn).is_some_and(|c| c.open) {
            self.drop_conn(conn, true);
            self.closed.push(conn);
        }
    }

    fn drop_conn(&mut self, conn: ConnId, notify: bool) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.open {
            return;
        }
        c.open = false;
        c.inbound.clear();
        c.outbound.clear();
        let addr = c.addr.clone();
        self.holds.retain(|_, h| h.req.conn != conn);
        for f in self.faults.reorder.values_mut() {
            f.1.retain(|(c, _, _)| *c != conn);
        }
        let Some(server) = self.servers.get_mut(&addr) else {
            return;
        };
        for chans in server.clients.producers.values_mut() {
            chans.remove(&conn);
        }
        server.clients.producers.retain(|_, c| !c.is_empty());
        let mut changed = Vec::new();
        for (g, cg) in server.clients.consumers.iter_mut() {
            if cg.channels.remove(&conn).is_some() {
                changed.push(g.clone());
            }
        }
        server
            .clients
            .consumers
            .retain(|_, g| !g.channels.is_empty());
        if notify {
            for g in changed {
                self.notify_ids_changed(&addr, &g);
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // Time

    /// The earliest time at which [`handle_timeout`](Self::handle_timeout) has work or a
    /// delayed frame becomes receivable.
    pub fn poll_timeout(&self) -> Option<u64> {
        let frames = self
            .conns
            .values()
            .filter_map(|c| c.outbound.keys().next().map(|k| k.0))
            .filter(|t| *t > self.now);
        let holds = self.holds.values().map(|h| h.deadline);
        let schedule = self.schedule.keys().next().map(|k| k.0);
        let expiry = self.servers.values().filter(|s| s.up).flat_map(|s| {
            let timeout = self.channel_timeout(s);
            s.clients
                .producers
                .values()
                .flat_map(|c| c.values())
                .chain(
                    s.clients
                        .consumers
                        .values()
                        .flat_map(|g| g.channels.values()),
                )
                .filter_map(move |ch| timeout.map(|t| ch.last_update + t))
        });
        frames.chain(holds).chain(schedule).chain(expiry).min()
    }

    fn channel_timeout(&self, s: &Server) -> Option<u64> {
        match &s.role {
            Role::Broker { name, .. } => self
                .groups
                .get(name)
                .and_then(|g| g.spec.channel_expired_timeout_ms),
            Role::NameServer => None,
        }
    }

    /// Run everything due at `now`: expired long polls are answered, scheduled
    /// (delay-level) messages are delivered to their real topics, silent client channels
    /// are closed.
    pub fn handle_timeout(&mut self, now: u64) {
        self.advance(now);
        // Scheduled messages first: a pull expiring at the same instant sees them.
        while let Some((&key, _)) = self.schedule.first_key_value() {
            if key.0 > self.now {
                break;
            }
            if let Some((broker, offset)) = self.schedule.remove(&key) {
                self.deliver_scheduled(&broker, offset, key.0);
            }
        }
        let due: Vec<u64> = self
            .holds
            .iter()
            .filter(|(_, h)| h.deadline <= self.now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(h) = self.holds.remove(&id) {
                self.answer_hold(&h, false);
            }
        }
        let mut expired = Vec::new();
        for (addr, s) in &self.servers {
            let Some(timeout) = self.channel_timeout(s) else {
                continue;
            };
            if !s.up {
                continue;
            }
            let chans = s
                .clients
                .producers
                .values()
                .flat_map(|c| c.iter())
                .chain(s.clients.consumers.values().flat_map(|g| g.channels.iter()));
            for (conn, ch) in chans {
                if ch.last_update + timeout <= self.now {
                    expired.push((addr.clone(), *conn));
                }
            }
        }
        for (_, conn) in expired {
            self.close_conn(conn);
        }
    }

    // -----------------------------------------------------------------------------------
    // Dispatch

    fn process_frame(&mut self, conn: ConnId, addr: &str, frame: Vec<u8>) {
        let Some(cmd) = decode_frame(&frame) else {
            self.close_conn(conn);
            return;
        };
        if cmd.header.is_response() {
            self.replies.insert(
                (conn, cmd.header.opaque),
                ClientReply {
                    at: self.now,
                    code: cmd.header.response_code(),
                    remark: cmd.header.remark.map(|r| r.to_string_lossless()),
                    fields: codec::fields_map(&cmd.fields()),
                    body: cmd.body.to_vec(),
                },
            );
            return;
        }
        let req = Req {
            conn,
            addr: addr.to_owned(),
            code: cmd.header.code,
            opaque: cmd.header.opaque,
            oneway: cmd.header.is_oneway(),
            version: cmd.header.version,
            serialize_type: cmd.serialize_type,
        };
        self.requests.push(RequestRecord {
            at: self.now,
            conn,
            addr: addr.to_owned(),
            code: RequestCode(req.code),
            opaque: req.opaque,
            oneway: req.oneway,
            serialize_type: req.serialize_type,
            fields: codec::fields_map(&cmd.fields()),
            body: cmd.body.to_vec(),
        });
        if let Some(code) = self.take_fail(addr, req.code) {
            self.error(&req, code, "simulated failure");
            return;
        }
        let role = self.servers.get(addr).map(|s| s.role.clone());
        match role {
            Some(Role::NameServer) => self.handle_namesrv(&req, &cmd),
            Some(Role::Broker { name, id }) => self.handle_broker(&req, &cmd, &frame, &name, id),
            None => {}
        }
    }

    fn take_fail(&mut self, addr: &str, code: i32) -> Option<ResponseCode> {
        let key = (addr.to_owned(), code);
        let (resp, left) = self.faults.fail.get_mut(&key)?;
        let resp = *resp;
        *left -= 1;
        if *left == 0 {
            self.faults.fail.remove(&key);
        }
        Some(resp)
    }

    /// Answer `req` (nothing for a oneway request).
    fn respond<F: EncodeFields + ?Sized>(
        &mut self,
        req: &Req,
        code: ResponseCode,
        remark: Option<&str>,
        fields: &F,
        body: &[u8],
    ) {
        if req.oneway {
            return;
        }
        let header = Header {
            code: code.0,
            language: self.cfg.server_language,
            version: self.cfg.server_version,
            opaque: req.opaque,
            flag: FLAG_RESPONSE,
            remark: remark.map(Text::new),
        };
        let st = self
            .cfg
            .response_serialize_type
            .unwrap_or(req.serialize_type);
        let mut bytes = Vec::new();
        if let Err(e) = CommandEncoder::new(st).encode_to(&mut bytes, &header, fields, body) {
            panic!("sim could not encode a response: {e:?}");
        }
        self.enqueue(req.conn, req.code, bytes);
    }

    fn error(&mut self, req: &Req, code: ResponseCode, remark: &str) {
        self.respond(req, code, Some(remark), &NoFields, &[]);
    }

    /// Queue a frame for the client, applying delay and reorder faults. `code` is the
    /// request code being answered (for per-code delays), or the code of a
    /// server-initiated request.
    fn enqueue(&mut self, conn: ConnId, code: i32, bytes: Vec<u8>) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        // A black hole never answers: not even frames queued before it appeared.
        if !c.open || c.black_hole || self.servers.get(&c.addr).is_some_and(|s| s.black_hole) {
            return;
        }
        let addr = c.addr.clone();
        let delay = self.faults.delay_all.get(&addr).copied().unwrap_or(0)
            + self
                .faults
                .delay_code
                .get(&(addr.clone(), code))
                .copied()
                .unwrap_or(0);
        if let Some((n, held)) = self.faults.reorder.get_mut(&addr) {
            held.push((conn, delay, bytes));
            if held.len() >= *n {
                let held = std::mem::take(held);
                self.faults.reorder.remove(&addr);
                for (conn, delay, bytes) in held.into_iter().rev() {
                    self.push_out(conn, delay, bytes);
                }
            }
            return;
        }
        self.push_out(conn, delay, bytes);
    }

    fn push_out(&mut self, conn: ConnId, delay: u64, bytes: Vec<u8>) {
        let seq = self.next_seq();
        let at = self.now + delay;
        if let Some(c) = self.conns.get_mut(&conn) {
            if c.open {
                c.outbound.insert((at, seq), bytes);
            }
        }
    }

    /// Send a server-initiated request on `conn`; returns its opaque.
    fn push_request<F: EncodeFields + ?Sized>(
        &mut self,
        conn: ConnId,
        code: RequestCode,
        fields: &F,
        body: &[u8],
        oneway: bool,
    ) -> i32 {
        let opaque = self.next_opaque;
        self.next_opaque += 1;
        let header = Header {
            code: code.0,
            language: self.cfg.server_language,
            version: self.cfg.server_version,
            opaque,
            flag: if oneway { FLAG_ONEWAY } else { 0 },
            remark: None,
        };
        let st = self
            .cfg
            .response_serialize_type
            .unwrap_or(SerializeType::Json);
        let mut bytes = Vec::new();
        if let Err(e) = CommandEncoder::new(st).encode_to(&mut bytes, &header, fields, body) {
            panic!("sim could not encode a request: {e:?}");
        }
        self.enqueue(conn, code.0, bytes);
        opaque
    }

    // -----------------------------------------------------------------------------------
    // Server → client requests

    /// Send any request to the client on `conn` (e.g. CONSUME_MESSAGE_DIRECTLY); returns
    /// its opaque. A two-way request's answer shows up in
    /// [`client_reply`](Self::client_reply).
    pub fn request_client(
        &mut self,
        now: u64,
        conn: ConnId,
        code: RequestCode,
        fields: &[(&str, &str)],
        body: &[u8],
        oneway: bool,
    ) -> i32 {
        self.advance(now);
        self.push_request(conn, code, fields, body, oneway)
    }

    /// The client's answer to the server-initiated request `opaque` on `conn`.
    pub fn client_reply(&self, conn: ConnId, opaque: i32) -> Option<&ClientReply> {
        self.replies.get(&(conn, opaque))
    }

    /// GET_CONSUMER_RUNNING_INFO (307) to the channel of `client_id` in `group` on
    /// `broker_addr`: the connection used and the request's opaque.
    pub fn get_consumer_running_info(
        &mut self,
        now: u64,
        broker_addr: &str,
        group: &str,
        client_id: &str,
    ) -> Option<(ConnId, i32)> {
        self.advance(now);
        let conn = self
            .servers
            .get(broker_addr)?
            .clients
            .consumers
            .get(group)?
            .channels
            .iter()
            .find(|(_, ch)| ch.client_id == client_id)
            .map(|(c, _)| *c)?;
        let h = rocketmq_proto::header::GetConsumerRunningInfoRequest {
            consumer_group: group.into(),
            client_id: client_id.into(),
            jstack_enable: Some(false),
        };
        let opaque =
            self.push_request(conn, RequestCode::GET_CONSUMER_RUNNING_INFO, &h, b"", false);
        Some((conn, opaque))
    }

    /// RESET_CONSUMER_CLIENT_OFFSET (220, oneway) to every channel of `group` on
    /// `broker_addr`, with a ResetOffsetBody of `offsets` (queue id, offset) for `topic`.
    /// Returns the connections notified.
    pub fn reset_consumer_client_offset(
        &mut self,
        now: u64,
        broker_addr: &str,
        group: &str,
        topic: &str,
        timestamp: i64,
        offsets: &[(i32, i64)],
    ) -> Vec<ConnId> {
        self.advance(now);
        let Some(server) = self.servers.get(broker_addr) else {
            return Vec::new();
        };
        let Role::Broker { name, .. } = &server.role else {
            return Vec::new();
        };
        let body = codec::reset_offset_body(topic, name, offsets);
        let conns: Vec<ConnId> = server
            .clients
            .consumers
            .get(group)
            .map(|g| g.channels.keys().copied().collect())
            .unwrap_or_default();
        let h = rocketmq_proto::header::ResetConsumerClientOffsetRequest {
            topic: topic.into(),
            group: group.into(),
            timestamp,
            is_force: true,
            queue_id: None,
            offset: None,
        };
        for c in &conns {
            self.push_request(
                *c,
                RequestCode::RESET_CONSUMER_CLIENT_OFFSET,
                &h,
                &body,
                true,
            );
        }
        conns
    }

    // -----------------------------------------------------------------------------------
    // Faults

    /// Take a server down: its connections close (reported by
    /// [`poll_closed`](Self::poll_closed)), parked pulls and undelivered frames are lost,
    /// connects are refused; a broker forgets its client table (and a master its locks).
    /// The store, topics and offsets survive.
    pub fn take_down(&mut self, now: u64, addr: &str) {
        self.advance(now);
        let conns: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.open && c.addr == addr)
            .map(|(id, _)| *id)
            .collect();
        for c in conns {
            self.drop_conn(c, false);
            self.closed.push(c);
        }
        let Some(s) = self.servers.get_mut(addr) else {
            return;
        };
        s.up = false;
        s.clients = Clients::default();
        if let Role::Broker { name, id: 0 } = &s.role {
            if let Some(g) = self.groups.get_mut(name) {
                g.locks.clear();
            }
        }
    }

    /// Bring a server back up.
    pub fn bring_up(&mut self, now: u64, addr: &str) {
        self.advance(now);
        if let Some(s) = self.servers.get_mut(addr) {
            s.up = true;
        }
    }

    /// Black-hole (or restore) a whole address: connects succeed, bytes are accepted and
    /// dropped, nothing is answered.
    pub fn black_hole_addr(&mut self, addr: &str, on: bool) {
        if let Some(s) = self.servers.get_mut(addr) {
            s.black_hole = on;
        }
    }

    /// Black-hole (or restore) one connection.
    pub fn black_hole_conn(&mut self, conn: ConnId, on: bool) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.black_hole = on;
        }
    }

    /// Delay every frame a server sends by `ms` (0 clears).
    pub fn delay_responses(&mut self, addr: &str, ms: u64) {
        if ms == 0 {
            self.faults.delay_all.remove(addr);
        } else {
            self.faults.delay_all.insert(addr.to_owned(), ms);
        }
    }

    /// Delay the answers to request `code` on `addr` by `ms` (0 clears); added to
    /// [`delay_responses`](Self::delay_responses).
    pub fn delay_code(&mut self, addr: &str, code: RequestCode, ms: u64) {
        let key = (addr.to_owned(), code.0);
        if ms == 0 {
            self.faults.delay_code.remove(&key);
        } else {
            self.faults.delay_code.insert(key, ms);
        }
    }

    /// Hold the next `n` frames `addr` sends (on any connection) and release them in
    /// reverse order once all `n` are there.
    pub fn reorder_next(&mut self, addr: &str, n: usize) {
        if n > 1 {
            self.faults.reorder.insert(addr.to_owned(), (n, Vec::new()));
        }
    }

    /// Answer the next `times` requests with `code` on `addr` with `response` (remark
    /// `simulated failure`) instead of serving them.
    pub fn fail_next(&mut self, addr: &str, code: RequestCode, response: ResponseCode, times: u32) {
        if times > 0 {
            self.faults
                .fail
                .insert((addr.to_owned(), code.0), (response, times));
        }
    }

    /// The NameServer forgets a broker address (as when it notices the broker's
    /// connection close). A group disappears from routes with its last address.
    pub fn ns_unregister(&mut self, broker_addr: &str) {
        self.ns_registered.remove(broker_addr);
    }

    /// The broker address registers with the NameServer again.
    pub fn ns_register(&mut self, broker_addr: &str) {
        if matches!(
            self.servers.get(broker_addr).map(|s| &s.role),
            Some(Role::Broker { .. })
        ) {
            self.ns_registered.insert(broker_addr.to_owned());
        }
    }

    /// What a master puts in `suggestWhichBrokerId` (Java sends 1 when the consumer lags
    /// and slave reads are enabled).
    pub fn set_suggest_broker_id(&mut self, broker_name: &str, id: i64) {
        if let Some(g) = self.groups.get_mut(broker_name) {
            g.suggest_broker_id = id;
        }
    }

    /// Delete a queue's messages below `new_min` (expired files).
    pub fn truncate_queue(&mut self, broker_name: &str, topic: &str, queue_id: i32, new_min: i64) {
        if let Some(g) = self.groups.get_mut(broker_name) {
            g.store.truncate(topic, queue_id, new_min);
        }
    }

    // -----------------------------------------------------------------------------------
    // Introspection and setup

    /// Messages stored in a queue of a broker group.
    pub fn messages(&self, broker_name: &str, topic: &str, queue_id: i32) -> &[StoredMessage] {
        self.groups
            .get(broker_name)
            .map_or(&[], |g| g.store.messages(topic, queue_id))
    }

    /// The message at a commit-log offset.
    pub fn message_at(&self, broker_name: &str, physical_offset: i64) -> Option<&StoredMessage> {
        self.groups
            .get(broker_name)?
            .store
            .by_physical_offset(physical_offset)
    }

    /// A queue's max offset (next offset to be written).
    pub fn max_offset(&self, broker_name: &str, topic: &str, queue_id: i32) -> i64 {
        self.groups
            .get(broker_name)
            .map_or(0, |g| g.store.max_offset(topic, queue_id))
    }

    /// A topic's configuration on a broker group (auto-created ones included).
    pub fn topic(&self, broker_name: &str, topic: &str) -> Option<TopicSpec> {
        let t = self.groups.get(broker_name)?.topics.get(topic)?;
        Some(TopicSpec {
            name: topic.to_owned(),
            read_queue_nums: t.read,
            write_queue_nums: t.write,
            perm: t.perm,
            topic_sys_flag: t.sys_flag,
        })
    }

    /// The committed offset of `group` for a queue.
    pub fn committed_offset(
        &self,
        broker_name: &str,
        group: &str,
        topic: &str,
        queue_id: i32,
    ) -> Option<i64> {
        self.groups
            .get(broker_name)?
            .offsets
            .get(&(group.to_owned(), topic.to_owned(), queue_id))
            .copied()
    }

    /// Set a committed offset (scenario setup).
    pub fn set_committed_offset(
        &mut self,
        broker_name: &str,
        group: &str,
        topic: &str,
        queue_id: i32,
        offset: i64,
    ) {
        if let Some(g) = self.groups.get_mut(broker_name) {
            g.offsets
                .insert((group.to_owned(), topic.to_owned(), queue_id), offset);
        }
    }

    /// Client ids of the consumer group's channels on `broker_addr`, in registration
    /// (connection) order.
    pub fn consumer_ids(&self, broker_addr: &str, group: &str) -> Vec<String> {
        self.servers
            .get(broker_addr)
            .and_then(|s| s.clients.consumers.get(group))
            .map(|g| g.channels.values().map(|c| c.client_id.clone()).collect())
            .unwrap_or_default()
    }

    /// Client ids of the producer group's channels on `broker_addr`.
    pub fn producer_ids(&self, broker_addr: &str, group: &str) -> Vec<String> {
        self.servers
            .get(broker_addr)
            .and_then(|s| s.clients.producers.get(group))
            .map(|g| g.values().map(|c| c.client_id.clone()).collect())
            .unwrap_or_default()
    }

    /// The subscription `group` registered for `topic` on `broker_addr`.
    pub fn subscription(
        &self,
        broker_addr: &str,
        group: &str,
        topic: &str,
    ) -> Option<&Subscription> {
        self.servers
            .get(broker_addr)?
            .clients
            .consumers
            .get(group)?
            .subscriptions
            .get(topic)
    }

    /// Queue locks held (not expired) on a broker group.
    pub fn locks(&self, broker_name: &str) -> Vec<LockInfo> {
        let Some(g) = self.groups.get(broker_name) else {
            return Vec::new();
        };
        g.locks
            .iter()
            .filter(|(_, (_, t))| self.now.saturating_sub(*t) <= LOCK_MAX_LIVE_MS)
            .map(|((group, topic, bn, q), (client, t))| LockInfo {
                group: group.clone(),
                topic: topic.clone(),
                broker_name: bn.clone(),
                queue_id: *q,
                client_id: client.clone(),
                last_update: *t,
            })
            .collect()
    }

    /// Every request received, in order.
    pub fn requests(&self) -> &[RequestRecord] {
        &self.requests
    }

    /// How many requests with `code` `addr` received.
    pub fn request_count(&self, addr: &str, code: RequestCode) -> usize {
        self.requests
            .iter()
            .filter(|r| r.addr == addr && r.code == code)
            .count()
    }

    /// Half (prepared transaction) messages neither committed nor rolled back.
    pub fn pending_half_messages(&self, broker_name: &str) -> Vec<&StoredMessage> {
        let Some(g) = self.groups.get(broker_name) else {
            return Vec::new();
        };
        g.store
            .messages(broker::HALF_TOPIC, 0)
            .iter()
            .filter(|m| !g.resolved_half.contains(&m.physical_offset))
            .collect()
    }

    /// Pulls currently parked (long polling).
    pub fn held_pulls(&self) -> usize {
        self.holds.len()
    }

    /// Store a message directly (scenario setup), as if produced at `now`; parked pulls
    /// are woken as by a send.
    pub fn inject_message(
        &mut self,
        now: u64,
        broker_name: &str,
        topic: &str,
        queue_id: i32,
        body: &[u8],
        properties: &[(&str, &str)],
    ) -> Option<StoredMessage> {
        self.advance(now);
        let props: String = properties
            .iter()
            .map(|(k, v)| format!("{k}\u{1}{v}\u{2}"))
            .collect();
        let m = store::NewMessage {
            topic: topic.to_owned(),
            queue_id,
            flag: 0,
            sys_flag: 0,
            born_timestamp: self.now as i64,
            born_host: broker::born_host(ConnId(0)),
            store_timestamp: self.now as i64,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: body.to_vec(),
            properties: props,
        };
        if !self.groups.contains_key(broker_name) {
            return None;
        }
        Some(self.put_message(broker_name, m))
    }
}
