package copilot

/*
#cgo CFLAGS: -I${SRCDIR}/../include
#include <stdint.h>
#include <stdlib.h>
#include "copilot.h"

// The exported Go functions (callbacks.go). Go exports take no const, hence the casts.
extern void goCompletion(void *user_data, CopilotStatus status, char *json);
extern void goEvent(void *user_data, char *event_json);
extern void goSubscriptionEvent(void *user_data, char *event_json);
extern void goRequest(void *user_data, uint64_t request_id, char *kind, char *payload_json);

static CopilotCallback completion_cb(void) { return (CopilotCallback)goCompletion; }
static CopilotEventCallback event_cb(void) { return (CopilotEventCallback)goEvent; }
static CopilotEventCallback subscription_cb(void) { return (CopilotEventCallback)goSubscriptionEvent; }
static CopilotRequestCallback request_cb(void) { return (CopilotRequestCallback)goRequest; }

// A completion the calling thread waits for in C (see callOnThread): the library's callback
// thread copies the result and signals the waiting thread directly.
#include <pthread.h>
#include <string.h>
typedef struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	CopilotStatus status;
	char *json;
} waiter;
static waiter *waiter_new(void) {
	waiter *w = calloc(1, sizeof(waiter));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	return w;
}
static void waiter_complete(void *ud, CopilotStatus status, const char *json) {
	waiter *w = ud;
	char *copy = strdup(json ? json : "null");
	pthread_mutex_lock(&w->mu);
	w->status = status;
	w->json = copy;
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}
static void waiter_wait(waiter *w) {
	pthread_mutex_lock(&w->mu);
	while (!w->done) pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}
static void waiter_free(waiter *w) {
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->json);
	free(w);
}
static CopilotCallback waiter_cb(void) { return waiter_complete; }

// A runtime/cgo.Handle travels as user_data; the integer becomes a pointer here, in C, so
// that Go code never converts an integer into an unsafe.Pointer.
static void *handle_ptr(uintptr_t h) { return (void *)h; }
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime"
	"runtime/cgo"
	"sync/atomic"
	"unsafe"
)

// cstr returns a C copy of s (free it with freeC), or NULL for an absent optional value.
func cstr(s string) *C.char { return C.CString(s) }

func optCstr(s *string) *C.char {
	if s == nil {
		return nil
	}
	return C.CString(*s)
}

func freeC(p *C.char) {
	if p != nil {
		C.free(unsafe.Pointer(p))
	}
}

// paramsCstr encodes an RPC's params as a C JSON string (free it with freeC); nil params are
// NULL.
func paramsCstr(params any) (*C.char, error) {
	if params == nil {
		return nil, nil
	}
	b, err := json.Marshal(params)
	if err != nil {
		return nil, &Error{Status: 102, Code: CodeInvalidArgument, Message: err.Error()}
	}
	return cstr(string(b)), nil
}

func handlePtr(h cgo.Handle) unsafe.Pointer { return C.handle_ptr(C.uintptr_t(h)) }

// takeString copies and frees a string the library returned.
func takeString(p *C.char) string {
	if p == nil {
		return ""
	}
	defer C.copilot_string_free(p)
	return C.GoString(p)
}

// lastError reads the calling thread's last error after a synchronous failure. The goroutine
// is locked to its thread by the caller (see startCall), so the thread-local error is ours.
func lastError(status C.CopilotStatus) error {
	text := takeString(C.copilot_last_error_json())
	if text == "" {
		return &Error{Status: int(status), Code: StatusName(int(status)), Message: "the call failed"}
	}
	return parseError(int(status), text, nil)
}

// completion is what goCompletion delivers.
type completion struct {
	status int
	json   string
}

// completer receives a completion on the callback thread, without blocking it.
type completer interface{ complete(completion) }

// direct hands the completion straight to the waiting goroutine.
type direct chan completion

func (ch direct) complete(c completion) { ch <- c }

// viaQueue hands it over through a session's queue, behind the events queued before it.
type viaQueue struct {
	q  *serialQueue
	ch chan completion
}

func (v viaQueue) complete(c completion) { v.q.push(func() { v.ch <- c }) }

// starter starts one asynchronous C call with the given callback, user data and call id
// out, returning the immediate status (and the error when it is not COPILOT_OK).
type starter func(cb C.CopilotCallback, ud unsafe.Pointer, callOut *C.uint64_t) (C.CopilotStatus, error)

// call starts an asynchronous C call and waits for its completion or for ctx. When ctx ends
// first the call is cancelled; its completion still arrives (the ABI calls back exactly once)
// and a cancellation is reported as an *Error with Code "cancelled" wrapping ctx.Err(). With a
// queue, the completion travels through it (SendAndWait); otherwise the calling thread waits
// for it in C (callOnThread), or, beyond maxThreadWaits calls at once, the completion calls
// into Go and reaches the goroutine through a channel.
func call(ctx context.Context, q *serialQueue, start starter) (json.RawMessage, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, cancelledError(err)
	}
	if q == nil {
		if threadWaits.Add(1) <= maxThreadWaits {
			defer threadWaits.Add(-1)
			return callOnThread(ctx, start)
		}
		threadWaits.Add(-1)
	}
	ch := make(chan completion, 1)
	var to completer = direct(ch)
	if q != nil {
		to = viaQueue{q: q, ch: ch}
	}
	h := cgo.NewHandle(to)
	var id C.uint64_t
	st, err := start(C.completion_cb(), handlePtr(h), &id)
	if err != nil || st != C.COPILOT_OK {
		h.Delete()
		return nil, notStarted(st, err)
	}
	select {
	case r := <-ch:
		return finish(ctx, r)
	case <-ctx.Done():
		C.copilot_cancel(id)
		return finish(ctx, <-ch)
	}
}

// maxThreadWaits bounds the OS threads blocked in callOnThread at once.
var maxThreadWaits int32 = 64

var threadWaits atomic.Int32

// callOnThread runs a call whose caller waits in C: the completion (on the library's callback
// thread) copies the result and wakes this thread with a condition variable. This saves the
// callback's entry into the Go runtime and the goroutine wake-up of the channel path (about
// half of a ping's time over loopback TCP; see benches/go). ctx cancels through
// copilot_cancel, whose completion ends the wait.
func callOnThread(ctx context.Context, start starter) (json.RawMessage, error) {
	w := C.waiter_new()
	defer C.waiter_free(w)
	var id C.uint64_t
	st, err := start(C.waiter_cb(), unsafe.Pointer(w), &id)
	if err != nil || st != C.COPILOT_OK {
		return nil, notStarted(st, err)
	}
	stop := context.AfterFunc(ctx, func() { C.copilot_cancel(id) })
	C.waiter_wait(w)
	stop()
	r := completion{status: int(w.status), json: C.GoString(w.json)}
	return finish(ctx, r)
}

// notStarted is the error of a call whose start failed.
func notStarted(st C.CopilotStatus, err error) error {
	if err != nil {
		return err
	}
	return &Error{Status: int(st), Code: StatusName(int(st)), Message: "the call did not start"}
}

// finish turns a completion into the call's result.
func finish(ctx context.Context, r completion) (json.RawMessage, error) {
	if r.status == int(C.COPILOT_ERR_CANCELLED) && ctx.Err() != nil {
		return nil, cancelledError(ctx.Err())
	}
	if r.status != 0 {
		return nil, parseError(r.status, r.json, nil)
	}
	return json.RawMessage(r.json), nil
}

// startLocked runs a synchronous C function and, when it fails, reads the thread's last
// error before the goroutine can move to another thread.
func startLocked(f func() C.CopilotStatus) (C.CopilotStatus, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	st := f()
	if st != C.COPILOT_OK {
		return st, lastError(st)
	}
	return st, nil
}

// Version is the library version of libcopilot.
func Version() string { return C.GoString(C.copilot_version()) }

// ABIVersion is the C ABI version of libcopilot.
func ABIVersion() int { return int(C.copilot_abi_version()) }

// StatusName is the stable name of a status number ("ok", "timeout", "null_pointer", …;
// "unknown" for a number that has none).
func StatusName(status int) string {
	if status == 0 {
		return "ok"
	}
	if code := codeOfStatus(status); code != "" {
		return code
	}
	return "unknown"
}

// Shutdown ends libcopilot's callback thread once the queued callbacks have run. Programs do
// not need it (the thread ends with the process); hosts that track foreign threads do. A later
// call into the SDK starts a new callback thread.
func Shutdown() error {
	st, err := startLocked(func() C.CopilotStatus { return C.copilot_shutdown() })
	if st != C.COPILOT_OK {
		return err
	}
	return nil
}

// The callbacks, for the other files (a preamble's static functions are visible in its file only).
func eventCallback() C.CopilotEventCallback        { return C.event_cb() }
func subscriptionCallback() C.CopilotEventCallback { return C.subscription_cb() }
func requestCallback() C.CopilotRequestCallback    { return C.request_cb() }
