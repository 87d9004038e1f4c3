// Package copilot drives the GitHub Copilot CLI in server mode (copilot --headless) from Go:
// sessions, prompts, events, tools, permission prompts, user input and hooks. It is a thin
// layer over libcopilot, the C ABI of the SDK's Rust core (bindings-c/).
//
//	client := copilot.NewClient(&copilot.ClientOptions{CLIUrl: "localhost:4321"})
//	client.Start(ctx)
//	defer client.Stop()
//	session, _ := client.CreateSession(ctx, &copilot.SessionConfig{SessionID: "user-1", Model: "gpt-4.1"})
//	response, _ := session.SendAndWait(ctx, copilot.MessageOptions{Prompt: "Hello"})
//	fmt.Println(response.Text())
//
// Every call takes a context: cancelling it cancels the call. Errors are *Error values with a
// stable Code (errors.As, errors.Is against the Err* sentinels). Event handlers (Session.On)
// run on one goroutine per session, in wire order; tool and other handlers run on goroutines
// of their own.
//
// The official SDKs' features are here under their names: SessionConfig.OnElicitationRequest
// and Session.UI (Confirm, Select, Input, Elicitation; Session.Capabilities), Commands,
// OnAutoModeSwitchRequest, OnMcpAuthRequest, ClientOptions.SessionFs with
// SessionConfig.CreateSessionFsProvider, GitHubTokenProvider, ClientOptions.Telemetry and
// ClientOptions.Mode (ModeEmpty).
//
// OpenTelemetry: this module has no dependencies, go.opentelemetry.io/otel included. W3C trace
// context travels as text: ClientOptions.OnGetTraceContext returns the traceparent and
// tracestate of the span in a call's context (inject them there with the OTel propagator), and
// CreateSession, ResumeSession, Send and SendAndWait send them to the CLI; a tool handler's
// context carries the CLI's execute_tool span (TraceContextFromContext, also
// ToolInvocation.TraceParent), to extract as the parent of the handler's spans. Without the
// hook, a context made with ContextWithTraceContext is propagated the same way.
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
	"runtime"
	"runtime/cgo"
	"time"
	"unsafe"
)

// Client is a connection to one Copilot CLI. Safe for concurrent use.
type Client struct {
	*clientCore
	// RPC is the typed server API generated from the CLI's schema (client.RPC.Models.List(ctx),
	// …); Call reaches methods newer than the schema.
	RPC *ServerRPC
}

type clientCore struct {
	// subscriptions holds the lifecycle subscriptions and the lock over h and sessions.
	subscriptions
	h      *C.CopilotClient
	newErr error
	// lifecycle runs the lifecycle handlers, in order.
	lifecycle *serialQueue
	sessions  map[*sessionCore]struct{}
	// trace is ClientOptions.OnGetTraceContext.
	trace TraceContextProvider
}

// NewClient creates a client; nothing starts until Start or the first call (any call starts
// a client that was never started, unless ClientOptions.AutoStart is false). Invalid options
// are reported by Start and every later call.
func NewClient(options *ClientOptions) *Client {
	c := &clientCore{subscriptions: subscriptions{subs: map[uint64]cgo.Handle{}}, sessions: map[*sessionCore]struct{}{}}
	text, err := options.toJSON()
	if err == nil {
		opts := cstr(text)
		defer freeC(opts)
		var h *C.CopilotClient
		_, err = startLocked(func() C.CopilotStatus { return C.copilot_client_new(opts, nil, nil, &h) })
		c.h = h
	}
	if err != nil {
		c.newErr = err
		c.freed = true
	} else {
		c.lifecycle = newSerialQueue()
	}
	if options != nil {
		c.trace = options.OnGetTraceContext
	}
	client := &Client{clientCore: c}
	client.RPC = newServerRPC(client)
	if err == nil && options != nil && options.OnLifecycle != nil {
		client.OnLifecycle(options.OnLifecycle)
	}
	runtime.SetFinalizer(client, func(cl *Client) { cl.clientCore.free() })
	return client
}

// usable is checked under c.mu.
func (c *clientCore) usable() error {
	if c.newErr != nil {
		return c.newErr
	}
	if c.freed {
		return &Error{Status: 18, Code: CodeNotConnected, Message: "the client was closed"}
	}
	return nil
}

