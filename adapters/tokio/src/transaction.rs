//! The transaction producer: half message, local transaction, commit or rollback, and
//! the broker's later checks.

use std::sync::Arc;

use rocketmq_proto::engine::client::TransactionCheck;
use rocketmq_proto::header::TransactionResolution;
use tokio::sync::mpsc;

use crate::client::ClientOptions;
use crate::driver::{Command, Handle};
use crate::error::Error;
use crate::message::Message;
use crate::producer::{Producer, SendResult};

/// How a local transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionState {
    /// Make the message visible to consumers.
    Commit,
    /// Drop it.
    Rollback,
    /// Not known yet: the broker asks [`TransactionListener::check`] later.
    Unknown,
}

impl TransactionState {
    fn resolution(self) -> TransactionResolution {
        match self {
            TransactionState::Commit => TransactionResolution::Commit,
            TransactionState::Rollback => TransactionResolution::Rollback,
            TransactionState::Unknown => TransactionResolution::Unknown,
        }
    }
}

/// The application's side of a transaction (Java `TransactionListener`).
pub trait TransactionListener: Send + Sync + 'static {
    /// Run the local transaction for `msg`, whose half message the broker stored.
    fn execute(&self, msg: &Message, receipt: &SendResult) -> TransactionState;
    /// The broker asks how the transaction of `check.msg_id` ended (after an
    /// `Unknown`, or when the answer was lost).
    fn check(&self, check: &TransactionCheck) -> TransactionState;
}

/// Sends messages inside local transactions.
///
/// ```no_run
/// use rocketmq_tokio::{ClientOptions, Message, SendResult, TransactionCheck,
///     TransactionListener, TransactionProducer, TransactionState};
/// struct Orders;
/// impl TransactionListener for Orders {
///     fn execute(&self, _msg: &Message, _r: &SendResult) -> TransactionState {
///         TransactionState::Commit // the database write succeeded
///     }
///     fn check(&self, _c: &TransactionCheck) -> TransactionState {
///         TransactionState::Commit
///     }
/// }
/// # async fn demo() -> Result<(), rocketmq_tokio::Error> {
/// let producer = TransactionProducer::start(ClientOptions::from_env(), "tx_group", Orders).await?;
/// let (receipt, state) = producer.send(Message::new("OrderTopic", "order 42 paid")).await?;
/// # Ok(()) }
/// ```
pub struct TransactionProducer {
    producer: Producer,
    listener: Arc<dyn TransactionListener>,
    checker: tokio::task::JoinHandle<()>,
}

impl TransactionProducer {
    /// Start a transaction producer of `group` with `listener`.
    pub async fn start(
        options: ClientOptions,
        group: &str,
        listener: impl TransactionListener,
    ) -> Result<TransactionProducer, Error> {
        let producer = Producer::start(options, group).await?;
        let listener: Arc<dyn TransactionListener> = Arc::new(listener);
        let (tx, mut rx) = mpsc::unbounded_channel::<TransactionCheck>();
        producer.handle().send(Command::CheckHandler(tx))?;
        let handle: Handle = producer.handle().clone();
        let l = listener.clone();
        // Checks run off the driver: the listener may block (it asks a database).
        let checker = tokio::spawn(async move {
            while let Some(check) = rx.recv().await {
                let l = l.clone();
                let state = tokio::task::spawn_blocking(move || (l.check(&check), check.id)).await;
                if let Ok((state, id)) = state {
                    let _ = handle.send(Command::AnswerCheck(id, state.resolution()));
                }
            }
        });
        Ok(TransactionProducer {
            producer,
            listener,
            checker,
        })
    }

    /// Send `msg` as a half message, run the local transaction, and commit or roll
    /// back (END_TRANSACTION) as it says.
    pub async fn send(&self, msg: Message) -> Result<(SendResult, TransactionState), Error> {
        let handle = self.producer.handle();
        let half = msg.clone();
        let receipt = handle
            .send_call(|done| Command::SendTransactional { msg: half, done })?
            .await?;
        let l = self.listener.clone();
        let r = receipt.clone();
        let state = tokio::task::spawn_blocking(move || l.execute(&msg, &r))
            .await
            .unwrap_or(TransactionState::Unknown);
        let resolution = state.resolution();
        let end = Box::new(receipt.clone());
        handle
            .call(|done| Command::EndTransaction {
                receipt: end,
                resolution,
                done,
            })
            .await?;
        Ok((receipt, state))
    }

    /// Stop (as [`Producer::shutdown`]).
    pub async fn shutdown(self) {
        self.producer.shutdown().await;
        self.checker.abort();
    }
}
