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
		// Fixed: the fence opened on the answer line was missed (the
		// earlier draft was taken).
		{"fence on the answer line", "Draft:\n```python\nprint(0)\n```\nFINAL ANSWER: ```python\nprint(7)\n```", "print(7)"},
		{"bold answer line fence", "```python\nprint(0)\n```\n**Final Answer:** ```python\nprint(8)\n```", "print(8)"},
		// Fixed: the usage example after the solution was taken.
		{"usage example after solution", "```python\nclass Solution:\n    def f(self, a):\n        return a\n```\nExample usage:\n```python\nprint(Solution().f(3))\n```", "class Solution:\n    def f(self, a):\n        return a"},
		{"usage after the answer line", "FINAL ANSWER:\n```python\nn = int(input())\nprint(n)\n```\nFor example:\n```python\n# input 3 prints 3\nprint(3)\n```", "n = int(input())\nprint(n)"},
		{"draft then final solution", "```python\ndef f(): return 1\n```\nBetter:\n```python\ndef f(): return 2\n```", "def f(): return 2"},
		{"answer line then only plain output", "FINAL ANSWER:\n```\nx = 1\n```", "x = 1"},
	}
	for _, c := range cases {
		if got := ExtractCode(c.in); got != c.want {
			t.Errorf("%s: ExtractCode(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}
