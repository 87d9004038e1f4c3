//! UI elicitation (form dialogs) and the other broadcast requests a host answers by kind:
//! the reply parsers for elicitation, MCP OAuth and the GitHub token provider, and the
//! `session.ui` helpers (`elicitation`, `confirm`, `select`, `input`) every binding exposes
//! through [`crate::Session::ui`].

use crate::error::{Error, ErrorKind, Result};
use serde_json::{Map, Value, json};

/// A host's elicitation answer → `{action, content?}`: `{action, content?}` as is; a bare
/// `"accept"`/`"decline"`/`"cancel"`; another object = accepted with it as the content; null or
/// anything else = cancel.
pub fn elicitation_result(v: Value) -> Value {
    match v {
        Value::String(a) if matches!(a.as_str(), "accept" | "decline" | "cancel") => json!({"action": a}),
        Value::Object(o) => match o.get("action").and_then(Value::as_str) {
            Some(a @ ("accept" | "decline" | "cancel")) => {
                let mut r = json!({"action": a});
                if let Some(c) = o.get("content").filter(|c| c.is_object()) {
                    r["content"] = c.clone();
                }
                r
            }
            Some(_) => json!({"action": "cancel"}),
            None => json!({"action": "accept", "content": Value::Object(o)}),
        },
        _ => json!({"action": "cancel"}),
    }
}

/// A host's MCP OAuth answer → `{kind: "token", accessToken, …}` or `{kind: "cancelled"}`.
pub fn mcp_auth_result(v: Value) -> Value {
    match v {
        Value::String(t) if !t.is_empty() => json!({"kind": "token", "accessToken": t}),
        Value::Object(mut o) if o.get("accessToken").is_some_and(Value::is_string) => {
            o.insert("kind".into(), json!("token"));
            Value::Object(o)
        }
        _ => json!({"kind": "cancelled"}),
    }
}

/// How long a token the host returns without `expiresIn` is taken to live (8 h, the lifetime
/// of GitHub's user tokens). The CLI refreshes when one hour or less remains and needs more
/// than 3600 s.
pub const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 8 * 3600;

/// A host's GitHub token answer → `{kind: "token", accessToken, expiresIn, tokenType?}` or
/// `{kind: "cancelled"}`; a lifetime of 3600 s or less is an error (the CLI would refresh at once).
pub fn github_token_result(v: Value) -> Result<Value> {
    let (token, expires, token_type) = match v {
        Value::String(t) => (t, None, None),
        Value::Object(o) => match o.get("accessToken").and_then(Value::as_str) {
            Some(t) => (
                t.to_owned(),
                o.get("expiresIn").map(|e| {
                    e.as_u64().ok_or_else(|| {
                        Error::new(
                            ErrorKind::HandlerFailed,
                            format!("expiresIn must be a whole number of seconds, got {e}"),
                        )
                    })
                }),
                o.get("tokenType").and_then(Value::as_str).map(str::to_owned),
            ),
            None => return Ok(json!({"kind": "cancelled"})),
        },
        _ => return Ok(json!({"kind": "cancelled"})),
    };
    if token.is_empty() {
        return Ok(json!({"kind": "cancelled"}));
    }
    let expires = expires.transpose()?.unwrap_or(DEFAULT_TOKEN_LIFETIME_SECS);
    if expires <= 3600 {
        return Err(Error::new(
            ErrorKind::HandlerFailed,
            format!(
                "a GitHub token must live more than an hour (expiresIn {expires} s): the CLI refreshes tokens with an hour or less left"
            ),
        ));
    }
    let mut r = json!({"kind": "token", "accessToken": token, "expiresIn": expires});
    if let Some(t) = token_type {
        r["tokenType"] = json!(t);
    }
    Ok(r)
}

/// The `session.ui.elicitation` params and the reading of its answer for one helper.
pub(crate) struct UiCall {
    pub params: Value,
    read: fn(&Value) -> Value,
}

impl UiCall {
    pub fn read(&self, result: &Value) -> Value {
        (self.read)(result)
    }
}

fn accepted<'a>(r: &'a Value, key: &str) -> Option<&'a Value> {
    if r.get("action").and_then(Value::as_str) == Some("accept") { r.get("content")?.get(key) } else { None }
}

