//! Configuration: the options of clients, sessions and messages (`options`), their wire
//! encoding (`wire`), the JSON forms the bindings pass (`json`), and the typed results of
//! client-level calls (`results`).

pub(crate) mod empty_mode;
mod json;
mod options;
mod results;
mod wire;

pub use json::{camel_key, tool_from_json};
pub use options::*;
pub use results::*;
