//! JSON bodies (wire.md §7).
