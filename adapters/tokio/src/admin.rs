//! The small part of administration applications need: topics, routes, clusters,
//! consumer offsets and lag, message lookup. Each operation is one or a few requests
//! composed from the core's typed headers and sent through the engine (which adds the
//! opaque, deadline, connection and ACL signature); the answers are decoded with the
//! core's body decoders.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use rocketmq_proto::body::{ClusterInfo, TopicRouteData};
use rocketmq_proto::codes::{RequestCode, ResponseCode};
use rocketmq_proto::collections::Growable;
use rocketmq_proto::ext::{EncodeFields, FieldSink, FieldValue};
use rocketmq_proto::header::{
    GetMaxOffsetRequest, GetRouteInfoRequest, QueryConsumerOffsetRequest, QueryMessageRequest,
    TopicFilterType, UpdateAndCreateTopicRequest, ViewMessageRequest,
};
use rocketmq_proto::message::{OffsetMsgId, RecordIter};
use rocketmq_proto::text::Text;

use crate::client::ClientOptions;
use crate::driver::{CallResponse, Command, Handle};
use crate::error::Error;
use crate::message::ReceivedMessage;

/// Administration: create topics, read routes, clusters, offsets and lag, look up
/// messages.
///
/// ```no_run
/// # async fn demo() -> Result<(), rocketmq_tokio::Error> {
/// use rocketmq_tokio::{Admin, ClientOptions, TopicConfig};
/// let admin = Admin::start(ClientOptions::from_env()).await?;
/// admin.create_topic("Orders", TopicConfig::default()).await?;
/// for b in admin.route("Orders").await?.brokers {
///     println!("{} at {:?}", b.name, b.addrs);
/// }
/// for q in admin.consumer_offsets("CG", "Orders").await? {
///     println!("{} q{} lag {}", q.broker, q.queue_id, q.lag());
/// }
/// admin.shutdown().await;
/// # Ok(()) }
/// ```
pub struct Admin {
    handle: Handle,
    timeout: Duration,
    namespace: Option<String>,
}

/// Settings of a topic to create or update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicConfig {
    /// Read and write queues on each master (Java default 8).
    pub queues: i32,
    /// Permission bits: 6 = read + write (wire.md §7.10).
    pub perm: i32,
    /// Whether the topic is ordered.
    pub order: bool,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            queues: 8,
            perm: 6,
            order: false,
        }
    }
}

/// A broker group of a route or cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Broker name.
    pub name: String,
    /// Cluster name, when known.
    pub cluster: Option<String>,
    /// (broker id, `ip:port`); id 0 is the master.
    pub addrs: Vec<(i64, String)>,
}

impl BrokerInfo {
    /// The master's address.
    pub fn master(&self) -> Option<&str> {
        self.addrs
            .iter()
            .find(|(id, _)| *id == 0)
            .map(|(_, a)| a.as_str())
    }
}

/// One broker's queues of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueInfo {
    /// Index into [`TopicRoute::brokers`] of the broker holding them.
    pub broker: usize,
    /// Readable queues.
    pub read_queues: i32,
    /// Writable queues.
    pub write_queues: i32,
    /// Permission bits.
    pub perm: i32,
}

/// Where a topic lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRoute {
    /// Broker groups.
    pub brokers: Vec<BrokerInfo>,
    /// Queues per broker.
    pub queues: Vec<QueueInfo>,
}

/// The brokers a NameServer knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Every broker group.
    pub brokers: Vec<BrokerInfo>,
}

/// A consumer group's position in one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueOffset {
    /// Broker name.
    pub broker: String,
    /// Queue id.
    pub queue_id: i32,
    /// The next offset the broker writes.
    pub broker_offset: i64,
    /// The group's committed offset (`None`: nothing committed yet).
    pub consumer_offset: Option<i64>,
}

impl QueueOffset {
    /// Messages not yet consumed (everything, when nothing is committed).
    pub fn lag(&self) -> i64 {
        (self.broker_offset - self.consumer_offset.unwrap_or(0)).max(0)
    }
}

/// Collects a typed header's fields as owned pairs for the driver.
struct Pairs(Vec<(String, String)>);

impl<'s> FieldSink<'s> for Pairs {
    fn field(&mut self, key: Text<'s>, value: FieldValue<'s>) {
        let mut v = Vec::new();
        value.write_plain(&mut rocketmq_proto::out::BufMutOut(&mut v));
        self.0.push((
            key.to_cow().into_owned(),
            String::from_utf8_lossy(&v).into_owned(),
        ));
    }
}

