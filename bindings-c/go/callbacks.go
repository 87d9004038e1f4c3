package copilot

// The functions libcopilot calls back. They run on libcopilot's one callback thread, copy what
// they receive (the strings are borrowed for the call only) and return at once: the work
// happens on goroutines, so the callback thread is never blocked by Go code.

/*
#include <stdint.h>
#include "copilot.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

//export goCompletion
func goCompletion(userData unsafe.Pointer, status C.CopilotStatus, js *C.char) {
	h := cgo.Handle(uintptr(userData))
	to := h.Value().(completer)
	h.Delete() // the ABI calls a completion exactly once
	to.complete(completion{status: int(status), json: C.GoString(js)})
}

// goEvent is a session's create-time event callback (SessionConfig.OnEvent).
//
//export goEvent
func goEvent(userData unsafe.Pointer, js *C.char) {
	d := cgo.Handle(uintptr(userData)).Value().(*sessionDispatch)
	d.onEvent.push(C.GoString(js))
}

// goSubscriptionEvent is the callback of a copilot_session_subscribe or
// copilot_client_subscribe_lifecycle subscription.
//
//export goSubscriptionEvent
func goSubscriptionEvent(userData unsafe.Pointer, js *C.char) {
	cgo.Handle(uintptr(userData)).Value().(pusher).push(C.GoString(js))
}

// goRequest is a session's request callback. The request's name (tool name or hook type as
// registered) is read while the request is pending. Kind "cancel" (ABI 4) is a request whose
// answer is no longer wanted: its handler's context is cancelled.
//
//export goRequest
func goRequest(userData unsafe.Pointer, requestID C.uint64_t, kind *C.char, payload *C.char) {
	d := cgo.Handle(uintptr(userData)).Value().(*sessionDispatch)
	k, id := C.GoString(kind), uint64(requestID)
	if k == "cancel" {
		d.cancel(id, C.GoString(payload))
		return
	}
	var name *C.char
	C.copilot_request_name(requestID, &name)
	ctx := d.start(id)
	go d.serve(ctx, id, k, takeString(name), C.GoString(payload))
}

// goLog is the log callback (SetLogger): the record is copied and logged on the sink's
// goroutine.
//
//export goLog
func goLog(userData unsafe.Pointer, level C.int32_t, target *C.char, message *C.char) {
	cgo.Handle(uintptr(userData)).Value().(*logSink).record(int(level), C.GoString(target), C.GoString(message))
}
