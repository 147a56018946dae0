//! The message store of one broker group (master and slaves share it: replication is
//! instant in the simulation): a commit log position, per-queue logs of encoded
//! records, and a physical-offset index for send-back and END_TRANSACTION lookups.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use rocketmq_proto::message::record::{self, MessageRecord, MessageVersion};
use rocketmq_proto::message::{body_crc, tag_hash, MessageSysFlag, OffsetMsgId, PropertiesView};
use rocketmq_proto::out::BufMutOut;

use super::sql92::Selector;

/// Java's `maxTransferCountOnMessageInMemory`: at most this many messages per pull.
pub const MAX_TRANSFER_COUNT: usize = 32;
/// Java's `maxTransferBytesOnMessageInMemory`: at most this many bytes per pull.
pub const MAX_TRANSFER_BYTES: usize = 256 * 1024;
/// How many consume-queue entries one pull scans while filtering (Java reads 16 000
/// bytes of consume queue, 20 bytes an entry).
const FILTER_WINDOW: usize = 800;

/// One stored message as the broker keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The topic it is stored under.
    pub topic: String,
    /// Its queue.
    pub queue_id: i32,
    /// Consume-queue (logical) offset.
    pub queue_offset: i64,
    /// Commit-log (physical) offset.
    pub physical_offset: i64,
    /// Broker clock when stored, ms.
    pub store_timestamp: i64,
    /// Java's `tagsCode`: hash of the `TAGS` property, 0 without one.
    pub tags_code: i32,
    /// The record exactly as a pull returns it (messages.md §2).
    pub record: Vec<u8>,
}

impl StoredMessage {
    /// The record decoded (it was written by `record::encode`, so it always decodes).
    pub fn view(&self) -> MessageRecord<'_> {
        match MessageRecord::decode(&self.record, 0) {
            Ok((r, _)) => r,
            Err(e) => unreachable!("the store only holds records it encoded: {e:?}"),
        }
    }

    /// The offset message id (what a send response's `msgId` carries).
    pub fn offset_msg_id(&self) -> String {
        self.view().offset_msg_id().to_hex().as_str().to_owned()
    }

    /// The `UNIQ_KEY` property, if any.
    pub fn uniq_key(&self) -> Option<String> {
        self.view().uniq_key().map(str::to_owned)
    }

    /// A property by name (last occurrence wins, as in Java).
    pub fn property(&self, name: &str) -> Option<String> {
        self.view().properties.get(name).map(str::to_owned)
    }

    /// The stored body.
    pub fn body(&self) -> Vec<u8> {
        self.view().body.to_vec()
    }
}

/// Everything needed to store a message; offsets and CRC are assigned by the store.
#[derive(Debug, Clone)]
pub(crate) struct NewMessage {
    pub topic: String,
    pub queue_id: i32,
    pub flag: i32,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub body: Vec<u8>,
    pub properties: String,
}

/// One queue: messages from `base` (the min offset) on.
#[derive(Debug, Default, Clone)]
struct QueueLog {
    base: i64,
    messages: Vec<StoredMessage>,
}

impl QueueLog {
    fn max_offset(&self) -> i64 {
        self.base + self.messages.len() as i64
    }
}

/// Which messages a pull wants: broker-side tag filtering by hash code, or a SQL92
/// selector evaluated over the stored message's properties (Java's
/// `ExpressionMessageFilter.isMatchedByCommitLog`).
#[derive(Debug, Clone)]
pub(crate) enum Filter {
    All,
    Codes(Vec<i32>),
    Sql(Selector),
}

impl Filter {
    fn matches(&self, m: &StoredMessage) -> bool {
        match self {
            Filter::All => true,
            Filter::Codes(codes) => codes.contains(&m.tags_code),
            Filter::Sql(selector) => {
                let record = m.view();
                selector.matches(&|name| record.properties.get(name).map(str::to_owned))
            }
        }
    }
}

/// The store's answer to a pull, before response mapping (Java `GetMessageResult`).
#[derive(Debug, Clone)]
pub(crate) struct GetResult {
    /// Java `GetMessageStatus` name.
    pub status: &'static str,
    pub next_begin_offset: i64,
    pub min_offset: i64,
    pub max_offset: i64,
    pub body: Vec<u8>,
    pub count: usize,
}

/// A broker group's store.
#[derive(Debug, Default, Clone)]
pub(crate) struct Store {
    commit_log_end: i64,
    queues: BTreeMap<(String, i32), QueueLog>,
    /// physical offset → (topic, queue, queue offset)
    index: BTreeMap<i64, (String, i32, i64)>,
}

impl Store {
    /// Append a message; returns a copy of what was stored.
    pub fn put(&mut self, m: NewMessage, store_host: SocketAddr) -> StoredMessage {
        let log = self
            .queues
            .entry((m.topic.clone(), m.queue_id))
            .or_default();
        let queue_offset = log.max_offset();
        let physical_offset = self.commit_log_end;
        let rec = MessageRecord {
            version: MessageVersion::for_topic_len(m.topic.len()),
            body_crc: body_crc(&m.body),
            queue_id: m.queue_id,
            flag: m.flag,
            queue_offset,
            physical_offset,
            sys_flag: MessageSysFlag(m.sys_flag),
            born_timestamp: m.born_timestamp,
            born_host: m.born_host,
            store_timestamp: m.store_timestamp,
            store_host,
            reconsume_times: m.reconsume_times,
            prepared_transaction_offset: m.prepared_transaction_offset,
            body: &m.body,
            topic: &m.topic,
            properties: PropertiesView::new(&m.properties),
        };
        let mut bytes = Vec::with_capacity(rec.encoded_len());
        let total = match record::encode(&mut BufMutOut(&mut bytes), &rec) {
            Ok(n) => n,
            // The sim's own inputs (checked topic and properties lengths) always fit.
            Err(e) => panic!("sim could not encode a stored record: {e:?}"),
        };
        let tags_code = rec.tags().map_or(0, tag_hash);
        self.commit_log_end += total as i64;
        let stored = StoredMessage {
            topic: m.topic.clone(),
            queue_id: m.queue_id,
            queue_offset,
            physical_offset,
            store_timestamp: m.store_timestamp,
            tags_code,
            record: bytes,
        };
        log.messages.push(stored.clone());
        self.index
            .insert(physical_offset, (m.topic, m.queue_id, queue_offset));
        stored
    }

