package broker

import (
	"os"
	"path/filepath"
	"testing"
)

// The quality store records which models the user ran and how they did:
// it and the directory made for it are the owner's alone, whatever the
// umask.
func TestStoreSaveIsOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nsed")
	path := filepath.Join(dir, "quality.json")
	s, _ := Open(path, Priors{}) // a new store: the error only says so
	s.Observe("critic", "m", Evidence{Review: 0.9, Reviews: 1, Vote: 1, Rounds: 1})
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, dir} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no group or other bits", p, st.Mode().Perm())
		}
	}
}
