//! Queue allocation for clustering consumers (behaviour.md §4.4 step 3–4, §4.5;
//! wire.md §11): which of a topic's queues this member of a consumer group owns.
//!
//! Every member of a group runs the same strategy over the same sorted lists and must
//! reach the same answer, so each strategy here transcribes Java's
//! `AllocateMessageQueueStrategy` implementations exactly — including their pre-checks,
//! their result order and the consistent-hash ring's MD5 keys.
//!
//! Nothing allocates: the caller sorts its lists in place with
//! [`sort_for_allocation`], then [`AllocateStrategy::allocate`] writes the indices of the
//! owned queues into a caller slice (the consistent-hash ring lives in a second caller
//! slice of [`RingNode`]s).
//!
//! ```
//! use rocketmq_proto::body::MessageQueue;
//! use rocketmq_proto::consumer::allocate::{sort_for_allocation, AllocateStrategy, Assignment};
//! use rocketmq_proto::Text;
//!
//! let mut mqs: Vec<MessageQueue> = (0..8).rev().map(|q| MessageQueue::new("T", "broker-a", q)).collect();
//! let mut cids = [Text::new("10.0.0.3@1"), Text::new("10.0.0.1@1"), Text::new("10.0.0.2@1")];
//! sort_for_allocation(&mut mqs, &mut cids);
//!
//! let mut out = [0usize; 8];
//! let mine = AllocateStrategy::Averagely
//!     .allocate("10.0.0.3@1", &mqs, &cids, &mut out, &mut [])
//!     .unwrap();
//! assert_eq!(mine, Assignment::Indices(&[6, 7]));
//! let ids: Vec<i32> = mine.queues(&mqs).map(|mq| mq.queue_id).collect();
//! assert_eq!(ids, [6, 7]);
//! ```

use core::cmp::Ordering;
use core::fmt;

use crate::hash::Md5;

use crate::body::{java_cmp, MessageQueue};
use crate::text::Text;

/// Java's default number of virtual nodes per consumer on the consistent-hash ring
/// (`new AllocateMessageQueueConsistentHash()`).
pub const DEFAULT_VIRTUAL_NODES: u32 = 10;

/// Why an allocation could not be computed. The first three are the exceptions Java's
/// strategies throw (`IllegalArgumentException`); a client id missing from the list is
/// not an error but an empty result, as in Java.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AllocateError {
    /// My client id is empty (Java: "currentCID is empty").
    EmptyClientId,
    /// The queue list is empty (Java: "mqAll is null or mqAll empty").
    NoQueues,
    /// The consumer id list is empty (Java: "cidAll is null or cidAll empty").
    NoConsumers,
    /// `MACHINE_ROOM_NEARBY`: the resolver gave an empty machine room for the queue at
    /// this index (Java: "Machine room is null for mq").
    NoBrokerMachineRoom {
        /// Index into the queue list.
        queue: usize,
    },
    /// `MACHINE_ROOM_NEARBY`: the resolver gave an empty machine room for the consumer at
    /// this index (Java: "Machine room is null for consumer id").
    NoConsumerMachineRoom {
        /// Index into the consumer id list.
        consumer: usize,
    },
    /// The output slice is shorter than the number of owned queues. A slice as long as
    /// the queue list is always enough.
    OutputTooSmall {
        /// How many indices the result holds.
        needed: usize,
    },
    /// The ring slice is shorter than consumers × virtual nodes
    /// ([`AllocateStrategy::ring_len`]).
    RingTooSmall {
        /// The length the ring needs.
        needed: usize,
    },
}

impl fmt::Display for AllocateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllocateError::EmptyClientId => f.write_str("currentCID is empty"),
            AllocateError::NoQueues => f.write_str("mqAll is null or mqAll empty"),
            AllocateError::NoConsumers => f.write_str("cidAll is null or cidAll empty"),
            AllocateError::NoBrokerMachineRoom { queue } => {
                write!(f, "machine room is empty for queue #{queue}")
            }
            AllocateError::NoConsumerMachineRoom { consumer } => {
                write!(f, "machine room is empty for consumer #{consumer}")
            }
            AllocateError::OutputTooSmall { needed } => {
                write!(f, "allocation output needs room for {needed} queue indices")
            }
            AllocateError::RingTooSmall { needed } => {
                write!(f, "consistent-hash ring needs {needed} nodes")
            }
        }
    }
}

impl core::error::Error for AllocateError {}

