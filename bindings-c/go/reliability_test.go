package copilot

// Surviving the CLI, against the real CLI (ported from core/tests/reliability.rs): a CLI killed
// and started again on the same port (idle and mid-turn), a hung CLI (SIGSTOP), a lossy TCP
// proxy (tests/chaos), a spawned CLI that dies (restart budget), kill/restart cycles that must
// not leak, hostile peers, cancellation reaching a Go handler's context, and the new options.
// Every wait is bounded.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------------------------
// Helpers: an external CLI, copilot-chaos, lifecycle and resource watching

// externalCLI is a CLI server the tests run themselves (`--headless --port N`, isolated HOME
// and working directory), so it can be killed, stopped and started again on the same port.
type externalCLI struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
	home string
	work string
}

// theExternalCLI is shared by the tests that use one (starting a CLI costs seconds); each test
// leaves it running (its cleanup restarts it if needed); TestMain stops it.
var theExternalCLI *externalCLI

// externalServer is the shared external CLI, started on first use, running and not stopped.
func externalServer(t *testing.T) *externalCLI {
	t.Helper()
	if theExternalCLI == nil {
		dir, err := os.MkdirTemp("", "copilot-go-external-")
		if err != nil {
			t.Fatal(err)
		}
		e := &externalCLI{home: filepath.Join(dir, "home"), work: filepath.Join(dir, "work")}
		for _, d := range []string{e.home, e.work} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		e.t, e.port = t, freePort(t)
		e.launch()
		theExternalCLI = e
	}
	e := theExternalCLI
	e.t = t
	t.Cleanup(func() {
		e.signal(syscall.SIGCONT)
		if e.cmd == nil {
			e.launch()
		}
	})
	return e
}

// stopExternalServer ends the shared external CLI (TestMain).
func stopExternalServer() {
	if e := theExternalCLI; e != nil {
		e.signal(syscall.SIGCONT)
		e.kill()
		_ = os.RemoveAll(filepath.Dir(e.home))
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// launch starts the server on e.port and waits for its announcement; stdout is drained after.
func (e *externalCLI) launch() {
	e.t.Helper()
	cmd := exec.Command(cliPath, "--headless", "--no-auto-update", "--port", strconv.Itoa(e.port))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COPILOT_") && !strings.HasPrefix(kv, "HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HOME="+e.home)
	cmd.Dir = e.work
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.cmd = cmd
	ready := make(chan bool, 1)
	go func() {
		r := bufio.NewReader(out)
		announced := false
		for {
			line, err := r.ReadString('\n')
			if !announced && strings.Contains(line, "listening on port") {
				announced = true
				ready <- true
			}
			if err != nil {
				if !announced {
					ready <- false
				}
				return
			}
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			e.t.Fatal("the CLI exited before listening")
		}
	case <-time.After(60 * time.Second):
		e.t.Fatal("the CLI did not announce its port")
	}
}

func (e *externalCLI) signal(sig syscall.Signal) {
	if e.cmd != nil && e.cmd.Process != nil {
		_ = e.cmd.Process.Signal(sig)
	}
}

// stop sends SIGSTOP and waits until every thread of the CLI is stopped (the signal is
// asynchronous).
func (e *externalCLI) stop(t *testing.T) {
	t.Helper()
	e.signal(syscall.SIGSTOP)
	pid := e.cmd.Process.Pid
	stopped := func() bool {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return false
		}
		for _, task := range tasks {
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
			i := strings.LastIndex(string(stat), ") ")
			if err != nil || i < 0 || i+2 >= len(stat) || (stat[i+2] != 'T' && stat[i+2] != 't') {
				return false
			}
		}
		return true
	}
	for end := time.Now().Add(5 * time.Second); !stopped(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the CLI (%d) did not stop", pid)
		}
	}
}

// kill sends SIGKILL and reaps the process.
func (e *externalCLI) kill() {
	if e.cmd == nil {
		return
	}
	e.signal(syscall.SIGKILL)
	_ = e.cmd.Wait()
	e.cmd = nil
}

// restart starts a new server on the same port.
func (e *externalCLI) restart() {
	e.kill()
	e.launch()
}

// chaos is a running copilot-chaos (proxy or peer), driven over its stdin.
type chaos struct {
	t    *testing.T
	port int
	in   io.WriteCloser
	out  *bufio.Reader
}

