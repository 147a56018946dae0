//! The client id, built as Java's `ClientConfig.buildMQClientId` (behaviour.md §1.1):
//! `<clientIP>@<instanceName>[@<unitName>]`, with the default instance name `DEFAULT`
//! replaced by `<pid>#<nanoTime>` for producers and clustering consumers.
//!
//! Every member of a consumer group sorts the group's client ids to allocate queues,
//! so the id must be unique per process and stable while it runs. The inputs (address,
//! pid, a start-time nonce) are given by the adapter.
//!
//! ```
//! use rocketmq_proto::engine::client_id::{ClientId, InstanceName};
//! let id = ClientId::build("192.168.1.20", InstanceName::Process { pid: 12345, nonce: 88170312541215 }, None).unwrap();
//! assert_eq!(id.as_str(), "192.168.1.20@12345#88170312541215");
//! let fixed = ClientId::build("10.0.0.1", InstanceName::Named("DEFAULT"), Some("unit1")).unwrap();
//! assert_eq!(fixed.as_str(), "10.0.0.1@DEFAULT@unit1");
//! ```

use core::fmt::Write;

use crate::error::EncodeError;

/// Longest client id kept.
pub const CLIENT_ID_CAPACITY: usize = 160;

/// How the instance-name part is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceName<'a> {
    /// Java's replacement of `DEFAULT`: `<pid>#<nonce>` (Java uses `System.nanoTime()`
    /// at start). Producers and clustering consumers.
    Process {
        /// Process id.
        pid: u32,
        /// A per-start value (e.g. a monotonic nanosecond reading).
        nonce: u64,
    },
    /// A configured name, used as is (broadcasting consumers keep `DEFAULT`, so their
    /// id — and their local offset file — is stable across restarts).
    Named(&'a str),
}

/// A client id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(heapless::String<CLIENT_ID_CAPACITY>);

impl ClientId {
    /// Build `<ip>@<instance>[@<unit>]` (a blank unit name is left out, as in Java).
    pub fn build(
        ip: &str,
        instance: InstanceName<'_>,
        unit: Option<&str>,
    ) -> Result<Self, EncodeError> {
        let mut s = heapless::String::new();
        let r = match instance {
            InstanceName::Process { pid, nonce } => write!(s, "{ip}@{pid}#{nonce}"),
            InstanceName::Named(name) => write!(s, "{ip}@{name}"),
        };
        let r = r.and_then(|()| match unit.map(str::trim) {
            Some(u) if !u.is_empty() => write!(s, "@{u}"),
            _ => Ok(()),
        });
        r.map_err(|_| EncodeError::CapacityExceeded {
            what: "client id",
            capacity: CLIENT_ID_CAPACITY as u32,
        })?;
        Ok(ClientId(s))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Display for ClientId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}
