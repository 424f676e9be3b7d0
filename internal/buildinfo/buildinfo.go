// Package buildinfo says which nsed a binary is: the module version and the
// VCS revision Go stamped into it, and the Go toolchain. Reports and
// transcripts record it so a reader knows which code produced them.
package buildinfo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
)

// Info identifies a build.
type Info struct {
	Module   string `json:"module,omitempty"`
	Version  string `json:"version,omitempty"`  // module version: "v1.2.0", or "(devel)" for a local build
	Revision string `json:"revision,omitempty"` // VCS commit, empty when the build was not stamped
	Time     string `json:"time,omitempty"`     // the commit's time (RFC 3339)
	Modified bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
	Go       string `json:"go"`                 // toolchain, "go1.26.8"
	Platform string `json:"platform"`           // GOOS/GOARCH
	// Executable is the SHA-256 of the running binary: the build's identity
	// when there is no revision (built with -buildvcs=false, or outside a
	// git checkout) or the tree was modified.
	Executable string `json:"executable_sha256,omitempty"`
}

// From reads what Go stamped into a binary.
func From(bi *debug.BuildInfo) Info {
	in := Info{Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		return in
	}
	in.Module, in.Version = bi.Main.Path, bi.Main.Version
	if bi.GoVersion != "" {
		in.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

var (
	once sync.Once
	self Info
)

// Read is this binary's build, with the hash of its executable; read once.
func Read() Info {
	once.Do(func() {
		bi, _ := debug.ReadBuildInfo()
		self = From(bi)
		self.Executable = executableHash()
	})
	return self
}

func executableHash() string {
	path, err := os.Executable()
	if err != nil {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Identity is what must match for two results to come from the same code:
// the revision, or the binary itself when the revision does not pin the
// code (none was stamped, or the tree had uncommitted changes).
func (in Info) Identity() string {
	if in.Revision != "" && !in.Modified {
		return in.Revision
	}
	id := in.Version
	if in.Revision != "" {
		id = in.Revision + " (modified)"
	}
	return id + " binary " + short(in.Executable)
}

// String is the one line `nsed --version` prints after the name.
func (in Info) String() string {
	v := in.Version
	if v == "" {
		v = "(unknown version)"
	}
	var parts []string
	if in.Revision != "" {
		r := "revision " + short(in.Revision)
		if in.Time != "" {
			r += " of " + in.Time
		}
		if in.Modified {
			r += ", modified (uncommitted changes)"
		}
		parts = append(parts, r)
	} else {
		parts = append(parts, "no VCS revision (built with -buildvcs=false or outside a git checkout)")
	}
	if in.Executable != "" {
		parts = append(parts, "binary sha256 "+short(in.Executable))
	}
	parts = append(parts, in.Go+" "+in.Platform)
	return fmt.Sprintf("%s, %s", v, strings.Join(parts, ", "))
}

// short is the first 12 hex digits, as git abbreviates.
func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "unknown"
	}
	return h
}
