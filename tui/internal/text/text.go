// Package text wraps, clips and pads terminal text by display width, grapheme
// by grapheme, so wide (CJK, emoji) and combining characters never push a
// pane's border out of place. Input must already be sanitized (package safe);
// styled strings are measured correctly since ANSI SGR codes have no width.
package text

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Width is the display width of s in cells.
func Width(s string) int {
	if isASCII(s) {
		return len(s)
	}
	return ansi.StringWidth(s)
}

// Truncate cuts s to at most w cells, ending with tail ("…") when it cut.
func Truncate(s string, w int, tail string) string {
	if w <= 0 {
		return ""
	}
	if isASCII(s) && len(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, tail)
}

// Fit truncates s to w cells and pads it with spaces to exactly w.
func Fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	s = Truncate(s, w, "…")
	if n := Width(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// PadLeft right-aligns s in w cells (truncating if needed).
func PadLeft(s string, w int) string {
	s = Truncate(s, w, "…")
	if n := Width(s); n < w {
		s = strings.Repeat(" ", w-n) + s
	}
	return s
}

// Spread puts left and right at the two ends of w cells, truncating left
// first when both don't fit.
func Spread(left, right string, w int) string {
	rw := Width(right)
	if rw >= w {
		return Fit(right, w)
	}
	return Fit(left, w-rw-1) + " " + right
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || c < 0x20 {
			return false
		}
	}
	return true
}

// Wrap breaks one paragraph (no newlines) into lines of at most width cells:
// greedily at spaces, and inside a word only when the word alone is wider
// than a line. Leading spaces (indentation) are kept; spaces at a break are
// dropped; trailing spaces stay on the last line, so that wrapping the last
// line again with more text appended gives the same result as wrapping the
// whole paragraph — which is what lets Buffer append in O(new text).
func Wrap(s string, width int) []string {
	if width < 1 {
		width = 1
	}
	if len(s) <= width && isASCII(s) {
		return []string{s}
	}
	var (
		lines []string
		cur   strings.Builder
		curW  int
	)
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] == ' ' {
			j++
		}
		sp := s[i:j]
		if j == len(s) {
			cur.WriteString(sp)
			break
		}
		i = j
		for j < len(s) && s[j] != ' ' {
			j++
		}
		word := s[i:j]
		i = j
		ww := Width(word)
		switch {
		case cur.Len() == 0:
			// Start of the paragraph: the indentation belongs to the word.
			w := sp + word
			if len(sp)+ww <= width {
				cur.WriteString(w)
				curW = len(sp) + ww
				continue
			}
			pieces := hardWrap(w, width)
			lines = append(lines, pieces[:len(pieces)-1]...)
			cur.WriteString(pieces[len(pieces)-1])
			curW = Width(pieces[len(pieces)-1])
		case curW+len(sp)+ww <= width:
			cur.WriteString(sp)
			cur.WriteString(word)
			curW += len(sp) + ww
		default:
			lines = append(lines, cur.String())
			cur.Reset()
			if ww <= width {
				cur.WriteString(word)
				curW = ww
				continue
			}
			pieces := hardWrap(word, width)
			lines = append(lines, pieces[:len(pieces)-1]...)
			cur.WriteString(pieces[len(pieces)-1])
			curW = Width(pieces[len(pieces)-1])
		}
	}
	return append(lines, cur.String())
}

// hardWrap cuts s into pieces of at most width cells at grapheme
// boundaries. A grapheme wider than width gets a piece of its own.
func hardWrap(s string, width int) []string {
	var (
		pieces []string
		start  int
		w      int
	)
	for i := 0; i < len(s); {
		g, gw := ansi.FirstGraphemeCluster(s[i:], ansi.GraphemeWidth)
		if len(g) == 0 {
			break
		}
		if w+gw > width && i > start {
			pieces = append(pieces, s[start:i])
			start, w = i, 0
		}
		w += gw
		i += len(g)
	}
	return append(pieces, s[start:])
}
