//! Namespaces (behaviour.md §2.3, Java `NamespaceUtil`): a client configured with
//! namespace `N` sends topic `T` as `N%T` and group `G` as `N%G`, the retry and
//! dead-letter topics as `%RETRY%N%G` / `%DLQ%N%G`, and leaves system topics and groups
//! and names that already carry `N%` alone. What it hands back to the application is
//! unwrapped the same way.
//!
//! ```
//! use rocketmq_proto::namespace::{unwrap, wrap};
//! let w: heapless::String<64> = wrap("ns1", "TopicTest").unwrap();
//! assert_eq!(w, "ns1%TopicTest");
//! let r: heapless::String<64> = wrap("ns1", "%RETRY%CG").unwrap();
//! assert_eq!(r, "%RETRY%ns1%CG");
//! assert_eq!(wrap::<64>("ns1", "ns1%TopicTest").unwrap(), "ns1%TopicTest");
//! assert_eq!(wrap::<64>("ns1", "TBW102").unwrap(), "TBW102");
//! assert_eq!(unwrap::<64>("ns1", "%RETRY%ns1%CG").unwrap(), "%RETRY%CG");
//! assert_eq!(unwrap::<64>("ns1", "other%T").unwrap(), "other%T");
//! ```

/// `%RETRY%`: a consumer group's retry topic prefix.
pub const RETRY_PREFIX: &str = "%RETRY%";
/// `%DLQ%`: a consumer group's dead-letter topic prefix.
pub const DLQ_PREFIX: &str = "%DLQ%";

/// Topics Java treats as system topics (`TopicValidator.SYSTEM_TOPIC_SET`, plus every
/// `rmq_sys_` topic): never namespaced.
pub const SYSTEM_TOPICS: &[&str] = &[
    "TBW102",
    "SCHEDULE_TOPIC_XXXX",
    "BenchmarkTest",
    "RMQ_SYS_TRANS_HALF_TOPIC",
    "RMQ_SYS_TRACE_TOPIC",
    "RMQ_SYS_TRANS_OP_HALF_TOPIC",
    "TRANS_CHECK_MAX_TIME_TOPIC",
    "SELF_TEST_TOPIC",
    "OFFSET_MOVED_EVENT",
];

/// Whether Java leaves `resource` out of namespacing: a system topic or a system
/// consumer group (`CID_RMQ_SYS_…`).
pub fn is_system_resource(resource: &str) -> bool {
    SYSTEM_TOPICS.contains(&resource)
        || resource.starts_with("rmq_sys_")
        || resource.starts_with("CID_RMQ_SYS_")
}

/// `resource` without its `%RETRY%` / `%DLQ%` prefix, and that prefix.
fn split_prefix(resource: &str) -> (&'static str, &str) {
    if let Some(rest) = resource.strip_prefix(RETRY_PREFIX) {
        (RETRY_PREFIX, rest)
    } else if let Some(rest) = resource.strip_prefix(DLQ_PREFIX) {
        (DLQ_PREFIX, rest)
    } else {
        ("", resource)
    }
}

/// Whether the part after any retry/DLQ prefix starts with `namespace%`.
fn has_namespace(rest: &str, namespace: &str) -> bool {
    rest.strip_prefix(namespace)
        .is_some_and(|r| r.starts_with('%'))
}

/// `resource` as a client with `namespace` sends it (Java `wrapNamespace`); `None` if
/// the result does not fit `N` bytes. An empty namespace changes nothing.
pub fn wrap<const N: usize>(namespace: &str, resource: &str) -> Option<heapless::String<N>> {
    let (prefix, rest) = split_prefix(resource);
    if namespace.is_empty()
        || resource.is_empty()
        || is_system_resource(resource)
        || has_namespace(rest, namespace)
    {
        return heapless::String::try_from(resource).ok();
    }
    let mut s = heapless::String::new();
    s.push_str(prefix).ok()?;
    s.push_str(namespace).ok()?;
    s.push('%').ok()?;
    s.push_str(rest).ok()?;
    Some(s)
}

/// `resource` as the application knows it (Java `withoutNamespace(resource,
/// namespace)`): `namespace%` removed after any retry/DLQ prefix; other namespaces and
/// plain names are left as they are. `None` if it does not fit `N` bytes.
pub fn unwrap<const N: usize>(namespace: &str, resource: &str) -> Option<heapless::String<N>> {
    let (prefix, rest) = split_prefix(resource);
    let plain = match rest
        .strip_prefix(namespace)
        .and_then(|r| r.strip_prefix('%'))
    {
        Some(plain) if !namespace.is_empty() && !is_system_resource(resource) => plain,
        _ => return heapless::String::try_from(resource).ok(),
    };
    let mut s = heapless::String::new();
    s.push_str(prefix).ok()?;
    s.push_str(plain).ok()?;
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    type S = heapless::String<64>;

    #[test]
    fn java_examples() {
        // NamespaceUtil's javadoc cases.
        assert_eq!(
            unwrap::<64>("MQ_INST_XX1", "MQ_INST_XX1%Topic_XXX1").unwrap(),
            "Topic_XXX1"
        );
        assert_eq!(
            unwrap::<64>("", "MQ_INST_XX2%Topic_XXX2").unwrap(),
            "MQ_INST_XX2%Topic_XXX2"
        );
        assert_eq!(
            unwrap::<64>("MQ_INST_XX1", "%RETRY%MQ_INST_XX1%GID_XXX1").unwrap(),
            "%RETRY%GID_XXX1"
        );
        assert_eq!(
            unwrap::<64>("MQ_INST_XX3", "%RETRY%MQ_INST_XX2%GID_XXX2").unwrap(),
            "%RETRY%MQ_INST_XX2%GID_XXX2"
        );
        let w: S = wrap("n", "%DLQ%G").unwrap();
        assert_eq!(w, "%DLQ%n%G");
        assert_eq!(wrap::<64>("n", "").unwrap(), "");
        assert_eq!(wrap::<64>("n", "rmq_sys_x").unwrap(), "rmq_sys_x");
        assert_eq!(wrap::<64>("n", "CID_RMQ_SYS_a").unwrap(), "CID_RMQ_SYS_a");
        // A namespace that is only a prefix of the name's first part is not "already".
        assert_eq!(wrap::<64>("n", "nx%T").unwrap(), "n%nx%T");
        assert!(wrap::<8>("namespace", "topic").is_none());
    }

    #[test]
    fn round_trip() {
        for r in ["T", "%RETRY%G", "%DLQ%G", "a%b", "TBW102"] {
            let w: S = wrap("ns", r).unwrap();
            assert_eq!(unwrap::<64>("ns", &w).unwrap(), r, "{w}");
        }
    }
}
