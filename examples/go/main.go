// The backend-services guide in Go: a service that talks to a Copilot CLI running as a
// headless server (copilot --headless --port 4321), reached through CLI_URL.
//
//	go run . "What is 2+2?"            # one request, as in the guide's first sample
//	go run . -serve 127.0.0.1:3000     # the HTTP API: POST /api/chat {sessionId, message}, GET /healthz
//
// The model is whatever the CLI server is configured with (GitHub auth, or a BYOK provider
// through COPILOT_PROVIDER_BASE_URL and friends on the server).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"copilothub.dev/copilot"
)

func cliURL() string {
	if u := os.Getenv("CLI_URL"); u != "" {
		return u
	}
	return "localhost:4321"
}

// ask is the guide's sample, as written: connect to the server, create a session for the
// user, send the message and wait for the answer.
func ask(ctx context.Context, userID, message string) (string, error) {
	client := copilot.NewClient(&copilot.ClientOptions{
		CLIUrl: cliURL(),
	})
	client.Start(ctx)
	defer client.Stop()

	session, _ := client.CreateSession(ctx, &copilot.SessionConfig{
		SessionID: fmt.Sprintf("user-%s-%d", userID, time.Now().Unix()),
		Model:     "gpt-4.1",
	})

	response, _ := session.SendAndWait(ctx, copilot.MessageOptions{Prompt: message})
	if response == nil || response.Data.Content == nil {
		return "", fmt.Errorf("no answer")
	}
	return *response.Data.Content, nil
}

// server is the guide's API server: one shared connection, sessions resumed or created per
// request.
type server struct {
	client *copilot.Client
}

type chatRequest struct {
	SessionID string `json:"sessionId"`
	Message   string `json:"message"`
}

type chatResponse struct {
	SessionID string `json:"sessionId"`
	Content   string `json:"content"`
}

func (s *server) chat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.SessionID == "" {
		http.Error(w, "want {sessionId, message}", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	// Create or resume the session.
	session, err := s.client.ResumeSession(ctx, req.SessionID, nil)
	if err != nil {
		session, err = s.client.CreateSession(ctx, &copilot.SessionConfig{
			SessionID: req.SessionID,
			Model:     "gpt-4.1",
		})
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer session.Disconnect()
	response, err := session.SendAndWait(ctx, copilot.MessageOptions{Prompt: req.Message})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(chatResponse{SessionID: req.SessionID, Content: response.Text()})
}

// healthz is the guide's health check: the server answers status.get.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	status, err := s.client.GetStatus(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(w, "ok %s\n", status.Version)
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/chat", s.chat)
	mux.HandleFunc("GET /healthz", s.healthz)
	return mux
}

// processJob is the guide's background worker: one session per job, destroyed afterwards.
func processJob(ctx context.Context, client *copilot.Client, jobID, prompt string) (string, error) {
	session, err := client.CreateSession(ctx, &copilot.SessionConfig{
		SessionID: "job-" + jobID,
		Model:     "gpt-4.1",
	})
	if err != nil {
		return "", err
	}
	defer session.Destroy() // clean up after the job completes
	response, err := session.SendAndWait(ctx, copilot.MessageOptions{Prompt: prompt})
	if err != nil {
		return "", err
	}
	return response.Text(), nil
}

// cleanupSessions is the guide's cleanup: delete sessions older than maxAge (and, here, only
// those whose id starts with prefix).
func cleanupSessions(ctx context.Context, client *copilot.Client, prefix string, maxAge time.Duration) (int, error) {
	sessions, err := client.ListSessions(ctx, nil)
	if err != nil {
		return 0, err
	}
	deleted := 0
	now := time.Now()
	for _, s := range sessions {
		if !strings.HasPrefix(s.SessionID, prefix) {
			continue
		}
		if now.Sub(s.CreatedAt) > maxAge {
			if err := client.DeleteSession(ctx, s.SessionID); err != nil {
				return deleted, err
			}
			deleted++
		}
	}
	return deleted, nil
}

func main() {
	serve := flag.String("serve", "", "serve the HTTP API on this address")
	user := flag.String("user", "demo", "user id for the session")
	flag.Parse()
	ctx := context.Background()
	if *serve != "" {
		client := copilot.NewClient(&copilot.ClientOptions{CLIUrl: cliURL()})
		// The CLI is a service that may restart: the client reconnects and resumes its
		// sessions by itself; log what happens to the connection.
		client.On(func(ev copilot.SessionLifecycleEvent) {
			if d, ok := ev.Connection(); ok {
				log.Printf("%s: %+v", ev.Type, d)
			}
		})
		if err := client.Start(ctx); err != nil {
			log.Fatal(err)
		}
		defer client.Stop()
		s := &server{client: client}
		log.Printf("listening on %s (CLI at %s)", *serve, cliURL())
		log.Fatal(http.ListenAndServe(*serve, s.handler()))
	}
	message := strings.Join(flag.Args(), " ")
	if message == "" {
		message = "Hello!"
	}
	answer, err := ask(ctx, *user, message)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(answer)
}
