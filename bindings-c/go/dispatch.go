package copilot

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
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
// events: no wait is needed.
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

// subscription is one event handler of a session (SessionConfig.OnEvent, Session.On,
// Session.OnType). active turns false when it unsubscribes: events already queued for it are
// then dropped too.
type subscription struct {
	q       *serialQueue
	handler func(SessionEvent)
	active  atomic.Bool
}

func newSubscription(q *serialQueue, handler func(SessionEvent)) *subscription {
	s := &subscription{q: q, handler: handler}
	s.active.Store(true)
	return s
}

// push queues an event for the handler (on the callback thread).
func (s *subscription) push(js string) {
	s.q.push(func() {
		var ev SessionEvent
		if s.active.Load() && json.Unmarshal([]byte(js), &ev) == nil {
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

// lifecycle delivers a client's lifecycle notifications to its handlers, in order. The C ABI
// has one lifecycle callback per client and no type filter, so OnEventType's type is compared
// here.
type lifecycle struct {
	q      *serialQueue
	mu     sync.Mutex
	subs   []lifecycleSub
	nextID int
}

type lifecycleSub struct {
	id      int
	typ     string
	handler func(SessionLifecycleEvent)
}

// push queues a notification (on the callback thread).
func (l *lifecycle) push(js string) {
	l.q.push(func() {
		var ev SessionLifecycleEvent
		if json.Unmarshal([]byte(js), &ev) != nil {
			return
		}
		l.mu.Lock()
		subs := slices.Clone(l.subs)
		l.mu.Unlock()
		for _, s := range subs {
			if s.typ == "" || s.typ == ev.Type {
				safeCall(s.handler, ev)
			}
		}
	})
}

// subscribe adds a handler for the notifications of one type ("" for all); the returned
// function unsubscribes.
func (l *lifecycle) subscribe(typ string, h func(SessionLifecycleEvent)) func() {
	l.mu.Lock()
	l.nextID++
	id := l.nextID
	l.subs = append(l.subs, lifecycleSub{id: id, typ: typ, handler: h})
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		l.subs = slices.DeleteFunc(l.subs, func(s lifecycleSub) bool { return s.id == id })
		l.mu.Unlock()
	}
}

// sessionDispatch is what a session's create-time callbacks reach: its queue (with the
// SessionConfig.OnEvent subscription) and its handlers. Each handler request runs on a
// goroutine of its own and is answered with copilot_request_reply / copilot_request_fail.
type sessionDispatch struct {
	q       *serialQueue
	onEvent *subscription
	// servesRequests: the session needs the request callback.
	servesRequests bool

	// tools are the tool handlers by tool name; cfg holds the other handlers.
	tools map[string]ToolHandler
	cfg   SessionConfig
}

// serve runs one handler request and answers it.
func (d *sessionDispatch) serve(id uint64, kind, payload string) {
	result, err := d.handle(kind, json.RawMessage(payload))
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

// request is a request type: it keeps its payload in a Raw field.
type request[T any] interface {
	*T
	rawField() *json.RawMessage
}

func (r *ToolInvocation) rawField() *json.RawMessage                { return &r.Raw }
func (r *PermissionRequest) rawField() *json.RawMessage             { return &r.Raw }
func (r *UserInputRequest) rawField() *json.RawMessage              { return &r.Raw }
func (r *HookInvocation) rawField() *json.RawMessage                { return &r.Raw }
func (r *SystemMessageTransformRequest) rawField() *json.RawMessage { return &r.Raw }
func (r *ExitPlanModeRequest) rawField() *json.RawMessage           { return &r.Raw }
func (r *ProviderTokenRequest) rawField() *json.RawMessage          { return &r.Raw }
func (r *AutoModeSwitchRequest) rawField() *json.RawMessage         { return &r.Raw }

// runHandler decodes a request payload into its Go type and runs the handler with it. A field whose
// JSON type differs from the Go field's stays zero (Raw has it): the handler still runs.
func runHandler[T any, P request[T], H ~func(T) (any, error)](payload json.RawMessage, h H) (any, error) {
	var req T
	err := json.Unmarshal(payload, &req)
	var typeErr *json.UnmarshalTypeError
	if err != nil && !errors.As(err, &typeErr) {
		return nil, err
	}
	*P(&req).rawField() = payload
	return h(req)
}

// handle picks the Go function for a request: by kind, then by tool name or hook type.
func (d *sessionDispatch) handle(kind string, payload json.RawMessage) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, fmt.Errorf("%s handler panicked: %v", kind, r)
		}
	}()
	missing := fmt.Errorf("this session has no Go handler for %s requests", kind)
	switch kind {
	case "tool":
		return runHandler(payload, func(inv ToolInvocation) (any, error) {
			if h := d.tools[inv.ToolName]; h != nil {
				return h(inv)
			}
			return nil, fmt.Errorf("tool %q has no handler in this process", inv.ToolName)
		})
	case "hook":
		return runHandler(payload, func(inv HookInvocation) (any, error) {
			if h := d.cfg.Hooks[inv.Type]; h != nil {
				return h(inv)
			}
			if d.cfg.OnHook != nil {
				return d.cfg.OnHook(inv)
			}
			return nil, fmt.Errorf("no Go handler for hook type %q", inv.Type)
		})
	case "permission":
		if d.cfg.OnPermissionRequest != nil {
			return runHandler(payload, d.cfg.OnPermissionRequest)
		}
	case "userInput":
		if d.cfg.OnUserInputRequest != nil {
			return runHandler(payload, d.cfg.OnUserInputRequest)
		}
	case "systemMessageTransform":
		if d.cfg.OnSystemMessageTransform != nil {
			return runHandler(payload, d.cfg.OnSystemMessageTransform)
		}
	case "exitPlanMode":
		if d.cfg.OnExitPlanMode != nil {
			return runHandler(payload, d.cfg.OnExitPlanMode)
		}
	case "providerToken":
		if d.cfg.OnProviderToken != nil {
			return runHandler(payload, func(req ProviderTokenRequest) (any, error) { return d.cfg.OnProviderToken(req) })
		}
	case "autoModeSwitch":
		if d.cfg.OnAutoModeSwitch != nil {
			return runHandler(payload, d.cfg.OnAutoModeSwitch)
		}
	}
	return nil, missing
}
