package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func stamped(rev, when, modified string) *debug.BuildInfo {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/nsed/nsed", Version: "(devel)"}}
	if rev != "" {
		bi.Settings = []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: when}, {Key: "vcs.modified", Value: modified}}
	}
	return bi
}

func TestFromReadsTheVCSStamp(t *testing.T) {
	in := From(stamped("6ee9a6687ba382b1bb9e3b2f3b170755ce128a59", "2026-12-01T10:00:00Z", "true"))
	if in.Revision != "6ee9a6687ba382b1bb9e3b2f3b170755ce128a59" || in.Time != "2026-12-01T10:00:00Z" || !in.Modified ||
		in.Go != "go1.26.8" || in.Module != "github.com/nsed/nsed" || in.Version != "(devel)" {
		t.Fatalf("From = %+v", in)
	}
	in.Executable = "ab12cd34ef56ab12cd34ef56"
	got := in.String()
	for _, want := range []string{"(devel)", "revision 6ee9a6687ba3 of 2026-12-01T10:00:00Z", "modified", "binary sha256 ab12cd34ef56", "go1.26.8", runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(got, want) {
			t.Errorf("String() = %q, want it to contain %q", got, want)
		}
	}
}

func TestStringSaysWhenNoRevisionWasStamped(t *testing.T) {
	got := From(stamped("", "", "")).String()
	if !strings.Contains(got, "no VCS revision") || !strings.Contains(got, "-buildvcs=false") {
		t.Fatalf("String() = %q, want it to say why there is no revision", got)
	}
}

// A clean revision pins the code; a modified tree or no revision falls
// back to the binary's hash, so two different builds never look the same.
func TestIdentity(t *testing.T) {
	clean := From(stamped("aaaa", "", "false"))
	clean.Executable = "1111"
	rebuilt := clean
	rebuilt.Executable = "2222"
	if clean.Identity() != rebuilt.Identity() {
		t.Errorf("the same clean revision rebuilt: %q vs %q, want equal", clean.Identity(), rebuilt.Identity())
	}
	dirty := From(stamped("aaaa", "", "true"))
	dirty.Executable = "1111"
	dirty2 := dirty
	dirty2.Executable = "2222"
	if dirty.Identity() == dirty2.Identity() || dirty.Identity() == clean.Identity() {
		t.Errorf("modified builds must differ by binary: %q %q %q", dirty.Identity(), dirty2.Identity(), clean.Identity())
	}
	none := From(stamped("", "", ""))
	none.Executable = "1111"
	none2 := none
	none2.Executable = "2222"
	if none.Identity() == none2.Identity() {
		t.Errorf("unstamped builds must differ by binary: %q", none.Identity())
	}
}

func TestReadHashesTheRunningBinary(t *testing.T) {
	in := Read()
	if len(in.Executable) != 64 || in.Go != runtime.Version() {
		t.Fatalf("Read() = %+v, want a SHA-256 of the test binary and %s", in, runtime.Version())
	}
}
