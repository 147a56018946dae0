//! What to do after one send attempt: Java's retry classification (behaviour.md §2.4,
//! §2.5, §2.7; wire.md §5).
//!
//! ```
//! use rocketmq_proto::codes::ResponseCode;
//! use rocketmq_proto::producer::retry::{classify, Attempt, SendMode, SendStatus, Verdict};
//! let retry_policy = Default::default();
//! assert_eq!(classify(SendMode::Sync, Attempt::Response(ResponseCode::SUCCESS), &retry_policy), Verdict::Stored(SendStatus::SendOk));
//! assert_eq!(classify(SendMode::Sync, Attempt::Response(ResponseCode::SYSTEM_BUSY), &retry_policy), Verdict::Retry);
//! assert_eq!(classify(SendMode::Sync, Attempt::Response(ResponseCode::MESSAGE_ILLEGAL), &retry_policy), Verdict::Fail);
//! assert_eq!(classify(SendMode::Async, Attempt::Response(ResponseCode::SYSTEM_BUSY), &retry_policy), Verdict::Fail);
//! ```

use crate::codes::ResponseCode;

/// How a send was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendMode {
    /// The caller waits for the result; retried on another broker.
    Sync,
    /// The result arrives later; retried only after transport failures.
    Async,
    /// No response; never retried.
    Oneway,
}

/// The outcome of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The broker answered with this code.
    Response(ResponseCode),
    /// Connect or send failure, or no response before the deadline.
    Transport,
    /// The queue's broker has no known master address.
    BrokerNotFound,
}

/// How a stored message was stored (Java `SendStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// Stored.
    SendOk,
    /// Stored, flush to disk timed out.
    FlushDiskTimeout,
    /// Stored, flush to the slave timed out.
    FlushSlaveTimeout,
    /// Stored on the master, no slave available.
    SlaveNotAvailable,
}

impl SendStatus {
    /// The status for a response code that means "stored".
    pub const fn from_code(code: ResponseCode) -> Option<Self> {
        match code {
            ResponseCode::SUCCESS => Some(SendStatus::SendOk),
            ResponseCode::FLUSH_DISK_TIMEOUT => Some(SendStatus::FlushDiskTimeout),
            ResponseCode::FLUSH_SLAVE_TIMEOUT => Some(SendStatus::FlushSlaveTimeout),
            ResponseCode::SLAVE_NOT_AVAILABLE => Some(SendStatus::SlaveNotAvailable),
            _ => None,
        }
    }
}

/// The decision after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The message is stored: report this status.
    Stored(SendStatus),
    /// Try again on another broker (if attempts and time remain).
    Retry,
    /// Give up and report the error.
    Fail,
}

/// Retry settings (Java `DefaultMQProducer` defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// `retryTimesWhenSendFailed`: extra sync attempts (default 2 → 3 attempts).
    pub sync_retries: u32,
    /// `retryTimesWhenSendAsyncFailed`: extra async attempts after transport failures.
    pub async_retries: u32,
    /// `retryAnotherBrokerWhenNotStoreOK`: retry FLUSH_*_TIMEOUT / SLAVE_NOT_AVAILABLE.
    pub retry_when_not_store_ok: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            sync_retries: 2,
            async_retries: 2,
            retry_when_not_store_ok: false,
        }
    }
}

impl RetryPolicy {
    /// Total attempts allowed for a mode.
    pub const fn max_attempts(&self, mode: SendMode) -> u32 {
        match mode {
            SendMode::Sync => 1 + self.sync_retries,
            SendMode::Async => 1 + self.async_retries,
            SendMode::Oneway => 1,
        }
    }
}

/// Classify one attempt (the attempt count and deadline are checked by the caller).
pub fn classify(mode: SendMode, attempt: Attempt, policy: &RetryPolicy) -> Verdict {
    match (mode, attempt) {
        (_, Attempt::Response(code)) => match SendStatus::from_code(code) {
            Some(SendStatus::SendOk) => Verdict::Stored(SendStatus::SendOk),
            Some(status) => {
                if mode == SendMode::Sync && policy.retry_when_not_store_ok {
                    Verdict::Retry
                } else {
                    Verdict::Stored(status)
                }
            }
            // A broker error code is retried only in sync mode (Java async never
            // retries one).
            None if mode == SendMode::Sync && code.is_retryable_by_producer() => Verdict::Retry,
            None => Verdict::Fail,
        },
        (SendMode::Oneway, _) => Verdict::Fail,
        (_, Attempt::Transport) => Verdict::Retry,
        (SendMode::Sync, Attempt::BrokerNotFound) => Verdict::Retry,
        (_, Attempt::BrokerNotFound) => Verdict::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_table() {
        let p = RetryPolicy::default();
        use SendMode::*;
        let retried = [17, 14, 1, 2, 16, 204, 205, 1500];
        for c in retried {
            assert_eq!(
                classify(Sync, Attempt::Response(ResponseCode(c)), &p),
                Verdict::Retry,
                "{c}"
            );
            assert_eq!(
                classify(Async, Attempt::Response(ResponseCode(c)), &p),
                Verdict::Fail,
                "{c}"
            );
        }
        for c in [13, 29, 3, 25] {
            assert_eq!(
                classify(Sync, Attempt::Response(ResponseCode(c)), &p),
                Verdict::Fail,
                "{c}"
            );
        }
        for (c, s) in [
            (10, SendStatus::FlushDiskTimeout),
            (12, SendStatus::FlushSlaveTimeout),
            (11, SendStatus::SlaveNotAvailable),
        ] {
            assert_eq!(
                classify(Sync, Attempt::Response(ResponseCode(c)), &p),
                Verdict::Stored(s)
            );
            let eager = RetryPolicy {
                retry_when_not_store_ok: true,
                ..p
            };
            assert_eq!(
                classify(Sync, Attempt::Response(ResponseCode(c)), &eager),
                Verdict::Retry
            );
            assert_eq!(
                classify(Async, Attempt::Response(ResponseCode(c)), &eager),
                Verdict::Stored(s)
            );
        }
        assert_eq!(classify(Sync, Attempt::Transport, &p), Verdict::Retry);
        assert_eq!(classify(Async, Attempt::Transport, &p), Verdict::Retry);
        assert_eq!(classify(Oneway, Attempt::Transport, &p), Verdict::Fail);
        assert_eq!(classify(Sync, Attempt::BrokerNotFound, &p), Verdict::Retry);
        assert_eq!(classify(Async, Attempt::BrokerNotFound, &p), Verdict::Fail);
        assert_eq!(p.max_attempts(Sync), 3);
        assert_eq!(p.max_attempts(Oneway), 1);
    }
}
