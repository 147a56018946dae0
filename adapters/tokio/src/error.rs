//! Errors: what failed and where (broker, topic, response code and remark).

use rocketmq_proto::codes::ResponseCode;
use rocketmq_proto::engine::client::{CallError, RequestError, SendError};
use rocketmq_proto::error::Blame;

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Refused before any I/O: an invalid message, group or setting.
    Invalid(String),
    /// The broker refused the request.
    Broker {
        /// The broker's response code.
        code: ResponseCode,
        /// The broker's remark.
        remark: String,
        /// Which broker.
        broker: String,
    },
    /// No route for the topic (the NameServer does not know it and auto-creation is off).
    NoRoute {
        /// The topic.
        topic: String,
    },
    /// The deadline passed.
    Timeout {
        /// What timed out and where (`send to topic T`, `call to 127.0.0.1:10911`).
        what: String,
    },
    /// The connection failed and no retry remained.
    Transport {
        /// What failed and where.
        what: String,
    },
    /// A table is full (too many operations in flight for the configured capacity).
    Busy(&'static str),
    /// The client is shut down (or shutting down).
    Closed,
    /// Request-reply: no reply came within the timeout.
    NoReply,
    /// A local file (a broadcasting consumer's offsets) could not be read or written.
    Io(String),
}

impl Error {
    /// Whose fault it is: the caller's configuration, the peer, resources, transport.
    pub fn blame(&self) -> Blame {
        match self {
            Error::Invalid(_) => Blame::Config,
            Error::Broker { .. } | Error::NoRoute { .. } | Error::NoReply => Blame::Peer,
            Error::Busy(_) | Error::Io(_) => Blame::Resource,
            Error::Timeout { .. } | Error::Transport { .. } | Error::Closed => Blame::Transport,
        }
    }

    pub(crate) fn from_send(e: SendError, topic: &str) -> Self {
        match e {
            SendError::NoRoute => Error::NoRoute {
                topic: topic.to_owned(),
            },
            SendError::Timeout => Error::Timeout {
                what: format!("send to topic {topic}"),
            },
            SendError::Broker {
                code,
                remark,
                broker_name,
            } => Error::Broker {
                code,
                remark: remark.to_string(),
                broker: broker_name.to_string(),
            },
            SendError::Closed => Error::Closed,
            _ => Error::Transport {
                what: format!("send to topic {topic}"),
            },
        }
    }

    pub(crate) fn from_request(e: RequestError, topic: &str) -> Self {
        match e {
            RequestError::Send(s) => Error::from_send(s, topic),
            RequestError::NoReply => Error::NoReply,
            _ => Error::NoReply,
        }
    }
}

impl From<CallError> for Error {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Invalid(v) => Error::Invalid(v.to_string()),
            CallError::Full(what) => Error::Busy(what),
            CallError::NoProducer => Error::Invalid("no producer group registered".into()),
            CallError::NoConsumer => Error::Invalid("no consumer (subscribe first)".into()),
            CallError::Encode(e) => Error::Invalid(e.to_string()),
            CallError::Closed => Error::Closed,
            CallError::Unsupported(feature) => {
                Error::Invalid(format!("needs rocketmq-proto's `{feature}` feature"))
            }
            _ => Error::Invalid(format!("{e:?}")),
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Invalid(why) => write!(f, "invalid: {why}"),
            Error::Broker {
                code,
                remark,
                broker,
            } => write!(f, "broker {broker} refused with code {} ({remark})", code.0),
            Error::NoRoute { topic } => write!(f, "no route for topic {topic}"),
            Error::Timeout { what } => write!(f, "{what}: timed out"),
            Error::Transport { what } => write!(f, "{what}: connection failed"),
            Error::Busy(what) => write!(f, "too many in flight: {what}"),
            Error::Closed => f.write_str("client is shut down"),
            Error::NoReply => f.write_str("request timeout, no reply message"),
            Error::Io(why) => write!(f, "local file: {why}"),
        }
    }
}

impl std::error::Error for Error {}
