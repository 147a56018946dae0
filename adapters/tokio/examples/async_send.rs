//! Many sends in flight at once on one connection, awaited afterwards.
use rocketmq_tokio::{ClientOptions, Message, Producer};

#[tokio::main]
async fn main() -> Result<(), rocketmq_tokio::Error> {
    let producer = Producer::start(ClientOptions::from_env(), "async_producer").await?;
    let start = std::time::Instant::now();
    let mut pending = Vec::new();
    for i in 0..1_000 {
        pending.push(producer.send_async(Message::new("AsyncTopic", format!("m{i}")))?);
    }
    for p in pending {
        p.await?;
    }
    println!("1000 messages stored in {:?}", start.elapsed());
    producer.shutdown().await;
    Ok(())
}
