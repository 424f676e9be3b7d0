package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
	"github.com/nsed/nsed/tui/demo"
)

// keys is a keyboard for a program reading a pipe.
type keys struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func newKeys() *keys {
	r, w := io.Pipe()
	return &keys{r, w}
}

// press types each key of s separately, as a person would: keys read in
// one go arrive as one multi-rune message (and ESC then j as alt+j).
func (k *keys) press(s string) {
	for _, r := range s {
		_, _ = k.w.Write([]byte(string(r)))
		time.Sleep(30 * time.Millisecond)
	}
}

// text types s in one go, as a paste.
func (k *keys) text(s string) { _, _ = k.w.Write([]byte(s)) }

// syncBuffer is a bytes.Buffer safe to read while the program writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestReplayCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"replay"}, exitUsage, "Usage: nsed replay"},
		// A transcript that is neither a file nor a saved run id is a
		// mistake in the arguments.
		{[]string{"replay", "/nonexistent.jsonl"}, exitUsage, "nonexistent.jsonl: no such transcript file"},
		{[]string{"replay", "--theme", "neon", "x.jsonl"}, exitUsage, "x.jsonl"},
		{[]string{"demo", "--theme", "neon"}, exitUsage, "valid themes are dark, high-contrast, light"},
		{[]string{"demo", "--bogus"}, exitUsage, "bogus"},
	} {
		code, _, errs := runCLI(context.Background(), tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tc.args, code, tc.code, errs, tc.want)
		}
	}
}

func TestTUIRefusesAPipe(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var errb bytes.Buffer
	code := dispatch(context.Background(), stdio{strings.NewReader(""), f, &errb}, []string{"demo"})
	if code != exitUsage || !strings.Contains(errb.String(), "needs a terminal") {
		t.Errorf("exit %d, %q", code, errb.String())
	}
}

// TestDemoAndReplay play recordings through the real program.
func TestDemoAndReplay(t *testing.T) {
	tr := filepath.Join(t.TempDir(), "demo.jsonl")
	if err := os.WriteFile(tr, demo.Transcript, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"demo", "--speed", "64"}, {"replay", "--paused", tr}} {
		k := newKeys()
		var out, errb syncBuffer
		done := make(chan int, 1)
		go func() { done <- dispatch(context.Background(), stdio{k.r, &out, &errb}, args) }()
		waitFor(t, &out, "RECORDING", 5*time.Second)
		k.press("nnnn")
		k.press("q")
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("%v: exit %d: %s", args, code, errb.String())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%v: q did not quit", args)
		}
	}
}

func waitFor(t *testing.T, out interface{ String() string }, want string, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(out.String(), want) {
			return
		}
	}
	t.Fatalf("%q never appeared; output ends:\n%s", want, ansi.Strip(tail(out.String(), 6000)))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// recorder keeps a run's events for the test to inspect.
type recorder struct {
	mu  sync.Mutex
	evs []engine.Event
}

func (r *recorder) Emit(e engine.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

func (r *recorder) find(k engine.Kind) engine.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.evs {
		if e.Header().Kind == k {
			return e
		}
	}
	return nil
}

func (r *recorder) waitKind(t *testing.T, k engine.Kind, d time.Duration) engine.Event {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if e := r.find(k); e != nil {
			return e
		}
	}
	t.Fatalf("no %s event within %v", k, d)
	return nil
}

// TestLiveTUIScripted drives the live TUI over the real engine and the
// scripted backend, with keys through a pipe: pause, a refused rebind, an
// accepted one, a human message, resume, quit. Quitting cancels the run and
// waits for its run_ended event.
func TestLiveTUIScripted(t *testing.T) {
	rec := &recorder{}
	be := &models.Scripted{Delay: 2 * time.Millisecond, Models: []string{"tiny-a", "tiny-b", "tiny-c"}}
	agents := []engine.AgentInfo{{ID: "a1", Role: "solver", Model: "tiny-a"}, {ID: "a2", Role: "critic", Model: "tiny-b"}}
	s := engine.DefaultSettings()
	s.MinRounds, s.MaxRounds = 6, 6
	setup := liveSetup{
		Question: "What is 6*7?", Agents: agents, Settings: s, Theme: "high-contrast",
		NewRun: func(sink engine.Sink) (*engine.Run, error) {
			return engine.New(engine.Config{Question: "What is 6*7?", Agents: agents, Settings: s, Backend: be, Sink: engine.Tee(rec, sink)})
		},
		Models: func(context.Context) ([]models.ModelInfo, error) {
			return []models.ModelInfo{{Name: "tiny-a"}, {Name: "tiny-b"}, {Name: "not-pulled:7b"}, {Name: "tiny-c"}}, nil
		},
	}
	k := newKeys()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- runLiveTUI(context.Background(), stdio{k.r, &out, io.Discard}, setup) }()
	waitFor(t, &out, "LIVE", 5*time.Second)

	k.press(" ")
	rec.waitKind(t, engine.KindPaused, 10*time.Second)
	waitFor(t, &out, "PAUSED", 5*time.Second)

	// Rebind a1 to a model the server lacks: refused, binding kept.
	k.press("r")
	waitFor(t, &out, "Which agent?", 2*time.Second)
	k.press("\r")
	waitFor(t, &out, "not-pulled:7b", 2*time.Second)
	k.press("jj\r")
	waitFor(t, &out, "Rebind a1?", 2*time.Second)
	k.press("y")
	waitFor(t, &out, "The old binding stays", 2*time.Second)
	// Then to tiny-c: accepted.
	k.press("\x1bj\ry")
	waitFor(t, &out, "a1 will use tiny-c from the next phase", 2*time.Second)

	k.press("i")
	waitFor(t, &out, "Inject a message", 2*time.Second)
	k.text("mind the units")
	k.press("\r")
	k.press(" ")
	ev := rec.waitKind(t, engine.KindRebound, 10*time.Second).(*engine.Rebound)
	if ev.Agent != "a1" || ev.To.Model != "tiny-c" || ev.From.Model != "tiny-a" {
		t.Errorf("rebound %+v", ev)
	}
	waitFor(t, &out, "was tiny-a", 5*time.Second)
	hm := rec.waitKind(t, engine.KindHumanMessage, 10*time.Second).(*engine.HumanMessage)
	if hm.Text != "mind the units" {
		t.Errorf("human message %q", hm.Text)
	}

	k.press("q")
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) && err != nil {
			t.Errorf("runLiveTUI: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("q did not end the program")
	}
	end, ok := rec.evs[len(rec.evs)-1].(*engine.RunEnded)
	if !ok {
		t.Fatalf("the run's last event is %T, not run_ended", rec.evs[len(rec.evs)-1])
	}
	if end.Status != engine.StatusCancelled && end.Status != engine.StatusCompleted {
		t.Errorf("run ended %s", end.Status)
	}
}

