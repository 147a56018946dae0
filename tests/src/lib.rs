//! Shared helpers for the test suites: loading the captured frames and vectors, and a
//! deterministic NameServer/broker simulation ([`sim`]) for engine tests.

pub mod drive;
pub mod sim;
