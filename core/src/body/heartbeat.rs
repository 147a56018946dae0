//! `HeartbeatData` (HEART_BEAT body, wire.md §7.1) with `ProducerData`, `ConsumerData`
//! and `SubscriptionData`: encoded by clients, decoded by brokers and tests.

use crate::collections::Collections;
use crate::json::Scanner;
use crate::out::Out;
use crate::text::Text;

use super::enums::{
    scan_enum, ConsumeFromWhere, ConsumeType, ExpressionType, MessageModel, WireEnum,
};
use super::scan::{self, EncodeBody, ObjectWriter, R};

/// A producer group of the client (`ProducerData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerData<'a> {
    /// `groupName`.
    pub group_name: Text<'a>,
}

impl<'a> ProducerData<'a> {
    /// Read a `ProducerData` object.
    pub fn scan(s: &mut Scanner<'a>) -> R<Self> {
        let mut group_name = None;
        scan::fields(s, |s, k| {
            if k == "groupName" {
                group_name = scan::text(s)?;
            } else {
                s.skip_value()?;
            }
            Ok(())
        })?;
        Ok(ProducerData {
            group_name: scan::required(group_name, "groupName")?,
        })
    }
}

impl EncodeBody for ProducerData<'_> {
    fn encode<O: Out>(&self, out: &mut O) {
        let mut w = ObjectWriter::begin(out);
        w.text("groupName", &self.group_name);
        w.end();
    }
}

/// One topic subscription of a consumer group (`SubscriptionData`).
#[derive(Debug, Clone)]
pub struct SubscriptionData<'a, C: Collections> {
    /// `classFilterMode` (always false in current clients).
    pub class_filter_mode: bool,
    /// `topic`.
    pub topic: Text<'a>,
    /// `subString`: `*`, `TagA || TagB`, or a SQL92 expression.
    pub sub_string: Text<'a>,
    /// `tagsSet`: the tags of a TAG expression; empty for `*` and SQL92.
    pub tags_set: C::List<Text<'a>>,
    /// `codeSet`: the hash of each tag (messages.md §5), in `tagsSet` order.
    pub code_set: C::List<i32>,
    /// `subVersion`: when the subscription was built (ms).
    pub sub_version: i64,
    /// `expressionType` (absent, null or empty = TAG).
    pub expression_type: ExpressionType,
}

eq_across_lifetimes!(SubscriptionData {
    plain: [
        class_filter_mode,
        topic,
        sub_string,
        sub_version,
        expression_type
    ],
    lists: [tags_set, code_set]
});

impl<'a, C: Collections> SubscriptionData<'a, C> {
    /// Read a `SubscriptionData` object. `topic` is required; an absent `subString`
    /// is `*`.
    pub fn scan(s: &mut Scanner<'a>) -> R<Self> {
        let (mut topic, mut sub_string) = (None, None);
        let mut d = SubscriptionData {
            class_filter_mode: false,
            topic: Text::new(""),
            sub_string: Text::new("*"),
            tags_set: C::List::default(),
            code_set: C::List::default(),
            sub_version: 0,
            expression_type: ExpressionType::Tag,
        };
        scan::fields(s, |s, k| {
            if k == "classFilterMode" {
                d.class_filter_mode = scan::bool_or_null(s)?.unwrap_or(false);
            } else if k == "topic" {
                topic = scan::text(s)?;
            } else if k == "subString" {
                sub_string = scan::text(s)?;
            } else if k == "tagsSet" {
                d.tags_set = scan::texts::<C>(s, "tagsSet")?;
            } else if k == "codeSet" {
                d.code_set = scan::list::<C, _>(s, "codeSet", |s| s.i32())?;
            } else if k == "subVersion" {
                d.sub_version = scan::i64_or_null(s)?.unwrap_or(0);
            } else if k == "expressionType" {
                d.expression_type = match s.string_or_null()? {
                    None => ExpressionType::Tag,
                    Some(t) if t.is_empty() => ExpressionType::Tag,
                    Some(t) => {
                        ExpressionType::from_text(&t).ok_or(crate::DecodeError::InvalidField {
                            field: "expressionType",
                            expected: ExpressionType::NAME,
                        })?
                    }
                };
            } else {
                s.skip_value()?;
            }
            Ok(())
        })?;
        d.topic = scan::required(topic, "topic")?;
        if let Some(sub) = sub_string {
            d.sub_string = sub;
        }
        Ok(d)
    }
}

