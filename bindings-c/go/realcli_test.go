package copilot

// Behaviours against the real CLI beyond one session and a few turns (the code-level tests the
// shared scenario README names), and the Go surface: contexts, typed errors, handlers.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestVersionAndStatusNames(t *testing.T) {
	if Version() == "" || ABIVersion() < 1 {
		t.Fatalf("version %q abi %d", Version(), ABIVersion())
	}
	for n, want := range map[int]string{0: "ok", 4: "timeout", 12: "rpc_error", 14: "session_not_found", 100: "null_pointer", 105: "in_callback", 999: "unknown"} {
		if got := StatusName(n); got != want {
			t.Errorf("StatusName(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestClientLevelMethods(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	info := c.Info()
	if !info.Running || info.ProtocolVersion != 3 || info.ServerVersion != "1.0.102" || info.Port != port {
		t.Fatalf("info %+v", info)
	}
	pong, err := c.Ping(ctx, "x")
	if err != nil || pong.Message != "pong: x" || pong.ProtocolVersion != 3 {
		t.Fatalf("ping %+v %v", pong, err)
	}
	st, err := c.GetStatus(ctx)
	if err != nil || st.Version != "1.0.102" {
		t.Fatalf("status %+v %v", st, err)
	}
	auth, err := c.GetAuthStatus(ctx)
	if err != nil || auth.IsAuthenticated {
		t.Fatalf("auth %+v %v", auth, err)
	}
	// Offline and unauthenticated: a typed RPC error.
	_, err = c.ListModels(ctx)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeRPC || e.RPC == nil || e.TransportFailure {
		t.Fatalf("list models: %#v", err)
	}
	if !errors.Is(err, ErrRPC) {
		t.Fatal("errors.Is(err, ErrRPC)")
	}
	fg, err := c.GetForegroundSessionID(ctx)
	if err != nil || fg != nil {
		t.Fatalf("foreground %v %v", fg, err)
	}
	if err := c.SetForegroundSessionID(ctx, "nope"); err == nil {
		t.Fatal("set foreground should fail outside TUI mode")
	}
	r, err := c.Call(ctx, "tools.list", map[string]any{})
	if err != nil || !strings.Contains(string(r), `"tools":[`) {
		t.Fatalf("tools.list %.100s %v", r, err)
	}
	_, err = c.Call(ctx, "no.such.method", nil)
	if !errors.As(err, &e) || e.RPC == nil || e.RPC.Code != -32601 {
		t.Fatalf("unknown method: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ping(ctx, ""); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("ping after stop: %v", err)
	}
	// A stopped client starts again.
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ping(ctx, ""); err != nil {
		t.Fatal(err)
	}
}

func TestOptionErrorsAreTyped(t *testing.T) {
	ctx := ctxT(t)
	for _, o := range []*ClientOptions{
		{Env: []string{"NOT-A-PAIR"}},
		{CLIUrl: "127.0.0.1:1", UseStdio: Bool(true)},
		{CLIUrl: "localhost:notaport"},
	} {
		c := NewClient(o)
		err := c.Start(ctx)
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v", o, err)
		}
		_ = c.Close()
	}
	refused := NewClient(&ClientOptions{CLIUrl: "127.0.0.1:1"})
	defer refused.Close()
	var e *Error
	if err := refused.Start(ctx); !errors.As(err, &e) || e.Code != CodeConnect || !e.TransportFailure {
		t.Fatalf("refused: %v", err)
	}
	missing := NewClient(&ClientOptions{CLIPath: "/nonexistent/copilot"})
	defer missing.Close()
	if err := missing.Start(ctx); !errors.Is(err, ErrCLINotFound) {
		t.Fatalf("missing CLI: %v", err)
	}
	c := connect(t)
	if _, err := c.CreateSession(ctx, &SessionConfig{Tools: []Tool{{Description: "no name"}}}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("nameless tool: %v", err)
	}
	if _, err := c.CreateSession(ctx, &SessionConfig{Extra: map[string]any{"streaming": "yes"}}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("wrong type: %v", err)
	}
}

func TestConnectionToken(t *testing.T) {
	ctx := ctxT(t)
	url := "http://" + sharedURL()
	for _, tok := range []string{"", "wrong-token"} {
		c := NewClient(&ClientOptions{CLIUrl: url, ConnectionToken: tok})
		err := c.Start(ctx)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeAuthentication || e.RPC == nil {
			t.Errorf("token %q: %v", tok, err)
		}
		_ = c.Close()
	}
	ok := NewClient(&ClientOptions{CLIUrl: url, ConnectionToken: testToken})
	if err := ok.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ok.Ping(ctx, ""); err != nil {
		t.Fatal(err)
	}
	_ = ok.Close()
	// A stdio child needs no token.
	own := NewClient(ownCLIOptions(true))
	if err := own.Start(ctx); err != nil {
		t.Fatal(err)
	}
	_ = own.Close()
}

func TestPlainTurnEventsAndSessionCalls(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	var mu sync.Mutex
	var early []string
	cfg := config()
	cfg.SessionID = fmt.Sprintf("go-plain-%d", os.Getpid())
	cfg.Streaming = true
	cfg.OnEvent = func(e SessionEvent) {
		mu.Lock()
		early = append(early, e.Type)
		mu.Unlock()
	}
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.SessionID != cfg.SessionID || s.ID() != cfg.SessionID || !strings.HasPrefix(s.WorkspacePath(), "/") {
		t.Fatalf("id %q path %q", s.SessionID, s.WorkspacePath())
	}
	all := newRecorder()
	unsubAll := s.On(all.add)
	var deltas strings.Builder
	var dmu sync.Mutex
	unsubDeltas := s.OnType("assistant.message_delta", func(e SessionEvent) {
		dmu.Lock()
		deltas.WriteString(*e.Data.DeltaContent)
		dmu.Unlock()
	})
	answer, err := s.SendAndWait(ctx, MessageOptions{Prompt: "REPLY a b c d"})
	if err != nil || answer.Text() != "a b c d" || answer.Type != "assistant.message" {
		t.Fatalf("answer %v %v", answer, err)
	}
	evs := all.take()
	if !isSubsequence([]string{"user.message", "assistant.message_delta", "assistant.message", "session.idle"}, types(evs)) {
		t.Fatalf("events %v", types(evs))
	}
	dmu.Lock()
	if deltas.String() != "a b c d" {
		t.Errorf("deltas %q", deltas.String())
	}
	dmu.Unlock()
	mu.Lock()
	if len(early) == 0 || early[0] != "session.start" {
		t.Errorf("OnEvent first event: %v", early)
	}
	mu.Unlock()
	// Events in wire order: the persisted ones equal the server's stored history.
	var persisted []string
	for _, e := range evs {
		if !e.Ephemeral {
			persisted = append(persisted, e.ID)
		}
	}
	stored, err := s.GetMessages(ctx)
	if err != nil || len(stored) < len(persisted) || len(persisted) < 3 {
		t.Fatalf("messages %d persisted %d %v", len(stored), len(persisted), err)
	}
	for i, id := range persisted {
		if stored[len(stored)-len(persisted)+i].ID != id {
			t.Fatalf("stored history differs from the events seen")
		}
	}
	unsubAll()
	unsubDeltas()
	if _, err := s.SendAndWait(ctx, MessageOptions{Prompt: "REPLY quiet"}); err != nil {
		t.Fatal(err)
	}
	if n := len(all.take()); n != 0 {
		t.Errorf("%d events after unsubscribe", n)
	}
	// Plain send returns the message id.
	idle := newRecorder()
	s.OnType("session.idle", idle.add)
	id, err := s.Send(ctx, MessageOptions{Prompt: "REPLY sent"})
	if err != nil || id == "" {
		t.Fatalf("send %q %v", id, err)
	}
	idle.waitFor(t, ofType("session.idle"))
	// Model switch and session RPC.
	if err := s.SetModel(ctx, "gpt-5"); err != nil {
		t.Fatal(err)
	}
	cur, err := s.Call(ctx, "session.model.getCurrent", nil)
	if err != nil || !strings.Contains(string(cur), `"modelId":"gpt-5"`) {
		t.Fatalf("%s %v", cur, err)
	}
	if _, err := s.Call(ctx, "session.mode.get", []int{1}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("array params: %v", err)
	}
	if err := s.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if err := s.Disconnect(); err != nil {
		t.Fatalf("disconnect twice: %v", err)
	}
	if _, err := s.Send(ctx, MessageOptions{Prompt: "x"}); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("after disconnect: %v", err)
	}
}

func TestAbortMidStream(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	cfg := config()
	cfg.Streaming = true
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	s.On(rec.add)
	if _, err := s.Send(ctx, MessageOptions{Prompt: "SLOW 40 250"}); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, ofType("assistant.message_delta"))
	if err := s.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	idle := rec.waitFor(t, ofType("session.idle"))
	if idle.Data.Aborted == nil || !*idle.Data.Aborted {
		t.Fatalf("idle not aborted: %s", idle.Data.Raw)
	}
	answer, err := s.SendAndWait(ctx, MessageOptions{Prompt: "REPLY after abort"})
	if err != nil || answer.Text() != "after abort" {
		t.Fatalf("%v %v", answer, err)
	}
	_ = s.Disconnect()
}

