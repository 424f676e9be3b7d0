package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

// A session warns once for each host it reaches over plain HTTP off this
// machine, naming the host and the fix; loopback and https hosts get none.
func TestPlainHTTPHostsAreWarnedOnce(t *testing.T) {
	t.Setenv("OLLAMA_HOST", "")
	cfg := writeConfig(t, `[ollama]
hosts = ["127.0.0.1:11434", "gpu1:11434", "http://gpu1:11434", "https://gpu2.example", "[::1]:11434", "localhost", "127.8.9.10", "10.0.0.5"]
`)
	var warned []string
	if _, err := Load(Flags{Config: cfg}, func(m string) { warned = append(warned, m) }); err != nil {
		t.Fatal(err)
	}
	want := []string{"gpu1:11434", "10.0.0.5:11434"}
	if len(warned) != len(want) {
		t.Fatalf("%d warnings, want %d (one per plain-HTTP remote host):\n%s", len(warned), len(want), strings.Join(warned, "\n"))
	}
	for i, host := range want {
		if !strings.HasPrefix(warned[i], host+" is reached over plain HTTP") || !strings.Contains(warned[i], "SSH tunnel") {
			t.Errorf("warning %d = %q, want it to name %s and the fix", i, warned[i], host)
		}
	}
}

// OpenAI-compatible hosts are URLs: one on this machine gets no warning,
// one on another does, with a tunnel that keeps the URL's port and path.
func TestPlainHTTPWarningForOpenAIHosts(t *testing.T) {
	t.Setenv("OLLAMA_HOST", "")
	cfg := writeConfig(t, "[[hosts]]\nurl = \"http://127.0.0.1:8000/v1\"\napi = \"openai\"\n[[hosts]]\nurl = \"http://gpu3:8000/v1\"\napi = \"openai\"\n")
	var warned []string
	if _, err := Load(Flags{Config: cfg}, func(m string) { warned = append(warned, m) }); err != nil {
		t.Fatal(err)
	}
	if len(warned) != 1 || !strings.HasPrefix(warned[0], "http://gpu3:8000/v1 is reached over plain HTTP") ||
		!strings.Contains(warned[0], "ssh -L 8000:localhost:8000 gpu3, then --host http://localhost:8000/v1") {
		t.Errorf("warnings %q: want one, for gpu3, with a tunnel to its port 8000 and /v1", warned)
	}
}

// Loopback, however written, is not a network crossing.
func TestLoopbackGetsNoPlainHTTPWarning(t *testing.T) {
	t.Setenv("OLLAMA_HOST", "")
	cfg := writeConfig(t, `[ollama]
hosts = ["localhost:11434", "http://127.0.0.1:8080", "[::1]", "0.0.0.0:11434"]
`)
	var warned []string
	if _, err := Load(Flags{Config: cfg, Host: "http://localhost", Set: set("host")}, func(m string) { warned = append(warned, m) }); err != nil {
		t.Fatal(err)
	}
	if len(warned) != 0 {
		t.Errorf("loopback hosts warned: %q", warned)
	}
}

// deliberation opens a scripted session writing its transcript to tr and
// its quality store in a temporary directory.
func deliberation(t *testing.T, tr string, rounds int) (*Deliberation, *models.Scripted, error) {
	t.Helper()
	be := &models.Scripted{}
	s, err := Open(context.Background(), Flags{Backend: be, Models: "m1,m2,m3", Rounds: rounds, MinRounds: rounds, Transcript: tr,
		Store: filepath.Join(t.TempDir(), "quality.json"), Set: set("models", "rounds", "min-rounds", "transcript", "store")}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Deliberate("What is 6*7?", time.Now())
	return d, be, err
}

// A transcript that cannot be created refuses the run, naming the path
// and the fix; it fails for root too (a path under a regular file).
func TestUnwritableTranscriptRefusesToStart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tr := filepath.Join(file, "runs", "run.jsonl")
	_, be, err := deliberation(t, tr, 1)
	if err == nil {
		t.Fatal("a transcript under a regular file was accepted")
	}
	if Classify(err) != Usage || !strings.Contains(err.Error(), tr) || !strings.Contains(err.Error(), "--transcript FILE") {
		t.Errorf("error %q: want a usage error naming %s and --transcript", err, tr)
	}
	if n := len(be.Calls()); n != 0 {
		t.Errorf("%d model calls before the refusal, want none", n)
	}
}

// The transcript directory of nsed.toml, unwritable, is refused the same
// way, naming the config key.
func TestUnwritableTranscriptDirRefusesToStart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := load(t, Flags{Config: writeConfig(t, "[transcript]\ndir = \""+filepath.Join(file, "sub")+"\"\n")})
	_, err := s.Deliberate("q", time.Now())
	if err == nil || Classify(err) != Usage || !strings.Contains(err.Error(), filepath.Join(file, "sub")) || !strings.Contains(err.Error(), "[transcript]") {
		t.Errorf("error %v: want a usage error naming the directory and the [transcript] dir key", err)
	}
}

// A real full disk (/dev/full fails every write with ENOSPC): the first
// event cannot be written, so the run stops before any model is asked,
// and Finish says why, naming the path.
func TestFullDiskStopsTheRunBeforeAnyCall(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	d, be, err := deliberation(t, "/dev/full", 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := d.Watch(context.Background())
	defer stop()
	r, err := d.NewRun(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, runErr := r.Run(ctx)
	err = d.Finish(context.Background(), runErr)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "/dev/full") || !strings.Contains(err.Error(), "--transcript") {
		t.Errorf("Finish = %v; want ENOSPC naming /dev/full and the fix", err)
	}
	if Classify(err) == Cancelled {
		t.Errorf("a full disk is classified as the user's cancel: %v", err)
	}
	if n := len(be.Calls()); n != 0 {
		t.Errorf("%d model calls with no transcript, want none", n)
	}
}

// failAfter accepts n bytes, then fails every write as a full disk would.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k := f.n
		f.n = 0
		return k, syscall.ENOSPC
	}
	f.n -= len(p)
	return len(p), nil
}

// The disk fills mid-run: the run stops at once rather than run its
// remaining rounds unrecorded.
func TestFullDiskMidRunStopsTheRun(t *testing.T) {
	d, be, err := deliberation(t, filepath.Join(t.TempDir(), "run.jsonl"), 3)
	if err != nil {
		t.Fatal(err)
	}
	d.tw.Close()
	d.tw = engine.NewTranscriptWriter(&failAfter{n: 4000}, false) // past run_started, within round 1
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
	// The run failed for its transcript, and run_ended (which reaches the
	// screen, if not the file) says so, naming the file: not "cancelled".
	why := "transcript write failed: " + d.Path + ": no space left on device"
	if res.Ended == nil || res.Ended.Status != engine.StatusFailed || res.Ended.Error != why {
		t.Errorf("run ended %+v, want failed: %s", res.Ended, why)
	}
	// Three rounds of three agents take 3×(3 proposals + 3 reviews) calls;
	// stopped in round 1, at most round 1's were made.
	t.Logf("%d calls; %v", len(be.Calls()), err)
	if n := len(be.Calls()); n == 0 || n > 6 {
		t.Errorf("%d model calls, want some but no more than round 1's 6", n)
	}
}
