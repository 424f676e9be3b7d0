package engine

import (
	"bytes"
	"errors"
	"os"

	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nsed/nsed/models"
)

// codeOf finds a message's quotation code (codeLine), drawn afresh for
// every message and so the one part of a prompt no two runs share.
var codeOf = regexp.MustCompile(`Quotation code for this message: ([0-9a-f]{8})`)

// sameCodes writes every message's code as CODE, so prompts of two runs
// compare (and a scripted model answers them alike).
func sameCodes(s string) string {
	if m := codeOf.FindStringSubmatch(s); m != nil {
		return strings.ReplaceAll(s, m[1], "CODE")
	}
	return s
}

// codeBlind is a scripted model whose replies depend on the prompts but
// not on their quotation codes: two runs given the same prompts get the
// same replies.
func codeBlind() *models.Scripted {
	return &models.Scripted{Reply: func(req models.Request) (string, error) {
		req.Messages = slices.Clone(req.Messages)
		for i := range req.Messages {
			req.Messages[i].Content = sameCodes(req.Messages[i].Content)
		}
		return models.DefaultReply(req)
	}}
}

// promptsFrom lists a backend's prompts of round n on, codes blanked,
// sorted (the calls of a phase run in parallel).
func promptsFrom(be *models.Scripted, n int) []string {
	var out []string
	for _, c := range be.Calls() {
		var round int
		fmt.Sscanf(c.Messages[len(c.Messages)-1].Content, "Round %d.", &round)
		if round >= n {
			out = append(out, c.Model+"\n"+sameCodes(c.Messages[0].Content)+"\n"+sameCodes(c.Messages[len(c.Messages)-1].Content))
		}
	}
	slices.Sort(out)
	return out
}

