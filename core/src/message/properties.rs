//! The message properties string (messages.md §1): `name 0x01 value 0x02` pairs.
//!
//! * [`PropertiesView`] parses a received string without copying, with Java's exact rules
//!   (`MessageDecoder.string2messageProperties`).
//! * [`write_properties`] / [`properties_len`] encode pairs to any [`Out`], refusing
//!   separators inside names or values and strings over 32 767 bytes.
//! * [`Properties`] builds a properties string in a caller's buffer (no allocator);
//!   with `alloc`, [`PropertyMap`] is an owned, ordered map.
//! * [`write_properties_json`] / [`JsonProperties`] write the same string already
//!   escaped for a JSON header, which the header then copies as it is (a producer whose
//!   requests are JSON keeps its sends' properties this way).
//!
//! Inside a JSON header the properties value (`properties` / `i`) arrives as a
//! [`Text`] holding `\u0001` / `\u0002` escapes. Decode it first:
//! [`PropertiesView::from_text`] decodes into a caller's scratch buffer (borrowing
//! directly when there is nothing to decode, as in binary headers), and
//! [`PropertyMap::from_text`] decodes into owned strings.
//!
//! ```
//! use rocketmq_proto::message::{keys, Properties, PropertiesView};
//! let mut buf = [0u8; 64];
//! let mut p = Properties::new(&mut buf);
//! p.put(keys::TAGS, "TagA").unwrap().put(keys::WAIT, "true").unwrap();
//! assert_eq!(p.as_str(), "TAGS\u{1}TagA\u{2}WAIT\u{1}true\u{2}");
//!
//! let v = PropertiesView::new("K\u{1}v1\u{2}K\u{1}v2\u{2}");
//! assert_eq!(v.get("K"), Some("v2")); // last wins, like Java
//! ```

use crate::error::{DecodeError, EncodeError};
use crate::out::Out;
use crate::text::Text;

/// Separates a name from its value (char 1).
pub const NAME_VALUE_SEPARATOR: u8 = 0x01;
/// Terminates every pair (char 2).
pub const PROPERTY_SEPARATOR: u8 = 0x02;
/// The broker stores the properties with an i16 length.
pub const MAX_PROPERTIES_LEN: usize = i16::MAX as usize;
/// Separator between several business keys in the `KEYS` property.
pub const KEY_SEPARATOR: &str = " ";
// `PropertiesView::keys` splits on it as the char ' '.
const _: () = assert!(matches!(KEY_SEPARATOR.as_bytes(), [b' ']));

/// Well-known property names (messages.md §1.2), exactly as on the wire.
pub mod keys {
    /// Business keys, joined by a single space.
    pub const KEYS: &str = "KEYS";
    /// The message tag.
    pub const TAGS: &str = "TAGS";
    /// `"true"`/`"false"` = waitStoreMsgOK.
    pub const WAIT: &str = "WAIT";
    /// Delay level `1`…`18`.
    pub const DELAY: &str = "DELAY";
    /// Original topic of a message in a `%RETRY%` topic.
    pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
    /// Original topic while parked in schedule/half/timer topics.
    pub const REAL_TOPIC: &str = "REAL_TOPIC";
    /// Original queue id, companion of `REAL_TOPIC`.
    pub const REAL_QID: &str = "REAL_QID";
    /// `"true"` marks a transaction half message.
    pub const TRAN_MSG: &str = "TRAN_MSG";
    /// Producer group of a half message.
    pub const PGROUP: &str = "PGROUP";
    /// Queue min offset copied from the pull response (local only).
    pub const MIN_OFFSET: &str = "MIN_OFFSET";
    /// Queue max offset copied from the pull response (local only).
    pub const MAX_OFFSET: &str = "MAX_OFFSET";
    /// Legacy (Alibaba).
    pub const BUYER_ID: &str = "BUYER_ID";
    /// Id of the first incarnation of a retried message.
    pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
    /// Legacy/internal.
    pub const TRANSFER_FLAG: &str = "TRANSFER_FLAG";
    /// Legacy/internal.
    pub const CORRECTION_FLAG: &str = "CORRECTION_FLAG";
    /// Legacy/internal.
    pub const MQ2_FLAG: &str = "MQ2_FLAG";
    /// Reconsume count of a client-side resend to `%RETRY%`.
    pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
    /// Region id.
    pub const MSG_REGION: &str = "MSG_REGION";
    /// Trace switch.
    pub const TRACE_ON: &str = "TRACE_ON";
    /// Client-generated unique message id (messages.md §4.2).
    pub const UNIQ_KEY: &str = "UNIQ_KEY";
    /// Extension of `UNIQ_KEY` (internal).
    pub const EXTEND_UNIQ_INFO: &str = "EXTEND_UNIQ_INFO";
    /// Max retries of a client-side resend to `%RETRY%`.
    pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
    /// When consumption started (local).
    pub const CONSUME_START_TIME: &str = "CONSUME_START_TIME";
    /// Number of inner messages of an inner batch.
    pub const INNER_NUM: &str = "INNER_NUM";
    /// Base queue offset of an inner batch.
    pub const INNER_BASE: &str = "INNER_BASE";
    /// Internal.
    pub const DUP_INFO: &str = "DUP_INFO";
    /// Seconds before the broker's first transaction check.
    pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
    /// Half-message queue offset.
    pub const TRAN_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
    /// `UNIQ_KEY` copied onto half messages by the broker.
    pub const TRANSACTION_ID: &str = "__transactionId__";
    /// How many times the broker has checked a half message.
    pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
    /// Namespace / instance id.
    pub const INSTANCE_ID: &str = "INSTANCE_ID";
    /// Request-reply correlation id.
    pub const CORRELATION_ID: &str = "CORRELATION_ID";
    /// clientId that must receive the reply.
    pub const REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
    /// Request-reply time-to-live (ms).
    pub const TTL: &str = "TTL";
    /// Reply arrival time (local).
    pub const ARRIVE_TIME: &str = "ARRIVE_TIME";
    /// Reply push time.
    pub const PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
    /// Cluster of the storing broker.
    pub const CLUSTER: &str = "CLUSTER";
    /// `reply` for reply messages.
    pub const MSG_TYPE: &str = "MSG_TYPE";
    /// POP receipt.
    pub const POP_CK: &str = "POP_CK";
    /// POP internal.
    pub const POP_CK_OFFSET: &str = "POP_CK_OFFSET";
    /// First pop time.
    pub const FIRST_POP_TIME: &str = "1ST_POP_TIME";
    /// FIFO / sharding key (5.x).
    pub const SHARDING_KEY: &str = "__SHARDINGKEY";
    /// Internal (the key is literally this string).
    pub const FORWARD_QUEUE_ID: &str = "PROPERTY_FORWARD_QUEUE_ID";
    /// Internal.
    pub const REDIRECT: &str = "REDIRECT";
    /// LMQ: comma-separated dispatch queues.
    pub const INNER_MULTI_DISPATCH: &str = "INNER_MULTI_DISPATCH";
    /// LMQ: comma-separated offsets.
    pub const INNER_MULTI_QUEUE_OFFSET: &str = "INNER_MULTI_QUEUE_OFFSET";
    /// Trace internal.
    pub const TRACE_CONTEXT: &str = "TRACE_CONTEXT";
    /// 5.x timer message: deliver after N seconds.
    pub const TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
    /// 5.x timer message: deliver after N ms.
    pub const TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
    /// 5.x timer message: deliver at an absolute ms timestamp.
    pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
    /// Timer-wheel internal.
    pub const TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
    /// Timer-wheel internal.
    pub const TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
    /// Timer-wheel internal.
    pub const TIMER_ROLL_TIMES: &str = "TIMER_ROLL_TIMES";
    /// Computed delivery time of a timer message.
    pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
    /// Timer-wheel internal.
    pub const TIMER_DEL_UNIQKEY: &str = "TIMER_DEL_UNIQKEY";
    /// Timer-wheel internal.
    pub const TIMER_DELAY_LEVEL: &str = "TIMER_DELAY_LEVEL";
    /// Born host override (proxy).
    pub const BORN_HOST: &str = "__BORNHOST";
    /// Born timestamp override (proxy).
    pub const BORN_TIMESTAMP: &str = "BORN_TIMESTAMP";
    /// Prefix of transient properties (never stored).
    pub const TRANSIENT_PREFIX: &str = "__RMQ.TRANSIENT.";
    /// Optional stored CRC of the record (10 digits, least significant first).
    pub const CRC32: &str = "__CRC32#";
    /// Set on DLQ messages (5.x).
    pub const DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
    /// Set on DLQ messages (5.x).
    pub const DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";
    /// Alibaba-cloud style absolute delivery time (Apache brokers do not delay on it).
    pub const START_DELIVER_TIME: &str = "__STARTDELIVERTIME";

