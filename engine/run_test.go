package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsed/nsed/models"
)

// recorder is a Sink that keeps every event.
type recorder struct {
	mu   sync.Mutex
	evs  []Event
	grew chan struct{} // closed at the next event, for await; nil when no one waits
}

func (r *recorder) Emit(e Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	if r.grew != nil {
		close(r.grew)
		r.grew = nil
	}
	r.mu.Unlock()
}

// await blocks until n events satisfying f have been recorded. The timeout
// only turns a hang into a failure; nothing waits on it to synchronise.
func (r *recorder) await(t *testing.T, n int, f func(Event) bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	seen, matched := 0, 0
	for {
		r.mu.Lock()
		for ; seen < len(r.evs); seen++ {
			if f(r.evs[seen]) {
				matched++
			}
		}
		if matched >= n {
			r.mu.Unlock()
			return
		}
		if r.grew == nil {
			r.grew = make(chan struct{})
		}
		grew := r.grew
		r.mu.Unlock()
		select {
		case <-grew:
		case <-timeout:
			t.Fatalf("%d of %d awaited events came", matched, n)
		}
	}
}

func (r *recorder) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.evs...)
}

func testAgents() []AgentInfo {
	return []AgentInfo{
		{ID: "agent-1", Role: "solver", Model: "llama3.2:3b"},
		{ID: "agent-2", Role: "critic", Model: "qwen2.5:7b"},
		{ID: "agent-3", Role: "synthesiser", Model: "gemma3:4b"},
	}
}

func testSettings() Settings {
	s := DefaultSettings()
	s.Roles = map[string]Role{"solver": {Persona: "You solve."}, "critic": {Persona: "You critique."}, "synthesiser": {Persona: "You merge."}}
	s.Gate.BudgetTokens = 120
	return s
}

func runScripted(t *testing.T, cfg Config) (*recorder, Result, error) {
	t.Helper()
	rec := &recorder{}
	cfg.Sink = Tee(cfg.Sink, rec)
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background())
	return rec, res, err
}