/// Sort a topic's queues and the group's client ids the way Java's rebalance does before
/// allocating: queues by (topic, brokerName, queueId) with `String.compareTo` (UTF-16
/// code-unit order, see [`java_cmp`]) and numeric queue id; ids with `String.compareTo`.
///
/// ```
/// use rocketmq_proto::body::MessageQueue;
/// use rocketmq_proto::consumer::allocate::sort_for_allocation;
/// use rocketmq_proto::Text;
/// let mut mqs = [MessageQueue::new("T", "b", 10), MessageQueue::new("T", "a", 2), MessageQueue::new("T", "b", 9)];
/// let mut ids = [Text::new("b@1"), Text::new("a@1")];
/// sort_for_allocation(&mut mqs, &mut ids);
/// assert_eq!(mqs.map(|m| m.queue_id), [2, 9, 10]);
/// assert_eq!(ids, [Text::new("a@1"), Text::new("b@1")]);
/// ```
pub fn sort_for_allocation(queues: &mut [MessageQueue<'_>], client_ids: &mut [Text<'_>]) {
    // Unstable sorts need no buffer; elements that compare equal are equal strings,
    // so the order among them cannot be observed.
    crate::sort::sort_unstable_by(queues, Ord::cmp);
    crate::sort::sort_unstable_by(client_ids, java_cmp);
}

/// Finds the machine room of a consumer and of a queue's broker, for
/// [`AllocateStrategy::MachineRoomNearby`] (Java `AllocateMachineRoomNearby.MachineRoomResolver`).
///
/// An empty room is an error, as Java's `null`/empty. The resolver is asked several
/// times for the same queue or id and must answer the same each time.
/// [`RoomFns`] builds one from two closures.
pub trait MachineRoomResolver {
    /// The machine room the queue's broker is deployed in (Java `brokerDeployIn`).
    fn broker_deploy_in<'x>(&'x self, mq: &'x MessageQueue<'x>) -> &'x str;
    /// The machine room a consumer is deployed in (Java `consumerDeployIn`).
    fn consumer_deploy_in<'x>(&'x self, client_id: Text<'x>) -> &'x str;
}

/// A [`MachineRoomResolver`] made of two closures.
///
/// ```
/// use rocketmq_proto::consumer::allocate::{broker_idc, RoomFns};
/// // Brokers named `<idc>@<name>`, consumers named `<idc>-<host>`.
/// let rooms = RoomFns::new(
///     |mq| mq.broker_name.as_str().and_then(broker_idc).unwrap_or(""),
///     |cid| cid.as_str().and_then(|c| c.split('-').next()).unwrap_or(""),
/// );
/// # let _ = rooms;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RoomFns<B, C> {
    broker: B,
    consumer: C,
}

impl<B, C> RoomFns<B, C>
where
    B: for<'x> Fn(&'x MessageQueue<'x>) -> &'x str,
    C: for<'x> Fn(Text<'x>) -> &'x str,
{
    /// A resolver from `broker(mq)` and `consumer(client_id)`.
    pub fn new(broker: B, consumer: C) -> Self {
        RoomFns { broker, consumer }
    }
}

impl<B, C> MachineRoomResolver for RoomFns<B, C>
where
    B: for<'x> Fn(&'x MessageQueue<'x>) -> &'x str,
    C: for<'x> Fn(Text<'x>) -> &'x str,
{
    fn broker_deploy_in<'x>(&'x self, mq: &'x MessageQueue<'x>) -> &'x str {
        (self.broker)(mq)
    }
    fn consumer_deploy_in<'x>(&'x self, client_id: Text<'x>) -> &'x str {
        (self.consumer)(client_id)
    }
}

/// The `<idc>` of a broker named `<idc>@<name>`, by Java's rule in
/// `AllocateMessageQueueByMachineRoom`: `brokerName.split("@")` must give exactly two
/// parts (Java's `split` drops trailing empty parts, so `"idc@name@"` qualifies and
/// `"idc@"` does not).
///
/// ```
/// use rocketmq_proto::consumer::allocate::broker_idc;
/// assert_eq!(broker_idc("hz@broker-a"), Some("hz"));
/// assert_eq!(broker_idc("hz@broker-a@"), Some("hz"));
/// assert_eq!(broker_idc("@broker-a"), Some(""));
/// assert_eq!(broker_idc("broker-a"), None);
/// assert_eq!(broker_idc("hz@"), None);
/// assert_eq!(broker_idc("hz@a@b"), None);
/// ```
pub fn broker_idc(broker_name: &str) -> Option<&str> {
    let (idc, rest) = broker_name.split_once('@')?;
    two_java_parts(rest.chars()).then_some(idc)
}

