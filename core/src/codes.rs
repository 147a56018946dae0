//! Request codes, response codes, language codes and serialize types (wire.md §3–§5).
//!
//! Codes are newtypes over the wire integer with named constants, so a code this crate
//! does not know is kept as it is instead of being lost:
//!
//! ```
//! use rocketmq_proto::codes::{RequestCode, ResponseCode};
//! assert_eq!(RequestCode::SEND_MESSAGE_V2.0, 310);
//! assert_eq!(RequestCode(310).name(), Some("SEND_MESSAGE_V2"));
//! assert_eq!(RequestCode(4242).name(), None);
//! assert!(ResponseCode::SYSTEM_BUSY.is_retryable_by_producer());
//! ```

use core::fmt;

macro_rules! code_type {
    ($(#[$m:meta])* $name:ident($int:ty) { $($(#[$cm:meta])* $c:ident = $v:expr,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $int);

        #[allow(missing_docs)]
        impl $name {
            $($(#[$cm])* pub const $c: $name = $name($v);)*

            /// The protocol's name for this code, if known.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($v => Some(stringify!($c)),)*
                    _ => None,
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}({})", n, self.0),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self, f)
            }
        }

        impl From<$int> for $name {
            fn from(v: $int) -> Self { $name(v) }
        }
    };
}

code_type! {
    /// A request code (wire.md §4).
    RequestCode(i32) {
        SEND_MESSAGE = 10,
        PULL_MESSAGE = 11,
        QUERY_MESSAGE = 12,
        QUERY_BROKER_OFFSET = 13,
        QUERY_CONSUMER_OFFSET = 14,
        UPDATE_CONSUMER_OFFSET = 15,
        UPDATE_AND_CREATE_TOPIC = 17,
        GET_ALL_TOPIC_CONFIG = 21,
        GET_BROKER_RUNTIME_INFO = 28,
        SEARCH_OFFSET_BY_TIMESTAMP = 29,
        GET_MAX_OFFSET = 30,
        GET_MIN_OFFSET = 31,
        GET_EARLIEST_MSG_STORETIME = 32,
        VIEW_MESSAGE_BY_ID = 33,
        HEART_BEAT = 34,
        UNREGISTER_CLIENT = 35,
        CONSUMER_SEND_MSG_BACK = 36,
        END_TRANSACTION = 37,
        GET_CONSUMER_LIST_BY_GROUP = 38,
        CHECK_TRANSACTION_STATE = 39,
        NOTIFY_CONSUMER_IDS_CHANGED = 40,
        LOCK_BATCH_MQ = 41,
        UNLOCK_BATCH_MQ = 42,
        GET_ALL_CONSUMER_OFFSET = 43,
        PUT_KV_CONFIG = 100,
        GET_KV_CONFIG = 101,
        DELETE_KV_CONFIG = 102,
        REGISTER_BROKER = 103,
        UNREGISTER_BROKER = 104,
        GET_ROUTEINFO_BY_TOPIC = 105,
        GET_BROKER_CLUSTER_INFO = 106,
        UPDATE_AND_CREATE_SUBSCRIPTIONGROUP = 200,
        GET_TOPIC_STATS_INFO = 202,
        GET_CONSUMER_CONNECTION_LIST = 203,
        GET_ALL_TOPIC_LIST_FROM_NAMESERVER = 206,
        DELETE_SUBSCRIPTIONGROUP = 207,
        GET_CONSUME_STATS = 208,
        DELETE_TOPIC_IN_BROKER = 215,
        DELETE_TOPIC_IN_NAMESRV = 216,
        RESET_CONSUMER_CLIENT_OFFSET = 220,
        GET_CONSUMER_STATUS_FROM_CLIENT = 221,
        INVOKE_BROKER_TO_RESET_OFFSET = 222,
        GET_TOPICS_BY_CLUSTER = 224,
        GET_CONSUMER_RUNNING_INFO = 307,
        CONSUME_MESSAGE_DIRECTLY = 309,
        SEND_MESSAGE_V2 = 310,
        SEND_BATCH_MESSAGE = 320,
        SEND_REPLY_MESSAGE = 324,
        SEND_REPLY_MESSAGE_V2 = 325,
        PUSH_REPLY_MESSAGE_TO_CLIENT = 326,
        LITE_PULL_MESSAGE = 361,
        RECALL_MESSAGE = 370,
        QUERY_ASSIGNMENT = 400,
        SET_MESSAGE_REQUEST_MODE = 401,
        POP_MESSAGE = 200050,
        ACK_MESSAGE = 200051,
        PEEK_MESSAGE = 200052,
        CHANGE_MESSAGE_INVISIBLETIME = 200053,
        NOTIFICATION = 200054,
        POLLING_INFO = 200055,
        POP_ROLLBACK = 200056,
        BATCH_ACK_MESSAGE = 200151,
    }
}

impl RequestCode {
    /// Whether the code fits the 16-bit field of a binary (ROCKETMQ) header. POP-family
    /// codes do not and must be sent with a JSON header (wire.md §2.3).
    pub const fn fits_binary_header(self) -> bool {
        self.0 >= i16::MIN as i32 && self.0 <= i16::MAX as i32
    }
}

code_type! {
    /// A response code (wire.md §5). Client-local codes (−1000 …) never travel.
    ResponseCode(i32) {
        SUCCESS = 0,
        SYSTEM_ERROR = 1,
        SYSTEM_BUSY = 2,
        REQUEST_CODE_NOT_SUPPORTED = 3,
        TRANSACTION_FAILED = 4,
        FLUSH_DISK_TIMEOUT = 10,
        SLAVE_NOT_AVAILABLE = 11,
        FLUSH_SLAVE_TIMEOUT = 12,
        MESSAGE_ILLEGAL = 13,
        SERVICE_NOT_AVAILABLE = 14,
        VERSION_NOT_SUPPORTED = 15,
        NO_PERMISSION = 16,
        TOPIC_NOT_EXIST = 17,
        TOPIC_EXIST_ALREADY = 18,
        PULL_NOT_FOUND = 19,
        PULL_RETRY_IMMEDIATELY = 20,
        PULL_OFFSET_MOVED = 21,
        QUERY_NOT_FOUND = 22,
        SUBSCRIPTION_PARSE_FAILED = 23,
        SUBSCRIPTION_NOT_EXIST = 24,
        SUBSCRIPTION_NOT_LATEST = 25,
        SUBSCRIPTION_GROUP_NOT_EXIST = 26,
        FILTER_DATA_NOT_EXIST = 27,
        FILTER_DATA_NOT_LATEST = 28,
        INVALID_PARAMETER = 29,
        TRANSACTION_SHOULD_COMMIT = 200,
        TRANSACTION_SHOULD_ROLLBACK = 201,
        TRANSACTION_STATE_UNKNOW = 202,
        TRANSACTION_STATE_GROUP_WRONG = 203,
        NO_BUYER_ID = 204,
        NOT_IN_CURRENT_UNIT = 205,
        CONSUMER_NOT_ONLINE = 206,
        CONSUME_MSG_TIMEOUT = 207,
        NO_MESSAGE = 208,
        POLLING_FULL = 209,
        POLLING_TIMEOUT = 210,
        BROKER_NOT_EXIST = 211,
        BROKER_DISPATCH_NOT_COMPLETE = 212,
        BROADCAST_CONSUMPTION = 213,
        FLOW_CONTROL = 215,
        NOT_LEADER_FOR_QUEUE = 501,
        ILLEGAL_OPERATION = 604,
        GO_AWAY = 1500,
        RPC_UNKNOWN = -1000,
        RPC_ADDR_IS_NULL = -1002,
        RPC_SEND_TO_CHANNEL_FAILED = -1004,
        RPC_TIME_OUT = -1006,
    }
}

impl ResponseCode {
    /// Java's `DefaultMQProducer.retryResponseCodes`: the producer retries these on
    /// another broker (wire.md §5).
    pub const fn is_retryable_by_producer(self) -> bool {
        matches!(
            self,
            ResponseCode::TOPIC_NOT_EXIST
                | ResponseCode::SERVICE_NOT_AVAILABLE
                | ResponseCode::SYSTEM_ERROR
                | ResponseCode::SYSTEM_BUSY
                | ResponseCode::NO_PERMISSION
                | ResponseCode::NO_BUYER_ID
                | ResponseCode::NOT_IN_CURRENT_UNIT
                | ResponseCode::GO_AWAY
        )
    }

    /// Send responses whose header is valid and whose message is stored
    /// (SUCCESS and the three "stored, but" statuses).
    pub const fn is_send_stored(self) -> bool {
        matches!(
            self,
            ResponseCode::SUCCESS
                | ResponseCode::FLUSH_DISK_TIMEOUT
                | ResponseCode::FLUSH_SLAVE_TIMEOUT
                | ResponseCode::SLAVE_NOT_AVAILABLE
        )
    }
}

code_type! {
    /// The sender's implementation language (wire.md §3.3). Binary headers carry the
    /// byte, JSON headers the name.
    LanguageCode(u8) {
        JAVA = 0,
        CPP = 1,
        DOTNET = 2,
        PYTHON = 3,
        DELPHI = 4,
        ERLANG = 5,
        RUBY = 6,
        OTHER = 7,
        HTTP = 8,
        GO = 9,
        PHP = 10,
        OMS = 11,
        RUST = 12,
        NODE_JS = 13,
    }
}

impl LanguageCode {
    /// Parse a JSON language name; an unknown name is [`LanguageCode::OTHER`] (wire.md
    /// §2.2 decoder requirements).
    pub fn from_name(name: &str) -> LanguageCode {
        // Every response carries one: names are compared by length first (one or two
        // byte compares, instead of a name lookup per code), and stay in one table
        // (a `match` on the strings was 316 bytes more flash).
        const ALL: [LanguageCode; 14] = [
            LanguageCode::JAVA,
            LanguageCode::RUST,
            LanguageCode::CPP,
            LanguageCode::DOTNET,
            LanguageCode::PYTHON,
            LanguageCode::DELPHI,
            LanguageCode::ERLANG,
            LanguageCode::RUBY,
            LanguageCode::OTHER,
            LanguageCode::HTTP,
            LanguageCode::GO,
            LanguageCode::PHP,
            LanguageCode::OMS,
            LanguageCode::NODE_JS,
        ];
        // Evaluated at compile time: an index out of range fails the build, not a run.
        #[allow(clippy::indexing_slicing)]
        const NAMES: [&str; 14] = {
            let mut names = [""; 14];
            let mut i = 0;
            while i < ALL.len() {
                names[i] = match ALL[i].name() {
                    Some(n) => n,
                    None => "",
                };
                i += 1;
            }
            names
        };
        let bytes = name.as_bytes();
        for (i, n) in NAMES.iter().enumerate() {
            if n.len() == bytes.len() && n.as_bytes() == bytes {
                return ALL.get(i).copied().unwrap_or(LanguageCode::OTHER);
            }
        }
        LanguageCode::OTHER
    }

    /// The JSON name; an unknown byte is written as `OTHER`.
    pub fn json_name(self) -> &'static str {
        self.name().unwrap_or("OTHER")
    }
}

