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
    /// Deadline for control calls: every call but a turn's wait (default 30 s; None: wait as
    /// long as the connection lives). `Client::rpc_with_timeout` overrides it per call.
    pub request_timeout: Option<Duration>,
    /// Reconnecting (URL) and restarting (spawned CLI) after the connection is lost.
    pub reconnect: ReconnectPolicy,
    /// Ping a connection that has been quiet this long (default 15 s; None: no heartbeat).
    pub heartbeat_interval: Option<Duration>,
    /// A heartbeat `ping` unanswered for this long declares the CLI dead (default 10 s): the
    /// connection is closed, pending calls fail with `timeout`, and the client reconnects.
    pub heartbeat_timeout: Duration,
    /// TCP keepalive on TCP connections: idle time before the first probe (default 10 s;
    /// probes every 5 s, 3 of them; None: off).
    pub tcp_keepalive: Option<Duration>,
    /// `TCP_USER_TIMEOUT` on TCP connections (Linux): data unacknowledged for this long kills
    /// the connection (default 20 s; None: the kernel's default, ~15 min).
    pub tcp_user_timeout: Option<Duration>,
    /// Deadline for start (spawn, port announcement, handshake).
    pub start_timeout: Duration,
    /// How long `stop` waits for a spawned CLI to exit before killing it.
    pub stop_grace: Duration,
    /// Re-arm TCP_QUICKACK after each read (Linux, TCP transports).
    pub tcp_quickack: bool,
    /// Start (spawn or connect) on the first call that needs the server (default). When
    /// false, calls before [`crate::Client::start`] fail with `not_connected`.
    pub auto_start: bool,
    /// OpenTelemetry settings for a spawned CLI (the official SDKs' `telemetry`): set as the
    /// CLI's `COPILOT_OTEL_*` / `OTEL_*` environment.
    pub telemetry: Option<crate::telemetry::TelemetryConfig>,
    /// The official `mode: "empty"` (multi-tenant hardening): every session must name its
    /// `availableTools`, gets the hardened defaults, and the client needs `copilot_home` or
    /// `session_fs`. See [`crate::config::empty_mode`].
    pub empty_mode: bool,
    /// A host-implemented filesystem for session state (`sessionFs.setProvider` on every
    /// connection); every session then needs an `on_session_fs` handler.
    pub session_fs: Option<crate::session_fs::SessionFsConfig>,
    /// The host's current W3C trace context, asked on create, resume and send when the call
    /// carries none (the official `onGetTraceContext`).
    pub trace_context: Option<crate::telemetry::TraceContextProvider>,
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
            request_timeout: Some(DEFAULT_REQUEST_TIMEOUT),
            reconnect: ReconnectPolicy::default(),
            heartbeat_interval: Some(Duration::from_secs(15)),
            heartbeat_timeout: Duration::from_secs(10),
            tcp_keepalive: Some(Duration::from_secs(10)),
            tcp_user_timeout: Some(Duration::from_secs(20)),
            start_timeout: Duration::from_secs(30),
            stop_grace: Duration::from_secs(5),
            tcp_quickack: true,
            auto_start: true,
            telemetry: None,
            empty_mode: false,
            session_fs: None,
            trace_context: None,
        }
    }
}

/// The default deadline of control calls.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What a client does when its connection to the CLI is lost. Delays grow exponentially from
/// `initial_delay` to `max_delay`, each with ±25 % jitter.
#[derive(Clone, Debug, PartialEq)]
pub struct ReconnectPolicy {
    /// Reconnect at all (default true). Off: the client stops for good when the connection is
    /// lost, as before.
    pub enabled: bool,
    /// Attempts per outage before giving up (default 20, ≈ 80 s with the default delays).
    pub max_attempts: u32,
    /// Delay before the first attempt (default 100 ms).
    pub initial_delay: Duration,
    /// Longest delay between attempts (default 5 s).
    pub max_delay: Duration,
    /// How long a call made while reconnecting waits for the connection (default 10 s; zero:
    /// fail at once with `reconnecting`).
    pub call_wait: Duration,
    /// Spawned CLI: at most this many restarts within `restart_window` (default 5 in 60 s),
    /// then the client gives up (`reconnect_failed`).
    pub max_restarts: u32,
    pub restart_window: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            enabled: true,
            max_attempts: 20,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            call_wait: Duration::from_secs(10),
            max_restarts: 5,
            restart_window: Duration::from_secs(60),
        }
    }
}

impl ReconnectPolicy {
    /// No reconnection.
    pub fn disabled() -> Self {
        ReconnectPolicy { enabled: false, ..Default::default() }
    }

    /// The delay before attempt `n` (1-based), without jitter.
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(20));
        self.initial_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// How a client reaches the CLI, in the official SDKs' terms (`RuntimeConnection.forStdio`,
