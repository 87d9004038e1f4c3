package copilot

import (
	"encoding/json"
	"fmt"
)

// Error is every error the SDK returns (use errors.As). Code and Status are stable: the same
// names and numbers as libcopilot's error codes (bindings-c/README.md, section 1.7).
type Error struct {
	// Status is the stable number (COPILOT_ERR_*): 1–99 the core's kinds, 100+ the ABI's.
	Status int
	// Code is the stable name: "timeout", "rpc_error", "session_not_found", "cancelled", …
	Code string
	// Message is the human text.
	Message string
	// RPC holds the JSON-RPC error when the server answered with one.
	RPC *RPCError
	// Stderr holds the last lines a spawned CLI wrote to stderr, for transport failures.
	Stderr string
	// TransportFailure tells whether the connection is gone or could not be made (a new
	// client may help).
	TransportFailure bool
	// retriable is the core's verdict (see Retriable).
	retriable bool

	cause error
}

// RPCError is a JSON-RPC error object sent by the server.
type RPCError struct {
	Code    int64           `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("copilot: [%s] %s", e.Code, e.Message)
	if e.Stderr != "" {
		s += "\nCLI stderr (last lines):\n" + e.Stderr
	}
	return s
}

// Retriable tells whether the same call may succeed if made again: the connection was lost
// or could not be made, the client is reconnecting, or the call timed out.
func (e *Error) Retriable() bool {
	return e.retriable
}

// Unwrap returns the context error of a call cancelled through its context.
func (e *Error) Unwrap() error { return e.cause }

// Is matches errors of the same Code, so errors.Is(err, copilot.ErrTimeout) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The stable codes (CodeX), their errors.Is sentinels (ErrX) and the number table are in
// error_codes.go, generated from the core's one error list.

// parseError builds an *Error from libcopilot's error JSON.
func parseError(status int, text string, cause error) *Error {
	var w struct {
		Status           int       `json:"status"`
		Code             string    `json:"code"`
		Message          string    `json:"message"`
		RPC              *RPCError `json:"rpc"`
		Stderr           string    `json:"stderr"`
		TransportFailure bool      `json:"transportFailure"`
		Retriable        bool      `json:"retriable"`
	}
	if err := json.Unmarshal([]byte(text), &w); err != nil || w.Code == "" {
		return &Error{Status: status, Code: StatusName(status), Message: text, cause: cause}
	}
	return &Error{
		Status: status, Code: w.Code, Message: w.Message, RPC: w.RPC, Stderr: w.Stderr,
		TransportFailure: w.TransportFailure, retriable: w.Retriable, cause: cause,
	}
}

func cancelledError(ctxErr error) *Error {
	return &Error{Status: 5, Code: CodeCancelled, Message: "the call was cancelled: " + ctxErr.Error(), cause: ctxErr}
}

func configError(format string, args ...any) *Error {
	return &Error{Status: 16, Code: CodeInvalidConfig, Message: fmt.Sprintf(format, args...)}
}
