package copilot

/*
#include <stdint.h>
#include <stdlib.h>
#include "copilot.h"
*/
import "C"

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// PoolOptions says which running CLI servers a Pool uses and how.
type PoolOptions struct {
	// URLs of the servers ("host:port"). Every backend instance must list the same servers,
	// spelled the same way: the spelling is what places sessions.
	URLs []string
	// HealthInterval is how often a server that is down is tried again (0: 2 s).
	HealthInterval time.Duration
	// Lease, when set, keeps two instances from driving one session at once (a lease in Redis).
	Lease *LeaseOptions
	// Client holds the options of every server's client: ConnectionToken, RequestTimeout,
	// Reconnect, HeartbeatInterval, StartTimeout, … (CLIUrl, CLIPath, Port, UseStdio, Env and
	// Cwd are refused: a pool connects to running servers).
	Client *ClientOptions
}

// LeaseOptions configures session leases in Redis.
type LeaseOptions struct {
	// RedisURL is redis://[user:password@]host:port[/db] (required).
	RedisURL string
	// TTL is how long a lease lasts without renewal (0: 30 s); it is renewed every third of it
	// while the session is open.
	TTL time.Duration
	// Wait is how long opening a session waits for another holder to let go before
	// ErrLeaseHeld (0: 30 s; Off: fail at once).
	Wait time.Duration
	// Owner names this instance in the store (default: host name, pid and a random part).
	Owner string
	// KeyPrefix of the Redis keys (default "copilot:lease:").
	KeyPrefix string
}

