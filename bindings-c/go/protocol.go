package copilot

// The runtime of the typed protocol (protocol_*.go are generated from the CLI's schemas by
// `cargo run -p xtask -- codegen`): the typed calls over Call, the union helpers, typed events
// and the strict test mode (COPILOT_STRICT_TYPES=1).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
)

// Ptr returns a pointer to v, for the optional fields of the generated types.
func Ptr[T any](v T) *T { return &v }

// caller is what the typed namespaces call through: *Client (server methods) and *Session
// (session methods, sessionId added by the core).
type caller interface {
	Call(ctx context.Context, method string, params any) (json.RawMessage, error)
}

func optionalParams[P any](params []*P) any {
	if len(params) == 0 || params[0] == nil {
		return nil
	}
	return params[0]
}

// callTyped calls a method and decodes its result into R (checked in strict mode).
func callTyped[R any](ctx context.Context, c caller, method string, params any) (R, error) {
	var zero R
	raw, err := c.Call(ctx, method, params)
	if err != nil {
		return zero, err
	}
	return decodeResult[R](method, raw)
}

// decodeResult decodes a result into R; a value R cannot read is an ErrProtocol error.
func decodeResult[R any](what string, raw json.RawMessage) (R, error) {
	var v R
	if err := json.Unmarshal(raw, &v); err != nil {
		strict.result(what, raw, nil, err)
		return v, &Error{Status: 10, Code: CodeProtocol, Message: "unexpected result of " + what + ": " + err.Error()}
	}
	strict.result(what, raw, &v, nil)
	return v, nil
}

// callNull calls a method whose result the schema leaves empty.
func callNull(ctx context.Context, c caller, method string, params any) error {
	_, err := c.Call(ctx, method, params)
	return err
}

// UnknownVariant is the value of a generated union whose tag this SDK does not know: Tag is
// the tag, Raw the whole object as received (a union is never an error to decode).
type UnknownVariant struct {
	Tag string
	Raw json.RawMessage
}

// MarshalJSON sends the object as it was received.
func (u *UnknownVariant) MarshalJSON() ([]byte, error) {
	if len(u.Raw) == 0 {
		return []byte("null"), nil
	}
	return u.Raw, nil
}

// unionTag reads the tag property of a union object.
func unionTag(b []byte, key string) (string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	var tag string
	if t, ok := m[key]; ok {
		if err := json.Unmarshal(t, &tag); err != nil {
			return "", fmt.Errorf("union tag %q: %w", key, err)
		}
	}
	return tag, nil
}

// marshalUnion encodes a union's variant and fills in its tag (a variant struct serving one
// tag value) when the caller left it empty.
func marshalUnion(v any, key, tag string) ([]byte, error) {
	if v == nil || reflect.ValueOf(v).IsNil() {
		return []byte("null"), nil
	}
	b, err := json.Marshal(v)
	if err != nil || tag == "" {
		return b, err
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return b, nil
	}
	if t, ok := m[key]; ok && !bytes.Equal(t, []byte(`""`)) {
		return b, nil
	}
	m[key], _ = json.Marshal(tag)
	return json.Marshal(m)
}

// TypedEvent is a session event of a type the protocol schema lists (*AssistantMessageEvent,
// …, each with its typed Data), or *UnknownEvent.
type TypedEvent interface {
	EventType() string
}

// UnknownEvent is an event whose type the schema does not list (newer CLIs emit more), or
// whose payload the generated types could not read (DecodeError): it reaches the host
// untyped, never as an error.
type UnknownEvent struct {
	Type string
	// Event is the event as the untyped API delivers it (Raw holds all of it).
	Event SessionEvent
	// DecodeError is set when the type is known but its payload did not decode.
	DecodeError error
}

// EventType is the event's wire type.
func (e *UnknownEvent) EventType() string { return e.Type }

