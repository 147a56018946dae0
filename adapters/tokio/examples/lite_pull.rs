//! Pull at your own pace: poll batches, commit when they are processed.
use std::time::Duration;

use rocketmq_tokio::{ClientOptions, ConsumeFromWhere, LitePullConsumer};

#[tokio::main]
async fn main() -> Result<(), rocketmq_tokio::Error> {
    let mut consumer = LitePullConsumer::builder(ClientOptions::from_env(), "lite_group")
        .subscribe("TopicTest", "*")
        .from_where(ConsumeFromWhere::FirstOffset)
        .auto_commit(false)
        .start()
        .await?;
    for _ in 0..10 {
        let batch = consumer.poll(Duration::from_secs(1)).await;
        for m in &batch {
            println!(
                "{} q{}@{} {:?}",
                m.msg_id, m.queue_id, m.queue_offset, m.body
            );
        }
        if !batch.is_empty() {
            // Processed: their offsets may go to the broker.
            consumer.commit()?;
        }
    }
    consumer.shutdown().await;
    Ok(())
}
