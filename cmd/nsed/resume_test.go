package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

// The test: a real binary deliberating on the real server is
// killed (SIGKILL: no run_ended) once round 1 is on disk, and `nsed
// resume last` goes on from round 2 — round 1 not run again, the sequence
// continuing — to a completed run that replay and export read whole;
// resuming it again says it is done.
func TestResumeAKilledRunThroughTheBinary(t *testing.T) {
	host, names := testServer(t)
	bin := filepath.Join(t.TempDir(), "nsed")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nsed.toml")
	body := strings.Replace(tinyConfig, "min_rounds = 1\nmax_rounds = 2", "min_rounds = 3\nmax_rounds = 3", 1)
	if err := os.WriteFile(cfg, []byte(body+"[transcript]\ndir = \""+dir+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--headless", "--config", cfg, "--host", host, "--models", strings.Join(names[:2], ","), "What is 6*7?")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The printer writes round 1's end after the transcript has it on disk
	// (the transcript is the first sink, flushed per event).
	roundOne := make(chan struct{})
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "[r1 end]") {
				close(roundOne)
				break
			}
		}
	}()
	select {
	case <-roundOne:
	case <-time.After(3 * time.Minute): // turns a hang into a failure
		cmd.Process.Kill()
		t.Fatalf("round 1 did not end in 3 minutes:\n%s\n%s", log.String(), stderr.String())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	paths, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil || len(paths) != 1 {
		t.Fatalf("transcripts %v, %v", paths, err)
	}
	path := paths[0]
	killed, err := engine.ReadTranscriptFile(path)
	if err != nil {
		t.Fatalf("the killed run's transcript: %v", err)
	}
	lastSeq := killed[len(killed)-1].Header().Seq
	if _, ended := killed[len(killed)-1].(*engine.RunEnded); ended {
		t.Fatal("the killed run wrote run_ended")
	}
	// And as if killed in the middle of writing a line.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"v":1,"seq":999999,"kind":"proposal_d`)
	f.Close()

	start := time.Now()
	out, err := exec.Command(bin, "resume", "--headless", "--config", cfg, "--host", host, "last").CombinedOutput()
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	t.Logf("resumed run took %v", time.Since(start))
	if !strings.Contains(string(out), "resuming run") || !strings.Contains(string(out), "(it was killed)") {
		t.Errorf("resume does not say what it resumes:\n%s", out)
	}
	evs, err := engine.ReadTranscriptFile(path)
	if err != nil {
		t.Fatalf("the resumed transcript does not read whole: %v", err)
	}
	at := -1
	for i, ev := range evs {
		if i > 0 && ev.Header().Seq <= evs[i-1].Header().Seq {
			t.Fatalf("event %d: seq %d after %d", i, ev.Header().Seq, evs[i-1].Header().Seq)
		}
		if r, ok := ev.(*engine.RunResumed); ok {
			at = i
			if r.Reason != engine.EndedKilled || r.After < 1 || r.Seq != lastSeq+1 {
				t.Fatalf("run_resumed %+v, want after ≥ 1, killed, seq %d", r, lastSeq+1)
			}
		}
	}
	if at < 0 {
		t.Fatal("no run_resumed event")
	}
	after := evs[at].(*engine.RunResumed).After
	for _, ev := range evs[at:] {
		if ev.Header().Kind == engine.KindProposalDone && ev.Header().Round <= after {
			t.Fatalf("round %d proposed again after the resume", ev.Header().Round)
		}
	}
	end, ok := evs[len(evs)-1].(*engine.RunEnded)
	if !ok || end.Status != engine.StatusCompleted || end.Rounds != 3 {
		t.Fatalf("the resumed run ends with %T %+v, want completed after 3 rounds", evs[len(evs)-1], evs[len(evs)-1])
	}

	if code, out, errs := runCLI(context.Background(), "export", path); code != exitOK || !strings.Contains(out, "## Round 3") || !strings.Contains(out, "resumed after round") {
		t.Fatalf("export of the resumed transcript: exit %d %s\n%s", code, errs, out)
	}
	code, stdout2, errs := runCLI(context.Background(), "resume", "--headless", "--config", cfg, "--host", host, "last")
	if code != exitOK || !strings.Contains(stdout2, "already completed") {
		t.Fatalf("resuming a completed run: exit %d\n%s%s", code, stdout2, errs)
	}
}

// `nsed resume RUN` without --headless: the TUI shows the run's earlier
// rounds (the question and the bindings are only in them: a resumed run
// does not start again) and goes on with it.
func TestResumeInTheTUIShowsTheEarlierRounds(t *testing.T) {
	agents := []engine.AgentInfo{{ID: "a1", Role: "solver", Model: "tiny-a"}, {ID: "a2", Role: "critic", Model: "tiny-b"}}
	s := engine.DefaultSettings()
	s.MinRounds, s.MaxRounds = 6, 6
	var whole []engine.Event
	r, err := engine.New(engine.Config{Question: "How many legs has a spider?", Agents: agents, Settings: s, Backend: &models.Scripted{},
		Sink: engine.SinkFunc(func(e engine.Event) { whole = append(whole, e) })})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var killed []engine.Event // as if killed after round 1
	for i, ev := range whole {
		if ev.Header().Kind == engine.KindRoundEnded {
			killed = whole[:i+1]
			break
		}
	}
	rs, err := engine.ResumeFrom(killed)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	setup := liveSetup{
		Question: rs.Question, Agents: rs.Agents, Settings: rs.Settings, Theme: "high-contrast", History: rs.History,
		NewRun: func(sink engine.Sink) (*engine.Run, error) {
			return engine.New(engine.Config{Backend: &models.Scripted{Delay: 2 * time.Millisecond}, Resume: rs, Sink: engine.Tee(rec, sink)})
		},
	}
	k := newKeys()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- runLiveTUI(context.Background(), stdio{k.r, &out, io.Discard}, setup) }()
	waitFor(t, &out, "How many legs has a spider?", 5*time.Second)
	waitFor(t, &out, "resumed after round 1", 5*time.Second)
	rec.waitKind(t, engine.KindProposalDone, 10*time.Second)
	k.press("q")
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("runLiveTUI: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("q did not end the program")
	}
	if ev := rec.find(engine.KindProposalDone); ev.Header().Round != 2 {
		t.Errorf("the resumed run's first proposal is of round %d, want 2", ev.Header().Round)
	}
}
