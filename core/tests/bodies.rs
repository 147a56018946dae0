//! JSON bodies: wire.md §12 W6, the real captured bodies, fixed vs growable decoding,
//! capacity limits, encode → decode round trips and hostile input.

use proptest::prelude::*;
use rocketmq_proto::body::{
    ClusterInfo, ConsumeFromWhere, ConsumeType, ConsumerData, ConsumerIdList, EncodeBody,
    ExpressionType, HeartbeatData, LockBatchRequestBody, LockBatchResponseBody, MessageModel,
    MessageQueue, MessageRequestMode, Perm, ProducerData, QueryAssignmentRequestBody,
    QueryAssignmentResponseBody, ResetOffsetBody, SubscriptionData, TopicList, TopicRouteData,
    WireEnum,
};
use rocketmq_proto::collections::Fixed;
use rocketmq_proto::error::JsonError;
use rocketmq_proto::{DecodeError, Text};

type F8 = Fixed<8>;

/// wire.md §7.2, request with version 453: standard JSON.
const ROUTE_STANDARD: &str = r#"{"brokerDatas":[{"brokerAddrs":{"0":"10.2.3.117:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":8,"topicSysFlag":0,"writeQueueNums":8}]}"#;
/// wire.md §7.2, request with version 373: fastjson's bare numeric keys.
const ROUTE_FASTJSON: &str = r#"{"brokerDatas":[{"brokerAddrs":{0:"10.2.3.117:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":8,"topicSysFlag":0,"writeQueueNums":8}]}"#;
/// wire.md §7.3.
const CLUSTER_INFO: &str = r#"{"brokerAddrTable":{"broker_37_master":{"brokerAddrs":{0:"172.16.16.37:10911"},"brokerName":"broker_37_master","cluster":"37_cluster"}},"clusterAddrTable":{"37_cluster":["broker_37_master"]}}"#;
/// wire.md §7.7.
const RESET_OFFSET: &str = r#"{"offsetTable":{{"brokerName":"RaftNode00","queueId":0,"topic":"topicB"}:11110,{"brokerName":"RaftNode00","queueId":1,"topic":"topicB"}:0}}"#;

/// The body of a captured frame: after the 4-byte length, the 4-byte serialize-type /
/// header-length word and the header.
fn capture_body(hex_text: &str) -> Vec<u8> {
    let frame = hex::decode(hex_text.trim()).unwrap();
    let word = u32::from_be_bytes(frame[4..8].try_into().unwrap());
    let header_len = (word & 0x00ff_ffff) as usize;
    frame[8 + header_len..].to_vec()
}

fn strs<'a>(it: impl Iterator<Item = (Text<'a>, i32)>) -> Vec<(String, i32)> {
    it.map(|(b, q)| (b.chars().collect(), q)).collect()
}

// ---------------------------------------------------------------- W6 and §7 examples

#[test]
fn w6_route_bodies_standard_and_fastjson() {
    for body in [ROUTE_STANDARD, ROUTE_FASTJSON] {
        let r = TopicRouteData::<F8>::decode(body.as_bytes()).unwrap();
        assert_eq!(r.broker_datas.len(), 1);
        let b = &r.broker_datas[0];
        assert_eq!(b.broker_name, "broker-a");
        assert_eq!(b.cluster.unwrap(), "DefaultCluster");
        assert!(!b.enable_acting_master);
        assert_eq!(b.zone_name, None);
        assert_eq!(b.broker_addrs.len(), 1);
        assert_eq!(b.broker_addrs[0].id, 0);
        assert_eq!(b.broker_addrs[0].addr, "10.2.3.117:10911");
        assert_eq!(b.master_addr().unwrap(), "10.2.3.117:10911");
        assert_eq!(b.addr(1), None);
        assert_eq!(r.queue_datas.len(), 1);
        let q = r.queue_datas[0];
        assert_eq!(q.broker_name, "broker-a");
        assert_eq!(q.perm, Perm(6));
        assert!(q.perm.is_readable() && q.perm.is_writable());
        assert_eq!(
            (q.read_queue_nums, q.write_queue_nums, q.topic_sys_flag),
            (8, 8, 0)
        );
        assert_eq!(r.order_topic_conf, None);
        assert!(!r.has_static_queue_mapping);
        let expected: Vec<(String, i32)> = (0..8).map(|i| ("broker-a".into(), i)).collect();
        assert_eq!(strs(r.publish_queues()), expected);
        assert_eq!(strs(r.subscribe_queues()), expected);
    }
}

#[test]
fn w6_cluster_info() {
    let c = ClusterInfo::<F8>::decode(CLUSTER_INFO.as_bytes()).unwrap();
    assert_eq!(c.broker_addr_table.len(), 1);
    let b = c.broker("broker_37_master").unwrap();
    assert_eq!(b.cluster.unwrap(), "37_cluster");
    assert_eq!(b.master_addr().unwrap(), "172.16.16.37:10911");
    let brokers = c.cluster("37_cluster").unwrap();
    assert_eq!(brokers.len(), 1);
    assert_eq!(brokers[0], "broker_37_master");
    assert!(c.cluster("other").is_none());
}

#[test]
fn w6_reset_offset_object_keys() {
    let r = ResetOffsetBody::<F8>::decode(RESET_OFFSET.as_bytes()).unwrap();
    assert_eq!(r.offset_table.len(), 2);
    assert_eq!(
        r.offset_of(&MessageQueue::new("topicB", "RaftNode00", 0)),
        Some(11110)
    );
    assert_eq!(
        r.offset_of(&MessageQueue::new("topicB", "RaftNode00", 1)),
        Some(0)
    );
    assert_eq!(
        r.offset_of(&MessageQueue::new("topicB", "RaftNode00", 2)),
        None
    );
}

