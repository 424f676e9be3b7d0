package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
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
