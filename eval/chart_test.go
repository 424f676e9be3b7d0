package eval

import (
	"bytes"
	"strings"
	"testing"
)

func TestWriteChart(t *testing.T) {
	s := &Summary{Metric: "accuracy", Protocols: []ProtocolSummary{
		{Protocol: "single:agent-1", Rate: 0.5, Lo: 0.3, Hi: 0.7},
		{Protocol: "nsed", Rate: 0.9, Lo: 0.75, Hi: 0.97},
		{Protocol: "majority", Rate: 0, Lo: 0, Hi: 0},
	}}
	var b bytes.Buffer
	WriteChart(&b, s, 41)
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("chart:\n%s", b.String())
	}
	half := lines[1][len("single:agent-1 "):]
	bar := []rune(half)[:41]
	// 50% of 40 steps is cell 20: the marker sits mid-span, the bar left of the span is solid.
	if bar[20] != '┿' || bar[12] != '▕' || bar[28] != '▏' || bar[5] != '█' || bar[35] != ' ' {
		t.Errorf("row %q", string(bar))
	}
	if !strings.Contains(lines[2], "90.0% [75.0–97.0]") || !strings.Contains(lines[3], "│") {
		t.Errorf("chart:\n%s", b.String())
	}
}
