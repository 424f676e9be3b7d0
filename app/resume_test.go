package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

// killedTranscript writes a three-round run's transcript as a kill after
// round 1 leaves it (or, with whole, the completed run's) and returns
// its path.
func killedTranscript(t *testing.T, whole bool) string {
	t.Helper()
	s := engine.DefaultSettings()
	s.MinRounds, s.MaxRounds = 3, 3
	var evs []engine.Event
	r, err := engine.New(engine.Config{Question: "What is 6*7?", Settings: s, Backend: &models.Scripted{},
		Agents: []engine.AgentInfo{{Model: "m1", Role: "a"}, {Model: "m2", Role: "b"}, {Model: "m3", Role: "c"}},
		Sink:   engine.SinkFunc(func(e engine.Event) { evs = append(evs, e) })})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !whole {
		for i, ev := range evs {
			if ev.Header().Kind == engine.KindRoundEnded {
				evs = evs[:i+1]
				break
			}
		}
	}
	path := filepath.Join(t.TempDir(), "run.jsonl")
	tw, err := engine.CreateTranscript(path, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		tw.Emit(ev)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// The run goes on with its own settings and models, whatever nsed.toml
// says, into the same transcript.
func TestResumeGoesOnInTheSameTranscript(t *testing.T) {
	path := killedTranscript(t, false)
	be := &models.Scripted{}
	s := load(t, Flags{Backend: be, Models: "x1,x2", Set: set("models")})
	d, err := s.Resume(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Settings.MaxRounds != 3 || s.Agents[0].Model != "m1" || d.Question != "What is 6*7?" {
		t.Fatalf("resumed with max_rounds %d, agent-1 on %s, question %q; want the transcript's 3, m1", s.Settings.MaxRounds, s.Agents[0].Model, d.Question)
	}
	ctx, stop := d.Watch(context.Background())
	defer stop()
	r, err := d.NewRun(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, runErr := r.Run(ctx)
	if err := d.Finish(context.Background(), runErr); err != nil {
		t.Fatal(err)
	}
	evs, err := engine.ReadTranscriptFile(path)
	if err != nil {
		t.Fatal(err)
	}
	end, ok := evs[len(evs)-1].(*engine.RunEnded)
	if !ok || end.Status != engine.StatusCompleted || end.Rounds != 3 {
		t.Fatalf("transcript ends with %+v", evs[len(evs)-1])
	}
	for _, c := range be.Calls() {
		if c.Model != "m1" && c.Model != "m2" && c.Model != "m3" {
			t.Fatalf("a call to %s: the resumed run must keep the run's models", c.Model)
		}
	}
}

// A resumed run stops on a full disk like a new one: Watch is its guard.
func TestResumedRunStopsOnAFullDisk(t *testing.T) {
	path := killedTranscript(t, false)
	be := &models.Scripted{}
	s := load(t, Flags{Backend: be})
	d, err := s.Resume(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	d.tw.Close()
	d.tw = engine.NewTranscriptWriter(&failAfter{n: 3000}, false) // past run_resumed, within round 2
	ctx, stop := d.Watch(context.Background())
	defer stop()
	r, err := d.NewRun(nil)
	if err != nil {
		t.Fatal(err)
	}
	res, runErr := r.Run(ctx)
	err = d.Finish(context.Background(), runErr)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Finish = %v, want the write error", err)
	}
	if res.Ended == nil || res.Ended.Status != engine.StatusFailed || !strings.Contains(res.Ended.Error, "transcript write failed") {
		t.Errorf("run ended %+v, want failed on the transcript write", res.Ended)
	}
	if n := len(be.Calls()); n == 0 || n > 6 {
		t.Errorf("%d model calls, want some but no more than round 2's 6", n)
	}
}

func TestResumeACompletedRunChangesNothing(t *testing.T) {
	path := killedTranscript(t, true)
	before, _ := os.ReadFile(path)
	_, err := load(t, Flags{}).Resume(context.Background(), path)
	var done *AlreadyCompleted
	if !errors.As(err, &done) || done.Rounds != 3 || !strings.Contains(err.Error(), "already completed") {
		t.Fatalf("Resume of a completed run: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("resuming a completed run changed its transcript")
	}
}

// Damage before the last line is not a killed writer's cut: refused,
// naming the line, and the file is left as it is.
func TestResumeRefusesADamagedTranscript(t *testing.T) {
	path := killedTranscript(t, false)
	b, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(b, []byte("\n"))
	lines[3] = lines[3][:len(lines[3])/2]
	damaged := bytes.Join(lines, nil)
	os.WriteFile(path, damaged, 0o600)
	_, err := load(t, Flags{}).Resume(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("Resume of a damaged transcript: %v, want an error naming line 4", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(damaged, after) {
		t.Error("a refused resume changed the transcript")
	}
}
