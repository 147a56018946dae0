//! Shared helpers for the test suites: loading the captured frames and vectors.