    /// Names the Java API refuses as user properties (`MessageConst.STRING_HASH_SET`).
    pub const RESERVED: &[&str] = &[
        KEYS,
        TAGS,
        WAIT,
        DELAY,
        RETRY_TOPIC,
        REAL_TOPIC,
        REAL_QID,
        TRAN_MSG,
        PGROUP,
        MIN_OFFSET,
        MAX_OFFSET,
        BUYER_ID,
        ORIGIN_MESSAGE_ID,
        TRANSFER_FLAG,
        CORRECTION_FLAG,
        MQ2_FLAG,
        RECONSUME_TIME,
        MSG_REGION,
        TRACE_ON,
        UNIQ_KEY,
        EXTEND_UNIQ_INFO,
        MAX_RECONSUME_TIMES,
        CONSUME_START_TIME,
        DUP_INFO,
        TRAN_PREPARED_QUEUE_OFFSET,
        INSTANCE_ID,
        CORRELATION_ID,
        REPLY_TO_CLIENT,
        TTL,
        ARRIVE_TIME,
        PUSH_REPLY_TIME,
        CLUSTER,
        MSG_TYPE,
        POP_CK,
        POP_CK_OFFSET,
        FIRST_POP_TIME,
        INNER_MULTI_QUEUE_OFFSET,
        TIMER_DELAY_SEC,
        TIMER_DELAY_MS,
        TIMER_DELIVER_MS,
        TIMER_ENQUEUE_MS,
        TIMER_DEQUEUE_MS,
        TIMER_ROLL_TIMES,
        TIMER_OUT_MS,
        TIMER_DEL_UNIQKEY,
        TIMER_DELAY_LEVEL,
        BORN_HOST,
        BORN_TIMESTAMP,
        CRC32,
        DLQ_ORIGIN_TOPIC,
        DLQ_ORIGIN_MESSAGE_ID,
    ];

    /// Whether the Java API reserves `name` (users may not set it as a user property).
    pub fn is_reserved(name: &str) -> bool {
        RESERVED.contains(&name)
    }
}

/// A received properties string, parsed lazily and without copying.
///
/// Iteration yields the pairs Java would accept, in wire order (duplicates included);
/// [`get`](Self::get) returns the *last* value of a name, as Java's map keeps it.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct PropertiesView<'a> {
    raw: &'a str,
}

impl<'a> PropertiesView<'a> {
    /// A view over a decoded properties string.
    pub const fn new(raw: &'a str) -> Self {
        PropertiesView { raw }
    }

    /// A view over a properties value from a header (`properties` / `i`), which in a JSON
    /// header carries `\u0001`/`\u0002` escapes. Borrows from the header when nothing
    /// needs decoding (binary headers); otherwise decodes into `scratch`
    /// ([`DecodeError::CapacityExceeded`] if it is too small; [`MAX_PROPERTIES_LEN`]
    /// bytes always suffice for a valid message).
    ///
    /// ```
    /// use rocketmq_proto::message::PropertiesView;
    /// use rocketmq_proto::text::Text;
    /// # let doc = r#"{"i":"WAIT\u0001true\u0002"}"#;
    /// # let _ = doc;
    /// let text = Text::from("WAIT\u{1}true\u{2}");
    /// let mut scratch = [0u8; 64];
    /// let p = PropertiesView::from_text(&text, &mut scratch).unwrap();
    /// assert_eq!(p.get("WAIT"), Some("true"));
    /// ```
    pub fn from_text<'b>(
        text: &Text<'a>,
        scratch: &'b mut [u8],
    ) -> Result<PropertiesView<'b>, DecodeError>
    where
        'a: 'b,
    {
        text.decode_into(scratch).map(PropertiesView::new)
    }

    /// The whole string as received.
    pub const fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Whether the string is empty (it may still hold no valid pair when non-empty).
    pub const fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The accepted pairs in wire order.
    pub fn iter(&self) -> PropertiesIter<'a> {
        PropertiesIter { rest: self.raw }
    }

    /// The last value of `name`.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.iter()
            .filter(|(k, _)| *k == name)
            .last()
            .map(|(_, v)| v)
    }

    /// Number of distinct names (what Java's map would hold). Without an allocator this
    /// compares every pair with the later ones: quadratic in the number of pairs (a
    /// stored message's properties are at most 32 767 bytes); [`PropertyMap::parse`]
    /// scales to longer strings.
    pub fn len(&self) -> usize {
        let mut n = 0;
        for (i, (k, _)) in self.iter().enumerate() {
            // Count a name at its last occurrence only.
            if !self.iter().skip(i + 1).any(|(k2, _)| k2 == k) {
                n += 1;
            }
        }
        n
    }

    /// `TAGS`.
    pub fn tags(&self) -> Option<&'a str> {
        self.get(keys::TAGS)
    }

    /// `KEYS`, split on the single-space separator (empty parts skipped).
    pub fn keys(&self) -> impl Iterator<Item = &'a str> {
        // KEY_SEPARATOR as a char (checked below): the same split, without a substring
        // searcher.
        self.get(keys::KEYS)
            .unwrap_or("")
            .split(' ')
            .filter(|k| !k.is_empty())
    }

    /// `UNIQ_KEY`.
    pub fn uniq_key(&self) -> Option<&'a str> {
        self.get(keys::UNIQ_KEY)
    }
}

