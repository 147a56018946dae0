//! Broker-side filtering on message properties with SQL92 (needs
//! `enablePropertyFilter=true` on the broker).
use std::time::Duration;

use rocketmq_tokio::{ClientOptions, ConsumeResult, PushConsumer};

#[tokio::main]
async fn main() -> Result<(), rocketmq_tokio::Error> {
    let consumer = PushConsumer::builder(ClientOptions::from_env(), "sql_consumer")
        .subscribe_sql92("SqlTopic", "region = 'eu' AND amount > 100")
        .start(|msgs| async move {
            for m in &msgs {
                println!("{:?} region={:?}", m.body, m.property("region"));
            }
            ConsumeResult::Success
        })
        .await?;
    tokio::time::sleep(Duration::from_secs(30)).await;
    consumer.shutdown().await;
    Ok(())
}
