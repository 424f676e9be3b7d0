package engine

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// A killed, cancelled or failed run goes on from its last complete round:
// ResumeFrom reads what that round handed the next out of the transcript's
// events, and a Run made with Config.Resume starts at the round after it,
// appending to the same stream (sequence numbers continue) behind a
// run_resumed event. What a round carries is in the events: the bindings
// (run_started, rebound), the stopping rule's evidence (each round_ended's
// conviction, replayed through a Stopper), the previous round's proposals,
// support and winner (proposal_done, votes_cast), the moderator's messages
// not yet taken in (human_message) — and, in round_ended's carry, what the
// other events show only rounded or rendered: the gated state item by
// item and the positions of the seeded label and tie streams.

// ResumeState is an interrupted run as its transcript leaves it: what the
// round after its last complete one starts from.
type ResumeState struct {
	RunID    string
	Question string
	Settings Settings
	// Agents are the bindings the run goes on with: the last ones that took
	// effect, rebinds (the user's and the broker's) included.
	Agents []AgentInfo
	// After is the last complete round (0: none); the resumed run starts at
	// After+1.
	After int
	// Reason is how the transcript's last part ended (EndedKilled, …),
	// Error its error when it failed; Ended is its run_ended, nil when
	// killed.
	Reason string
	Error  string
	Ended  *RunEnded
	// LastSeq is the last sequence number on record; the resumed run's
	// events continue after it.
	LastSeq int64
	// History is the events of the complete rounds (tokens and the
	// discarded part of an unfinished round left out), for a screen that
	// shows the earlier rounds before the resumed ones.
	History []Event

	identities []AgentInfo          // everyone ever bound, for the redactor
	pins       map[string]AgentInfo // the user's rebinds, which the broker keeps
	failed     map[string]bool      // agents with a failed call in round After
	pending    []string             // moderator messages after round After's gate
	state      []stateItem          // the gated state after round After
	prev       []proposal           // round After's proposals
	support    map[string]float64   // and their support
	winner     string               // its winner
	won        *roundWin            // the run's answer so far
	conviction []float64            // per complete round, for the stopping rule
	last       *RoundEnded          // round After's end
	labels     []byte               // PCG states from the carry, nil in older transcripts
	ties       []byte               // (then the label stream is replayed from shuffles)
	shuffles   []int                // candidates per review, complete rounds, in order
	metrics    map[string]*AgentMetrics
	promptTok  int
	outputTok  int
	wall       time.Duration // the time the earlier parts ran
}

// Completed says the run ended normally: there is nothing to resume.
func (rs *ResumeState) Completed() bool {
	return rs.Ended != nil && rs.Ended.Status == StatusCompleted
}

// Stopped says the last complete round's verdict was to stop (the process
// died before run_ended): the resumed run only ends it.
func (rs *ResumeState) Stopped() bool { return rs.last != nil && !rs.last.Continue }

// partial gathers one round's events until its round_ended commits them.
type partial struct {
	props    []proposal
	reviews  []*ReviewDone
	votes    *VotesCast
	cu       *ConsensusUpdated
	failures []*AgentFailed
	calls    []Event // proposal_done, review_done and agent_failed, in order, for the metrics
	history  []Event
}

