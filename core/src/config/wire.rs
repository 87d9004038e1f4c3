//! Encoding of the options on the wire (`session.create` / `session.resume` / `session.send`
//! params).

use super::{MessageOptions, SessionConfig};
use crate::handlers::Tool;
use serde_json::{Map, Value, json};

impl SessionConfig {
    /// The `session.create` / `session.resume` params (without `sessionId`).
    pub(crate) fn to_wire(&self) -> Map<String, Value> {
        let mut m = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_owned(), v);
            }
        };
        put("model", self.model.as_ref().map(|v| json!(v)));
        put("reasoningEffort", self.reasoning_effort.as_ref().map(|v| json!(v)));
        let mut provider = self.provider.clone();
        if self.on_provider_token.is_some() {
            if let Some(Value::Object(p)) = provider.as_mut() {
                p.insert("hasBearerTokenProvider".into(), json!(true));
            }
        }
        put("provider", provider);
        if !self.tools.is_empty() {
            put("tools", Some(Value::Array(self.tools.iter().map(Tool::to_wire).collect())));
        }
        put("systemMessage", self.system_message.clone());
        put("availableTools", self.available_tools.as_ref().map(|v| json!(v)));
        put("excludedTools", self.excluded_tools.as_ref().map(|v| json!(v)));
        put("customAgents", self.custom_agents.as_ref().map(|v| json!(v)));
        put("mcpServers", self.mcp_servers.clone().map(Value::Object));
        put("workingDirectory", self.working_directory.as_ref().map(|v| json!(v)));
        put("streaming", self.streaming.map(|v| json!(v)));
        put("gitHubToken", self.github_token.as_ref().map(|v| json!(v)));
        put("infiniteSessions", self.infinite_sessions.clone());
        put("clientName", self.client_name.as_ref().map(|v| json!(v)));
        // Without a permission handler the core still answers prompts for the session's own
        // tools (approved) so a registered tool is never silently refused.
        let own_tools = self.tools.iter().any(|t| t.handler.is_some());
        put("requestPermission", Some(json!(self.on_permission_request.is_some() || own_tools)));
        put("requestUserInput", Some(json!(self.on_user_input_request.is_some())));
        put("requestExitPlanMode", Some(json!(self.on_exit_plan_mode.is_some())));
        if self.on_auto_mode_switch.is_some() {
            put("requestAutoModeSwitch", Some(json!(true)));
        }
        if self.on_elicitation.is_some() {
            put("requestElicitation", Some(json!(true)));
        }
        if !self.commands.is_empty() {
            let commands = self
                .commands
                .iter()
                .map(|c| match &c.description {
                    Some(d) => json!({"name": c.name, "description": d}),
                    None => json!({"name": c.name}),
                })
                .collect();
            put("commands", Some(Value::Array(commands)));
        }
        put("traceparent", self.traceparent.as_ref().map(|v| json!(v)));
        put("tracestate", self.tracestate.as_ref().map(|v| json!(v)));
        put("hooks", Some(json!(self.on_hook.is_some())));
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        m
    }
}

impl MessageOptions {
    pub(crate) fn to_wire(&self, session_id: &str) -> Value {
        let mut m = Map::new();
        m.insert("sessionId".into(), json!(session_id));
        m.insert("prompt".into(), json!(self.prompt));
        if !self.attachments.is_empty() {
            m.insert("attachments".into(), json!(self.attachments));
        }
        if let Some(mode) = &self.mode {
            m.insert("mode".into(), json!(mode));
        }
        if let Some(h) = &self.request_headers {
            m.insert("requestHeaders".into(), Value::Object(h.clone()));
        }
        if let Some(t) = &self.traceparent {
            m.insert("traceparent".into(), json!(t));
        }
        if let Some(t) = &self.tracestate {
            m.insert("tracestate".into(), json!(t));
        }
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }
}
