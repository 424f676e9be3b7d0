package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/nsed/nsed/models"
)

// round is one round of deliberation: what it carries in from the round
// before, the human messages that arrive at its phase boundaries, and what
// its phases produce. Only the Run goroutine touches it.
type round struct {
	n int

	// Carried in.
	state       *consensusState    // the gated state, updated in place by the consensus phase
	prev        []proposal         // the last round's proposals
	prevSupport map[string]float64 // and the support each received
	prevWinner  string             // its winning proposal's author ("" when it had none)

	// human is every moderator message that arrived at this round's
	// boundaries so far: the proposal prompts see those of the propose
	// boundary, the gate takes in all of them.
	human []string

	// Produced, phase by phase.
	props   []proposal
	absent  []Absent // agents that sat out a phase so far, and why
	reviews []*ReviewDone
	votes   *VotesCast
	keys    map[string]string // author -> answer key
	won     *roundWin         // the last round with a winner, this one included once voted
}

// proposal is an agent's finished proposal within a round.
type proposal struct {
	agent  string
	text   string
	answer string
}

// roundWin is a round's winning proposal, kept for run_ended.
type roundWin struct {
	round               int
	agent, answer, text string
}

func firstRound() *round {
	return &round{n: 1, state: &consensusState{}, prevSupport: map[string]float64{}}
}

// next is the round after rd, carrying its state, proposals and winner.
func (rd *round) next() *round {
	return &round{n: rd.n + 1, state: rd.state, prev: rd.props, prevSupport: rd.votes.Support,
		prevWinner: rd.votes.Winner, won: rd.won}
}

// runRound runs one round's phases, each after its boundary. An error is
// cancellation or a failure that ends the run.
func (r *Run) runRound(ctx context.Context, rd *round) error {
	r.roundIn, r.roundOut = 0, 0
	if rd.n > 1 {
		r.rebalance(ctx, rd.n)
	}
	phases := []struct {
		phase Phase
		run   func() error
	}{
		{PhasePropose, func() (err error) {
			if rd.props, rd.absent, err = r.propose(ctx, rd); err != nil {
				return err
			}
			return r.quorum(rd.n, PhasePropose, authorsOf(rd.props), rd.absent)
		}},
		{PhaseReview, func() (err error) {
			var failed []error
			if rd.reviews, failed, err = r.review(ctx, rd.n, rd.props); err != nil {
				return err
			}
			present, absent := reviewed(rd.props, rd.reviews, failed)
			rd.absent = append(rd.absent, absent...)
			return r.quorum(rd.n, PhaseReview, present, rd.absent)
		}},
		{PhaseVote, func() error { rd.votes, rd.keys = r.vote(rd.n, rd.props, rd.reviews); return nil }},
		{PhaseConsensus, func() error { return r.consensus(ctx, rd) }},
	}
	for _, p := range phases {
		human, err := r.enter(ctx, rd.n, p.phase)
		if err != nil {
			return err
		}
		rd.human = append(rd.human, human...)
		if err := p.run(); err != nil {
			return err
		}
	}
	return nil
}

// consensus takes the round's winner as the run's answer (see noteWinner),
// passes the round through the forget gate and credits the agents' wins
// and support.
func (r *Run) consensus(ctx context.Context, rd *round) error {
	leaderAnswer := rd.noteWinner()
	cu := rd.state.update(ctx, rd.evidence(leaderAnswer), r.cfg.Settings.Gate, r.red, r.summariser(rd.n))
	if err := ctx.Err(); err != nil {
		return err
	}
	r.emit(cu, KindConsensusUpdated, rd.n, PhaseConsensus, "")
	r.metricsMu.Lock()
	if m := r.metrics[rd.votes.Winner]; m != nil {
		m.Wins++
	}
	for a, sup := range rd.votes.Support {
		if m := r.metrics[a]; m != nil {
			m.MeanSupport += sup
		}
	}
	r.metricsMu.Unlock()
	return nil
}

// noteWinner makes the round's winning proposal the run's answer and
// returns its answer ("" when the round has no winner). A winner that gave
// no answer (no proposal gave one) does not replace an earlier round's
// answer as the run's.
func (rd *round) noteWinner() string {
	for _, p := range rd.props {
		if p.agent != rd.votes.Winner {
			continue
		}
		if p.answer != "" || rd.won == nil || rd.won.answer == "" {
			rd.won = &roundWin{round: rd.n, agent: p.agent, answer: p.answer, text: p.text}
		}
		return p.answer
	}
	return ""
}

