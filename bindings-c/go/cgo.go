package copilot

/*
#cgo CFLAGS: -I${SRCDIR}/../include
#include <stdint.h>
#include <stdlib.h>
#include "copilot.h"

// The exported Go functions (callbacks.go). Go exports take no const, hence the casts.
extern void goCompletion(void *user_data, CopilotStatus status, char *json);
extern void goEvent(void *user_data, char *event_json);
extern void goLifecycle(void *user_data, char *event_json);
extern void goRequest(void *user_data, uint64_t request_id, char *kind, char *payload_json);

static CopilotCallback completion_cb(void) { return (CopilotCallback)goCompletion; }
static CopilotEventCallback event_cb(void) { return (CopilotEventCallback)goEvent; }
static CopilotEventCallback lifecycle_cb(void) { return (CopilotEventCallback)goLifecycle; }
static CopilotRequestCallback request_cb(void) { return (CopilotRequestCallback)goRequest; }

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

// starter starts one asynchronous C call with the given callback, user data and call id
// out, returning the immediate status (and the error when it is not COPILOT_OK).
type starter func(cb C.CopilotCallback, ud unsafe.Pointer, callOut *C.uint64_t) (C.CopilotStatus, error)

// call starts an asynchronous C call and waits for its completion or for ctx. When ctx ends
// first the call is cancelled; its completion still arrives (the ABI calls back exactly once)
// and a cancellation is reported as an *Error with Code "cancelled" wrapping ctx.Err().
func call(ctx context.Context, start starter) (json.RawMessage, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, cancelledError(err)
	}
	ch := make(chan completion, 1)
	h := cgo.NewHandle(ch)
	var id C.uint64_t
	st, err := start(C.completion_cb(), handlePtr(h), &id)
	if err != nil || st != C.COPILOT_OK {
		h.Delete()
		if err == nil {
			err = &Error{Status: int(st), Code: StatusName(int(st)), Message: "the call did not start"}
		}
		return nil, err
	}
	var r completion
	select {
	case r = <-ch:
	case <-ctx.Done():
		C.copilot_cancel(id)
		r = <-ch
		if r.status == int(C.COPILOT_ERR_CANCELLED) {
			return nil, cancelledError(ctx.Err())
		}
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

// StatusName is the stable name of a status number ("ok", "timeout", "null_pointer", …).
func StatusName(status int) string { return C.GoString(C.copilot_error_name(C.CopilotStatus(status))) }

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
func eventCallback() C.CopilotEventCallback     { return C.event_cb() }
func lifecycleCallback() C.CopilotEventCallback { return C.lifecycle_cb() }
func requestCallback() C.CopilotRequestCallback { return C.request_cb() }
