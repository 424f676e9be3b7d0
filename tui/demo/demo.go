// Package demo holds nsed's recorded demo run, so a newcomer without Ollama
// can watch the TUI in one command (`nsed demo`). Three stand-in "models",
// played by the engine's scripted backend, answer a question whose
// intuitive answer is wrong, so the recording shows what deliberation is
// for: a wrong proposal caught in review, voted down, and corrected in the
// next round.
//
// The script that recorded it is in record_test.go, since the TUI itself
// never drives a backend, scripted or not.
package demo

import (
	"bytes"
	_ "embed"

	"github.com/nsed/nsed/engine"
)

// Transcript is the recorded demo run (JSONL, tokens included). Regenerate
// it with `go test ./tui/demo -run TestRecord -record`.
//
//go:embed demo.jsonl
var Transcript []byte

// Banner says on screen what the recording is.
const Banner = "a scripted demo run (three stand-in models)"

// Events decodes the recording.
func Events() ([]engine.Event, error) {
	return engine.ReadTranscript(bytes.NewReader(Transcript))
}