// do runs one asynchronous client call.
func (c *clientCore) do(ctx context.Context, f func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus) (json.RawMessage, error) {
	return call(ctx, nil, func(cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) (C.CopilotStatus, error) {
		c.mu.RLock()
		defer c.mu.RUnlock()
		if err := c.usable(); err != nil {
			return -1, err
		}
		return startLocked(func() C.CopilotStatus { return f(c.h, cb, ud, out) })
	})
}

func decode[T any](raw json.RawMessage, err error) (T, error) {
	var v T
	if err != nil {
		return v, err
	}
	if uerr := json.Unmarshal(raw, &v); uerr != nil {
		return v, &Error{Status: 10, Code: CodeProtocol, Message: "unexpected result: " + uerr.Error()}
	}
	return v, nil
}

// Start spawns or connects to the CLI and performs the handshake. Idempotent.
func (c *Client) Start(ctx context.Context) error {
	_, err := c.do(ctx, func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_client_start(h, cb, ud, out)
	})
	return err
}

// Stop stops gracefully: detaches the client's sessions (their Session values stop working)
// and shuts down a CLI the client spawned. The client can be started again.
func (c *Client) Stop() error {
	_, err := c.do(context.Background(), func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_client_stop(h, cb, ud, out)
	})
	c.freeSessions()
	return err
}

// ForceStop drops the connection at once and kills a spawned CLI.
func (c *Client) ForceStop() {
	_, _ = c.do(context.Background(), func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_client_force_stop(h, cb, ud, out)
	})
	c.freeSessions()
}

// Close stops the client gracefully and releases it; it cannot be used afterwards. A client
// that is only dropped is released by the garbage collector (force-stopped).
func (c *Client) Close() error {
	err := c.Stop()
	c.free()
	return err
}

// freeSessions releases the session handles of a stopped client.
func (c *clientCore) freeSessions() {
	c.mu.Lock()
	list := make([]*sessionCore, 0, len(c.sessions))
	for s := range c.sessions {
		list = append(list, s)
	}
	c.sessions = map[*sessionCore]struct{}{}
	c.mu.Unlock()
	for _, s := range list {
		s.free()
	}
}

func (c *clientCore) free() {
	c.freeSessions()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.freed {
		return
	}
	C.copilot_client_free(c.h) // pending calls complete (cancelled) before this returns
	c.h = nil
	c.release()
	c.lifecycle.close()
}

// Ping round-trips to the server.
func (c *Client) Ping(ctx context.Context, message string) (*PingResponse, error) {
	m := optCstr(&message)
	if message == "" {
		freeC(m)
		m = nil
	}
	defer freeC(m)
	r, err := decode[PingResponse](c.do(ctx, func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_client_ping(h, m, cb, ud, out)
	}))
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// GetStatus returns the CLI version and protocol version.
func (c *Client) GetStatus(ctx context.Context) (*GetStatusResponse, error) {
	r, err := decode[GetStatusResponse](c.do(ctx, func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_client_get_status(h, cb, ud, out)
	}))
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// GetAuthStatus returns the CLI's authentication state.
func (c *Client) GetAuthStatus(ctx context.Context) (*GetAuthStatusResponse, error) {
	r, err := decode[GetAuthStatusResponse](c.do(ctx, func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_client_get_auth_status(h, cb, ud, out)
	}))
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// ListModels lists the available models, typed (capabilities, policy, billing: the generated
// Model); it needs GitHub authentication on the CLI.
func (c *Client) ListModels(ctx context.Context) ([]Model, error) {
	raw, err := c.do(ctx, func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_client_list_models(h, cb, ud, out)
	})
	if err != nil {
		return nil, err
	}
	return decodeResult[[]Model]("models.list", raw)
}

// ListSessions lists the sessions stored by the CLI (filter may be nil).
func (c *Client) ListSessions(ctx context.Context, filter *SessionListFilter) ([]SessionMetadata, error) {
	var f *C.char
	if filter != nil {
		b, _ := json.Marshal(filter)
		f = cstr(string(b))
		defer freeC(f)
	}
	return decode[[]SessionMetadata](c.do(ctx, func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_client_list_sessions(h, f, cb, ud, out)
	}))
}

// GetSessionMetadata returns one stored session's metadata (the shape of a ListSessions
// entry, times as time.Time), or nil without an error when there is no such session.
func (c *Client) GetSessionMetadata(ctx context.Context, sessionID string) (*SessionMetadata, error) {
	id := cstr(sessionID)
	defer freeC(id)
	return decode[*SessionMetadata](c.do(ctx, func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_client_get_session_metadata(h, id, cb, ud, out)
	}))
}

