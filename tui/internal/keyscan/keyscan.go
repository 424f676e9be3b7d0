// Package keyscan follows a JSON object as it streams in, a few bytes at a
// time, and tells which of its top-level keys have a complete value so far.
// A reviewer's reply is one object keyed by candidate label ("A", "B", …),
// so this is how far through the candidates a review has got while it is
// still being written: "scored A, B; writing C".
//
// It is a byte-at-a-time state machine, not a parser: it never fails, it
// keeps no more than the key it is reading, and text may be split anywhere
// (inside a key, an escape or a multi-byte character). Text before the first
// '{' is skipped; a '{' after the object has closed starts a new one (a
// retried call) and forgets the old keys.
package keyscan

import "encoding/json"

// maxKey bounds a key kept while it is read: labels are one letter, and a
// model's runaway key must not grow without limit.
const maxKey = 64

type state uint8

const (
	outside    state = iota // before the object, or after it closed
	expectKey               // in the object, before a key
	inKey                   // reading a key string
	afterKey                // key read, before ':'
	expectVal               // after ':', before the value
	inScalar                // in a number, true, false or null
	inStrVal                // in a string value
	inNested                // in an object or array value (depth > 1)
	afterValue              // value complete, before ',' or '}'
)

// Scanner is the state of one streamed object. The zero value is ready.
type Scanner struct {
	st      state
	depth   int  // nesting inside a nested value (inNested)
	inStr   bool // in a string inside a nested value
	esc     bool // the previous byte was a backslash inside a string
	raw     []byte
	cur     string // the key whose value is being written
	hasCur  bool
	done    []string
	objects int // top-level objects started
	closed  bool
}

// Reset forgets everything, for a new call.
func (s *Scanner) Reset() { *s = Scanner{done: s.done[:0], raw: s.raw[:0]} }

// Write feeds the next piece of the stream.
func (s *Scanner) Write(p string) {
	for i := 0; i < len(p); i++ {
		s.step(p[i])
	}
}

// Done is the top-level keys whose values are complete, in the order they
// completed. The slice is the scanner's own: copy it to keep it.
func (s *Scanner) Done() []string { return s.done }

// Writing is the key whose value is being written, once its name is read.
func (s *Scanner) Writing() (string, bool) { return s.cur, s.hasCur }

// Started reports whether the object has opened.
func (s *Scanner) Started() bool { return s.objects > 0 }

// Closed reports whether the object has closed.
func (s *Scanner) Closed() bool { return s.closed }

// Objects is the number of top-level objects started: more than one means
// the stream restarted (a retry).
func (s *Scanner) Objects() int { return s.objects }

func space(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *Scanner) step(c byte) {
	switch s.st {
	case outside:
		if c == '{' {
			s.open()
		}
	case expectKey:
		switch c {
		case '"':
			s.st, s.raw = inKey, s.raw[:0]
		case '}':
			s.close()
		}
	case inKey:
		switch {
		case s.esc:
			s.esc = false
			s.keep(c)
		case c == '\\':
			s.esc = true
			s.keep(c)
		case c == '"':
			s.cur, s.hasCur, s.st = decodeKey(s.raw), true, afterKey
		default:
			s.keep(c)
		}
	case afterKey:
		switch c {
		case ':':
			s.st = expectVal
		case '}': // a key with no value: malformed, but the object ended
			s.close()
		}
	case expectVal:
		switch {
		case space(c):
		case c == '{' || c == '[':
			s.st, s.depth = inNested, 1
		case c == '"':
			s.st = inStrVal
		case c == '}':
			s.close()
		case c == ',': // no value: malformed; read on
			s.cur, s.hasCur, s.st = "", false, expectKey
		default:
			s.st = inScalar
		}
	case inScalar:
		switch {
		case c == ',':
			s.complete()
			s.st = expectKey
		case c == '}':
			s.complete()
			s.close()
		case space(c):
			s.complete()
		}
	case inStrVal:
		switch {
		case s.esc:
			s.esc = false
		case c == '\\':
			s.esc = true
		case c == '"':
			s.complete()
		}
	case inNested:
		s.nested(c)
	case afterValue:
		switch c {
		case ',':
			s.st = expectKey
		case '}':
			s.close()
		}
	}
}

// nested tracks brackets inside a value, skipping strings (which may hold
// brackets and quotes of their own).
func (s *Scanner) nested(c byte) {
	if s.inStr {
		switch {
		case s.esc:
			s.esc = false
		case c == '\\':
			s.esc = true
		case c == '"':
			s.inStr = false
		}
		return
	}
	switch c {
	case '"':
		s.inStr = true
	case '{', '[':
		s.depth++
	case '}', ']':
		s.depth--
		if s.depth == 0 {
			s.complete()
		}
	}
}

func (s *Scanner) keep(c byte) {
	if len(s.raw) < maxKey {
		s.raw = append(s.raw, c)
	}
}

func (s *Scanner) open() {
	s.objects++
	s.done, s.cur, s.hasCur, s.closed = s.done[:0], "", false, false
	s.st = expectKey
}

func (s *Scanner) close() {
	s.st, s.closed, s.cur, s.hasCur = outside, true, "", false
}

// complete records the current key's value as done; a key repeated is
// listed once.
func (s *Scanner) complete() {
	s.st = afterValue
	if !s.hasCur {
		return
	}
	for _, k := range s.done {
		if k == s.cur {
			s.cur, s.hasCur = "", false
			return
		}
	}
	s.done = append(s.done, s.cur)
	s.cur, s.hasCur = "", false
}

// decodeKey unescapes a key as JSON does; a key it cannot decode (cut at
// maxKey inside an escape) is kept as written.
func decodeKey(raw []byte) string {
	var k string
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	if err := json.Unmarshal(q, &k); err != nil {
		return string(raw)
	}
	return k
}