/// `forTcp`, `forUri`): another way to set [`ClientOptions::transport`], `cli_path`, `cli_args`
/// and `connection_token` together. JSON: `connection: {kind: "stdio" | "tcp" | "uri", …}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeConnection {
    /// Spawn the CLI and talk over its stdin/stdout (the default).
    Stdio { path: Option<PathBuf>, args: Vec<String> },
    /// Spawn the CLI listening on a TCP port (0: any free port) and connect to it.
    Tcp { port: u16, connection_token: Option<String>, path: Option<PathBuf>, args: Vec<String> },
    /// Connect to a running server (`"port"`, `"host:port"`, `"http://host:port"`).
    Uri { url: String, connection_token: Option<String> },
}

impl RuntimeConnection {
    pub fn for_stdio() -> Self {
        RuntimeConnection::Stdio { path: None, args: Vec::new() }
    }
    pub fn for_tcp(port: u16) -> Self {
        RuntimeConnection::Tcp { port, connection_token: None, path: None, args: Vec::new() }
    }
    pub fn for_uri(url: impl Into<String>) -> Self {
        RuntimeConnection::Uri { url: url.into(), connection_token: None }
    }
}

impl ClientOptions {
    /// Options that reach the CLI the given way (the other options stay at their defaults).
    pub fn for_connection(connection: RuntimeConnection) -> Self {
        let mut o = ClientOptions::default();
        o.apply_connection(connection);
        o
    }

    /// Checks the options that depend on each other (`from_json` and `start` call it).
    pub fn check(&self) -> crate::Result<()> {
        let external = matches!(self.transport, Transport::Url(_));
        if self.telemetry.is_some() && external {
            return Err(crate::Error::config(
                "client option `telemetry` configures a CLI this client starts; a server reached by URL (cliUrl, RuntimeConnection.forUri) has its own settings",
            ));
        }
        if self.empty_mode && !external && self.copilot_home.is_none() && self.session_fs.is_none() {
            return Err(crate::Error::config(
                "client mode \"empty\" needs an explicit place for session state: set `baseDirectory` or `sessionFs`",
            ));
        }
        Ok(())
    }

    /// Sets the transport, CLI path, arguments and connection token from `connection`.
    pub fn apply_connection(&mut self, connection: RuntimeConnection) {
        match connection {
            RuntimeConnection::Stdio { path, args } => {
                self.transport = Transport::Stdio;
                self.cli_path = path;
                self.cli_args = args;
            }
            RuntimeConnection::Tcp { port, connection_token, path, args } => {
                self.transport = Transport::Tcp { port };
                self.cli_path = path;
                self.cli_args = args;
                self.connection_token = connection_token;
            }
            RuntimeConnection::Uri { url, connection_token } => {
                self.transport = Transport::Url(url);
                self.connection_token = connection_token;
            }
        }
    }

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
    /// Elicitation (`elicitation.requested`): input `{requestId, message, requestedSchema, mode,
    /// elicitationSource, url}`, output `{action, content?}` (see [`crate::ui`]).
    pub on_elicitation: Option<Arc<dyn JsonHandler>>,
    /// Slash commands declared in `commands` (`command.execute`): input `{requestId, command,
    /// commandName, args}`; any output is success, a failure is the command's error.
    pub on_command: Option<Arc<dyn JsonHandler>>,
    /// Slash commands the host registers (`/name args`), sent as `commands` on the wire.
    pub commands: Vec<CommandDef>,
    /// MCP OAuth (`mcp.oauth_required`): input `{requestId, serverName, serverUrl, reason, …}`,
    /// output a token string, `{accessToken, …}` or null / `{kind: "cancelled"}`.
    pub on_mcp_auth: Option<Arc<dyn JsonHandler>>,
    /// The session filesystem (`sessionFs.*`): input `{operation, path, …}`, output per
    /// operation (see [`crate::session_fs`]).
    pub on_session_fs: Option<Arc<dyn JsonHandler>>,
    /// GitHub token provider (`gitHubToken.getToken`): input `{host, reason}`, output a token
    /// string, `{accessToken, expiresIn?, tokenType?}` or null / `{kind: "cancelled"}`. Asked
    /// again when the session reports an authentication error.
    pub on_github_token: Option<Arc<dyn JsonHandler>>,
    /// W3C trace context sent with create / resume (else the client's provider is asked).
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
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

/// A slash command the host registers (`/name args` in the CLI's command list).
#[derive(Clone, Debug, PartialEq)]
pub struct CommandDef {
    pub name: String,
    pub description: Option<String>,
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
    /// `send_and_wait` fails with `timeout` when the session sends no event for this long
    /// (default: off). Every event restarts it, so a long turn that streams never hits it and
    /// a silent one does; pair it with a long `timeout` for long turns.
    pub idle_timeout: Option<Duration>,
    /// Abort the turn when `send_and_wait` times out (default: leave it running).
    pub abort_on_timeout: bool,
    /// W3C trace context of this turn (else the client's provider is asked).
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
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
            idle_timeout: None,
            abort_on_timeout: false,
            traceparent: None,
            tracestate: None,
            extra: Map::new(),
        }
    }
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    pub fn idle_timeout(mut self, t: Duration) -> Self {
        self.idle_timeout = Some(t);
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
