//! The typed protocol: the model read from the CLI's schemas, and one emitter per language.

pub mod emit;
pub mod model;

use model::Model;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The npm package the schemas come from (later CLI packages ship none; protocol version 3).
pub const SCHEMA_SOURCE: &str = "@github/copilot-linux-x64@1.0.84-4 (api.schema.json sha256 8939903…877e, session-events.schema.json sha256 ce6ea92…b545)";

/// Fetches (or reuses) the pinned schemas with `tests/fetch-schemas.sh` and builds the model.
pub fn load(root: &Path) -> Model {
    let dir = match std::env::var_os("COPILOT_SCHEMAS_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let out = Command::new("bash")
                .arg(root.join("tests/fetch-schemas.sh"))
                .output()
                .unwrap_or_else(|e| panic!("run tests/fetch-schemas.sh: {e}"));
            if !out.status.success() {
                panic!("tests/fetch-schemas.sh failed:\n{}", String::from_utf8_lossy(&out.stderr));
            }
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        }
    };
    let read = |f: &str| -> serde_json::Value {
        let p = dir.join(f);
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", p.display()))
    };
    // Our own hook schema (committed): the hook inputs and outputs the CLI's schemas leave opaque.
    let hooks_path = root.join("xtask/protocol/hooks.schema.json");
    let hooks: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&hooks_path).unwrap_or_else(|e| panic!("read {}: {e}", hooks_path.display())),
    )
    .unwrap_or_else(|e| panic!("parse {}: {e}", hooks_path.display()));
    model::build(&read("api.schema.json"), &read("session-events.schema.json"), &hooks, SCHEMA_SOURCE.to_string())
}

/// Counts for the notes and the README: `codegen --stats`.
pub fn stats(m: &Model) -> String {
    use model::{Scope, TypeDef};
    let count = |s| m.methods_of(s).count();
    let (mut st, mut en, mut un, mut al) = (0, 0, 0, 0);
    for t in m.types.values() {
        match t {
            TypeDef::Struct(_) => st += 1,
            TypeDef::Enum(_) => en += 1,
            TypeDef::Union(_) => un += 1,
            TypeDef::Alias { .. } => al += 1,
        }
    }
    let mut s = format!(
        "methods: server {} · session {} · client-session {} · client-global {}\nevents: {}\nhooks: {}\ntypes: {} ({} structs, {} enums, {} unions, {} aliases)\nleft untyped (JSON values): {}\n",
        count(Scope::Server),
        count(Scope::Session),
        count(Scope::ClientSession),
        count(Scope::ClientGlobal),
        m.events.len(),
        m.hooks.len(),
        m.types.len(),
        st,
        en,
        un,
        al,
        m.untyped.len()
    );
    for u in &m.untyped {
        s += &format!("  {}: {}\n", u.at, u.why);
    }
    s
}
