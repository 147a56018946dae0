//! Stored-message records (messages.md §2): the commit-log format returned by
//! PULL_MESSAGE, POP_MESSAGE, QUERY_MESSAGE, VIEW_MESSAGE_BY_ID, CHECK_TRANSACTION_STATE …
//!
//! [`RecordIter`] walks a body of records back to back and yields zero-copy
//! [`MessageRecord`] views; it checks each TOTALSIZE against the remaining bytes and
//! the sum of the fields, and stops after the first error. [`encode`] writes a record
//! (for tests and simulated brokers).
//!
//! ```
//! use rocketmq_proto::message::{RecordIter, MessageRecord};
//! # let body: &[u8] = &[];
//! for record in RecordIter::new(body) {
//!     let record: MessageRecord<'_> = record?;
//!     println!("{} {:?} {}", record.topic, record.properties.uniq_key(), record.body.len());
//! }
//! # Ok::<(), rocketmq_proto::DecodeError>(())
//! ```

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::batch::{decode_batch, BatchIter};
use super::id::OffsetMsgId;
use super::properties::{PropertiesView, MAX_PROPERTIES_LEN};
use super::reader::Reader;
use super::sysflag::MessageSysFlag;
use crate::error::{DecodeError, EncodeError};
use crate::out::{Out, SliceOut};

/// MAGICCODE of a V1 record (1-byte topic length).
pub const MAGIC_V1: i32 = 0xDAA3_20A7_u32 as i32;
/// MAGICCODE of a V2 record (2-byte topic length).
pub const MAGIC_V2: i32 = 0xDAA3_20AB_u32 as i32;
/// End-of-file padding inside commit-log files; never valid in a response body.
pub const BLANK_MAGIC: i32 = 0xCBD4_3194_u32 as i32;

/// Fixed part of a record with two IPv4 hosts, TOTALSIZE through
/// PREPAREDTRANSACTIONOFFSET.
pub const FIXED_LEN_IPV4: usize = 84;
/// Smallest possible record: IPv4 hosts, V1, empty body, topic and properties.
pub const MIN_RECORD_LEN: usize = FIXED_LEN_IPV4 + 4 + 1 + 2;

/// Record format version, chosen by the magic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageVersion {
    /// `0xDAA320A7`: TOPICLENGTH is one signed byte (topics ≤ 127 bytes).
    V1,
    /// `0xDAA320AB`: TOPICLENGTH is an i16 (brokers ≥ 5.1.0, long topics only).
    V2,
}

impl MessageVersion {
    /// The magic code.
    pub const fn magic(self) -> i32 {
        match self {
            MessageVersion::V1 => MAGIC_V1,
            MessageVersion::V2 => MAGIC_V2,
        }
    }

    /// Width of TOPICLENGTH.
    pub const fn topic_len_width(self) -> usize {
        match self {
            MessageVersion::V1 => 1,
            MessageVersion::V2 => 2,
        }
    }

    /// The version a 5.1+ broker picks for a topic of `topic_len` bytes.
    pub const fn for_topic_len(topic_len: usize) -> Self {
        if topic_len > i8::MAX as usize {
            MessageVersion::V2
        } else {
            MessageVersion::V1
        }
    }
}

/// One stored message, borrowed from a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRecord<'a> {
    /// V1 or V2 (from MAGICCODE).
    pub version: MessageVersion,
    /// BODYCRC as stored: CRC-32 of the stored body `& 0x7FFFFFFF`.
    pub body_crc: i32,
    /// QUEUEID.
    pub queue_id: i32,
    /// FLAG: the user flag.
    pub flag: i32,
    /// QUEUEOFFSET: the consume-queue (logical) offset.
    pub queue_offset: i64,
    /// PHYSICALOFFSET: the commit-log offset.
    pub physical_offset: i64,
    /// SYSFLAG.
    pub sys_flag: MessageSysFlag,
    /// BORNTIMESTAMP (producer clock, ms).
    pub born_timestamp: i64,
    /// BORNHOST.
    pub born_host: SocketAddr,
    /// STORETIMESTAMP (broker clock, ms).
    pub store_timestamp: i64,
    /// STOREHOST.
    pub store_host: SocketAddr,
    /// RECONSUMETIMES.
    pub reconsume_times: i32,
    /// PREPAREDTRANSACTIONOFFSET.
    pub prepared_transaction_offset: i64,
    /// BODY as stored (compressed if `sys_flag` says so).
    pub body: &'a [u8],
    /// TOPIC.
    pub topic: &'a str,
    /// PROPERTIES.
    pub properties: PropertiesView<'a>,
}