func startChaos(t *testing.T, args ...string) *chaos {
	t.Helper()
	bin := os.Getenv("COPILOT_CHAOS_PATH")
	if bin == "" {
		bin = filepath.Join(repoRoot(), "target", "debug", "copilot-chaos")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("copilot-chaos is not built (cargo build -p copilot-chaos): %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = in.Close() // EOF ends it
		_ = cmd.Wait()
	})
	c := &chaos{t: t, in: in, out: bufio.NewReader(out)}
	line, err := c.out.ReadString('\n')
	if _, serr := fmt.Sscanf(line, "listening on port %d", &c.port); err != nil || serr != nil {
		t.Fatalf("copilot-chaos said %q (%v)", line, err)
	}
	return c
}

// send runs one command and checks its "ok" answer.
func (c *chaos) send(command string) {
	c.t.Helper()
	if _, err := fmt.Fprintln(c.in, command); err != nil {
		c.t.Fatal(err)
	}
	line, err := c.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ok "+command) {
		c.t.Fatalf("copilot-chaos %q answered %q (%v)", command, line, err)
	}
}

// connectionWatch collects a client's connection notifications.
type connectionWatch struct {
	ch chan SessionLifecycleEvent
}

func watchConnection(t *testing.T, c *Client) *connectionWatch {
	w := &connectionWatch{ch: make(chan SessionLifecycleEvent, 4096)}
	stop := c.On(func(ev SessionLifecycleEvent) {
		if _, ok := ev.Connection(); ok {
			w.ch <- ev
		}
	})
	t.Cleanup(stop)
	return w
}

// next waits for the next notification of this type (skipping others) and decodes it.
func (w *connectionWatch) next(t *testing.T, typ string, within time.Duration) ConnectionDetails {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev := <-w.ch:
			if ev.Type != typ {
				continue
			}
			if ev.SessionID != "" {
				t.Errorf("%s: sessionId %q", typ, ev.SessionID)
			}
			d, ok := ev.Connection()
			if !ok || len(ev.Metadata) == 0 {
				t.Fatalf("%s without details: %s", typ, ev.Metadata)
			}
			return d
		case <-deadline:
			t.Fatalf("no %s within %v", typ, within)
		}
	}
}

func fastReconnect() *ReconnectOptions {
	return &ReconnectOptions{InitialDelay: 50 * time.Millisecond, MaxDelay: 300 * time.Millisecond, MaxAttempts: 200, CallWait: 20 * time.Second}
}

func urlOptions(port int) *ClientOptions {
	return &ClientOptions{CLIUrl: fmt.Sprintf("127.0.0.1:%d", port), Reconnect: fastReconnect(), StartTimeout: 5 * time.Second}
}

func echoTool() Tool {
	return Tool{
		Name: "echo_tool", Description: "Echoes",
		Parameters: map[string]any{"type": "object", "properties": map[string]any{"v": map[string]any{"type": "string"}}},
		Handler: func(inv ToolInvocation) (any, error) {
			return "echoed " + string(inv.Arguments), nil
		},
	}
}

// answer runs one turn and returns its text.
func answer(t *testing.T, s *Session, prompt string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ev, err := s.SendAndWait(ctx, MessageOptions{Prompt: prompt, Timeout: 60 * time.Second})
	if err != nil {
		t.Fatalf("%s: %v", prompt, err)
	}
	return ev.Text()
}

// hangTurn starts a turn that never ends and waits until it has started; the channel gets its
// error and the moment it failed.
type turnResult struct {
	err error
	at  time.Time
}

func hangTurn(t *testing.T, s *Session, rec *recorder) chan turnResult {
	t.Helper()
	for len(rec.ch) > 0 { // the events of earlier turns
		<-rec.ch
	}
	done := make(chan turnResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_, err := s.SendAndWait(ctx, MessageOptions{Prompt: "HANG", Timeout: 2 * time.Minute})
		done <- turnResult{err, time.Now()}
	}()
	rec.waitFor(t, ofType("assistant.turn_start"))
	return done
}

func waitTurn(t *testing.T, done chan turnResult) turnResult {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(15 * time.Second):
		t.Fatal("SendAndWait hung after the connection was lost")
		return turnResult{}
	}
}

