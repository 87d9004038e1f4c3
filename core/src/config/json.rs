//! JSON forms of the options, shared by every binding: keys in camelCase or snake_case, wrong
//! types rejected with an `InvalidConfig` error that names the option.

use super::{ClientOptions, MessageOptions, RuntimeConnection, SessionConfig};
use crate::error::{Error, Result};
use crate::handlers::Tool;
use crate::transport::Transport;
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// `cli_url` → `cliUrl`; camelCase keys pass unchanged.
pub fn camel_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Options as a camelCase map; `what` names the kind of options in errors.
fn normalize(v: &Value, what: &str) -> Result<Map<String, Value>> {
    match v {
        Value::Null => Ok(Map::new()),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match camel_key(k).as_str() {
                    "gitHubToken" => "githubToken".to_owned(),
                    other => other.to_owned(),
                };
                if out.insert(key.clone(), v.clone()).is_some() {
                    return Err(Error::config(format!(
                        "{what} option `{key}` is given twice (camelCase and snake_case)"
                    )));
                }
            }
            Ok(out)
        }
        other => Err(Error::config(format!("{what} must be an object, got {}", type_name(other)))),
    }
}

struct Reader<'a> {
    what: &'a str,
    m: Map<String, Value>,
}

impl Reader<'_> {
    fn take(&mut self, key: &str) -> Option<Value> {
        self.m.remove(key).filter(|v| !v.is_null())
    }
    fn bad(&self, key: &str, want: &str, got: &Value) -> Error {
        Error::config(format!("{} option `{key}` must be {want}, got {}", self.what, type_name(got)))
    }
    fn string(&mut self, key: &str) -> Result<Option<String>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.bad(key, "a string", &v)),
        }
    }
    fn boolean(&mut self, key: &str) -> Result<Option<bool>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(v) => Err(self.bad(key, "a boolean", &v)),
        }
    }
    fn uint(&mut self, key: &str, max: u64) -> Result<Option<u64>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n <= max => Ok(Some(n)),
                _ => Err(self.bad(key, &format!("an integer from 0 to {max}"), &v)),
            },
        }
    }
    fn seconds(&mut self, key: &str) -> Result<Option<Duration>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(s) if (0.0..1e9).contains(&s) => Ok(Some(Duration::from_secs_f64(s))),
                _ => Err(self.bad(key, "a non-negative number of seconds", &v)),
            },
        }
    }
    fn strings(&mut self, key: &str) -> Result<Option<Vec<String>>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| x.as_str().map(str::to_owned).ok_or_else(|| self.bad(key, "an array of strings", x)))
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(v) => Err(self.bad(key, "an array of strings", &v)),
        }
    }
    fn object(&mut self, key: &str) -> Result<Option<Map<String, Value>>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(v) => Err(self.bad(key, "an object", &v)),
        }
    }
    fn objects(&mut self, key: &str) -> Result<Option<Vec<Value>>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Array(a)) => {
                if let Some(x) = a.iter().find(|x| !x.is_object()) {
                    return Err(self.bad(key, "an array of objects", x));
                }
                Ok(Some(a))
            }
            Some(v) => Err(self.bad(key, "an array of objects", &v)),
        }
    }
}

/// `connection: {kind: "stdio", path?, args?} | {kind: "tcp", port?, connectionToken?, path?,
/// args?} | {kind: "uri", url, connectionToken?}` (the official SDKs' `RuntimeConnection`).
fn runtime_connection(m: Map<String, Value>) -> Result<RuntimeConnection> {
    let mut r = Reader { what: "connection", m: normalize(&Value::Object(m), "connection")? };
    let kind =
        r.string("kind")?.ok_or_else(|| Error::config("connection option `kind` is required (stdio, tcp or uri)"))?;
    let c = match kind.as_str() {
        "stdio" => RuntimeConnection::Stdio {
            path: r.string("path")?.map(PathBuf::from),
            args: r.strings("args")?.unwrap_or_default(),
        },
        "tcp" => RuntimeConnection::Tcp {
            port: r.uint("port", 65535)?.unwrap_or(0) as u16,
            connection_token: r.string("connectionToken")?,
            path: r.string("path")?.map(PathBuf::from),
            args: r.strings("args")?.unwrap_or_default(),
        },
        "uri" => RuntimeConnection::Uri {
            url: r.string("url")?.ok_or_else(|| Error::config("connection option `url` is required for kind uri"))?,
            connection_token: r.string("connectionToken")?,
        },
        other => {
            return Err(Error::config(format!("connection option `kind` must be stdio, tcp or uri, got {other:?}")));
        }
    };
    if let Some(k) = r.m.keys().next() {
        return Err(Error::config(format!("unknown connection option `{k}` for kind {kind}")));
    }
    Ok(c)
}