func TestContextCancelsAndTimeouts(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	s, err := c.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	s.On(rec.add)
	// Cancel: the wait stops with a cancelled error that is also context.Canceled.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := s.SendAndWait(cctx, MessageOptions{Prompt: "HANG", Timeout: 10 * time.Minute})
		done <- err
	}()
	rec.waitFor(t, ofType("assistant.turn_start"))
	cancel()
	err = <-done
	var e *Error
	if !errors.Is(err, context.Canceled) || !errors.As(err, &e) || e.Code != CodeCancelled {
		t.Fatalf("cancel: %v", err)
	}
	if err := s.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, ofType("session.idle"))
	// A context deadline ends the wait the same way.
	dctx, dcancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer dcancel()
	if _, err := s.SendAndWait(dctx, MessageOptions{Prompt: "HANG"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
	if err := s.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, ofType("session.idle"))
	// The SDK's own timeout, aborting the turn.
	_, err = s.SendAndWait(ctx, MessageOptions{Prompt: "HANG", Timeout: 1500 * time.Millisecond, AbortOnTimeout: true})
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "1500ms") {
		t.Fatalf("timeout: %v", err)
	}
	idle := rec.waitFor(t, ofType("session.idle"))
	if idle.Data.Aborted == nil || !*idle.Data.Aborted {
		t.Fatalf("abort on timeout: %s", idle.Data.Raw)
	}
	// An already cancelled context does not start the call.
	gone, g := context.WithCancel(ctx)
	g()
	if _, err := c.Ping(gone, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before start: %v", err)
	}
	_ = s.Disconnect()
}

