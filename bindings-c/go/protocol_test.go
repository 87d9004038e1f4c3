package copilot

// The typed protocol (protocol_*.go, generated from the CLI's schemas) against the real CLI:
// typed server and session namespaces, typed events, DefineTool; and the decoding rules
// (unknown union tags, enum values and event types stay readable) and the strict mode checker.

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTypedServerRPC(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	tools, err := c.RPC.Tools.List(ctx, ToolsListRequest{})
	if err != nil || len(tools.Tools) == 0 {
		t.Fatalf("tools.list %+v %v", tools, err)
	}
	names := []string{}
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	if !slices.Contains(names, "bash") && !slices.Contains(names, "view") {
		t.Fatalf("built-in tools %v", names)
	}
	catalog, err := c.RPC.Models.GetBuiltInCatalog(ctx)
	if err != nil || len(catalog.Models) == 0 || catalog.Models[0].ID == "" {
		t.Fatalf("catalog %+v %v", catalog, err)
	}
	if _, err := c.RPC.Account.GetCurrentAuth(ctx); err != nil {
		t.Fatal(err)
	}
	users, err := c.RPC.Account.GetAllUsers(ctx)
	if err != nil || len(users) != 0 {
		t.Fatalf("users %+v %v", users, err)
	}
	s, err := c.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	list, err := c.RPC.Sessions.List(ctx, SessionsListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_ = list
	inUse, err := c.RPC.Sessions.CheckInUse(ctx, SessionsCheckInUseRequest{SessionIDs: []string{s.SessionID}})
	if err != nil {
		t.Fatalf("checkInUse %+v %v", inUse, err)
	}
	found, err := c.RPC.Sessions.FindByPrefix(ctx, SessionsFindByPrefixRequest{Prefix: s.SessionID[:8]})
	if err != nil {
		t.Fatalf("findByPrefix %v", err)
	}
	_ = found
	// The generic call reaches what the schema lacks; its errors stay typed.
	var e *Error
	if _, err := c.Call(ctx, "no.such.method", nil); !errors.As(err, &e) || e.RPC == nil || e.RPC.Code != -32601 {
		t.Fatalf("unknown method: %v", err)
	}
}

func TestTypedSessionRPC(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	s, err := c.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	cur, err := s.RPC.Model.GetCurrent(ctx)
	if err != nil || cur.ModelID == nil || *cur.ModelID != "gpt-4.1" {
		t.Fatalf("getCurrent %+v %v", cur, err)
	}
	sw, err := s.RPC.Model.SwitchTo(ctx, SessionModelSwitchToParams{ModelID: "gpt-4.1-mini"})
	if err != nil || sw.ModelID == nil || *sw.ModelID != "gpt-4.1-mini" {
		t.Fatalf("switchTo %+v %v", sw, err)
	}
	if _, err := s.RPC.Model.List(ctx); err != nil { // params may be omitted
		t.Fatal(err)
	}
	mode, err := s.RPC.Mode.Get(ctx)
	if err != nil || mode != SessionModeInteractive || !mode.Known() {
		t.Fatalf("mode %q %v", mode, err)
	}
	if _, err := s.RPC.Mode.Set(ctx, SessionModeSetParams{Mode: SessionModePlan}); err != nil {
		t.Fatal(err)
	}
	if mode, _ = s.RPC.Mode.Get(ctx); mode != SessionModePlan {
		t.Fatalf("mode after set %q", mode)
	}
	if err := s.RPC.Name.Set(ctx, SessionNameSetParams{Name: "typed go"}); err != nil {
		t.Fatal(err)
	}
	name, err := s.RPC.Name.Get(ctx)
	if err != nil || name.Name == nil || *name.Name != "typed go" {
		t.Fatalf("name %+v %v", name, err)
	}
	if err := s.RPC.Plan.Update(ctx, SessionPlanUpdateParams{Content: "# Plan\n1. test"}); err != nil {
		t.Fatal(err)
	}
	plan, err := s.RPC.Plan.Read(ctx)
	if err != nil || !plan.Exists || plan.Content == nil || !strings.Contains(*plan.Content, "1. test") {
		t.Fatalf("plan %+v %v", plan, err)
	}
	busy, err := s.RPC.Metadata.IsProcessing(ctx)
	if err != nil || busy.Processing {
		t.Fatalf("isProcessing %+v %v", busy, err)
	}
	tail, err := s.RPC.EventLog.Tail(ctx)
	if err != nil || tail.Cursor == "" {
		t.Fatalf("tail %+v %v", tail, err)
	}
	logged, err := s.RPC.Log(ctx, SessionLogParams{Message: "typed hello", Level: Ptr(SessionLogLevelWarning)})
	if err != nil || logged.EventID == "" {
		t.Fatalf("log %+v %v", logged, err)
	}
	pm, err := s.RPC.Permissions.GetMode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = pm
	if _, err := s.RPC.Usage.GetMetrics(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RPC.Workspaces.GetWorkspace(ctx); err != nil {
		t.Fatal(err)
	}
	// The session log event is typed, its level an enum.
	msgs, err := s.GetMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sawStart bool
	for i := range msgs {
		if st, ok := msgs[i].Typed().(*StartEvent); ok {
			sawStart = st.Data.SessionID == s.SessionID && !st.Timestamp.IsZero()
		}
	}
	if !sawStart {
		t.Fatalf("no typed session.start among %v", types(msgs))
	}
}

func TestTypedEvents(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	rec := newRecorder()
	cfg := config()
	cfg.OnEvent = rec.add
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	var mu sync.Mutex
	var typedContents []string
	off := OnTyped(s, func(e *AssistantMessageEvent) {
		mu.Lock()
		typedContents = append(typedContents, e.Data.Content)
		mu.Unlock()
	})
	defer off()
	answer, err := s.SendAndWait(ctx, MessageOptions{Prompt: "Hello typed"})
	if err != nil || answer == nil {
		t.Fatalf("%v %v", answer, err)
	}
	mu.Lock()
	if len(typedContents) != 1 || typedContents[0] != answer.Text() {
		t.Fatalf("typed contents %q, answer %q", typedContents, answer.Text())
	}
	mu.Unlock()
	var user, idle, assistant int
	for _, ev := range rec.take() {
		switch d := ev.Typed().(type) {
		case *UserMessageEvent:
			if d.Data.Content != "Hello typed" {
				t.Fatalf("user message %q", d.Data.Content)
			}
			user++
		case *AssistantMessageEvent:
			if d.Data.MessageID == "" || d.ID != ev.ID || d.EventType() != EventTypeAssistantMessage {
				t.Fatalf("assistant message %+v", d)
			}
			assistant++
		case *IdleEvent:
			idle++
		case *UnknownEvent:
			if KnownEventType(d.Type) {
				t.Fatalf("%s did not decode: %v", d.Type, d.DecodeError)
			}
		}
	}
	if user != 1 || assistant != 1 || idle != 1 {
		t.Fatalf("user %d assistant %d idle %d", user, assistant, idle)
	}
	// A type the schema lacks reaches the host untyped, never as an error.
	var ev SessionEvent
	if err := json.Unmarshal([]byte(`{"id":"1","timestamp":"2026-01-01T00:00:00Z","parentId":null,"type":"future.event","data":{"x":1}}`), &ev); err != nil {
		t.Fatal(err)
	}
	u, ok := ev.Typed().(*UnknownEvent)
	if !ok || u.Type != "future.event" || u.DecodeError != nil || !strings.Contains(string(u.Event.Data.Raw), `"x":1`) {
		t.Fatalf("unknown event %#v", ev.Typed())
	}
}

type forecastArgs struct {
	City  string   `json:"city" description:"The city"`
	Days  *int     `json:"days,omitempty"`
	Units string   `json:"units,omitempty" enum:"metric,imperial"`
	Tags  []string `json:"tags,omitempty"`
}

type forecast struct {
	City string `json:"city"`
	Days int    `json:"days"`
}

func TestDefineToolTypedArguments(t *testing.T) {
	schema := ToolSchema[forecastArgs]()
	want := map[string]any{"type": "object", "required": []string{"city"}, "properties": map[string]any{
		"city":  map[string]any{"type": "string", "description": "The city"},
		"days":  map[string]any{"type": "integer"},
		"units": map[string]any{"type": "string", "enum": []string{"metric", "imperial"}},
		"tags":  map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
	}}
	if !reflect.DeepEqual(schema, want) {
		t.Fatalf("schema %v", schema)
	}
	ctx := ctxT(t)
	c := connect(t)
	got := make(chan forecastArgs, 1)
	cfg := config()
	cfg.Tools = []Tool{DefineTool("get_forecast", "Forecast", func(a forecastArgs, inv ToolInvocation) (forecast, error) {
		got <- a
		return forecast{City: a.City, Days: *a.Days}, nil
	})}
	cfg.Tools[0].SkipPermission = true
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	answer, err := s.SendAndWait(ctx, MessageOptions{Prompt: `CALL get_forecast {"city":"Oslo","days":3}`})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-got:
		if a.City != "Oslo" || a.Days == nil || *a.Days != 3 {
			t.Fatalf("args %+v", a)
		}
	case <-time.After(time.Minute):
		t.Fatal("the tool was not called")
	}
	if !strings.Contains(answer.Text(), `"city":"Oslo"`) || !strings.Contains(answer.Text(), `"days":3`) {
		t.Fatalf("answer %q", answer.Text())
	}
	// The schema reached the model as the tool's parameters.
	req := lastChatRequest(t)
	if !strings.Contains(string(req.Body), `"get_forecast"`) || !strings.Contains(string(req.Body), `"The city"`) {
		t.Fatalf("chat request %.400s", req.Body)
	}
}

func TestTypedUnionsEnumsAndUnknowns(t *testing.T) {
	var a Attachment
	if err := json.Unmarshal([]byte(`{"type":"file","path":"/a.txt","displayName":"a.txt","extra":1}`), &a); err != nil {
		t.Fatal(err)
	}
	f, ok := a.Value.(*AttachmentFile)
	if !ok || f.Path != "/a.txt" || f.DisplayName != "a.txt" {
		t.Fatalf("file attachment %#v", a.Value)
	}
	if err := json.Unmarshal([]byte(`{"type":"hologram","beam":2}`), &a); err != nil {
		t.Fatal(err)
	}
	u, ok := a.Value.(*UnknownVariant)
	if !ok || u.Tag != "hologram" || !strings.Contains(string(u.Raw), `"beam":2`) {
		t.Fatalf("unknown variant %#v", a.Value)
	}
	b, err := json.Marshal(a)
	if err != nil || !strings.Contains(string(b), `"beam":2`) {
		t.Fatalf("unknown variant re-encoded %s %v", b, err)
	}
	// The tag of a variant is filled in when left empty.
	b, err = json.Marshal(Attachment{Value: &AttachmentFile{Path: "/b", DisplayName: "b"}})
	if err != nil || !strings.Contains(string(b), `"type":"file"`) {
		t.Fatalf("encoded %s %v", b, err)
	}
	// An enum value the schema does not know stays readable.
	var m struct {
		Mode SessionMode `json:"mode"`
	}
	if err := json.Unmarshal([]byte(`{"mode":"hyperdrive"}`), &m); err != nil || m.Mode != "hyperdrive" || m.Mode.Known() {
		t.Fatalf("%+v %v", m, err)
	}
	if len(EventTypes) != 140 || !KnownEventType("assistant.message") || KnownEventType("future.event") {
		t.Fatalf("event types %d", len(EventTypes))
	}
}

func TestStrictModeChecker(t *testing.T) {
	st := newStrictTypes(true)
	event := func(js string) {
		var ev SessionEvent
		if err := json.Unmarshal([]byte(js), &ev); err != nil {
			t.Fatal(err)
		}
		st.event("", &ev)
	}
	// Well-formed, with an unknown field in data and in the envelope.
	event(`{"id":"1","timestamp":"2026-01-01T00:00:00Z","parentId":null,"type":"assistant.message","data":{"messageId":"m","content":"hi","brandNew":1},"shiny":true}`)
	// Unknown event type: counted.
	event(`{"id":"2","timestamp":"2026-01-01T00:00:00Z","parentId":null,"type":"future.event","data":{}}`)
	// Missing required field (content): a failure.
	event(`{"id":"3","timestamp":"2026-01-01T00:00:00Z","parentId":null,"type":"assistant.message","data":{"messageId":"m"}}`)
	// Wrong JSON type: a failure.
	event(`{"id":"4","timestamp":"2026-01-01T00:00:00Z","parentId":null,"type":"assistant.message","data":{"messageId":"m","content":"x","outputTokens":"many"}}`)
	// Delivered twice (two subscriptions): checked once.
	event(`{"id":"1","timestamp":"2026-01-01T00:00:00Z","parentId":null,"type":"assistant.message","data":{"messageId":"m","content":"hi","brandNew":1},"shiny":true}`)
	// An unknown enum value in a result: counted.
	var r struct {
		Mode SessionMode `json:"mode"`
	}
	st.result("x", []byte(`{"mode":"hyperdrive"}`), &r, json.Unmarshal([]byte(`{"mode":"hyperdrive"}`), &r))
	line, failures, ok := st.report()
	if !ok || failures != 2 {
		t.Fatalf("failures %d: %s", failures, line)
	}
	if !strings.HasPrefix(line, "strict types: 4 events, 1 results checked; unknown: 1 event types (future.event), 2 fields, 1 enum values; failures: 2") {
		t.Fatalf("line %q", line)
	}
	if !strings.Contains(line, `required field "content" missing`) {
		t.Fatalf("line %q", line)
	}
}
