package main

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/nsed/nsed/internal/buildinfo"
)

// `nsed --version` says more than "dev": the toolchain and the binary's
// hash always, the revision when Go stamped one (not in test binaries, nor
// with GOFLAGS=-buildvcs=false, which the line then names).
func TestVersionSaysWhichBuild(t *testing.T) {
	var out, errb bytes.Buffer
	if code := dispatch(context.Background(), stdio{strings.NewReader(""), &out, &errb}, []string{"--version"}); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	got := out.String()
	for _, want := range []string{"nsed ", runtime.Version(), "binary sha256 ", "revision"} {
		if !strings.Contains(got, want) {
			t.Errorf("--version = %q, want it to contain %q", got, want)
		}
	}
	in := buildinfo.Info{Version: "(devel)", Revision: "0123456789abcdef", Time: "2026-12-01T10:00:00Z", Modified: true, Go: "go1.26.8", Platform: "linux/amd64"}
	if got, want := versionLine(in), "nsed (devel), revision 0123456789ab of 2026-12-01T10:00:00Z, modified (uncommitted changes), go1.26.8 linux/amd64"; got != want {
		t.Errorf("versionLine = %q, want %q", got, want)
	}
}
