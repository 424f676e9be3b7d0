package tui

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

const eightPath = "testdata/eight.jsonl"

var record = flag.Bool("record", false, "record "+eightPath+" again")

// TestRecordEight records the eight-agent run the layout goldens use (run
// with -record; then -update the goldens). It is a recording, not a live run, because the engine's
// agents run concurrently and their interleaving is not deterministic.
func TestRecordEight(t *testing.T) {
	if !*record {
		t.Skip("run with -record to record " + eightPath + " again")
	}
	var agents []engine.AgentInfo
	roles := []string{"solver", "skeptic", "critic", "synthesiser"}
	for i := 1; i <= 8; i++ {
		agents = append(agents, engine.AgentInfo{ID: fmt.Sprintf("a%d", i), Role: roles[i%4], Model: fmt.Sprintf("tiny-%c:0.5b", 'a'+i-1), Host: "127.0.0.1:11434"})
	}
	s := engine.DefaultSettings()
	s.MinRounds, s.MaxRounds = 2, 2
	var buf bytes.Buffer
	tw := engine.NewTranscriptWriter(&buf, false)
	r, err := engine.New(engine.Config{
		Question: "Name a prime between 40 and 44.", Agents: agents, Settings: s,
		Backend: &models.Scripted{}, Sink: tw, RunID: "eight",
		Now: fakeClock(time.Date(2026, 1, 25, 10, 0, 0, 0, time.UTC), 20*time.Millisecond),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(eightPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func eightEvents(t *testing.T) []engine.Event {
	t.Helper()
	evs, err := engine.ReadTranscriptFile(filepath.FromSlash(eightPath))
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// Eight agents after round 1's review, and at the end, at every size.
func TestGoldenEightAgents(t *testing.T) {
	evs := eightEvents(t)
	moments := map[string]int{
		"review": cut(t, evs, isPhase(1, engine.PhaseVote)),
		"final":  len(evs),
	}
	for name, n := range moments {
		for _, sz := range sizes {
			t.Run(name+"/"+sizeName(sz), func(t *testing.T) {
				s := plain(liveModel(evs[:n], sz[0], sz[1]))
				checkShape(t, s, sz[0], sz[1])
				checkGolden(t, "", s)
			})
		}
	}
}

// fakeClock moves step forward at every reading, so a recording's timings
// don't depend on the machine's speed.
func fakeClock(t time.Time, step time.Duration) func() time.Time {
	var mu sync.Mutex
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(step)
		return t
	}
}
