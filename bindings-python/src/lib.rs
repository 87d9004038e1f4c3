//! Placeholder crate: this binding is built in its own issue; it only checks that the core links.
pub use copilot_core as core;
