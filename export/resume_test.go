package export

import (
	"context"
	"strings"
	"testing"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

// A resumed transcript holds the round the kill cut short twice: once cut
// short, once whole after run_resumed. The export shows it once, whole.
func TestResumedTranscriptExportsEachRoundOnce(t *testing.T) {
	evs := scriptedRun(t, nil)
	var cut []engine.Event
	for i, ev := range evs { // killed after round 2's first proposal
		if ev.Header().Round == 2 && ev.Header().Kind == engine.KindProposalDone {
			cut = evs[:i+1]
			break
		}
	}
	rs, err := engine.ResumeFrom(cut)
	if err != nil {
		t.Fatal(err)
	}
	stream := append([]engine.Event(nil), cut...)
	r, err := engine.New(engine.Config{Backend: &models.Scripted{}, Resume: rs,
		Sink: engine.SinkFunc(func(e engine.Event) { stream = append(stream, e) })})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	run, err := Gather(stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Rounds) != 2 || len(run.Rounds[1].Proposals) != 3 || run.Ended == nil || run.Ended.Rounds != 2 {
		t.Fatalf("gathered %d rounds, round 2 with %d proposals, ended %+v; want 2 rounds, 3 proposals, ended after 2", len(run.Rounds), len(run.Rounds[1].Proposals), run.Ended)
	}
	var b strings.Builder
	if err := Markdown(&b, run); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "resumed after round 1 (the run was killed)") {
		t.Errorf("the report does not say the run was resumed:\n%s", b.String())
	}
}