// ResumeFrom reads an interrupted run's events (ReadTranscript's) into
// what its next round starts from. A transcript resumed before is read as
// one stream: a round cut short by a kill is discarded at the run_resumed
// that followed it.
func ResumeFrom(evs []Event) (*ResumeState, error) {
	if len(evs) == 0 {
		return nil, errors.New("resume: the transcript has no events")
	}
	start, ok := evs[0].(*RunStarted)
	if !ok {
		return nil, fmt.Errorf("resume: the transcript starts with %s, not run_started", evs[0].Header().Kind)
	}
	if start.Protocol != "" && start.Protocol != ProtocolNSED {
		return nil, fmt.Errorf("resume: run %s is a %s baseline of a benchmark; only NSED deliberations can be resumed (rerun the bench: its checkpoints keep the items done)", start.RunID, start.Protocol)
	}
	rs := &ResumeState{
		RunID: start.RunID, Question: start.Question, Settings: start.Settings,
		Agents: slices.Clone(start.Agents), identities: slices.Clone(start.Agents),
		pins: map[string]AgentInfo{}, failed: map[string]bool{}, support: map[string]float64{},
		metrics: map[string]*AgentMetrics{},
	}
	for _, a := range rs.Agents {
		rs.metrics[a.ID] = &AgentMetrics{Agent: a.ID, Model: a.Model}
	}
	segStart := start.Time
	var lastTime time.Time
	cur := &partial{}
	for _, ev := range evs {
		h := ev.Header()
		rs.LastSeq = max(rs.LastSeq, h.Seq)
		switch e := ev.(type) {
		case *RunStarted:
			rs.History = append(rs.History, e)
		case *RunResumed:
			rs.discard(cur)
			cur = &partial{}
			rs.wall += lastSegment(segStart, lastTime)
			segStart = e.Time
			rs.Ended, rs.Reason, rs.Error = nil, "", ""
			rs.History = append(rs.History, e)
		case *Token:
			// the finished texts are in the done events
		case *Rebound:
			rs.rebind(e)
			cur.history = append(cur.history, e)
		case *HumanMessage:
			rs.pending = append(rs.pending, e.Text)
			cur.history = append(cur.history, e)
		case *ProposalDone:
			if e.NoAnswer == "" {
				cur.props = append(cur.props, proposal{agent: e.Agent, text: e.Text, answer: e.Answer})
			}
			cur.calls = append(cur.calls, e)
			cur.history = append(cur.history, e)
		case *ReviewDone:
			cur.reviews = append(cur.reviews, e)
			cur.calls = append(cur.calls, e)
			cur.history = append(cur.history, e)
		case *AgentFailed:
			if !e.Fatal {
				cur.failures = append(cur.failures, e)
				cur.calls = append(cur.calls, e)
			}
			cur.history = append(cur.history, e)
		case *VotesCast:
			cur.votes = e
			cur.history = append(cur.history, e)
		case *ConsensusUpdated:
			cur.cu = e
			cur.history = append(cur.history, e)
		case *RoundEnded:
			if err := rs.commit(cur, e); err != nil {
				return nil, err
			}
			cur = &partial{}
		case *RunEnded:
			rs.Ended = e
		default:
			cur.history = append(cur.history, ev)
		}
		if !h.Time.IsZero() {
			lastTime = h.Time
		}
	}
	rs.discard(cur)
	rs.wall += lastSegment(segStart, lastTime)
	rs.Reason, rs.Error = rs.howEnded()
	return rs, nil
}

func lastSegment(from, to time.Time) time.Duration {
	if from.IsZero() || to.Before(from) {
		return 0
	}
	return to.Sub(from)
}

// rebind applies a binding that took effect; a user's is a pin for the
// broker.
func (rs *ResumeState) rebind(e *Rebound) {
	for i := range rs.Agents {
		if rs.Agents[i].ID == e.To.ID {
			rs.Agents[i] = e.To
		}
	}
	rs.identities = append(rs.identities, e.To)
	if e.By == "user" {
		rs.pins[e.To.ID] = e.To
	}
	if m := rs.metrics[e.To.ID]; m != nil {
		m.Model = e.To.Model
	}
}

// commit makes cur round e's: its proposals, support and winner become
// what the next round is shown, its gated state the carried state, its
// conviction evidence for the stopping rule.
func (rs *ResumeState) commit(cur *partial, e *RoundEnded) error {
	if cur.votes == nil {
		return fmt.Errorf("resume: round %d ended (event %d) with no votes_cast before it: the transcript is damaged", e.Round, e.Seq)
	}
	rs.After, rs.last = e.Round, e
	rs.prev, rs.support, rs.winner = cur.props, cur.votes.Support, cur.votes.Winner
	rs.conviction = append(rs.conviction, e.Conviction)
	rs.pending = nil // the gate took in every message up to its phase
	rs.failed = map[string]bool{}
	for _, f := range cur.failures {
		rs.failed[f.Agent] = true
	}
	for _, r := range cur.reviews {
		rs.shuffles = append(rs.shuffles, len(r.Labels))
	}
	rs.noteWinner(e.Round, cur)
	if c := e.Carry; c != nil {
		rs.state = itemsOf(c.State)
		labels, err1 := hex.DecodeString(c.Labels)
		ties, err2 := hex.DecodeString(c.Ties)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("resume: round %d's carry (event %d): %w", e.Round, e.Seq, err)
		}
		rs.labels, rs.ties = labels, ties
	} else {
		rs.state = stateFromKept(cur.cu, e.Round)
		rs.labels, rs.ties = nil, nil
	}
	in, out := rs.countCalls(cur)
	rs.countSummary(cur, e.PromptTokens-in, e.OutputTokens-out)
	rs.promptTok += e.PromptTokens
	rs.outputTok += e.OutputTokens
	if m := rs.metrics[cur.votes.Winner]; m != nil {
		m.Wins++
	}
	for a, s := range cur.votes.Support {
		if m := rs.metrics[a]; m != nil {
			m.MeanSupport += s
		}
	}
	rs.History = append(rs.History, cur.history...)
	rs.History = append(rs.History, e)
	return nil
}

