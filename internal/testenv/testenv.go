// Package testenv finds the private Ollama server and its models for tests
// that need a real server (.ci/ollama.sh writes the variables it reads).
// A test that needs something absent skips with one line; in CI (CI set)
// the real models are required, so their absence fails the test instead.
package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const startHint = "bash .ci/ollama.sh start && source \"$(bash .ci/ollama.sh env)\""

// Tiny returns the server and the tiny random-weight models, or skips.
func Tiny(t testing.TB) (host string, models []string) {
	t.Helper()
	host, list := os.Getenv("NSED_TEST_OLLAMA_HOST"), os.Getenv("NSED_TEST_MODELS")
	if host == "" || list == "" {
		t.Skip("NSED_TEST_OLLAMA_HOST/NSED_TEST_MODELS unset: no real Ollama server (" + startHint + ")")
	}
	return host, strings.Split(list, ",")
}

// RealModel returns the server and the real instruction-tuned model
// (SmolLM2-135M-Instruct), loaded alone with the machine's threads.
func RealModel(t testing.TB) (host, model string) {
	t.Helper()
	host, model = os.Getenv("NSED_TEST_OLLAMA_HOST"), os.Getenv("NSED_TEST_REAL_MODEL")
	if host == "" || model == "" {
		missing(t, "NSED_TEST_REAL_MODEL")
	}
	serialise(t)
	return host, model
}

// RealTeam returns the server and real models meant to be loaded side by
// side (one thread each, so two runners do not fight over two cores): the
// instruction-tuned SmolLM2 first, then the Gemma 3 base model.
func RealTeam(t testing.TB) (host string, models []string) {
	t.Helper()
	host, list := os.Getenv("NSED_TEST_OLLAMA_HOST"), os.Getenv("NSED_TEST_REAL_MODELS")
	models = strings.Split(list, ",")
	if host == "" || list == "" || len(models) < 2 {
		missing(t, "NSED_TEST_REAL_MODELS")
	}
	serialise(t)
	return host, models
}

// serialise holds an exclusive lock on the server's real-model tier until
// the test ends. go test runs packages in parallel, and two real-model
// tests at once on two cores oversubscribe them (two runners: 1–4 tok/s,
// calls of minutes); one at a time, each runs at full speed.
func serialise(t testing.TB) {
	t.Helper()
	path := filepath.Join(os.TempDir(), "nsed-real-model-"+strings.NewReplacer(":", "_", "/", "_").Replace(os.Getenv("NSED_TEST_OLLAMA_HOST"))+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("real-model lock %s: %v", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("real-model lock %s: %v", path, err)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}

// InCI reports whether the tests run in CI, where the real tier is required.
func InCI() bool { return os.Getenv("CI") != "" }

func missing(t testing.TB, v string) {
	t.Helper()
	msg := v + " unset: no real model on the test server (" + startHint + " sets it up from PyPI)"
	if InCI() {
		t.Fatal("CI requires the real-model tier: " + msg)
	}
	t.Skip(msg)
}