/// Given the characters after the first `@`, whether Java's `split("@")` yields exactly
/// two parts: the second part is non-empty and every later part is empty.
fn two_java_parts(rest: impl Iterator<Item = char>) -> bool {
    let mut part = 1usize;
    let mut second_non_empty = false;
    for c in rest {
        if c == '@' {
            part = part.saturating_add(1);
        } else if part == 1 {
            second_non_empty = true;
        } else {
            return false;
        }
    }
    second_non_empty
}

/// Whether the broker name's `<idc>` (Java's split rule, see [`broker_idc`]) is one of
/// `idcs`. Works on the decoded characters, so JSON-escaped names need no buffer.
fn idc_in(broker_name: &Text<'_>, idcs: &[&str]) -> bool {
    if let Some(plain) = broker_name.as_str() {
        return broker_idc(plain).is_some_and(|idc| idcs.contains(&idc));
    }
    let mut chars = broker_name.chars();
    let Some(at) = broker_name.chars().position(|c| c == '@') else {
        return false;
    };
    // Compare the first `at` characters with each idc (the name has at least `at`, so
    // an idc of another length never compares equal), then check the rest.
    let matches = idcs
        .iter()
        .any(|idc| idc.chars().eq(broker_name.chars().take(at)));
    if !matches {
        return false;
    }
    chars.nth(at); // skip the idc and the '@'
    two_java_parts(chars)
}

/// One node of a consistent-hash ring: a virtual node's hash and the index, in the
/// consumer id list, of the consumer it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RingNode {
    /// First 4 bytes of the MD5 of `"<clientId>-<replica>"`, big-endian.
    pub hash: u32,
    /// Index into the consumer id list.
    pub consumer: usize,
}

/// Java's `ConsistentHashRouter` over a caller buffer: nodes sorted by hash, one per
/// distinct hash (a later virtual node with an equal hash replaces the earlier one, as
/// Java's `TreeMap.put`).
///
/// ```
/// use rocketmq_proto::body::MessageQueue;
/// use rocketmq_proto::consumer::allocate::{queue_hash, HashRing, RingNode};
/// use rocketmq_proto::Text;
/// let ids = [Text::new("127.0.0.1@1"), Text::new("127.0.0.1@2"), Text::new("127.0.0.1@3")];
/// let mut buf = [RingNode::default(); 30];
/// let ring = HashRing::build(&mut buf, &ids, 10).unwrap();
/// assert_eq!(ring.nodes().len(), 30);
/// let owner = ring.route(queue_hash(&MessageQueue::new("TopicTest", "broker-a", 0)));
/// assert_eq!(owner, Some(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashRing<'r> {
    nodes: &'r [RingNode],
}

