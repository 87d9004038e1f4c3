package copilot

import (
	"encoding/json"
	"strings"
	"time"
)

// Bool returns a pointer to b, for the optional boolean options.
func Bool(b bool) *bool { return &b }

// String returns a pointer to s.
func String(s string) *string { return &s }

// ClientOptions says how to start or reach the Copilot CLI. The zero value spawns the CLI over
// stdio (found through CLIPath, COPILOT_CLI_PATH, or PATH).
type ClientOptions struct {
	// Connection is the official SDKs' way to say how to reach the CLI: StdioConnection{Path,
	// Args}, TCPConnection{Port, ConnectionToken, Path, Args} or URIConnection{URL,
	// ConnectionToken}. It replaces CLIUrl, CLIPath, CLIArgs, UseStdio, Port and
	// ConnectionToken: setting it with any of them is ErrInvalidConfig.
	Connection RuntimeConnection
	// CLIUrl connects to a running server: "host:port", "port" or "http://host:port".
	CLIUrl string
	// CLIPath is the CLI executable to spawn.
	CLIPath string
	// CLIArgs are placed before the SDK's own arguments.
	CLIArgs []string
	// UseStdio false spawns the CLI as a TCP server (on Port, 0 = any) instead of over stdio.
	UseStdio *bool
	// Port of a spawned TCP server (implies UseStdio false).
	Port int
	// Env replaces the environment of a spawned CLI ("KEY=VALUE" entries); nil inherits it.
	Env []string
	// Cwd is the working directory of a spawned CLI.
	Cwd string
	// LogLevel of a spawned CLI: none, error, warning, info, debug, all.
	LogLevel string
	// GitHubToken authenticates a spawned CLI.
	GitHubToken string
	// UseLoggedInUser lets a spawned CLI use the logged-in user (default: true without a token).
	UseLoggedInUser *bool
	// ConnectionToken is sent in the handshake; a spawned TCP server gets it (or a random one).
	ConnectionToken string
	// CopilotHome is the state directory of a spawned CLI (COPILOT_HOME).
	CopilotHome string
	// SessionIdleTimeoutSeconds passes --session-idle-timeout to a spawned CLI (0 = none).
	SessionIdleTimeoutSeconds int
	// StartTimeout bounds spawning, port detection and the handshake (0: 30 s).
	StartTimeout time.Duration
	// AutoStart false makes calls on a client that was never started fail with
	// ErrNotConnected instead of starting it (default true: the first call starts the client).
	AutoStart *bool
	// BaseDirectory is the official SDKs' name of CopilotHome (either may be set).
	BaseDirectory string
	// Mode "empty" (ModeEmpty) gives sessions nothing of the CLI's own environment (see
	// ModeEmpty); "" is the CLI's default mode.
	Mode string
	// SessionFs keeps the session state of every session of this client in this process
	// (each session then needs SessionConfig.CreateSessionFsProvider).
	SessionFs *SessionFsConfig
	// Telemetry turns on the spawned CLI's OpenTelemetry export (ErrInvalidConfig with a URL
	// connection).
	Telemetry *TelemetryConfig
	// OnGetTraceContext returns the W3C trace context of the current span, read from the
	// call's context: CreateSession, ResumeSession, Send and SendAndWait send it to the CLI
	// (unless the config or the message sets TraceParent). This module has no dependency: with
	// OpenTelemetry, inject the span of ctx here, e.g.
	//
	//	OnGetTraceContext: func(ctx context.Context) (string, string) {
	//		carrier := propagation.MapCarrier{}
	//		otel.GetTextMapPropagator().Inject(ctx, carrier)
	//		return carrier["traceparent"], carrier["tracestate"]
	//	}
	//
	// and in a tool handler extract copilot.TraceContextFromContext(inv.Context()) the same
	// way to parent its spans on the CLI's. Without it, the trace context set on the call's
	// context by ContextWithTraceContext is sent.
	OnGetTraceContext TraceContextProvider
	// OnLifecycle, when set, is subscribed like Client.OnLifecycle (every lifecycle and
	// connection notification) before the client can start, for the client's lifetime. A pool
	// refuses it (ErrInvalidConfig): subscribe on the pool's clients instead.
	OnLifecycle func(SessionLifecycleEvent)

	// Reliability (README, "Reliability (Go)"). A zero duration means the default; Off turns
	// the ones that can be off off.

	// RequestTimeout bounds every call but SendAndWait's wait (0: 30 s; Off: as long as the
	// connection lives). CallWithTimeout overrides it per call.
	RequestTimeout time.Duration
	// Reconnect says how the client reconnects to (URL) or restarts (spawned) the CLI when the
	// connection is lost, then resumes the open sessions (nil: the defaults).
	Reconnect *ReconnectOptions
	// HeartbeatInterval pings a connection that has been quiet this long (0: 15 s; Off: no
	// heartbeat).
	HeartbeatInterval time.Duration
	// HeartbeatTimeout declares the CLI dead when a heartbeat ping is unanswered this long:
	// pending calls fail with ErrTimeout and the client reconnects (0: 10 s).
	HeartbeatTimeout time.Duration
	// TCPKeepalive is the idle time before the first TCP keepalive probe (0: 10 s; Off: no
	// keepalive).
	TCPKeepalive time.Duration
	// TCPUserTimeout kills a TCP connection whose data stays unacknowledged this long (Linux
	// TCP_USER_TIMEOUT; 0: 20 s; Off: the kernel's default).
	TCPUserTimeout time.Duration
}

