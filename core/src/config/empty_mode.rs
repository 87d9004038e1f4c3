//! The client `mode: "empty"` of the official SDKs: a hardened, multi-tenant default for
//! servers that run sessions for many users. Every session must name its `availableTools`;
//! the CLI's ambient sources (keychain, custom instructions, skills, memory, the host's git,
//! file hooks, telemetry, the environment section of the system prompt) are off unless the
//! session turns them on; and after create/resume the session's options get the hardened patch.

use super::SessionConfig;
use crate::error::{Error, Result};
use serde_json::{Map, Value, json};

/// A wire field and the value it gets.
type Field = (&'static str, fn() -> Value);

/// Session fields and their hardened defaults (a session's own value wins).
const DEFAULTS: [Field; 12] = [
    ("enableSessionTelemetry", || json!(false)),
    ("mcpOAuthTokenStorage", || json!("in-memory")),
    ("skipEmbeddingRetrieval", || json!(true)),
    ("embeddingCacheStorage", || json!("in-memory")),
    ("enableOnDemandInstructionDiscovery", || json!(false)),
    ("enableFileHooks", || json!(false)),
    ("enableHostGitOperations", || json!(false)),
    ("enableSessionStore", || json!(false)),
    ("enableSkills", || json!(false)),
    ("memory", || json!({"enabled": false})),
    ("customAgentsLocalOnly", || json!(true)),
    ("isExperimentalMode", || json!(false)),
];

/// The `session.options.update` patch sent after create/resume (a session's own value wins).
const PATCH: [Field; 5] = [
    ("skipCustomInstructions", || json!(true)),
    ("customAgentsLocalOnly", || json!(true)),
    ("coauthorEnabled", || json!(false)),
    ("manageScheduleEnabled", || json!(false)),
    ("installedPlugins", || json!([])),
];

/// Applies the mode to create/resume params (`config` is what the host gave).
pub(crate) fn apply(params: &mut Map<String, Value>, config: &SessionConfig) -> Result<()> {
    if config.available_tools.is_none() && !params.contains_key("availableTools") {
        return Err(Error::config(
            "the client is in mode \"empty\": every session must list its `availableTools` (use [] for none)",
        ));
    }
    for (k, v) in DEFAULTS {
        params.entry(k).or_insert_with(v);
    }
    let remove_env = json!({"action": "remove"});
    let system = match params.remove("systemMessage") {
        None => json!({"mode": "customize", "sections": {"environment_context": remove_env}}),
        Some(Value::Object(mut m)) => {
            match m.get("mode").and_then(Value::as_str).unwrap_or("append") {
                "replace" => {}
                _ => {
                    m.insert("mode".into(), json!("customize"));
                    let sections = m.entry("sections").or_insert_with(|| json!({}));
                    if let Value::Object(s) = sections {
                        s.entry("environment_context").or_insert(remove_env);
                    }
                }
            }
            Value::Object(m)
        }
        Some(other) => other,
    };
    params.insert("systemMessage".into(), system);
    Ok(())
}

/// The options patch to send after create/resume.
pub(crate) fn patch(config: &SessionConfig) -> Value {
    let mut p = Map::new();
    for (k, v) in PATCH {
        p.insert(k.into(), config.extra.get(k).cloned().unwrap_or_else(v));
    }
    Value::Object(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_system_message() {
        let mut cfg = SessionConfig { available_tools: Some(vec![]), ..Default::default() };
        cfg.extra.insert("enableSkills".into(), json!(true));
        let mut p = cfg.to_wire();
        apply(&mut p, &cfg).unwrap();
        assert_eq!(p["enableSkills"], true, "the session's own value wins");
        assert_eq!(p["enableFileHooks"], false);
        assert_eq!(
            p["systemMessage"],
            json!({"mode": "customize", "sections": {"environment_context": {"action": "remove"}}})
        );

        let cfg = SessionConfig {
            available_tools: Some(vec!["x".into()]),
            system_message: Some(json!({"mode": "append", "content": "be brief"})),
            ..Default::default()
        };
        let mut p = cfg.to_wire();
        apply(&mut p, &cfg).unwrap();
        assert_eq!(p["systemMessage"]["mode"], "customize");
        assert_eq!(p["systemMessage"]["content"], "be brief");
        assert_eq!(p["systemMessage"]["sections"]["environment_context"]["action"], "remove");

        let cfg = SessionConfig::default();
        let mut p = cfg.to_wire();
        assert_eq!(apply(&mut p, &cfg).unwrap_err().kind(), crate::ErrorKind::InvalidConfig);
        assert_eq!(patch(&cfg)["installedPlugins"], json!([]));
    }
}