func TestResumeFromSecondClient(t *testing.T) {
	ctx := ctxT(t)
	a, b := connect(t), connect(t)
	sa, err := a.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sa.SendAndWait(ctx, MessageOptions{Prompt: "REPLY first from A"}); err != nil {
		t.Fatal(err)
	}
	// B joins the live session without any config (the guide's resumeSession(id)).
	sb, err := b.ResumeSession(ctx, sa.SessionID, nil)
	if err != nil || sb.SessionID != sa.SessionID {
		t.Fatalf("resume: %v", err)
	}
	history, err := sb.GetMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range history {
		found = found || (e.Type == "user.message" && e.Text() == "REPLY first from A")
	}
	if !found {
		t.Fatal("B does not see A's message")
	}
	onA := newRecorder()
	sa.On(onA.add)
	answer, err := sb.SendAndWait(ctx, MessageOptions{Prompt: "REPLY second from B"})
	if err != nil || answer.Text() != "second from B" {
		t.Fatalf("%v %v", answer, err)
	}
	if got := onA.waitFor(t, ofType("assistant.message")); got.Text() != "second from B" {
		t.Fatalf("A saw %q", got.Text())
	}
	if err := sa.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if answer, err := sb.SendAndWait(ctx, MessageOptions{Prompt: "REPLY still here"}); err != nil || answer.Text() != "still here" {
		t.Fatalf("%v %v", answer, err)
	}
	if err := sb.Disconnect(); err != nil {
		t.Fatal(err)
	}
	// Cold resume with the provider again.
	sc, err := b.ResumeSession(ctx, sa.SessionID, config())
	if err != nil {
		t.Fatal(err)
	}
	if answer, err := sc.SendAndWait(ctx, MessageOptions{Prompt: "REPLY cold"}); err != nil || answer.Text() != "cold" {
		t.Fatalf("%v %v", answer, err)
	}
}

