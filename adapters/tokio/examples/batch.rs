//! One request carrying several messages of a topic.
use rocketmq_tokio::{ClientOptions, Message, Producer};

#[tokio::main]
async fn main() -> Result<(), rocketmq_tokio::Error> {
    let producer = Producer::start(ClientOptions::from_env(), "batch_producer").await?;
    let batch = (0..10)
        .map(|i| Message::new("BatchTopic", format!("item {i}")).with_keys(format!("k{i}")))
        .collect();
    let r = producer.send_batch(batch).await?;
    println!("batch stored from queue offset {}", r.queue_offset);
    producer.shutdown().await;
    Ok(())
}
