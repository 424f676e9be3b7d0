package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nsed/nsed/models"
)

// Thinking models: per-agent options over the phase's, a budget for the
// thinking apart from the answer's, settings a model cannot take refused
// before the run, and an answer lost to thinking retried with thinking off.

// NoAnswerThinking is the reason recorded when a model spent its whole
// budget thinking and, asked again with thinking off, still gave no answer.
const NoAnswerThinking = "no answer (thinking ran out)"

// AgentOptions are an agent's own model options ([[agents]] keys in
// nsed.toml). A set field wins over the same option of every phase
// ([sampling.propose], [sampling.review], [sampling.summary]); nil or empty
// leaves the phase's.
type AgentOptions struct {
	Temperature *float64 `json:"temperature,omitempty"`
	Seed        *int     `json:"seed,omitempty"`
	TopP        *float64 `json:"top_p,omitempty"`
	NumCtx      int      `json:"num_ctx,omitempty"`
	NumPredict  int      `json:"num_predict,omitempty"`
	Think       string   `json:"think,omitempty"`
	ThinkBudget *int     `json:"think_budget,omitempty"`
}

// Over returns phase with the agent's set options in its place.
func (ao *AgentOptions) Over(phase models.Options) models.Options {
	if ao == nil {
		return phase
	}
	o := phase
	if ao.Temperature != nil {
		o.Temperature = ao.Temperature
	}
	if ao.Seed != nil {
		o.Seed = ao.Seed
	}
	if ao.TopP != nil {
		o.TopP = ao.TopP
	}
	if ao.NumCtx != 0 {
		o.NumCtx = ao.NumCtx
	}
	if ao.NumPredict != 0 {
		o.NumPredict = ao.NumPredict
	}
	if ao.Think != "" {
		o.Think = ao.Think
	}
	if ao.ThinkBudget != nil {
		o.ThinkBudget = *ao.ThinkBudget
	}
	return o
}

// OptionsFor is the options agent a's calls use in a phase whose options are
// phase: the agent's own win.
func (a AgentInfo) OptionsFor(phase models.Options) models.Options {
	return a.Options.Over(phase)
}

// thinks says whether a call with think value t may think on a model with
// caps: think asked for, or left to a model that can think (recent servers
// then think by default).
func thinks(t string, caps models.Capabilities) bool {
	switch t {
	case "false":
		return false
	case "":
		return caps.CanThink()
	}
	return true
}

// thinkOptions budgets a call's thinking apart from its answer: when the
// call may think, num_predict = answer budget + think_budget (sizeContext
// then grows num_ctx to hold prompt + thinking + answer). think = "false" on a model that cannot think is not sent: it is
// the model's only way anyway, and old servers refuse any think value there.
// think left out on a model that can think is sent as "true": recent
// servers think by default anyway, and older ones (v0.11) would otherwise
// let the thinking run inline into the answer, where reviewers would read it.
func thinkOptions(o models.Options, caps models.Capabilities) (models.Options, bool) {
	if o.Think == "false" && caps.Known() && !caps.CanThink() {
		o.Think = ""
	}
	if o.Think == "" && caps.CanThink() {
		o.Think = "true"
	}
	if !thinks(o.Think, caps) {
		return o, false
	}
	if o.NumPredict > 0 && o.ThinkBudget > 0 {
		o.NumPredict += o.ThinkBudget
	}
	return o, true
}

// capsOf asks the backend what a model supports; the zero value when it
// cannot say.
func capsOf(ctx context.Context, b models.Backend, host, model string) models.Capabilities {
	cr, ok := b.(models.CapabilityReader)
	if !ok {
		return models.Capabilities{}
	}
	caps, err := cr.Capabilities(ctx, host, model)
	if err != nil {
		return models.Capabilities{}
	}
	return caps
}

// RanOut says a reply spent its budget thinking and has no answer.
func RanOut(resp models.Response) bool {
	return strings.TrimSpace(resp.Content) == "" && resp.Thinking != ""
}

