//! The driver task: owns the engine and the connections, and nothing protocol-specific.
//!
//! One task runs the loop of the engine's docs: feed it bytes, connection events,
//! application commands and timeouts; drain `poll_transmit` (frames are gathered per
//! connection and written in one piece: into the socket from this task when it takes
//! them, else through the connection's task, see [`conn::Writer`]) and `poll_event`
//! (results go back to the callers through pooled completions, deliveries to the
//! consumer's dispatch task).

use rustc_hash::FxHashMap as HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use rocketmq_proto::codes::{RequestCode, ResponseCode};
use rocketmq_proto::collections::Growable;
use rocketmq_proto::engine::client::{
    CallFailure, CallTarget, CheckId, Client, Config, ConsumerConfig, DeliveryId, Event,
    SendReceipt, TransactionCheck,
};
use rocketmq_proto::engine::{ConnId, Instant as EngineInstant, Millis};
use rocketmq_proto::error::EncodeError;
use rocketmq_proto::frame::{Decoded, FrameDecoder};
use rocketmq_proto::header::TransactionResolution;
use rocketmq_proto::message::UniqKeyGenerator;
use rocketmq_proto::producer::retry::SendMode;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::completion;
use crate::conn::{self, Io};
use crate::error::Error;
use crate::message::{Message, ReceivedMessage, Topic};

/// Requests in flight on the wire at once (sends may take 896 of them, the rest are
/// kept for heartbeats and the like); sends beyond it wait in the engine for a free
/// entry, within their deadlines. Deeper pipelines gain nothing: on loopback 896
/// requests keep a connection busy, and against a broker that stores ~1,500 messages
/// a second they are already 0.6 s of its work. Deeper, a request waits on the wire
/// past its deadline and the broker spends its time on sends that have failed; a
/// send that times out waiting here costs the broker nothing.
pub(crate) const INFLIGHT: usize = 1_024;

pub(crate) type Engine = Client<Growable, crate::msgbuf::PooledBuf, INFLIGHT>;

type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// A send's outcome as the driver delivers it.
pub(crate) type SendOutcome = Result<SendReceipt, Error>;

/// Where a send's outcome goes (every kind of send): a pooled completion, so the hot
/// path allocates nothing for it.
pub(crate) type SendDone = completion::Sender<SendOutcome>;

/// A send's outcome to come ([`Handle::send_call`]).
pub(crate) struct SendWait(completion::Receiver<SendOutcome>);

impl Future for SendWait {
    type Output = SendOutcome;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<SendOutcome> {
        self.0
            .poll_map(cx, std::convert::identity, || Err(Error::Closed))
    }
}

/// What a handle asks of the driver.
pub(crate) enum Command {
    RegisterProducer {
        group: String,
        done: Reply<()>,
    },
    Send {
        msg: Message,
        mode: SendMode,
        order_key: Option<String>,
        done: SendDone,
    },
    SendBatch {
        msgs: Vec<Message>,
        done: SendDone,
    },
    /// Send to the queue a selector chose.
    SendToQueue {
        msg: Message,
        broker: String,
        queue_id: i32,
        done: SendDone,
    },
    /// Answer a request message (its properties) with a body.
    SendReply {
        request_properties: crate::message::Properties,
        body: Bytes,
        done: SendDone,
    },
    Request {
        msg: Message,
        timeout: Duration,
        done: Reply<ReceivedReply>,
    },
    // The one-off commands' large parts are boxed: every command moves through the
    // channel and the driver's match, a send's too, at the size of the largest.
    Subscribe {
        settings: Box<ConsumerSettings>,
        topic: String,
        expression: String,
        sql92: bool,
        deliveries: mpsc::UnboundedSender<Batch>,
        done: Reply<()>,
    },
    SendTransactional {
        msg: Message,
        done: SendDone,
    },
    EndTransaction {
        receipt: Box<SendReceipt>,
        resolution: TransactionResolution,
        done: Reply<()>,
    },
    /// Where the broker's transaction checks go.
    CheckHandler(mpsc::UnboundedSender<TransactionCheck>),
    AnswerCheck(CheckId, TransactionResolution),
    Ack(DeliveryId),
    Nack(DeliveryId, i32),
    Shutdown {
        drain: Duration,
        done: oneshot::Sender<()>,
    },
    /// Lite pull: consume exactly these queues (topic, broker name, queue id).
    Assign {
        settings: Box<ConsumerSettings>,
        queues: Vec<(String, String, i32)>,
        deliveries: mpsc::UnboundedSender<Batch>,
        done: Reply<()>,
    },
    /// Lite pull: move a queue's position.
    Seek {
        topic: String,
        broker: String,
        queue_id: i32,
        offset: i64,
        done: Reply<bool>,
    },
    /// Commit consumed offsets now.
    Commit,
    /// What the client holds now (diagnostics).
    Stats(Reply<ClientStats>),
    /// The queues the consumer holds now.
    Assignment(Reply<Vec<(String, String, i32)>>),
    /// One request composed by the caller (admin): to `target` (`None`: the NameServer).
    Call {
        target: Option<String>,
        code: RequestCode,
        fields: Vec<(String, String)>,
        body: Bytes,
        timeout: Duration,
        done: Reply<CallResponse>,
    },
}

/// The response to a [`Command::Call`], copied out of the engine.
#[derive(Debug, Clone)]
pub(crate) struct CallResponse {
    pub(crate) code: ResponseCode,
    pub(crate) remark: String,
    pub(crate) fields: Vec<(String, String)>,
    pub(crate) body: Bytes,
}

