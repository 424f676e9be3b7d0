// Package engine runs N-Way Self-Evaluating Deliberation: rounds of
// proposals, anonymised N-to-N peer review, quadratic voting and a
// forget-gated consensus state, stopping when agreement stops paying.
// Everything it does is reported as events on a Sink; it is the only part
// of nsed that calls a model.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/nsed/nsed/models"
)

// Config is everything a run needs.
type Config struct {
	Question string
	Agents   []AgentInfo
	Settings Settings
	Backend  models.Backend
	Sink     Sink
	// RunID names the run in events and transcripts; generated if empty.
	RunID string
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Meter, if set, records every call's speed for telemetry.
	Meter *models.Meter
	// Rebalance, if set, is asked before every round after the first whether
	// the team should change (the Dynamic Expertise Broker re-solving from
	// fresh telemetry: a model failed, a better one appeared). It gets the
	// current bindings, the agents whose calls failed last round, and the
	// user's manual rebinds, which it must honour as pins. The changes it
	// returns are applied like any rebind and recorded with their reasons.
	// An error is reported as an event and the team stays as it is.
	Rebalance func(ctx context.Context, agents []AgentInfo, failed map[string]bool, pins map[string]AgentInfo) ([]Rebound, error)
	// Resume, if set, goes on with an interrupted run (ResumeFrom): its
	// question, settings, bindings and run id replace those above, and the
	// run starts at the round after its last complete one, its events
	// continuing the transcript's sequence behind a run_resumed.
	Resume *ResumeState
	// Provenance, if set, is recorded in run_started (models.Describe).
	Provenance *models.Provenance
}

// Result is how a run ended; the same facts are in its run_ended event.
type Result struct {
	Ended *RunEnded
}

// Run is one deliberation. Create it with New, drive it with Run, steer it
// through its Control methods from any goroutine.
type Run struct {
	cfg   Config
	now   func() time.Time
	start time.Time
	rng   *mrand.Rand // label shuffles
	ties  *mrand.Rand // tie draws, a separate stream so they do not move labels
	// their sources, whose positions round_ended carries for a resume
	labelSrc, tieSrc *mrand.PCG
	red              *redactor
	// everyone ever bound, so a rebind does not un-redact the old model
	identities []AgentInfo

	events *Emitter // stamps and delivers every event
	caller *Caller  // makes every model call

	ctl      sync.Mutex // guards the fields below
	agents   []AgentInfo
	rebinds  map[string]AgentInfo
	pins     map[string]AgentInfo // the user's rebinds, which the broker keeps
	rebindBy map[string]Rebound   // queued broker changes, for their reasons
	failed   map[string]bool      // agents with a failed call this round
	inbox    []string
	paused   bool
	steps    int
	isPaused bool // a Paused event was emitted and no Resumed yet
	wake     chan struct{}

	// per-run accumulators, touched only by the Run goroutine or under
	// metricsMu from phase goroutines. metrics holds what the run itself
	// counts of each agent (Wins, MeanSupport, Abstentions); its calls,
	// tokens and speed are the caller's (Caller.Metrics), merged by
	// agentMetrics.
	metricsMu sync.Mutex
	metrics   map[string]*AgentMetrics
	roundIn   int
	roundOut  int
	totalIn   int
	totalOut  int
}

