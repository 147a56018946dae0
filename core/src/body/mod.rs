//! JSON bodies (wire.md §7).
//!
//! Decoding uses the lenient [`Scanner`](crate::json::Scanner), because servers send
//! fastjson's non-standard forms: bare-number map keys (`{0:"h:p"}`), objects as map
//! keys (`{{"brokerName":…}:100}`), `topicSynFlag` for `topicSysFlag` (servers ≤ 4.8)
//! and explicit `null`s. Keys may come in any order and unknown keys are skipped, as
//! fastjson does. An explicit `null` reads like an absent field.
//!
//! Decoded bodies borrow their strings from the body bytes ([`Text`](crate::text::Text)) and their lists
//! are generic over a [`Collections`](crate::collections::Collections) family, so one
//! decoder serves both forms:
//!
//! - `Fixed<N>`: every list holds at most `N` entries, no allocator; a longer list is
//!   `DecodeError::CapacityExceeded { what, .. }` naming the JSON list;
//! - `Growable` (feature `alloc`): `Vec`s.
//!
//! Every decodable body has `decode(body: &[u8])` (the whole document) and `scan`
//! (one value at a [`Scanner`](crate::json::Scanner)'s position, to embed in other
//! bodies). Bodies the client sends implement [`EncodeBody`], which writes standard
//! JSON with Java's property names in fastjson's alphabetical order.
//!
//! ```
//! use rocketmq_proto::body::{ConsumerIdList, TopicRouteData};
//! use rocketmq_proto::collections::Fixed;
//!
//! let body = br#"{"consumerIdList":["a@1","b@2","c@3"]}"#;
//! assert_eq!(ConsumerIdList::<Fixed<4>>::decode(body).unwrap().consumer_id_list.len(), 3);
//! let err = ConsumerIdList::<Fixed<2>>::decode(body).unwrap_err();
//! assert!(matches!(err, rocketmq_proto::DecodeError::CapacityExceeded { what: "consumerIdList", capacity: 2 }));
//!
//! # #[cfg(feature = "alloc")] {
//! use rocketmq_proto::collections::Growable;
//! let ids = ConsumerIdList::<Growable>::decode(body).unwrap();
//! assert_eq!(ids.consumer_id_list.len(), 3);
//! assert_eq!(ids.consumer_id_list[2], "c@3");
//! # }
//! ```

/// `PartialEq` between the same body type borrowed for different lifetimes (plus `Eq`).
///
/// Types whose fields are `C::List<…>` are invariant in their lifetime (a projection
/// through a generic associated type is), so a derived `PartialEq` would force a decoded
/// body and the value it is compared with to borrow for exactly the same lifetime.
macro_rules! eq_across_lifetimes {
    ($ty:ident { plain: [$($plain:ident),*], lists: [$($list:ident),*] }) => {
        impl<'a, 'b, C: crate::collections::Collections> PartialEq<$ty<'b, C>> for $ty<'a, C> {
            fn eq(&self, other: &$ty<'b, C>) -> bool {
                // Exhaustive: a field added to the struct but not here fails to compile.
                let $ty { $($plain: _,)* $($list: _,)* } = self;
                true $(&& self.$plain == other.$plain)* $(&& *self.$list == *other.$list)*
            }
        }
        impl<C: crate::collections::Collections> Eq for $ty<'_, C> {}
    };
}

mod assignment;
mod cluster;
mod consumer;
mod enums;
mod heartbeat;
mod lock;
mod message_queue;
mod reset_offset;
mod route;
pub(crate) mod scan;

pub use assignment::{
    MessageQueueAssignment, QueryAssignmentRequestBody, QueryAssignmentResponseBody,
};
pub use cluster::{ClusterBrokers, ClusterInfo};
pub use consumer::{ConsumerIdList, TopicList};
pub use enums::{
    ConsumeFromWhere, ConsumeType, ExpressionType, MessageModel, MessageRequestMode, WireEnum,
};
pub use heartbeat::{ConsumerData, HeartbeatData, ProducerData, SubscriptionData};
pub use lock::{LockBatchRequestBody, LockBatchResponseBody, UnlockBatchRequestBody};
pub use message_queue::{java_cmp, MessageQueue};
pub use reset_offset::{MessageQueueOffset, ResetOffsetBody};
pub use route::{
    BrokerAddr, BrokerData, Perm, PublishQueues, QueueData, SubscribeQueues, TopicRouteData,
    PERM_INHERIT, PERM_PRIORITY, PERM_READ, PERM_WRITE,
};
pub use scan::EncodeBody;
pub(crate) use scan::ErasedBody;