impl CallResponse {
    /// The value of field `key`.
    pub(crate) fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A reply to a request-reply request.
#[derive(Debug, Clone)]
pub struct ReceivedReply {
    /// The reply's body (decompressed when it was sent compressed).
    pub body: Bytes,
    /// The reply's properties.
    pub properties: crate::message::Properties,
}

/// Consumer settings kept by the driver (the engine's config borrows the group).
#[derive(Debug, Clone)]
pub(crate) struct ConsumerSettings {
    pub(crate) group: String,
    pub(crate) config: ConsumerConfig<'static>,
    /// Broadcasting: where the local offsets are kept.
    pub(crate) offset_file: Option<std::path::PathBuf>,
}

/// A batch handed to the consumer's dispatch task.
pub(crate) struct Batch {
    pub(crate) id: DeliveryId,
    pub(crate) messages: Vec<ReceivedMessage>,
}

/// A cheap, cloneable handle on the driver task.
#[derive(Clone)]
pub(crate) struct Handle {
    tx: mpsc::UnboundedSender<Command>,
    /// Completions of sends, reused (no allocation per send).
    send_completions: Arc<completion::Pool<SendOutcome>>,
}

impl Handle {
    /// Start a driver for `config` talking to the NameServers of `options`.
    pub(crate) fn spawn(config: Config, options: &crate::ClientOptions) -> Result<Handle, Error> {
        let namesrv = options.namesrv_addr();
        let tls = options.tls_connector()?;
        let uniq = UniqKeyGenerator::new(local_ip(), std::process::id() as u16, rand_u32() as i32);
        let start = Instant::now();
        // On the heap at once: the engine is ~200 KiB (its in-flight table is inline),
        // and every move of an unboxed one through the spawn path costs that much
        // stack in debug builds.
        let mut engine = Box::new(Engine::new(
            config,
            uniq,
            rand_u32(),
            EngineInstant::from_millis(0),
        ));
        engine.set_namesrv(namesrv)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (io_tx, io_rx) = mpsc::unbounded_channel();
        let driver = Driver {
            engine,
            start,
            rx,
            io_tx,
            io_rx,
            conns: HashMap::default(),
            sends: SeqIdMap::default(),
            requests: SeqIdMap::default(),
            calls: SeqIdMap::default(),
            deliveries: None,
            checks: None,
            scratch: vec![0u8; 1 << 20],
            shutdown: None,
            offset_file: None,
            tls,
            conn_tasks: Arc::new(AtomicUsize::new(0)),
            turn_clock: None,
        };
        // Everything the driver and its connections log carries the client id.
        let span = tracing::info_span!("rocketmq", client = %driver.engine.client_id());
        tokio::spawn(tracing::Instrument::instrument(driver.run(), span));
        Ok(Handle {
            tx,
            send_completions: completion::Pool::new(),
        })
    }

    pub(crate) fn send(&self, cmd: Command) -> Result<(), Error> {
        self.tx.send(cmd).map_err(|_| Error::Closed)
    }

    /// Send `make(done)`, a send of any kind, and wait for its outcome (through a
    /// pooled completion: nothing allocated per send).
    pub(crate) fn send_call(
        &self,
        make: impl FnOnce(SendDone) -> Command,
    ) -> Result<SendWait, Error> {
        let (done, rx) = self.send_completions.channel();
        self.send(make(done))?;
        Ok(SendWait(rx))
    }

    /// Stop the client (drain up to `drain`, commit, unregister) and wait until it
    /// has; nothing to wait for if it is stopped already.
    pub(crate) async fn shutdown(&self, drain: Duration) {
        let (done, rx) = oneshot::channel();
        if self.send(Command::Shutdown { drain, done }).is_ok() {
            let _ = rx.await;
        }
    }

    /// Subscribe the consumer of `settings` to each `(topic, expression, sql92)`;
    /// its deliveries go to `deliveries`.
    pub(crate) async fn subscribe_all(
        &self,
        settings: &ConsumerSettings,
        subscriptions: Vec<(String, String, bool)>,
        deliveries: &mpsc::UnboundedSender<Batch>,
    ) -> Result<(), Error> {
        for (topic, expression, sql92) in subscriptions {
            let (settings, deliveries) = (Box::new(settings.clone()), deliveries.clone());
            self.call(|done| Command::Subscribe {
                settings,
                topic,
                expression,
                sql92,
                deliveries,
                done,
            })
            .await?;
        }
        Ok(())
    }

    /// Send `make(reply)` and wait for the reply.
    pub(crate) async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, Error> {
        let (done, rx) = oneshot::channel();
        self.send(make(done))?;
        rx.await.map_err(|_| Error::Closed)?
    }
}

/// What a client holds at one moment: its connections, their tasks and the requests
/// in progress. All zero once every request has ended and every connection closed;
/// `connection_tasks` above `connections` for more than 2 s (the linger a dropped
/// connection gets to flush) would be a leaked task.
///
/// ```no_run
/// # async fn demo(producer: rocketmq_tokio::Producer) -> Result<(), rocketmq_tokio::Error> {
/// let stats = producer.stats().await?;
/// println!("{} requests in flight on {} connections", stats.requests_in_flight, stats.connections);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ClientStats {
    /// Connections the client holds (open or opening).
    pub connections: usize,
    /// Connection tasks still running: `connections`, plus closed ones that are
    /// still flushing (for at most 2 s).
    pub connection_tasks: usize,
    /// Requests on the wire waiting for their responses (the engine's in-flight table).
    pub requests_in_flight: usize,
    /// Sends not yet ended (on the wire, waiting for a route or a free entry, or
    /// between retries).
    pub sends_pending: usize,
    /// Application calls (sends, requests, admin calls) waiting for their outcome.
    pub calls_awaiting: usize,
}

