package copilot

import (
	"encoding/json"
	"fmt"
	"sync"
)

/*
#include <stdlib.h>
#include "copilot.h"
*/
import "C"

// event is what an eventQueue delivers: a JSON object with a type.
type event interface{ eventType() string }

func (e SessionEvent) eventType() string          { return e.Type }
func (e SessionLifecycleEvent) eventType() string { return e.Type }

// eventQueue receives events from the callback thread. They go through a queue drained by one
// goroutine, so handlers see them in wire order and a slow handler never blocks the callback
// thread.
type eventQueue[E event] struct {
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []string
	pushed uint64
	done   uint64
	closed bool
	subs   []subscriber[E]
	nextID int
}

type subscriber[E event] struct {
	id      int
	typ     string
	handler func(E)
}

func newEventQueue[E event]() *eventQueue[E] {
	q := &eventQueue[E]{}
	q.cond = sync.NewCond(&q.mu)
	go q.run()
	return q
}

func (q *eventQueue[E]) push(js string) {
	q.mu.Lock()
	q.queue = append(q.queue, js)
	q.pushed++
	q.cond.Broadcast()
	q.mu.Unlock()
}

func (q *eventQueue[E]) run() {
	for {
		q.mu.Lock()
		for len(q.queue) == 0 && !q.closed {
			q.cond.Wait()
		}
		if len(q.queue) == 0 {
			q.mu.Unlock()
			return
		}
		js := q.queue[0]
		q.queue = q.queue[1:]
		subs := append([]subscriber[E](nil), q.subs...)
		q.mu.Unlock()

		var ev E
		if err := json.Unmarshal([]byte(js), &ev); err == nil {
			for _, s := range subs {
				if s.typ == "" || s.typ == ev.eventType() {
					safeCall(func() { s.handler(ev) })
				}
			}
		}
		q.mu.Lock()
		q.done++
		q.cond.Broadcast()
		q.mu.Unlock()
	}
}

// flush waits until the handlers have seen every event received so far.
func (q *eventQueue[E]) flush() {
	q.mu.Lock()
	target := q.pushed
	for q.done < target {
		q.cond.Wait()
	}
	q.mu.Unlock()
}

// close ends the goroutine once the queued events are delivered.
func (q *eventQueue[E]) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// subscribe adds a handler for the events of one type ("" for all); handlers run in the order
// they subscribed. The returned function unsubscribes.
func (q *eventQueue[E]) subscribe(typ string, h func(E)) func() {
	q.mu.Lock()
	q.nextID++
	id := q.nextID
	q.subs = append(q.subs, subscriber[E]{id: id, typ: typ, handler: h})
	q.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			q.mu.Lock()
			for i, s := range q.subs {
				if s.id == id {
					q.subs = append(q.subs[:i:i], q.subs[i+1:]...)
					break
				}
			}
			q.mu.Unlock()
		})
	}
}

// sessionDispatch receives one session's events (its eventQueue; SessionConfig.OnEvent is its
// first subscriber) and handler requests from the callback thread. Handler requests each run
// on a goroutine of their own and are answered with copilot_request_reply /
// copilot_request_fail.
type sessionDispatch struct {
	*eventQueue[SessionEvent]

	tools           map[string]ToolHandler
	onPermission    PermissionHandlerFunc
	onUserInput     UserInputHandler
	onHook          HookHandler
	onTransform     JSONHandler
	onExitPlanMode  JSONHandler
	onProviderToken func(string) (string, error)
}

func newSessionDispatch() *sessionDispatch {
	return &sessionDispatch{eventQueue: newEventQueue[SessionEvent](), tools: map[string]ToolHandler{}}
}

// safeCall runs an event handler; a panic in it is reported on stderr and does not end the
// subscription.
func safeCall(f func()) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Printf("copilot: an event handler panicked: %v\n", r)
		}
	}()
	f()
}

// serve runs one handler request and answers it.
func (d *sessionDispatch) serve(id uint64, kind, payload string) {
	result, err := d.handle(kind, json.RawMessage(payload))
	var text string
	if err == nil {
		b, merr := json.Marshal(result)
		if merr != nil {
			err = fmt.Errorf("cannot encode the %s handler's result: %w", kind, merr)
		} else {
			text = string(b)
		}
	}
	if err != nil {
		m := C.CString(err.Error())
		C.copilot_request_fail(C.uint64_t(id), m)
		freeC(m)
		return
	}
	r := C.CString(text)
	C.copilot_request_reply(C.uint64_t(id), r)
	freeC(r)
}

func (d *sessionDispatch) handle(kind string, payload json.RawMessage) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, fmt.Errorf("%s handler panicked: %v", kind, r)
		}
	}()
	switch kind {
	case "tool":
		var inv ToolInvocation
		if err := json.Unmarshal(payload, &inv); err != nil {
			return nil, err
		}
		h := d.tools[inv.ToolName]
		if h == nil {
			return nil, fmt.Errorf("tool %q has no handler in this process", inv.ToolName)
		}
		return h(inv)
	case "permission":
		var req PermissionRequest
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, err
		}
		if d.onPermission == nil {
			return nil, fmt.Errorf("no permission handler")
		}
		dec, err := d.onPermission(req)
		if err != nil {
			return nil, err
		}
		if dec.Kind == "" {
			return nil, fmt.Errorf("the permission handler returned no decision kind")
		}
		return dec, nil
	case "userInput":
		var req UserInputRequest
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, err
		}
		if d.onUserInput == nil {
			return nil, fmt.Errorf("no user input handler")
		}
		return d.onUserInput(req)
	case "hook":
		var h HookInvocation
		if err := json.Unmarshal(payload, &h); err != nil {
			return nil, err
		}
		if d.onHook == nil {
			return nil, nil
		}
		return d.onHook(h)
	case "systemMessageTransform":
		if d.onTransform == nil {
			return nil, fmt.Errorf("no system message transform handler")
		}
		return d.onTransform(payload)
	case "exitPlanMode":
		if d.onExitPlanMode == nil {
			return nil, fmt.Errorf("no exit plan mode handler")
		}
		return d.onExitPlanMode(payload)
	case "providerToken":
		var p struct {
			ProviderName string `json:"providerName"`
		}
		if err := json.Unmarshal(payload, &p); err != nil {
			return nil, err
		}
		if d.onProviderToken == nil {
			return nil, fmt.Errorf("no provider token handler")
		}
		return d.onProviderToken(p.ProviderName)
	}
	return nil, fmt.Errorf("unknown handler request kind %q", kind)
}