fn pairs(fields: &impl EncodeFields) -> Vec<(String, String)> {
    let mut p = Pairs(Vec::new());
    fields.encode_fields(&mut p);
    p.0
}

fn owned_brokers<'a>(
    list: impl IntoIterator<Item = &'a rocketmq_proto::body::BrokerData<'a, Growable>>,
) -> Vec<BrokerInfo> {
    list.into_iter()
        .map(|b| BrokerInfo {
            name: b.broker_name.to_cow().into_owned(),
            cluster: b.cluster.map(|c| c.to_cow().into_owned()),
            addrs: b
                .broker_addrs
                .iter()
                .map(|a| (a.id, a.addr.to_cow().into_owned()))
                .collect(),
        })
        .collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Admin {
    /// Start an admin client.
    pub async fn start(options: ClientOptions) -> Result<Admin, Error> {
        let handle = Handle::spawn(options.engine_config()?, &options)?;
        Ok(Admin {
            handle,
            timeout: options.request_timeout_value(),
            namespace: options.namespace_value().map(str::to_owned),
        })
    }

    /// The topic as the broker knows it (with the namespace).
    fn wrap(&self, topic: &str) -> String {
        ClientOptions::wrap(self.namespace.as_deref(), topic)
    }

    async fn call(
        &self,
        target: Option<&str>,
        code: RequestCode,
        fields: &impl EncodeFields,
        body: Bytes,
    ) -> Result<CallResponse, Error> {
        self.call_within(target, code, fields, body, self.timeout)
            .await
    }

    /// [`Self::call`] with its own timeout.
    async fn call_within(
        &self,
        target: Option<&str>,
        code: RequestCode,
        fields: &impl EncodeFields,
        body: Bytes,
        timeout: Duration,
    ) -> Result<CallResponse, Error> {
        let fields = pairs(fields);
        let target = target.map(str::to_owned);
        self.handle
            .call(|done| Command::Call {
                target,
                code,
                fields,
                body,
                timeout,
                done,
            })
            .await
    }

    /// A call that must succeed: anything but SUCCESS is [`Error::Broker`].
    async fn call_ok(
        &self,
        target: Option<&str>,
        code: RequestCode,
        fields: &impl EncodeFields,
    ) -> Result<CallResponse, Error> {
        let r = self.call(target, code, fields, Bytes::new()).await?;
        if r.code != ResponseCode::SUCCESS {
            return Err(Error::Broker {
                code: r.code,
                remark: r.remark,
                broker: target.unwrap_or("NameServer").to_owned(),
            });
        }
        Ok(r)
    }

    /// The brokers the NameServer knows (GET_BROKER_CLUSTER_INFO).
    pub async fn cluster(&self) -> Result<Cluster, Error> {
        let r = self
            .call_ok(
                None,
                RequestCode::GET_BROKER_CLUSTER_INFO,
                &rocketmq_proto::ext::EmptyFields,
            )
            .await?;
        let info = ClusterInfo::<Growable>::decode(&r.body)
            .map_err(|e| Error::Invalid(format!("cluster info from the NameServer: {e}")))?;
        let mut brokers = owned_brokers(&info.broker_addr_table);
        brokers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Cluster { brokers })
    }

    /// Where `topic` lives (GET_ROUTEINFO_BY_TOPIC); [`Error::NoRoute`] if nowhere.
    pub async fn route(&self, topic: &str) -> Result<TopicRoute, Error> {
        let body = route_body(&self.handle, self.timeout, &self.wrap(topic))
            .await?
            .ok_or_else(|| Error::NoRoute {
                topic: topic.to_owned(),
            })?;
        let route = TopicRouteData::<Growable>::decode(&body)
            .map_err(|e| Error::Invalid(format!("route of {topic}: {e}")))?;
        let mut brokers = owned_brokers(&route.broker_datas);
        brokers.sort_by(|a, b| a.name.cmp(&b.name));
        let queues = route
            .queue_datas
            .iter()
            .filter_map(|q| {
                let broker = brokers
                    .iter()
                    .position(|b| q.broker_name == b.name.as_str())?;
                Some(QueueInfo {
                    broker,
                    read_queues: q.read_queue_nums,
                    write_queues: q.write_queue_nums,
                    perm: q.perm.0,
                })
            })
            .collect();
        Ok(TopicRoute { brokers, queues })
    }

    /// Create (or update) `topic` on every master of every cluster
    /// (UPDATE_AND_CREATE_TOPIC to each, as Java's `mqadmin updateTopic -c`).
    pub async fn create_topic(&self, topic: &str, config: TopicConfig) -> Result<(), Error> {
        let cluster = self.cluster().await?;
        let masters: Vec<&str> = cluster
            .brokers
            .iter()
            .filter_map(BrokerInfo::master)
            .collect();
        if masters.is_empty() {
            return Err(Error::NoRoute {
                topic: topic.to_owned(),
            });
        }
        for addr in masters {
            self.create_topic_on(addr, topic, config).await?;
        }
        Ok(())
    }

    /// Create (or update) `topic` on the one broker at `broker_addr` (`host:port`), as
    /// Java's `mqadmin updateTopic -b`: the topic's route then names only that broker.
    ///
    /// ```no_run
    /// # async fn demo(admin: &rocketmq_tokio::Admin) -> Result<(), rocketmq_tokio::Error> {
    /// use rocketmq_tokio::TopicConfig;
    /// admin.create_topic_on("127.0.0.1:10911", "Orders", TopicConfig::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_topic_on(
        &self,
        broker_addr: &str,
        topic: &str,
        config: TopicConfig,
    ) -> Result<(), Error> {
        let wrapped = self.wrap(topic);
        let req = UpdateAndCreateTopicRequest {
            topic: Text::new(&wrapped),
            default_topic: Text::new(rocketmq_proto::engine::client::DEFAULT_TOPIC),
            read_queue_nums: config.queues,
            write_queue_nums: config.queues,
            perm: config.perm,
            topic_filter_type: TopicFilterType::SingleTag,
            topic_sys_flag: Some(0),
            order: config.order,
            attributes: None,
            force: None,
        };
        self.call_ok(
            Some(broker_addr),
            RequestCode::UPDATE_AND_CREATE_TOPIC,
            &req,
        )
        .await?;
        Ok(())
    }

    /// `group`'s committed offset, the broker's max offset and so the lag of every
    /// queue of `topic` (GET_MAX_OFFSET and QUERY_CONSUMER_OFFSET to each master).
    pub async fn consumer_offsets(
        &self,
        group: &str,
        topic: &str,
    ) -> Result<Vec<QueueOffset>, Error> {
        let route = self.route(topic).await?;
        let (wrapped_topic, wrapped_group) = (self.wrap(topic), self.wrap(group));
        let mut out = Vec::new();
        for q in &route.queues {
            let Some(b) = route.brokers.get(q.broker) else {
                continue;
            };
            let Some(addr) = b.master() else {
                continue;
            };
            for queue_id in 0..q.read_queues {
                let max = GetMaxOffsetRequest {
                    topic: Text::new(&wrapped_topic),
                    queue_id,
                    committed: None,
                    broker_name: Some(Text::new(&b.name)),
                };
                let r = self
                    .call_ok(Some(addr), RequestCode::GET_MAX_OFFSET, &max)
                    .await?;
                let broker_offset = offset_field(&r, addr)?;
                let query = QueryConsumerOffsetRequest {
                    consumer_group: Text::new(&wrapped_group),
                    topic: Text::new(&wrapped_topic),
                    queue_id,
                    set_zero_if_not_found: Some(false),
                    broker_name: Some(Text::new(&b.name)),
                };
                let r = self
                    .call(
                        Some(addr),
                        RequestCode::QUERY_CONSUMER_OFFSET,
                        &query,
                        Bytes::new(),
                    )
                    .await?;
                let consumer_offset = match r.code {
                    ResponseCode::SUCCESS => Some(offset_field(&r, addr)?),
                    ResponseCode::QUERY_NOT_FOUND => None,
                    code => {
                        return Err(Error::Broker {
                            code,
                            remark: r.remark,
                            broker: addr.to_owned(),
                        })
                    }
                };
                out.push(QueueOffset {
                    broker: b.name.clone(),
                    queue_id,
                    broker_offset,
                    consumer_offset,
                });
            }
        }
        Ok(out)
    }

    /// Messages of `topic` with business key `key` stored within `[begin_ms, end_ms]`
    /// (QUERY_MESSAGE to every master, merged), at most `max` of them.
    pub async fn messages_by_key(
        &self,
        topic: &str,
        key: &str,
        max: usize,
        begin_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<ReceivedMessage>, Error> {
        self.query(topic, key, false, max, begin_ms, end_ms).await
    }

    /// The message with id `msg_id`: a producer's id (UNIQ_KEY, looked up in `topic`'s
    /// index) or a broker's offset message id (read at the store host it names).
    /// [`Error::Broker`] with QUERY_NOT_FOUND (or the broker's code) if absent.
    pub async fn message_by_id(&self, topic: &str, msg_id: &str) -> Result<ReceivedMessage, Error> {
        let found = self.query(topic, msg_id, true, 1, 0, i64::MAX).await;
        if let Ok(mut v) = found {
            if !v.is_empty() {
                return Ok(v.swap_remove(0));
            }
        }
        let id = OffsetMsgId::parse(msg_id)
            .map_err(|_| Error::Invalid(format!("{msg_id}: no such message id in {topic}")))?;
        let addr = id.store_host.to_string();
        let wrapped = self.wrap(topic);
        let req = ViewMessageRequest {
            offset: id.commit_log_offset,
            topic: Some(Text::new(&wrapped)),
            broker_name: None,
        };
        let r = self
            .call_ok(Some(&addr), RequestCode::VIEW_MESSAGE_BY_ID, &req)
            .await?;
        let record = RecordIter::new(&r.body)
            .next()
            .ok_or_else(|| Error::Invalid(format!("{addr}: empty VIEW_MESSAGE_BY_ID answer")))?
            .map_err(|e| Error::Invalid(format!("{addr}: {e}")))?;
        Ok(ReceivedMessage::from_record(&record, "", &topic.into()))
    }

    async fn query(
        &self,
        topic: &str,
        key: &str,
        unique: bool,
        max: usize,
        begin_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<ReceivedMessage>, Error> {
        let route = self.route(topic).await?;
        let wrapped = self.wrap(topic);
        let end_ms = end_ms.min(now_ms() + 60_000);
        let mut out: Vec<ReceivedMessage> = Vec::new();
        for b in &route.brokers {
            let Some(addr) = b.master() else { continue };
            let req = QueryMessageRequest {
                topic: Text::new(&wrapped),
                key: Text::new(key),
                max_num: i32::try_from(max).unwrap_or(i32::MAX),
                begin_timestamp: begin_ms,
                end_timestamp: end_ms,
                unique_key_query: Some(unique),
                broker_name: Some(Text::new(&b.name)),
            };
            // An index lookup may read many index files: Java's MQAdminImpl gives
            // QUERY_MESSAGE three times the request timeout.
            let r = self
                .call_within(
                    Some(addr),
                    RequestCode::QUERY_MESSAGE,
                    &req,
                    Bytes::new(),
                    self.timeout.saturating_mul(3),
                )
                .await?;
            match r.code {
                ResponseCode::SUCCESS => {}
                ResponseCode::QUERY_NOT_FOUND => continue,
                code => {
                    return Err(Error::Broker {
                        code,
                        remark: r.remark,
                        broker: addr.to_owned(),
                    })
                }
            }
            for record in RecordIter::new(&r.body) {
                let record = record.map_err(|e| Error::Invalid(format!("{addr}: {e}")))?;
                // The index is a hash: keep only true matches (Java filters the same way).
                let matches = if unique {
                    record.uniq_key() == Some(key)
                } else {
                    record.properties.keys().any(|k| k == key)
                };
                if matches && out.len() < max {
                    out.push(ReceivedMessage::from_record(
                        &record,
                        &b.name,
                        &topic.into(),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Stop the admin client.
    pub async fn shutdown(self) {
        self.handle.shutdown(Duration::ZERO).await;
    }
}

/// The NameServer's route document for `wrapped_topic` (`None`: no such topic).
pub(crate) async fn route_body(
    handle: &Handle,
    timeout: Duration,
    wrapped_topic: &str,
) -> Result<Option<Bytes>, Error> {
    let req = GetRouteInfoRequest {
        topic: Text::new(wrapped_topic),
        accept_standard_json_only: None,
    };
    let fields = pairs(&req);
    let r = handle
        .call(|done| Command::Call {
            target: None,
            code: RequestCode::GET_ROUTEINFO_BY_TOPIC,
            fields,
            body: Bytes::new(),
            timeout,
            done,
        })
        .await?;
    match r.code {
        ResponseCode::SUCCESS => Ok(Some(r.body)),
        ResponseCode::TOPIC_NOT_EXIST => Ok(None),
        code => Err(Error::Broker {
            code,
            remark: r.remark,
            broker: "NameServer".into(),
        }),
    }
}

fn offset_field(r: &CallResponse, addr: &str) -> Result<i64, Error> {
    r.field("offset")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::Invalid(format!("{addr}: offset response without an offset")))
}
