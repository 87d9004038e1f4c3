package copilot

// The official SDKs' features beyond the basics (issue 12, fourth slice): elicitation and the
// session UI helpers, slash commands, the official auto-mode-switch handler, the MCP OAuth
// handler, the session filesystem provider, the GitHub token provider, telemetry and W3C trace
// context, mode "empty". Each server→host request reaches the session's dispatch as a request
// kind of the core (elicitation, command, autoModeSwitch, mcpAuth, sessionFs, gitHubToken);
// the core reads the answers (bindings-c/README.md lists the forms).

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// Int returns a pointer to v, for optional integer fields (UIInputOptions.MinLength, …).
func Int(v int) *int { return &v }

// Float64 returns a pointer to v.
func Float64(v float64) *float64 { return &v }

// ---- Elicitation -----------------------------------------------------------------------------

// ElicitationAction is the user's answer to an elicitation: accept, decline or cancel.
type ElicitationAction string

// The elicitation actions.
const (
	ElicitationActionAccept  ElicitationAction = "accept"
	ElicitationActionDecline ElicitationAction = "decline"
	ElicitationActionCancel  ElicitationAction = "cancel"
)

// ElicitationSchema is the form of an elicitation: an object schema whose properties are MCP
// primitive fields (string, with enum/format/minLength/maxLength; number, integer; boolean;
// array of enum). Type is "object" when left empty.
type ElicitationSchema struct {
	Type       string         `json:"type"`
	Properties map[string]any `json:"properties"`
	Required   []string       `json:"required,omitempty"`
}

// MarshalJSON fills in Type "object" and an empty Properties.
func (s ElicitationSchema) MarshalJSON() ([]byte, error) {
	type plain ElicitationSchema
	if s.Type == "" {
		s.Type = "object"
	}
	if s.Properties == nil {
		s.Properties = map[string]any{}
	}
	return json.Marshal(plain(s))
}

// ElicitationContext is an elicitation request of the server (an MCP server or the session's
// UI helpers asking the user through this host).
type ElicitationContext struct {
	SessionID string `json:"sessionId"`
	RequestID string `json:"requestId"`
	// Message is what is being asked.
	Message string `json:"message"`
	// RequestedSchema is the form (mode "form"); nil in mode "url".
	RequestedSchema *ElicitationSchema `json:"requestedSchema"`
	// Mode is "form" or "url".
	Mode string `json:"mode"`
	// ElicitationSource names the asker (an MCP server's name, …).
	ElicitationSource string `json:"elicitationSource"`
	// URL is the page to open (mode "url").
	URL string `json:"url"`
	// Raw is the request payload as received.
	Raw json.RawMessage `json:"-"`
	// Context() is the handler's context: cancelled when the answer is no longer wanted.
	handlerContext
}

// ElicitationResult is the answer to an elicitation. Content holds the form's values when
// Action is accept. An empty Action accepts when Content is set and cancels otherwise.
type ElicitationResult struct {
	Action  ElicitationAction `json:"action"`
	Content map[string]any    `json:"content,omitempty"`
}

// ElicitationHandler answers the server's elicitation requests; an error cancels the request.
type ElicitationHandler func(ctx ElicitationContext) (ElicitationResult, error)

func (r ElicitationResult) wire() ElicitationResult {
	if r.Action == "" {
		r.Action = ElicitationActionCancel
		if r.Content != nil {
			r.Action = ElicitationActionAccept
		}
	}
	return r
}

// SessionCapabilities are the host capabilities of a session (Session.Capabilities): UI.Elicitation
// is true when a session on the server was created with an elicitation handler.
type SessionCapabilities struct {
	UI SessionUICapabilities `json:"ui"`
	// Raw is the capabilities object as the server last described it.
	Raw json.RawMessage `json:"-"`
}

// SessionUICapabilities are the UI capabilities of a session.
type SessionUICapabilities struct {
	Elicitation bool `json:"elicitation"`
}

