//! `TopicRouteData` (GET_ROUTEINFO_BY_TOPIC response, wire.md §7.2) and how a client
//! derives its publish and subscribe queues from it (§7.2 "Deriving queues", as Java's
//! `MQClientInstance.topicRouteData2TopicPublishInfo` / `…SubscribeInfo` do).

use core::cmp::Ordering;

use crate::collections::{self, Collections};
use crate::error::DecodeError;
use crate::json::{Key, Scanner};
use crate::text::Text;

use super::message_queue::java_cmp;
use super::scan::{self, R};

/// Topic permission bits (`PermName`, wire.md §7.10).
///
/// ```
/// use rocketmq_proto::body::Perm;
/// let p = Perm(6);
/// assert!(p.is_readable() && p.is_writable() && !p.is_inherited());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Perm(pub i32);

/// `PERM_PRIORITY` (8): used by broker registration.
pub const PERM_PRIORITY: i32 = 8;
/// `PERM_READ` (4): consumers may pull.
pub const PERM_READ: i32 = 4;
/// `PERM_WRITE` (2): producers may send.
pub const PERM_WRITE: i32 = 2;
/// `PERM_INHERIT` (1).
pub const PERM_INHERIT: i32 = 1;

impl Perm {
    /// `PERM_READ`.
    pub const READ: Perm = Perm(PERM_READ);
    /// `PERM_WRITE`.
    pub const WRITE: Perm = Perm(PERM_WRITE);
    /// `PERM_INHERIT`.
    pub const INHERIT: Perm = Perm(PERM_INHERIT);
    /// `PERM_PRIORITY`.
    pub const PRIORITY: Perm = Perm(PERM_PRIORITY);

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Perm) -> bool {
        self.0 & other.0 == other.0
    }
    /// `PermName.isReadable`.
    pub fn is_readable(self) -> bool {
        self.contains(Perm::READ)
    }
    /// `PermName.isWriteable`.
    pub fn is_writable(self) -> bool {
        self.contains(Perm::WRITE)
    }
    /// `PermName.isInherited`.
    pub fn is_inherited(self) -> bool {
        self.contains(Perm::INHERIT)
    }
}

/// The queues of a topic on one broker (`QueueData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueData<'a> {
    /// `brokerName`.
    pub broker_name: Text<'a>,
    /// `readQueueNums`: queues consumers read, ids `0..readQueueNums`.
    pub read_queue_nums: i32,
    /// `writeQueueNums`: queues producers write, ids `0..writeQueueNums`.
    pub write_queue_nums: i32,
    /// `perm`.
    pub perm: Perm,
    /// `topicSysFlag` (spelled `topicSynFlag` by servers up to 4.8; both are read).
    pub topic_sys_flag: i32,
}

impl<'a> QueueData<'a> {
    /// Read a `QueueData` object. `brokerName` is required; absent numbers are 0.
    pub fn scan(s: &mut Scanner<'a>) -> R<Self> {
        let mut broker_name = None;
        let mut q = QueueData {
            broker_name: Text::new(""),
            read_queue_nums: 0,
            write_queue_nums: 0,
            perm: Perm(0),
            topic_sys_flag: 0,
        };
        scan::fields(s, |s, k| {
            if k == "brokerName" {
                broker_name = scan::text(s)?;
            } else if k == "readQueueNums" {
                q.read_queue_nums = scan::i32_or_null(s)?.unwrap_or(0);
            } else if k == "writeQueueNums" {
                q.write_queue_nums = scan::i32_or_null(s)?.unwrap_or(0);
            } else if k == "perm" {
                q.perm = Perm(scan::i32_or_null(s)?.unwrap_or(0));
            } else if k == "topicSysFlag" || k == "topicSynFlag" {
                q.topic_sys_flag = scan::i32_or_null(s)?.unwrap_or(0);
            } else {
                s.skip_value()?;
            }
            Ok(())
        })?;
        q.broker_name = scan::required(broker_name, "brokerName")?;
        Ok(q)
    }
}

/// One entry of `brokerAddrs`: broker id (0 = master, ≥ 1 = slaves) and `ip:port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerAddr<'a> {
    /// The broker id (`MixAll.MASTER_ID` = 0).
    pub id: i64,
    /// `ip:port`.
    pub addr: Text<'a>,
}

/// One broker group (a master and its slaves) (`BrokerData`).
#[derive(Debug, Clone)]
pub struct BrokerData<'a, C: Collections> {
    /// `cluster`.
    pub cluster: Option<Text<'a>>,
    /// `brokerName`.
    pub broker_name: Text<'a>,
    /// `brokerAddrs`: `{brokerId: "ip:port"}`, keys quoted or bare (fastjson).
    pub broker_addrs: C::List<BrokerAddr<'a>>,
    /// `enableActingMaster` (5.x; false when absent).
    pub enable_acting_master: bool,
    /// `zoneName` (5.x, optional).
    pub zone_name: Option<Text<'a>>,
}

