package tui

import (
	"context"
	"errors"
	"io"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/tui/bridge"
)

// IO is where the program reads keys and draws; nil fields mean the
// terminal (stdin/stdout).
type IO struct {
	In  io.Reader
	Out io.Writer
	// Width and Height, when set, are the screen size to draw at where
	// Out is not a terminal that can say (tests, benchmarks).
	Width, Height int
}

func programOptions(tio IO) []tea.ProgramOption {
	opts := []tea.ProgramOption{
		tea.WithAltScreen(),
		tea.WithMouseCellMotion(),
		tea.WithFilter(coalesceMouse()),
		// Signals reach us through ctx (cmd/nsed's signal.NotifyContext), so
		// a SIGTERM stops the run cleanly instead of killing the program.
		tea.WithoutSignalHandler(),
	}
	if tio.In != nil {
		opts = append(opts, tea.WithInput(tio.In))
	}
	if tio.Out != nil {
		opts = append(opts, tea.WithOutput(tio.Out))
	}
	return opts
}

// coalesceMouse drops mouse motion (nothing here follows the pointer) and
// wheel events closer together than a frame, which a trackpad sends by the
// hundred and each of which would cost a render.
func coalesceMouse() func(tea.Model, tea.Msg) tea.Msg {
	var last time.Time
	return func(_ tea.Model, msg tea.Msg) tea.Msg {
		mm, ok := msg.(tea.MouseMsg)
		if !ok {
			return msg
		}
		if mm.Action == tea.MouseActionMotion {
			return nil
		}
		if mm.Button == tea.MouseButtonWheelUp || mm.Button == tea.MouseButtonWheelDown {
			now := time.Now()
			if now.Sub(last) < 16*time.Millisecond {
				return nil
			}
			last = now
		}
		return msg
	}
}

// Live runs the screen over a live run. run is the engine's Run, called in
// its own goroutine with a context that quitting cancels; b must be the
// run's sink (or part of it, through engine.Tee) and opts.Control its
// control. Live returns once both the program and the run have ended — so
// the run's transcript is complete — with the run's error (ctx.Err() when
// the user stopped it) or the program's.
func Live(ctx context.Context, run func(context.Context) error, b *bridge.Bridge, opts Options, tio IO) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var runErr error
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		runErr = run(runCtx)
		b.Close(runErr)
	}()

	opts.Bridge, opts.Cancel, opts.Context, opts.Replay = b, cancel, runCtx, false
	m := New(opts)
	m.initSize = [2]int{tio.Width, tio.Height}
	p := tea.NewProgram(m, programOptions(tio)...)
	progDone := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			p.Send(stopMsg{})
		case <-progDone:
		}
	}()
	_, err := p.Run()
	close(progDone)
	cancel()
	<-runDone
	if errors.Is(err, tea.ErrProgramKilled) {
		err = nil
	}
	return errors.Join(runErr, err)
}

// Replay runs the screen over recorded events until the user quits.
func Replay(ctx context.Context, events []engine.Event, opts Options, tio IO) error {
	opts.Replay, opts.Bridge, opts.Control, opts.Events = true, nil, nil, events
	m := New(opts)
	m.initSize = [2]int{tio.Width, tio.Height}
	p := tea.NewProgram(m, append(programOptions(tio), tea.WithContext(ctx))...)
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil
	}
	return err
}