// evidence is what the round hands the forget gate.
func (rd *round) evidence(leaderAnswer string) roundEvidence {
	answers := map[string]string{}
	authors := make([]string, 0, len(rd.props))
	for _, p := range rd.props {
		answers[p.agent] = p.answer
		authors = append(authors, p.agent)
	}
	v := rd.votes
	return roundEvidence{round: rd.n, leader: v.Winner, leaderAnswer: leaderAnswer,
		answers: answers, support: v.Support, reviews: rd.reviews, human: rd.human,
		scores: scoreRows(v.Clusters, authors, rd.keys, v.Support)}
}

// endRound emits round_ended with the stopping rule's verdict.
func (r *Run) endRound(rd *round, d StopDecision) {
	v := rd.votes
	r.emit(&RoundEnded{Winner: v.Winner, Support: v.Support, Conviction: v.Conviction,
		Utility: d.Utility, Marginal: d.Marginal, Evidence: d.Evidence, Target: d.Target,
		Continue: d.Continue, StopReason: d.Reason, PromptTokens: r.roundIn, OutputTokens: r.roundOut,
		Cluster: v.Cluster, NoWinner: v.NoWinner, Carry: r.carry(rd)},
		KindRoundEnded, rd.n, PhaseConsensus, "")
}

// maxFreshHuman bounds the human messages a proposal prompt carries
// outside the gated state.
const maxFreshHuman = 3

func (r *Run) persona(role string) string {
	if ro, ok := r.cfg.Settings.Roles[role]; ok {
		return ro.Persona
	}
	return ""
}