// Off turns off a duration option whose zero value means "the default" (RequestTimeout,
// HeartbeatInterval, TCPKeepalive, TCPUserTimeout; ReconnectOptions.CallWait: fail at once).
// Any negative duration does the same.
const Off time.Duration = -1

// ReconnectOptions tunes reconnection. Zero values are the defaults.
type ReconnectOptions struct {
	// Disabled: the client stops for good when the connection is lost (calls then fail with
	// ErrReconnectFailed, or the connection's error, until Start).
	Disabled bool
	// MaxAttempts per outage before giving up (0: 20; negative: no limit).
	MaxAttempts int
	// InitialDelay before the first attempt (0: 100 ms); delays double up to MaxDelay (0: 5 s),
	// each with ±25 % jitter.
	InitialDelay time.Duration
	MaxDelay     time.Duration
	// CallWait is how long a call made while reconnecting waits for the connection before it
	// fails with ErrReconnecting (0: 10 s; Off: fail at once).
	CallWait time.Duration
	// MaxRestarts of a spawned CLI within RestartWindow before giving up (0: 5; negative:
	// none). RestartWindow 0: 60 s.
	MaxRestarts   int
	RestartWindow time.Duration
}

// seconds is a duration option in JSON: unset for zero, 0 for Off (negative), else seconds.
func seconds(m map[string]any, key string, d time.Duration) {
	switch {
	case d < 0:
		m[key] = 0
	case d > 0:
		m[key] = d.Seconds()
	}
}

// count is a count option in JSON: unset for zero, 0 for negative.
func count(m map[string]any, key string, n int) {
	switch {
	case n < 0:
		m[key] = 0
	case n > 0:
		m[key] = n
	}
}

func (r *ReconnectOptions) toJSON() any {
	if r.Disabled {
		return false
	}
	m := map[string]any{}
	count(m, "maxAttempts", r.MaxAttempts)
	seconds(m, "initialDelay", r.InitialDelay)
	seconds(m, "maxDelay", r.MaxDelay)
	seconds(m, "callWait", r.CallWait)
	count(m, "maxRestarts", r.MaxRestarts)
	seconds(m, "restartWindow", r.RestartWindow)
	return m
}