impl<'r> HashRing<'r> {
    /// Build the ring of `client_ids` (in list order), `virtual_nodes` per id, in `buf`,
    /// which must hold `client_ids.len() × virtual_nodes` nodes.
    pub fn build(
        buf: &'r mut [RingNode],
        client_ids: &[Text<'_>],
        virtual_nodes: u32,
    ) -> Result<Self, AllocateError> {
        Self::build_filtered(buf, client_ids, &|_| true, virtual_nodes)
    }

    fn build_filtered<'t>(
        buf: &'r mut [RingNode],
        client_ids: &[Text<'t>],
        member: &dyn Fn(&Text<'t>) -> bool,
        virtual_nodes: u32,
    ) -> Result<Self, AllocateError> {
        let members = client_ids.iter().filter(|c| member(c)).count();
        let needed = members.saturating_mul(virtual_nodes as usize);
        if buf.len() < needed {
            return Err(AllocateError::RingTooSmall { needed });
        }
        let mut len = 0usize;
        for (consumer, cid) in client_ids.iter().enumerate() {
            if !member(cid) {
                continue;
            }
            // Java `addNode`: a client id listed twice continues its replica numbering
            // after the nodes it already holds on the ring.
            let existing = buf
                .get(..len)
                .unwrap_or_default()
                .iter()
                .filter(|n| client_ids.get(n.consumer) == Some(cid))
                .count();
            for r in 0..virtual_nodes as usize {
                let hash = vnode_hash(cid, r.saturating_add(existing));
                len = insert(buf, len, RingNode { hash, consumer })?;
            }
        }
        Ok(HashRing {
            nodes: buf.get(..len).unwrap_or_default(),
        })
    }

    /// The nodes, sorted by hash.
    pub fn nodes(&self) -> &'r [RingNode] {
        self.nodes
    }

    /// The consumer index owning `hash`: the node with the smallest hash ≥ `hash`,
    /// wrapping to the first node (Java `routeNode`). `None` for an empty ring.
    pub fn route(&self, hash: u32) -> Option<usize> {
        let at = self.nodes.partition_point(|n| n.hash < hash);
        self.nodes
            .get(at)
            .or_else(|| self.nodes.first())
            .map(|n| n.consumer)
    }
}

/// Insert into the sorted prefix `buf[..len]`, replacing an equal hash; new length.
fn insert(buf: &mut [RingNode], len: usize, node: RingNode) -> Result<usize, AllocateError> {
    let filled = buf.get_mut(..len).unwrap_or_default();
    match filled.binary_search_by_key(&node.hash, |n| n.hash) {
        Ok(pos) => {
            if let Some(slot) = filled.get_mut(pos) {
                slot.consumer = node.consumer;
            }
            Ok(len)
        }
        Err(pos) => {
            let needed = len.saturating_add(1);
            let tail = buf
                .get_mut(pos..needed)
                .ok_or(AllocateError::RingTooSmall { needed })?;
            tail.rotate_right(1);
            if let Some(first) = tail.first_mut() {
                *first = node;
            }
            Ok(needed)
        }
    }
}

/// Java's `ConsistentHashRouter.MD5Hash`: the first 4 bytes of the MD5 of the key's
/// UTF-8 bytes, as an unsigned big-endian number.
///
/// ```
/// use rocketmq_proto::consumer::allocate::ring_hash;
/// assert_eq!(ring_hash("127.0.0.1@1-0"), 0x9e72_b41b);
/// ```
pub fn ring_hash(key: &str) -> u32 {
    let mut md5 = Md5::new();
    md5.update(key.as_bytes());
    finish(md5)
}

/// [`ring_hash`] of a queue's Java `toString()`:
/// `MessageQueue [topic=<t>, brokerName=<b>, queueId=<q>]`.
pub fn queue_hash(mq: &MessageQueue<'_>) -> u32 {
    let mut md5 = Md5::new();
    md5.update(b"MessageQueue [topic=");
    update_text(&mut md5, &mq.topic);
    md5.update(b", brokerName=");
    update_text(&mut md5, &mq.broker_name);
    md5.update(b", queueId=");
    md5.update(itoa::Buffer::new().format(mq.queue_id).as_bytes());
    md5.update(b"]");
    finish(md5)
}

/// [`ring_hash`] of a virtual node key `<clientId>-<replica>`.
fn vnode_hash(client_id: &Text<'_>, replica: usize) -> u32 {
    let mut md5 = Md5::new();
    update_text(&mut md5, client_id);
    md5.update(b"-");
    md5.update(itoa::Buffer::new().format(replica).as_bytes());
    finish(md5)
}

fn update_text(md5: &mut Md5, t: &Text<'_>) {
    match t.as_str() {
        Some(s) => md5.update(s.as_bytes()),
        None => {
            for c in t.chars() {
                md5.update(c.encode_utf8(&mut [0u8; 4]).as_bytes());
            }
        }
    }
}

fn finish(md5: Md5) -> u32 {
    let digest = md5.finalize();
    digest
        .first_chunk::<4>()
        .map_or(0, |b| u32::from_be_bytes(*b))
}

/// A strategy that allocates the lists it is given; the inner strategy of
/// [`AllocateStrategy::MachineRoomNearby`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InnerStrategy<'c> {
    /// See [`AllocateStrategy::Averagely`].
    Averagely,
    /// See [`AllocateStrategy::AveragelyByCircle`].
    AveragelyByCircle,
    /// See [`AllocateStrategy::ConsistentHash`].
    ConsistentHash {
        /// Virtual nodes per consumer.
        virtual_nodes: u32,
    },
    /// See [`AllocateStrategy::ByMachineRoom`].
    ByMachineRoom {
        /// The `<idc>`s this consumer consumes from.
        consumer_idcs: &'c [&'c str],
    },
}

impl InnerStrategy<'_> {
    /// Java's `getName()`.
    pub fn name(&self) -> &'static str {
        match self {
            InnerStrategy::Averagely => "AVG",
            InnerStrategy::AveragelyByCircle => "AVG_BY_CIRCLE",
            InnerStrategy::ConsistentHash { .. } => "CONSISTENT_HASH",
            InnerStrategy::ByMachineRoom { .. } => "MACHINE_ROOM",
        }
    }
}

