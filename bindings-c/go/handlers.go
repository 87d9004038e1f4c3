package copilot

// The requests a session sends to its handlers and the values they may answer with. The
// requests are decoded from the core's payload (one shape per kind, the same in every
// language; Raw keeps it as received). The answers are encoded as given: the core reads
// them, bare forms included, and fills in its defaults for what is left out. The meaning of
// each form is defined once, in the core (bindings-c/README.md, section 1.8).

import (
	"context"
	"encoding/json"
	"reflect"
)

// handlerContext is what every request carries: the context of its handler, cancelled when
// the answer is no longer wanted (the turn was aborted or timed out with AbortOnTimeout, the
// session disconnected or was released, the client stopped, the connection was lost).
// context.Cause then is an *Error with Code "cancelled" whose Message is the reason.
type handlerContext struct{ ctx context.Context }

// Context is the handler's context (see handlerContext); never nil.
func (h handlerContext) Context() context.Context {
	if h.ctx == nil {
		return context.Background()
	}
	return h.ctx
}

// Tool is a client-side tool.
type Tool struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments object.
	Parameters map[string]any
	// SkipPermission runs the tool without a permission prompt.
	SkipPermission bool
	// OverridesBuiltInTool is required to replace a built-in tool of the same name.
	OverridesBuiltInTool bool
	// Handler runs the tool. A tool without Handler is only declared: this process leaves its
	// calls alone (the CLI sends them to this connection only, as external_tool.requested
	// events; answer them with the session.tools.handlePendingToolCall RPC).
	Handler ToolHandler
}

// ToolHandler runs a tool call. Its result may be a string (the text the model sees), a
// ToolResult, or any other value (the model sees its JSON text). An error becomes a failure
// result whose message the model sees.
type ToolHandler func(inv ToolInvocation) (any, error)

// ToolInvocation is one call of a tool by the model.
type ToolInvocation struct {
	SessionID        string          `json:"sessionId"`
	RequestID        string          `json:"requestId"`
	ToolCallID       string          `json:"toolCallId"`
	ToolName         string          `json:"toolName"`
	Arguments        json.RawMessage `json:"arguments"`
	WorkingDirectory string          `json:"workingDirectory"`
	// TraceParent and TraceState are the W3C trace context of the CLI's execute_tool span (""
	// when the CLI sent none); Context() carries them too (TraceContextFromContext).
	TraceParent string `json:"traceparent"`
	TraceState  string `json:"tracestate"`
	// Raw is the request payload as received.
	Raw json.RawMessage `json:"-"`
	// Context() is the handler's context: cancelled when the answer is no longer wanted.
	handlerContext
}

// Args decodes the arguments into v.
func (i ToolInvocation) Args(v any) error { return json.Unmarshal(i.Arguments, v) }

// ToolResult is a full tool result; ResultType is success, failure, rejected, denied or timeout.
type ToolResult struct {
	TextResultForLLM string `json:"textResultForLlm,omitempty"`
	ResultType       string `json:"resultType,omitempty"`
	Error            string `json:"error,omitempty"`
	SessionLog       string `json:"sessionLog,omitempty"`
}

// PermissionRequest is a permission prompt of the agent.
type PermissionRequest struct {
	SessionID string `json:"sessionId"`
	RequestID string `json:"requestId"`
	// Kind: shell, write, read, custom-tool, mcp, url, …
	Kind string `json:"kind"`
	// ToolCallID is empty when the prompt belongs to no tool call.
	ToolCallID string `json:"toolCallId"`
	// Request is the CLI's permission request object.
	Request json.RawMessage `json:"request"`
	// Raw is the request payload as received.
	Raw json.RawMessage `json:"-"`
	// Context() is the handler's context: cancelled when the answer is no longer wanted.
	handlerContext
}

// Permission decision kinds.
const (
	PermissionApproveOnce       = "approve-once"
	PermissionApproveForSession = "approve-for-session"
	PermissionReject            = "reject"
	PermissionUserNotAvailable  = "user-not-available"
	// PermissionNoResult sends nothing: another client answers.
	PermissionNoResult = "no-result"
)

// PermissionDecision answers a permission prompt.
type PermissionDecision struct {
	Kind     string `json:"kind,omitempty"`
	Feedback string `json:"feedback,omitempty"`
}