impl core::fmt::Debug for PropertiesView<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for PropertiesView<'a> {
    type Item = (&'a str, &'a str);
    type IntoIter = PropertiesIter<'a>;
    fn into_iter(self) -> PropertiesIter<'a> {
        self.iter()
    }
}

/// Iterator over the pairs of a [`PropertiesView`].
#[derive(Debug, Clone)]
pub struct PropertiesIter<'a> {
    rest: &'a str,
}

impl<'a> Iterator for PropertiesIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.rest.is_empty() {
            // A trailing segment without 0x02 is still accepted.
            let (segment, rest) = match self.rest.split_once(PROPERTY_SEPARATOR as char) {
                Some(parts) => parts,
                None => (self.rest, ""),
            };
            self.rest = rest;
            // Java also drops segments shorter than 3 chars; a non-empty key, the
            // separator and a non-empty value already need 3.
            if let Some((k, v)) = segment.split_once(NAME_VALUE_SEPARATOR as char) {
                if !k.is_empty() && !v.is_empty() {
                    return Some((k, v));
                }
            }
        }
        None
    }
}

/// Non-zero when a byte of `w` is below 3 (0x00 as well as the separators): the word
/// test of the separator checks, which then look at a flagged string byte by byte.
#[inline(always)]
const fn below3(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    w.wrapping_sub(ONES * 3) & !w & HIGH
}

/// Whether `bytes` hold 0x01 or 0x02, byte by byte.
fn has_separator_exact(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .any(|&b| b == NAME_VALUE_SEPARATOR || b == PROPERTY_SEPARATOR)
}

/// Whether `bytes` hold 0x01 or 0x02. Eight bytes at a time: lanes below 3 are
/// flagged (0x00 too, then sorted out exactly), as names and values are short and
/// clean on the send path.
#[inline]
fn has_separator(bytes: &[u8]) -> bool {
    let exact = has_separator_exact;
    let flagged = |c: &[u8; 8]| below3(u64::from_le_bytes(*c)) != 0 && exact(c);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        if chunk.first_chunk::<8>().is_some_and(flagged) {
            return true;
        }
    }
    if chunks.remainder().is_empty() {
        return false;
    }
    // The last eight bytes (overlapping bytes already checked); a shorter string (most
    // property names, many values) as two overlapping four-byte words (speed builds);
    // else byte by byte.
    if let Some(last) = bytes.last_chunk::<8>() {
        return flagged(last);
    }
    #[cfg(not(rmq_size_opt))]
    {
        let flagged4 = |c: &[u8; 4]| {
            let w = u32::from_le_bytes(*c);
            w.wrapping_sub(0x0303_0303) & !w & 0x8080_8080 != 0 && exact(c)
        };
        if let (Some(first), Some(last)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
            return flagged4(first) || flagged4(last);
        }
    }
    exact(bytes)
}

/// `name`, 0x01, `value`, 0x02 into `c`, after (size builds) or while (speed builds)
/// checking the pair as [`check_pair`] does, with the same errors. On error `c` may hold
/// some of the pair.
#[cfg_attr(not(rmq_size_opt), inline(always))]
fn put_pair(c: &mut crate::out::Cursor<'_>, name: &str, value: &str) -> Result<(), EncodeError> {
    #[cfg(rmq_size_opt)]
    check_pair(name, value)?;
    // Speed builds: the separator check rides on the copy (one pass over each string, not
    // a scan and then a copy); lanes below 3 include 0x00, sorted out exactly.
    #[cfg(not(rmq_size_opt))]
    put_pair_flagged(
        c,
        (name, value),
        below3,
        (&[NAME_VALUE_SEPARATOR], &[PROPERTY_SEPARATOR], 1),
    )?;
    #[cfg(rmq_size_opt)]
    {
        c.put(name.as_bytes());
        c.put(&[NAME_VALUE_SEPARATOR]);
        c.put(value.as_bytes());
        c.put(&[PROPERTY_SEPARATOR]);
    }
    Ok(())
}

fn check_pair(name: &str, value: &str) -> Result<(), EncodeError> {
    pair_verdict(
        name,
        value,
        || has_separator(name.as_bytes()),
        || has_separator(value.as_bytes()),
    )
}

/// A pair's errors, the name's first: an empty name or value (every receiver would drop
/// it) or one holding a separator (`name_bad` / `value_bad`, asked only when needed).
#[inline(always)]
fn pair_verdict(
    name: &str,
    value: &str,
    name_bad: impl FnOnce() -> bool,
    value_bad: impl FnOnce() -> bool,
) -> Result<(), EncodeError> {
    if name.is_empty() || name_bad() {
        return Err(EncodeError::InvalidValue {
            field: "property name",
        });
    }
    if value.is_empty() || value_bad() {
        return Err(EncodeError::InvalidValue {
            field: "property value",
        });
    }
    Ok(())
}

