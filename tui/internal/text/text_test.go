package text

import (
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

func TestWrap(t *testing.T) {
	tests := []struct {
		in    string
		width int
		want  []string
	}{
		{"", 10, []string{""}},
		{"hello world", 20, []string{"hello world"}},
		{"hello world", 5, []string{"hello", "world"}},
		{"hello world", 8, []string{"hello", "world"}},
		{"a b c d e f", 3, []string{"a b", "c d", "e f"}},
		{"abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"go abcdefghij", 4, []string{"go", "abcd", "efgh", "ij"}},
		{"    indented code", 12, []string{"    indented", "code"}},
		{"trailing  ", 20, []string{"trailing  "}},
		{"日本語のテキスト", 6, []string{"日本語", "のテキ", "スト"}},
		{"日本語", 5, []string{"日本", "語"}},
		{"e\u0301e\u0301e\u0301", 2, []string{"e\u0301e\u0301", "e\u0301"}},
		{"👩‍💻👩‍💻", 2, []string{"👩‍💻", "👩‍💻"}},
		{"wide 日本", 1, []string{"w", "i", "d", "e", "日", "本"}},
	}
	for _, tt := range tests {
		got := Wrap(tt.in, tt.width)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Wrap(%q, %d) = %q, want %q", tt.in, tt.width, got, tt.want)
		}
		for _, l := range got {
			if w := Width(strings.TrimRight(l, " ")); w > tt.width && tt.width > 1 {
				t.Errorf("Wrap(%q, %d): line %q is %d cells wide", tt.in, tt.width, l, w)
			}
		}
	}
}

func TestFitAndSpread(t *testing.T) {
	if got := Fit("abc", 5); got != "abc  " {
		t.Errorf("Fit pad = %q", got)
	}
	if got := Fit("abcdef", 4); got != "abc…" {
		t.Errorf("Fit cut = %q", got)
	}
	if got := Fit("日本語", 5); Width(got) != 5 {
		t.Errorf("Fit(日本語, 5) = %q, %d cells", got, Width(got))
	}
	if got := Spread("left", "right", 12); got != "left   right" {
		t.Errorf("Spread = %q", got)
	}
	if got := Spread("a long left side", "right", 12); got != "a lon… right" {
		t.Errorf("Spread cut = %q", got)
	}
	if got := PadLeft("7", 3); got != "  7" {
		t.Errorf("PadLeft = %q", got)
	}
}

// TestBufferAppendMatchesWrap is the property Buffer relies on: however the
// text is cut into appends, the lines equal wrapping the whole text.
func TestBufferAppendMatchesWrap(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	words := []string{"the", "proof", "is", "by", "induction", "on", "n;", "日本語", "é", "e\u0301", "👍", "", " ", "  ", "supercalifragilistic", "\n", "\n\n", "    x"}
	for iter := 0; iter < 300; iter++ {
		var whole strings.Builder
		var pieces []string
		for range 40 {
			w := words[rng.Intn(len(words))]
			if rng.Intn(3) > 0 {
				w += " "
			}
			whole.WriteString(w)
			pieces = append(pieces, w)
		}
		// Re-cut at random byte boundaries that keep graphemes whole enough:
		// the buffer's contract is sanitized text, cut anywhere between runes.
		s := whole.String()
		width := 1 + rng.Intn(30)
		b := NewBuffer(width, 0)
		for i := 0; i < len(s); {
			n := 1 + rng.Intn(8)
			j := min(i+n, len(s))
			for j < len(s) && s[j]&0xC0 == 0x80 {
				j++
			}
			b.Append(s[i:j])
			i = j
		}
		var want []string
		for _, p := range strings.Split(s, "\n") {
			want = append(want, Wrap(p, width)...)
		}
		if !reflect.DeepEqual(b.Lines(), want) {
			t.Fatalf("width %d, text %q:\nappended: %q\nwhole:    %q", width, s, b.Lines(), want)
		}
		if b.String() != s {
			t.Fatalf("String() = %q, want %q", b.String(), s)
		}
		b.SetWidth(width + 7)
		want = want[:0]
		for _, p := range strings.Split(s, "\n") {
			want = append(want, Wrap(p, width+7)...)
		}
		if !reflect.DeepEqual(b.Lines(), want) {
			t.Fatalf("after SetWidth: %q, want %q", b.Lines(), want)
		}
	}
}

func TestBufferMarkTruncate(t *testing.T) {
	b := NewBuffer(20, 0)
	b.Append("round 1 text\nmore")
	m := b.Mark()
	b.Append("streamed but wrong")
	b.Truncate(m)
	b.Append("the real text")
	if got, want := b.String(), "round 1 text\nmore\nthe real text"; got != want {
		t.Errorf("after Truncate: %q, want %q", got, want)
	}
	if got := b.Lines(); len(got) != 3 {
		t.Errorf("lines = %q", got)
	}
}

func TestBufferLimit(t *testing.T) {
	b := NewBuffer(10, 50)
	for i := range 1000 {
		b.Append("line ")
		if i%3 == 0 {
			b.Append("\n")
		}
	}
	if b.Len() > 50 {
		t.Errorf("buffer kept %d lines, limit 50", b.Len())
	}
	// One endless paragraph is bounded too.
	b = NewBuffer(10, 50)
	for range 10000 {
		b.Append("word ")
	}
	if b.Len() > 50 || b.open.Len() > maxOpen {
		t.Errorf("endless paragraph kept %d lines and %d bytes", b.Len(), b.open.Len())
	}
}

func BenchmarkBufferAppend(b *testing.B) {
	buf := NewBuffer(60, 0)
	for b.Loop() {
		buf.Append("token ")
	}
}
