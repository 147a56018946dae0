//! The lite pull consumer (Java `DefaultLitePullConsumer`): the engine pulls ahead into
//! a bounded cache (its flow control); the application takes messages when it wants
//! them with [`LitePullConsumer::poll`] or as a [`Stream`].
//!
//! A batch counts as consumed when it is handed to the application: its offset is
//! committed with the next auto-commit (every 5 s) or by [`LitePullConsumer::commit`],
//! as Java commits polled offsets.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use rocketmq_proto::body::ConsumeFromWhere;
use rocketmq_proto::engine::client::ConsumerConfig;
use tokio::sync::mpsc;

use crate::client::ClientOptions;
use crate::driver::{Batch, Command, ConsumerSettings, Handle};
use crate::error::Error;
use crate::message::ReceivedMessage;

/// A pull-style consumer: subscribe (the group shares the queues) or assign queues,
/// then poll.
///
/// ```no_run
/// # async fn demo() -> Result<(), rocketmq_tokio::Error> {
/// use std::time::Duration;
/// use rocketmq_tokio::{ClientOptions, LitePullConsumer};
/// let mut consumer = LitePullConsumer::builder(ClientOptions::from_env(), "CG")
///     .subscribe("TopicTest", "*")
///     .start()
///     .await?;
/// for m in consumer.poll(Duration::from_secs(1)).await {
///     println!("{} {:?}", m.msg_id, m.body);
/// }
/// consumer.commit()?;
/// consumer.shutdown().await;
/// # Ok(()) }
/// ```
pub struct LitePullConsumer {
    handle: Handle,
    rx: mpsc::UnboundedReceiver<Batch>,
    /// Messages of delivered batches not yet handed out by the stream.
    buffered: VecDeque<ReceivedMessage>,
    settings: ConsumerSettings,
    /// Kept so `assign` can hand the driver a sender at any time.
    tx: mpsc::UnboundedSender<Batch>,
}

/// Builds a [`LitePullConsumer`].
pub struct LitePullConsumerBuilder {
    options: ClientOptions,
    group: String,
    subscriptions: Vec<(String, String)>,
    from_where: ConsumeFromWhere,
    auto_commit: bool,
    batch_size: i32,
}

impl LitePullConsumer {
    /// A builder for a consumer of `group`.
    pub fn builder(options: ClientOptions, group: &str) -> LitePullConsumerBuilder {
        LitePullConsumerBuilder {
            options,
            group: group.to_owned(),
            subscriptions: Vec::new(),
            from_where: ConsumeFromWhere::LastOffset,
            auto_commit: true,
            batch_size: 32,
        }
    }

    /// Consume exactly `queues` (topic, broker name, queue id), with no rebalancing
    /// (Java `assign`); replaces any earlier assignment. Positions start at the
    /// committed offsets (or per `from_where`).
    pub async fn assign(&mut self, queues: &[(&str, &str, i32)]) -> Result<(), Error> {
        let settings = self.settings.clone();
        let queues = queues
            .iter()
            .map(|(t, b, q)| ((*t).to_owned(), (*b).to_owned(), *q))
            .collect();
        let deliveries = self.tx.clone();
        self.handle
            .call(|done| Command::Assign {
                settings: Box::new(settings),
                queues,
                deliveries,
                done,
            })
            .await
    }

    /// The queues held now (topic, broker name, queue id).
    pub async fn assignment(&self) -> Result<Vec<(String, String, i32)>, Error> {
        self.handle.call(Command::Assignment).await
    }

    /// The next messages: whatever has arrived, waiting up to `timeout` for the first
    /// (empty when none came). At most one pull batch per call.
    pub async fn poll(&mut self, timeout: Duration) -> Vec<ReceivedMessage> {
        if !self.buffered.is_empty() {
            return self.buffered.drain(..).collect();
        }
        match tokio::time::timeout(timeout, self.rx.recv()).await {
            Ok(Some(batch)) => self.take(batch),
            _ => Vec::new(),
        }
    }

    /// Acknowledge a batch to the engine (its offset becomes committable) and hand
    /// its messages out.
    fn take(&self, batch: Batch) -> Vec<ReceivedMessage> {
        let _ = self.handle.send(Command::Ack(batch.id));
        batch.messages
    }

