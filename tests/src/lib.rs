//! Shared helpers for the test suites: loading the captured frames and vectors, a
//! deterministic NameServer/broker simulation ([`sim`]) for engine tests, and a
//! fault-injecting TCP proxy ([`fault`]) for tests against real servers.

pub mod drive;
pub mod fault;
pub mod sim;
