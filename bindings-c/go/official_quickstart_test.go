package copilot_test

// Issue 12, item 9: the official Go README's quickstart, written against this module the way an
// application imports it (package copilot_test, `copilot "copilothub.dev/copilot"`), against the
// real CLI and the fake model. Where this SDK spells a step differently from the official one,
// the official spelling is in the comment beside it:
//
//   - the model: the fake model as a BYOK Provider (the official quickstart uses the logged-in
//     user's models) and a CLI isolated like the suite's (QuickstartClientOptions);
//   - typed events: event.Typed() switched on *copilot.AssistantMessageEvent /
//     *copilot.IdleEvent (official: event.Data switched on *copilot.AssistantMessageData /
//     *copilot.SessionIdleData — here Data is the untyped EventData);
//   - the (request, invocation) permission handler goes through
//     copilot.PermissionHandlerWithInvocation (official: assigned as is);
//   - hooks: Hooks map keyed by hook type with the typed adapters copilot.PreToolUseHook, …
//     (official: &copilot.SessionHooks{OnPreToolUse: …});
//   - a Tool struct's Handler returns (any, error) (official: (copilot.ToolResult, error); a
//     ToolResult is one of the values it may return).

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	copilot "copilothub.dev/copilot"
)

// The quickstart as the official README has it: client, approve-all session, an event
// handler switching on typed events, Send, and waiting for session.idle.
func TestOfficialQuickstart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Create client (official: copilot.NewClient(&copilot.ClientOptions{LogLevel: "error"}))
	client := copilot.NewClient(copilot.QuickstartClientOptions())

	// Start the client
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.Stop()

	session, err := client.CreateSession(ctx, &copilot.SessionConfig{
		Model:               "gpt-4.1",
		Provider:            copilot.QuickstartProvider(),
		OnPermissionRequest: copilot.PermissionHandler.ApproveAll,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer session.Disconnect()

	// Set up event handler
	done := make(chan bool)
	var once sync.Once
	var mu sync.Mutex
	var contents []string
	session.On(func(event copilot.SessionEvent) {
		switch d := event.Typed().(type) {
		case *copilot.AssistantMessageEvent:
			mu.Lock()
			contents = append(contents, d.Data.Content)
			mu.Unlock()
		case *copilot.IdleEvent:
			once.Do(func() { close(done) })
		}
	})

	// Send a message
	messageID, err := session.Send(ctx, copilot.MessageOptions{
		Prompt: "What is 2+2?\nREPLY 4",
	})
	if err != nil {
		t.Fatal(err)
	}
	if messageID == "" {
		t.Fatal("Send returned no message id")
	}

	// Wait for completion
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("no session.idle")
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(contents, "|") != "4" {
		t.Fatalf("assistant messages %q, want [4]", contents)
	}
}

// LookupIssueParams are the arguments of the DefineTool tool (official README, "Tools").
type LookupIssueParams struct {
	ID string `json:"id" description:"Issue identifier"`
}

// The rest of the official README's first steps on one session: a DefineTool tool and a Tool
// struct, a (request, invocation) permission handler returning a typed decision, a typed
// preToolUse hook, SendAndWait.
func TestOfficialQuickstartToolsPermissionsHooks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := copilot.NewClient(&copilot.ClientOptions{Connection: copilot.QuickstartSharedConnection()})
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.Stop()

	var mu sync.Mutex
	var log []string
	note := func(format string, args ...any) {
		mu.Lock()
		log = append(log, fmt.Sprintf(format, args...))
		mu.Unlock()
	}

	lookupIssue := copilot.DefineTool("lookup_issue", "Fetch issue details from our tracker",
		func(params LookupIssueParams, inv copilot.ToolInvocation) (any, error) {
			note("lookup_issue %s", params.ID)
			return "Issue " + params.ID + ": the build is red", nil
		})
	closeIssue := copilot.Tool{
		Name:        "close_issue",
		Description: "Close an issue",
		Parameters: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"id": map[string]any{"type": "string", "description": "Issue identifier"},
			},
			"required": []string{"id"},
		},
		// official: func(invocation copilot.ToolInvocation) (copilot.ToolResult, error)
		Handler: func(invocation copilot.ToolInvocation) (any, error) {
			var args map[string]any
			if err := json.Unmarshal(invocation.Arguments, &args); err != nil {
				return copilot.ToolResult{}, err
			}
			note("close_issue %v", args["id"])
			return copilot.ToolResult{
				TextResultForLLM: fmt.Sprintf("closed %v", args["id"]),
				ResultType:       "success",
				SessionLog:       fmt.Sprintf("Closed issue %v", args["id"]),
			}, nil
		},
	}

	session, err := client.CreateSession(ctx, &copilot.SessionConfig{
		Model:    "gpt-4.1",
		Provider: copilot.QuickstartProvider(),
		Tools:    []copilot.Tool{lookupIssue, closeIssue},
		OnPermissionRequest: copilot.PermissionHandlerWithInvocation(
			func(request copilot.PermissionRequest, invocation copilot.PermissionInvocation) (copilot.WirePermissionDecisionVariant, error) {
				note("permission %s for %s", request.Kind, invocation.SessionID)
				if request.Kind == "shell" {
					feedback := "Refusing shell"
					return &copilot.PermissionDecisionReject{Feedback: &feedback}, nil
				}
				return &copilot.PermissionDecisionApproveOnce{}, nil
			}),
		Hooks: map[string]copilot.HookHandler{
			"preToolUse": copilot.PreToolUseHook(
				func(input copilot.PreToolUseHookInput, invocation copilot.HookInvocation) (*copilot.PreToolUseHookOutput, error) {
					note("preToolUse %s for %s", input.ToolName, invocation.SessionID)
					if input.ToolName == "close_issue" {
						return &copilot.PreToolUseHookOutput{
							PermissionDecision:       copilot.Ptr(copilot.PreToolUseHookOutputPermissionDecisionDeny),
							PermissionDecisionReason: copilot.Ptr("closing is not allowed"),
						}, nil
					}
					// No decision: the permission handler is asked (an "allow" would skip it).
					return nil, nil
				}),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer session.Disconnect()
	id := session.SessionID

	answer, err := session.SendAndWait(ctx, copilot.MessageOptions{Prompt: `CALL lookup_issue {"id":"42"}`})
	if err != nil {
		t.Fatal(err)
	}
	if got := answer.Text(); got != "Tool returned: Issue 42: the build is red" {
		t.Fatalf("answer %q", got)
	}
	// The hook denies close_issue: its handler never runs, the model sees the refusal.
	answer, err = session.SendAndWait(ctx, copilot.MessageOptions{Prompt: `CALL close_issue {"id":"42"}`})
	if err != nil {
		t.Fatal(err)
	}
	if got := answer.Text(); !strings.Contains(got, "closing is not allowed") {
		t.Fatalf("answer to the denied tool %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	got := strings.Join(log, "\n")
	for _, want := range []string{
		"preToolUse lookup_issue for " + id,
		"permission custom-tool for " + id,
		"lookup_issue 42",
		"preToolUse close_issue for " + id,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "close_issue 42") {
		t.Errorf("the denied tool ran:\n%s", got)
	}
}
