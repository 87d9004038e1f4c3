package copilot

// Issue 12, first slice: the official SDKs' names beside ours — Connection (URIConnection,
// TCPConnection, StdioConnection), GetSessionMetadata, GetEvents, OnLifecycle — against the
// real CLI of the suite (main_test.go) and the fake model.

import (
	"errors"
	"os"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"
)

// The "connection" option each value produces, pointers and nil pointers included.
func TestOfficialConnectionJSON(t *testing.T) {
	cases := []struct {
		conn RuntimeConnection
		want string
	}{
		{URIConnection{URL: "localhost:4321", ConnectionToken: "t"}, `{"connection":{"connectionToken":"t","kind":"uri","url":"localhost:4321"}}`},
		{&URIConnection{URL: "4321"}, `{"connection":{"kind":"uri","url":"4321"}}`},
		{StdioConnection{}, `{"connection":{"kind":"stdio"}}`},
		{StdioConnection{Path: "/bin/copilot", Args: []string{"--x"}}, `{"connection":{"args":["--x"],"kind":"stdio","path":"/bin/copilot"}}`},
		{TCPConnection{Port: 7, ConnectionToken: "k", Path: "p", Args: []string{"a"}}, `{"connection":{"args":["a"],"connectionToken":"k","kind":"tcp","path":"p","port":7}}`},
		{&TCPConnection{}, `{"connection":{"kind":"tcp"}}`},
		{(*URIConnection)(nil), `{}`},
		{(*StdioConnection)(nil), `{}`},
		{(*TCPConnection)(nil), `{}`},
		{nil, `{}`},
	}
	for _, c := range cases {
		got, err := (&ClientOptions{Connection: c.conn}).toJSON()
		if err != nil || got != c.want {
			t.Errorf("%#v: %s %v, want %s", c.conn, got, err, c.want)
		}
	}
}

// The quickstart with Connection: URIConnection and the suite's token runs a turn; a wrong or
// missing token is refused by the CLI.
func TestOfficialURIConnection(t *testing.T) {
	ctx := ctxT(t)
	for _, conn := range []RuntimeConnection{
		URIConnection{URL: sharedURL(), ConnectionToken: testToken},
		&URIConnection{URL: "http://" + sharedURL(), ConnectionToken: testToken},
	} {
		c := NewClient(&ClientOptions{Connection: conn})
		if err := c.Start(ctx); err != nil {
			t.Fatalf("%#v: %v", conn, err)
		}
		if got := c.Info().Port; got != port {
			t.Errorf("Info().Port %d, want %d", got, port)
		}
		s, err := c.CreateSession(ctx, config())
		if err != nil {
			t.Fatal(err)
		}
		answer, err := s.SendAndWait(ctx, MessageOptions{Prompt: "REPLY over uri"})
		if err != nil || answer.Text() != "over uri" {
			t.Fatalf("answer %v %v", answer, err)
		}
		_ = c.Close()
	}
	for _, tok := range []string{"", "wrong-token"} {
		c := NewClient(&ClientOptions{Connection: URIConnection{URL: sharedURL(), ConnectionToken: tok}})
		err := c.Start(ctx)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeAuthentication || e.RPC == nil {
			t.Errorf("token %q: %v", tok, err)
		}
		_ = c.Close()
	}
}

// Connection with any of the older connection fields is a typed invalid-config error, reported
// by Start and by every later call; alone, each older field still works (TestConnectionToken).
func TestOfficialConnectionConflicts(t *testing.T) {
	ctx := ctxT(t)
	uri := URIConnection{URL: sharedURL(), ConnectionToken: testToken}
	for name, o := range map[string]*ClientOptions{
		"CLIUrl":          {Connection: uri, CLIUrl: sharedURL()},
		"ConnectionToken": {Connection: URIConnection{URL: sharedURL()}, ConnectionToken: testToken},
		"UseStdio":        {Connection: StdioConnection{Path: cliPath}, UseStdio: Bool(true)},
		"Port":            {Connection: TCPConnection{Path: cliPath}, Port: 4321},
		"CLIPath":         {Connection: StdioConnection{}, CLIPath: cliPath},
		"CLIArgs":         {Connection: uri, CLIArgs: []string{"--x"}},
	} {
		c := NewClient(o)
		err := c.Start(ctx)
		var e *Error
		if !errors.Is(err, ErrInvalidConfig) || !errors.As(err, &e) || e.Code != CodeInvalidConfig {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := c.Ping(ctx, ""); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s, Ping: %v", name, err)
		}
		_ = c.Close()
	}
}