    /// Move `queue_id` of `topic` on `broker` to `offset`: the next messages of that
    /// queue start there; anything fetched ahead of it is dropped. `false` if the
    /// queue is not held.
    pub async fn seek(
        &mut self,
        topic: &str,
        broker: &str,
        queue_id: i32,
        offset: i64,
    ) -> Result<bool, Error> {
        let moved = self
            .handle
            .call(|done| Command::Seek {
                topic: topic.to_owned(),
                broker: broker.to_owned(),
                queue_id,
                offset,
                done,
            })
            .await?;
        if moved {
            // Batches fetched before the seek are stale.
            self.buffered.retain(|m| {
                !(m.topic == topic && m.broker_name == broker && m.queue_id == queue_id)
            });
            let mut keep = Vec::new();
            while let Ok(b) = self.rx.try_recv() {
                keep.push(b);
            }
            for b in keep {
                let stale = b.messages.first().is_some_and(|m| {
                    m.topic == topic && m.broker_name == broker && m.queue_id == queue_id
                });
                if !stale {
                    // Fetched before the seek ones are dropped: the engine forgot them.
                    self.buffered.extend(self.take(b));
                }
            }
        }
        Ok(moved)
    }

    /// Commit the offsets of everything handed out so far (with auto-commit off, the
    /// only way offsets reach the broker).
    pub fn commit(&self) -> Result<(), Error> {
        self.handle.send(Command::Commit)
    }

    /// What the client holds now: connections, connection tasks, requests in flight
    /// (see [`crate::ClientStats`]).
    pub async fn stats(&self) -> Result<crate::ClientStats, Error> {
        self.handle.call(Command::Stats).await
    }

    /// Stop: commit the offsets of what was handed out, unregister, close.
    pub async fn shutdown(self) {
        self.handle.shutdown(Duration::from_secs(3)).await;
    }
}

/// One message at a time, as they arrive (never ends while the consumer runs).
impl Stream for LitePullConsumer {
    type Item = ReceivedMessage;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ReceivedMessage>> {
        loop {
            if let Some(m) = self.buffered.pop_front() {
                return Poll::Ready(Some(m));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(batch)) => {
                    let msgs = self.take(batch);
                    self.buffered.extend(msgs);
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl LitePullConsumerBuilder {
    /// Subscribe to `topic` with a TAG expression; the group shares its queues.
    pub fn subscribe(mut self, topic: &str, expression: &str) -> Self {
        self.subscriptions
            .push((topic.to_owned(), expression.to_owned()));
        self
    }

    /// Where a queue without a committed offset starts (default: the end).
    pub fn from_where(mut self, from: ConsumeFromWhere) -> Self {
        self.from_where = from;
        self
    }

    /// Commit polled offsets every 5 s (default true); when false only
    /// [`LitePullConsumer::commit`] and shutdown do.
    pub fn auto_commit(mut self, on: bool) -> Self {
        self.auto_commit = on;
        self
    }

    /// Messages per pull (default 32, at most 64).
    pub fn batch_size(mut self, n: i32) -> Self {
        self.batch_size = n.clamp(1, 64);
        self
    }

    /// Start. Without subscriptions, nothing is consumed until
    /// [`LitePullConsumer::assign`].
    pub async fn start(self) -> Result<LitePullConsumer, Error> {
        let handle = Handle::spawn(self.options.engine_config()?, &self.options)?;
        let mut config = ConsumerConfig::lite_pull("");
        config.from_where = self.from_where;
        config.auto_commit = self.auto_commit;
        config.batch_size = self.batch_size;
        let settings = ConsumerSettings {
            group: self.group.clone(),
            config,
            offset_file: None,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let subscriptions = self
            .subscriptions
            .into_iter()
            .map(|(topic, expression)| (topic, expression, false))
            .collect();
        handle.subscribe_all(&settings, subscriptions, &tx).await?;
        Ok(LitePullConsumer {
            handle,
            rx,
            buffered: VecDeque::new(),
            settings,
            tx,
        })
    }
}
