// Package bridge carries a live run's events into the Bubble Tea program
// without ever blocking the engine. The engine's goroutines call Emit,
// which only appends to a queue under a mutex; the program pulls the queue
// with the command Next at most once per frame (about 25 times a second).
// Token events are coalesced — consecutive tokens of one agent's call are
// merged into one Chunk — but every other event is delivered, in order.
//
// Bubble Tea v1 runs View after every message and its Send blocks while
// Update runs, so one message per token would redraw the screen thousands
// of times a second and stall the engine; one message per frame does not.
package bridge

import (
	"strings"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/nsed/nsed/engine"
)

// DefaultInterval is the time between deliveries: 25 frames a second is
// smooth for text and leaves the CPU idle.
const DefaultInterval = 40 * time.Millisecond

// Chunk is one or more token events of the same agent, round and phase,
// merged. Its envelope is the last token's; First is the first's time.
type Chunk struct {
	engine.Envelope
	Text  string
	N     int // token events merged
	First time.Time
}

// EventsMsg is what Next delivers: everything emitted since the last
// delivery, in order. Closed is set on the last one, after the run's
// function returned; Err is what it returned.
type EventsMsg struct {
	Events []engine.Event
	Closed bool
	Err    error
}

type streamKey struct {
	agent string
	round int
	phase engine.Phase
}

type pending struct {
	ev    engine.Event // nil for a chunk
	chunk *Chunk
	text  strings.Builder
}

// Bridge is an engine.Sink for one Bubble Tea program.
type Bridge struct {
	interval time.Duration

	mu     sync.Mutex
	queue  []*pending
	open   map[streamKey]*pending // chunks still accepting tokens
	closed bool
	err    error
	last   time.Time // last delivery
	events int64     // events received, for tests and benchmarks
	msgs   int64     // deliveries made

	notify chan struct{} // something was queued (capacity 1)
	done   chan struct{} // closed by Close

	waiting func() // tests: Next is about to wait for events
}

// New returns a bridge delivering at most once per interval
// (DefaultInterval if interval <= 0).
func New(interval time.Duration) *Bridge {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Bridge{
		interval: interval,
		open:     map[streamKey]*pending{},
		notify:   make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
}

// Emit queues an event. It never blocks on the program.
func (b *Bridge) Emit(e engine.Event) {
	b.mu.Lock()
	b.events++
	if t, ok := e.(*engine.Token); ok {
		k := streamKey{t.Agent, t.Round, t.Phase}
		p := b.open[k]
		if p == nil {
			p = &pending{chunk: &Chunk{Envelope: t.Envelope, First: t.Time}}
			b.open[k] = p
			b.queue = append(b.queue, p)
		}
		p.text.WriteString(t.Text)
		p.chunk.Envelope = t.Envelope
		p.chunk.N++
	} else {
		// Later tokens must not be merged into a chunk that is now
		// before this event, or they would be shown before it.
		if len(b.open) > 0 {
			clear(b.open)
		}
		b.queue = append(b.queue, &pending{ev: e})
	}
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// Close marks the end of the run; err is what the run returned. Events
// already queued are still delivered, followed by the closing message.
func (b *Bridge) Close(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed, b.err = true, err
	close(b.done)
}

// Next returns the command that waits for events and delivers them as an
// EventsMsg, pacing deliveries at the bridge's interval. The program must
// call it again after each EventsMsg that is not Closed.
func (b *Bridge) Next() tea.Cmd {
	return func() tea.Msg {
		for {
			if b.waiting != nil {
				b.waiting()
			}
			select {
			case <-b.notify:
			case <-b.done:
			}
			b.mu.Lock()
			wait := b.interval - time.Since(b.last)
			b.mu.Unlock()
			if wait > 0 {
				// Let more tokens gather into this frame.
				select {
				case <-time.After(wait):
				case <-b.done:
				}
			}
			if msg, ok := b.drain(); ok {
				return msg
			}
		}
	}
}

func (b *Bridge) drain() (EventsMsg, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) == 0 && !b.closed {
		return EventsMsg{}, false
	}
	out := make([]engine.Event, len(b.queue))
	for i, p := range b.queue {
		if p.chunk != nil {
			p.chunk.Text = p.text.String()
			out[i] = p.chunk
		} else {
			out[i] = p.ev
		}
	}
	clear(b.queue)
	b.queue = b.queue[:0]
	clear(b.open)
	b.last = time.Now()
	b.msgs++
	return EventsMsg{Events: out, Closed: b.closed, Err: b.err}, true
}

// Stats reports how many events the bridge received and how many messages
// it delivered them in.
func (b *Bridge) Stats() (events, msgs int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.events, b.msgs
}
