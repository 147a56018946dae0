//! RPC over messages: a consumer answers each request; the requester waits for it.
use std::time::Duration;

use rocketmq_tokio::{ClientOptions, ConsumeResult, Message, Producer, PushConsumer};

#[tokio::main]
async fn main() -> Result<(), rocketmq_tokio::Error> {
    // The replier: a consumer that answers through a producer.
    let replier = Producer::start(ClientOptions::from_env(), "replier").await?;
    let answering = replier.clone();
    let consumer = PushConsumer::builder(ClientOptions::from_env(), "replier_group")
        .subscribe("RequestTopic", "*")
        .start(move |msgs| {
            let replier = answering.clone();
            async move {
                for m in &msgs {
                    let _ = replier.reply(m, format!("pong for {:?}", m.body)).await;
                }
                ConsumeResult::Success
            }
        })
        .await?;
    // The requester.
    let requester = Producer::start(ClientOptions::from_env(), "requester").await?;
    match requester
        .request(
            Message::new("RequestTopic", "ping"),
            Duration::from_secs(10),
        )
        .await
    {
        Ok(reply) => println!("reply: {:?}", reply.body),
        Err(e) => println!("no reply: {e}"),
    }
    consumer.shutdown().await;
    replier.shutdown().await;
    requester.shutdown().await;
    Ok(())
}
