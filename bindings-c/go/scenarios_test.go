package copilot

// Runs every shared scenario of tests/scenarios against the real CLI. A scenario key this
// runner does not know fails the test, so a new kind of expectation cannot be skipped.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

type scenario struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Session     struct {
		Streaming *bool `json:"streaming"`
		Tools     []struct {
			Name           string         `json:"name"`
			Description    string         `json:"description"`
			Parameters     map[string]any `json:"parameters"`
			SkipPermission bool           `json:"skipPermission"`
			Result         *string        `json:"result"`
			Fail           *string        `json:"fail"`
		} `json:"tools"`
		Permission         string `json:"permission"`
		PermissionFeedback string `json:"permissionFeedback"`
		UserInput          *struct {
			Answer string  `json:"answer"`
			Fail   *string `json:"fail"`
		} `json:"userInput"`
		Hooks bool `json:"hooks"`
	} `json:"session"`
	Turns []struct {
		Prompt string `json:"prompt"`
		Expect struct {
			Answer         *string  `json:"answer"`
			AnswerContains []string `json:"answerContains"`
			Error          string   `json:"error"`
			Events         []string `json:"events"`
			NoEvents       []string `json:"noEvents"`
			ToolComplete   *struct {
				Success  bool   `json:"success"`
				Contains string `json:"contains"`
			} `json:"toolComplete"`
			Hooks              []string `json:"hooks"`
			PermissionKinds    []string `json:"permissionKinds"`
			UserInputQuestions []string `json:"userInputQuestions"`
			DeltasConcatenate  bool     `json:"deltasConcatenate"`
		} `json:"expect"`
	} `json:"turns"`
}

// seen is what the handlers observed during a turn.
type seen struct {
	mu              sync.Mutex
	permissionKinds []string
	questions       []string
	hooks           []string
}

func (s *seen) reset() (p, q, h []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, q, h = s.permissionKinds, s.questions, s.hooks
	s.permissionKinds, s.questions, s.hooks = nil, nil, nil
	return
}

func scenarioConfig(sc *scenario, obs *seen) *SessionConfig {
	cfg := config()
	if sc.Session.Streaming != nil {
		cfg.Streaming = *sc.Session.Streaming
	}
	for _, t := range sc.Session.Tools {
		result, fail := t.Result, t.Fail
		cfg.Tools = append(cfg.Tools, Tool{
			Name: t.Name, Description: t.Description, Parameters: t.Parameters, SkipPermission: t.SkipPermission,
			Handler: func(inv ToolInvocation) (any, error) {
				if fail != nil {
					return nil, errors.New(*fail)
				}
				if result != nil {
					return *result, nil
				}
				return "", nil
			},
		})
	}
	if p := sc.Session.Permission; p != "" {
		feedback := sc.Session.PermissionFeedback
		cfg.OnPermissionRequest = func(req PermissionRequest) (PermissionDecision, error) {
			obs.mu.Lock()
			obs.permissionKinds = append(obs.permissionKinds, req.Kind)
			obs.mu.Unlock()
			switch p {
			case "fail":
				return PermissionDecision{}, errors.New("permission handler exploded")
			case "reject":
				return PermissionDecision{Kind: PermissionReject, Feedback: feedback}, nil
			default:
				return PermissionDecision{Kind: p}, nil
			}
		}
	}
	if u := sc.Session.UserInput; u != nil {
		cfg.OnUserInputRequest = func(req UserInputRequest) (UserInputResponse, error) {
			obs.mu.Lock()
			obs.questions = append(obs.questions, req.Question)
			obs.mu.Unlock()
			if u.Fail != nil {
				return UserInputResponse{}, errors.New(*u.Fail)
			}
			return UserInputResponse{Answer: u.Answer}, nil
		}
	}
	if sc.Session.Hooks {
		cfg.OnHook = func(h HookInvocation) (any, error) {
			obs.mu.Lock()
			obs.hooks = append(obs.hooks, h.Type)
			obs.mu.Unlock()
			return nil, nil
		}
	}
	return cfg
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
	obs := &seen{}
	rec := newRecorder()
	session, err := client.CreateSession(ctxT(t), scenarioConfig(&sc, obs))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	session.On(rec.add)
	for i, turn := range sc.Turns {
		label := fmt.Sprintf("%s turn %d", sc.Name, i)
		rec.take()
		obs.reset()
		answer, err := session.SendAndWait(ctxT(t), MessageOptions{Prompt: turn.Prompt, Timeout: 90 * time.Second})
		evs := rec.take() // complete: SendAndWait returns after the handlers saw the turn
		ts := types(evs)
		x := turn.Expect
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
			for _, got := range ts {
				if got == n {
					t.Errorf("%s: unexpected %s", label, n)
				}
			}
		}
		if tc := x.ToolComplete; tc != nil {
			var last *SessionEvent
			for i := range evs {
				if evs[i].Type == "tool.execution_complete" {
					last = &evs[i]
				}
			}
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
		perms, questions, hooks := obs.reset()
		if x.PermissionKinds != nil && strings.Join(perms, ",") != strings.Join(x.PermissionKinds, ",") {
			t.Errorf("%s: permission kinds %v, want %v", label, perms, x.PermissionKinds)
		}
		if x.UserInputQuestions != nil && strings.Join(questions, "|") != strings.Join(x.UserInputQuestions, "|") {
			t.Errorf("%s: questions %v, want %v", label, questions, x.UserInputQuestions)
		}
		if !isSubsequence(x.Hooks, hooks) {
			t.Errorf("%s: hooks %v not in order in %v", label, x.Hooks, hooks)
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
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files found: %v", err)
	}
	sort.Strings(files)
	ran := 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		ok := t.Run(name, func(t *testing.T) { runScenario(t, f) })
		if ok {
			ran++
		}
	}
	if ran != len(files) {
		t.Fatalf("%d of %d scenario files passed", ran, len(files))
	}
	t.Logf("%d scenarios run", ran)
}
