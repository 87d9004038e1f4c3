package copilot

// Issue 12, fourth slice: the official features — elicitation and the session UI helpers,
// slash commands, the auto-mode-switch alias, the MCP OAuth handler, the session filesystem
// provider, the GitHub token provider, telemetry and trace context, mode "empty" — against the
// real CLI of the suite (main_test.go) and the fake model.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// The suite's harness, exported for official_quickstart_test.go (package copilot_test, which
// imports this package the way an application does): exported names of a _test.go file are
// visible to the external test package of the same directory only.

// QuickstartClientOptions spawns a CLI of its own over stdio the way the official quickstart
// does (LogLevel "error"), isolated like the suite's CLI (its HOME, working directory, no
// logged-in user).
func QuickstartClientOptions() *ClientOptions {
	o := ownCLIOptions(true)
	o.LogLevel = "error"
	o.Connection = StdioConnection{Path: o.CLIPath}
	o.CLIPath, o.UseStdio, o.ConnectionToken = "", nil, ""
	return o
}

// QuickstartSharedConnection reaches the suite's shared CLI.
func QuickstartSharedConnection() RuntimeConnection {
	return URIConnection{URL: sharedURL(), ConnectionToken: testToken}
}

// QuickstartProvider is the fake model as a BYOK provider (the official quickstart uses the
// logged-in user's Copilot models, which an offline test cannot).
func QuickstartProvider() *ProviderConfig { return provider() }