#[test]
fn reset_offset_pair_and_for_c_forms() {
    let pairs = br#"{"offsetTable":[[{"topic":"t","brokerName":"b","queueId":5},23354233],[{"topic":"t","brokerName":"b","queueId":6},-1]]}"#;
    let r = ResetOffsetBody::<F8>::decode(pairs).unwrap();
    assert_eq!(r.offset_of(&MessageQueue::new("t", "b", 5)), Some(23354233));
    assert_eq!(r.offset_of(&MessageQueue::new("t", "b", 6)), Some(-1));
    let for_c = br#"{"offsetTable":[{"brokerName":"b","offset":42,"queueId":3,"topic":"t"}]}"#;
    let r = ResetOffsetBody::<F8>::decode(for_c).unwrap();
    assert_eq!(r.offset_table.len(), 1);
    assert_eq!(r.offset_of(&MessageQueue::new("t", "b", 3)), Some(42));
    // An empty / null table.
    assert!(ResetOffsetBody::<F8>::decode(br#"{"offsetTable":{}}"#)
        .unwrap()
        .offset_table
        .is_empty());
    assert!(ResetOffsetBody::<F8>::decode(br#"{"offsetTable":null}"#)
        .unwrap()
        .offset_table
        .is_empty());
    // A string key cannot be a MessageQueue; a pair must have exactly two elements.
    for bad in [
        &br#"{"offsetTable":{"x":1}}"#[..],
        br#"{"offsetTable":[[{"topic":"t","brokerName":"b","queueId":5}]]}"#,
        br#"{"offsetTable":[[{"topic":"t","brokerName":"b","queueId":5},1,2]]}"#,
        br#"{"offsetTable":[1]}"#,
        br#"{"offsetTable":"x"}"#,
    ] {
        assert!(
            ResetOffsetBody::<F8>::decode(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn route_from_4x_servers_topic_syn_flag() {
    // issue #1445: servers <= 4.8 spell the field `topicSynFlag`.
    let body = br#"{"brokerDatas":[{"brokerAddrs":{0:"172.168.0.104:10911",1:"172.168.0.105:10911"},"brokerName":"b1","cluster":"c"}],"queueDatas":[{"brokerName":"b1","perm":6,"readQueueNums":4,"topicSynFlag":3,"writeQueueNums":4}]}"#;
    let r = TopicRouteData::<F8>::decode(body).unwrap();
    assert_eq!(r.queue_datas[0].topic_sys_flag, 3);
    let b = &r.broker_datas[0];
    assert_eq!(b.addr(1).unwrap(), "172.168.0.105:10911");
    assert_eq!(r.master_addr("b1").unwrap(), "172.168.0.104:10911");
    assert_eq!(r.master_addr("b2"), None);
}

#[test]
fn other_small_bodies() {
    let ids = ConsumerIdList::<F8>::decode(br#"{"consumerIdList":["a@1",null,"b@2"]}"#).unwrap();
    assert_eq!(ids.consumer_id_list.len(), 2);
    assert_eq!(ids.consumer_id_list[1], "b@2");
    let tl = TopicList::<F8>::decode(
        br#"{"brokerAddr":"1.2.3.4:10911","topicList":["TBW102","t\u0041"]}"#,
    )
    .unwrap();
    assert_eq!(tl.topic_list[1], "tA");
    assert_eq!(tl.broker_addr.unwrap(), "1.2.3.4:10911");
    let lr = LockBatchResponseBody::<F8>::decode(
        br#"{"lockOKMQSet":[{"brokerName":"b","queueId":1,"topic":"t"},{"topic":"t","queueId":2,"brokerName":"b"}]}"#,
    )
    .unwrap();
    assert_eq!(
        &lr.lock_ok_mq_set[..],
        &[
            MessageQueue::new("t", "b", 1),
            MessageQueue::new("t", "b", 2)
        ]
    );
    let qa = QueryAssignmentResponseBody::<F8>::decode(
        br#"{"messageQueueAssignments":[{"messageQueue":{"brokerName":"b","queueId":0,"topic":"t"}},{"attachments":{"k":"v"},"messageQueue":{"brokerName":"b","queueId":1,"topic":"t"},"mode":"POP"}]}"#,
    )
    .unwrap();
    assert_eq!(qa.message_queue_assignments.len(), 2);
    assert_eq!(
        qa.message_queue_assignments[0].mode,
        MessageRequestMode::Pull
    );
    assert_eq!(
        qa.message_queue_assignments[1].mode,
        MessageRequestMode::Pop
    );
    assert_eq!(
        qa.message_queue_assignments[1].message_queue,
        MessageQueue::new("t", "b", 1)
    );
    assert!(QueryAssignmentResponseBody::<F8>::decode(
        br#"{"messageQueueAssignments":[{"mode":"PULL"}]}"#
    )
    .is_err());
    assert!(QueryAssignmentResponseBody::<F8>::decode(
        br#"{"messageQueueAssignments":[{"messageQueue":{"brokerName":"b","queueId":0,"topic":"t"},"mode":"PUSH"}]}"#
    )
    .is_err());
}

#[test]
fn enum_strings_are_exact() {
    let all: Vec<&str> = ConsumeFromWhere::ALL.iter().map(|v| v.as_str()).collect();
    assert_eq!(
        all,
        [
            "CONSUME_FROM_LAST_OFFSET",
            "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
            "CONSUME_FROM_MIN_OFFSET",
            "CONSUME_FROM_MAX_OFFSET",
            "CONSUME_FROM_FIRST_OFFSET",
            "CONSUME_FROM_TIMESTAMP"
        ]
    );
    let ct: Vec<&str> = ConsumeType::ALL.iter().map(|v| v.as_str()).collect();
    assert_eq!(ct, ["CONSUME_ACTIVELY", "CONSUME_PASSIVELY", "CONSUME_POP"]);
    assert_eq!(MessageModel::Broadcasting.as_str(), "BROADCASTING");
    assert_eq!(MessageModel::Clustering.as_str(), "CLUSTERING");
    assert_eq!(ExpressionType::Sql92.as_str(), "SQL92");
    assert_eq!(ExpressionType::from_wire("TAG"), Some(ExpressionType::Tag));
    assert_eq!(
        MessageRequestMode::from_wire("POP"),
        Some(MessageRequestMode::Pop)
    );
    assert_eq!(MessageModel::from_wire("clustering"), None);
}

// ---------------------------------------------------------------- publish / subscribe queues

#[test]
fn publish_queues_follow_java() {
    // Java sorts queueDatas by brokerName (stable), skips non-writable ones and brokers
    // without a master (id 0); subscribe queues take every readable one in order.
    let body = br#"{"brokerDatas":[
        {"brokerAddrs":{"0":"a:1"},"brokerName":"broker-c"},
        {"brokerAddrs":{"1":"slave:1"},"brokerName":"broker-b"},
        {"brokerAddrs":{"0":"a:2"},"brokerName":"broker-a"},
        {"brokerAddrs":{"0":"a:3"},"brokerName":"broker-d"}],
      "queueDatas":[
        {"brokerName":"broker-c","perm":6,"readQueueNums":1,"writeQueueNums":2},
        {"brokerName":"broker-b","perm":6,"readQueueNums":1,"writeQueueNums":1},
        {"brokerName":"broker-a","perm":2,"readQueueNums":3,"writeQueueNums":1},
        {"brokerName":"broker-d","perm":4,"readQueueNums":1,"writeQueueNums":1},
        {"brokerName":"broker-e","perm":6,"readQueueNums":1,"writeQueueNums":1}]}"#;
    let r = TopicRouteData::<F8>::decode(body).unwrap();
    assert!(!r.is_order_topic());
    assert_eq!(
        strs(r.publish_queues()),
        [
            ("broker-a".into(), 0),
            ("broker-c".into(), 0),
            ("broker-c".into(), 1)
        ]
    );
    assert_eq!(
        strs(r.subscribe_queues()),
        [
            ("broker-c".to_string(), 0),
            ("broker-b".into(), 0),
            ("broker-d".into(), 0),
            ("broker-e".into(), 0)
        ]
    );
}

#[test]
fn publish_queues_stable_for_equal_names() {
    let body = br#"{"brokerDatas":[{"brokerAddrs":{"0":"a:1"},"brokerName":"b"}],
      "queueDatas":[{"brokerName":"b","perm":6,"writeQueueNums":2},{"brokerName":"b","perm":6,"writeQueueNums":1}]}"#;
    let r = TopicRouteData::<F8>::decode(body).unwrap();
    assert_eq!(
        strs(r.publish_queues()),
        [("b".into(), 0), ("b".into(), 1), ("b".into(), 0)]
    );
    // Unsorted input with equal names keeps their relative order.
    let body = br#"{"brokerDatas":[{"brokerAddrs":{"0":"a:1"},"brokerName":"b"},{"brokerAddrs":{"0":"a:2"},"brokerName":"a"}],
      "queueDatas":[{"brokerName":"b","perm":6,"writeQueueNums":2},{"brokerName":"a","perm":6,"writeQueueNums":1},{"brokerName":"b","perm":6,"writeQueueNums":1}]}"#;
    let r = TopicRouteData::<F8>::decode(body).unwrap();
    assert_eq!(
        strs(r.publish_queues()),
        [
            ("a".into(), 0),
            ("b".into(), 0),
            ("b".into(), 1),
            ("b".into(), 0)
        ]
    );
}

#[test]
fn publish_queues_from_order_topic_conf() {
    let body = br#"{"orderTopicConf":"broker-b:2;broker-a:1;bad;x:y;broker-c:0;broker-d:1","brokerDatas":[],"queueDatas":[{"brokerName":"q","perm":6,"readQueueNums":1,"writeQueueNums":4}]}"#;
    let r = TopicRouteData::<F8>::decode(body).unwrap();
    assert!(r.is_order_topic());
    assert_eq!(
        strs(r.publish_queues()),
        [
            ("broker-b".into(), 0),
            ("broker-b".into(), 1),
            ("broker-a".into(), 0),
            ("broker-d".into(), 0)
        ]
    );
    // An empty orderTopicConf means "not ordered".
    let body = br#"{"orderTopicConf":"","brokerDatas":[{"brokerAddrs":{"0":"a:1"},"brokerName":"q"}],"queueDatas":[{"brokerName":"q","perm":6,"readQueueNums":1,"writeQueueNums":1}]}"#;
    let r = TopicRouteData::<F8>::decode(body).unwrap();
    assert!(!r.is_order_topic());
    assert_eq!(strs(r.publish_queues()), [("q".into(), 0)]);
}

#[test]
fn static_topic_mapping_is_flagged() {
    let body = br#"{"brokerDatas":[],"queueDatas":[],"topicQueueMappingByBroker":{"b":{"bname":"b","totalQueues":8}}}"#;
    assert!(
        TopicRouteData::<F8>::decode(body)
            .unwrap()
            .has_static_queue_mapping
    );
    let body = br#"{"brokerDatas":[],"queueDatas":[],"topicQueueMappingByBroker":{}}"#;
    assert!(
        !TopicRouteData::<F8>::decode(body)
            .unwrap()
            .has_static_queue_mapping
    );
}

#[test]
fn message_queue_orders_like_java() {
    let mut v = [
        MessageQueue::new("t", "b", 10),
        MessageQueue::new("t", "a", 3),
        MessageQueue::new("s", "z", 0),
        MessageQueue::new("t", "b", 2),
    ];
    v.sort();
    assert_eq!(
        v,
        [
            MessageQueue::new("s", "z", 0),
            MessageQueue::new("t", "a", 3),
            MessageQueue::new("t", "b", 2),
            MessageQueue::new("t", "b", 10)
        ]
    );
}

// ---------------------------------------------------------------- real captures

#[test]
fn captured_route_responses() {
    for (hex_text, addr) in [
        (
            include_str!("data/captures/route-response.hex"),
            "127.0.0.1:10911",
        ),
        (
            include_str!("data/captures/mixed-route-response-json.hex"),
            "127.0.0.1:10911",
        ),
        (
            include_str!("data/captures/bin-route-response.hex"),
            "127.0.0.1:20911",
        ),
    ] {
        let body = capture_body(hex_text);
        let r = TopicRouteData::<F8>::decode(&body).unwrap();
        // Explicit nulls: "orderTopicConf":null, "zoneName":null, "topicQueueMappingInfo":null.
        assert_eq!(r.order_topic_conf, None);
        assert_eq!(r.broker_datas.len(), 1);
        let b = &r.broker_datas[0];
        assert_eq!(b.broker_name, "broker-a");
        assert_eq!(b.cluster.unwrap(), "DefaultCluster");
        assert_eq!(b.zone_name, None);
        assert_eq!(b.master_addr().unwrap(), addr);
        assert_eq!(r.queue_datas.len(), 1);
        let q = r.queue_datas[0];
        assert_eq!(
            (
                q.read_queue_nums,
                q.write_queue_nums,
                q.perm,
                q.topic_sys_flag
            ),
            (4, 4, Perm(6), 0)
        );
        assert_eq!(r.publish_queues().count(), 4);
        assert_eq!(
            r.subscribe_queues().map(|(_, q)| q).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
    }
}

#[test]
fn captured_consumer_heartbeats() {
    for (hex_text, client_id, group, topic) in [
        (
            include_str!("data/captures/heartbeat-request.hex"),
            "192.0.2.2@5611#1795524663748719616",
            "PeerGroup_r1795524663713",
            "PeerCaptureV2",
        ),
        (
            include_str!("data/captures/bin-heartbeat-request.hex"),
            "192.0.2.2@6331#1795524729653030148",
            "PeerGroup_r1795524729617",
            "PeerCaptureBin",
        ),
    ] {
        let body = capture_body(hex_text);
        let hb = HeartbeatData::<F8>::decode(&body).unwrap();
        assert_eq!(hb.client_id, client_id);
        assert_eq!(hb.heartbeat_fingerprint, 0);
        assert!(!hb.without_sub);
        assert_eq!(hb.producer_data_set.len(), 1);
        assert_eq!(hb.producer_data_set[0].group_name, "CLIENT_INNER_PRODUCER");
        assert_eq!(hb.consumer_data_set.len(), 1);
        let c = &hb.consumer_data_set[0];
        assert_eq!(c.group_name, group);
        assert_eq!(c.consume_type, ConsumeType::Passively);
        assert_eq!(c.message_model, MessageModel::Clustering);
        assert_eq!(c.consume_from_where, ConsumeFromWhere::FirstOffset);
        assert!(!c.unit_mode);
        assert_eq!(c.subscription_data_set.len(), 2);
        let retry_topic = format!("%RETRY%{group}");
        let retry = c
            .subscription_data_set
            .iter()
            .find(|s| s.topic == retry_topic.as_str())
            .unwrap();
        assert_eq!(retry.sub_string, "*");
        assert!(retry.tags_set.is_empty() && retry.code_set.is_empty());
        let sub = c
            .subscription_data_set
            .iter()
            .find(|s| s.topic == topic)
            .unwrap();
        assert_eq!(sub.sub_string, "TagA");
        assert_eq!(&sub.tags_set[..], &[Text::from("TagA")]);
        // "TagA".hashCode() in Java.
        assert_eq!(&sub.code_set[..], &[2598919]);
        assert_eq!(sub.expression_type, ExpressionType::Tag);
        assert_eq!(sub.sub_version, 0);
        assert!(!sub.class_filter_mode);
    }
}

#[test]
fn captured_producer_heartbeat() {
    let body = capture_body(include_str!("data/captures/heartbeat-producer-request.hex"));
    let hb = HeartbeatData::<F8>::decode(&body).unwrap();
    assert_eq!(hb.client_id, "192.0.2.2@5611#1795524663714191649");
    let groups: Vec<String> = hb
        .producer_data_set
        .iter()
        .map(|p| p.group_name.chars().collect())
        .collect();
    assert_eq!(groups, ["CLIENT_INNER_PRODUCER", "PeerCaptureProducer"]);
    assert!(hb.consumer_data_set.is_empty());
}

// ---------------------------------------------------------------- Fixed vs Growable, capacity

#[cfg(feature = "alloc")]
mod growable {
    use super::*;
    use rocketmq_proto::collections::Growable;

    #[test]
    fn fixed_and_growable_decode_the_same_content() {
        let route_bodies = [
            ROUTE_STANDARD.as_bytes().to_vec(),
            ROUTE_FASTJSON.as_bytes().to_vec(),
            capture_body(include_str!("data/captures/route-response.hex")),
        ];
        for body in &route_bodies {
            let f = TopicRouteData::<F8>::decode(body).unwrap();
            let g = TopicRouteData::<Growable>::decode(body).unwrap();
            assert_eq!(&f.queue_datas[..], &g.queue_datas[..]);
            assert_eq!(f.order_topic_conf, g.order_topic_conf);
            assert_eq!(f.broker_datas.len(), g.broker_datas.len());
            for (a, b) in f.broker_datas.iter().zip(&g.broker_datas) {
                assert_eq!(a.broker_name, b.broker_name);
                assert_eq!(a.cluster, b.cluster);
                assert_eq!(&a.broker_addrs[..], &b.broker_addrs[..]);
            }
            assert_eq!(strs(f.publish_queues()), strs(g.publish_queues()));
        }
        for hex_text in [
            include_str!("data/captures/heartbeat-request.hex"),
            include_str!("data/captures/heartbeat-producer-request.hex"),
        ] {
            let body = capture_body(hex_text);
            let f = HeartbeatData::<F8>::decode(&body).unwrap();
            let g = HeartbeatData::<Growable>::decode(&body).unwrap();
            // Same content ⇒ same canonical encoding.
            assert_eq!(f.to_vec(), g.to_vec());
            assert_eq!(f.client_id, g.client_id);
        }
        let f = ClusterInfo::<F8>::decode(CLUSTER_INFO.as_bytes()).unwrap();
        let g = ClusterInfo::<Growable>::decode(CLUSTER_INFO.as_bytes()).unwrap();
        assert_eq!(f.cluster("37_cluster"), g.cluster("37_cluster"));
        assert_eq!(
            f.broker_addr_table[0].master_addr(),
            g.broker_addr_table[0].master_addr()
        );
        let f = ResetOffsetBody::<F8>::decode(RESET_OFFSET.as_bytes()).unwrap();
        let g = ResetOffsetBody::<Growable>::decode(RESET_OFFSET.as_bytes()).unwrap();
        assert_eq!(&f.offset_table[..], &g.offset_table[..]);
    }

    #[test]
    fn growable_holds_long_lists() {
        let ids: Vec<String> = (0..1000).map(|i| format!("\"c{i}\"")).collect();
        let body = format!("{{\"consumerIdList\":[{}]}}", ids.join(","));
        let l = ConsumerIdList::<Growable>::decode(body.as_bytes()).unwrap();
        assert_eq!(l.consumer_id_list.len(), 1000);
        assert_eq!(l.consumer_id_list[999], "c999");
    }

    /// The same shapes, deserialized by serde-json-core: an independent check that the
    /// encoders write standard JSON with Java's key names.
    mod serde_mirror {
        use serde::Deserialize;

        #[derive(Deserialize, Debug, PartialEq)]
        #[allow(non_snake_case)]
        pub struct Mq {
            pub brokerName: String,
            pub queueId: i32,
            pub topic: String,
        }

        #[derive(Deserialize, Debug)]
        #[allow(non_snake_case)]
        pub struct Lock {
            pub clientId: String,
            pub consumerGroup: String,
            pub mqSet: Vec<Mq>,
            pub onlyThisBroker: bool,
        }
    }

    proptest! {
        #[test]
        fn lock_body_is_standard_json(
            group in any::<String>(),
            client in any::<String>(),
            mqs in proptest::collection::vec((any::<String>(), any::<String>(), any::<i32>()), 0..4),
            only in any::<bool>(),
        ) {
            let mut req = LockBatchRequestBody::<Growable>::new(group.as_str().into(), client.as_str().into());
            req.only_this_broker = only;
            for (t, b, q) in &mqs {
                req.mq_set.push(MessageQueue::new(t, b, *q));
            }
            let json = req.to_vec();
            let mut scratch = vec![0u8; json.len()];
            let (m, _) = serde_json_core::from_slice_escaped::<serde_mirror::Lock>(&json, &mut scratch)
                .map_err(|e| TestCaseError::fail(format!("{e:?}: {}", String::from_utf8_lossy(&json))))?;
            prop_assert_eq!(&m.clientId, &client);
            prop_assert_eq!(&m.consumerGroup, &group);
            prop_assert_eq!(m.onlyThisBroker, only);
            let want: Vec<serde_mirror::Mq> = mqs
                .iter()
                .map(|(t, b, q)| serde_mirror::Mq { brokerName: b.clone(), queueId: *q, topic: t.clone() })
                .collect();
            prop_assert_eq!(m.mqSet, want);
        }
    }
}

#[test]
fn capacity_overflow_names_the_list() {
    let two_queues = br#"{"queueDatas":[{"brokerName":"a"},{"brokerName":"b"}]}"#;
    assert!(TopicRouteData::<Fixed<2>>::decode(two_queues).is_ok());
    assert_eq!(
        TopicRouteData::<Fixed<1>>::decode(two_queues).unwrap_err(),
        DecodeError::CapacityExceeded {
            what: "queueDatas",
            capacity: 1
        }
    );
    let addrs = br#"{"brokerDatas":[{"brokerName":"a","brokerAddrs":{0:"x",1:"y"}}]}"#;
    assert_eq!(
        TopicRouteData::<Fixed<1>>::decode(addrs).unwrap_err(),
        DecodeError::CapacityExceeded {
            what: "brokerAddrs",
            capacity: 1
        }
    );
    let body = capture_body(include_str!("data/captures/heartbeat-request.hex"));
    assert_eq!(
        HeartbeatData::<Fixed<1>>::decode(&body).unwrap_err(),
        DecodeError::CapacityExceeded {
            what: "subscriptionDataSet",
            capacity: 1
        }
    );
    assert_eq!(
        ResetOffsetBody::<Fixed<1>>::decode(RESET_OFFSET.as_bytes()).unwrap_err(),
        DecodeError::CapacityExceeded {
            what: "offsetTable",
            capacity: 1
        }
    );
    let e = ConsumerIdList::<Fixed<0>>::decode(br#"{"consumerIdList":["a"]}"#).unwrap_err();
    assert_eq!(e.blame(), rocketmq_proto::Blame::Resource);
}

// ---------------------------------------------------------------- encoding

#[test]
fn heartbeat_encodes_like_java() {
    let mut sub = SubscriptionData::<Fixed<4>> {
        class_filter_mode: false,
        topic: "TopicTest".into(),
        sub_string: "TagA || TagB".into(),
        tags_set: Default::default(),
        code_set: Default::default(),
        sub_version: 1700000000000,
        expression_type: ExpressionType::Tag,
    };
    sub.tags_set.push("TagA".into()).unwrap();
    sub.tags_set.push("TagB".into()).unwrap();
    sub.code_set.push(2598919).unwrap();
    sub.code_set.push(2598920).unwrap();
    let mut consumer = ConsumerData::<Fixed<4>> {
        group_name: "cg".into(),
        consume_type: ConsumeType::Passively,
        message_model: MessageModel::Clustering,
        consume_from_where: ConsumeFromWhere::LastOffset,
        subscription_data_set: Default::default(),
        unit_mode: false,
    };
    consumer.subscription_data_set.push(sub).unwrap();
    let mut hb = HeartbeatData::<Fixed<4>>::new("10.0.0.1@1#2".into());
    hb.consumer_data_set.push(consumer).unwrap();
    hb.producer_data_set
        .push(ProducerData {
            group_name: "CLIENT_INNER_PRODUCER".into(),
        })
        .unwrap();
    // Declared after `hb`: bodies compare across lifetimes (see `eq_across_lifetimes`).
    let mut buf = [0u8; 1024];
    let n = hb.encode_to_slice(&mut buf).unwrap();
    let expected = r#"{"clientID":"10.0.0.1@1#2","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"cg","messageModel":"CLUSTERING","subscriptionDataSet":[{"classFilterMode":false,"codeSet":[2598919,2598920],"expressionType":"TAG","subString":"TagA || TagB","subVersion":1700000000000,"tagsSet":["TagA","TagB"],"topic":"TopicTest"}],"unitMode":false}],"heartbeatFingerprint":0,"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"}],"withoutSub":false}"#;
    assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), expected);
    assert_eq!(hb.encoded_len(), n);
    assert_eq!(HeartbeatData::<Fixed<4>>::decode(&buf[..n]).unwrap(), hb);
    // Too small a buffer reports the size needed.
    let mut small = [0u8; 10];
    assert_eq!(
        hb.encode_to_slice(&mut small),
        Err(rocketmq_proto::EncodeError::BufferTooSmall { needed: n })
    );
}

#[test]
fn encoder_escapes_strings() {
    let mq = MessageQueue::new("a\"b\\c\u{1}\n", "é😀", -1);
    let mut buf = [0u8; 128];
    let n = mq.encode_to_slice(&mut buf).unwrap();
    assert_eq!(
        std::str::from_utf8(&buf[..n]).unwrap(),
        "{\"brokerName\":\"é😀\",\"queueId\":-1,\"topic\":\"a\\\"b\\\\c\\u0001\\u000a\"}"
    );
    let back = MessageQueue::decode(&buf[..n]).unwrap();
    assert_eq!(back, mq);
    assert!(back.topic.is_escaped());
    // Re-encoding a decoded (escaped) text copies it unchanged.
    let mut buf2 = [0u8; 128];
    let n2 = back.encode_to_slice(&mut buf2).unwrap();
    assert_eq!(&buf[..n], &buf2[..n2]);
}

#[test]
fn query_assignment_request_round_trip() {
    let req = QueryAssignmentRequestBody {
        topic: "t".into(),
        consumer_group: "g".into(),
        client_id: "c".into(),
        strategy_name: "AVG".into(),
        message_model: MessageModel::Broadcasting,
    };
    let mut buf = [0u8; 256];
    let n = req.encode_to_slice(&mut buf).unwrap();
    assert_eq!(QueryAssignmentRequestBody::decode(&buf[..n]).unwrap(), req);
    assert_eq!(
        QueryAssignmentRequestBody::decode(
            br#"{"topic":"t","consumerGroup":"g","clientId":"c","strategyName":"AVG"}"#
        ),
        Err(DecodeError::MissingField("messageModel"))
    );
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[\"\\\\\u{0}-\u{1f}a-zé😀]{0,12}",]
}

type Hb = (
    String,
    Vec<String>,
    Vec<(
        String,
        Vec<(String, String, Vec<String>, Vec<i32>, i64, bool)>,
        u8,
        bool,
    )>,
    i32,
    bool,
);

fn arb_heartbeat() -> impl Strategy<Value = Hb> {
    let sub = (
        arb_text(),
        arb_text(),
        proptest::collection::vec(arb_text(), 0..3),
        proptest::collection::vec(any::<i32>(), 0..3),
        any::<i64>(),
        any::<bool>(),
    );
    let consumer = (
        arb_text(),
        proptest::collection::vec(sub, 0..3),
        any::<u8>(),
        any::<bool>(),
    );
    (
        arb_text(),
        proptest::collection::vec(arb_text(), 0..3),
        proptest::collection::vec(consumer, 0..3),
        any::<i32>(),
        any::<bool>(),
    )
}

fn build_heartbeat(h: &Hb) -> HeartbeatData<'_, Fixed<4>> {
    let mut hb = HeartbeatData::<Fixed<4>>::new(h.0.as_str().into());
    for p in &h.1 {
        hb.producer_data_set
            .push(ProducerData {
                group_name: p.as_str().into(),
            })
            .unwrap();
    }
    for (group, subs, k, unit) in &h.2 {
        let mut c = ConsumerData::<Fixed<4>> {
            group_name: group.as_str().into(),
            consume_type: ConsumeType::ALL[*k as usize % ConsumeType::ALL.len()],
            message_model: MessageModel::ALL[*k as usize % 2],
            consume_from_where: ConsumeFromWhere::ALL[*k as usize % ConsumeFromWhere::ALL.len()],
            subscription_data_set: Default::default(),
            unit_mode: *unit,
        };
        for (topic, expr, tags, codes, ver, sql) in subs {
            let mut s = SubscriptionData::<Fixed<4>> {
                class_filter_mode: *sql,
                topic: topic.as_str().into(),
                sub_string: expr.as_str().into(),
                tags_set: Default::default(),
                code_set: Default::default(),
                sub_version: *ver,
                expression_type: if *sql {
                    ExpressionType::Sql92
                } else {
                    ExpressionType::Tag
                },
            };
            for t in tags {
                s.tags_set.push(t.as_str().into()).unwrap();
            }
            for code in codes {
                s.code_set.push(*code).unwrap();
            }
            c.subscription_data_set.push(s).unwrap();
        }
        hb.consumer_data_set.push(c).unwrap();
    }
    hb.heartbeat_fingerprint = h.3;
    hb.without_sub = h.4;
    hb
}

proptest! {
    #[test]
    fn heartbeat_round_trips(h in arb_heartbeat()) {
        let mut buf = Vec::new();
        let hb = build_heartbeat(&h);
        buf.resize(hb.encoded_len(), 0);
        let n = hb.encode_to_slice(&mut buf).unwrap();
        prop_assert_eq!(n, buf.len());
        let back = HeartbeatData::<Fixed<4>>::decode(&buf).unwrap();
        prop_assert_eq!(&back, &hb);
        // Re-encoding the decoded form (escapes copied as they are) gives the same bytes.
        let mut again = vec![0u8; back.encoded_len()];
        back.encode_to_slice(&mut again).unwrap();
        prop_assert_eq!(&again, &buf);
    }

    #[test]
    fn lock_bodies_round_trip(
        group in arb_text(),
        client in arb_text(),
        mqs in proptest::collection::vec((arb_text(), arb_text(), any::<i32>()), 0..5),
        only in any::<bool>(),
    ) {
        let (mut buf, mut buf2) = (Vec::new(), Vec::new());
        let mut req = LockBatchRequestBody::<Fixed<8>>::new(group.as_str().into(), client.as_str().into());
        req.only_this_broker = only;
        let mut resp = LockBatchResponseBody::<Fixed<8>> { lock_ok_mq_set: Default::default() };
        for (t, b, q) in &mqs {
            req.mq_set.push(MessageQueue::new(t, b, *q)).unwrap();
            resp.lock_ok_mq_set.push(MessageQueue::new(t, b, *q)).unwrap();
        }
        buf.resize(req.encoded_len(), 0);
        req.encode_to_slice(&mut buf).unwrap();
        prop_assert_eq!(LockBatchRequestBody::<Fixed<8>>::decode(&buf).unwrap(), req.clone());
        buf2.resize(resp.encoded_len(), 0);
        resp.encode_to_slice(&mut buf2).unwrap();
        prop_assert_eq!(LockBatchResponseBody::<Fixed<8>>::decode(&buf2).unwrap(), resp);
        // Too few slots: a typed error, never a panic.
        if mqs.len() > 1 {
            prop_assert_eq!(
                LockBatchRequestBody::<Fixed<1>>::decode(&buf).unwrap_err(),
                DecodeError::CapacityExceeded { what: "mqSet", capacity: 1 }
            );
        }
    }
}

// ---------------------------------------------------------------- hostile input

/// Run every decoder over `body`; return how many accepted it. Never panics.
fn decode_all(body: &[u8]) -> usize {
    [
        TopicRouteData::<F8>::decode(body).is_ok(),
        ClusterInfo::<F8>::decode(body).is_ok(),
        HeartbeatData::<F8>::decode(body).is_ok(),
        ResetOffsetBody::<F8>::decode(body).is_ok(),
        LockBatchRequestBody::<F8>::decode(body).is_ok(),
        LockBatchResponseBody::<F8>::decode(body).is_ok(),
        QueryAssignmentRequestBody::decode(body).is_ok(),
        QueryAssignmentResponseBody::<F8>::decode(body).is_ok(),
        ConsumerIdList::<F8>::decode(body).is_ok(),
        TopicList::<F8>::decode(body).is_ok(),
        MessageQueue::decode(body).is_ok(),
    ]
    .iter()
    .filter(|ok| **ok)
    .count()
}

fn valid_bodies() -> Vec<Vec<u8>> {
    vec![
        ROUTE_STANDARD.into(),
        ROUTE_FASTJSON.into(),
        CLUSTER_INFO.into(),
        RESET_OFFSET.into(),
        capture_body(include_str!("data/captures/heartbeat-request.hex")),
        capture_body(include_str!("data/captures/route-response.hex")),
        br#"{"clientId":"c","consumerGroup":"g","mqSet":[{"brokerName":"b","queueId":1,"topic":"t"}],"onlyThisBroker":true}"#.to_vec(),
    ]
}

#[test]
fn truncated_bodies_are_errors() {
    for body in valid_bodies() {
        assert!(decode_all(&body) >= 1);
        for cut in 0..body.len() {
            assert_eq!(
                decode_all(&body[..cut]),
                0,
                "prefix of {cut} bytes accepted"
            );
        }
    }
}

#[test]
fn deep_nesting_is_an_error() {
    for open in ["[", "{\"a\":", "{{\"a\":"] {
        let body = format!("{{\"queueDatas\":{}", open.repeat(10_000));
        let err = TopicRouteData::<F8>::decode(body.as_bytes()).unwrap_err();
        assert!(matches!(err, DecodeError::Json { .. }), "{err:?}");
        let body = format!("{{\"unknown\":{}", open.repeat(10_000));
        assert_eq!(decode_all(body.as_bytes()), 0);
    }
    let body = format!("{{\"unknown\":{}1{}}}", "[".repeat(100), "]".repeat(100));
    assert!(matches!(
        TopicRouteData::<F8>::decode(body.as_bytes()),
        Err(DecodeError::Json {
            error: JsonError::TooDeep,
            ..
        })
    ));
}

#[test]
fn wrong_types_are_errors() {
    for bad in [
        &br#"{"queueDatas":{}}"#[..],
        br#"{"queueDatas":[1]}"#,
        br#"{"queueDatas":[{"brokerName":1}]}"#,
        br#"{"queueDatas":[{"brokerName":"b","perm":"6"}]}"#,
        br#"{"queueDatas":[{"brokerName":"b","perm":6.5}]}"#,
        br#"{"queueDatas":[{"brokerName":"b","perm":99999999999}]}"#,
        br#"{"queueDatas":[{"perm":6}]}"#,
        br#"{"brokerDatas":[{"brokerName":"b","brokerAddrs":[]}]}"#,
        br#"{"brokerDatas":[{"brokerName":"b","brokerAddrs":{"x":"a"}}]}"#,
        br#"{"brokerDatas":[{"brokerName":"b","brokerAddrs":{{"a":1}:"a"}}]}"#,
        br#"{"brokerDatas":[{"brokerName":"b","brokerAddrs":{0:5}}]}"#,
        br#"{"brokerDatas":[{"brokerName":"b","enableActingMaster":"false"}]}"#,
        br#"[]"#,
        br#""x""#,
        br#"{"queueDatas":[]} x"#,
        b"{\"orderTopicConf\":\"\xff\"}",
    ] {
        assert!(
            TopicRouteData::<F8>::decode(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    for bad in [
        &br#"{"clientID":1}"#[..],
        br#"{"producerDataSet":[]}"#,
        br#"{"clientID":"c","consumerDataSet":[{"groupName":"g","consumeType":"PUSH","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET"}]}"#,
        br#"{"clientID":"c","consumerDataSet":[{"groupName":"g","consumeType":"CONSUME_PASSIVELY","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET"}]}"#,
        br#"{"clientID":"c","consumerDataSet":[{"groupName":"g","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","subscriptionDataSet":[{"topic":"t","codeSet":["1"]}]}]}"#,
        br#"{"clientID":"c","consumerDataSet":[{"groupName":"g","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","subscriptionDataSet":[{"topic":"t","expressionType":"XPATH"}]}]}"#,
        br#"{"clientID":"c","heartbeatFingerprint":true}"#,
    ] {
        assert!(HeartbeatData::<F8>::decode(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
    assert!(ClusterInfo::<F8>::decode(br#"{"clusterAddrTable":{"c":"b"}}"#).is_err());
    assert!(ClusterInfo::<F8>::decode(br#"{"brokerAddrTable":{{"x":1}:{}}}"#).is_err());
    assert!(MessageQueue::decode(br#"{"topic":"t"}"#).is_err());
}

#[test]
fn lenient_forms_are_accepted() {
    // Explicit nulls read as absent, unknown keys (of any shape) are skipped, key order
    // is free, whitespace is allowed.
    let body = br#" { "x" : [ {"y": null} ], "queueDatas" : null , "brokerDatas" : [ { "zoneName":null,"cluster":null,"brokerAddrs":null,"brokerName":"b","enableActingMaster":null } ], "orderTopicConf" : null, 5 : 1 , {"k":1} : 2 } "#;
    let r = TopicRouteData::<F8>::decode(body).unwrap();
    assert!(r.queue_datas.is_empty());
    assert_eq!(r.broker_datas[0].broker_name, "b");
    assert!(r.broker_datas[0].broker_addrs.is_empty());
    assert_eq!(r.publish_queues().count(), 0);
    // Later duplicates win, as in a Java map/bean.
    let r = TopicRouteData::<F8>::decode(
        br#"{"queueDatas":[{"brokerName":"a"}],"queueDatas":[{"brokerName":"b"},{"brokerName":"c"}]}"#,
    )
    .unwrap();
    assert_eq!(r.queue_datas.len(), 2);
    // A subscription without expressionType / with "" is TAG.
    let hb = HeartbeatData::<F8>::decode(
        br#"{"clientID":"c","consumerDataSet":[{"groupName":"g","consumeType":"CONSUME_ACTIVELY","messageModel":"BROADCASTING","consumeFromWhere":"CONSUME_FROM_TIMESTAMP","subscriptionDataSet":[{"topic":"t","expressionType":""},{"topic":"u","expressionType":"SQL92","subString":"a > 1"}]}]}"#,
    )
    .unwrap();
    let subs = &hb.consumer_data_set[0].subscription_data_set;
    assert_eq!(subs[0].expression_type, ExpressionType::Tag);
    assert_eq!(subs[0].sub_string, "*");
    assert_eq!(subs[1].expression_type, ExpressionType::Sql92);
    // Escaped keys and values decode.
    let mq =
        MessageQueue::decode(br#"{"\u0074opic":"\u0074","brokerName":"b","queueId":1}"#).unwrap();
    assert_eq!(mq, MessageQueue::new("t", "b", 1));
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        decode_all(&bytes);
    }

    #[test]
    fn mutated_bodies_never_panic(which in 0usize..7, pos in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
        let mut body = valid_bodies().swap_remove(which);
        let at = pos % body.len();
        body[at] = byte;
        decode_all(&body);
        let end = cut % (body.len() + 1);
        decode_all(&body[..end]);
    }

    #[test]
    fn json_token_soup_never_panics(tokens in proptest::collection::vec(
        prop_oneof![
            Just("{"), Just("}"), Just("["), Just("]"), Just(":"), Just(","), Just("null"),
            Just("0"), Just("-1"), Just("\"brokerAddrs\""), Just("\"queueDatas\""),
            Just("\"brokerName\""), Just("\"offsetTable\""), Just("\"mqSet\""), Just("\"x\""),
            Just("true"), Just("\"consumerDataSet\""), Just("\"topic\""),
        ],
        0..64,
    )) {
        let body: String = tokens.concat();
        decode_all(body.as_bytes());
    }
}
