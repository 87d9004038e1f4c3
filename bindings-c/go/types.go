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
	// RequestTimeout bounds ordinary calls (0: as long as the connection lives).
	RequestTimeout time.Duration
	// StartTimeout bounds spawning, port detection and the handshake (0: 30 s).
	StartTimeout time.Duration
	// AutoStart false makes calls on a client that was never started fail with
	// ErrNotConnected instead of starting it (default true: the first call starts the client).
	AutoStart *bool
}

func (o *ClientOptions) toJSON() (string, error) {
	m := map[string]any{}
	if o == nil {
		return "{}", nil
	}
	put := func(k string, v any, set bool) {
		if set {
			m[k] = v
		}
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
				return "", configError("client option Env: %q is not KEY=VALUE", kv)
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
	put("sessionIdleTimeoutSeconds", o.SessionIdleTimeoutSeconds, o.SessionIdleTimeoutSeconds != 0)
	put("requestTimeout", o.RequestTimeout.Seconds(), o.RequestTimeout > 0)
	put("startTimeout", o.StartTimeout.Seconds(), o.StartTimeout > 0)
	if o.AutoStart != nil {
		m["autoStart"] = *o.AutoStart
	}
	b, err := json.Marshal(m)
	return string(b), err
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
	// AbortOnTimeout aborts the turn when SendAndWait times out.
	AbortOnTimeout bool
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
// session.deleted, session.updated, session.foreground, session.background).
type SessionLifecycleEvent struct {
	Type      string          `json:"type"`
	SessionID string          `json:"sessionId"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
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

// SessionMetadata describes a stored session. CreatedAt equals StartTime.
type SessionMetadata struct {
	SessionID    string          `json:"sessionId"`
	StartTime    string          `json:"startTime"`
	ModifiedTime string          `json:"modifiedTime"`
	CreatedAt    string          `json:"createdAt"`
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
