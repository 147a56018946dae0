//! NameServer requests: routes and KV config (wire.md §6.1, §6.16).
//!
//! GET_BROKER_CLUSTER_INFO (106) and GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206) carry no
//! fields: send them with [`NoFields`](crate::ext::NoFields).

use crate::ext_header;
use crate::text::Text;

ext_header! {
    /// GET_ROUTEINFO_BY_TOPIC (105) request, to a NameServer (wire.md §6.1). The
    /// response carries only a TopicRouteData body.
    ///
    /// ```
    /// use rocketmq_proto::header::GetRouteInfoRequest;
    /// let req = GetRouteInfoRequest { topic: "TopicTest".into(), accept_standard_json_only: None };
    /// assert_eq!(req.topic, "TopicTest");
    /// ```
    pub struct GetRouteInfoRequest<'a> {
        /// The topic.
        topic: req Text<'a> = "topic",
        /// Ask for standard JSON (NameServers ≥ 4.9.4).
        accept_standard_json_only: opt bool = "acceptStandardJsonOnly",
    }
}

ext_header! {
    /// GET_KV_CONFIG (101) request, to a NameServer (wire.md §6.16).
    pub struct GetKvConfigRequest<'a> {
        /// The config namespace.
        namespace: req Text<'a> = "namespace",
        /// The key within the namespace.
        key: req Text<'a> = "key",
    }
}

ext_header! {
    /// GET_KV_CONFIG (101) response (wire.md §6.16); Java leaves `value` out when the
    /// key is unknown (QUERY_NOT_FOUND).
    pub struct GetKvConfigResponse<'a> {
        /// The configured value.
        value: opt Text<'a> = "value",
    }
}
