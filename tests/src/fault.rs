//! A fault-injecting TCP proxy for tests against real servers.
//!
//! [`FaultProxy::start`] listens on `127.0.0.1:0` and forwards every connection to an
//! upstream address. Its [`Faults`] handle (cheap to clone, usable from any task or
//! thread) changes the faults at run time:
//!
//! - [`Faults::set_latency`]: every chunk read is written on no earlier than this
//!   long after it was read (a link delay: throughput stays);
//! - [`Faults::set_pieces`]: every chunk is written on in pieces of `1..=k` bytes
//!   (sizes from a seeded generator, one stream per connection and direction), each its
//!   own write on a `TCP_NODELAY` socket; the receiver's reads then end at arbitrary
//!   points (pieces written back to back may still be read together);
//! - [`Faults::set_piece_gap`]: a pause between pieces, so the receiver reads them one
//!   by one (throughput drops to about `k / 2` bytes per gap);
//! - [`Faults::set_black_hole`]: nothing is forwarded in either direction on any
//!   connection (current or new) while the sockets stay open, and nothing more is read:
//!   a sender's socket buffers fill and its writes block, as on a path that lost every
//!   packet; bytes read meanwhile are held and delivered when it is lifted, like a
//!   partition TCP heals by retransmitting;
//! - [`Faults::black_hole_current`]: the connections open now never forward another
//!   byte (sockets open), new ones work: a dead path (a lost NAT entry, a half-dead
//!   peer) only a new connection gets around;
//! - [`Faults::reset_all`]: every current connection is reset (`SO_LINGER` 0, then
//!   closed: both peers see an RST);
//! - [`Faults::set_down`]: the server is gone: current connections are reset, new ones
//!   reset as soon as they are accepted;
//! - [`Faults::cut_after`]: once `n` more bytes went one way, the connection carrying
//!   the byte that reaches `n` is closed right there (mid-frame): the bytes up to the
//!   limit are delivered, the rest dropped, both sides get a FIN (an RST instead where
//!   the kernel still held bytes from that side the proxy had not read);
//! - [`Faults::stats`]: connections accepted and open, bytes forwarded each way, and
//!   RocketMQ frames read each way by header serialization (JSON or ROCKETMQ binary).
//!
//! A side that closes is half-closed on to the other (a FIN for a FIN); a side that
//! fails (an RST) gets the other side reset too.
//!
//! [`FaultProxy::start_rewriting`] also rewrites, in the frames coming back from
//! upstream, byte strings of each frame's body (the RocketMQ frame is decoded with
//! [`FrameDecoder`], its body rewritten, and the frame re-framed with the new length and
//! the header bytes as they were). Put in front of a NameServer it replaces a broker's
//! address in routes and cluster info with a proxy's, so clients reach that broker
//! through the proxy.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocketmq_proto::frame::{Decoded, FrameDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Which way bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the client to the upstream server.
    Upstream,
    /// From the upstream server back to the client.
    Downstream,
}

/// What a proxy has seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections open now.
    pub open: u64,
    /// Bytes written to the upstream server.
    pub to_upstream: u64,
    /// Bytes written back to clients.
    pub to_client: u64,
    /// RocketMQ frames read from clients, by header serialization.
    pub upstream_frames: FrameCounts,
    /// RocketMQ frames read from the upstream server, by header serialization.
    pub downstream_frames: FrameCounts,
}

/// Frames by the serialization of their header (the top byte of the header-length word).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameCounts {
    /// JSON headers (0).
    pub json: u64,
    /// ROCKETMQ binary headers (1).
    pub binary: u64,
}

/// A running proxy. Dropping it stops accepting and resets the connections it holds.
pub struct FaultProxy {
    addr: SocketAddr,
    faults: Faults,
    accept: JoinHandle<()>,
}

/// The controls of a [`FaultProxy`]; clones control the same proxy.
#[derive(Clone)]
pub struct Faults {
    shared: Arc<Shared>,
}