func (o *ClientOptions) toJSON() (string, error) {
	m, err := o.toMap()
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// toMap is the options JSON as a map (a pool adds its own keys).
func (o *ClientOptions) toMap() (map[string]any, error) {
	m := map[string]any{}
	if o == nil {
		return m, nil
	}
	put := func(k string, v any, set bool) {
		if set {
			m[k] = v
		}
	}
	if c := connectionJSON(o.Connection); c != nil {
		m["connection"] = c
	}
	put("cliUrl", o.CLIUrl, o.CLIUrl != "")
	put("cliPath", o.CLIPath, o.CLIPath != "")
	put("cliArgs", o.CLIArgs, len(o.CLIArgs) > 0)
	if o.UseStdio != nil {
		m["useStdio"] = *o.UseStdio
	}
	put("port", o.Port, o.Port != 0)
	if o.Env != nil {
		env := map[string]string{}
		for _, kv := range o.Env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, configError("client option Env: %q is not KEY=VALUE", kv)
			}
			env[k] = v
		}
		m["env"] = env
	}
	put("cwd", o.Cwd, o.Cwd != "")
	put("logLevel", o.LogLevel, o.LogLevel != "")
	put("githubToken", o.GitHubToken, o.GitHubToken != "")
	if o.UseLoggedInUser != nil {
		m["useLoggedInUser"] = *o.UseLoggedInUser
	}
	put("connectionToken", o.ConnectionToken, o.ConnectionToken != "")
	put("copilotHome", o.CopilotHome, o.CopilotHome != "")
	put("baseDirectory", o.BaseDirectory, o.BaseDirectory != "")
	put("mode", o.Mode, o.Mode != "")
	put("sessionFs", o.SessionFs, o.SessionFs != nil)
	if o.Telemetry != nil {
		m["telemetry"] = o.Telemetry.toJSON()
	}
	put("sessionIdleTimeoutSeconds", o.SessionIdleTimeoutSeconds, o.SessionIdleTimeoutSeconds != 0)
	put("startTimeout", o.StartTimeout.Seconds(), o.StartTimeout > 0)
	if o.AutoStart != nil {
		m["autoStart"] = *o.AutoStart
	}
	seconds(m, "requestTimeout", o.RequestTimeout)
	if o.Reconnect != nil {
		m["reconnect"] = o.Reconnect.toJSON()
	}
	seconds(m, "heartbeatInterval", o.HeartbeatInterval)
	if o.HeartbeatTimeout != 0 {
		m["heartbeatTimeout"] = o.HeartbeatTimeout.Seconds() // negative: refused by the library
	}
	seconds(m, "tcpKeepalive", o.TCPKeepalive)
	seconds(m, "tcpUserTimeout", o.TCPUserTimeout)
	return m, nil
}