func wantCode(t *testing.T, what string, err error, code string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("%s: want %s, got %v", what, code, err)
	}
	return e
}

// resources: open descriptors, threads and resident memory (KiB) of this process.
type resources struct {
	fds, threads int
	rssKiB       int64
}

func measure() resources {
	var r resources
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		r.fds = len(ents)
	}
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "Threads:":
			r.threads, _ = strconv.Atoi(f[1])
		case "VmRSS:":
			r.rssKiB, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return r
}

func (r resources) String() string {
	return fmt.Sprintf("fds %d, threads %d, RSS %d KiB", r.fds, r.threads, r.rssKiB)
}

func pidAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

func waitDead(pid int, within time.Duration) bool {
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if !pidAlive(pid) {
			return true
		}
	}
	return !pidAlive(pid)
}

// ---------------------------------------------------------------------------------------------
// 1. The CLI killed and started again on the same port, idle and mid-turn

func TestReliabilityCLIRestartedOnTheSamePort(t *testing.T) {
	ctx := ctxT(t)
	cli := externalServer(t)
	c := NewClient(urlOptions(cli.port))
	defer c.Close()
	life := watchConnection(t, c)
	cfg := config()
	cfg.Tools = []Tool{echoTool()} // its own tool: approved without a permission handler
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	answers := make(chan string, 16)
	s.OnType("assistant.message", func(ev SessionEvent) { answers <- ev.Text() })
	rec := newRecorder()
	s.On(rec.add)
	if got := answer(t, s, "REPLY one"); got != "one" {
		t.Fatalf("answer %q", got)
	}
	if got := <-answers; got != "one" {
		t.Fatalf("subscription saw %q", got)
	}

	// Killed while idle, started again on the same port.
	cli.kill()
	if d := life.next(t, ConnectionLost, 5*time.Second); d.Code != CodeTransportClosed {
		t.Fatalf("lost: %+v", d)
	}
	if d := life.next(t, ConnectionReconnecting, 5*time.Second); d.Attempt < 1 || d.MaxAttempts != 200 {
		t.Fatalf("reconnecting: %+v", d)
	}
	// A call made while reconnecting waits for the connection (CallWait).
	waiting := make(chan error, 1)
	go func() {
		p, err := c.Ping(ctx, "during")
		if err == nil && !strings.Contains(p.Message, "during") {
			err = fmt.Errorf("pong %q", p.Message)
		}
		waiting <- err
	}()
	cli.restart()
	if d := life.next(t, ConnectionRestored, 30*time.Second); d.SessionsResumed != 1 || d.Restarted || d.Attempts < 1 {
		t.Fatalf("restored: %+v", d)
	}
	if err := <-waiting; err != nil {
		t.Fatalf("the ping made while reconnecting: %v", err)
	}
	if got := answer(t, s, "REPLY two"); got != "two" {
		t.Fatalf("answer %q", got)
	}
	if got := <-answers; got != "two" {
		t.Fatalf("the subscription made before did not survive: %q", got)
	}
	if got := answer(t, s, `CALL echo_tool {"v":"x"}`); !strings.Contains(got, "echoed") {
		t.Fatalf("own tool after the restart: %q", got)
	}

	// Killed mid-turn: the waiting SendAndWait fails at once with turn_outcome_unknown.
	done := hangTurn(t, s, rec)
	killed := time.Now()
	cli.kill()
	r := waitTurn(t, done)
	e := wantCode(t, "mid-turn kill", r.err, CodeTurnOutcomeUnknown)
	if !strings.Contains(e.Message, s.SessionID) || !errors.Is(r.err, ErrTurnOutcomeUnknown) {
		t.Fatalf("%v", e)
	}
	took := r.at.Sub(killed)
	t.Logf("mid-turn kill: SendAndWait failed %v after the kill", took)
	if took > time.Second {
		t.Fatalf("took %v", took)
	}
	cli.restart()
	life.next(t, ConnectionRestored, 30*time.Second)
	if got := answer(t, s, "REPLY three"); got != "three" {
		t.Fatalf("answer %q", got)
	}
}

// ---------------------------------------------------------------------------------------------
// 2. A hung CLI (SIGSTOP) is declared dead by the heartbeat