func (o PoolOptions) toJSON() (string, error) {
	m := map[string]any{}
	if o.Client != nil {
		if o.Client.OnLifecycle != nil {
			return "", configError("pool option Client.OnLifecycle: a pool has no lifecycle subscription of its own")
		}
		cm, err := o.Client.toMap()
		if err != nil {
			return "", err
		}
		m = cm
	}
	if o.URLs != nil {
		m["urls"] = o.URLs
	}
	seconds(m, "healthInterval", o.HealthInterval)
	if l := o.Lease; l != nil {
		lm := map[string]any{"redisUrl": l.RedisURL}
		seconds(lm, "ttl", l.TTL)
		seconds(lm, "wait", l.Wait)
		if l.Owner != "" {
			lm["owner"] = l.Owner
		}
		if l.KeyPrefix != "" {
			lm["keyPrefix"] = l.KeyPrefix
		}
		m["lease"] = lm
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// CleanupOptions says which stored sessions CleanupSessions and reapers delete: those started
// longer ago than MaxAge, or unchanged for longer than MaxIdle (at least one is required).
type CleanupOptions struct {
	MaxAge  time.Duration
	MaxIdle time.Duration
	// IncludeOpen also deletes sessions open on this client or pool (disconnected first).
	IncludeOpen bool
}

func (o CleanupOptions) toJSON() string {
	m := map[string]any{}
	if o.MaxAge != 0 {
		m["maxAge"] = o.MaxAge.Seconds() // negative: refused by the library
	}
	if o.MaxIdle != 0 {
		m["maxIdle"] = o.MaxIdle.Seconds()
	}
	if o.IncludeOpen {
		m["includeOpen"] = true
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// ServerState is one server of a pool as Pool.Servers reports it.
type ServerState struct {
	URL          string `json:"url"`
	Healthy      bool   `json:"healthy"`
	Draining     bool   `json:"draining"`
	OpenSessions int    `json:"openSessions"`
}

// ClientMetrics are the counters of one client (one CLI server).
type ClientMetrics struct {
	Calls            uint64            `json:"calls"`
	Errors           map[string]uint64 `json:"errors"`
	Reconnects       uint64            `json:"reconnects"`
	ConnectionLosses uint64            `json:"connectionLosses"`
	FailoversIn      uint64            `json:"failoversIn"`
	FailoversOut     uint64            `json:"failoversOut"`
	OpenSessions     int               `json:"openSessions"`
	Turns            TurnHistogram     `json:"turns"`
}

// TurnHistogram is the latency histogram of answered SendAndWait turns.
type TurnHistogram struct {
	Count      uint64  `json:"count"`
	SumSeconds float64 `json:"sumSeconds"`
	// Buckets are cumulative; the last one's Le is "+Inf".
	Buckets []HistogramBucket `json:"buckets"`
}

// HistogramBucket counts the turns that took at most Le seconds (Le "+Inf": all of them).
type HistogramBucket struct {
	Le    json.Number `json:"le"`
	Count uint64      `json:"count"`
}

// UnmarshalJSON reads a bucket whose "le" is a number or the string "+Inf".
func (b *HistogramBucket) UnmarshalJSON(data []byte) error {
	var w struct {
		Le    any    `json:"le"`
		Count uint64 `json:"count"`
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&w); err != nil {
		return err
	}
	switch le := w.Le.(type) {
	case json.Number:
		b.Le = le
	case string:
		b.Le = json.Number(le)
	}
	b.Count = w.Count
	return nil
}

// ServerMetrics are one pool server's state and client counters.
type ServerMetrics struct {
	URL      string `json:"url"`
	Healthy  bool   `json:"healthy"`
	Draining bool   `json:"draining"`
	ClientMetrics
}

// PoolMetrics are a pool's counters: per server, and for the pool.
type PoolMetrics struct {
	Servers         []ServerMetrics `json:"servers"`
	Failovers       uint64          `json:"failovers"`
	LeasesAcquired  uint64          `json:"leasesAcquired"`
	LeasesLost      uint64          `json:"leasesLost"`
	LeaseWaits      uint64          `json:"leaseWaits"`
	Reaped          uint64          `json:"reaped"`
	PlacementErrors uint64          `json:"placementErrors"`
	OpenSessions    int             `json:"openSessions"`
	HealthyServers  int             `json:"healthyServers"`
}

// Pool uses several running CLI servers as one: each session is placed on the first healthy,
// undrained server of its rendezvous ranking (every instance with the same URLs places alike),
// continues on the next server when its server is lost (the servers share their state
// directory), moves at its next prompt when its server is drained or its preferred server came
// back, and optionally holds a lease in Redis while open. Safe for concurrent use.
type Pool struct {
	*poolCore
}

type poolCore struct {
	mu       sync.RWMutex
	h        *C.CopilotPool
	freed    bool
	sessions map[*sessionCore]struct{}
	// trace is Client.OnGetTraceContext of the options.
	trace TraceContextProvider
}

// NewPool creates a pool; nothing connects until Start or the first call. Invalid options are
// an *Error with Code CodeInvalidConfig.
func NewPool(options PoolOptions) (*Pool, error) {
	text, err := options.toJSON()
	if err != nil {
		return nil, err
	}
	o := cstr(text)
	defer freeC(o)
	var h *C.CopilotPool
	if _, err := startLocked(func() C.CopilotStatus { return C.copilot_pool_new(o, &h) }); err != nil {
		return nil, err
	}
	p := &Pool{&poolCore{h: h, sessions: map[*sessionCore]struct{}{}}}
	if options.Client != nil {
		p.trace = options.Client.OnGetTraceContext
	}
	runtime.SetFinalizer(p, func(p *Pool) { p.poolCore.free() })
	return p, nil
}

func (p *poolCore) usable() error {
	if p.freed {
		return &Error{Status: 18, Code: CodeNotConnected, Message: "the pool was closed"}
	}
	return nil
}

// do runs one asynchronous pool call.
func (p *poolCore) do(ctx context.Context, f func(h *C.CopilotPool, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus) (json.RawMessage, error) {
	return call(ctx, nil, func(cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) (C.CopilotStatus, error) {
		p.mu.RLock()
		defer p.mu.RUnlock()
		if err := p.usable(); err != nil {
			return -1, err
		}
		return startLocked(func() C.CopilotStatus { return f(p.h, cb, ud, out) })
	})
}

// sync runs a synchronous pool function under the read lock.
func (p *poolCore) sync(f func(h *C.CopilotPool) C.CopilotStatus) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if err := p.usable(); err != nil {
		return err
	}
	_, err := startLocked(func() C.CopilotStatus { return f(p.h) })
	return err
}

// text reads an owned string the library returns for the pool ("" when closed).
func (p *poolCore) text(f func(h *C.CopilotPool) *C.char) string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.usable() != nil {
		return ""
	}
	return takeString(f(p.h))
}

func (p *poolCore) freeSessions() {
	p.mu.Lock()
	list := make([]*sessionCore, 0, len(p.sessions))
	for s := range p.sessions {
		list = append(list, s)
	}
	p.sessions = map[*sessionCore]struct{}{}
	p.mu.Unlock()
	for _, s := range list {
		s.free()
	}
}

func (p *poolCore) free() {
	p.freeSessions()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.freed {
		return
	}
	C.copilot_pool_free(p.h) // pending calls complete (cancelled) before this returns
	p.h = nil
	p.freed = true
}

// Start connects to every server and starts watching them. It succeeds when at least one
// server answers (ErrNoServer otherwise); the others are tried again in the background.
// Idempotent.
func (p *Pool) Start(ctx context.Context) error {
	_, err := p.do(ctx, func(h *C.CopilotPool, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_pool_start(h, cb, ud, out)
	})
	return err
}

// Stop releases every lease, detaches every session (their Session values stop working) and
// disconnects from every server. The pool can be started again.
func (p *Pool) Stop(ctx context.Context) error {
	_, err := p.do(ctx, func(h *C.CopilotPool, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_pool_stop(h, cb, ud, out)
	})
	p.freeSessions()
	return err
}

// Close stops the pool and releases it (its reapers stop); it cannot be used afterwards. A
// pool that is only dropped is released by the garbage collector (stopped in the background).
func (p *Pool) Close() error {
	err := p.Stop(context.Background())
	p.free()
	return err
}

// CreateSession creates a session on its server (taking its lease first when the pool has
// PoolOptions.Lease): ErrLeaseHeld when another instance holds it beyond LeaseOptions.Wait,
// ErrNoServer when no server is reachable. The Session works like a client's; a prompt first
// moves it to the server it belongs on now; every call fails with ErrLeaseLost once its lease
// was lost. Disconnect releases the lease.
func (p *Pool) CreateSession(ctx context.Context, config *SessionConfig) (*Session, error) {
	return openSession(ctx, p.poolCore, p, nil, config)
}

// ResumeSession opens a stored session on its server (taking its lease first); pass the
// provider again in config. ErrSessionNotFound when no server has it.
func (p *Pool) ResumeSession(ctx context.Context, sessionID string, config *SessionConfig) (*Session, error) {
	return openSession(ctx, p.poolCore, p, &sessionID, config)
}

func (p *poolCore) open(ctx context.Context, rid, cfg *C.char, onEvent C.CopilotEventCallback, onRequest C.CopilotRequestCallback, sud unsafe.Pointer, sh **C.CopilotSession) (json.RawMessage, error) {
	return p.do(ctx, func(h *C.CopilotPool, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		if rid != nil {
			return C.copilot_pool_resume_session(h, rid, cfg, onEvent, onRequest, sud, cb, ud, sh, out)
		}
		return C.copilot_pool_create_session(h, cfg, onEvent, onRequest, sud, cb, ud, sh, out)
	})
}

func (p *poolCore) traceHook() TraceContextProvider { return p.trace }

func (p *poolCore) adopt(sc *sessionCore) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.usable(); err != nil {
		return err
	}
	p.sessions[sc] = struct{}{}
	return nil
}

func (p *poolCore) forget(sc *sessionCore) {
	p.mu.Lock()
	delete(p.sessions, sc)
	p.mu.Unlock()
}

// ListSessions lists the sessions stored by the servers, each once (filter may be nil).
func (p *Pool) ListSessions(ctx context.Context, filter *SessionListFilter) ([]SessionMetadata, error) {
	var f *C.char
	if filter != nil {
		b, _ := json.Marshal(filter)
		f = cstr(string(b))
		defer freeC(f)
	}
	return decode[[]SessionMetadata](p.do(ctx, func(h *C.CopilotPool, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_pool_list_sessions(h, f, cb, ud, out)
	}))
}

// DeleteSession removes a stored session (ErrSessionNotFound when it does not exist); this
// pool's lease on it is released first.
func (p *Pool) DeleteSession(ctx context.Context, sessionID string) error {
	id := cstr(sessionID)
	defer freeC(id)
	_, err := p.do(ctx, func(h *C.CopilotPool, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_pool_delete_session(h, id, cb, ud, out)
	})
	return err
}

// CleanupSessions is Client.CleanupSessions across the pool: never a session open on this
// pool unless IncludeOpen, never one whose lease another instance holds.
func (p *Pool) CleanupSessions(ctx context.Context, options CleanupOptions) ([]SessionMetadata, error) {
	o := cstr(options.toJSON())
	defer freeC(o)
	return decode[[]SessionMetadata](p.do(ctx, func(h *C.CopilotPool, cb C.CopilotCallback, ud unsafe.Pointer, out *C.uint64_t) C.CopilotStatus {
		return C.copilot_pool_cleanup_sessions(h, o, cb, ud, out)
	}))
}

// Drain stops placing sessions on the server url; its open sessions move to their next server
// at their next prompt. A rolling restart: Drain, wait until Servers shows no open session
// there, restart the server, Undrain.
func (p *Pool) Drain(url string) error {
	u := cstr(url)
	defer freeC(u)
	return p.sync(func(h *C.CopilotPool) C.CopilotStatus { return C.copilot_pool_drain(h, u) })
}

// Undrain places sessions on the server url again.
func (p *Pool) Undrain(url string) error {
	u := cstr(url)
	defer freeC(u)
	return p.sync(func(h *C.CopilotPool) C.CopilotStatus { return C.copilot_pool_undrain(h, u) })
}

// Servers reports every server's state, in the order of PoolOptions.URLs.
func (p *Pool) Servers() []ServerState {
	var out []ServerState
	_ = json.Unmarshal([]byte(p.text(func(h *C.CopilotPool) *C.char { return C.copilot_pool_servers(h) })), &out)
	return out
}

// Ranking lists the servers ranked for a session id: the first is where it is placed while
// healthy and not drained.
func (p *Pool) Ranking(sessionID string) []string {
	id := cstr(sessionID)
	defer freeC(id)
	var out []string
	_ = json.Unmarshal([]byte(p.text(func(h *C.CopilotPool) *C.char { return C.copilot_pool_ranking(h, id) })), &out)
	return out
}

// Metrics returns the pool's counters.
func (p *Pool) Metrics() PoolMetrics {
	var m PoolMetrics
	_ = json.Unmarshal([]byte(p.text(func(h *C.CopilotPool) *C.char { return C.copilot_pool_metrics(h) })), &m)
	return m
}

// MetricsPrometheus returns the pool's counters in the Prometheus text format (per server,
// labelled server="<url>", and for the pool).
func (p *Pool) MetricsPrometheus() string {
	return p.text(func(h *C.CopilotPool) *C.char { return C.copilot_pool_metrics_prometheus(h) })
}

// ReaperSweep is the outcome of one background sweep: the ids it deleted, or its error.
type ReaperSweep struct {
	Deleted []string
	Err     error
}

// StartReaper runs CleanupSessions every interval (the first sweep at once) until the reaper
// is stopped or the pool closed. onSweep (may be nil) hears every sweep, in order, on a
// goroutine of the reaper's.
func (p *Pool) StartReaper(interval time.Duration, options CleanupOptions, onSweep func(ReaperSweep)) (*Reaper, error) {
	o := cstr(options.toJSON())
	defer freeC(o)
	var sink *sweepSink
	var handle cgo.Handle
	var cb C.CopilotEventCallback
	var ud unsafe.Pointer
	if onSweep != nil {
		sink = &sweepSink{q: newSerialQueue(), fn: onSweep}
		handle = cgo.NewHandle(pusher(sink))
		cb, ud = subscriptionCallback(), handlePtr(handle)
	}
	var rh *C.CopilotReaper
	err := p.sync(func(h *C.CopilotPool) C.CopilotStatus {
		return C.copilot_pool_start_reaper(h, C.double(interval.Seconds()), o, cb, ud, &rh)
	})
	if err != nil {
		if sink != nil {
			handle.Delete()
			sink.q.close()
		}
		return nil, err
	}
	r := newReaper(rh, sink)
	r.handle = handle
	return r, nil
}

// sweepSink receives a pool reaper's sweeps on the callback thread.
type sweepSink struct {
	q  *serialQueue
	fn func(ReaperSweep)
	// stopped drops the sweeps still queued when the reaper stops.
	stopped atomic.Bool
}

func (s *sweepSink) push(js string) {
	s.q.push(func() {
		if s.stopped.Load() {
			return
		}
		var w struct {
			Deleted []string `json:"deleted"`
			Error   *string  `json:"error"`
			Code    string   `json:"code"`
			Status  int      `json:"status"`
		}
		if json.Unmarshal([]byte(js), &w) != nil {
			return
		}
		sw := ReaperSweep{Deleted: w.Deleted}
		if w.Error != nil {
			sw.Err = &Error{Status: w.Status, Code: w.Code, Message: *w.Error}
		}
		safeCall(s.fn, sw)
	})
}

// Reaper is a background reaper (Client.StartReaper, Pool.StartReaper).
type Reaper struct {
	mu     sync.Mutex
	h      *C.CopilotReaper
	sink   *sweepSink
	handle cgo.Handle
}

func newReaper(h *C.CopilotReaper, sink *sweepSink) *Reaper {
	r := &Reaper{h: h, sink: sink}
	runtime.SetFinalizer(r, func(r *Reaper) { r.Stop() })
	return r
}

// Stop stops the reaper (a sweep in progress is abandoned); onSweep is not called after it
// returns (unless Stop was called from onSweep itself, which is still running). Idempotent.
func (r *Reaper) Stop() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h == nil {
		return
	}
	C.copilot_reaper_free(r.h) // no sweep callback starts after this returns
	r.h = nil
	if r.sink != nil {
		r.sink.stopped.Store(true)
		r.handle.Delete()
		r.sink.q.close()
	}
}