func TestRunScriptedInvariants(t *testing.T) {
	var buf bytes.Buffer
	tw := NewTranscriptWriter(&buf, true)
	be := &models.Scripted{}
	s := testSettings()
	s.MinRounds, s.MaxRounds = 3, 3
	rec, res, err := runScripted(t, Config{Question: "What is 6*7?", Agents: testAgents(), Settings: s, Backend: be, Sink: tw})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if res.Ended.Status != StatusCompleted || res.Ended.Rounds != 3 || res.Ended.Reason != StopMaxRounds {
		t.Fatalf("ended %+v", res.Ended)
	}
	checkInvariants(t, rec.events(), 3, s)

	// Exactly N evaluation calls a round (structured ones), N proposals.
	structured := 0
	for _, c := range be.Calls() {
		if len(c.Format) > 0 && strings.Contains(c.Messages[1].Content, "Phase: REVIEW") {
			structured++
		}
	}
	if structured != 3*3 {
		t.Errorf("review calls = %d, want 9 (N per round)", structured)
	}

	// The transcript reads back into the same events.
	got, err := ReadTranscript(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want := rec.events()
	if len(got) != len(want) {
		t.Fatalf("transcript has %d events, want %d", len(got), len(want))
	}
	for i := range want {
		a, _ := json.Marshal(want[i])
		b, _ := json.Marshal(got[i])
		if !bytes.Equal(a, b) || reflect.TypeOf(want[i]) != reflect.TypeOf(got[i]) {
			t.Fatalf("event %d differs after round trip:\n%s\n%s", i, a, b)
		}
	}
}

// checkInvariants asserts the protocol's guarantees on an event stream; the
// integration test against real Ollama uses it too.
func checkInvariants(t *testing.T, evs []Event, n int, s Settings) {
	t.Helper()
	var seq int64
	proposals := map[int]int{}
	reviews := map[int]int{}
	rounds := 0
	var ended *RunEnded
	for _, e := range evs {
		h := e.Header()
		if h.Seq != seq+1 {
			t.Fatalf("seq %d after %d", h.Seq, seq)
		}
		seq = h.Seq
		if h.V != SchemaVersion {
			t.Fatalf("version %d", h.V)
		}
		switch ev := e.(type) {
		case *ProposalDone:
			proposals[h.Round]++
		case *ReviewDone:
			reviews[h.Round]++
			if _, self := ev.Labels[""]; self {
				t.Fatal("empty label")
			}
			for label, author := range ev.Labels {
				if author == h.Agent {
					t.Fatalf("round %d: reviewer %s was shown its own proposal as %s", h.Round, h.Agent, label)
				}
			}
			if !ev.Abstained && len(ev.Evaluations) != len(ev.Labels) {
				t.Fatalf("round %d: %s evaluated %d of %d candidates", h.Round, h.Agent, len(ev.Evaluations), len(ev.Labels))
			}
		case *VotesCast:
			for _, b := range ev.Ballots {
				if b.Spent > ev.Budget+1e-9 {
					t.Fatalf("round %d: %s spent %v of %v", h.Round, b.Voter, b.Spent, ev.Budget)
				}
				cost := 0.0
				for _, a := range b.Allocations {
					if a.Author == b.Voter {
						t.Fatalf("round %d: %s voted for itself", h.Round, b.Voter)
					}
					cost += a.Votes * a.Votes
				}
				if cost > ev.Budget+1e-6 {
					t.Fatalf("round %d: %s's votes cost %v > %v", h.Round, b.Voter, cost, ev.Budget)
				}
			}
		case *ConsensusUpdated:
			if ev.StateTokens > s.Gate.BudgetTokens || EstimateTokens(ev.State) > s.Gate.BudgetTokens {
				t.Fatalf("round %d: state %d tokens over budget %d", h.Round, ev.StateTokens, s.Gate.BudgetTokens)
			}
		case *RoundEnded:
			rounds++
		case *RunEnded:
			ended = ev
		}
	}
	if ended == nil {
		t.Fatal("no run_ended event")
	}
	for r := 1; r <= rounds; r++ {
		if proposals[r] != n {
			t.Errorf("round %d: %d proposals, want %d", r, proposals[r], n)
		}
		if reviews[r] != n {
			t.Errorf("round %d: %d reviews, want %d", r, reviews[r], n)
		}
	}
}

func TestRunFailsFastOnMissingModel(t *testing.T) {
	be := &models.Scripted{Models: []string{"llama3.2:3b", "qwen2.5:7b"}}
	rec, res, err := runScripted(t, Config{Question: "q?", Agents: testAgents(), Settings: testSettings(), Backend: be})
	var nf *models.ModelNotFoundError
	if !errors.As(err, &nf) || nf.Model != "gemma3:4b" {
		t.Fatalf("err = %v, want model not found for gemma3:4b", err)
	}
	if res.Ended.Status != StatusFailed || len(be.Calls()) != 0 {
		t.Fatalf("status %s, %d calls before failing", res.Ended.Status, len(be.Calls()))
	}
	if _, ok := rec.events()[len(rec.events())-1].(*RunEnded); !ok {
		t.Fatal("last event is not run_ended")
	}
}

func TestRunCancelEndsWithCancelledEvent(t *testing.T) {
	// Cancelled while the first proposals stream in.
	be := &models.Scripted{Delay: 2 * time.Millisecond}
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := SinkFunc(func(e Event) {
		rec.Emit(e)
		if e.Header().Kind == KindToken {
			cancel()
		}
	})
	r, err := New(Config{Question: "q?", Agents: testAgents(), Settings: testSettings(), Backend: be, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := r.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("cancel took too long")
	}
	if res.Ended.Status != StatusCancelled {
		t.Fatalf("status %q", res.Ended.Status)
	}
	evs := rec.events()
	if last, ok := evs[len(evs)-1].(*RunEnded); !ok || last.Status != StatusCancelled {
		t.Fatalf("last event %T", evs[len(evs)-1])
	}
}

func TestReviewRetryThenAbstain(t *testing.T) {
	// agent-2's model always returns broken JSON for reviews: it is retried
	// once, then abstains, and its ballot counts for nothing.
	be := &models.Scripted{Reply: func(req models.Request) (string, error) {
		if req.Model == "qwen2.5:7b" && len(req.Format) > 0 {
			return `{"A":{"weight":50`, nil
		}
		return models.DefaultReply(req)
	}}
	s := testSettings()
	s.MinRounds, s.MaxRounds = 1, 1
	rec, _, err := runScripted(t, Config{Question: "q?", Agents: testAgents(), Settings: s, Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	var attempts int
	for _, c := range be.Calls() {
		if c.Model == "qwen2.5:7b" && len(c.Format) > 0 {
			attempts++
		}
	}
	if attempts != 2 {
		t.Errorf("agent-2 review attempts = %d, want 2", attempts)
	}
	for _, e := range rec.events() {
		switch ev := e.(type) {
		case *ReviewDone:
			if ev.Agent == "agent-2" && (!ev.Abstained || ev.Reason == "") {
				t.Errorf("agent-2 review: abstained=%v reason=%q", ev.Abstained, ev.Reason)
			}
		case *VotesCast:
			for _, b := range ev.Ballots {
				if b.Voter == "agent-2" && (!b.Abstained || b.Spent != 0) {
					t.Errorf("abstaining ballot %+v", b)
				}
			}
		}
	}
	checkInvariants(t, rec.events(), 3, s)
}

func TestParseReviewRejectsWrongCoverage(t *testing.T) {
	labels := map[string]string{"A": "agent-2", "B": "agent-3"}
	rs := DefaultSettings().Review
	ok := `{"weight":1,"stance":"neutral","claims":[],"critique":""}`
	for name, in := range map[string]string{
		"scored twice":  `{"A":` + ok + `,"A":` + ok + `,"B":` + ok + `}`,
		"missing":       `{"A":` + ok + `}`,
		"unknown":       `{"A":` + ok + `,"B":` + ok + `,"C":` + ok + `}`,
		"out of range":  `{"A":{"weight":101,"stance":"neutral","claims":[],"critique":""},"B":` + ok + `}`,
		"no weight":     `{"A":{"stance":"neutral","claims":[],"critique":""},"B":` + ok + `}`,
		"broken json":   `{"A":{"weight":1`,
		"not an object": `[1,2]`,
		"trailing junk": `{"A":` + ok + `,"B":` + ok + `} {`,
	} {
		if _, err := parseReview(in, labels, rs); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	evs, err := parseReview(`{"B":{"weight":-30,"stance":"oppose","claims":[{"claim":"x=2","verdict":"wrong"}],"critique":"bad"},"A":{"weight":70,"stance":"support","claims":[],"critique":"good"}}`, labels, rs)
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Author != "agent-2" || evs[0].Weight != 70 || evs[1].Author != "agent-3" || evs[1].Claims[0].Verdict != VerdictWrong {
		t.Fatalf("parsed %+v", evs)
	}
}

func TestCallTimeoutAbstains(t *testing.T) {
	// agent-3's reviews hang: it abstains after call_timeout, the others vote.
	s := testSettings()
	s.MinRounds, s.MaxRounds = 1, 1
	s.CallTimeout = 100 * time.Millisecond
	s.Review.Retries = 0
	be := &hangingReviews{Scripted: &models.Scripted{}, model: "gemma3:4b"}
	rec, res, err := runScripted(t, Config{Question: "q?", Agents: testAgents(), Settings: s, Backend: be})
	if err != nil || res.Ended.Status != StatusCompleted {
		t.Fatalf("err %v, ended %+v", err, res.Ended)
	}
	seen := false
	for _, e := range rec.events() {
		if rd, ok := e.(*ReviewDone); ok && rd.Agent == "agent-3" {
			seen = true
			if !rd.Abstained || !strings.Contains(rd.Reason, "call_timeout") {
				t.Fatalf("slow reviewer: %+v", rd)
			}
		}
	}
	if !seen {
		t.Fatal("no review from agent-3")
	}
}

// hangingReviews never answers review calls to one model until the
// context ends, as a stuck server would.
type hangingReviews struct {
	*models.Scripted
	model string
}

func (h *hangingReviews) Chat(ctx context.Context, req models.Request, fn models.TokenFunc) (models.Response, error) {
	if req.Model == h.model && len(req.Format) > 0 {
		<-ctx.Done()
		return models.Response{}, ctx.Err()
	}
	return h.Scripted.Chat(ctx, req, fn)
}

func TestRebalanceBetweenRounds(t *testing.T) {
	// gemma fails; the broker hook sees it and moves agent-3 to another
	// model, but cannot move agent-1, which the user rebound (a pin).
	be := &models.Scripted{Reply: func(req models.Request) (string, error) {
		if req.Model == "gemma3:4b" {
			return "", errors.New("model crashed")
		}
		return models.DefaultReply(req)
	}}
	s := testSettings()
	s.MinRounds, s.MaxRounds = 2, 2
	var r *Run
	var sawFailed, sawPins []string
	rebalance := func(ctx context.Context, agents []AgentInfo, failed map[string]bool, pins map[string]AgentInfo) ([]Rebound, error) {
		for id := range failed {
			sawFailed = append(sawFailed, id)
		}
		for id := range pins {
			sawPins = append(sawPins, id)
		}
		var out []Rebound
		for _, a := range agents {
			if a.ID == "agent-3" || a.ID == "agent-1" {
				to := a
				to.Model = "phi4:14b"
				out = append(out, Rebound{From: a, To: to, By: "broker", Reason: "gemma3:4b failed last round"})
			}
		}
		return out, nil
	}
	rec := &recorder{}
	sink := SinkFunc(func(e Event) {
		rec.Emit(e)
		if ev, ok := e.(*VotesCast); ok && ev.Round == 1 {
			if err := r.Rebind(context.Background(), "agent-1", "mistral:7b", ""); err != nil {
				t.Error(err)
			}
		}
	})
	var err error
	r, err = New(Config{Question: "q?", Agents: testAgents(), Settings: s, Backend: be, Sink: sink, Rebalance: rebalance})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sawFailed) != "[agent-3]" || fmt.Sprint(sawPins) != "[agent-1]" {
		t.Fatalf("hook saw failed %v pins %v", sawFailed, sawPins)
	}
	got := map[string]*Rebound{}
	for _, e := range rec.events() {
		if ev, ok := e.(*Rebound); ok {
			got[ev.To.ID] = ev
		}
	}
	if a1 := got["agent-1"]; a1 == nil || a1.By != "user" || a1.To.Model != "mistral:7b" {
		t.Errorf("agent-1: %+v (the user's pin must win)", a1)
	}
	if a3 := got["agent-3"]; a3 == nil || a3.By != "broker" || a3.To.Model != "phi4:14b" || a3.Reason == "" || a3.Round != 2 {
		t.Errorf("agent-3: %+v", a3)
	}
	if cur := r.Agents(); cur[2].Model != "phi4:14b" || cur[0].Model != "mistral:7b" {
		t.Errorf("team now %+v", cur)
	}
}

func TestBrokerErrorIsABrokerEvent(t *testing.T) {
	// The broker cannot re-solve before round 2: that is reported as a
	// broker event, not as a failure of an agent, and the team stays.
	s := testSettings()
	s.MinRounds, s.MaxRounds = 2, 2
	rebalance := func(context.Context, []AgentInfo, map[string]bool, map[string]AgentInfo) ([]Rebound, error) {
		return nil, errors.New("quality store unreadable")
	}
	var buf bytes.Buffer
	tw := NewTranscriptWriter(&buf, false)
	rec, _, err := runScripted(t, Config{Question: "q?", Agents: testAgents(), Settings: s, Backend: &models.Scripted{}, Sink: tw, Rebalance: rebalance})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	check := func(from string, evs []Event) {
		t.Helper()
		var reports []*BrokerReport
		for _, e := range evs {
			switch ev := e.(type) {
			case *BrokerReport:
				reports = append(reports, ev)
			case *AgentFailed:
				t.Errorf("%s: agent_failed %+v", from, ev)
			}
		}
		if len(reports) != 1 {
			t.Fatalf("%s: %d broker events, want 1", from, len(reports))
		}
		b := reports[0]
		if b.Kind != KindBroker || b.Round != 2 || b.Phase != PhasePropose || b.Agent != "" || b.What != BrokerError || b.Message != "quality store unreadable" {
			t.Errorf("%s: broker event %+v", from, b)
		}
	}
	check("events", rec.events())
	back, err := ReadTranscript(&buf)
	if err != nil {
		t.Fatal(err)
	}
	check("transcript", back)
}

func TestLegacyBrokerFailureReadsAsBrokerEvent(t *testing.T) {
	// Transcripts written before broker events had their own kind carry a
	// broker error as an agent_failed with no agent.
	old := `{"v":1,"seq":40,"time":"2025-01-01T00:00:00Z","run":"r","kind":"agent_failed","round":3,"phase":"propose","model":"","error":"broker: store unreadable"}`
	ev, err := DecodeEvent([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	b, ok := ev.(*BrokerReport)
	if !ok {
		t.Fatalf("decoded %T, want *BrokerReport", ev)
	}
	if b.Kind != KindBroker || b.Seq != 40 || b.Round != 3 || b.Phase != PhasePropose || b.What != BrokerError || b.Message != "store unreadable" {
		t.Errorf("upgraded to %+v", b)
	}
	// An agent's own failure stays one, whatever its message says.
	agent := `{"v":1,"seq":41,"time":"2025-01-01T00:00:00Z","run":"r","kind":"agent_failed","round":3,"phase":"propose","agent":"agent-1","model":"m","error":"broker: said no"}`
	if ev, err := DecodeEvent([]byte(agent)); err != nil {
		t.Fatal(err)
	} else if f, ok := ev.(*AgentFailed); !ok || f.Error != "broker: said no" {
		t.Errorf("agent failure decoded as %T %+v", ev, ev)
	}
}

// Stopped by nsed rather than the user (the context cancelled with a
// cause: its transcript could not be written), a run fails and says why;
// it is not "cancelled", which reads as the user's Ctrl-C.
func TestRunStoppedWithCauseSaysWhy(t *testing.T) {
	why := errors.New("transcript write failed: /runs/r.jsonl: no space left on device")
	be := &models.Scripted{}
	rec := &recorder{}
	ctx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	sink := SinkFunc(func(e Event) {
		rec.Emit(e)
		if e.Header().Kind == KindProposalDone {
			stop(why)
		}
	})
	r, err := New(Config{Question: "q?", Agents: testAgents(), Settings: testSettings(), Backend: be, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(ctx)
	if !errors.Is(err, why) {
		t.Fatalf("err = %v, want the cause", err)
	}
	if res.Ended.Status != StatusFailed || res.Ended.Reason != StopFailed || res.Ended.Error != why.Error() {
		t.Errorf("run_ended %s (%s): %q; want failed, saying why", res.Ended.Status, res.Ended.Reason, res.Ended.Error)
	}
	for _, e := range rec.events() {
		if f, ok := e.(*AgentFailed); ok && f.Fatal {
			t.Errorf("an agent was blamed for the stop: %+v", f)
		}
	}
}

// An NSED run names its protocol in run_started, as every baseline does,
// so a reader of a transcript need not infer it from an empty field.
func TestRunStartedNamesNSED(t *testing.T) {
	rec := &recorder{}
	r, err := New(Config{Question: "q?", Agents: testAgents(), Settings: testSettings(), Backend: &models.Scripted{}, Sink: rec})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s, ok := rec.events()[0].(*RunStarted); !ok || s.Protocol != ProtocolNSED {
		t.Errorf("first event %+v, want run_started with protocol %q", rec.events()[0], ProtocolNSED)
	}
}

// run_ended's per-agent metrics are the caller's counts of each agent's
// calls with the run's own tallies: they add up to the run's totals, a
// failed call and an abstention count where they happened, and a rebound
// agent reports the model it ended on.
func TestRunEndedAgentMetricsAddUp(t *testing.T) {
	s := testSettings()
	s.MinRounds, s.MaxRounds = 2, 2
	s.Review.Retries = 0
	be := &models.Scripted{Reply: func(req models.Request) (string, error) {
		switch {
		case req.Model == "gemma3:4b" && req.Format == nil && strings.Contains(req.Messages[len(req.Messages)-1].Content, "Round 1."):
			return "", errors.New("crashed")
		case req.Model == "qwen2.5:7b" && req.Format != nil && strings.Contains(req.Messages[len(req.Messages)-1].Content, "Round 2."):
			return `{"A":`, nil // abstains (in round 2 only: with round 1's crash, the quorum of 2 would be lost)
		}
		return models.DefaultReply(req)
	}}
	var r *Run
	sink := SinkFunc(func(e Event) {
		if ev, ok := e.(*VotesCast); ok && ev.Round == 1 {
			if err := r.Rebind(context.Background(), "agent-1", "mistral:7b", ""); err != nil {
				t.Error(err)
			}
		}
	})
	var err error
	r, err = New(Config{Question: "q?", Agents: testAgents(), Settings: s, Backend: be, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	end := res.Ended
	in, out := 0, 0
	byAgent := map[string]AgentMetrics{}
	for _, m := range end.Agents {
		in, out = in+m.PromptTokens, out+m.OutputTokens
		byAgent[m.Agent] = m
	}
	if in != end.PromptTokens || out != end.OutputTokens || in == 0 {
		t.Errorf("agents' tokens %d in, %d out; run's %d, %d", in, out, end.PromptTokens, end.OutputTokens)
	}
	if m := byAgent["agent-1"]; m.Model != "mistral:7b" || m.Calls < 4 {
		t.Errorf("agent-1 after its rebind: %+v", m)
	}
	if m := byAgent["agent-3"]; m.Failures != 1 {
		t.Errorf("agent-3's round-1 proposal failed: %+v", m)
	}
	if m := byAgent["agent-2"]; m.Abstentions != 1 || m.Calls < 4 {
		t.Errorf("agent-2 abstained in round 2: %+v", m)
	}
}