// TestTUIUnderTmuxAgainstOllama is the end-to-end check: the real binary in
// a real terminal (tmux) on the real Ollama test server with tiny models.
// It pauses, rebinds agent-1 to another model, resumes, quits, and checks
// the screen and the transcript's rebound event.
func TestTUIUnderTmuxAgainstOllama(t *testing.T) {
	host, names := testServer(t)
	if len(names) < 2 {
		t.Skip("NSED_TEST_MODELS needs two models to rebind between")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "nsed")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	tr := filepath.Join(dir, "run.jsonl")
	session := fmt.Sprintf("nsed-e2e-%d", os.Getpid())
	tmux := func(args ...string) string {
		out, err := exec.Command("tmux", append([]string{"-L", session}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	from, to := names[0], names[1]
	cmd := fmt.Sprintf("%s run --config %s --host %s --models %s --rounds 2 --transcript %s 'What is 2+3?'; echo NSED-EXIT=$?; sleep 30",
		bin, writeConfig(t, ""), host, strings.Join([]string{from, names[1], names[len(names)-1]}, ","), tr)
	tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", cmd)
	defer exec.Command("tmux", "-L", session, "kill-server").Run()

	screen := func() string { return tmux("capture-pane", "-p", "-t", session) }
	wait := func(want string, d time.Duration) string {
		t.Helper()
		var s string
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if s = screen(); strings.Contains(s, want) {
				return s
			}
		}
		t.Fatalf("%q never appeared on screen:\n%s", want, s)
		return ""
	}
	send := func(keys ...string) { tmux(append([]string{"send-keys", "-t", session}, keys...)...) }

	wait("LIVE", 15*time.Second)
	send("Space")
	wait("PAUSED", 60*time.Second)
	send("r")
	wait("Which agent?", 5*time.Second)
	send("Enter")
	s := wait("pick a model", 10*time.Second)
	// Move the selection onto the target model.
	for i := 0; i < 10 && !selected(s, to); i++ {
		send("Down")
		time.Sleep(150 * time.Millisecond)
		s = screen()
	}
	if !selected(s, to) {
		t.Fatalf("could not select %s:\n%s", to, s)
	}
	send("Enter")
	wait("Rebind agent-1?", 5*time.Second)
	send("y")
	wait("agent-1 will use "+to, 30*time.Second)
	send("Space") // resume: the rebind takes effect at the next phase
	wait("↻ was "+from, 60*time.Second)
	send("q")
	s = wait("NSED-EXIT=", 60*time.Second)
	if !strings.Contains(s, "NSED-EXIT=0") && !strings.Contains(s, "NSED-EXIT=130") {
		t.Errorf("exit status:\n%s", s)
	}

	evs, err := engine.ReadTranscriptFile(tr)
	if err != nil {
		t.Fatal(err)
	}
	var rebound *engine.Rebound
	for _, e := range evs {
		if r, ok := e.(*engine.Rebound); ok {
			rebound = r
		}
	}
	if rebound == nil || rebound.Agent != "agent-1" || !strings.HasPrefix(rebound.To.Model, to) || rebound.By != "user" {
		t.Errorf("transcript's rebound event: %+v", rebound)
	}
	if _, ok := evs[len(evs)-1].(*engine.RunEnded); !ok {
		t.Errorf("transcript ends with %T, not run_ended", evs[len(evs)-1])
	}
}

// selected reports whether the model list's selected row is model.
func selected(screen, model string) bool {
	for _, l := range strings.Split(screen, "\n") {
		if i := strings.Index(l, "▸ "); i >= 0 && strings.HasPrefix(strings.TrimSpace(l[i+len("▸ "):]), model) {
			return true
		}
	}
	return false
}