/// A queue allocation strategy (Java `AllocateMessageQueueStrategy`); every member of a
/// consumer group must use the same one. The default is [`Averagely`](Self::Averagely).
///
/// ```
/// use rocketmq_proto::body::MessageQueue;
/// use rocketmq_proto::consumer::allocate::{AllocateStrategy, Assignment, RingNode, DEFAULT_VIRTUAL_NODES};
/// use rocketmq_proto::Text;
///
/// let mqs: Vec<MessageQueue> = (0..8).map(|q| MessageQueue::new("T", "b", q)).collect();
/// let cids = [Text::new("c0"), Text::new("c1"), Text::new("c2")];
/// let mut out = [0usize; 8];
/// let by_circle = AllocateStrategy::AveragelyByCircle.allocate("c1", &mqs, &cids, &mut out, &mut []);
/// assert_eq!(by_circle, Ok(Assignment::Indices(&[1, 4, 7])));
///
/// let hash = AllocateStrategy::ConsistentHash { virtual_nodes: DEFAULT_VIRTUAL_NODES };
/// let mut ring = [RingNode::default(); 30];
/// assert_eq!(hash.ring_len(cids.len()), 30);
/// assert!(hash.allocate("c1", &mqs, &cids, &mut out, &mut ring).is_ok());
/// assert_eq!(hash.name(), "CONSISTENT_HASH");
/// ```
#[derive(Clone, Copy, Default)]
pub enum AllocateStrategy<'c> {
    /// `AllocateMessageQueueAveragely` (`AVG`): contiguous blocks, the first
    /// `n mod c` consumers taking one queue more.
    #[default]
    Averagely,
    /// `AllocateMessageQueueAveragelyByCircle` (`AVG_BY_CIRCLE`): round robin.
    AveragelyByCircle,
    /// `AllocateMessageQueueConsistentHash` (`CONSISTENT_HASH`): an MD5 ring of
    /// `virtual_nodes` nodes per consumer ([`DEFAULT_VIRTUAL_NODES`] in Java). Needs a
    /// ring buffer of [`ring_len`](Self::ring_len) nodes.
    ConsistentHash {
        /// Virtual nodes per consumer; 0 gives an empty ring that assigns nothing.
        virtual_nodes: u32,
    },
    /// `AllocateMessageQueueByConfig` (`CONFIG`): the configured queues, whatever the
    /// lists say (no pre-check).
    ByConfig {
        /// The queues this consumer takes.
        queues: &'c [MessageQueue<'c>],
    },
    /// `AllocateMessageQueueByMachineRoom` (`MACHINE_ROOM`): only queues of brokers
    /// named `<idc>@<name>` (see [`broker_idc`]) with `<idc>` in `consumer_idcs`,
    /// split into blocks of `⌊|pre| / c⌋`, the first `|pre| mod c` consumers also taking
    /// one of the leftovers.
    ByMachineRoom {
        /// The `<idc>`s this consumer consumes from (Java `consumeridcs`).
        consumer_idcs: &'c [&'c str],
    },
    /// `AllocateMachineRoomNearby` (`MACHINE_ROOM_NEARBY-<inner>`): `inner` allocates
    /// the queues of my machine room among the consumers of my room, then the queues of
    /// every room that has no consumer among all consumers.
    MachineRoomNearby {
        /// The strategy applied within each room.
        inner: InnerStrategy<'c>,
        /// Machine rooms of queues and consumers.
        resolver: &'c (dyn MachineRoomResolver + Sync),
    },
}

impl fmt::Debug for AllocateStrategy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllocateStrategy::Averagely => f.write_str("Averagely"),
            AllocateStrategy::AveragelyByCircle => f.write_str("AveragelyByCircle"),
            AllocateStrategy::ConsistentHash { virtual_nodes } => f
                .debug_struct("ConsistentHash")
                .field("virtual_nodes", virtual_nodes)
                .finish(),
            AllocateStrategy::ByConfig { queues } => {
                f.debug_struct("ByConfig").field("queues", queues).finish()
            }
            AllocateStrategy::ByMachineRoom { consumer_idcs } => f
                .debug_struct("ByMachineRoom")
                .field("consumer_idcs", consumer_idcs)
                .finish(),
            AllocateStrategy::MachineRoomNearby { inner, .. } => f
                .debug_struct("MachineRoomNearby")
                .field("inner", inner)
                .finish_non_exhaustive(),
        }
    }
}