impl<C: Collections> EncodeBody for SubscriptionData<'_, C> {
    fn encode<O: Out>(&self, out: &mut O) {
        let mut w = ObjectWriter::begin(out);
        w.bool("classFilterMode", self.class_filter_mode);
        w.array("codeSet", &self.code_set, |o, c| o.put_decimal(*c));
        w.str("expressionType", self.expression_type.as_str());
        w.text("subString", &self.sub_string);
        w.int("subVersion", self.sub_version);
        w.array("tagsSet", &self.tags_set, |o, t| {
            crate::json::write_text(o, t)
        });
        w.text("topic", &self.topic);
        w.end();
    }
}

/// A consumer group of the client and its subscriptions (`ConsumerData`).
#[derive(Debug, Clone)]
pub struct ConsumerData<'a, C: Collections> {
    /// `groupName`.
    pub group_name: Text<'a>,
    /// `consumeType`.
    pub consume_type: ConsumeType,
    /// `messageModel`.
    pub message_model: MessageModel,
    /// `consumeFromWhere`.
    pub consume_from_where: ConsumeFromWhere,
    /// `subscriptionDataSet`.
    pub subscription_data_set: C::List<SubscriptionData<'a, C>>,
    /// `unitMode`.
    pub unit_mode: bool,
}

eq_across_lifetimes!(ConsumerData {
    plain: [
        group_name,
        consume_type,
        message_model,
        consume_from_where,
        unit_mode
    ],
    lists: [subscription_data_set]
});

impl<'a, C: Collections> ConsumerData<'a, C> {
    /// Read a `ConsumerData` object. `groupName`, `consumeType`, `messageModel` and
    /// `consumeFromWhere` are required (Java always writes them).
    pub fn scan(s: &mut Scanner<'a>) -> R<Self> {
        let (mut group_name, mut consume_type, mut message_model, mut consume_from_where) =
            (None, None, None, None);
        let mut subscription_data_set = C::List::default();
        let mut unit_mode = false;
        scan::fields(s, |s, k| {
            if k == "groupName" {
                group_name = scan::text(s)?;
            } else if k == "consumeType" {
                consume_type = scan_enum(s, "consumeType")?;
            } else if k == "messageModel" {
                message_model = scan_enum(s, "messageModel")?;
            } else if k == "consumeFromWhere" {
                consume_from_where = scan_enum(s, "consumeFromWhere")?;
            } else if k == "subscriptionDataSet" {
                subscription_data_set =
                    scan::list::<C, _>(s, "subscriptionDataSet", SubscriptionData::scan)?;
            } else if k == "unitMode" {
                unit_mode = scan::bool_or_null(s)?.unwrap_or(false);
            } else {
                s.skip_value()?;
            }
            Ok(())
        })?;
        Ok(ConsumerData {
            group_name: scan::required(group_name, "groupName")?,
            consume_type: scan::required(consume_type, "consumeType")?,
            message_model: scan::required(message_model, "messageModel")?,
            consume_from_where: scan::required(consume_from_where, "consumeFromWhere")?,
            subscription_data_set,
            unit_mode,
        })
    }
}

impl<C: Collections> EncodeBody for ConsumerData<'_, C> {
    fn encode<O: Out>(&self, out: &mut O) {
        let mut w = ObjectWriter::begin(out);
        w.str("consumeFromWhere", self.consume_from_where.as_str());
        w.str("consumeType", self.consume_type.as_str());
        w.text("groupName", &self.group_name);
        w.str("messageModel", self.message_model.as_str());
        w.array(
            "subscriptionDataSet",
            &self.subscription_data_set,
            |o, d| d.encode(o),
        );
        w.bool("unitMode", self.unit_mode);
        w.end();
    }
}

