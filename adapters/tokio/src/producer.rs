//! The producer.

use std::future::Future;
use std::time::Duration;

use rocketmq_proto::body::TopicRouteData;
use rocketmq_proto::collections::Growable;
use rocketmq_proto::engine::client::{SendReceipt, DEFAULT_TOPIC, DEFAULT_TOPIC_QUEUE_NUMS};
use rocketmq_proto::producer::retry::SendMode;

use crate::client::ClientOptions;
use crate::driver::{Command, Handle, ReceivedReply};
use crate::error::Error;
use crate::message::Message;

/// Sends messages. Cheap to clone; every clone shares one client (connections, routes).
///
/// ```no_run
/// # async fn demo() -> Result<(), rocketmq_tokio::Error> {
/// use rocketmq_tokio::{ClientOptions, Message, Producer};
/// let producer = Producer::start(ClientOptions::from_env(), "PG").await?;
/// let receipt = producer.send(Message::new("TopicTest", "hello")).await?;
/// println!("stored as {} in queue {}", receipt.msg_id, receipt.queue_id);
/// producer.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Producer {
    handle: Handle,
    timeout: Duration,
    namespace: Option<String>,
}

/// A queue a message can be sent to (Java `MessageQueue`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageQueue {
    /// The topic (as the application names it).
    pub topic: String,
    /// The broker holding it.
    pub broker: String,
    /// Its id on that broker.
    pub queue_id: i32,
}

/// The receipt of a stored message.
pub type SendResult = SendReceipt;

impl Producer {
    /// Start a producer of `group`.
    pub async fn start(options: ClientOptions, group: &str) -> Result<Producer, Error> {
        let handle = Handle::spawn(options.engine_config()?, &options)?;
        let group = group.to_owned();
        handle
            .call(|done| Command::RegisterProducer { group, done })
            .await?;
        Ok(Producer {
            handle,
            timeout: options.request_timeout_value(),
            namespace: options.namespace_value().map(str::to_owned),
        })
    }

    /// Send and wait for the broker's receipt (retried on another broker as Java does).
    pub async fn send(&self, msg: Message) -> Result<SendResult, Error> {
        self.send_async(msg)?.await
    }

