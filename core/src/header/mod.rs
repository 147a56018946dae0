//! Typed `extFields` headers for every command a producer, a consumer and a small admin
//! tool use (wire.md §6).
//!
//! Each header is a plain struct with borrowed strings ([`Text`]) and integers. It
//! encodes through [`EncodeFields`](crate::ext::EncodeFields) (so it is written once for
//! JSON and binary headers) and decodes through [`DecodeFields`](crate::ext::DecodeFields)
//! in one pass over the fields; a missing required field is [`DecodeError::MissingField`]
//! naming the wire key, an unparsable value is [`DecodeError::InvalidField`]. Unknown
//! keys are ignored, as Java ignores them.
//!
//! Headers are grouped by protocol area: [`namesrv`], [`send`], [`pull`], [`offset`],
//! [`client`], [`transaction`], [`broker_request`] (broker → client requests),
//! [`query`], [`pop`] and [`admin`]; everything is re-exported here.
//!
//! Commands without header fields use [`EmptyFields`](crate::ext::EmptyFields) (Java
//! sends `"extFields":{}`) or [`NoFields`](crate::ext::NoFields) (no `extFields` key):
//!
//! | command | fields |
//! |---|---|
//! | HEART_BEAT (34) request | `EmptyFields`; body HeartbeatData |
//! | LOCK_BATCH_MQ (41) / UNLOCK_BATCH_MQ (42) | `EmptyFields`; body Lock/UnlockBatchRequestBody |
//! | BATCH_ACK_MESSAGE (200151) | `EmptyFields`; body BatchAckMessageRequestBody |
//! | GET_BROKER_CLUSTER_INFO (106) | `NoFields` |
//! | GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206) | `NoFields` |
//!
//! Many 5.x request headers inherit an optional `bname` (the target broker name) that
//! Java fills in; the client → broker headers here carry it as `broker_name`.
//!
//! ```
//! use rocketmq_proto::header::GetRouteInfoRequest;
//! let req = GetRouteInfoRequest { topic: "TopicTest".into(), accept_standard_json_only: Some(true) };
//! # let _ = req;
//! ```

use crate::error::DecodeError;
use crate::ext::FieldValue;
use crate::text::Text;

pub mod admin;
pub mod broker_request;
pub mod client;
pub mod namesrv;
pub mod offset;
pub mod pop;
pub mod pull;
pub mod query;
pub mod send;
pub mod transaction;

pub use admin::*;
pub use broker_request::*;
pub use client::*;
pub use namesrv::*;
pub use offset::*;
pub use pop::*;
pub use pull::*;
pub use query::*;
pub use send::*;
pub use transaction::*;

/// A type a header field can have.
pub trait FieldType<'a>: Sized {
    /// What a parse failure says was expected.
    const EXPECTED: &'static str;
    /// Parse the wire string.
    fn parse(v: Text<'a>) -> Option<Self>;
    /// The value to write.
    fn to_value(&self) -> FieldValue<'_>;
}

impl<'a> FieldType<'a> for Text<'a> {
    const EXPECTED: &'static str = "string";
    fn parse(v: Text<'a>) -> Option<Self> {
        Some(v)
    }
    fn to_value(&self) -> FieldValue<'_> {
        FieldValue::Text(*self)
    }
}

impl FieldType<'_> for i32 {
    const EXPECTED: &'static str = "i32";
    fn parse(v: Text<'_>) -> Option<Self> {
        v.parse_i32()
    }
    fn to_value(&self) -> FieldValue<'_> {
        FieldValue::I32(*self)
    }
}

impl FieldType<'_> for i64 {
    const EXPECTED: &'static str = "i64";
    fn parse(v: Text<'_>) -> Option<Self> {
        v.parse_i64()
    }
    fn to_value(&self) -> FieldValue<'_> {
        FieldValue::I64(*self)
    }
}

impl FieldType<'_> for bool {
    const EXPECTED: &'static str = "bool";
    /// Java's `Boolean.parseBoolean`: anything but `true` (any case) is false.
    fn parse(v: Text<'_>) -> Option<Self> {
        Some(v.parse_bool())
    }
    fn to_value(&self) -> FieldValue<'_> {
        FieldValue::Bool(*self)
    }
}

/// Parse one field value, naming the field on failure.
#[doc(hidden)]
pub fn parse_field<'a, T: FieldType<'a>>(v: Text<'a>, key: &'static str) -> Result<T, DecodeError> {
    T::parse(v).ok_or(DecodeError::InvalidField {
        field: key,
        expected: T::EXPECTED,
    })
}