impl ClientOptions {
    /// Client options from JSON (`cliUrl`/`cli_url`, `useStdio`, `port`, `cliPath`, `cliArgs`,
    /// `env`, `cwd`, `logLevel`, `githubToken`, `useLoggedInUser`, `sessionIdleTimeoutSeconds`,
    /// `connectionToken`, `copilotHome`/`baseDirectory`, `maxMessageSize`, `autoStart`,
    /// `tcpQuickack`, `reconnect` (false, or `{enabled, maxAttempts, initialDelay, maxDelay,
    /// callWait, maxRestarts, restartWindow}`), and the durations `requestTimeout`,
    /// `startTimeout`, `stopGrace`, `heartbeatInterval`, `heartbeatTimeout`, `tcpKeepalive`,
    /// `tcpUserTimeout` in seconds; 0 turns `requestTimeout`, `heartbeatInterval`,
    /// `tcpKeepalive` and `tcpUserTimeout` off). Unknown keys are an error.
    pub fn from_json(v: &Value) -> Result<ClientOptions> {
        let mut r = Reader { what: "client", m: normalize(v, "client options")? };
        let connection = match r.object("connection")? {
            Some(c) => {
                for k in ["cliUrl", "useStdio", "port", "cliPath", "cliArgs", "connectionToken"] {
                    if r.m.get(k).is_some_and(|v| !v.is_null()) {
                        return Err(Error::config(format!(
                            "client options `connection` and `{k}` cannot be used together (the connection carries it)"
                        )));
                    }
                }
                Some(runtime_connection(c)?)
            }
            None => None,
        };
        let mut o = ClientOptions::default();
        let url = r.string("cliUrl")?;
        let use_stdio = r.boolean("useStdio")?;
        let port = r.uint("port", 65535)?;
        o.transport = match (url, use_stdio, port) {
            (Some(_), Some(true), _) => {
                return Err(Error::config(
                    "cliUrl connects to a running server; it cannot be combined with useStdio: true",
                ));
            }
            (Some(_), _, Some(_)) => {
                return Err(Error::config("cliUrl and port cannot be combined (the port goes in the URL)"));
            }
            (Some(u), _, None) => Transport::Url(u),
            (None, Some(false), p) | (None, None, p @ Some(_)) => Transport::Tcp { port: p.unwrap_or(0) as u16 },
            (None, _, None) => Transport::Stdio,
            (None, Some(true), Some(_)) => {
                return Err(Error::config("port applies to a TCP child; set useStdio: false"));
            }
        };
        o.cli_path = r.string("cliPath")?.map(PathBuf::from);
        o.cli_args = r.strings("cliArgs")?.unwrap_or_default();
        if let Some(env) = r.object("env")? {
            let mut pairs = Vec::with_capacity(env.len());
            for (k, v) in env {
                match v {
                    Value::String(s) => pairs.push((k, s)),
                    other => return Err(r.bad(&format!("env.{k}"), "a string", &other)),
                }
            }
            o.env = Some(pairs);
        }
        let cwd = r.string("cwd")?;
        let wd = r.string("workingDirectory")?;
        o.cwd = cwd.or(wd).map(PathBuf::from);
        o.log_level = r.string("logLevel")?;
        o.github_token = r.string("githubToken")?;
        o.use_logged_in_user = r.boolean("useLoggedInUser")?;
        o.session_idle_timeout_secs = r.uint("sessionIdleTimeoutSeconds", u32::MAX as u64)?.unwrap_or(0);
        o.connection_token = r.string("connectionToken")?;
        let home = r.string("copilotHome")?;
        let base = r.string("baseDirectory")?;
        o.copilot_home = home.or(base).map(PathBuf::from);
        if let Some(n) = r.uint("maxMessageSize", u32::MAX as u64 * 4)? {
            if n < 1024 {
                return Err(Error::config("client option `maxMessageSize` must be at least 1024 bytes"));
            }
            o.max_message_size = n as usize;
        }
        if let Some(t) = r.seconds("requestTimeout")? {
            o.request_timeout = Some(t).filter(|t| !t.is_zero());
        }
        match r.take("reconnect") {
            None => {}
            Some(Value::Bool(b)) => o.reconnect.enabled = b,
            Some(Value::Object(m)) => {
                let mut p = Reader { what: "reconnect", m: normalize(&Value::Object(m), "reconnect options")? };
                let d = &mut o.reconnect;
                d.enabled = p.boolean("enabled")?.unwrap_or(true);
                if let Some(n) = p.uint("maxAttempts", u32::MAX as u64)? {
                    d.max_attempts = n as u32;
                }
                if let Some(t) = p.seconds("initialDelay")? {
                    d.initial_delay = t;
                }
                if let Some(t) = p.seconds("maxDelay")? {
                    d.max_delay = t;
                }
                if let Some(t) = p.seconds("callWait")? {
                    d.call_wait = t;
                }
                if let Some(n) = p.uint("maxRestarts", u32::MAX as u64)? {
                    d.max_restarts = n as u32;
                }
                if let Some(t) = p.seconds("restartWindow")? {
                    d.restart_window = t;
                }
                if let Some(k) = p.m.keys().next() {
                    return Err(Error::config(format!("unknown reconnect option `{k}`")));
                }
            }
            Some(v) => return Err(r.bad("reconnect", "a boolean or an object", &v)),
        }
        if let Some(t) = r.seconds("heartbeatInterval")? {
            o.heartbeat_interval = Some(t).filter(|t| !t.is_zero());
        }
        if let Some(t) = r.seconds("heartbeatTimeout")? {
            o.heartbeat_timeout = t;
        }
        if let Some(t) = r.seconds("tcpKeepalive")? {
            o.tcp_keepalive = Some(t).filter(|t| !t.is_zero());
        }
        if let Some(t) = r.seconds("tcpUserTimeout")? {
            o.tcp_user_timeout = Some(t).filter(|t| !t.is_zero());
        }
        if let Some(t) = r.seconds("startTimeout")? {
            o.start_timeout = t;
        }
        if let Some(t) = r.seconds("stopGrace")? {
            o.stop_grace = t;
        }
        if let Some(q) = r.boolean("tcpQuickack")? {
            o.tcp_quickack = q;
        }
        if let Some(a) = r.boolean("autoStart")? {
            o.auto_start = a;
        }
        if let Some(t) = r.take("telemetry").filter(|v| !v.is_null()) {
            o.telemetry = Some(crate::telemetry::TelemetryConfig::from_json(&t)?);
        }
        if let Some(f) = r.take("sessionFs").filter(|v| !v.is_null()) {
            o.session_fs = Some(crate::session_fs::SessionFsConfig::from_json(&f)?);
        }
        match r.string("mode")?.as_deref() {
            // "copilot-cli" is the official SDKs' name of the default.
            None | Some("default" | "copilot-cli") => {}
            Some("empty") => o.empty_mode = true,
            Some(other) => {
                return Err(Error::config(format!(
                    "client option `mode` must be \"empty\" or \"copilot-cli\" (the default), got {other:?}"
                )));
            }
        }
        if let Some(k) = r.m.keys().next() {
            return Err(Error::config(format!("unknown client option `{k}`")));
        }
        if let Some(c) = connection {
            o.apply_connection(c);
        }
        o.check()?;
        Ok(o)
    }
}

