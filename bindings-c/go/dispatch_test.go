package copilot

// The Go side of handler requests and event delivery, without a CLI: requests reach the Go
// function of their kind (and tool name or hook type) with the payload as received; replies
// are encoded as given; a session's queue runs events and completions in the order pushed.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// allHandlers is a config with a handler of every kind; each records the kind it served and
// the Raw payload it got.
func allHandlers(got map[string]json.RawMessage) *SessionConfig {
	return &SessionConfig{
		Tools: []Tool{{Name: "t", Handler: func(r ToolInvocation) (any, error) { got["tool"] = r.Raw; return "ok", nil }}},
		OnPermissionRequest: func(r PermissionRequest) (any, error) {
			got["permission"] = r.Raw
			return PermissionDecision{Kind: PermissionApproveOnce}, nil
		},
		OnUserInputRequest: func(r UserInputRequest) (any, error) {
			got["userInput"] = r.Raw
			return UserInputResponse{Answer: "blue"}, nil
		},
		OnHook: func(r HookInvocation) (any, error) { got["hook"] = r.Raw; return nil, nil },
		OnSystemMessageTransform: func(r SystemMessageTransformRequest) (any, error) {
			got["systemMessageTransform"] = r.Raw
			return map[string]string{"tone": "x"}, nil
		},
		OnExitPlanMode: func(r ExitPlanModeRequest) (any, error) {
			got["exitPlanMode"] = r.Raw
			return ExitPlanModeResponse{SelectedAction: "interactive"}, nil
		},
		OnProviderToken: func(r ProviderTokenRequest) (string, error) {
			got["providerToken"] = r.Raw
			return "token", nil
		},
		OnAutoModeSwitch: func(r AutoModeSwitchRequest) (any, error) {
			got["autoModeSwitch"] = r.Raw
			return AutoModeSwitchResponse{Response: AutoModeSwitchYes}, nil
		},
		OnElicitationRequest: func(c ElicitationContext) (ElicitationResult, error) {
			got["elicitation"] = c.Raw
			return ElicitationResult{Action: ElicitationActionAccept}, nil
		},
		Commands: []CommandDefinition{{Name: "c", Handler: func(c CommandContext) error {
			got["command"] = c.Raw
			return nil
		}}},
		OnMcpAuthRequest: func(r McpAuthRequest, _ McpAuthInvocation) (*McpAuthResult, error) {
			got["mcpAuth"] = r.Raw
			return McpAuthCancelled(), nil
		},
		GitHubTokenProvider: func(a GitHubTokenProviderArgs) (*GitHubTokenProviderResult, error) {
			got["gitHubToken"] = a.Raw
			return GitHubTokenCancelled(), nil
		},
		// The filesystem is served by the provider's methods (no raw payload): registration only.
		CreateSessionFsProvider: func(*Session) SessionFsProvider { return nil },
	}
}

// Every request kind of the core (the generated tests/request-kinds.json) has a Go
// handler option that registers the kind and receives its requests.
func TestEveryRequestKindHasAHandlerOption(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(), "tests", "request-kinds.json"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	if err := json.Unmarshal(b, &kinds); err != nil {
		t.Fatal(err)
	}
	got := map[string]json.RawMessage{}
	text, d, err := buildSessionConfig(allHandlers(got), false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.q.close()
	var cfg struct {
		Handlers []string `json:"handlers"`
		Tools    []any    `json:"tools"`
	}
	if err := json.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatal(err)
	}
	registered := append([]string{"tool"}, cfg.Handlers...) // tools are served by declaring them
	sort.Strings(registered)
	want := slices.Clone(kinds)
	sort.Strings(want)
	if !slices.Equal(registered, want) {
		t.Fatalf("registered kinds %v, the core's kinds %v", registered, want)
	}
	names := map[string]string{"tool": "t", "hook": "preToolUse", "command": "c"}
	for _, kind := range kinds {
		if kind == "sessionFs" {
			continue
		}
		payload := json.RawMessage(`{"sessionId":"s1","toolName":"t","hookType":"preToolUse","extra":[1, 2]}`)
		if _, err := d.handle(context.Background(), kind, names[kind], payload); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
		if string(got[kind]) != string(payload) {
			t.Errorf("%s: the handler got %s", kind, got[kind])
		}
	}
}

