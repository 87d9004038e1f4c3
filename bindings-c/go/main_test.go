package copilot

// Test harness: one CLI for the whole suite, spawned through this SDK as a TCP server with a
// connection token (isolated HOME and working directory); tests connect to it by URL. The
// model is tests/fake-model (a BYOK provider). Tests needing a CLI of their own spawn one.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "go-sdk-test-token"

var (
	cliPath  string
	modelURL string
	modelLog string
	home     string
	work     string
	port     int
)

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root := repoRoot()
	cliPath = os.Getenv("COPILOT_CLI_PATH")
	if cliPath == "" {
		out, err := exec.Command("bash", filepath.Join(root, "tests", "install-cli.sh")).Output()
		if err != nil {
			fmt.Fprintln(os.Stderr, "install-cli.sh:", err)
			return 2
		}
		cliPath = strings.TrimSpace(string(out))
	}
	fake := os.Getenv("FAKE_MODEL_BIN")
	if fake == "" {
		fake = filepath.Join(root, "target", "debug", "fake-model")
	}
	logDir, _ := os.MkdirTemp("", "copilot-go-model-")
	defer os.RemoveAll(logDir)
	modelLog = filepath.Join(logDir, "requests.jsonl")
	stop, url, err := startFakeModel(fake, modelLog)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake model:", err)
		return 2
	}
	defer stop()
	modelURL = url
	base, _ := os.MkdirTemp("", "copilot-go-tests-")
	defer os.RemoveAll(base)
	home, work = filepath.Join(base, "home"), filepath.Join(base, "work")
	_ = os.MkdirAll(home, 0o700)
	_ = os.MkdirAll(work, 0o700)

	owner := NewClient(ownCLIOptions(false))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := owner.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "start the shared CLI:", err)
		return 2
	}
	port = owner.Info().Port
	code := m.Run()
	if line, failures, ok := StrictTypesReport(); ok {
		fmt.Println(line)
		// go test shows a passing package's output only with -v: test.sh reads the file.
		if f := os.Getenv("COPILOT_STRICT_TYPES_REPORT"); f != "" {
			_ = os.WriteFile(f, []byte(line+"\n"), 0o644)
		}
		if os.Getenv("COPILOT_STRICT_TYPES_DETAILS") == "1" {
			fmt.Print(StrictTypesDetails())
		}
		if failures > 0 && code == 0 {
			code = 1
		}
	}
	stopExternalServer()
	if err := owner.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "stop the shared CLI:", err)
	}
	return code
}

// startFakeModel runs the fake model with a stdin pipe kept open (it exits at EOF).
func startFakeModel(bin, logFile string) (func(), string, error) {
	cmd := exec.Command(bin, "--log", logFile)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, "", fmt.Errorf("no announcement: %w", err)
	}
	i := strings.Index(line, "http://")
	if i < 0 {
		_ = cmd.Process.Kill()
		return nil, "", fmt.Errorf("unexpected announcement %q", line)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	stop := func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}
	return stop, strings.TrimSpace(line[i:]), nil
}

// ownCLIOptions spawns a CLI of this test binary (TCP with the test token, or stdio).
func ownCLIOptions(stdio bool) *ClientOptions {
	return &ClientOptions{
		CLIPath:         cliPath,
		UseStdio:        Bool(stdio),
		Env:             []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")},
		Cwd:             work,
		ConnectionToken: testToken,
		UseLoggedInUser: Bool(false),
	}
}

func sharedURL() string { return fmt.Sprintf("127.0.0.1:%d", port) }

// connect returns a started client of the shared CLI, stopped when the test ends.
func connect(t *testing.T) *Client {
	t.Helper()
	c := NewClient(&ClientOptions{CLIUrl: sharedURL(), ConnectionToken: testToken})
	if err := c.Start(ctxT(t)); err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// ctxT is a context that only detects hangs.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func provider() *ProviderConfig {
	return &ProviderConfig{Type: "openai", BaseURL: modelURL, APIKey: "x"}
}

func config() *SessionConfig { return &SessionConfig{Model: "gpt-4.1", Provider: provider()} }

// recorder collects a session's events.
type recorder struct {
	mu     sync.Mutex
	events []SessionEvent
	ch     chan SessionEvent
}

func newRecorder() *recorder { return &recorder{ch: make(chan SessionEvent, 4096)} }

func (r *recorder) add(e SessionEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.ch <- e:
	default:
	}
}

func (r *recorder) take() []SessionEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// waitFor waits for the next event matching pred (deadline only detects hangs).
func (r *recorder) waitFor(t *testing.T, pred func(SessionEvent) bool) SessionEvent {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case e := <-r.ch:
			if pred(e) {
				return e
			}
		case <-deadline:
			t.Fatal("event did not arrive")
		}
	}
}

func ofType(typ string) func(SessionEvent) bool {
	return func(e SessionEvent) bool { return e.Type == typ }
}

func types(evs []SessionEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// modelRequest is one line of the fake model's request log.
type modelRequest struct {
	Method        string          `json:"method"`
	Path          string          `json:"path"`
	Body          json.RawMessage `json:"body"`
	Authorization string          `json:"authorization"`
}

// lastChatRequest is the most recent chat-completions request the fake model received.
func lastChatRequest(t *testing.T) modelRequest {
	t.Helper()
	data, err := os.ReadFile(modelLog)
	if err != nil {
		t.Fatal(err)
	}
	var last *modelRequest
	for _, line := range strings.Split(string(data), "\n") {
		var r modelRequest
		if json.Unmarshal([]byte(line), &r) == nil && strings.HasSuffix(r.Path, "/chat/completions") {
			last = &r
		}
	}
	if last == nil {
		t.Fatal("the fake model received no chat request")
	}
	return *last
}