// UIInputOptions shape the text field of SessionUI.Input.
type UIInputOptions struct {
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	MinLength   *int   `json:"minLength,omitempty"`
	MaxLength   *int   `json:"maxLength,omitempty"`
	// Format: email, uri, date or date-time.
	Format  string `json:"format,omitempty"`
	Default string `json:"default,omitempty"`
}

// ---- Slash commands --------------------------------------------------------------------------

// CommandDefinition is a slash command the session offers (SessionConfig.Commands): "/Name
// args" runs Handler in this process.
type CommandDefinition struct {
	Name        string
	Description string
	Handler     CommandHandler
}

// CommandContext is one execution of a slash command.
type CommandContext struct {
	SessionID string `json:"sessionId"`
	RequestID string `json:"requestId"`
	// Command is the whole command line ("/deploy prod now").
	Command string `json:"command"`
	// CommandName is the name without the slash ("deploy").
	CommandName string `json:"commandName"`
	// Args is the raw text after the name ("prod now").
	Args string `json:"args"`
	// Raw is the request payload as received.
	Raw json.RawMessage `json:"-"`
	// Context() is the handler's context: cancelled when the answer is no longer wanted.
	handlerContext
}

// CommandHandler runs a slash command; its error's message is the command's error.
type CommandHandler func(ctx CommandContext) error

// ---- Auto-mode switch (official form) --------------------------------------------------------

// AutoModeSwitchInvocation is the context the official SDKs pass beside an auto-mode switch
// offer: the id of the session.
type AutoModeSwitchInvocation struct {
	SessionID string
}

// AutoModeSwitchRequestHandler answers the CLI's offer to switch to auto mode after a rate
// limit with AutoModeSwitchYes, AutoModeSwitchYesAlways or AutoModeSwitchNo; an error declines.
type AutoModeSwitchRequestHandler func(req AutoModeSwitchRequest, inv AutoModeSwitchInvocation) (string, error)

// ---- MCP OAuth -------------------------------------------------------------------------------

// McpAuthRequest asks the host for an access token of an MCP server that requires OAuth.
type McpAuthRequest struct {
	SessionID  string `json:"sessionId"`
	RequestID  string `json:"requestId"`
	ServerName string `json:"serverName"`
	ServerURL  string `json:"serverUrl"`
	// Reason: initial, refresh, reauth or upscope.
	Reason                string                    `json:"reason"`
	WWWAuthenticateParams *McpWWWAuthenticateParams `json:"wwwAuthenticateParams"`
	ResourceMetadata      string                    `json:"resourceMetadata"`
	StaticClientConfig    *McpStaticClientConfig    `json:"staticClientConfig"`
	// Raw is the request payload as received.
	Raw json.RawMessage `json:"-"`
	// Context() is the handler's context: cancelled when the answer is no longer wanted.
	handlerContext
}

// McpWWWAuthenticateParams are the parameters of the server's WWW-Authenticate header.
type McpWWWAuthenticateParams struct {
	ResourceMetadataURL string `json:"resourceMetadataUrl"`
	Scope               string `json:"scope"`
	Error               string `json:"error"`
}

// McpStaticClientConfig is the OAuth client configured for the MCP server.
type McpStaticClientConfig struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	GrantType    string `json:"grantType"`
	PublicClient *bool  `json:"publicClient"`
}

// McpAuthInvocation is the context passed beside an MCP OAuth request: the session's id.
type McpAuthInvocation struct {
	SessionID string
}

// McpAuthToken is an access token for an MCP server; ExpiresIn is in seconds (0: unknown).
type McpAuthToken struct {
	AccessToken string
	TokenType   string
	ExpiresIn   int64
}

// McpAuthResult answers an MCP OAuth request: a token (McpAuthTokenResult) or cancelled
// (McpAuthCancelled, or a nil *McpAuthResult).
type McpAuthResult struct {
	token *McpAuthToken
}

