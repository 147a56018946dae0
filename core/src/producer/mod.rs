//! The producer's decisions, written once for every adapter (behaviour.md §2):
//! validation before any I/O ([`validate`]), queue selection ([`select`]) and the
//! Java retry classification ([`retry`]).

pub mod retry;
pub mod select;
pub mod validate;
