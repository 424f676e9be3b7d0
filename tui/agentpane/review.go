package agentpane

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/tui/internal/keyscan"
	"github.com/nsed/nsed/tui/internal/text"
	"github.com/nsed/nsed/tui/safe"
)

// review is the progress of the agent's review call. A review is one JSON
// object keyed by candidate label, written in one call that takes 15–60 s
// on a small CPU model; without this the pane would sit unchanged all that
// time. Which labels are scored comes from the streamed text; who each
// label was arrives only with review_done.
type review struct {
	scan       keyscan.Scanner
	candidates int       // proposals it was given to review; 0 if not known
	start, end time.Time // the review call's start; review_done's time
	restarts   int       // calls begun again (a failed or cut-off call is retried)
	streamed   int       // tokens of the current call
	budget     int       // review num_predict: a call that streamed this many was cut off
	authors    []string  // after review_done: "A agent-3", a label and its author, by label
}

// SetReviewBudget gives the review calls' num_predict, so the pane can tell
// a call cut off at the limit (and retried) from one still writing.
func (m *Model) SetReviewBudget(n int) { m.rv.budget = n }

// ReviewStarted starts the agent's review call at at, over candidates
// proposals (0 if not known).
func (m *Model) ReviewStarted(at time.Time, candidates int) {
	m.Changed()
	m.startCall(Reviewing, at)
	m.rv = review{candidates: candidates, start: at, budget: m.rv.budget}
}

// reviewTokens follows the review's JSON as its tokens arrive.
func (m *Model) reviewTokens(s string, n int) {
	// A call the engine retries streams on into the same events: after a
	// failure, or once the last call streamed its whole num_predict (the
	// engine retries a review whose JSON was cut off).
	if m.st == Failed || (m.rv.budget > 0 && m.rv.streamed >= m.rv.budget) {
		m.rv.scan.Reset()
		m.rv.restarts++
		m.rv.streamed = 0
	}
	m.st = Reviewing
	m.rv.streamed += n
	objects := m.rv.scan.Objects()
	m.rv.scan.Write(s)
	if objects > 0 && m.rv.scan.Objects() > objects {
		// A new object after a complete one: the engine retried a review
		// whose JSON did not validate. Its tokens start about here.
		m.rv.streamed = n
	}
}

// try is the number of the review call under way: 1, or more once retried.
func (m *Model) try() int {
	return 1 + m.rv.restarts + max(m.rv.scan.Objects()-1, 0)
}

