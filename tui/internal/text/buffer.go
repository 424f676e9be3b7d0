package text

import "strings"

// Buffer is a growing text kept wrapped at a width. Append costs time in
// proportion to the appended text plus one line, not to the whole text, so a
// pane can take a streaming proposal frame after frame; only SetWidth wraps
// everything again.
//
// A Buffer keeps at most max lines: the oldest paragraphs are forgotten, so a
// long run's memory stays flat.
type Buffer struct {
	width int
	max   int

	paras  []string // finished paragraphs
	counts []int    // wrapped lines of each finished paragraph
	open   strings.Builder
	openN  int      // wrapped lines of the open paragraph, at the end of lines
	lines  []string // every wrapped line, finished paragraphs then the open one
	gone   int      // paragraphs forgotten so far, so Marks stay valid
}

// DefaultMax is the line limit when NewBuffer is given none.
const DefaultMax = 1500

// maxOpen bounds the open paragraph's bytes, for output that never breaks a
// line; older text of it is forgotten.
const maxOpen = 64 << 10

// NewBuffer returns an empty buffer wrapping at width, keeping at most max
// lines (DefaultMax if max <= 0).
func NewBuffer(width, max int) *Buffer {
	if max <= 0 {
		max = DefaultMax
	}
	if width < 1 {
		width = 1
	}
	return &Buffer{width: width, max: max, lines: []string{""}, openN: 1}
}

// Lines returns the wrapped lines; the caller must not modify them.
func (b *Buffer) Lines() []string { return b.lines }

// Len is the number of wrapped lines.
func (b *Buffer) Len() int { return len(b.lines) }

// Width is the wrapping width.
func (b *Buffer) Width() int { return b.width }

// Empty reports whether nothing has been written.
func (b *Buffer) Empty() bool { return len(b.paras) == 0 && b.open.Len() == 0 }

// Append adds sanitized text; "\n" ends a paragraph.
func (b *Buffer) Append(s string) {
	for {
		i := strings.IndexByte(s, '\n')
		part := s
		if i >= 0 {
			part = s[:i]
		}
		if part != "" {
			b.appendOpen(part)
		}
		if i < 0 {
			break
		}
		b.closeOpen()
		s = s[i+1:]
	}
	b.trim()
}

func (b *Buffer) appendOpen(part string) {
	b.open.WriteString(part)
	last := b.lines[len(b.lines)-1]
	wrapped := Wrap(last+part, b.width)
	b.lines = append(b.lines[:len(b.lines)-1], wrapped...)
	b.openN += len(wrapped) - 1
	if b.open.Len() > maxOpen {
		// Keep the newest half; the lines already shown stay until a
		// rewrap, which then starts from what was kept.
		s := b.open.String()
		cut := len(s) / 2
		for cut < len(s) && s[cut]&0xC0 == 0x80 {
			cut++
		}
		b.open.Reset()
		b.open.WriteString(s[cut:])
	}
}

func (b *Buffer) closeOpen() {
	b.paras = append(b.paras, b.open.String())
	b.counts = append(b.counts, b.openN)
	b.open.Reset()
	b.lines = append(b.lines, "")
	b.openN = 1
}

func (b *Buffer) trim() {
	n := 0
	over := len(b.lines) - b.max
	for n < len(b.paras) && over > 0 {
		over -= b.counts[n]
		n++
	}
	if n == 0 {
		if over > 0 {
			// One paragraph longer than the limit: drop its oldest lines.
			b.lines = append([]string(nil), b.lines[over:]...)
			b.openN -= over
		}
		return
	}
	drop := 0
	for _, c := range b.counts[:n] {
		drop += c
	}
	// Copy so the forgotten strings can be collected.
	b.lines = append([]string(nil), b.lines[drop:]...)
	b.paras = append([]string(nil), b.paras[n:]...)
	b.counts = append([]int(nil), b.counts[n:]...)
	b.gone += n
}

// SetWidth wraps everything again at w.
func (b *Buffer) SetWidth(w int) {
	if w < 1 {
		w = 1
	}
	if w == b.width {
		return
	}
	b.width = w
	b.rewrap()
}

func (b *Buffer) rewrap() {
	b.lines = b.lines[:0]
	for i, p := range b.paras {
		l := Wrap(p, b.width)
		b.counts[i] = len(l)
		b.lines = append(b.lines, l...)
	}
	l := Wrap(b.open.String(), b.width)
	b.openN = len(l)
	b.lines = append(b.lines, l...)
	b.trim()
}

// Mark is a position in a Buffer: everything appended after it can be
// replaced with Truncate.
type Mark struct{ para int }

// Mark closes the open paragraph if it has text and returns the position
// after it.
func (b *Buffer) Mark() Mark {
	if b.open.Len() > 0 {
		b.closeOpen()
	}
	return Mark{b.gone + len(b.paras)}
}

// Truncate forgets everything appended after m.
func (b *Buffer) Truncate(m Mark) {
	keep := m.para - b.gone
	if keep < 0 {
		keep = 0
	}
	if keep > len(b.paras) {
		return
	}
	b.paras = b.paras[:keep]
	b.counts = b.counts[:keep]
	b.open.Reset()
	n := 0
	for _, c := range b.counts {
		n += c
	}
	b.lines = append(b.lines[:n], "")
	b.openN = 1
}

// Reset empties the buffer.
func (b *Buffer) Reset() {
	*b = Buffer{width: b.width, max: b.max, lines: []string{""}, openN: 1}
}

// String returns the text still kept.
func (b *Buffer) String() string {
	var s strings.Builder
	for _, p := range b.paras {
		s.WriteString(p)
		s.WriteByte('\n')
	}
	s.WriteString(b.open.String())
	return s.String()
}
