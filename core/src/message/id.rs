//! Message ids (messages.md §4): the broker's offset message id and the client's
//! `UNIQ_KEY`. Both are uppercase hex of 16 bytes (IPv4) or 28 bytes (IPv6); parsing
//! accepts either case.
//!
//! ```
//! use rocketmq_proto::message::{OffsetMsgId, UniqKeyGenerator};
//! use core::net::{IpAddr, Ipv4Addr};
//!
//! let id = OffsetMsgId::parse("0A02037500002A9F0000000001EC18FC").unwrap();
//! assert_eq!(id.store_host.to_string(), "10.2.3.117:10911");
//! assert_eq!(id.commit_log_offset, 32_250_108);
//! assert_eq!(id.to_hex(), "0A02037500002A9F0000000001EC18FC");
//!
//! let mut gen = UniqKeyGenerator::new(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)), 0x1234, 0x2A3B4C5D)
//!     .with_counter(1);
//! assert_eq!(gen.next(123_456_789), "C0A8010A12342A3B4C5D075BCD150001");
//! ```

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::ops::Deref;

use crate::error::DecodeError;
use crate::out::Out;

/// Longest id in hex characters (28 bytes, IPv6).
pub const MAX_ID_HEX_LEN: usize = 56;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// A message id as uppercase hex in a fixed buffer (32 or 56 characters), no allocator.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HexId {
    buf: [u8; MAX_ID_HEX_LEN],
    len: u8,
}

impl HexId {
    fn from_bytes(bytes: &[u8]) -> Self {
        let mut buf = [b'0'; MAX_ID_HEX_LEN];
        let mut len = 0u8;
        for (b, pair) in bytes.iter().zip(buf.chunks_exact_mut(2)) {
            if let [hi, lo] = pair {
                *hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
                *lo = HEX.get(usize::from(b & 0xF)).copied().unwrap_or(b'0');
                len += 2;
            }
        }
        HexId { buf, len }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        core::str::from_utf8(self.buf.get(..usize::from(self.len)).unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Deref for HexId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for HexId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for HexId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for HexId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for HexId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for HexId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Decode hex (either case) into `out`; false on a bad digit or wrong length.
fn unhex(s: &str, out: &mut [u8]) -> bool {
    if s.len() != out.len() * 2 {
        return false;
    }
    for (pair, o) in s.as_bytes().chunks_exact(2).zip(out.iter_mut()) {
        let d = |c: u8| (c as char).to_digit(16);
        match pair {
            [hi, lo] => match (d(*hi), d(*lo)) {
                (Some(h), Some(l)) => *o = (h * 16 + l) as u8,
                _ => return false,
            },
            _ => return false,
        }
    }
    true
}

/// Bytes after the address in either id: 12 (port + offset, or pid + hash + time +
/// counter).
const ID_TAIL_LEN: usize = 12;

/// The shape both ids share (§4.1, §4.2): 32 hex characters → a 4-byte IPv4 address,
/// 56 → a 16-byte IPv6 address, then [`ID_TAIL_LEN`] bytes. `None` for any other length
/// or a non-hex character.
fn parse_hex_id(s: &str) -> Option<(IpAddr, [u8; ID_TAIL_LEN])> {
    let mut b = [0u8; 28];
    let n = match s.len() {
        32 => 16,
        56 => 28,
        _ => return None,
    };
    let bytes = b.get_mut(..n)?;
    if !unhex(s, bytes) {
        return None;
    }
    let (ip, tail): (IpAddr, &[u8]) = if n == 16 {
        let (a, tail) = bytes.split_first_chunk::<4>()?;
        (Ipv4Addr::from(*a).into(), tail)
    } else {
        let (a, tail) = bytes.split_first_chunk::<16>()?;
        (Ipv6Addr::from(*a).into(), tail)
    };
    Some((ip, *tail.first_chunk::<ID_TAIL_LEN>()?))
}

/// The byte form both ids share: the address (4 or 16 bytes), then `tail` pieces, in a
/// 28-byte buffer; returns it and the length used.
fn id_bytes(ip: &IpAddr, tail: &[&[u8]]) -> ([u8; 28], usize) {
    let (v4, v6);
    let addr: &[u8] = match ip {
        IpAddr::V4(a) => {
            v4 = a.octets();
            &v4
        }
        IpAddr::V6(a) => {
            v6 = a.octets();
            &v6
        }
    };
    let mut b = [0u8; 28];
    let mut pos = 0;
    for part in core::iter::once(addr).chain(tail.iter().copied()) {
        let end = pos + part.len();
        if let Some(d) = b.get_mut(pos..end) {
            d.copy_from_slice(part);
            pos = end;
        }
    }
    (b, pos)
}

/// The broker-assigned offset message id: store host and commit-log offset (§4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OffsetMsgId {
    /// The storing broker's address (the broker to ask for the message).
    pub store_host: SocketAddr,
    /// The message's commit-log (physical) offset.
    pub commit_log_offset: i64,
}

impl OffsetMsgId {
    /// Parse as Java's `decodeMessageId`: 32 characters → IPv4, 56 → IPv6, hex in either
    /// case. Anything else is [`DecodeError::InvalidField`].
    pub fn parse(s: &str) -> Result<Self, DecodeError> {
        let err = DecodeError::InvalidField {
            field: "msgId",
            expected: "hex offset message id",
        };
        let (ip, rest) = parse_hex_id(s).ok_or(err)?;
        let (port, offset) = rest.split_first_chunk::<4>().ok_or(err)?;
        let offset = offset.first_chunk::<8>().ok_or(err)?;
        let port = u16::try_from(i32::from_be_bytes(*port)).map_err(|_| err)?;
        Ok(OffsetMsgId {
            store_host: SocketAddr::new(ip, port),
            commit_log_offset: i64::from_be_bytes(*offset),
        })
    }

    /// Parse the comma-separated list a batch send response carries in `msgId`.
    pub fn parse_list(s: &str) -> impl Iterator<Item = Result<OffsetMsgId, DecodeError>> + '_ {
        s.split(',').map(OffsetMsgId::parse)
    }

    /// The id as Java's `createMessageId` writes it (uppercase hex).
    pub fn to_hex(&self) -> HexId {
        let (b, n) = id_bytes(
            &self.store_host.ip(),
            &[
                &i32::from(self.store_host.port()).to_be_bytes(),
                &self.commit_log_offset.to_be_bytes(),
            ],
        );
        HexId::from_bytes(b.get(..n).unwrap_or_default())
    }

    /// Write the hex id to `out`.
    pub fn write(&self, out: &mut impl Out) {
        out.put(self.to_hex().as_bytes());
    }
}

/// The parts of a client `UNIQ_KEY` (§4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UniqKey {
    /// The client host (4 or 16 bytes on the wire).
    pub ip: IpAddr,
    /// Low 16 bits of the process id.
    pub pid: u16,
    /// Java: identity hash of the ClassLoader (any per-process constant).
    pub class_loader_hash: i32,
    /// Milliseconds since the start of the month (local zone).
    pub time: i32,
    /// Per-id counter.
    pub counter: u16,
}