/// Validate `pairs` and return the length of their encoding.
///
/// Errors: [`EncodeError::InvalidValue`] for an empty name or value or one containing
/// 0x01/0x02; [`EncodeError::ValueOutOfRange`] when the total exceeds
/// [`MAX_PROPERTIES_LEN`].
pub fn properties_len<'p, I>(pairs: I) -> Result<usize, EncodeError>
where
    I: IntoIterator<Item = (&'p str, &'p str)>,
{
    let mut n = 0usize;
    for (k, v) in pairs {
        check_pair(k, v)?;
        n = n.saturating_add(k.len() + v.len() + 2);
    }
    if n > MAX_PROPERTIES_LEN {
        return Err(EncodeError::ValueOutOfRange {
            field: "message properties",
        });
    }
    Ok(n)
}

/// Encode `pairs` as `name\x01value\x02…` to `out`, after validating all of them (nothing
/// is written on error). Returns the bytes written.
///
/// ```
/// use rocketmq_proto::message::write_properties;
/// use rocketmq_proto::out::SliceOut;
/// let mut buf = [0u8; 16];
/// let mut out = SliceOut::new(&mut buf);
/// write_properties(&mut out, [("WAIT", "true")]).unwrap();
/// assert_eq!(&buf[..10], b"WAIT\x01true\x02");
/// ```
pub fn write_properties<'p, I>(out: &mut impl Out, pairs: I) -> Result<usize, EncodeError>
where
    I: IntoIterator<Item = (&'p str, &'p str)>,
    I::IntoIter: Clone,
{
    write_in(out, pairs, Form::Raw)
}

/// The two forms of a properties string a sender writes, and keeps: speed builds whose
/// requests are JSON keep a send's string JSON-escaped, so each attempt's header copies
/// it instead of escaping it again (a quarter of encoding a JSON send). Size builds keep
/// the one form, for flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// The string itself (binary headers, batches, size builds).
    Raw,
    /// As it sits inside a JSON string ([`write_properties_json`]).
    Json,
}

impl Form {
    /// The form a send's properties are kept in, for requests in `ser`.
    pub(crate) fn for_requests(ser: crate::codes::SerializeType) -> Self {
        if cfg!(not(rmq_size_opt)) && ser == crate::codes::SerializeType::Json {
            Form::Json
        } else {
            Form::Raw
        }
    }

    /// The properties as a send header carries them.
    pub(crate) fn text(self, props: &str) -> Text<'_> {
        match self {
            Form::Json if cfg!(not(rmq_size_opt)) => Text::json(props, !props.is_empty()),
            _ => Text::new(props),
        }
    }

    /// The bytes `name`, `value` take.
    fn pair_len(self, name: &str, value: &str) -> usize {
        match self {
            Form::Raw => name.len().saturating_add(value.len()).saturating_add(2),
            Form::Json => json_pair_len(name, value),
        }
    }

    /// [`pair_len`](Self::pair_len) if nothing in the pair is escaped.
    #[cfg(not(rmq_size_opt))]
    fn pair_len_unescaped(self, name: &str, value: &str) -> usize {
        let overhead = match self {
            Form::Raw => 2,
            Form::Json => JSON_PAIR_OVERHEAD,
        };
        name.len()
            .saturating_add(value.len())
            .saturating_add(overhead)
    }

    /// A checked pair to `out`.
    fn write_pair(self, out: &mut impl Out, name: &str, value: &str) {
        match self {
            Form::Raw => write_pair(out, name, value),
            Form::Json => write_pair_json(out, name, value),
        }
    }

    /// Speed builds: the pair into `c` (with room for it if nothing in it is escaped) in
    /// one checked pass; `Ok(false)` if it must be written the slow way.
    #[cfg(not(rmq_size_opt))]
    #[inline(always)]
    fn put_pair(
        self,
        c: &mut crate::out::Cursor<'_>,
        name: &str,
        value: &str,
    ) -> Result<bool, EncodeError> {
        match self {
            Form::Raw => put_pair(c, name, value).map(|()| true),
            Form::Json => put_pair_json(c, name, value),
        }
    }
}

/// [`write_properties`] / [`write_properties_json`].
#[cfg_attr(not(rmq_size_opt), inline(always))]
fn write_in<'p, I>(out: &mut impl Out, pairs: I, form: Form) -> Result<usize, EncodeError>
where
    I: IntoIterator<Item = (&'p str, &'p str)>,
    I::IntoIter: Clone,
{
    let it = pairs.into_iter();
    // Speed builds: the usual few short pairs are checked and assembled on the stack in
    // one pass, then put whole. Put piece by piece, a growable sink (a send's message
    // buffer) checked its capacity and called memcpy four times a pair: most of what the
    // properties cost. Longer strings, and JSON pairs with something to escape, take the
    // two passes below. (Size builds: flash.)
    #[cfg(not(rmq_size_opt))]
    {
        const STACK: usize = 512;
        let mut buf = [0u8; STACK];
        let mut c = crate::out::Cursor::new(&mut buf);
        let mut fits = true;
        for (k, v) in it.clone() {
            // A pair's length if nothing in it is escaped (JSON pairs with escapes are
            // longer, and refused by `put_pair` below).
            let end = c.at().saturating_add(form.pair_len_unescaped(k, v));
            // The two passes below check every pair again, this one included.
            if end > STACK || !form.put_pair(&mut c, k, v)? {
                fits = false;
                break;
            }
        }
        // Under STACK bytes: far under MAX_PROPERTIES_LEN.
        if fits {
            let n = c.at();
            out.put(buf.get(..n).unwrap_or_default());
            return Ok(n);
        }
    }
    properties_len(it.clone())?;
    let mut n = 0usize;
    for (k, v) in it {
        form.write_pair(out, k, v);
        n = n.saturating_add(form.pair_len(k, v));
    }
    Ok(n)
}

fn write_pair(out: &mut impl Out, k: &str, v: &str) {
    out.put(k.as_bytes());
    out.put_u8(NAME_VALUE_SEPARATOR);
    out.put(v.as_bytes());
    out.put_u8(PROPERTY_SEPARATOR);
}

/// The name/value separator as a JSON string writes it.
const NAME_VALUE_SEPARATOR_JSON: &[u8; 6] = b"\\u0001";
/// The pair separator as a JSON string writes it.
const PROPERTY_SEPARATOR_JSON: &[u8; 6] = b"\\u0002";
/// What a pair adds to a JSON-escaped properties string besides its name and value.
const JSON_PAIR_OVERHEAD: usize = NAME_VALUE_SEPARATOR_JSON.len() + PROPERTY_SEPARATOR_JSON.len();

/// The bytes `name`, `value` take in a JSON-escaped properties string.
fn json_pair_len(name: &str, value: &str) -> usize {
    crate::json::escaped_len(name.as_bytes())
        .saturating_add(crate::json::escaped_len(value.as_bytes()))
        .saturating_add(JSON_PAIR_OVERHEAD)
}

