package engine

import (
	"context"
	"math"
	"sort"
	"strings"
)

// The forget gate decides what of a round survives into the next. Every
// item of state has a weight (how much it mattered when last reinforced)
// and an age (rounds since then); its retention is weight·γ^age. Items
// retained less than drop_below are forgotten. What is kept is rendered into
// a brief; if the brief exceeds the token budget it is summarised by the
// synthesis agent (structured output) or, failing that, the lowest-retention
// items are dropped and the rest truncated. The state therefore never
// exceeds its budget, whatever the round number, and memory does not grow
// with the number of rounds.

// Gate item kinds, in the order the brief shows them.
const (
	ItemLeader   = "leader"
	ItemScores   = "scores"
	ItemHuman    = "human"
	ItemSummary  = "summary"
	ItemClaim    = "claim"
	ItemFinding  = "finding"
	ItemCritique = "critique"
)

var kindOrder = []string{ItemLeader, ItemScores, ItemHuman, ItemSummary, ItemClaim, ItemFinding, ItemCritique}

// maxHumanChars bounds an injected message kept in state.
const maxHumanChars = 500

type stateItem struct {
	Kind    string
	Agent   string // the agent the item is about (critique)
	Key     string // identity for reinforcement (normalised claim text, answer key)
	Text    string
	Verdict string // claims: the latest majority verdict
	Weight  float64
	Last    int // round last reinforced
}

func (it stateItem) retention(round int, gamma float64) float64 {
	return it.Weight * math.Pow(gamma, float64(round-it.Last))
}

// consensusState is what one round hands the next.
type consensusState struct {
	items []stateItem
}

// roundEvidence is what a round contributes to the state.
type roundEvidence struct {
	round        int
	leader       string
	leaderAnswer string
	answers      map[string]string // agent -> extracted answer
	support      map[string]float64
	reviews      []*ReviewDone
	human        []string
	scores       []scoreRow // the anonymised score matrix, per answer cluster
}

// summariser compresses a brief to at most maxChars; nil disables summaries.
type summariser func(ctx context.Context, brief string, maxChars int) (string, error)

// update folds a round into the state and applies the gate.
func (st *consensusState) update(ctx context.Context, ev roundEvidence, gs GateSettings, red *redactor, summarise summariser) *ConsensusUpdated {
	t := ev.round
	// Per-round working material is replaced, not accumulated: one leader,
	// one score matrix, this round's critiques. Findings (the answers
	// proposed so far) and claims persist under the gate's retention.
	var next []stateItem
	for _, it := range st.items {
		switch it.Kind {
		case ItemLeader, ItemScores, ItemCritique:
			continue
		}
		next = append(next, it)
	}
	if ev.leader != "" {
		text := red.untrusted(ev.leaderAnswer, maxAnswerChars)
		if strings.TrimSpace(text) == "" {
			text = "(the leading proposal gave no final answer)"
		}
		next = append(next, stateItem{Kind: ItemLeader, Agent: ev.leader, Text: text, Weight: 1, Last: t})
	}
	if len(ev.scores) > 0 {
		next = append(next, stateItem{Kind: ItemScores, Text: renderScores(ev.scores, red), Weight: 1, Last: t})
	}
	for _, h := range ev.human {
		next = append(next, stateItem{Kind: ItemHuman, Text: truncate(cleanText(h), maxHumanChars), Weight: 1, Last: t})
	}
	next = foldFindings(next, ev, t, red)
	// Claims are reinforced by every reviewer who cites them; their weight is
	// the share of reviewers citing them, so widely discussed claims persist.
	reviewers := 0
	type tally struct {
		text  string
		count int
		votes map[string]int
	}
	claims := map[string]*tally{}
	for _, r := range ev.reviews {
		if r.Abstained {
			continue
		}
		reviewers++
		for _, e := range r.Evaluations {
			for _, c := range e.Claims {
				key := normaliseClaim(c.Text)
				if key == "" {
					continue
				}
				tl := claims[key]
				if tl == nil {
					tl = &tally{text: red.untrusted(c.Text, len(c.Text)+8), votes: map[string]int{}}
					claims[key] = tl
				}
				tl.count++
				tl.votes[c.Verdict]++
			}
			if c := strings.TrimSpace(e.Critique); c != "" {
				next = append(next, stateItem{Kind: ItemCritique, Agent: e.Author, Text: red.untrusted(c, len(c)+8), Weight: math.Abs(float64(e.Weight)) / 100, Last: t})
			}
		}
	}
	keys := make([]string, 0, len(claims))
	for k := range claims {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tl := claims[k]
		w := float64(tl.count) / float64(max(1, reviewers))
		found := false
		for i := range next {
			if next[i].Kind == ItemClaim && next[i].Key == k {
				next[i].Weight = math.Min(1, math.Max(next[i].Weight, w)+0.25)
				next[i].Last, next[i].Verdict = t, majorityVerdict(tl.votes)
				found = true
			}
		}
		if !found {
			next = append(next, stateItem{Kind: ItemClaim, Key: k, Text: tl.text, Verdict: majorityVerdict(tl.votes), Weight: math.Min(1, w), Last: t})
		}
	}

	out := &ConsensusUpdated{Leader: ev.leader, LeaderAnswer: red.untrusted(ev.leaderAnswer, maxAnswerChars), Gamma: gs.Gamma, BudgetTokens: gs.BudgetTokens}
	var kept []stateItem
	for _, it := range next {
		r := it.retention(t, gs.Gamma)
		if it.Kind != ItemLeader && r < gs.DropBelow {
			out.Dropped = append(out.Dropped, gateItem(it, r))
			continue
		}
		kept = append(kept, it)
	}
	sortItems(kept, t, gs.Gamma)

	if EstimateTokens(renderState(kept, renderFull)) > gs.BudgetTokens && summarise != nil {
		kept, out.Summarised = st.summarise(ctx, kept, t, gs, summarise, out)
	}
	// Truncate: drop the lowest-retention items (never the leader) until the
	// brief fits; a lone oversized item is cut.
	for EstimateTokens(renderState(kept, renderFull)) > gs.BudgetTokens {
		out.Truncated = true
		if len(kept) > 1 {
			last := kept[len(kept)-1]
			out.Dropped = append(out.Dropped, gateItem(last, last.retention(t, gs.Gamma)))
			kept = kept[:len(kept)-1]
			continue
		}
		over := len(renderState(kept, renderFull)) - gs.BudgetTokens*4
		kept[0].Text = truncate(kept[0].Text, max(0, len(kept[0].Text)-over-8))
		if kept[0].Text == "…" || kept[0].Text == "" {
			kept = nil
		}
	}
	st.items = kept
	for _, it := range kept {
		out.Kept = append(out.Kept, gateItem(it, it.retention(t, gs.Gamma)))
	}
	out.State = renderState(kept, renderFull)
	out.StateTokens = EstimateTokens(out.State)
	return out
}

