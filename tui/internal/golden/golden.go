// Package golden is the tests' screen fixtures, the x/exp/golden way: a
// test's output is compared with testdata/<Test>/<name>.golden, and
// `go test -update` rewrites the files instead. Main sets the plain colour
// profile every package's tests draw with, so a golden file holds text
// whatever terminal runs the tests.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Main runs a package's tests without colour; call it from TestMain.
func Main(m *testing.M) {
	lipgloss.SetColorProfile(termenv.Ascii)
	os.Exit(m.Run())
}

// Colour switches to true colour for the rest of t, for a test that
// checks styling rather than text.
func Colour(t *testing.T) {
	lipgloss.SetColorProfile(termenv.TrueColor)
	t.Cleanup(func() { lipgloss.SetColorProfile(termenv.Ascii) })
}

// Check compares got with testdata/<t.Name()>/<name>.golden, or with
// testdata/<t.Name()>.golden when name is "".
func Check(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", filepath.FromSlash(t.Name())+".golden")
	if name != "" {
		path = filepath.Join("testdata", filepath.FromSlash(t.Name()), name+".golden")
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("screen differs from %s (run with -update if the change is intended)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// Widths are the widths a component's golden files are drawn at: the
// narrowest bottom pane (34), a usual one, a wide one.
var Widths = []int{34, 60, 100}

// AtWidths checks draw's screen, without styling, at each width against
// testdata/<Test>/<width>.golden.
func AtWidths(t *testing.T, widths []int, draw func(w int) string) {
	t.Helper()
	for _, w := range widths {
		t.Run(strconv.Itoa(w), func(t *testing.T) {
			Check(t, "", ansi.Strip(draw(w)))
		})
	}
}
