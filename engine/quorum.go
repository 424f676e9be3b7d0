package engine

import (
	"fmt"
	"strings"
)

// A round counts only when enough of the team took part in it: at least a
// quorum of agents must propose and then review. A round without one ends
// the run (reason StopQuorum) with the last complete round's leader as its
// answer, and says which agents were missing and why (quorum_lost), so a
// team that is half down is not mistaken for a team that agreed.

// KindQuorumLost is the kind of QuorumLost.
const KindQuorumLost Kind = "quorum_lost"

// StopQuorum is run_ended's reason when a round lost its quorum.
const StopQuorum = "quorum"

// QuorumSize is how many agents of a team of n must propose and review for
// a round to count: q when set, else a majority, ⌊n/2⌋ + 1.
func QuorumSize(q, n int) int {
	if q > 0 {
		return q
	}
	return n/2 + 1
}

// QuorumProblem says why deliberation.quorum = q cannot work for a team of
// n agents ("" when it can). Peer review needs two agents whatever the
// quorum.
func QuorumProblem(q, n int) string {
	switch {
	case q < 0:
		return fmt.Sprintf("is %d: leave it out (or 0) for a majority of the agents, or give a count from 2 to the number of agents", q)
	case q == 1:
		return "is 1, but peer review needs 2 agents: set it to 2 or more, or leave it out for a majority"
	case q > n:
		return fmt.Sprintf("is %d, but only %d agents are configured: lower it to at most %d, or leave it out for a majority (%d)", q, n, n, QuorumSize(0, n))
	}
	return ""
}

// Absent is an agent missing from a round, in the phase it dropped out.
type Absent struct {
	Agent string `json:"agent"`
	Phase Phase  `json:"phase"` // propose: no proposal; review: no valid review
	Why   string `json:"why"`
	// Err is the failed call's error, when a call failed (not recorded:
	// Why says it), so a quorum lost to a dead server still reads as
	// models.ErrUnreachable.
	Err error `json:"-"`
}

// QuorumLost reports a round in which fewer than Quorum of the team's
// Agents proposed and reviewed: Present did, Absent did not. The run ends
// next, with the last complete round's leader as its answer.
type QuorumLost struct {
	Envelope
	Quorum  int      `json:"quorum"`
	Agents  int      `json:"agents"`
	Present int      `json:"present"`
	Absent  []Absent `json:"absent"`
}

// QuorumError ends a run whose round lost its quorum.
type QuorumError struct {
	Round, Quorum, Agents, Present int
	Absent                         []Absent
}

// Unwrap gives the missing agents' call errors, so errors.Is finds, say,
// models.ErrUnreachable behind a quorum lost to a dead server.
func (e *QuorumError) Unwrap() []error {
	var errs []error
	for _, a := range e.Absent {
		if a.Err != nil {
			errs = append(errs, a.Err)
		}
	}
	return errs
}

func (e *QuorumError) Error() string {
	var why []string
	for _, a := range e.Absent {
		why = append(why, fmt.Sprintf("%s (%s): %s", a.Agent, a.Phase, a.Why))
	}
	return fmt.Sprintf("round %d lost its quorum: %d of %d agents proposed and reviewed, deliberation.quorum needs %d; missing %s",
		e.Round, e.Present, e.Agents, e.Quorum, strings.Join(why, "; "))
}

// quorum checks that at least a quorum of the team is still present after
// a phase (present: the agents that took part in every phase so far). When
// it is not, it reports quorum_lost and returns the error that ends the run.
func (r *Run) quorum(round int, phase Phase, present []string, absent []Absent) error {
	n := len(r.cfg.Agents)
	q := QuorumSize(r.cfg.Settings.Quorum, n)
	if len(present) >= q {
		return nil
	}
	r.emit(&QuorumLost{Quorum: q, Agents: n, Present: len(present), Absent: absent}, KindQuorumLost, round, phase, "")
	return &QuorumError{Round: round, Quorum: q, Agents: n, Present: len(present), Absent: absent}
}