impl Default for MessageRecord<'_> {
    /// A V1 record with zero numbers, `0.0.0.0:0` hosts and empty body, topic and
    /// properties — a base for `..Default::default()`.
    fn default() -> Self {
        let nowhere = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        MessageRecord {
            version: MessageVersion::V1,
            body_crc: 0,
            queue_id: 0,
            flag: 0,
            queue_offset: 0,
            physical_offset: 0,
            sys_flag: MessageSysFlag(0),
            born_timestamp: 0,
            born_host: nowhere,
            store_timestamp: 0,
            store_host: nowhere,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: &[],
            topic: "",
            properties: PropertiesView::new(""),
        }
    }
}

fn host(r: &mut Reader<'_>, v6: bool, what: &'static str) -> Result<SocketAddr, DecodeError> {
    let ip: IpAddr = if v6 {
        Ipv6Addr::from(r.ipv6(what)?).into()
    } else {
        Ipv4Addr::from(r.ipv4(what)?).into()
    };
    let port = r.i32(what)?;
    // Java's InetSocketAddress refuses ports outside 0..=65535.
    let port = u16::try_from(port).map_err(|_| DecodeError::InvalidField {
        field: what,
        expected: "port 0..=65535",
    })?;
    Ok(SocketAddr::new(ip, port))
}

/// CRC-32 (IEEE, as `java.util.zip.CRC32`) of `body`, masked with `0x7FFFFFFF` as the
/// broker stores it in BODYCRC.
pub fn body_crc(body: &[u8]) -> i32 {
    #[cfg(feature = "std")]
    let crc = crc32fast::hash(body);
    #[cfg(not(feature = "std"))]
    let crc = {
        const IEEE: crc::Crc<u32, crc::Table<1>> =
            crc::Crc::<u32, crc::Table<1>>::new(&crc::CRC_32_ISO_HDLC);
        IEEE.checksum(body)
    };
    (crc & 0x7FFF_FFFF) as i32
}

impl<'a> MessageRecord<'a> {
    /// Decode the record at the start of `bytes`; returns it and its TOTALSIZE.
    /// `base` is the offset of `bytes` in the enclosing body, for error reports.
    pub fn decode(bytes: &'a [u8], base: usize) -> Result<(Self, usize), DecodeError> {
        let mut head = Reader::new(bytes, base);
        let total = head.i32("message TOTALSIZE")?;
        let bad_total = DecodeError::InvalidLength {
            what: "message TOTALSIZE",
            length: total.into(),
        };
        let total = usize::try_from(total).map_err(|_| bad_total)?;
        if total < MIN_RECORD_LEN || total > bytes.len() {
            return Err(bad_total);
        }
        let record = bytes.get(..total).ok_or(bad_total)?;
        let mut r = Reader::new(record, base);
        r.i32("message TOTALSIZE")?;
        let version = match r.i32("message MAGICCODE")? {
            MAGIC_V1 => MessageVersion::V1,
            MAGIC_V2 => MessageVersion::V2,
            other => return Err(DecodeError::BadMagic(other)),
        };
        let body_crc = r.i32("message BODYCRC")?;
        let queue_id = r.i32("message QUEUEID")?;
        let flag = r.i32("message FLAG")?;
        let queue_offset = r.i64("message QUEUEOFFSET")?;
        let physical_offset = r.i64("message PHYSICALOFFSET")?;
        let sys_flag = MessageSysFlag(r.i32("message SYSFLAG")?);
        let born_timestamp = r.i64("message BORNTIMESTAMP")?;
        let born_host = host(&mut r, sys_flag.born_host_v6(), "message BORNHOST")?;
        let store_timestamp = r.i64("message STORETIMESTAMP")?;
        let store_host = host(&mut r, sys_flag.store_host_v6(), "message STOREHOST")?;
        let reconsume_times = r.i32("message RECONSUMETIMES")?;
        let prepared_transaction_offset = r.i64("message PREPAREDTRANSACTIONOFFSET")?;
        let body_len = r.len_i32("message BODYLENGTH")?;
        let body = r.take(body_len, "message BODY")?;
        let topic_len = match version {
            MessageVersion::V1 => {
                let b = r.u8("message TOPICLENGTH")? as i8;
                usize::try_from(b).map_err(|_| DecodeError::InvalidLength {
                    what: "message TOPICLENGTH",
                    length: b.into(),
                })?
            }
            MessageVersion::V2 => r.len_i16("message TOPICLENGTH")?,
        };
        let topic = r.utf8(topic_len, "message TOPIC")?;
        let props_len = r.len_i16("message PROPERTIESLENGTH")?;
        let props = r.utf8(props_len, "message PROPERTIES")?;
        if r.pos() != total {
            return Err(bad_total);
        }
        Ok((
            MessageRecord {
                version,
                body_crc,
                queue_id,
                flag,
                queue_offset,
                physical_offset,
                sys_flag,
                born_timestamp,
                born_host,
                store_timestamp,
                store_host,
                reconsume_times,
                prepared_transaction_offset,
                body,
                topic,
                properties: PropertiesView::new(props),
            },
            total,
        ))
    }