impl UniqKey {
    /// Parse a 32- or 56-character id (either hex case).
    pub fn parse(s: &str) -> Result<Self, DecodeError> {
        let err = DecodeError::InvalidField {
            field: "UNIQ_KEY",
            expected: "hex unique message id",
        };
        let (ip, rest) = parse_hex_id(s).ok_or(err)?;
        let (pid, rest) = rest.split_first_chunk::<2>().ok_or(err)?;
        let (hash, rest) = rest.split_first_chunk::<4>().ok_or(err)?;
        let (time, rest) = rest.split_first_chunk::<4>().ok_or(err)?;
        let counter = rest.first_chunk::<2>().ok_or(err)?;
        Ok(UniqKey {
            ip,
            pid: u16::from_be_bytes(*pid),
            class_loader_hash: i32::from_be_bytes(*hash),
            time: i32::from_be_bytes(*time),
            counter: u16::from_be_bytes(*counter),
        })
    }

    /// The id as uppercase hex.
    pub fn to_hex(&self) -> HexId {
        UniqKeyGenerator::new(self.ip, self.pid, self.class_loader_hash)
            .with_counter(self.counter)
            .next(self.time.into())
    }
}

/// Generates `UNIQ_KEY`s like Java's `MessageClientIDSetter`, with every input injected
/// (no clock reads, no allocation): a fixed prefix of ip ‖ pid ‖ class-loader hash, then
/// the caller's "milliseconds since the start of the month" and a wrapping u16 counter.
///
/// Uniqueness is what matters; a client without a real address may pass any stable
/// address, but keep the 4/16-byte shape. See [`ms_since_month_start`] to compute the
/// time from a Unix timestamp.
#[derive(Debug, Clone)]
pub struct UniqKeyGenerator {
    prefix: [u8; 28],
    prefix_len: u8,
    counter: u16,
    /// The day [`next_at`](Self::next_at) last saw (speed builds).
    #[cfg(not(rmq_size_opt))]
    clock: MonthClock,
}

impl UniqKeyGenerator {
    /// A generator for this client. The counter starts at 0, as in Java.
    pub fn new(ip: IpAddr, pid: u16, class_loader_hash: i32) -> Self {
        let (prefix, n) = id_bytes(&ip, &[&pid.to_be_bytes(), &class_loader_hash.to_be_bytes()]);
        UniqKeyGenerator {
            prefix,
            // At most 16 + 2 + 4 bytes.
            prefix_len: n as u8,
            counter: 0,
            #[cfg(not(rmq_size_opt))]
            clock: MonthClock::new(),
        }
    }

    /// Start the counter at `counter` (the Go client starts at 1).
    #[must_use]
    pub fn with_counter(mut self, counter: u16) -> Self {
        self.counter = counter;
        self
    }

    /// The counter the next id will carry.
    pub fn counter(&self) -> u16 {
        self.counter
    }