/// Defines a typed header: the struct, its [`EncodeFields`] (fields written in
/// declaration order) and its [`DecodeFields`] (one pass, unknown keys ignored,
/// last occurrence wins).
///
/// Each field is `name: req Type = "wireKey"` (required: the struct field is `Type`) or
/// `name: opt Type = "wireKey"` (optional: `Option<Type>`).
#[macro_export]
#[doc(hidden)]
macro_rules! ext_header {
    (
        $(#[$meta:meta])*
        pub struct $name:ident $(<$lt:lifetime>)? {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $req:ident $ty:ty = $key:literal
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name $(<$lt>)? {
            $(
                $(#[$fmeta])*
                #[doc = concat!("\n\nWire key: `", $key, "`.")]
                pub $field: $crate::ext_header!(@ty $req $ty),
            )*
        }

        impl $(<$lt>)? $crate::ext::EncodeFields for $name $(<$lt>)? {
            #[allow(unused_variables)]
            fn encode_fields<'s, S: $crate::ext::FieldSink<'s> + ?Sized>(&'s self, sink: &mut S) {
                $( $crate::ext_header!(@put $req sink self.$field, $key); )*
            }
        }

        impl<'a> $crate::ext::DecodeFields<'a> for $name $(<$lt>)? {
            #[allow(unused_mut)]
            fn decode_fields(fields: &$crate::ext::ExtFields<'a>) -> Result<Self, $crate::error::DecodeError> {
                $( let mut $field: Option<$ty> = None; )*
                // Inlined into each of the map's forms' loops (see `try_for_each`):
                // called, the value came in through memory and stalled its copy.
                fields.try_for_each(#[cfg_attr(not(rmq_size_opt), inline(always))] |k, v| {
                    // Every wire key is plain ASCII; an escaped key is none of ours.
                    let Some(k) = k.as_str() else { return Ok(()) };
                    match k {
                        $( $key => $field = Some($crate::header::parse_field(v, $key)?), )*
                        _ => { let _ = v; }
                    }
                    Ok::<(), $crate::error::DecodeError>(())
                })?;
                Ok(Self { $( $field: $crate::ext_header!(@take $req $field, $key), )* })
            }
        }
    };
    (@ty req $ty:ty) => { $ty };
    (@ty opt $ty:ty) => { Option<$ty> };
    (@put req $sink:ident $v:expr, $key:literal) => {
        $sink.field(const { $crate::text::Text::key($key) }, $crate::header::FieldType::to_value(&$v))
    };
    (@put opt $sink:ident $v:expr, $key:literal) => {
        if let Some(v) = &$v {
            $sink.field(const { $crate::text::Text::key($key) }, $crate::header::FieldType::to_value(v))
        }
    };
    (@take req $f:ident, $key:literal) => { $f.ok_or($crate::error::DecodeError::MissingField($key))? };
    (@take opt $f:ident, $key:literal) => { $f };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::{DecodeFields, EncodeFields, ExtFields, FieldSink};
    use crate::json::Scanner;

    #[test]
    fn macro_header_round_trips_and_names_missing_fields() {
        struct Pairs<'x>(heapless::Vec<(Text<'x>, FieldValue<'x>), 8>);
        impl<'s> FieldSink<'s> for Pairs<'s> {
            fn field(&mut self, key: Text<'s>, value: FieldValue<'s>) {
                let _ = self.0.push((key, value));
            }
        }
        let req = GetRouteInfoRequest {
            topic: Text::new("T"),
            accept_standard_json_only: Some(true),
        };
        let mut p = Pairs(heapless::Vec::new());
        req.encode_fields(&mut p);
        assert_eq!(p.0.len(), 2);

        let doc = br#"{"topic":"T","acceptStandardJsonOnly":"true","x":"y"}"#;
        let f = ExtFields::from_json(&mut Scanner::new(doc)).unwrap();
        assert_eq!(GetRouteInfoRequest::decode_fields(&f).unwrap(), req);

        let doc = br#"{"acceptStandardJsonOnly":"true"}"#;
        let f = ExtFields::from_json(&mut Scanner::new(doc)).unwrap();
        assert_eq!(
            GetRouteInfoRequest::decode_fields(&f),
            Err(DecodeError::MissingField("topic"))
        );
        let _: &dyn Fn() -> bool = &|| EncodeFields::has_ext_fields(&req);
    }
}