impl crate::pool::PoolOptions {
    /// Pool options from JSON: `urls` (an array of `host:port`, or one comma-separated string),
    /// `healthInterval` (seconds), `lease` (`{redisUrl, ttl, wait, owner, keyPrefix}`, seconds),
    /// and any client option (`requestTimeout`, `reconnect`, `connectionToken`, …) for every
    /// server's client. Unknown keys are an error.
    pub fn from_json(v: &Value) -> Result<crate::pool::PoolOptions> {
        let mut r = Reader { what: "pool", m: normalize(v, "pool options")? };
        let urls: Vec<String> = match r.take("urls") {
            Some(Value::String(s)) => {
                s.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect()
            }
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| x.as_str().map(str::to_owned).ok_or_else(|| r.bad("urls", "an array of strings", x)))
                .collect::<Result<_>>()?,
            Some(v) => return Err(r.bad("urls", "an array of strings or a comma-separated string", &v)),
            None => return Err(Error::config("pool option `urls` is required")),
        };
        let mut o = crate::pool::PoolOptions::new(urls);
        if let Some(t) = r.seconds("healthInterval")? {
            o.health_interval = t;
        }
        if let Some(l) = r.object("lease")? {
            let mut p = Reader { what: "lease", m: normalize(&Value::Object(l), "lease options")? };
            let url = p.string("redisUrl")?.ok_or_else(|| Error::config("lease option `redisUrl` is required"))?;
            let prefix = p.string("keyPrefix")?.unwrap_or_else(|| "copilot:lease:".to_owned());
            let mut lease = crate::pool::lease::LeaseOptions::new(Arc::new(crate::pool::lease::RedisLeaseStore::new(
                &url, &prefix,
            )?));
            if let Some(t) = p.seconds("ttl")? {
                lease.ttl = t;
            }
            if let Some(t) = p.seconds("wait")? {
                lease.wait = t;
            }
            if let Some(owner) = p.string("owner")? {
                lease.owner = owner;
            }
            if let Some(k) = p.m.keys().next() {
                return Err(Error::config(format!("unknown lease option `{k}`")));
            }
            o.lease = Some(lease);
        }
        for k in ["cliUrl", "useStdio", "port", "cliPath", "cliArgs", "env", "cwd", "workingDirectory"] {
            if r.m.contains_key(k) {
                return Err(Error::config(format!(
                    "pool option `{k}` does not apply: a pool connects to running servers, listed in `urls`"
                )));
            }
        }
        let (interval, timeout) = (r.m.contains_key("heartbeatInterval"), r.m.contains_key("heartbeatTimeout"));
        let defaults = crate::pool::pool_client_defaults(ClientOptions::default());
        o.client = ClientOptions::from_json(&Value::Object(std::mem::take(&mut r.m)))?;
        if !interval {
            o.client.heartbeat_interval = defaults.heartbeat_interval;
        }
        if !timeout {
            o.client.heartbeat_timeout = defaults.heartbeat_timeout;
        }
        Ok(o)
    }
}

