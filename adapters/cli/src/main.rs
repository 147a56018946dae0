//! `rmq`: send and consume RocketMQ messages from the command line.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use rocketmq_tokio::{
    ClientOptions, ConsumeFromWhere, ConsumeResult, Message, Producer, PushConsumer, SerializeType,
};

#[derive(Parser)]
#[command(name = "rmq", version, about = "RocketMQ from the command line")]
struct Cli {
    /// NameServer list, `host:port;host:port`.
    #[arg(
        long,
        env = "RMQ_NAMESRV",
        default_value = "127.0.0.1:9876",
        global = true
    )]
    namesrv: String,
    /// Machine-readable output (one JSON object per line).
    #[arg(long, global = true)]
    json: bool,
    /// Request header serialization: `json` (Java's default) or `rocketmq` (binary).
    #[arg(
        long,
        env = "RMQ_SERIALIZE",
        value_enum,
        default_value_t = Serialize::Json,
        global = true
    )]
    serialize: Serialize,
    /// Runtime threads: 0 runs everything on this thread (tokio's current-thread
    /// runtime: one client, one connection per broker, no hand-offs between threads);
    /// N runs a multi-thread runtime with N workers.
    #[arg(long, env = "RMQ_WORKER_THREADS", default_value_t = 0, global = true)]
    worker_threads: usize,
    #[command(subcommand)]
    command: Command,
}

/// `--serialize`: how request headers are written.
#[derive(Clone, Copy, ValueEnum)]
enum Serialize {
    /// JSON text (Java's default).
    Json,
    /// The ROCKETMQ binary form.
    Rocketmq,
}

