//! The consumer side of the client engine: what a push or pull consumer computes for
//! itself, driven by the routes, consumer lists and bytes given to it
//! (behaviour.md §4–§5).
//!
//! - [`allocate`]: the rebalance queue allocation strategies, bit-identical to Java's
//!   (`AllocateMessageQueueStrategy` implementations), so a Rust member of a consumer
//!   group agrees with its Java peers on who owns which queue.

pub mod allocate;