// McpAuthTokenResult answers with a token.
func McpAuthTokenResult(t *McpAuthToken) *McpAuthResult { return &McpAuthResult{token: t} }

// McpAuthCancelled answers that no token will come.
func McpAuthCancelled() *McpAuthResult { return &McpAuthResult{} }

// MarshalJSON is {kind: "token", accessToken, tokenType?, expiresIn?} or {kind: "cancelled"}.
func (r *McpAuthResult) MarshalJSON() ([]byte, error) {
	if r == nil || r.token == nil {
		return []byte(`{"kind":"cancelled"}`), nil
	}
	return json.Marshal(tokenJSON(r.token.AccessToken, r.token.TokenType, r.token.ExpiresIn))
}

func tokenJSON(access, tokenType string, expiresIn int64) map[string]any {
	m := map[string]any{"kind": "token", "accessToken": access}
	if tokenType != "" {
		m["tokenType"] = tokenType
	}
	if expiresIn > 0 {
		m["expiresIn"] = expiresIn
	}
	return m
}

// McpAuthHandler returns a token for an MCP server; a nil result or an error cancels.
type McpAuthHandler func(req McpAuthRequest, inv McpAuthInvocation) (*McpAuthResult, error)

// ---- GitHub token provider -------------------------------------------------------------------

// GitHubTokenRequestReason says why a token is asked for.
type GitHubTokenRequestReason string

// The reasons.
const (
	// GitHubTokenRequestReasonInitial: the session is being created or resumed.
	GitHubTokenRequestReasonInitial GitHubTokenRequestReason = "initial"
	// GitHubTokenRequestReasonRefresh: the previous token was refused.
	GitHubTokenRequestReasonRefresh GitHubTokenRequestReason = "refresh"
)

// GitHubTokenProviderArgs is a token request of a session.
type GitHubTokenProviderArgs struct {
	// Host is the GitHub host ("https://github.com").
	Host string
	// SessionID is the session the token is for.
	SessionID *string
	Reason    GitHubTokenRequestReason
	// Raw is the request payload as received.
	Raw json.RawMessage
	ctx context.Context
}

// Context is the provider's context: cancelled when the answer is no longer wanted.
func (a GitHubTokenProviderArgs) Context() context.Context {
	if a.ctx == nil {
		return context.Background()
	}
	return a.ctx
}

// GitHubToken is a session-scoped GitHub token; ExpiresIn is in seconds (0: 8 hours).
type GitHubToken struct {
	AccessToken string
	TokenType   *string
	ExpiresIn   int64
}

// GitHubTokenProviderResult is a token (GitHubTokenResult) or a refusal (GitHubTokenCancelled,
// or a nil result).
type GitHubTokenProviderResult struct {
	token *GitHubToken
}

// GitHubTokenResult answers with a token.
func GitHubTokenResult(t *GitHubToken) *GitHubTokenProviderResult {
	return &GitHubTokenProviderResult{token: t}
}

// GitHubTokenCancelled refuses: the session's creation (or the refresh) fails.
func GitHubTokenCancelled() *GitHubTokenProviderResult { return &GitHubTokenProviderResult{} }

// MarshalJSON is {kind: "token", accessToken, tokenType?, expiresIn?} or {kind: "cancelled"}.
func (r *GitHubTokenProviderResult) MarshalJSON() ([]byte, error) {
	if r == nil || r.token == nil {
		return []byte(`{"kind":"cancelled"}`), nil
	}
	tt := ""
	if r.token.TokenType != nil {
		tt = *r.token.TokenType
	}
	return json.Marshal(tokenJSON(r.token.AccessToken, tt, r.token.ExpiresIn))
}

// GitHubTokenProvider acquires the session's GitHub token when it is created or resumed
// ("initial") and when the token was refused ("refresh"). An error fails that operation.
type GitHubTokenProvider func(args GitHubTokenProviderArgs) (*GitHubTokenProviderResult, error)