// summarise replaces every kept item but the leader and human messages with
// one summary item written by the synthesis agent. On any failure the items
// stay as they were and the caller truncates.
func (st *consensusState) summarise(ctx context.Context, kept []stateItem, t int, gs GateSettings, fn summariser, out *ConsensusUpdated) ([]stateItem, bool) {
	var head, rest []stateItem
	for _, it := range kept {
		if it.Kind == ItemLeader || it.Kind == ItemScores || it.Kind == ItemHuman {
			head = append(head, it)
		} else {
			rest = append(rest, it)
		}
	}
	room := gs.BudgetTokens*4 - len(renderState(head, renderFull)) - 64
	if room < 64 || len(rest) == 0 {
		return kept, false
	}
	text, err := fn(ctx, renderState(rest, renderAnon), room)
	text = strings.TrimSpace(cleanText(text))
	if err != nil || text == "" {
		return kept, false
	}
	for _, it := range rest {
		out.Dropped = append(out.Dropped, gateItem(it, it.retention(t, gs.Gamma)))
	}
	sum := stateItem{Kind: ItemSummary, Text: truncate(text, room), Weight: 1, Last: t}
	return append(head, sum), true
}

func gateItem(it stateItem, retention float64) GateItem {
	text := it.Text
	if it.Verdict != "" {
		text = it.Verdict + ": " + text
	}
	return GateItem{Kind: it.Kind, Agent: it.Agent, Text: text, Retention: round2(retention), Tokens: EstimateTokens(text)}
}

func sortItems(items []stateItem, t int, gamma float64) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.Kind == ItemLeader || b.Kind == ItemLeader {
			return a.Kind == ItemLeader && b.Kind != ItemLeader
		}
		return a.retention(t, gamma) > b.retention(t, gamma)
	})
}

// critiquesOf lists the kept critiques of one agent's proposal.
func (st *consensusState) critiquesOf(agent string) []string {
	var out []string
	for _, it := range st.items {
		if it.Kind == ItemCritique && it.Agent == agent {
			out = append(out, it.Text)
		}
	}
	return out
}

func normaliseClaim(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

func majorityVerdict(votes map[string]int) string {
	best, n := VerdictUnverified, -1
	for _, v := range []string{VerdictWrong, VerdictContested, VerdictVerified, VerdictUnverified} {
		if votes[v] > n {
			best, n = v, votes[v]
		}
	}
	return best
}

// foldFindings keeps one finding per distinct answer other than the
// leader's: an answer proposed again is reinforced (weight from its best
// support this round, 0.5 + 0.5·s/max|s| ∈ [0, 1]); one no longer proposed
// keeps its weight and fades by γ per round until drop_below forgets it.
// An answer that now leads leaves the findings (it is the leader item).
func foldFindings(items []stateItem, ev roundEvidence, t int, red *redactor) []stateItem {
	maxAbs := 0.0
	for _, s := range ev.support {
		maxAbs = math.Max(maxAbs, math.Abs(s))
	}
	leaderKey := AnswerKey(ev.answers[ev.leader])
	if ev.leader == "" {
		leaderKey = NoAnswerKey
	}
	type seen struct {
		text string
		w    float64
	}
	now := map[string]*seen{}
	var order []string
	agents := make([]string, 0, len(ev.answers))
	for a := range ev.answers {
		agents = append(agents, a)
	}
	sort.Strings(agents)
	for _, agent := range agents {
		ans := ev.answers[agent]
		k := AnswerKey(ans)
		if k == NoAnswerKey || k == leaderKey {
			continue
		}
		w := 0.5
		if maxAbs > 0 {
			w = 0.5 + 0.5*ev.support[agent]/maxAbs
		}
		if s := now[k]; s != nil {
			if w > s.w {
				s.w, s.text = w, ans
			}
			continue
		}
		now[k] = &seen{text: ans, w: w}
		order = append(order, k)
	}
	out := items[:0:0]
	for _, it := range items {
		if it.Kind == ItemFinding {
			if leaderKey != NoAnswerKey && it.Key == leaderKey {
				continue
			}
			if s := now[it.Key]; s != nil {
				it.Text, it.Weight, it.Last = red.untrusted(s.text, maxAnswerChars/2), s.w, t
				delete(now, it.Key)
			}
		}
		out = append(out, it)
	}
	for _, k := range order {
		if s := now[k]; s != nil {
			out = append(out, stateItem{Kind: ItemFinding, Key: k, Text: red.untrusted(s.text, maxAnswerChars/2), Weight: s.w, Last: t})
		}
	}
	return out
}