// discard drops an unfinished round, which is run again; the calls it
// made were made, and count.
func (rs *ResumeState) discard(cur *partial) {
	rs.countCalls(cur)
	for _, ev := range cur.calls {
		if st := statsOfEvent(ev); st != nil {
			rs.promptTok += st.PromptTokens
			rs.outputTok += st.OutputTokens
		}
	}
	// Bindings and messages in it took effect and stay; the rest goes.
	for _, ev := range cur.history {
		switch ev.(type) {
		case *Rebound, *HumanMessage:
			rs.History = append(rs.History, ev)
		}
	}
	*cur = partial{}
}

// noteWinner follows round.noteWinner over the complete rounds: the run's
// answer is the last winner that gave one.
func (rs *ResumeState) noteWinner(n int, cur *partial) {
	for _, p := range cur.props {
		if p.agent != cur.votes.Winner {
			continue
		}
		if p.answer != "" || rs.won == nil || rs.won.answer == "" {
			rs.won = &roundWin{round: n, agent: p.agent, answer: p.answer, text: p.text}
		}
	}
}

// countCalls adds a round's calls to the per-agent metrics as
// AgentMetrics.count would have, and returns the tokens they spent (the
// gate's summary call is not among them: countSummary).
func (rs *ResumeState) countCalls(cur *partial) (in, out int) {
	for _, ev := range cur.calls {
		if st := statsOfEvent(ev); st != nil {
			in, out = in+st.PromptTokens, out+st.OutputTokens
		}
		m := rs.metrics[ev.Header().Agent]
		if m == nil {
			continue
		}
		switch e := ev.(type) {
		case *AgentFailed:
			m.Calls++
			m.Failures++
		case *ReviewDone:
			if e.Abstained {
				m.Abstentions++
			}
			m.countStats(e.Stats)
		case *ProposalDone:
			m.countStats(e.Stats)
		}
	}
	return in, out
}

// countSummary gives the summariser the round's tokens no proposal or
// review accounts for: its summary call, which has no event of its own
// (round_ended's totals include it). The summariser is the agent bound to
// the synthesis role, else the first, as Run.summariser picks it.
func (rs *ResumeState) countSummary(cur *partial, in, out int) {
	if in <= 0 && out <= 0 || len(rs.Agents) == 0 {
		return
	}
	a := rs.Agents[0]
	for _, ag := range rs.Agents {
		if ag.Role == rs.Settings.Gate.SynthesisRole {
			a = ag
			break
		}
	}
	m := rs.metrics[a.ID]
	if m == nil {
		return
	}
	if cur.cu != nil && cur.cu.Summarised {
		m.Calls++
	}
	m.PromptTokens += max(in, 0)
	m.OutputTokens += max(out, 0)
}

func (m *AgentMetrics) countStats(st CallStats) {
	m.Calls++
	m.PromptTokens += st.PromptTokens
	m.OutputTokens += st.OutputTokens
	if tps := st.TokensPerSec; tps > 0 {
		if m.TokensPerSec == 0 {
			m.TokensPerSec = tps
		} else {
			m.TokensPerSec = 0.7*m.TokensPerSec + 0.3*tps
		}
	}
}

func statsOfEvent(ev Event) *CallStats {
	switch e := ev.(type) {
	case *ProposalDone:
		return &e.Stats
	case *ReviewDone:
		return &e.Stats
	}
	return nil
}

// howEnded names how the transcript's last part ended.
func (rs *ResumeState) howEnded() (string, string) {
	e := rs.Ended
	switch {
	case e == nil:
		return EndedKilled, ""
	case e.Status == StatusCancelled:
		return EndedCancelled, ""
	case e.Status == StatusFailed && unreachable(e.Error):
		return EndedServerDied, e.Error
	case e.Status == StatusFailed:
		return EndedFailed, e.Error
	}
	return e.Status, e.Error
}

