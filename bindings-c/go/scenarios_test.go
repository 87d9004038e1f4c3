package copilot

// Runs every shared scenario of tests/scenarios against the real CLI, with every field of the
// format (tests/scenarios/README.md; the reference runner is core/tests/scenarios.rs). A
// scenario key this runner does not know fails the test, and so does a scenario file that is
// not run. Handlers record the Raw payload of the typed request they receive and return the
// scenario's reply as a Go program would: JSON objects as the kind's Go reply type when they
// fit it (fields left out stay unset), other values as the Go value of the JSON.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// answerSpec is what a handler does: {"reply": v}, {"replies": [v, …]} (call i gets item i,
// the last repeats) or {"fail": "message"}.
type answerSpec struct {
	Reply   json.RawMessage   `json:"reply"`
	Replies []json.RawMessage `json:"replies"`
	Fail    *string           `json:"fail"`
}

type scenarioTool struct {
	Name                 string          `json:"name"`
	Description          string          `json:"description"`
	Parameters           map[string]any  `json:"parameters"`
	SkipPermission       bool            `json:"skipPermission"`
	OverridesBuiltInTool bool            `json:"overridesBuiltInTool"`
	Result               *string         `json:"result"`
	Fail                 *string         `json:"fail"`
	Reply                json.RawMessage `json:"reply"`
}

type scenario struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Session     struct {
		Streaming          *bool                      `json:"streaming"`
		Tools              []scenarioTool             `json:"tools"`
		Permission         string                     `json:"permission"`
		PermissionFeedback *string                    `json:"permissionFeedback"`
		UserInput          json.RawMessage            `json:"userInput"`
		Hooks              bool                       `json:"hooks"`
		SystemMessage      json.RawMessage            `json:"systemMessage"`
		Mode               string                     `json:"mode"`
		Handlers           map[string]json.RawMessage `json:"handlers"`
	} `json:"session"`
	Turns []struct {
		Prompt    string   `json:"prompt"`
		Subscribe []string `json:"subscribe"`
		Expect    struct {
			Answer         *string  `json:"answer"`
			AnswerContains []string `json:"answerContains"`
			Error          string   `json:"error"`
			Events         []string `json:"events"`
			NoEvents       []string `json:"noEvents"`
			ToolComplete   *struct {
				Success  bool   `json:"success"`
				Contains string `json:"contains"`
			} `json:"toolComplete"`
			Hooks              []string                   `json:"hooks"`
			PermissionKinds    []string                   `json:"permissionKinds"`
			UserInputQuestions []string                   `json:"userInputQuestions"`
			DeltasConcatenate  bool                       `json:"deltasConcatenate"`
			Requests           []json.RawMessage          `json:"requests"`
			EventData          map[string]json.RawMessage `json:"eventData"`
			FilteredEvents     []string                   `json:"filteredEvents"`
			ResultAfterEvents  bool                       `json:"resultAfterEvents"`
		} `json:"expect"`
	} `json:"turns"`
}

// hostRequest is one request a handler received: its kind and the Raw payload.
type hostRequest struct {
	Kind    string          `json:"kind"`
	Payload json.RawMessage `json:"payload"`
}

// observed is what the handlers saw during a turn.
type observed struct {
	mu       sync.Mutex
	requests []hostRequest
	hooks    []string
}

func (o *observed) record(kind string, raw json.RawMessage) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = append(o.requests, hostRequest{Kind: kind, Payload: raw})
	if kind == "hook" {
		var p struct {
			HookType string `json:"hookType"`
		}
		_ = json.Unmarshal(raw, &p)
		o.hooks = append(o.hooks, p.HookType)
	}
}

func (o *observed) take() (requests []hostRequest, hooks []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	requests, hooks = o.requests, o.hooks
	o.requests, o.hooks = nil, nil
	return
}

// answerer returns a handler's replies in order.
type answerer struct {
	spec  answerSpec
	mu    sync.Mutex
	calls int
}

