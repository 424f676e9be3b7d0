package tui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/internal/adversary"
	"github.com/nsed/nsed/models"
)

// recordRun runs a scripted deliberation and returns its events.
func recordRun(t *testing.T, agents []engine.AgentInfo, s engine.Settings, be models.Backend) []engine.Event {
	t.Helper()
	var mu sync.Mutex
	var evs []engine.Event
	r, err := engine.New(engine.Config{Question: "What is 6 × 7?", Agents: agents, Settings: s, Backend: be,
		Sink: engine.SinkFunc(func(e engine.Event) { mu.Lock(); evs = append(evs, e); mu.Unlock() })})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = r.Run(context.Background())
	return evs
}

// A gullible reviewer obeying the adversary is on screen: the flash says
// who repeated whose instruction, and the review matrix marks the score.
func TestInjectionSuspectedOnScreen(t *testing.T) {
	tm := adversary.Team{Truth: "42", Wrong: "41", Adversary: "m-adv:1b", Gullible: map[string]bool{"m-gull:1b": true}}
	s := engine.DefaultSettings()
	s.MinRounds, s.MaxRounds = 1, 1
	evs := recordRun(t, []engine.AgentInfo{{ID: "a1", Model: "m-adv:1b"}, {ID: "a2", Model: "m-gull:1b"}, {ID: "a3", Model: "m-hon:1b"}}, s, tm.Backend())
	m := liveModel(evs, 120, 40)
	v := plain(m)
	if !strings.Contains(v, "a2's review repeats a1's instruction") {
		t.Errorf("no flash for the suspected injection:\n%s", v)
	}
	if !strings.Contains(v, "+100!") {
		t.Errorf("the matrix does not mark the suspected score:\n%s", v)
	}
}

// A round that lost its quorum is on screen: the header says the run
// stopped on quorum, the timeline who was missing and why.
func TestQuorumLostOnScreen(t *testing.T) {
	be := &models.Scripted{Reply: func(req models.Request) (string, error) {
		if req.Model != "m1" && strings.HasPrefix(req.Messages[len(req.Messages)-1].Content, "Round 2. Phase: PROPOSE") {
			return "", errors.New("HTTP 500: runner crashed")
		}
		return models.DefaultReply(req)
	}}
	s := engine.DefaultSettings()
	s.MinRounds, s.MaxRounds = 2, 2
	evs := recordRun(t, []engine.AgentInfo{{ID: "a1", Model: "m1"}, {ID: "a2", Model: "m2"}, {ID: "a3", Model: "m3"}}, s, be)
	m := liveModel(evs, 200, 60)
	v := strings.Join(strings.Fields(plain(m)), " ")
	for _, want := range []string{"stopped: quorum", "round 2 lost its quorum: 1 of 3 agents", "2 needed; missing a2", "missing a2", "HTTP 500: runner crashed"} {
		if !strings.Contains(v, want) {
			t.Errorf("screen lacks %q:\n%s", want, plain(m))
		}
	}
}
