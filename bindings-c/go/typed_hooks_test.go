package copilot

// The typed hook adapters (protocol_hooks.go, generated from the hook schema): against the real
// CLI, and their decoding and strict-mode checks.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// plausibleMillis: a Unix time in milliseconds within a day of now.
func plausibleMillis(ts float64) bool {
	now := float64(time.Now().UnixMilli())
	return ts > now-86_400_000 && ts < now+86_400_000
}

func textOf(e *SessionEvent) string {
	if e == nil {
		return "<no answer>"
	}
	return e.Text()
}

// Typed preToolUse, userPromptSubmitted and postToolUse hooks against the real CLI: the deny
// reaches the tool's failure, the additional context reaches the model, the inputs are typed.
func TestTypedHooksRealCLI(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	marker := fmt.Sprintf("typed-hook-context-%d", time.Now().UnixNano())
	var mu sync.Mutex
	var pre []PreToolUseHookInput
	var prompts []UserPromptSubmittedHookInput
	var post []PostToolUseHookInput
	var invs []HookInvocation
	cfg := config()
	cfg.Tools = []Tool{{Name: "get_weather", Parameters: weatherParams, SkipPermission: true,
		Handler: func(inv ToolInvocation) (any, error) {
			var a struct {
				City string `json:"city"`
			}
			_ = json.Unmarshal(inv.Arguments, &a)
			return "Sunny in " + a.City, nil
		}}}
	cfg.OnPermissionRequest = ApproveAll
	cfg.Hooks = map[string]HookHandler{
		"preToolUse": PreToolUseHook(func(in PreToolUseHookInput, inv HookInvocation) (*PreToolUseHookOutput, error) {
			mu.Lock()
			pre, invs = append(pre, in), append(invs, inv)
			mu.Unlock()
			if args, _ := in.ToolArgs.(map[string]any); in.ToolName == "get_weather" && args["city"] == "Rome" {
				return &PreToolUseHookOutput{
					PermissionDecision:       Ptr(PreToolUseHookOutputPermissionDecisionDeny),
					PermissionDecisionReason: Ptr("typed hooks say no"),
				}, nil
			}
			return nil, nil
		}),
		"userPromptSubmitted": UserPromptSubmittedHook(func(in UserPromptSubmittedHookInput, inv HookInvocation) (*UserPromptSubmittedHookOutput, error) {
			mu.Lock()
			prompts, invs = append(prompts, in), append(invs, inv)
			mu.Unlock()
			return &UserPromptSubmittedHookOutput{AdditionalContext: Ptr(marker)}, nil
		}),
		"postToolUse": PostToolUseHook(func(in PostToolUseHookInput, inv HookInvocation) (*PostToolUseHookOutput, error) {
			mu.Lock()
			post, invs = append(post, in), append(invs, inv)
			mu.Unlock()
			return nil, nil
		}),
	}
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()

	answer, err := s.SendAndWait(ctx, MessageOptions{Prompt: `CALL get_weather {"city":"Rome"}`})
	if err != nil || !strings.Contains(answer.Text(), "Denied by preToolUse hook: typed hooks say no") {
		t.Fatalf("the denied tool: %q %v", textOf(answer), err)
	}
	// The userPromptSubmitted hook's additionalContext reached the model.
	log, err := os.ReadFile(modelLog)
	if err != nil || !strings.Contains(string(log), marker) {
		t.Fatalf("the additional context %q did not reach the model (%v)", marker, err)
	}
	answer, err = s.SendAndWait(ctx, MessageOptions{Prompt: `CALL get_weather {"city":"Paris"}`})
	if err != nil || answer.Text() != "Tool returned: Sunny in Paris" {
		t.Fatalf("the allowed tool: %q %v", textOf(answer), err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(pre) != 2 || len(prompts) != 2 || len(post) != 1 {
		t.Fatalf("calls: %d preToolUse, %d userPromptSubmitted, %d postToolUse", len(pre), len(prompts), len(post))
	}
	for i, in := range pre {
		if in.ToolName != "get_weather" || in.SessionID != s.SessionID || !plausibleMillis(in.Timestamp) || in.Cwd == "" {
			t.Errorf("preToolUse input %d: %+v (session %s)", i, in, s.SessionID)
		}
	}
	if args, _ := pre[0].ToolArgs.(map[string]any); args["city"] != "Rome" {
		t.Errorf("preToolUse toolArgs %#v", pre[0].ToolArgs)
	}
	for i, want := range []string{`CALL get_weather {"city":"Rome"}`, `CALL get_weather {"city":"Paris"}`} {
		in := prompts[i]
		if !strings.Contains(in.Prompt, want) || in.SessionID != s.SessionID || !plausibleMillis(in.Timestamp) || in.Cwd == "" {
			t.Errorf("userPromptSubmitted input %d: %+v", i, in)
		}
	}
	p := post[0]
	if p.ToolName != "get_weather" || p.SessionID != s.SessionID || p.ToolResult == nil || p.ToolResult.TextResultForLlm == nil ||
		!strings.Contains(*p.ToolResult.TextResultForLlm, "Sunny in Paris") {
		t.Errorf("postToolUse input %+v (toolResult %+v)", p, p.ToolResult)
	}
	for _, inv := range invs {
		if inv.SessionID != s.SessionID || inv.Type == "" || len(inv.Input) == 0 {
			t.Errorf("invocation %+v", inv)
		}
	}
}

// A complete preToolUse input, with a field the schema does not list (readable in strict mode).
func preInput(tool string) json.RawMessage {
	return json.RawMessage(`{"sessionId":"s1","timestamp":1700000000000,"cwd":"/w","toolName":"` + tool + `","toolArgs":{"x":1},"newField":true}`)
}

// The adapters decode the input (unknown fields ignored), hand over the invocation, and send
// their output as JSON, nil as no change; errors pass through. (Only inputs the types read: the
// suite may run in the strict types mode.)
func TestTypedHookAdapters(t *testing.T) {
	var got PreToolUseHookInput
	var gotInv HookInvocation
	h := PreToolUseHook(func(in PreToolUseHookInput, inv HookInvocation) (*PreToolUseHookOutput, error) {
		got, gotInv = in, inv
		if in.ToolName == "none" {
			return nil, nil
		}
		if in.ToolName == "fail" {
			return nil, errors.New("hook failed")
		}
		return &PreToolUseHookOutput{PermissionDecision: Ptr(PreToolUseHookOutputPermissionDecisionDeny), PermissionDecisionReason: Ptr("r")}, nil
	})
	out, err := h(HookInvocation{SessionID: "s1", Type: "preToolUse", Input: preInput("bash")})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := json.Marshal(out)
	if string(text) != `{"permissionDecision":"deny","permissionDecisionReason":"r"}` {
		t.Fatalf("output %s", text)
	}
	if args, _ := got.ToolArgs.(map[string]any); got.ToolName != "bash" || got.SessionID != "s1" || got.Cwd != "/w" ||
		got.Timestamp != 1700000000000 || args["x"] != 1.0 || gotInv.SessionID != "s1" || gotInv.Type != "preToolUse" {
		t.Fatalf("input %+v invocation %+v", got, gotInv)
	}
	if out, err := h(HookInvocation{Input: preInput("none")}); err != nil || out != nil {
		t.Fatalf("nil output: %#v %v", out, err)
	}
	if _, err := h(HookInvocation{Input: preInput("fail")}); err == nil || err.Error() != "hook failed" {
		t.Fatalf("error: %v", err)
	}
	// Through the dispatcher, under a Hooks key, from the request payload.
	_, d, err := buildSessionConfig(&SessionConfig{Hooks: map[string]HookHandler{"preToolUse": h}}, false)
	if err != nil {
		t.Fatal(err)
	}
	got = PreToolUseHookInput{}
	res, err := d.handle(context.Background(), "hook", "preToolUse",
		json.RawMessage(`{"sessionId":"s2","hookType":"preToolUse","input":`+string(preInput("bash"))+`}`))
	if text, _ := json.Marshal(res); err != nil || !strings.Contains(string(text), `"deny"`) || gotInv.SessionID != "s2" || got.ToolName != "bash" {
		t.Fatalf("dispatched: %s %v %+v", text, err, gotInv)
	}
	// Every hook type of the schema has its adapter, and a nil handler gives a nil HookHandler.
	if len(HookTypes) != 10 || PostToolUseHook(nil) != nil {
		t.Fatalf("HookTypes %v", HookTypes)
	}
}

// Decoding: in the strict types mode an input the type cannot read (or missing a required
// field) is a failure and an unknown field is counted; outside it the handler gets what
// decoded; input that is not JSON is an ErrProtocol error.
func TestTypedHookInputStrictMode(t *testing.T) {
	st := newStrictTypes(true)
	in, err := decodeHookInput[UserPromptSubmittedHookInput](st, "userPromptSubmitted",
		json.RawMessage(`{"sessionId":"s","timestamp":1,"cwd":"/w","prompt":"hi","extra":1}`))
	if _, failures, _ := st.report(); err != nil || failures != 0 || in.Prompt != "hi" {
		t.Fatalf("a readable input: %v %+v %s", err, in, st.failures)
	}
	st.mu.Lock()
	extra := st.unknownFld["result of the userPromptSubmitted hook input.extra"]
	st.mu.Unlock()
	if extra != 1 {
		t.Fatalf("the unknown field is not counted: %v", st.unknownFld)
	}
	// prompt is a number: the rest decodes; a strict failure.
	in, err = decodeHookInput[UserPromptSubmittedHookInput](st, "userPromptSubmitted",
		json.RawMessage(`{"sessionId":"s","timestamp":1,"cwd":"/w","prompt":5}`))
	line, failures, _ := st.report()
	if err != nil || in.SessionID != "s" || in.Cwd != "/w" || failures != 1 || !strings.Contains(line, "the userPromptSubmitted hook input") {
		t.Fatalf("a mistyped field: %v %+v %s", err, in, line)
	}
	// A required field missing: a strict failure.
	_, err = decodeHookInput[UserPromptSubmittedHookInput](st, "userPromptSubmitted",
		json.RawMessage(`{"sessionId":"s","timestamp":1,"prompt":"p"}`))
	if line, failures, _ := st.report(); err != nil || failures != 2 || !strings.Contains(line, `required field "cwd" missing`) {
		t.Fatalf("a missing required field: %v %s", err, line)
	}
	// Not JSON: an error (and a failure); outside the strict mode nothing is recorded.
	if _, err := decodeHookInput[PreToolUseHookInput](st, "preToolUse", json.RawMessage(`{"toolName":`)); !errors.Is(err, ErrProtocol) {
		t.Fatalf("not JSON: %v", err)
	}
	if _, failures, _ := st.report(); failures != 3 {
		t.Fatalf("not JSON is no strict failure: %d", failures)
	}
	off := newStrictTypes(false)
	if in, err := decodeHookInput[PreToolUseHookInput](off, "preToolUse", json.RawMessage(`{"toolName":5,"cwd":"/w"}`)); err != nil || in.Cwd != "/w" || len(off.failures) != 0 {
		t.Fatalf("non-strict mistyped: %v %+v %v", err, in, off.failures)
	}
	if in, err := decodeHookInput[PreToolUseHookInput](off, "preToolUse", nil); err != nil || in.ToolName != "" {
		t.Fatalf("no input: %v", err)
	}
}