    /// A new id for the wall-clock time `unix_ms` in the zone `utc_offset_ms` east of UTC
    /// (through [`ms_since_month_start`]; speed builds remember the day, as Java keeps
    /// the month's start, so that the calendar is worked out once a day).
    ///
    /// ```
    /// use rocketmq_proto::message::{ms_since_month_start, UniqKeyGenerator};
    /// let mut a = UniqKeyGenerator::new("10.0.0.1".parse().unwrap(), 7, 1);
    /// let mut b = a.clone();
    /// let t = 1_749_883_778_686;
    /// assert_eq!(a.next_at(t, 0), b.next(ms_since_month_start(t, 0)));
    /// ```
    pub fn next_at(&mut self, unix_ms: i64, utc_offset_ms: i64) -> HexId {
        #[cfg(not(rmq_size_opt))]
        let t = self.clock.ms_since_month_start(unix_ms, utc_offset_ms);
        #[cfg(rmq_size_opt)]
        let t = ms_since_month_start(unix_ms, utc_offset_ms);
        self.next(t)
    }

    /// A new id for time `ms_since_month_start`, then advance the counter (wrapping).
    ///
    /// The time is cut to 32 bits like Java's `(int)` cast, and small negative values
    /// (above −1 000 000, from clock steps) become 0 as in Java.
    pub fn next(&mut self, ms_since_month_start: i64) -> HexId {
        let mut t = ms_since_month_start as i32;
        if t < 0 && t > -1_000_000 {
            t = 0;
        }
        let mut b = self.prefix;
        let p = usize::from(self.prefix_len);
        if let Some(d) = b.get_mut(p..p + 4) {
            d.copy_from_slice(&t.to_be_bytes());
        }
        if let Some(d) = b.get_mut(p + 4..p + 6) {
            d.copy_from_slice(&self.counter.to_be_bytes());
        }
        self.counter = self.counter.wrapping_add(1);
        HexId::from_bytes(b.get(..p + 6).unwrap_or_default())
    }
}

/// [`ms_since_month_start`] remembering the local day it last computed (5 bytes):
/// within that day the answer is the day of the month times a day plus the time of
/// day, with no calendar arithmetic (a producer asks on every send).
///
/// ```
/// use rocketmq_proto::message::{ms_since_month_start, MonthClock};
/// let mut clock = MonthClock::new();
/// for t in [1_749_883_778_686, 1_749_883_778_687, 1_751_328_000_000] {
///     assert_eq!(clock.ms_since_month_start(t, 8 * 3_600_000), ms_since_month_start(t, 8 * 3_600_000));
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthClock {
    /// The remembered local day (days since 1970-01-01; `i32::MIN`: none yet).
    day: i32,
    /// Its day of the month, from 0.
    month_day: u8,
}

impl Default for MonthClock {
    fn default() -> Self {
        Self::new()
    }
}

impl MonthClock {
    const DAY: i64 = 86_400_000;

    /// A clock that remembers no day yet.
    pub const fn new() -> Self {
        MonthClock {
            day: i32::MIN,
            month_day: 0,
        }
    }

    /// The same as [`ms_since_month_start`]`(unix_ms, utc_offset_ms)`.
    pub fn ms_since_month_start(&mut self, unix_ms: i64, utc_offset_ms: i64) -> i64 {
        let local = unix_ms.saturating_add(utc_offset_ms);
        let day = local.div_euclid(Self::DAY);
        let ms_of_day = local.rem_euclid(Self::DAY);
        if i64::from(self.day) == day {
            return i64::from(self.month_day) * Self::DAY + ms_of_day;
        }
        let v = ms_since_month_start(unix_ms, utc_offset_ms);
        // Days beyond `i32` (millions of years away) are not remembered.
        if let (Ok(day), Ok(month_day)) = (i32::try_from(day), u8::try_from(v / Self::DAY)) {
            if day != i32::MIN {
                *self = MonthClock { day, month_day };
            }
        }
        v
    }
}

/// Milliseconds since the start of the calendar month containing `unix_ms`, in the zone
/// `utc_offset_ms` east of UTC — the time field Java puts into a `UNIQ_KEY`. Pure
/// arithmetic (proleptic Gregorian calendar); the caller supplies the clock and zone.
///
/// ```
/// use rocketmq_proto::message::ms_since_month_start;
/// // 2025-06-14 in UTC+8; June started at 1748707200000.
/// assert_eq!(ms_since_month_start(1_749_883_778_686, 8 * 3_600_000), 1_176_578_686);
/// ```
pub fn ms_since_month_start(unix_ms: i64, utc_offset_ms: i64) -> i64 {
    const DAY: i64 = 86_400_000;
    let local = unix_ms.saturating_add(utc_offset_ms);
    let days = local.div_euclid(DAY);
    let ms_of_day = local.rem_euclid(DAY);
    // Day of month from days since 1970-01-01 (H. Hinnant's civil_from_days).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day_of_month = doy - (153 * mp + 2) / 5; // 0-based
    day_of_month * DAY + ms_of_day
}
