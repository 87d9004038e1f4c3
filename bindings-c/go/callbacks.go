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
	ch := h.Value().(chan completion)
	h.Delete() // the ABI calls a completion exactly once
	ch <- completion{status: int(status), json: C.GoString(js)}
}

//export goEvent
func goEvent(userData unsafe.Pointer, js *C.char) {
	d := cgo.Handle(uintptr(userData)).Value().(*sessionDispatch)
	d.push(C.GoString(js))
}

//export goLifecycle
func goLifecycle(userData unsafe.Pointer, js *C.char) {
	d := cgo.Handle(uintptr(userData)).Value().(*eventQueue[SessionLifecycleEvent])
	d.push(C.GoString(js))
}

//export goRequest
func goRequest(userData unsafe.Pointer, requestID C.uint64_t, kind *C.char, payload *C.char) {
	d := cgo.Handle(uintptr(userData)).Value().(*sessionDispatch)
	go d.serve(uint64(requestID), C.GoString(kind), C.GoString(payload))
}
