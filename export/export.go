// Package export turns a run's events (live or read from a transcript) into
// documents people share: a Markdown report and a single JSON summary.
package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/nsed/nsed/engine"
)

// Run is a whole run gathered from its events.
type Run struct {
	ID       string             `json:"run"`
	Question string             `json:"question"`
	Agents   []engine.AgentInfo `json:"agents"`
	Settings engine.Settings    `json:"settings"`
	Rounds   []*Round           `json:"rounds"`
	Events   []Note             `json:"notes,omitempty"` // rebinds, human messages, failures, a lost quorum, suspected injections
	Ended    *engine.RunEnded   `json:"ended,omitempty"`
}

// Round is one round's outcome.
type Round struct {
	N         int                      `json:"round"`
	Proposals []*engine.ProposalDone   `json:"proposals"`
	Reviews   []*engine.ReviewDone     `json:"reviews"`
	Votes     *engine.VotesCast        `json:"votes,omitempty"`
	Consensus *engine.ConsensusUpdated `json:"consensus,omitempty"`
	End       *engine.RoundEnded       `json:"end,omitempty"`
}

// Note is a steering or failure event, in words.
type Note struct {
	Round int    `json:"round"`
	Text  string `json:"text"`
}

// Gather assembles a Run from events in sequence order.
func Gather(evs []engine.Event) (*Run, error) {
	r := &Run{}
	round := func(n int) *Round {
		for len(r.Rounds) < n {
			r.Rounds = append(r.Rounds, &Round{N: len(r.Rounds) + 1})
		}
		return r.Rounds[n-1]
	}
	for _, e := range evs {
		h := e.Header()
		switch ev := e.(type) {
		case *engine.RunStarted:
			r.ID, r.Question, r.Agents, r.Settings = h.RunID, ev.Question, ev.Agents, ev.Settings
		case *engine.ProposalDone:
			round(h.Round).Proposals = append(round(h.Round).Proposals, ev)
		case *engine.ReviewDone:
			round(h.Round).Reviews = append(round(h.Round).Reviews, ev)
		case *engine.VotesCast:
			round(h.Round).Votes = ev
		case *engine.ConsensusUpdated:
			round(h.Round).Consensus = ev
		case *engine.RoundEnded:
			round(h.Round).End = ev
		case *engine.Rebound:
			why := ""
			if ev.Reason != "" {
				why = " (" + ev.Reason + ")"
			}
			r.Events = append(r.Events, Note{h.Round, fmt.Sprintf("%s rebound by %s: %s → %s%s", h.Agent, ev.By, ev.From.Model, ev.To.Model, why)})
		case *engine.HumanMessage:
			r.Events = append(r.Events, Note{h.Round, "human: " + ev.Text})
		case *engine.AgentFailed:
			r.Events = append(r.Events, Note{h.Round, fmt.Sprintf("%s (%s) failed: %s", h.Agent, ev.Model, ev.Error)})
		case *engine.BrokerReport:
			r.Events = append(r.Events, Note{h.Round, fmt.Sprintf("broker %s: %s", ev.What, ev.Message)})
		case *engine.RunResumed:
			// The round the earlier part was cut short in is run again:
			// only the resumed run's version of it counts.
			for len(r.Rounds) > ev.After {
				r.Rounds = r.Rounds[:len(r.Rounds)-1]
			}
			r.Ended = nil
			r.Events = append(r.Events, Note{ev.After, fmt.Sprintf("resumed after round %d (the run was %s)", ev.After, ev.Reason)})
		case *engine.QuorumLost:
			var why []string
			for _, a := range ev.Absent {
				why = append(why, fmt.Sprintf("%s (%s): %s", a.Agent, a.Phase, a.Why))
			}
			r.Events = append(r.Events, Note{h.Round, fmt.Sprintf("quorum lost: %d of %d agents proposed and reviewed, %d needed; missing %s", ev.Present, ev.Agents, ev.Quorum, strings.Join(why, "; "))})
		case *engine.InjectionSuspected:
			r.Events = append(r.Events, Note{h.Round, fmt.Sprintf("injection suspected: %s gave %s %+d repeating %q (%s)", h.Agent, ev.Candidate, ev.Weight, ev.Phrase, ev.Pattern)})
		case *engine.RunEnded:
			r.Ended = ev
		}
	}
	if r.ID == "" {
		return nil, errors.New("export: no run_started event: not an nsed transcript")
	}
	for _, rd := range r.Rounds {
		sort.Slice(rd.Proposals, func(i, j int) bool { return rd.Proposals[i].Agent < rd.Proposals[j].Agent })
		sort.Slice(rd.Reviews, func(i, j int) bool { return rd.Reviews[i].Agent < rd.Reviews[j].Agent })
	}
	return r, nil
}