struct Shared {
    upstream: String,
    /// `(from, to)` byte strings replaced in the bodies of frames coming back.
    rewrites: Vec<(Vec<u8>, Vec<u8>)>,
    latency_us: AtomicU64,
    piece_gap_us: AtomicU64,
    black_hole: AtomicBool,
    /// [`Faults::set_down`]: new connections are reset at once.
    down: AtomicBool,
    /// `(k, seed)`: pieces of 1..=k bytes.
    pieces: Mutex<Option<(usize, u64)>>,
    /// A one-shot cut: `(direction, bytes still allowed)`.
    cut: Mutex<Option<(Direction, u64)>>,
    conns: Mutex<Vec<ConnEntry>>,
    /// Woken whenever a black hole is lifted.
    changed: Notify,
    next_id: AtomicU64,
    accepted: AtomicU64,
    to_upstream: AtomicU64,
    to_client: AtomicU64,
    /// `[direction][serialization]` frame counts (see [`FrameTap`]).
    frames: [[AtomicU64; 2]; 2],
}

struct ConnEntry {
    id: u64,
    reset: watch::Sender<bool>,
    dead: Arc<AtomicBool>,
}

impl FaultProxy {
    /// A proxy on `127.0.0.1:0` in front of `upstream` (`host:port`), faults off.
    pub async fn start(upstream: impl Into<String>) -> io::Result<FaultProxy> {
        Self::start_rewriting(upstream, Vec::new()).await
    }

    /// As [`FaultProxy::start`], and in every RocketMQ frame coming back from upstream
    /// each `from` in the body is replaced by its `to` (bytes, every occurrence, in
    /// order). Once the stream is not RocketMQ frames (a decode error) the rest of that
    /// connection passes unchanged.
    pub async fn start_rewriting(
        upstream: impl Into<String>,
        rewrites: Vec<(String, String)>,
    ) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: upstream.into(),
            rewrites: rewrites
                .into_iter()
                .map(|(f, t)| (f.into_bytes(), t.into_bytes()))
                .collect(),
            latency_us: AtomicU64::new(0),
            piece_gap_us: AtomicU64::new(0),
            black_hole: AtomicBool::new(false),
            down: AtomicBool::new(false),
            pieces: Mutex::new(None),
            cut: Mutex::new(None),
            conns: Mutex::new(Vec::new()),
            changed: Notify::new(),
            next_id: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            to_upstream: AtomicU64::new(0),
            to_client: AtomicU64::new(0),
            frames: Default::default(),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(FaultProxy {
            addr,
            faults: Faults { shared },
            accept,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The upstream address.
    pub fn upstream(&self) -> &str {
        &self.faults.shared.upstream
    }

    /// The controls.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.faults.reset_all();
    }
}

impl Faults {
    /// Write each chunk read on no earlier than `latency` after it was read (in order;
    /// a link delay, not a pause per chunk). Zero: at once.
    pub fn set_latency(&self, latency: Duration) {
        self.shared
            .latency_us
            .store(latency.as_micros() as u64, Ordering::Relaxed);
    }

    /// With [`Faults::set_pieces`]: pause this long between two pieces. Zero: none
    /// (the pieces are still separate writes).
    pub fn set_piece_gap(&self, gap: Duration) {
        self.shared
            .piece_gap_us
            .store(gap.as_micros() as u64, Ordering::Relaxed);
    }

    /// Write every read on in pieces of `1..=max` bytes, sizes drawn from a generator
    /// seeded by `seed` (one stream per connection, in accept order, and direction).
    /// `max` 0 turns pieces off.
    pub fn set_pieces(&self, max: usize, seed: u64) {
        *self.shared.pieces.lock().unwrap() = (max > 0).then_some((max, seed));
    }

    /// Stop (`true`) or resume forwarding on every connection, current and new. The
    /// sockets stay open; bytes read meanwhile are delivered once it is lifted.
    pub fn set_black_hole(&self, on: bool) {
        self.shared.black_hole.store(on, Ordering::SeqCst);
        if !on {
            self.shared.changed.notify_waiters();
        }
    }

    /// Whether the global black hole is on.
    pub fn black_hole(&self) -> bool {
        self.shared.black_hole.load(Ordering::SeqCst)
    }