/// Builds the call of a `session.ui` helper: `elicitation {message, requestedSchema}` →
/// `{action, content?}`; `confirm {message}` → bool; `select {message, options}` → the choice or
/// null; `input {message, options?: {title, description, minLength, maxLength, format,
/// default}}` → the text or null.
pub(crate) fn ui_call(op: &str, params: &Value) -> Result<UiCall> {
    let o = params.as_object().cloned().unwrap_or_default();
    let message = match o.get("message") {
        Some(Value::String(m)) => m.clone(),
        _ => return Err(Error::config(format!("session.ui.{op} needs a `message` string"))),
    };
    let object = |props: Value, required: &str| json!({"type": "object", "properties": props, "required": [required]});
    let (schema, read): (Value, fn(&Value) -> Value) = match op {
        "elicitation" => {
            let schema = match o.get("requestedSchema") {
                Some(s @ Value::Object(_)) => s.clone(),
                _ => return Err(Error::config("session.ui.elicitation needs a `requestedSchema` object")),
            };
            (schema, |r| elicitation_result(r.clone()))
        }
        "confirm" => (object(json!({"confirmed": {"type": "boolean", "default": true}}), "confirmed"), |r| {
            json!(accepted(r, "confirmed") == Some(&Value::Bool(true)))
        }),
        "select" => {
            let options = match o.get("options") {
                Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_string) => a.clone(),
                _ => return Err(Error::config("session.ui.select needs `options`, a non-empty array of strings")),
            };
            (object(json!({"selection": {"type": "string", "enum": options}}), "selection"), |r| {
                accepted(r, "selection").filter(|v| v.is_string()).cloned().unwrap_or(Value::Null)
            })
        }
        "input" => {
            let mut field = Map::new();
            field.insert("type".into(), json!("string"));
            if let Some(Value::Object(opts)) = o.get("options") {
                for (k, v) in opts {
                    let k = crate::config::camel_key(k);
                    if matches!(k.as_str(), "title" | "description" | "minLength" | "maxLength" | "format" | "default")
                    {
                        field.insert(k, v.clone());
                    } else {
                        return Err(Error::config(format!(
                            "unknown input option `{k}` (title, description, minLength, maxLength, format, default)"
                        )));
                    }
                }
            }
            (object(json!({"value": field}), "value"), |r| {
                accepted(r, "value").filter(|v| v.is_string()).cloned().unwrap_or(Value::Null)
            })
        }
        other => {
            return Err(Error::config(format!(
                "unknown session.ui operation {other:?} (elicitation, confirm, select, input)"
            )));
        }
    };
    Ok(UiCall { params: json!({"message": message, "requestedSchema": schema}), read })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elicitation_answers() {
        assert_eq!(elicitation_result(json!("decline")), json!({"action": "decline"}));
        assert_eq!(
            elicitation_result(json!({"action": "accept", "content": {"a": 1}})),
            json!({"action": "accept", "content": {"a": 1}})
        );
        assert_eq!(
            elicitation_result(json!({"confirmed": true})),
            json!({"action": "accept", "content": {"confirmed": true}})
        );
        assert_eq!(elicitation_result(Value::Null), json!({"action": "cancel"}));
        assert_eq!(elicitation_result(json!({"action": "maybe"})), json!({"action": "cancel"}));
    }

    #[test]
    fn token_answers() {
        assert_eq!(mcp_auth_result(json!("t")), json!({"kind": "token", "accessToken": "t"}));
        assert_eq!(mcp_auth_result(json!({"accessToken": "t", "expiresIn": 5}))["expiresIn"], 5);
        assert_eq!(mcp_auth_result(Value::Null), json!({"kind": "cancelled"}));
        assert_eq!(mcp_auth_result(json!({"kind": "cancelled"})), json!({"kind": "cancelled"}));
        assert_eq!(
            github_token_result(json!("t")).unwrap(),
            json!({"kind": "token", "accessToken": "t", "expiresIn": 28800})
        );
        assert_eq!(github_token_result(json!({"kind": "cancelled"})).unwrap(), json!({"kind": "cancelled"}));
        assert_eq!(github_token_result(Value::Null).unwrap(), json!({"kind": "cancelled"}));
        assert!(github_token_result(json!({"accessToken": "t", "expiresIn": 60})).is_err());
        let r =
            github_token_result(json!({"kind": "token", "accessToken": "t", "expiresIn": 7200, "tokenType": "bearer"}))
                .unwrap();
        assert_eq!(r, json!({"kind": "token", "accessToken": "t", "expiresIn": 7200, "tokenType": "bearer"}));
    }

    #[test]
    fn ui_helpers() {
        let c = ui_call("confirm", &json!({"message": "Deploy?"})).unwrap();
        assert_eq!(c.params["requestedSchema"]["required"], json!(["confirmed"]));
        assert_eq!(c.read(&json!({"action": "accept", "content": {"confirmed": true}})), json!(true));
        assert_eq!(c.read(&json!({"action": "decline"})), json!(false));
        let s = ui_call("select", &json!({"message": "Env?", "options": ["a", "b"]})).unwrap();
        assert_eq!(s.params["requestedSchema"]["properties"]["selection"]["enum"], json!(["a", "b"]));
        assert_eq!(s.read(&json!({"action": "accept", "content": {"selection": "b"}})), json!("b"));
        assert_eq!(s.read(&json!({"action": "cancel"})), Value::Null);
        let i = ui_call("input", &json!({"message": "Name?", "options": {"max_length": 5}})).unwrap();
        assert_eq!(i.params["requestedSchema"]["properties"]["value"]["maxLength"], 5);
        assert_eq!(i.read(&json!({"action": "accept", "content": {"value": "x"}})), json!("x"));
        for (op, p) in [
            ("confirm", json!({})),
            ("select", json!({"message": "m", "options": []})),
            ("input", json!({"message": "m", "options": {"bad": 1}})),
            ("nope", json!({"message": "m"})),
            ("elicitation", json!({"message": "m"})),
        ] {
            assert_eq!(ui_call(op, &p).err().map(|e| e.kind()), Some(ErrorKind::InvalidConfig), "{op}");
        }
    }
}
