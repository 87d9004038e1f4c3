//! Client options, session configuration and message options (the Rust forms; `wire` encodes
//! them, `json` reads the bindings' JSON forms).

use crate::events::SessionEvent;
use crate::framing::DEFAULT_MAX_MESSAGE_SIZE;
use crate::handlers::{JsonHandler, PermissionHandler, Tool, UserInputHandler};
use crate::transport::Transport;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How to start or reach the CLI. Mirrors the official SDKs' client options.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub transport: Transport,
    /// CLI executable; otherwise `COPILOT_CLI_PATH`, then the installed copy, then `PATH`.
    pub cli_path: Option<PathBuf>,
    /// Arguments placed before the SDK's own.
    pub cli_args: Vec<String>,
    /// Replaces the inherited environment of a spawned CLI when set.
    pub env: Option<Vec<(String, String)>>,
    /// Working directory of a spawned CLI.
    pub cwd: Option<PathBuf>,
    /// `--log-level` (`none`, `error`, `warning`, `info`, `debug`, `all`).
    pub log_level: Option<String>,
    /// GitHub token: a spawned CLI logs in with it (`--auth-token-env`); with an external
    /// server (`Transport::Url`) it becomes the per-session identity of every session this
    /// client opens (unless the session config sets its own).
    pub github_token: Option<String>,
    /// Let a spawned CLI use the logged-in user. Default: true unless a token is given.
    pub use_logged_in_user: Option<bool>,
    /// `--session-idle-timeout` in seconds for a spawned CLI (0 = none).
    pub session_idle_timeout_secs: u64,
    /// Connection token: sent in `connect`; a spawned TCP CLI gets it (or a random one).
    pub connection_token: Option<String>,
    /// State directory of a spawned CLI (`COPILOT_HOME`).
    pub copilot_home: Option<PathBuf>,
    /// Largest accepted incoming message.
    pub max_message_size: usize,
    /// Deadline for ordinary calls (None: wait as long as the connection lives).
    pub request_timeout: Option<Duration>,
    /// Deadline for start (spawn, port announcement, handshake).
    pub start_timeout: Duration,
    /// How long `stop` waits for a spawned CLI to exit before killing it.
    pub stop_grace: Duration,
    /// Re-arm TCP_QUICKACK after each read (Linux, TCP transports).
    pub tcp_quickack: bool,
    /// Start (spawn or connect) on the first call that needs the server (default). When
    /// false, calls before [`crate::Client::start`] fail with `not_connected`.
    pub auto_start: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            transport: Transport::Stdio,
            cli_path: None,
            cli_args: Vec::new(),
            env: None,
            cwd: None,
            log_level: None,
            github_token: None,
            use_logged_in_user: None,
            session_idle_timeout_secs: 0,
            connection_token: None,
            copilot_home: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            request_timeout: None,
            start_timeout: Duration::from_secs(30),
            stop_grace: Duration::from_secs(5),
            tcp_quickack: true,
            auto_start: true,
        }
    }
}

impl ClientOptions {
    /// Options for an already running server (`"host:port"`, `"port"`, `"http://host:port"`).
    pub fn url(url: impl Into<String>) -> Self {
        ClientOptions { transport: Transport::Url(url.into()), ..Default::default() }
    }
}

/// Callback for events, used by [`SessionConfig::on_event`].
pub type EventCallback = Arc<dyn Fn(&SessionEvent) + Send + Sync>;