/// A checked pair, JSON-escaped, to `out` (any pair: the slow way).
fn write_pair_json(out: &mut impl Out, name: &str, value: &str) {
    crate::json::write_str_content(out, name);
    out.put(NAME_VALUE_SEPARATOR_JSON);
    crate::json::write_str_content(out, value);
    out.put(PROPERTY_SEPARATOR_JSON);
}

/// Speed builds: `name`, `\u0001`, `value`, `\u0002` into `c` (which has room for them)
/// in one pass over each string that both copies it and checks it, with [`put_pair`]'s
/// errors. `Ok(false)`: the pair holds a byte a JSON string escapes (`"`, `\`, a control
/// byte), so what `c` got is not its escaped form and the caller writes it the slow way.
#[cfg(not(rmq_size_opt))]
#[inline(always)]
fn put_pair_json(
    c: &mut crate::out::Cursor<'_>,
    name: &str,
    value: &str,
) -> Result<bool, EncodeError> {
    // The escapes as eight-byte stores where there is room (the next bytes overwrite the
    // two extra): two overlapping four-byte stores cost more.
    const NAME_VALUE: [u8; 8] = *b"\\u0001\0\0";
    const PAIR_END: [u8; 8] = *b"\\u0002\0\0";
    // Lanes JSON escapes include the separators (and 0x00): one word test for both
    // checks.
    let flags = put_pair_flagged(
        c,
        (name, value),
        |w| crate::json::special_lanes(w, true),
        (&NAME_VALUE, &PAIR_END, NAME_VALUE_SEPARATOR_JSON.len()),
    )?;
    Ok(flags == 0)
}

/// Speed builds: name, the first separator, value, the second (the first `len` bytes of
/// each) into `c`, each string copied and checked in one pass: `flag` marks the word
/// lanes to look at (`b'a'` pads short strings: it must flag no `a`), and a flagged
/// string is checked byte by byte for 0x01/0x02. [`check_pair`]'s errors; else the OR of
/// the flags. On error `c` may hold some of the pair.
#[cfg(not(rmq_size_opt))]
#[inline(always)]
fn put_pair_flagged<const N: usize>(
    c: &mut crate::out::Cursor<'_>,
    (name, value): (&str, &str),
    flag: impl Fn(u64) -> u64 + Copy,
    (name_value, pair_end, len): (&[u8; N], &[u8; N], usize),
) -> Result<u64, EncodeError> {
    let name_flag = c.put_scanned(name.as_bytes(), b'a', flag);
    c.put_prefix(name_value, len);
    let value_flag = c.put_scanned(value.as_bytes(), b'a', flag);
    c.put_prefix(pair_end, len);
    pair_verdict(
        name,
        value,
        || name_flag != 0 && has_separator_exact(name.as_bytes()),
        || value_flag != 0 && has_separator_exact(value.as_bytes()),
    )?;
    Ok(name_flag | value_flag)
}

/// Encode `pairs` as [`write_properties`] does, but in the form the string takes inside
/// a JSON header (`name\u0001value\u0002…`, and `"`, `\` and control bytes escaped as
/// fastjson writes them), after validating all of them (nothing is written on error).
/// Returns the bytes written. The limit of [`MAX_PROPERTIES_LEN`] applies to the
/// string itself, not to its escaped form.
///
/// A JSON send header carries such a string as it is ([`JsonProperties`] builds one in a
/// buffer), so encoding the header costs a copy of it, not a second pass to escape it.
///
/// ```
/// use rocketmq_proto::message::write_properties_json;
/// use rocketmq_proto::out::SliceOut;
/// let mut buf = [0u8; 32];
/// let mut out = SliceOut::new(&mut buf);
/// let n = write_properties_json(&mut out, [("WAIT", "true")]).unwrap();
/// assert_eq!(&buf[..n], br"WAIT\u0001true\u0002");
/// ```
pub fn write_properties_json<'p, I>(out: &mut impl Out, pairs: I) -> Result<usize, EncodeError>
where
    I: IntoIterator<Item = (&'p str, &'p str)>,
    I::IntoIter: Clone,
{
    write_in(out, pairs, Form::Json)
}

/// Builds a properties string already escaped for a JSON header, in a caller's buffer,
/// without an allocator: [`Properties`] for a send whose header is JSON. Its
/// [`as_text`](Self::as_text) goes into the header's `properties` as it is, so encoding
/// the header copies it instead of escaping it (a second pass over the string, a quarter
/// of a JSON send's encoding). The wire bytes are the same either way.
///
/// ```
/// use rocketmq_proto::message::{keys, JsonProperties, Properties};
/// let mut buf = [0u8; 64];
/// let mut p = JsonProperties::new(&mut buf);
/// p.put(keys::TAGS, "TagA").unwrap().put(keys::WAIT, "true").unwrap();
/// assert_eq!(p.as_text().raw(), r"TAGS\u0001TagA\u0002WAIT\u0001true\u0002");
/// // The string it stands for, as `Properties` builds it unescaped:
/// let mut raw = [0u8; 64];
/// let mut q = Properties::new(&mut raw);
/// q.put(keys::TAGS, "TagA").unwrap().put(keys::WAIT, "true").unwrap();
/// assert_eq!(p.raw_len(), q.len());
/// let mut scratch = [0u8; 64];
/// assert_eq!(p.as_text().decode_into(&mut scratch).unwrap(), q.as_str());
/// ```
#[derive(Debug)]
pub struct JsonProperties<'b> {
    buf: &'b mut [u8],
    /// Escaped bytes written.
    len: usize,
    /// The unescaped string's length (what [`MAX_PROPERTIES_LEN`] limits).
    raw_len: usize,
}

