package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsed/nsed/internal/testenv"
	"github.com/nsed/nsed/models"
)

// Real-model tests: real instruction-tuned and base models write real
// failure modes (wrong answers, no answer line, repetition, prompt echo,
// invented questions). They assert on structure and plumbing only, never on
// a model being right. The server and models come from .ci/ollama.sh.

// recording passes calls to the real server and keeps each request, so a
// test can check what was sent.
type recording struct {
	models.Backend

	mu   sync.Mutex
	reqs []models.Request
}

func (p *recording) Chat(ctx context.Context, req models.Request, fn models.TokenFunc) (models.Response, error) {
	p.mu.Lock()
	p.reqs = append(p.reqs, req)
	p.mu.Unlock()
	return p.Backend.Chat(ctx, req, fn)
}

// isProposal tells a proposal call from a review or summary by its prompt.
// isProposal tells a proposal request by its free-text format and its
// phase line; the phase line alone is not enough: a base model that echoes
// its prompt puts "Phase: PROPOSE" into a proposal its reviewers then read
// (Gemma 3 270M did, and a review was counted as a fourth proposal).
func isProposal(req models.Request) bool {
	return len(req.Format) == 0 && len(req.Messages) > 0 && strings.Contains(req.Messages[len(req.Messages)-1].Content, "Phase: PROPOSE")
}

func (p *recording) requests() []models.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]models.Request(nil), p.reqs...)
}

// realTeam is three agents on the given models with three personas, each
// at its own temperature (an [[agents]] temperature in nsed.toml).
func realTeam(ids []string, modelNames []string, base models.Backend) ([]AgentInfo, map[string]Role, *recording) {
	roles := map[string]Role{
		"solver":  {Persona: "You solve the problem step by step and show every step of your working."},
		"checker": {Persona: "You check each step for mistakes, say which step is wrong, and correct it."},
		"teacher": {Persona: "You explain the solution slowly and simply, with an example for each idea."},
	}
	temps := []float64{0.3, 0.7, 1.0}
	names := []string{"solver", "checker", "teacher"}
	var agents []AgentInfo
	for i, id := range ids {
		agents = append(agents, AgentInfo{ID: id, Role: names[i], Model: modelNames[i], Options: &AgentOptions{Temperature: &temps[i]}})
	}
	return agents, roles, &recording{Backend: base}
}