// New checks the configuration and prepares a run.
func New(cfg Config) (*Run, error) {
	if rs := cfg.Resume; rs != nil {
		if rs.Completed() {
			return nil, fmt.Errorf("engine: run %s already completed after %d rounds (%s): there is nothing to resume", rs.RunID, rs.Ended.Rounds, rs.Ended.Reason)
		}
		cfg.Question, cfg.Settings, cfg.RunID = rs.Question, rs.Settings, rs.RunID
		cfg.Agents = append([]AgentInfo(nil), rs.Agents...)
	}
	if strings.TrimSpace(cfg.Question) == "" {
		return nil, errors.New("engine: the question is empty")
	}
	if len(cfg.Agents) < 2 {
		return nil, fmt.Errorf("engine: need at least 2 agents for peer review, have %d", len(cfg.Agents))
	}
	if cfg.Backend == nil {
		return nil, errors.New("engine: no model backend")
	}
	if why := QuorumProblem(cfg.Settings.Quorum, len(cfg.Agents)); why != "" {
		return nil, fmt.Errorf("engine: settings: quorum: %s", why)
	}
	if err := cfg.Settings.Validate(); err != nil {
		return nil, fmt.Errorf("engine: settings: %w", err)
	}
	ids := map[string]bool{}
	for i, a := range cfg.Agents {
		if a.ID == "" {
			cfg.Agents[i].ID = fmt.Sprintf("agent-%d", i+1)
			a.ID = cfg.Agents[i].ID
		}
		if ids[a.ID] {
			return nil, fmt.Errorf("engine: agent id %q is used twice", a.ID)
		}
		ids[a.ID] = true
		if a.Model == "" {
			return nil, fmt.Errorf("engine: agent %s has no model", a.ID)
		}
	}
	if cfg.Sink == nil {
		cfg.Sink = SinkFunc(func(Event) {})
	}
	if cfg.RunID == "" {
		cfg.RunID = NewRunID(time.Now())
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	s1, s2 := runSeed(cfg.RunID, cfg.Settings.Seed)
	events := NewEmitter(cfg.Sink, cfg.RunID, now)
	labelSrc, tieSrc := mrand.NewPCG(s1, s2), mrand.NewPCG(s2, s1^0x632be59bd9b4e019)
	r := &Run{
		cfg:      cfg,
		now:      now,
		events:   events,
		caller:   &Caller{Backend: cfg.Backend, Timeout: cfg.Settings.CallTimeout, MaxCtx: cfg.Settings.MaxCtx, Meter: cfg.Meter, Emit: events.Emit},
		rng:      mrand.New(labelSrc),
		ties:     mrand.New(tieSrc),
		labelSrc: labelSrc,
		tieSrc:   tieSrc,
		agents:   append([]AgentInfo(nil), cfg.Agents...),
		rebinds:  map[string]AgentInfo{},
		pins:     map[string]AgentInfo{},
		rebindBy: map[string]Rebound{},
		failed:   map[string]bool{},
		wake:     make(chan struct{}, 1),
		metrics:  map[string]*AgentMetrics{},
	}
	r.identities = append([]AgentInfo(nil), r.agents...)
	r.red = newRedactor(r.identities, cfg.Settings.Roles)
	for _, a := range r.agents {
		r.metrics[a.ID] = &AgentMetrics{Agent: a.ID, Model: a.Model}
	}
	if cfg.Resume != nil {
		if err := r.restore(cfg.Resume); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// runSeed hashes the run id and the configured seed into the PCG seed of
// the label shuffles and tie draws: a fixed seed and run id repeat a run
// exactly, while different runs (and benchmark items, whose run ids
// differ) get different label orders, so no position is favoured.
func runSeed(runID string, seed int64) (uint64, uint64) {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	h.Write([]byte(runID))
	s1 := h.Sum64()
	return s1, s1 ^ 0x9e3779b97f4a7c15
}

// NewRunID makes a sortable, unique run id: time plus random suffix.
func NewRunID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// ID is the run's id.
func (r *Run) ID() string { return r.cfg.RunID }

// Agents returns the current bindings.
func (r *Run) Agents() []AgentInfo {
	r.ctl.Lock()
	defer r.ctl.Unlock()
	return append([]AgentInfo(nil), r.agents...)
}

// emit stamps the envelope and hands the event to the sink, in sequence
// order (Emitter).
func (r *Run) emit(ev Event, kind Kind, round int, phase Phase, agent string) {
	r.events.Emit(ev, kind, round, phase, agent)
}

// ---- Control ----

func (r *Run) Pause() {
	r.ctl.Lock()
	r.paused = true
	r.ctl.Unlock()
}

func (r *Run) Resume() {
	r.ctl.Lock()
	r.paused, r.steps = false, 0
	r.ctl.Unlock()
	r.poke()
}

func (r *Run) Step() {
	r.ctl.Lock()
	if r.paused {
		r.steps++
	}
	r.ctl.Unlock()
	r.poke()
}

func (r *Run) Inject(text string) {
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	r.ctl.Lock()
	r.inbox = append(r.inbox, text)
	r.ctl.Unlock()
}

func (r *Run) Rebind(ctx context.Context, agent, model, host string) error {
	r.ctl.Lock()
	var cur *AgentInfo
	for i := range r.agents {
		if r.agents[i].ID == agent {
			cur = &r.agents[i]
		}
	}
	var next AgentInfo
	if cur != nil {
		next = *cur
	}
	r.ctl.Unlock()
	if cur == nil {
		return fmt.Errorf("rebind: no agent %q", agent)
	}
	if strings.TrimSpace(model) == "" {
		return errors.New("rebind: no model given")
	}
	next.Model, next.BoundBy, next.Reason = model, "user", ""
	if host != "" {
		next.Host = host
	}
	if c, ok := r.cfg.Backend.(models.Checker); ok {
		if err := c.CheckModel(ctx, next.Host, model); err != nil {
			return fmt.Errorf("rebind %s to %s: %w (the old binding stays)", agent, model, err)
		}
	}
	if why := thinkProblem(ctx, r.cfg.Backend, next, r.cfg.Settings.Sampling); why != "" {
		return fmt.Errorf("rebind %s to %s: %s (the old binding stays)", agent, model, why)
	}
	r.ctl.Lock()
	r.rebinds[agent] = next
	r.pins[agent] = next
	r.ctl.Unlock()
	return nil
}

// rebalance asks cfg.Rebalance for team changes and queues them to take
// effect at the coming boundary.
func (r *Run) rebalance(ctx context.Context, round int) {
	if r.cfg.Rebalance == nil {
		return
	}
	r.ctl.Lock()
	agents := append([]AgentInfo(nil), r.agents...)
	failed, pins := r.failed, maps.Clone(r.pins)
	r.failed = map[string]bool{}
	r.ctl.Unlock()
	changes, err := r.cfg.Rebalance(ctx, agents, failed, pins)
	if err != nil {
		if ctx.Err() == nil {
			r.emit(&BrokerReport{What: BrokerError, Message: err.Error()}, KindBroker, round, PhasePropose, "")
		}
		return
	}
	for i, c := range changes {
		if to, note := FitThink(ctx, r.cfg.Backend, c.To, r.cfg.Settings.Sampling); note != "" {
			changes[i].To, changes[i].Reason = to, joinNote(c.Reason, note)
			changes[i].To.Reason = joinNote(c.To.Reason, note)
		}
	}
	r.ctl.Lock()
	defer r.ctl.Unlock()
	for _, c := range changes {
		if _, pinned := r.pins[c.To.ID]; pinned {
			continue // a user's choice outranks the broker's
		}
		if _, pending := r.rebinds[c.To.ID]; pending {
			continue
		}
		c.To.BoundBy = "broker"
		if c.To.Reason == "" {
			c.To.Reason = c.Reason
		}
		r.rebinds[c.To.ID] = c.To
		r.rebindBy[c.To.ID] = c
	}
}

// joinNote appends a note to a reason.
func joinNote(reason, note string) string {
	if reason == "" {
		return note
	}
	return reason + "; " + note
}

func (r *Run) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// boundary runs between phases: it holds the run while paused, then applies
// pending rebinds and human messages, each recorded as an event. It returns
// the human messages that arrived.
func (r *Run) boundary(ctx context.Context, round int, phase Phase) ([]string, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r.ctl.Lock()
		hold := r.paused && r.steps == 0
		if !hold && r.paused {
			r.steps-- // this phase is the step
		}
		announce := hold && !r.isPaused
		resumed := !r.paused && r.isPaused
		if announce {
			r.isPaused = true
		}
		if resumed {
			r.isPaused = false
		}
		r.ctl.Unlock()
		if announce {
			r.emit(&Paused{}, KindPaused, round, phase, "")
		}
		if resumed {
			r.emit(&Resumed{}, KindResumed, round, phase, "")
		}
		if !hold {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-r.wake:
		}
	}
	r.ctl.Lock()
	var rebound []*Rebound
	for i, a := range r.agents {
		if next, ok := r.rebinds[a.ID]; ok {
			ev := &Rebound{From: a, To: next, By: "user"}
			if b, ok := r.rebindBy[a.ID]; ok {
				ev.By, ev.Reason = "broker", b.Reason
				delete(r.rebindBy, a.ID)
			}
			rebound = append(rebound, ev)
			r.agents[i] = next
			delete(r.rebinds, a.ID)
		}
	}
	inbox := r.inbox
	r.inbox = nil
	r.ctl.Unlock()
	for _, ev := range rebound {
		r.identities = append(r.identities, ev.To)
		r.red = newRedactor(r.identities, r.cfg.Settings.Roles)
		r.emit(ev, KindRebound, round, phase, ev.To.ID)
	}
	for _, text := range inbox {
		r.emit(&HumanMessage{Text: text}, KindHumanMessage, round, phase, "")
	}
	return inbox, nil
}

// ---- the run ----

// Run deliberates until the stopping rule, max rounds, cancellation or a
// fatal failure. It always emits run_ended before returning. The error is
// ctx.Err() when cancelled, or the failure that ended the run.
func (r *Run) Run(ctx context.Context) (Result, error) {
	r.start = r.now()
	s := r.cfg.Settings
	stopper := NewStopper(s.Stop, s.MinRounds, s.MaxRounds)
	rd := firstRound()
	if rs := r.cfg.Resume; rs != nil {
		r.start = r.start.Add(-rs.wall) // wall_ms covers every part of the run
		stopper, rd = rs.stopper(s), rs.next()
		r.resumed(rs)
	} else {
		r.emit(&RunStarted{Protocol: ProtocolNSED, Question: r.cfg.Question, Agents: r.Agents(), Settings: s, Provenance: r.cfg.Provenance}, KindRunStarted, 0, "", "")
	}

	if err := r.preflight(ctx); err != nil {
		return r.end(rd.n-1, rd.won, StatusFailed, StopFailed, err), err
	}
	if rs := r.cfg.Resume; rs != nil && rs.Stopped() {
		// Killed between the last round's verdict and run_ended.
		return r.end(rs.After, rd.won, StatusCompleted, rs.last.StopReason, nil), nil
	}
	for ; rd.n <= s.MaxRounds; rd = rd.next() {
		if err := r.runRound(ctx, rd); err != nil {
			return r.fail(ctx, rd, err)
		}
		d := stopper.Observe(rd.n, rd.votes.Conviction)
		r.endRound(rd, d)
		if !d.Continue {
			return r.end(rd.n, rd.won, StatusCompleted, d.Reason, nil), nil
		}
	}
	return r.end(s.MaxRounds, rd.won, StatusCompleted, StopMaxRounds, nil), nil
}

// enter starts a phase: it passes the boundary (pauses, rebinds, human
// messages) and announces the phase. It returns the human messages that
// arrived at the boundary.
func (r *Run) enter(ctx context.Context, round int, phase Phase) ([]string, error) {
	human, err := r.boundary(ctx, round, phase)
	if err != nil {
		return nil, err
	}
	r.emit(&PhaseStarted{}, KindPhaseStarted, round, phase, "")
	return human, nil
}

// preflight asks the backend, where it can tell, that every model exists,
// so a missing model fails before any round starts.
func (r *Run) preflight(ctx context.Context) error {
	c, ok := r.cfg.Backend.(models.Checker)
	if !ok {
		return nil
	}
	checked := map[[2]string]error{}
	for _, a := range r.Agents() {
		k := [2]string{a.Host, a.Model}
		err, done := checked[k]
		if !done {
			err = c.CheckModel(ctx, a.Host, a.Model)
			checked[k] = err
		}
		if err == nil {
			if why := thinkProblem(ctx, r.cfg.Backend, a, r.cfg.Settings.Sampling); why != "" {
				err = errors.New(why)
			}
		}
		if cause := stoppedBy(ctx); cause != nil {
			return cause // the check was cut short: not the model's fault
		}
		if err != nil {
			r.emit(&AgentFailed{Model: a.Model, Host: a.Host, Error: err.Error(), Fatal: true}, KindAgentFailed, 0, "", a.ID)
			return err
		}
	}
	return nil
}

// fail ends a run interrupted by cancellation or a fatal error in round
// rd, reporting the last round with a winner as its answer.
func (r *Run) fail(ctx context.Context, rd *round, err error) (Result, error) {
	if cause := stoppedBy(ctx); cause != nil {
		return r.end(rd.n-1, rd.won, StatusFailed, StopFailed, cause), cause
	}
	if ctx.Err() != nil {
		return r.end(rd.n-1, rd.won, StatusCancelled, StopCancelled, ctx.Err()), ctx.Err()
	}
	reason := StopFailed
	if _, ok := errors.AsType[*QuorumError](err); ok {
		reason = StopQuorum
	}
	return r.end(rd.n-1, rd.won, StatusFailed, reason, err), err
}

// stoppedBy is why ctx was cancelled when nsed, not the user, stopped the
// run (context.Cause: the transcript could not be written), else nil: such
// a run failed, and its run_ended says why rather than "cancelled".
func stoppedBy(ctx context.Context) error {
	cause := context.Cause(ctx)
	if cause == nil || errors.Is(cause, context.Canceled) || errors.Is(cause, context.DeadlineExceeded) {
		return nil
	}
	return cause
}

// end emits run_ended. Its answer is the winner of the last round that had
// one (won), or none when no round did.
func (r *Run) end(rounds int, won *roundWin, status, reason string, err error) Result {
	ev := &RunEnded{Status: status, Reason: reason, Rounds: rounds, WallMS: ms(r.now().Sub(r.start))}
	if err != nil && status == StatusFailed {
		ev.Error = err.Error()
	}
	if won != nil {
		ev.Winner, ev.Answer, ev.Proposal, ev.AnswerRound = won.agent, won.answer, won.text, won.round
	}
	r.metricsMu.Lock()
	ev.PromptTokens, ev.OutputTokens = r.totalIn, r.totalOut
	r.metricsMu.Unlock()
	ev.Agents = r.agentMetrics(rounds)
	r.emit(ev, KindRunEnded, rounds, "", "")
	return Result{Ended: ev}
}

// agentMetrics are run_ended's per-agent metrics: each current agent's
// calls, tokens and speed as the caller counted them, with the votes it
// won, its mean support over rounds and its abstentions, which the run
// counts.
func (r *Run) agentMetrics(rounds int) []AgentMetrics {
	agents := r.Agents()
	out := r.caller.Metrics(agents)
	r.metricsMu.Lock()
	defer r.metricsMu.Unlock()
	for i, a := range agents {
		own := r.metrics[a.ID]
		out[i].Model = a.Model // the binding now: a rebind changes it
		out[i].Wins, out[i].Abstentions, out[i].MeanSupport = own.Wins, own.Abstentions, own.MeanSupport
		if rounds > 0 {
			out[i].MeanSupport = round2(own.MeanSupport / float64(rounds))
		}
	}
	return out
}

// call runs one model call for an agent through the run's Caller (deadline,
// metering, token and failure events, per-agent metrics), then adds it to
// the round's and run's token totals and marks a failed agent for the
// broker. opts are the phase's.
func (r *Run) call(ctx context.Context, a AgentInfo, round int, phase Phase, msgs []models.Message, format []byte, opts models.Options) (models.Response, Asked, error) {
	resp, asked, err := r.caller.Call(ctx, Call{Agent: a, Round: round, Phase: phase, Messages: msgs, Format: format, Options: opts})
	if err != nil && ctx.Err() == nil {
		r.ctl.Lock()
		r.failed[a.ID] = true
		r.ctl.Unlock()
	}
	r.metricsMu.Lock()
	r.roundIn += resp.PromptTokens
	r.roundOut += resp.OutputTokens
	r.totalIn += resp.PromptTokens
	r.totalOut += resp.OutputTokens
	r.metricsMu.Unlock()
	return resp, asked, err
}

func hostOr(h string) string {
	if h == "" {
		return "the default host"
	}
	return h
}