func TestListAndDelete(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	deleted := make(chan SessionLifecycleEvent, 8)
	unsub := c.OnEventType("session.deleted", func(e SessionLifecycleEvent) { deleted <- e })
	defer unsub()
	cfg := config()
	cfg.SessionID = fmt.Sprintf("go-list-delete-%d", os.Getpid())
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendAndWait(ctx, MessageOptions{Prompt: "Say hello"}); err != nil {
		t.Fatal(err)
	}
	_ = s.Disconnect()
	list, err := c.ListSessions(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var me *SessionMetadata
	for i := range list {
		if list[i].SessionID == cfg.SessionID {
			me = &list[i]
		}
	}
	if me == nil || me.StartTime.IsZero() || me.ModifiedTime.IsZero() || !me.CreatedAt.Equal(me.StartTime) || me.ModifiedTime.Before(me.StartTime) {
		t.Fatalf("listed: %+v", me)
	}
	// The times are times (decoded from RFC 3339), recent ones.
	if time.Since(me.CreatedAt) > time.Hour || time.Since(me.CreatedAt) < -time.Minute {
		t.Fatalf("createdAt %v", me.CreatedAt)
	}
	last, err := c.GetLastSessionID(ctx)
	if err != nil || last == nil {
		t.Fatalf("last %v %v", last, err)
	}
	none, err := c.ListSessions(ctx, &SessionListFilter{Cwd: "/nonexistent"})
	if err != nil || len(none) != 0 {
		t.Fatalf("filtered %v %v", none, err)
	}
	if err := c.DeleteSession(ctx, cfg.SessionID); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-deleted:
		if e.SessionID != cfg.SessionID {
			t.Fatalf("deleted %q", e.SessionID)
		}
	case <-time.After(time.Minute):
		t.Fatal("no session.deleted notification")
	}
	list, _ = c.ListSessions(ctx, nil)
	for _, m := range list {
		if m.SessionID == cfg.SessionID {
			t.Fatal("still listed")
		}
	}
	if err := c.DeleteSession(ctx, cfg.SessionID); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if _, err := c.ResumeSession(ctx, cfg.SessionID, nil); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("resume deleted: %v", err)
	}
}

// With reconnection off, a CLI killed mid-turn ends the turn's wait (turn_outcome_unknown) and
// the client (calls fail with the connection's error). TestReliability* cover reconnection.
func TestCLIKilledMidTurn(t *testing.T) {
	ctx := ctxT(t)
	o := ownCLIOptions(true)
	o.Reconnect = &ReconnectOptions{Disabled: true}
	c := NewClient(o)
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pid := c.Info().CLIPid
	if pid <= 0 {
		t.Fatalf("pid %d", pid)
	}
	s, err := c.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	s.On(rec.add)
	done := make(chan error, 1)
	go func() {
		_, err := s.SendAndWait(ctx, MessageOptions{Prompt: "HANG", Timeout: 10 * time.Minute})
		done <- err
	}()
	rec.waitFor(t, ofType("assistant.turn_start"))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = <-done
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeTurnOutcomeUnknown || !strings.Contains(e.Message, s.SessionID) {
		t.Fatalf("after kill: %v", err)
	}
	if _, err := c.Ping(ctx, ""); !errors.Is(err, ErrTransportClosed) {
		t.Fatalf("ping after kill: %v", err)
	}
}

type weatherArgs struct {
	City string `json:"city"`
}

var weatherParams = map[string]any{
	"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"},
}