/// A tool declared in JSON: the binding attaches the host handler by name afterwards.
pub fn tool_from_json(v: &Value) -> Result<Tool> {
    let mut r = Reader { what: "tool", m: normalize(v, "a tool definition")? };
    let name =
        r.string("name")?.filter(|n| !n.is_empty()).ok_or_else(|| Error::config("a tool needs a non-empty `name`"))?;
    let description = r.string("description")?;
    let parameters = match r.take("parameters") {
        None => None,
        Some(p @ Value::Object(_)) => Some(p),
        Some(other) => {
            return Err(Error::config(format!(
                "tool `{name}`: `parameters` must be a JSON Schema object, got {}",
                type_name(&other)
            )));
        }
    };
    let skip_permission = r.boolean("skipPermission")?.unwrap_or(false);
    let overrides_built_in_tool = r.boolean("overridesBuiltInTool")?.unwrap_or(false);
    Ok(Tool { name, description, parameters, skip_permission, overrides_built_in_tool, handler: None, extra: r.m })
}

impl SessionConfig {
    /// Session configuration from JSON, keys in camelCase or snake_case. Known fields are
    /// type-checked; every other key passes through to `session.create` as is (§4.1 has many).
    /// Tools come back without handlers: the binding attaches them by name. Callbacks are not
    /// JSON: bindings set the `on_*` fields themselves.
    pub fn from_json(v: &Value) -> Result<SessionConfig> {
        let mut r = Reader { what: "session", m: normalize(v, "session config")? };
        let mut c = SessionConfig {
            session_id: r.string("sessionId")?,
            model: r.string("model")?,
            reasoning_effort: r.string("reasoningEffort")?,
            ..Default::default()
        };
        c.provider = r.object("provider")?.map(|p| {
            // Provider keys are wire names too; accept snake_case there as well.
            Value::Object(p.into_iter().map(|(k, v)| (camel_key(&k), v)).collect())
        });
        if let Some(tools) = r.objects("tools")? {
            c.tools = tools.iter().map(tool_from_json).collect::<Result<_>>()?;
            let mut names: Vec<&str> = c.tools.iter().map(|t| t.name.as_str()).collect();
            names.sort();
            if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
                return Err(Error::config(format!("tool `{}` is declared twice", w[0])));
            }
        }
        c.system_message = match r.take("systemMessage") {
            None => None,
            Some(Value::String(s)) => Some(json!({"mode": "append", "content": s})),
            Some(o @ Value::Object(_)) => Some(o),
            Some(other) => return Err(r.bad("systemMessage", "an object or a string", &other)),
        };
        c.available_tools = r.strings("availableTools")?;
        c.excluded_tools = r.strings("excludedTools")?;
        c.custom_agents = r.objects("customAgents")?;
        c.mcp_servers = r.object("mcpServers")?;
        c.working_directory = r.string("workingDirectory")?;
        c.streaming = r.boolean("streaming")?;
        c.github_token = r.string("githubToken")?;
        c.mode = r.string("mode")?;
        c.infinite_sessions = match r.take("infiniteSessions") {
            None => None,
            Some(Value::Bool(b)) => Some(json!({"enabled": b})),
            Some(o @ Value::Object(_)) => Some(o),
            Some(other) => return Err(r.bad("infiniteSessions", "an object or a boolean", &other)),
        };
        c.client_name = r.string("clientName")?;
        if let Some(cmds) = r.objects("commands")? {
            for cmd in cmds {
                let name = cmd.get("name").and_then(Value::as_str).filter(|n| !n.is_empty());
                let Some(name) = name else {
                    return Err(Error::config(format!("a command needs a `name` string, got {cmd}")));
                };
                let description = match cmd.get("description") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(d)) => Some(d.clone()),
                    Some(other) => {
                        return Err(Error::config(format!(
                            "command `{name}`: description must be a string, got {other}"
                        )));
                    }
                };
                if c.commands.iter().any(|c| c.name == name) {
                    return Err(Error::config(format!("command `{name}` is declared twice")));
                }
                c.commands.push(super::CommandDef { name: name.trim_start_matches('/').to_owned(), description });
            }
        }
        c.traceparent = r.string("traceparent")?;
        c.tracestate = r.string("tracestate")?;
        crate::telemetry::check(&c.traceparent, &c.tracestate)?;
        c.extra = r.m;
        Ok(c)
    }
}