impl<'c> From<InnerStrategy<'c>> for AllocateStrategy<'c> {
    fn from(s: InnerStrategy<'c>) -> Self {
        match s {
            InnerStrategy::Averagely => AllocateStrategy::Averagely,
            InnerStrategy::AveragelyByCircle => AllocateStrategy::AveragelyByCircle,
            InnerStrategy::ConsistentHash { virtual_nodes } => {
                AllocateStrategy::ConsistentHash { virtual_nodes }
            }
            InnerStrategy::ByMachineRoom { consumer_idcs } => {
                AllocateStrategy::ByMachineRoom { consumer_idcs }
            }
        }
    }
}

/// The queues a strategy gave me.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignment<'o, 'c> {
    /// Indices into the queue list, in Java's result order.
    Indices(&'o [usize]),
    /// [`AllocateStrategy::ByConfig`]: the configured queues, verbatim (they need not
    /// be in the queue list).
    Configured(&'c [MessageQueue<'c>]),
}

impl<'x> Assignment<'x, 'x> {
    /// The assigned queues, looked up in `mq_all` (the list given to `allocate`).
    pub fn queues(
        self,
        mq_all: &'x [MessageQueue<'x>],
    ) -> impl Iterator<Item = MessageQueue<'x>> + 'x {
        let (indices, configured): (&[usize], &[MessageQueue<'x>]) = match self {
            Assignment::Indices(i) => (i, &[]),
            Assignment::Configured(c) => (&[], c),
        };
        indices
            .iter()
            .filter_map(move |&k| mq_all.get(k).copied())
            .chain(configured.iter().copied())
    }
}

impl Assignment<'_, '_> {
    /// Number of assigned queues.
    pub fn len(&self) -> usize {
        match self {
            Assignment::Indices(i) => i.len(),
            Assignment::Configured(c) => c.len(),
        }
    }

    /// Whether nothing is assigned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<'c> AllocateStrategy<'c> {
    /// Java's `getName()`: `AVG`, `AVG_BY_CIRCLE`, `CONSISTENT_HASH`, `CONFIG`,
    /// `MACHINE_ROOM`, `MACHINE_ROOM_NEARBY-<inner name>`.
    pub fn name(&self) -> &'static str {
        match self {
            AllocateStrategy::ByConfig { .. } => "CONFIG",
            AllocateStrategy::MachineRoomNearby { inner, .. } => match inner {
                InnerStrategy::Averagely => "MACHINE_ROOM_NEARBY-AVG",
                InnerStrategy::AveragelyByCircle => "MACHINE_ROOM_NEARBY-AVG_BY_CIRCLE",
                InnerStrategy::ConsistentHash { .. } => "MACHINE_ROOM_NEARBY-CONSISTENT_HASH",
                InnerStrategy::ByMachineRoom { .. } => "MACHINE_ROOM_NEARBY-MACHINE_ROOM",
            },
            other => other.inner().map_or("", |i| i.name()),
        }
    }

    /// The ring buffer length [`allocate`](Self::allocate) needs for `consumers` client
    /// ids: consumers × virtual nodes for consistent hashing (also as the inner
    /// strategy of `MachineRoomNearby`), else 0.
    pub fn ring_len(&self, consumers: usize) -> usize {
        let inner = match self {
            AllocateStrategy::MachineRoomNearby { inner, .. } => Some(*inner),
            other => other.inner(),
        };
        match inner {
            Some(InnerStrategy::ConsistentHash { virtual_nodes }) => {
                consumers.saturating_mul(virtual_nodes as usize)
            }
            _ => 0,
        }
    }

    fn inner(&self) -> Option<InnerStrategy<'c>> {
        match *self {
            AllocateStrategy::Averagely => Some(InnerStrategy::Averagely),
            AllocateStrategy::AveragelyByCircle => Some(InnerStrategy::AveragelyByCircle),
            AllocateStrategy::ConsistentHash { virtual_nodes } => {
                Some(InnerStrategy::ConsistentHash { virtual_nodes })
            }
            AllocateStrategy::ByMachineRoom { consumer_idcs } => {
                Some(InnerStrategy::ByMachineRoom { consumer_idcs })
            }
            AllocateStrategy::ByConfig { .. } | AllocateStrategy::MachineRoomNearby { .. } => None,
        }
    }

    /// The queues of `mq_all` that `my_id` owns among `cid_all` (Java `allocate`).
    ///
    /// Both lists must already be sorted ([`sort_for_allocation`]). Pre-checks as Java:
    /// an empty `my_id`, `mq_all` or `cid_all` is an error; `my_id` not in `cid_all`
    /// gives an empty assignment. The owned indices are written to `out` (a slice as
    /// long as `mq_all` always suffices); `ring` is scratch for the consistent-hash ring
    /// and needs [`ring_len`](Self::ring_len)`(cid_all.len())` nodes (pass `&mut []`
    /// for the other strategies). `ByConfig` ignores every argument and returns its
    /// queues.
    pub fn allocate<'o>(
        &self,
        my_id: &str,
        mq_all: &[MessageQueue<'_>],
        cid_all: &[Text<'_>],
        out: &'o mut [usize],
        ring: &mut [RingNode],
    ) -> Result<Assignment<'o, 'c>, AllocateError> {
        let mut sink = Sink { out, len: 0 };
        match *self {
            AllocateStrategy::ByConfig { queues } => return Ok(Assignment::Configured(queues)),
            AllocateStrategy::MachineRoomNearby { inner, resolver } => {
                nearby(&inner, resolver, my_id, mq_all, cid_all, ring, &mut sink)?
            }
            _ => {
                if let Some(inner) = self.inner() {
                    let view = View {
                        mqs: mq_all,
                        mq_in: &|_| true,
                        cids: cid_all,
                        cid_in: &|_| true,
                    };
                    allocate_view(&inner, my_id, &view, ring, &mut sink)?;
                }
            }
        }
        sink.finish().map(Assignment::Indices)
    }
}