// reviewDone records who the scored labels were.
func (m *Model) reviewDone(ev *engine.ReviewDone) {
	m.rv.end = ev.Time
	labels := make([]string, 0, len(ev.Labels))
	for l := range ev.Labels {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	m.rv.authors = m.rv.authors[:0]
	for _, l := range labels {
		m.rv.authors = append(m.rv.authors, safe.Line(l)+" "+safe.Line(ev.Labels[l]))
	}
}

// minRowsForDone is the least room for text that still spares a line for
// a finished review's summary.
const minRowsForDone = 6

// reviewRows is how many lines the call's progress takes: a call waiting
// for its first token or summarising shows its clock (a proposal streaming
// shows itself); a review its clock and labels.
func (m *Model) reviewRows() int {
	switch m.st {
	case Waiting, Summarising:
		return 1
	case Reviewing:
		return 2
	case Reviewed, Abstained:
		// Once done, the line is a footnote: not worth a line of a small
		// pane's proposal.
		if !m.rv.start.IsZero() && m.Height()-3-m.notes() >= minRowsForDone {
			return 1
		}
	}
	return 0
}

// elapsed is the call's time so far, from the clock the screen gives
// (never behind the last token seen), or a review's to its review_done.
func (m *Model) elapsed() time.Duration {
	start, end := m.callStart, time.Time{}
	if m.st == Reviewing || m.st == Reviewed || m.st == Abstained {
		start, end = m.rv.start, m.rv.end
	}
	if end.IsZero() {
		end = m.now
		if m.last.After(end) {
			end = m.last
		}
	}
	return max(end.Sub(start), 0)
}

// ticking reports whether the pane shows a clock that moves.
func (m *Model) ticking() bool {
	return (m.st == Waiting || m.st == Summarising || m.st == Reviewing) && !m.callStart.IsZero()
}

// reviewLines draws the review's progress in w cells, one string a line:
//
//	⏱ 00:14 · 87 tok · 5.2 tok/s
//	scored A, B · writing C
//
// then, once done, "reviewed in 00:46 · A agent-3, B agent-2".
func (m *Model) reviewLines(w int) []string {
	th := m.Theme()
	switch m.reviewRows() {
	case 0:
		return nil
	case 1:
		switch m.st {
		case Waiting:
			c := m.callCounters(w)
			return []string{th.Style(th.Warn).Render(text.Truncate(c+m.waitingFor(w-text.Width(c), " · "), w, "…"))}
		case Summarising:
			return []string{th.Style(th.Good).Render(text.Truncate(m.callCounters(w), w, "…"))}
		}
		return []string{th.Style(th.Muted).Render(m.reviewSummary(w))}
	}
	return []string{
		th.Style(th.Warn).Render(text.Truncate(m.callCounters(w), w, "…")),
		th.Style(th.Text).Render(m.reviewLabels(w)),
	}
}

// callCounters is "try 2 · ⏱ 00:14 · 87 tok · 5.2 tok/s", dropping the
// rate's unit, then the rate, when w is narrow.
func (m *Model) callCounters(w int) string {
	s := "⏱ " + clock(m.elapsed())
	if m.st == Reviewing && m.try() > 1 {
		s = fmt.Sprintf("try %d · ", m.try()) + s
	}
	if m.tokens == 0 {
		return s
	}
	s += fmt.Sprintf(" · %d tok", m.tokens)
	if m.tps <= 0 {
		return s
	}
	for _, r := range []string{" · " + rate(m.tps, 1) + " tok/s", " " + rate(m.tps, 0) + "/s"} {
		if text.Width(s+r) <= w {
			return s + r
		}
	}
	return s
}

// reviewLabels is which candidates the review has scored so far:
// "scored A, B · writing C · 1 to go", or a compact "✓A,B ✎C" when w is
// narrow.
func (m *Model) reviewLabels(w int) string {
	if m.tokens == 0 {
		return m.waitingFor(w, "")
	}
	sc := &m.rv.scan
	done := make([]string, len(sc.Done()))
	for i, k := range sc.Done() {
		done[i] = safe.Line(k)
	}
	cur, writing := sc.Writing()
	cur = safe.Line(cur)
	left := m.rv.candidates - len(done)
	if writing {
		left--
	}
	var long, short []string
	if len(done) > 0 {
		long = append(long, "scored "+strings.Join(done, ", "))
		short = append(short, "✓"+strings.Join(done, ","))
	}
	cut := m.rv.budget > 0 && m.rv.streamed >= m.rv.budget && !sc.Closed()
	switch {
	case cut:
		// The engine retries it; until the retry's first token this is
		// what the pane would otherwise show as still writing.
		long = append(long, fmt.Sprintf("cut off at %d tok", m.rv.budget))
		short = append(short, fmt.Sprintf("✂%d", m.rv.budget))
		left = 0
	case writing:
		long = append(long, "writing "+cur)
		short = append(short, "✎"+cur)
	case sc.Closed():
		long = append(long, "finished")
	case len(done) == 0:
		long = append(long, "starting")
	}
	if left > 0 && !sc.Closed() {
		long = append(long, fmt.Sprintf("%d to go", left))
		short = append(short, fmt.Sprintf("+%d", left))
	}
	if s := strings.Join(long, " · "); text.Width(s) <= w {
		return s
	}
	return text.Truncate(strings.Join(short, " "), w, "…")
}

// reviewSummary is a finished review in w cells: "reviewed in 00:46 · A
// agent-3, B agent-2", or as much as fits.
func (m *Model) reviewSummary(w int) string {
	t := clock(m.elapsed())
	if m.st == Abstained {
		return text.Truncate("no valid review after "+t, w, "…")
	}
	if names := m.scoredAuthors(); names != "" {
		for _, s := range []string{"reviewed in " + t + " · " + names, "took " + t + " · " + names} {
			if text.Width(s) <= w {
				return s
			}
		}
	}
	return text.Truncate("reviewed in "+t, w, "…")
}

// waitingFor says a call has no token yet, after sep, in w cells (nothing
// if it does not fit).
func (m *Model) waitingFor(w int, sep string) string {
	for _, s := range []string{"waiting for the first token", "no tokens yet", "waiting"} {
		if text.Width(sep+s) <= w {
			return sep + s
		}
	}
	return ""
}

// scoredAuthors is "A agent-3, B agent-2": who the labels were.
func (m *Model) scoredAuthors() string {
	return strings.Join(m.rv.authors, ", ")
}

// clock is mm:ss (h:mm:ss past an hour).
func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}
