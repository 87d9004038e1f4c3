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

// sessionDispatch receives one session's events and handler requests from the callback
// thread. Events go through a queue drained by one goroutine, so handlers see them in wire
// order and a slow handler never blocks the callback thread. Handler requests each run on a
// goroutine of their own and are answered with copilot_request_reply / copilot_request_fail.
type sessionDispatch struct {
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []string
	pushed uint64
	done   uint64
	closed bool
	subs   []subscriber
	nextID int

	onEvent         func(SessionEvent)
	tools           map[string]ToolHandler
	onPermission    PermissionHandlerFunc
	onUserInput     UserInputHandler
	onHook          HookHandler
	onTransform     JSONHandler
	onExitPlanMode  JSONHandler
	onProviderToken func(string) (string, error)
}

type subscriber struct {
	id      int
	typ     string
	handler func(SessionEvent)
}

func newSessionDispatch() *sessionDispatch {
	d := &sessionDispatch{tools: map[string]ToolHandler{}}
	d.cond = sync.NewCond(&d.mu)
	go d.run()
	return d
}

func (d *sessionDispatch) pushEvent(js string) {
	d.mu.Lock()
	d.queue = append(d.queue, js)
	d.pushed++
	d.cond.Broadcast()
	d.mu.Unlock()
}

func (d *sessionDispatch) run() {
	for {
		d.mu.Lock()
		for len(d.queue) == 0 && !d.closed {
			d.cond.Wait()
		}
		if len(d.queue) == 0 {
			d.mu.Unlock()
			return
		}
		js := d.queue[0]
		d.queue = d.queue[1:]
		subs := append([]subscriber(nil), d.subs...)
		onEvent := d.onEvent
		d.mu.Unlock()

		var ev SessionEvent
		if err := json.Unmarshal([]byte(js), &ev); err == nil {
			if onEvent != nil {
				safeCall(func() { onEvent(ev) })
			}
			for _, s := range subs {
				if s.typ == "" || s.typ == ev.Type {
					safeCall(func() { s.handler(ev) })
				}
			}
		}
		d.mu.Lock()
		d.done++
		d.cond.Broadcast()
		d.mu.Unlock()
	}
}

// flush waits until the handlers have seen every event received so far.
func (d *sessionDispatch) flush() {
	d.mu.Lock()
	target := d.pushed
	for d.done < target {
		d.cond.Wait()
	}
	d.mu.Unlock()
}

// close ends the goroutine once the queued events are delivered.
func (d *sessionDispatch) close() {
	d.mu.Lock()
	d.closed = true
	d.cond.Broadcast()
	d.mu.Unlock()
}

func (d *sessionDispatch) subscribe(typ string, h func(SessionEvent)) func() {
	d.mu.Lock()
	d.nextID++
	id := d.nextID
	d.subs = append(d.subs, subscriber{id: id, typ: typ, handler: h})
	d.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			for i, s := range d.subs {
				if s.id == id {
					d.subs = append(d.subs[:i:i], d.subs[i+1:]...)
					break
				}
			}
			d.mu.Unlock()
		})
	}
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

// lifecycleDispatch delivers a client's lifecycle notifications, in order, on one goroutine.
type lifecycleDispatch struct {
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []string
	closed bool
	subs   []lifecycleSubscriber
	nextID int
}

type lifecycleSubscriber struct {
	id      int
	typ     string
	handler func(SessionLifecycleEvent)
}

func newLifecycleDispatch() *lifecycleDispatch {
	d := &lifecycleDispatch{}
	d.cond = sync.NewCond(&d.mu)
	go d.run()
	return d
}

func (d *lifecycleDispatch) push(js string) {
	d.mu.Lock()
	d.queue = append(d.queue, js)
	d.cond.Broadcast()
	d.mu.Unlock()
}

func (d *lifecycleDispatch) run() {
	for {
		d.mu.Lock()
		for len(d.queue) == 0 && !d.closed {
			d.cond.Wait()
		}
		if len(d.queue) == 0 {
			d.mu.Unlock()
			return
		}
		js := d.queue[0]
		d.queue = d.queue[1:]
		subs := append([]lifecycleSubscriber(nil), d.subs...)
		d.mu.Unlock()
		var ev SessionLifecycleEvent
		if json.Unmarshal([]byte(js), &ev) == nil {
			for _, s := range subs {
				if s.typ == "" || s.typ == ev.Type {
					safeCall(func() { s.handler(ev) })
				}
			}
		}
	}
}

func (d *lifecycleDispatch) close() {
	d.mu.Lock()
	d.closed = true
	d.cond.Broadcast()
	d.mu.Unlock()
}

func (d *lifecycleDispatch) subscribe(typ string, h func(SessionLifecycleEvent)) func() {
	d.mu.Lock()
	d.nextID++
	id := d.nextID
	d.subs = append(d.subs, lifecycleSubscriber{id: id, typ: typ, handler: h})
	d.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			for i, s := range d.subs {
				if s.id == id {
					d.subs = append(d.subs[:i:i], d.subs[i+1:]...)
					break
				}
			}
			d.mu.Unlock()
		})
	}
}