// ProviderConfig is a BYOK model provider ("openai", "azure", "anthropic").
type ProviderConfig struct {
	Type        string            `json:"type,omitempty"`
	BaseURL     string            `json:"baseUrl,omitempty"`
	APIKey      string            `json:"apiKey,omitempty"`
	BearerToken string            `json:"bearerToken,omitempty"`
	WireAPI     string            `json:"wireApi,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
}

// SystemMessageConfig adds to ("append"), replaces ("replace") or edits sections of
// ("customize") the system prompt.
type SystemMessageConfig struct {
	Mode     string         `json:"mode,omitempty"`
	Content  string         `json:"content,omitempty"`
	Sections map[string]any `json:"sections,omitempty"`
}

// SessionConfig configures a new (or resumed) session.
type SessionConfig struct {
	// SessionID is chosen by the client (a UUID when empty).
	SessionID string
	Model     string
	// ReasoningEffort: low, medium, high, xhigh, max.
	ReasoningEffort string
	Provider        *ProviderConfig
	// Tools the model may call; each runs its Handler in this process (see Tool.Handler).
	Tools            []Tool
	SystemMessage    *SystemMessageConfig
	AvailableTools   []string
	ExcludedTools    []string
	WorkingDirectory string
	// Streaming turns on assistant.message_delta events.
	Streaming bool
	// Mode: interactive, plan or autopilot (applied right after create/resume).
	Mode        string
	GitHubToken string
	ClientName  string
	// TraceParent and TraceState are the W3C trace context of the creation (the
	// ClientOptions.OnGetTraceContext hook's, or the context's, when empty).
	TraceParent string
	TraceState  string

	// Handlers. Each runs on a goroutine of its own, with the request the core delivered
	// (its Raw field holds the payload exactly as received); what it returns is sent to the
	// core as JSON, as given: the core reads it and applies its defaults to whatever is left
	// out (bindings-c/README.md lists the forms each kind accepts). An error or a panic is the
	// kind's failure answer. A kind without a handler gets the core's default answer.

	// OnPermissionRequest decides tool permission prompts (ApproveAll approves everything).
	OnPermissionRequest PermissionHandlerFunc
	// OnUserInputRequest answers the agent's questions (the ask_user tool).
	OnUserInputRequest UserInputHandler
	// Hooks serves lifecycle hooks by hook type, in any spelling ("preToolUse", "PreToolUse",
	// "on_pre_tool_use", …): the library names each hook request by the key it was registered
	// under. Only the types listed are called. (HookInvocation.Type is the CLI's spelling.)
	Hooks map[string]HookHandler
	// OnHook serves every hook type that Hooks does not list (setting it registers them all;
	// those arrive under the CLI's spelling, the listed ones under their Hooks key).
	OnHook HookHandler
	// OnSystemMessageTransform rewrites the system-message sections configured with the
	// "transform" action.
	OnSystemMessageTransform SystemMessageTransformHandler
	// OnExitPlanMode answers exit-plan-mode requests.
	OnExitPlanMode ExitPlanModeHandler
	// OnProviderToken returns a bearer token for the BYOK provider before each model request.
	OnProviderToken ProviderTokenHandler
	// OnAutoModeSwitch answers the CLI's offer to switch to auto mode after a rate limit.
	OnAutoModeSwitch AutoModeSwitchHandler
	// OnAutoModeSwitchRequest is the official SDKs' form of OnAutoModeSwitch (request,
	// invocation); setting both is ErrInvalidConfig.
	OnAutoModeSwitchRequest AutoModeSwitchRequestHandler
	// OnElicitationRequest answers elicitations (forms the server asks the user to fill in);
	// setting it gives the server the elicitation capability (Session.UI works).
	OnElicitationRequest ElicitationHandler
	// Commands are the slash commands this session offers; each runs its Handler here.
	Commands []CommandDefinition
	// OnMcpAuthRequest returns access tokens for MCP servers that require OAuth.
	OnMcpAuthRequest McpAuthHandler
	// CreateSessionFsProvider returns the session's filesystem (required when the client has
	// ClientOptions.SessionFs). It is called before the session is created (the CLI writes the
	// session's state while creating it) with the Session, whose SessionID is set; the rest of
	// the Session works once CreateSession returns.
	CreateSessionFsProvider func(*Session) SessionFsProvider
	// GitHubTokenProvider acquires the session's GitHub token (see GitHubTokenProvider);
	// not with GitHubToken, nor with a BYOK Provider.
	GitHubTokenProvider GitHubTokenProvider
	// OnEvent receives every event from the very first one (session.start), like a handler
	// registered with Session.On before the session exists. It runs on the session's event
	// goroutine, before the Session.On handlers of the same event.
	OnEvent func(SessionEvent)

	// Extra passes any other session.create field through as is.
	Extra map[string]any
}

// MessageOptions is a prompt and how to send it.
type MessageOptions struct {
	Prompt string
	// Attachments: {"type":"file"|"directory"|"selection"|"blob", …} objects.
	Attachments []map[string]any
	// Mode: "enqueue" (default) or "immediate".
	Mode string
	// RequestHeaders for the model provider, for this turn.
	RequestHeaders map[string]string
	// Timeout of SendAndWait (0: the context's deadline, or 60 s without one).
	Timeout time.Duration
	// IdleTimeout fails SendAndWait with ErrTimeout when the session sends no event for this
	// long (0: off). Every event restarts it: a long turn that streams never hits it.
	IdleTimeout time.Duration
	// AbortOnTimeout aborts the turn when SendAndWait times out.
	AbortOnTimeout bool
	// TraceParent and TraceState are the W3C trace context of the turn (the
	// ClientOptions.OnGetTraceContext hook's, or the context's, when empty).
	TraceParent string
	TraceState  string
}

func (m MessageOptions) toMap() map[string]any {
	o := map[string]any{"prompt": m.Prompt}
	if len(m.Attachments) > 0 {
		o["attachments"] = m.Attachments
	}
	if m.Mode != "" {
		o["mode"] = m.Mode
	}
	if len(m.RequestHeaders) > 0 {
		o["requestHeaders"] = m.RequestHeaders
	}
	if m.AbortOnTimeout {
		o["abortOnTimeout"] = true
	}
	if m.IdleTimeout != 0 {
		o["idleTimeout"] = m.IdleTimeout.Seconds() // negative: refused by the library
	}
	if m.TraceParent != "" {
		o["traceparent"] = m.TraceParent
	}
	if m.TraceState != "" {
		o["tracestate"] = m.TraceState
	}
	return o
}

// SessionEvent is one event of a session, in the wire shape. Unknown types and fields are kept
// (Raw, Data.Raw).
type SessionEvent struct {
	ID        string    `json:"id"`
	Timestamp string    `json:"timestamp"`
	ParentID  *string   `json:"parentId"`
	Type      string    `json:"type"`
	Data      EventData `json:"data"`
	Ephemeral bool      `json:"ephemeral,omitempty"`
	AgentID   string    `json:"agentId,omitempty"`
	// Raw is the whole event as received.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON keeps the raw event. One pass over the envelope (data kept raw), one over the
// data: half the work of letting each level unmarshal itself.
func (e *SessionEvent) UnmarshalJSON(b []byte) error {
	var w struct {
		ID        string          `json:"id"`
		Timestamp string          `json:"timestamp"`
		ParentID  *string         `json:"parentId"`
		Type      string          `json:"type"`
		Data      json.RawMessage `json:"data"`
		Ephemeral bool            `json:"ephemeral,omitempty"`
		AgentID   string          `json:"agentId,omitempty"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	raw := append(json.RawMessage(nil), b...)
	*e = SessionEvent{ID: w.ID, Timestamp: w.Timestamp, ParentID: w.ParentID, Type: w.Type,
		Ephemeral: w.Ephemeral, AgentID: w.AgentID, Raw: raw}
	if len(w.Data) > 0 {
		type plain EventData
		var d plain
		if err := json.Unmarshal(w.Data, &d); err != nil {
			return err
		}
		e.Data = EventData(d)
		e.Data.Raw = w.Data // already a copy (Unmarshal copies into a RawMessage)
	}
	return nil
}

