package safe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "hello, world", "hello, world"},
		{"newlines kept", "a\nb\n", "a\nb\n"},
		{"tab expanded", "a\tb", "a    b"},
		{"CR dropped", "abc\rxyz\r\n", "abcxyz\n"},
		{"SGR", "\x1b[31mred\x1b[0m", "red"},
		{"CSI with params", "x\x1b[38;2;1;2;3my", "xy"},
		{"CSI private", "a\x1b[?1049hb\x1b[?25l", "ab"},
		{"CSI cursor move", "a\x1b[2Jb\x1b[10;10Hc", "abc"},
		{"CSI intermediate", "a\x1b[1 qb", "ab"},
		{"C1 CSI", "a\u009b31mb", "ab"},
		{"OSC BEL", "a\x1b]0;pwned\x07b", "ab"},
		{"OSC ST", "a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b", "alinkb"},
		{"OSC 52 clipboard", "\x1b]52;c;ZXZpbA==\x07ok", "ok"},
		{"C1 OSC", "a\u009d0;t\u009cb", "ab"},
		{"DCS", "a\x1bPq#0;2;0;0;0\x1b\\b", "ab"},
		{"C1 DCS", "a\u0090data\u009cb", "ab"},
		{"APC", "a\x1b_Gf=100;AAAA\x1b\\b", "ab"},
		{"PM and SOS", "a\x1b^pm\x1b\\b\x1bXsos\x1b\\c", "abc"},
		{"two-byte ESC", "a\x1bcb\x1b7c\x1b8d", "abcd"},
		{"charset ESC", "a\x1b(0b\x1b)Bc", "abc"},
		{"bare ESC at end", "abc\x1b", "abc"},
		{"ESC ESC", "a\x1b\x1b[31mb", "ab"},
		{"ESC then non-ASCII", "a\x1bé", "aé"},
		{"unterminated OSC stops at newline", "a\x1b]0;title\nnext", "a\nnext"},
		{"unterminated CSI swallowed", "a\x1b[12", "a"},
		{"CSI broken by non-ASCII", "a\x1b[1;é", "aé"},
		{"C0 controls", "a\x00b\x07c\x08d\x0ce\x7ff", "abcdef"},
		{"C1 controls", "a\u0085b\u008dc", "abc"},
		{"raw 8-bit C1 is invalid UTF-8", "a\x9b31mb", "a\ufffd31mb"},
		{"invalid UTF-8", "a\xffb\xc0\x80c", "a\ufffdb\ufffd\ufffdc"},
		{"truncated UTF-8 at end", "ab\xe2\x82", "ab\ufffd"},
		{"bidi override", "a\u202eevil\u202cb\u2066c\u2069", "aevilbc"},
		{"line separator", "a\u2028b", "a\nb"},
		{"wide and emoji kept, joiner dropped", "日本語 👩‍💻", "日本語 👩💻"},
		{"combining after base kept", "e\u0301", "e\u0301"},
		{"combining at start dropped", "\u0301abc\n\u0301d", "abc\nd"},
		{"ST alone is harmless text", "a\x1b\\b", "ab"},
		{"C1 ST outside string dropped", "a\u009cb", "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"llama3.2:1b", "llama3.2:1b"},
		{"two\nlines", "two lines"},
		{"  lots   of\tspace ", "lots of space"},
		{"\x1b[1mbold\x1b[0m name", "bold name"},
	}
	for _, tt := range tests {
		if got := Line(tt.in); got != tt.want {
			t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStreamSplitSequences(t *testing.T) {
	// Each input is written in every possible two-piece split; the result
	// must not depend on where the pieces were cut.
	inputs := []string{
		"pre\x1b[38;5;196mred\x1b[0mpost",
		"x\x1b]0;title\x07y",
		"x\x1b]8;;u\x1b\\z",
		"日本\u0301語\xe2\x82\xac",
		"a\u009b2Jb",
		"\u0301start",
	}
	for _, in := range inputs {
		want := String(in)
		for i := 0; i <= len(in); i++ {
			var s Stream
			got := s.Write(in[:i]) + s.Write(in[i:]) + s.Flush()
			if got != want {
				t.Errorf("split %q at %d: got %q, want %q", in, i, got, want)
			}
		}
	}
}

func TestStreamByteAtATime(t *testing.T) {
	in := "\x1b[1;31m警告\x1b[0m: \x1b]52;c;aGk=\x07done\r\n"
	var s Stream
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		b.WriteString(s.Write(in[i : i+1]))
	}
	b.WriteString(s.Flush())
	if got, want := b.String(), "警告: done\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestStringPlainNoCopy(t *testing.T) {
	in := "just text\nand more"
	if allocs := testing.AllocsPerRun(10, func() { _ = String(in) }); allocs != 0 {
		t.Errorf("String allocated %v times on plain ASCII", allocs)
	}
}

// checkSafe fails if out contains anything a terminal would interpret.
func checkSafe(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("output of %q is not valid UTF-8: %q", in, out)
	}
	for _, r := range out {
		switch {
		case r == '\n':
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f, isBidiControl(r):
			t.Fatalf("output of %q contains control %U: %q", in, r, out)
		}
	}
}

// FuzzStream checks, for any input and any split of it, that the output is
// free of controls and independent of how the input was cut.
func FuzzStream(f *testing.F) {
	for _, s := range []string{
		"", "plain", "\x1b[31mred", "\x1b]0;t\x07", "\x1bP\x1b\\", "\u009b1m",
		"\xff\xfe", "日本\u0301", "\x1b\x1b[", "a\tb\rc",
	} {
		f.Add(s, uint8(1))
	}
	f.Fuzz(func(t *testing.T, in string, cut uint8) {
		whole := String(in)
		checkSafe(t, in, whole)
		i := int(cut) % (len(in) + 1)
		var s Stream
		split := s.Write(in[:i]) + s.Write(in[i:]) + s.Flush()
		if split != whole {
			t.Fatalf("split %q at %d: got %q, whole gives %q", in, i, split, whole)
		}
	})
}

func BenchmarkStreamTokens(b *testing.B) {
	tok := "the quick brown fox jumps "
	var s Stream
	b.SetBytes(int64(len(tok)))
	for b.Loop() {
		_ = s.Write(tok)
	}
}

// Emoji presentation sequences have no width terminals agree on: SmolLM2
// wrote "1\uFE0F" (keycap-style one), which our layout measured as two cells
// and tmux 3.3 drew in one, moving the pane's right border. Without the
// selector, joiner and modifiers every character keeps its agreed width.
func TestEmojiPresentationDropped(t *testing.T) {
	for in, want := range map[string]string{
		"1\uFE0F":                    "1",
		"\u2764\uFE0F ok":            "\u2764 ok",
		"\u263A\uFE0E":               "\u263A",
		"\U0001F468\u200D\U0001F469": "\U0001F468\U0001F469",
		"\U0001F44D\U0001F3FD":       "\U0001F44D",
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}