    /// The connections open now never forward another byte (their sockets stay open
    /// until a peer closes them); new connections work. How many were struck.
    pub fn black_hole_current(&self) -> usize {
        let conns = self.shared.conns.lock().unwrap();
        for c in conns.iter() {
            c.dead.store(true, Ordering::SeqCst);
        }
        conns.len()
    }

    /// Reset every current connection: both peers see an RST. How many.
    pub fn reset_all(&self) -> usize {
        let conns = self.shared.conns.lock().unwrap();
        for c in conns.iter() {
            c.reset.send_replace(true);
        }
        conns.len()
    }

    /// The upstream is down (`true`) or back (`false`): while down, every current
    /// connection is reset and every new one is reset as soon as it is accepted — what
    /// a client sees of a server process that died (a refused connect).
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
        if down {
            self.reset_all();
        }
    }

    /// Once `n` more bytes went `direction` (counted over all connections), close the
    /// connection carrying the byte that reaches `n`: the bytes up to the limit are
    /// delivered, the rest dropped. One shot; replaces an earlier cut not yet done.
    pub fn cut_after(&self, direction: Direction, n: u64) {
        *self.shared.cut.lock().unwrap() = Some((direction, n));
    }

    /// Whether a [`Faults::cut_after`] is still waiting for its byte.
    pub fn cut_pending(&self) -> bool {
        self.shared.cut.lock().unwrap().is_some()
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        let s = &self.shared;
        Stats {
            accepted: s.accepted.load(Ordering::SeqCst),
            open: s.conns.lock().unwrap().len() as u64,
            to_upstream: s.to_upstream.load(Ordering::SeqCst),
            to_client: s.to_client.load(Ordering::SeqCst),
            upstream_frames: counts(&s.frames[Direction::Upstream as usize]),
            downstream_frames: counts(&s.frames[Direction::Downstream as usize]),
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of descriptors, say: try again a little later.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        if shared.down.load(Ordering::SeqCst) {
            // As a server that is gone: the connect is answered with a reset.
            let _ = client.set_zero_linger();
            drop(client);
            continue;
        }
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        let (reset, reset_rx) = watch::channel(false);
        let dead = Arc::new(AtomicBool::new(false));
        shared.conns.lock().unwrap().push(ConnEntry {
            id,
            reset,
            dead: dead.clone(),
        });
        tokio::spawn(serve(shared.clone(), id, client, reset_rx, dead));
    }
}

/// How one direction (or the whole connection) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The source closed and everything was written on (the write side shut down).
    Eof,
    /// A read or write failed (a peer reset): reset the other peer too.
    Error,
    /// A [`Faults::cut_after`] struck.
    Cut,
    /// [`Faults::reset_all`].
    Reset,
}

