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
        // Pieces pushed one by one (numbers through itoa), not `write!`: a firmware
        // then links none of core::fmt's machinery for it.
        let (mut pid_text, mut nonce_text) = (itoa::Buffer::new(), itoa::Buffer::new());
        let (name, nonce) = match instance {
            InstanceName::Process { pid, nonce } => {
                (pid_text.format(pid), Some(nonce_text.format(nonce)))
            }
            InstanceName::Named(name) => (name, None),
        };
        let unit = unit.map(str::trim).filter(|u| !u.is_empty());
        let mut s = heapless::String::new();
        let fits = [ip, "@", name].into_iter().all(|p| s.push_str(p).is_ok())
            && nonce.is_none_or(|n| s.push('#').is_ok() && s.push_str(n).is_ok())
            && unit.is_none_or(|u| s.push('@').is_ok() && s.push_str(u).is_ok());
        if !fits {
            return Err(EncodeError::CapacityExceeded {
                what: "client id",
                capacity: CLIENT_ID_CAPACITY as u32,
            });
        }
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

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn ids_are_built_as_java_writes_them() {
        let id = |ip, instance, unit| ClientId::build(ip, instance, unit).map(|c| c.0);
        let process = InstanceName::Process {
            pid: 4_294_967_295,
            nonce: u64::MAX,
        };
        assert_eq!(
            id("10.0.0.1", process, None).unwrap(),
            "10.0.0.1@4294967295#18446744073709551615"
        );
        assert_eq!(
            id("10.0.0.1", process, Some("  u  ")).unwrap(),
            "10.0.0.1@4294967295#18446744073709551615@u"
        );
        assert_eq!(
            id("h", InstanceName::Named("DEFAULT"), Some(" \t")).unwrap(),
            "h@DEFAULT"
        );
        let long = "x".repeat(CLIENT_ID_CAPACITY);
        assert!(matches!(
            id(&long, InstanceName::Named("n"), None),
            Err(EncodeError::CapacityExceeded { .. })
        ));
        let almost = "x".repeat(CLIENT_ID_CAPACITY - 2);
        assert_eq!(
            id(&almost, InstanceName::Named("n"), None).unwrap().len(),
            CLIENT_ID_CAPACITY
        );
        assert!(id(&almost, InstanceName::Named("n"), Some("u")).is_err());
    }
}