    /// Whether BODYCRC matches the body (Java's client does not check; brokers do).
    pub fn verify_body_crc(&self) -> bool {
        body_crc(self.body) == self.body_crc
    }

    /// The offset message id (from STOREHOST and PHYSICALOFFSET, §4.1).
    pub fn offset_msg_id(&self) -> OffsetMsgId {
        OffsetMsgId {
            store_host: self.store_host,
            commit_log_offset: self.physical_offset,
        }
    }

    /// The `UNIQ_KEY` property: Java's consumer-facing message id when present (else
    /// the [`offset_msg_id`](Self::offset_msg_id)).
    pub fn uniq_key(&self) -> Option<&'a str> {
        self.properties.uniq_key()
    }

    /// The `TAGS` property.
    pub fn tags(&self) -> Option<&'a str> {
        self.properties.tags()
    }

    /// TOTALSIZE of this record as [`encode`] writes it: the fixed part with its hosts,
    /// then body, topic and properties with their length fields.
    pub fn encoded_len(&self) -> usize {
        let host = |a: &SocketAddr| if a.is_ipv6() { 20 } else { 8 };
        68usize
            .saturating_add(host(&self.born_host))
            .saturating_add(host(&self.store_host))
            .saturating_add(4)
            .saturating_add(self.body.len())
            .saturating_add(self.version.topic_len_width())
            .saturating_add(self.topic.len())
            .saturating_add(2)
            .saturating_add(self.properties.as_str().len())
    }

    /// SYSFLAG with the IPv6 host bits set from the actual host addresses, as the
    /// broker writes it.
    pub fn normalized_sys_flag(&self) -> MessageSysFlag {
        let mut f = self
            .sys_flag
            .without(MessageSysFlag::BORNHOST_V6 | MessageSysFlag::STOREHOST_V6);
        if self.born_host.is_ipv6() {
            f = f.with(MessageSysFlag::BORNHOST_V6);
        }
        if self.store_host.is_ipv6() {
            f = f.with(MessageSysFlag::STOREHOST_V6);
        }
        f
    }

    /// The messages of an inner-batch record (SYSFLAG has both 0x80 and 0x40, §2.6):
    /// `None` for an ordinary record.
    pub fn inner_messages(&self) -> Option<InnerBatchIter<'a>> {
        if self.sys_flag.is_inner_batch_to_unwrap() {
            Some(InnerBatchIter {
                outer: *self,
                entries: decode_batch(self.body),
                index: 0,
            })
        } else {
            None
        }
    }

    /// The body, inflated if SYSFLAG says it is compressed (at most `limit` bytes).
    #[cfg(feature = "alloc")]
    pub fn decompressed_body(
        &self,
        limit: usize,
    ) -> Result<alloc::borrow::Cow<'a, [u8]>, DecodeError> {
        if self.sys_flag.is_compressed() {
            super::compression::decompress(self.sys_flag, self.body, limit)
                .map(alloc::borrow::Cow::Owned)
        } else {
            Ok(alloc::borrow::Cow::Borrowed(self.body))
        }
    }
}

