package copilot

/*
#include <stdint.h>
#include <stdlib.h>
#include "copilot.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime/cgo"
	"sort"
	"sync"
	"time"
	"unsafe"
)

// Session is a conversation with the agent. Safe for concurrent use; concurrent SendAndWait
// calls on one session queue up.
type Session struct {
	// SessionID is the session's id.
	SessionID string
	// RPC is the typed session API generated from the CLI's schema
	// (session.RPC.Model.SwitchTo(ctx, …), …); Call reaches methods newer than the schema.
	RPC *SessionRPC

	owner         any // the *Client or *Pool: kept alive while the session is reachable
	core          *sessionCore
	workspacePath string

	capMu        sync.RWMutex
	capabilities SessionCapabilities
}

type sessionCore struct {
	// subscriptions holds the event subscriptions and the lock over h.
	subscriptions
	h      *C.CopilotSession
	handle cgo.Handle
	disp   *sessionDispatch
	// owner is the client or pool that opened the session.
	owner sessionOwner
	// trace is ClientOptions.OnGetTraceContext of the owner (nil: the context's).
	trace TraceContextProvider
}

// sessionOwner is what opens sessions: a client or a pool (the same Session either way).
type sessionOwner interface {
	// open starts the library's create (rid NULL) or resume call on the owner's handle.
	open(ctx context.Context, rid, cfg *C.char, onEvent C.CopilotEventCallback, onRequest C.CopilotRequestCallback, sud unsafe.Pointer, sh **C.CopilotSession) (json.RawMessage, error)
	// adopt keeps an opened session (released with the owner); an error when it was closed.
	adopt(sc *sessionCore) error
	// forget drops a released session.
	forget(sc *sessionCore)
	// traceHook is the owner's ClientOptions.OnGetTraceContext (nil when unset).
	traceHook() TraceContextProvider
}

// openSession creates (resumeID nil) or resumes a session through its owner: one code path
// for clients and pools. keep is the public owner value the Session keeps alive.
func openSession(ctx context.Context, owner sessionOwner, keep any, resumeID *string, config *SessionConfig) (*Session, error) {
	if config != nil && config.CreateSessionFsProvider != nil && resumeID == nil && config.SessionID == "" {
		// The provider is made before the session exists, for the session's id: choose it.
		c := *config
		c.SessionID = newSessionID()
		config = &c
	}
	hook := owner.traceHook()
	text, disp, err := buildSessionConfigTraced(config, resumeID != nil, hook, ctx)
	if err != nil {
		return nil, err
	}
	// The Session exists before the request goes out: CreateSessionFsProvider receives it, and
	// the CLI uses the provider while it creates the session.
	s := &Session{owner: keep}
	if resumeID != nil {
		s.SessionID = *resumeID
	} else if config != nil {
		s.SessionID = config.SessionID
	}
	if config != nil && config.CreateSessionFsProvider != nil {
		disp.fs = config.CreateSessionFsProvider(s)
		if disp.fs == nil {
			return nil, configError("CreateSessionFsProvider returned no provider")
		}
	}
	sc := &sessionCore{subscriptions: subscriptions{subs: map[uint64]cgo.Handle{}}, disp: disp, owner: owner, trace: hook}
	sc.handle = cgo.NewHandle(disp)
	var cfg *C.char
	if text != "" {
		cfg = cstr(text)
		defer freeC(cfg)
	}
	rid := optCstr(resumeID)
	defer freeC(rid)
	var onEvent C.CopilotEventCallback
	if disp.onEvent != nil {
		onEvent = eventCallback()
	}
	var onRequest C.CopilotRequestCallback
	if disp.servesRequests {
		onRequest = requestCallback()
	}
	var sh *C.CopilotSession
	raw, err := owner.open(ctx, rid, cfg, onEvent, onRequest, handlePtr(sc.handle), &sh)
	sc.h = sh
	if err != nil {
		sc.free()
		return nil, err
	}
	var info struct {
		SessionID     string          `json:"sessionId"`
		WorkspacePath string          `json:"workspacePath"`
		Capabilities  json.RawMessage `json:"capabilities"`
	}
	_ = json.Unmarshal(raw, &info)
	if err := owner.adopt(sc); err != nil {
		sc.free()
		return nil, err
	}
	if id := takeString(C.copilot_session_id(sh)); id != s.SessionID {
		s.SessionID = id
	}
	s.core, s.workspacePath = sc, info.WorkspacePath
	s.setCapabilities(info.Capabilities)
	s.RPC = newSessionRPC(s)
	// The capabilities follow the server's capabilities.changed events.
	sc.subscribe([]string{EventTypeCapabilitiesChanged}, func(e SessionEvent) { s.mergeCapabilities(e.Data.Raw) })
	return s, nil
}

// Capabilities are the session's host capabilities as the server last described them
// (UI.Elicitation: the Session.UI helpers work).
func (s *Session) Capabilities() SessionCapabilities {
	if s == nil {
		return SessionCapabilities{}
	}
	s.capMu.RLock()
	defer s.capMu.RUnlock()
	return s.capabilities
}

func (s *Session) setCapabilities(raw json.RawMessage) {
	var c SessionCapabilities
	if len(raw) > 0 && string(raw) != "null" {
		_ = json.Unmarshal(raw, &c)
		c.Raw = append(json.RawMessage(nil), raw...)
	}
	s.capMu.Lock()
	s.capabilities = c
	s.capMu.Unlock()
}

// mergeCapabilities applies a capabilities.changed event's data (the fields it sets).
func (s *Session) mergeCapabilities(data json.RawMessage) {
	s.capMu.Lock()
	defer s.capMu.Unlock()
	var all map[string]any
	if len(s.capabilities.Raw) > 0 {
		_ = json.Unmarshal(s.capabilities.Raw, &all)
	}
	if all == nil {
		all = map[string]any{}
	}
	var change map[string]any
	if json.Unmarshal(data, &change) != nil {
		return
	}
	for k, v := range change {
		old, _ := all[k].(map[string]any)
		nv, ok := v.(map[string]any)
		if old == nil || !ok {
			all[k] = v
			continue
		}
		for kk, vv := range nv {
			old[kk] = vv
		}
	}
	raw, err := json.Marshal(all)
	if err != nil {
		return
	}
	var c SessionCapabilities
	_ = json.Unmarshal(raw, &c)
	c.Raw = raw
	s.capabilities = c
}

func (s *sessionCore) free() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.freed {
		return
	}
	if s.h != nil {
		C.copilot_session_free(s.h) // no callback of the session runs after this returns
		s.h = nil
	}
	s.release()
	s.handle.Delete()
	s.disp.q.close()
	s.disp.release() // running handlers' contexts are cancelled: nothing takes their answers
}

type sessionCall func(h *C.CopilotSession, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus

// do runs one asynchronous session call.
func (s *sessionCore) do(ctx context.Context, f sessionCall) (json.RawMessage, error) {
	return s.doVia(ctx, nil, f)
}

// doVia runs one asynchronous session call whose completion travels through the queue q
// (nil: straight to the caller).
func (s *sessionCore) doVia(ctx context.Context, q *serialQueue, f sessionCall) (json.RawMessage, error) {
	return call(ctx, q, func(cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) (C.CopilotStatus, error) {
		if s == nil {
			return -1, &Error{Status: 14, Code: CodeSessionNotFound, Message: "no session (nil *Session)"}
		}
		s.mu.RLock()
		defer s.mu.RUnlock()
		if s.freed {
			return -1, &Error{Status: 14, Code: CodeSessionNotFound, Message: "the session was disconnected on this client"}
		}
		return startLocked(func() C.CopilotStatus { return f(s.h, cb, ud, out) })
	})
}

// core of a possibly nil session (the guide ignores CreateSession's error).
func (s *Session) c() *sessionCore {
	if s == nil {
		return nil
	}
	return s.core
}

// ID returns the session id.
func (s *Session) ID() string { return s.SessionID }

// WorkspacePath is the session's workspace folder on the CLI's machine.
func (s *Session) WorkspacePath() string { return s.workspacePath }

// On calls handler for the session's events from now on: every event, or with types only
// the events of those types (the library filters them). Handlers run in wire order, one at a
// time, on the session's event goroutine. The returned function unsubscribes: the handler is
// not called after it returns. Do not call SendAndWait from inside a handler (its result
// travels behind the handlers on the same goroutine): start a goroutine.
func (s *Session) On(handler func(SessionEvent), types ...string) func() {
	if len(types) == 0 {
		types = nil
	}
	return s.c().subscribe(types, handler)
}

// OnType calls handler for the events of one type ("assistant.message_delta", …).
func (s *Session) OnType(eventType string, handler func(SessionEvent)) func() {
	return s.On(handler, eventType)
}

// subscribe makes a copilot_session_subscribe subscription (types nil: every type) whose
// events run handler on the session's queue. On a released session it does nothing.
func (s *sessionCore) subscribe(types []string, handler func(SessionEvent)) func() {
	if s == nil {
		return func() {}
	}
	return subscribe(&s.subscriptions, s.disp.q, types, handler,
		func(filter *C.char, cb C.CopilotEventCallback, ud unsafe.Pointer, id *C.uint64_t) C.CopilotStatus {
			return C.copilot_session_subscribe(s.h, filter, cb, ud, id)
		},
		func(id C.uint64_t) { C.copilot_session_unsubscribe(s.h, id) })
}

// messageMap is the message options JSON, with the trace context of the call.
func (s *Session) messageMap(ctx context.Context, options MessageOptions) map[string]any {
	m := options.toMap()
	var hook TraceContextProvider
	if c := s.c(); c != nil {
		hook = c.trace
	}
	putTrace(m, hook, ctx)
	return m
}

func messageJSON(m map[string]any) *C.char {
	b, _ := json.Marshal(m)
	return cstr(string(b))
}

// Send queues a prompt and returns its message id without waiting for the answer.
func (s *Session) Send(ctx context.Context, options MessageOptions) (string, error) {
	o := messageJSON(s.messageMap(ctx, options))
	defer freeC(o)
	r, err := decode[struct {
		MessageID string `json:"messageId"`
	}](s.c().do(ctx, func(h *C.CopilotSession, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_session_send(h, o, cb, ud, out)
	}))
	return r.MessageID, err
}

// SendAndWait sends a prompt and waits until the session is idle. It returns the turn's last
// assistant.message (nil when the turn produced none); ErrSessionError when the turn failed;
// ErrTimeout after options.Timeout (default: the context's deadline, or 60 s). Cancelling ctx
// stops the wait (the turn goes on; use Abort to stop it). When it returns, the OnEvent, On
// and OnType handlers have run for the turn's events: its result reaches it through the
// session's event goroutine, behind them.
func (s *Session) SendAndWait(ctx context.Context, options MessageOptions) (*SessionEvent, error) {
	m := s.messageMap(ctx, options)
	switch {
	case options.Timeout > 0:
		m["timeout"] = options.Timeout.Seconds()
	case ctx != nil:
		if dl, ok := ctx.Deadline(); ok {
			// The context ends the wait; the core's timeout only backs it up.
			m["timeout"] = (time.Until(dl) + time.Minute).Seconds()
		}
	}
	o := messageJSON(m)
	defer freeC(o)
	c := s.c()
	var q *serialQueue
	if c != nil {
		q = c.disp.q
	}
	raw, err := c.doVia(ctx, q, func(h *C.CopilotSession, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_session_send_and_wait(h, o, cb, ud, out)
	})
	if err != nil {
		return nil, err
	}
	if string(raw) == "null" {
		return nil, nil
	}
	ev, err := decode[SessionEvent](raw, nil)
	if err != nil {
		return nil, err
	}
	return &ev, nil
}

// Abort stops the running turn (fine when idle).
func (s *Session) Abort(ctx context.Context) error {
	_, err := s.c().do(ctx, func(h *C.CopilotSession, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_session_abort(h, cb, ud, out)
	})
	return err
}

// GetMessages returns the session's persisted events.
func (s *Session) GetMessages(ctx context.Context) ([]SessionEvent, error) {
	return decode[[]SessionEvent](s.c().do(ctx, func(h *C.CopilotSession, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_session_get_messages(h, cb, ud, out)
	}))
}

// GetEvents is GetMessages under the official SDKs' name: the session's persisted events.
func (s *Session) GetEvents(ctx context.Context) ([]SessionEvent, error) {
	return s.GetMessages(ctx)
}

// SetModel switches the model; an optional reasoning effort may follow.
func (s *Session) SetModel(ctx context.Context, model string, reasoningEffort ...string) error {
	m := cstr(model)
	defer freeC(m)
	var e *C.char
	if len(reasoningEffort) > 0 && reasoningEffort[0] != "" {
		e = cstr(reasoningEffort[0])
		defer freeC(e)
	}
	_, err := s.c().do(ctx, func(h *C.CopilotSession, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_session_set_model(h, m, e, cb, ud, out)
	})
	return err
}

// Call calls any session-scoped method; params (an object, or nil) gets the sessionId added.
// The client's RequestTimeout bounds it.
func (s *Session) Call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	m := cstr(method)
	defer freeC(m)
	p, err := paramsCstr(params)
	if err != nil {
		return nil, err
	}
	defer freeC(p)
	return s.c().do(ctx, func(h *C.CopilotSession, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_session_rpc(h, m, p, cb, ud, out)
	})
}

// CallWithTimeout is Call with a deadline of its own instead of the client's RequestTimeout
// (ErrTimeout after it): 0 waits as long as the connection lives (and ctx allows); a negative
// timeout is refused.
func (s *Session) CallWithTimeout(ctx context.Context, method string, params any, timeout time.Duration) (json.RawMessage, error) {
	m := cstr(method)
	defer freeC(m)
	p, err := paramsCstr(params)
	if err != nil {
		return nil, err
	}
	defer freeC(p)
	return s.c().do(ctx, func(h *C.CopilotSession, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_session_rpc_with_timeout(h, m, p, C.double(timeout.Seconds()), cb, ud, out)
	})
}

// Disconnect detaches this client from the session (it stays on disk and can be resumed) and
// releases the Session; later calls fail with ErrSessionNotFound. Idempotent.
func (s *Session) Disconnect() error {
	if s == nil {
		return nil
	}
	_, err := s.c().do(context.Background(), func(h *C.CopilotSession, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_session_disconnect(h, cb, ud, out)
	})
	if e, ok := err.(*Error); ok && e.Code == CodeSessionNotFound && s.core.isFreed() {
		err = nil
	}
	s.core.owner.forget(s.core)
	s.core.free()
	return err
}

// LeaseToken is the fencing token of a pooled session's lease (PoolOptions.Lease): it grows
// with every acquisition of the session's lease, by any instance, so a store the application
// writes to can refuse a holder whose lease has passed on. 0 without a lease.
func (s *Session) LeaseToken() uint64 {
	c := s.c()
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.freed {
		return 0
	}
	return uint64(C.copilot_session_lease_token(c.h))
}

// Server is the URL of the pool server a pooled session is on now ("" outside a pool). It
// changes when the session moves (failover, drain, return of its preferred server).
func (s *Session) Server() string {
	c := s.c()
	if c == nil {
		return ""
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.freed {
		return ""
	}
	return takeString(C.copilot_session_server(c.h))
}

// Destroy is Disconnect (the name the guides use).
func (s *Session) Destroy() error { return s.Disconnect() }

func (s *sessionCore) isFreed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.freed
}

// buildSessionConfig turns a SessionConfig into libcopilot's config JSON (empty for a resume
// without config: NULL) and the dispatch that serves its handlers and events.
func buildSessionConfig(c *SessionConfig, resume bool) (string, *sessionDispatch, error) {
	return buildSessionConfigTraced(c, resume, nil, nil)
}

// buildSessionConfigTraced is buildSessionConfig with the trace context of the call (the
// owner's hook's, else the one ctx carries) when the config sets none.
func buildSessionConfigTraced(c *SessionConfig, resume bool, hook TraceContextProvider, ctx context.Context) (string, *sessionDispatch, error) {
	if c == nil {
		c = &SessionConfig{}
	}
	m := map[string]any{}
	for k, v := range c.Extra {
		m[k] = v
	}
	put := func(k string, v any, set bool) {
		if set {
			m[k] = v
		}
	}
	put("sessionId", c.SessionID, c.SessionID != "" && !resume)
	put("model", c.Model, c.Model != "")
	put("reasoningEffort", c.ReasoningEffort, c.ReasoningEffort != "")
	put("provider", c.Provider, c.Provider != nil)
	put("systemMessage", c.SystemMessage, c.SystemMessage != nil)
	put("availableTools", c.AvailableTools, c.AvailableTools != nil)
	put("excludedTools", c.ExcludedTools, c.ExcludedTools != nil)
	put("workingDirectory", c.WorkingDirectory, c.WorkingDirectory != "")
	put("streaming", true, c.Streaming)
	put("mode", c.Mode, c.Mode != "")
	put("githubToken", c.GitHubToken, c.GitHubToken != "")
	put("clientName", c.ClientName, c.ClientName != "")
	put("traceparent", c.TraceParent, c.TraceParent != "")
	put("tracestate", c.TraceState, c.TraceState != "")
	if c.OnAutoModeSwitch != nil && c.OnAutoModeSwitchRequest != nil {
		return "", nil, configError("OnAutoModeSwitch and OnAutoModeSwitchRequest cannot be used together")
	}
	if c.GitHubToken != "" && c.GitHubTokenProvider != nil {
		return "", nil, configError("GitHubToken and GitHubTokenProvider cannot be used together")
	}
	d := &sessionDispatch{tools: map[string]ToolHandler{}, cfg: *c}
	if len(c.Commands) > 0 {
		d.commands = map[string]CommandHandler{}
		cmds := make([]map[string]any, 0, len(c.Commands))
		for _, cmd := range c.Commands {
			if cmd.Name == "" {
				return "", nil, configError("a command needs a Name")
			}
			if _, dup := d.commands[cmd.Name]; dup {
				return "", nil, configError("command %q is defined twice", cmd.Name)
			}
			if cmd.Handler == nil {
				return "", nil, configError("command %q has no Handler", cmd.Name)
			}
			d.commands[cmd.Name] = cmd.Handler
			cm := map[string]any{"name": cmd.Name}
			if cmd.Description != "" {
				cm["description"] = cmd.Description
			}
			cmds = append(cmds, cm)
		}
		m["commands"] = cmds
	}
	if len(c.Tools) > 0 {
		tools := make([]map[string]any, 0, len(c.Tools))
		// The tools this process runs; the others are declared for another connection.
		handled := []string{}
		for _, t := range c.Tools {
			if t.Name == "" {
				return "", nil, configError("a tool needs a Name")
			}
			tm := map[string]any{"name": t.Name}
			if t.Description != "" {
				tm["description"] = t.Description
			}
			if t.Parameters != nil {
				tm["parameters"] = t.Parameters
			}
			if t.SkipPermission {
				tm["skipPermission"] = true
			}
			if t.OverridesBuiltInTool {
				tm["overridesBuiltInTool"] = true
			}
			tools = append(tools, tm)
			if t.Handler != nil {
				d.tools[t.Name] = t.Handler
				handled = append(handled, t.Name)
			}
		}
		m["tools"] = tools
		m["toolHandlers"] = handled
	}
	// The request kinds this process answers ("handlers") and the hook types ("hooks", as the
	// Hooks map spells them: requests come back under these names).
	var handlers []string
	handler := func(kind string, set bool) {
		if set {
			handlers = append(handlers, kind)
		}
	}
	handler("permission", c.OnPermissionRequest != nil)
	handler("userInput", c.OnUserInputRequest != nil)
	handler("hook", c.OnHook != nil) // every hook type
	handler("systemMessageTransform", c.OnSystemMessageTransform != nil)
	handler("exitPlanMode", c.OnExitPlanMode != nil)
	handler("providerToken", c.OnProviderToken != nil)
	handler("autoModeSwitch", c.OnAutoModeSwitch != nil || c.OnAutoModeSwitchRequest != nil)
	handler("elicitation", c.OnElicitationRequest != nil)
	handler("command", len(c.Commands) > 0)
	handler("mcpAuth", c.OnMcpAuthRequest != nil)
	handler("sessionFs", c.CreateSessionFsProvider != nil)
	handler("gitHubToken", c.GitHubTokenProvider != nil)
	if len(handlers) > 0 {
		m["handlers"] = handlers
	}
	if len(c.Hooks) > 0 {
		hooks := make([]string, 0, len(c.Hooks))
		for t, h := range c.Hooks {
			if h != nil {
				hooks = append(hooks, t)
			}
		}
		sort.Strings(hooks)
		m["hooks"] = hooks
	}
	if !resume || len(m) > 0 {
		putTrace(m, hook, ctx)
	}
	text := ""
	if !resume || len(m) > 0 {
		b, err := json.Marshal(m)
		if err != nil {
			return "", nil, configError("session config: %v", err)
		}
		text = string(b)
	}
	d.servesRequests = len(d.tools) > 0 || m["handlers"] != nil || m["hooks"] != nil
	d.q = newSerialQueue()
	if c.OnEvent != nil {
		d.onEvent = newSubscription(d.q, c.OnEvent)
	}
	return text, d, nil
}