/// Everything a session is created (or resumed) with. Typed fields cover the common options;
/// `extra` passes any other `session.create` field (PROTOCOL.md §4.1) through as JSON.
#[derive(Clone, Default)]
pub struct SessionConfig {
    /// Client-chosen id (a UUID is generated when absent).
    pub session_id: Option<String>,
    pub model: Option<String>,
    /// `low`, `medium`, `high`, `xhigh`, `max` (the CLI also knows `none`, `minimal`).
    pub reasoning_effort: Option<String>,
    /// BYOK provider object (`{type, baseUrl, apiKey, …}`).
    pub provider: Option<Value>,
    pub tools: Vec<Tool>,
    /// `{mode: "append"|"replace"|"customize", content?, sections?}`.
    pub system_message: Option<Value>,
    pub available_tools: Option<Vec<String>>,
    pub excluded_tools: Option<Vec<String>>,
    pub custom_agents: Option<Vec<Value>>,
    pub mcp_servers: Option<Map<String, Value>>,
    pub working_directory: Option<String>,
    pub streaming: Option<bool>,
    /// Per-session GitHub identity.
    pub github_token: Option<String>,
    /// `interactive`, `plan`, `autopilot`: applied with `session.mode.set` right after create/resume.
    pub mode: Option<String>,
    pub infinite_sessions: Option<Value>,
    pub client_name: Option<String>,
    pub on_permission_request: Option<Arc<dyn PermissionHandler>>,
    pub on_user_input_request: Option<Arc<dyn UserInputHandler>>,
    /// Hooks: input `{hookType, input}`, output the hook output (or null).
    pub on_hook: Option<Arc<dyn JsonHandler>>,
    /// `systemMessage.transform`: input `{sections}`, output `{sections}`.
    pub on_system_message_transform: Option<Arc<dyn JsonHandler>>,
    /// `exitPlanMode.request`: output `{approved, selectedAction?, feedback?}`.
    pub on_exit_plan_mode: Option<Arc<dyn JsonHandler>>,
    /// `providerToken.getToken`: input `{providerName}`, output `{token}` or a string.
    pub on_provider_token: Option<Arc<dyn JsonHandler>>,
    /// `autoModeSwitch.request`: input `{errorCode?, retryAfterSeconds?}`, output `"yes"`,
    /// `"yes_always"`, `"no"`, a boolean or `{response}` (default: no).
    pub on_auto_mode_switch: Option<Arc<dyn JsonHandler>>,
    /// A language binding's end of the host bridge (set by [`crate::host::attach`]).
    pub host: Option<crate::host::HostPort>,
    /// Receives every event from the very first one (registered before `session.create`).
    pub on_event: Option<EventCallback>,
    /// Called once when the stream `on_event` reads ends (disconnect, client stop, lost
    /// connection), after its last event.
    pub on_event_end: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Any other wire field, sent as is (overrides the typed fields on conflict).
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("session_id", &self.session_id)
            .field("model", &self.model)
            .field("tools", &self.tools)
            .field("extra", &self.extra)
            .finish_non_exhaustive()
    }
}

/// A prompt and how to send it. `timeout` and `abort_on_timeout` apply to `send_and_wait` only.
#[derive(Clone, Debug)]
pub struct MessageOptions {
    pub prompt: String,
    /// `{type: "file"|"directory"|"selection"|"blob", …}` objects.
    pub attachments: Vec<Value>,
    /// `enqueue` (default) or `immediate` (steer the running turn).
    pub mode: Option<String>,
    /// Per-turn HTTP headers for the model provider.
    pub request_headers: Option<Map<String, Value>>,
    /// How long `send_and_wait` waits for `session.idle` (default 60 s).
    pub timeout: Duration,
    /// Abort the turn when `send_and_wait` times out (default: leave it running).
    pub abort_on_timeout: bool,
    /// Any other `session.send` field.
    pub extra: Map<String, Value>,
}

pub const DEFAULT_SEND_AND_WAIT_TIMEOUT: Duration = Duration::from_secs(60);

impl MessageOptions {
    pub fn new(prompt: impl Into<String>) -> Self {
        MessageOptions {
            prompt: prompt.into(),
            attachments: Vec::new(),
            mode: None,
            request_headers: None,
            timeout: DEFAULT_SEND_AND_WAIT_TIMEOUT,
            abort_on_timeout: false,
            extra: Map::new(),
        }
    }
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    pub fn abort_on_timeout(mut self, yes: bool) -> Self {
        self.abort_on_timeout = yes;
        self
    }
}

impl From<&str> for MessageOptions {
    fn from(p: &str) -> Self {
        MessageOptions::new(p)
    }
}
impl From<String> for MessageOptions {
    fn from(p: String) -> Self {
        MessageOptions::new(p)
    }
}
