package engine

import "context"

// Control is how a user steers a live run. Every call takes effect at the
// next phase boundary and is recorded as an event when it does.
type Control interface {
	// Pause holds the run before the next phase starts; Resume lets it go on.
	Pause()
	Resume()
	// Step lets exactly one more phase run while paused.
	Step()
	// Rebind binds agent to another model (host "" keeps the agent's host).
	// It checks the model is available first; on error the old binding stays.
	Rebind(ctx context.Context, agent, model, host string) error
	// Inject adds a human message to the next round's context.
	Inject(text string)
}