func decodeEvent[E any, PE interface {
	*E
	TypedEvent
}](raw []byte) (TypedEvent, error) {
	e := PE(new(E))
	if err := json.Unmarshal(raw, e); err != nil {
		return nil, err
	}
	return e, nil
}

// Typed decodes the event into its generated type: switch on the result,
//
//	switch ev := e.Typed().(type) {
//	case *AssistantMessageEvent:
//		fmt.Println(ev.Data.Content)
//	case *UnknownEvent:
//		// a type the schema does not list: ev.Event.Raw
//	}
//
// An unknown type (or a payload the types cannot read) gives *UnknownEvent.
func (e *SessionEvent) Typed() TypedEvent {
	t, err := decodeTypedEvent(e.Type, e.Raw)
	if err != nil || t == nil {
		return &UnknownEvent{Type: e.Type, Event: *e, DecodeError: err}
	}
	return t
}

// OnTyped calls handler for the session's events of one generated type, decoded:
//
//	copilot.OnTyped(session, func(e *copilot.AssistantMessageEvent) { fmt.Println(e.Data.Content) })
//
// An event whose payload does not decode is skipped (Session.On still sees it).
func OnTyped[E any, PE interface {
	*E
	TypedEvent
}](s *Session, handler func(PE)) func() {
	eventType := PE(new(E)).EventType()
	return s.On(func(ev SessionEvent) {
		if t, ok := ev.Typed().(PE); ok {
			handler(t)
		}
	}, eventType)
}

// ---- Strict test mode ----------------------------------------------------------------------

// strictTypes is the COPILOT_STRICT_TYPES=1 bookkeeping: every event delivered and every typed
// result decoded is checked against the generated types.
type strictTypes struct {
	on          bool
	mu          sync.Mutex
	seen        map[string]bool // events checked, by session and id
	events      int
	results     int
	unknownType map[string]int
	unknownFld  map[string]int
	unknownEnum map[string]int
	failures    []string
}

var strict = newStrictTypes(os.Getenv("COPILOT_STRICT_TYPES") == "1")

func newStrictTypes(on bool) *strictTypes {
	return &strictTypes{
		on:          on,
		seen:        map[string]bool{},
		unknownType: map[string]int{},
		unknownFld:  map[string]int{},
		unknownEnum: map[string]int{},
	}
}

// StrictTypesReport is the strict mode's summary line and its failure count (the test suites
// print the line and fail when the count is not zero); ok is false outside the mode.
func StrictTypesReport() (line string, failures int, ok bool) {
	return strict.report()
}

func (s *strictTypes) report() (line string, failures int, ok bool) {
	if !s.on {
		return "", 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := func(m map[string]int) int {
		n := 0
		for _, v := range m {
			n += v
		}
		return n
	}
	types := make([]string, 0, len(s.unknownType))
	for t := range s.unknownType {
		types = append(types, t)
	}
	sort.Strings(types)
	line = fmt.Sprintf("strict types: %d events, %d results checked; unknown: %d event types (%s), %d fields, %d enum values; failures: %d",
		s.events, s.results, len(types), strings.Join(types, ", "), sum(s.unknownFld), sum(s.unknownEnum), len(s.failures))
	for i, f := range s.failures {
		if i == 20 {
			line += fmt.Sprintf("\n  … %d more", len(s.failures)-20)
			break
		}
		line += "\n  failure: " + f
	}
	return line, len(s.failures), true
}

// StrictTypesDetails lists the unknown fields and enum values seen, with their counts.
func StrictTypesDetails() string {
	s := strict
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, m := range []struct {
		what string
		m    map[string]int
	}{{"field", s.unknownFld}, {"enum value", s.unknownEnum}} {
		keys := make([]string, 0, len(m.m))
		for k := range m.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "  unknown %s %s ×%d\n", m.what, k, m.m[k])
		}
	}
	return b.String()
}

