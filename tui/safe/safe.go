// Package safe makes untrusted text, such as model output, harmless to show
// in a terminal. It removes every escape sequence (CSI, OSC, DCS, SOS, PM,
// APC, and two- or three-byte ESC sequences), bare ESC, C0 controls other
// than newline and tab, DEL, C1 controls in either encoding, and the Unicode
// bidirectional overrides that can make text display differently from how it
// reads. Invalid UTF-8 becomes U+FFFD.
//
// Model output arrives in pieces, and a sequence can be split across them, so
// the work is done by a Stream that keeps its state between writes; String
// and Line are the one-shot forms.
package safe

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// TabWidth is how many spaces a tab becomes: a tab's width depends on the
// column it lands in, which a pane inside a border can't know.
const TabWidth = 4

// maxString bounds an OSC/DCS/… string that never terminates, so a stray
// "ESC ]" can't swallow the rest of a proposal.
const maxString = 4096

type state uint8

const (
	ground   state = iota
	esc            // after ESC
	escInter       // ESC followed by intermediate bytes (ESC ( B)
	csi            // control sequence: parameters until a final byte
	str            // OSC, DCS, SOS, PM, APC body until BEL or ST
	strEsc         // ESC inside a string: ST if the next byte is '\'
)

// Stream sanitizes text that arrives in pieces. The zero value is ready.
type Stream struct {
	st      state
	strLen  int
	partial []byte // an incomplete UTF-8 sequence at the end of the last write
	// started and last tell whether we are at the start of a line: a
	// combining mark there has no base and would merge with whatever the
	// screen has to its left (a pane border), so it is dropped.
	started bool
	last    rune
}

// Write returns the safe part of p. Bytes that may begin a sequence or a
// character completed by the next write are held back until then.
func (s *Stream) Write(p string) string {
	if len(s.partial) > 0 {
		p = string(s.partial) + p
		s.partial = s.partial[:0]
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError && n <= 1 {
			if !utf8.FullRuneInString(p[i:]) {
				// A character cut in two: wait for the rest.
				s.partial = append(s.partial, p[i:]...)
				break
			}
			r = utf8.RuneError
		}
		i += n
		s.feed(&b, r)
	}
	return b.String()
}

// Flush ends the stream: a held-back incomplete character becomes U+FFFD and
// an unterminated sequence is dropped.
func (s *Stream) Flush() string {
	var out string
	if len(s.partial) > 0 {
		out = s.emit(nil, utf8.RuneError)
		s.partial = s.partial[:0]
	}
	s.st = ground
	return out
}

// Reset forgets all state, as for a new stream.
func (s *Stream) Reset() { *s = Stream{partial: s.partial[:0]} }

func (s *Stream) feed(b *strings.Builder, r rune) {
	switch s.st {
	case ground:
		s.ground(b, r)
	case esc:
		switch {
		case r == '[':
			s.st = csi
		case r == ']' || r == 'P' || r == 'X' || r == '^' || r == '_':
			s.st, s.strLen = str, 0
		case r == 0x1b:
			// ESC ESC: the first is cancelled, the second starts again.
		case r >= 0x20 && r <= 0x2f:
			s.st = escInter
		case r >= 0x30 && r <= 0x7e:
			s.st = ground // a complete two-byte sequence such as ESC c
		default:
			s.st = ground
			s.ground(b, r)
		}
	case escInter:
		switch {
		case r >= 0x20 && r <= 0x2f:
		case r >= 0x30 && r <= 0x7e:
			s.st = ground
		default:
			s.st = ground
			s.ground(b, r)
		}
	case csi:
		switch {
		case r >= 0x40 && r <= 0x7e:
			s.st = ground // final byte
		case r >= 0x20 && r <= 0x3f:
			// parameter and intermediate bytes
		case r == 0x1b:
			s.st = esc
		case r < 0x20 || r == 0x7f:
			// Terminals execute C0 controls inside a sequence; we drop them.
		default:
			// Not part of any sequence: the sequence was malformed.
			s.st = ground
			s.ground(b, r)
		}
	case str:
		switch {
		case r == 0x07 || r == 0x9c:
			s.st = ground
		case r == 0x1b:
			s.st = strEsc
		case r == '\n':
			// No legitimate string spans lines; treat it as broken and
			// keep the text that follows.
			s.st = ground
			s.ground(b, r)
		default:
			s.strLen++
			if s.strLen > maxString {
				s.st = ground
			}
		}
	case strEsc:
		if r == '\\' {
			s.st = ground
			return
		}
		s.st = esc
		s.feed(b, r)
	}
}

func (s *Stream) ground(b *strings.Builder, r rune) {
	switch {
	case r == 0x1b:
		s.st = esc
	case r == 0x9b:
		s.st = csi
	case r == 0x9d || r == 0x90 || r == 0x98 || r == 0x9e || r == 0x9f:
		s.st, s.strLen = str, 0
	case r == '\n':
		s.emit(b, '\n')
	case r == '\t':
		for range TabWidth {
			s.emit(b, ' ')
		}
	case r == 0x2028 || r == 0x2029: // line and paragraph separators
		s.emit(b, '\n')
	case r < 0x20 || (r >= 0x7f && r <= 0x9f):
		// C0 (including CR, which would let text overwrite its line),
		// DEL and C1: dropped.
	case isBidiControl(r):
	case isPresentation(r):
	case s.atLineStart() && unicode.In(r, unicode.Mn, unicode.Me):
		// A combining mark with no base character.
	default:
		s.emit(b, r)
	}
}

func (s *Stream) atLineStart() bool { return !s.started || s.last == '\n' }

func (s *Stream) emit(b *strings.Builder, r rune) string {
	s.started, s.last = true, r
	if b == nil {
		return string(r)
	}
	b.WriteRune(r)
	return ""
}

// isPresentation reports the characters that only choose how emoji look:
// variation selectors (U+FE0E, U+FE0F), the zero-width joiner and skin-tone
// modifiers. Terminals disagree on the width of the sequences they form
// (SmolLM2 wrote "1\uFE0F": two cells to our layout, one to tmux 3.3, and
// the pane's border moved), so they are dropped and every character keeps
// the width all terminals agree on.
func isPresentation(r rune) bool {
	return r == 0xfe0e || r == 0xfe0f || r == 0x200d || (r >= 0x1f3fb && r <= 0x1f3ff)
}

// isBidiControl reports the embedding, override and isolate controls, which
// reorder how a line is displayed (the "Trojan Source" trick).
func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// String returns s made safe for a terminal; newlines are kept and tabs
// become spaces.
func String(s string) string {
	if isPlain(s) {
		return s
	}
	var st Stream
	return st.Write(s) + st.Flush()
}

// Line is String for a one-line field (a model name, a question in a
// header): newlines become spaces and runs of spaces collapse to one.
func Line(s string) string {
	s = String(s)
	if !strings.Contains(s, "\n") && !strings.Contains(s, "  ") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// isPlain reports whether s is printable ASCII or newlines only, the common
// case, which needs no copy.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || (c < 0x20 && c != '\n') || c == 0x7f {
			return false
		}
	}
	return true
}