#[derive(Subcommand)]
enum Command {
    /// Send messages.
    Send {
        /// Topic.
        #[arg(long)]
        topic: String,
        /// Body (the message number is appended when --count > 1).
        #[arg(long, default_value = "hello")]
        body: String,
        /// Tag.
        #[arg(long)]
        tags: Option<String>,
        /// Keys.
        #[arg(long)]
        keys: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// Producer group.
        #[arg(long, default_value = "rmq_cli_producer")]
        group: String,
    },
    /// Consume and print messages.
    Consume {
        /// Topic.
        #[arg(long)]
        topic: String,
        /// Consumer group.
        #[arg(long, default_value = "rmq_cli_consumer")]
        group: String,
        /// TAG expression.
        #[arg(long, default_value = "*")]
        expression: String,
        /// Where a new group starts.
        #[arg(long, value_enum, default_value_t = From::Last)]
        from: From,
        /// Stop after this many messages (default: run until Ctrl-C).
        #[arg(long)]
        count: Option<usize>,
        /// Stop after this many seconds without reaching --count.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Show where a topic lives: brokers, addresses, queues.
    Route {
        /// Topic.
        topic: String,
    },
    /// Topic administration.
    Topic {
        #[command(subcommand)]
        action: TopicAction,
    },
    /// List the brokers the NameServer knows.
    Cluster,
    /// A consumer group's offsets and lag on a topic, queue by queue.
    Offsets {
        /// Consumer group.
        #[arg(long)]
        group: String,
        /// Topic.
        #[arg(long)]
        topic: String,
    },
    /// Measure throughput and latency.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Decode a frame (hex on the command line, or a file of hex or raw bytes) and
    /// print its header, fields and body: a dissector.
    Decode {
        /// Hex of a whole frame (length prefix included).
        hex: Option<String>,
        /// Read the frame from this file instead (hex text or raw bytes).
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum TopicAction {
    /// Create (or update) a topic on every master broker.
    Create {
        /// Topic.
        topic: String,
        /// Read and write queues per master.
        #[arg(long, default_value_t = 8)]
        queues: i32,
        /// Permission: 6 read+write, 4 read only, 2 write only.
        #[arg(long, default_value_t = 6)]
        perm: i32,
        /// An ordered topic.
        #[arg(long)]
        order: bool,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Send messages as fast as the mode allows.
    Produce {
        /// Topic.
        #[arg(long, default_value = "BenchmarkTest")]
        topic: String,
        /// sync: N tasks each waiting for its send; async: one pipeline of N in flight.
        #[arg(long, value_enum, default_value_t = bench::Mode::Sync)]
        mode: bench::Mode,
        /// Sync senders, or sends in flight in async mode (Java's tool: 64 threads).
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Body size in bytes (Java's tool: 128).
        #[arg(long, default_value_t = 128)]
        size: usize,
        /// Seconds to run (default: 10, or with --count until that many are sent).
        #[arg(long)]
        duration: Option<f64>,
        /// Stop after this many messages.
        #[arg(long)]
        count: Option<u64>,
        /// Producer group.
        #[arg(long, default_value = "rmq_bench_producer")]
        group: String,
    },
    /// Consume a topic from its first offset and time it.
    Consume {
        /// Topic.
        #[arg(long, default_value = "BenchmarkTest")]
        topic: String,
        /// Consumer group (default: a new one, so the topic is read from its start).
        #[arg(long)]
        group: Option<String>,
        /// Messages to consume.
        #[arg(long)]
        count: u64,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum From {
    First,
    Last,
}

mod admin;
mod bench;
mod decode;

/// Hex with any whitespace (capture files wrap lines).
fn decode_hex(text: &str) -> Result<Vec<u8>, rocketmq_tokio::Error> {
    let clean: String = text.split_whitespace().collect();
    hex::decode(clean).map_err(|e| rocketmq_tokio::Error::Invalid(format!("hex: {e}")))
}

fn main() {
    let cli = Cli::parse();
    // One thread by default. `rmq` drives one client, whose driver task does the
    // protocol work for all its connections: on a multi-thread runtime a task woken by
    // a worker's running task takes that worker's next-task slot, so the driver and
    // the tasks it serves ran in turn on one core anyway, plus the cost of waking and
    // parking the other worker. Against benches/responder (4 s runs): async sends
    // 502,000-522,000/s on one thread against 449,000-454,000 on two workers, sync 64
    // senders 291,000-296,000 against 202,000-236,000, at half the CPU per message;
    // against the real broker the same rates (its pace) at the same or less CPU.
    let mut builder = if cli.worker_threads == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(cli.worker_threads);
        b
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rmq: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    runtime.block_on(run_main(cli));
}

async fn run_main(cli: Cli) {
    // Client logs (connections, failures, retries) on stderr: RMQ_LOG=debug, or
    // RMQ_LOG=rocketmq_tokio=trace for every send.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RMQ_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(cli).await {
        eprintln!("rmq: {e}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<(), rocketmq_tokio::Error> {
    let options = ClientOptions::new(&cli.namesrv).serialize_type(match cli.serialize {
        Serialize::Json => SerializeType::Json,
        Serialize::Rocketmq => SerializeType::RocketMq,
    });
    match cli.command {
        Command::Route { topic } => admin::route(options, &topic, cli.json).await,
        Command::Cluster => admin::cluster(options, cli.json).await,
        Command::Topic {
            action:
                TopicAction::Create {
                    topic,
                    queues,
                    perm,
                    order,
                },
        } => {
            let config = rocketmq_tokio::TopicConfig {
                queues,
                perm,
                order,
            };
            admin::create_topic(options, &topic, config, cli.json).await
        }
        Command::Offsets { group, topic } => {
            admin::offsets(options, &group, &topic, cli.json).await
        }
        Command::Bench {
            what:
                BenchWhat::Produce {
                    topic,
                    mode,
                    concurrency,
                    size,
                    duration,
                    count,
                    group,
                },
        } => {
            let args = bench::ProduceArgs {
                topic,
                group,
                mode,
                concurrency,
                size,
                duration: produce_duration(duration, count),
                count,
            };
            bench::produce(options, args, cli.json).await
        }
        Command::Bench {
            what:
                BenchWhat::Consume {
                    topic,
                    group,
                    count,
                    timeout,
                },
        } => {
            let group = group.unwrap_or_else(|| {
                format!(
                    "rmq_bench_consumer_{}",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis())
                )
            });
            bench::consume(
                options,
                &topic,
                &group,
                count,
                Duration::from_secs(timeout),
                cli.json,
            )
            .await
        }
        Command::Decode { hex, file } => {
            let bytes = match (hex, file) {
                (Some(h), _) => decode_hex(&h)?,
                (None, Some(path)) => {
                    let raw = std::fs::read(&path).map_err(|e| {
                        rocketmq_tokio::Error::Invalid(format!("{}: {e}", path.display()))
                    })?;
                    match std::str::from_utf8(&raw) {
                        Ok(text) if decode_hex(text).is_ok() => decode_hex(text)?,
                        _ => raw,
                    }
                }
                (None, None) => {
                    return Err(rocketmq_tokio::Error::Invalid(
                        "give the frame as hex or --file".into(),
                    ))
                }
            };
            decode::print(&bytes, cli.json).map_err(rocketmq_tokio::Error::Invalid)
        }
        Command::Send {
            topic,
            body,
            tags,
            keys,
            count,
            group,
        } => {
            let producer = Producer::start(options, &group).await?;
            let start = Instant::now();
            let mut pending = Vec::with_capacity(count);
            for i in 0..count {
                let body = if count > 1 {
                    format!("{body}-{i}")
                } else {
                    body.clone()
                };
                let mut m = Message::new(&topic, body);
                if let Some(t) = &tags {
                    m = m.with_tags(t);
                }
                if let Some(k) = &keys {
                    m = m.with_keys(k);
                }
                pending.push(producer.send_async(m)?);
            }
            let mut ok = 0;
            for p in pending {
                let r = p.await?;
                ok += 1;
                if count <= 10 {
                    if cli.json {
                        println!(
                            "{{\"msgId\":\"{}\",\"broker\":\"{}\",\"queueId\":{},\"queueOffset\":{}}}",
                            r.msg_id, r.broker_name, r.queue_id, r.queue_offset
                        );
                    } else {
                        println!(
                            "sent {} to {} queue {} offset {}",
                            r.msg_id, r.broker_name, r.queue_id, r.queue_offset
                        );
                    }
                }
            }
            let secs = start.elapsed().as_secs_f64();
            eprintln!(
                "sent {ok} messages to {topic} in {:.2} s ({:.0} msg/s)",
                secs,
                ok as f64 / secs.max(1e-9)
            );
            producer.shutdown().await;
            Ok(())
        }
        Command::Consume {
            topic,
            group,
            expression,
            from,
            count,
            timeout,
        } => {
            let seen = Arc::new(AtomicUsize::new(0));
            let counter = seen.clone();
            let json = cli.json;
            let start = Instant::now();
            let consumer = PushConsumer::builder(options, &group)
                .subscribe(&topic, &expression)
                .from_where(match from {
                    From::First => ConsumeFromWhere::FirstOffset,
                    From::Last => ConsumeFromWhere::LastOffset,
                })
                .concurrency(1)
                .start(move |msgs| {
                    let counter = counter.clone();
                    async move {
                        for m in &msgs {
                            let n = counter.fetch_add(1, Ordering::Relaxed);
                            if count.is_none_or(|c| n < c) {
                                let body = String::from_utf8_lossy(&m.body);
                                if json {
                                    println!(
                                        "{{\"msgId\":\"{}\",\"queueId\":{},\"queueOffset\":{},\"tags\":{:?},\"body\":{:?}}}",
                                        m.msg_id, m.queue_id, m.queue_offset,
                                        m.tags.as_deref().unwrap_or(""), body
                                    );
                                } else {
                                    println!(
                                        "{} q{}@{} [{}] {}",
                                        m.msg_id,
                                        m.queue_id,
                                        m.queue_offset,
                                        m.tags.as_deref().unwrap_or(""),
                                        body
                                    );
                                }
                            }
                        }
                        ConsumeResult::Success
                    }
                })
                .await?;
            let deadline = Instant::now() + Duration::from_secs(timeout);
            loop {
                let n = seen.load(Ordering::Relaxed);
                if count.is_some_and(|c| n >= c) || Instant::now() >= deadline {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                    _ = tokio::signal::ctrl_c() => break,
                }
            }
            consumer.shutdown().await;
            let n = seen.load(Ordering::Relaxed);
            let secs = start.elapsed().as_secs_f64();
            eprintln!(
                "consumed {n} messages from {topic} in {secs:.2} s ({:.0} msg/s)",
                n as f64 / secs.max(1e-9)
            );
            if count.is_some_and(|c| n < c) {
                return Err(rocketmq_tokio::Error::Timeout {
                    what: format!("consuming {count:?} messages of {topic}"),
                });
            }
            Ok(())
        }
    }
}

/// How long `rmq bench produce` runs: `--duration` if given; else until `--count`
/// messages are sent (a day at most); else 10 s.
fn produce_duration(duration: Option<f64>, count: Option<u64>) -> Duration {
    match (duration, count) {
        (Some(secs), _) => Duration::from_secs_f64(secs.max(0.0)),
        (None, Some(_)) => Duration::from_secs(24 * 3600),
        (None, None) => Duration::from_secs(10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_alone_runs_until_it_is_reached_and_a_duration_always_wins() {
        assert_eq!(produce_duration(None, None), Duration::from_secs(10));
        assert_eq!(
            produce_duration(None, Some(500_000)),
            Duration::from_secs(86_400)
        );
        assert_eq!(
            produce_duration(Some(2.5), Some(500_000)),
            Duration::from_millis(2_500)
        );
        assert_eq!(produce_duration(Some(-1.0), None), Duration::ZERO);
    }
}