// unreachable says an error, as a transcript records it, is a server that
// stopped answering (models.UnreachableError, a refused connection).
func unreachable(msg string) bool {
	for _, s := range []string{"cannot reach", "connection refused", "connection reset", "EOF"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// itemsOf turns a carry's items back into the gate's.
func itemsOf(c []CarriedItem) []stateItem {
	out := make([]stateItem, len(c))
	for i, it := range c {
		out[i] = stateItem{Kind: it.Kind, Agent: it.Agent, Key: it.Key, Text: it.Text, Verdict: it.Verdict, Weight: it.Weight, Last: it.Last}
	}
	return out
}

// carried is the gate's state as a carry records it.
func carried(items []stateItem) []CarriedItem {
	out := make([]CarriedItem, len(items))
	for i, it := range items {
		out[i] = CarriedItem{Kind: it.Kind, Agent: it.Agent, Key: it.Key, Text: it.Text, Verdict: it.Verdict, Weight: it.Weight, Last: it.Last}
	}
	return out
}

// stateFromKept rebuilds the gated state from consensus_updated's kept
// items, for transcripts written before round_ended had a carry: each
// item's weight is its retention then (so it fades on from there, as
// weight·γ^age does), claims' keys and verdicts are read back from their
// text. Close, not exact: retentions are rounded to two places.
func stateFromKept(cu *ConsensusUpdated, round int) []stateItem {
	if cu == nil {
		return nil
	}
	var out []stateItem
	for _, g := range cu.Kept {
		it := stateItem{Kind: g.Kind, Agent: g.Agent, Text: g.Text, Weight: g.Retention, Last: round}
		switch g.Kind {
		case ItemClaim:
			for _, v := range []string{VerdictVerified, VerdictContested, VerdictUnverified, VerdictWrong} {
				if t, ok := strings.CutPrefix(g.Text, v+": "); ok {
					it.Verdict, it.Text = v, t
					break
				}
			}
			it.Key = normaliseClaim(it.Text)
		case ItemFinding:
			it.Key = AnswerKey(it.Text)
		}
		out = append(out, it)
	}
	return out
}

// ---- the run's side ----

// carry is what round_ended records for a resume: the state the gate
// kept and where the seeded streams stand.
func (r *Run) carry(rd *round) *Carry {
	lb, err1 := r.labelSrc.MarshalBinary()
	tb, err2 := r.tieSrc.MarshalBinary()
	if err1 != nil || err2 != nil {
		return &Carry{State: carried(rd.state.items)}
	}
	return &Carry{State: carried(rd.state.items), Labels: hex.EncodeToString(lb), Ties: hex.EncodeToString(tb)}
}

// restore puts a run made with Config.Resume where its transcript left
// off: bindings, identities, pins, metrics, totals, the seeded streams
// and the sequence number.
func (r *Run) restore(rs *ResumeState) error {
	r.events.seq = rs.LastSeq
	r.agents = slices.Clone(rs.Agents)
	r.identities = slices.Clone(rs.identities)
	r.red = newRedactor(r.identities, r.cfg.Settings.Roles)
	for id, a := range rs.pins {
		r.pins[id] = a
	}
	for id, f := range rs.failed {
		r.failed[id] = f
	}
	r.metrics = map[string]*AgentMetrics{}
	var counted []AgentMetrics
	for _, a := range r.agents {
		m := AgentMetrics{Agent: a.ID, Model: a.Model}
		if old := rs.metrics[a.ID]; old != nil {
			m = *old
			m.Model = a.Model
		}
		r.metrics[a.ID] = &m
		counted = append(counted, m)
	}
	// Calls, tokens and speed are the caller's to count (agentMetrics).
	r.caller.Restore(counted)
	r.totalIn, r.totalOut = rs.promptTok, rs.outputTok
	if rs.labels != nil {
		if err := errors.Join(r.labelSrc.UnmarshalBinary(rs.labels), r.tieSrc.UnmarshalBinary(rs.ties)); err != nil {
			return fmt.Errorf("resume: the seeded streams of round %d: %w", rs.After, err)
		}
		return nil
	}
	// An older transcript: replay the label shuffles (tie draws, rarer,
	// start afresh from the seed).
	for _, n := range rs.shuffles {
		r.rng.Shuffle(n, func(int, int) {})
	}
	return nil
}

// stopper is the stopping rule with the complete rounds' evidence in it.
func (rs *ResumeState) stopper(s Settings) *Stopper {
	st := NewStopper(s.Stop, s.MinRounds, s.MaxRounds)
	for i, c := range rs.conviction {
		st.Observe(i+1, c)
	}
	return st
}

// next is the round after the last complete one, carrying what it handed
// on, and the moderator's messages it had not taken in.
func (rs *ResumeState) next() *round {
	rd := firstRound()
	rd.n = rs.After + 1
	rd.state.items = slices.Clone(rs.state)
	rd.prev = slices.Clone(rs.prev)
	for k, v := range rs.support {
		rd.prevSupport[k] = v
	}
	rd.prevWinner, rd.won = rs.winner, rs.won
	rd.human = slices.Clone(rs.pending)
	return rd
}

// resumed announces the resumed part of the stream.
func (r *Run) resumed(rs *ResumeState) {
	r.emit(&RunResumed{After: rs.After, Reason: rs.Reason, Error: rs.Error, Agents: r.Agents()}, KindRunResumed, 0, "", "")
}
