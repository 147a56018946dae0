//! std's `TcpStream` and clocks as the client's transport (feature `std`).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

use crate::{Clock, Network};

/// Connects with `std::net::TcpStream` (3 s connect timeout, Nagle off).
#[derive(Debug, Default, Clone, Copy)]
pub struct StdNetwork;

/// A TCP connection: reads only what is ready, so one thread serves many.
#[derive(Debug)]
pub struct StdConn(TcpStream);

impl Network for StdNetwork {
    type Conn = StdConn;
    type Error = std::io::Error;

    fn connect(&mut self, addr: &str) -> Result<StdConn, std::io::Error> {
        use std::net::ToSocketAddrs;
        let sa = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address"))?;
        let s = TcpStream::connect_timeout(&sa, Duration::from_secs(3))?;
        s.set_nodelay(true)?;
        Ok(StdConn(s))
    }
}

impl embedded_io::ErrorType for StdConn {
    type Error = std::io::Error;
}

impl embedded_io::ReadReady for StdConn {
    fn read_ready(&mut self) -> Result<bool, std::io::Error> {
        // A non-blocking peek: data (or the peer's close, read as 0 next) is ready.
        self.0.set_nonblocking(true)?;
        let r = self.0.peek(&mut [0u8; 1]);
        self.0.set_nonblocking(false)?;
        match r {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl embedded_io::Read for StdConn {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, std::io::Error> {
        self.0.read(buf)
    }
}

impl embedded_io::Write for StdConn {
    fn write(&mut self, buf: &[u8]) -> Result<usize, std::io::Error> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> Result<(), std::io::Error> {
        self.0.flush()
    }
}

/// `Instant` for the monotonic clock, `SystemTime` for the wall clock, a sleep to idle.
#[derive(Debug, Clone, Copy)]
pub struct StdClock {
    start: Instant,
}

impl StdClock {
    /// A clock starting now.
    pub fn new() -> Self {
        StdClock {
            start: Instant::now(),
        }
    }
}

impl Default for StdClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for StdClock {
    fn now_ms(&mut self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }
    fn wall_ms(&mut self) -> i64 {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
    fn idle(&mut self, ms: u32) {
        std::thread::sleep(Duration::from_millis(u64::from(ms)));
    }
}
