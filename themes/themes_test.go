package themes

import (
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	for _, name := range []string{"dark", "light", "high-contrast", "Dark", " light ", "hc", ""} {
		th, err := Lookup(name)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", name, err)
		}
		if th.Name == "" || th.Text == nil || th.Border == nil {
			t.Errorf("Lookup(%q) returned an incomplete theme: %+v", name, th)
		}
	}
	if th, _ := Lookup(""); th.Name != Default {
		t.Errorf("Lookup(\"\") = %q, want the default %q", th.Name, Default)
	}
}

func TestLookupUnknownListsNames(t *testing.T) {
	_, err := Lookup("solarized")
	if err == nil {
		t.Fatal("Lookup(solarized) succeeded")
	}
	for _, n := range Names() {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not list %q", err, n)
		}
	}
}

func TestEveryThemeComplete(t *testing.T) {
	for _, n := range Names() {
		th, _ := Lookup(n)
		for b, s := range th.Heat {
			if s.Fg == nil || s.Bg == nil {
				t.Errorf("%s: heat band %v has no colours", n, Band(b))
			}
		}
		if len(th.Agent) < 8 {
			t.Errorf("%s: %d agent colours, want 8", n, len(th.Agent))
		}
	}
}

func TestNextCycles(t *testing.T) {
	th, _ := Lookup(Default)
	seen := map[string]bool{}
	for range Names() {
		seen[th.Name] = true
		th = Next(th)
	}
	if len(seen) != len(Names()) || th.Name != Default {
		t.Errorf("Next did not cycle through every theme back to the start: %v, ended at %s", seen, th.Name)
	}
}

func TestBandOf(t *testing.T) {
	tests := []struct {
		w    int
		want Band
	}{
		{-100, BandWrong}, {-51, BandWrong}, {-50, BandFlawed}, {-11, BandFlawed},
		{-10, BandNeutral}, {0, BandNeutral}, {10, BandNeutral}, {11, BandSolid},
		{50, BandSolid}, {51, BandStrong}, {85, BandStrong}, {86, BandVerified}, {100, BandVerified},
	}
	for _, tt := range tests {
		if got := BandOf(tt.w); got != tt.want {
			t.Errorf("BandOf(%d) = %v, want %v", tt.w, got, tt.want)
		}
	}
}