    /// The message at a commit-log offset.
    pub fn by_physical_offset(&self, offset: i64) -> Option<&StoredMessage> {
        let (topic, queue_id, queue_offset) = self.index.get(&offset)?;
        self.message(topic, *queue_id, *queue_offset)
    }

    /// The message at a queue offset.
    pub fn message(&self, topic: &str, queue_id: i32, queue_offset: i64) -> Option<&StoredMessage> {
        let log = self.queues.get(&(topic.to_owned(), queue_id))?;
        let i = usize::try_from(queue_offset - log.base).ok()?;
        log.messages.get(i)
    }

    /// All messages still stored in a queue.
    pub fn messages(&self, topic: &str, queue_id: i32) -> &[StoredMessage] {
        self.queues
            .get(&(topic.to_owned(), queue_id))
            .map_or(&[], |l| l.messages.as_slice())
    }

    /// The queue's min offset (0 for an unknown queue).
    pub fn min_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.queues
            .get(&(topic.to_owned(), queue_id))
            .map_or(0, |l| l.base)
    }

    /// The queue's max offset: the next offset to be written.
    pub fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.queues
            .get(&(topic.to_owned(), queue_id))
            .map_or(0, QueueLog::max_offset)
    }

    /// Drop messages below `new_min` (expired commit-log files), keeping `max`.
    pub fn truncate(&mut self, topic: &str, queue_id: i32, new_min: i64) {
        let log = self.queues.entry((topic.to_owned(), queue_id)).or_default();
        let new_min = new_min.clamp(log.base, log.max_offset());
        let drop = (new_min - log.base) as usize;
        for m in log.messages.drain(..drop) {
            self.index.remove(&m.physical_offset);
        }
        log.base = new_min;
    }

    /// SEARCH_OFFSET_BY_TIMESTAMP: LOWER → first message stored at or after `ts`
    /// (max offset if none); UPPER → last message stored at or before `ts` (min offset if
    /// none).
    pub fn search_by_time(&self, topic: &str, queue_id: i32, ts: i64, upper: bool) -> i64 {
        let Some(log) = self.queues.get(&(topic.to_owned(), queue_id)) else {
            return 0;
        };
        if upper {
            log.messages
                .iter()
                .rev()
                .find(|m| m.store_timestamp <= ts)
                .map_or(log.base, |m| m.queue_offset)
        } else {
            log.messages
                .iter()
                .find(|m| m.store_timestamp >= ts)
                .map_or(log.max_offset(), |m| m.queue_offset)
        }
    }

    /// Java `DefaultMessageStore.getMessage` for a master: status, next offset and the
    /// concatenated records.
    pub fn get(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_msg_nums: i32,
        max_msg_bytes: i32,
        filter: &Filter,
    ) -> GetResult {
        let min = self.min_offset(topic, queue_id);
        let max = self.max_offset(topic, queue_id);
        let mut r = GetResult {
            status: "",
            next_begin_offset: offset,
            min_offset: min,
            max_offset: max,
            body: Vec::new(),
            count: 0,
        };
        if max == 0 {
            r.status = "NO_MESSAGE_IN_QUEUE";
            r.next_begin_offset = 0;
        } else if offset < min {
            r.status = "OFFSET_TOO_SMALL";
            r.next_begin_offset = min;
        } else if offset == max {
            r.status = "OFFSET_OVERFLOW_ONE";
            r.next_begin_offset = offset;
        } else if offset > max {
            r.status = "OFFSET_OVERFLOW_BADLY";
            r.next_begin_offset = if min == 0 { min } else { max };
        } else {
            let max_nums = usize::try_from(max_msg_nums).unwrap_or(0);
            let max_bytes = usize::try_from(max_msg_bytes).unwrap_or(0);
            let mut next = offset;
            for q in offset..max.min(offset + FILTER_WINDOW as i64) {
                let Some(m) = self.message(topic, queue_id, q) else {
                    break;
                };
                if is_batch_full(&r, m.record.len(), max_nums, max_bytes) {
                    break;
                }
                next = q + 1;
                if filter.matches(m) {
                    r.body.extend_from_slice(&m.record);
                    r.count += 1;
                }
            }
            r.next_begin_offset = next;
            r.status = if r.count > 0 {
                "FOUND"
            } else {
                "NO_MATCHED_MESSAGE"
            };
        }
        r
    }
}

/// Java `DefaultMessageStore.isTheBatchFull` for messages in memory.
fn is_batch_full(r: &GetResult, size: usize, max_nums: usize, max_bytes: usize) -> bool {
    if r.count == 0 {
        return false;
    }
    r.count + 1 > max_nums
        || r.body.len() + size > max_bytes
        || r.body.len() + size > MAX_TRANSFER_BYTES
        || r.count > MAX_TRANSFER_COUNT - 1
}

/// The offset message id of a record stored at `physical_offset` on `store_host`.
pub(crate) fn offset_msg_id(store_host: SocketAddr, physical_offset: i64) -> String {
    OffsetMsgId {
        store_host,
        commit_log_offset: physical_offset,
    }
    .to_hex()
    .as_str()
    .to_owned()
}