func TestRepliesAreEncodedAsGiven(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{UserInputResponse{Answer: "blue"}, `{"answer":"blue"}`},
		{UserInputResponse{Answer: "blue", WasFreeform: Bool(false)}, `{"answer":"blue","wasFreeform":false}`},
		{PermissionDecision{Kind: PermissionReject}, `{"kind":"reject"}`},
		{PermissionDecision{}, `{}`},
		{ExitPlanModeResponse{SelectedAction: "autopilot"}, `{"selectedAction":"autopilot"}`},
		{ExitPlanModeResponse{Approved: Bool(false), Feedback: "no"}, `{"approved":false,"feedback":"no"}`},
		{AutoModeSwitchResponse{}, `{}`},
		{ToolResult{TextResultForLLM: "x", ResultType: "success"}, `{"textResultForLlm":"x","resultType":"success"}`},
		{true, `true`},
		{nil, `null`},
	} {
		b, err := json.Marshal(c.v)
		if err != nil || string(b) != c.want {
			t.Errorf("%#v: %s %v, want %s", c.v, b, err, c.want)
		}
	}
}

// Hooks are registered under the Hooks map's keys, in any spelling, and picked by the
// request's name (the key they were registered under), as is.
func TestHooksArePickedByName(t *testing.T) {
	var seen []string
	hook := func(name string) HookHandler {
		return func(h HookInvocation) (any, error) { seen = append(seen, name+":"+h.Type); return nil, nil }
	}
	text, d, err := buildSessionConfig(&SessionConfig{Hooks: map[string]HookHandler{
		"PreToolUse": hook("pre"), "on_post_tool_use": hook("post"),
	}}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.q.close()
	if !strings.Contains(text, `"hooks":["PreToolUse","on_post_tool_use"]`) || strings.Contains(text, `"handlers"`) {
		t.Fatalf("config %s", text)
	}
	for name, typ := range map[string]string{"on_post_tool_use": "postToolUse", "PreToolUse": "preToolUse"} {
		if _, err := d.handle(context.Background(), "hook", name, json.RawMessage(`{"sessionId":"s","hookType":"`+typ+`","input":{}}`)); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(seen)
	if strings.Join(seen, ",") != "post:postToolUse,pre:preToolUse" {
		t.Fatalf("seen %v", seen)
	}
	if _, err := d.handle(context.Background(), "hook", "preToolUse", json.RawMessage(`{"sessionId":"s","hookType":"preToolUse","input":{}}`)); err == nil {
		t.Fatal("a name that was not registered was served")
	}
	// A catch-all registers every other hook type (named as the CLI spells them); the ones
	// listed in Hooks still go to theirs, under their keys.
	text, d2, err := buildSessionConfig(&SessionConfig{OnHook: hook("any"), Hooks: map[string]HookHandler{"preToolUse": hook("pre")}}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.q.close()
	if !strings.Contains(text, `"handlers":["hook"]`) || !strings.Contains(text, `"hooks":["preToolUse"]`) {
		t.Fatalf("config %s", text)
	}
	seen = nil
	for _, typ := range []string{"agentStop", "preToolUse"} {
		if _, err := d2.handle(context.Background(), "hook", typ, json.RawMessage(`{"sessionId":"s","hookType":"`+typ+`","input":{}}`)); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(seen, ",") != "any:agentStop,pre:preToolUse" {
		t.Fatalf("seen %v", seen)
	}
}

// Tools without a Handler are declared only: "toolHandlers" names the ones this process runs.
func TestToolHandlersNameTheToolsWithAHandler(t *testing.T) {
	run := func(ToolInvocation) (any, error) { return "ran", nil }
	for _, c := range []struct {
		cfg    SessionConfig
		want   string
		serves bool
	}{
		{SessionConfig{Tools: []Tool{{Name: "a", Handler: run}, {Name: "b"}}}, `"toolHandlers":["a"]`, true},
		{SessionConfig{Tools: []Tool{{Name: "b"}}, OnPermissionRequest: ApproveAll}, `"toolHandlers":[]`, true},
		{SessionConfig{Tools: []Tool{{Name: "b"}}}, `"toolHandlers":[]`, false},
	} {
		text, d, err := buildSessionConfig(&c.cfg, false)
		if err != nil {
			t.Fatal(err)
		}
		d.q.close()
		if !strings.Contains(text, c.want) || d.servesRequests != c.serves {
			t.Errorf("config %s (serves requests: %v), want %s (%v)", text, d.servesRequests, c.want, c.serves)
		}
	}
	if text, d, _ := buildSessionConfig(&SessionConfig{}, false); strings.Contains(text, "toolHandlers") {
		t.Errorf("no tools: %s", text)
	} else {
		d.q.close()
	}
}

func TestHandlerPanicsAndTypeMismatches(t *testing.T) {
	_, d, err := buildSessionConfig(&SessionConfig{
		OnPermissionRequest: func(PermissionRequest) (any, error) { panic("boom") },
		OnExitPlanMode: func(r ExitPlanModeRequest) (any, error) {
			return r.Summary + "|" + string(r.Raw), nil
		},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.q.close()
	if _, err := d.handle(context.Background(), "permission", "", json.RawMessage(`{"sessionId":"s"}`)); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panic: %v", err)
	}
	// planContent is not a string here: the Go field stays empty, Raw has it, the handler runs.
	payload := `{"sessionId":"s","summary":"S","planContent":{"x":1}}`
	r, err := d.handle(context.Background(), "exitPlanMode", "", json.RawMessage(payload))
	if err != nil || r != "S|"+payload {
		t.Fatalf("%v %v", r, err)
	}
	if _, err := d.handle(context.Background(), "userInput", "", json.RawMessage(`{}`)); err == nil {
		t.Fatal("a kind without a handler was served")
	}
}

// A session's queue runs what was pushed in order; a completion reaches its waiter after the
// handlers of the events pushed before it ran; an unsubscribed handler gets nothing more.
func TestSessionQueueOrder(t *testing.T) {
	q := newSerialQueue()
	defer q.close()
	var seen []string
	a := newSubscription(q, func(e SessionEvent) { seen = append(seen, "a:"+e.Type) })
	b := newSubscription(q, func(e SessionEvent) { seen = append(seen, "b:"+e.Type) })
	done := make(chan completion, 1)
	for _, typ := range []string{"x", "session.idle"} {
		// Complete events (the strict mode checks every event delivered).
		js := `{"id":"e-` + typ + `","timestamp":"2026-01-01T00:00:00Z","parentId":null,"ephemeral":true,"type":"` + typ + `","data":{}}`
		a.push(js)
		b.push(js)
	}
	viaQueue{q: q, ch: done}.complete(completion{json: "first"})
	if c := <-done; c.json != "first" || strings.Join(seen, ",") != "a:x,b:x,a:session.idle,b:session.idle" {
		t.Fatalf("%v %v", c, seen)
	}
	b.active.Store(false)
	a.push(`{"type":"y","data":{}}`)
	b.push(`{"type":"y","data":{}}`)
	viaQueue{q: q, ch: done}.complete(completion{json: "second"})
	if c := <-done; c.json != "second" || strings.Join(seen[4:], ",") != "a:y" {
		t.Fatalf("%v %v", c, seen)
	}
}

// A handler's context: handed to it through its request, cancelled by the request's "cancel"
// call with the reason as its cause, and by the session's release; answered requests are
// forgotten.
func TestHandlerContextsAreCancelled(t *testing.T) {
	seen := make(chan context.Context, 1)
	d := &sessionDispatch{tools: map[string]ToolHandler{"t": func(inv ToolInvocation) (any, error) {
		seen <- inv.Context()
		return nil, nil
	}}}
	ctx := d.start(7)
	if _, err := d.handle(ctx, "tool", "t", json.RawMessage(`{"toolName":"t"}`)); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != ctx {
		t.Fatal("the tool handler did not get its request's context")
	}
	d.cancel(7, `{"reason":"the turn was aborted"}`)
	<-ctx.Done()
	var e *Error
	if cause := context.Cause(ctx); !errors.As(cause, &e) || e.Code != CodeCancelled || e.Message != "the turn was aborted" {
		t.Fatalf("cause: %v", cause)
	}
	if !errors.Is(context.Cause(ctx), ErrCancelled) {
		t.Fatal("errors.Is(cause, ErrCancelled)")
	}
	answered := d.start(8)
	d.finish(8, nil)
	d.cancel(8, `{"reason":"late"}`)
	if context.Cause(answered) != context.Canceled {
		t.Fatalf("an answered request was cancelled again: %v", context.Cause(answered))
	}
	running := d.start(9)
	d.release()
	if !errors.Is(context.Cause(running), ErrCancelled) || !errors.Is(context.Cause(d.start(10)), ErrCancelled) {
		t.Fatalf("release: %v", context.Cause(running))
	}
	if len(d.running) != 0 {
		t.Fatalf("left running: %v", d.running)
	}
	if (ToolInvocation{}).Context() == nil {
		t.Fatal("the zero request's context is nil")
	}
}