// ask is the inner step of every Caller.Call: agent a's own options over
// phase, thinking budgeted apart from the answer, the context sized to the
// prompt, and a reply that spent everything thinking asked again once with
// thinking off (gpt-oss, which cannot stop thinking, at "low"). The
// returned response keeps the first try's thinking and counts both tries'
// tokens; its ThinkRetried says a retry was made. When the retry too has no
// answer, RanOut(resp) holds.
func ask(ctx context.Context, b models.Backend, a AgentInfo, msgs []models.Message, format []byte, phase models.Options, maxCtx int, onToken models.TokenFunc) (models.Response, Asked, error) {
	caps := capsOf(ctx, b, a.Host, a.Model)
	opts, _ := thinkOptions(a.OptionsFor(phase), caps)
	if n := caps.ContextLength; n > 0 && maxCtx > n {
		maxCtx = n // a context past what the model was trained on buys nothing
	}
	opts, warn := sizeContext(opts, msgs, maxCtx)
	asked := Asked{Options: opts, ContextWarning: warn}
	req := models.Request{Host: a.Host, Model: a.Model, Messages: msgs, Format: format, Options: opts}
	resp, err := b.Chat(ctx, req, onToken)
	if err != nil || !RanOut(resp) || ctx.Err() != nil {
		return resp, asked, err
	}
	req.Options.Think = "false"
	if ok, _ := caps.TakesLevels(); ok {
		req.Options.Think = "low"
	}
	again, err := b.Chat(ctx, req, onToken)
	again.Thinking = resp.Thinking + again.Thinking
	again.PromptTokens += resp.PromptTokens
	again.OutputTokens += resp.OutputTokens
	again.Load += resp.Load
	again.PromptEval += resp.PromptEval
	again.Eval += resp.Eval
	again.Wall += resp.Wall
	again.ThinkRetried = true
	return again, asked, err
}

// Asked is how a call was made: the options it sent (the agent's over the
// phase's, thinking budgeted, the context sized from the prompt) and, when
// the prompt could not fit, a warning saying what to change.
type Asked struct {
	Options        models.Options
	ContextWarning string
}

// Stats are the call's measurements with the context it asked for, as its
// done event carries them; attempts counts the tries of a caller that
// retries invalid output.
func (a Asked) Stats(resp models.Response, attempts int) CallStats {
	st := statsOf(resp, attempts, a.Options.NumCtx)
	st.NumCtx, st.ContextWarning = a.Options.NumCtx, a.ContextWarning
	return st
}

// FitThink is agent a with its own think keys dropped when its model
// cannot take them, and a note saying so ("" when nothing was dropped).
// Think settings belong to a model family (levels are gpt-oss's; gemma3
// rejects any), so when the broker moves an agent to another model its
// think keys may no longer fit, and a call with them would fail. A user's
// rebind is refused instead (Rebind): the user can choose again.
func FitThink(ctx context.Context, b models.Backend, a AgentInfo, s SamplingSettings) (AgentInfo, string) {
	if a.Options == nil || (a.Options.Think == "" && a.Options.ThinkBudget == nil) {
		return a, ""
	}
	if thinkProblem(ctx, b, a, s) == "" {
		return a, ""
	}
	o := *a.Options
	note := fmt.Sprintf("%s's think = %q dropped: %s cannot take it", a.ID, o.Think, a.Model)
	o.Think, o.ThinkBudget = "", nil
	a.Options = &o
	return a, note
}

// thinkProblem says why agent a cannot use its think settings on its
// model, with the fix, or "" when it can (or the server cannot say).
func thinkProblem(ctx context.Context, b models.Backend, a AgentInfo, s SamplingSettings) string {
	caps := capsOf(ctx, b, a.Host, a.Model)
	if !caps.Known() {
		return ""
	}
	host := hostOr(a.Host)
	if caps.Host != "" {
		host = caps.Host
	}
	for _, ph := range []struct {
		name string
		o    models.Options
	}{{"propose", s.Propose}, {"review", s.Review}, {"summary", s.Summary}} {
		t := a.OptionsFor(ph.o).Think
		if t == "" || t == "false" {
			continue
		}
		where := fmt.Sprintf("[sampling.%s]", ph.name)
		if a.Options != nil && a.Options.Think != "" {
			where = fmt.Sprintf("%s's [[agents]] table", a.ID)
		}
		if !caps.CanThink() {
			return fmt.Sprintf("%s: model %s on %s cannot think (its capabilities are [%s], without \"thinking\") but %s sets think = %q: remove that think key or set it to \"false\"",
				a.ID, a.Model, host, strings.Join(caps.Capabilities, ", "), where, t)
		}
		if slices.Contains(models.ThinkLevels, t) {
			if ok, unknown := caps.TakesLevels(); !ok && !unknown {
				return fmt.Sprintf("%s: model %s on %s (family %s) takes think = \"true\" or \"false\", not a level, but %s sets think = %q: levels low, medium and high are for gpt-oss only; set it to \"true\"",
					a.ID, a.Model, host, caps.Family, where, t)
			}
		}
	}
	return ""
}
