package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nsed/nsed/engine"
)

var timeNow = time.Now

// printer is the headless consumer: a compact live log of the run — one
// line per finished step — and the answer at the end. Model text passes
// through engine.CleanText: it is untrusted and must not reach the terminal
// raw.
type printer struct {
	mu       sync.Mutex
	w        io.Writer
	agents   map[string]engine.AgentInfo
	order    []string       // agent ids in binding order
	streamed map[string]int // tokens streamed per agent in the current phase
	// On a terminal, a status line shows streaming progress between the log
	// lines, redrawn at most every statusEvery.
	tty        bool
	statusAt   time.Time
	statusShow bool
}

const statusEvery = 200 * time.Millisecond

func newPrinter(w io.Writer, tty bool) *printer {
	return &printer{w: w, tty: tty, agents: map[string]engine.AgentInfo{}, streamed: map[string]int{}}
}

func (p *printer) Emit(e engine.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := e.Header()
	tag := fmt.Sprintf("[r%d %s]", h.Round, h.Phase)
	if _, ok := e.(*engine.Token); ok {
		p.streamed[h.Agent]++
		if p.tty && time.Since(p.statusAt) >= statusEvery {
			p.status(tag)
		}
		return
	}
	if p.statusShow {
		fmt.Fprint(p.w, "\r\x1b[K") // clear the status line before a log line
		p.statusShow = false
	}
	switch ev := e.(type) {
	case *engine.RunStarted:
		fmt.Fprintf(p.w, "question: %s\n", oneLine(ev.Question, 200))
		for _, a := range ev.Agents {
			p.agents[a.ID] = a
			p.order = append(p.order, a.ID)
			fmt.Fprintf(p.w, "  %s  %-12s %s%s\n", a.ID, a.Role, a.Model, hostSuffix(a.Host))
		}
		fmt.Fprintf(p.w, "rounds %d–%d · %g credits a voter · state budget %d tokens\n",
			ev.Settings.MinRounds, ev.Settings.MaxRounds, ev.Settings.Credits, ev.Settings.Gate.BudgetTokens)
	case *engine.RunResumed:
		for _, a := range ev.Agents {
			if _, known := p.agents[a.ID]; !known {
				p.order = append(p.order, a.ID)
			}
			p.agents[a.ID] = a
		}
		fmt.Fprintf(p.w, "resumed after round %d (the run was %s)\n", ev.After, ev.Reason)
	case *engine.PhaseStarted:
		p.streamed = map[string]int{}
		fmt.Fprintf(p.w, "%s started\n", tag)
	case *engine.ProposalDone:
		if ev.NoAnswer != "" {
			fmt.Fprintf(p.w, "%s %s %s: %d tok, sits the round out\n", tag, h.Agent, ev.NoAnswer, ev.Stats.OutputTokens)
			return
		}
		retried := ""
		if ev.Stats.ThinkRetried {
			retried = " (thinking ran out; retried with thinking off)"
		}
		fmt.Fprintf(p.w, "%s %s proposed: %d tok, %.0f tok/s, answer: %s%s\n", tag, h.Agent,
			ev.Stats.OutputTokens, ev.Stats.TokensPerSec, oneLine(ev.Answer, 80), retried)
		warnContext(p.w, tag, h.Agent, ev.Stats)
	case *engine.ReviewDone:
		if ev.Abstained {
			fmt.Fprintf(p.w, "%s %s abstained: %s\n", tag, h.Agent, oneLine(ev.Reason, 100))
			return
		}
		var parts []string
		for _, x := range ev.Evaluations {
			parts = append(parts, fmt.Sprintf("%s%+d", x.Author, x.Weight))
		}
		fmt.Fprintf(p.w, "%s %s reviewed: %s\n", tag, h.Agent, strings.Join(parts, " "))
		warnContext(p.w, tag, h.Agent, ev.Stats)
	case *engine.VotesCast:
		ids := make([]string, 0, len(ev.Support))
		for id := range ev.Support {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var parts []string
		for _, id := range ids {
			parts = append(parts, fmt.Sprintf("%s %+.2f", id, ev.Support[id]))
		}
		if ev.Winner == "" {
			fmt.Fprintf(p.w, "%s support: %s → no winner (%s)\n", tag, strings.Join(parts, ", "), ev.NoWinner)
		} else {
			fmt.Fprintf(p.w, "%s support: %s → leader %s (conviction %.2f)\n", tag, strings.Join(parts, ", "), ev.Winner, ev.Conviction)
		}
		if len(ev.Clusters) > 0 {
			var cs []string
			for _, c := range ev.Clusters {
				cs = append(cs, fmt.Sprintf("%s ×%d %+.2f", oneLine(c.Answer, 24), len(c.Members), c.Support))
			}
			fmt.Fprintf(p.w, "%s answers: %s\n", tag, strings.Join(cs, "; "))
		}
	case *engine.ConsensusUpdated:
		extra := ""
		if ev.Summarised {
			extra += ", summarised"
		}
		if ev.Truncated {
			extra += ", truncated"
		}
		fmt.Fprintf(p.w, "%s state %d/%d tokens: kept %d, dropped %d (γ=%.2f%s)\n", tag, ev.StateTokens, ev.BudgetTokens, len(ev.Kept), len(ev.Dropped), ev.Gamma, extra)
	case *engine.RoundEnded:
		verdict := "continue"
		if !ev.Continue {
			verdict = "stop: " + ev.StopReason
		}
		fmt.Fprintf(p.w, "[r%d end] evidence %.3f of %.3f · U=%.3f · %d prompt + %d output tokens → %s\n",
			h.Round, ev.Evidence, ev.Target, ev.Utility, ev.PromptTokens, ev.OutputTokens, verdict)
	case *engine.QuorumLost:
		var why []string
		for _, a := range ev.Absent {
			why = append(why, fmt.Sprintf("%s (%s): %s", a.Agent, a.Phase, oneLine(a.Why, 120)))
		}
		fmt.Fprintf(p.w, "%s quorum lost: %d of %d agents proposed and reviewed, quorum %d; missing %s\n",
			tag, ev.Present, ev.Agents, ev.Quorum, strings.Join(why, "; "))
	case *engine.InjectionSuspected:
		fmt.Fprintf(p.w, "%s %s injection suspected: gave %s (its %s) %+d repeating %q (%s)\n",
			tag, h.Agent, ev.Candidate, oneLine(ev.Label, 4), ev.Weight, oneLine(ev.Phrase, 100), ev.Pattern)
	case *engine.AgentFailed:
		fmt.Fprintf(p.w, "%s %s failed (%s): %s\n", tag, h.Agent, ev.Model, oneLine(ev.Error, 200))
	case *engine.BrokerReport:
		fmt.Fprintf(p.w, "%s broker %s: %s\n", tag, ev.What, oneLine(ev.Message, 200))
	case *engine.Rebound:
		fmt.Fprintf(p.w, "%s %s rebound %s → %s\n", tag, h.Agent, ev.From.Model, ev.To.Model)
	case *engine.HumanMessage:
		fmt.Fprintf(p.w, "%s human: %s\n", tag, oneLine(ev.Text, 200))
	case *engine.Paused:
		fmt.Fprintf(p.w, "%s paused\n", tag)
	case *engine.Resumed:
		fmt.Fprintf(p.w, "%s resumed\n", tag)
	case *engine.RunEnded:
		fmt.Fprintf(p.w, "== %s after %d round(s) (%s) · %d prompt + %d output tokens · %.1fs ==\n",
			ev.Status, ev.Rounds, ev.Reason, ev.PromptTokens, ev.OutputTokens, ev.WallMS/1000)
		if ev.Error != "" {
			fmt.Fprintf(p.w, "stopped: %s\n", oneLine(ev.Error, 300))
		}
		if ev.Winner != "" {
			a := p.agents[ev.Winner]
			fmt.Fprintf(p.w, "answer (%s, %s): %s\n", ev.Winner, a.Model, engine.CleanText(ev.Answer))
		}
	}
}

func warnContext(w io.Writer, tag, agent string, st engine.CallStats) {
	if st.ContextFull {
		fmt.Fprintf(w, "%s %s: warning: the prompt filled the context window (%d tokens) and was cut; raise num_ctx in [sampling]\n", tag, agent, st.PromptTokens)
	}
}

// status redraws the progress line: tokens streamed per agent this phase.
func (p *printer) status(tag string) {
	var parts []string
	for _, id := range p.order {
		if n := p.streamed[id]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", id, n))
		}
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s streaming: %s tokens", tag, strings.Join(parts, " · "))
	p.statusAt, p.statusShow = time.Now(), true
}

func hostSuffix(h string) string {
	if h == "" {
		return ""
	}
	return " @" + h
}

// oneLine flattens untrusted text to one clean line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(engine.CleanText(s)), " ")
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
