package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/nsed/nsed/broker"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
)

// Deliberation is one run of a session in the making: its transcript is
// open, and the sinks that learn from it are in place. Whoever shows the
// run (headless printer, JSON lines, the TUI) adds its own sink in NewRun.
type Deliberation struct {
	ID       string // the run id
	Path     string // the transcript file
	Question string

	s     *Session
	tw    *engine.TranscriptWriter
	rec   *broker.Recorder
	meter *models.Meter
	// resume is the interrupted run this one goes on with (Session.Resume).
	resume *engine.ResumeState
}

// Deliberate opens a run's transcript (--transcript, else a file named by
// the run id in nsed.toml's transcript directory). Call Finish whatever
// happens next.
func (s *Session) Deliberate(question string, now time.Time) (*Deliberation, error) {
	d := &Deliberation{ID: engine.NewRunID(now), Question: question, s: s, rec: &broker.Recorder{}, meter: &models.Meter{}}
	d.Path = filepath.Join(s.Config.TranscriptDir(), d.ID+".jsonl")
	if s.flags.given("transcript") && s.flags.Transcript != "" {
		d.Path = s.flags.Transcript
	}
	tw, err := engine.CreateTranscript(d.Path, s.Config.Transcript.Tokens)
	if err != nil {
		// Refused before any model is asked anything: a run is never
		// unrecorded.
		if cause := errors.Unwrap(err); cause != nil {
			err = cause // the engine's "transcript:" prefix, said better here
		}
		return nil, Usagef("cannot write the run's transcript to %s: %v; choose a writable place with --transcript FILE, "+
			"or set dir under [transcript] in nsed.toml (now %s)", d.Path, err, s.Config.TranscriptDir())
	}
	d.tw = tw
	return d, nil
}

// Watch returns ctx, cancelled as soon as the transcript cannot be written
// (a full disk mid-run): the run stops rather than go on unrecorded, and
// Finish says why. Call stop when the run is over.
func (d *Deliberation) Watch(ctx context.Context) (_ context.Context, stop context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	d.tw.OnError(func(err error) { cancel(writeFailed(d.Path, err)) })
	return ctx, func() { cancel(context.Canceled) }
}

// writeFailed is why a run stopped for its transcript, as the screen says
// it: "transcript write failed: PATH: no space left on device".
func writeFailed(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		path, err = pe.Path, pe.Err
	} else if cause := errors.Unwrap(err); cause != nil {
		err = cause // without the writer's own "transcript" prefix
	}
	return fmt.Errorf("transcript write failed: %s: %w", path, err)
}

// NewRun creates the run, its events going to the transcript, the quality
// store's recorder and sink; with --broker the broker re-binds between
// rounds.
func (d *Deliberation) NewRun(sink engine.Sink) (*engine.Run, error) {
	s := d.s
	cfg := engine.Config{
		Question: d.Question, Agents: s.Agents, Settings: s.Settings,
		Backend: s.Backend, Sink: engine.Tee(d.tw, d.rec, sink), RunID: d.ID, Meter: d.meter, Provenance: s.Provenance,
		Resume: d.resume,
	}
	if s.flags.Broker {
		cfg.Rebalance = s.rebalancer(d.meter)
	}
	return engine.New(cfg)
}

// Models lists the reachable models, for the TUI's rebind picker.
func (d *Deliberation) Models(ctx context.Context) ([]models.ModelInfo, error) {
	infos, _, err := d.s.listModels(ctx, d.meter)
	return infos, err
}

// Finish closes the transcript and teaches the quality store what the run
// showed. A transcript that could not be written is the error (Watch
// stopped the run for it); else it returns runErr, else the error closing
// the transcript.
func (d *Deliberation) Finish(ctx context.Context, runErr error) error {
	writeErr := d.tw.Err()
	closeErr := d.tw.Close()
	d.s.learn(ctx, d.rec, d.meter)
	if writeErr != nil {
		return fmt.Errorf("%w: the run was stopped there rather than go on unrecorded; free space, "+
			"or choose another place with --transcript FILE or dir under [transcript] in nsed.toml", writeErr)
	}
	if runErr == nil {
		runErr = closeErr
	}
	return runErr
}

// TranscriptErr is the first error writing the transcript, or nil.
func (d *Deliberation) TranscriptErr() error { return d.tw.Err() }
