package eval

import "testing"

func TestExtractCode(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"python block", "Here:\n```python\nprint(1)\n```\nDone.", "print(1)"},
		{"last python block", "```python\nprint(1)\n```\ntext\n```python\nprint(2)\n```", "print(2)"},
		{"python beats plain", "```python\nprint(1)\n```\n```\nsome output\n```", "print(1)"},
		{"plain block", "```\nx = 1\nprint(x)\n```", "x = 1\nprint(x)"},
		{"py tag", "```py\nprint(3)\n```", "print(3)"},
		{"unterminated", "```python\nprint(4)\n", "print(4)"},
		{"bare code", "import sys\nprint(sys.stdin.read())", "import sys\nprint(sys.stdin.read())"},
		{"prose only", "I cannot solve this.", ""},
		{"indented fence", "  ```python\nprint(5)\n  ```", "print(5)"},
		{"inline backticks are no fence", "use ```print``` inline\n```python\nprint(6)\n```", "print(6)"},
	}
	for _, c := range cases {
		if got := ExtractCode(c.in); got != c.want {
			t.Errorf("%s: ExtractCode(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}