func newAnswerer(t *testing.T, raw json.RawMessage) *answerer {
	a := &answerer{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a.spec); err != nil {
		t.Fatalf("handler spec %s: %v", raw, err)
	}
	return a
}

// next is the next reply as JSON, or the failure.
func (a *answerer) next() (json.RawMessage, error) {
	if a.spec.Fail != nil {
		return nil, errors.New(*a.spec.Fail)
	}
	if len(a.spec.Replies) > 0 {
		a.mu.Lock()
		defer a.mu.Unlock()
		i := min(a.calls, len(a.spec.Replies)-1)
		a.calls++
		return a.spec.Replies[i], nil
	}
	return a.spec.Reply, nil
}

// natural turns a JSON reply into what a Go handler returns: an object as T when it decodes
// into T field by field, anything else as the Go value of the JSON (string, bool, nil, map…).
func natural[T any](raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		var typed T
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if dec.Decode(&typed) == nil {
			return typed
		}
	}
	var v any
	_ = json.Unmarshal(raw, &v)
	return v
}

// reply runs one handler call: records the payload, then answers with the scenario's reply.
func reply[T any](obs *observed, kind string, raw json.RawMessage, a *answerer) (any, error) {
	obs.record(kind, raw)
	r, err := a.next()
	if err != nil {
		return nil, err
	}
	return natural[T](r), nil
}

// tokenReply is the object form of a provider token.
type tokenReply struct {
	Token string `json:"token"`
}

