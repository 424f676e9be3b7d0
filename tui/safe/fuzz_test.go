package safe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzString: whatever a model writes, what reaches the terminal is valid
// UTF-8 with no escape, control (but newline), bidi or presentation
// character; a stream split anywhere gives what the whole text gives; and
// Line is one line without runs of spaces.
func FuzzString(f *testing.F) {
	for _, s := range []string{
		"\x1b[31mred\x1b[0m and \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\",
		"\x1b]52;c;ZXZpbA==\x07ok\u009d0;t\u009cb",
		"a\x1bPq#0;2;0;0;0\x1b\\b\x1b_Gf=100;AAAA\x1b\\c",
		"abc\rxyz\r\n\x00\x07\x08\x7f\u0085",
		"a\xffb\xc0\x80c\xe2\x82",
		"a\u202eevil\u202cb\u2066c\u2069\u2028d",
		"日本語 👩‍💻 1\ufe0f \u0301start\n\u0301next e\u0301",
		"Step 1: x\ty\n\n**Final Answer**\n\\[\\boxed{376}\\]",
		"a\x1b[1;é\x1b]0;title\nnext\x1b",
	} {
		f.Add(s, uint(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, s string, cut uint) {
		out := String(s)
		if !utf8.ValidString(out) {
			t.Fatalf("String(%q) = %q: invalid UTF-8", s, out)
		}
		for _, r := range out {
			if r < 0x20 && r != '\n' || r >= 0x7f && r <= 0x9f || isBidiControl(r) || isPresentation(r) || r == 0x2028 || r == 0x2029 {
				t.Fatalf("String(%q) = %q keeps %U", s, out, r)
			}
		}
		i := int(cut % uint(len(s)+1))
		var st Stream
		if got := st.Write(s[:i]) + st.Write(s[i:]) + st.Flush(); got != out {
			t.Fatalf("split at %d: %q, whole: %q", i, got, out)
		}
		if l := Line(s); strings.Contains(l, "\n") || strings.Contains(l, "  ") {
			t.Fatalf("Line(%q) = %q", s, l)
		}
	})
}
