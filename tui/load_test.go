package tui

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nsed/nsed/engine"
	"github.com/nsed/nsed/models"
	"github.com/nsed/nsed/tui/bridge"
)

// The load the TUI must take: 8 agents streaming 10,000 tokens a second in
// total, from the scripted backend through the real engine.
const (
	loadAgents = 8
	loadRate   = 10000 // tokens/s, all agents together
)

// loadReply writes proposals long enough that every agent streams for the
// whole propose phase; reviews are the scripted backend's schema samples.
func loadReply(req models.Request) (string, error) {
	if len(req.Format) > 0 {
		return models.DefaultReply(req)
	}
	return strings.Repeat("We check each step of the argument again, carefully, before we move on. ", 60) + "\nFINAL ANSWER: 42", nil
}

// loadBackend streams replies at an exact average rate. The scripted
// backend's Delay sleeps per token, and Go timers can't sleep much less than
// a millisecond, which would cap the load at 1,000 tokens/s an agent; this
// sleeps only when it is ahead of its schedule. It keeps nothing between
// calls (models.Scripted records every request, which would make the
// baseline's memory grow). Replies are the scripted backend's.
type loadBackend struct{ perToken time.Duration }

func (p loadBackend) Chat(ctx context.Context, req models.Request, onToken models.TokenFunc) (models.Response, error) {
	text, err := loadReply(req)
	if err != nil {
		return models.Response{}, err
	}
	start, n := time.Now(), 0
	for i := 0; i < len(text); i += 4 {
		if err := ctx.Err(); err != nil {
			return models.Response{}, err
		}
		n++
		if ahead := time.Until(start.Add(time.Duration(n) * p.perToken)); ahead > time.Millisecond {
			// Pacing the load, not waiting on the screen: a timer that
			// a cancelled run does not sit out.
			t := time.NewTimer(ahead)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return models.Response{}, ctx.Err()
			}
		}
		if onToken != nil {
			onToken(text[i:min(i+4, len(text))])
		}
	}
	wall := time.Since(start)
	return models.Response{Content: text, OutputTokens: n, Eval: wall, Wall: wall, DoneReason: "stop"}, nil
}

func loadRun(sink engine.Sink) (*engine.Run, error) {
	var agents []engine.AgentInfo
	for i := 1; i <= loadAgents; i++ {
		agents = append(agents, engine.AgentInfo{ID: fmt.Sprintf("a%d", i), Role: "solver", Model: fmt.Sprintf("model-%d:1b", i)})
	}
	s := engine.DefaultSettings()
	s.MinRounds, s.MaxRounds = 100, 100
	// Agents finish their calls at different times and the vote has no
	// tokens, so each streams 30% faster than its share to average the rate.
	per := time.Second * loadAgents / loadRate * 10 / 13
	return engine.New(engine.Config{
		Question: "How many primes are below 100?",
		Agents:   agents,
		Settings: s,
		Backend:  loadBackend{per},
		Sink:     sink,
		RunID:    "load",
	})
}

type loadResult struct {
	wall, cpu         time.Duration
	tokens            int64
	heapStart, heapHi uint64
	heapEnd           uint64
	msgs              int64
}