// JSON writes the run as one indented JSON document.
func JSON(w io.Writer, r *Run) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Markdown writes a readable report: the answer first, then each round's
// proposals, review matrix, votes and kept state. Model text is cleaned of
// control characters and fenced so it cannot break the document.
func Markdown(w io.Writer, r *Run) error {
	b := &strings.Builder{}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("# nsed run %s\n\n", r.ID)
	p("**Question.** %s\n\n", inline(r.Question))
	if e := r.Ended; e != nil {
		p("**Outcome.** %s after %d round(s) (%s); %d prompt + %d output tokens; %.1f s.\n\n", e.Status, e.Rounds, e.Reason, e.PromptTokens, e.OutputTokens, e.WallMS/1000)
		if e.Error != "" {
			p("**Error.** %s\n\n", inline(e.Error))
		}
		if e.Winner != "" {
			from := e.Winner
			if e.AnswerRound > 0 && e.AnswerRound != e.Rounds {
				// The last rounds had no winner: the answer is older.
				from += fmt.Sprintf(", round %d", e.AnswerRound)
			}
			p("**Answer** (%s):\n\n%s\n", inline(from), fence(e.Answer))
		}
	} else {
		p("**Outcome.** the transcript ends before the run did (killed?).\n\n")
	}
	p("## Agents\n\n| agent | role | model | host | bound by |\n|---|---|---|---|---|\n")
	for _, a := range r.Agents {
		p("| %s | %s | %s | %s | %s |\n", cell(a.ID), cell(a.Role), cell(a.Model), cell(a.Host), cell(strings.TrimSpace(a.BoundBy+" "+a.Reason)))
	}
	if e := r.Ended; e != nil && len(e.Agents) > 0 {
		p("\n| agent | calls | failures | abstentions | prompt tok | output tok | wins | mean support | tok/s |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, m := range e.Agents {
			p("| %s | %d | %d | %d | %d | %d | %d | %+.2f | %.1f |\n", m.Agent, m.Calls, m.Failures, m.Abstentions, m.PromptTokens, m.OutputTokens, m.Wins, m.MeanSupport, m.TokensPerSec)
		}
	}
	if len(r.Events) > 0 {
		p("\n## Steering and failures\n\n")
		for _, n := range r.Events {
			p("- round %d: %s\n", n.Round, inline(n.Text))
		}
	}
	for _, rd := range r.Rounds {
		p("\n## Round %d\n", rd.N)
		if rd.End != nil {
			verdict := "continue"
			if !rd.End.Continue {
				verdict = "stop: " + rd.End.StopReason
			}
			if rd.End.Winner == "" {
				p("\nNo winner (%s); evidence %.3f of %.3f → %s.\n", inline(noWinner(rd.End.NoWinner)), rd.End.Evidence, rd.End.Target, verdict)
			} else {
				p("\nLeader **%s**, conviction %.2f; evidence %.3f of %.3f → %s.\n", rd.End.Winner, rd.End.Conviction, rd.End.Evidence, rd.End.Target, verdict)
			}
		}
		if v := rd.Votes; v != nil && len(v.Clusters) > 0 {
			p("\n| answer cluster | answer | members | support |\n|---|---|---|---|\n")
			for _, c := range v.Clusters {
				mark := ""
				if c.ID == v.Cluster {
					mark = " (winning)"
				}
				p("| %s%s | %s | %s | %+.2f |\n", cell(c.ID), mark, cell(c.Answer), cell(strings.Join(c.Members, ", ")), c.Support)
			}
		}
		p("\n### Proposals\n")
		for _, pr := range rd.Proposals {
			p("\n**%s** (%s, %d tokens) — %s\n", pr.Agent, pr.Model, pr.Stats.OutputTokens, proposalVerdict(pr))
			if len(pr.Flags) > 0 {
				fs := make([]string, len(pr.Flags))
				for i, f := range pr.Flags {
					fs[i] = inline(f)
				}
				p("\n⚑ flagged: %s (its prose addresses the reviewers; the text is unchanged and reviewers were told to disregard it)\n", strings.Join(fs, ", "))
			}
			if n := callNotes(pr.Stats); n != "" {
				p("\n%s\n", n)
			}
			if pr.Text != "" {
				p("\n<details><summary>full proposal</summary>\n\n%s\n</details>\n", fence(pr.Text))
			}
		}
		if len(rd.Reviews) > 0 {
			authors := make([]string, 0, len(rd.Proposals))
			for _, pr := range rd.Proposals {
				authors = append(authors, pr.Agent)
			}
			p("\n### Peer review (weight given by row to column)\n\n| reviewer | %s |\n|---|%s\n", strings.Join(authors, " | "), strings.Repeat("---|", len(authors)))
			for _, rv := range rd.Reviews {
				w := map[string]string{}
				for _, ev := range rv.Evaluations {
					w[ev.Author] = fmt.Sprintf("%+d", ev.Weight)
				}
				row := make([]string, len(authors))
				for i, a := range authors {
					switch {
					case a == rv.Agent:
						row[i] = "—"
					case rv.Abstained:
						row[i] = "abstained"
					default:
						row[i] = w[a]
					}
				}
				p("| %s | %s |\n", rv.Agent, strings.Join(row, " | "))
			}
			for _, rv := range rd.Reviews {
				if n := callNotes(rv.Stats); n != "" {
					p("- %s's review: %s\n", rv.Agent, n)
				}
			}
			for _, rv := range rd.Reviews {
				for _, ev := range rv.Evaluations {
					if ev.Critique != "" {
						p("- %s on %s: %s\n", rv.Agent, ev.Author, inline(ev.Critique))
					}
				}
			}
		}
		if v := rd.Votes; v != nil {
			p("\n### Quadratic votes (%g credits a voter; v votes cost v²)\n\n| voter | spent | votes |\n|---|---|---|\n", v.Budget)
			for _, bl := range v.Ballots {
				if bl.Abstained {
					p("| %s | 0 | abstained |\n", bl.Voter)
					continue
				}
				var parts []string
				for _, al := range bl.Allocations {
					parts = append(parts, fmt.Sprintf("%s %+.2f (%.1f cr)", al.Author, al.Votes, al.Credits))
				}
				p("| %s | %.1f | %s |\n", bl.Voter, bl.Spent, strings.Join(parts, ", "))
			}
		}
		if c := rd.Consensus; c != nil {
			p("\n### Consensus state (%d of %d tokens, γ = %.2f; kept %d, dropped %d)\n\n%s\n", c.StateTokens, c.BudgetTokens, c.Gamma, len(c.Kept), len(c.Dropped), fence(c.State))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// inline makes untrusted text safe on one Markdown line.
func inline(s string) string {
	s = strings.Join(strings.Fields(engine.CleanText(s)), " ")
	return strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;").Replace(s)
}

func cell(s string) string {
	if s == "" {
		return "—"
	}
	return inline(s)
}

// fence quotes untrusted text in a code fence longer than any backtick run
// inside it, so the text cannot close the fence.
func fence(s string) string {
	s = engine.CleanText(s)
	n, run := 3, 0
	for _, r := range s {
		if r == '`' {
			run++
			n = max(n, run+1)
		} else {
			run = 0
		}
	}
	f := strings.Repeat("`", n)
	return f + "text\n" + strings.TrimRight(s, "\n") + "\n" + f + "\n"
}

// noWinner is a no-winner reason, or a generic one for transcripts that
// predate the field.
func noWinner(reason string) string {
	if reason == "" {
		return "no proposal won"
	}
	return reason
}

// proposalVerdict says what the engine made of a proposal: its extracted
// answer, or why it has none.
func proposalVerdict(pr *engine.ProposalDone) string {
	switch {
	case pr.NoAnswer != "":
		return "**" + inline(pr.NoAnswer) + "**; it sat out the review and vote"
	case strings.TrimSpace(pr.Answer) == "":
		return "no answer line (it joins no answer cluster)"
	}
	return "answer: " + inline(pr.Answer)
}

// callNotes are a call's warnings: it was asked again with thinking off,
// its prompt did not fit the context; "" when none.
func callNotes(s engine.CallStats) string {
	var ns []string
	if s.ThinkRetried {
		ns = append(ns, "retried without thinking (the first try thought away its budget)")
	}
	switch {
	case s.ContextWarning != "":
		ns = append(ns, fmt.Sprintf("⚠ context (num_ctx %d): %s", s.NumCtx, inline(s.ContextWarning)))
	case s.ContextFull:
		ns = append(ns, "⚠ context full: the server cut the prompt")
	}
	return strings.Join(ns, "; ")
}
