//! Messages of one order key go to one queue, so they are consumed in order.
use rocketmq_tokio::{ClientOptions, Message, Producer};

#[tokio::main]
async fn main() -> Result<(), rocketmq_tokio::Error> {
    let producer = Producer::start(ClientOptions::from_env(), "ordered_producer").await?;
    for order in ["order-1", "order-2"] {
        for step in ["created", "paid", "shipped"] {
            let r = producer
                .send_ordered(Message::new("OrderTopic", format!("{order} {step}")), order)
                .await?;
            println!("{order} {step} -> queue {}", r.queue_id);
        }
    }
    producer.shutdown().await;
    Ok(())
}