impl MessageOptions {
    /// Message options from JSON: `prompt` (required), `attachments`, `mode`, `requestHeaders`,
    /// `timeout` (seconds, for send-and-wait), `abortOnTimeout`; other keys pass through.
    pub fn from_json(v: &Value) -> Result<MessageOptions> {
        if let Value::String(p) = v {
            return Ok(MessageOptions::new(p.clone()));
        }
        let mut r = Reader { what: "message", m: normalize(v, "message options")? };
        let prompt = r.string("prompt")?.ok_or_else(|| Error::config("message options need a `prompt` string"))?;
        let mut o = MessageOptions::new(prompt);
        o.attachments = r.objects("attachments")?.unwrap_or_default();
        o.mode = r.string("mode")?;
        o.request_headers = r.object("requestHeaders")?;
        if let Some(t) = r.seconds("timeout")? {
            o.timeout = t;
        }
        o.idle_timeout = r.seconds("idleTimeout")?.filter(|t| !t.is_zero());
        o.abort_on_timeout = r.boolean("abortOnTimeout")?.unwrap_or(false);
        o.traceparent = r.string("traceparent")?;
        o.tracestate = r.string("tracestate")?;
        crate::telemetry::check(&o.traceparent, &o.tracestate)?;
        o.extra = r.m;
        Ok(o)
    }
}

