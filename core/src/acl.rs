//! ACL request signing (wire.md §9).
