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
	"unsafe"
)

// SessionUI asks the user through the host's elicitation dialogs (Session.UI). The server
// offers them when a session on it was created with SessionConfig.OnElicitationRequest (see
// Session.Capabilities); without that capability every method fails with ErrInvalidConfig.
type SessionUI struct {
	s *Session
}

// UI returns the session's UI helpers.
func (s *Session) UI() *SessionUI { return &SessionUI{s: s} }

// ui runs one session.ui operation of the core (copilot_session_ui).
func (u *SessionUI) ui(ctx context.Context, op string, params map[string]any) (json.RawMessage, error) {
	o := cstr(op)
	defer freeC(o)
	p, err := paramsCstr(params)
	if err != nil {
		return nil, err
	}
	defer freeC(p)
	return u.s.c().do(ctx, func(h *C.CopilotSession, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_session_ui(h, o, p, cb, ud, out)
	})
}

// Elicitation shows a form (message and schema) and returns the user's answer: Action
// accept (Content holds the values), decline or cancel.
func (u *SessionUI) Elicitation(ctx context.Context, message string, schema ElicitationSchema) (ElicitationResult, error) {
	return decode[ElicitationResult](u.ui(ctx, "elicitation", map[string]any{"message": message, "requestedSchema": schema}))
}

// Confirm asks a yes/no question: true when the user accepted and confirmed.
func (u *SessionUI) Confirm(ctx context.Context, message string) (bool, error) {
	return decode[bool](u.ui(ctx, "confirm", map[string]any{"message": message}))
}

// Select offers a choice among options: the chosen option, ok false when the user declined
// or cancelled.
func (u *SessionUI) Select(ctx context.Context, message string, options []string) (string, bool, error) {
	if options == nil {
		options = []string{}
	}
	return optionalString(u.ui(ctx, "select", map[string]any{"message": message, "options": options}))
}

// Input asks for a line of text (options may be nil): the text, ok false when the user
// declined or cancelled.
func (u *SessionUI) Input(ctx context.Context, message string, options *UIInputOptions) (string, bool, error) {
	params := map[string]any{"message": message}
	if options != nil {
		params["options"] = options
	}
	return optionalString(u.ui(ctx, "input", params))
}

func optionalString(raw json.RawMessage, err error) (string, bool, error) {
	v, err := decode[*string](raw, err)
	if err != nil || v == nil {
		return "", false, err
	}
	return *v, true, nil
}
