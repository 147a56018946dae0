//! Wire helpers of the simulation: owned views of decoded commands and the JSON bodies
//! a NameServer and a broker write (TopicRouteData, ClusterInfo, consumer id lists,
//! ResetOffsetBody) in the shapes the Java servers produce (wire.md §7).

use std::collections::BTreeMap;

use rocketmq_proto::ext::ExtFields;
use rocketmq_proto::json::write_str;
use rocketmq_proto::out::BufMutOut;

/// `extFields` as an ordered owned map (values JSON-unescaped).
pub(crate) fn fields_map(fields: &ExtFields<'_>) -> BTreeMap<String, String> {
    fields
        .iter()
        .map(|(k, v)| (k.to_string_lossless(), v.to_string_lossless()))
        .collect()
}

/// A small JSON writer over a `Vec<u8>`: keys always quoted unless written raw.
pub(crate) struct Json(pub Vec<u8>);

impl Json {
    pub fn new() -> Self {
        Json(Vec::new())
    }
    pub fn raw(&mut self, s: &str) -> &mut Self {
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    pub fn str(&mut self, s: &str) -> &mut Self {
        write_str(&mut BufMutOut(&mut self.0), s);
        self
    }
    pub fn num(&mut self, n: i64) -> &mut Self {
        self.raw(&n.to_string())
    }
    /// `"key":`
    pub fn key(&mut self, k: &str) -> &mut Self {
        self.str(k).raw(":")
    }
}

/// One broker group as a route / cluster-info entry.
pub(crate) struct BrokerEntry<'a> {
    pub cluster: &'a str,
    pub name: &'a str,
    pub addrs: Vec<(i64, &'a str)>,
}

/// One QueueData entry.
pub(crate) struct QueueEntry<'a> {
    pub broker_name: &'a str,
    pub read: i32,
    pub write: i32,
    pub perm: i32,
    pub sys_flag: i32,
}

/// `BrokerData`; `standard` quotes the numeric `brokerAddrs` keys (fastjson writes
/// them bare unless asked for standard JSON, wire.md §7.2).
fn broker_data(j: &mut Json, b: &BrokerEntry<'_>, standard: bool) {
    j.raw("{").key("brokerAddrs").raw("{");
    for (i, (id, addr)) in b.addrs.iter().enumerate() {
        if i > 0 {
            j.raw(",");
        }
        if standard {
            j.str(&id.to_string());
        } else {
            j.num(*id);
        }
        j.raw(":").str(addr);
    }
    j.raw("},")
        .key("brokerName")
        .str(b.name)
        .raw(",")
        .key("cluster")
        .str(b.cluster)
        .raw(",")
        .key("enableActingMaster")
        .raw("false}");
}

/// TopicRouteData (wire.md §7.2), keys in fastjson's alphabetical order.
pub(crate) fn topic_route(
    brokers: &[BrokerEntry<'_>],
    queues: &[QueueEntry<'_>],
    standard: bool,
) -> Vec<u8> {
    let mut j = Json::new();
    j.raw("{").key("brokerDatas").raw("[");
    for (i, b) in brokers.iter().enumerate() {
        if i > 0 {
            j.raw(",");
        }
        broker_data(&mut j, b, standard);
    }
    j.raw("],").key("filterServerTable").raw("{},");
    j.key("queueDatas").raw("[");
    for (i, q) in queues.iter().enumerate() {
        if i > 0 {
            j.raw(",");
        }
        j.raw("{")
            .key("brokerName")
            .str(q.broker_name)
            .raw(",")
            .key("perm")
            .num(q.perm.into())
            .raw(",")
            .key("readQueueNums")
            .num(q.read.into())
            .raw(",")
            .key("topicSysFlag")
            .num(q.sys_flag.into())
            .raw(",")
            .key("writeQueueNums")
            .num(q.write.into())
            .raw("}");
    }
    j.raw("]}");
    j.0
}

/// ClusterInfo (wire.md §7.3): always fastjson's bare numeric keys.
pub(crate) fn cluster_info(brokers: &[BrokerEntry<'_>]) -> Vec<u8> {
    let mut j = Json::new();
    j.raw("{").key("brokerAddrTable").raw("{");
    for (i, b) in brokers.iter().enumerate() {
        if i > 0 {
            j.raw(",");
        }
        j.key(b.name);
        broker_data(&mut j, b, false);
    }
    j.raw("},").key("clusterAddrTable").raw("{");
    let mut clusters: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for b in brokers {
        clusters.entry(b.cluster).or_default().push(b.name);
    }
    for (i, (c, names)) in clusters.iter().enumerate() {
        if i > 0 {
            j.raw(",");
        }
        j.key(c).raw("[");
        for (k, n) in names.iter().enumerate() {
            if k > 0 {
                j.raw(",");
            }
            j.str(n);
        }
        j.raw("]");
    }
    j.raw("}}");
    j.0
}

/// `{"<listKey>":["a","b"]}` (consumer id lists, topic lists).
pub(crate) fn string_list(list_key: &str, items: &[String]) -> Vec<u8> {
    let mut j = Json::new();
    j.raw("{").key(list_key).raw("[");
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            j.raw(",");
        }
        j.str(s);
    }
    j.raw("]}");
    j.0
}

/// ResetOffsetBody in fastjson's form: MessageQueue objects as map keys (wire.md §7.7).
pub(crate) fn reset_offset_body(topic: &str, broker_name: &str, offsets: &[(i32, i64)]) -> Vec<u8> {
    let mut j = Json::new();
    j.raw("{").key("offsetTable").raw("{");
    for (i, (q, off)) in offsets.iter().enumerate() {
        if i > 0 {
            j.raw(",");
        }
        j.raw("{")
            .key("brokerName")
            .str(broker_name)
            .raw(",")
            .key("queueId")
            .num((*q).into())
            .raw(",")
            .key("topic")
            .str(topic)
            .raw("}:")
            .num(*off);
    }
    j.raw("}}");
    j.0
}