func (r loadResult) share() float64 { return r.cpu.Seconds() / r.wall.Seconds() }
func (r loadResult) rate() float64  { return float64(r.tokens) / r.wall.Seconds() }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heap() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// measureLoad runs the load for d after a warm-up, with the TUI drawing a
// 200×60 screen (into io.Discard: the terminal's own work is not ours) or,
// as a baseline, with no consumer but a counter.
func measureLoad(tb testing.TB, d time.Duration, withTUI bool) loadResult {
	tb.Helper()
	var tokens atomic.Int64
	count := engine.SinkFunc(func(e engine.Event) {
		if e.Header().Kind == engine.KindToken {
			tokens.Add(1)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var b *bridge.Bridge
	if withTUI {
		b = bridge.New(0)
		r, err := loadRun(engine.Tee(count, b))
		if err != nil {
			tb.Fatal(err)
		}
		in, w := io.Pipe()
		defer w.Close()
		go func() {
			done <- Live(ctx, func(ctx context.Context) error { _, err := r.Run(ctx); return err }, b,
				Options{Control: r}, IO{In: in, Out: io.Discard, Width: 200, Height: 60})
		}()
	} else {
		r, err := loadRun(count)
		if err != nil {
			tb.Fatal(err)
		}
		go func() { _, err := r.Run(ctx); done <- err }()
	}
	// Warm up (first allocations, first frames): a second's worth of
	// tokens, and with the TUI its first 25 frames.
	waitUntil(tb, 30*time.Second, "the load to warm up", func() bool {
		if b != nil {
			if _, msgs := b.Stats(); msgs < 25 {
				return false
			}
		}
		return tokens.Load() >= loadRate
	})
	runtime.GC()
	res := loadResult{heapStart: heap()}
	t0, c0, n0 := time.Now(), cpuTime(), tokens.Load()
	var m0 int64
	if b != nil {
		_, m0 = b.Stats()
	}
	tick := time.NewTicker(250 * time.Millisecond)
	for end, i := t0.Add(d), 1; time.Now().Before(end); i++ {
		<-tick.C
		h := heap()
		res.heapHi = max(res.heapHi, h)
		if i%20 == 0 && testing.Verbose() {
			tb.Logf("tui=%v after %2ds: heap in use %.1f MiB", withTUI, i/4, mib(h))
		}
	}
	tick.Stop()
	res.wall, res.cpu, res.tokens = time.Since(t0), cpuTime()-c0, tokens.Load()-n0
	if b != nil {
		_, m1 := b.Stats()
		res.msgs = m1 - m0
	}
	runtime.GC()
	res.heapEnd = heap()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		tb.Fatal("the run did not stop within 10s of being cancelled")
	}
	return res
}

// waitUntil polls cond until it holds, failing tb after d.
func waitUntil(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(d)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			tb.Fatalf("waited %v for %s", d, what)
		}
	}
}

func reportLoad(tb testing.TB, base, tui loadResult) {
	tb.Logf("baseline (engine + scripted backend, no TUI): %.0f tok/s, CPU %.1f%% of one core, heap %.1f → %.1f MiB", base.rate(), 100*base.share(), mib(base.heapStart), mib(base.heapEnd))
	tb.Logf("with TUI (200x60): %.0f tok/s, CPU %.1f%% of one core, %d frames (%.1f/s)", tui.rate(), 100*tui.share(), tui.msgs, float64(tui.msgs)/tui.wall.Seconds())
	tb.Logf("TUI's own share: %.1f%% of one core", 100*(tui.share()-base.share()))
	tb.Logf("heap in use: %.1f MiB after warm-up, %.1f MiB peak, %.1f MiB at the end", mib(tui.heapStart), mib(tui.heapHi), mib(tui.heapEnd))
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// TestStreamingLoad checks the quality bar: under 8 agents × 10k tok/s the
// TUI stays under a quarter of one core and its memory stays flat. It takes
// about 20 seconds, so it runs only when NSED_LOAD_TEST=1.
func TestStreamingLoad(t *testing.T) {
	if os.Getenv("NSED_LOAD_TEST") == "" {
		t.Skip("set NSED_LOAD_TEST=1 to measure the TUI under 8 agents × 10k tok/s (about 20 s)")
	}
	d := 8 * time.Second
	if s := os.Getenv("NSED_LOAD_SECONDS"); s != "" {
		if n, err := time.ParseDuration(s + "s"); err == nil {
			d = n
		}
	}
	base := measureLoad(t, d, false)
	tui := measureLoad(t, d, true)
	reportLoad(t, base, tui)
	if tui.rate() < 0.8*loadRate {
		t.Errorf("the scripted load reached only %.0f tok/s", tui.rate())
	}
	if own := tui.share() - base.share(); own > 0.25 {
		t.Errorf("the TUI used %.1f%% of a core, over the 25%% budget", 100*own)
	}
	if grow := float64(tui.heapEnd) - float64(tui.heapStart); grow > 16<<20 {
		t.Errorf("heap grew by %.1f MiB during the load", grow/(1<<20))
	}
}

// BenchmarkStreamingLoad reports the same numbers as metrics.
func BenchmarkStreamingLoad(b *testing.B) {
	for b.Loop() { // the measurement is one long run, not b.N short ones
	}
	d := 5 * time.Second
	base := measureLoad(b, d, false)
	tui := measureLoad(b, d, true)
	reportLoad(b, base, tui)
	b.ReportMetric(tui.rate(), "tok/s")
	b.ReportMetric(100*(tui.share()-base.share()), "%core-tui")
	b.ReportMetric(100*tui.share(), "%core-total")
	b.ReportMetric(mib(tui.heapHi), "MiB-heap-peak")
}
