//! Delivered later: by delay level (here 10 s) or at a time (5.x timer messages).
use std::time::{SystemTime, UNIX_EPOCH};

use rocketmq_tokio::{ClientOptions, Message, Producer};

#[tokio::main]
async fn main() -> Result<(), rocketmq_tokio::Error> {
    let producer = Producer::start(ClientOptions::from_env(), "delay_producer").await?;
    producer
        .send(Message::new("DelayTopic", "in 10 s").with_delay_level(3))
        .await?;
    let in_a_minute = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 60_000;
    producer
        .send(Message::new("DelayTopic", "in a minute").with_deliver_at(in_a_minute))
        .await?;
    producer.shutdown().await;
    Ok(())
}