// TCPConnection spawns the CLI as a TCP server with the given token (Path, Args reach the
// spawn); a URIConnection client of that server needs the token. StdioConnection spawns it over
// stdio (no port).
func TestOfficialSpawnConnections(t *testing.T) {
	ctx := ctxT(t)
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	tcp := NewClient(&ClientOptions{
		Connection: TCPConnection{Path: cliPath, ConnectionToken: "tcp-conn-token"},
		Env:        env, Cwd: work, UseLoggedInUser: Bool(false),
	})
	t.Cleanup(func() { _ = tcp.Close() })
	if err := tcp.Start(ctx); err != nil {
		t.Fatal(err)
	}
	info := tcp.Info()
	if info.Port <= 0 || info.CLIPid <= 0 || info.Port == port {
		t.Fatalf("tcp info %+v", info)
	}
	url := "127.0.0.1:" + strconv.Itoa(info.Port)
	guest := NewClient(&ClientOptions{Connection: URIConnection{URL: url, ConnectionToken: "tcp-conn-token"}})
	if _, err := guest.Ping(ctx, "hi"); err != nil {
		t.Fatalf("guest with the token: %v", err)
	}
	_ = guest.Close()
	intruder := NewClient(&ClientOptions{Connection: URIConnection{URL: url, ConnectionToken: testToken}})
	if err := intruder.Start(ctx); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("guest with another token: %v", err)
	}
	_ = intruder.Close()

	missing := NewClient(&ClientOptions{Connection: StdioConnection{Path: "/nonexistent/copilot"}})
	if err := missing.Start(ctx); !errors.Is(err, ErrCLINotFound) {
		t.Fatalf("StdioConnection.Path not used: %v", err)
	}
	_ = missing.Close()
	stdio := NewClient(&ClientOptions{
		Connection: &StdioConnection{Path: cliPath},
		Env:        env, Cwd: work, UseLoggedInUser: Bool(false),
	})
	t.Cleanup(func() { _ = stdio.Close() })
	if _, err := stdio.Ping(ctx, "hi"); err != nil {
		t.Fatal(err)
	}
	if info := stdio.Info(); info.CLIPid <= 0 || info.Port != 0 {
		t.Fatalf("stdio info %+v", info)
	}
}

// GetSessionMetadata: a session that had a turn (times as time.Time, CreatedAt = StartTime,
// the same entry as ListSessions); nil for an unknown id. GetEvents equals GetMessages.
func TestOfficialSessionMetadataAndEvents(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	before := time.Now().Add(-time.Minute)
	s, err := c.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendAndWait(ctx, MessageOptions{Prompt: "REPLY metadata"}); err != nil {
		t.Fatal(err)
	}
	md, err := c.GetSessionMetadata(ctx, s.SessionID)
	if err != nil || md == nil {
		t.Fatalf("metadata %v %v", md, err)
	}
	if md.SessionID != s.SessionID || md.StartTime.Before(before) || md.StartTime.After(time.Now().Add(time.Minute)) ||
		!md.CreatedAt.Equal(md.StartTime) || md.ModifiedTime.Before(md.StartTime) || md.IsRemote {
		t.Fatalf("metadata %+v", md)
	}
	list, err := c.ListSessions(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list, func(m SessionMetadata) bool { return m.SessionID == s.SessionID })
	if i < 0 || !list[i].StartTime.Equal(md.StartTime) || !list[i].CreatedAt.Equal(md.CreatedAt) {
		t.Fatalf("ListSessions entry %d vs %+v", i, md)
	}
	unknown, err := c.GetSessionMetadata(ctx, "no-such-session-4b1f")
	if err != nil || unknown != nil {
		t.Fatalf("unknown id: %+v %v", unknown, err)
	}

	events, err := s.GetEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	messages, err := s.GetMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(evs []SessionEvent) []string {
		out := make([]string, len(evs))
		for i, e := range evs {
			out[i] = e.ID + " " + e.Type
		}
		return out
	}
	if len(events) == 0 || !reflect.DeepEqual(ids(events), ids(messages)) {
		t.Fatalf("GetEvents %v\nGetMessages %v", ids(events), ids(messages))
	}
	if !slices.ContainsFunc(events, func(e SessionEvent) bool { return e.Type == "assistant.message" && e.Text() == "metadata" }) {
		t.Fatalf("GetEvents lacks the turn: %v", types(events))
	}
}

// OnLifecycle (method and ClientOptions option) is On: it sees a created session, and the
// method's unsubscribe stops it while the option's subscription goes on.
func TestOfficialOnLifecycle(t *testing.T) {
	ctx := ctxT(t)
	fromOption := make(chan SessionLifecycleEvent, 256)
	c := NewClient(&ClientOptions{
		Connection:  URIConnection{URL: sharedURL(), ConnectionToken: testToken},
		OnLifecycle: func(e SessionLifecycleEvent) { fromOption <- e },
	})
	t.Cleanup(func() { _ = c.Close() })
	fromMethod := make(chan SessionLifecycleEvent, 256)
	unsub := c.OnLifecycle(func(e SessionLifecycleEvent) { fromMethod <- e })
	created := func(ch chan SessionLifecycleEvent, id string) bool {
		deadline := time.After(30 * time.Second)
		for {
			select {
			case e := <-ch:
				if e.Type == "session.created" && e.SessionID == id {
					return true
				}
			case <-deadline:
				return false
			}
		}
	}
	s1, err := c.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	if !created(fromMethod, s1.SessionID) || !created(fromOption, s1.SessionID) {
		t.Fatal("no session.created through OnLifecycle")
	}
	unsub()
	s2, err := c.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	if !created(fromOption, s2.SessionID) {
		t.Fatal("the option's subscription stopped")
	}
	for len(fromMethod) > 0 {
		if e := <-fromMethod; e.SessionID == s2.SessionID {
			t.Fatalf("unsubscribed handler called: %+v", e)
		}
	}
	// A pool has no lifecycle subscription of its own: the option is refused there.
	if _, err := NewPool(PoolOptions{URLs: []string{sharedURL()}, Client: &ClientOptions{OnLifecycle: func(SessionLifecycleEvent) {}}}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("pool with OnLifecycle: %v", err)
	}
}
