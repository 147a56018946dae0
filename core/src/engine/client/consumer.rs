//! The push and lite-pull consumer: subscriptions, rebalance, pulls, deliveries, offsets.

use super::*;

/// The client's view of an orderly lock's life: past it the queue is not consumed
/// until locked again (the broker keeps locks 60 s, so nobody else can have taken it).
pub const LOCK_EXPIRY: Millis = Millis(30_000);

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
    /// Orderly consumption (Java `MessageListenerOrderly`): a clustering consumer locks
    /// its queues on the broker (LOCK_BATCH_MQ, renewed every `lock_interval`), hands out
    /// one batch of a queue at a time in offset order, and only while the lock is fresh
    /// (30 s); [`Client::nack`] redelivers the same batch after `suspend_current_queue`.
    pub orderly: bool,
    /// How the group's queues are shared (every member must use the same strategy).
    pub allocate: crate::consumer::allocate::AllocateStrategy<'static>,
    /// Flow control: no pull for a queue while it has this many messages cached
    /// (`pullThresholdForQueue`, 1 000).
    pub pull_threshold_for_queue: u32,
    /// Flow control: no pull for a queue while its cached bodies take this many bytes
    /// (`pullThresholdSizeForQueue`, 100 MiB).
    pub pull_threshold_size_for_queue: usize,
    /// After this many failed deliveries a message goes to the dead-letter queue
    /// (`maxReconsumeTimes`: 16 for concurrent consumers; orderly ones retry forever,
    /// `i32::MAX`).
    pub max_reconsume_times: i32,
    /// Orderly: how long a nacked batch waits before it is delivered again
    /// (`suspendCurrentQueueTimeMillis`, 1 s).
    pub suspend_current_queue: Millis,
    /// Orderly: lock renewal period (`rocketmq.client.rebalance.lockInterval`, 20 s).
    pub lock_interval: Millis,
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
            orderly: false,
            allocate: crate::consumer::allocate::AllocateStrategy::Averagely,
            pull_threshold_for_queue: 1_000,
            pull_threshold_size_for_queue: 100 << 20,
            max_reconsume_times: MAX_RECONSUME_TIMES,
            suspend_current_queue: Millis(1_000),
            lock_interval: Millis(20_000),
        }
    }

    /// Java's defaults for an orderly (`MessageListenerOrderly`) consumer of `group`.
    pub fn orderly(group: &'a str) -> Self {
        ConsumerConfig {
            orderly: true,
            max_reconsume_times: i32::MAX,
            ..ConsumerConfig::new(group)
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
    /// How often this batch was delivered before (orderly redeliveries after
    /// [`Client::nack`]).
    pub redeliveries: u32,
    pub(super) body: &'d [u8],
    /// The client's namespace, to show retried messages' original topics unwrapped.
    pub(super) namespace: Option<&'d str>,
}

impl<'d> Delivery<'d> {
    /// The topic to show for message `r` of this batch, as the application names it:
    /// a message pulled from the retry topic carries its original topic (`RETRY_TOPIC`,
    /// namespace included, which is taken off as Java's `resetRetryAndNamespace` does).
    pub fn topic_of<'a>(&'a self, r: &'a crate::message::MessageRecord<'a>) -> &'a str {
        match r
            .properties
            .get(crate::message::properties::keys::RETRY_TOPIC)
        {
            Some(original) => self
                .namespace
                .and_then(|ns| original.strip_prefix(ns))
                .and_then(|rest| rest.strip_prefix('%'))
                .filter(|_| self.namespace.is_some_and(|ns| !ns.is_empty()))
                .unwrap_or(original),
            None => self.topic,
        }
    }

    /// The messages, with those whose tag the subscription does not name left out
    /// (the broker filters by hash only; Java re-filters by the exact tag). Records are
    /// as stored: a compressed body (sysFlag bit 0x1) is read with
    /// [`MessageRecord::decompressed_body`](crate::message::MessageRecord::decompressed_body)
    /// (needs `alloc`).
    pub fn messages(&self) -> impl Iterator<Item = crate::message::MessageRecord<'d>> + 'd {
        delivered_records(self.body, self.expression)
    }
}

/// A TAG expression as sent: `*`, or the tags joined by `||` without spaces. Java
/// brokers trim each tag of `TagA || TagB` themselves; rocketmq-rust's broker (1.0.0)
/// does not and then matches nothing, so the client sends the trimmed form (the same
/// filter for every broker).
fn tag_expression(expression: &str) -> Result<Name, CallError> {
    match crate::message::parse_tag_expression(expression) {
        crate::message::TagExpression::All => name("*"),
        crate::message::TagExpression::Tags(tags) => {
            let mut out = Name::new();
            for (i, t) in tags.enumerate() {
                let sep = if i > 0 { "||" } else { "" };
                out.push_str(sep)
                    .and_then(|()| out.push_str(t.tag))
                    .map_err(|()| CallError::Full("name length"))?;
            }
            Ok(out)
        }
    }
}

