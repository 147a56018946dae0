//! Consume QuickstartTopic from the beginning for 30 seconds.
//!
//! `RMQ_NAMESRV=127.0.0.1:9876 cargo run -p rocketmq-tokio --example quickstart_consume`
use std::time::Duration;

use rocketmq_tokio::{ClientOptions, ConsumeFromWhere, ConsumeResult, PushConsumer};

#[tokio::main]
async fn main() -> Result<(), rocketmq_tokio::Error> {
    let consumer = PushConsumer::builder(ClientOptions::from_env(), "quickstart_consumer")
        .subscribe("QuickstartTopic", "*")
        .from_where(ConsumeFromWhere::FirstOffset)
        .start(|msgs| async move {
            for m in &msgs {
                println!(
                    "{} q{}@{} {:?}",
                    m.msg_id, m.queue_id, m.queue_offset, m.body
                );
            }
            ConsumeResult::Success
        })
        .await?;
    tokio::time::sleep(Duration::from_secs(30)).await;
    consumer.shutdown().await; // commits offsets, unregisters
    Ok(())
}
