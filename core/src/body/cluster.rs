//! `ClusterInfo` (GET_BROKER_CLUSTER_INFO response, wire.md §7.3). Always written with
//! bare numeric `brokerAddrs` keys, on every server version.

use crate::collections::{self, Collections};
use crate::error::DecodeError;
use crate::json::{Key, Scanner};
use crate::text::Text;

use super::route::BrokerData;
use super::scan::{self, R};

/// One cluster and the names of its broker groups (an entry of `clusterAddrTable`).
#[derive(Debug, Clone)]
pub struct ClusterBrokers<'a, C: Collections> {
    /// The cluster name (the map key).
    pub cluster_name: Text<'a>,
    /// Its broker names.
    pub broker_names: C::List<Text<'a>>,
}

eq_across_lifetimes!(ClusterBrokers {
    plain: [cluster_name],
    lists: [broker_names]
});

/// Brokers and clusters known to a NameServer (`ClusterInfo`).
///
/// ```
/// use rocketmq_proto::body::ClusterInfo;
/// use rocketmq_proto::collections::Fixed;
/// let body = br#"{"brokerAddrTable":{"b":{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"b","cluster":"c"}},"clusterAddrTable":{"c":["b"]}}"#;
/// let info = ClusterInfo::<Fixed<4>>::decode(body).unwrap();
/// assert_eq!(info.broker_addr_table[0].master_addr().unwrap(), "10.0.0.1:10911");
/// assert_eq!(info.cluster_addr_table[0].broker_names[0], "b");
/// ```
#[derive(Debug, Clone)]
pub struct ClusterInfo<'a, C: Collections> {
    /// `brokerAddrTable`: `{brokerName: BrokerData}`, kept as the list of values (a
    /// value without `brokerName` takes the key).
    pub broker_addr_table: C::List<BrokerData<'a, C>>,
    /// `clusterAddrTable`: `{clusterName: [brokerName]}`.
    pub cluster_addr_table: C::List<ClusterBrokers<'a, C>>,
}

eq_across_lifetimes!(ClusterInfo {
    plain: [],
    lists: [broker_addr_table, cluster_addr_table]
});

impl<'a, C: Collections> ClusterInfo<'a, C> {
    /// Decode a GET_BROKER_CLUSTER_INFO response body.
    pub fn decode(body: &'a [u8]) -> R<Self> {
        scan::whole(body, Self::scan)
    }

    /// Read a `ClusterInfo` object at the scanner's position.
    pub fn scan(s: &mut Scanner<'a>) -> R<Self> {
        let mut info = ClusterInfo {
            broker_addr_table: C::List::default(),
            cluster_addr_table: C::List::default(),
        };
        scan::fields(s, |s, k| {
            if k == "brokerAddrTable" {
                info.broker_addr_table = C::List::default();
                if s.null()? {
                    return Ok(());
                }
                scan::object(s, |s, key| {
                    let name = string_key(key, "brokerAddrTable")?;
                    if s.null()? {
                        return Ok(());
                    }
                    let b = BrokerData::scan_named(s, Some(name))?;
                    collections::push::<C, _>(&mut info.broker_addr_table, b, "brokerAddrTable")
                })
            } else if k == "clusterAddrTable" {
                info.cluster_addr_table = C::List::default();
                if s.null()? {
                    return Ok(());
                }
                scan::object(s, |s, key| {
                    let cluster_name = string_key(key, "clusterAddrTable")?;
                    let broker_names = scan::texts::<C>(s, "clusterAddrTable brokers")?;
                    let entry = ClusterBrokers {
                        cluster_name,
                        broker_names,
                    };
                    collections::push::<C, _>(
                        &mut info.cluster_addr_table,
                        entry,
                        "clusterAddrTable",
                    )
                })
            } else {
                s.skip_value()
            }
        })?;
        Ok(info)
    }

    /// The broker group named `broker_name`.
    pub fn broker(&self, broker_name: &str) -> Option<&BrokerData<'a, C>> {
        self.broker_addr_table
            .iter()
            .find(|b| b.broker_name == broker_name)
    }

    /// The broker names of cluster `cluster_name`.
    pub fn cluster(&self, cluster_name: &str) -> Option<&[Text<'a>]> {
        self.cluster_addr_table
            .iter()
            .find(|c| c.cluster_name == cluster_name)
            .map(|c| &c.broker_names[..])
    }
}

/// A map key that must be a string (a bare number is accepted as its literal text).
pub(crate) fn string_key<'a>(key: Key<'a>, field: &'static str) -> R<Text<'a>> {
    match key {
        Key::Str(t) => Ok(t),
        Key::Number(n) => Ok(Text::new(n)),
        Key::Object(_) => Err(DecodeError::InvalidField {
            field,
            expected: "string key",
        }),
    }
}
