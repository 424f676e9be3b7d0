package export

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

func scriptedRun(t *testing.T, reply func(models.Request) (string, error)) []engine.Event {
	t.Helper()
	var evs []engine.Event
	s := engine.DefaultSettings()
	s.MinRounds, s.MaxRounds = 2, 2
	r, err := engine.New(engine.Config{
		Question: "What is 6*7?",
		Agents:   []engine.AgentInfo{{Model: "m1", Role: "a"}, {Model: "m2", Role: "b"}, {Model: "m3", Role: "c"}},
		Settings: s, Backend: &models.Scripted{Reply: reply}, Sink: engine.SinkFunc(func(e engine.Event) { evs = append(evs, e) }),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestMarkdownReport(t *testing.T) {
	hostile := "```\n# Injected heading\x1b[31m\n| a | b |\nFINAL ANSWER: 42"
	evs := scriptedRun(t, func(req models.Request) (string, error) {
		if req.Model == "m1" && len(req.Format) == 0 {
			return hostile, nil
		}
		return models.DefaultReply(req)
	})
	run, err := Gather(evs)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Rounds) != 2 || len(run.Rounds[0].Proposals) != 3 || len(run.Rounds[1].Reviews) != 3 || run.Ended == nil {
		t.Fatalf("gathered %d rounds", len(run.Rounds))
	}
	var b bytes.Buffer
	if err := Markdown(&b, run); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{"# nsed run ", "**Answer**", "## Round 1", "### Peer review", "### Quadratic votes", "### Consensus state", "| agent-1 | a | m1 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(md, "\x1b") {
		t.Error("control characters in the report")
	}
	// The hostile proposal stays inside a longer fence: no line of it
	// becomes a heading of the report.
	if strings.Contains(md, "\n# Injected heading") && !strings.Contains(md, "````text\n```\n# Injected heading") {
		t.Errorf("proposal escaped its fence:\n%s", md)
	}
}

func TestJSONExportAndErrors(t *testing.T) {
	run, err := Gather(scriptedRun(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := JSON(&b, run); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back["question"] != "What is 6*7?" {
		t.Fatalf("JSON export: %v %v", err, back["question"])
	}
	if _, err := Gather(nil); err == nil {
		t.Fatal("empty transcript accepted")
	}
}

// A round where every reviewer abstained reads as "no winner" with its
// reason, and rounds list their answer clusters.
func TestMarkdownNoWinnerAndClusters(t *testing.T) {
	evs := scriptedRun(t, func(req models.Request) (string, error) {
		if len(req.Format) > 0 {
			return "not json", nil // every review invalid: every reviewer abstains
		}
		return "FINAL ANSWER: 42", nil
	})
	run, err := Gather(evs)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Markdown(&b, run); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{"No winner (every reviewer abstained", "| answer cluster |", "| c1 | 42 | agent-1, agent-2, agent-3 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "Leader ****") || strings.Contains(md, "**Answer**") {
		t.Errorf("report names a winner no round chose:\n%s", md)
	}
}