impl<'b> JsonProperties<'b> {
    /// An empty properties string written into `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        JsonProperties {
            buf,
            len: 0,
            raw_len: 0,
        }
    }

    /// Append one pair, with [`Properties::put`]'s errors (`needed` counts escaped
    /// bytes). The builder is unchanged on error.
    #[cfg_attr(not(rmq_size_opt), inline)]
    pub fn put(&mut self, name: &str, value: &str) -> Result<&mut Self, EncodeError> {
        let raw_end = self
            .raw_len
            .saturating_add(name.len())
            .saturating_add(value.len())
            .saturating_add(2);
        if raw_end > MAX_PROPERTIES_LEN {
            check_pair(name, value)?;
            return Err(EncodeError::ValueOutOfRange {
                field: "message properties",
            });
        }
        // Speed builds: one pass for the usual pair with nothing to escape (its escaped
        // length known without looking at it; a pair with something to escape is longer).
        #[cfg(not(rmq_size_opt))]
        {
            let clean_end = self
                .len
                .saturating_add(Form::Json.pair_len_unescaped(name, value));
            // The cursor gets the rest of the buffer, not just the pair's room: the
            // escapes' eight-byte stores may then reach past the pair.
            let rest = (clean_end <= self.buf.len())
                .then(|| self.buf.get_mut(self.len..))
                .flatten();
            if let Some(dst) = rest {
                // On `false` or an error the pair's bytes may be in `buf` past `len`.
                if put_pair_json(&mut crate::out::Cursor::new(dst), name, value)? {
                    self.len = clean_end;
                    self.raw_len = raw_end;
                    return Ok(self);
                }
            }
        }
        self.put_exactly(name, value, raw_end)?;
        Ok(self)
    }

    /// [`put`](Self::put) for any pair, its escaped length counted first (speed builds:
    /// only a pair with something to escape, or one that did not fit).
    #[cfg_attr(not(rmq_size_opt), cold, inline(never))]
    fn put_exactly(&mut self, name: &str, value: &str, raw_end: usize) -> Result<(), EncodeError> {
        check_pair(name, value)?;
        let end = self.len.saturating_add(json_pair_len(name, value));
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(EncodeError::BufferTooSmall { needed: end })?;
        write_pair_json(&mut crate::out::SliceOut::new(dst), name, value);
        self.len = end;
        self.raw_len = raw_end;
        Ok(())
    }

    /// The string so far, as a JSON header's `properties` carries it: a [`Text`] whose
    /// wire form holds the escapes (a JSON encoder writes it as it is; a binary one
    /// decodes it first).
    pub fn as_text(&self) -> Text<'_> {
        escaped_text(self.buf, self.len)
    }

    /// [`as_text`](Self::as_text) for as long as the buffer lives, the builder done.
    pub fn into_text(self) -> Text<'b> {
        escaped_text(self.buf, self.len)
    }

    /// Escaped bytes so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Length of the string it stands for, unescaped.
    pub fn raw_len(&self) -> usize {
        self.raw_len
    }

    /// Whether nothing was put yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The first `len` bytes of a [`JsonProperties`] buffer as the text they are.
fn escaped_text(buf: &[u8], len: usize) -> Text<'_> {
    // Built only from whole `&str` pieces and ASCII escapes.
    let s = core::str::from_utf8(buf.get(..len).unwrap_or_default()).unwrap_or_default();
    Text::json(s, !s.is_empty())
}

/// Builds a properties string in a caller's buffer, without an allocator.
///
/// Names are appended in call order; putting a name twice appends it twice (receivers
/// keep the last value). See the [module example](self).
#[derive(Debug)]
pub struct Properties<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> Properties<'b> {
    /// An empty properties string written into `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Properties { buf, len: 0 }
    }

    /// Append one pair. Errors: invalid name/value ([`EncodeError::InvalidValue`]), the
    /// string would exceed [`MAX_PROPERTIES_LEN`] ([`EncodeError::ValueOutOfRange`]) or
    /// `buf` ([`EncodeError::BufferTooSmall`]). The builder is unchanged on error.
    pub fn put(&mut self, name: &str, value: &str) -> Result<&mut Self, EncodeError> {
        let end = self
            .len
            .saturating_add(name.len())
            .saturating_add(value.len())
            .saturating_add(2);
        let dst = if end > MAX_PROPERTIES_LEN {
            None
        } else {
            self.buf.get_mut(self.len..end)
        };
        let Some(dst) = dst else {
            // An invalid pair is reported before its size.
            check_pair(name, value)?;
            return Err(if end > MAX_PROPERTIES_LEN {
                EncodeError::ValueOutOfRange {
                    field: "message properties",
                }
            } else {
                EncodeError::BufferTooSmall { needed: end }
            });
        };
        // On error the pair's bytes may be in `buf` past `len`: not part of the string.
        put_pair(&mut crate::out::Cursor::new(dst), name, value)?;
        self.len = end;
        Ok(self)
    }

    /// Append a pair whose value is a decimal integer (e.g. `DELAY`, `REAL_QID`).
    pub fn put_decimal(
        &mut self,
        name: &str,
        value: impl itoa::Integer,
    ) -> Result<&mut Self, EncodeError> {
        let mut b = itoa::Buffer::new();
        let s = b.format(value);
        self.put(name, s)
    }

    /// The encoded string so far.
    pub fn as_str(&self) -> &str {
        // Built only from whole `&str` pieces and ASCII separators.
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The encoded bytes so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// Encoded length so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was put yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A parsed view of what was built.
    pub fn view(&self) -> PropertiesView<'_> {
        PropertiesView::new(self.as_str())
    }
}

/// An owned, insertion-ordered properties map (Java's `Map<String,String>`), with
/// "last wins" on insert.
///
/// ```
/// use rocketmq_proto::message::{keys, PropertyMap};
/// let mut m = PropertyMap::new();
/// m.insert(keys::TAGS, "TagA").unwrap();
/// m.insert(keys::TAGS, "TagB").unwrap();
/// assert_eq!(m.get(keys::TAGS), Some("TagB"));
/// assert_eq!(m.to_string(), "TAGS\u{1}TagB\u{2}");
/// ```
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PropertyMap {
    entries: alloc::vec::Vec<(alloc::string::String, alloc::string::String)>,
}

