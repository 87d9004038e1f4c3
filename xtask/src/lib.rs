//! Project tasks (library part): the protocol model read from the CLI's schemas, shared by the
//! `xtask` binary (`codegen`) and the per-language development binaries (`codegen-<lang>`).

pub mod protocol;
