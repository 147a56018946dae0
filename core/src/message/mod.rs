//! Messages (messages.md): properties, stored records, ids, tags, compression, batches.
//!
//! * [`properties`]: the `name\x01value\x02` properties string and its well-known
//!   [`keys`].
//! * [`record`]: stored-message records as returned by pulls ([`RecordIter`],
//!   [`MessageRecord`]).
//! * [`sysflag`]: the message `sysFlag` bits.
//! * [`compression`]: body (de)compression.
//! * [`batch`]: the SEND_BATCH_MESSAGE body.
//! * [`id`]: offset message ids and `UNIQ_KEY`s.
//! * [`tag`]: tag hash codes and TAG subscription expressions.

pub mod batch;
pub mod compression;
pub mod id;
pub mod properties;
mod reader;
pub mod record;
pub mod sysflag;
pub mod tag;

pub use batch::{decode_batch, encode_batch, write_batch, BatchEntry, BatchIter};
#[cfg(feature = "alloc")]
pub use compression::{compress_zlib, decompress, decompress_with};
pub use compression::{should_compress, COMPRESS_OVER_BYTES, DEFAULT_ZLIB_LEVEL};
pub use id::{ms_since_month_start, HexId, MonthClock, OffsetMsgId, UniqKey, UniqKeyGenerator};
#[cfg(feature = "alloc")]
pub use properties::PropertyMap;
pub use properties::{
    keys, properties_len, write_properties, write_properties_json, JsonProperties, Properties,
    PropertiesIter, PropertiesView,
};
pub use record::{body_crc, InnerBatchIter, MessageRecord, MessageVersion, RecordIter};
pub use sysflag::{CompressionType, MessageSysFlag, TransactionType};
pub use tag::{parse_tag_expression, tag_hash, Tag, TagExpression, TagIter};
