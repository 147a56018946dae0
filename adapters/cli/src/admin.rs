//! `rmq route`, `rmq topic create`, `rmq cluster`, `rmq offsets`: the admin calls of
//! rocketmq-tokio, printed for people or as JSON.

use rocketmq_tokio::{Admin, BrokerInfo, ClientOptions, Error, TopicConfig};
use serde_json::json;

fn broker_json(b: &BrokerInfo) -> serde_json::Value {
    json!({
        "name": b.name,
        "cluster": b.cluster,
        "addrs": b.addrs.iter().map(|(id, a)| json!({"id": id, "addr": a})).collect::<Vec<_>>(),
    })
}

fn broker_line(b: &BrokerInfo) -> String {
    let addrs: Vec<String> = b
        .addrs
        .iter()
        .map(|(id, a)| {
            format!(
                "{}={a}",
                if *id == 0 {
                    "master".into()
                } else {
                    format!("slave{id}")
                }
            )
        })
        .collect();
    format!(
        "{:<20} {:<16} {}",
        b.name,
        b.cluster.as_deref().unwrap_or("-"),
        addrs.join(" ")
    )
}

/// `rmq route TOPIC`.
pub async fn route(options: ClientOptions, topic: &str, as_json: bool) -> Result<(), Error> {
    let admin = Admin::start(options).await?;
    let r = admin.route(topic).await;
    admin.shutdown().await;
    let r = r?;
    if as_json {
        let queues: Vec<_> = r
            .queues
            .iter()
            .map(|q| {
                json!({
                    "broker": r.brokers.get(q.broker).map(|b| b.name.as_str()),
                    "readQueues": q.read_queues,
                    "writeQueues": q.write_queues,
                    "perm": q.perm,
                })
            })
            .collect();
        let brokers: Vec<_> = r.brokers.iter().map(broker_json).collect();
        println!(
            "{}",
            json!({"topic": topic, "brokers": brokers, "queues": queues})
        );
        return Ok(());
    }
    println!("route of {topic}");
    println!("{:<20} {:<16} addresses", "broker", "cluster");
    for b in &r.brokers {
        println!("{}", broker_line(b));
    }
    println!(
        "{:<20} {:>5} {:>5} {:>4}",
        "queues on", "read", "write", "perm"
    );
    for q in &r.queues {
        let name = r.brokers.get(q.broker).map_or("?", |b| b.name.as_str());
        println!(
            "{:<20} {:>5} {:>5} {:>4}",
            name,
            q.read_queues,
            q.write_queues,
            perm_text(q.perm)
        );
    }
    Ok(())
}

fn perm_text(perm: i32) -> String {
    format!(
        "{}{}",
        if perm & 4 != 0 { "r" } else { "-" },
        if perm & 2 != 0 { "w" } else { "-" }
    )
}

/// `rmq cluster`.
pub async fn cluster(options: ClientOptions, as_json: bool) -> Result<(), Error> {
    let admin = Admin::start(options).await?;
    let c = admin.cluster().await;
    admin.shutdown().await;
    let c = c?;
    if as_json {
        let brokers: Vec<_> = c.brokers.iter().map(broker_json).collect();
        println!("{}", json!({ "brokers": brokers }));
        return Ok(());
    }
    println!("{:<20} {:<16} addresses", "broker", "cluster");
    for b in &c.brokers {
        println!("{}", broker_line(b));
    }
    Ok(())
}

/// `rmq topic create TOPIC`.
pub async fn create_topic(
    options: ClientOptions,
    topic: &str,
    config: TopicConfig,
    as_json: bool,
) -> Result<(), Error> {
    let admin = Admin::start(options).await?;
    let r = admin.create_topic(topic, config).await;
    admin.shutdown().await;
    r?;
    if as_json {
        println!(
            "{}",
            json!({"topic": topic, "queues": config.queues, "perm": config.perm, "order": config.order, "created": true})
        );
    } else {
        println!(
            "created {topic}: {} queues per master, perm {}{}",
            config.queues,
            perm_text(config.perm),
            if config.order { ", ordered" } else { "" }
        );
    }
    Ok(())
}

/// `rmq offsets --group G --topic T`.
pub async fn offsets(
    options: ClientOptions,
    group: &str,
    topic: &str,
    as_json: bool,
) -> Result<(), Error> {
    let admin = Admin::start(options).await?;
    let r = admin.consumer_offsets(group, topic).await;
    admin.shutdown().await;
    let r = r?;
    let total: i64 = r.iter().map(|q| q.lag()).sum();
    if as_json {
        let queues: Vec<_> = r
            .iter()
            .map(|q| {
                json!({
                    "broker": q.broker,
                    "queueId": q.queue_id,
                    "brokerOffset": q.broker_offset,
                    "consumerOffset": q.consumer_offset,
                    "lag": q.lag(),
                })
            })
            .collect();
        println!(
            "{}",
            json!({"group": group, "topic": topic, "queues": queues, "lag": total})
        );
        return Ok(());
    }
    println!(
        "{:<20} {:>5} {:>14} {:>14} {:>10}",
        "broker", "queue", "broker offset", "consumer off.", "lag"
    );
    for q in &r {
        println!(
            "{:<20} {:>5} {:>14} {:>14} {:>10}",
            q.broker,
            q.queue_id,
            q.broker_offset,
            q.consumer_offset
                .map_or_else(|| "-".to_owned(), |o| o.to_string()),
            q.lag()
        );
    }
    println!("total lag of {group} on {topic}: {total}");
    Ok(())
}