// EventData holds the common fields of event data; Raw holds all of it.
type EventData struct {
	Content      *string `json:"content,omitempty"`
	DeltaContent *string `json:"deltaContent,omitempty"`
	MessageID    *string `json:"messageId,omitempty"`
	ToolCallID   *string `json:"toolCallId,omitempty"`
	ToolName     *string `json:"toolName,omitempty"`
	Success      *bool   `json:"success,omitempty"`
	Aborted      *bool   `json:"aborted,omitempty"`
	Message      *string `json:"message,omitempty"`
	ErrorType    *string `json:"errorType,omitempty"`
	// Raw is the whole data object.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON keeps the raw data.
func (d *EventData) UnmarshalJSON(b []byte) error {
	type plain EventData
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*d = EventData(p)
	d.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// Get decodes the whole data object into v.
func (d EventData) Get(v any) error { return json.Unmarshal(d.Raw, v) }

// Text is Content, or "" when absent.
func (e *SessionEvent) Text() string {
	if e == nil || e.Data.Content == nil {
		return ""
	}
	return *e.Data.Content
}

// SessionLifecycleEvent is a session.lifecycle notification (session.created,
// session.deleted, session.updated, session.foreground, session.background) or a
// notification of the client's connection (ConnectionLost, ConnectionReconnecting,
// ConnectionRestored, ConnectionGaveUp: SessionID is "", the details are in Metadata; see
// Connection).
type SessionLifecycleEvent struct {
	Type      string          `json:"type"`
	SessionID string          `json:"sessionId"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
}

// The lifecycle types of the client's connection.
const (
	// ConnectionLost: the connection to the CLI is gone (Error, Code).
	ConnectionLost = "connection.lost"
	// ConnectionReconnecting: one reconnection attempt (Attempt, MaxAttempts, DelayMs, Error, Code).
	ConnectionReconnecting = "connection.reconnecting"
	// ConnectionRestored: connected again, sessions resumed (Attempts, DowntimeMs, Restarted,
	// SessionsResumed, SessionsLost).
	ConnectionRestored = "connection.restored"
	// ConnectionGaveUp: no more attempts; calls fail with ErrReconnectFailed until Start
	// (Error, Code, Attempts).
	ConnectionGaveUp = "connection.gave_up"
)

// ConnectionDetails is the Metadata of a connection notification; each type sets some fields.
type ConnectionDetails struct {
	Error           string `json:"error"`
	Code            string `json:"code"`
	Attempt         int    `json:"attempt"`
	MaxAttempts     int    `json:"maxAttempts"`
	DelayMs         int64  `json:"delayMs"`
	Attempts        int    `json:"attempts"`
	DowntimeMs      int64  `json:"downtimeMs"`
	Restarted       bool   `json:"restarted"`
	SessionsResumed int    `json:"sessionsResumed"`
	SessionsLost    int    `json:"sessionsLost"`
	// Reason: why the client gave up at once (reconnection off).
	Reason string `json:"reason"`
}

// Connection decodes the details of a connection notification; ok is false for other types.
func (e SessionLifecycleEvent) Connection() (details ConnectionDetails, ok bool) {
	switch e.Type {
	case ConnectionLost, ConnectionReconnecting, ConnectionRestored, ConnectionGaveUp:
		ok = len(e.Metadata) == 0 || json.Unmarshal(e.Metadata, &details) == nil
	}
	return details, ok
}

// PingResponse is the result of Ping.
type PingResponse struct {
	Message         string `json:"message"`
	Timestamp       string `json:"timestamp"`
	ProtocolVersion int    `json:"protocolVersion"`
}

// GetStatusResponse is the result of GetStatus.
type GetStatusResponse struct {
	Version         string `json:"version"`
	ProtocolVersion int    `json:"protocolVersion"`
}

// GetAuthStatusResponse is the result of GetAuthStatus.
type GetAuthStatusResponse struct {
	IsAuthenticated bool   `json:"isAuthenticated"`
	AuthType        string `json:"authType,omitempty"`
	Host            string `json:"host,omitempty"`
	Login           string `json:"login,omitempty"`
	StatusMessage   string `json:"statusMessage,omitempty"`
}

// SessionMetadata describes a stored session (ListSessions, GetSessionMetadata). CreatedAt
// equals StartTime.
type SessionMetadata struct {
	SessionID    string          `json:"sessionId"`
	StartTime    time.Time       `json:"startTime"`
	ModifiedTime time.Time       `json:"modifiedTime"`
	CreatedAt    time.Time       `json:"createdAt"`
	Summary      string          `json:"summary,omitempty"`
	IsRemote     bool            `json:"isRemote"`
	Context      json.RawMessage `json:"context,omitempty"`
}

// SessionListFilter narrows ListSessions.
type SessionListFilter struct {
	Cwd        string `json:"cwd,omitempty"`
	GitRoot    string `json:"gitRoot,omitempty"`
	Repository string `json:"repository,omitempty"`
	Branch     string `json:"branch,omitempty"`
}
