//! The session filesystem: a host-implemented store for session state (the official
//! `sessionFs`), so a session's `events.jsonl`, `workspace.yaml`, checkpoints … live wherever the
//! host keeps them (a database, an object store shared by every backend instance).
//!
//! The client registers itself as the provider (`sessionFs.setProvider`) on every connection;
//! the CLI then sends `sessionFs.<operation>` requests for each session, which reach the
//! session's `on_session_fs` handler as `{operation, path, …}`. The host answers in the plain
//! form of each operation and the core writes the wire form:
//!
//! | operation | params | host answer | wire result |
//! |---|---|---|---|
//! | `readFile` | `path` | the content (string) | `{content}` |
//! | `writeFile`, `appendFile` | `path, content, mode?` | anything | `null` |
//! | `exists` | `path` | a boolean | `{exists}` |
//! | `stat` | `path` | `{isFile, isDirectory, size, mtime, birthtime}` (times: ISO text or Unix ms) | the same, times as ISO text |
//! | `mkdir` | `path, recursive?, mode?` | anything | `null` |
//! | `readdir` | `path` | `[name]` | `{entries}` |
//! | `readdirWithTypes` | `path` | `[{name, type: "file"\|"directory"}]` | `{entries}` |
//! | `rm` | `path, recursive?, force?` | anything | `null` |
//! | `rename` | `src, dest` | anything | `null` |
//! | `sqliteQuery`, `sqliteTransaction`, `sqliteExists` | as the CLI sends them | the wire result | as is |
//!
//! Errors are data, not JSON-RPC errors: a host answer `{"error": {"code": "ENOENT", message}}`
//! is passed on (with the empty result its operation needs); a failed handler becomes
//! `{code: "UNKNOWN", message}`, except that a message starting with `ENOENT` keeps that code.

use crate::error::{Error, Result};
use serde_json::{Value, json};

/// The client's `sessionFs` option.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionFsConfig {
    /// The working directory sessions start in (provider conventions).
    pub initial_cwd: String,
    /// Where session state lives in the provider's namespace (e.g. `/session-state`).
    pub session_state_path: String,
    /// `posix` or `windows`.
    pub conventions: String,
    /// The provider also answers `sqlite*` operations.
    pub sqlite: bool,
}

impl SessionFsConfig {
    /// From JSON: `{initialCwd, sessionStatePath, conventions, capabilities?: {sqlite?}}`.
    pub fn from_json(v: &Value) -> Result<SessionFsConfig> {
        let Value::Object(m) = v else {
            return Err(Error::config(format!("client option `sessionFs` must be an object, got {v}")));
        };
        let mut initial_cwd = None;
        let mut state = None;
        let mut conventions = None;
        let mut sqlite = false;
        for (k, v) in m {
            match (crate::config::camel_key(k).as_str(), v) {
                ("initialCwd", Value::String(s)) => initial_cwd = Some(s.clone()),
                ("sessionStatePath", Value::String(s)) => state = Some(s.clone()),
                ("conventions", Value::String(s)) => conventions = Some(s.clone()),
                ("capabilities", Value::Object(c)) => {
                    sqlite = c.get("sqlite").and_then(Value::as_bool).unwrap_or(false);
                }
                ("capabilities", Value::Null) => {}
                (key @ ("initialCwd" | "sessionStatePath" | "conventions" | "capabilities"), other) => {
                    return Err(Error::config(format!("sessionFs option `{key}` has the wrong type: {other}")));
                }
                _ => {
                    return Err(Error::config(format!(
                        "unknown sessionFs option `{k}` (initialCwd, sessionStatePath, conventions, capabilities)"
                    )));
                }
            }
        }
        let need = |v: Option<String>, k: &str| {
            v.filter(|s| !s.is_empty()).ok_or_else(|| Error::config(format!("sessionFs.{k} is required")))
        };
        let conventions = conventions.unwrap_or_else(|| "posix".into());
        if !matches!(conventions.as_str(), "posix" | "windows") {
            return Err(Error::config(format!("sessionFs.conventions must be posix or windows, got {conventions:?}")));
        }
        Ok(SessionFsConfig {
            initial_cwd: need(initial_cwd, "initialCwd")?,
            session_state_path: need(state, "sessionStatePath")?,
            conventions,
            sqlite,
        })
    }

    /// The `sessionFs.setProvider` params.
    pub(crate) fn set_provider_params(&self) -> Value {
        let mut p = json!({
            "initialCwd": self.initial_cwd, "sessionStatePath": self.session_state_path,
            "conventions": self.conventions,
        });
        if self.sqlite {
            p["capabilities"] = json!({"sqlite": true});
        }
        p
    }
}

/// The operations the CLI sends (`sessionFs.<operation>`).
pub const OPERATIONS: [&str; 13] = [
    "readFile",
    "writeFile",
    "appendFile",
    "exists",
    "stat",
    "mkdir",
    "readdir",
    "readdirWithTypes",
    "rm",
    "rename",
    "sqliteQuery",
    "sqliteTransaction",
    "sqliteExists",
];

fn error_of(message: &str) -> Value {
    let code = if message.starts_with("ENOENT") { "ENOENT" } else { "UNKNOWN" };
    json!({"code": code, "message": message})
}

