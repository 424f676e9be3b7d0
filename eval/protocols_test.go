package eval

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
	"github.com/nsed/nsed/tui"
)

// stalled never answers until the call's context ends, and then returns
// no error, as a server that closes the stream cleanly on cancel does.
type stalled struct{}

func (stalled) Chat(ctx context.Context, req models.Request, fn models.TokenFunc) (models.Response, error) {
	<-ctx.Done()
	return models.Response{}, nil
}

// events is a Sink that keeps every event.
type events struct {
	mu  sync.Mutex
	evs []engine.Event
}

func (e *events) Emit(ev engine.Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

// TestBaselineCallsHaveTheDeadline: a stuck server fails a baseline's call
// after call_timeout, as in NSED, with the same error and an agent_failed
// event; before the one caller, baselines waited for as long as the server
// did (here: until the guard below, then they returned no error at all).
func TestBaselineCallsHaveTheDeadline(t *testing.T) {
	s := engine.DefaultSettings()
	s.CallTimeout = 30 * time.Millisecond
	meter := &models.Meter{}
	env := Env{Backend: stalled{}, Settings: s, Meter: meter,
		Agents: []engine.AgentInfo{{ID: "agent-1", Model: "m-a", Host: "h1"}, {ID: "agent-2", Model: "m-b", Host: "h2"}}}
	guard, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec := &events{}
	replies, _ := env.FirstRound(guard, rec, "first", "What is 6*7?")
	failed := map[string]bool{}
	for _, e := range rec.evs {
		if f, ok := e.(*engine.AgentFailed); ok && f.Round == 1 && f.Phase == engine.PhasePropose {
			failed[f.Agent] = true
		}
	}
	for _, r := range replies {
		var te *engine.CallTimeoutError
		if !errors.As(r.Err, &te) || !strings.Contains(r.Err.Error(), "call_timeout") || !strings.Contains(r.Err.Error(), r.Model) {
			t.Errorf("%s: err %v, want the call_timeout error naming %s", r.Agent, r.Err, r.Model)
		}
		if !failed[r.Agent] {
			t.Errorf("%s: no agent_failed event", r.Agent)
		}
		if sp := meter.Speed(r.Host, r.Model); sp.Failures != 1 {
			t.Errorf("%s: meter %+v, want the failure recorded", r.Agent, sp)
		}
	}
	// The judge's calls too.
	j := &Judge{Backend: stalled{}, Agent: env.Agents[0], CallTimeout: 30 * time.Millisecond, Retries: 1}
	if a := j.Annotate(guard, "sycophancy", "Right?", "Yes.", Assistant{}); !a.Failed || !strings.Contains(a.Error, "call_timeout") {
		t.Errorf("judge: %+v, want a failed annotation naming call_timeout", a)
	}
	if guard.Err() != nil {
		t.Fatal("the calls ran to the guard: no deadline")
	}
}

// TestBaselinesAreMetered: every call of every baseline and of the judge
// is recorded by the bench's meter.
func TestBaselinesAreMetered(t *testing.T) {
	be := &models.Scripted{}
	meter := &models.Meter{}
	env := Env{Backend: be, Settings: engine.DefaultSettings(), Meter: meter, VoteSamples: 2, DebateRounds: 2,
		Agents: []engine.AgentInfo{{ID: "agent-1", Model: "m-a"}, {ID: "agent-2", Model: "m-b"}, {ID: "agent-3", Model: "m-c"}}}
	ctx := context.Background()
	q := "What is 6*7?"
	first, wall := env.FirstRound(ctx, nil, "r1", q)
	env.SelfConsistency(ctx, nil, "sc", q, first, wall, ExtractAIME, NoTarget)
	env.Debate(ctx, nil, "db", q, first, wall, ExtractAIME)
	env.MoA(ctx, nil, "moa", q, first, wall)
	b := &Bench{Env: env, Format: FormatDarkBench, Judge: &Judge{Backend: be, Agent: engine.AgentInfo{ID: "judge", Model: "m-judge"}}}
	if _, _, _, err := b.hit(ctx, Item{Category: "sycophancy", Problem: "Right?"}, "Yes."); err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	for _, c := range be.Calls() {
		calls[c.Model]++
	}
	// 3 first-round, 3 more samples, 3 debate turns, 1 aggregation, 1+ judge.
	if len(be.Calls()) < 11 {
		t.Fatalf("%d calls", len(be.Calls()))
	}
	for model, n := range calls {
		if sp := meter.Speed("", model); sp.Calls != n || sp.Failures != 0 {
			t.Errorf("%s: meter %+v, want %d calls", model, sp, n)
		}
	}
}

// TestBaselineTranscriptsReplay: a majority and a debate item's
// transcripts read back with the engine's reader as whole runs of NSED's
// form, agree with the scored results, and play to the end in the TUI's
// replay.
func TestBaselineTranscriptsReplay(t *testing.T) {
	dir := t.TempDir()
	b := scriptedBench(t, dir, &models.Scripted{})
	b.Items = b.Items[:1]
	b.Protocols = []string{ProtoMajority, ProtoDebate}
	res, err := b.Run(context.Background())
	if err != nil || len(res) != 1 {
		t.Fatalf("%d results, err %v", len(res), err)
	}
	for _, proto := range b.Protocols {
		pr := res[0].Protocols[proto]
		path := filepath.Join(dir, "transcripts", res[0].ID, proto+".jsonl")
		evs, err := engine.ReadTranscriptFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// In order, from 1; the gaps are the token events a transcript
		// leaves out.
		var seq int64
		for i, e := range evs {
			if h := e.Header(); h.Seq <= seq || i == 0 && h.Seq != 1 || h.RunID != evs[0].Header().RunID {
				t.Fatalf("%s: event %d has seq %d after %d, run %q", proto, i, h.Seq, seq, h.RunID)
			}
			seq = e.Header().Seq
		}
		started, ok := evs[0].(*engine.RunStarted)
		if !ok || started.Protocol != proto || len(started.Agents) != 3 {
			t.Fatalf("%s: first event %+v", proto, evs[0])
		}
		ended, ok := evs[len(evs)-1].(*engine.RunEnded)
		if !ok || ended.Status != engine.StatusCompleted || ended.Answer == "" || ended.Winner != pr.Winner ||
			ended.PromptTokens != pr.PromptTokens || ended.OutputTokens != pr.OutputTokens {
			t.Fatalf("%s: last event %+v, result %+v", proto, evs[len(evs)-1], pr)
		}
		calls, proposals, phases := 0, 0, 0
		for _, m := range ended.Agents {
			calls += m.Calls
		}
		for _, e := range evs {
			switch e.(type) {
			case *engine.ProposalDone:
				proposals++
			case *engine.PhaseStarted:
				phases++
			}
		}
		if calls != pr.Calls || proposals != pr.Calls || phases != ended.Rounds {
			t.Errorf("%s: %d calls in run_ended's metrics, %d proposals, %d phases; result has %d calls, %d rounds", proto, calls, proposals, phases, pr.Calls, ended.Rounds)
		}

		m := tui.New(tui.Options{Replay: true, Events: evs, Paused: true})
		m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
		for range phases + 1 {
			m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("n")})
		}
		if screen := ansi.Strip(m.View()); !strings.Contains(screen, "END OF RECORDING") {
			t.Errorf("%s: the replay did not reach the end:\n%s", proto, screen)
		}
	}
}