/// The HEART_BEAT body: who the client is and which groups it runs (`HeartbeatData`).
///
/// ```
/// use rocketmq_proto::body::{EncodeBody, HeartbeatData, ProducerData};
/// use rocketmq_proto::collections::Fixed;
/// let mut hb = HeartbeatData::<Fixed<4>>::new("192.168.0.10@12345#1".into());
/// hb.producer_data_set.push(ProducerData { group_name: "pg".into() }).unwrap();
/// let mut buf = [0u8; 256];
/// let n = hb.encode_to_slice(&mut buf).unwrap();
/// assert_eq!(
///     &buf[..n],
///     &br#"{"clientID":"192.168.0.10@12345#1","consumerDataSet":[],"heartbeatFingerprint":0,"producerDataSet":[{"groupName":"pg"}],"withoutSub":false}"#[..]
/// );
/// assert_eq!(HeartbeatData::<Fixed<4>>::decode(&buf[..n]).unwrap(), hb);
/// ```
#[derive(Debug, Clone)]
pub struct HeartbeatData<'a, C: Collections> {
    /// `clientID` (`ip@instanceName`, e.g. `192.168.0.10@12345#823461237701234`).
    pub client_id: Text<'a>,
    /// `producerDataSet`.
    pub producer_data_set: C::List<ProducerData<'a>>,
    /// `consumerDataSet`.
    pub consumer_data_set: C::List<ConsumerData<'a, C>>,
    /// `heartbeatFingerprint` (5.x; 0 = v1 heartbeat).
    pub heartbeat_fingerprint: i32,
    /// `withoutSub` (5.x heartbeat v2: subscriptions left out as unchanged).
    pub without_sub: bool,
}

eq_across_lifetimes!(HeartbeatData {
    plain: [client_id, heartbeat_fingerprint, without_sub],
    lists: [producer_data_set, consumer_data_set]
});

impl<'a, C: Collections> HeartbeatData<'a, C> {
    /// A heartbeat with no groups.
    pub fn new(client_id: Text<'a>) -> Self {
        HeartbeatData {
            client_id,
            producer_data_set: C::List::default(),
            consumer_data_set: C::List::default(),
            heartbeat_fingerprint: 0,
            without_sub: false,
        }
    }

    /// Decode a HEART_BEAT request body.
    pub fn decode(body: &'a [u8]) -> R<Self> {
        scan::whole(body, Self::scan)
    }

    /// Read a `HeartbeatData` object at the scanner's position. `clientID` is required.
    pub fn scan(s: &mut Scanner<'a>) -> R<Self> {
        let mut client_id = None;
        let mut hb = HeartbeatData::new(Text::new(""));
        scan::fields(s, |s, k| {
            if k == "clientID" {
                client_id = scan::text(s)?;
            } else if k == "producerDataSet" {
                hb.producer_data_set =
                    scan::list::<C, _>(s, "producerDataSet", ProducerData::scan)?;
            } else if k == "consumerDataSet" {
                hb.consumer_data_set =
                    scan::list::<C, _>(s, "consumerDataSet", ConsumerData::scan)?;
            } else if k == "heartbeatFingerprint" {
                hb.heartbeat_fingerprint = scan::i32_or_null(s)?.unwrap_or(0);
            } else if k == "withoutSub" {
                hb.without_sub = scan::bool_or_null(s)?.unwrap_or(false);
            } else {
                s.skip_value()?;
            }
            Ok(())
        })?;
        hb.client_id = scan::required(client_id, "clientID")?;
        Ok(hb)
    }
}

impl<C: Collections> EncodeBody for HeartbeatData<'_, C> {
    fn encode<O: Out>(&self, out: &mut O) {
        let mut w = ObjectWriter::begin(out);
        w.text("clientID", &self.client_id);
        w.array("consumerDataSet", &self.consumer_data_set, |o, c| {
            c.encode(o)
        });
        w.int("heartbeatFingerprint", self.heartbeat_fingerprint);
        w.array("producerDataSet", &self.producer_data_set, |o, p| {
            p.encode(o)
        });
        w.bool("withoutSub", self.without_sub);
        w.end();
    }
}
