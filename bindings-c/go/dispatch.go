package copilot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"unsafe"
)

/*
#include <stdlib.h>
#include "copilot.h"
*/
import "C"

// serialQueue runs functions one at a time, in the order they were pushed, on a goroutine of
// its own. The callback thread pushes (it never waits for Go code).
//
// Each session has one: the callback thread pushes, in the order it delivers them, the
// session's events (one entry per subscription it calls) and the completions of the
// session's SendAndWait calls. The library runs a SendAndWait completion after every event
// callback of its turn, so when SendAndWait returns, the handlers have run for the turn's
// events: no wait is needed. A client has one for its lifecycle handlers.
type serialQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	fns    []func()
	closed bool
}

func newSerialQueue() *serialQueue {
	q := &serialQueue{}
	q.cond = sync.NewCond(&q.mu)
	go q.run()
	return q
}

func (q *serialQueue) push(f func()) {
	q.mu.Lock()
	q.fns = append(q.fns, f)
	q.mu.Unlock()
	q.cond.Signal()
}

func (q *serialQueue) run() {
	var batch []func()
	for {
		q.mu.Lock()
		for len(q.fns) == 0 && !q.closed {
			q.cond.Wait()
		}
		if len(q.fns) == 0 {
			q.mu.Unlock()
			return
		}
		batch, q.fns = q.fns, batch[:0]
		q.mu.Unlock()
		for i, f := range batch {
			f()
			batch[i] = nil
		}
	}
}

// close ends the goroutine once the queued functions have run.
func (q *serialQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Signal()
}

// subscription is one event handler: of a session (SessionConfig.OnEvent, Session.On,
// Session.OnType; E is SessionEvent) or of a client's lifecycle notifications (Client.On,
// Client.OnEventType; E is SessionLifecycleEvent). active turns false when it unsubscribes:
// events already queued for it are then dropped too.
type subscription[E any] struct {
	q       *serialQueue
	handler func(E)
	active  atomic.Bool
}

func newSubscription[E any](q *serialQueue, handler func(E)) *subscription[E] {
	s := &subscription[E]{q: q, handler: handler}
	s.active.Store(true)
	return s
}

// pusher is what a library event callback reaches through its user data.
type pusher interface{ push(js string) }

// push queues an event for the handler (on the callback thread).
func (s *subscription[E]) push(js string) {
	s.q.push(func() {
		var ev E
		if s.active.Load() && json.Unmarshal([]byte(js), &ev) == nil {
			if strict.on {
				if se, ok := any(&ev).(*SessionEvent); ok {
					strict.event("", se)
				}
			}
			safeCall(s.handler, ev)
		}
	})
}

// safeCall runs an event handler; a panic in it is reported on stderr and does not end the
// subscription.
func safeCall[E any](handler func(E), ev E) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "copilot: an event handler panicked: %v\n", r)
		}
	}()
	handler(ev)
}

// subscriptions is what a client or a session keeps of its library subscriptions, with the
// lock that guards its library handle and its release.
type subscriptions struct {
	mu    sync.RWMutex
	freed bool
	// subs holds the cgo handles of the active subscriptions' Go ends, by subscription id.
	subs map[uint64]cgo.Handle
}

// subscribeFunc calls copilot_session_subscribe or copilot_client_subscribe_lifecycle with
// the owner's handle.
type subscribeFunc func(filter *C.char, cb C.CopilotEventCallback, ud unsafe.Pointer, id *C.uint64_t) C.CopilotStatus

// subscribe makes one library subscription (types nil: every type; the library filters)
// whose events run handler on q. start and stop call the library under the lock, with the
// owner's handle. The returned function ends the subscription: the handler is not called
// after it returns. On a released owner it does nothing.
func subscribe[E any](o *subscriptions, q *serialQueue, types []string, handler func(E), start subscribeFunc, stop func(id C.uint64_t)) func() {
	var filter *C.char
	if types != nil {
		b, _ := json.Marshal(types)
		filter = C.CString(string(b))
		defer freeC(filter)
	}
	sub := newSubscription(q, handler)
	h := cgo.NewHandle(pusher(sub))
	var id C.uint64_t
	o.mu.Lock()
	if o.freed || start(filter, subscriptionCallback(), handlePtr(h), &id) != C.COPILOT_OK {
		o.mu.Unlock()
		h.Delete()
		return func() {}
	}
	o.subs[uint64(id)] = h
	o.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			sub.active.Store(false) // drops its events already queued
			o.mu.Lock()
			defer o.mu.Unlock()
			if h, ok := o.subs[uint64(id)]; ok {
				// After this returns the library starts no callback of the subscription.
				stop(id)
				delete(o.subs, uint64(id))
				h.Delete()
			}
		})
	}
}