#[cfg(feature = "alloc")]
impl PropertyMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse a received string (Java rules, last wins). Names are indexed while
    /// parsing, so a string of many pairs costs O(n log n), not a scan per pair.
    pub fn parse(s: &str) -> Self {
        use alloc::collections::btree_map::{BTreeMap, Entry};
        use alloc::string::ToString;
        let mut index = BTreeMap::<&str, usize>::new();
        let mut entries = alloc::vec::Vec::new();
        for (k, v) in PropertiesView::new(s).iter() {
            match index.entry(k) {
                Entry::Occupied(e) => {
                    if let Some(slot) = entries.get_mut(*e.get()) {
                        *slot = (k.to_string(), v.to_string());
                    }
                }
                Entry::Vacant(e) => {
                    e.insert(entries.len());
                    entries.push((k.to_string(), v.to_string()));
                }
            }
        }
        PropertyMap { entries }
    }

    /// Parse a header value that may hold JSON escapes.
    pub fn from_text(text: &Text<'_>) -> Self {
        Self::parse(&text.to_cow())
    }

    fn set(&mut self, k: &str, v: &str) {
        use alloc::string::ToString;
        match self.entries.iter_mut().find(|(ek, _)| ek == k) {
            Some(e) => e.1 = v.to_string(),
            None => self.entries.push((k.to_string(), v.to_string())),
        }
    }

    /// Insert or replace (keeping the original position). Refuses names or values that
    /// are empty or contain 0x01/0x02.
    pub fn insert(&mut self, name: &str, value: &str) -> Result<(), EncodeError> {
        check_pair(name, value)?;
        self.set(name, value);
        Ok(())
    }

    /// Remove a name, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<alloc::string::String> {
        let i = self.entries.iter().position(|(k, _)| k == name)?;
        Some(self.entries.remove(i).1)
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Length of the encoding, validated against [`MAX_PROPERTIES_LEN`].
    pub fn encoded_len(&self) -> Result<usize, EncodeError> {
        properties_len(self.iter())
    }

    /// Encode to `out`.
    pub fn write_to(&self, out: &mut impl Out) -> Result<usize, EncodeError> {
        write_properties(out, self.iter())
    }
}

#[cfg(feature = "alloc")]
impl core::fmt::Display for PropertyMap {
    /// The wire string (without the 32 767-byte check).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (k, v) in self.iter() {
            write!(f, "{k}\u{1}{v}\u{2}")?;
        }
        Ok(())
    }
}

#[cfg(feature = "alloc")]
impl<'a> From<PropertiesView<'a>> for PropertyMap {
    fn from(v: PropertiesView<'a>) -> Self {
        PropertyMap::parse(v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_are_found_at_every_position() {
        for len in 0..24 {
            // 0x00 and 0x03 sit beside the separators' values: flagged by the word
            // check, never reported.
            let clean: heapless::Vec<u8, 24> =
                (0..len).map(|i| [b'a', 0, 3, 0x7f][i % 4]).collect();
            assert!(!has_separator(&clean), "len {len}");
            for pos in 0..len {
                for sep in [NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR] {
                    let mut v = clean.clone();
                    v[pos] = sep;
                    assert!(has_separator(&v), "len {len} pos {pos} byte {sep}");
                }
            }
        }
    }

    #[test]
    fn pairs_are_checked_as_they_are_copied() {
        let mut buf = [0u8; 128];
        // With 0x00 (flagged by the word check, never reported) every word is checked
        // byte by byte; without it only the word check can find the separator.
        let patterns = [[b'a', 0, 3, 0x7f], [b'a', 3, 0x7f, b'~']];
        for (len, pattern) in (0..24).flat_map(|len| patterns.iter().map(move |p| (len, p))) {
            let clean: heapless::Vec<u8, 24> = (0..len).map(|i| pattern[i % 4]).collect();
            let clean = core::str::from_utf8(&clean).unwrap();
            let mut p = Properties::new(&mut buf);
            if len == 0 {
                assert!(p.put(clean, "v").is_err() && p.put("k", clean).is_err());
                assert!(p.is_empty());
                continue;
            }
            p.put(clean, "v").unwrap().put("k", clean).unwrap();
            let mut want: heapless::Vec<u8, 64> = heapless::Vec::new();
            for part in [
                clean.as_bytes(),
                b"\x01v\x02k\x01",
                clean.as_bytes(),
                b"\x02",
            ] {
                want.extend_from_slice(part).unwrap();
            }
            assert_eq!(p.as_bytes(), &want[..], "len {len}");
            for pos in 0..len {
                for sep in [NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR] {
                    let mut bad: heapless::Vec<u8, 24> = clean.bytes().collect();
                    bad[pos] = sep;
                    let bad = core::str::from_utf8(&bad).unwrap();
                    let before = p.len();
                    let name = p.put(bad, "v").map(|_| ()).unwrap_err();
                    assert_eq!(
                        name,
                        EncodeError::InvalidValue {
                            field: "property name"
                        }
                    );
                    let value = p.put("k", bad).map(|_| ()).unwrap_err();
                    assert_eq!(
                        value,
                        EncodeError::InvalidValue {
                            field: "property value"
                        }
                    );
                    assert_eq!(p.len(), before, "len {len} pos {pos}: unchanged on error");
                    // The one-pass writer agrees.
                    let mut scratch = [0u8; 64];
                    let mut out = crate::out::SliceOut::new(&mut scratch);
                    assert!(write_properties(&mut out, [("k", "v"), ("x", bad)]).is_err());
                }
            }
        }
    }

    #[test]
    fn java_decode_rules() {
        let v = PropertiesView::new("A\u{1}\u{2}B\u{1}x\u{2}");
        assert_eq!(v.iter().collect::<heapless::Vec<_, 4>>(), [("B", "x")]);
        assert_eq!(PropertiesView::new("K\u{1}v").get("K"), Some("v"));
        assert_eq!(PropertiesView::new("\u{1}v\u{2}K\u{2}").iter().count(), 0);
        // The value keeps later 0x01 bytes: Java splits at the first one.
        assert_eq!(
            PropertiesView::new("K\u{1}a\u{1}b").get("K"),
            Some("a\u{1}b")
        );
        assert_eq!(
            PropertiesView::new("K\u{1}1\u{2}L\u{1}2\u{2}K\u{1}3").len(),
            2
        );
    }

    #[test]
    fn builder_checks() {
        let mut buf = [0u8; 8];
        let mut p = Properties::new(&mut buf);
        assert!(matches!(
            p.put("a\u{2}", "b"),
            Err(EncodeError::InvalidValue { .. })
        ));
        p.put("a", "b").unwrap();
        assert_eq!(
            p.put("cc", "dd").err(),
            Some(EncodeError::BufferTooSmall { needed: 10 })
        );
        assert_eq!(p.as_str(), "a\u{1}b\u{2}");
    }
}

/// The JSON-escaped form ([`write_properties_json`], [`JsonProperties`]) against the
/// string itself escaped afterwards.
#[cfg(all(test, feature = "alloc"))]
mod json_form_tests {
    extern crate std;
    use super::*;
    use crate::codes::{RequestCode, SerializeType};
    use crate::command::{CommandEncoder, Header};
    use crate::header::SendMessageRequest;
    use crate::out::BufMutOut;
    use proptest::prelude::*;
    use std::string::String;
    use std::vec::Vec;

    /// `s` escaped as a JSON string's content.
    fn escaped(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        crate::json::write_str_content(&mut BufMutOut(&mut out), core::str::from_utf8(s).unwrap());
        out
    }

    /// Both writers on `pairs`: the same error, or the JSON form is the string escaped.
    fn writers_agree(pairs: &[(&str, &str)]) -> Result<(), TestCaseError> {
        let (mut raw, mut json) = (Vec::new(), Vec::new());
        let r = write_properties(&mut BufMutOut(&mut raw), pairs.iter().copied());
        let j = write_properties_json(&mut BufMutOut(&mut json), pairs.iter().copied());
        match (r, j) {
            (Ok(r), Ok(j)) => {
                prop_assert_eq!(r, raw.len());
                prop_assert_eq!(j, json.len());
                prop_assert_eq!(&json, &escaped(&raw), "{:?}", pairs);
            }
            (r, j) => {
                prop_assert_eq!(r.err(), j.err(), "{:?}", pairs);
                prop_assert!(json.is_empty(), "nothing written on error");
            }
        }
        Ok(())
    }

    #[test]
    fn every_byte_to_escape_at_every_position() {
        // `"`, `\`, control bytes (the separators among them, refused) and plain bytes,
        // at every lane of the word checks, in names and values, short and long.
        for len in 1..26 {
            for pos in 0..len {
                for b in [b'"', b'\\', 0, 1, 2, 3, 0x1f, 0x7f, b'a'] {
                    let mut s = std::vec![b'x'; len];
                    s[pos] = b;
                    let s = String::from_utf8(s).unwrap();
                    writers_agree(&[(&s, "v")]).unwrap();
                    writers_agree(&[("k", &s), ("WAIT", "true")]).unwrap();
                    writers_agree(&[(&s, &s)]).unwrap();
                }
            }
        }
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-zA-Z0-9%_ -]{0,24}",
            2 => "[\\x00-\\x1f\"\\\\a-z\u{e9}\u{1F600}]{0,16}",
            1 => "\\PC{0,12}",
        ]
    }