// event checks one delivered event (once per session and id).
func (s *strictTypes) event(sessionKey string, ev *SessionEvent) {
	if !s.on {
		return
	}
	key := sessionKey + "/" + ev.ID + "/" + ev.Type
	s.mu.Lock()
	if s.seen[key] {
		s.mu.Unlock()
		return
	}
	s.seen[key] = true
	s.events++
	s.mu.Unlock()
	if !KnownEventType(ev.Type) {
		s.mu.Lock()
		s.unknownType[ev.Type]++
		s.mu.Unlock()
		return
	}
	t, err := decodeTypedEvent(ev.Type, ev.Raw)
	if err != nil {
		s.fail("event %s: %v (%.300s)", ev.Type, err, ev.Raw)
		return
	}
	s.check("event "+ev.Type, ev.Raw, reflect.ValueOf(t))
}

// result checks one decoded result (v nil: decoding failed with err).
func (s *strictTypes) result(what string, raw json.RawMessage, v any, err error) {
	if !s.on {
		return
	}
	s.mu.Lock()
	s.results++
	s.mu.Unlock()
	if err != nil {
		s.fail("result of %s: %v (%.300s)", what, err, raw)
		return
	}
	s.check("result of "+what, raw, reflect.ValueOf(v))
}

func (s *strictTypes) fail(format string, args ...any) {
	s.mu.Lock()
	s.failures = append(s.failures, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *strictTypes) check(what string, raw []byte, v reflect.Value) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var tree any
	if err := d.Decode(&tree); err != nil {
		s.fail("%s: %v", what, err)
		return
	}
	s.walk(what, tree, v)
}

type unionValue interface{ unionTagKey() string }
type knownEnum interface{ Known() bool }

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage{})
)

// walk compares a decoded value with the JSON it came from: missing required fields are
// failures; unknown fields, enum values and union tags are counted.
func (s *strictTypes) walk(at string, tree any, v reflect.Value) {
	if !v.IsValid() {
		return
	}
	t := v.Type()
	if t == rawType || t == timeType {
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		s.walk(at, tree, v.Elem())
		return
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		if u, ok := v.Interface().(*UnknownVariant); ok {
			s.mu.Lock()
			s.unknownEnum[at+" tag "+u.Tag]++
			s.mu.Unlock()
			return
		}
		if t.NumMethod() == 0 {
			return // any: untyped
		}
		s.walk(at, tree, v.Elem())
		return
	case reflect.String:
		if e, ok := v.Interface().(knownEnum); ok && !e.Known() {
			s.mu.Lock()
			s.unknownEnum[at+" = "+v.String()]++
			s.mu.Unlock()
		}
		return
	case reflect.Slice:
		items, _ := tree.([]any)
		for i := 0; i < v.Len() && i < len(items); i++ {
			s.walk(at+"[]", items[i], v.Index(i))
		}
		return
	case reflect.Map:
		obj, _ := tree.(map[string]any)
		for _, k := range v.MapKeys() {
			s.walk(at+"{}", obj[k.String()], v.MapIndex(k))
		}
		return
	case reflect.Struct:
	default:
		return
	}
	if _, ok := v.Interface().(unionValue); ok {
		s.walk(at, tree, v.Field(0))
		return
	}
	obj, ok := tree.(map[string]any)
	if !ok {
		return
	}
	known := map[string]bool{}
	s.walkStruct(at, obj, v, known)
	for k := range obj {
		if !known[k] {
			s.mu.Lock()
			s.unknownFld[at+"."+k]++
			s.mu.Unlock()
		}
	}
}

func (s *strictTypes) walkStruct(at string, obj map[string]any, v reflect.Value, known map[string]bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			s.walkStruct(at, obj, v.Field(i), known)
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		known[name] = true
		val, present := obj[name]
		if !present {
			if !strings.Contains(opts, "omitempty") {
				s.fail("%s: required field %q missing", at, name)
			}
			continue
		}
		s.walk(at+"."+name, val, v.Field(i))
	}
}