struct ConnState {
    /// Where frames go (the socket, else the connection task); `None` while connecting.
    writer: Option<conn::Writer>,
    /// Dropped with this state: tells the connection task to finish within
    /// [`conn::LINGER`] even if its socket no longer takes bytes.
    _stop: oneshot::Sender<()>,
    /// Bytes received and not yet a whole frame.
    inbox: BytesMut,
    /// Frames gathered in one drain, handed over in one piece.
    outbox: BytesMut,
    /// Plain TCP: the socket's read half, read by the driver itself (see `poll_reads`).
    reader: Option<DirectReader>,
}

/// A socket the driver reads itself, and where its reads land.
struct DirectReader {
    half: tokio::net::tcp::OwnedReadHalf,
    /// Zeroed once and reused: each read is decoded from here in place, only an
    /// incomplete frame's tail is kept (in `ConnState::inbox`).
    buf: Box<[u8]>,
    /// What the last poll read and has not been handled yet: bytes, 0 at the end of
    /// the stream, or the error.
    ready: Option<std::io::Result<usize>>,
}

/// Hand `bytes` read from `conn` to the engine, after what `inbox` holds of an
/// incomplete frame. Most reads hold whole frames: they are decoded straight from the
/// read and only a tail is kept (no copy when nothing is left over).
fn feed(
    engine: &mut Engine,
    now: EngineInstant,
    conn: ConnId,
    inbox: &mut BytesMut,
    mut bytes: &[u8],
) {
    // A frame begun in an earlier read: complete it in the inbox with just the bytes
    // it still lacks, then read the rest where it lies. (Appending the whole read
    // copied up to 64 KiB per read whenever a read ended inside a frame, as a busy
    // connection's reads nearly always do.)
    while !inbox.is_empty() {
        // How far the frame's prefix says it reaches (4 bytes, then 8, then the whole
        // frame); a bad prefix asks for nothing more and is the engine's to refuse.
        let lacking = match FrameDecoder::with_max_frame(u32::MAX).decode(inbox) {
            Ok(Decoded::Incomplete { needed }) => needed.saturating_sub(inbox.len()),
            Ok(Decoded::Frame { .. }) | Err(_) => 0,
        };
        let (head, rest) = bytes.split_at(lacking.min(bytes.len()));
        inbox.extend_from_slice(head);
        bytes = rest;
        match engine.handle_input(now, conn, inbox) {
            Ok(used) => bytes::Buf::advance(inbox, used.min(inbox.len())),
            Err(e) => return bad_frame(conn, &e),
        }
        if head.is_empty() {
            // Nothing more to add: the rest waits for the next read.
            inbox.extend_from_slice(bytes);
            return;
        }
    }
    match engine.handle_input(now, conn, bytes) {
        Ok(used) => inbox.extend_from_slice(bytes.get(used..).unwrap_or_default()),
        Err(e) => bad_frame(conn, &e),
    }
}

/// A peer's malformed frame: the engine has queued Event::Close for its connection.
fn bad_frame(conn: ConnId, e: &rocketmq_proto::error::DecodeError) {
    tracing::warn!(?conn, error = %e, "bad frame from peer; closing");
}

/// Bytes one direct read takes at most (the connection task's reads were as large).
const READ_CHUNK: usize = 64 * 1024;

/// Poll every directly read socket once; `Ready` when at least one read finished
/// (each socket's result waits in its `ready`, so every readable one is served in
/// the same turn and none can starve the others).
fn poll_reads(
    conns: &mut HashMap<ConnId, ConnState>,
    cx: &mut std::task::Context<'_>,
) -> std::task::Poll<()> {
    use std::pin::Pin;
    use std::task::Poll;
    use tokio::io::{AsyncRead, ReadBuf};
    let mut any = false;
    for c in conns.values_mut() {
        let Some(r) = c.reader.as_mut() else { continue };
        if r.ready.is_some() {
            any = true;
            continue;
        }
        let mut rb = ReadBuf::new(&mut r.buf);
        match Pin::new(&mut r.half).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                r.ready = Some(Ok(rb.filled().len()));
                any = true;
            }
            Poll::Ready(Err(e)) => {
                r.ready = Some(Err(e));
                any = true;
            }
            Poll::Pending => {}
        }
    }
    if any {
        Poll::Ready(())
    } else {
        Poll::Pending
    }
}

struct Driver {
    engine: Box<Engine>,
    start: Instant,
    rx: mpsc::UnboundedReceiver<Command>,
    io_tx: mpsc::UnboundedSender<Io>,
    io_rx: mpsc::UnboundedReceiver<Io>,
    conns: HashMap<ConnId, ConnState>,
    sends: SeqIdMap<(SendDone, Topic)>,
    requests: SeqIdMap<(Reply<ReceivedReply>, Topic)>,
    /// Calls in progress, with where they went (for errors).
    calls: SeqIdMap<(Reply<CallResponse>, String)>,
    deliveries: Option<mpsc::UnboundedSender<Batch>>,
    checks: Option<mpsc::UnboundedSender<TransactionCheck>>,
    /// `poll_transmit` writes here first (grown when a frame needs more).
    scratch: Vec<u8>,
    shutdown: Option<oneshot::Sender<()>>,
    /// Broadcasting: the file holding the local offsets.
    offset_file: Option<std::path::PathBuf>,
    /// Wraps every connection in TLS when set.
    tls: conn::Tls,
    /// Connection tasks running (each counts itself while it runs).
    conn_tasks: Arc<AtomicUsize>,
    /// The engine's time and the wall clock of this turn, read once for all the
    /// commands and reads it takes (two clock reads per message were 4% of a deep
    /// async pipeline's time; the engine counts in milliseconds).
    turn_clock: Option<(EngineInstant, i64)>,
}