    proptest! {
        /// Any pairs: the JSON form is the string escaped, or both refuse them alike. The
        /// builder, pair by pair: `Properties::put`'s errors, a too-small buffer reported
        /// with the escaped size, unchanged on error; its text decodes to the string; and
        /// a send header carrying it encodes to the same frame, JSON or binary, as one
        /// carrying the string itself.
        #[test]
        fn the_json_form_is_the_string_escaped(
            pairs in proptest::collection::vec((text(), text()), 0..8),
            room in 0usize..400,
            long in 0usize..600,
        ) {
            let mut pairs: Vec<(&str, &str)> =
                pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            // Sometimes past the one-pass writer's stack buffer.
            let big = "y".repeat(long);
            pairs.insert(pairs.len() / 2, ("BIG", &big));
            writers_agree(&pairs)?;

            let mut json_buf = std::vec![0u8; room];
            let mut json = JsonProperties::new(&mut json_buf);
            let mut taken: Vec<(&str, &str)> = Vec::new();
            for &(k, v) in &pairs {
                let (len, text) = (json.len(), String::from(json.as_text().raw()));
                let end = len + json_pair_len(k, v);
                let want = match check_pair(k, v) {
                    Err(e) => Some(e),
                    Ok(()) if end > room => Some(EncodeError::BufferTooSmall { needed: end }),
                    Ok(()) => None,
                };
                prop_assert_eq!(json.put(k, v).map(|_| ()).err(), want);
                if want.is_some() {
                    prop_assert_eq!(json.len(), len);
                    prop_assert_eq!(json.as_text().raw(), text.as_str());
                } else {
                    taken.push((k, v));
                }
            }
            let mut raw_buf = std::vec![0u8; 8192];
            let mut raw = Properties::new(&mut raw_buf);
            for (k, v) in &taken {
                raw.put(k, v).unwrap();
            }
            prop_assert_eq!(json.raw_len(), raw.len());
            prop_assert_eq!(json.as_text().raw().as_bytes(), &escaped(raw.as_bytes())[..]);
            let mut scratch = std::vec![0u8; 8192];
            prop_assert_eq!(json.as_text().decode_into(&mut scratch).unwrap(), raw.as_str());

            let request = |properties| SendMessageRequest {
                producer_group: Text::new("G"),
                topic: Text::new("T"),
                default_topic: Text::new(SendMessageRequest::DEFAULT_TOPIC),
                default_topic_queue_nums: 4,
                queue_id: 1,
                sys_flag: 0,
                born_timestamp: 1,
                flag: 0,
                properties: Some(properties),
                reconsume_times: Some(0),
                unit_mode: Some(false),
                max_reconsume_times: None,
                batch: Some(false),
                broker_name: Some(Text::new("b")),
            };
            for ser in [SerializeType::Json, SerializeType::RocketMq] {
                let enc = CommandEncoder::new(ser);
                let header = Header::request(RequestCode::SEND_MESSAGE_V2, 7);
                let frame = |props| {
                    let fields = request(props).v2();
                    let mut buf = std::vec![0u8; enc.frame_len(&header, &fields, b"x").unwrap()];
                    let n = enc.encode(&mut buf, &header, &fields, b"x").unwrap();
                    buf.truncate(n);
                    buf
                };
                prop_assert_eq!(frame(json.as_text()), frame(Text::new(raw.as_str())));
            }
        }
    }

    #[test]
    fn the_raw_limit_applies_to_the_string_not_its_escapes() {
        // 32,767 unescaped bytes are allowed even though escaped they are longer.
        let value = "\u{1f}".repeat(MAX_PROPERTIES_LEN - 3);
        let mut buf = std::vec![0u8; 6 * MAX_PROPERTIES_LEN];
        let mut p = JsonProperties::new(&mut buf);
        p.put("K", &value).unwrap();
        assert_eq!(p.raw_len(), MAX_PROPERTIES_LEN);
        assert_eq!(
            p.put("K", "v").err(),
            Some(EncodeError::ValueOutOfRange {
                field: "message properties"
            })
        );
        let mut out = Vec::new();
        assert!(write_properties_json(&mut BufMutOut(&mut out), [("K", value.as_str())]).is_ok());
        assert!(write_properties_json(
            &mut BufMutOut(&mut out),
            [("K", value.as_str()), ("a", "b")]
        )
        .is_err());
    }
}