func TestReliabilityHungCLIHeartbeat(t *testing.T) {
	ctx := ctxT(t)
	cli := externalServer(t)
	o := urlOptions(cli.port)
	o.HeartbeatInterval = 500 * time.Millisecond
	o.HeartbeatTimeout = time.Second
	o.StartTimeout = 2 * time.Second
	c := NewClient(o)
	defer c.Close()
	if _, err := c.Ping(ctx, ""); err != nil {
		t.Fatal(err)
	}
	cli.stop(t)
	started := time.Now()
	// No per-call deadline: only the heartbeat can end this call.
	_, err := c.CallWithTimeout(ctx, "session.list", nil, 0)
	took := time.Since(started)
	t.Logf("SIGSTOP detected after %v: %v", took, err)
	e := wantCode(t, "hung CLI", err, CodeTimeout)
	if !e.Retriable() {
		t.Fatalf("a heartbeat timeout is retriable: %+v", e)
	}
	if took > 3*time.Second {
		t.Fatalf("took %v", took)
	}
	cli.signal(syscall.SIGCONT)
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := c.Ping(ctx, "back")
		if err == nil {
			if !strings.Contains(p.Message, "back") {
				t.Fatalf("pong %q", p.Message)
			}
			break
		}
		var e *Error
		if !errors.As(err, &e) || !e.Retriable() || time.Now().After(deadline) {
			t.Fatalf("the client did not recover: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------------------------
// 3. A lossy TCP proxy between the client and the CLI

func TestReliabilityThroughAChaosProxy(t *testing.T) {
	ctx := ctxT(t)
	cli := externalServer(t)
	proxy := startChaos(t, "proxy", "--target", strconv.Itoa(cli.port))
	o := urlOptions(proxy.port)
	o.HeartbeatInterval = 500 * time.Millisecond
	o.HeartbeatTimeout = time.Second
	o.Reconnect.CallWait = 500 * time.Millisecond
	c := NewClient(o)
	defer c.Close()
	life := watchConnection(t, c)
	s, err := c.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	s.On(rec.add)
	if got := answer(t, s, "REPLY a"); got != "a" {
		t.Fatalf("answer %q", got)
	}

	// reset while a call waits for its answer: transport_closed, then the client reconnects.
	proxy.send("blackhole")
	pending := make(chan error, 1)
	go func() {
		_, err := c.CallWithTimeout(ctx, "session.list", nil, 10*time.Second)
		pending <- err
	}()
	time.Sleep(200 * time.Millisecond)
	proxy.send("reset")
	proxy.send("pass")
	select {
	case err := <-pending:
		e := wantCode(t, "reset", err, CodeTransportClosed)
		if !e.TransportFailure || !e.Retriable() {
			t.Fatalf("%+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call hung after reset")
	}
	life.next(t, ConnectionRestored, 30*time.Second)

	// reset and drop mid-turn: turn_outcome_unknown, then the session answers again.
	for _, cmd := range []string{"reset", "drop"} {
		done := hangTurn(t, s, rec)
		proxy.send(cmd)
		wantCode(t, cmd+" mid-turn", waitTurn(t, done).err, CodeTurnOutcomeUnknown)
		life.next(t, ConnectionRestored, 30*time.Second)
		if got := answer(t, s, "REPLY after "+cmd); got != "after "+cmd {
			t.Fatalf("answer %q", got)
		}
	}

	// The CLI unreachable: calls made meanwhile fail with reconnecting after CallWait.
	proxy.send("refuse")
	proxy.send("reset")
	life.next(t, ConnectionLost, 5*time.Second)
	_, err = c.Ping(ctx, "")
	wantCode(t, "while reconnecting", err, CodeReconnecting)
	proxy.send("pass")
	life.next(t, ConnectionRestored, 30*time.Second)
	if _, err := c.Ping(ctx, "back"); err != nil {
		t.Fatal(err)
	}

	// blackhole: only the heartbeat notices, within its bound, as a timeout.
	proxy.send("blackhole")
	started := time.Now()
	_, err = c.CallWithTimeout(ctx, "session.list", nil, 0)
	took := time.Since(started)
	t.Logf("blackhole detected after %v", took)
	wantCode(t, "blackhole", err, CodeTimeout)
	if took > 3*time.Second {
		t.Fatalf("blackhole took %v", took)
	}
	proxy.send("pass")
	life.next(t, ConnectionRestored, 30*time.Second)

	// delay 200: slower, still fine.
	proxy.send("delay 200")
	started = time.Now()
	if _, err := c.Ping(ctx, "slow"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(started); took < 350*time.Millisecond {
		t.Fatalf("a ping through a 200 ms delay each way took %v", took)
	}
	if got := answer(t, s, "REPLY slow"); got != "slow" {
		t.Fatalf("answer %q", got)
	}
	proxy.send("pass")
}

// ---------------------------------------------------------------------------------------------
// 4. A spawned CLI that dies is restarted, within its budget

func TestReliabilitySpawnedCLIRestartBudget(t *testing.T) {
	ctx := ctxT(t)
	o := ownCLIOptions(true)
	o.Reconnect = fastReconnect()
	o.Reconnect.MaxRestarts = 2
	c := NewClient(o)
	defer c.Close()
	life := watchConnection(t, c)
	s, err := c.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	if got := answer(t, s, "REPLY a"); got != "a" {
		t.Fatalf("answer %q", got)
	}
	pids := []int{c.Info().CLIPid}
	for round := 0; round < 2; round++ {
		if err := syscall.Kill(pids[len(pids)-1], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if d := life.next(t, ConnectionRestored, 30*time.Second); !d.Restarted || d.SessionsResumed != 1 {
			t.Fatalf("round %d: %+v", round, d)
		}
		pid := c.Info().CLIPid
		for _, old := range pids {
			if pid == old || pid <= 0 {
				t.Fatalf("round %d: not a new CLI (%d, before %v)", round, pid, pids)
			}
		}
		pids = append(pids, pid)
		if got, want := answer(t, s, fmt.Sprintf("REPLY r%d", round)), fmt.Sprintf("r%d", round); got != want {
			t.Fatalf("answer %q", got)
		}
	}
	if err := syscall.Kill(pids[len(pids)-1], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if d := life.next(t, ConnectionGaveUp, 30*time.Second); d.Code != CodeReconnectFailed {
		t.Fatalf("gave up: %+v", d)
	}
	_, err = c.Ping(ctx, "")
	if e := wantCode(t, "after giving up", err, CodeReconnectFailed); !strings.Contains(e.Message, "restart budget") {
		t.Fatalf("%v", e)
	}
	_, err = s.Send(ctx, MessageOptions{Prompt: "x"})
	wantCode(t, "a session of a client that gave up", err, CodeReconnectFailed)
	for _, pid := range pids {
		if !waitDead(pid, 5*time.Second) {
			t.Fatalf("CLI %d still runs", pid)
		}
	}
	// Start tries again.
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ping(ctx, ""); err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------------------------------------
// 5. 100 connection kill/restart cycles through the proxy: nothing leaks

func TestReliabilityReconnectCyclesDoNotLeak(t *testing.T) {
	ctx := ctxT(t)
	cycles := 100
	if n, err := strconv.Atoi(os.Getenv("COPILOT_SOAK_CYCLES")); err == nil && n > 0 {
		cycles = n
	}
	cli := externalServer(t)
	proxy := startChaos(t, "proxy", "--target", strconv.Itoa(cli.port))
	o := urlOptions(proxy.port)
	o.Reconnect.InitialDelay = 10 * time.Millisecond
	c := NewClient(o)
	defer c.Close()
	restored := make(chan struct{}, 4096)
	stop := c.OnEventType(ConnectionRestored, func(SessionLifecycleEvent) { restored <- struct{}{} })
	defer stop()
	s, err := c.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	answers := make(chan string, 16)
	s.OnType("assistant.message", func(ev SessionEvent) { answers <- ev.Text() })
	if got := answer(t, s, "REPLY warm"); got != "warm" {
		t.Fatalf("answer %q", got)
	}
	<-answers
	start := measure()
	afterFirst := start
	began := time.Now()
	for i := 0; i < cycles; i++ {
		proxy.send("reset")
		select {
		case <-restored:
		case <-time.After(30 * time.Second):
			t.Fatalf("cycle %d: no connection.restored", i)
		}
		if _, err := c.Ping(ctx, ""); err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if i == 0 {
			afterFirst = measure()
		}
	}
	if got := answer(t, s, "REPLY after"); got != "after" {
		t.Fatalf("answer %q", got)
	}
	if got := <-answers; got != "after" {
		t.Fatalf("subscription: %q", got)
	}
	time.Sleep(300 * time.Millisecond)
	end := measure()
	msg := fmt.Sprintf("%d reconnect cycles in %v: start %v; after cycle 1 %v; end %v", cycles, time.Since(began).Round(time.Millisecond), start, afterFirst, end)
	t.Log(msg)
	if end.fds > afterFirst.fds+2 {
		t.Errorf("descriptors leak: %v -> %v", afterFirst, end)
	}
	if end.threads > afterFirst.threads+2 {
		t.Errorf("threads leak: %v -> %v", afterFirst, end)
	}
	if end.rssKiB > afterFirst.rssKiB+32*1024 {
		t.Errorf("memory grows: %v -> %v", afterFirst, end)
	}
}

// ---------------------------------------------------------------------------------------------
// 6. Hostile peers: typed errors within bounds, never a hang

func TestReliabilityHostilePeers(t *testing.T) {
	ctx := ctxT(t)
	for _, tc := range []struct {
		mode     string
		code     string
		min, max time.Duration
	}{
		{"silent", CodeTimeout, 900 * time.Millisecond, 3 * time.Second},
		{"unknown-id", CodeTimeout, 900 * time.Millisecond, 3 * time.Second},
		{"bad-header", CodeFrameHeader, 0, 2 * time.Second},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			peer := startChaos(t, "peer", "--mode", tc.mode)
			c := NewClient(&ClientOptions{
				CLIUrl: fmt.Sprintf("127.0.0.1:%d", peer.port), RequestTimeout: time.Second,
				HeartbeatInterval: Off, Reconnect: &ReconnectOptions{Disabled: true}, StartTimeout: 5 * time.Second,
			})
			defer c.Close()
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			started := time.Now()
			_, err := c.Call(ctx, "session.list", nil)
			took := time.Since(started)
			t.Logf("peer %s: %v after %v", tc.mode, err, took.Round(time.Millisecond))
			wantCode(t, tc.mode, err, tc.code)
			if took < tc.min || took > tc.max {
				t.Fatalf("took %v", took)
			}
		})
	}
}

// ---------------------------------------------------------------------------------------------
// 7. Cancellation reaches a running handler's context

func TestReliabilityCancellationReachesHandlerContext(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	started := make(chan struct{}, 4)
	type cancelled struct {
		cause error
		at    time.Time
	}
	stopped := make(chan cancelled, 4)
	tool := Tool{
		Name: "wait_forever", Description: "Waits", Parameters: map[string]any{"type": "object", "properties": map[string]any{}},
		Handler: func(inv ToolInvocation) (any, error) {
			started <- struct{}{}
			select {
			case <-inv.Context().Done():
				stopped <- cancelled{context.Cause(inv.Context()), time.Now()}
				return nil, inv.Context().Err()
			case <-time.After(2 * time.Minute):
				return "not cancelled", nil
			}
		},
	}
	cfg := config()
	cfg.Tools = []Tool{tool}
	s, err := c.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	s.On(rec.add)
	// Within 2 s of `since` (the abort, or SendAndWait's return after its timeout).
	waitCancel := func(what string, since time.Time) {
		t.Helper()
		select {
		case got := <-stopped:
			var e *Error
			if !errors.As(got.cause, &e) || e.Code != CodeCancelled || !strings.Contains(e.Message, "abort") {
				t.Fatalf("%s: cause %v", what, got.cause)
			}
			t.Logf("%s: the handler's context was cancelled %v after it", what, got.at.Sub(since).Round(time.Millisecond))
		case <-time.After(time.Until(since.Add(2 * time.Second))):
			t.Fatalf("%s: the handler's context was not cancelled within 2 s", what)
		}
	}
	if _, err := s.Send(ctx, MessageOptions{Prompt: "CALL wait_forever {}"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(60 * time.Second):
		t.Fatal("the tool did not start")
	}
	t0 := time.Now()
	if err := s.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	waitCancel("abort", t0)
	rec.waitFor(t, ofType("session.idle"))

	// A SendAndWait timeout with AbortOnTimeout cancels it too.
	_, err = s.SendAndWait(ctx, MessageOptions{Prompt: "CALL wait_forever {}", Timeout: 1500 * time.Millisecond, AbortOnTimeout: true})
	wantCode(t, "timeout", err, CodeTimeout)
	waitCancel("a timeout with AbortOnTimeout", time.Now())
	if err := s.Disconnect(); err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------------------------------------
// 8. The new options: native Go types to the core's JSON; wrong values are invalid_config

func TestReliabilityOptions(t *testing.T) {
	ctx := ctxT(t)
	o := &ClientOptions{
		CLIUrl: sharedURL(), ConnectionToken: testToken,
		RequestTimeout: Off, HeartbeatInterval: 1500 * time.Millisecond, HeartbeatTimeout: 2 * time.Second,
		TCPKeepalive: Off, TCPUserTimeout: 5 * time.Second,
		Reconnect: &ReconnectOptions{MaxAttempts: -1, InitialDelay: 20 * time.Millisecond, MaxDelay: time.Second,
			CallWait: Off, MaxRestarts: 3, RestartWindow: time.Minute},
	}
	text, err := o.toJSON()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"requestTimeout": 0.0, "heartbeatInterval": 1.5, "heartbeatTimeout": 2.0, "tcpKeepalive": 0.0, "tcpUserTimeout": 5.0,
		"reconnect": map[string]any{"maxAttempts": 0.0, "initialDelay": 0.02, "maxDelay": 1.0, "callWait": 0.0, "maxRestarts": 3.0, "restartWindow": 60.0},
	}
	for k, v := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("%s: %v, want %v", k, got[k], v)
		}
	}
	if text, _ := (&ClientOptions{}).toJSON(); text != "{}" {
		t.Errorf("zero options send %s (the defaults are the core's)", text)
	}
	if text, _ := (&ClientOptions{Reconnect: &ReconnectOptions{Disabled: true}}).toJSON(); text != `{"reconnect":false}` {
		t.Errorf("disabled: %s", text)
	}
	// The core takes all of them.
	c := NewClient(o)
	defer c.Close()
	if _, err := c.Ping(ctx, "options"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CallWithTimeout(ctx, "session.list", nil, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// Wrong values: invalid_config from the core (invalid_argument for a negative deadline).
	bad := NewClient(&ClientOptions{CLIUrl: sharedURL(), HeartbeatTimeout: -time.Second})
	defer bad.Close()
	wantCode(t, "negative heartbeat timeout", bad.Start(ctx), CodeInvalidConfig)
	_, err = c.CallWithTimeout(ctx, "session.list", nil, -time.Second)
	wantCode(t, "negative per-call deadline", err, CodeInvalidArgument)
	s, err := c.CreateSession(ctx, config())
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.SendAndWait(ctx, MessageOptions{Prompt: "REPLY x", IdleTimeout: -time.Second})
	wantCode(t, "negative idle timeout", err, CodeInvalidConfig)
	if _, err := s.CallWithTimeout(ctx, "session.model.getCurrent", nil, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// The inactivity timeout: a silent turn fails after IdleTimeout, well before Timeout.
	t0 := time.Now()
	_, err = s.SendAndWait(ctx, MessageOptions{Prompt: "HANG", Timeout: time.Minute, IdleTimeout: time.Second, AbortOnTimeout: true})
	if e := wantCode(t, "idle timeout", err, CodeTimeout); !strings.Contains(e.Message, "idle timeout") || time.Since(t0) > 10*time.Second {
		t.Fatalf("%v after %v", e, time.Since(t0))
	}
	// A connection notification decodes; other types do not.
	ev := SessionLifecycleEvent{Type: ConnectionRestored, Metadata: json.RawMessage(`{"attempts":2,"downtimeMs":150,"restarted":true,"sessionsResumed":1,"sessionsLost":0}`)}
	if d, ok := ev.Connection(); !ok || d.Attempts != 2 || d.DowntimeMs != 150 || !d.Restarted || d.SessionsResumed != 1 {
		t.Fatalf("%+v %v", d, ok)
	}
	if _, ok := (SessionLifecycleEvent{Type: "session.created"}).Connection(); ok {
		t.Fatal("session.created is not a connection notification")
	}
}