/// A map keyed by one of the engine's ids (of sends, of calls), which it hands out in
/// sequence: see [`SeqIdHasher`].
type SeqIdMap<V> = std::collections::HashMap<u32, V, std::hash::BuildHasherDefault<SeqIdHasher>>;

/// Hashes a sequential id so that neighbouring ids take neighbouring buckets (the low
/// bits choose the bucket) with tag bytes that differ among them (the top seven bits
/// repeat the id's low seven). Sends and calls end roughly in the order they began, so
/// with thousands in flight each insert and removal touches the few cache lines around
/// the newest and oldest ids, not a random line of a table larger than the cache each.
#[derive(Default, Clone, Copy)]
struct SeqIdHasher(u64);

impl std::hash::Hasher for SeqIdHasher {
    fn finish(&self) -> u64 {
        self.0 | (self.0 << 57)
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u32` is used (u32 keys); any other key still hashes, by its bytes.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n);
    }
}

/// Frames are also written straight from the driver when a turn gathered this many
/// bytes for one connection (a deep async pipeline): one write carries so many
/// frames that a hand-off would cost more than it lets run in parallel.
const DIRECT_WRITE_SIZE: usize = 16 * 1024;

/// A connection's outbox takes frames in blocks of this size: a full block is handed
/// to the writer and the next one allocated empty, instead of one buffer doubling
/// through a burst (an async pipeline queues thousands of frames in one turn), whose
/// every growth copied all it held.
const OUTBOX_BLOCK: usize = 64 * 1024;

impl Driver {
    fn now(&self) -> EngineInstant {
        EngineInstant::from_millis(self.start.elapsed().as_millis() as u64)
    }

    /// This turn's engine time and wall clock (see `turn_clock`).
    fn turn_clock(&mut self) -> (EngineInstant, i64) {
        let start = self.start;
        *self.turn_clock.get_or_insert_with(|| {
            let now = EngineInstant::from_millis(start.elapsed().as_millis() as u64);
            (now, Self::wall_ms())
        })
    }

    async fn run(mut self) {
        // One timer, moved only when the engine's next deadline changes (a new timer
        // per turn cost a timer-wheel insert and removal per message).
        let timer = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(timer);
        let mut armed = None;
        loop {
            self.drain();
            if self.engine.is_shut_down() && self.shutdown.is_none() && self.rx.is_closed() {
                return;
            }
            let wake = self
                .engine
                .poll_timeout()
                .map(|t| self.start + Duration::from_millis(t.as_millis()))
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            if armed != Some(wake) {
                timer.as_mut().reset(wake);
                armed = Some(wake);
            }
            tokio::select! {
                cmd = self.rx.recv() => match cmd {
                    Some(cmd) => {
                        self.turn_clock = None; // a new turn
                        self.on_command(cmd);
                        self.take_ready();
                    }
                    None => {
                        // Every handle is gone: stop as if asked to.
                        if !self.engine.is_shut_down() {
                            let now = self.now();
                            self.engine.shutdown(now, Millis(0));
                        } else {
                            return;
                        }
                    }
                },
                Some(io) = self.io_rx.recv() => {
                    self.turn_clock = None; // a new turn
                    self.on_io(io);
                    self.take_ready();
                }
                () = std::future::poll_fn(|cx| poll_reads(&mut self.conns, cx)) => {
                    self.turn_clock = None; // a new turn
                    self.on_reads();
                    self.take_ready();
                }
                _ = &mut timer => {
                    armed = None;
                    let now = self.now();
                    self.engine.handle_timeout(now);
                }
            }
        }
    }

    /// Take what else is waiting already (commands and I/O, a bounded number), so one
    /// drain writes the frames of many sends together: one write per connection per
    /// turn instead of one per message.
    fn take_ready(&mut self) {
        for _ in 0..256 {
            let mut took = false;
            if let Ok(cmd) = self.rx.try_recv() {
                self.on_command(cmd);
                took = true;
            }
            if let Ok(io) = self.io_rx.try_recv() {
                self.on_io(io);
                took = true;
            }
            if !took {
                return;
            }
        }
    }

    fn wall_ms() -> i64 {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }

    fn on_command(&mut self, cmd: Command) {
        let (now, wall) = self.turn_clock();
        match cmd {
            Command::RegisterProducer { group, done } => {
                let _ = done.send(self.engine.register_producer(&group).map_err(Error::from));
            }
            Command::Send {
                msg,
                mode,
                order_key,
                done,
            } => {
                let r = msg.with_view(|m| match &order_key {
                    Some(key) => self.engine.send_ordered(now, wall, m, key),
                    None => self.engine.send(now, wall, m, mode),
                });
                self.track_send(r, done, msg.topic)
            }
            Command::SendToQueue {
                msg,
                broker,
                queue_id,
                done,
            } => {
                let started =
                    msg.with_view(|m| self.engine.send_to_queue(now, wall, m, &broker, queue_id));
                self.track_send(started, done, msg.topic)
            }
            Command::SendBatch { msgs, done } => {
                let props: Vec<Vec<(&str, &str)>> = msgs
                    .iter()
                    .map(|m| {
                        m.properties
                            .iter()
                            .map(|(k, v)| (k.as_str(), v.as_str()))
                            .collect()
                    })
                    .collect();
                let views: Vec<rocketmq_proto::engine::client::Message<'_>> = msgs
                    .iter()
                    .zip(&props)
                    .map(|(m, p)| rocketmq_proto::engine::client::Message {
                        topic: &m.topic,
                        body: &m.body,
                        tags: m.tags.as_deref(),
                        keys: m.keys.as_deref(),
                        properties: p,
                        flag: m.flag,
                        delay_level: m.delay_level,
                        deliver_at_ms: m.deliver_at_ms,
                        wait_store_msg_ok: true,
                    })
                    .collect();
                let topic = msgs
                    .first()
                    .map_or_else(|| Topic::from(""), |m| m.topic.clone());
                {
                    let started = self.engine.send_batch(now, wall, &views);
                    self.track_send(started, done, topic)
                }
            }
            Command::SendReply {
                request_properties,
                body,
                done,
            } => {
                let view =
                    rocketmq_proto::message::PropertiesView::new(request_properties.as_wire());
                let started = self.engine.send_reply(now, wall, &view, &body);
                self.track_send(started, done, Topic::from("reply"));
            }
            Command::Request { msg, timeout, done } => {
                let timeout = Millis(timeout.as_millis() as u64);
                match msg.with_view(|m| self.engine.request(now, wall, m, timeout)) {
                    Ok(id) => {
                        self.requests.insert(id.0, (done, msg.topic));
                    }
                    Err(e) => {
                        let _ = done.send(Err(e.into()));
                    }
                }
            }
            Command::Subscribe {
                settings,
                topic,
                expression,
                sql92,
                deliveries,
                done,
            } => {
                let cfg = ConsumerConfig {
                    group: &settings.group,
                    ..settings.config
                };
                let r = if sql92 {
                    self.engine
                        .subscribe_sql92(now, wall, &cfg, &topic, &expression)
                } else {
                    self.engine.subscribe(now, wall, &cfg, &topic, &expression)
                };
                let r = r.map_err(Error::from).and_then(|()| {
                    self.deliveries = Some(deliveries);
                    match (&settings.offset_file, &self.offset_file) {
                        (Some(path), None) => {
                            self.offset_file = Some(path.clone());
                            // Before the next timeout: the engine reads them when it
                            // first takes the queues.
                            crate::offset_file::load(path, &mut self.engine)
                        }
                        _ => Ok(()),
                    }
                });
                let _ = done.send(r);
            }
            Command::SendTransactional { msg, done } => {
                let started = msg.with_view(|m| self.engine.send_transactional(now, wall, m));
                self.track_send(started, done, msg.topic)
            }
            Command::EndTransaction {
                receipt,
                resolution,
                done,
            } => {
                let _ = done.send(
                    self.engine
                        .end_transaction(&receipt, resolution)
                        .map_err(Error::from),
                );
            }
            Command::CheckHandler(tx) => self.checks = Some(tx),
            Command::AnswerCheck(id, resolution) => {
                if let Err(e) = self.engine.answer_check(id, resolution) {
                    tracing::warn!(?id, error = ?e, "cannot answer a transaction check");
                }
            }
            Command::Ack(id) => self.engine.ack(now, id),
            Command::Nack(id, level) => self.engine.nack(now, id, level),
            Command::Call {
                target,
                code,
                fields,
                body,
                timeout,
                done,
            } => {
                let pairs: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let where_ = target.clone().unwrap_or_else(|| "the NameServer".into());
                let target = match &target {
                    Some(addr) => CallTarget::Address(addr),
                    None => CallTarget::NameServer,
                };
                let timeout = Millis(timeout.as_millis() as u64);
                match self
                    .engine
                    .call(now, target, code, &pairs[..], &body, timeout)
                {
                    Ok(id) => {
                        self.calls.insert(id.0, (done, where_));
                    }
                    Err(e) => {
                        let _ = done.send(Err(e.into()));
                    }
                }
            }
            Command::Assign {
                settings,
                queues,
                deliveries,
                done,
            } => {
                let cfg = ConsumerConfig {
                    group: &settings.group,
                    ..settings.config
                };
                let list: Vec<(&str, &str, i32)> = queues
                    .iter()
                    .map(|(t, b, q)| (t.as_str(), b.as_str(), *q))
                    .collect();
                let r = self.engine.assign(now, wall, &cfg, &list);
                if r.is_ok() {
                    self.deliveries = Some(deliveries);
                }
                let _ = done.send(r.map_err(Error::from));
            }
            Command::Seek {
                topic,
                broker,
                queue_id,
                offset,
                done,
            } => {
                let _ = done.send(Ok(self.engine.seek(now, &topic, &broker, queue_id, offset)));
            }
            Command::Commit => self.engine.commit(),
            Command::Stats(done) => {
                let _ = done.send(Ok(ClientStats {
                    connections: self.conns.len(),
                    connection_tasks: self.conn_tasks.load(Ordering::SeqCst),
                    requests_in_flight: self.engine.in_flight(),
                    sends_pending: self.engine.pending_sends(),
                    calls_awaiting: self.sends.len() + self.requests.len() + self.calls.len(),
                }));
            }
            Command::Assignment(done) => {
                let owned = self
                    .engine
                    .owned_queues()
                    .map(|(t, b, q)| (t.to_owned(), b.to_owned(), q))
                    .collect();
                let _ = done.send(Ok(owned));
            }
            Command::Shutdown { drain, done } => {
                self.engine.shutdown(now, Millis(drain.as_millis() as u64));
                self.shutdown = Some(done);
            }
        }
    }

    /// A send the engine took is tracked until its outcome; a refused one is answered
    /// at once.
    fn track_send(
        &mut self,
        started: Result<
            rocketmq_proto::engine::client::SendId,
            rocketmq_proto::engine::client::CallError,
        >,
        done: SendDone,
        topic: Topic,
    ) {
        match started {
            Ok(id) => {
                self.sends.insert(id.0, (done, topic));
            }
            Err(e) => done.send(Err(e.into())),
        }
    }

    fn on_io(&mut self, io: Io) {
        let (now, _) = self.turn_clock();
        match io {
            Io::Connected(conn, writer, reader) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.writer = Some(writer);
                    c.reader = reader.map(|half| DirectReader {
                        half,
                        buf: vec![0; READ_CHUNK].into_boxed_slice(),
                        ready: None,
                    });
                }
                self.engine.handle_connected(now, conn);
            }
            Io::Closed(conn) => {
                if self.conns.remove(&conn).is_some() {
                    tracing::debug!(conn = conn.0, "connection closed");
                    self.engine.handle_closed(now, conn);
                }
            }
            Io::Data(conn, bytes) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    feed(&mut self.engine, now, conn, &mut c.inbox, &bytes);
                }
            }
        }
    }

    /// Hand the engine what the direct reads of this turn brought (see `poll_reads`);
    /// a socket at its end or failed closes its connection, as the connection task
    /// reports it for TLS.
    fn on_reads(&mut self) {
        let (now, _) = self.turn_clock();
        let mut ended: Vec<ConnId> = Vec::new();
        for (&conn, c) in self.conns.iter_mut() {
            let Some(r) = c.reader.as_mut() else { continue };
            let n = match r.ready.take() {
                None => continue,
                Some(Ok(0)) => {
                    ended.push(conn);
                    continue;
                }
                Some(Ok(n)) => n,
                Some(Err(e)) => {
                    tracing::debug!(conn = conn.0, error = %e, "read failed");
                    ended.push(conn);
                    continue;
                }
            };
            let bytes = r.buf.get(..n).unwrap_or_default();
            feed(&mut self.engine, now, conn, &mut c.inbox, bytes);
        }
        for conn in ended {
            // As a task's report of a close. Its task ends once its writer is dropped
            // there (and then reports a close that finds nothing left).
            self.on_io(Io::Closed(conn));
        }
    }

    /// Write out every frame and hand out every event.
    fn drain(&mut self) {
        loop {
            let mut moved = false;
            loop {
                let now = self.now();
                match self.engine.poll_transmit(now, &mut self.scratch) {
                    Ok(Some(t)) => {
                        moved = true;
                        if let Some(c) = self.conns.get_mut(&t.conn) {
                            let frame = &self.scratch[..t.len];
                            if c.outbox.capacity() - c.outbox.len() < frame.len() {
                                if let Some(w) = c.writer.as_ref().filter(|_| !c.outbox.is_empty())
                                {
                                    let _ = w.write(c.outbox.split().freeze(), true);
                                }
                                c.outbox.reserve(OUTBOX_BLOCK.max(frame.len()));
                            }
                            c.outbox.extend_from_slice(frame);
                        }
                    }
                    Ok(None) => break,
                    Err(EncodeError::BufferTooSmall { needed }) => {
                        self.scratch.resize(needed, 0);
                    }
                    Err(e) => {
                        // Dropped with its request failed, so the frames behind it go on.
                        tracing::error!(error = %e, "cannot encode a frame; dropped");
                        let now = self.now();
                        self.engine.discard_transmit(now);
                    }
                }
            }
            // Nothing else waiting: write from here, with no hand-off. More waiting:
            // the connection tasks write in parallel on another worker while this task
            // goes on (a loopback write runs the receiver's side too, several µs). See
            // conn::Writer::write. (Writing directly only after 100 µs without a write,
            // as before, handed a broker-bound client's trickle of requests to the
            // tasks one by one: about 5% more CPU per message against the real
            // broker, and no gain client-bound.)
            let direct = self.rx.is_empty() && self.io_rx.is_empty();
            for c in self.conns.values_mut() {
                if !c.outbox.is_empty() {
                    if let Some(w) = &c.writer {
                        let big = c.outbox.len() >= DIRECT_WRITE_SIZE;
                        let _ = w.write(c.outbox.split().freeze(), direct || big);
                    }
                }
            }
            while let Some(e) = self.engine.poll_event() {
                moved = true;
                self.on_event(e);
            }
            if !moved {
                return;
            }
        }
    }

    fn on_event(&mut self, e: Event) {
        match e {
            Event::Connect { conn, addr } => {
                let (stop_tx, stop) = oneshot::channel();
                self.conns.insert(
                    conn,
                    ConnState {
                        writer: None,
                        _stop: stop_tx,
                        inbox: BytesMut::new(),
                        outbox: BytesMut::new(),
                        reader: None,
                    },
                );
                tracing::debug!(conn = conn.0, %addr, "connecting");
                let span = tracing::debug_span!("conn", id = conn.0, %addr);
                tokio::spawn(tracing::Instrument::instrument(
                    conn::run(
                        conn::Task {
                            conn,
                            addr: addr.to_string(),
                            io: self.io_tx.clone(),
                            stop,
                            running: conn::Running::new(&self.conn_tasks),
                        },
                        self.tls.clone(),
                    ),
                    span,
                ));
            }
            Event::Close { conn } => {
                tracing::debug!(conn = conn.0, "closing (idle or bad input)");
                // Dropping the writer ends the connection task.
                self.conns.remove(&conn);
            }
            Event::SendOk { id, receipt } => {
                tracing::trace!(
                    msg_id = %receipt.msg_id,
                    broker = %receipt.broker_name,
                    queue = receipt.queue_id,
                    offset = receipt.queue_offset,
                    "sent"
                );
                if let Some((done, _)) = self.sends.remove(&id.0) {
                    done.send(Ok(receipt));
                }
            }
            Event::SendFailed { id, error } => {
                tracing::debug!(error = ?error, "send failed");
                if let Some((done, topic)) = self.sends.remove(&id.0) {
                    done.send(Err(Error::from_send(error, &topic)));
                }
            }
            Event::Reply { id } => {
                if let Some(r) = self.engine.reply(id) {
                    // Replies of 4 KiB and more travel zlib-compressed, like any send.
                    let flag = rocketmq_proto::message::MessageSysFlag(r.sys_flag);
                    let body = rocketmq_proto::message::decompress(flag, r.body, 64 << 20)
                        .map_or_else(|_| Bytes::copy_from_slice(r.body), Bytes::from);
                    let reply = ReceivedReply {
                        body,
                        properties: crate::message::Properties::from_wire(r.properties.as_str()),
                    };
                    if let Some((done, _)) = self.requests.remove(&id.0) {
                        let _ = done.send(Ok(reply));
                    }
                }
                self.engine.release_reply(id);
            }
            Event::RequestFailed { id, error } => {
                if let Some((done, topic)) = self.requests.remove(&id.0) {
                    let _ = done.send(Err(Error::from_request(error, &topic)));
                }
            }
            Event::Messages { id } => {
                let Some(d) = self.engine.delivery(id) else {
                    return;
                };
                // One shared topic name for the batch (a retried message's original
                // topic may differ: it gets its own, shared with the next ones like it).
                let mut topic: Option<Topic> = None;
                let messages = d
                    .messages()
                    .map(|m| {
                        let name = d.topic_of(&m);
                        let shared = match topic.take() {
                            Some(t) if t == name => t,
                            _ => Topic::from(name),
                        };
                        let msg = ReceivedMessage::from_record(&m, d.broker_name, &shared);
                        topic = Some(shared);
                        msg
                    })
                    .collect();
                match &self.deliveries {
                    Some(tx) if tx.send(Batch { id, messages }).is_ok() => {}
                    // Nobody consumes: give it back for redelivery.
                    _ => self.engine.nack(self.now(), id, 0),
                }
            }
            Event::CheckTransaction { id } => {
                let check = self.engine.transaction_check(id).cloned();
                let sent = match (check, &self.checks) {
                    (Some(check), Some(tx)) => tx.send(check).is_ok(),
                    _ => false,
                };
                if !sent {
                    // No listener: the broker asks again later.
                    let _ = self.engine.answer_check(id, TransactionResolution::Unknown);
                }
            }
            Event::CallDone { id } => {
                let outcome = self.engine.call_response(id).map(|r| {
                    r.map(|cmd| CallResponse {
                        code: cmd.header.response_code(),
                        remark: cmd
                            .header
                            .remark
                            .map(|t| t.to_cow().into_owned())
                            .unwrap_or_default(),
                        fields: cmd
                            .fields()
                            .iter()
                            .map(|(k, v)| (k.to_cow().into_owned(), v.to_cow().into_owned()))
                            .collect(),
                        body: Bytes::copy_from_slice(cmd.body),
                    })
                });
                self.engine.release_call(id);
                if let (Some(outcome), Some((done, target))) = (outcome, self.calls.remove(&id.0)) {
                    let _ = done.send(outcome.map_err(|e| match e {
                        CallFailure::Timeout => Error::Timeout {
                            what: format!("call to {target}"),
                        },
                        CallFailure::NoNameServer => {
                            Error::Invalid("no NameServer configured".into())
                        }
                        _ => Error::Transport {
                            what: format!("call to {target}"),
                        },
                    }));
                }
            }
            Event::PersistOffsets => {
                if let Some(path) = &self.offset_file {
                    // A few hundred bytes every 5 s: written in place on the driver
                    // task rather than handed to a blocking thread, which would let
                    // two writes race.
                    if let Err(e) = crate::offset_file::store(path, &self.engine) {
                        tracing::warn!(path = %path.display(), error = %e, "cannot store local offsets");
                    }
                }
            }
            Event::ShutdownComplete => {
                if let Some(done) = self.shutdown.take() {
                    let _ = done.send(());
                }
                // Every pending caller learns it is over.
                for (_, (done, _)) in self.sends.drain() {
                    done.send(Err(Error::Closed));
                }
                for (_, (done, _)) in self.requests.drain() {
                    let _ = done.send(Err(Error::Closed));
                }
                for (_, (done, _)) in self.calls.drain() {
                    let _ = done.send(Err(Error::Closed));
                }
                self.deliveries = None;
                self.rx.close();
            }
            _ => {}
        }
    }
}

/// This host's address for message ids (UNIQ_KEY): the first non-loopback IPv4 of a
/// UDP socket's route, else 127.0.0.1. No packet is sent.
pub(crate) fn local_ip() -> std::net::IpAddr {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("10.255.255.255:1")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]))
}

/// A seed from the clock and the process id (ids need uniqueness, not secrecy).
pub(crate) fn rand_u32() -> u32 {
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let x = t ^ (u64::from(std::process::id()) << 32);
    (x ^ (x >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15) as u32 | 1
}

#[cfg(test)]
mod feed_tests {
    use super::*;
    use rocketmq_proto::codes::SerializeType;
    use rocketmq_proto::command::{Command as Frame, CommandEncoder, Header};
    use rocketmq_proto::engine::client_id::{ClientId, InstanceName};
    use rocketmq_proto::ext::NoFields;

    const NOW: EngineInstant = EngineInstant::from_millis(0);

    /// An engine with an open NameServer connection (a send asked for its route).
    fn engine_with_a_connection() -> (Box<Engine>, ConnId) {
        let id = ClientId::build(
            "127.0.0.1",
            InstanceName::Process { pid: 7, nonce: 1 },
            None,
        )
        .unwrap();
        let uniq = UniqKeyGenerator::new("127.0.0.1".parse().unwrap(), 7, 1);
        let mut e = Box::new(Engine::new(Config::new(id), uniq, 1, NOW));
        e.set_namesrv("127.0.0.1:9876").unwrap();
        e.register_producer("PG").unwrap();
        let msg = rocketmq_proto::engine::client::Message::new("T", b"x");
        e.send(NOW, 0, &msg, SendMode::Async).unwrap();
        let conn = std::iter::from_fn(|| e.poll_event())
            .find_map(|ev| match ev {
                Event::Connect { conn, .. } => Some(conn),
                _ => None,
            })
            .expect("a connect to the NameServer");
        e.handle_connected(NOW, conn);
        let mut buf = vec![0u8; 4096];
        while let Ok(Some(_)) = e.poll_transmit(NOW, &mut buf) {}
        (e, conn)
    }

    /// Two-way requests of a code no client serves: each gets its own reply.
    fn requests(opaques: std::ops::Range<i32>) -> Vec<u8> {
        let enc = CommandEncoder::new(SerializeType::Json);
        let mut all = Vec::new();
        for opaque in opaques {
            let mut out = vec![0u8; 256];
            let header = Header::request(RequestCode(9999), opaque);
            let n = enc.encode(&mut out, &header, &NoFields, b"").unwrap();
            all.extend_from_slice(&out[..n]);
        }
        all
    }

    fn replied_opaques(e: &mut Engine) -> Vec<i32> {
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        while let Ok(Some(t)) = e.poll_transmit(NOW, &mut buf) {
            let Ok(Decoded::Frame { frame, .. }) = FrameDecoder::new().decode(&buf[..t.len]) else {
                panic!("a whole frame")
            };
            got.push(Frame::decode(frame).unwrap().header.opaque);
        }
        got
    }

    /// Every command moves through the channel and the driver's match at the size of
    /// the largest; a send's is what most of them are (the one-off commands box their
    /// large parts).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_command_is_not_much_larger_than_a_send() {
        let send = std::mem::size_of::<Message>()
            + std::mem::size_of::<Option<String>>()
            + std::mem::size_of::<SendDone>()
            + 8;
        assert!(
            std::mem::size_of::<Command>() <= send,
            "{} bytes, a send's parts {send}",
            std::mem::size_of::<Command>()
        );
    }

    #[test]
    fn frames_split_anywhere_across_reads_are_each_handled_once() {
        let wire = requests(0..5);
        let want: Vec<i32> = (0..5).collect();
        // Every pair of cut points: reads ending inside a prefix, a header, between
        // frames, and one frame spread over three reads.
        for a in 0..wire.len() {
            for b in (a..wire.len()).step_by(7) {
                let (mut e, conn) = engine_with_a_connection();
                let mut inbox = BytesMut::new();
                for read in [&wire[..a], &wire[a..b], &wire[b..]] {
                    feed(&mut e, NOW, conn, &mut inbox, read);
                }
                assert!(
                    inbox.is_empty(),
                    "cuts {a}, {b}: {} bytes left",
                    inbox.len()
                );
                assert_eq!(replied_opaques(&mut e), want, "cuts {a}, {b}");
            }
        }
    }

    #[test]
    fn a_partial_frame_waits_in_the_inbox_and_a_bad_one_closes() {
        let (mut e, conn) = engine_with_a_connection();
        let wire = requests(0..2);
        let mut inbox = BytesMut::new();
        feed(&mut e, NOW, conn, &mut inbox, &wire[..3]);
        assert_eq!(&inbox[..], &wire[..3]);
        feed(&mut e, NOW, conn, &mut inbox, &wire[3..wire.len() - 1]);
        assert_eq!(replied_opaques(&mut e), vec![0]);
        feed(&mut e, NOW, conn, &mut inbox, &wire[wire.len() - 1..]);
        assert_eq!(replied_opaques(&mut e), vec![1]);
        assert!(inbox.is_empty());
        // A length prefix under 4 inside a pending frame: refused, the connection closed.
        feed(&mut e, NOW, conn, &mut inbox, &[0, 0]);
        feed(&mut e, NOW, conn, &mut inbox, &[0, 1, 9, 9]);
        let closed = std::iter::from_fn(|| e.poll_event())
            .any(|ev| matches!(ev, Event::Close { conn: c, .. } if c == conn));
        assert!(closed, "the engine closes the connection");
    }
}

#[cfg(test)]
mod seq_id_tests {
    use super::*;
    use std::hash::BuildHasher;

    fn hash(id: u32) -> u64 {
        std::hash::BuildHasherDefault::<SeqIdHasher>::default().hash_one(id)
    }

    #[test]
    fn neighbouring_ids_take_neighbouring_buckets_with_distinct_tags() {
        for base in [0u32, 1_000, 0x7f, u32::MAX - 200] {
            let ids: Vec<u32> = (0..128).map(|i| base.wrapping_add(i)).collect();
            // The bucket index is the hash's low bits: the id's own.
            for &id in &ids {
                assert_eq!(hash(id) & 0xffff_ffff, u64::from(id));
            }
            // The tag (top seven bits) differs among any 128 consecutive ids.
            let mut tags: Vec<u64> = ids.iter().map(|&id| hash(id) >> 57).collect();
            tags.sort_unstable();
            tags.dedup();
            assert_eq!(tags.len(), 128);
        }
    }

    #[test]
    fn the_map_keeps_every_send_through_a_sliding_window() {
        // Sends begin in order and end a window later, some out of order, as a deep
        // pipeline's do: every one is found exactly once.
        let mut map: SeqIdMap<u32> = SeqIdMap::default();
        let window = 10_000u32;
        for id in 0..100_000u32 {
            assert!(map.insert(id, id ^ 0x5a5a).is_none());
            if id >= window {
                let done = if id % 7 == 0 {
                    id - window + 3
                } else {
                    id - window
                };
                if let Some(v) = map.remove(&done) {
                    assert_eq!(v, done ^ 0x5a5a);
                }
            }
        }
        let left = map.len();
        assert!(left >= window as usize && left < window as usize + 100_000 / 7 + 10);
        for (&k, &v) in &map {
            assert_eq!(v, k ^ 0x5a5a);
        }
    }
}
