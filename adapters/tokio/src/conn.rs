//! One TCP connection: a task that connects, then copies bytes both ways between the
//! socket and the driver. It knows nothing of frames.
//!
//! On plain TCP the driver reads the socket itself (the task hands it the read half),
//! and also writes to it itself ([`Writer::write`]) while nothing is queued for the
//! task: a response then reaches the engine, and a frame the socket, with no hand-off
//! to this task (a task wake, often a cross-thread one, less per read and per
//! request). What the socket does not take at once goes through the task, in order.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rocketmq_proto::engine::ConnId;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// What a connection task reports to the driver.
pub(crate) enum Io {
    /// Open; frames for it go to this writer. With the read half (plain TCP), the
    /// driver reads the socket itself and learns of its end there; without it (TLS),
    /// the task reads and reports [`Io::Data`] and [`Io::Closed`].
    Connected(ConnId, Writer, Option<OwnedReadHalf>),
    /// Failed to open, or closed.
    Closed(ConnId),
    /// Bytes arrived.
    Data(ConnId, Bytes),
}

/// The driver's side of a connection's output.
///
/// Invariant: bytes reach the socket in the order [`Writer::write`] was called. The
/// driver writes directly only while `queued` is 0, i.e. once the task has put every
/// frame handed to it into the socket; it is the only one that adds to `queued`, so a 0
/// it reads cannot be stale in the unsafe direction.
pub(crate) struct Writer {
    tx: mpsc::UnboundedSender<Bytes>,
    /// The socket's write half, shared with the task (plain TCP only; TLS writes go
    /// through the task).
    direct: Option<Arc<OwnedWriteHalf>>,
    /// Frames handed to the task and not yet fully written by it.
    queued: Arc<AtomicUsize>,
}

impl Writer {
    /// Write `bytes` out: straight into the socket when `direct` allows it and the
    /// socket takes them, the rest through the connection task. An error means the task
    /// is gone (the connection is closing).
    ///
    /// The driver allows `direct` when nothing else waits for it or it has a big batch
    /// (see its `DIRECT_WRITE_SIZE`). Otherwise the task writes in
    /// parallel on another worker and gathers what the driver hands it meanwhile into
    /// one write: for a busy driver with small writes, that is faster.
    pub(crate) fn write(&self, mut bytes: Bytes, direct: bool) -> Result<(), ()> {
        if let Some(stream) = self.direct.as_ref().filter(|_| direct) {
            if self.queued.load(Ordering::Acquire) == 0 {
                while !bytes.is_empty() {
                    match stream.try_write(&bytes) {
                        Ok(n) => bytes::Buf::advance(&mut bytes, n),
                        // WouldBlock (socket full) or an error: the task takes the rest
                        // and meets the same error itself, which closes the connection.
                        Err(_) => break,
                    }
                }
                if bytes.is_empty() {
                    return Ok(());
                }
            }
        }
        self.queued.fetch_add(1, Ordering::AcqRel);
        self.tx.send(bytes).map_err(|_| ())
    }
}

/// How long a connect may take (Java `connectTimeoutMillis`, 3 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Secures a connection once TCP is up (`None`: plain TCP).
#[cfg(feature = "tls")]
pub(crate) type Tls = Option<crate::tls::Connector>;
/// Secures a connection once TCP is up (always plain without the `tls` feature).
#[cfg(not(feature = "tls"))]
pub(crate) type Tls = Option<std::convert::Infallible>;

/// How long a connection the driver has let go may still flush what was queued for
/// it. Past this its task ends even if the socket takes no more bytes (a black-holed
/// peer whose buffers are full would otherwise hold the task forever).
pub(crate) const LINGER: Duration = Duration::from_secs(2);

/// Counts a running connection task (in [`crate::driver::ClientStats`]) until dropped.
pub(crate) struct Running(Arc<AtomicUsize>);

impl Running {
    pub(crate) fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Running(Arc::clone(count))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One connection task's inputs.
pub(crate) struct Task {
    pub(crate) conn: ConnId,
    pub(crate) addr: String,
    pub(crate) io: mpsc::UnboundedSender<Io>,
    /// Resolves when the driver drops the connection: [`LINGER`] starts then.
    pub(crate) stop: oneshot::Receiver<()>,
    pub(crate) running: Running,
}

pub(crate) async fn run(task: Task, tls: Tls) {
    let Task {
        conn,
        addr,
        io,
        mut stop,
        running: _running,
    } = task;
    let lingered = async {
        let _ = (&mut stop).await;
        tokio::time::sleep(LINGER).await;
    };
    tokio::select! {
        () = connect_and_pump(conn, &addr, &io, tls) => {}
        () = lingered => tracing::debug!(%addr, "dropped connection still busy after the linger; ended"),
    }
    let _ = io.send(Io::Closed(conn));
}

async fn connect_and_pump(conn: ConnId, addr: &str, io: &mpsc::UnboundedSender<Io>, tls: Tls) {
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%addr, error = %e, "connect failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%addr, "connect timed out");
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    match tls {
        #[cfg(feature = "tls")]
        Some(connector) => {
            match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(addr, stream)).await {
                Ok(Ok(s)) => pump(conn, addr, s, io).await,
                Ok(Err(e)) => tracing::warn!(%addr, error = %e, "TLS handshake failed"),
                Err(_) => tracing::warn!(%addr, "TLS handshake timed out"),
            }
        }
        #[cfg(not(feature = "tls"))]
        Some(never) => match never {},
        None => pump_tcp(conn, addr, stream, io).await,
    }
}

