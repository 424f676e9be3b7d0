package demo

import (
	"bytes"
	"context"
	"flag"
	"os"
	"testing"

	"github.com/nsed/nsed/engine"
)

var record = flag.Bool("record", false, "record demo.jsonl again")

func TestRecord(t *testing.T) {
	if !*record {
		t.Skip("run with -record to record demo.jsonl again")
	}
	var buf bytes.Buffer
	if err := Record(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("demo.jsonl", buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEmbeddedRecording checks the shipped recording is a whole run that
// shows what the demo is for: a wrong proposal voted down, then corrected.
func TestEmbeddedRecording(t *testing.T) {
	evs, err := Events()
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		t.Fatal("empty recording")
	}
	if _, ok := evs[0].(*engine.RunStarted); !ok {
		t.Errorf("first event is %T, want run_started", evs[0])
	}
	end, ok := evs[len(evs)-1].(*engine.RunEnded)
	if !ok {
		t.Fatalf("last event is %T, want run_ended", evs[len(evs)-1])
	}
	if end.Status != engine.StatusCompleted || end.Answer != "$0.05" && end.Answer != "$0.05 (the bat costs $1.05)" {
		t.Errorf("run ended %s with answer %q", end.Status, end.Answer)
	}
	var tokens, wrong int
	for _, e := range evs {
		switch ev := e.(type) {
		case *engine.Token:
			tokens++
		case *engine.ProposalDone:
			if ev.Round == 1 && ev.Answer == "$0.10" {
				wrong++
			}
		}
	}
	if tokens < 100 {
		t.Errorf("only %d token events: the recording should stream", tokens)
	}
	if wrong != 1 {
		t.Errorf("%d wrong first-round proposals, want the skeptic's one", wrong)
	}
	if len(Transcript) > 600<<10 {
		t.Errorf("recording is %d KiB; keep the demo small", len(Transcript)>>10)
	}
}