// realRun runs one deliberation, writing its transcript to a file (in
// $NSED_TEST_TRANSCRIPT_DIR when set, to keep it), and returns its events.
func realRun(t *testing.T, name, question string, agents []AgentInfo, s Settings, be models.Backend) ([]Event, Result, string) {
	t.Helper()
	dir := os.Getenv("NSED_TEST_TRANSCRIPT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name+".jsonl")
	tw, err := CreateTranscript(path, true)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	r, err := New(Config{Question: question, Agents: agents, Settings: s, Backend: be, Sink: Tee(tw, rec)})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := r.Run(context.Background())
	if cerr := tw.Close(); cerr != nil {
		t.Fatalf("closing the transcript: %v", cerr)
	}
	if err != nil {
		t.Fatalf("run failed after %s: %v (transcript %s)", time.Since(start).Round(time.Second), err, path)
	}
	t.Logf("%s: %d rounds in %s, stopped: %s; transcript %s", name, res.Ended.Rounds, time.Since(start).Round(time.Second), res.Ended.Reason, path)
	return rec.events(), res, path
}

// checkRealRun asserts the plumbing of a finished real-model run: every
// agent's proposal recorded once a round, with its streamed tokens and its
// extracted answer (empty: no answer); every review parsed for every
// candidate or abstained with a reason; the winner's proposal carried into
// run_ended; the transcript complete and replayable.
func checkRealRun(t *testing.T, evs []Event, res Result, path string, agents []AgentInfo, s Settings) {
	t.Helper()
	checkInvariants(t, evs, len(agents), s)
	if res.Ended.Status != StatusCompleted || res.Ended.Rounds != s.MaxRounds {
		t.Fatalf("run ended %s after %d rounds (%s, %s); want %d completed rounds", res.Ended.Status, res.Ended.Rounds, res.Ended.Reason, res.Ended.Error, s.MaxRounds)
	}
	type key struct {
		round int
		agent string
	}
	streamed := map[key]*strings.Builder{}
	proposals := map[key]*ProposalDone{}
	reviews := map[key]*ReviewDone{}
	abstained := 0
	for _, e := range evs {
		h := e.Header()
		k := key{h.Round, h.Agent}
		switch ev := e.(type) {
		case *Token:
			if h.Phase == PhasePropose {
				if streamed[k] == nil {
					streamed[k] = &strings.Builder{}
				}
				streamed[k].WriteString(ev.Text)
			}
		case *ProposalDone:
			if proposals[k] != nil {
				t.Errorf("round %d: %s's proposal recorded twice", h.Round, h.Agent)
			}
			proposals[k] = ev
		case *ReviewDone:
			if reviews[k] != nil {
				t.Errorf("round %d: %s's review recorded twice", h.Round, h.Agent)
			}
			reviews[k] = ev
		case *AgentFailed:
			t.Errorf("round %d: %s failed: %s", h.Round, h.Agent, ev.Error)
		case *VotesCast:
			// Every proposal with an answer is in exactly one answer
			// cluster; a proposal without one is in none.
			in := map[string]int{}
			for _, c := range ev.Clusters {
				for _, m := range c.Members {
					in[m]++
				}
			}
			for _, a := range agents {
				p := proposals[key{h.Round, a.ID}]
				if want := btoi(p != nil && p.Answer != ""); in[a.ID] != want {
					t.Errorf("round %d: %s is in %d answer clusters, want %d", h.Round, a.ID, in[a.ID], want)
				}
			}
			t.Logf("round %d: %d answer clusters %s; winner %q (cluster %s) %s", h.Round, len(ev.Clusters), clusterLine(ev.Clusters), ev.Winner, ev.Cluster, ev.NoWinner)
		}
	}
	for round := 1; round <= s.MaxRounds; round++ {
		for _, a := range agents {
			k := key{round, a.ID}
			p := proposals[k]
			if p == nil {
				t.Errorf("round %d: no proposal_done for %s", round, a.ID)
				continue
			}
			if strings.TrimSpace(p.Text) == "" || p.Stats.OutputTokens == 0 {
				t.Errorf("round %d: %s's proposal is empty (%d output tokens)", round, a.ID, p.Stats.OutputTokens)
			}
			if p.Stats.OutputTokens > s.Sampling.Propose.NumPredict {
				t.Errorf("round %d: %s wrote %d tokens, over num_predict %d", round, a.ID, p.Stats.OutputTokens, s.Sampling.Propose.NumPredict)
			}
			// What streamed is what was recorded: nothing lost or rewritten.
			if sb := streamed[k]; sb == nil || strings.TrimSpace(sb.String()) != strings.TrimSpace(p.Text) {
				got := 0
				if sb != nil {
					got = sb.Len()
				}
				t.Errorf("round %d: %s's proposal (%d bytes) differs from its streamed tokens (%d bytes)", round, a.ID, len(p.Text), got)
			}
			// An answer is taken from the proposal (cut to a bound, marked
			// with "…"); empty means no answer.
			if p.Answer != "" && !strings.Contains(squash(p.Text), squash(strings.TrimSuffix(p.Answer, "…"))) {
				t.Errorf("round %d: %s's answer %q is not in its proposal", round, a.ID, p.Answer)
			}
			r := reviews[k]
			switch {
			case r == nil:
				t.Errorf("round %d: no review_done for %s", round, a.ID)
			case r.Abstained:
				abstained++
				if strings.TrimSpace(r.Reason) == "" {
					t.Errorf("round %d: %s abstained without a reason", round, a.ID)
				}
			default:
				if len(r.Labels) != len(agents)-1 || len(r.Evaluations) != len(r.Labels) {
					t.Errorf("round %d: %s scored %d of %d candidates (want %d)", round, a.ID, len(r.Evaluations), len(r.Labels), len(agents)-1)
				}
				for _, ev := range r.Evaluations {
					if ev.Weight < -100 || ev.Weight > 100 || r.Labels[ev.Label] != ev.Author {
						t.Errorf("round %d: %s's evaluation %+v: weight out of range or label not the author's", round, a.ID, ev)
					}
				}
			}
		}
	}
	// The run's answer is its winner's proposal in the round it names (the
	// last round whose winner gave an answer, when any did).
	if w := proposals[key{res.Ended.AnswerRound, res.Ended.Winner}]; w == nil {
		t.Errorf("winner %q has no proposal in round %d", res.Ended.Winner, res.Ended.AnswerRound)
	} else if res.Ended.Proposal != w.Text || res.Ended.Answer != w.Answer {
		t.Errorf("run_ended carries answer %q and a %d-byte proposal; the winner's are %q and %d bytes", res.Ended.Answer, len(res.Ended.Proposal), w.Answer, len(w.Text))
	}
	// The transcript file replays the same run, from run_started to run_ended.
	back, err := ReadTranscriptFile(path)
	if err != nil {
		t.Fatalf("reading the transcript back: %v", err)
	}
	if len(back) != len(evs) {
		t.Fatalf("transcript has %d events, the run emitted %d", len(back), len(evs))
	}
	for i := range back {
		if back[i].Header().Kind != evs[i].Header().Kind || back[i].Header().Seq != evs[i].Header().Seq {
			t.Fatalf("transcript event %d is %s #%d, emitted %s #%d", i, back[i].Header().Kind, back[i].Header().Seq, evs[i].Header().Kind, evs[i].Header().Seq)
		}
	}
	if back[0].Header().Kind != KindRunStarted || back[len(back)-1].Header().Kind != KindRunEnded {
		t.Errorf("transcript runs from %s to %s", back[0].Header().Kind, back[len(back)-1].Header().Kind)
	}
	var sizes []int
	for round := 1; round <= s.MaxRounds; round++ {
		for _, a := range agents {
			if p := proposals[key{round, a.ID}]; p != nil {
				sizes = append(sizes, len(p.Text))
			}
		}
	}
	t.Logf("proposal sizes (bytes, by round then agent): %v; %d of %d reviews abstained; answer %q", sizes, abstained, len(reviews), res.Ended.Answer)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func clusterLine(cs []Cluster) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "[%q ×%d %+.2f]", c.Answer, len(c.Members), c.Support)
	}
	return b.String()
}