/// How a frame's header is serialized (the high byte of the header-length word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SerializeType {
    /// JSON text (0). Every server decodes it; POP codes need it. The default.
    #[default]
    Json,
    /// ROCKETMQ binary (1).
    RocketMq,
}

impl SerializeType {
    /// The wire byte.
    pub const fn as_u8(self) -> u8 {
        match self {
            SerializeType::Json => 0,
            SerializeType::RocketMq => 1,
        }
    }

    /// From the wire byte; `None` for anything but 0 and 1.
    pub const fn from_u8(b: u8) -> Option<Self> {
        match b {
            0 => Some(SerializeType::Json),
            1 => Some(SerializeType::RocketMq),
            _ => None,
        }
    }

    /// The name used in `serializeTypeCurrentRPC`.
    pub const fn name(self) -> &'static str {
        match self {
            SerializeType::Json => "JSON",
            SerializeType::RocketMq => "ROCKETMQ",
        }
    }
}

/// `version` values (ordinals of Java's `MQVersion.Version`, wire.md §3.4).
pub mod version {
    /// V4_9_4: NameServers answer route queries with standard JSON from here on.
    pub const V4_9_4: i32 = 401;
    /// V5_3_3, the version this crate announces by default.
    pub const V5_3_3: i32 = 479;
    /// What requests carry unless configured otherwise.
    pub const CURRENT: i32 = V5_3_3;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_are_kept() {
        assert_eq!(ResponseCode(9999).name(), None);
        assert_eq!(LanguageCode(200).json_name(), "OTHER");
        assert_eq!(LanguageCode::from_name("RUST"), LanguageCode::RUST);
        assert_eq!(LanguageCode::from_name("KOTLIN"), LanguageCode::OTHER);
        assert_eq!(LanguageCode::from_name(""), LanguageCode::OTHER);
        // Every named code is found by its name.
        for v in 0..=u8::MAX {
            if let Some(name) = LanguageCode(v).name() {
                assert_eq!(LanguageCode::from_name(name), LanguageCode(v), "{name}");
            }
        }
        assert!(!RequestCode::POP_MESSAGE.fits_binary_header());
        assert!(RequestCode::PULL_MESSAGE.fits_binary_header());
        assert_eq!(
            format!("{:?}", RequestCode(105)),
            "GET_ROUTEINFO_BY_TOPIC(105)"
        );
    }
    extern crate std;
    use std::format;
}
