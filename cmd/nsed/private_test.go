package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsed/nsed/internal/fakeollama"
	"github.com/ollama/ollama/api"
)

// An exported report quotes the whole run: a file written with -o is the
// owner's alone, whatever the umask.
func TestExportFileIsOwnerOnly(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run.md")
	if code, _, errs := runCLI(context.Background(), "export", "-o", out, "../../tui/demo/demo.jsonl"); code != exitOK {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o077 != 0 || st.Size() == 0 {
		t.Errorf("%s: mode %v, %d bytes; want a report with no group or other bits", out, st.Mode().Perm(), st.Size())
	}
}

func fakeServer(t *testing.T) *fakeollama.Server {
	reply := func(*api.ChatRequest) fakeollama.Reply { return fakeollama.Reply{Content: "FINAL ANSWER: 42"} }
	return fakeollama.New(t, map[string]fakeollama.Model{"a:1b": {Respond: reply}, "b:1b": {Respond: reply}})
}

// A transcript that cannot be written refuses the run before any model
// call, naming the path and the fix; a full disk (/dev/full) stops it the
// same way, naming the path. No run goes on unrecorded.
func TestRunRefusesWithoutATranscript(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, transcript string
		code             int
		want             []string
	}{
		{"unwritable", filepath.Join(file, "sub", "run.jsonl"), exitUsage, []string{filepath.Join(file, "sub", "run.jsonl"), "--transcript FILE"}},
		{"full disk", "/dev/full", exitFailed, []string{"/dev/full", "no space left", "unrecorded"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat("/dev/full"); err != nil && tc.transcript == "/dev/full" {
				t.Skip("no /dev/full here")
			}
			srv := fakeServer(t)
			code, _, errs := runCLI(context.Background(), "run", "--headless", "--config", writeConfig(t, ""), "--host", srv.Host,
				"--models", "a:1b,b:1b", "--rounds", "1", "--transcript", tc.transcript, "q?")
			t.Logf("stderr: %s", errs)
			if code != tc.code {
				t.Errorf("exit %d, want %d: %s", code, tc.code, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
			if strings.Contains(errs, "transcript saved") {
				t.Errorf("claims a saved transcript:\n%s", errs)
			}
			if n := len(srv.Requests()); n != 0 {
				t.Errorf("%d model calls made with no transcript, want none", n)
			}
		})
	}
}
