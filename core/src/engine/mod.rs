//! The client engine: connections, requests in flight, NameServer selection, routes —
//! the state a RocketMQ client instance (Java `MQClientInstance`) owns, driven by time
//! and bytes given to it (behaviour.md §0, §1, §11).
//!
//! Time is a value passed in ([`Instant`], milliseconds on any monotonic clock the
//! adapter chooses); the engine never reads a clock.
//!
//! ```
//! use rocketmq_proto::engine::{Instant, Millis};
//! let t = Instant::from_millis(1_000);
//! assert_eq!(t + Millis(500), Instant::from_millis(1_500));
//! assert_eq!(Instant::from_millis(1_500).saturating_since(t), Millis(500));
//! ```

pub mod client;
pub mod client_id;
pub mod inflight;
pub mod namesrv;

use core::ops::Add;

/// A point in time: milliseconds on the adapter's monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// From milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms)
    }

    /// As milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: Instant) -> Millis {
        Millis(self.0.saturating_sub(earlier.0))
    }
}

/// A span of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub u64);

impl Add<Millis> for Instant {
    type Output = Instant;
    // A saturating 64-bit add is a dozen instructions on a 32-bit core, at ~50 places
    // in the engine: one copy in size builds (saves flash; speed builds inline it).
    #[cfg_attr(rmq_size_opt, inline(never))]
    fn add(self, d: Millis) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }
}

/// Identifies one connection; assigned by the engine, reported back by the adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ConnId(pub u32);