eq_across_lifetimes!(BrokerData {
    plain: [cluster, broker_name, enable_acting_master, zone_name],
    lists: [broker_addrs]
});

impl<'a, C: Collections> BrokerData<'a, C> {
    /// The address of broker id `id`.
    pub fn addr(&self, id: i64) -> Option<Text<'a>> {
        self.broker_addrs
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.addr)
    }

    /// The master's address (broker id 0).
    pub fn master_addr(&self) -> Option<Text<'a>> {
        self.addr(0)
    }

    /// Read a `BrokerData` object. `brokerName` is required.
    pub fn scan(s: &mut Scanner<'a>) -> R<Self> {
        Self::scan_named(s, None)
    }

    /// As [`scan`](Self::scan), taking the broker name from `fallback` when the object
    /// has none (ClusterInfo keys its table by broker name).
    pub(crate) fn scan_named(s: &mut Scanner<'a>, fallback: Option<Text<'a>>) -> R<Self> {
        let mut broker_name = None;
        let mut b = BrokerData {
            cluster: None,
            broker_name: Text::new(""),
            broker_addrs: C::List::default(),
            enable_acting_master: false,
            zone_name: None,
        };
        scan::fields(s, |s, k| {
            if k == "brokerName" {
                broker_name = scan::text(s)?;
            } else if k == "cluster" {
                b.cluster = scan::text(s)?;
            } else if k == "brokerAddrs" {
                b.broker_addrs = scan_broker_addrs::<C>(s)?;
            } else if k == "enableActingMaster" {
                b.enable_acting_master = scan::bool_or_null(s)?.unwrap_or(false);
            } else if k == "zoneName" {
                b.zone_name = scan::text(s)?;
            } else {
                s.skip_value()?;
            }
            Ok(())
        })?;
        b.broker_name = scan::required(broker_name.or(fallback), "brokerName")?;
        Ok(b)
    }
}

/// `{0:"ip:port"}` or `{"0":"ip:port"}`; `null` is an empty map.
fn scan_broker_addrs<'a, C: Collections>(s: &mut Scanner<'a>) -> R<C::List<BrokerAddr<'a>>> {
    let mut list = C::List::<BrokerAddr<'a>>::default();
    if s.null()? {
        return Ok(list);
    }
    let bad_id = DecodeError::InvalidField {
        field: "brokerAddrs",
        expected: "broker id (i64) key",
    };
    scan::object(s, |s, key| {
        let id = match key {
            Key::Number(n) => n.parse::<i64>().map_err(|_| bad_id)?,
            Key::Str(t) => t.parse_i64().ok_or(bad_id)?,
            Key::Object(_) => return Err(bad_id),
        };
        // A null address carries nothing; Java's map would hold null and never use it.
        if let Some(addr) = scan::text(s)? {
            collections::push::<C, _>(&mut list, BrokerAddr { id, addr }, "brokerAddrs")?;
        }
        Ok(())
    })?;
    Ok(list)
}

/// The route of one topic (`TopicRouteData`).
///
/// `filterServerTable` and `topicQueueMappingByBroker` (static topics) are skipped;
/// [`has_static_queue_mapping`](Self::has_static_queue_mapping) tells whether the latter
/// was non-empty, in which case Java derives publish queues from it instead.
///
/// Lists are generic over [`Collections`]: `Fixed<N>` needs no allocator (and fails with
/// `CapacityExceeded` naming the list when a list holds more than `N` entries),
/// `Growable` uses `Vec`.
///
/// ```
/// use rocketmq_proto::body::TopicRouteData;
/// use rocketmq_proto::collections::Fixed;
/// // fastjson's non-standard form, as a pre-4.9.4 client is answered:
/// let body = br#"{"brokerDatas":[{"brokerAddrs":{0:"10.2.3.117:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":8,"topicSysFlag":0,"writeQueueNums":8}]}"#;
/// let route = TopicRouteData::<Fixed<8>>::decode(body).unwrap();
/// assert_eq!(route.master_addr("broker-a").unwrap(), "10.2.3.117:10911");
/// assert_eq!(route.publish_queues().count(), 8);
/// let (broker, queue_id) = route.subscribe_queues().last().unwrap();
/// assert_eq!((broker.as_str(), queue_id), (Some("broker-a"), 7));
///
/// # #[cfg(feature = "alloc")] {
/// use rocketmq_proto::collections::Growable;
/// let grown = TopicRouteData::<Growable>::decode(body).unwrap();
/// assert_eq!(grown.queue_datas, route.queue_datas.to_vec());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TopicRouteData<'a, C: Collections> {
    /// `orderTopicConf`: `"brokerName:queueNum;…"` for legacy ordered topics.
    pub order_topic_conf: Option<Text<'a>>,
    /// `queueDatas`.
    pub queue_datas: C::List<QueueData<'a>>,
    /// `brokerDatas`.
    pub broker_datas: C::List<BrokerData<'a, C>>,
    /// Whether `topicQueueMappingByBroker` was a non-empty object (a static topic).
    pub has_static_queue_mapping: bool,
}

