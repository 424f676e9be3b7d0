package bridge

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsed/nsed/engine"
)

func tok(seq int64, agent string, round int, phase engine.Phase, text string) *engine.Token {
	ev := &engine.Token{Text: text}
	ev.Seq, ev.Agent, ev.Round, ev.Phase, ev.Kind = seq, agent, round, phase, engine.KindToken
	ev.Time = time.Unix(seq, 0)
	return ev
}

func other(seq int64, k engine.Kind, agent string) engine.Event {
	ev := &engine.ProposalDone{}
	ev.Seq, ev.Kind, ev.Agent = seq, k, agent
	return ev
}

func next(t *testing.T, b *Bridge) EventsMsg {
	t.Helper()
	msg, ok := b.Next()().(EventsMsg)
	if !ok {
		t.Fatal("Next did not deliver an EventsMsg")
	}
	return msg
}

func TestCoalescesTokensKeepsOrder(t *testing.T) {
	b := New(time.Millisecond)
	b.Emit(tok(1, "a1", 1, engine.PhasePropose, "Hel"))
	b.Emit(tok(2, "a2", 1, engine.PhasePropose, "Oth"))
	b.Emit(tok(3, "a1", 1, engine.PhasePropose, "lo"))
	b.Emit(other(4, engine.KindProposalDone, "a1"))
	b.Emit(tok(5, "a2", 1, engine.PhasePropose, "er"))
	msg := next(t, b)
	var got []string
	for _, e := range msg.Events {
		switch e := e.(type) {
		case *Chunk:
			got = append(got, fmt.Sprintf("%s:%q×%d", e.Agent, e.Text, e.N))
		default:
			got = append(got, string(e.Header().Kind))
		}
	}
	// a2's token after the proposal_done may not join a chunk before it.
	want := []string{`a1:"Hello"×2`, `a2:"Oth"×1`, "proposal_done", `a2:"er"×1`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("delivered %v, want %v", got, want)
	}
	c := msg.Events[0].(*Chunk)
	if c.Seq != 3 || !c.First.Equal(time.Unix(1, 0)) || !c.Time.Equal(time.Unix(3, 0)) {
		t.Errorf("chunk envelope: seq %d first %v last %v", c.Seq, c.First, c.Time)
	}
}

func TestEmitNeverBlocksAndNothingIsLost(t *testing.T) {
	// No one reads for a while: Emit must return at once every time, and
	// every non-token event and every token byte must arrive afterwards.
	b := New(time.Millisecond)
	const n = 100000
	start := time.Now()
	var wg sync.WaitGroup
	for a := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n / 8 {
				if i%1000 == 999 {
					b.Emit(other(int64(i), engine.KindReviewDone, fmt.Sprint("a", a)))
					continue
				}
				b.Emit(tok(int64(i), fmt.Sprint("a", a), 1, engine.PhasePropose, "x"))
			}
		}()
	}
	wg.Wait()
	if d := time.Since(start); d > 10*time.Second { // generous: -race is slow
		t.Errorf("emitting %d events took %v", n, d)
	}
	b.Close(errors.New("done"))
	var tokens, others, msgs int
	for {
		msg := next(t, b)
		msgs++
		for _, e := range msg.Events {
			if c, ok := e.(*Chunk); ok {
				tokens += len(c.Text)
				if len(c.Text) != c.N {
					t.Fatalf("chunk of %d tokens has %d bytes", c.N, len(c.Text))
				}
			} else {
				others++
			}
		}
		if msg.Closed {
			if msg.Err == nil || msg.Err.Error() != "done" {
				t.Errorf("closing error = %v", msg.Err)
			}
			break
		}
	}
	wantOthers := 8 * (n / 8 / 1000)
	if others != wantOthers {
		t.Errorf("%d non-token events arrived, want %d", others, wantOthers)
	}
	if tokens != n-wantOthers {
		t.Errorf("%d token bytes arrived, want %d", tokens, n-wantOthers)
	}
	if got, _ := b.Stats(); got != n {
		t.Errorf("Stats counted %d events", got)
	}
}

func TestPacesDeliveries(t *testing.T) {
	b := New(50 * time.Millisecond)
	b.Emit(tok(1, "a1", 1, engine.PhasePropose, "x"))
	next(t, b)
	b.Emit(tok(2, "a1", 1, engine.PhasePropose, "y"))
	start := time.Now()
	next(t, b)
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("second delivery after %v, want about one interval", d)
	}
}

func TestCloseWakesAWaitingNext(t *testing.T) {
	b := New(time.Millisecond)
	waiting := make(chan struct{}, 1)
	b.waiting = func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	got := make(chan EventsMsg, 1)
	go func() { got <- b.Next()().(EventsMsg) }()
	<-waiting // Next is at its select, or about to be
	b.Close(nil)
	select {
	case msg := <-got:
		if !msg.Closed || len(msg.Events) != 0 {
			t.Errorf("got %+v", msg)
		}
	case <-time.After(time.Second):
		t.Fatal("Next still waiting after Close")
	}
}