func specOf(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func scenarioConfig(t *testing.T, sc *scenario, obs *observed) *SessionConfig {
	s := &sc.Session
	cfg := config()
	if s.Streaming != nil {
		cfg.Streaming = *s.Streaming
	}
	cfg.Mode = s.Mode
	if s.SystemMessage != nil {
		cfg.Extra = map[string]any{"systemMessage": s.SystemMessage} // passed as it is
	}
	for _, st := range s.Tools {
		var spec json.RawMessage
		switch {
		case st.Result != nil:
			spec = specOf(map[string]any{"reply": *st.Result})
		case st.Fail != nil:
			spec = specOf(map[string]any{"fail": *st.Fail})
		case st.Reply != nil:
			spec = specOf(map[string]any{"reply": st.Reply})
		default:
			spec = specOf(map[string]any{"reply": nil})
		}
		a := newAnswerer(t, spec)
		cfg.Tools = append(cfg.Tools, Tool{
			Name: st.Name, Description: st.Description, Parameters: st.Parameters,
			SkipPermission: st.SkipPermission, OverridesBuiltInTool: st.OverridesBuiltInTool,
			Handler: func(inv ToolInvocation) (any, error) { return reply[ToolResult](obs, "tool", inv.Raw, a) },
		})
	}
	// The first scenarios' short forms, as their general form.
	kinds := map[string]json.RawMessage{}
	switch p := s.Permission; p {
	case "":
	case "fail":
		kinds["permission"] = specOf(map[string]any{"fail": "permission handler exploded"})
	case "reject":
		kinds["permission"] = specOf(map[string]any{"reply": map[string]any{"kind": "reject", "feedback": s.PermissionFeedback}})
	default:
		kinds["permission"] = specOf(map[string]any{"reply": p})
	}
	if s.UserInput != nil {
		var u struct {
			Fail *string `json:"fail"`
		}
		_ = json.Unmarshal(s.UserInput, &u)
		if u.Fail != nil {
			kinds["userInput"] = specOf(map[string]any{"fail": *u.Fail})
		} else {
			kinds["userInput"] = specOf(map[string]any{"reply": s.UserInput})
		}
	}
	if s.Hooks {
		cfg.OnHook = func(h HookInvocation) (any, error) {
			obs.record("hook", h.Raw)
			return nil, nil
		}
	}
	for kind, spec := range s.Handlers {
		if kind == "hooks" {
			var byType map[string]json.RawMessage
			if err := json.Unmarshal(spec, &byType); err != nil {
				t.Fatalf("handlers.hooks: %v", err)
			}
			cfg.Hooks = map[string]HookHandler{}
			for typ, spec := range byType {
				a := newAnswerer(t, spec)
				cfg.Hooks[typ] = func(h HookInvocation) (any, error) { return reply[any](obs, "hook", h.Raw, a) }
			}
			continue
		}
		kinds[kind] = spec
	}
	for kind, spec := range kinds {
		a := newAnswerer(t, spec)
		switch kind {
		case "permission":
			cfg.OnPermissionRequest = func(r PermissionRequest) (any, error) {
				return reply[PermissionDecision](obs, kind, r.Raw, a)
			}
		case "userInput":
			cfg.OnUserInputRequest = func(r UserInputRequest) (any, error) {
				return reply[UserInputResponse](obs, kind, r.Raw, a)
			}
		case "systemMessageTransform":
			cfg.OnSystemMessageTransform = func(r SystemMessageTransformRequest) (any, error) {
				return reply[map[string]string](obs, kind, r.Raw, a)
			}
		case "exitPlanMode":
			cfg.OnExitPlanMode = func(r ExitPlanModeRequest) (any, error) {
				return reply[ExitPlanModeResponse](obs, kind, r.Raw, a)
			}
		case "autoModeSwitch":
			cfg.OnAutoModeSwitch = func(r AutoModeSwitchRequest) (any, error) {
				return reply[AutoModeSwitchResponse](obs, kind, r.Raw, a)
			}
		case "providerToken":
			cfg.OnProviderToken = func(r ProviderTokenRequest) (string, error) {
				v, err := reply[tokenReply](obs, kind, r.Raw, a)
				switch v := v.(type) {
				case string:
					return v, err
				case tokenReply:
					return v.Token, err
				}
				return "", errors.Join(err, fmt.Errorf("a Go provider-token handler cannot return %v", v))
			}
		default:
			t.Fatalf("unknown handler kind %q", kind)
		}
	}
	return cfg
}

// matchPattern matches a value against a scenario pattern: "<string>", "<number>", "<bool>",
// "<object>", "<array>", "<any>", "<string|null>", "<sessionId>"; objects must have exactly the
// pattern's keys (subset: at least them); arrays match element by element.
func matchPattern(pattern, value any, sid string, subset bool, at string) error {
	fail := fmt.Errorf("%s: expected %v, got %v", at, pattern, value)
	if p, ok := pattern.(string); ok && strings.HasPrefix(p, "<") && strings.HasSuffix(p, ">") {
		var ok bool
		switch p {
		case "<string>":
			_, ok = value.(string)
		case "<number>":
			_, ok = value.(float64)
		case "<bool>":
			_, ok = value.(bool)
		case "<object>":
			_, ok = value.(map[string]any)
		case "<array>":
			_, ok = value.([]any)
		case "<any>":
			ok = true
		case "<string|null>":
			_, isString := value.(string)
			ok = isString || value == nil
		case "<sessionId>":
			ok = value == sid
		default:
			return fmt.Errorf("%s: unknown pattern %s", at, p)
		}
		if !ok {
			return fail
		}
		return nil
	}
	switch p := pattern.(type) {
	case map[string]any:
		v, ok := value.(map[string]any)
		if !ok {
			return fail
		}
		if !subset {
			pk, vk := keys(p), keys(v)
			if !slices.Equal(pk, vk) {
				return fmt.Errorf("%s: keys %v, expected %v (value %v)", at, vk, pk, value)
			}
		}
		for k, pv := range p {
			got, ok := v[k]
			if !ok {
				return fmt.Errorf("%s: no %q in %v", at, k, value)
			}
			if err := matchPattern(pv, got, sid, subset, at+"."+k); err != nil {
				return err
			}
		}
		return nil
	case []any:
		v, ok := value.([]any)
		if !ok || len(v) != len(p) {
			return fail
		}
		for i := range p {
			if err := matchPattern(p[i], v[i], sid, subset, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
		return nil
	}
	if !reflect.DeepEqual(pattern, value) {
		return fail
	}
	return nil
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func decodeAny(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return v
}

func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// lastOfType is the last event of a type, or nil.
func lastOfType(evs []SessionEvent, typ string) *SessionEvent {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == typ {
			return &evs[i]
		}
	}
	return nil
}

func runScenario(t *testing.T, path string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sc scenario
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		t.Fatalf("%s: this runner does not understand the scenario: %v", filepath.Base(path), err)
	}
	if want := strings.TrimSuffix(filepath.Base(path), ".json"); sc.Name != want {
		t.Fatalf("scenario name %q != file name %q", sc.Name, want)
	}
	client := connect(t)
	obs := &observed{}
	session, err := client.CreateSession(ctxT(t), scenarioConfig(t, &sc, obs))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	sid := session.SessionID
	all := newRecorder()
	session.On(all.add)
	for i, turn := range sc.Turns {
		label := fmt.Sprintf("%s turn %d", sc.Name, i)
		all.take()
		obs.take()
		filtered := newRecorder()
		unsubscribe := func() {}
		if turn.Subscribe != nil {
			unsubscribe = session.On(filtered.add, turn.Subscribe...)
		}
		answer, err := session.SendAndWait(ctxT(t), MessageOptions{Prompt: turn.Prompt, Timeout: 90 * time.Second})
		// Taken at once: SendAndWait returns after the handlers ran for the turn's events.
		evs := all.take()
		unsubscribe()
		ts := types(evs)
		x := turn.Expect
		if x.ResultAfterEvents && !slices.Contains(ts, "session.idle") {
			t.Errorf("%s: SendAndWait returned before an On handler saw session.idle (saw %v)", label, ts)
		}
		if x.Error != "" {
			var e *Error
			if !errors.As(err, &e) || e.Code != x.Error {
				t.Fatalf("%s: want error %s, got %v", label, x.Error, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		text := answer.Text()
		if x.Answer != nil && text != *x.Answer {
			t.Errorf("%s: answer %q, want %q", label, text, *x.Answer)
		}
		for _, s := range x.AnswerContains {
			if !strings.Contains(text, s) {
				t.Errorf("%s: answer %q lacks %q", label, text, s)
			}
		}
		if !isSubsequence(x.Events, ts) {
			t.Errorf("%s: events %v not in order in %v", label, x.Events, ts)
		}
		for _, n := range x.NoEvents {
			if slices.Contains(ts, n) {
				t.Errorf("%s: unexpected %s in %v", label, n, ts)
			}
		}
		if tc := x.ToolComplete; tc != nil {
			last := lastOfType(evs, "tool.execution_complete")
			if last == nil {
				t.Fatalf("%s: no tool.execution_complete in %v", label, ts)
			}
			if last.Data.Success == nil || *last.Data.Success != tc.Success {
				t.Errorf("%s: tool success: %s", label, last.Data.Raw)
			}
			if tc.Contains != "" && !strings.Contains(string(last.Data.Raw), tc.Contains) {
				t.Errorf("%s: %s lacks %q", label, last.Data.Raw, tc.Contains)
			}
		}
		requests, hooks := obs.take()
		field := func(kind, name string) []string {
			out := []string{}
			for _, r := range requests {
				if r.Kind == kind {
					var p map[string]any
					_ = json.Unmarshal(r.Payload, &p)
					s, _ := p[name].(string)
					out = append(out, s)
				}
			}
			return out
		}
		if x.PermissionKinds != nil && !slices.Equal(field("permission", "kind"), x.PermissionKinds) {
			t.Errorf("%s: permission kinds %v, want %v", label, field("permission", "kind"), x.PermissionKinds)
		}
		if x.UserInputQuestions != nil && !slices.Equal(field("userInput", "question"), x.UserInputQuestions) {
			t.Errorf("%s: questions %v, want %v", label, field("userInput", "question"), x.UserInputQuestions)
		}
		if !isSubsequence(x.Hooks, hooks) {
			t.Errorf("%s: hooks %v not in order in %v", label, x.Hooks, hooks)
		}
		if x.Requests != nil {
			if len(requests) != len(x.Requests) {
				t.Errorf("%s: %d host requests, want %d: %v", label, len(requests), len(x.Requests), requests)
			} else {
				for j, want := range x.Requests {
					got := decodeAny(t, specOf(requests[j]))
					if err := matchPattern(decodeAny(t, want), got, sid, false, fmt.Sprintf("%s request %d", label, j)); err != nil {
						t.Error(err)
					}
				}
			}
		}
		for typ, want := range x.EventData {
			ev := lastOfType(evs, typ)
			if ev == nil {
				t.Errorf("%s: no %s event in %v", label, typ, ts)
				continue
			}
			if err := matchPattern(decodeAny(t, want), decodeAny(t, ev.Data.Raw), sid, true, label+" "+typ); err != nil {
				t.Error(err)
			}
		}
		if x.FilteredEvents != nil {
			if got := types(filtered.take()); !slices.Equal(got, x.FilteredEvents) {
				t.Errorf("%s: the filtered subscription saw %v, want %v", label, got, x.FilteredEvents)
			}
		}
		if x.DeltasConcatenate {
			id := ""
			if answer != nil && answer.Data.MessageID != nil {
				id = *answer.Data.MessageID
			}
			var b strings.Builder
			n := 0
			for _, e := range evs {
				if e.Type == "assistant.message_delta" {
					n++
					if e.Data.MessageID != nil && *e.Data.MessageID == id && e.Data.DeltaContent != nil {
						b.WriteString(*e.Data.DeltaContent)
					}
				}
			}
			if n < 2 || b.String() != text {
				t.Errorf("%s: %d deltas concatenate to %q, want %q", label, n, b.String(), text)
			}
		}
	}
	if err := session.Disconnect(); err != nil {
		t.Fatal(err)
	}
}

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot(), "tests", "scenarios", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	scenarios, passed := 0, 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		scenarios++
		if t.Run(name, func(t *testing.T) { runScenario(t, f) }) {
			passed++
		}
	}
	if scenarios == 0 || passed != scenarios {
		t.Fatalf("%d of %d scenario files passed", passed, scenarios)
	}
	t.Logf("%d scenarios run", scenarios)
}

func TestPayloadPatterns(t *testing.T) {
	p := decodeAny(t, json.RawMessage(`{"sessionId": "<sessionId>", "n": "<number>", "o": {"a": [1, "<string>"]}, "x": "<string|null>"}`))
	ok := decodeAny(t, json.RawMessage(`{"sessionId": "s", "n": 1, "o": {"a": [1, "b"]}, "x": null}`))
	if err := matchPattern(p, ok, "s", false, "p"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{
		`{"sessionId": "t", "n": 1, "o": {"a": [1, "b"]}, "x": null}`,
		`{"sessionId": "s", "n": 1, "o": {"a": [1, "b"]}, "x": null, "more": 1}`,
		`{"sessionId": "s", "n": "1", "o": {"a": [1, "b"]}, "x": null}`,
	} {
		if matchPattern(p, decodeAny(t, json.RawMessage(bad)), "s", false, "p") == nil {
			t.Errorf("%s matched", bad)
		}
	}
	if err := matchPattern(decodeAny(t, json.RawMessage(`{"a": 1}`)), decodeAny(t, json.RawMessage(`{"a": 1, "b": 2}`)), "s", true, "p"); err != nil {
		t.Error(err)
	}
}