/// Collects owned indices; past the end of the caller's slice it only counts, so the
/// error can say how much room was needed.
struct Sink<'o> {
    out: &'o mut [usize],
    len: usize,
}

impl<'o> Sink<'o> {
    fn push(&mut self, index: usize) {
        if let Some(slot) = self.out.get_mut(self.len) {
            *slot = index;
        }
        self.len = self.len.saturating_add(1);
    }

    fn finish(self) -> Result<&'o [usize], AllocateError> {
        let Sink { out, len } = self;
        let out: &'o [usize] = out;
        out.get(..len)
            .ok_or(AllocateError::OutputTooSmall { needed: len })
    }
}

/// A sub-list of the queues and of the consumers: what Java's nested strategy calls in
/// `AllocateMachineRoomNearby` receive as fresh lists. Positions in the view are what
/// the algorithms count; indices into `mqs` are what they emit.
struct View<'v, 'q, 't> {
    mqs: &'v [MessageQueue<'q>],
    mq_in: &'v dyn Fn(&MessageQueue<'q>) -> bool,
    cids: &'v [Text<'t>],
    cid_in: &'v dyn Fn(&Text<'t>) -> bool,
}

impl<'q, 't> View<'_, 'q, 't> {
    fn queues(&self) -> impl Iterator<Item = (usize, &MessageQueue<'q>)> + '_ {
        self.mqs.iter().enumerate().filter(|(_, m)| (self.mq_in)(m))
    }

    fn consumers(&self) -> impl Iterator<Item = &Text<'t>> + '_ {
        self.cids.iter().filter(|c| (self.cid_in)(c))
    }
}

/// Java's `AbstractAllocateMessageQueueStrategy.check` and `indexOf(currentCID)`:
/// `Ok(Some((n, c, i)))`, or `Ok(None)` when my id is not a consumer.
fn pre_check(
    my_id: &str,
    view: &View<'_, '_, '_>,
) -> Result<Option<(usize, usize, usize)>, AllocateError> {
    if my_id.is_empty() {
        return Err(AllocateError::EmptyClientId);
    }
    let n = view.queues().count();
    if n == 0 {
        return Err(AllocateError::NoQueues);
    }
    let c = view.consumers().count();
    if c == 0 {
        return Err(AllocateError::NoConsumers);
    }
    Ok(view
        .consumers()
        .position(|cid| *cid == my_id)
        .map(|i| (n, c, i)))
}

