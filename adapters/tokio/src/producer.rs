//! The producer.

use std::future::Future;
use std::time::Duration;

use rocketmq_proto::engine::client::SendReceipt;
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
        Ok(Producer { handle })
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

    /// Send messages of one topic as one batch.
    pub async fn send_batch(&self, msgs: Vec<Message>) -> Result<SendResult, Error> {
        self.handle
            .call(|done| Command::SendBatch { msgs, done })
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
            .call(|done| Command::SendReply {
                request_properties,
                body,
                done,
            })
            .await
    }

    /// Stop: wait for sends in flight (up to the send timeout), unregister, close.
    pub async fn shutdown(&self) {
        let (done, rx) = tokio::sync::oneshot::channel();
        if self
            .handle
            .send(Command::Shutdown {
                drain: Duration::from_secs(3),
                done,
            })
            .is_ok()
        {
            let _ = rx.await;
        }
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
        let (done, rx) = tokio::sync::oneshot::channel();
        self.handle.send(Command::Send {
            msg,
            mode,
            order_key,
            done,
        })?;
        Ok(async move { rx.await.map_err(|_| Error::Closed)? })
    }
}