// ---- Session filesystem ----------------------------------------------------------------------

// The path conventions of SessionFsConfig.
const (
	SessionFsConventionsPosix   = "posix"
	SessionFsConventionsWindows = "windows"
)

// SessionFsConfig (ClientOptions.SessionFs) moves the session state of every session of the
// client into this process: the CLI reads and writes it through each session's
// SessionFsProvider (SessionConfig.CreateSessionFsProvider, then required).
type SessionFsConfig struct {
	// InitialCwd is the sessions' working directory as the CLI sees it.
	InitialCwd string `json:"initialCwd"`
	// SessionStatePath is the root of the session state (<SessionStatePath>/<sessionId>/…).
	SessionStatePath string `json:"sessionStatePath"`
	// Conventions: SessionFsConventionsPosix or SessionFsConventionsWindows.
	Conventions string `json:"conventions"`
}

// SessionFsFileInfo is the result of SessionFsProvider.Stat.
type SessionFsFileInfo struct {
	IsFile      bool      `json:"isFile"`
	IsDirectory bool      `json:"isDirectory"`
	Size        int64     `json:"size"`
	Mtime       time.Time `json:"mtime"`
	Birthtime   time.Time `json:"birthtime"`
}

// SessionFsDirEntry is an entry of SessionFsProvider.ReaddirWithTypes; Type is "file" or
// "directory".
type SessionFsDirEntry struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// SessionFsProvider is the filesystem a session's state lives in (ClientOptions.SessionFs).
// An error wrapping fs.ErrNotExist (errors.Is) is reported to the CLI as ENOENT; any other
// error fails the operation. Mode is the Unix permission bits, nil when the CLI gave none.
// The methods run on goroutines of their own, possibly concurrently.
type SessionFsProvider interface {
	ReadFile(path string) (string, error)
	WriteFile(path, content string, mode *int) error
	AppendFile(path, content string, mode *int) error
	Exists(path string) (bool, error)
	Stat(path string) (SessionFsFileInfo, error)
	Mkdir(path string, recursive bool, mode *int) error
	Readdir(path string) ([]string, error)
	ReaddirWithTypes(path string) ([]SessionFsDirEntry, error)
	Rm(path string, recursive, force bool) error
	Rename(src, dest string) error
}

// serveSessionFs runs one sessionFs operation on the provider.
func serveSessionFs(p SessionFsProvider, op string, payload json.RawMessage) (any, error) {
	if p == nil {
		return nil, errors.New("this session has no SessionFsProvider")
	}
	var a struct {
		Path      string `json:"path"`
		Content   string `json:"content"`
		Mode      *int   `json:"mode"`
		Recursive bool   `json:"recursive"`
		Force     bool   `json:"force"`
		Src       string `json:"src"`
		Dest      string `json:"dest"`
	}
	if err := json.Unmarshal(payload, &a); err != nil {
		return nil, fmt.Errorf("sessionFs %s: %w", op, err)
	}
	var result any
	var err error
	switch op {
	case "readFile":
		result, err = p.ReadFile(a.Path)
	case "writeFile":
		err = p.WriteFile(a.Path, a.Content, a.Mode)
	case "appendFile":
		err = p.AppendFile(a.Path, a.Content, a.Mode)
	case "exists":
		result, err = p.Exists(a.Path)
	case "stat":
		result, err = p.Stat(a.Path)
	case "mkdir":
		err = p.Mkdir(a.Path, a.Recursive, a.Mode)
	case "readdir":
		var names []string
		names, err = p.Readdir(a.Path)
		if names == nil {
			names = []string{}
		}
		result = names
	case "readdirWithTypes":
		var entries []SessionFsDirEntry
		entries, err = p.ReaddirWithTypes(a.Path)
		if entries == nil {
			entries = []SessionFsDirEntry{}
		}
		result = entries
	case "rm":
		err = p.Rm(a.Path, a.Recursive, a.Force)
	case "rename":
		err = p.Rename(a.Src, a.Dest)
	default:
		return nil, fmt.Errorf("unknown sessionFs operation %q", op)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return map[string]any{"error": map[string]any{"code": "ENOENT", "message": err.Error()}}, nil
		}
		return nil, err
	}
	return result, nil
}

