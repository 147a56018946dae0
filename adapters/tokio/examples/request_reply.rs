//! RPC over messages: a requester waits for a replier's answer.
use std::time::Duration;

use rocketmq_tokio::{ClientOptions, Message, Producer};

#[tokio::main]
async fn main() -> Result<(), rocketmq_tokio::Error> {
    let requester = Producer::start(ClientOptions::from_env(), "requester").await?;
    match requester
        .request(Message::new("RequestTopic", "ping"), Duration::from_secs(3))
        .await
    {
        Ok(reply) => println!("reply: {:?}", reply.body),
        Err(e) => println!("no reply: {e}"),
    }
    requester.shutdown().await;
    Ok(())
}
