package engine

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// A transcript is JSON Lines: one event per line, in sequence order, each
// carrying its envelope (v, seq, time, run, kind, round, phase, agent) and
// its own fields. The writer flushes after every event but tokens, so a
// killed process leaves every finished phase readable.

// TranscriptWriter is a Sink that writes a transcript.
type TranscriptWriter struct {
	mu     sync.Mutex
	f      *os.File // nil when writing to a plain io.Writer
	w      *bufio.Writer
	err    error
	path   string
	tokens bool
	// onError, when set, hears the first write error, once: a run must
	// not go on unrecorded.
	onError func(error)
}

// CreateTranscript creates path (and its directory) and returns a writer to
// it. With tokens false, token events are left out (the finished texts are
// in the done events either way). A transcript holds the prompts and
// answers, so it is the owner's alone: a new file is 0600 and a new
// directory 0700.
func CreateTranscript(path string, tokens bool) (*TranscriptWriter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("transcript: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("transcript: %w", err)
	}
	return &TranscriptWriter{f: f, w: bufio.NewWriterSize(f, 64<<10), path: path, tokens: tokens}, nil
}

// NewTranscriptWriter writes a transcript to w (flushing per event, too).
func NewTranscriptWriter(w io.Writer, tokens bool) *TranscriptWriter {
	return &TranscriptWriter{w: bufio.NewWriterSize(w, 64<<10), tokens: tokens}
}

// Path is the file written, or "" for a plain writer.
func (t *TranscriptWriter) Path() string { return t.path }

// OnError sets f to hear the first write error, once (a full disk
// mid-run): the caller stops the run rather than let it go on unrecorded.
// Set it before the first Emit.
func (t *TranscriptWriter) OnError(f func(error)) {
	t.mu.Lock()
	t.onError = f
	t.mu.Unlock()
}

// Err is the first error seen, or nil.
func (t *TranscriptWriter) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Emit writes one event. The first write error is kept, passed to the
// OnError func and reported by Close; later events are dropped.
func (t *TranscriptWriter) Emit(e Event) {
	kind := e.Header().Kind
	if kind == KindToken && !t.tokens {
		return
	}
	line, err := json.Marshal(e)
	t.mu.Lock()
	if t.err != nil {
		t.mu.Unlock()
		return
	}
	if err != nil {
		err = fmt.Errorf("encoding %s: %w", kind, err)
	} else {
		err = t.write(append(line, '\n'), kind != KindToken)
	}
	if err == nil {
		t.mu.Unlock()
		return
	}
	t.err = t.named(err)
	notify := t.onError
	t.mu.Unlock()
	if notify != nil {
		notify(t.err)
	}
}

// write writes one line, flushing it unless asked not to; t.mu is held.
func (t *TranscriptWriter) write(line []byte, flush bool) error {
	if _, err := t.w.Write(line); err != nil {
		return err
	}
	if flush {
		return t.w.Flush()
	}
	return nil
}

// named wraps a write error so that it names the file.
func (t *TranscriptWriter) named(err error) error {
	if t.path == "" {
		return fmt.Errorf("transcript: %w", err)
	}
	var pe *os.PathError
	if errors.As(err, &pe) { // it names the file already
		return fmt.Errorf("transcript: %w", err)
	}
	return fmt.Errorf("transcript %s: %w", t.path, err)
}

// Close flushes and closes the file, returning the first error seen.
func (t *TranscriptWriter) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.w.Flush(); err != nil && t.err == nil {
		t.err = fmt.Errorf("transcript: %w", err)
	}
	if t.f != nil {
		if err := t.f.Sync(); err != nil && t.err == nil {
			t.err = fmt.Errorf("transcript: %w", err)
		}
		if err := t.f.Close(); err != nil && t.err == nil {
			t.err = fmt.Errorf("transcript: %w", err)
		}
		t.f = nil
	}
	return t.err
}