// propose runs every agent's proposal in parallel. An agent whose call fails
// sits the round out, and is returned as absent with the reason; whether
// enough remain is the quorum's question (quorum.go).
func (r *Run) propose(ctx context.Context, rd *round) ([]proposal, []Absent, error) {
	round, state, prevSupport, human := rd.n, rd.state, rd.prevSupport, rd.human
	agents := r.Agents()
	s := r.cfg.Settings
	// The moderator's messages are kept apart from the model-derived state:
	// those the gate kept, then those that arrived since the last gate (the
	// gate takes them in next) — only the latest few, so a flood of
	// messages cannot outgrow the prompt.
	var kept []stateItem
	var br briefing
	for _, it := range state.items {
		if it.Kind == ItemHuman {
			br.Moderator = append(br.Moderator, it.Text)
		} else {
			kept = append(kept, it)
		}
	}
	br.State = strings.TrimSpace(renderState(kept, renderShared))
	if len(human) > maxFreshHuman {
		human = human[len(human)-maxFreshHuman:]
	}
	for _, h := range human {
		if h = truncate(cleanText(h), maxHumanChars); !slices.Contains(br.Moderator, h) {
			br.Moderator = append(br.Moderator, h)
		}
	}
	ranks := rankOf(prevSupport)
	out := make([]*proposal, len(agents))
	errs := make([]error, len(agents))
	var wg sync.WaitGroup
	for i, a := range agents {
		var own *ownPrevious
		for _, p := range rd.prev {
			if p.agent == a.ID {
				// The agent's own text may quote or name others: it is still
				// untrusted model output.
				own = &ownPrevious{
					Reasoning: r.red.untrusted(reasoningOf(p.text), s.ReasoningChars),
					Answer:    r.red.untrusted(p.answer, maxAnswerChars),
					Support:   round2(prevSupport[a.ID]), Rank: ranks[a.ID], Of: len(prevSupport), Led: a.ID == rd.prevWinner,
					Critiques: state.critiquesOf(a.ID),
				}
			}
		}
		msgs := []models.Message{
			{Role: "system", Content: systemPrompt(r.persona(a.Role))},
			{Role: "user", Content: proposalTurn(round, r.cfg.Question, own, briefing{State: br.State, Moderator: br.Moderator, Nonce: newNonce()})},
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, asked, err := r.call(ctx, a, round, PhasePropose, msgs, nil, s.Sampling.Propose)
			if err != nil {
				errs[i] = err // the caller reported it
				return
			}
			p := &proposal{agent: a.ID, text: resp.Content, answer: ExtractAnswer(resp.Content)}
			pd := &ProposalDone{Model: a.Model, Text: p.text, Answer: p.answer, Thinking: resp.Thinking, Stats: asked.Stats(resp, 1)}
			if RanOut(resp) {
				// Nothing to review: the agent sits the round out, and says why.
				pd.NoAnswer = NoAnswerThinking
				errs[i] = fmt.Errorf("%s: raise think_budget or num_predict", NoAnswerThinking)
				p = nil
			}
			out[i] = p
			if p != nil {
				pd.Flags = flagsOf(r.red.redact(cleanText(p.text)))
			}
			r.emit(pd, KindProposalDone, round, PhasePropose, a.ID)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var props []proposal
	var absent []Absent
	for i, p := range out {
		if p != nil {
			props = append(props, *p)
			continue
		}
		why := "no proposal"
		if errs[i] != nil {
			why = errs[i].Error()
		}
		absent = append(absent, Absent{Agent: agents[i].ID, Phase: PhasePropose, Why: why, Err: errs[i]})
	}
	return props, absent, nil
}

func authorsOf(props []proposal) []string {
	ids := make([]string, len(props))
	for i, p := range props {
		ids[i] = p.agent
	}
	return ids
}

// reviewed splits the proposers into those whose review counts and those
// that abstained, with the reason and the failed call's error. reviews[i]
// and failed[i] are props[i]'s author's.
func reviewed(props []proposal, reviews []*ReviewDone, failed []error) (present []string, absent []Absent) {
	for i, p := range props {
		if rd := reviews[i]; rd != nil && !rd.Abstained {
			present = append(present, p.agent)
			continue
		}
		why := "no review"
		if rd := reviews[i]; rd != nil && rd.Reason != "" {
			why = "abstained: " + rd.Reason
		}
		absent = append(absent, Absent{Agent: p.agent, Phase: PhaseReview, Why: why, Err: failed[i]})
	}
	return present, absent
}

func rankOf(support map[string]float64) map[string]int {
	ids := make([]string, 0, len(support))
	for id := range support {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if support[ids[i]] != support[ids[j]] {
			return support[ids[i]] > support[ids[j]]
		}
		return ids[i] < ids[j]
	})
	ranks := map[string]int{}
	for i, id := range ids {
		ranks[id] = i + 1
	}
	return ranks
}

// review has every agent that proposed evaluate every other proposal in one
// call: N calls a round, not N(N−1). Labels are shuffled per reviewer and
// each proposal is shown as view makes it: cleaned, de-identified, flagged,
// its answer and solution in full and only the middle of long reasoning
// shortened, fenced with the run's nonce.
// It also returns, per reviewer, the error of its last call if that call
// failed (nil otherwise).
func (r *Run) review(ctx context.Context, round int, props []proposal) ([]*ReviewDone, []error, error) {
	s := r.cfg.Settings
	byID := map[string]AgentInfo{}
	for _, a := range r.Agents() {
		byID[a.ID] = a
	}
	type job struct {
		a      AgentInfo
		anchor string
		cands  []reviewCandidate
		labels map[string]string
	}
	// Each proposal is prepared once, not once per reviewer who reads it.
	shown := make(map[string]proposalView, len(props))
	instr := make(map[string][]instruction, len(props))
	for _, p := range props {
		shown[p.agent] = r.red.view(p.text, s.ProposalChars)
		instr[p.agent] = instructionsIn(p.text)
	}
	var jobs []job
	for _, self := range props {
		others := make([]proposal, 0, len(props)-1)
		for _, p := range props {
			if p.agent != self.agent {
				others = append(others, p)
			}
		}
		r.rng.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
		j := job{a: byID[self.agent], anchor: shown[self.agent].Text, labels: map[string]string{}}
		for k, p := range others {
			label := string(rune('A' + k))
			j.labels[label] = p.agent
			j.cands = append(j.cands, reviewCandidate{Label: label, Text: shown[p.agent].Text, Flags: shown[p.agent].Flags})
		}
		jobs = append(jobs, j)
	}
	out := make([]*ReviewDone, len(jobs))
	failed := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			labels := make([]string, len(j.cands))
			for k, c := range j.cands {
				labels[k] = c.Label
			}
			msgs := []models.Message{
				{Role: "system", Content: systemPrompt(r.persona(j.a.Role))},
				{Role: "user", Content: reviewTurn(round, r.cfg.Question, j.anchor, j.cands, s.Review, newNonce())},
			}
			schema := reviewSchema(labels, s.Review)
			rd := &ReviewDone{Model: j.a.Model, Labels: j.labels}
			var stats CallStats
			for attempt := 1; attempt <= 1+s.Review.Retries; attempt++ {
				resp, asked, err := r.call(ctx, j.a, round, PhaseReview, msgs, schema, s.Sampling.Review)
				stats = addStats(stats, asked.Stats(resp, attempt))
				if ctx.Err() != nil {
					return
				}
				failed[i] = err
				if err != nil { // the caller reported it
					rd.Reason, rd.Raw = "call failed: "+err.Error(), ""
					continue
				}
				if RanOut(resp) {
					// Asked again with thinking off already: another try
					// would think the same way.
					rd.Reason, rd.Raw = NoAnswerThinking+": raise think_budget or num_predict", ""
					break
				}
				evs, perr := parseReview(resp.Content, j.labels, s.Review)
				if perr == nil {
					rd.Evaluations, rd.Reason, rd.Raw = evs, "", ""
					break
				}
				rd.Reason, rd.Raw = perr.Error(), truncate(cleanText(resp.Content), 2000)
			}
			// An evaluator that never produced a valid review gets no vote:
			// nothing stands in for it in ranking, agreement or stopping.
			rd.Abstained = rd.Evaluations == nil
			rd.Stats = stats
			if rd.Abstained {
				r.metricsMu.Lock()
				r.metrics[j.a.ID].Abstentions++
				r.metricsMu.Unlock()
			}
			out[i] = rd
			r.emit(rd, KindReviewDone, round, PhaseReview, j.a.ID)
			for _, sus := range suspectInjections(rd, instr) {
				r.emit(sus, KindInjectionSuspected, round, PhaseReview, j.a.ID)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return out, failed, nil
}

func addStats(a, b CallStats) CallStats {
	return CallStats{
		PromptTokens: a.PromptTokens + b.PromptTokens, OutputTokens: a.OutputTokens + b.OutputTokens,
		WallMS: a.WallMS + b.WallMS, LoadMS: a.LoadMS + b.LoadMS, TokensPerSec: b.TokensPerSec,
		Attempts: b.Attempts, DoneReason: b.DoneReason, ContextFull: a.ContextFull || b.ContextFull,
		ThinkRetried: a.ThinkRetried || b.ThinkRetried, NumCtx: b.NumCtx,
		ContextWarning: cmp.Or(b.ContextWarning, a.ContextWarning),
	}
}

// vote turns reviews into quadratic-vote ballots, tallies them per
// proposal and per answer cluster, and decides the round (clusters.go).
// It returns each author's answer key too.
func (r *Run) vote(round int, props []proposal, reviews []*ReviewDone) (*VotesCast, map[string]string) {
	authors := make([]string, len(props))
	keys := make(map[string]string, len(props))
	answers := make(map[string]string, len(props))
	for i, p := range props {
		authors[i] = p.agent
		answers[p.agent] = p.answer
		if p.answer != "" {
			keys[p.agent] = AnswerKey(extractAnswer(p.text))
		}
	}
	budget := r.cfg.Settings.Credits
	vc := &VotesCast{Budget: budget}
	voted := false
	for i, rd := range reviews {
		voter := props[i].agent
		if rd == nil || rd.Abstained {
			vc.Ballots = append(vc.Ballots, Ballot{Voter: voter, Abstained: true})
			continue
		}
		voted = true
		w := map[string]int{}
		for _, e := range rd.Evaluations {
			w[e.Author] = e.Weight
		}
		vc.Ballots = append(vc.Ballots, CastBallot(voter, w, budget))
	}
	vc.Support = SupportOf(authors, vc.Ballots)
	for k, v := range vc.Support {
		vc.Support[k] = math.Round(v*1e6) / 1e6
	}
	o := decide(authors, keys, answers, vc.Support, voted, r.ties.IntN)
	vc.Winner, vc.Conviction, vc.Clusters, vc.Cluster, vc.NoWinner = o.Winner, o.Conviction, o.Clusters, o.Cluster, o.NoWinner
	r.emit(vc, KindVotesCast, round, PhaseVote, "")
	return vc, keys
}

// summariser returns the gate's summary call, made by the agent bound to the
// synthesis role (else the first agent), with a length-bounded schema.
func (r *Run) summariser(round int) summariser {
	s := r.cfg.Settings
	if !s.Gate.Summarise {
		return nil
	}
	return func(ctx context.Context, brief string, maxChars int) (string, error) {
		agents := r.Agents()
		a := agents[0]
		for _, ag := range agents {
			if ag.Role == s.Gate.SynthesisRole {
				a = ag
				break
			}
		}
		// The schema's bound keeps a weak model's reply complete JSON within
		// its token limit: never ask for more characters than it may write.
		limit := maxChars
		if np := a.OptionsFor(s.Sampling.Summary).NumPredict; np > 0 && np-32 < limit {
			limit = max(16, np-32)
		}
		msgs := []models.Message{
			{Role: "system", Content: systemPrompt(r.persona(a.Role))},
			{Role: "user", Content: summaryTurn(round, brief, limit, newNonce())},
		}
		resp, _, err := r.call(ctx, a, round, PhaseConsensus, msgs, summarySchema(limit), s.Sampling.Summary)
		if err != nil {
			return "", err
		}
		var out struct {
			Summary string `json:"summary"`
		}
		if err := json.Unmarshal([]byte(strings.TrimSpace(resp.Content)), &out); err != nil {
			return "", err
		}
		// Model text like any other: cleaned and de-identified, not rewritten.
		return r.red.untrusted(out.Summary, 0), nil
	}
}
