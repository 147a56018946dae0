//! The push consumer: the engine pulls, this module runs the application's listener.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rocketmq_proto::body::{ConsumeFromWhere, MessageModel};
use rocketmq_proto::engine::client::ConsumerConfig;
use tokio::sync::{mpsc, Semaphore};

use crate::client::ClientOptions;
use crate::driver::{Batch, Command, ConsumerSettings, Handle};
use crate::error::Error;
use crate::message::ReceivedMessage;

/// What the listener made of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeResult {
    /// Consumed: its offset is committed.
    Success,
    /// Failed: redelivered later (concurrent: through the retry topic with Java's
    /// back-off, then the DLQ; orderly: the same batch again after a pause).
    Later,
}

/// Consumes a group's share of its subscriptions with a listener.
///
/// ```no_run
/// # async fn demo() -> Result<(), rocketmq_tokio::Error> {
/// use rocketmq_tokio::{ClientOptions, ConsumeResult, PushConsumer};
/// let consumer = PushConsumer::builder(ClientOptions::from_env(), "CG")
///     .subscribe("TopicTest", "TagA || TagB")
///     .start(|msgs| async move {
///         for m in &msgs {
///             println!("{} {:?}", m.msg_id, m.body);
///         }
///         ConsumeResult::Success
///     })
///     .await?;
/// // ... later: commit offsets, unregister, close.
/// consumer.shutdown().await;
/// # Ok(()) }
/// ```
pub struct PushConsumer {
    handle: Handle,
    dispatcher: tokio::task::JoinHandle<()>,
}

/// Builds a [`PushConsumer`].
pub struct PushConsumerBuilder {
    options: ClientOptions,
    group: String,
    subscriptions: Vec<(String, String, bool)>,
    model: MessageModel,
    from_where: ConsumeFromWhere,
    orderly: bool,
    concurrency: usize,
    batch_size: i32,
    offset_file: Option<std::path::PathBuf>,
    max_reconsume_times: Option<i32>,
}

impl PushConsumer {
    /// A builder for a consumer of `group`.
    pub fn builder(options: ClientOptions, group: &str) -> PushConsumerBuilder {
        PushConsumerBuilder {
            options,
            group: group.to_owned(),
            subscriptions: Vec::new(),
            model: MessageModel::Clustering,
            from_where: ConsumeFromWhere::LastOffset,
            orderly: false,
            concurrency: 20,
            batch_size: 32,
            offset_file: None,
            max_reconsume_times: None,
        }
    }

    /// What the client holds now: connections, connection tasks, requests in flight
    /// (see [`crate::ClientStats`]).
    pub async fn stats(&self) -> Result<crate::ClientStats, Error> {
        self.handle.call(Command::Stats).await
    }

    /// Stop: no new deliveries, wait up to 10 s for listeners running now, commit the
    /// offsets, unregister from the brokers.
    pub async fn shutdown(self) {
        self.handle.shutdown(Duration::from_secs(10)).await;
        let _ = self.dispatcher.await;
    }
}

impl PushConsumerBuilder {
    /// Subscribe to `topic` with a TAG expression (`*`, `TagA || TagB`).
    pub fn subscribe(mut self, topic: &str, expression: &str) -> Self {
        self.subscriptions
            .push((topic.to_owned(), expression.to_owned(), false));
        self
    }

    /// Subscribe to `topic` with a SQL92 expression over message properties.
    pub fn subscribe_sql92(mut self, topic: &str, sql: &str) -> Self {
        self.subscriptions
            .push((topic.to_owned(), sql.to_owned(), true));
        self
    }

    /// Every member reads every message (offsets kept by the client) instead of the
    /// group sharing the queues.
    pub fn broadcasting(mut self) -> Self {
        self.model = MessageModel::Broadcasting;
        self
    }

    /// Broadcasting: keep the local offsets in `path` (default, as Java:
    /// `~/.rocketmq_offsets/<client id>/<group>/offsets.json`, which only survives a
    /// restart with a fixed [`ClientOptions::instance_name`]). The file is read at
    /// start, so a restarted consumer resumes where it stopped, and rewritten (whole,
    /// atomically) after offsets move and at shutdown. The format is Java's, so the
    /// file can be handed between a Java consumer and this one.
    pub fn offset_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.offset_file = Some(path.into());
        self
    }

    /// Where a queue without a committed offset starts (default: the end).
    pub fn from_where(mut self, from: ConsumeFromWhere) -> Self {
        self.from_where = from;
        self
    }

    /// Orderly consumption: queues locked on the broker, one batch of a queue at a
    /// time, in order.
    pub fn orderly(mut self) -> Self {
        self.orderly = true;
        self
    }

    /// How many listener calls may run at once (default 20, Java's thread count).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// After this many failed deliveries a message goes to the group's dead-letter
    /// topic `%DLQ%<group>` (Java `maxReconsumeTimes`: 16 for concurrent consumers;
    /// orderly ones retry forever unless this is set).
    pub fn max_reconsume_times(mut self, n: i32) -> Self {
        self.max_reconsume_times = Some(n.max(0));
        self
    }

    /// Messages per pull (default 32, at most 64).
    pub fn batch_size(mut self, n: i32) -> Self {
        self.batch_size = n.clamp(1, 64);
        self
    }

    /// Start consuming with `listener`, called with each batch.
    pub async fn start<F, Fut>(self, listener: F) -> Result<PushConsumer, Error>
    where
        F: Fn(Vec<ReceivedMessage>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ConsumeResult> + Send + 'static,
    {
        if self.subscriptions.is_empty() {
            return Err(Error::Invalid("subscribe to at least one topic".into()));
        }
        let engine_config = self.options.engine_config()?;
        let offset_file = (self.model == MessageModel::Broadcasting).then(|| {
            self.offset_file.clone().unwrap_or_else(|| {
                crate::offset_file::default_path(engine_config.client_id.as_str(), &self.group)
            })
        });
        let handle = Handle::spawn(engine_config, &self.options)?;
        let mut config = if self.orderly {
            ConsumerConfig::orderly("")
        } else {
            ConsumerConfig::new("")
        };
        config.model = self.model;
        config.from_where = self.from_where;
        config.batch_size = self.batch_size;
        if let Some(n) = self.max_reconsume_times {
            config.max_reconsume_times = n;
        }
        let settings = ConsumerSettings {
            group: self.group.clone(),
            config,
            offset_file,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        handle
            .subscribe_all(&settings, self.subscriptions, &tx)
            .await?;
        drop(tx);
        let dispatcher = tokio::spawn(dispatch(
            rx,
            handle.clone(),
            Arc::new(listener),
            self.concurrency,
        ));
        Ok(PushConsumer { handle, dispatcher })
    }
}

/// Run the listener on each batch, at most `concurrency` at once, and report the
/// result to the engine (which orders, commits and sends back).
async fn dispatch<F, Fut>(
    mut rx: mpsc::UnboundedReceiver<Batch>,
    handle: Handle,
    listener: Arc<F>,
    concurrency: usize,
) where
    F: Fn(Vec<ReceivedMessage>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ConsumeResult> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(concurrency));
    while let Some(batch) = rx.recv().await {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let listener = listener.clone();
        let handle = handle.clone();
        tokio::spawn(async move {
            let result = listener(batch.messages).await;
            let _ = handle.send(match result {
                ConsumeResult::Success => Command::Ack(batch.id),
                ConsumeResult::Later => Command::Nack(batch.id, 0),
            });
            drop(permit);
        });
    }
    // Wait for the listeners still running.
    let _ = permits.acquire_many(concurrency as u32).await;
}