// release marks the owner released (under o.mu, after its library handle was freed) and
// deletes the handles of its subscriptions.
func (o *subscriptions) release() {
	o.freed = true
	for _, h := range o.subs {
		h.Delete()
	}
	o.subs = nil
}

// sessionDispatch is what a session's create-time callbacks reach: its queue (with the
// SessionConfig.OnEvent subscription) and its handlers. Each handler request runs on a
// goroutine of its own, with a context the request's "cancel" call cancels, and is answered
// with copilot_request_reply / copilot_request_fail.
type sessionDispatch struct {
	q       *serialQueue
	onEvent *subscription[SessionEvent]
	// servesRequests: the session needs the request callback.
	servesRequests bool

	// tools are the tool handlers by tool name; cfg holds the other handlers.
	tools map[string]ToolHandler
	cfg   SessionConfig
	// commands are the slash-command handlers by name; fs is the session's filesystem.
	commands map[string]CommandHandler
	fs       SessionFsProvider

	mu sync.Mutex
	// running holds the cancel functions of the handlers' contexts, by request id.
	running map[uint64]context.CancelCauseFunc
	// released: the session was released; new requests start cancelled.
	released bool
}

// start registers a request (on the callback thread, so its "cancel" call, which comes later
// on the same thread, finds it) and returns its handler's context.
func (d *sessionDispatch) start(id uint64) context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.released {
		cancel(cancelCause("the session was released"))
		return ctx
	}
	if d.running == nil {
		d.running = map[uint64]context.CancelCauseFunc{}
	}
	d.running[id] = cancel
	return ctx
}

// finish forgets a request; cause (nil once answered) cancels its context.
func (d *sessionDispatch) finish(id uint64, cause error) {
	d.mu.Lock()
	cancel := d.running[id]
	delete(d.running, id)
	d.mu.Unlock()
	if cancel != nil {
		cancel(cause)
	}
}

