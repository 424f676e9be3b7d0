package engine

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nsed/nsed/models"
)

// roundOf reads the round from a request's user turn ("Round 2. Phase: …").
func roundOf(req models.Request) int {
	for _, m := range req.Messages {
		if mm := roundLine.FindStringSubmatch(m.Content); mm != nil {
			n, _ := strconv.Atoi(mm[1])
			return n
		}
	}
	return 0
}

var roundLine = regexp.MustCompile(`^Round (\d+)\. Phase`)

var errCrashed = errors.New("HTTP 500: the runner crashed")

// failing is a scripted team in which the given models fail the given
// phase from round from on: proposals with a server error, reviews with
// JSON that never validates.
func failing(from int, phase Phase, models_ ...string) *models.Scripted {
	return &models.Scripted{Reply: func(req models.Request) (string, error) {
		bad := roundOf(req) >= from && strings.Contains(strings.Join(models_, " "), req.Model)
		review := len(req.Format) > 0 && strings.Contains(req.Messages[len(req.Messages)-1].Content, "Phase: REVIEW")
		switch {
		case bad && phase == PhasePropose && len(req.Format) == 0:
			return "", errCrashed
		case bad && phase == PhaseReview && review:
			return `{"A":{"weight":50`, nil
		}
		return models.DefaultReply(req)
	}}
}

func TestQuorumSize(t *testing.T) {
	for _, c := range []struct{ q, n, want int }{{0, 2, 2}, {0, 3, 2}, {0, 4, 3}, {0, 5, 3}, {0, 8, 5}, {2, 4, 2}, {4, 4, 4}} {
		if got := QuorumSize(c.q, c.n); got != c.want {
			t.Errorf("QuorumSize(%d, %d) = %d, want %d", c.q, c.n, got, c.want)
		}
	}
	for _, c := range []struct {
		q, n int
		bad  bool
	}{{0, 3, false}, {2, 3, false}, {3, 3, false}, {4, 3, true}, {1, 3, true}, {-1, 3, true}} {
		if why := QuorumProblem(c.q, c.n); (why != "") != c.bad {
			t.Errorf("QuorumProblem(%d, %d) = %q", c.q, c.n, why)
		}
	}
}

// Two of three reviewers fail in round 2: the round has no quorum, so the
// run stops there with round 1's leader as its answer, and the events say
// who was missing and why.
func TestQuorumLostInReviewKeepsLastCompleteLeader(t *testing.T) {
	s := testSettings()
	s.MinRounds, s.MaxRounds = 3, 3
	be := failing(2, PhaseReview, "qwen2.5:7b", "gemma3:4b")
	rec, res, err := runScripted(t, Config{Question: "q?", Agents: testAgents(), Settings: s, Backend: be})
	var qe *QuorumError
	if !errors.As(err, &qe) || qe.Round != 2 || qe.Present != 1 || qe.Quorum != 2 {
		t.Fatalf("err = %v, want round 2's quorum error (1 of 3 present, quorum 2)", err)
	}
	e := res.Ended
	if e.Status != StatusFailed || e.Reason != StopQuorum || e.Rounds != 1 {
		t.Fatalf("ended %s/%s after %d rounds, want failed/quorum after 1", e.Status, e.Reason, e.Rounds)
	}
	var r1 *VotesCast
	var lost *QuorumLost
	for _, ev := range rec.events() {
		switch ev := ev.(type) {
		case *VotesCast:
			if ev.Round == 1 {
				r1 = ev
			} else {
				t.Errorf("round %d was voted on without a quorum", ev.Round)
			}
		case *RoundEnded:
			if ev.Round != 1 {
				t.Errorf("round %d ended as if complete", ev.Round)
			}
		case *QuorumLost:
			lost = ev
		}
	}
	if r1 == nil || e.Winner != r1.Winner || e.AnswerRound != 1 {
		t.Fatalf("answer from %s (round %d), want round 1's leader", e.Winner, e.AnswerRound)
	}
	if lost == nil || lost.Round != 2 || lost.Phase != PhaseReview || lost.Quorum != 2 || lost.Present != 1 || lost.Agents != 3 {
		t.Fatalf("quorum_lost = %+v", lost)
	}
	missing := map[string]string{}
	for _, a := range lost.Absent {
		missing[a.Agent] = a.Why
	}
	for _, id := range []string{"agent-2", "agent-3"} {
		if !strings.HasPrefix(missing[id], "abstained: ") || len(lost.Absent) != 2 {
			t.Errorf("absent %v: want agent-2 and agent-3, abstained with the reason", lost.Absent)
		}
	}
	if !strings.Contains(e.Error, "agent-3 (review): abstained") || !strings.Contains(e.Error, "deliberation.quorum needs 2") {
		t.Errorf("run_ended error %q does not name the missing agents and the key", e.Error)
	}
	checkInvariants(t, rec.events(), 3, s)
}

// Of four agents two fail to propose: the default quorum (a majority, 3)
// stops the run in round 1 with no answer; a quorum of 2 lets it go on.
func TestQuorumDefaultIsAMajority(t *testing.T) {
	agents := append(testAgents(), AgentInfo{ID: "agent-4", Role: "solver", Model: "phi4:14b"})
	s := testSettings()
	s.MinRounds, s.MaxRounds = 1, 1
	rec, res, err := runScripted(t, Config{Question: "q?", Agents: agents, Settings: s, Backend: failing(1, PhasePropose, "gemma3:4b", "phi4:14b")})
	if _, ok := errors.AsType[*QuorumError](err); !ok || res.Ended.Reason != StopQuorum || res.Ended.Winner != "" || res.Ended.Rounds != 0 {
		t.Fatalf("err %v, ended %+v: want a quorum stop with no answer", err, res.Ended)
	}
	if !errors.Is(err, errCrashed) {
		t.Errorf("the quorum error hides the calls' errors: %v", err)
	}
	var lost *QuorumLost
	for _, ev := range rec.events() {
		if q, ok := ev.(*QuorumLost); ok {
			lost = q
		}
	}
	if lost == nil || lost.Phase != PhasePropose || lost.Quorum != 3 || lost.Present != 2 || len(lost.Absent) != 2 ||
		!strings.Contains(lost.Absent[0].Why, "HTTP 500") {
		t.Fatalf("quorum_lost = %+v", lost)
	}

	s.Quorum = 2
	_, res, err = runScripted(t, Config{Question: "q?", Agents: agents, Settings: s, Backend: failing(1, PhasePropose, "gemma3:4b", "phi4:14b")})
	if err != nil || res.Ended.Status != StatusCompleted {
		t.Fatalf("quorum 2 of 4: err %v, ended %+v", err, res.Ended)
	}
}

func TestQuorumLargerThanTheTeamIsRefused(t *testing.T) {
	s := testSettings()
	s.Quorum = 4
	_, err := New(Config{Question: "q?", Agents: testAgents(), Settings: s, Backend: &models.Scripted{}})
	if err == nil || !strings.Contains(err.Error(), "quorum") || !strings.Contains(err.Error(), "at most 3") {
		t.Fatalf("err = %v", err)
	}
	s.Quorum = 1
	if err := s.Validate(); err == nil || !strings.HasPrefix(err.Error(), "quorum: ") {
		t.Fatalf("quorum 1: %v", err)
	}
}
