//! Helpers for system tests.
