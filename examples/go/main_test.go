package main

// Runs the sample against a real headless CLI server started the way the guide starts it
// (copilot --headless --port N, no connection token). Offline there is no GitHub Copilot, and
// the CLI's BYOK environment (COPILOT_PROVIDER_*) does not apply to sessions created over the
// protocol (1.0.102 answers "No GitHub OAuth token"). So the tests put a small proxy in front
// of the server that gives session.create/resume requests naming no provider the fake model as
// their BYOK provider; the sample code itself is unchanged and reaches the proxy by CLI_URL.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"copilothub.dev/copilot"
)

func root() string {
	wd, _ := os.Getwd()
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	cli := os.Getenv("COPILOT_CLI_PATH")
	if cli == "" {
		out, err := exec.Command("bash", filepath.Join(root(), "tests", "install-cli.sh")).Output()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		cli = strings.TrimSpace(string(out))
	}
	fake := os.Getenv("FAKE_MODEL_BIN")
	if fake == "" {
		fake = filepath.Join(root(), "target", "debug", "fake-model")
	}
	base, _ := os.MkdirTemp("", "copilot-go-example-")
	defer os.RemoveAll(base)

	model := exec.Command(fake)
	modelIn, _ := model.StdinPipe() // the fake model serves until its stdin closes
	modelOut, _ := model.StdoutPipe()
	if err := model.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "fake model:", err)
		return 2
	}
	defer func() { _ = modelIn.Close(); _ = model.Wait() }()
	line, _ := bufio.NewReader(modelOut).ReadString('\n')
	i := strings.Index(line, "http://")
	if i < 0 {
		fmt.Fprintln(os.Stderr, "fake model said:", line)
		return 2
	}
	modelURL := strings.TrimSpace(line[i:])

	home, work := filepath.Join(base, "home"), filepath.Join(base, "work")
	_ = os.MkdirAll(home, 0o700)
	_ = os.MkdirAll(work, 0o700)
	server := exec.Command(cli, "--headless", "--port", "0", "--no-auto-update")
	server.Dir = work
	server.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	out, _ := server.StdoutPipe()
	server.Stderr = os.Stderr
	if err := server.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "CLI server:", err)
		return 2
	}
	defer func() { _ = server.Process.Kill(); _ = server.Wait() }()
	port := ""
	sc := bufio.NewScanner(out)
	re := regexp.MustCompile(`listening on port (\d+)`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			port = m[1]
			break
		}
	}
	if port == "" {
		fmt.Fprintln(os.Stderr, "the CLI server did not announce its port")
		return 2
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	proxy, err := startProviderProxy("127.0.0.1:"+port, map[string]any{"type": "openai", "baseUrl": modelURL, "apiKey": "x"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		return 2
	}
	defer proxy.Close()
	_, proxyPort, _ := net.SplitHostPort(proxy.Addr().String())
	os.Setenv("CLI_URL", "localhost:"+proxyPort)
	return m.Run()
}

// startProviderProxy forwards TCP connections to the CLI server, adding the provider to
// session.create and session.resume requests that have none. Frames are Content-Length framed
// JSON-RPC; only the client-to-server direction is rewritten.
func startProviderProxy(upstream string, provider map[string]any) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				down.Close()
				continue
			}
			go func() { _, _ = io.Copy(down, up); down.Close() }()
			go func() { rewriteFrames(bufio.NewReader(down), up, provider); up.Close() }()
		}
	}()
	return ln, nil
}

func rewriteFrames(r *bufio.Reader, w io.Writer, provider map[string]any) {
	for {
		length := -1
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			if line == "" {
				break
			}
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "content-length") {
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		if length < 0 {
			return
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		var msg map[string]any
		if json.Unmarshal(body, &msg) == nil && (msg["method"] == "session.create" || msg["method"] == "session.resume") {
			if params, ok := msg["params"].(map[string]any); ok && params["provider"] == nil {
				params["provider"] = provider
				body, _ = json.Marshal(msg)
			}
		}
		if _, err := fmt.Fprintf(w, "Content-Length: %d\r\n\r\n%s", len(body), body); err != nil {
			return
		}
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// The sample program, built and run as a user would.
func TestSampleProgramRuns(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "backend")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	ctx := ctxT(t)
	out, err := exec.CommandContext(ctx, bin, "-user", "alice", "REPLY hello from the Go sample").Output()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != "hello from the Go sample" {
		t.Fatalf("output %q", got)
	}
}

func TestAskAsWrittenInTheGuide(t *testing.T) {
	answer, err := ask(ctxT(t), "bob", "Say hello")
	if err != nil || answer != "Hello from the fake model." {
		t.Fatalf("%q %v", answer, err)
	}
}

func TestHTTPAPIResumesOrCreates(t *testing.T) {
	ctx := ctxT(t)
	client := copilot.NewClient(&copilot.ClientOptions{CLIUrl: cliURL()})
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.Stop()
	srv := httptest.NewServer((&server{client: client}).handler())
	defer srv.Close()

	id := fmt.Sprintf("api-%d", time.Now().UnixNano())
	for i, msg := range []string{"REPLY first", "REPLY second"} {
		body, _ := json.Marshal(chatRequest{SessionID: id, Message: msg})
		resp, err := http.Post(srv.URL+"/api/chat", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var got chatResponse
		_ = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != 200 || got.SessionID != id || got.Content != strings.TrimPrefix(msg, "REPLY ") {
			t.Fatalf("request %d: %d %+v", i, resp.StatusCode, got)
		}
	}
	// The second request resumed the first one's session: both prompts are in its history.
	s, err := client.ResumeSession(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	history, err := s.GetMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	users := 0
	for _, e := range history {
		if e.Type == "user.message" {
			users++
		}
	}
	if users != 2 {
		t.Fatalf("%d user messages in the resumed session", users)
	}
	_ = s.Disconnect()

	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "ok 1.0.102") {
		t.Fatalf("healthz %d %q", resp.StatusCode, b)
	}
}

func TestJobsAndCleanup(t *testing.T) {
	ctx := ctxT(t)
	client := copilot.NewClient(&copilot.ClientOptions{CLIUrl: cliURL()})
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.Stop()
	jobID := fmt.Sprint(time.Now().UnixNano())
	out, err := processJob(ctx, client, jobID, "REPLY job done")
	if err != nil || out != "job done" {
		t.Fatalf("%q %v", out, err)
	}
	// Every job session is older than "-1s": the cleanup deletes them.
	n, err := cleanupSessions(ctx, client, "job-"+jobID, -time.Second)
	if err != nil || n != 1 {
		t.Fatalf("deleted %d %v", n, err)
	}
	list, err := client.ListSessions(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.SessionID == "job-"+jobID {
			t.Fatal("the job session survived the cleanup")
		}
	}
}