/// An answer `{"error": {...}}` (and nothing else) is an error the host reports as data.
fn as_error(v: &Value) -> Option<Value> {
    let o = v.as_object()?;
    if o.len() != 1 {
        return None;
    }
    let e = o.get("error")?;
    Some(match e {
        Value::Object(_) => {
            let mut e = e.clone();
            if e.get("code").and_then(Value::as_str).is_none() {
                e["code"] = json!("UNKNOWN");
            }
            e
        }
        Value::String(s) => error_of(s),
        _ => return None,
    })
}

/// Unix ms (number) or text → ISO-8601 text.
fn iso_time(v: Option<&Value>) -> Value {
    match v {
        Some(Value::Number(n)) => json!(crate::reaper::format_rfc3339_ms(n.as_f64().unwrap_or(0.0) as i64)),
        Some(Value::String(s)) => json!(s),
        _ => json!(crate::reaper::format_rfc3339_ms(0)),
    }
}

/// The wire result of `operation` for the host's answer (or its failure message).
pub(crate) fn wire_result(operation: &str, answer: std::result::Result<Value, String>) -> Value {
    let (value, error) = match answer {
        Ok(v) => match as_error(&v) {
            Some(e) => (Value::Null, Some(e)),
            None => (v, None),
        },
        Err(msg) => (Value::Null, Some(error_of(&msg))),
    };
    let with_error = |mut ok: Value| {
        if let Some(e) = &error {
            ok["error"] = e.clone();
        }
        ok
    };
    match operation {
        "readFile" => with_error(json!({"content": value.as_str().unwrap_or_default()})),
        "exists" | "sqliteExists" => {
            let b = match &value {
                Value::Bool(b) => *b,
                Value::Object(o) => o.get("exists").and_then(Value::as_bool).unwrap_or(false),
                _ => false,
            };
            json!({"exists": b && error.is_none()})
        }
        "stat" => {
            let b = |k: &str| value.get(k).and_then(Value::as_bool).unwrap_or(false);
            with_error(json!({
                "isFile": b("isFile"), "isDirectory": b("isDirectory"),
                "size": value.get("size").and_then(Value::as_u64).unwrap_or(0),
                "mtime": iso_time(value.get("mtime")), "birthtime": iso_time(value.get("birthtime")),
            }))
        }
        "readdir" | "readdirWithTypes" => {
            let entries = match &value {
                Value::Array(a) => Value::Array(a.clone()),
                Value::Object(o) => o.get("entries").cloned().unwrap_or_else(|| json!([])),
                _ => json!([]),
            };
            with_error(json!({"entries": entries}))
        }
        "sqliteQuery" | "sqliteTransaction" => match error {
            Some(e) if operation == "sqliteQuery" => json!({"rows": [], "columns": [], "rowsAffected": 0, "error": e}),
            Some(e) => json!({"results": [], "error": e}),
            None => value,
        },
        // writeFile, appendFile, mkdir, rm, rename: nothing, or the error.
        _ => error.unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_json() {
        let c = SessionFsConfig::from_json(
            &json!({"initialCwd": "/w", "session_state_path": "/s", "conventions": "posix"}),
        )
        .unwrap();
        assert_eq!(
            c.set_provider_params(),
            json!({"initialCwd": "/w", "sessionStatePath": "/s", "conventions": "posix"})
        );
        for bad in [
            json!({"initialCwd": "/w"}),
            json!({"initialCwd": "/w", "sessionStatePath": "/s", "conventions": "dos"}),
            json!({"initialCwd": 1, "sessionStatePath": "/s"}),
            json!({"x": 1}),
            json!("a"),
        ] {
            assert_eq!(SessionFsConfig::from_json(&bad).unwrap_err().kind(), crate::ErrorKind::InvalidConfig, "{bad}");
        }
    }

    #[test]
    fn wire_results() {
        assert_eq!(wire_result("readFile", Ok(json!("abc"))), json!({"content": "abc"}));
        assert_eq!(
            wire_result("readFile", Ok(json!({"error": {"code": "ENOENT", "message": "no"}}))),
            json!({"content": "", "error": {"code": "ENOENT", "message": "no"}})
        );
        assert_eq!(wire_result("writeFile", Ok(Value::Null)), Value::Null);
        assert_eq!(wire_result("mkdir", Err("boom".into())), json!({"code": "UNKNOWN", "message": "boom"}));
        assert_eq!(wire_result("rm", Err("ENOENT: gone".into()))["code"], "ENOENT");
        assert_eq!(wire_result("exists", Ok(json!(true))), json!({"exists": true}));
        assert_eq!(wire_result("exists", Err("x".into())), json!({"exists": false}));
        let st = wire_result(
            "stat",
            Ok(json!({"isFile": true, "size": 3, "mtime": 0, "birthtime": "2026-01-01T00:00:00.000Z"})),
        );
        assert_eq!(st["mtime"], "1970-01-01T00:00:00.000Z");
        assert_eq!(st["birthtime"], "2026-01-01T00:00:00.000Z");
        assert_eq!(st["isDirectory"], false);
        assert_eq!(wire_result("readdir", Ok(json!(["a"]))), json!({"entries": ["a"]}));
        assert_eq!(wire_result("readdirWithTypes", Err("x".into()))["entries"], json!([]));
    }
}