eq_across_lifetimes!(TopicRouteData {
    plain: [order_topic_conf, has_static_queue_mapping],
    lists: [queue_datas, broker_datas]
});

impl<'a, C: Collections> TopicRouteData<'a, C> {
    /// Decode a GET_ROUTEINFO_BY_TOPIC response body.
    pub fn decode(body: &'a [u8]) -> R<Self> {
        scan::whole(body, Self::scan)
    }

    /// Read a `TopicRouteData` object at the scanner's position.
    pub fn scan(s: &mut Scanner<'a>) -> R<Self> {
        let mut r = TopicRouteData {
            order_topic_conf: None,
            queue_datas: C::List::default(),
            broker_datas: C::List::default(),
            has_static_queue_mapping: false,
        };
        scan::fields(s, |s, k| {
            if k == "orderTopicConf" {
                r.order_topic_conf = scan::text(s)?;
            } else if k == "queueDatas" {
                r.queue_datas = scan::list::<C, _>(s, "queueDatas", QueueData::scan)?;
            } else if k == "brokerDatas" {
                r.broker_datas = scan::list::<C, _>(s, "brokerDatas", BrokerData::scan)?;
            } else if k == "topicQueueMappingByBroker" {
                r.has_static_queue_mapping = non_empty_object(s)?;
            } else {
                s.skip_value()?;
            }
            Ok(())
        })?;
        Ok(r)
    }

    /// The broker group named `broker_name` (the first, as Java searches).
    pub fn broker(&self, broker_name: &Text<'_>) -> Option<&BrokerData<'a, C>> {
        self.broker_datas
            .iter()
            .find(|b| b.broker_name == *broker_name)
    }

    /// The master address of broker `broker_name`.
    pub fn master_addr(&self, broker_name: &str) -> Option<Text<'a>> {
        self.broker(&Text::new(broker_name))?.master_addr()
    }

    /// Whether `orderTopicConf` is set and non-empty (publish queues then come from it).
    pub fn is_order_topic(&self) -> bool {
        self.order_topic_conf.is_some_and(|t| !t.is_empty())
    }

    /// The queues a producer may send to, as `(brokerName, queueId)`, in Java's order.
    ///
    /// With a non-empty `orderTopicConf`: for each `brokerName:count` entry (split by
    /// `;` then `:`), ids `0..count`; malformed entries (no `:`, non-numeric count, where
    /// Java would throw) are skipped. Otherwise: `queueDatas` sorted by broker name
    /// (stable, Java `String` order), each WRITE-able one whose broker has a master
    /// (id 0) gives ids `0..writeQueueNums`. Static topics (see
    /// [`has_static_queue_mapping`](Self::has_static_queue_mapping)) are not derived.
    pub fn publish_queues(&self) -> PublishQueues<'_, 'a, C> {
        let state = match self.order_topic_conf.filter(|t| !t.is_empty()) {
            Some(conf) => PublishState::Order {
                rest: Some(conf.raw()),
                current: None,
            },
            None => PublishState::Queues {
                current: None,
                next_id: 0,
                sorted: self.queue_datas.windows(2).all(|w| match w {
                    [a, b] => java_cmp(&a.broker_name, &b.broker_name) != Ordering::Greater,
                    _ => true,
                }),
            },
        };
        PublishQueues { route: self, state }
    }

    /// The queues a consumer may read, as `(brokerName, queueId)`: for each READ-able
    /// `QueueData` in order, ids `0..readQueueNums`. (Java keeps them in a set; the
    /// rebalance sorts them, see [`MessageQueue`](super::MessageQueue)'s `Ord`.)
    pub fn subscribe_queues(&self) -> SubscribeQueues<'_, 'a> {
        SubscribeQueues {
            queue_datas: &self.queue_datas,
            index: 0,
            next_id: 0,
        }
    }
}