#[cfg(test)]
mod json_tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn runtime_connection_forms() {
        let o = ClientOptions::from_json(
            &json!({"connection": {"kind": "uri", "url": "127.0.0.1:4321", "connectionToken": "t"}}),
        )
        .unwrap();
        assert_eq!(o.transport, Transport::Url("127.0.0.1:4321".into()));
        assert_eq!(o.connection_token.as_deref(), Some("t"));
        let o = ClientOptions::from_json(
            &json!({"connection": {"kind": "tcp", "port": 0, "args": ["--x"]}, "gitHubToken": "g"}),
        )
        .unwrap();
        assert_eq!(
            (o.transport, o.cli_args, o.github_token.as_deref()),
            (Transport::Tcp { port: 0 }, vec!["--x".to_string()], Some("g"))
        );
        let o = ClientOptions::from_json(&json!({"connection": {"kind": "stdio", "path": "/bin/copilot"}})).unwrap();
        assert_eq!((o.transport, o.cli_path), (Transport::Stdio, Some(PathBuf::from("/bin/copilot"))));
        assert_eq!(
            ClientOptions::for_connection(RuntimeConnection::for_uri("4321")).transport,
            Transport::Url("4321".into())
        );
        for (bad, msg) in [
            (
                json!({"connection": {"kind": "uri", "url": "1"}, "cliUrl": "2"}),
                "`connection` and `cliUrl` cannot be used together",
            ),
            (json!({"connection": {"kind": "uri"}}), "`url` is required"),
            (json!({"connection": {"kind": "pipe"}}), "stdio, tcp or uri"),
            (json!({"connection": {"kind": "uri", "url": "1", "port": 2}}), "unknown connection option `port`"),
            (json!({"connection": {"kind": "tcp", "port": "x"}}), "`port` must be"),
            (json!({"connection": "uri"}), "`connection` must be"),
        ] {
            let e = ClientOptions::from_json(&bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidConfig);
            assert!(e.message().contains(msg), "{bad}: {e}");
        }
    }

    #[test]
    fn keys_in_either_case() {
        assert_eq!(camel_key("cli_url"), "cliUrl");
        assert_eq!(camel_key("session_idle_timeout_seconds"), "sessionIdleTimeoutSeconds");
        assert_eq!(camel_key("cliUrl"), "cliUrl");
        let o = ClientOptions::from_json(
            &json!({"cli_url": "localhost:4321", "connectionToken": "t", "request_timeout": 2.5}),
        )
        .unwrap();
        assert_eq!(o.transport, Transport::Url("localhost:4321".into()));
        assert_eq!(o.connection_token.as_deref(), Some("t"));
        assert_eq!(o.request_timeout, Some(Duration::from_millis(2500)));
        let o = ClientOptions::from_json(&json!({"use_stdio": false})).unwrap();
        assert_eq!(o.transport, Transport::Tcp { port: 0 });
        let o = ClientOptions::from_json(&json!({"gitHubToken": "g", "env": {"A": "1"}})).unwrap();
        assert_eq!(o.github_token.as_deref(), Some("g"));
        assert_eq!(o.env, Some(vec![("A".into(), "1".into())]));
        assert_eq!(ClientOptions::from_json(&Value::Null).unwrap().transport, Transport::Stdio);
    }

    #[test]
    fn wrong_types_name_the_option() {
        for (v, needle) in [
            (json!({"cliUrl": 4321}), "`cliUrl` must be a string, got a number"),
            (json!({"port": -1}), "`port`"),
            (json!({"cliArgs": ["a", 1]}), "`cliArgs`"),
            (json!({"env": {"A": 1}}), "`env.A`"),
            (json!({"cli_url": "a:1", "cliUrl": "b:2"}), "twice"),
            (json!({"cliUrl": "a:1", "useStdio": true}), "useStdio"),
            (json!({"colour": "red"}), "unknown client option `colour`"),
            (json!({"requestTimeout": "soon"}), "`requestTimeout`"),
            (json!(["x"]), "must be an object"),
        ] {
            let e = ClientOptions::from_json(&v).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidConfig);
            assert!(e.message().contains(needle), "{v}: {e}");
        }
    }

    #[test]
    fn session_config_from_json() {
        let c = SessionConfig::from_json(&json!({
            "session_id": "s", "model": "gpt-4.1", "provider": {"type": "openai", "base_url": "http://x/v1", "api_key": "k"},
            "tools": [{"name": "t", "description": "d", "parameters": {"type": "object"}, "skip_permission": true, "defer": "auto"}],
            "systemMessage": "be brief", "infiniteSessions": false, "enableSkills": false, "streaming": true
        }))
        .unwrap();
        assert_eq!(c.session_id.as_deref(), Some("s"));
        assert_eq!(c.provider.as_ref().unwrap()["baseUrl"], "http://x/v1");
        assert!(c.tools[0].skip_permission && c.tools[0].handler.is_none());
        assert_eq!(c.tools[0].to_wire()["defer"], "auto");
        let wire = c.to_wire();
        assert_eq!(wire["systemMessage"], json!({"mode": "append", "content": "be brief"}));
        assert_eq!(wire["infiniteSessions"], json!({"enabled": false}));
        assert_eq!(wire["enableSkills"], false);
        assert_eq!(wire["streaming"], true);
        for (v, needle) in [
            (json!({"model": 5}), "`model` must be a string"),
            (json!({"tools": [{"description": "no name"}]}), "`name`"),
            (json!({"tools": [{"name": "a"}, {"name": "a"}]}), "twice"),
            (json!({"tools": [{"name": "a", "parameters": "x"}]}), "JSON Schema"),
            (json!({"streaming": "yes"}), "`streaming` must be a boolean"),
            (json!({"availableTools": "bash"}), "array of strings"),
        ] {
            let e = SessionConfig::from_json(&v).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidConfig);
            assert!(e.message().contains(needle), "{v}: {e}");
        }
    }

    #[test]
    fn message_options_from_json() {
        let m = MessageOptions::from_json(
            &json!({"prompt": "hi", "timeout": 5, "abort_on_timeout": true, "agentMode": "plan"}),
        )
        .unwrap();
        assert_eq!(m.timeout, Duration::from_secs(5));
        assert!(m.abort_on_timeout);
        assert_eq!(m.to_wire("s")["agentMode"], "plan");
        assert_eq!(MessageOptions::from_json(&json!("plain")).unwrap().prompt, "plain");
        assert!(MessageOptions::from_json(&json!({"timeout": 1})).is_err());
    }

    #[test]
    fn reliability_options() {
        let d = ClientOptions::from_json(&json!({})).unwrap();
        assert_eq!(d.request_timeout, Some(crate::config::DEFAULT_REQUEST_TIMEOUT));
        assert!(d.reconnect.enabled && d.heartbeat_interval.is_some() && d.tcp_keepalive.is_some());
        let o = ClientOptions::from_json(&json!({
            "reconnect": {"maxAttempts": 3, "initialDelay": 0.05, "max_delay": 1, "callWait": 0, "maxRestarts": 1,
                          "restartWindow": 30},
            "requestTimeout": 0, "heartbeatInterval": 0, "heartbeatTimeout": 2, "tcpKeepalive": 0, "tcpUserTimeout": 5,
        }))
        .unwrap();
        let r = &o.reconnect;
        assert!(r.enabled);
        assert_eq!((r.max_attempts, r.max_restarts), (3, 1));
        assert_eq!(r.initial_delay, Duration::from_millis(50));
        assert_eq!(
            (r.max_delay, r.call_wait, r.restart_window),
            (Duration::from_secs(1), Duration::ZERO, Duration::from_secs(30))
        );
        assert_eq!((o.request_timeout, o.heartbeat_interval, o.tcp_keepalive), (None, None, None));
        assert_eq!((o.heartbeat_timeout, o.tcp_user_timeout), (Duration::from_secs(2), Some(Duration::from_secs(5))));
        assert!(!ClientOptions::from_json(&json!({"reconnect": false})).unwrap().reconnect.enabled);
        for bad in [json!({"reconnect": "yes"}), json!({"reconnect": {"tries": 3}}), json!({"heartbeatInterval": "1s"})]
        {
            assert_eq!(ClientOptions::from_json(&bad).unwrap_err().kind(), ErrorKind::InvalidConfig, "{bad}");
        }
        let m = MessageOptions::from_json(&json!({"prompt": "p", "idleTimeout": 2.5})).unwrap();
        assert_eq!(m.idle_timeout, Some(Duration::from_millis(2500)));
        // Backoff: doubling from the initial delay, capped.
        let p = crate::config::ReconnectPolicy::default();
        let delays: Vec<u64> = (1..=8).map(|n| p.delay(n).as_millis() as u64).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(p.delay(u32::MAX), p.max_delay);
    }
}