// NewEvent returns an empty event of the given kind, or nil if unknown.
func NewEvent(k Kind) Event {
	switch k {
	case KindRunStarted:
		return &RunStarted{}
	case KindPhaseStarted:
		return &PhaseStarted{}
	case KindToken:
		return &Token{}
	case KindProposalDone:
		return &ProposalDone{}
	case KindReviewDone:
		return &ReviewDone{}
	case KindVotesCast:
		return &VotesCast{}
	case KindConsensusUpdated:
		return &ConsensusUpdated{}
	case KindRoundEnded:
		return &RoundEnded{}
	case KindAgentFailed:
		return &AgentFailed{}
	case KindRebound:
		return &Rebound{}
	case KindBroker:
		return &BrokerReport{}
	case KindHumanMessage:
		return &HumanMessage{}
	case KindPaused:
		return &Paused{}
	case KindResumed:
		return &Resumed{}
	case KindRunEnded:
		return &RunEnded{}
	case KindRunResumed:
		return &RunResumed{}
	case KindQuorumLost:
		return &QuorumLost{}
	case KindInjectionSuspected:
		return &InjectionSuspected{}
	}
	return nil
}

// DecodeEvent turns one transcript line back into its event value.
func DecodeEvent(line []byte) (Event, error) {
	var env Envelope
	if err := json.Unmarshal(line, &env); err != nil {
		return nil, err
	}
	if env.V != SchemaVersion {
		return nil, fmt.Errorf("transcript schema version %d, this nsed reads version %d", env.V, SchemaVersion)
	}
	ev := NewEvent(env.Kind)
	if ev == nil {
		return nil, fmt.Errorf("unknown event kind %q", env.Kind)
	}
	if err := json.Unmarshal(line, ev); err != nil {
		return nil, err
	}
	return upgrade(ev), nil
}

// legacyBrokerPrefix marks a broker error in transcripts written before
// broker events had their own kind: an agent_failed with no agent.
const legacyBrokerPrefix = "broker: "

// upgrade turns an event of an older transcript into what this nsed emits,
// so consumers read one form.
func upgrade(ev Event) Event {
	f, ok := ev.(*AgentFailed)
	if !ok || f.Agent != "" || !strings.HasPrefix(f.Error, legacyBrokerPrefix) {
		return ev
	}
	b := &BrokerReport{Envelope: f.Envelope, What: BrokerError, Message: strings.TrimPrefix(f.Error, legacyBrokerPrefix)}
	b.Kind = KindBroker
	return b
}

// ErrTruncated is returned with the events read so far when a transcript's
// last line is incomplete (the writer was killed mid-line).
var ErrTruncated = errors.New("transcript ends in an incomplete line")

// ReadTranscript reads every event of a transcript. A malformed line is an
// error naming its line number; an incomplete last line returns the events
// before it and ErrTruncated. A cut line with more after it is not a cut-off
// end but damage, and an error like any other malformed line.
func ReadTranscript(r io.Reader) ([]Event, error) {
	var out []Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxTranscriptLine)
	n := 0
	// The first bad line: only the last line may be cut short, so whether
	// it was is known only at the next line or the end.
	var bad error
	badLine, cut := 0, false
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		if bad != nil {
			return out, fmt.Errorf("transcript line %d: %w", badLine, bad)
		}
		ev, err := DecodeEvent(line)
		if err != nil {
			bad, badLine, cut = err, n, !json.Valid(line)
			continue
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil && bad == nil {
		return out, fmt.Errorf("transcript line %d: %w", n+1, err)
	}
	if cut && sc.Err() == nil {
		return out, fmt.Errorf("transcript line %d: %w", badLine, errors.Join(ErrTruncated, bad))
	}
	if bad != nil {
		return out, fmt.Errorf("transcript line %d: %w", badLine, bad)
	}
	return out, nil
}

// maxTranscriptLine bounds one event's line: far above any real event (a
// proposal of a whole context window is under 1 MiB), so a longer one is
// damage, not data.
const maxTranscriptLine = 64 << 20

// ReadTranscriptFile reads a transcript from a file.
func ReadTranscriptFile(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	evs, err := ReadTranscript(f)
	if err != nil {
		return evs, fmt.Errorf("%s: %w", path, err)
	}
	return evs, nil
}
