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
	"sync"
	"time"
	"unsafe"
)

// Session is a conversation with the agent. Safe for concurrent use; concurrent SendAndWait
// calls on one session queue up.
type Session struct {
	// SessionID is the session's id.
	SessionID string

	client        *Client // keeps the client alive while the session is reachable
	core          *sessionCore
	workspacePath string
}

type sessionCore struct {
	mu     sync.RWMutex
	h      *C.CopilotSession
	handle cgo.Handle
	disp   *sessionDispatch
	client *clientCore
	freed  bool
}

func (s *sessionCore) free() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.freed {
		return
	}
	s.freed = true
	if s.h != nil {
		C.copilot_session_free(s.h) // no callback of the session runs after this returns
		s.h = nil
	}
	s.handle.Delete()
	s.disp.close()
}

// do runs one asynchronous session call.
func (s *sessionCore) do(ctx context.Context, f func(h *C.CopilotSession, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus) (json.RawMessage, error) {
	return call(ctx, func(cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) (C.CopilotStatus, error) {
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

// On calls handler for every event of the session, in wire order, on the session's event
// goroutine. The returned function unsubscribes. Do not call SendAndWait from inside a
// handler (it waits for the handlers to see its turn): start a goroutine.
func (s *Session) On(handler func(SessionEvent)) func() { return s.core.disp.subscribe("", handler) }

// OnType calls handler for the events of one type ("assistant.message_delta", …).
func (s *Session) OnType(eventType string, handler func(SessionEvent)) func() {
	return s.core.disp.subscribe(eventType, handler)
}

func messageJSON(m map[string]any) *C.char {
	b, _ := json.Marshal(m)
	return cstr(string(b))
}

// Send queues a prompt and returns its message id without waiting for the answer.
func (s *Session) Send(ctx context.Context, options MessageOptions) (string, error) {
	o := messageJSON(options.toMap())
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
// stops the wait (the turn goes on; use Abort to stop it). When it returns, the On handlers
// have seen the turn's events.
func (s *Session) SendAndWait(ctx context.Context, options MessageOptions) (*SessionEvent, error) {
	m := options.toMap()
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
	raw, err := s.c().do(ctx, func(h *C.CopilotSession, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_session_send_and_wait(h, o, cb, ud, out)
	})
	if c := s.c(); c != nil {
		c.disp.flush()
	}
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

// RPC calls any session-scoped method; params (an object, or nil) gets the sessionId added.
func (s *Session) RPC(ctx context.Context, method string, params any) (json.RawMessage, error) {
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
	s.client.mu.Lock()
	delete(s.client.sessions, s.core)
	s.client.mu.Unlock()
	s.core.free()
	return err
}

// Destroy is Disconnect (the name the guides use).
func (s *Session) Destroy() error { return s.Disconnect() }

func (s *sessionCore) isFreed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.freed
}

// buildSessionConfig turns a SessionConfig into libcopilot's config JSON and the dispatch
// that serves its handlers. For a resume without config the JSON is empty (NULL).
func buildSessionConfig(c *SessionConfig, resume bool) (string, *sessionDispatch, error) {
	d := newSessionDispatch()
	if c == nil {
		if resume {
			return "", d, nil
		}
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
	if len(c.Tools) > 0 {
		tools := make([]map[string]any, 0, len(c.Tools))
		for _, t := range c.Tools {
			if t.Name == "" {
				d.close()
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
			}
		}
		m["tools"] = tools
	}
	d.onPermission, d.onUserInput, d.onHook = c.OnPermissionRequest, c.OnUserInputRequest, c.OnHook
	d.onTransform, d.onExitPlanMode, d.onProviderToken = c.OnSystemMessageTransform, c.OnExitPlanMode, c.OnProviderToken
	var handlers []string // the handler requests this process serves
	handler := func(kind string, set bool) {
		if set {
			handlers = append(handlers, kind)
		}
	}
	handler("permission", c.OnPermissionRequest != nil)
	handler("userInput", c.OnUserInputRequest != nil)
	handler("hook", c.OnHook != nil)
	handler("systemMessageTransform", c.OnSystemMessageTransform != nil)
	handler("exitPlanMode", c.OnExitPlanMode != nil)
	handler("providerToken", c.OnProviderToken != nil)
	if len(handlers) > 0 {
		m["handlers"] = handlers
	}
	if c.OnEvent != nil {
		d.subscribe("", c.OnEvent) // the first subscriber: it sees each event before On's handlers
	}
	b, err := json.Marshal(m)
	if err != nil {
		d.close()
		return "", nil, configError("session config: %v", err)
	}
	return string(b), d, nil
}
