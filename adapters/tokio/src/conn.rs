//! One TCP connection: a task that connects, then copies bytes both ways between the
//! socket and the driver. It knows nothing of frames.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rocketmq_proto::engine::ConnId;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// What a connection task reports to the driver.
pub(crate) enum Io {
    /// Open; frames for it go to this writer.
    Connected(ConnId, mpsc::UnboundedSender<Bytes>),
    /// Failed to open, or closed.
    Closed(ConnId),
    /// Bytes arrived.
    Data(ConnId, Bytes),
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
        None => pump(conn, addr, stream, io).await,
    }
}

/// Copy bytes both ways between `stream` and the driver until either side ends.
async fn pump<S>(conn: ConnId, addr: &str, stream: S, io: &mpsc::UnboundedSender<Io>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (tx, mut frames) = mpsc::unbounded_channel::<Bytes>();
    if io.send(Io::Connected(conn, tx)).is_err() {
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
    let read = async {
        let mut buf = BytesMut::with_capacity(64 * 1024);
        loop {
            if buf.capacity() - buf.len() < 16 * 1024 {
                buf.reserve(64 * 1024);
            }
            let n = reader.read_buf(&mut buf).await?;
            if n == 0 {
                return Ok::<(), std::io::Error>(());
            }
            if io.send(Io::Data(conn, buf.split().freeze())).is_err() {
                return Ok(());
            }
        }
    };
    tokio::select! {
        r = write => if let Err(e) = r { tracing::debug!(%addr, error = %e, "write failed") },
        r = read => if let Err(e) = r { tracing::debug!(%addr, error = %e, "read failed") },
    }
}