    /// Start a send and return at once: the future resolves with the receipt. Many
    /// sends may be in flight on one connection; call this in a loop and await the
    /// futures later.
    pub fn send_async(
        &self,
        msg: Message,
    ) -> Result<impl Future<Output = Result<SendResult, Error>> + Send + 'static, Error> {
        self.start_send(msg, SendMode::Async, None)
    }

    /// Send without waiting for the broker (no receipt, no retry).
    pub async fn send_oneway(&self, msg: Message) -> Result<(), Error> {
        self.start_send(msg, SendMode::Oneway, None)?
            .await
            .map(|_| ())
    }

    /// Send in order with every other message of `key`: the same key always goes to
    /// the same queue (Java's `SelectMessageQueueByHash`).
    pub async fn send_ordered(&self, msg: Message, key: &str) -> Result<SendResult, Error> {
        self.start_send(msg, SendMode::Sync, Some(key.to_owned()))?
            .await
    }

    /// Send to the queue `select` picks among the topic's writable queues (Java
    /// `send(msg, MessageQueueSelector, arg)`): it gets the queues in Java's order and
    /// the message, and returns an index. One attempt, no retry elsewhere (the queue
    /// was chosen for a reason, usually order).
    ///
    /// ```no_run
    /// # async fn demo(producer: rocketmq_tokio::Producer) -> Result<(), rocketmq_tokio::Error> {
    /// use rocketmq_tokio::Message;
    /// let order_id: usize = 1234;
    /// producer
    ///     .send_with_selector(Message::new("Orders", "paid"), |queues, _msg| order_id % queues.len())
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_with_selector<F>(&self, msg: Message, select: F) -> Result<SendResult, Error>
    where
        F: FnOnce(&[MessageQueue], &Message) -> usize,
    {
        let queues = self.publish_queues(msg.topic()).await?;
        if queues.is_empty() {
            return Err(Error::NoRoute {
                topic: msg.topic().to_owned(),
            });
        }
        let i = select(&queues, &msg);
        let q = queues.get(i).ok_or_else(|| {
            Error::Invalid(format!("selector chose queue {i} of {}", queues.len()))
        })?;
        let (broker, queue_id) = (q.broker.clone(), q.queue_id);
        self.handle
            .send_call(|done| Command::SendToQueue {
                msg,
                broker,
                queue_id,
                done,
            })?
            .await
    }

    /// The queues of `topic` a message can be sent to, in Java's order (brokers by
    /// name, then queue ids; or the topic's order configuration). A topic the
    /// NameServer does not know yet gets the default topic's queues (at most 4 per
    /// broker), as the first send auto-creates it.
    pub async fn publish_queues(&self, topic: &str) -> Result<Vec<MessageQueue>, Error> {
        let wrapped = ClientOptions::wrap(self.namespace.as_deref(), topic);
        let (body, limit) =
            match crate::admin::route_body(&self.handle, self.timeout, &wrapped).await? {
                Some(b) => (b, i32::MAX),
                None => {
                    let b = crate::admin::route_body(&self.handle, self.timeout, DEFAULT_TOPIC)
                        .await?
                        .ok_or_else(|| Error::NoRoute {
                            topic: topic.to_owned(),
                        })?;
                    (b, DEFAULT_TOPIC_QUEUE_NUMS)
                }
            };
        let route = TopicRouteData::<Growable>::decode(&body)
            .map_err(|e| Error::Invalid(format!("route of {topic}: {e}")))?;
        Ok(route
            .publish_queues()
            .filter(|(_, q)| *q < limit)
            .map(|(broker, queue_id)| MessageQueue {
                topic: topic.to_owned(),
                broker: broker.to_cow().into_owned(),
                queue_id,
            })
            .collect())
    }

    /// Send messages of one topic as one batch.
    pub async fn send_batch(&self, msgs: Vec<Message>) -> Result<SendResult, Error> {
        self.handle
            .send_call(|done| Command::SendBatch { msgs, done })?
            .await
    }

    /// Request-reply: send `msg` and wait up to `timeout` for a consumer's reply.
    pub async fn request(&self, msg: Message, timeout: Duration) -> Result<ReceivedReply, Error> {
        self.handle
            .call(|done| Command::Request { msg, timeout, done })
            .await
    }

    /// Answer `request` (a request-reply message a consumer received) with `body`: the
    /// broker pushes it to the requester. This producer's group must be registered
    /// (it is, by [`Producer::start`]).
    pub async fn reply(
        &self,
        request: &crate::message::ReceivedMessage,
        body: impl Into<bytes::Bytes>,
    ) -> Result<SendResult, Error> {
        let request_properties = request.properties.clone();
        let body = body.into();
        self.handle
            .send_call(|done| Command::SendReply {
                request_properties,
                body,
                done,
            })?
            .await
    }

    /// What the client holds now: connections, connection tasks, requests in flight
    /// (see [`crate::ClientStats`]).
    pub async fn stats(&self) -> Result<crate::ClientStats, Error> {
        self.handle.call(Command::Stats).await
    }

    /// Stop: wait for sends in flight (up to the send timeout), unregister, close.
    pub async fn shutdown(&self) {
        self.handle.shutdown(Duration::from_secs(3)).await;
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    fn start_send(
        &self,
        msg: Message,
        mode: SendMode,
        order_key: Option<String>,
    ) -> Result<impl Future<Output = Result<SendResult, Error>> + Send + 'static, Error> {
        self.handle.send_call(|done| Command::Send {
            msg,
            mode,
            order_key,
            done,
        })
    }
}
