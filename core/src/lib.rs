//! # rocketmq-proto
//!
//! A sans-IO, `#![no_std]` implementation of Apache RocketMQ's classic "remoting"
//! protocol (NameServer + Broker over TCP, as spoken by the Java 4.x/5.x client).
//!
//! This crate never does I/O, never reads a clock and never allocates unless the
//! `alloc` feature is on and a growable form is asked for. Callers own every buffer:
//! decoders borrow from the bytes they are given, encoders write into slices the caller
//! provides (or, with `alloc`, any `bytes::BufMut`).
//!
//! Layers, following the protocol's own concepts:
//! - [`frame`]: length-prefixed frames, incremental decoding with limits.
//! - [`command`]: the RemotingCommand header in JSON and binary form.
//! - [`codes`]: request, response and language codes that keep unknown values.
//! - [`ext`] and [`header`]: `extFields` and the typed headers of every command.
//! - [`body`]: JSON bodies (routes, heartbeats, locks, cluster info …).
//! - [`message`]: properties, stored-message records, ids, tags, compression, batches.
//! - [`acl`]: request signing.
//!
//! ```
//! use rocketmq_proto::codes::{RequestCode, SerializeType};
//! use rocketmq_proto::command::{Command, CommandEncoder, Header};
//! use rocketmq_proto::frame::{Decoded, FrameDecoder};
//! use rocketmq_proto::header::GetRouteInfoRequest;
//!
//! let mut buf = [0u8; 512];
//! let req = GetRouteInfoRequest { topic: "TopicTest".into(), accept_standard_json_only: Some(true) };
//! let n = CommandEncoder::new(SerializeType::Json)
//!     .encode(&mut buf, &Header::request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 1), &req, &[])
//!     .unwrap();
//! let Decoded::Frame { frame, .. } = FrameDecoder::new().decode(&buf[..n]).unwrap() else { unreachable!() };
//! let cmd = Command::decode(frame).unwrap();
//! let back: GetRouteInfoRequest = cmd.decode_fields().unwrap();
//! assert_eq!(back, req);
//! ```
//!
//! ## Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `std` | yes | `alloc`, and crc32fast's table-driven CRC |
//! | `alloc` | with `std` | growable collections, owned forms, zlib, the `bytes::BufMut` encoder |
//! | `lz4`, `zstd` | no | those body codecs |
//! | `acl` | yes | the engine signs requests (`engine::client::Config::credentials`) |
//! | `orderly` | yes | orderly consumption's broker locks (`ConsumerConfig::orderly`; refused with `CallError::Unsupported` without it) |
//! | `admin` | yes | answers to the broker's admin requests: running info, consume-directly, offset resets (without it: REQUEST_CODE_NOT_SUPPORTED, and a reset is not applied) |
//!
//! The last three cost flash whether used or not (the engine picks them at run time):
//! a device leaves them out with `default-features = false` (9.9 KiB on a Cortex-M3).
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod acl;
pub mod body;
pub mod codes;
pub mod collections;
pub mod command;
pub mod consumer;
pub mod engine;
pub mod error;
pub mod ext;
pub mod frame;
mod hash;
pub mod header;
pub mod json;
pub mod message;
pub mod namespace;
pub mod out;
pub mod producer;
mod sort;
pub mod text;

pub use codes::{LanguageCode, RequestCode, ResponseCode, SerializeType};
pub use command::{Command, CommandEncoder, Header};
pub use error::{Blame, DecodeError, EncodeError};
pub use frame::{Decoded, Frame, FrameDecoder};
pub use text::Text;
