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
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/charmbracelet/x/ansi"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/internal/testenv"
	"github.com/nsed/nsed/models"
	"github.com/nsed/nsed/tui/demo"
	"github.com/nsed/nsed/tui/safe"
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
// one go arrive as one multi-rune message (and ESC then j as alt+j). A
// pipe's Write returns only once the program has read the bytes, so each
// key is a read of its own, with no pause between them.
func (k *keys) press(s string) {
	for _, r := range s {
		_, _ = k.w.Write([]byte(string(r)))
	}
}

// text types s in one go, as a paste.
func (k *keys) text(s string) { _, _ = k.w.Write([]byte(s)) }

// syncBuffer is a bytes.Buffer safe to read while the program writes it,
// which says on a channel that it was written.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	changed
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.signal()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// changed wakes a waiter when something was added; the zero value works.
type changed struct {
	once sync.Once
	ch   chan struct{}
}

func (c *changed) wake() chan struct{} {
	c.once.Do(func() { c.ch = make(chan struct{}, 1) })
	return c.ch
}

func (c *changed) signal() {
	select {
	case c.wake() <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// await returns once cond holds, checking it after each signal, or
// reports false when d has passed first.
func (c *changed) await(d time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-c.wake():
		case <-deadline.C:
			return cond()
		}
	}
	return true
}

// poll checks cond every interval until it holds, and reports false when
// d has passed first: for what says nothing when it changes (a tmux pane).
func poll(d, every time.Duration, cond func() bool) bool {
	tick := time.NewTicker(every)
	defer tick.Stop()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			return cond()
		}
	}
	return true
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