fn non_empty_object(s: &mut Scanner<'_>) -> R<bool> {
    if s.null()? {
        return Ok(false);
    }
    let mut any = false;
    scan::object(s, |s, _| {
        any = true;
        s.skip_value()
    })?;
    Ok(any)
}

/// Iterator over publish queues; see [`TopicRouteData::publish_queues`].
#[derive(Debug, Clone)]
pub struct PublishQueues<'r, 'a, C: Collections> {
    route: &'r TopicRouteData<'a, C>,
    state: PublishState<'a>,
}

#[derive(Debug, Clone)]
enum PublishState<'a> {
    /// Walking `orderTopicConf`: the unparsed rest, and the entry being expanded
    /// (broker name, count, next id).
    Order {
        rest: Option<&'a str>,
        current: Option<(Text<'a>, i32, i32)>,
    },
    /// Walking `queueDatas` in sorted order: the index of the current one, and whether
    /// the list is already sorted (then the walk is linear).
    Queues {
        current: Option<usize>,
        next_id: i32,
        sorted: bool,
    },
}

/// A sub-slice of a (possibly escaped) JSON text, kept as a text.
fn sub_text(raw: &str) -> Text<'_> {
    Text::json(raw, raw.contains('\\'))
}

impl<'a, C: Collections> Iterator for PublishQueues<'_, 'a, C> {
    type Item = (Text<'a>, i32);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.state {
            PublishState::Order { rest, current } => loop {
                if let Some((name, count, next)) = current {
                    if *next < *count {
                        let id = *next;
                        *next += 1;
                        return Some((*name, id));
                    }
                }
                // Next `name:count` entry. (Splitting the raw text means an escaped
                // `;` or `:` does not split, unlike Java; broker names never hold them.)
                let r = (*rest)?;
                let (entry, tail) = match r.split_once(';') {
                    Some((e, t)) => (e, Some(t)),
                    None => (r, None),
                };
                *rest = tail;
                let mut parts = entry.split(':');
                let name = parts.next().unwrap_or_default();
                *current = parts
                    .next()
                    .and_then(|n| sub_text(n).parse_i32())
                    .map(|count| (sub_text(name), count, 0));
            },
            PublishState::Queues {
                current,
                next_id,
                sorted,
            } => loop {
                let queue_datas: &[QueueData<'a>] = &self.route.queue_datas;
                if let Some(q) = current.and_then(|i| queue_datas.get(i)) {
                    if *next_id < q.write_queue_nums {
                        let id = *next_id;
                        *next_id += 1;
                        return Some((q.broker_name, id));
                    }
                }
                // Advance to the next QueueData in (brokerName, index) order that is
                // writable and whose broker has a master.
                let mut from = *current;
                loop {
                    let i = if *sorted {
                        from.map_or(0, |p| p.saturating_add(1))
                    } else {
                        next_sorted(queue_datas, from)?
                    };
                    from = Some(i);
                    let q = queue_datas.get(i)?;
                    let has_master = self
                        .route
                        .broker(&q.broker_name)
                        .is_some_and(|b| b.master_addr().is_some());
                    if q.perm.is_writable() && has_master {
                        break;
                    }
                }
                *current = from;
                *next_id = 0;
            },
        }
    }
}

/// The index of the entry after `after` in a stable sort by broker name (Java's
/// `Collections.sort(queueDatas)`), without allocating: O(n) per step, so O(n²) for a
/// route whose `queueDatas` are not already sorted (servers send them sorted or few).
fn next_sorted(qds: &[QueueData<'_>], after: Option<usize>) -> Option<usize> {
    let key_cmp = |a: usize, b: usize| -> Ordering {
        match (qds.get(a), qds.get(b)) {
            (Some(x), Some(y)) => java_cmp(&x.broker_name, &y.broker_name).then(a.cmp(&b)),
            _ => a.cmp(&b),
        }
    };
    (0..qds.len())
        .filter(|&j| after.is_none_or(|p| key_cmp(j, p) == Ordering::Greater))
        .min_by(|&a, &b| key_cmp(a, b))
}

/// Iterator over subscribe queues; see [`TopicRouteData::subscribe_queues`].
#[derive(Debug, Clone)]
pub struct SubscribeQueues<'r, 'a> {
    queue_datas: &'r [QueueData<'a>],
    index: usize,
    next_id: i32,
}

impl<'a> Iterator for SubscribeQueues<'_, 'a> {
    type Item = (Text<'a>, i32);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let q = self.queue_datas.get(self.index)?;
            if q.perm.is_readable() && self.next_id < q.read_queue_nums {
                let id = self.next_id;
                self.next_id += 1;
                return Some((q.broker_name, id));
            }
            self.index += 1;
            self.next_id = 0;
        }
    }
}
