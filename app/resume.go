package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/nsed/nsed/broker"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

// AlreadyCompleted is Resume's answer for a run that ended normally: there
// is nothing to go on with (not a failure).
type AlreadyCompleted struct {
	RunID, Path    string
	Rounds         int
	Reason, Answer string
}

func (e *AlreadyCompleted) Error() string {
	return fmt.Sprintf("run %s already completed after %d round(s) (%s); nothing to resume — `nsed replay %s` shows it",
		e.RunID, e.Rounds, e.Reason, e.RunID)
}

// Resume prepares an interrupted run (killed, cancelled, failed, its
// server gone) to go on from its last complete round: it reads the
// transcript at path, takes the run's question, settings and bindings
// from it (nsed.toml and the flags choose only the servers), checks that
// the servers answer and have the models, and reopens the transcript to
// append to it. Watch, NewRun and Finish then work as for a new run.
func (s *Session) Resume(ctx context.Context, path string) (*Deliberation, error) {
	evs, err := engine.ReadTranscriptFile(path)
	if err != nil && !errors.Is(err, engine.ErrTruncated) {
		// Damage before the end is not a killed writer's cut line: what
		// follows it cannot be trusted to continue from.
		return nil, fmt.Errorf("cannot resume: %w", err)
	}
	rs, err := engine.ResumeFrom(evs)
	if err != nil {
		return nil, Usagef("cannot resume %s: %v", path, err)
	}
	if rs.Completed() {
		return nil, &AlreadyCompleted{RunID: rs.RunID, Path: path, Rounds: rs.Ended.Rounds, Reason: rs.Ended.Reason, Answer: rs.Ended.Answer}
	}
	s.Agents, s.Settings = rs.Agents, rs.Settings
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	tw, err := engine.AppendTranscript(path, s.Config.Transcript.Tokens)
	if err != nil {
		return nil, fmt.Errorf("cannot resume: %w; the run's transcript must be writable to go on recording it", err)
	}
	return &Deliberation{ID: rs.RunID, Path: path, Question: rs.Question, s: s, tw: tw,
		rec: &broker.Recorder{}, meter: &models.Meter{}, resume: rs}, nil
}

// Resumed is the interrupted run a deliberation goes on with (nil for a
// new run): how it ended, after which round, and its earlier rounds'
// events for a screen to show first.
func (d *Deliberation) Resumed() *engine.ResumeState { return d.resume }