// PermissionHandlerFunc decides a permission prompt. It returns a PermissionDecision, a
// decision kind string (PermissionApproveOnce, …) or a bool (true approves once, false
// rejects). An error denies the tool (user-not-available).
type PermissionHandlerFunc func(req PermissionRequest) (any, error)

// ApproveAll approves every permission prompt once.
func ApproveAll(PermissionRequest) (any, error) {
	return PermissionDecision{Kind: PermissionApproveOnce}, nil
}

// PermissionHandler groups the ready-made permission handlers (PermissionHandler.ApproveAll).
var PermissionHandler = struct {
	ApproveAll PermissionHandlerFunc
}{ApproveAll: ApproveAll}

// UserInputRequest is a question of the agent for the user.
type UserInputRequest struct {
	SessionID     string   `json:"sessionId"`
	Question      string   `json:"question"`
	Choices       []string `json:"choices"`
	AllowFreeform bool     `json:"allowFreeform"`
	// Raw is the request payload as received.
	Raw json.RawMessage `json:"-"`
	// Context() is the handler's context: cancelled when the answer is no longer wanted.
	handlerContext
}

// UserInputResponse is the user's answer. Without WasFreeform the answer counts as freeform
// unless it is one of the offered choices.
type UserInputResponse struct {
	Answer      string `json:"answer"`
	WasFreeform *bool  `json:"wasFreeform,omitempty"`
}

// UserInputHandler answers a question with a UserInputResponse or a string (the answer). An
// error makes the question fail.
type UserInputHandler func(req UserInputRequest) (any, error)

// PermissionInvocation is the context the official SDKs pass beside a permission request:
// the id of the session that asks.
type PermissionInvocation struct {
	SessionID string
}

// PermissionHandlerWithInvocation adapts a handler in the official two-argument form
// (request, invocation) to a PermissionHandlerFunc, for SessionConfig.OnPermissionRequest:
//
//	cfg.OnPermissionRequest = copilot.PermissionHandlerWithInvocation(
//		func(req copilot.PermissionRequest, inv copilot.PermissionInvocation) (copilot.PermissionDecision, error) {
//			return copilot.PermissionDecision{Kind: copilot.PermissionApproveOnce}, nil
//		})
//
// Its result is answered as a PermissionHandlerFunc's is (a PermissionDecision, a kind
// string, a bool, or any value that encodes as {kind, feedback?}); an error denies the tool.
func PermissionHandlerWithInvocation[R any](h func(req PermissionRequest, inv PermissionInvocation) (R, error)) PermissionHandlerFunc {
	if h == nil {
		return nil
	}
	return func(req PermissionRequest) (any, error) {
		r, err := h(req, PermissionInvocation{SessionID: req.SessionID})
		if err != nil {
			return nil, err
		}
		// A generated decision variant (&PermissionDecisionApproveOnce{}, …) is sent with its
		// "kind" filled in, as the official SDKs' rpc.PermissionDecision values are.
		if v, ok := any(r).(WirePermissionDecisionVariant); ok {
			if reflect.ValueOf(v).IsNil() {
				return nil, nil
			}
			return WirePermissionDecision{Value: v}, nil
		}
		return r, nil
	}
}

// UserInputInvocation is the context the official SDKs pass beside a user-input request: the
// id of the session that asks.
type UserInputInvocation struct {
	SessionID string
}

// UserInputHandlerWithInvocation adapts a handler in the official two-argument form
// (request, invocation) to a UserInputHandler, for SessionConfig.OnUserInputRequest. Its
// result is answered as a UserInputHandler's is (a UserInputResponse or a string); an error
// makes the question fail.
func UserInputHandlerWithInvocation[R any](h func(req UserInputRequest, inv UserInputInvocation) (R, error)) UserInputHandler {
	if h == nil {
		return nil
	}
	return func(req UserInputRequest) (any, error) {
		r, err := h(req, UserInputInvocation{SessionID: req.SessionID})
		if err != nil {
			return nil, err
		}
		return r, nil
	}
}

