package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func humanEvent(text string) Event {
	ev := &HumanMessage{Text: text}
	ev.V, ev.Kind = SchemaVersion, KindHumanMessage
	return ev
}

// A transcript holds prompts and answers: the file and the directories
// made for it are the owner's alone, whatever the umask.
func TestCreateTranscriptIsOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runs", "deep")
	path := filepath.Join(dir, "r.jsonl")
	tw, err := CreateTranscript(path, false)
	if err != nil {
		t.Fatal(err)
	}
	tw.Emit(humanEvent("hello"))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, dir, filepath.Dir(dir)} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no group or other bits", p, st.Mode().Perm())
		}
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

// The first write error is kept, heard once by OnError and returned by
// Close; nothing after it is written.
func TestTranscriptWriterReportsFirstWriteErrorOnce(t *testing.T) {
	tw := NewTranscriptWriter(&failAfter{n: 100}, false)
	var heard []error
	tw.OnError(func(err error) { heard = append(heard, err) })
	for i := 0; i < 5; i++ {
		tw.Emit(humanEvent(strings.Repeat("x", 40)))
	}
	if len(heard) != 1 {
		t.Fatalf("OnError heard %d errors, want exactly 1: %v", len(heard), heard)
	}
	if !errors.Is(heard[0], syscall.ENOSPC) || !errors.Is(tw.Err(), syscall.ENOSPC) {
		t.Errorf("error %v, Err %v: want ENOSPC in both", heard[0], tw.Err())
	}
	if err := tw.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close = %v, want the first write error", err)
	}
}

// A real full disk: /dev/full fails every write with ENOSPC. The error
// names the file.
func TestTranscriptOnFullDiskNamesThePath(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	tw, err := CreateTranscript("/dev/full", false)
	if err != nil {
		t.Fatal(err)
	}
	var heard error
	tw.OnError(func(err error) { heard = err })
	tw.Emit(humanEvent("hello"))
	tw.Close()
	if heard == nil || !errors.Is(heard, syscall.ENOSPC) || !strings.Contains(heard.Error(), "/dev/full") {
		t.Fatalf("heard %v, want ENOSPC naming /dev/full", heard)
	}
}
