//! A transaction: the message becomes visible only if the local transaction commits.
use rocketmq_tokio::{
    ClientOptions, Message, SendResult, TransactionCheck, TransactionListener, TransactionProducer,
    TransactionState,
};

/// The application's local transaction (here: an order is "saved" when its body is
/// not empty).
struct SaveOrder;

impl TransactionListener for SaveOrder {
    fn execute(&self, msg: &Message, receipt: &SendResult) -> TransactionState {
        println!("half message {} stored; saving the order", receipt.msg_id);
        if msg.body().is_empty() {
            TransactionState::Rollback
        } else {
            TransactionState::Commit
        }
    }

    fn check(&self, check: &TransactionCheck) -> TransactionState {
        // The broker asks after an UNKNOWN or a lost answer: look the order up.
        println!("broker checks transaction {}", check.msg_id);
        TransactionState::Commit
    }
}

#[tokio::main]
async fn main() -> Result<(), rocketmq_tokio::Error> {
    let producer =
        TransactionProducer::start(ClientOptions::from_env(), "tx_producer", SaveOrder).await?;
    let (receipt, state) = producer
        .send(Message::new("TransactionTopic", "order #1001"))
        .await?;
    println!("{} ended {state:?}", receipt.msg_id);
    producer.shutdown().await;
    Ok(())
}