// HookInvocation is one hook call: Type is sessionStart, userPromptSubmitted, preToolUse,
// postToolUse, agentStop, …; Input is the hook's input object.
type HookInvocation struct {
	SessionID string          `json:"sessionId"`
	Type      string          `json:"hookType"`
	Input     json.RawMessage `json:"input"`
	// Raw is the request payload as received.
	Raw json.RawMessage `json:"-"`
	// Context() is the handler's context: cancelled when the answer is no longer wanted.
	handlerContext
}

// HookHandler serves a hook: it returns the hook output (for example
// {"permissionDecision":"deny","permissionDecisionReason":"…"} for preToolUse) or nil (no
// change). An error is answered with an empty output.
type HookHandler func(h HookInvocation) (any, error)

// SystemMessageSection is one section of the system message.
type SystemMessageSection struct {
	Content string `json:"content"`
}

// SystemMessageTransformRequest carries the sections configured with the "transform" action.
type SystemMessageTransformRequest struct {
	SessionID string                          `json:"sessionId"`
	Sections  map[string]SystemMessageSection `json:"sections"`
	// Raw is the request payload as received.
	Raw json.RawMessage `json:"-"`
	// Context() is the handler's context: cancelled when the answer is no longer wanted.
	handlerContext
}

// SystemMessageTransformHandler returns the new content of the sections it changes: a
// map[string]string (section id to content), a map of SystemMessageSection, or nil. Sections
// it leaves out keep their content; so does every section when it fails.
type SystemMessageTransformHandler func(req SystemMessageTransformRequest) (any, error)

// ExitPlanModeRequest asks to leave plan mode (fields as the CLI sent them).
type ExitPlanModeRequest struct {
	SessionID         string   `json:"sessionId"`
	Summary           string   `json:"summary"`
	PlanContent       string   `json:"planContent"`
	Actions           []string `json:"actions"`
	RecommendedAction string   `json:"recommendedAction"`
	// Raw is the request payload as received.
	Raw json.RawMessage `json:"-"`
	// Context() is the handler's context: cancelled when the answer is no longer wanted.
	handlerContext
}

// ExitPlanModeResponse answers an exit-plan-mode request; Approved defaults to true.
type ExitPlanModeResponse struct {
	Approved       *bool  `json:"approved,omitempty"`
	SelectedAction string `json:"selectedAction,omitempty"`
	Feedback       string `json:"feedback,omitempty"`
}

// ExitPlanModeHandler returns an ExitPlanModeResponse, a bool (approved or not), an action
// name (approved with that action) or nil (approved). An error declines with its message as
// the feedback.
type ExitPlanModeHandler func(req ExitPlanModeRequest) (any, error)

// ProviderTokenRequest asks for the bearer token of a BYOK provider ("default" for the
// session's provider).
type ProviderTokenRequest struct {
	SessionID    string `json:"sessionId"`
	ProviderName string `json:"providerName"`
	// Raw is the request payload as received.
	Raw json.RawMessage `json:"-"`
	// Context() is the handler's context: cancelled when the answer is no longer wanted.
	handlerContext
}

// ProviderTokenHandler returns the token (without "Bearer "). An error fails the model request.
type ProviderTokenHandler func(req ProviderTokenRequest) (string, error)

// AutoModeSwitchRequest is the CLI's offer to switch to auto mode (fields as the CLI sent them).
type AutoModeSwitchRequest struct {
	SessionID         string   `json:"sessionId"`
	ErrorCode         string   `json:"errorCode"`
	RetryAfterSeconds *float64 `json:"retryAfterSeconds"`
	// Raw is the request payload as received.
	Raw json.RawMessage `json:"-"`
	// Context() is the handler's context: cancelled when the answer is no longer wanted.
	handlerContext
}

// Auto-mode switch answers.
const (
	AutoModeSwitchYes       = "yes"
	AutoModeSwitchYesAlways = "yes_always"
	AutoModeSwitchNo        = "no"
)

// AutoModeSwitchResponse answers an auto-mode switch offer (Response: AutoModeSwitchYes, …).
type AutoModeSwitchResponse struct {
	Response string `json:"response,omitempty"`
}

// AutoModeSwitchHandler returns an AutoModeSwitchResponse, an answer string
// (AutoModeSwitchYes, …) or a bool (yes or no). Anything else, or an error, declines.
type AutoModeSwitchHandler func(req AutoModeSwitchRequest) (any, error)