// squash lowercases and drops whitespace, so an answer is found in its
// proposal however the extraction trimmed or joined it.
func squash(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), "")
}

func realSettings(propose, review int) Settings {
	s := DefaultSettings()
	s.MinRounds, s.MaxRounds = 2, 2
	s.Gate.BudgetTokens = 300
	s.Review.ClaimChars, s.Review.CritiqueChars = 80, 160
	s.ProposalChars = 1500
	s.Sampling.Propose.NumPredict = propose
	s.Sampling.Review.NumPredict = review
	s.Sampling.Summary.NumPredict = 160
	for _, o := range []*models.Options{&s.Sampling.Propose, &s.Sampling.Review, &s.Sampling.Summary} {
		o.NumCtx = 4096
	}
	s.CallTimeout = 20 * time.Minute // a busy 2-core box; go test -timeout catches hangs
	return s
}

// TestRealModelDeliberation: three SmolLM2 agents with different personas
// and temperatures write long proposals (up to 700 tokens, several kB) for
// two rounds.
func TestRealModelDeliberation(t *testing.T) {
	host, model := testenv.RealModel(t)
	o, err := models.NewOllama(host)
	if err != nil {
		t.Fatal(err)
	}
	agents, roles, be := realTeam([]string{"agent-1", "agent-2", "agent-3"}, []string{model, model, model}, o)
	s := realSettings(700, 400)
	s.Roles = roles
	q := "A train leaves at 09:40 and arrives at 13:15. How long is the journey? Explain your reasoning in detail, then give the answer."
	evs, res, path := realRun(t, "smollm2-deliberation", q, agents, s, be)
	checkRealRun(t, evs, res, path, agents, s)
	// Each persona's proposals went out at its own temperature.
	seen := map[float64]bool{}
	for _, r := range be.requests() {
		if isProposal(r) && r.Options.Temperature != nil {
			seen[*r.Options.Temperature] = true
		}
	}
	for _, temp := range []float64{0.3, 0.7, 1.0} {
		if !seen[temp] {
			t.Errorf("no proposal was sampled at temperature %v (saw %v)", temp, seen)
		}
	}
}

// TestRealModelMixedTeam: two SmolLM2 agents and the Gemma 3 base model,
// which repeats itself, echoes the prompt and invents new questions. None
// of that may break the run, and the question every agent is asked in
// round 2 is still the user's.
func TestRealModelMixedTeam(t *testing.T) {
	host, names := testenv.RealTeam(t)
	o, err := models.NewOllama(host)
	if err != nil {
		t.Fatal(err)
	}
	team := []string{names[0], names[0], names[1]}
	agents, roles, be := realTeam([]string{"agent-1", "agent-2", "agent-3"}, team, o)
	s := realSettings(160, 400)
	s.Roles = roles
	q := "Which is heavier, a kilogram of feathers or a kilogram of iron?"
	evs, res, path := realRun(t, "mixed-team", q, agents, s, be)
	checkRealRun(t, evs, res, path, agents, s)
	proposeCalls := 0
	for _, r := range be.requests() {
		if !isProposal(r) {
			continue
		}
		proposeCalls++
		if !strings.Contains(r.Messages[len(r.Messages)-1].Content, q) {
			t.Errorf("a proposal prompt to %s lost the user's question", r.Model)
		}
	}
	if proposeCalls != 2*len(agents) {
		t.Errorf("%d proposal calls, want %d", proposeCalls, 2*len(agents))
	}
}
