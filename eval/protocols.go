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
	// VoteSamples is how many answers each agent gives for majority vote
	// (self-consistency); 1, the default, votes over the first round alone.
	// Raise it to give majority vote the token budget of another protocol.
	VoteSamples int
	// Meter, if set, records every call's speed and failures, as in NSED
	// runs (the broker's telemetry).
	Meter *models.Meter
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
	b.emit(&engine.RunStarted{Protocol: protocol, Question: question, Agents: env.Agents, Settings: env.Settings}, engine.KindRunStarted, 0, "", "")
	return b
}

// phase announces the start of a round's phase.
func (b *baseline) phase(round int, p engine.Phase) {
	b.emit(&engine.PhaseStarted{}, engine.KindPhaseStarted, round, p, "")
}

// ask makes one agent's call in a round and reports its reply as a
// proposal; the caller reports a failed call.
func (b *baseline) ask(ctx context.Context, a engine.AgentInfo, round int, msgs []models.Message) Reply {
	// As the engine calls: the agent's own think and budgets over the
	// propose phase's, thinking budgeted apart from the answer.
	resp, asked, err := b.caller.Call(ctx, engine.Call{Agent: a, Round: round, Phase: engine.PhasePropose, Messages: msgs, Options: b.env.Settings.Sampling.Propose})
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
	o := Outcome{Protocol: ProtoMajority, Status: engine.StatusCompleted, Wall: wall}
	addTokens(&o, replies)
	if i := Plurality(replies, key); i >= 0 {
		o.Text, o.Winner = replies[i].Text, replies[i].Agent
	} else if len(replies) > 0 {
		o.Text, o.Winner = replies[0].Text, replies[0].Agent
	}
	return o
}

// SelfConsistency is majority vote over VoteSamples answers per agent:
// the first round's plus VoteSamples-1 more sampled independently.
func (env *Env) SelfConsistency(ctx context.Context, sink engine.Sink, runID, question string, first []Reply, firstWall time.Duration, key func(string) string) Outcome {
	b := env.begin(sink, runID, ProtoMajority, question)
	b.shared(first)
	if env.VoteSamples <= 1 {
		o := Majority(first, firstWall, key)
		b.end(&o, 1)
		return o
	}
	var jobs []engine.AgentInfo
	for k := 1; k < env.VoteSamples; k++ {
		jobs = append(jobs, env.Agents...)
	}
	start := time.Now()
	extra := parallel(jobs, func(_ int, a engine.AgentInfo) Reply {
		return b.ask(ctx, a, 1, firstTurn(question))
	})
	all := append(append([]Reply(nil), first...), extra...)
	o := Majority(all, firstWall+time.Since(start), key)
	if ctx.Err() != nil {
		o.Status, o.Err = engine.StatusCancelled, ctx.Err()
	}
	b.end(&o, 1)
	return o
}

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

// MoA is a Mixture-of-Agents / council baseline: the agents' first-round
// answers are proposals, and one aggregator agent synthesises them into a
// single answer.
func (env *Env) MoA(ctx context.Context, sink engine.Sink, runID, question string, first []Reply, firstWall time.Duration) Outcome {
	b := env.begin(sink, runID, ProtoMoA, question)
	b.shared(first)
	o := Outcome{Protocol: ProtoMoA, Status: engine.StatusCompleted, Wall: firstWall}
	addTokens(&o, first)
	agg := env.Agents[min(max(env.Aggregator, 0), len(env.Agents)-1)]
	// The aggregator's answer is round 2's one proposal.
	b.phase(2, engine.PhasePropose)
	start := time.Now()
	r := b.ask(ctx, agg, 2, []models.Message{{Role: "system", Content: aggregatorSystem(first)}, {Role: "user", Content: question}})
	o.Wall += time.Since(start)
	addTokens(&o, []Reply{r})
	o.Text, o.Winner, o.Err = r.Text, agg.ID, r.Err
	if r.Err != nil {
		o.Status = engine.StatusFailed
		if ctx.Err() != nil {
			o.Status = engine.StatusCancelled
		}
	}
	b.end(&o, 2)
	return o
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
		Sink: engine.Tee(sink, collect), RunID: runID, Meter: env.Meter})
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