async fn serve(
    shared: Arc<Shared>,
    id: u64,
    client: TcpStream,
    mut reset: watch::Receiver<bool>,
    dead: Arc<AtomicBool>,
) {
    let upstream = tokio::select! {
        r = TcpStream::connect(&shared.upstream) => r,
        _ = reset.wait_for(|r| *r) => Err(io::ErrorKind::ConnectionReset.into()),
    };
    let Ok(upstream) = upstream else {
        let _ = client.set_zero_linger();
        drop(client);
        shared.conns.lock().unwrap().retain(|c| c.id != id);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    let end = {
        let up = pump(&shared, Direction::Upstream, id, &dead, &mut cr, &mut uw);
        let down = pump(&shared, Direction::Downstream, id, &dead, &mut ur, &mut cw);
        tokio::pin!(up, down);
        let (mut up_done, mut down_done) = (false, false);
        loop {
            tokio::select! {
                e = &mut up, if !up_done => match e {
                    End::Eof => up_done = true,
                    other => break other,
                },
                e = &mut down, if !down_done => match e {
                    End::Eof => down_done = true,
                    other => break other,
                },
                // A dropped sender (the proxy is gone) resets too.
                _ = reset.wait_for(|r| *r) => break End::Reset,
            }
            if up_done && down_done {
                break End::Eof;
            }
        }
    };
    match end {
        End::Reset | End::Error => {
            // Whole again first: a write half dropped alone sends a FIN.
            for s in [cr.reunite(cw), ur.reunite(uw)].into_iter().flatten() {
                let _ = s.set_zero_linger();
            }
        }
        End::Cut => {
            let _ = cw.shutdown().await;
            let _ = uw.shutdown().await;
        }
        End::Eof => {}
    }
    shared.conns.lock().unwrap().retain(|c| c.id != id);
}

/// Copy `from` to `to` with the faults applied until `from` ends (then shut `to`'s
/// write side), a cut, or an error.
async fn pump(
    shared: &Shared,
    dir: Direction,
    id: u64,
    dead: &AtomicBool,
    from: &mut OwnedReadHalf,
    to: &mut OwnedWriteHalf,
) -> End {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let rewrite = dir == Direction::Downstream && !shared.rewrites.is_empty();
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut rewriter = rewrite.then(|| Rewriter::new(&shared.rewrites));
        let mut tap = FrameTap::default();
        loop {
            // A black hole reads nothing: the sender's buffers fill up.
            until_lifted(shared).await;
            let n = from.read(&mut buf).await?;
            if n == 0 {
                if let Some(rest) = rewriter.as_mut().map(Rewriter::finish) {
                    if !rest.is_empty() {
                        let _ = tx.send((Instant::now(), rest));
                    }
                }
                return Ok::<(), io::Error>(());
            }
            tap.feed(&buf[..n], &shared.frames[dir as usize]);
            let data = match rewriter.as_mut() {
                Some(r) => r.push(&buf[..n]),
                None => buf[..n].to_vec(),
            };
            if !data.is_empty() && tx.send((Instant::now(), data)).is_err() {
                return Ok(());
            }
        }
    };
    let writer = async {
        let mut rng = SplitMix::new(id.wrapping_mul(2).wrapping_add(dir as u64));
        while let Some((read_at, chunk)) = rx.recv().await {
            let latency = shared.latency_us.load(Ordering::Relaxed);
            if latency > 0 {
                tokio::time::sleep_until(read_at + Duration::from_micros(latency)).await;
            }
            if let Err(end) = write_chunk(shared, dir, dead, to, &chunk, &mut rng).await {
                return end;
            }
        }
        match to.shutdown().await {
            Ok(()) => End::Eof,
            Err(_) => End::Error,
        }
    };
    tokio::pin!(reader, writer);
    let mut reader_done = false;
    loop {
        tokio::select! {
            r = &mut reader, if !reader_done => match r {
                Ok(()) => reader_done = true,
                Err(_) => return End::Error,
            },
            e = &mut writer => return e,
        }
    }
}

/// Returns once no black hole is on (at once if none is).
async fn until_lifted(shared: &Shared) {
    loop {
        let lifted = shared.changed.notified();
        tokio::pin!(lifted);
        lifted.as_mut().enable();
        if !shared.black_hole.load(Ordering::SeqCst) {
            return;
        }
        lifted.await;
    }
}

async fn write_chunk(
    shared: &Shared,
    dir: Direction,
    dead: &AtomicBool,
    to: &mut OwnedWriteHalf,
    chunk: &[u8],
    rng: &mut SplitMix,
) -> Result<(), End> {
    let mut rest = chunk;
    let mut first = true;
    while !rest.is_empty() {
        let pieces = *shared.pieces.lock().unwrap();
        let take = match pieces {
            Some((max, seed)) => {
                rng.reseed_once(seed);
                (1 + (rng.next() % max as u64) as usize).min(rest.len())
            }
            None => rest.len(),
        };
        let gap = shared.piece_gap_us.load(Ordering::Relaxed);
        if pieces.is_some() && gap > 0 && !first {
            tokio::time::sleep(Duration::from_micros(gap)).await;
        }
        first = false;
        // Held while a black hole is on.
        if dead.load(Ordering::SeqCst) {
            // For good: wait until the connection is reset or a peer leaves.
            std::future::pending::<()>().await;
        }
        until_lifted(shared).await;
        let (allowed, cut) = {
            let mut c = shared.cut.lock().unwrap();
            match *c {
                Some((d, left)) if d == dir && left <= take as u64 => {
                    *c = None;
                    (left as usize, true)
                }
                Some((d, left)) if d == dir => {
                    *c = Some((d, left - take as u64));
                    (take, false)
                }
                _ => (take, false),
            }
        };
        to.write_all(&rest[..allowed])
            .await
            .map_err(|_| End::Error)?;
        let counter = match dir {
            Direction::Upstream => &shared.to_upstream,
            Direction::Downstream => &shared.to_client,
        };
        counter.fetch_add(allowed as u64, Ordering::SeqCst);
        if cut {
            return Err(End::Cut);
        }
        rest = &rest[take..];
        if pieces.is_some() {
            // Give the receiver a chance to read this piece on its own.
            tokio::task::yield_now().await;
        }
    }
    Ok(())
}

