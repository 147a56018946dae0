//! Only messages tagged TagA or TagC (the broker filters by tag hash, the client by tag).
use std::time::Duration;

use rocketmq_tokio::{ClientOptions, ConsumeResult, PushConsumer};

#[tokio::main]
async fn main() -> Result<(), rocketmq_tokio::Error> {
    let consumer = PushConsumer::builder(ClientOptions::from_env(), "tag_consumer")
        .subscribe("TagTopic", "TagA || TagC")
        .start(|msgs| async move {
            for m in &msgs {
                println!("[{}] {:?}", m.tags.as_deref().unwrap_or(""), m.body);
            }
            ConsumeResult::Success
        })
        .await?;
    tokio::time::sleep(Duration::from_secs(30)).await;
    consumer.shutdown().await;
    Ok(())
}