/// Iterator over the stored records of a response body, back to back. Yields each
/// record or the first error, then stops.
#[derive(Debug, Clone)]
pub struct RecordIter<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> RecordIter<'a> {
    /// Iterate the records in `body`.
    pub fn new(body: &'a [u8]) -> Self {
        RecordIter {
            rest: body,
            offset: 0,
        }
    }

    /// Byte offset of the next record in the body.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<MessageRecord<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match MessageRecord::decode(self.rest, self.offset) {
            Ok((rec, n)) => {
                self.rest = self.rest.get(n..).unwrap_or_default();
                self.offset = self.offset.saturating_add(n);
                Some(Ok(rec))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// The messages of an inner-batch record: entry `i` gets QUEUEOFFSET = outer + `i`, its
/// own FLAG, BODY and PROPERTIES, everything else from the outer record. BODYCRC is the
/// CRC of the inner body.
#[derive(Debug, Clone)]
pub struct InnerBatchIter<'a> {
    outer: MessageRecord<'a>,
    entries: BatchIter<'a>,
    index: i64,
}

impl<'a> Iterator for InnerBatchIter<'a> {
    type Item = Result<MessageRecord<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = match self.entries.next()? {
            Ok(e) => e,
            Err(e) => return Some(Err(e)),
        };
        let rec = MessageRecord {
            queue_offset: self.outer.queue_offset.wrapping_add(self.index),
            flag: entry.flag,
            body: entry.body,
            body_crc: body_crc(entry.body),
            properties: entry.properties,
            ..self.outer
        };
        self.index = self.index.wrapping_add(1);
        Some(Ok(rec))
    }
}

/// Write `record` as a stored record; returns TOTALSIZE.
///
/// TOTALSIZE and the IPv6 host bits of SYSFLAG are computed (see
/// [`MessageRecord::normalized_sys_flag`]); BODYCRC is written as given (use
/// [`body_crc`]). Errors: a topic longer than the version allows (127 bytes for V1),
/// properties over 32 767 bytes, or a record over `i32::MAX`. Nothing is written on error.
pub fn encode(out: &mut impl Out, record: &MessageRecord<'_>) -> Result<usize, EncodeError> {
    let topic_max = match record.version {
        MessageVersion::V1 => i8::MAX as usize,
        MessageVersion::V2 => i16::MAX as usize,
    };
    if record.topic.len() > topic_max {
        return Err(EncodeError::ValueOutOfRange {
            field: "message topic",
        });
    }
    let props = record.properties.as_str().as_bytes();
    if props.len() > MAX_PROPERTIES_LEN {
        return Err(EncodeError::ValueOutOfRange {
            field: "message properties",
        });
    }
    let total = record.encoded_len();
    if total > i32::MAX as usize {
        return Err(EncodeError::ValueOutOfRange {
            field: "message TOTALSIZE",
        });
    }
    out.put_i32(total as i32);
    out.put_i32(record.version.magic());
    out.put_i32(record.body_crc);
    out.put_i32(record.queue_id);
    out.put_i32(record.flag);
    out.put_i64(record.queue_offset);
    out.put_i64(record.physical_offset);
    out.put_i32(record.normalized_sys_flag().0);
    out.put_i64(record.born_timestamp);
    put_host(out, &record.born_host);
    out.put_i64(record.store_timestamp);
    put_host(out, &record.store_host);
    out.put_i32(record.reconsume_times);
    out.put_i64(record.prepared_transaction_offset);
    out.put_i32(record.body.len() as i32);
    out.put(record.body);
    match record.version {
        MessageVersion::V1 => out.put_u8(record.topic.len() as u8),
        MessageVersion::V2 => out.put_i16(record.topic.len() as i16),
    }
    out.put(record.topic.as_bytes());
    out.put_i16(props.len() as i16);
    out.put(props);
    Ok(total)
}

fn put_host(out: &mut impl Out, a: &SocketAddr) {
    match a.ip() {
        IpAddr::V4(ip) => out.put(&ip.octets()),
        IpAddr::V6(ip) => out.put(&ip.octets()),
    }
    out.put_i32(i32::from(a.port()));
}

/// [`encode`] into a caller's slice; `BufferTooSmall { needed }` if it does not fit.
pub fn encode_to_slice(buf: &mut [u8], record: &MessageRecord<'_>) -> Result<usize, EncodeError> {
    let mut o = SliceOut::new(buf);
    encode(&mut o, record)?;
    o.finish()
}