fn counts(c: &[AtomicU64; 2]) -> FrameCounts {
    FrameCounts {
        json: c[0].load(Ordering::SeqCst),
        binary: c[1].load(Ordering::SeqCst),
    }
}

/// Counts the frames of a RocketMQ byte stream by header serialization, reading only
/// each frame's first eight bytes (length, then serialization and header length) and
/// skipping the rest. A stream that is not RocketMQ frames stops being counted.
#[derive(Default)]
struct FrameTap {
    head: [u8; 8],
    have: usize,
    skip: u64,
    lost: bool,
}

impl FrameTap {
    fn feed(&mut self, mut bytes: &[u8], counts: &[AtomicU64; 2]) {
        while !bytes.is_empty() && !self.lost {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len() as u64) as usize;
                self.skip -= n as u64;
                bytes = &bytes[n..];
                continue;
            }
            let n = (8 - self.have).min(bytes.len());
            self.head[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            bytes = &bytes[n..];
            if self.have == 8 {
                self.have = 0;
                let length = u32::from_be_bytes(self.head[..4].try_into().unwrap());
                match (self.head[4], length.checked_sub(4)) {
                    (ty @ (0 | 1), Some(rest)) => {
                        counts[usize::from(ty)].fetch_add(1, Ordering::SeqCst);
                        self.skip = u64::from(rest);
                    }
                    _ => self.lost = true,
                }
            }
        }
    }
}

/// Rewrites the bodies of RocketMQ frames in a byte stream.
struct Rewriter<'a> {
    rewrites: &'a [(Vec<u8>, Vec<u8>)],
    buf: Vec<u8>,
    /// Not frames after all: pass everything unchanged.
    raw: bool,
}

impl<'a> Rewriter<'a> {
    fn new(rewrites: &'a [(Vec<u8>, Vec<u8>)]) -> Self {
        Rewriter {
            rewrites,
            buf: Vec::new(),
            raw: false,
        }
    }

    /// Bytes in; the whole frames among them (rewritten) out.
    fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        if self.raw {
            return bytes.to_vec();
        }
        self.buf.extend_from_slice(bytes);
        let decoder = FrameDecoder::new();
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            match decoder.decode(&self.buf[at..]) {
                Ok(Decoded::Frame { frame, consumed }) => {
                    let mut body = frame.body.to_vec();
                    for (from, to) in self.rewrites {
                        body = replace_all(&body, from, to);
                    }
                    let length = 4 + frame.header.len() + body.len();
                    out.extend_from_slice(&(length as u32).to_be_bytes());
                    // The serialize type and header length word, and the header, as they were.
                    out.extend_from_slice(&self.buf[at + 4..at + 8]);
                    out.extend_from_slice(frame.header);
                    out.extend_from_slice(&body);
                    at += consumed;
                }
                Ok(Decoded::Incomplete { .. }) => break,
                Err(_) => {
                    self.raw = true;
                    out.extend_from_slice(&self.buf[at..]);
                    at = self.buf.len();
                    break;
                }
            }
        }
        self.buf.drain(..at);
        out
    }

    /// The source ended: whatever is left, as it is.
    fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    if from.is_empty() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// SplitMix64: small, seedable, good enough for piece sizes.
struct SplitMix {
    salt: u64,
    state: u64,
    seeded: Option<u64>,
}

impl SplitMix {
    fn new(salt: u64) -> Self {
        SplitMix {
            salt,
            state: salt,
            seeded: None,
        }
    }