fn allocate_view(
    strategy: &InnerStrategy<'_>,
    my_id: &str,
    view: &View<'_, '_, '_>,
    ring: &mut [RingNode],
    sink: &mut Sink<'_>,
) -> Result<(), AllocateError> {
    let Some((n, c, i)) = pre_check(my_id, view)? else {
        return Ok(());
    };
    match *strategy {
        InnerStrategy::Averagely => {
            // Java: mod = n % c; averageSize = n <= c ? 1 : (mod > 0 && i < mod ? n/c + 1 : n/c);
            // startIndex = (mod > 0 && i < mod) ? i*size : i*size + mod; range = min(size, n - start).
            let rem = n % c;
            let bigger = rem > 0 && i < rem;
            let size = if n <= c {
                1
            } else if bigger {
                n / c + 1
            } else {
                n / c
            };
            let start = if bigger {
                i.saturating_mul(size)
            } else {
                i.saturating_mul(size).saturating_add(rem)
            };
            let end = start.saturating_add(size).min(n);
            for (pos, (k, _)) in view.queues().enumerate() {
                if (start..end).contains(&pos) {
                    sink.push(k);
                }
            }
        }
        InnerStrategy::AveragelyByCircle => {
            for (pos, (k, _)) in view.queues().enumerate() {
                if pos >= i && pos % c == i {
                    sink.push(k);
                }
            }
        }
        InnerStrategy::ByMachineRoom { consumer_idcs } => {
            let pre = || {
                view.queues()
                    .filter(|(_, mq)| idc_in(&mq.broker_name, consumer_idcs))
            };
            let total = pre().count();
            let (per, rem) = (total / c, total % c);
            // Java adds premqAll[i*per .. i*per+per) then, if rem > i, premqAll[i + per*c];
            // the extra one comes after the block, so ascending order is Java's order.
            let start = i.saturating_mul(per);
            let block = start..start.saturating_add(per);
            let extra = (rem > i).then(|| i.saturating_add(per.saturating_mul(c)));
            for (p, (k, _)) in pre().enumerate() {
                if block.contains(&p) || extra == Some(p) {
                    sink.push(k);
                }
            }
        }
        InnerStrategy::ConsistentHash { virtual_nodes } => {
            let ring = HashRing::build_filtered(ring, view.cids, view.cid_in, virtual_nodes)?;
            for (k, mq) in view.queues() {
                // Java compares the owner's id string, so a duplicated id owns both.
                let owner = ring.route(queue_hash(mq)).and_then(|o| view.cids.get(o));
                if owner.is_some_and(|o| *o == my_id) {
                    sink.push(k);
                }
            }
        }
    }
    Ok(())
}

fn room_cmp(a: &str, b: &str) -> Ordering {
    java_cmp(&Text::new(a), &Text::new(b))
}

/// Java `AllocateMachineRoomNearby.allocate`.
fn nearby(
    inner: &InnerStrategy<'_>,
    resolver: &dyn MachineRoomResolver,
    my_id: &str,
    mqs: &[MessageQueue<'_>],
    cids: &[Text<'_>],
    ring: &mut [RingNode],
    sink: &mut Sink<'_>,
) -> Result<(), AllocateError> {
    let all = View {
        mqs,
        mq_in: &|_| true,
        cids,
        cid_in: &|_| true,
    };
    if pre_check(my_id, &all)?.is_none() {
        return Ok(());
    }
    // Java groups every queue, then every consumer, failing on the first empty room.
    if let Some(queue) = mqs
        .iter()
        .position(|mq| resolver.broker_deploy_in(mq).is_empty())
    {
        return Err(AllocateError::NoBrokerMachineRoom { queue });
    }
    if let Some(consumer) = cids
        .iter()
        .position(|c| resolver.consumer_deploy_in(*c).is_empty())
    {
        return Err(AllocateError::NoConsumerMachineRoom { consumer });
    }
    let my_room = resolver.consumer_deploy_in(Text::new(my_id));

    // 1. My room's queues among my room's consumers.
    let mine = View {
        mqs,
        mq_in: &|mq| resolver.broker_deploy_in(mq) == my_room,
        cids,
        cid_in: &|c| resolver.consumer_deploy_in(*c) == my_room,
    };
    if mine.queues().next().is_some() {
        allocate_view(inner, my_id, &mine, ring, sink)?;
    }

    // 2. Each other room without consumers, in TreeMap (String.compareTo) order, among
    //    all consumers. Rooms are walked by repeated minimum search: no map, no buffer.
    let mut prev: Option<&str> = None;
    loop {
        let mut next: Option<&str> = None;
        for mq in mqs {
            let room = resolver.broker_deploy_in(mq);
            let after_prev = prev.is_none_or(|p| room_cmp(room, p) == Ordering::Greater);
            if after_prev && next.is_none_or(|n| room_cmp(room, n) == Ordering::Less) {
                next = Some(room);
            }
        }
        let Some(room) = next else { break };
        prev = Some(room);
        if room == my_room || cids.iter().any(|c| resolver.consumer_deploy_in(*c) == room) {
            continue;
        }
        let orphan = View {
            mqs,
            mq_in: &|mq| resolver.broker_deploy_in(mq) == room,
            cids,
            cid_in: &|_| true,
        };
        allocate_view(inner, my_id, &orphan, ring, sink)?;
    }
    Ok(())
}
