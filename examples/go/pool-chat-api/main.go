// The chat API of the HA deployment, in Go: several instances of this server behind a load
// balancer, over a pool of CLI servers that share their state directory, with session leases in
// Redis. Any instance may get any request of a conversation: each request opens the session
// (taking its lease), runs the turn, and lets go of it.
//
//	POST /chat {"sessionId", "message"}
//	     -> {"sessionId", "content", "server", "leaseToken", "instance", "recovered"}
//	GET  /messages?sessionId=...  -> {"userMessages": [...]}
//	GET  /healthz                 -> ok
//	GET  /metrics                 -> the pool's counters (Prometheus text)
//
// Environment: PORT, COPILOT_POOL_URLS (comma-separated host:port), REDIS_URL,
// COPILOT_PROVIDER_URL (the BYOK model endpoint, e.g. http://127.0.0.1:8000/v1), INSTANCE (this
// instance's name, also its lease owner), LEASE_LOG (optional: a JSONL file that gets an
// `acquire` and a `release` record around every lease this instance holds).
//
//	go build -o pool-chat-api ./pool-chat-api && python3 ../../tests/ha/run.py --api "examples/go/pool-chat-api/pool-chat-api"
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"copilothub.dev/copilot"
)

func env(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

type api struct {
	pool     *copilot.Pool
	instance string
	leaseLog string
	logMu    sync.Mutex
	provider *copilot.ProviderConfig
}

func (a *api) config(sessionID string) *copilot.SessionConfig {
	return &copilot.SessionConfig{SessionID: sessionID, Model: "gpt-4.1", Provider: a.provider}
}

// logLease appends an acquire or release record (wall-clock nanoseconds) to LEASE_LOG.
func (a *api) logLease(event string, s *copilot.Session) {
	if a.leaseLog == "" {
		return
	}
	rec, _ := json.Marshal(map[string]any{
		"event": event, "sessionId": s.SessionID, "token": s.LeaseToken(), "t": time.Now().UnixNano(), "instance": a.instance,
	})
	a.logMu.Lock()
	defer a.logMu.Unlock()
	f, err := os.OpenFile(a.leaseLog, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		log.Printf("lease log: %v", err)
		return
	}
	defer f.Close()
	_, _ = f.Write(append(rec, '\n'))
}

func code(err error) string {
	var e *copilot.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// open opens a session (creating it on its first request) with its lease; it retries while
// the lease is held, no server is up, or a server is reconnecting.
func (a *api) open(ctx context.Context, sessionID string, create bool) (*copilot.Session, error) {
	deadline := time.Now().Add(60 * time.Second)
	delay := 100 * time.Millisecond
	for {
		s, err := a.pool.ResumeSession(ctx, sessionID, a.config(""))
		if err != nil && create && errors.Is(err, copilot.ErrSessionNotFound) {
			s, err = a.pool.CreateSession(ctx, a.config(sessionID))
		}
		if err == nil {
			a.logLease("acquire", s)
			return s, nil
		}
		var e *copilot.Error
		again := errors.As(err, &e) && (e.Retriable() || e.Code == copilot.CodeLeaseHeld || e.Code == copilot.CodeNoServer || e.Code == copilot.CodeReconnecting)
		if !again || time.Now().Add(delay).After(deadline) {
			return nil, err
		}
		time.Sleep(delay)
		delay = min(delay*2, time.Second)
	}
}

// close logs the release, then lets go of the session (and its lease).
func (a *api) close(s *copilot.Session) {
	a.logLease("release", s)
	_ = s.Disconnect()
}

// recoverable: the turn may or may not have run, or its server (or lease) went away.
func recoverable(err error) bool {
	var e *copilot.Error
	return errors.As(err, &e) && (e.Code == copilot.CodeTurnOutcomeUnknown || e.Code == copilot.CodeLeaseLost || e.Retriable())
}

func content(ev copilot.SessionEvent) (string, bool) {
	var d struct {
		Content *string `json:"content"`
	}
	if ev.Data.Get(&d) != nil || d.Content == nil {
		return "", false
	}
	return *d.Content, true
}

// outcome says what the history holds for message: "absent", "answered" (with the answer) or
// "unanswered".
func outcome(events []copilot.SessionEvent, message string) (string, string) {
	at := -1
	for i := len(events) - 1; i >= 0; i-- {
		if c, ok := content(events[i]); ok && events[i].Type == "user.message" && c == message {
			at = i
			break
		}
	}
	if at < 0 {
		return "absent", ""
	}
	answered, answer := false, ""
	for _, e := range events[at+1:] {
		c, _ := content(e)
		if e.Type == "user.message" && !strings.HasPrefix(c, "[continue] ") {
			break
		}
		if e.Type == "assistant.message" && e.AgentID == "" {
			answered, answer = true, c
		}
	}
	if !answered {
		return "unanswered", ""
	}
	return "answered", answer
}

type chatResult struct {
	SessionID  string `json:"sessionId"`
	Content    string `json:"content"`
	Server     string `json:"server"`
	LeaseToken uint64 `json:"leaseToken"`
	Instance   string `json:"instance"`
	Recovered  any    `json:"recovered"`
}

func (a *api) chat(ctx context.Context, sessionID, message string) (*chatResult, error) {
	s, err := a.open(ctx, sessionID, true)
	if err != nil {
		return nil, err
	}
	defer func() {
		if s != nil {
			a.close(s)
		}
	}()
	prompt := message
	var recovered any = false
	result := func(text string) *chatResult {
		return &chatResult{SessionID: sessionID, Content: text, Server: s.Server(), LeaseToken: s.LeaseToken(), Instance: a.instance, Recovered: recovered}
	}
	for attempt := 1; ; attempt++ {
		ev, err := s.SendAndWait(ctx, copilot.MessageOptions{Prompt: prompt, Timeout: 120 * time.Second})
		if err == nil {
			text := ""
			if ev != nil {
				text, _ = content(*ev)
			}
			return result(text), nil
		}
		if !recoverable(err) || attempt >= 5 {
			return nil, err
		}
		// The server went away during the turn: let go, open the session again (the pool
		// places it on a healthy server) and look at what the history says.
		a.close(s)
		if s, err = a.open(ctx, sessionID, false); err != nil {
			// Nothing to close any more.
			s = nil
			return nil, err
		}
		events, err := s.GetMessages(ctx)
		if err != nil {
			return nil, err
		}
		state, answer := outcome(events, message)
		switch state {
		case "answered":
			recovered = "answered"
			return result(answer), nil
		case "absent":
			prompt, recovered = message, "resent"
		default:
			prompt, recovered = "[continue] "+message, "continued"
		}
	}
}

func (a *api) userMessages(ctx context.Context, sessionID string) ([]string, error) {
	s, err := a.open(ctx, sessionID, false)
	if err != nil {
		return nil, err
	}
	defer a.close(s)
	events, err := s.GetMessages(ctx)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, e := range events {
		if c, ok := content(e); ok && e.Type == "user.message" {
			out = append(out, c)
		}
	}
	return out, nil
}

func reply(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (a *api) fail(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	if code(err) == copilot.CodeInvalidConfig {
		status = http.StatusBadRequest
	}
	reply(w, status, map[string]any{"error": err.Error(), "code": code(err), "instance": a.instance})
}

func main() {
	instance := env("INSTANCE", fmt.Sprintf("api-%d", os.Getpid()))
	// The core's warnings (a server lost, a session moved, a lease lost) on stderr.
	_ = copilot.SetLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("instance", instance))
	pool, err := copilot.NewPool(copilot.PoolOptions{
		URLs:           strings.Split(env("COPILOT_POOL_URLS", "127.0.0.1:4321"), ","),
		HealthInterval: time.Second,
		Lease:          &copilot.LeaseOptions{RedisURL: env("REDIS_URL", "redis://127.0.0.1:6379"), Owner: instance},
	})
	if err != nil {
		log.Fatal(err)
	}
	a := &api{
		pool: pool, instance: instance, leaseLog: os.Getenv("LEASE_LOG"),
		provider: &copilot.ProviderConfig{Type: "openai", BaseURL: env("COPILOT_PROVIDER_URL", "http://127.0.0.1:8000/v1"), APIKey: "x"},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /chat", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			SessionID *string `json:"sessionId"`
			Message   *string `json:"message"`
		}
		if json.NewDecoder(r.Body).Decode(&body) != nil || body.SessionID == nil || body.Message == nil {
			reply(w, http.StatusBadRequest, map[string]any{"error": "sessionId and message are required"})
			return
		}
		res, err := a.chat(r.Context(), *body.SessionID, *body.Message)
		if err != nil {
			a.fail(w, err)
			return
		}
		reply(w, http.StatusOK, res)
	})
	mux.HandleFunc("GET /messages", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("sessionId")
		if id == "" {
			reply(w, http.StatusBadRequest, map[string]any{"error": "sessionId is required"})
			return
		}
		m, err := a.userMessages(r.Context(), id)
		if err != nil {
			a.fail(w, err)
			return
		}
		reply(w, http.StatusOK, map[string]any{"userMessages": m})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(pool.MetricsPrometheus()))
	})

	// Sessions are opened per request: start the pool now so that the first request does not
	// pay for it (it succeeds as soon as one server answers).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if err := pool.Start(ctx); err != nil {
		log.Printf("%s: no CLI server answered yet (%v); retrying in the background", instance, err)
	}
	cancel()

	l, err := net.Listen("tcp", "127.0.0.1:"+env("PORT", "3000"))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	fmt.Printf("listening on %d\n", l.Addr().(*net.TCPAddr).Port)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	_ = pool.Close()
}