// cancel is the "cancel" call of a request: its handler's context is cancelled with the
// reason (the library no longer takes an answer to it).
func (d *sessionDispatch) cancel(id uint64, payload string) {
	var p struct {
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal([]byte(payload), &p)
	d.finish(id, cancelCause(p.Reason))
}

// release cancels every running handler: the session is gone.
func (d *sessionDispatch) release() {
	d.mu.Lock()
	running := d.running
	d.running, d.released = nil, true
	d.mu.Unlock()
	for _, cancel := range running {
		cancel(cancelCause("the session was released"))
	}
}

func cancelCause(reason string) error {
	if reason == "" {
		reason = "the answer is no longer wanted"
	}
	return &Error{Status: 5, Code: CodeCancelled, Message: reason}
}

// serve runs one handler request and answers it.
func (d *sessionDispatch) serve(ctx context.Context, id uint64, kind, name, payload string) {
	result, err := d.handle(ctx, kind, name, json.RawMessage(payload))
	// Answered (or failed): the context ends; after a "cancel" call the answer is refused
	// (unknown id), harmlessly.
	defer d.finish(id, nil)
	var text []byte
	if err == nil {
		var merr error
		if text, merr = json.Marshal(result); merr != nil {
			err = fmt.Errorf("cannot encode the %s handler's result: %w", kind, merr)
		}
	}
	if err != nil {
		m := C.CString(err.Error())
		C.copilot_request_fail(C.uint64_t(id), m)
		freeC(m)
		return
	}
	r := C.CString(string(text))
	C.copilot_request_reply(C.uint64_t(id), r)
	freeC(r)
}

// request is a request type: it keeps its payload in a Raw field and its handler's context.
type request[T any] interface {
	*T
	rawField() *json.RawMessage
	setContext(ctx context.Context)
}

func (r *ToolInvocation) rawField() *json.RawMessage                { return &r.Raw }
func (r *PermissionRequest) rawField() *json.RawMessage             { return &r.Raw }
func (r *UserInputRequest) rawField() *json.RawMessage              { return &r.Raw }
func (r *HookInvocation) rawField() *json.RawMessage                { return &r.Raw }
func (r *SystemMessageTransformRequest) rawField() *json.RawMessage { return &r.Raw }
func (r *ExitPlanModeRequest) rawField() *json.RawMessage           { return &r.Raw }
func (r *ProviderTokenRequest) rawField() *json.RawMessage          { return &r.Raw }
func (r *AutoModeSwitchRequest) rawField() *json.RawMessage         { return &r.Raw }
func (r *ElicitationContext) rawField() *json.RawMessage            { return &r.Raw }
func (r *CommandContext) rawField() *json.RawMessage                { return &r.Raw }
func (r *McpAuthRequest) rawField() *json.RawMessage                { return &r.Raw }

func (h *handlerContext) setContext(ctx context.Context) { h.ctx = ctx }

// runHandler decodes a request payload into its Go type and runs the handler with it. A field whose
// JSON type differs from the Go field's stays zero (Raw has it): the handler still runs.
func runHandler[T any, P request[T], H ~func(T) (any, error)](ctx context.Context, payload json.RawMessage, h H) (any, error) {
	var req T
	err := json.Unmarshal(payload, &req)
	var typeErr *json.UnmarshalTypeError
	if err != nil && !errors.As(err, &typeErr) {
		return nil, err
	}
	*P(&req).rawField() = payload
	P(&req).setContext(ctx)
	return h(req)
}

// handle picks the Go function for a request: by kind, then, for tools and hooks, by the
// request's name (the tool name, or the hook type as the Hooks map spells it) as is.
func (d *sessionDispatch) handle(ctx context.Context, kind, name string, payload json.RawMessage) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, fmt.Errorf("%s handler panicked: %v", kind, r)
		}
	}()
	missing := fmt.Errorf("this session has no Go handler for %s requests", kind)
	switch kind {
	case "tool":
		if h := d.tools[name]; h != nil {
			var tc struct {
				TraceParent string `json:"traceparent"`
				TraceState  string `json:"tracestate"`
			}
			if json.Unmarshal(payload, &tc) == nil && tc.TraceParent != "" {
				ctx = ContextWithTraceContext(ctx, tc.TraceParent, tc.TraceState)
			}
			return runHandler(ctx, payload, h)
		}
		return nil, fmt.Errorf("tool %q has no handler in this process", name)
	case "hook":
		if h := d.cfg.Hooks[name]; h != nil {
			return runHandler(ctx, payload, h)
		}
		if d.cfg.OnHook != nil {
			return runHandler(ctx, payload, d.cfg.OnHook)
		}
		return nil, fmt.Errorf("no Go handler for hook %q", name)
	case "permission":
		if d.cfg.OnPermissionRequest != nil {
			return runHandler(ctx, payload, d.cfg.OnPermissionRequest)
		}
	case "userInput":
		if d.cfg.OnUserInputRequest != nil {
			return runHandler(ctx, payload, d.cfg.OnUserInputRequest)
		}
	case "systemMessageTransform":
		if d.cfg.OnSystemMessageTransform != nil {
			return runHandler(ctx, payload, d.cfg.OnSystemMessageTransform)
		}
	case "exitPlanMode":
		if d.cfg.OnExitPlanMode != nil {
			return runHandler(ctx, payload, d.cfg.OnExitPlanMode)
		}
	case "providerToken":
		if d.cfg.OnProviderToken != nil {
			return runHandler(ctx, payload, func(req ProviderTokenRequest) (any, error) { return d.cfg.OnProviderToken(req) })
		}
	case "autoModeSwitch":
		if d.cfg.OnAutoModeSwitch != nil {
			return runHandler(ctx, payload, d.cfg.OnAutoModeSwitch)
		}
		if h := d.cfg.OnAutoModeSwitchRequest; h != nil {
			return runHandler(ctx, payload, func(req AutoModeSwitchRequest) (any, error) {
				r, err := h(req, AutoModeSwitchInvocation{SessionID: req.SessionID})
				if err != nil {
					return nil, err
				}
				return r, nil
			})
		}
	case "elicitation":
		if h := d.cfg.OnElicitationRequest; h != nil {
			return runHandler(ctx, payload, func(req ElicitationContext) (any, error) {
				r, err := h(req)
				if err != nil {
					return nil, err
				}
				return r.wire(), nil
			})
		}
	case "command":
		if h := d.commands[name]; h != nil {
			return runHandler(ctx, payload, func(req CommandContext) (any, error) { return nil, h(req) })
		}
		return nil, fmt.Errorf("Unknown command: %s", name)
	case "mcpAuth":
		if h := d.cfg.OnMcpAuthRequest; h != nil {
			return runHandler(ctx, payload, func(req McpAuthRequest) (any, error) {
				r, err := h(req, McpAuthInvocation{SessionID: req.SessionID})
				if err != nil {
					return nil, err
				}
				if r == nil {
					r = McpAuthCancelled()
				}
				return r, nil
			})
		}
	case "sessionFs":
		return serveSessionFs(d.fs, name, payload)
	case "gitHubToken":
		if h := d.cfg.GitHubTokenProvider; h != nil {
			var p struct {
				SessionID *string `json:"sessionId"`
				Host      string  `json:"host"`
				Reason    string  `json:"reason"`
			}
			if err := json.Unmarshal(payload, &p); err != nil {
				return nil, err
			}
			r, err := h(GitHubTokenProviderArgs{Host: p.Host, SessionID: p.SessionID,
				Reason: GitHubTokenRequestReason(p.Reason), Raw: payload, ctx: ctx})
			if err != nil {
				return nil, err
			}
			if r == nil {
				r = GitHubTokenCancelled()
			}
			return r, nil
		}
	}
	return nil, missing
}
