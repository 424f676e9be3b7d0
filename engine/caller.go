package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nsed/nsed/models"
)

// Caller is the one way nsed calls a model. NSED's rounds, every baseline
// protocol and the DarkBench judge go through it, so every call has the
// same deadline, the same answer-lost-to-thinking retry (ask), the same
// metering and the same events: its tokens as they stream, and an
// agent_failed event when it fails. It keeps per-agent metrics of the calls
// it made. A Caller is safe for concurrent use; set its fields before the
// first call.
type Caller struct {
	Backend models.Backend
	// Timeout is each call's deadline (Settings.CallTimeout; 0: none). A call
	// past it fails with a *CallTimeoutError naming the model and host.
	Timeout time.Duration
	// MaxCtx is the largest context a call may ask for (Settings.MaxCtx).
	MaxCtx int
	// Meter, if set, records every call's speed and failures; calls cut
	// short because the caller's own context ended are not the model's
	// fault and are not recorded.
	Meter *models.Meter
	// Emit, if set, receives each call's token events and, when a call fails
	// while the run goes on, an agent_failed event.
	Emit EmitFunc

	mu      sync.Mutex
	metrics map[string]*AgentMetrics
}

// Call is one model call: whose, where in the run, and what it asks.
type Call struct {
	Agent    AgentInfo
	Round    int
	Phase    Phase
	Messages []models.Message
	// Format is the JSON schema a structured reply must follow; nil for
	// free text.
	Format []byte
	// Options are the phase's; the agent's own options win over them.
	Options models.Options
}

// CallTimeoutError is a call that did not finish within the Caller's
// Timeout. It unwraps to context.DeadlineExceeded.
type CallTimeoutError struct {
	Model, Host string
	Timeout     time.Duration
}

func (e *CallTimeoutError) Error() string {
	return fmt.Sprintf("%s on %s did not answer within call_timeout (%v)", e.Model, hostOr(e.Host), e.Timeout)
}

func (e *CallTimeoutError) Unwrap() error { return context.DeadlineExceeded }

// Call makes one model call (see ask for how its options are laid out and
// when it is asked again). It returns ctx.Err() when ctx ended during the
// call, even where the backend returned no error (a server may end the
// stream cleanly on cancel), and a *CallTimeoutError when the call ran
// past the Caller's Timeout.
func (c *Caller) Call(ctx context.Context, call Call) (models.Response, Asked, error) {
	a := call.Agent
	callCtx := ctx
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	start := time.Now()
	var first time.Duration
	resp, asked, err := ask(callCtx, c.Backend, a, call.Messages, call.Format, call.Options, c.MaxCtx, func(text string) {
		if first == 0 {
			first = time.Since(start)
		}
		c.emit(&Token{Text: text}, KindToken, call.Round, call.Phase, a.ID)
	})
	if err == nil && callCtx.Err() != nil {
		err = callCtx.Err()
	}
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		err = &CallTimeoutError{Model: a.Model, Host: a.Host, Timeout: c.Timeout}
	}
	if ctx.Err() == nil {
		if c.Meter != nil {
			c.Meter.Record(a.Host, a.Model, resp, first, err)
		}
		if err != nil {
			c.emit(&AgentFailed{Model: a.Model, Host: a.Host, Error: err.Error()}, KindAgentFailed, call.Round, call.Phase, a.ID)
		}
	}
	c.Count(a, resp, err)
	return resp, asked, err
}

func (c *Caller) emit(ev Event, kind Kind, round int, phase Phase, agent string) {
	if c.Emit != nil {
		c.Emit(ev, kind, round, phase, agent)
	}
}

// Count adds a call to agent a's metrics. Call counts its own; Count is
// for a call made through another Caller that this one's run reports too
// (the first round that the baselines share).
func (c *Caller) Count(a AgentInfo, resp models.Response, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.metrics == nil {
		c.metrics = map[string]*AgentMetrics{}
	}
	m := c.metrics[a.ID]
	if m == nil {
		m = &AgentMetrics{Agent: a.ID, Model: a.Model}
		c.metrics[a.ID] = m
	}
	m.count(resp, err)
}

// Restore starts the counts from ms: a resumed run's earlier calls, made
// by another process, still count in run_ended's per-agent metrics.
func (c *Caller) Restore(ms []AgentMetrics) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.metrics = map[string]*AgentMetrics{}
	for _, m := range ms {
		c.metrics[m.Agent] = &AgentMetrics{Agent: m.Agent, Model: m.Model, Calls: m.Calls, Failures: m.Failures,
			PromptTokens: m.PromptTokens, OutputTokens: m.OutputTokens, TokensPerSec: m.TokensPerSec}
	}
}

// Metrics returns the metrics of each of agents, in order; an agent without
// calls has zero counts.
func (c *Caller) Metrics(agents []AgentInfo) []AgentMetrics {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]AgentMetrics, len(agents))
	for i, a := range agents {
		out[i] = AgentMetrics{Agent: a.ID, Model: a.Model}
		if m := c.metrics[a.ID]; m != nil {
			out[i] = *m
		}
	}
	return out
}

// count adds one call to an agent's totals: a failure, or its tokens and
// its speed (a moving average weighing the newest call 0.3).
func (m *AgentMetrics) count(resp models.Response, err error) {
	m.Calls++
	if err != nil {
		m.Failures++
		return
	}
	m.PromptTokens += resp.PromptTokens
	m.OutputTokens += resp.OutputTokens
	if tps := resp.TokensPerSecond(); tps > 0 {
		if m.TokensPerSec == 0 {
			m.TokensPerSec = tps
		} else {
			m.TokensPerSec = 0.7*m.TokensPerSec + 0.3*tps
		}
	}
}

// EmitFunc stamps an event with its envelope and delivers it.
type EmitFunc func(ev Event, kind Kind, round int, phase Phase, agent string)

// Emitter stamps events with their envelope (schema version, sequence
// number, time, run id, kind, round, phase, agent) and hands them to a sink
// one at a time, in sequence order. Every protocol's run emits through
// one, so every run is a transcript of the same form.
type Emitter struct {
	mu    sync.Mutex
	sink  Sink
	runID string
	now   func() time.Time
	seq   int64
}

// NewEmitter returns an emitter for run runID; a nil sink discards the
// events, a nil now is time.Now.
func NewEmitter(sink Sink, runID string, now func() time.Time) *Emitter {
	if sink == nil {
		sink = SinkFunc(func(Event) {})
	}
	if now == nil {
		now = time.Now
	}
	return &Emitter{sink: sink, runID: runID, now: now}
}

// Emit stamps ev and delivers it. It is an EmitFunc.
func (e *Emitter) Emit(ev Event, kind Kind, round int, phase Phase, agent string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	*ev.Header() = Envelope{V: SchemaVersion, Seq: e.seq, Time: e.now(), RunID: e.runID, Kind: kind, Round: round, Phase: phase, Agent: agent}
	e.sink.Emit(ev)
}