    /// Start the stream for `seed` (again, if the seed changed).
    fn reseed_once(&mut self, seed: u64) {
        if self.seeded != Some(seed) {
            self.seeded = Some(seed);
            self.state = seed ^ self.salt.wrapping_mul(0xA076_1D64_78BD_642F);
        }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use tokio::time::timeout;

    /// An echo server; counts the reads it made.
    async fn echo_server() -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reads = Arc::new(AtomicUsize::new(0));
        let counter = reads.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                counter.fetch_add(1, Ordering::SeqCst);
                                if s.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        (addr, reads)
    }

    /// A server that records what it received until EOF (or an error), in order.
    async fn sink_server() -> (SocketAddr, mpsc::UnboundedReceiver<(Vec<u8>, bool)>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    let clean = s.read_to_end(&mut got).await.is_ok();
                    let _ = tx.send((got, clean));
                });
            }
        });
        (addr, rx)
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    async fn read_exactly(s: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut got = vec![0u8; n];
        timeout(Duration::from_secs(20), s.read_exact(&mut got))
            .await
            .expect("no hang")
            .expect("read");
        got
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pieces_arrive_intact_and_in_order_and_are_counted() {
        let (echo, reads) = echo_server().await;
        let proxy = FaultProxy::start(echo.to_string()).await.unwrap();
        proxy.faults().set_pieces(3, 42);
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        let data = pattern(20_000);
        let (mut r, mut w) = c.split();
        let (_, got) = tokio::join!(async { w.write_all(&data).await.unwrap() }, async {
            let mut got = vec![0u8; data.len()];
            timeout(Duration::from_secs(20), r.read_exact(&mut got))
                .await
                .unwrap()
                .unwrap();
            got
        });
        assert_eq!(got, data);
        // The proxy counts a piece once its write returns, which may be just after the
        // client has read it: give the count a moment to catch up with the bytes.
        let mut s = proxy.faults().stats();
        for _ in 0..500 {
            if (s.to_upstream, s.to_client) == (20_000, 20_000) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            s = proxy.faults().stats();
        }
        assert_eq!((s.accepted, s.open), (1, 1));
        assert_eq!((s.to_upstream, s.to_client), (20_000, 20_000));

        // With a pause between pieces the server reads them one by one.
        proxy.faults().set_piece_gap(Duration::from_millis(1));
        let before = reads.load(Ordering::SeqCst);
        c.write_all(&data[..300]).await.unwrap();
        assert_eq!(read_exactly(&mut c, 300).await, &data[..300]);
        let n = reads.load(Ordering::SeqCst) - before;
        assert!(n >= 50, "300 bytes in pieces of 1..=3 came in {n} reads");
        drop(c);
        timeout(Duration::from_secs(5), async {
            while proxy.faults().stats().open > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("a closed client closes its connection");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn latency_delays_every_chunk_each_way_without_adding_up() {
        let (echo, _) = echo_server().await;
        let proxy = FaultProxy::start(echo.to_string()).await.unwrap();
        proxy.faults().set_latency(Duration::from_millis(100));
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        let t0 = Instant::now();
        c.write_all(b"x").await.unwrap();
        assert_eq!(read_exactly(&mut c, 1).await, b"x");
        let rtt = t0.elapsed();
        assert!(
            rtt >= Duration::from_millis(200),
            "a round trip took {rtt:?}"
        );
        // Ten chunks 10 ms apart: delayed, not queued behind each other's delay.
        let t0 = Instant::now();
        for i in 0..10u8 {
            c.write_all(&[i]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(read_exactly(&mut c, 10).await, (0..10).collect::<Vec<u8>>());
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_millis(290) && took < Duration::from_millis(1_000),
            "ten chunks took {took:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_black_hole_stops_bytes_both_ways_and_lifting_it_delivers_them() {
        let (echo, _) = echo_server().await;
        let proxy = FaultProxy::start(echo.to_string()).await.unwrap();
        let f = proxy.faults().clone();
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        c.write_all(b"ping").await.unwrap();
        assert_eq!(read_exactly(&mut c, 4).await, b"ping");

        f.set_black_hole(true);
        c.write_all(b"lost?").await.unwrap();
        let mut buf = [0u8; 16];
        assert!(
            timeout(Duration::from_millis(300), c.read(&mut buf))
                .await
                .is_err(),
            "nothing comes back through a black hole"
        );
        assert_eq!(f.stats().to_upstream, 4, "nothing went upstream either");
        // A new connection is accepted but black-holed too.
        let mut c2 = TcpStream::connect(proxy.addr()).await.unwrap();
        c2.write_all(b"two").await.unwrap();
        assert!(timeout(Duration::from_millis(200), c2.read(&mut buf))
            .await
            .is_err());

        f.set_black_hole(false);
        assert_eq!(read_exactly(&mut c, 5).await, b"lost?");
        assert_eq!(read_exactly(&mut c2, 3).await, b"two");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn black_holing_current_connections_spares_new_ones() {
        let (echo, _) = echo_server().await;
        let proxy = FaultProxy::start(echo.to_string()).await.unwrap();
        let mut old = TcpStream::connect(proxy.addr()).await.unwrap();
        old.write_all(b"a").await.unwrap();
        assert_eq!(read_exactly(&mut old, 1).await, b"a");
        assert_eq!(proxy.faults().black_hole_current(), 1);
        old.write_all(b"b").await.unwrap();
        let mut new = TcpStream::connect(proxy.addr()).await.unwrap();
        new.write_all(b"c").await.unwrap();
        assert_eq!(read_exactly(&mut new, 1).await, b"c");
        let mut buf = [0u8; 4];
        assert!(timeout(Duration::from_millis(300), old.read(&mut buf))
            .await
            .is_err());
        // Reset still ends a dead connection.
        assert_eq!(proxy.faults().reset_all(), 2);
        let r = timeout(Duration::from_secs(5), old.read(&mut buf))
            .await
            .unwrap();
        assert_eq!(
            r.map_err(|e| e.kind()).err(),
            Some(io::ErrorKind::ConnectionReset)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reset_makes_both_peers_see_a_reset() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = listener.local_addr().unwrap();
        let proxy = FaultProxy::start(upstream.to_string()).await.unwrap();
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        c.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(proxy.faults().reset_all(), 1);
        let mut buf = [0u8; 8];
        let client_side = timeout(Duration::from_secs(5), c.read(&mut buf))
            .await
            .unwrap();
        let server_side = timeout(Duration::from_secs(5), server.read(&mut buf))
            .await
            .unwrap();
        assert_eq!(
            client_side.map_err(|e| e.kind()).err(),
            Some(io::ErrorKind::ConnectionReset)
        );
        assert_eq!(
            server_side.map_err(|e| e.kind()).err(),
            Some(io::ErrorKind::ConnectionReset)
        );
        timeout(Duration::from_secs(5), async {
            while proxy.faults().stats().open > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
        assert_eq!(proxy.faults().stats().accepted, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_server_down_resets_current_and_new_connections_until_it_is_back() {
        let (echo, _) = echo_server().await;
        let proxy = FaultProxy::start(echo.to_string()).await.unwrap();
        let mut before = TcpStream::connect(proxy.addr()).await.unwrap();
        before.write_all(b"ping").await.unwrap();
        assert_eq!(read_exactly(&mut before, 4).await, b"ping");
        proxy.faults().set_down(true);
        // The open connection is reset…
        let mut buf = [0u8; 4];
        let r = timeout(Duration::from_secs(5), before.read(&mut buf))
            .await
            .expect("no hang");
        assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
        // …and a new one is reset as soon as it is accepted (the reset may already
        // fail the connect itself).
        if let Ok(mut during) = TcpStream::connect(proxy.addr()).await {
            let _ = during.write_all(b"ping").await;
            let r = timeout(Duration::from_secs(5), during.read(&mut buf))
                .await
                .expect("no hang");
            assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
        }
        proxy.faults().set_down(false);
        let mut after = TcpStream::connect(proxy.addr()).await.unwrap();
        after.write_all(b"pong").await.unwrap();
        assert_eq!(read_exactly(&mut after, 4).await, b"pong");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cut_delivers_exactly_n_bytes_then_closes() {
        // Upstream: the server gets exactly the first 10 bytes, then EOF.
        let (sink, mut received) = sink_server().await;
        let proxy = FaultProxy::start(sink.to_string()).await.unwrap();
        proxy.faults().set_pieces(4, 1);
        proxy.faults().cut_after(Direction::Upstream, 10);
        let data = pattern(100);
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        c.write_all(&data).await.unwrap();
        let (got, clean) = timeout(Duration::from_secs(5), received.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, &data[..10]);
        assert!(clean, "a FIN, not a reset");
        assert!(!proxy.faults().cut_pending());
        let mut rest = Vec::new();
        let r = timeout(Duration::from_secs(5), c.read_to_end(&mut rest))
            .await
            .unwrap();
        // The client sees the close too (a FIN, or an RST when the proxy still held
        // unread bytes of its).
        let _ = r;
        assert!(rest.is_empty());

        // Downstream: the client gets exactly 5 of the 20 echoed bytes.
        let (echo, _) = echo_server().await;
        let proxy = FaultProxy::start(echo.to_string()).await.unwrap();
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        c.write_all(b"0123456789").await.unwrap();
        assert_eq!(read_exactly(&mut c, 10).await, b"0123456789");
        proxy.faults().cut_after(Direction::Downstream, 5);
        c.write_all(b"abcdefghijklmnopqrst").await.unwrap();
        let mut got = Vec::new();
        let _ = timeout(Duration::from_secs(5), c.read_to_end(&mut got))
            .await
            .unwrap();
        assert_eq!(got, b"abcde");
        assert_eq!(proxy.faults().stats().to_client, 15);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn frame_bodies_are_rewritten_and_reframed() {
        // A "NameServer" answering every connection with two frames: a route-like body
        // naming the broker twice, and one without it.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = listener.local_addr().unwrap();
        let header = br#"{"code":0,"flag":1,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":0}"#;
        let body1 =
            br#"{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911"},"x":"127.0.0.1:10911"}]}"#;
        let body2 = br#"{"other":"127.0.0.1:1091"}"#;
        let frame = |body: &[u8]| {
            let mut f = Vec::new();
            let p = rocketmq_proto::frame::prefix(
                rocketmq_proto::codes::SerializeType::Json,
                header.len(),
                body.len(),
            )
            .unwrap();
            f.extend_from_slice(&p);
            f.extend_from_slice(header);
            f.extend_from_slice(body);
            f
        };
        let mut wire = frame(body1);
        wire.extend(frame(body2));
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let wire = wire.clone();
                tokio::spawn(async move {
                    // In small writes, so frames straddle reads.
                    for part in wire.chunks(13) {
                        s.write_all(part).await.unwrap();
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    let mut sink = Vec::new();
                    let _ = s.read_to_end(&mut sink).await;
                });
            }
        });
        let proxy = FaultProxy::start_rewriting(
            upstream.to_string(),
            vec![("\"127.0.0.1:10911\"".into(), "\"127.0.0.1:40000\"".into())],
        )
        .await
        .unwrap();
        proxy.faults().set_pieces(5, 9);
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        let mut got = Vec::new();
        let decoder = FrameDecoder::new();
        let mut bodies = Vec::new();
        while bodies.len() < 2 {
            let mut buf = [0u8; 256];
            let n = timeout(Duration::from_secs(5), c.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
            while let Ok(Decoded::Frame { frame, consumed }) = decoder.decode(&got) {
                assert_eq!(frame.header, header);
                bodies.push(frame.body.to_vec());
                got.drain(..consumed);
            }
        }
        assert_eq!(
            bodies[0],
            br#"{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:40000"},"x":"127.0.0.1:40000"}]}"#
        );
        assert_eq!(bodies[1], body2);
    }

    #[test]
    fn replace_all_replaces_every_occurrence() {
        assert_eq!(replace_all(b"aXbXXc", b"X", b"yy"), b"ayybyyyyc");
        assert_eq!(replace_all(b"abc", b"", b"z"), b"abc");
        assert_eq!(replace_all(b"abab", b"ab", b""), b"");
    }
}
