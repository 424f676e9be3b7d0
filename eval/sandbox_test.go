package eval

import (
	"context"
	"strings"
	"testing"
	"time"
)

func testSandbox(t *testing.T) *Sandbox {
	t.Helper()
	s := &Sandbox{Limits: Limits{Wall: 3 * time.Second, CPU: 2 * time.Second, Memory: 256 << 20, Output: 64 << 10}}
	if s.Describe(); s.initErr != nil {
		t.Skip("no sandbox here:", s.initErr)
	}
	t.Log(s.Describe())
	return s
}

func TestSandboxLimits(t *testing.T) {
	s := testSandbox(t)
	cases := []struct {
		name, code, stdin, want string
		maxWall                 time.Duration
	}{
		{"ok", "print(int(input())*2)", "21\n", ExecOK, 10 * time.Second},
		{"exception", "raise ValueError('x')", "", ExecError, 10 * time.Second},
		{"loop", "while True: pass", "", ExecTimeout, 10 * time.Second},
		{"sleep", "import time\ntime.sleep(60)", "", ExecTimeout, 10 * time.Second},
		{"memory", "x = bytearray(2 << 30)\nprint(len(x))", "", ExecMemory, 10 * time.Second},
		{"memory-growing", "a = []\nwhile True: a.append('x' * (1 << 20))", "", ExecMemory, 10 * time.Second},
		{"output", "while True: print('y' * 1000)", "", ExecOutput, 10 * time.Second},
		{"forks", "import os, time\nfor _ in range(200):\n    try:\n        if os.fork() == 0:\n            time.sleep(60)\n    except OSError:\n        pass\ntime.sleep(60)", "", ExecTimeout, 10 * time.Second},
		{"network", "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=1)", "", ExecError, 10 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "network" && !strings.Contains(s.Describe(), "no network") {
				t.Skip("network isolation not available here")
			}
			start := time.Now()
			res, err := s.Run(context.Background(), c.code, c.stdin)
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			t.Logf("%s: status %s exit %d in %s, %d bytes out", c.name, res.Status, res.ExitCode, took.Round(time.Millisecond), len(res.Stdout))
			if res.Status != c.want {
				t.Errorf("status %q, want %q (stderr %q)", res.Status, c.want, tail(res.Stderr, 300))
			}
			// The sandbox's own limits (2 s CPU, 3 s wall here) decide the
			// status; this bound only catches a limit that never fired,
			// with room for a loaded CI machine.
			if took > c.maxWall {
				t.Errorf("took %s, want under %s", took, c.maxWall)
			}
			if int64(len(res.Stdout)) > 64<<10 {
				t.Errorf("kept %d bytes of output, cap is 64 KiB", len(res.Stdout))
			}
		})
	}
	if res, _ := s.Run(context.Background(), "print(int(input())*2)", "21\n"); strings.TrimSpace(res.Stdout) != "42" {
		t.Errorf("stdout %q, want 42", res.Stdout)
	}
}

// A program writing to stdout and stderr at once: their two copying
// goroutines count one shared total (go test -race found it unsynchronised),
// and together they hit the output cap.
func TestSandboxBothStreams(t *testing.T) {
	s := testSandbox(t)
	code := "import sys\nfor i in range(400):\n    sys.stdout.write('o' * 100 + '\\n'); sys.stdout.flush()\n    sys.stderr.write('e' * 100 + '\\n'); sys.stderr.flush()"
	res, err := s.Run(context.Background(), code, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != ExecOutput || res.Stdout == "" || res.Stderr == "" {
		t.Fatalf("status %q with %d bytes out, %d err; want %q with both kept", res.Status, len(res.Stdout), len(res.Stderr), ExecOutput)
	}
}

func TestSandboxCancel(t *testing.T) {
	s := testSandbox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Run(ctx, "while True: pass", "")
	if err == nil || time.Since(start) > 10*time.Second { // a hang detector, not a speed target
		t.Fatalf("err %v after %s; want the context's error promptly", err, time.Since(start))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