// DeleteSession removes a session from disk (ErrSessionNotFound when it does not exist).
func (c *Client) DeleteSession(ctx context.Context, sessionID string) error {
	id := cstr(sessionID)
	defer freeC(id)
	_, err := c.do(ctx, func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_client_delete_session(h, id, cb, ud, out)
	})
	return err
}

// GetLastSessionID returns the most recently modified session (nil when there is none).
func (c *Client) GetLastSessionID(ctx context.Context) (*string, error) {
	return decode[*string](c.do(ctx, func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_client_get_last_session_id(h, cb, ud, out)
	}))
}

// GetForegroundSessionID returns the session shown in the TUI (TUI+server mode; nil otherwise).
func (c *Client) GetForegroundSessionID(ctx context.Context) (*string, error) {
	return decode[*string](c.do(ctx, func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_client_get_foreground_session_id(h, cb, ud, out)
	}))
}

// SetForegroundSessionID asks the TUI to show a session (TUI+server mode; an error otherwise).
func (c *Client) SetForegroundSessionID(ctx context.Context, sessionID string) error {
	id := cstr(sessionID)
	defer freeC(id)
	_, err := c.do(ctx, func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_client_set_foreground_session_id(h, id, cb, ud, out)
	})
	return err
}

// Call calls any server method by name; params is encoded as JSON (nil = {}). The client's
// RequestTimeout bounds it.
func (c *Client) Call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	m := cstr(method)
	defer freeC(m)
	p, err := paramsCstr(params)
	if err != nil {
		return nil, err
	}
	defer freeC(p)
	return c.do(ctx, func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_client_rpc(h, m, p, cb, ud, out)
	})
}

// CallWithTimeout is Call with a deadline of its own instead of the client's RequestTimeout
// (ErrTimeout after it): 0 waits as long as the connection lives (and ctx allows); a negative
// timeout is refused.
func (c *Client) CallWithTimeout(ctx context.Context, method string, params any, timeout time.Duration) (json.RawMessage, error) {
	m := cstr(method)
	defer freeC(m)
	p, err := paramsCstr(params)
	if err != nil {
		return nil, err
	}
	defer freeC(p)
	return c.do(ctx, func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_client_rpc_with_timeout(h, m, p, C.double(timeout.Seconds()), cb, ud, out)
	})
}

// ClientInfo describes a started client.
type ClientInfo struct {
	Running         bool   `json:"running"`
	Port            int    `json:"port"`
	CLIPid          int    `json:"cliPid"`
	ProtocolVersion int    `json:"protocolVersion"`
	ServerVersion   string `json:"serverVersion"`
}

// Info reports the connection: the TCP port (spawned TCP or URL), the spawned CLI's pid, the
// protocol and CLI versions.
func (c *Client) Info() ClientInfo {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var info ClientInfo
	if c.usable() != nil {
		return info
	}
	_ = json.Unmarshal([]byte(takeString(C.copilot_client_info(c.h))), &info)
	return info
}

// On calls handler for every session lifecycle notification and every notification of the
// client's connection (ConnectionLost, …; SessionLifecycleEvent.Connection decodes their
// details) from now on (a client that was never started included), in order, on the client's
// lifecycle goroutine; the returned function unsubscribes: the handler is not called after it
// returns.
func (c *Client) On(handler func(SessionLifecycleEvent)) func() {
	return c.subscribeLifecycle(nil, handler)
}

// OnLifecycle is On under the official SDKs' name (the ClientOptions.OnLifecycle option
// subscribes the same way): every lifecycle and connection notification; the returned function
// unsubscribes.
func (c *Client) OnLifecycle(handler func(SessionLifecycleEvent)) func() {
	return c.On(handler)
}

// OnEventType calls handler for lifecycle notifications of one type (e.g. "session.deleted",
// ConnectionRestored); the library filters them.
func (c *Client) OnEventType(eventType string, handler func(SessionLifecycleEvent)) func() {
	return c.subscribeLifecycle([]string{eventType}, handler)
}

