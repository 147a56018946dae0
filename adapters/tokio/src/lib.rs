//! An async RocketMQ client for tokio.
//!
//! A thin driver of the sans-IO engine in [`rocketmq_proto`]: this crate owns sockets,
//! timers and tasks; every protocol decision (routes, retries, rebalancing, offsets)
//! is the engine's, so it behaves exactly as it does in the deterministic tests.
//!
//! ```no_run
//! use rocketmq_tokio::{ClientOptions, ConsumeResult, Message, Producer, PushConsumer};
//! # async fn demo() -> Result<(), rocketmq_tokio::Error> {
//! let producer = Producer::start(ClientOptions::from_env(), "PG").await?;
//! producer.send(Message::new("TopicTest", "hello").with_tags("TagA")).await?;
//!
//! let consumer = PushConsumer::builder(ClientOptions::from_env(), "CG")
//!     .subscribe("TopicTest", "*")
//!     .start(|msgs| async move { ConsumeResult::Success })
//!     .await?;
//! consumer.shutdown().await;
//! producer.shutdown().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin;
mod client;
mod completion;
mod conn;
mod consumer;
mod driver;
mod error;
mod lite_pull;
mod message;
mod msgbuf;
mod offset_file;
mod producer;
#[cfg(feature = "tls")]
mod tls;
mod transaction;

pub use admin::{Admin, BrokerInfo, Cluster, QueueInfo, QueueOffset, TopicConfig, TopicRoute};
pub use client::ClientOptions;
pub use consumer::{ConsumeResult, PushConsumer, PushConsumerBuilder};
pub use driver::{ClientStats, ReceivedReply};
pub use error::Error;
pub use lite_pull::{LitePullConsumer, LitePullConsumerBuilder};
pub use message::{Message, Properties, ReceivedMessage, Topic};
pub use producer::{MessageQueue, Producer, SendResult};
pub use rocketmq_proto::body::ConsumeFromWhere;
pub use rocketmq_proto::codes::SerializeType;
pub use rocketmq_proto::engine::client::TransactionCheck;
#[cfg(feature = "tls")]
pub use tls::TlsOptions;
pub use transaction::{TransactionListener, TransactionProducer, TransactionState};
