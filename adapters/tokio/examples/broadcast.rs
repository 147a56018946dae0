//! Every member of the group receives every message.
use std::time::Duration;

use rocketmq_tokio::{ClientOptions, ConsumeResult, PushConsumer};

#[tokio::main]
async fn main() -> Result<(), rocketmq_tokio::Error> {
    let consumer = PushConsumer::builder(ClientOptions::from_env(), "broadcast_consumer")
        .subscribe("BroadcastTopic", "*")
        .broadcasting()
        .start(|msgs| async move {
            println!("{} messages", msgs.len());
            ConsumeResult::Success
        })
        .await?;
    tokio::time::sleep(Duration::from_secs(30)).await;
    consumer.shutdown().await;
    Ok(())
}
