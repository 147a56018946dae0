//! Message `sysFlag` bits (messages.md §2.3): compression, transaction type, IPv6 hosts,
//! inner batches.

use core::fmt;

/// The `sysFlag` of a message (send header `f`/`sysFlag`, stored record SYSFLAG).
///
/// ```
/// use rocketmq_proto::message::{CompressionType, MessageSysFlag, TransactionType};
/// let f = MessageSysFlag(0x301);
/// assert!(f.is_compressed());
/// assert_eq!(f.compression_type(), Ok(CompressionType::Zlib));
/// assert_eq!(MessageSysFlag(0x4).transaction_type(), TransactionType::Prepared);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MessageSysFlag(pub i32);

impl MessageSysFlag {
    /// Bit 0: the body is compressed.
    pub const COMPRESSED: i32 = 0x1;
    /// Bit 1: topic filter type MULTI_TAG (legacy, set by the broker).
    pub const MULTI_TAGS: i32 = 0x2;
    /// Bits 2–3: transaction type (see [`TransactionType`]).
    pub const TRANSACTION_MASK: i32 = 0xC;
    /// Transaction type "not transactional / unknown".
    pub const TRANSACTION_NOT_TYPE: i32 = 0x0;
    /// Transaction type "half message".
    pub const TRANSACTION_PREPARED_TYPE: i32 = 0x4;
    /// Transaction type "committed".
    pub const TRANSACTION_COMMIT_TYPE: i32 = 0x8;
    /// Transaction type "rolled back".
    pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0xC;
    /// Bit 4: BORNHOST is IPv6 (20 bytes in a stored record).
    pub const BORNHOST_V6: i32 = 0x10;
    /// Bit 5: STOREHOST is IPv6.
    pub const STOREHOST_V6: i32 = 0x20;
    /// Bit 6: the inner batch must be unwrapped.
    pub const NEED_UNWRAP: i32 = 0x40;
    /// Bit 7: the record is an inner batch.
    pub const INNER_BATCH: i32 = 0x80;
    /// Bits 8–10: compression algorithm (see [`CompressionType`]).
    pub const COMPRESSION_TYPE_MASK: i32 = 0x700;

    /// Whether every bit of `bits` is set.
    #[inline]
    pub const fn contains(self, bits: i32) -> bool {
        self.0 & bits == bits
    }

    /// With `bits` set.
    #[inline]
    #[must_use]
    pub const fn with(self, bits: i32) -> Self {
        MessageSysFlag(self.0 | bits)
    }

    /// With `bits` cleared.
    #[inline]
    #[must_use]
    pub const fn without(self, bits: i32) -> Self {
        MessageSysFlag(self.0 & !bits)
    }

    /// Bit 0x1.
    #[inline]
    pub const fn is_compressed(self) -> bool {
        self.contains(Self::COMPRESSED)
    }

    /// Bit 0x10.
    #[inline]
    pub const fn born_host_v6(self) -> bool {
        self.contains(Self::BORNHOST_V6)
    }

    /// Bit 0x20.
    #[inline]
    pub const fn store_host_v6(self) -> bool {
        self.contains(Self::STOREHOST_V6)
    }

    /// Bits 0x40 and 0x80 together: the body is a §3 batch to unwrap (messages.md §2.6).
    #[inline]
    pub const fn is_inner_batch_to_unwrap(self) -> bool {
        self.contains(Self::INNER_BATCH | Self::NEED_UNWRAP)
    }

    /// The transaction type (bits 2–3).
    #[inline]
    pub const fn transaction_type(self) -> TransactionType {
        match self.0 & Self::TRANSACTION_MASK {
            Self::TRANSACTION_PREPARED_TYPE => TransactionType::Prepared,
            Self::TRANSACTION_COMMIT_TYPE => TransactionType::Commit,
            Self::TRANSACTION_ROLLBACK_TYPE => TransactionType::Rollback,
            _ => TransactionType::NotType,
        }
    }

    /// With the transaction bits replaced by `t`.
    #[inline]
    #[must_use]
    pub const fn with_transaction_type(self, t: TransactionType) -> Self {
        MessageSysFlag((self.0 & !Self::TRANSACTION_MASK) | t.value())
    }

    /// The raw compression-type field, `(sysFlag & 0x700) >> 8`.
    #[inline]
    pub const fn compression_type_value(self) -> u8 {
        ((self.0 & Self::COMPRESSION_TYPE_MASK) >> 8) as u8
    }

    /// The compression algorithm named by bits 8–10 (meaningful when
    /// [`is_compressed`](Self::is_compressed)); `Err(value)` for values 4–7.
    pub const fn compression_type(self) -> Result<CompressionType, u8> {
        match self.compression_type_value() {
            // 0: pre-5.x producers set only bit 0 and always used zlib.
            0 | 3 => Ok(CompressionType::Zlib),
            1 => Ok(CompressionType::Lz4),
            2 => Ok(CompressionType::Zstd),
            other => Err(other),
        }
    }

    /// Marked compressed with `t` (bit 0 plus bits 8–10), as a 5.x Java producer does:
    /// zlib gives `0x301`.
    #[inline]
    #[must_use]
    pub const fn with_compression(self, t: CompressionType) -> Self {
        MessageSysFlag(
            (self.0 & !Self::COMPRESSION_TYPE_MASK) | Self::COMPRESSED | ((t.value() as i32) << 8),
        )
    }
}

impl fmt::Debug for MessageSysFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageSysFlag({:#x})", self.0)
    }
}

impl From<i32> for MessageSysFlag {
    fn from(v: i32) -> Self {
        MessageSysFlag(v)
    }
}

/// Transaction type carried in `sysFlag` bits 2–3 and END_TRANSACTION `commitOrRollback`
/// (messages.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionType {
    /// 0: not transactional, or state unknown (the broker will check later).
    NotType,
    /// 4: half message.
    Prepared,
    /// 8: commit.
    Commit,
    /// 12: rollback.
    Rollback,
}

impl TransactionType {
    /// The wire value (0, 4, 8, 12).
    pub const fn value(self) -> i32 {
        match self {
            TransactionType::NotType => MessageSysFlag::TRANSACTION_NOT_TYPE,
            TransactionType::Prepared => MessageSysFlag::TRANSACTION_PREPARED_TYPE,
            TransactionType::Commit => MessageSysFlag::TRANSACTION_COMMIT_TYPE,
            TransactionType::Rollback => MessageSysFlag::TRANSACTION_ROLLBACK_TYPE,
        }
    }
}

/// A body compression algorithm (messages.md §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompressionType {
    /// zlib container (RFC 1950), Java `Deflater`. The Java default.
    Zlib,
    /// LZ4 frame format.
    Lz4,
    /// Zstandard frame.
    Zstd,
}

impl CompressionType {
    /// The value of `sysFlag` bits 8–10 a 5.x producer writes (LZ4 1, ZSTD 2, ZLIB 3).
    pub const fn value(self) -> u8 {
        match self {
            CompressionType::Lz4 => 1,
            CompressionType::Zstd => 2,
            CompressionType::Zlib => 3,
        }
    }
}
