package copilot

// Issue 12, second slice: permission and user-input handlers in the official two-argument
// form (request, invocation), against the real CLI of the suite (main_test.go) and the fake
// model.

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
)

// lastComplete is the last tool.execution_complete event of evs (nil without one).
func lastComplete(evs []SessionEvent) *SessionEvent {
	var out *SessionEvent
	for _, e := range evs {
		if e.Type == "tool.execution_complete" {
			e := e
			out = &e
		}
	}
	return out
}

// A two-argument handler returning a typed approve-once decision lets the tool run, and its
// invocation carries the id of the session that asks.
func TestOfficialPermissionHandlerApproves(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	var mu sync.Mutex
	var kinds, sessionIDs, cities []string
	cfg := config()
	cfg.Tools = []Tool{DefineTool("get_weather", "Get the weather",
		func(a weatherArgs, _ ToolInvocation) (string, error) {
			mu.Lock()
			cities = append(cities, a.City)
			mu.Unlock()
			return "Sunny in " + a.City, nil
		})}
	cfg.OnPermissionRequest = PermissionHandlerWithInvocation(
		func(req PermissionRequest, inv PermissionInvocation) (PermissionDecision, error) {
			mu.Lock()
			kinds = append(kinds, req.Kind)
			sessionIDs = append(sessionIDs, inv.SessionID)
			mu.Unlock()
			return PermissionDecision{Kind: PermissionApproveOnce}, nil
		})
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Disconnect() }()
	answer, err := s.SendAndWait(ctx, MessageOptions{Prompt: `CALL get_weather {"city":"Paris"}`})
	if err != nil || answer.Text() != "Tool returned: Sunny in Paris" {
		t.Fatalf("%v %v", answer, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(kinds, ",") != "custom-tool" || strings.Join(cities, ",") != "Paris" {
		t.Fatalf("kinds %v cities %v", kinds, cities)
	}
	if len(sessionIDs) != 1 || s.ID() == "" || sessionIDs[0] != s.ID() {
		t.Fatalf("invocation session ids %q, session %q", sessionIDs, s.ID())
	}
}

// A two-argument handler returning {kind: "reject", feedback: "no"} makes the tool fail
// without running it.
func TestOfficialPermissionHandlerRejects(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	var mu sync.Mutex
	ran := false
	var sessionIDs []string
	cfg := config()
	cfg.Tools = []Tool{{Name: "get_weather", Description: "Get the weather", Parameters: weatherParams,
		Handler: func(ToolInvocation) (any, error) {
			mu.Lock()
			ran = true
			mu.Unlock()
			return "ran", nil
		}}}
	cfg.OnPermissionRequest = PermissionHandlerWithInvocation(
		func(req PermissionRequest, inv PermissionInvocation) (PermissionDecision, error) {
			mu.Lock()
			sessionIDs = append(sessionIDs, inv.SessionID)
			mu.Unlock()
			return PermissionDecision{Kind: PermissionReject, Feedback: "no"}, nil
		})
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Disconnect() }()
	rec := newRecorder()
	s.On(rec.add)
	if _, err := s.SendAndWait(ctx, MessageOptions{Prompt: `CALL get_weather {"city":"Paris"}`}); err != nil {
		t.Fatal(err)
	}
	complete := lastComplete(rec.take())
	if complete == nil {
		t.Fatal("no tool.execution_complete event")
	}
	var data struct {
		Success bool `json:"success"`
	}
	if err := json.Unmarshal(complete.Data.Raw, &data); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if data.Success || ran {
		t.Fatalf("a rejected tool ran or succeeded: ran %v, %s", ran, complete.Data.Raw)
	}
	if len(sessionIDs) != 1 || sessionIDs[0] != s.ID() {
		t.Fatalf("invocation session ids %q, session %q", sessionIDs, s.ID())
	}
}

// A two-argument user-input handler answers ask_user, and its invocation carries the
// session's id.
func TestOfficialUserInputHandler(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	type seen struct{ question, sessionID string }
	got := make(chan seen, 4)
	cfg := config()
	cfg.OnUserInputRequest = UserInputHandlerWithInvocation(
		func(req UserInputRequest, inv UserInputInvocation) (UserInputResponse, error) {
			got <- seen{req.Question, inv.SessionID}
			return UserInputResponse{Answer: "Ultramarine"}, nil
		})
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Disconnect() }()
	rec := newRecorder()
	s.On(rec.add)
	if _, err := s.SendAndWait(ctx, MessageOptions{Prompt: `CALL ask_user {"question":"Colour?"}`}); err != nil {
		t.Fatal(err)
	}
	select {
	case q := <-got:
		if q.question != "Colour?" || q.sessionID != s.ID() || q.sessionID == "" {
			t.Fatalf("request %+v, session %q", q, s.ID())
		}
	default:
		t.Fatal("the user-input handler was not called")
	}
	complete := lastComplete(rec.take())
	if complete == nil || !strings.Contains(string(complete.Data.Raw), "Ultramarine") {
		t.Fatalf("the answer did not reach the tool result: %v", complete)
	}
}

// The adapters pass results and errors through as given and keep a nil handler nil.
func TestOfficialHandlerAdapters(t *testing.T) {
	if PermissionHandlerWithInvocation[PermissionDecision](nil) != nil ||
		UserInputHandlerWithInvocation[string](nil) != nil {
		t.Fatal("a nil handler adapted to a non-nil one")
	}
	boom := errors.New("boom")
	p := PermissionHandlerWithInvocation(func(req PermissionRequest, inv PermissionInvocation) (string, error) {
		if inv.SessionID != req.SessionID {
			return "", errors.New("wrong session id")
		}
		if req.Kind == "shell" {
			return "", boom
		}
		return PermissionApproveForSession, nil
	})
	if r, err := p(PermissionRequest{SessionID: "s1", Kind: "write"}); err != nil || r != PermissionApproveForSession {
		t.Fatalf("%v %v", r, err)
	}
	if r, err := p(PermissionRequest{SessionID: "s1", Kind: "shell"}); !errors.Is(err, boom) || r != nil {
		t.Fatalf("%v %v", r, err)
	}
	u := UserInputHandlerWithInvocation(func(req UserInputRequest, inv UserInputInvocation) (string, error) {
		return inv.SessionID + ":" + req.Question, nil
	})
	if r, err := u(UserInputRequest{SessionID: "s2", Question: "q"}); err != nil || r != "s2:q" {
		t.Fatalf("%v %v", r, err)
	}
}
