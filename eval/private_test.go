package eval

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/nsed/nsed/models"
)

// Bench outputs quote the items and the models' answers: every file and
// directory the bench writes (checkpoint, results, transcripts, reports,
// plots) is the owner's alone, whatever the umask — and a temp file left
// by a killed run is tightened before the report goes through it.
func TestBenchOutputsAreOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	b := scriptedBench(t, dir, &models.Scripted{})
	b.Items = b.Items[:1]
	b.Protocols = []string{ProtoSingle + ":m-a", ProtoNSED}
	res, err := b.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, ReportMarkdown+".tmp")
	if err := os.WriteFile(stale, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(stale, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteReports(dir, b.Summarize(res)); err != nil {
		t.Fatal(err)
	}
	seen := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		seen++
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no group or other bits", p, st.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ResultsFile, ReportMarkdown, ReportCSV, ReportJSON, PlotProtocols, "transcripts"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s was not written: %v", name, err)
		}
	}
	t.Logf("%d paths checked", seen)
}