func TestToolsAndPermissions(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	var mu sync.Mutex
	var kinds, cities []string
	cfg := config()
	cfg.Tools = []Tool{{
		Name: "get_weather", Description: "Get the weather", Parameters: weatherParams,
		Handler: func(inv ToolInvocation) (any, error) {
			var a weatherArgs
			if err := inv.Args(&a); err != nil {
				return nil, err
			}
			mu.Lock()
			cities = append(cities, a.City)
			mu.Unlock()
			return ToolResult{TextResultForLLM: "Sunny in " + a.City, ResultType: "success"}, nil
		},
	}, {
		Name: "explode", Parameters: map[string]any{"type": "object", "properties": map[string]any{}}, SkipPermission: true,
		Handler: func(ToolInvocation) (any, error) { panic("tool blew up") },
	}}
	cfg.OnPermissionRequest = func(req PermissionRequest) (any, error) {
		mu.Lock()
		kinds = append(kinds, req.Kind)
		mu.Unlock()
		return PermissionHandler.ApproveAll(req)
	}
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := s.SendAndWait(ctx, MessageOptions{Prompt: `CALL get_weather {"city":"Paris"}`})
	if err != nil || answer.Text() != "Tool returned: Sunny in Paris" {
		t.Fatalf("%v %v", answer, err)
	}
	mu.Lock()
	if strings.Join(kinds, ",") != "custom-tool" || strings.Join(cities, ",") != "Paris" {
		t.Fatalf("kinds %v cities %v", kinds, cities)
	}
	mu.Unlock()
	// A panicking Go handler becomes a failure result the model sees.
	answer, err = s.SendAndWait(ctx, MessageOptions{Prompt: "CALL explode {}"})
	if err != nil || !strings.Contains(answer.Text(), "tool blew up") {
		t.Fatalf("%v %v", answer, err)
	}
	_ = s.Disconnect()
}