/// The records of a pull body the application sees: those its TAG expression names
/// (the broker filters by hash only; Java re-filters by the exact tag).
pub(super) fn delivered_records<'d>(
    body: &'d [u8],
    expression: &'d str,
) -> impl Iterator<Item = crate::message::MessageRecord<'d>> + 'd {
    crate::message::RecordIter::new(body)
        .map_while(Result::ok)
        .take(64)
        .filter(move |m| crate::message::parse_tag_expression(expression).matches_tag(m.tags()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sub {
    /// Index in `topics` (only ever appended).
    pub(super) topic: u16,
    pub(super) expression: Name,
    pub(super) version: i64,
    /// A SQL92 expression over message properties (broker-side filtering only)
    /// instead of a TAG expression.
    sql92: bool,
}

impl Sub {
    /// The expression the client re-filters delivered messages with: the TAG
    /// expression, or `*` for SQL92 (the broker alone evaluates those).
    pub(super) fn client_filter(&self) -> &str {
        if self.sql92 {
            "*"
        } else {
            &self.expression
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum QueueStep {
    /// Find the starting offset.
    NeedOffset,
    /// An offset query is in flight.
    QueryingOffset,
    /// Pull when possible.
    Ready,
    /// A pull is in flight.
    Pulling,
    /// Flow control holds the queue: re-checked whenever cached batches leave.
    Blocked,
    /// Orderly: not locked; once the lock is granted the offset is read again
    /// (another member may have moved the queue meanwhile: Java's "previously locked").
    WaitLock,
    /// Retry the offset lookup at this time.
    OffsetAt(Instant),
    /// Retry the pull at this time.
    PullAt(Instant),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Batch<B> {
    pub(super) id: DeliveryId,
    /// The owned queue it came from.
    pub(super) token: u32,
    pub(super) body: B,
    /// The queue offset the pull asked for: nothing before it is in this batch.
    pub(super) start_offset: i64,
    /// The queue offset after the batch.
    pub(super) next_offset: i64,
    /// Records in `body` (flow control).
    pub(super) messages: u32,
    pub(super) announced: bool,
    /// Orderly: a nacked batch is delivered again (not before this time).
    pub(super) hold_until: Option<Instant>,
    /// Orderly: deliveries so far beyond the first.
    pub(super) redeliveries: u32,
    /// Set by `nack`: the delay level asked for, and which delivered messages still
    /// have to be sent back (bit per message; a batch holds at most 64).
    pub(super) nack: Option<(i32, u64)>,
    /// Failed send-backs are tried again at this time.
    pub(super) retry_backs_at: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OwnedQueue {
    /// Identifies this ownership: responses for a queue dropped (and maybe re-owned)
    /// since carry an old token and are ignored.
    pub(super) token: u32,
    pub(super) topic: u16,
    /// Index in `names`.
    pub(super) broker: u16,
    pub(super) queue_id: i32,
    pub(super) step: QueueStep,
    pub(super) next_offset: i64,
    /// Everything before this offset is consumed (the commit candidate); -1 unknown.
    pub(super) consumed: i64,
    pub(super) committed: i64,
    /// Rebalanced away while batches were with the application: kept only so those
    /// stay readable until acked; never pulled or committed again, and their
    /// ack/nack changes no offset and sends nothing back (behaviour.md §12, item 2).
    pub(super) released: bool,
    /// Orderly: when the broker last granted this queue's lock (None: not locked).
    pub(super) locked_at: Option<Instant>,
    /// The broker id the last pull response suggested (`suggestWhichBrokerId`; 0 =
    /// master): the next pull goes there (behaviour.md §1.6).
    pub(super) suggested: i64,
    /// The pull in flight goes to a slave: it must not carry a commit.
    pub(super) from_slave: bool,
}

impl OwnedQueue {
    /// Start the queue over at `offset` under a new `token`: answers to requests made
    /// for the old one are ignored, and its batches are the caller's to drop.
    fn restart(&mut self, token: u32, offset: i64) {
        self.token = token;
        self.next_offset = offset;
        self.consumed = offset;
        self.committed = -1;
        if self.step != QueueStep::WaitLock {
            self.step = QueueStep::Ready;
        }
    }
}

#[derive(Debug)]
pub(super) struct ConsumerState<C: Collections, B: MessageBuf> {
    pub(super) group: Name,
    pub(super) model: crate::body::MessageModel,
    pub(super) from_where: crate::body::ConsumeFromWhere,
    pub(super) batch_size: i32,
    pub(super) suspend: Millis,
    pub(super) pull_timeout: Millis,
    pub(super) rebalance_interval: Millis,
    pub(super) commit_interval: Millis,
    pub(super) subs: C::List<Sub>,
    pub(super) queues: C::List<OwnedQueue>,
    /// Pulled batches, cached or with the application, of every queue (bounded by the
    /// list's capacity and the per-queue thresholds).
    pub(super) batches: C::Batches<Batch<B>>,
    pub(super) next_rebalance: Instant,
    pub(super) last_rebalance: Instant,
    pub(super) next_commit: Instant,
    pub(super) next_token: u32,
    pub(super) next_delivery: u32,
    pub(super) auto_commit: bool,
    pub(super) lite_pull: bool,
    /// Queues were assigned by the application: no rebalance.
    pub(super) assigned: bool,
    /// Broadcasting: offsets kept by the application (topic as the application names
    /// it and broker, both indices in `names`; queue, offset).
    pub(super) local_offsets: C::List<(u16, u16, i32, i64)>,
    pub(super) orderly: bool,
    pub(super) allocate: crate::consumer::allocate::AllocateStrategy<'static>,
    pub(super) pull_threshold_for_queue: u32,
    pub(super) pull_threshold_size_for_queue: usize,
    pub(super) max_reconsume_times: i32,
    pub(super) suspend_current_queue: Millis,
    pub(super) lock_interval: Millis,
    /// Orderly: next LOCK_BATCH_MQ round.
    pub(super) next_lock: Instant,
    /// Broadcasting: `PersistOffsets` is due.
    pub(super) persist_pending: bool,
}

impl<C: Collections, B: MessageBuf> ConsumerState<C, B> {
    /// The heartbeat's view of the consumer (`topics`: the engine's, which `subs`
    /// index).
    pub(super) fn consumer_data<'a>(
        &'a self,
        topics: &'a [TopicInfo<C>],
    ) -> crate::body::ConsumerData<'a, C> {
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
            let topic = topics
                .get(usize::from(sub.topic))
                .map_or("", |t| t.topic.as_str());
            let mut sd = SubscriptionData {
                class_filter_mode: false,
                topic: Text::new(topic),
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

    /// Orderly consumption (never without the `orderly` feature: a constant false
    /// then, so the lock code compiles away).
    pub(super) fn is_orderly(&self) -> bool {
        cfg!(feature = "orderly") && self.orderly
    }

    /// Orderly clustering consumption needs broker locks.
    pub(super) fn locks_queues(&self) -> bool {
        self.is_orderly() && self.model == crate::body::MessageModel::Clustering
    }

    /// The next batch to hand out: the oldest not yet announced. An orderly queue's
    /// batches go one at a time, oldest first, only while its lock is held and not
    /// while one is held back after a nack.
    pub(super) fn announce_delivery(&mut self) -> Option<DeliveryId> {
        let orderly = self.is_orderly();
        let locks = self.locks_queues();
        let queues = &self.queues;
        let batches = &self.batches;
        let ready = |b: &Batch<B>| {
            if b.announced || b.hold_until.is_some() {
                return false;
            }
            if !orderly {
                return true;
            }
            let q = queues.iter().find(|q| q.token == b.token);
            let locked = !locks || q.is_some_and(|q| q.locked_at.is_some() && !q.released);
            // Oldest batch of its queue, and none of the queue's is out.
            let first = batches
                .iter()
                .filter(|o| o.token == b.token)
                .all(|o| o.id == b.id || (o.start_offset > b.start_offset && !o.announced));
            locked && first
        };
        let id = self
            .batches
            .iter()
            .filter(|b| ready(b))
            .map(|b| b.id)
            .min()?;
        let b = self.batches.iter_mut().find(|b| b.id == id)?;
        b.announced = true;
        Some(id)
    }

    /// Messages and body bytes cached for the queue `token`.
    pub(super) fn cached(&self, token: u32) -> (u32, usize) {
        self.batches
            .iter()
            .filter(|b| b.token == token)
            .fold((0u32, 0usize), |(n, size), b| {
                (
                    n.saturating_add(b.messages),
                    size.saturating_add(b.body.as_ref().len()),
                )
            })
    }

    /// Everything of queue `token` before this offset is consumed: the start of its
    /// oldest batch not yet acked, else where its next pull starts.
    pub(super) fn consumed_offset(&self, q: &OwnedQueue) -> i64 {
        self.batches
            .iter()
            .filter(|b| b.token == q.token)
            .map(|b| b.start_offset)
            .min()
            .unwrap_or(q.next_offset)
    }

    pub(super) fn next_timer(&self) -> Instant {
        let mut t = self.next_rebalance.min(self.next_commit);
        if self.locks_queues() {
            t = t.min(self.next_lock);
            for q in self.queues.iter() {
                if let Some(at) = q.locked_at {
                    t = t.min(at + LOCK_EXPIRY);
                }
            }
        }
        for b in self.batches.iter() {
            if let Some(at) = b.retry_backs_at {
                t = t.min(at);
            }
            if let Some(at) = b.hold_until {
                t = t.min(at);
            }
        }
        // Released queues are not driven (they only wait for their batches' acks).
        for q in self.queues.iter().filter(|q| !q.released) {
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

    pub(super) fn subscribe_with(
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
        if config.orderly && !cfg!(feature = "orderly") {
            return Err(CallError::Unsupported("orderly"));
        }
        check_group(config.group).map_err(CallError::Invalid)?;
        check_topic(topic).map_err(CallError::Invalid)?;
        let group = self.wrapped(config.group)?;
        let topic_name = self.wrapped(topic)?;
        if self.consumer.is_none() {
            self.consumer = Some(ConsumerState {
                group: group.clone(),
                model: config.model,
                from_where: config.from_where,
                batch_size: config.batch_size,
                suspend: config.suspend,
                pull_timeout: config.pull_timeout,
                rebalance_interval: config.rebalance_interval,
                commit_interval: config.commit_interval,
                subs: C::List::default(),
                queues: C::List::default(),
                batches: Default::default(),
                next_rebalance: now,
                last_rebalance: now,
                next_commit: now + config.commit_interval,
                next_token: 0,
                next_delivery: 0,
                auto_commit: config.auto_commit,
                lite_pull: config.lite_pull,
                assigned: false,
                local_offsets: C::List::default(),
                persist_pending: false,
                orderly: config.orderly,
                allocate: config.allocate,
                pull_threshold_for_queue: config.pull_threshold_for_queue.max(1),
                pull_threshold_size_for_queue: config.pull_threshold_size_for_queue.max(1),
                max_reconsume_times: config.max_reconsume_times,
                suspend_current_queue: Millis(config.suspend_current_queue.0.clamp(10, 30_000)),
                lock_interval: config.lock_interval,
                // Java: first lock round 1 s after start.
                next_lock: now + Millis(1_000),
            });
        }
        let mut retry = Name::new();
        let clustering = config.model == crate::body::MessageModel::Clustering && !config.lite_pull;
        if clustering {
            retry
                .push_str(crate::namespace::RETRY_PREFIX)
                .and_then(|()| retry.push_str(&group))
                .map_err(|()| CallError::Full("name length"))?;
        }
        let mut add: heapless::Vec<(Name, Name), 2> = heapless::Vec::new();
        let expression = if sql92 {
            name(expression)?
        } else {
            tag_expression(expression)?
        };
        let _ = add.push((topic_name.clone(), expression));
        if clustering {
            let _ = add.push((retry, name("*")?));
        }
        for (t, e) in add {
            let ti = self.ensure_topic(&t)?;
            let Some(c) = self.consumer.as_mut() else {
                break;
            };
            c.subs.retain_where(|s| s.topic != ti);
            c.subs
                .try_push(Sub {
                    topic: ti,
                    expression: e,
                    version: wall_clock_ms,
                    sql92: sql92 && t == topic_name,
                })
                .map_err(|_| CallError::Full("subscriptions"))?;
            if !self
                .topics
                .get(usize::from(ti))
                .is_some_and(|t| t.querying || !t.sub_queues.is_empty())
            {
                self.query_route(now, usize::from(ti), false);
            }
        }
        // Tell the brokers at once (Java heartbeats after subscribe) and rebalance.
        self.next_heartbeat = now;
        Ok(())
    }

    /// The batch `id`, while it is not acked.
    pub fn delivery(&self, id: DeliveryId) -> Option<Delivery<'_>> {
        let c = self.consumer.as_ref()?;
        let b = c.batches.iter().find(|b| b.id == id && b.announced)?;
        let q = c.queues.iter().find(|q| q.token == b.token)?;
        let topic = self.topics.get(usize::from(q.topic))?;
        let expression = c
            .subs
            .iter()
            .find(|s| s.topic == q.topic)
            .map_or("*", Sub::client_filter);
        Some(Delivery {
            topic: topic.display(&self.names),
            broker_name: name_at(&self.names, q.broker),
            queue_id: q.queue_id,
            expression,
            redeliveries: b.redeliveries,
            body: b.body.as_ref(),
            namespace: self.config.namespace.as_deref(),
        })
    }

    /// The application finished batch `id`: its messages count as consumed (committed
    /// at the next commit once every older batch of the queue is acked too) and its
    /// queue may be pulled again if flow control held it.
    pub fn ack(&mut self, now: Instant, id: DeliveryId) {
        if let Some(token) = self.remove_batch(id) {
            self.queue_settled(now, token);
        }
        self.consumer_tick(now);
        self.shutdown_tick(now);
    }

    /// Take batch `id` out of the cache; the queue it came from.
    fn remove_batch(&mut self, id: DeliveryId) -> Option<u32> {
        let c = self.consumer.as_mut()?;
        let i = c.batches.iter().position(|b| b.id == id && b.announced)?;
        c.batches.remove_at(i).map(|b| b.token)
    }

    /// A batch of queue `token` left the cache: move its consumed offset, or, for a
    /// released queue whose last batch it was, forget the queue (unlocking it first
    /// when orderly).
    fn queue_settled(&mut self, now: Instant, token: u32) {
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        let Some(i) = c.queues.iter().position(|q| q.token == token) else {
            return;
        };
        let Some(q) = c.queues.get(i) else { return };
        if q.released {
            if c.batches.iter().any(|b| b.token == token) {
                return;
            }
            // An orderly queue we still hold the lock of: nobody else can have consumed
            // it, so what was acked is committed before the lock is given back, and the
            // next owner starts after it (Java discards it and redelivers). Without a
            // lock the next owner may be consuming already: nothing of ours counts.
            let holds_lock = c.locks_queues() && q.locked_at.is_some();
            let consumed = c.consumed_offset(q);
            if let Some(q) = c.queues.remove_at(i) {
                if holds_lock {
                    if consumed > q.committed {
                        self.push_commit(q.topic, consumed, q.broker, q.queue_id);
                    }
                    self.push_unlock(&q);
                }
            }
            return;
        }
        let consumed = c.consumed_offset(q);
        if let Some(q) = c.queues.get_mut(i) {
            q.consumed = consumed;
        }
        let _ = now;
    }

    /// Queues this consumer owns now: (topic, broker, queue id).
    pub fn owned_queues(&self) -> impl Iterator<Item = (&str, &str, i32)> {
        self.consumer.iter().flat_map(move |c| {
            c.queues
                .iter()
                .filter(|q| !q.released)
                .filter_map(move |q| {
                    let t = self.topics.get(usize::from(q.topic))?;
                    let names = &self.names;
                    Some((t.display(names), name_at(names, q.broker), q.queue_id))
                })
        })
    }

    pub(super) fn push_request(
        &mut self,
        addr: &Addr,
        deadline: Instant,
        purpose: Purpose,
    ) -> bool {
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
                mq: None,
            })
            .is_ok();
        if !ok {
            self.inflight.complete(opaque);
        }
        ok
    }

    pub(super) fn consumer_tick(&mut self, now: Instant) {
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
        self.orderly_tick(now);
        self.drive_queues(now);
    }

    pub(super) fn rebalance(&mut self, now: Instant) {
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
                .map(|s| s.topic)
            else {
                continue;
            };
            if broadcasting {
                // Every member reads every queue.
                let mut all = C::List::<(u16, i32)>::default();
                for q in self
                    .topics
                    .get(usize::from(ti))
                    .iter()
                    .flat_map(|t| t.sub_queues.iter())
                {
                    if all.try_push((q.broker, q.queue_id)).is_err() {
                        break; // capacity: the rest stay unowned
                    }
                }
                self.apply_assignment(now, ti, &all);
                self.drive_queues(now);
                continue;
            }
            // Ask one broker of the topic for the group's members (Java: a random one).
            let Some(broker) = self
                .topics
                .get(usize::from(ti))
                .and_then(|t| t.sub_queues.first())
                .map(|q| q.broker)
            else {
                continue;
            };
            let Some(addr) = self.master_addr(broker) else {
                continue;
            };
            let deadline = now + self.config.request_timeout;
            self.push_request(&addr, deadline, Purpose::ConsumerList { topic: ti });
        }
    }

    pub(super) fn on_consumer_list(&mut self, now: Instant, topic: u16, cmd: &Command<'_>) {
        use crate::body::{ConsumerIdList, MessageQueue};
        use crate::consumer::allocate::{sort_for_allocation, RingNode};
        if cmd.header.response_code() != ResponseCode::SUCCESS {
            return self.rebalance_soon(now);
        }
        let Ok(list) = ConsumerIdList::<C>::decode(cmd.body) else {
            return self.rebalance_soon(now);
        };
        let Some(strategy) = self.consumer.as_ref().map(|c| c.allocate) else {
            return;
        };
        // ByConfig's queues may be on brokers no route named yet: name them first.
        if let crate::consumer::allocate::AllocateStrategy::ByConfig { queues } = strategy {
            if let Some(t) = self.topics.get(usize::from(topic)) {
                for mq in queues.iter().filter(|mq| mq.topic == t.topic.as_str()) {
                    if let Some(b) = mq.broker_name.as_str() {
                        let _ = intern(&mut self.names, b);
                    }
                }
            }
        }
        // `None`: a list did not fit its capacity; rebalance again soon.
        let mine: Option<C::List<(u16, i32)>> = (|| {
            let t = self.topics.get(usize::from(topic))?;
            let names = &self.names;
            let mut mqs = C::List::<MessageQueue<'_>>::default();
            let mut out = C::List::<usize>::default();
            for q in t.sub_queues.iter() {
                let pushed = mqs.try_push(MessageQueue {
                    topic: Text::new(&t.topic),
                    broker_name: Text::new(name_at(names, q.broker)),
                    queue_id: q.queue_id,
                });
                if pushed.is_err() || out.try_push(0).is_err() {
                    return None;
                }
            }
            let mut cids = list.consumer_id_list;
            sort_for_allocation(&mut mqs, &mut cids);
            let mut ring = C::List::<RingNode>::default();
            for _ in 0..strategy.ring_len(cids.len()) {
                if ring.try_push(RingNode::default()).is_err() {
                    return None;
                }
            }
            let me = self.config.client_id.as_str();
            let mut mine = C::List::default();
            if let Ok(a) = strategy.allocate(me, &mqs, &cids, &mut out, &mut ring) {
                for mq in a.queues(&mqs) {
                    // ByConfig names queues of every topic: keep this topic's.
                    if mq.topic != t.topic.as_str() {
                        continue;
                    }
                    let Some(b) = mq.broker_name.as_str().and_then(|b| find_name(names, b)) else {
                        continue;
                    };
                    if mine.try_push((b, mq.queue_id)).is_err() {
                        break;
                    }
                }
            }
            Some(mine)
        })();
        let Some(mine) = mine else {
            return self.rebalance_soon(now);
        };
        self.apply_assignment(now, topic, &mine);
        // Released queues may have freed cache room other queues wait for.
        self.drive_queues(now);
    }

    pub(super) fn rebalance_soon(&mut self, now: Instant) {
        if let Some(c) = self.consumer.as_mut() {
            c.next_rebalance = c.next_rebalance.min(now + Millis(1_000));
        }
    }

    /// Make the owned queues of `topic` exactly `mine`: release the others (committing
    /// what was consumed first; cached batches not yet handed out are dropped), add the
    /// new ones.
    /// `mine`: (broker index in `names`, queue id).
    pub(super) fn apply_assignment(&mut self, now: Instant, topic: u16, mine: &[(u16, i32)]) {
        let mut changed = false;
        // By index: releasing commits (which needs the whole client) as it goes.
        let mut i = 0;
        while let Some(q) = self.consumer.as_ref().and_then(|c| c.queues.get(i)) {
            let release = !q.released
                && q.topic == topic
                && !mine
                    .iter()
                    .any(|(b, id)| *b == q.broker && *id == q.queue_id);
            if !release {
                i += 1;
                continue;
            }
            changed = true;
            let (token, consumed, committed) = (q.token, q.consumed, q.committed);
            let (broker, queue_id) = (q.broker, q.queue_id);
            // Persist what was consumed so the next owner starts there.
            if consumed > committed {
                self.push_commit(topic, consumed, broker, queue_id);
            }
            let Some(c) = self.consumer.as_mut() else {
                return;
            };
            c.batches.retain_where(|b| b.token != token || b.announced);
            if c.batches.iter().any(|b| b.token == token) {
                // Batches with the application stay readable until acked.
                if let Some(q) = c.queues.get_mut(i) {
                    q.released = true;
                }
                i += 1;
            } else {
                let unlock = c.locks_queues();
                if let Some(q) = c.queues.remove_at(i) {
                    if unlock && q.locked_at.is_some() {
                        self.push_unlock(&q);
                    }
                }
            }
        }
        for (broker, queue_id) in mine {
            let Some(c) = self.consumer.as_mut() else {
                return;
            };
            if c.queues.iter().any(|q| {
                !q.released && q.topic == topic && q.broker == *broker && q.queue_id == *queue_id
            }) {
                continue;
            }
            let locks = c.locks_queues();
            let token = c.next_token;
            c.next_token = c.next_token.wrapping_add(1);
            let added = c.queues.try_push(OwnedQueue {
                token,
                topic,
                broker: *broker,
                queue_id: *queue_id,
                // Orderly: nothing happens on a queue before its lock is granted.
                step: if locks {
                    QueueStep::WaitLock
                } else {
                    QueueStep::NeedOffset
                },
                next_offset: -1,
                consumed: -1,
                committed: -1,
                released: false,
                locked_at: None,
                suggested: 0,
                from_slave: false,
            });
            if added.is_ok() && locks {
                c.next_lock = now;
            }
            changed |= added.is_ok();
        }
        if changed {
            // Java 5.x heartbeats every broker after a rebalance changed something.
            self.next_heartbeat = self.next_heartbeat.min(now);
        }
    }

    /// UPDATE_CONSUMER_OFFSET (oneway) for one queue.
    pub(super) fn push_commit(&mut self, topic: u16, offset: i64, broker: u16, queue_id: i32) {
        let mq = QueueRef {
            topic,
            broker,
            queue_id,
        };
        self.push_oneway(Purpose::Commit { offset }, mq);
    }

    /// Queue a oneway request about `mq` (its identity kept in the frame: the queue
    /// itself may be gone when it is written) to the master of its broker.
    pub(super) fn push_oneway(&mut self, purpose: Purpose, mq: QueueRef) {
        let Some(addr) = self.master_addr(mq.broker) else {
            return;
        };
        let conn = self.conn_for(&addr);
        let opaque = self.next_oneway_opaque;
        self.next_oneway_opaque = self.next_oneway_opaque.wrapping_sub(1).min(-1);
        let _ = self.outbound.try_push(Outbound {
            conn,
            opaque,
            purpose,
            code: 0,
            mq: Some(mq),
        });
    }

    pub(super) fn commit_offsets(&mut self) {
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        if c.model == crate::body::MessageModel::Broadcasting {
            // Local offsets: record them and tell the application to store them.
            let (topics, names) = (&self.topics, &mut self.names);
            for q in c.queues.iter_mut() {
                if q.released || q.consumed < 0 || q.consumed <= q.committed {
                    continue;
                }
                let Some(t) = topics.get(usize::from(q.topic)) else {
                    continue;
                };
                q.committed = q.consumed;
                // Full name table: not recorded, as with a full offset table.
                let shown = Name::try_from(t.display(names)).unwrap_or_default();
                if let Some(topic) = intern(names, &shown) {
                    let entry = (topic, q.broker, q.queue_id, q.consumed);
                    match c
                        .local_offsets
                        .iter_mut()
                        .find(|e| e.0 == entry.0 && e.1 == entry.1 && e.2 == entry.2)
                    {
                        Some(e) => e.3 = entry.3,
                        None => {
                            let _ = c.local_offsets.try_push(entry);
                        }
                    }
                }
                c.persist_pending = true;
            }
            return;
        }
        // By index: committing does not change the queue table.
        for i in 0..c.queues.len() {
            let Some(q) = self
                .consumer
                .as_mut()
                .and_then(|c| c.queues.get_mut(i))
                .filter(|q| !q.released && q.consumed >= 0 && q.consumed > q.committed)
            else {
                continue;
            };
            q.committed = q.consumed;
            let (topic, offset, broker, queue_id) = (q.topic, q.consumed, q.broker, q.queue_id);
            self.push_commit(topic, offset, broker, queue_id);
        }
    }

    /// Start what each queue is ready for: an offset lookup or a pull, unless flow
    /// control or (orderly) a missing lock holds it.
    pub(super) fn drive_queues(&mut self, now: Instant) {
        self.retry_send_backs(now);
        let Some(c) = self.consumer.as_ref() else {
            return;
        };
        // By index: starting a request does not change the queue table.
        for i in 0..c.queues.len() {
            let Some(c) = self.consumer.as_mut() else {
                return;
            };
            let locks = c.locks_queues();
            let (count_limit, size_limit) =
                (c.pull_threshold_for_queue, c.pull_threshold_size_for_queue);
            let batches_full = c.batches.is_full();
            let Some(q) = c.queues.get(i).filter(|q| !q.released) else {
                continue;
            };
            let token = q.token;
            let (count, size) = c.cached(token);
            // Every batch holds a body (and at least one message).
            let has_batches = count > 0 || size > 0;
            let Some(q) = c.queues.get_mut(i) else {
                continue;
            };
            match q.step {
                QueueStep::OffsetAt(at) if now >= at => q.step = QueueStep::NeedOffset,
                QueueStep::PullAt(at) if now >= at => q.step = QueueStep::Ready,
                QueueStep::Blocked => q.step = QueueStep::Ready,
                QueueStep::WaitLock if q.locked_at.is_some() => {
                    q.step = if has_batches {
                        QueueStep::Ready
                    } else {
                        QueueStep::NeedOffset
                    };
                }
                _ => {}
            }
            let held = locks && q.locked_at.is_none();
            match q.step {
                QueueStep::NeedOffset | QueueStep::Ready if held => {
                    q.step = QueueStep::WaitLock;
                }
                QueueStep::NeedOffset => self.start_offset_lookup(now, token),
                QueueStep::Ready => {
                    if batches_full || count >= count_limit || size >= size_limit {
                        q.step = QueueStep::Blocked; // flow control
                    } else {
                        self.start_pull(now, token);
                    }
                }
                _ => {}
            }
        }
    }

    pub(super) fn queue_mut(&mut self, token: u32) -> Option<&mut OwnedQueue> {
        self.consumer
            .as_mut()?
            .queues
            .iter_mut()
            .find(|q| q.token == token)
    }

    pub(super) fn start_offset_lookup(&mut self, now: Instant, token: u32) {
        use crate::body::{ConsumeFromWhere, MessageModel};
        let Some(c) = self.consumer.as_ref() else {
            return;
        };
        let (model, from_where) = (c.model, c.from_where);
        let Some(q) = c.queues.iter().find(|q| q.token == token) else {
            return;
        };
        let broker = q.broker;
        if model == MessageModel::Broadcasting {
            // A stored local offset first (given back by the application).
            let topic = self
                .topics
                .get(usize::from(q.topic))
                .and_then(|t| find_name(&self.names, t.display(&self.names)));
            let local = c
                .local_offsets
                .iter()
                .find(|e| Some(e.0) == topic && e.1 == broker && e.2 == q.queue_id)
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
            return self.request_offset(now, token, broker, true);
        }
        self.request_offset(now, token, broker, false);
    }

    pub(super) fn request_offset(&mut self, now: Instant, token: u32, broker: u16, max: bool) {
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

    pub(super) fn on_offset(&mut self, now: Instant, token: u32, max: bool, cmd: &Command<'_>) {
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
        let Some(broker) = self.queue_mut(token).map(|q| q.broker) else {
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
                    _ => self.request_offset(now, token, broker, true),
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

    pub(super) fn start_pull(&mut self, now: Instant, token: u32) {
        let Some(c) = self.consumer.as_ref() else {
            return;
        };
        let timeout = c.pull_timeout;
        let Some((broker, suggested)) = c
            .queues
            .iter()
            .find(|q| q.token == token)
            .map(|q| (q.broker, q.suggested))
        else {
            return;
        };
        let Some((addr, id)) = self.pull_addr(broker, suggested) else {
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

    pub(super) fn on_pull(&mut self, now: Instant, token: u32, cmd: &Command<'_>) {
        use crate::header::PullMessageResponse;
        let code = cmd.header.response_code();
        let header: Option<PullMessageResponse> = cmd.decode_fields().ok();
        let stopping = self.shutdown.is_some();
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        let locks = c.locks_queues();
        let delivery = DeliveryId(c.next_delivery);
        let batches_full = c.batches.is_full();
        let Some(qi) = c
            .queues
            .iter()
            .position(|q| q.token == token && !q.released)
        else {
            return; // released meanwhile: the pulled messages go to the next owner
        };
        let topic = c.queues.get(qi).map(|q| q.topic);
        // The client-side filter: a batch nothing of which the application would see is
        // consumed at once (Java re-pulls immediately).
        let expression = topic
            .and_then(|t| c.subs.iter().find(|s| s.topic == t))
            .map_or("*", Sub::client_filter);
        let Some(q) = c.queues.get_mut(qi) else {
            return;
        };
        let next = header.as_ref().map(|h| h.next_begin_offset);
        if let Some(h) = &header {
            q.suggested = h.suggest_which_broker_id;
        }
        if stopping {
            // Stopping: nothing new reaches the application; the next owner pulls it.
            q.step = QueueStep::Ready;
            return;
        }
        if locks && q.locked_at.is_none() {
            // The lock was lost while the pull was out: consuming now could overlap
            // the new owner. Pull it again once locked.
            q.step = QueueStep::WaitLock;
            return self.drive_queues(now);
        }
        match (code, next) {
            (ResponseCode::SUCCESS, Some(next))
                if delivered_records(cmd.body, expression).next().is_some() =>
            {
                // The whole answer, or (with fixed-size message buffers) as many
                // leading records as fit: the rest is pulled again.
                let body = if batches_full {
                    None
                } else {
                    fitting_prefix::<B>(cmd.body)
                };
                let kept = body.as_ref().map_or(cmd.body, |b| b.as_ref());
                // A delivery holds at most 64 messages (nack keeps a bit per message):
                // a longer answer ends at the 65th, which is pulled again.
                let mut records = crate::message::RecordIter::new(kept).map_while(Result::ok);
                let messages = records.by_ref().take(64).count();
                let next = match records.next() {
                    Some(r) => r.queue_offset,
                    // Records cut off by the buffer start where the kept ones end.
                    None if kept.len() < cmd.body.len() => crate::message::RecordIter::new(
                        cmd.body.get(kept.len()..).unwrap_or_default(),
                    )
                    .next()
                    .and_then(Result::ok)
                    .map_or(next, |r| r.queue_offset),
                    None => next,
                };
                match body {
                    Some(body) => {
                        let batch = Batch {
                            id: delivery,
                            token,
                            body,
                            start_offset: q.next_offset,
                            next_offset: next,
                            messages: messages as u32,
                            announced: false,
                            hold_until: None,
                            redeliveries: 0,
                            nack: None,
                            retry_backs_at: None,
                        };
                        q.next_offset = next;
                        q.step = QueueStep::Ready;
                        c.next_delivery = c.next_delivery.wrapping_add(1);
                        if let Err(batch) = c.batches.try_push(batch) {
                            // Checked above; should it happen, pull the range again.
                            if let Some(q) = c.queues.get_mut(qi) {
                                q.next_offset = batch.start_offset;
                                q.step = QueueStep::PullAt(now + Millis(50));
                            }
                        }
                    }
                    // No room, or one message larger than a message buffer: try again
                    // later (a buffer smaller than a message is a configuration
                    // matter; nothing is lost).
                    None => q.step = QueueStep::PullAt(now + Millis(1_000)),
                }
            }
            (
                ResponseCode::SUCCESS
                | ResponseCode::PULL_NOT_FOUND
                | ResponseCode::PULL_RETRY_IMMEDIATELY,
                Some(next),
            ) => {
                // Nothing (matching) there: with no batch of the queue outstanding,
                // everything before `next` is consumed (Java's correctTagsOffset).
                q.next_offset = next;
                q.step = QueueStep::Ready;
                let consumed = c.queues.get(qi).map(|q| c.consumed_offset(q));
                if let (Some(q), Some(consumed)) = (c.queues.get_mut(qi), consumed) {
                    q.consumed = consumed;
                }
            }
            (ResponseCode::PULL_OFFSET_MOVED, Some(next)) => {
                // OFFSET_ILLEGAL: reset to where the broker says, and persist it.
                q.next_offset = next;
                q.consumed = next;
                q.committed = -1;
                q.step = QueueStep::Ready;
                c.batches.retain_where(|b| b.token != token || b.announced);
            }
            // Errors: Java pulls again after 1 s (20 ms after FLOW_CONTROL).
            (ResponseCode::FLOW_CONTROL, _) => q.step = QueueStep::PullAt(now + Millis(20)),
            _ => q.step = QueueStep::PullAt(now + Millis(1_000)),
        }
        self.drive_queues(now);
    }

    pub(super) fn consumer_request_failed(&mut self, now: Instant, purpose: &Purpose) {
        match *purpose {
            Purpose::SendBack { batch, index, .. } => self.send_back_done(now, batch, index, false),
            Purpose::ConsumerList { .. } => self.rebalance_soon(now),
            Purpose::Lock { .. } => {
                // Tried again soon (Java: "try lock later", 3 s).
                if let Some(c) = self.consumer.as_mut() {
                    c.next_lock = c.next_lock.min(now + Millis(3_000));
                }
            }
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

    pub(super) fn encode_consumer_request(
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
        let broker_of = |b: u16| name_at(&self.names, b);
        match ob.purpose {
            Purpose::ConsumerList { .. } => {
                let req = GetConsumerListByGroupRequest {
                    consumer_group: Text::new(&c.group),
                    broker_name: None,
                };
                self.encode_frame(
                    enc,
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
                        broker_name: Some(Text::new(broker_of(q.broker))),
                    };
                    self.encode_frame(
                        enc,
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
                        broker_name: Some(Text::new(broker_of(q.broker))),
                    };
                    self.encode_frame(
                        enc,
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
                let sub = c.subs.iter().find(|s| s.topic == q.topic).ok_or(missing)?;
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
                    max_msg_bytes: B::LIMIT.map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
                    request_source: None,
                    proxy_forward_client_id: None,
                    broker_name: Some(Text::new(broker_of(q.broker))),
                };
                self.encode_frame(
                    enc,
                    buf,
                    &self.header(RequestCode::PULL_MESSAGE, ob.opaque),
                    &req,
                    b"",
                )
            }
            Purpose::Commit { offset } => {
                // The queue may be gone (released): the frame carries its identity.
                let mq = ob.mq.ok_or(missing)?;
                let topic = topic_of(mq.topic).ok_or(missing)?;
                let broker = self.names.get(usize::from(mq.broker)).ok_or(missing)?;
                let req = UpdateConsumerOffsetRequest {
                    consumer_group: Text::new(&c.group),
                    topic: Text::new(topic),
                    queue_id: mq.queue_id,
                    commit_offset: offset,
                    broker_name: Some(Text::new(broker)),
                };
                self.encode_frame(
                    enc,
                    buf,
                    &self
                        .header(RequestCode::UPDATE_CONSUMER_OFFSET, ob.opaque)
                        .oneway(),
                    &req,
                    b"",
                )
            }
            Purpose::Lock { broker } | Purpose::Unlock { broker } => {
                use crate::body::{LockBatchRequestBody, MessageQueue};
                let name = self.names.get(usize::from(broker)).ok_or(missing)?;
                let mut body = LockBatchRequestBody::<C>::new(
                    Text::new(&c.group),
                    Text::new(self.config.client_id.as_str()),
                );
                let mut add = |topic: u16, queue_id: i32| {
                    let topic = topic_of(topic).ok_or(missing)?;
                    List::try_push(
                        &mut body.mq_set,
                        MessageQueue {
                            topic: Text::new(topic),
                            broker_name: Text::new(name),
                            queue_id,
                        },
                    )
                    .map_err(|_| EncodeError::ValueOutOfRange { field: "mqSet" })
                };
                let code = match (ob.purpose.clone(), ob.mq) {
                    // UNLOCK_BATCH_MQ names the one queue released.
                    (Purpose::Unlock { .. }, Some(mq)) => {
                        add(mq.topic, mq.queue_id)?;
                        RequestCode::UNLOCK_BATCH_MQ
                    }
                    (Purpose::Unlock { .. }, None) => return Err(missing),
                    // LOCK_BATCH_MQ renews every queue held on that broker.
                    _ => {
                        for q in c.queues.iter().filter(|q| q.broker == broker) {
                            add(q.topic, q.queue_id)?;
                        }
                        RequestCode::LOCK_BATCH_MQ
                    }
                };
                let mut header = self.header(code, ob.opaque);
                if code == RequestCode::UNLOCK_BATCH_MQ {
                    header = header.oneway();
                }
                self.encode_with_body(enc, buf, &header, &body)
            }
            Purpose::SendBack {
                batch,
                index,
                delay_level,
            } => {
                use crate::header::ConsumerSendMsgBackRequest;
                let batch = c.batches.iter().find(|b| b.id == batch).ok_or(missing)?;
                let q = queue(batch.token).ok_or(missing)?;
                topic_of(q.topic).ok_or(missing)?;
                let expression = c
                    .subs
                    .iter()
                    .find(|s| s.topic == q.topic)
                    .map_or("*", Sub::client_filter);
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
                    max_reconsume_times: Some(c.max_reconsume_times),
                    broker_name: Some(Text::new(broker_of(q.broker))),
                };
                self.encode_frame(
                    enc,
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
    /// The application failed to process batch `id`.
    ///
    /// Concurrent consumers: every message of it goes back to the broker
    /// (CONSUMER_SEND_MSG_BACK) to be redelivered later through the group's retry topic
    /// — `delay_level` 0 lets the broker choose (3 + reconsume times, i.e. 10 s, 30 s,
    /// 1 min …), a negative level sends it straight to the DLQ. Once every message is
    /// accepted the batch counts as consumed; a failed send-back is tried again after a
    /// second, so nothing is lost.
    ///
    /// Orderly consumers (Java `SUSPEND_CURRENT_QUEUE_A_MOMENT`): the same batch is
    /// delivered again, under a new id, after `suspend_current_queue`; nothing later in
    /// the queue is delivered before it. After `max_reconsume_times` deliveries it goes to
    /// the DLQ instead (`delay_level` is not used).
    ///
    /// Broadcasting consumers never send back (Java drops the failure): there this acts
    /// as [`Client::ack`].
    pub fn nack(&mut self, now: Instant, id: DeliveryId, delay_level: i32) {
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        if c.model == crate::body::MessageModel::Broadcasting {
            return self.ack(now, id);
        }
        let (orderly, max, suspend) = (
            c.is_orderly(),
            c.max_reconsume_times,
            c.suspend_current_queue,
        );
        let Some(b) = c
            .batches
            .iter()
            .find(|b| b.id == id && b.announced && b.nack.is_none())
        else {
            return;
        };
        let Some(q) = c.queues.iter().find(|q| q.token == b.token) else {
            return;
        };
        if q.released {
            return self.ack(now, id); // rebalanced away: no send-back
        }
        let to_dlq = orderly && i64::from(b.redeliveries) + 1 >= i64::from(max);
        if orderly && !to_dlq {
            let next_id = DeliveryId(c.next_delivery);
            c.next_delivery = c.next_delivery.wrapping_add(1);
            if let Some(b) = c.batches.iter_mut().find(|b| b.id == id) {
                b.id = next_id;
                b.announced = false;
                b.redeliveries = b.redeliveries.saturating_add(1);
                b.hold_until = Some(now + suspend);
            }
            return;
        }
        let delay_level = if to_dlq { -1 } else { delay_level };
        let expression = self
            .topics
            .get(usize::from(q.topic))
            .and_then(|_| c.subs.iter().find(|s| s.topic == q.topic))
            .map_or("*", Sub::client_filter);
        let n = delivered_records(b.body.as_ref(), expression).count();
        let mask = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
        if let Some(b) = c.batches.iter_mut().find(|b| b.id == id) {
            b.nack = Some((delay_level, mask));
        }
        if n == 0 {
            return self.ack(now, id);
        }
        self.push_send_backs(now, id);
    }

    /// Queue a send-back for every message still marked in batch `id`.
    pub(super) fn push_send_backs(&mut self, now: Instant, id: DeliveryId) {
        let Some(c) = self.consumer.as_ref() else {
            return;
        };
        let Some(b) = c.batches.iter().find(|b| b.id == id) else {
            return;
        };
        let Some((delay_level, mask)) = b.nack else {
            return;
        };
        let Some(broker) = c
            .queues
            .iter()
            .find(|q| q.token == b.token)
            .map(|q| q.broker)
        else {
            return;
        };
        let retry_later = |client: &mut Self| {
            if let Some(b) = client
                .consumer
                .as_mut()
                .and_then(|c| c.batches.iter_mut().find(|b| b.id == id))
            {
                b.retry_backs_at = Some(now + Millis(1_000));
            }
        };
        let Some(addr) = self.master_addr(broker) else {
            return retry_later(self);
        };
        let deadline = now + self.config.request_timeout;
        for index in 0..64u8 {
            if mask & (1u64 << index) != 0 {
                let purpose = Purpose::SendBack {
                    batch: id,
                    index,
                    delay_level,
                };
                // Already queued or in flight for this message: leave it.
                let busy = self.inflight.iter().any(|(_, _, _, p)| *p == purpose);
                if !busy && !self.push_request(&addr, deadline, purpose) {
                    retry_later(self);
                }
            }
        }
    }

    pub(super) fn send_back_done(&mut self, now: Instant, id: DeliveryId, index: u8, ok: bool) {
        let Some(b) = self
            .consumer
            .as_mut()
            .and_then(|c| c.batches.iter_mut().find(|b| b.id == id))
        else {
            return;
        };
        let Some((level, mask)) = b.nack else { return };
        if !ok {
            b.retry_backs_at = Some(now + Millis(1_000));
            return;
        }
        let mask = mask & !(1u64 << index);
        b.nack = Some((level, mask));
        if mask == 0 {
            // Every message is safely with the broker: the batch is consumed.
            self.ack(now, id);
        }
    }

    /// Send-backs that failed are tried again; held (orderly) batches come back.
    pub(super) fn retry_send_backs(&mut self, now: Instant) {
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        for b in c.batches.iter_mut() {
            if b.hold_until.is_some_and(|t| now >= t) {
                b.hold_until = None;
            }
        }
        // By index: pushing requests does not change the batch table.
        for i in 0..c.batches.len() {
            let Some(b) = self
                .consumer
                .as_mut()
                .and_then(|c| c.batches.get_mut(i))
                .filter(|b| b.retry_backs_at.is_some_and(|t| now >= t))
            else {
                continue;
            };
            b.retry_backs_at = None;
            let id = b.id;
            self.push_send_backs(now, id);
        }
    }
}

impl<C: Collections, B: MessageBuf, const INFLIGHT: usize> Client<C, B, INFLIGHT> {
    /// RESET_CONSUMER_CLIENT_OFFSET (an admin reset through the broker, wire.md §6.13):
    /// every owned queue named in the body jumps to its new offset. The batch with the
    /// application (if any) is abandoned, a pull in flight is disowned (its answer will
    /// carry a stale token), and the new offset is committed at the next commit.
    pub(super) fn on_reset_offset(&mut self, now: Instant, cmd: &Command<'_>) {
        use crate::body::ResetOffsetBody;
        use crate::header::ResetConsumerClientOffsetRequest;
        let Ok(h) = cmd.decode_fields::<ResetConsumerClientOffsetRequest<'_>>() else {
            return;
        };
        let Ok(body) = ResetOffsetBody::<C>::decode(cmd.body) else {
            return;
        };
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        if h.group != c.group.as_str() {
            return;
        }
        let (topics, names) = (&self.topics, &self.names);
        for q in c.queues.iter_mut() {
            let Some(topic) = topics.get(usize::from(q.topic)) else {
                continue;
            };
            if h.topic != topic.topic.as_str() {
                continue;
            }
            let Some(entry) = body.offset_table.iter().find(|e| {
                e.message_queue.queue_id == q.queue_id
                    && e.message_queue.broker_name == name_at(names, q.broker)
                    && e.message_queue.topic == topic.topic.as_str()
            }) else {
                continue;
            };
            let old = q.token;
            let token = c.next_token;
            c.next_token = c.next_token.wrapping_add(1);
            q.restart(token, entry.offset);
            c.batches.retain_where(|b| b.token != old);
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
            let wrapped = self.wrapped(topic)?;
            let ti = self.topic_index(&wrapped);
            if self
                .consumer
                .as_ref()
                .is_none_or(|c| !c.subs.iter().any(|s| Some(s.topic) == ti))
            {
                self.subscribe(now, wall_clock_ms, config, topic, "*")?;
            }
        }
        let Some(c) = self.consumer.as_mut() else {
            return Err(CallError::NoConsumer);
        };
        c.assigned = true;
        // By index: assigning does not change the subscriptions.
        for si in 0..c.subs.len() {
            let Some(ti) = self
                .consumer
                .as_ref()
                .and_then(|c| c.subs.get(si))
                .map(|s| s.topic)
            else {
                continue;
            };
            let Some(tname) = self.topics.get(usize::from(ti)).map(|t| t.topic.clone()) else {
                continue;
            };
            let mut mine = C::List::<(u16, i32)>::default();
            for (t, b, q) in queues {
                if self.wrapped(t)? != tname {
                    continue;
                }
                name(b)?;
                // A broker no route named yet is owned by name until one does.
                let b = intern(&mut self.names, b).ok_or(CallError::Full("names"))?;
                mine.try_push((b, *q))
                    .map_err(|_| CallError::Full("owned queues"))?;
            }
            self.apply_assignment(now, ti, &mine);
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
        let Ok(topic) = self.wrapped(topic) else {
            return false;
        };
        let Some(ti) = self.topic_index(&topic) else {
            return false;
        };
        let names = &self.names;
        let Some(c) = self.consumer.as_mut() else {
            return false;
        };
        let token = c.next_token;
        let Some(q) = c.queues.iter_mut().find(|q| {
            q.topic == ti && name_at(names, q.broker) == broker && q.queue_id == queue_id
        }) else {
            return false;
        };
        let old = q.token;
        q.restart(token, offset);
        c.batches.retain_where(|b| b.token != old);
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

impl<C: Collections, B: MessageBuf, const INFLIGHT: usize> Client<C, B, INFLIGHT> {
    /// A broadcasting consumer's consumed offsets (topics as the application names
    /// them), to store after
    /// [`Event::PersistOffsets`]: (topic, broker name, queue id, next offset to consume).
    pub fn local_offsets(&self) -> impl Iterator<Item = (&str, &str, i32, i64)> {
        self.consumer
            .iter()
            .flat_map(|c| c.local_offsets.iter())
            .map(|(t, b, q, o)| (name_at(&self.names, *t), name_at(&self.names, *b), *q, *o))
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
        name(topic)?;
        name(broker)?;
        let names = &mut self.names;
        let (t, b) = (find_name(names, topic), find_name(names, broker));
        if let Some(e) = c
            .local_offsets
            .iter_mut()
            .find(|e| Some(e.0) == t && Some(e.1) == b && e.2 == queue_id)
        {
            e.3 = offset;
            return Ok(());
        }
        let full = CallError::Full("local offsets");
        if c.local_offsets.is_full() {
            return Err(full);
        }
        // Topics and brokers no route named yet (an offset stored for a topic no longer
        // subscribed is kept, and stored again).
        let t = intern(names, topic).ok_or(full)?;
        let b = intern(names, broker).ok_or(full)?;
        c.local_offsets
            .try_push((t, b, queue_id, offset))
            .map_err(|_| full)?;
        Ok(())
    }
}

/// `body` (stored records back to back) in a message buffer: whole if it fits, else the
/// longest run of leading whole records that fits (halving the count), or `None` if not
/// even the first record fits.
fn fitting_prefix<B: MessageBuf>(body: &[u8]) -> Option<B> {
    if let Some(b) = B::from_parts(&[body]) {
        return Some(b);
    }
    // Record boundaries: each record starts with its total size (big-endian i32).
    let mut ends: heapless::Vec<usize, 64> = heapless::Vec::new();
    let mut at = 0usize;
    while let Some(size) = body
        .get(at..)
        .and_then(|r| r.first_chunk::<4>())
        .map(|b| i32::from_be_bytes(*b))
    {
        let Some(end) = usize::try_from(size)
            .ok()
            .filter(|s| *s > 0)
            .and_then(|s| at.checked_add(s))
            .filter(|e| *e <= body.len())
        else {
            break;
        };
        if ends.push(end).is_err() {
            break;
        }
        at = end;
    }
    // Every whole record first (the walk may have stopped short of the body's end),
    // then half as many each time.
    let mut n = ends.len();
    while n > 0 {
        let end = ends.get(n - 1).copied().unwrap_or(0);
        if end < body.len() {
            if let Some(b) = body.get(..end).and_then(|p| B::from_parts(&[p])) {
                return Some(b);
            }
        }
        n /= 2;
    }
    None
}

#[cfg(test)]
mod prefix_tests {
    use super::fitting_prefix;

    /// `n` records of `size` bytes each (a size prefix and filler).
    fn records(n: usize, size: i32) -> heapless::Vec<u8, 256> {
        let mut v = heapless::Vec::new();
        for i in 0..n {
            v.extend_from_slice(&size.to_be_bytes()).unwrap();
            for _ in 4..size {
                v.push(i as u8).unwrap();
            }
        }
        v
    }

    #[test]
    fn a_pull_answer_larger_than_the_buffer_keeps_the_leading_whole_records() {
        let body = records(5, 10);
        // Fits whole.
        let all: heapless::Vec<u8, 64> = fitting_prefix(&body).unwrap();
        assert_eq!(all.len(), 50);
        // 25 bytes: five records do not fit, two (halving 5 → 2) do.
        let two: heapless::Vec<u8, 25> = fitting_prefix(&body).unwrap();
        assert_eq!(&two[..], &body[..20]);
        // Smaller than one record: nothing.
        assert!(fitting_prefix::<heapless::Vec<u8, 9>>(&body).is_none());
        // A lying size stops the walk instead of reading past the body.
        let mut bad = records(2, 10);
        bad[10..14].copy_from_slice(&1_000i32.to_be_bytes());
        let one: heapless::Vec<u8, 15> = fitting_prefix(&bad).unwrap();
        assert_eq!(&one[..], &bad[..10]);
    }
}