// ---- Telemetry and trace context -------------------------------------------------------------

// TelemetryConfig (ClientOptions.Telemetry) turns on the CLI's OpenTelemetry export (a spawned
// CLI only).
type TelemetryConfig struct {
	// OTLPEndpoint is the OTLP HTTP endpoint ("http://localhost:4318").
	OTLPEndpoint string
	// OTLPProtocol: "http/json" or "http/protobuf".
	OTLPProtocol string
	// FilePath receives the spans as JSON lines (ExporterType "file").
	FilePath string
	// ExporterType: "otlp-http" or "file".
	ExporterType string
	// SourceName is the instrumentation scope name.
	SourceName string
	// CaptureContent records message content in the spans.
	CaptureContent bool
}

func (t *TelemetryConfig) toJSON() map[string]any {
	m := map[string]any{}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("otlpEndpoint", t.OTLPEndpoint)
	put("otlpProtocol", t.OTLPProtocol)
	put("filePath", t.FilePath)
	put("exporterType", t.ExporterType)
	put("sourceName", t.SourceName)
	if t.CaptureContent {
		m["captureContent"] = true
	}
	return m
}

// TraceContextProvider returns the W3C trace context ("00-<trace id>-<span id>-<flags>" and
// the tracestate, "" when none) of the caller's current span, read from ctx.
type TraceContextProvider func(ctx context.Context) (traceparent, tracestate string)

type traceKey struct{}

type traceValue struct{ parent, state string }

// ContextWithTraceContext returns a context carrying a W3C trace context: CreateSession,
// ResumeSession, Send and SendAndWait called with it send it to the CLI (unless the config or
// the message sets TraceParent, or ClientOptions.OnGetTraceContext is set).
func ContextWithTraceContext(ctx context.Context, traceparent, tracestate string) context.Context {
	return context.WithValue(ctx, traceKey{}, traceValue{traceparent, tracestate})
}

// TraceContextFromContext returns the W3C trace context ctx carries ("" when none): a tool
// handler's context (ToolInvocation.Context()) carries the CLI's execute_tool span, so that a
// span started in the handler can be parented on it, and calls made with it propagate it.
func TraceContextFromContext(ctx context.Context) (traceparent, tracestate string) {
	if ctx == nil {
		return "", ""
	}
	v, _ := ctx.Value(traceKey{}).(traceValue)
	return v.parent, v.state
}

// traceFor is the trace context of a call: the hook's, else the one ctx carries.
func traceFor(hook TraceContextProvider, ctx context.Context) (string, string) {
	if ctx == nil {
		ctx = context.Background()
	}
	if hook != nil {
		return hook(ctx)
	}
	return TraceContextFromContext(ctx)
}

// putTrace adds the trace context to a create/resume/send object unless it has one.
func putTrace(m map[string]any, hook TraceContextProvider, ctx context.Context) {
	if _, set := m["traceparent"]; set {
		return
	}
	tp, ts := traceFor(hook, ctx)
	if tp != "" {
		m["traceparent"] = tp
		if ts != "" {
			m["tracestate"] = ts
		}
	}
}

// ---- Mode ------------------------------------------------------------------------------------

// The client modes (ClientOptions.Mode).
const (
	// ModeDefault is the CLI's own mode (the same as "").
	ModeDefault = "default"
	// ModeEmpty starts sessions with nothing of the CLI's own environment: the official
	// session defaults, no environment_context section, AvailableTools required, BaseDirectory
	// or SessionFs required.
	ModeEmpty = "empty"
)

// newSessionID is a random UUID (version 4).
func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