/// [`pump`] for plain TCP, where the driver reads and may also write directly (see
/// [`Writer`]): this task only writes what the driver queues for it.
async fn pump_tcp(conn: ConnId, addr: &str, stream: TcpStream, io: &mpsc::UnboundedSender<Io>) {
    let (reader, writer) = stream.into_split();
    let writer = Arc::new(writer);
    let (tx, mut frames) = mpsc::unbounded_channel::<Bytes>();
    let queued = Arc::new(AtomicUsize::new(0));
    let out = Writer {
        tx,
        direct: Some(Arc::clone(&writer)),
        queued: Arc::clone(&queued),
    };
    if io.send(Io::Connected(conn, out, Some(reader))).is_err() {
        return;
    }
    let write = async {
        // Frames queued meanwhile go out together in one vectored write: one syscall,
        // not one each, and no copy of them into one buffer (about 270 instructions per
        // 128-byte message of an async burst, where the driver hands over 64 KiB blocks).
        let mut pending: VecDeque<Bytes> = VecDeque::new();
        while let Some(first) = frames.recv().await {
            let mut taken = 1;
            let mut len = first.len();
            pending.push_back(first);
            while len < 256 * 1024 {
                match frames.try_recv() {
                    Ok(more) => {
                        len += more.len();
                        pending.push_back(more);
                        taken += 1;
                    }
                    Err(_) => break,
                }
            }
            while !pending.is_empty() {
                writer.writable().await?;
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let n = slices.len().min(pending.len());
                for (slice, bytes) in slices.iter_mut().zip(&pending) {
                    *slice = IoSlice::new(bytes);
                }
                match writer.try_write_vectored(&slices[..n]) {
                    Ok(written) => consume(&mut pending, written),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            // Only now may the driver write directly again.
            queued.fetch_sub(taken, Ordering::AcqRel);
        }
        // The driver dropped us: the write half shuts down when its last holder drops.
        Ok::<(), std::io::Error>(())
    };
    if let Err(e) = write.await {
        tracing::debug!(%addr, error = %e, "write failed");
    }
}

/// Hand what `reader` receives to the driver until the peer closes.
async fn read_into<R: AsyncRead + Unpin>(
    conn: ConnId,
    reader: &mut R,
    io: &mpsc::UnboundedSender<Io>,
) -> std::io::Result<()> {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        // (A short read also clears the socket's readiness: no second read to learn
        // that it is empty.)
        let n = reader.read_buf(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        if io.send(Io::Data(conn, buf.split().freeze())).is_err() {
            return Ok(());
        }
    }
}

/// Slices per vectored write (Linux takes up to 1,024; a burst's frames come in 64 KiB
/// blocks, so a few suffice for the 256 KiB a write gathers).
const MAX_SLICES: usize = 64;

/// Drop the first `written` bytes of `pending`: whole buffers, then the front of the
/// one a short write ended in.
fn consume(pending: &mut VecDeque<Bytes>, mut written: usize) {
    while let Some(front) = pending.front_mut() {
        if written < front.len() {
            bytes::Buf::advance(front, written);
            return;
        }
        written -= front.len();
        pending.pop_front();
    }
}

/// Copy bytes both ways between `stream` and the driver until either side ends.
async fn pump<S>(conn: ConnId, addr: &str, stream: S, io: &mpsc::UnboundedSender<Io>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (tx, mut frames) = mpsc::unbounded_channel::<Bytes>();
    // Through this task only (`queued` is never read without a direct socket).
    let out = Writer {
        tx,
        direct: None,
        queued: Arc::new(AtomicUsize::new(0)),
    };
    if io.send(Io::Connected(conn, out, None)).is_err() {
        return;
    }
    let write = async {
        // Frames queued meanwhile go out in one write (one syscall, not one each).
        let mut batch = BytesMut::new();
        while let Some(bytes) = frames.recv().await {
            match frames.try_recv() {
                Err(_) => writer.write_all(&bytes).await?,
                Ok(next) => {
                    batch.clear();
                    batch.extend_from_slice(&bytes);
                    batch.extend_from_slice(&next);
                    while batch.len() < 256 * 1024 {
                        match frames.try_recv() {
                            Ok(more) => batch.extend_from_slice(&more),
                            Err(_) => break,
                        }
                    }
                    writer.write_all(&batch).await?;
                }
            }
        }
        // The driver dropped us: close politely.
        writer.shutdown().await
    };
    tokio::select! {
        r = write => if let Err(e) = r { tracing::debug!(%addr, error = %e, "write failed") },
        r = read_into(conn, &mut reader, io) => if let Err(e) = r { tracing::debug!(%addr, error = %e, "read failed") },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Chunk `i`: 16 KiB, every byte derived from `i`, so a chunk out of order or torn
    /// shows in the bytes read.
    fn chunk(i: u32) -> Bytes {
        let mut b = Vec::with_capacity(16 * 1024);
        for j in 0..16 * 1024u32 {
            b.push((i.wrapping_mul(31).wrapping_add(j / 7)) as u8);
        }
        Bytes::from(b)
    }

    /// A plain TCP connection task for `conn` to a listener of this test: the peer's
    /// end of the socket, what the task reports, its stop signal and its count.
    struct Started {
        peer: TcpStream,
        io_rx: mpsc::UnboundedReceiver<Io>,
        stop_tx: oneshot::Sender<()>,
        running: Arc<AtomicUsize>,
    }

    async fn start(conn: ConnId) -> Started {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (io_tx, io_rx) = mpsc::unbounded_channel();
        let (stop_tx, stop) = oneshot::channel();
        let running = Arc::new(AtomicUsize::new(0));
        tokio::spawn(run(
            Task {
                conn,
                addr,
                io: io_tx,
                stop,
                running: Running::new(&running),
            },
            None,
        ));
        let (peer, _) = listener.accept().await.unwrap();
        Started {
            peer,
            io_rx,
            stop_tx,
            running,
        }
    }

    /// A vectored write's count drops whole buffers, then the front of the one it ended
    /// in; empty buffers go with the bytes before them.
    #[test]
    fn consume_drops_written_bytes_across_buffers() {
        let mut pending: VecDeque<Bytes> = [&b"abc"[..], b"", b"defg", b"hi"]
            .into_iter()
            .map(Bytes::from_static)
            .collect();
        consume(&mut pending, 0);
        assert_eq!(pending.len(), 4, "nothing written, nothing dropped");
        consume(&mut pending, 5);
        assert_eq!(
            pending,
            [Bytes::from_static(b"fg"), Bytes::from_static(b"hi")]
        );
        consume(&mut pending, 2);
        assert_eq!(pending, [Bytes::from_static(b"hi")]);
        consume(&mut pending, 2);
        assert!(pending.is_empty());
    }

    /// Direct writes and writes through the task interleave (by the driver's choice and
    /// while the socket fills and drains): the peer still reads every byte in the order
    /// written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_reach_the_socket_in_order_whether_direct_or_queued() {
        let Started {
            mut peer,
            mut io_rx,
            stop_tx: _stop_tx,
            ..
        } = start(ConnId(1)).await;
        let Some(Io::Connected(_, writer, _reader)) = io_rx.recv().await else {
            panic!("no connection");
        };
        assert!(writer.direct.is_some(), "plain TCP writes directly");

        // 24 MiB, the first 16 MiB at once: more than loopback's socket buffers hold.
        const CHUNKS: u32 = 1_500;
        let reader = tokio::spawn(async move {
            // Read nothing at first, so the socket fills and writes queue.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut got = vec![0u8; 16 * 1024];
            for i in 0..CHUNKS {
                peer.read_exact(&mut got).await.unwrap();
                assert!(
                    got[..] == chunk(i)[..],
                    "chunk {i} arrived torn or out of order"
                );
                if i % 100 == 0 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        });
        let mut queued_seen = false;
        for i in 0..CHUNKS {
            writer.write(chunk(i), i % 3 != 0).unwrap();
            queued_seen |= writer.queued.load(Ordering::Acquire) > 0;
            if i >= 1_000 && i % 50 == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        reader.await.unwrap();
        assert!(
            queued_seen,
            "the socket never filled: the test did not queue"
        );
        assert_eq!(writer.queued.load(Ordering::Acquire), 0, "all written");
    }

    /// Plain TCP: the driver gets the read half and reads the peer's bytes itself; the
    /// task, left with writing, ends (and reports the close) once the driver lets go.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn plain_tcp_hands_the_driver_the_read_half_and_ends_when_dropped() {
        let Started {
            mut peer,
            mut io_rx,
            stop_tx,
            running,
        } = start(ConnId(7)).await;
        let Some(Io::Connected(ConnId(7), writer, Some(mut reader))) = io_rx.recv().await else {
            panic!("no read half handed over");
        };
        peer.write_all(b"from the peer").await.unwrap();
        let mut got = [0u8; 13];
        reader.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"from the peer");
        writer
            .write(Bytes::from_static(b"to the peer"), false)
            .unwrap();
        let mut back = [0u8; 11];
        peer.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"to the peer");
        assert_eq!(running.load(Ordering::SeqCst), 1);
        // The driver drops the connection: writer, read half and stop signal.
        drop((writer, reader, stop_tx));
        let closed = tokio::time::timeout(Duration::from_secs(5), io_rx.recv())
            .await
            .expect("the task ends");
        assert!(matches!(closed, Some(Io::Closed(ConnId(7)))));
        // (The task counts itself until just after it reports.)
        for _ in 0..500 {
            if running.load(Ordering::SeqCst) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(running.load(Ordering::SeqCst), 0, "no task left");
        let mut rest = Vec::new();
        peer.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "the peer sees the end of the stream");
    }
}