// throughFile writes events as a transcript and reads them back, as a
// resume finds them on disk.
func throughFile(t *testing.T, evs []Event) []Event {
	t.Helper()
	var buf bytes.Buffer
	tw := NewTranscriptWriter(&buf, false)
	for _, ev := range evs {
		tw.Emit(ev)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadTranscript(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// cutAfter is the events up to round n's round_ended, then the first k
// events of the round after it: a run killed there.
func cutAfter(t *testing.T, evs []Event, n, k int) []Event {
	t.Helper()
	for i, ev := range evs {
		if ev.Header().Kind == KindRoundEnded && ev.Header().Round == n {
			return evs[:min(len(evs), i+1+k)]
		}
	}
	t.Fatalf("no round_ended of round %d", n)
	return nil
}

func resumeSettings() Settings {
	s := testSettings()
	s.MinRounds, s.MaxRounds = 3, 3
	s.Gate.BudgetTokens = 400
	return s
}

func TestResumedRunPromptsEqualAnUninterruptedRuns(t *testing.T) {
	whole := codeBlind()
	rec, want, err := runScripted(t, Config{Question: "What is 6*7?", Agents: testAgents(), Settings: resumeSettings(), Backend: whole, RunID: "run-a"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{0, 3, 6} { // killed at round 1's end, during round 2's proposals, during its reviews
		t.Run(fmt.Sprintf("killed %d events into round 2", k), func(t *testing.T) {
			onDisk := throughFile(t, cutAfter(t, rec.events(), 1, k))
			rs, err := ResumeFrom(onDisk)
			if err != nil {
				t.Fatal(err)
			}
			if rs.After != 1 || rs.Reason != EndedKilled || rs.Completed() {
				t.Fatalf("resume state after %d, reason %q, completed %v; want after 1, killed", rs.After, rs.Reason, rs.Completed())
			}
			again := codeBlind()
			rec2, got, err := runScripted(t, Config{Backend: again, Resume: rs})
			if err != nil {
				t.Fatal(err)
			}
			if w, g := promptsFrom(whole, 2), promptsFrom(again, 1); !slices.Equal(w, g) {
				t.Fatalf("the resumed run's prompts differ from the uninterrupted run's rounds 2–3 (%d vs %d prompts); first difference:\n%s", len(g), len(w), firstDiff(w, g))
			}
			evs := rec2.events()
			first, ok := evs[0].(*RunResumed)
			if !ok || first.After != 1 || first.Reason != EndedKilled || first.Seq != onDisk[len(onDisk)-1].Header().Seq+1 {
				t.Fatalf("first resumed event %T %+v, want run_resumed after 1 (killed) continuing seq %d", evs[0], evs[0], onDisk[len(onDisk)-1].Header().Seq)
			}
			for _, ev := range evs {
				if ev.Header().Round == 1 && ev.Header().Kind == KindProposalDone {
					t.Fatal("round 1 was run again")
				}
			}
			w, g := want.Ended, got.Ended
			if g.Status != w.Status || g.Reason != w.Reason || g.Rounds != w.Rounds || g.Winner != w.Winner || g.Answer != w.Answer || g.AnswerRound != w.AnswerRound {
				t.Fatalf("resumed run ended %+v\nuninterrupted %+v", g, w)
			}
			if g.Agents[0].Wins+g.Agents[1].Wins+g.Agents[2].Wins != 3 {
				t.Errorf("wins over the whole run = %+v, want 3 in all", g.Agents)
			}
			// Per-agent counts cover the earlier process's calls too: they
			// add up to the run's totals, and exceed this process's calls.
			calls, in, out := 0, 0, 0
			for _, m := range g.Agents {
				calls, in, out = calls+m.Calls, in+m.PromptTokens, out+m.OutputTokens
			}
			if calls <= len(again.Calls()) || in != g.PromptTokens || out != g.OutputTokens {
				t.Errorf("agents' calls %d (this process made %d), tokens %d in, %d out; the run's %d, %d", calls, len(again.Calls()), in, out, g.PromptTokens, g.OutputTokens)
			}
			if !slices.Equal(verdicts(rec.events()), verdicts(append(onDisk, evs...))) {
				t.Errorf("stopping evidence differs:\n%v\n%v", verdicts(rec.events()), verdicts(append(onDisk, evs...)))
			}
		})
	}
}

// verdicts is each round's end as the stopping rule saw it.
func verdicts(evs []Event) []string {
	var out []string
	for _, ev := range evs {
		if e, ok := ev.(*RoundEnded); ok && e.Round > 0 {
			out = append(out, fmt.Sprintf("r%d %s c=%g ev=%g %v %s", e.Round, e.Winner, e.Conviction, e.Evidence, e.Continue, e.StopReason))
		}
	}
	// a discarded round's end is never written, so each round is once
	return slices.Compact(out)
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return "uninterrupted:\n" + a[i] + "\n\nresumed:\n" + b[i]
		}
	}
	return "(one is a prefix of the other)"
}

func TestResumeTwiceReadsOneStream(t *testing.T) {
	whole := codeBlind()
	rec, want, err := runScripted(t, Config{Question: "What is 6*7?", Agents: testAgents(), Settings: resumeSettings(), Backend: whole, RunID: "run-b"})
	if err != nil {
		t.Fatal(err)
	}
	// Killed during round 2, resumed, killed again during round 3 (its
	// round-2 end on disk), resumed again.
	part1 := throughFile(t, cutAfter(t, rec.events(), 1, 4))
	rs, err := ResumeFrom(part1)
	if err != nil {
		t.Fatal(err)
	}
	rec2, _, err := runScripted(t, Config{Backend: codeBlind(), Resume: rs})
	if err != nil {
		t.Fatal(err)
	}
	stream := append(slices.Clone(part1), cutAfter(t, rec2.events(), 2, 5)...)
	rs, err = ResumeFrom(throughFile(t, stream))
	if err != nil {
		t.Fatal(err)
	}
	if rs.After != 2 {
		t.Fatalf("resumed after round %d, want 2", rs.After)
	}
	rec3, got, err := runScripted(t, Config{Backend: codeBlind(), Resume: rs})
	if err != nil {
		t.Fatal(err)
	}
	if got.Ended.Answer != want.Ended.Answer || got.Ended.Rounds != 3 || got.Ended.Status != StatusCompleted {
		t.Fatalf("twice-resumed run ended %+v, want %+v", got.Ended, want.Ended)
	}
	// Tokens are not written, so the file's numbers have gaps; they rise.
	all := append(throughFile(t, stream), rec3.events()...)
	for i := 1; i < len(all); i++ {
		if all[i].Header().Seq <= all[i-1].Header().Seq {
			t.Fatalf("seq %d follows %d", all[i].Header().Seq, all[i-1].Header().Seq)
		}
	}
}

func TestResumeAfterTheFinalVerdictOnlyEndsTheRun(t *testing.T) {
	rec, want, err := runScripted(t, Config{Question: "What is 6*7?", Agents: testAgents(), Settings: resumeSettings(), Backend: codeBlind()})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ResumeFrom(throughFile(t, cutAfter(t, rec.events(), 3, 0)))
	if err != nil {
		t.Fatal(err)
	}
	be := codeBlind()
	rec2, got, err := runScripted(t, Config{Backend: be, Resume: rs})
	if err != nil {
		t.Fatal(err)
	}
	if len(be.Calls()) != 0 {
		t.Errorf("%d model calls after the last round's verdict, want none", len(be.Calls()))
	}
	if kinds := kindsOf(rec2.events()); !slices.Equal(kinds, []Kind{KindRunResumed, KindRunEnded}) {
		t.Errorf("events %v, want run_resumed, run_ended", kinds)
	}
	if got.Ended.Answer != want.Ended.Answer || got.Ended.Reason != want.Ended.Reason || got.Ended.Rounds != 3 {
		t.Errorf("ended %+v, want %+v", got.Ended, want.Ended)
	}
}

func TestResumeACompletedRunIsRefused(t *testing.T) {
	rec, _, err := runScripted(t, Config{Question: "What is 6*7?", Agents: testAgents(), Settings: resumeSettings(), Backend: codeBlind()})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ResumeFrom(throughFile(t, rec.events()))
	if err != nil {
		t.Fatal(err)
	}
	if !rs.Completed() {
		t.Fatal("a completed run reads as resumable")
	}
	if _, err := New(Config{Backend: codeBlind(), Resume: rs}); err == nil || !strings.Contains(err.Error(), "already completed") {
		t.Fatalf("New of a completed run: %v, want 'already completed'", err)
	}
}

func TestResumeReasonIsHowTheRunEnded(t *testing.T) {
	rec, _, err := runScripted(t, Config{Question: "What is 6*7?", Agents: testAgents(), Settings: resumeSettings(), Backend: codeBlind()})
	if err != nil {
		t.Fatal(err)
	}
	cut := cutAfter(t, rec.events(), 1, 2)
	for _, tc := range []struct {
		status, err, want string
	}{
		{StatusCancelled, "", EndedCancelled},
		{StatusFailed, "round 2: only 0 of 3 agents produced a proposal: cannot reach Ollama at 127.0.0.1:1 (connection refused)", EndedServerDied},
		{StatusFailed, "round 2: only 1 of 3 agents produced a proposal", EndedFailed},
	} {
		end := &RunEnded{Status: tc.status, Error: tc.err, Rounds: 1}
		end.Envelope = Envelope{V: SchemaVersion, Seq: cut[len(cut)-1].Header().Seq + 1, Kind: KindRunEnded, RunID: end.RunID}
		rs, err := ResumeFrom(throughFile(t, append(slices.Clone(cut), end)))
		if err != nil {
			t.Fatal(err)
		}
		if rs.Reason != tc.want || rs.After != 1 {
			t.Errorf("%s %q: reason %q after %d, want %q after 1", tc.status, tc.err, rs.Reason, rs.After, tc.want)
		}
	}
}

// Transcripts written before round_ended had a carry resume from
// consensus_updated's kept items, with the label order replayed.
func TestResumeWithoutCarryKeepsTheLabelOrder(t *testing.T) {
	whole := codeBlind()
	rec, _, err := runScripted(t, Config{Question: "What is 6*7?", Agents: testAgents(), Settings: resumeSettings(), Backend: whole, RunID: "run-c"})
	if err != nil {
		t.Fatal(err)
	}
	var old []Event
	for _, ev := range throughFile(t, cutAfter(t, rec.events(), 1, 0)) {
		if e, ok := ev.(*RoundEnded); ok {
			e.Carry = nil
		}
		old = append(old, ev)
	}
	rs, err := ResumeFrom(old)
	if err != nil {
		t.Fatal(err)
	}
	rec2, _, err := runScripted(t, Config{Backend: codeBlind(), Resume: rs})
	if err != nil {
		t.Fatal(err)
	}
	labels := func(evs []Event) string {
		var out []string
		for _, ev := range evs {
			if e, ok := ev.(*ReviewDone); ok && e.Round == 2 {
				b, _ := json.Marshal(e.Labels)
				out = append(out, e.Agent+string(b))
			}
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}
	if w, g := labels(rec.events()), labels(rec2.events()); w != g {
		t.Errorf("round 2's labels %s, want %s", g, w)
	}
}

func TestResumeCarriesPendingHumanMessages(t *testing.T) {
	rec, _, err := runScripted(t, Config{Question: "What is 6*7?", Agents: testAgents(), Settings: resumeSettings(), Backend: codeBlind()})
	if err != nil {
		t.Fatal(err)
	}
	cut := cutAfter(t, rec.events(), 1, 0)
	msg := &HumanMessage{Text: "Check the units."}
	msg.Envelope = Envelope{V: SchemaVersion, Seq: cut[len(cut)-1].Header().Seq + 1, Kind: KindHumanMessage, Round: 2, Phase: PhasePropose}
	rs, err := ResumeFrom(throughFile(t, append(slices.Clone(cut), msg)))
	if err != nil {
		t.Fatal(err)
	}
	be := codeBlind()
	if _, _, err := runScripted(t, Config{Backend: be, Resume: rs}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range promptsFrom(be, 2) {
		if strings.Contains(p, "Round 2. Phase: PROPOSE") && strings.Contains(p, "Check the units.") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d of round 2's proposal prompts carry the moderator's message sent before the kill, want 3", n)
	}
}

func kindsOf(evs []Event) []Kind {
	var out []Kind
	for _, ev := range evs {
		out = append(out, ev.Header().Kind)
	}
	return out
}

func TestAppendTranscriptCutsAnIncompleteLastLine(t *testing.T) {
	rec, _, err := runScripted(t, Config{Question: "What is 6*7?", Agents: testAgents(), Settings: resumeSettings(), Backend: codeBlind(), RunID: "run-d"})
	if err != nil {
		t.Fatal(err)
	}
	var whole bytes.Buffer
	tw := NewTranscriptWriter(&whole, false)
	for _, ev := range cutAfter(t, rec.events(), 1, 8) {
		tw.Emit(ev)
	}
	tw.Close()
	lines := bytes.SplitAfter(whole.Bytes(), []byte("\n"))
	last := lines[len(lines)-2]
	for _, tc := range []struct {
		name string
		body []byte
		want int // events read back after appending one
	}{
		{"cut mid-line", whole.Bytes()[:whole.Len()-len(last)/2], len(lines) - 2 + 1},
		{"whole line without its newline", whole.Bytes()[:whole.Len()-1], len(lines) - 1 + 1},
		{"whole", whole.Bytes(), len(lines) - 1 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := t.TempDir() + "/run.jsonl"
			if err := os.WriteFile(path, tc.body, 0o600); err != nil {
				t.Fatal(err)
			}
			evs, err := ReadTranscriptFile(path)
			if err != nil && !errors.Is(err, ErrTruncated) {
				t.Fatal(err)
			}
			rs, err := ResumeFrom(evs)
			if err != nil {
				t.Fatal(err)
			}
			w, err := AppendTranscript(path, false)
			if err != nil {
				t.Fatal(err)
			}
			r, err := New(Config{Backend: codeBlind(), Resume: rs, Sink: w})
			if err != nil {
				t.Fatal(err)
			}
			r.resumed(rs)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := ReadTranscriptFile(path)
			if err != nil {
				t.Fatalf("the appended transcript does not read whole: %v", err)
			}
			if len(got) != tc.want || got[len(got)-1].Header().Kind != KindRunResumed {
				t.Fatalf("read %d events ending in %s, want %d ending in run_resumed", len(got), got[len(got)-1].Header().Kind, tc.want)
			}
		})
	}
}