func TestHookDeniesToolAndExitPlanMode(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	plans := make(chan ExitPlanModeRequest, 4)
	cfg := config()
	cfg.Tools = []Tool{{Name: "get_weather", Parameters: weatherParams, SkipPermission: true,
		Handler: func(ToolInvocation) (any, error) { return "never", nil }}}
	cfg.OnPermissionRequest = ApproveAll
	cfg.Hooks = map[string]HookHandler{"preToolUse": func(h HookInvocation) (any, error) {
		if strings.Contains(string(h.Input), "get_weather") {
			return map[string]any{"permissionDecision": "deny", "permissionDecisionReason": "hooks say no"}, nil
		}
		return nil, nil
	}}
	cfg.OnExitPlanMode = func(req ExitPlanModeRequest) (any, error) {
		plans <- req
		return ExitPlanModeResponse{SelectedAction: "interactive"}, nil
	}
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := s.SendAndWait(ctx, MessageOptions{Prompt: `CALL get_weather {"city":"Rome"}`})
	if err != nil || !strings.Contains(answer.Text(), "hooks say no") {
		t.Fatalf("%v %v", answer, err)
	}
	if _, err := s.Call(ctx, "session.mode.set", map[string]any{"mode": "plan"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendAndWait(ctx, MessageOptions{Prompt: `CALL exit_plan_mode {"summary":"Do the thing","actions":["autopilot","interactive"],"recommendedAction":"interactive"}`}); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-plans:
		if p.Summary != "Do the thing" || p.RecommendedAction != "interactive" || !slices.Contains(p.Actions, "autopilot") || !strings.Contains(string(p.Raw), `"sessionId":"`+s.SessionID+`"`) {
			t.Fatalf("plan %+v %s", p, p.Raw)
		}
	default:
		t.Fatal("exit plan mode handler not called")
	}
	_ = s.Disconnect()
}

func TestProviderTokenAndSystemMessageTransform(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	var mu sync.Mutex
	var names []string
	cfg := config()
	cfg.SystemMessage = &SystemMessageConfig{Mode: "customize", Sections: map[string]any{"tone": map[string]any{"action": "transform"}}}
	cfg.OnSystemMessageTransform = func(req SystemMessageTransformRequest) (any, error) {
		out := map[string]SystemMessageSection{}
		for id, s := range req.Sections {
			out[id] = SystemMessageSection{Content: s.Content + "\nTRANSFORMED-BY-GO"}
		}
		return out, nil
	}
	cfg.OnProviderToken = func(req ProviderTokenRequest) (string, error) {
		mu.Lock()
		names = append(names, req.ProviderName)
		mu.Unlock()
		return "dynamic-token", nil
	}
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendAndWait(ctx, MessageOptions{Prompt: "Say hello"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(names) == 0 || names[0] != "default" {
		t.Fatalf("provider token handler: %v", names)
	}
	mu.Unlock()
	// What reached the model: the token as the bearer, the transformed system prompt.
	req := lastChatRequest(t)
	if req.Authorization != "Bearer dynamic-token" {
		t.Errorf("authorization %q", req.Authorization)
	}
	if !strings.Contains(string(req.Body), "TRANSFORMED-BY-GO") {
		t.Error("the system prompt was not transformed")
	}
	_ = s.Disconnect()
}

func TestUserInputFailureAndPermissionFailure(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	cfg := config()
	cfg.OnUserInputRequest = func(UserInputRequest) (any, error) {
		return nil, errors.New("nobody home")
	}
	cfg.OnPermissionRequest = func(PermissionRequest) (any, error) { panic("permission handler panicked") }
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	s.On(rec.add)
	if _, err := s.SendAndWait(ctx, MessageOptions{Prompt: `CALL ask_user {"question":"Colour?"}`}); err != nil {
		t.Fatal(err)
	}
	var complete *SessionEvent
	for _, e := range rec.take() {
		if e.Type == "tool.execution_complete" {
			e := e
			complete = &e
		}
	}
	// The CLI turns a failed question into an answer saying the user could not respond.
	if complete == nil || !strings.Contains(string(complete.Data.Raw), "unable to respond") {
		t.Fatalf("a failing user-input handler: %v", complete)
	}
	// A panicking permission handler denies the tool; the turn still ends.
	if _, err := s.SendAndWait(ctx, MessageOptions{Prompt: `CALL bash {"command":"echo never","description":"e","mode":"sync"}`}); err != nil {
		t.Fatal(err)
	}
	_ = s.Disconnect()
}

func TestManyConcurrentSessions(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := c.CreateSession(ctx, config())
			if err != nil {
				errs <- err
				return
			}
			defer s.Disconnect()
			a, err := s.SendAndWait(ctx, MessageOptions{Prompt: fmt.Sprintf("REPLY answer %d", i)})
			if err != nil || a.Text() != fmt.Sprintf("answer %d", i) {
				errs <- fmt.Errorf("session %d: %v %v", i, a, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Concurrent SendAndWait on one session queue up and each gets its own answer.
	s, err := c.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 2)
	for _, p := range []string{"x", "y"} {
		go func(p string) {
			a, err := s.SendAndWait(ctx, MessageOptions{Prompt: "REPLY " + p})
			if err != nil {
				got <- err.Error()
				return
			}
			got <- a.Text()
		}(p)
	}
	a, b := <-got, <-got
	if !(a == "x" && b == "y" || a == "y" && b == "x") {
		t.Fatalf("answers %q %q", a, b)
	}
}

func TestStopReleasesSessionsAndShutdown(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	s, err := c.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(ctx, MessageOptions{Prompt: "x"}); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("after stop: %v", err)
	}
	// Shutdown ends the callback thread; the SDK keeps working (a new thread starts).
	if err := Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ping(ctx, "after shutdown"); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ping(ctx, ""); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("after close: %v", err)
	}
}

func TestTurnFailingBeforeItsUserMessage(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	// No provider and no GitHub login: the CLI fails the turn before recording the prompt.
	s, err := c.CreateSession(ctx, &SessionConfig{Model: "gpt-4.1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.SendAndWait(ctx, MessageOptions{Prompt: "Say hello", Timeout: time.Minute})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeSessionError {
		t.Fatalf("want session_error, got %v", err)
	}
	_ = s.Disconnect()
}

// Lifecycle events reach a client that was never started explicitly (CreateSession starts it).
func TestLifecycleWithImplicitStart(t *testing.T) {
	ctx := ctxT(t)
	c := NewClient(&ClientOptions{CLIUrl: sharedURL(), ConnectionToken: testToken})
	t.Cleanup(func() { _ = c.Close() })
	created := make(chan SessionLifecycleEvent, 64)
	unsub := c.OnEventType("session.created", func(e SessionLifecycleEvent) { created <- e })
	defer unsub()
	s, err := c.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e := <-created:
			if e.SessionID == s.SessionID {
				return
			}
		case <-deadline:
			t.Fatal("no session.created lifecycle event after an implicit start")
		}
	}
}

// Lifecycle type filters are the library's: a "session.deleted" handler made before the client
// starts sees exactly the deletions; a handler of every type sees the creation too; an
// unsubscribed handler sees nothing.
func TestLifecycleTypeFilter(t *testing.T) {
	ctx := ctxT(t)
	c := NewClient(&ClientOptions{CLIUrl: sharedURL(), ConnectionToken: testToken})
	t.Cleanup(func() { _ = c.Close() })
	var mu sync.Mutex
	var deleted, all, gone []string
	record := func(into *[]string) func(SessionLifecycleEvent) {
		return func(e SessionLifecycleEvent) {
			mu.Lock()
			*into = append(*into, e.Type+":"+e.SessionID)
			mu.Unlock()
		}
	}
	defer c.OnEventType("session.deleted", record(&deleted))()
	defer c.On(record(&all))()
	c.On(record(&gone))()
	id := fmt.Sprintf("go-lifecycle-%d", os.Getpid())
	cfg := config()
	cfg.SessionID = id
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Disconnect()
	if err := c.DeleteSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		done := slices.Contains(deleted, "session.deleted:"+id) && slices.Contains(all, "session.deleted:"+id)
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no session.deleted notification")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range deleted {
		if !strings.HasPrefix(e, "session.deleted:") {
			t.Fatalf("the session.deleted handler got %s (all: %v)", e, deleted)
		}
	}
	if !slices.Contains(all, "session.created:"+id) || len(gone) != 0 {
		t.Fatalf("all %v, unsubscribed %v", all, gone)
	}
}