func waitFor(t *testing.T, out *syncBuffer, want string, d time.Duration) {
	t.Helper()
	if out.await(d, func() bool { return strings.Contains(out.String(), want) }) {
		return
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
	changed
}

func (r *recorder) Emit(e engine.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
	r.signal()
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
	var e engine.Event
	if r.await(d, func() bool { e = r.find(k); return e != nil }) {
		return e
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
	// The dialog closes through a message of its own: a key pressed before
	// it arrives would still be typed into the dialog.
	waitFor(t, &out, "message queued for the next round", 2*time.Second)
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
		if poll(d, 100*time.Millisecond, func() bool { s = screen(); return strings.Contains(s, want) }) {
			return s
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
		row := selectedRow(s)
		send("Down")
		// The selection moves on (or the list ends): go on from there.
		poll(2*time.Second, 20*time.Millisecond, func() bool { s = screen(); return selectedRow(s) != row })
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

// selectedRow is every selected row on the screen, to see the selection
// move.
func selectedRow(screen string) string {
	var rows []string
	for _, l := range strings.Split(screen, "\n") {
		if i := strings.Index(l, "▸ "); i >= 0 {
			rows = append(rows, strings.TrimSpace(l[i+len("▸ "):]))
		}
	}
	return strings.Join(rows, "\n")
}

// realTUIConfig suits a tiny real model on a CPU: short budgets, two
// rounds, so the whole run takes a few minutes.
const realTUIConfig = `
[deliberation]
min_rounds = 2
max_rounds = 2
[sampling.propose]
num_predict = 200
[sampling.review]
num_predict = 300
[sampling.summary]
num_predict = 150
`

// TestTUIUnderTmuxRealModel runs `nsed run` on three SmolLM2 agents in a
// fixed-size tmux pane: real English, of real lengths, through the real
// binary and a real terminal. Every screen captured while the TUI is up must
// fit the terminal with every pane's border intact and no escape sequence
// leaking; the review phase must show live progress (and move); at the end
// each agent pane shows the tail of what its agent wrote, wrapped, and
// scrolls back to the start; q quits, and the transcript is complete.
func TestTUIUnderTmuxRealModel(t *testing.T) {
	host, model := testenv.RealModel(t)
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	const width, height = 100, 32
	dir := t.TempDir()
	bin := filepath.Join(dir, "nsed")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "nsed.toml")
	if err := os.WriteFile(cfg, []byte(realTUIConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := filepath.Join(dir, "run.jsonl")
	session := fmt.Sprintf("nsed-real-%d", os.Getpid())
	tmux := func(args ...string) string {
		out, err := exec.Command("tmux", append([]string{"-L", session}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	cmd := fmt.Sprintf("%s run --config %s --host %s --models %s --transcript %s 'A train leaves at 3pm and travels 120 km at 60 km/h. When does it arrive?'; echo NSED-EXIT=$?; sleep 60",
		bin, cfg, host, strings.Join([]string{model, model, model}, ","), tr)
	tmux("new-session", "-d", "-s", session, "-x", fmt.Sprint(width), "-y", fmt.Sprint(height), cmd)
	defer exec.Command("tmux", "-L", session, "kill-server").Run()

	screens := 0
	capture := func() string {
		t.Helper()
		s := strings.TrimSuffix(tmux("capture-pane", "-p", "-t", session), "\n")
		if !strings.Contains(s, "NSED-EXIT=") {
			screens++
			checkScreen(t, s, width, height)
		}
		return s
	}
	// poll captures (and checks) screens until done says so, for at most d
	// and never past the test's own deadline, so a slow server fails the
	// test with the screen it was stuck on. A screen that fails its checks
	// ends the wait.
	poll := func(what string, d time.Duration, done func(string) bool) string {
		t.Helper()
		var s string
		failed := t.Failed()
		end := time.Now().Add(d)
		if dl, ok := t.Deadline(); ok && dl.Add(-30*time.Second).Before(end) {
			end = dl.Add(-30 * time.Second)
		}
		if poll(time.Until(end), 200*time.Millisecond, func() bool {
			s = capture()
			return done(s) || (!failed && t.Failed())
		}) {
			return s
		}
		t.Fatalf("%s: not within %v; the screen:\n%s", what, d, s)
		return ""
	}
	contains := func(want string) func(string) bool {
		return func(s string) bool { return strings.Contains(s, want) }
	}

	// On a dedicated machine the run takes a minute or two; a CPU shared
	// with other runs can make it ten times slower (go test -timeout 30m).
	poll("the TUI", time.Minute, contains("LIVE"))
	review := poll("live review progress", 10*time.Minute, func(s string) bool {
		return strings.Contains(s, "· review ·") && reviewProgressRE.MatchString(s) && reviewLabelsRE.MatchString(s)
	})
	t.Logf("a screen during review:\n%s", review)
	// The review phase must not stand still: its screens keep changing (the
	// clock, the tokens, the labels) until it ends.
	seen := map[string]bool{review: true}
	poll("the review screen moving", 30*time.Second, func(s string) bool {
		if strings.Contains(s, "· review ·") {
			seen[s] = true
		}
		return len(seen) >= 3 || !strings.Contains(s, "· review ·")
	})
	if len(seen) < 3 {
		t.Errorf("the review phase showed %d distinct screens before it ended", len(seen))
	}
	final := poll("the end of the run", 20*time.Minute, func(s string) bool {
		return strings.Contains(s, "■ COMPLETED") || strings.Contains(s, "■ FAILED")
	})
	t.Logf("the last screen:\n%s", final)
	if strings.Contains(final, "■ FAILED") && strings.Contains(final, "stopped: quorum") {
		// Two of SmolLM2's three reviews were not whole JSON: the round lost
		// its quorum and the run rightly stopped (the quorum's own tests
		// cover that); the two-round screens this test reads never came.
		t.Skip("SmolLM2's reviews lost round's quorum; the two-round TUI path needs whole reviews")
	}
	if t.Failed() {
		return
	}

	evs, err := engine.ReadTranscriptFile(tr)
	if err != nil {
		t.Fatal(err)
	}
	checkRealTranscript(t, evs)
	// Each agent pane follows the end of what its agent wrote: the text it
	// shows, wrapped over several rows, is the tail of its proposals.
	panes := agentPanes(final)
	if len(panes) != 3 {
		t.Fatalf("found %d agent panes on the final screen:\n%s", len(panes), final)
	}
	for id, p := range panes {
		written := noSpace(proposalsOf(evs, id))
		// The last rows: above them may be a note (an abstention's reason).
		rows := p.rows[max(len(p.rows)-6, 0):]
		shown := noSpace(strings.Join(rows, ""))
		if len(rows) < 2 || shown == "" || !strings.HasSuffix(written, shown) {
			t.Errorf("%s's pane is not the tail of its proposals:\nshown   %q\nwritten %q", id, shown, written)
		}
	}
	// Scroll agent-1's pane (focused) to the top: its first proposal's
	// start, with the lines below counted in its border.
	tmux("send-keys", "-t", session, "g")
	first := noSpace(proposalsOf(evs, "agent-1"))
	top := poll("agent-1 scrolled to the top", 10*time.Second, func(s string) bool {
		p := agentPanes(s)["agent-1"]
		for k := 0; k < min(len(p.rows), 3); k++ { // past any note
			if shown := noSpace(strings.Join(p.rows[k:], "")); shown != "" && strings.HasPrefix(first, shown) {
				return true
			}
		}
		return false
	})
	if p := agentPanes(top)["agent-1"]; !scrollUpRE.MatchString(p.bottom) {
		t.Errorf("no scroll indicator in agent-1's border after scrolling up: %q\n%s", p.bottom, top)
	}
	tmux("send-keys", "-t", session, "q")
	s := poll("the exit", 30*time.Second, contains("NSED-EXIT="))
	if !strings.Contains(s, "NSED-EXIT=0") {
		t.Errorf("exit status:\n%s", s)
	}
	t.Logf("%d screens checked", screens)
}

var (
	reviewProgressRE = regexp.MustCompile(`⏱ \d\d:\d\d · [1-9]\d* tok`)
	reviewLabelsRE   = regexp.MustCompile(`(writing|scored) [A-Z]|✎[A-Z]|✓[A-Z]`)
	scrollUpRE       = regexp.MustCompile(`↓\d+`)
	// What is left of the screen's own styling when its ESC is lost: a
	// reset, a colour, several parameters; or a title-setting OSC. Not a
	// bare "[3m]", which a model may write about metres.
	sgrLeakRE = regexp.MustCompile(`\[(?:0|[34]8;[25];[0-9;]+|[0-9]+(?:;[0-9]+)+)m|\]0;`)
)

// checkScreen fails unless screen fits w×h, has no control characters or
// escape-sequence remnants, and every box on it is closed with its sides in
// the columns its corners set.
func checkScreen(t *testing.T, screen string, w, h int) {
	t.Helper()
	lines := strings.Split(screen, "\n")
	if len(lines) != h {
		t.Errorf("screen has %d lines, want %d:\n%s", len(lines), h, screen)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("line %d is %d cells wide, terminal %d: %q", i, n, w, l)
		}
		if strings.ContainsFunc(l, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }) {
			t.Errorf("line %d has a control character: %q", i, l)
		}
		if sgrLeakRE.MatchString(l) {
			t.Errorf("line %d shows an escape sequence's remains: %q", i, l)
		}
	}
	for _, err := range boxErrors(lines) {
		t.Errorf("%s\n%s", err, screen)
	}
}

// cells is a line as terminal cells: a wide character takes its cell and
// a 0 after it.
func cells(l string) []rune {
	var out []rune
	for _, r := range l {
		out = append(out, r)
		for range ansi.StringWidth(string(r)) - 1 {
			out = append(out, 0)
		}
	}
	return out
}

type box struct{ left, right, top int }

// boxErrors finds every box (╭…╮ to ╰…╯) and checks each row between has
// │ in both its corners' columns.
func boxErrors(lines []string) []string {
	var errs []string
	var open []box
	for y, l := range lines {
		c := cells(l)
		at := func(x int) rune {
			if x < len(c) {
				return c[x]
			}
			return ' '
		}
		var still []box
		for _, b := range open {
			lc, rc := at(b.left), at(b.right)
			switch {
			case lc == '╰' && rc == '╯':
			case lc == '│' && rc == '│':
				still = append(still, b)
			default:
				errs = append(errs, fmt.Sprintf("line %d: the box from line %d (columns %d–%d) has %q and %q for sides", y, b.top, b.left, b.right, lc, rc))
			}
		}
		open = still
		for x := 0; x < len(c); x++ {
			if c[x] != '╭' {
				continue
			}
			r := x + 1
			for r < len(c) && c[r] != '╮' {
				r++
			}
			if r == len(c) {
				errs = append(errs, fmt.Sprintf("line %d: a box opened at column %d never closes its top", y, x))
				break
			}
			open = append(open, box{x, r, y})
			x = r
		}
	}
	for _, b := range open {
		errs = append(errs, fmt.Sprintf("the box from line %d (columns %d–%d) has no bottom", b.top, b.left, b.right))
	}
	return errs
}

var paneTitleRE = regexp.MustCompile(`╭─ (?:★ )?(agent-\d)`)

// paneShot is an agent pane cut from a captured screen: its text rows
// (below its model line, without the review's line or round separators)
// and its bottom border.
type paneShot struct {
	rows   []string
	bottom string
}

// agentPanes is each agent's pane on a captured screen, by agent id.
// reviewLineRE is an agent pane's summary of its finished review
// (tui/agentpane reviewSummary), which the pane shows among the text.
var reviewLineRE = regexp.MustCompile(`^(took|reviewed in) \d+:\d\d`)

func agentPanes(screen string) map[string]paneShot {
	lines := strings.Split(screen, "\n")
	out := map[string]paneShot{}
	for y, l := range lines {
		c := cells(l)
		for _, m := range paneTitleRE.FindAllStringSubmatchIndex(l, -1) {
			id := l[m[2]:m[3]]
			left := len(cells(l[:m[0]]))
			right := left + 1
			for right < len(c) && c[right] != '╮' {
				right++
			}
			var rows []string
			var bottom string
			for _, body := range lines[y+2:] { // the model line first
				bc := cells(body)
				if left >= len(bc) || bc[left] != '│' {
					if left < len(bc) && bc[left] == '╰' {
						bottom = strings.ReplaceAll(string(bc[left:min(right+1, len(bc))]), "\x00", "")
					}
					break
				}
				row := strings.ReplaceAll(string(bc[left+1:min(right, len(bc))]), "\x00", "")
				// The pane's own lines, not the model's: "took 00:46 · …" —
				// a model's "took you 120 more…" is text like any other.
				if reviewLineRE.MatchString(row) || strings.HasPrefix(row, "── round ") {
					continue
				}
				rows = append(rows, strings.TrimRight(row, " "))
			}
			for len(rows) > 0 && rows[len(rows)-1] == "" {
				rows = rows[:len(rows)-1]
			}
			out[id] = paneShot{rows, bottom}
		}
	}
	return out
}

func noSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// proposalsOf is every proposal agent wrote, in order, as the pane keeps
// them.
func proposalsOf(evs []engine.Event, agent string) string {
	var b strings.Builder
	for _, e := range evs {
		if p, ok := e.(*engine.ProposalDone); ok && p.Agent == agent {
			b.WriteString(safe.String(p.Text))
			b.WriteString("\n")
		}
	}
	return b.String()
}

// checkRealTranscript checks a completed real run's transcript for its
// structure: two rounds, every agent's proposal and review (parsed, or an
// abstention with its reason) in each, and run_ended last.
func checkRealTranscript(t *testing.T, evs []engine.Event) {
	t.Helper()
	type key struct {
		round int
		agent string
	}
	proposed, reviewed := map[key]bool{}, map[key]bool{}
	for _, e := range evs {
		h := e.Header()
		switch ev := e.(type) {
		case *engine.ProposalDone:
			if strings.TrimSpace(ev.Text) == "" {
				t.Errorf("round %d: %s's proposal is empty", h.Round, h.Agent)
			}
			proposed[key{h.Round, h.Agent}] = true
		case *engine.ReviewDone:
			if ev.Abstained && ev.Reason == "" {
				t.Errorf("round %d: %s abstained without a reason", h.Round, h.Agent)
			}
			if !ev.Abstained && len(ev.Evaluations) == 0 {
				t.Errorf("round %d: %s's review has no evaluations", h.Round, h.Agent)
			}
			reviewed[key{h.Round, h.Agent}] = true
		}
	}
	for r := 1; r <= 2; r++ {
		for _, a := range []string{"agent-1", "agent-2", "agent-3"} {
			if !proposed[key{r, a}] || !reviewed[key{r, a}] {
				t.Errorf("round %d: %s proposed %v, reviewed %v", r, a, proposed[key{r, a}], reviewed[key{r, a}])
			}
		}
	}
	end, ok := evs[len(evs)-1].(*engine.RunEnded)
	if !ok {
		t.Fatalf("the transcript ends with %T, not run_ended", evs[len(evs)-1])
	}
	if end.Status != engine.StatusCompleted || end.Rounds != 2 {
		t.Errorf("run ended %s after %d rounds (%s)", end.Status, end.Rounds, end.Reason)
	}
}

// TestBoxErrors checks the screen checker itself: it passes intact boxes
// (with wide characters inside) and finds a side out of place, a box with
// no bottom and a top with no corner.
func TestBoxErrors(t *testing.T) {
	good := []string{
		"╭─ a ──╮╭─ b ─╮",
		"│数学 x││ok   │",
		"╰──────╯╰─────╯",
	}
	if errs := boxErrors(good); len(errs) != 0 {
		t.Errorf("intact boxes: %v", errs)
	}
	for name, bad := range map[string][]string{
		"side shifted": {"╭─ a ──╮", "│数学 xx│", "╰──────╯"},
		"no bottom":    {"╭─ a ──╮", "│ text │"},
		"open top":     {"╭─ a ───", "│ text │", "╰──────╯"},
	} {
		if errs := boxErrors(bad); len(errs) == 0 {
			t.Errorf("%s: not found", name)
		}
	}
	if !sgrLeakRE.MatchString("text [38;5;196mred[0m") || !sgrLeakRE.MatchString("[1;31mbold") || sgrLeakRE.MatchString("a [3m] pole, list [1] and [x]") {
		t.Error("escape remnants: wrong pattern")
	}
}
