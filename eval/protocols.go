package eval

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

// Protocol names.
const (
	ProtoSingle   = "single" // expands to one "single:<agent>" per agent
	ProtoMajority = "majority"
	ProtoDebate   = "debate"
	ProtoMoA      = "moa"
	ProtoNSED     = engine.ProtocolNSED

	// firstRound names the first-round run the baselines share.
	firstRound = "first-round"
)

// AllProtocols is the default comparison, in report order.
var AllProtocols = []string{ProtoSingle, ProtoMajority, ProtoDebate, ProtoMoA, ProtoNSED}

// ParseProtocols reads a comma-separated protocol list.
func ParseProtocols(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return append([]string(nil), AllProtocols...), nil
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range strings.Split(s, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		switch p {
		case "":
			continue
		case "self-consistency", "vote":
			p = ProtoMajority
		case "council", "mixture", "mixture-of-agents":
			p = ProtoMoA
		}
		switch p {
		case ProtoSingle, ProtoMajority, ProtoDebate, ProtoMoA, ProtoNSED:
		default:
			return nil, fmt.Errorf("unknown protocol %q (want single, majority, debate, moa, nsed)", p)
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no protocols given")
	}
	return out, nil
}

// Env is what every protocol runs with: the same backend, agents and
// sampling options, so protocols differ only in how they use the calls.
type Env struct {
	Backend models.Backend
	Agents  []engine.AgentInfo
	// Settings are NSED's knobs (rounds, credits, gate budget, …); the
	// baselines use Settings.Sampling.Propose for every call, so each call
	// has the same output-token cap under every protocol.
	Settings engine.Settings
	// DebateRounds is the number of debate rounds including the first,
	// independent one (Du et al. use 2 with 3 agents); default 2.
	DebateRounds int
	// Aggregator is the index in Agents of the Mixture-of-Agents
	// aggregator; default 0.
	Aggregator int
	// MoALayers is the number of Mixture-of-Agents proposer layers (Wang
	// et al., 2024): layer 1 is the shared first round, and each agent in
	// layer l answers with all of layer l-1's answers as references; then
	// the aggregator synthesises the last layer. Default 1.
	MoALayers int
	// VoteSamples is how many answers each agent gives for majority vote
	// (self-consistency) when it is not matched to NSED's tokens; 1, the
	// default, votes over the first round alone.
	VoteSamples int
	// MatchTokens: majority vote draws MaxSamples rounds of one answer per
	// agent, and its result is the shortest prefix of them whose tokens
	// reach NSED's on the same item (see SelfConsistency). The bench
	// applies it only when NSED runs too.
	MatchTokens bool
	// MaxSamples is the number of sample rounds drawn when matching: the
	// matched k's cap and the majority@k curve's length. Default 8.
	MaxSamples int
	// Meter, if set, records every call's speed and failures, as in NSED
	// runs (the broker's telemetry).
	Meter *models.Meter
	// Provenance, if set, is recorded in every protocol's run_started.
	Provenance *models.Provenance
}

// Reply is one agent's finished answer within a protocol.
type Reply struct {
	Agent  string
	Model  string
	Host   string
	Round  int
	Text   string
	Answer string // engine.ExtractAnswer of Text, as in proposal_done
	Resp   models.Response
	Stats  engine.CallStats // as proposal_done reports them
	Err    error
	sitOut bool // no call was made
}

// Outcome is what one protocol produced for one item.
type Outcome struct {
	Protocol     string
	Text         string // the final reply to score
	Winner       string // the agent whose reply it is, where one is
	PromptTokens int
	OutputTokens int
	Calls        int
	Wall         time.Duration
	// Rounds holds every agent's reply per round (debate, nsed), and
	// Leaders the leading agent per round (nsed).
	Rounds  [][]Reply
	Leaders []string
	Status  string // engine.StatusCompleted, StatusFailed, …
	Err     error
	// Samples is majority vote's answers per agent (k of majority@k).
	Samples int
}

// baseline is one run of a baseline protocol on one item: an event stream
// of the same form as NSED's (run_started, phases, proposals, run_ended)
// and its calls made through the engine's Caller, so they have NSED's
// deadline, metering, token events and failure events.
type baseline struct {
	env    *Env
	emit   engine.EmitFunc
	caller *engine.Caller
}

// begin starts a baseline run and announces it with its protocol.
func (env *Env) begin(sink engine.Sink, runID, protocol, question string) *baseline {
	em := engine.NewEmitter(sink, runID, nil)
	b := &baseline{env: env, emit: em.Emit, caller: &engine.Caller{Backend: env.Backend, Timeout: env.Settings.CallTimeout,
		MaxCtx: env.Settings.MaxCtx, Meter: env.Meter, Emit: em.Emit}}
	b.emit(&engine.RunStarted{Protocol: protocol, Question: question, Agents: env.Agents, Settings: env.Settings, Provenance: env.Provenance}, engine.KindRunStarted, 0, "", "")
	return b
}

// phase announces the start of a round's phase.
func (b *baseline) phase(round int, p engine.Phase) {
	b.emit(&engine.PhaseStarted{}, engine.KindPhaseStarted, round, p, "")
}

// ask makes one agent's call in a round and reports its reply as a
// proposal; the caller reports a failed call.
func (b *baseline) ask(ctx context.Context, a engine.AgentInfo, round int, msgs []models.Message) Reply {
	return b.askWith(ctx, a, round, msgs, b.env.Settings.Sampling.Propose)
}

func (b *baseline) askWith(ctx context.Context, a engine.AgentInfo, round int, msgs []models.Message, opts models.Options) Reply {
	// As the engine calls: the agent's own think and budgets over the
	// propose phase's, thinking budgeted apart from the answer.
	resp, asked, err := b.caller.Call(ctx, engine.Call{Agent: a, Round: round, Phase: engine.PhasePropose, Messages: msgs, Options: opts})
	r := Reply{Agent: a.ID, Model: a.Model, Host: a.Host, Round: round, Text: resp.Content, Resp: resp, Stats: asked.Stats(resp, 1), Err: err}
	if err != nil {
		return r
	}
	r.Answer = engine.ExtractAnswer(r.Text)
	b.proposal(r)
	return r
}

func (b *baseline) proposal(r Reply) {
	pd := &engine.ProposalDone{Model: r.Model, Text: r.Text, Answer: r.Answer, Thinking: r.Resp.Thinking, Stats: r.Stats}
	if engine.RanOut(r.Resp) {
		pd.NoAnswer = engine.NoAnswerThinking
	}
	b.emit(pd, engine.KindProposalDone, r.Round, engine.PhasePropose, r.Agent)
}

// shared reports the first round, which the baselines share, as this run's
// round 1: every reply again, as a proposal or a failure, counted in this
// run's metrics, so the run's transcript holds every answer its outcome
// rests on and every call it cost.
func (b *baseline) shared(first []Reply) {
	b.phase(1, engine.PhasePropose)
	for _, r := range first {
		a := engine.AgentInfo{ID: r.Agent, Model: r.Model, Host: r.Host}
		b.caller.Count(a, r.Resp, r.Err)
		if r.Err != nil {
			b.emit(&engine.AgentFailed{Model: a.Model, Host: a.Host, Error: r.Err.Error()}, engine.KindAgentFailed, 1, engine.PhasePropose, a.ID)
			continue
		}
		b.proposal(r)
	}
}

// end closes the run with its outcome, as NSED's run_ended does: the
// winner, its whole reply and extracted answer, the tokens and the
// per-agent metrics.
func (b *baseline) end(o *Outcome, rounds int) {
	ev := &engine.RunEnded{Status: o.Status, Reason: o.Protocol, Winner: o.Winner, Answer: engine.ExtractAnswer(o.Text),
		Proposal: o.Text, Rounds: rounds, PromptTokens: o.PromptTokens, OutputTokens: o.OutputTokens, WallMS: ms(o.Wall),
		Agents: b.caller.Metrics(b.env.Agents)}
	if o.Err != nil {
		ev.Error = o.Err.Error()
	}
	b.emit(ev, engine.KindRunEnded, rounds, "", "")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// parallel runs one call per agent at once and waits for all.
func parallel(agents []engine.AgentInfo, f func(i int, a engine.AgentInfo) Reply) []Reply {
	out := make([]Reply, len(agents))
	var wg sync.WaitGroup
	for i, a := range agents {
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = f(i, a) }()
	}
	wg.Wait()
	return out
}

// FirstRound has every agent answer the question alone, in parallel: the
// single-agent baselines, and the first round that majority vote, debate and
// Mixture-of-Agents build on (so all of them see the same first answers).
func (env *Env) FirstRound(ctx context.Context, sink engine.Sink, runID, question string) ([]Reply, time.Duration) {
	b := env.begin(sink, runID, firstRound, question)
	b.phase(1, engine.PhasePropose)
	start := time.Now()
	replies := parallel(env.Agents, func(_ int, a engine.AgentInfo) Reply {
		return b.ask(ctx, a, 1, firstTurn(question))
	})
	wall := time.Since(start)
	o := &Outcome{Protocol: firstRound, Status: engine.StatusCompleted, Wall: wall}
	addTokens(o, replies)
	if ctx.Err() != nil {
		o.Status, o.Err = engine.StatusCancelled, ctx.Err()
	}
	b.end(o, 1)
	return replies, wall
}

func addTokens(o *Outcome, rs []Reply) {
	for _, r := range rs {
		if r.sitOut {
			continue
		}
		o.PromptTokens += r.Resp.PromptTokens
		o.OutputTokens += r.Resp.OutputTokens
		o.Calls++
	}
}

// Single is one agent's first-round answer as its own protocol.
func Single(r Reply) Outcome {
	o := Outcome{Protocol: ProtoSingle + ":" + r.Agent, Text: r.Text, Winner: r.Agent, Status: engine.StatusCompleted,
		PromptTokens: r.Resp.PromptTokens, OutputTokens: r.Resp.OutputTokens, Calls: 1, Wall: r.Resp.Wall, Err: r.Err}
	if r.Err != nil {
		o.Status = engine.StatusFailed
	}
	return o
}

// Plurality picks the most common key among replies (ties go to the
// earliest agent); replies with an empty key or an error don't vote. It
// returns the index of the chosen reply, or -1.
func Plurality(rs []Reply, key func(string) string) int {
	count := map[string]int{}
	first := map[string]int{}
	best := -1
	for i, r := range rs {
		if r.Err != nil {
			continue
		}
		k := key(r.Text)
		if k == "" {
			continue
		}
		if _, ok := first[k]; !ok {
			first[k] = i
		}
		count[k]++
	}
	bestN := 0
	for k, n := range count {
		if i := first[k]; n > bestN || n == bestN && i < best {
			best, bestN = i, n
		}
	}
	return best
}

// Majority is self-consistency over the agents' first-round answers: the
// plurality of their extracted answers (key), costing the first round.
func Majority(replies []Reply, wall time.Duration, key func(string) string) Outcome {
	o := Outcome{Protocol: ProtoMajority, Status: engine.StatusCompleted, Wall: wall, Samples: 1}
	addTokens(&o, replies)
	if i := Plurality(replies, key); i >= 0 {
		o.Text, o.Winner = replies[i].Text, replies[i].Agent
	} else if len(replies) > 0 {
		o.Text, o.Winner = replies[0].Text, replies[0].Agent
	}
	return o
}

// MajorityAt names the majority vote over the first k answers of each
// agent: a point of the majority@k curve.
func MajorityAt(k int) string { return fmt.Sprintf("%s@%d", ProtoMajority, k) }

// Samples are self-consistency's answers on one item, in rounds of one
// independent answer per agent: Rounds[0] is the shared first round, and
// Walls[r] is how long round r+1 took (its calls run in parallel).
type Samples struct {
	Rounds [][]Reply
	Walls  []time.Duration
}

// Tokens is what the first k rounds cost: prompt plus output tokens of
// every call made in them.
func (s Samples) Tokens(k int) int {
	var o Outcome
	for _, rs := range s.Rounds[:min(k, len(s.Rounds))] {
		addTokens(&o, rs)
	}
	return o.PromptTokens + o.OutputTokens
}

// Matched is the number of rounds majority vote needs to cost what another
// protocol did: the smallest k with Tokens(k) ≥ target, so its tokens reach
// the target and exceed it by less than round k's; all the rounds when
// even they fall short. Rounds cost ≥ 0, so Tokens is non-decreasing in k
// and the first k found is the smallest.
func (s Samples) Matched(target int) int {
	for k := 1; k <= len(s.Rounds); k++ {
		if s.Tokens(k) >= target {
			return k
		}
	}
	return len(s.Rounds)
}

// Vote is majority vote over each agent's first k answers: the plurality
// of their keys over the rounds 1…k laid end to end, costing those rounds.
// Ties go to the answer given first: the earliest round, then the earliest
// agent in the team's order; its first reply is the winner. The outcome is
// named MajorityAt(k) and carries k in Samples.
func (s Samples) Vote(k int, key func(string) string) Outcome {
	k = min(k, len(s.Rounds))
	var all []Reply
	var wall time.Duration
	for r := range k {
		all = append(all, s.Rounds[r]...)
		wall += s.Walls[r]
	}
	o := Majority(all, wall, key)
	o.Protocol, o.Samples = MajorityAt(k), k
	return o
}

// Vote is self-consistency's result on one item: the majority (matched to
// a token target, or over a fixed number of samples) and the majority@k
// curve, k = 1 … the rounds drawn, when more than one round was drawn.
type Vote struct {
	Majority Outcome
	Curve    []Outcome
}

// NoTarget asks SelfConsistency for VoteSamples answers per agent, matched
// to nothing.
const NoTarget = -1

// SelfConsistency is majority vote with several independent answers per
// agent, drawn in rounds of one answer per agent, the shared first round
// being round 1. With a target (another protocol's tokens on this item,
// ≥ 0) it draws MaxSamples rounds and the majority is the shortest prefix
// that costs at least the target (Samples.Matched), so the two are
// compared at matched cost; every item draws all MaxSamples rounds, so
// each point of the curve is measured on every item, not only on those
// where the target was high. With NoTarget it draws VoteSamples rounds and
// the majority is over all of them.
//
// Its transcript holds every round drawn; run_ended names the majority's
// answer and counts every call in the transcript.
func (env *Env) SelfConsistency(ctx context.Context, sink engine.Sink, runID, question string, first []Reply, firstWall time.Duration, key func(string) string, target int) Vote {
	b := env.begin(sink, runID, ProtoMajority, question)
	b.shared(first)
	n := max(env.VoteSamples, 1)
	if target >= 0 {
		n = env.maxSamples()
	}
	s := Samples{Rounds: [][]Reply{first}, Walls: []time.Duration{firstWall}}
	for round := 2; round <= n && ctx.Err() == nil; round++ {
		b.phase(round, engine.PhasePropose)
		start := time.Now()
		rs := parallel(env.Agents, func(_ int, a engine.AgentInfo) Reply {
			a, opts := reseeded(a, env.Settings.Sampling.Propose, round-1)
			return b.askWith(ctx, a, round, firstTurn(question), opts)
		})
		s.Rounds, s.Walls = append(s.Rounds, rs), append(s.Walls, time.Since(start))
	}
	k := len(s.Rounds)
	if target >= 0 {
		k = s.Matched(target)
	}
	var v Vote
	v.Majority = s.Vote(k, key)
	v.Majority.Protocol = ProtoMajority
	if len(s.Rounds) > 1 {
		for k := 1; k <= len(s.Rounds); k++ {
			v.Curve = append(v.Curve, s.Vote(k, key))
		}
	}
	whole := s.Vote(len(s.Rounds), key)
	whole.Protocol, whole.Text, whole.Winner = ProtoMajority, v.Majority.Text, v.Majority.Winner
	if target >= 0 {
		verb := "reach"
		if s.Tokens(k) < target {
			verb = "fall short of"
		}
		whole.Protocol = fmt.Sprintf("%s: %d of %d answers per agent %s %d tokens", ProtoMajority, k, len(s.Rounds), verb, target)
	}
	if ctx.Err() != nil {
		for _, o := range append([]*Outcome{&v.Majority, &whole}, ptrs(v.Curve)...) {
			o.Status, o.Err = engine.StatusCancelled, ctx.Err()
		}
	}
	b.end(&whole, len(s.Rounds))
	return v
}

// reseeded shifts a fixed sampling seed (the agent's own, else the
// phase's) by n, so that sample n+1 is a new draw: with one seed, every
// sample would repeat the first answer and vote with it k times. Without
// a seed nothing changes: the server draws anew each call.
func reseeded(a engine.AgentInfo, opts models.Options, n int) (engine.AgentInfo, models.Options) {
	shift := func(seed *int) *int {
		v := *seed + n
		return &v
	}
	if a.Options != nil && a.Options.Seed != nil {
		ao := *a.Options
		ao.Seed = shift(ao.Seed)
		a.Options = &ao
	}
	if opts.Seed != nil {
		opts.Seed = shift(opts.Seed)
	}
	return a, opts
}

func ptrs(os []Outcome) []*Outcome {
	out := make([]*Outcome, len(os))
	for i := range os {
		out[i] = &os[i]
	}
	return out
}

func (env *Env) maxSamples() int {
	if env.MaxSamples > 0 {
		return env.MaxSamples
	}
	return DefaultMaxSamples
}

// DefaultMaxSamples is MaxSamples' default: enough rounds to match an NSED
// run of a few rounds with reviews on most items.
const DefaultMaxSamples = 8

// Debate is multi-agent debate after Du et al. (2023): after the first,
// independent round, each agent sees the other agents' previous answers in
// full, on top of its own whole conversation so far, and answers again,
// for DebateRounds rounds in all. The final answer is the plurality of
// the last round's answers.
func (env *Env) Debate(ctx context.Context, sink engine.Sink, runID, question string, first []Reply, firstWall time.Duration, key func(string) string) Outcome {
	b := env.begin(sink, runID, ProtoDebate, question)
	b.shared(first)
	R := env.DebateRounds
	if R <= 0 {
		R = 2
	}
	o := Outcome{Protocol: ProtoDebate, Status: engine.StatusCompleted, Wall: firstWall}
	addTokens(&o, first)
	convs := make([][]models.Message, len(env.Agents))
	for i := range env.Agents {
		convs[i] = firstTurn(question)
	}
	prev := first
	o.Rounds = append(o.Rounds, first)
	for round := 2; round <= R && ctx.Err() == nil; round++ {
		b.phase(round, engine.PhasePropose)
		start := time.Now()
		next := parallel(env.Agents, func(i int, a engine.AgentInfo) Reply {
			if prev[i].Err != nil {
				// It sits this round out, as in the engine.
				return Reply{Agent: a.ID, Model: a.Model, Round: round, Err: prev[i].Err, sitOut: true}
			}
			convs[i] = append(convs[i], models.Message{Role: "assistant", Content: prev[i].Text}, models.Message{Role: "user", Content: debateTurn(prev, i)})
			return b.ask(ctx, a, round, convs[i])
		})
		o.Wall += time.Since(start)
		addTokens(&o, next)
		for i := range next {
			if next[i].Err != nil && prev[i].Err == nil && ctx.Err() == nil {
				next[i] = prev[i] // a failed call keeps its previous answer
			}
		}
		o.Rounds = append(o.Rounds, next)
		prev = next
	}
	if i := Plurality(prev, key); i >= 0 {
		o.Text, o.Winner = prev[i].Text, prev[i].Agent
	} else if len(prev) > 0 {
		o.Text, o.Winner = prev[0].Text, prev[0].Agent
	}
	if ctx.Err() != nil {
		o.Status, o.Err = engine.StatusCancelled, ctx.Err()
	}
	b.end(&o, len(o.Rounds))
	return o
}

// MoA is Mixture-of-Agents after Wang et al. (2024): MoALayers proposer
// layers, then one aggregator. Layer 1 is the shared first round; in each
// later layer every agent answers the question with the previous layer's
// answers as references (the aggregate-and-synthesise prompt), and the
// aggregator agent synthesises the last layer's answers into one. A layer
// where every call failed leaves the references as they were. Layer l is
// round l of the run's events, and the aggregator's answer is round
// MoALayers+1's one proposal; with two layers or more, Rounds holds the
// proposer layers.
func (env *Env) MoA(ctx context.Context, sink engine.Sink, runID, question string, first []Reply, firstWall time.Duration) Outcome {
	b := env.begin(sink, runID, ProtoMoA, question)
	b.shared(first)
	o := Outcome{Protocol: ProtoMoA, Status: engine.StatusCompleted, Wall: firstWall}
	addTokens(&o, first)
	refs := first
	layers := [][]Reply{first}
	for layer := 2; layer <= env.MoALayers && ctx.Err() == nil; layer++ {
		b.phase(layer, engine.PhasePropose)
		start := time.Now()
		sys := aggregatorSystem(refs)
		rs := parallel(env.Agents, func(_ int, a engine.AgentInfo) Reply {
			return b.ask(ctx, a, layer, []models.Message{{Role: "system", Content: sys}, {Role: "user", Content: question}})
		})
		o.Wall += time.Since(start)
		addTokens(&o, rs)
		layers = append(layers, rs)
		if answered(rs) {
			refs = rs
		}
	}
	if len(layers) > 1 {
		o.Rounds = layers
	}
	round := len(layers) + 1
	agg := env.Agents[min(max(env.Aggregator, 0), len(env.Agents)-1)]
	b.phase(round, engine.PhasePropose)
	start := time.Now()
	r := b.ask(ctx, agg, round, []models.Message{{Role: "system", Content: aggregatorSystem(refs)}, {Role: "user", Content: question}})
	o.Wall += time.Since(start)
	addTokens(&o, []Reply{r})
	o.Text, o.Winner, o.Err = r.Text, agg.ID, r.Err
	if r.Err != nil {
		o.Status = engine.StatusFailed
		if ctx.Err() != nil {
			o.Status = engine.StatusCancelled
		}
	}
	b.end(&o, round)
	return o
}

// answered says whether any call of a round succeeded.
func answered(rs []Reply) bool {
	for _, r := range rs {
		if r.Err == nil {
			return true
		}
	}
	return false
}

// NSED runs the engine itself on the question and reads its outcome off
// the event stream: every round's proposals, the leader of each round, and
// the run_ended answer.
func (env *Env) NSED(ctx context.Context, sink engine.Sink, runID, question string) Outcome {
	o := Outcome{Protocol: ProtoNSED}
	var mu sync.Mutex
	byRound := map[int][]Reply{}
	leaders := map[int]string{}
	var ended *engine.RunEnded
	collect := engine.SinkFunc(func(ev engine.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *engine.ProposalDone:
			byRound[e.Round] = append(byRound[e.Round], Reply{Agent: e.Agent, Model: e.Model, Round: e.Round, Text: e.Text, Answer: e.Answer})
		case *engine.RoundEnded:
			leaders[e.Round] = e.Winner
		case *engine.RunEnded:
			ended = e
		}
	})
	agents := append([]engine.AgentInfo(nil), env.Agents...)
	r, err := engine.New(engine.Config{Question: question, Agents: agents, Settings: env.Settings, Backend: env.Backend,
		Sink: engine.Tee(sink, collect), RunID: runID, Meter: env.Meter, Provenance: env.Provenance})
	if err != nil {
		o.Status, o.Err = engine.StatusFailed, err
		return o
	}
	start := time.Now()
	_, err = r.Run(ctx)
	o.Wall = time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	o.Err = err
	if ended != nil {
		o.Status, o.Text, o.Winner = ended.Status, ended.Proposal, ended.Winner
		o.PromptTokens, o.OutputTokens = ended.PromptTokens, ended.OutputTokens
		for _, a := range ended.Agents {
			o.Calls += a.Calls
		}
		for round := 1; round <= ended.Rounds; round++ {
			if rs, ok := byRound[round]; ok {
				o.Rounds = append(o.Rounds, rs)
				o.Leaders = append(o.Leaders, leaders[round])
			}
		}
	}
	return o
}
