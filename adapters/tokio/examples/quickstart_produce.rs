//! Send ten messages and print their receipts.
//!
//! `RMQ_NAMESRV=127.0.0.1:9876 cargo run -p rocketmq-tokio --example quickstart_produce`
use rocketmq_tokio::{ClientOptions, Message, Producer};

#[tokio::main]
async fn main() -> Result<(), rocketmq_tokio::Error> {
    let producer = Producer::start(ClientOptions::from_env(), "quickstart_producer").await?;
    for i in 0..10 {
        let msg = Message::new("QuickstartTopic", format!("hello {i}")).with_tags("TagA");
        let r = producer.send(msg).await?;
        println!(
            "{} -> {} queue {} offset {}",
            r.msg_id, r.broker_name, r.queue_id, r.queue_offset
        );
    }
    producer.shutdown().await;
    Ok(())
}
