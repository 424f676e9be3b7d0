package main

import (
	"os"
	"testing"
)

// TestMain keeps every test's data (transcripts, the quality store) out of
// the user's home.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nsed-test-data-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_DATA_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