// ownClient spawns a CLI of this test over stdio with extra options, closed when the test ends.
func ownClient(t *testing.T, adjust func(o *ClientOptions)) *Client {
	t.Helper()
	o := ownCLIOptions(true)
	if adjust != nil {
		adjust(o)
	}
	c := NewClient(o)
	if err := c.Start(ctxT(t)); err != nil {
		t.Fatalf("spawn a CLI: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func isInvalidConfig(err error) bool {
	var e *Error
	return errors.Is(err, ErrInvalidConfig) && errors.As(err, &e) && e.Code == CodeInvalidConfig
}

// ---- Without a CLI: the session config JSON and the dispatch of the new request kinds ----------

func TestOfficialFeaturesConfigJSON(t *testing.T) {
	cfg := &SessionConfig{
		Commands: []CommandDefinition{
			{Name: "deploy", Description: "Deploy it", Handler: func(CommandContext) error { return nil }},
			{Name: "status", Handler: func(CommandContext) error { return nil }},
		},
		OnElicitationRequest:    func(ElicitationContext) (ElicitationResult, error) { return ElicitationResult{}, nil },
		OnAutoModeSwitchRequest: func(AutoModeSwitchRequest, AutoModeSwitchInvocation) (string, error) { return AutoModeSwitchNo, nil },
		OnMcpAuthRequest:        func(McpAuthRequest, McpAuthInvocation) (*McpAuthResult, error) { return nil, nil },
		CreateSessionFsProvider: func(*Session) SessionFsProvider { return newMemFs() },
		GitHubTokenProvider: func(GitHubTokenProviderArgs) (*GitHubTokenProviderResult, error) {
			return GitHubTokenCancelled(), nil
		},
		TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		TraceState:  "k=v",
	}
	text, _, err := buildSessionConfig(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Commands    []map[string]any `json:"commands"`
		Handlers    []string         `json:"handlers"`
		TraceParent string           `json:"traceparent"`
		TraceState  string           `json:"tracestate"`
	}
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		t.Fatal(err)
	}
	cmds, _ := json.Marshal(got.Commands)
	if string(cmds) != `[{"description":"Deploy it","name":"deploy"},{"name":"status"}]` {
		t.Errorf("commands %s", cmds)
	}
	sort.Strings(got.Handlers)
	if strings.Join(got.Handlers, ",") != "autoModeSwitch,command,elicitation,gitHubToken,mcpAuth,sessionFs" {
		t.Errorf("handlers %v", got.Handlers)
	}
	if got.TraceParent != cfg.TraceParent || got.TraceState != "k=v" {
		t.Errorf("trace %q %q", got.TraceParent, got.TraceState)
	}
	for name, bad := range map[string]*SessionConfig{
		"both auto-mode handlers": {OnAutoModeSwitch: func(AutoModeSwitchRequest) (any, error) { return nil, nil },
			OnAutoModeSwitchRequest: func(AutoModeSwitchRequest, AutoModeSwitchInvocation) (string, error) { return "", nil }},
		"token and provider":      {GitHubToken: "t", GitHubTokenProvider: func(GitHubTokenProviderArgs) (*GitHubTokenProviderResult, error) { return nil, nil }},
		"command without name":    {Commands: []CommandDefinition{{Handler: func(CommandContext) error { return nil }}}},
		"command without handler": {Commands: []CommandDefinition{{Name: "x"}}},
		"command twice": {Commands: []CommandDefinition{{Name: "x", Handler: func(CommandContext) error { return nil }},
			{Name: "x", Handler: func(CommandContext) error { return nil }}}},
	} {
		if _, _, err := buildSessionConfig(bad, false); !isInvalidConfig(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The client options.
	o := &ClientOptions{
		Mode: ModeEmpty, BaseDirectory: "/tmp/b",
		SessionFs: &SessionFsConfig{InitialCwd: "/w", SessionStatePath: "/s", Conventions: SessionFsConventionsPosix},
		Telemetry: &TelemetryConfig{ExporterType: "file", FilePath: "/tmp/o.jsonl", CaptureContent: true},
	}
	js, err := o.toJSON()
	if err != nil || js != `{"baseDirectory":"/tmp/b","mode":"empty","sessionFs":{"initialCwd":"/w","sessionStatePath":"/s","conventions":"posix"},"telemetry":{"captureContent":true,"exporterType":"file","filePath":"/tmp/o.jsonl"}}` {
		t.Errorf("client options %s %v", js, err)
	}
}

// The trace context of a call: the config's or message's own, else the hook's, else the context's.
func TestOfficialTraceContextSources(t *testing.T) {
	const a = "00-11111111111111111111111111111111-2222222222222222-01"
	const b = "00-33333333333333333333333333333333-4444444444444444-01"
	ctx := ContextWithTraceContext(context.Background(), a, "s=a")
	if tp, ts := TraceContextFromContext(ctx); tp != a || ts != "s=a" {
		t.Fatalf("%q %q", tp, ts)
	}
	if tp, ts := TraceContextFromContext(context.Background()); tp != "" || ts != "" {
		t.Fatalf("%q %q", tp, ts)
	}
	m := map[string]any{}
	putTrace(m, nil, ctx)
	if m["traceparent"] != a || m["tracestate"] != "s=a" {
		t.Fatalf("from the context: %v", m)
	}
	hook := func(context.Context) (string, string) { return b, "" }
	m = map[string]any{}
	putTrace(m, hook, ctx)
	if m["traceparent"] != b || m["tracestate"] != nil {
		t.Fatalf("from the hook: %v", m)
	}
	m = (MessageOptions{Prompt: "p", TraceParent: a}).toMap()
	putTrace(m, hook, ctx)
	if m["traceparent"] != a {
		t.Fatalf("the message's own: %v", m)
	}
	text, _, err := buildSessionConfigTraced(&SessionConfig{}, false, nil, ctx)
	if err != nil || !strings.Contains(text, a) {
		t.Fatalf("create config %s %v", text, err)
	}
	if text, _, _ := buildSessionConfigTraced(nil, true, nil, context.Background()); text != "" {
		t.Fatalf("a resume without config or trace sent %s", text)
	}
}

// Each new request kind reaches its Go handler with its payload decoded, and its answer is
// encoded in a form the core reads.
func TestOfficialFeaturesDispatch(t *testing.T) {
	mem := newMemFs()
	var seen []string
	var mu sync.Mutex
	note := func(s string) { mu.Lock(); seen = append(seen, s); mu.Unlock() }
	cfg := &SessionConfig{
		Commands: []CommandDefinition{{Name: "deploy", Handler: func(c CommandContext) error {
			note(fmt.Sprintf("command %s|%s|%s|%s", c.SessionID, c.Command, c.CommandName, c.Args))
			if c.Args == "fail" {
				return errors.New("deploy failed")
			}
			return nil
		}}},
		OnElicitationRequest: func(c ElicitationContext) (ElicitationResult, error) {
			var confirmed any
			if c.RequestedSchema != nil {
				confirmed = c.RequestedSchema.Properties["confirmed"]
			}
			note(fmt.Sprintf("elicitation %s|%s|%s|%v", c.SessionID, c.Message, c.Mode, confirmed))
			if c.Message == "err" {
				return ElicitationResult{}, errors.New("no")
			}
			if c.Message == "empty" {
				return ElicitationResult{}, nil
			}
			return ElicitationResult{Action: ElicitationActionAccept, Content: map[string]any{"confirmed": true}}, nil
		},
		OnAutoModeSwitchRequest: func(r AutoModeSwitchRequest, inv AutoModeSwitchInvocation) (string, error) {
			note(fmt.Sprintf("autoMode %s|%s", inv.SessionID, r.ErrorCode))
			return AutoModeSwitchYesAlways, nil
		},
		OnMcpAuthRequest: func(r McpAuthRequest, inv McpAuthInvocation) (*McpAuthResult, error) {
			note(fmt.Sprintf("mcpAuth %s|%s|%s|%s|%s", inv.SessionID, r.ServerName, r.ServerURL, r.Reason, r.WWWAuthenticateParams.Scope))
			if r.Reason == "refresh" {
				return nil, nil
			}
			return McpAuthTokenResult(&McpAuthToken{AccessToken: "mcp-token", ExpiresIn: 60}), nil
		},
		CreateSessionFsProvider: func(*Session) SessionFsProvider { return mem },
		GitHubTokenProvider: func(a GitHubTokenProviderArgs) (*GitHubTokenProviderResult, error) {
			note(fmt.Sprintf("gitHubToken %s|%s|%s", *a.SessionID, a.Host, a.Reason))
			if a.Reason == GitHubTokenRequestReasonRefresh {
				return GitHubTokenCancelled(), nil
			}
			return GitHubTokenResult(&GitHubToken{AccessToken: "gho_x", ExpiresIn: 7200}), nil
		},
	}
	_, d, err := buildSessionConfig(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	d.fs = mem
	ctx := context.Background()
	answer := func(kind, name, payload string) string {
		t.Helper()
		r, err := d.handle(ctx, kind, name, json.RawMessage(payload))
		if err != nil {
			return "error: " + err.Error()
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cases := []struct{ kind, name, payload, want string }{
		{"command", "deploy", `{"sessionId":"s1","requestId":"r","command":"/deploy prod now","commandName":"deploy","args":"prod now"}`, `null`},
		{"command", "deploy", `{"sessionId":"s1","command":"/deploy fail","commandName":"deploy","args":"fail"}`, `error: deploy failed`},
		{"command", "other", `{"sessionId":"s1","commandName":"other"}`, `error: Unknown command: other`},
		{"elicitation", "", `{"sessionId":"s1","message":"Deploy?","mode":"form","requestedSchema":{"type":"object","properties":{"confirmed":{"type":"boolean"}}}}`, `{"action":"accept","content":{"confirmed":true}}`},
		{"elicitation", "", `{"sessionId":"s1","message":"err"}`, `error: no`},
		{"elicitation", "", `{"sessionId":"s1","message":"empty"}`, `{"action":"cancel"}`},
		{"autoModeSwitch", "", `{"sessionId":"s1","errorCode":"rate_limited"}`, `"yes_always"`},
		{"mcpAuth", "", `{"sessionId":"s1","serverName":"srv","serverUrl":"https://mcp","reason":"initial","wwwAuthenticateParams":{"scope":"read"}}`, `{"accessToken":"mcp-token","expiresIn":60,"kind":"token"}`},
		{"mcpAuth", "", `{"sessionId":"s1","serverName":"srv","reason":"refresh","wwwAuthenticateParams":{}}`, `{"kind":"cancelled"}`},
		{"gitHubToken", "", `{"sessionId":"s1","host":"https://github.com","reason":"initial"}`, `{"accessToken":"gho_x","expiresIn":7200,"kind":"token"}`},
		{"gitHubToken", "", `{"sessionId":"s1","host":"https://github.com","reason":"refresh"}`, `{"kind":"cancelled"}`},
		{"sessionFs", "mkdir", `{"sessionId":"s1","operation":"mkdir","path":"/s/a/b","recursive":true}`, `null`},
		{"sessionFs", "writeFile", `{"sessionId":"s1","operation":"writeFile","path":"/s/a/b/f.txt","content":"one"}`, `null`},
		{"sessionFs", "appendFile", `{"sessionId":"s1","operation":"appendFile","path":"/s/a/b/f.txt","content":"+two"}`, `null`},
		{"sessionFs", "readFile", `{"sessionId":"s1","operation":"readFile","path":"/s/a/b/f.txt"}`, `"one+two"`},
		{"sessionFs", "exists", `{"sessionId":"s1","operation":"exists","path":"/s/a/b"}`, `true`},
		{"sessionFs", "readdir", `{"sessionId":"s1","operation":"readdir","path":"/s/a/b"}`, `["f.txt"]`},
		{"sessionFs", "readdirWithTypes", `{"sessionId":"s1","operation":"readdirWithTypes","path":"/s/a"}`, `[{"name":"b","type":"directory"}]`},
		{"sessionFs", "rename", `{"sessionId":"s1","operation":"rename","src":"/s/a/b/f.txt","dest":"/s/a/g.txt"}`, `null`},
		{"sessionFs", "readFile", `{"sessionId":"s1","operation":"readFile","path":"/s/a/b/f.txt"}`, `{"error":{"code":"ENOENT","message":"open /s/a/b/f.txt: file does not exist"}}`},
		{"sessionFs", "rm", `{"sessionId":"s1","operation":"rm","path":"/s/a","recursive":true}`, `null`},
		{"sessionFs", "exists", `{"sessionId":"s1","operation":"exists","path":"/s/a/g.txt"}`, `false`},
		{"sessionFs", "frobnicate", `{"sessionId":"s1","operation":"frobnicate"}`, `error: unknown sessionFs operation "frobnicate"`},
	}
	for _, c := range cases {
		if got := answer(c.kind, c.name, c.payload); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.kind, c.name, got, c.want)
		}
	}
	st := answer("sessionFs", "stat", `{"sessionId":"s1","operation":"stat","path":"/s"}`)
	var info SessionFsFileInfo
	if err := json.Unmarshal([]byte(st), &info); err != nil || !info.IsDirectory || info.IsFile || info.Mtime.IsZero() {
		t.Errorf("stat %s %v", st, err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"command s1|/deploy prod now|deploy|prod now", "command s1|/deploy fail|deploy|fail",
		"elicitation s1|Deploy?|form|map[type:boolean]", "elicitation s1|err||<nil>", "elicitation s1|empty||<nil>",
		"autoMode s1|rate_limited", "mcpAuth s1|srv|https://mcp|initial|read", "mcpAuth s1|srv||refresh|",
		"gitHubToken s1|https://github.com|initial", "gitHubToken s1|https://github.com|refresh",
	}
	if !slices.Equal(seen, want) {
		t.Errorf("handlers saw\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}

// memFs is an in-memory SessionFsProvider: files (path → content) and directories.
type memFs struct {
	mu    sync.Mutex
	files map[string]string
	dirs  map[string]bool
	times map[string]time.Time
	// misses counts the not-found answers.
	misses int
}

func newMemFs() *memFs {
	return &memFs{files: map[string]string{}, dirs: map[string]bool{"/": true}, times: map[string]time.Time{}}
}

func (m *memFs) notFound(op, p string) error {
	m.misses++
	return &fs.PathError{Op: op, Path: p, Err: fs.ErrNotExist}
}

func (m *memFs) parentOK(p string) bool { return m.dirs[path.Dir(path.Clean(p))] }

func (m *memFs) ReadFile(p string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.files[path.Clean(p)]
	if !ok {
		return "", m.notFound("open", p)
	}
	return c, nil
}

func (m *memFs) write(p, content string, appendTo bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p = path.Clean(p)
	if !m.parentOK(p) {
		return m.notFound("open", p)
	}
	if appendTo {
		content = m.files[p] + content
	}
	m.files[p] = content
	if _, ok := m.times[p]; !ok {
		m.times[p] = time.Now()
	}
	return nil
}

func (m *memFs) WriteFile(p, content string, _ *int) error  { return m.write(p, content, false) }
func (m *memFs) AppendFile(p, content string, _ *int) error { return m.write(p, content, true) }

func (m *memFs) Exists(p string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p = path.Clean(p)
	_, f := m.files[p]
	return f || m.dirs[p], nil
}

func (m *memFs) Stat(p string) (SessionFsFileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p = path.Clean(p)
	if c, ok := m.files[p]; ok {
		return SessionFsFileInfo{IsFile: true, Size: int64(len(c)), Mtime: time.Now(), Birthtime: m.times[p]}, nil
	}
	if m.dirs[p] {
		return SessionFsFileInfo{IsDirectory: true, Mtime: time.Now(), Birthtime: time.Now()}, nil
	}
	return SessionFsFileInfo{}, m.notFound("stat", p)
}

func (m *memFs) Mkdir(p string, recursive bool, _ *int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p = path.Clean(p)
	if !recursive && !m.parentOK(p) {
		return m.notFound("mkdir", p)
	}
	for d := p; d != "/" && d != "."; d = path.Dir(d) {
		m.dirs[d] = true
	}
	return nil
}

func (m *memFs) entries(p string) (map[string]string, error) {
	p = path.Clean(p)
	if !m.dirs[p] {
		return nil, m.notFound("readdir", p)
	}
	out := map[string]string{}
	for f := range m.files {
		if path.Dir(f) == p {
			out[path.Base(f)] = "file"
		}
	}
	for d := range m.dirs {
		if d != p && path.Dir(d) == p {
			out[path.Base(d)] = "directory"
		}
	}
	return out, nil
}

func (m *memFs) Readdir(p string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	es, err := m.entries(p)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(es))
	for n := range es {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

func (m *memFs) ReaddirWithTypes(p string) ([]SessionFsDirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	es, err := m.entries(p)
	if err != nil {
		return nil, err
	}
	out := make([]SessionFsDirEntry, 0, len(es))
	for n, typ := range es {
		out = append(out, SessionFsDirEntry{Name: n, Type: typ})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (m *memFs) Rm(p string, recursive, force bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p = path.Clean(p)
	under := func(x string) bool { return x == p || strings.HasPrefix(x, p+"/") }
	if _, ok := m.files[p]; !ok && !m.dirs[p] {
		if force {
			return nil
		}
		return m.notFound("rm", p)
	}
	if m.dirs[p] && !recursive {
		for f := range m.files {
			if under(f) {
				return fmt.Errorf("rm %s: directory not empty", p)
			}
		}
	}
	for f := range m.files {
		if under(f) {
			delete(m.files, f)
		}
	}
	for d := range m.dirs {
		if under(d) {
			delete(m.dirs, d)
		}
	}
	return nil
}

func (m *memFs) Rename(src, dest string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	src, dest = path.Clean(src), path.Clean(dest)
	c, ok := m.files[src]
	if !ok {
		return m.notFound("rename", src)
	}
	if !m.parentOK(dest) {
		return m.notFound("rename", dest)
	}
	delete(m.files, src)
	m.files[dest] = c
	return nil
}

// snapshot copies the files.
func (m *memFs) snapshot() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.files))
	for k, v := range m.files {
		out[k] = v
	}
	return out
}

// ---- Against the real CLI --------------------------------------------------------------------

// receive waits for one value (the deadline only detects hangs).
func receive[T any](t *testing.T, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("%s did not arrive", what)
	}
	var zero T
	return zero
}

// Slash commands: session.commands.execute runs the Go handler with the parsed command; a
// handler's error is the command's error; the command is listed as a client command.
func TestOfficialCommandsRealCLI(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	got := make(chan CommandContext, 4)
	cfg := config()
	cfg.Commands = []CommandDefinition{
		{Name: "deploy", Description: "Deploy the app", Handler: func(cc CommandContext) error {
			got <- cc
			return nil
		}},
		{Name: "explode", Description: "Always fails", Handler: func(CommandContext) error {
			return errors.New("the deploy exploded")
		}},
	}
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Disconnect() }()
	r, err := s.RPC.Commands.Execute(ctx, SessionCommandsExecuteParams{CommandName: "deploy", Args: "prod now"})
	if err != nil || r == nil || r.Error != nil {
		t.Fatalf("execute deploy: %+v %v", r, err)
	}
	cc := receive(t, got, "the deploy command")
	if cc.SessionID != s.SessionID || cc.CommandName != "deploy" || cc.Args != "prod now" || cc.Command != "/deploy prod now" {
		t.Fatalf("command context %+v (session %s)", cc, s.SessionID)
	}
	if cc.Context() == nil {
		t.Fatal("no handler context")
	}
	r, err = s.RPC.Commands.Execute(ctx, SessionCommandsExecuteParams{CommandName: "explode", Args: ""})
	failure := ""
	switch {
	case err != nil:
		failure = err.Error()
	case r != nil && r.Error != nil:
		failure = *r.Error
	}
	if !strings.Contains(failure, "the deploy exploded") {
		t.Fatalf("a failing command: %+v %v", r, err)
	}
	list, err := s.RPC.Commands.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list.Commands, func(c SlashCommandInfo) bool { return c.Name == "deploy" })
	if i < 0 || string(list.Commands[i].Kind) != "client" || list.Commands[i].Description != "Deploy the app" {
		t.Fatalf("commands.list: %+v", list.Commands)
	}
}

// The official auto-mode-switch handler is accepted and its session runs a turn (the CLI only
// offers the switch after a Copilot API rate limit, which a BYOK model cannot produce: the
// dispatch is checked in TestOfficialFeaturesDispatch); with OnAutoModeSwitch too it is refused.
func TestOfficialAutoModeSwitchAliasRealCLI(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	cfg := config()
	cfg.OnAutoModeSwitchRequest = func(AutoModeSwitchRequest, AutoModeSwitchInvocation) (string, error) {
		return AutoModeSwitchNo, nil
	}
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Disconnect() }()
	if answer, err := s.SendAndWait(ctx, MessageOptions{Prompt: "REPLY auto mode alias"}); err != nil || answer.Text() != "auto mode alias" {
		t.Fatalf("%v %v", answer, err)
	}
	cfg.OnAutoModeSwitch = func(AutoModeSwitchRequest) (any, error) { return false, nil }
	if _, err := c.CreateSession(ctx, cfg); !isInvalidConfig(err) {
		t.Fatalf("both handlers: %v", err)
	}
}

// mcpURL is the OAuth-protected MCP server of the fake model ("issues", one tool issue_count;
// it accepts the bearer token "mcp-test-token").
func mcpURL(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(modelURL)
	if err != nil || u.Host == "" {
		t.Fatalf("model URL %q: %v", modelURL, err)
	}
	return "http://" + u.Host + "/mcp"
}

// mcpStatuses records the statuses of the MCP server "issues" from the session's first event.
type mcpStatuses struct {
	mu  sync.Mutex
	all []string
	ch  chan string
}

func (m *mcpStatuses) add(e SessionEvent) {
	if e.Type != EventTypeSessionMcpServerStatusChanged {
		return
	}
	var d McpServerStatusChangedData
	if err := e.Data.Get(&d); err != nil || d.ServerName != "issues" {
		return
	}
	m.mu.Lock()
	m.all = append(m.all, string(d.Status))
	m.mu.Unlock()
	select {
	case m.ch <- string(d.Status):
	default:
	}
}

func (m *mcpStatuses) seen() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.all)
}

// waitStatus waits for the status want (false when the deadline passes first).
func (m *mcpStatuses) waitStatus(want string, within time.Duration) bool {
	deadline := time.After(within)
	for {
		select {
		case s := <-m.ch:
			if s == want {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// An MCP server that answers 401 makes the CLI ask the host's OAuth handler (once, with the
// server's name and URL, a request id and the session's id); the handler's token connects the
// server and its tool runs. A handler that cancels leaves the server unconnected.
func TestOfficialMcpAuthRealCLI(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	server := mcpURL(t)
	mcpConfig := func(handler McpAuthHandler, statuses *mcpStatuses) *SessionConfig {
		cfg := config()
		cfg.Extra = map[string]any{"mcpServers": map[string]any{
			"issues": map[string]any{"type": "http", "url": server, "tools": []string{"*"}},
		}}
		cfg.OnPermissionRequest = ApproveAll
		cfg.OnMcpAuthRequest = handler
		cfg.OnEvent = statuses.add
		return cfg
	}

	var mu sync.Mutex
	var asked []McpAuthRequest
	var invocations []McpAuthInvocation
	statuses := &mcpStatuses{ch: make(chan string, 64)}
	s, err := c.CreateSession(ctx, mcpConfig(func(r McpAuthRequest, inv McpAuthInvocation) (*McpAuthResult, error) {
		mu.Lock()
		asked, invocations = append(asked, r), append(invocations, inv)
		mu.Unlock()
		return McpAuthTokenResult(&McpAuthToken{AccessToken: "mcp-test-token"}), nil
	}, statuses))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Disconnect() }()
	if !statuses.waitStatus("connected", time.Minute) {
		t.Fatalf("the MCP server never connected: %v", statuses.seen())
	}
	mu.Lock()
	if len(asked) != 1 {
		t.Fatalf("the handler was asked %d times: %+v", len(asked), asked)
	}
	r := asked[0]
	if r.ServerName != "issues" || r.ServerURL != server || r.RequestID == "" || r.SessionID != s.SessionID ||
		invocations[0].SessionID != s.SessionID {
		t.Fatalf("MCP auth request %+v %+v (session %s, URL %s)", r, invocations[0], s.SessionID, server)
	}
	mu.Unlock()
	answer, err := s.SendAndWait(ctx, MessageOptions{Prompt: "CALL issues-issue_count {}"})
	if err != nil || answer.Text() != "Tool returned: 42 open issues" {
		t.Fatalf("the MCP tool: %v %v", answer, err)
	}

	// A handler that cancels: the server needs auth and never connects.
	cancelled := &mcpStatuses{ch: make(chan string, 64)}
	calls := make(chan string, 8)
	s2, err := c.CreateSession(ctx, mcpConfig(func(r McpAuthRequest, _ McpAuthInvocation) (*McpAuthResult, error) {
		calls <- r.ServerName
		return McpAuthCancelled(), nil
	}, cancelled))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s2.Disconnect() }()
	if name := receive(t, calls, "the cancelling handler's request"); name != "issues" {
		t.Fatalf("asked for %q", name)
	}
	if cancelled.waitStatus("connected", 3*time.Second) {
		t.Fatalf("connected without a token: %v", cancelled.seen())
	}
	if !slices.Contains(cancelled.seen(), "needs-auth") {
		t.Fatalf("statuses without a token: %v", cancelled.seen())
	}
}

// The session filesystem: an in-memory provider receives the session's state — its
// events.jsonl holds the turn — the workspace is SessionStatePath (or under it), nothing goes
// to the disk's session state, and a session without a provider is refused.
func TestOfficialSessionFsRealCLI(t *testing.T) {
	ctx := ctxT(t)
	const state = "/session-state"
	c := ownClient(t, func(o *ClientOptions) {
		o.SessionFs = &SessionFsConfig{InitialCwd: work, SessionStatePath: state, Conventions: SessionFsConventionsPosix}
	})
	mem := newMemFs()
	var given *Session
	cfg := config()
	cfg.CreateSessionFsProvider = func(s *Session) SessionFsProvider {
		given = s
		return mem
	}
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Disconnect() }()
	if given != s || s.SessionID == "" {
		t.Fatalf("the factory got %p, the session is %p (%q)", given, s, s.SessionID)
	}
	answer, err := s.SendAndWait(ctx, MessageOptions{Prompt: "REPLY kept in memory"})
	if err != nil || answer.Text() != "kept in memory" {
		t.Fatalf("%v %v", answer, err)
	}
	// The CLI (1.0.102) keeps the session's state at SessionStatePath itself.
	if s.WorkspacePath() != state && !strings.HasPrefix(s.WorkspacePath(), state+"/") {
		names := []string{}
		for p := range mem.snapshot() {
			names = append(names, p)
		}
		t.Errorf("workspace %q is not under %s (files %v)", s.WorkspacePath(), state, names)
	}
	var logs []string
	found := false
	for p, content := range mem.snapshot() {
		if !strings.HasPrefix(p, state+"/") || path.Base(p) != "events.jsonl" {
			continue
		}
		logs = append(logs, p)
		for _, line := range strings.Split(content, "\n") {
			var ev SessionEvent
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Type == "assistant.message" && ev.Text() == "kept in memory" {
				found = true
			}
		}
	}
	if !found {
		names := make([]string, 0)
		for p := range mem.snapshot() {
			names = append(names, p)
		}
		sort.Strings(names)
		t.Fatalf("no events.jsonl with the turn (logs %v) among %v", logs, names)
	}
	if _, err := os.Stat(filepath.Join(home, ".copilot", "session-state", s.SessionID, "events.jsonl")); err == nil {
		t.Errorf("the session's events also went to the disk")
	}
	if _, err := c.CreateSession(ctx, config()); !isInvalidConfig(err) {
		t.Fatalf("a session without a provider: %v", err)
	}
}

// The GitHub token provider is asked once for the new session ("initial", github.com); the
// offline CLI cannot validate the token and the creation fails; a cancelling provider fails it
// too; GitHubToken with a provider, or a BYOK provider with one, is refused.
func TestOfficialGitHubTokenProviderRealCLI(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	var mu sync.Mutex
	var asked []GitHubTokenProviderArgs
	id := fmt.Sprintf("gh-token-provider-%d", time.Now().UnixNano())
	cfg := &SessionConfig{SessionID: id, Model: "gpt-4.1",
		GitHubTokenProvider: func(a GitHubTokenProviderArgs) (*GitHubTokenProviderResult, error) {
			mu.Lock()
			asked = append(asked, a)
			mu.Unlock()
			return GitHubTokenResult(&GitHubToken{AccessToken: "gho_" + strings.Repeat("x", 36), ExpiresIn: 8 * 3600}), nil
		}}
	_, err := c.CreateSession(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "GitHub token validation failed") {
		t.Fatalf("creation with an unverifiable token: %v", err)
	}
	t.Logf("unverifiable token: %v", err)
	mu.Lock()
	if len(asked) != 1 || asked[0].Reason != GitHubTokenRequestReasonInitial || asked[0].Host != "https://github.com" ||
		asked[0].SessionID == nil || *asked[0].SessionID != id {
		t.Fatalf("the provider was asked %+v", asked)
	}
	mu.Unlock()

	cancelled := &SessionConfig{Model: "gpt-4.1",
		GitHubTokenProvider: func(GitHubTokenProviderArgs) (*GitHubTokenProviderResult, error) { return GitHubTokenCancelled(), nil }}
	_, err = c.CreateSession(ctx, cancelled)
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "cancel") {
		t.Fatalf("creation with a cancelling provider: %v", err)
	}
	t.Logf("cancelling provider: %v", err)

	both := *cancelled
	both.GitHubToken = "gho_static"
	if _, err := c.CreateSession(ctx, &both); !isInvalidConfig(err) {
		t.Fatalf("GitHubToken with a provider: %v", err)
	}
	byok := *cancelled
	byok.Provider = provider()
	if _, err := c.CreateSession(ctx, &byok); !isInvalidConfig(err) {
		t.Fatalf("a BYOK provider with a token provider: %v", err)
	}
}

var hexRe = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$`)

func randomHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// Telemetry: a CLI exporting spans to a file; the OnGetTraceContext hook (called with the
// call's context) gives the turn its trace; the tool handler sees a traceparent of that trace,
// in ToolInvocation and in its context; the file holds spans of that trace. A malformed
// traceparent and telemetry over a URL are refused.
func TestOfficialTelemetryRealCLI(t *testing.T) {
	ctx := ctxT(t)
	file := filepath.Join(t.TempDir(), "otel.jsonl")
	type spanKey struct{}
	c := ownClient(t, func(o *ClientOptions) {
		o.Telemetry = &TelemetryConfig{ExporterType: "file", FilePath: file, SourceName: "go-sdk-test"}
		o.OnGetTraceContext = func(ctx context.Context) (string, string) {
			tp, _ := ctx.Value(spanKey{}).(string)
			return tp, "go=test"
		}
	})
	traceID := randomHex(32)
	parent := "00-" + traceID + "-" + randomHex(16) + "-01"
	type seen struct{ field, fromCtx string }
	got := make(chan seen, 4)
	cfg := config()
	cfg.Tools = []Tool{{Name: "trace_probe", Description: "Reports its trace", SkipPermission: true,
		Parameters: map[string]any{"type": "object", "properties": map[string]any{}},
		Handler: func(inv ToolInvocation) (any, error) {
			tp, _ := TraceContextFromContext(inv.Context())
			got <- seen{inv.TraceParent, tp}
			return "probed", nil
		}}}
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := s.SendAndWait(context.WithValue(ctx, spanKey{}, parent), MessageOptions{Prompt: "CALL trace_probe {}"})
	if err != nil || answer.Text() != "Tool returned: probed" {
		t.Fatalf("%v %v", answer, err)
	}
	v := receive(t, got, "the tool call")
	m := hexRe.FindStringSubmatch(v.field)
	if m == nil || m[1] != traceID || v.fromCtx != v.field {
		t.Fatalf("tool traceparent %q (context %q), want trace %s", v.field, v.fromCtx, traceID)
	}
	if _, err := s.Send(ctx, MessageOptions{Prompt: "x", TraceParent: "not-a-traceparent"}); !isInvalidConfig(err) {
		t.Fatalf("a malformed message traceparent: %v", err)
	}
	_ = s.Disconnect()
	_ = c.Close() // the CLI flushes its spans as it exits
	var spans int
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(file)
		spans = 0
		for _, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, `"type":"span"`) && strings.Contains(line, traceID) {
				spans++
			}
		}
		if spans > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if spans == 0 {
		data, _ := os.ReadFile(file)
		t.Fatalf("no span of trace %s in %s (%d bytes)", traceID, file, len(data))
	}

	shared := connect(t)
	bad := config()
	bad.TraceParent = "00-xyz-01"
	if _, err := shared.CreateSession(ctx, bad); !isInvalidConfig(err) {
		t.Fatalf("a malformed session traceparent: %v", err)
	}
	overURL := NewClient(&ClientOptions{Connection: URIConnection{URL: sharedURL(), ConnectionToken: testToken},
		Telemetry: &TelemetryConfig{ExporterType: "file", FilePath: file}})
	defer func() { _ = overURL.Close() }()
	if err := overURL.Start(ctx); !isInvalidConfig(err) {
		t.Fatalf("telemetry over a URL: %v", err)
	}
}

// systemPrompt is the system message of a chat request the fake model received.
func systemPrompt(t *testing.T, r modelRequest) string {
	t.Helper()
	var body struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, m := range body.Messages {
		if m.Role == "system" || m.Role == "developer" {
			out.Write(m.Content)
		}
	}
	return out.String()
}

// Mode "empty": a session must list its tools; with an empty list a turn runs and the system
// prompt has no environment context (the default mode's names the working directory).
func TestOfficialModeEmptyRealCLI(t *testing.T) {
	ctx := ctxT(t)
	shared := connect(t)
	def, err := shared.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := def.SendAndWait(ctx, MessageOptions{Prompt: "REPLY default mode"}); err != nil {
		t.Fatal(err)
	}
	defaultPrompt := systemPrompt(t, lastChatRequest(t))
	_ = def.Disconnect()
	if !strings.Contains(defaultPrompt, work) {
		t.Fatalf("the default system prompt does not name the working directory %s:\n%s", work, defaultPrompt)
	}

	noBase := NewClient(&ClientOptions{Mode: ModeEmpty, Connection: StdioConnection{Path: cliPath}})
	if err := noBase.Start(ctx); !isInvalidConfig(err) {
		t.Fatalf("mode empty without BaseDirectory or SessionFs: %v", err)
	}
	_ = noBase.Close()

	c := ownClient(t, func(o *ClientOptions) {
		o.Mode = ModeEmpty
		o.BaseDirectory = t.TempDir()
	})
	if _, err := c.CreateSession(ctx, config()); !isInvalidConfig(err) {
		t.Fatalf("a session without AvailableTools: %v", err)
	}
	cfg := config()
	cfg.AvailableTools = []string{}
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Disconnect() }()
	if answer, err := s.SendAndWait(ctx, MessageOptions{Prompt: "REPLY empty mode"}); err != nil || answer.Text() != "empty mode" {
		t.Fatalf("%v %v", answer, err)
	}
	emptyPrompt := systemPrompt(t, lastChatRequest(t))
	if emptyPrompt == "" || strings.Contains(emptyPrompt, work) {
		t.Fatalf("the empty mode's system prompt names the working directory %s:\n%s", work, emptyPrompt)
	}
}

// Elicitation and the UI helpers: the session's UI calls come back to its own elicitation
// handler (message and schema as asked); confirm, select, input and a full form return the
// handler's answers; a failing handler cancels. A session created before any elicitation
// handler existed on a fresh CLI has no capability, and its UI calls are refused.
func TestOfficialElicitationUIRealCLI(t *testing.T) {
	ctx := ctxT(t)
	c := ownClient(t, nil)
	plain, err := c.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = plain.Disconnect() }()
	if plain.Capabilities().UI.Elicitation {
		t.Fatalf("a fresh CLI offers elicitation before any handler: %s", plain.Capabilities().Raw)
	}
	if _, err := plain.UI().Confirm(ctx, "Deploy?"); !isInvalidConfig(err) {
		t.Fatalf("confirm without the capability: %v", err)
	}

	asked := make(chan ElicitationContext, 16)
	cfg := config()
	cfg.OnElicitationRequest = func(ec ElicitationContext) (ElicitationResult, error) {
		asked <- ec
		switch ec.Message {
		case "Deploy?":
			return ElicitationResult{Action: ElicitationActionAccept, Content: map[string]any{"confirmed": true}}, nil
		case "Really deploy?":
			return ElicitationResult{Action: ElicitationActionDecline}, nil
		case "Which environment?":
			return ElicitationResult{Action: ElicitationActionAccept, Content: map[string]any{"selection": "production"}}, nil
		case "Release name?":
			return ElicitationResult{Action: ElicitationActionAccept, Content: map[string]any{"value": "v1.2"}}, nil
		case "Configure":
			return ElicitationResult{Action: ElicitationActionAccept, Content: map[string]any{"target": "staging", "force": true}}, nil
		}
		return ElicitationResult{}, errors.New("the dialog broke")
	}
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Disconnect() }()
	if !s.Capabilities().UI.Elicitation {
		t.Fatalf("no elicitation capability with a handler: %s", s.Capabilities().Raw)
	}
	ui := s.UI()
	ok, err := ui.Confirm(ctx, "Deploy?")
	if err != nil || !ok {
		t.Fatalf("confirm: %v %v", ok, err)
	}
	ec := receive(t, asked, "the confirm elicitation")
	props, _ := json.Marshal(ec.RequestedSchema)
	if ec.SessionID != s.SessionID || ec.RequestedSchema == nil || ec.RequestedSchema.Properties["confirmed"] == nil {
		t.Fatalf("the handler saw %+v (schema %s)", ec, props)
	}
	if ok, err := ui.Confirm(ctx, "Really deploy?"); err != nil || ok {
		t.Fatalf("declined confirm: %v %v", ok, err)
	}
	receive(t, asked, "the declined confirm")
	choice, ok, err := ui.Select(ctx, "Which environment?", []string{"staging", "production"})
	if err != nil || !ok || choice != "production" {
		t.Fatalf("select: %q %v %v", choice, ok, err)
	}
	ec = receive(t, asked, "the select elicitation")
	sel, _ := json.Marshal(ec.RequestedSchema.Properties["selection"])
	if !strings.Contains(string(sel), `"production"`) || !strings.Contains(string(sel), `"staging"`) {
		t.Fatalf("select schema %s", sel)
	}
	name, ok, err := ui.Input(ctx, "Release name?", &UIInputOptions{Title: "Release", MinLength: Int(1), MaxLength: Int(50)})
	if err != nil || !ok || name != "v1.2" {
		t.Fatalf("input: %q %v %v", name, ok, err)
	}
	ec = receive(t, asked, "the input elicitation")
	field, _ := json.Marshal(ec.RequestedSchema.Properties["value"])
	if !strings.Contains(string(field), `"title":"Release"`) || !strings.Contains(string(field), `"maxLength":50`) {
		t.Fatalf("input schema %s", field)
	}
	r, err := ui.Elicitation(ctx, "Configure", ElicitationSchema{
		Properties: map[string]any{
			"target": map[string]any{"type": "string", "enum": []string{"staging", "production"}},
			"force":  map[string]any{"type": "boolean"},
		},
		Required: []string{"target"},
	})
	if err != nil || r.Action != ElicitationActionAccept || r.Content["target"] != "staging" || r.Content["force"] != true {
		t.Fatalf("elicitation: %+v %v", r, err)
	}
	receive(t, asked, "the form")
	// A failing handler cancels: not confirmed, no selection.
	if ok, err := ui.Confirm(ctx, "Broken?"); err != nil || ok {
		t.Fatalf("confirm with a failing handler: %v %v", ok, err)
	}
	receive(t, asked, "the broken dialog")
	if _, ok, err := ui.Select(ctx, "Broken?", []string{"a"}); err != nil || ok {
		t.Fatalf("select with a failing handler: %v %v", ok, err)
	}
}