// A hook registered under another spelling ("PreToolUse") is called: the library names the
// request by the Hooks key.
func TestHookUnderAnotherSpelling(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	called := make(chan string, 4)
	cfg := config()
	cfg.Tools = []Tool{{Name: "get_weather", Parameters: weatherParams, SkipPermission: true,
		Handler: func(ToolInvocation) (any, error) { return "never", nil }}}
	cfg.Hooks = map[string]HookHandler{"PreToolUse": func(h HookInvocation) (any, error) {
		called <- h.Type
		return map[string]any{"permissionDecision": "deny", "permissionDecisionReason": "PreToolUse says no"}, nil
	}}
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	answer, err := s.SendAndWait(ctx, MessageOptions{Prompt: `CALL get_weather {"city":"Rome"}`})
	if err != nil || !strings.Contains(answer.Text(), "PreToolUse says no") {
		t.Fatalf("%v %v", answer, err)
	}
	if typ := <-called; typ != "preToolUse" {
		t.Fatalf("HookInvocation.Type %q", typ)
	}
}

// A Tool without Handler is left alone: its call reaches the session's events
// (external_tool.requested) but no Go handler, and another connection answers it; the tool
// with a Handler runs here.
func TestToolWithoutHandlerIsLeftAlone(t *testing.T) {
	ctx := ctxT(t)
	a, b := connect(t), connect(t)
	var ran []string
	var mu sync.Mutex
	cfg := config()
	cfg.Tools = []Tool{
		{Name: "get_weather", Parameters: weatherParams, SkipPermission: true, Handler: func(inv ToolInvocation) (any, error) {
			mu.Lock()
			ran = append(ran, inv.ToolName)
			mu.Unlock()
			return "Sunny", nil
		}},
		{Name: "get_time", Parameters: weatherParams, SkipPermission: true},
	}
	cfg.OnPermissionRequest = ApproveAll // the session has a request callback
	requested := make(chan SessionEvent, 4)
	cfg.OnEvent = func(e SessionEvent) {
		if e.Type == "external_tool.requested" {
			requested <- e
		}
	}
	s, err := a.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	type result struct {
		ev  *SessionEvent
		err error
	}
	done := make(chan result, 1)
	go func() {
		ev, err := s.SendAndWait(ctx, MessageOptions{Prompt: `CALL get_time {"city":"Oslo"}`})
		done <- result{ev, err}
	}()
	ev := <-requested
	var req struct {
		RequestID string `json:"requestId"`
		ToolName  string `json:"toolName"`
	}
	if err := ev.Data.Get(&req); err != nil || req.ToolName != "get_time" {
		t.Fatalf("%s %v", ev.Data.Raw, err)
	}
	r, err := b.Call(ctx, "session.tools.handlePendingToolCall", map[string]any{"sessionId": s.SessionID, "requestId": req.RequestID, "result": "Noon by hand"})
	if err != nil || !strings.Contains(string(r), `"success":true`) {
		t.Fatalf("answered by another connection: %s %v", r, err)
	}
	if res := <-done; res.err != nil || res.ev.Text() != "Tool returned: Noon by hand" {
		t.Fatalf("%v %v", res.ev, res.err)
	}
	answer, err := s.SendAndWait(ctx, MessageOptions{Prompt: `CALL get_weather {"city":"Oslo"}`})
	if err != nil || answer.Text() != "Tool returned: Sunny" {
		t.Fatalf("%v %v", answer, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(ran, ",") != "get_weather" {
		t.Fatalf("Go handlers ran for %v", ran)
	}
}

// ping_before_start: a client that was never started answers by starting; after Stop calls
// fail with not_connected until Start; with AutoStart false a call before Start fails.
func TestPingBeforeStart(t *testing.T) {
	ctx := ctxT(t)
	c := NewClient(&ClientOptions{CLIUrl: sharedURL(), ConnectionToken: testToken})
	t.Cleanup(func() { _ = c.Close() })
	if c.Info().Running {
		t.Fatal("running before any call")
	}
	pong, err := c.Ping(ctx, "first")
	if err != nil || pong.Message != "pong: first" || !c.Info().Running {
		t.Fatalf("ping before start: %+v %v (info %+v)", pong, err, c.Info())
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ping(ctx, ""); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("ping after stop: %v", err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ping(ctx, ""); err != nil {
		t.Fatalf("ping after start: %v", err)
	}
	manual := NewClient(&ClientOptions{CLIUrl: sharedURL(), ConnectionToken: testToken, AutoStart: Bool(false)})
	t.Cleanup(func() { _ = manual.Close() })
	if _, err := manual.Ping(ctx, ""); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("autoStart false, ping before start: %v", err)
	}
	if err := manual.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := manual.Ping(ctx, ""); err != nil {
		t.Fatalf("autoStart false, ping after start: %v", err)
	}
}

// Calls wait for their completion on the calling thread (in C) up to maxThreadWaits at once,
// and through a channel beyond: both paths return results and honour cancellation.
func TestCallWaitPaths(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	s, err := c.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	tail, err := s.Call(ctx, "session.eventLog.tail", nil)
	if err != nil {
		t.Fatal(err)
	}
	var cursor struct {
		Cursor any `json:"cursor"`
	}
	if err := json.Unmarshal(tail, &cursor); err != nil {
		t.Fatal(err)
	}
	old := maxThreadWaits
	defer func() { maxThreadWaits = old }()
	for _, limit := range []int32{old, 0} {
		maxThreadWaits = limit
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				msg := fmt.Sprint("p", i)
				if pong, err := c.Ping(ctx, msg); err != nil || pong.Message != "pong: "+msg {
					errs <- fmt.Errorf("ping %d: %+v %v", i, pong, err)
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("limit %d: %v", limit, err)
		}
		// A long-poll of the event log, cancelled through its context.
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		t0 := time.Now()
		_, err := s.Call(cctx, "session.eventLog.read", map[string]any{"cursor": cursor.Cursor, "waitMs": 20000})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrCancelled) || time.Since(t0) > 10*time.Second {
			t.Errorf("limit %d: cancelled long poll: %v after %v", limit, err, time.Since(t0))
		}
	}
}
