package app

import (
	"strings"
	"testing"
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
