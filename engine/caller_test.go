package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nsed/nsed/models"
)

// stalled never answers until the call's context ends, and then returns
// no error, as a server that closes the stream cleanly on cancel does.
type stalled struct{ started chan struct{} }

func (s stalled) Chat(ctx context.Context, req models.Request, fn models.TokenFunc) (models.Response, error) {
	if s.started != nil {
		s.started <- struct{}{}
	}
	<-ctx.Done()
	return models.Response{}, nil
}

func TestCallerDeadline(t *testing.T) {
	rec := &recorder{}
	meter := &models.Meter{}
	c := &Caller{Backend: stalled{}, Timeout: 20 * time.Millisecond, Meter: meter,
		Emit: NewEmitter(rec, "run-1", nil).Emit}
	a := AgentInfo{ID: "agent-2", Model: "slow:7b", Host: "gpu-1:11434"}
	_, _, err := c.Call(context.Background(), Call{Agent: a, Round: 3, Phase: PhaseReview})
	var te *CallTimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v (%T), want a *CallTimeoutError", err, err)
	}
	for _, want := range []string{"slow:7b", "gpu-1:11434", "call_timeout", "20ms"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	evs := rec.events()
	if len(evs) != 1 {
		t.Fatalf("%d events, want one agent_failed", len(evs))
	}
	f, ok := evs[0].(*AgentFailed)
	if !ok || f.RunID != "run-1" || f.Round != 3 || f.Phase != PhaseReview || f.Agent != "agent-2" || f.Model != "slow:7b" || f.Error != err.Error() {
		t.Errorf("failure event %+v", evs[0])
	}
	if sp := meter.Speed(a.Host, a.Model); sp.Calls != 1 || sp.Failures != 1 {
		t.Errorf("meter %+v, want one failed call", sp)
	}
	if m := c.Metrics([]AgentInfo{a}); m[0].Calls != 1 || m[0].Failures != 1 {
		t.Errorf("metrics %+v", m)
	}
}

func TestCallerCancelIsNotTheModelsFailure(t *testing.T) {
	rec := &recorder{}
	meter := &models.Meter{}
	started := make(chan struct{}, 1)
	c := &Caller{Backend: stalled{started: started}, Timeout: time.Hour, Meter: meter, Emit: NewEmitter(rec, "r", nil).Emit}
	a := AgentInfo{ID: "agent-1", Model: "m"}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, _, err := c.Call(ctx, Call{Agent: a, Round: 1, Phase: PhasePropose})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled (the backend's nil on cancel turned into ctx.Err())", err)
	}
	if n := len(rec.events()); n != 0 {
		t.Errorf("%d events for a cancelled call, want none", n)
	}
	if sp := meter.Speed("", "m"); sp.Calls != 0 {
		t.Errorf("the meter recorded a call the run cancelled: %+v", sp)
	}
}

func TestCallerStreamsTokensAndCounts(t *testing.T) {
	rec := &recorder{}
	meter := &models.Meter{}
	be := &models.Scripted{Reply: func(models.Request) (string, error) { return "twelve chars", nil }, Chunk: 4}
	c := &Caller{Backend: be, Meter: meter, Emit: NewEmitter(rec, "run-7", nil).Emit}
	a, b := AgentInfo{ID: "agent-1", Model: "m-a"}, AgentInfo{ID: "agent-2", Model: "m-b"}
	msgs := []models.Message{{Role: "user", Content: "question?"}}
	for range 2 {
		if _, _, err := c.Call(context.Background(), Call{Agent: a, Round: 2, Phase: PhasePropose, Messages: msgs}); err != nil {
			t.Fatal(err)
		}
	}
	c.Count(b, models.Response{PromptTokens: 5, OutputTokens: 7}, nil)
	evs := rec.events()
	if len(evs) != 6 {
		t.Fatalf("%d events, want 3 tokens per call", len(evs))
	}
	var text strings.Builder
	for i, e := range evs {
		tok, ok := e.(*Token)
		if !ok || tok.Seq != int64(i+1) || tok.RunID != "run-7" || tok.Round != 2 || tok.Phase != PhasePropose || tok.Agent != "agent-1" || tok.V != SchemaVersion {
			t.Fatalf("event %d: %+v", i, e)
		}
		text.WriteString(tok.Text)
	}
	if text.String() != "twelve charstwelve chars" {
		t.Errorf("tokens spell %q", text.String())
	}
	if sp := meter.Speed("", "m-a"); sp.Calls != 2 || sp.Failures != 0 {
		t.Errorf("meter %+v", sp)
	}
	m := c.Metrics([]AgentInfo{a, b, {ID: "agent-3", Model: "m-c"}})
	if m[0].Calls != 2 || m[0].OutputTokens != 6 || m[0].PromptTokens == 0 || m[1].Calls != 1 || m[1].OutputTokens != 7 || m[2].Calls != 0 || m[2].Model != "m-c" {
		t.Errorf("metrics %+v", m)
	}
}

// TestRunReportsAFailedCallOnce: the run's calls go through its Caller,
// which reports a failure; the phases no longer report it a second time.
func TestRunReportsAFailedCallOnce(t *testing.T) {
	s := testSettings()
	s.MinRounds, s.MaxRounds = 1, 1
	s.Review.Retries = 0
	be := &models.Scripted{Reply: func(req models.Request) (string, error) {
		if req.Model == "gemma3:4b" && req.Format == nil { // its proposal
			return "", fmt.Errorf("model %s crashed", req.Model)
		}
		return models.DefaultReply(req)
	}}
	rec, res, err := runScripted(t, Config{Question: "q?", Agents: testAgents(), Settings: s, Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, e := range rec.events() {
		if f, ok := e.(*AgentFailed); ok {
			failed++
			if f.Agent != "agent-3" || f.Phase != PhasePropose || !strings.Contains(f.Error, "crashed") {
				t.Errorf("failure %+v", f)
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d agent_failed events for one failed call", failed)
	}
	for _, m := range res.Ended.Agents {
		if m.Agent == "agent-3" && m.Failures != 1 {
			t.Errorf("agent-3 metrics %+v", m)
		}
	}
}