// subscribeLifecycle makes a copilot_client_subscribe_lifecycle subscription (types nil: every
// type) whose notifications run handler on the client's lifecycle queue.
func (c *Client) subscribeLifecycle(types []string, handler func(SessionLifecycleEvent)) func() {
	return subscribe(&c.subscriptions, c.lifecycle, types, handler,
		func(filter *C.char, cb C.CopilotEventCallback, ud unsafe.Pointer, id *C.uint64_t) C.CopilotStatus {
			return C.copilot_client_subscribe_lifecycle(c.h, filter, cb, ud, id)
		},
		func(id C.uint64_t) { C.copilot_client_unsubscribe_lifecycle(c.h, id) })
}

// CreateSession creates a session. Handlers and OnEvent are bound before the request goes out.
func (c *Client) CreateSession(ctx context.Context, config *SessionConfig) (*Session, error) {
	return c.openSession(ctx, nil, config)
}

// ResumeSession opens an existing session by id; config may be nil (nothing re-sent). To talk
// to the model after a cold load (the session is not live on the server), pass the provider
// again.
func (c *Client) ResumeSession(ctx context.Context, sessionID string, config *SessionConfig) (*Session, error) {
	return c.openSession(ctx, &sessionID, config)
}

func (c *Client) openSession(ctx context.Context, resumeID *string, config *SessionConfig) (*Session, error) {
	return openSession(ctx, c.clientCore, c, resumeID, config)
}

// open starts copilot_client_create_session (rid NULL) or copilot_client_resume_session.
func (c *clientCore) open(ctx context.Context, rid, cfg *C.char, onEvent C.CopilotEventCallback, onRequest C.CopilotRequestCallback, sud unsafe.Pointer, sh **C.CopilotSession) (json.RawMessage, error) {
	return c.do(ctx, func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		if rid != nil {
			return C.copilot_client_resume_session(h, rid, cfg, onEvent, onRequest, sud, cb, ud, sh, out)
		}
		return C.copilot_client_create_session(h, cfg, onEvent, onRequest, sud, cb, ud, sh, out)
	})
}

// adopt keeps an opened session (freed with the client); an error when the client was closed.
func (c *clientCore) adopt(sc *sessionCore) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.freed {
		return &Error{Status: 18, Code: CodeNotConnected, Message: "the client was closed"}
	}
	c.sessions[sc] = struct{}{}
	return nil
}

func (c *clientCore) traceHook() TraceContextProvider { return c.trace }

// forget drops a session that was released.
func (c *clientCore) forget(sc *sessionCore) {
	c.mu.Lock()
	delete(c.sessions, sc)
	c.mu.Unlock()
}

// Metrics returns the client's counters: calls, errors by code, reconnects, open sessions, a
// histogram of answered turns.
func (c *Client) Metrics() ClientMetrics {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var m ClientMetrics
	if c.usable() == nil {
		_ = json.Unmarshal([]byte(takeString(C.copilot_client_metrics(c.h))), &m)
	}
	return m
}

// MetricsPrometheus returns the client's counters in the Prometheus text format, labelled
// with the server URL (server="local" for a spawned CLI).
func (c *Client) MetricsPrometheus() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.usable() != nil {
		return ""
	}
	return takeString(C.copilot_client_metrics_prometheus(c.h))
}

// CleanupSessions deletes the stored sessions older than options.MaxAge (since their start)
// or idle longer than options.MaxIdle (since their last change). A session open on this
// client is kept unless options.IncludeOpen (it is disconnected first). It returns what it
// deleted.
func (c *Client) CleanupSessions(ctx context.Context, options CleanupOptions) ([]SessionMetadata, error) {
	o := cstr(options.toJSON())
	defer freeC(o)
	return decode[[]SessionMetadata](c.do(ctx, func(h *C.CopilotClient, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_client_cleanup_sessions(h, o, cb, ud, out)
	}))
}

// StartReaper runs CleanupSessions every interval (the first sweep at once) until the
// reaper is stopped or the client closed. Each sweep that deleted something, or failed, is
// announced to the client's lifecycle handlers as a "reaper.swept" event (Metadata
// {"deleted": [ids]} or {"error", "code"}).
func (c *Client) StartReaper(interval time.Duration, options CleanupOptions) (*Reaper, error) {
	o := cstr(options.toJSON())
	defer freeC(o)
	c.mu.RLock()
	defer c.mu.RUnlock()
	if err := c.usable(); err != nil {
		return nil, err
	}
	var rh *C.CopilotReaper
	if _, err := startLocked(func() C.CopilotStatus {
		return C.copilot_client_start_reaper(c.h, C.double(interval.Seconds()), o, &rh)
	}); err != nil {
		return nil, err
	}
	return newReaper(rh, nil), nil
}
