package eval

import "testing"

func TestExtractAIME(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"boxed", `So the answer is \boxed{376}.`, "376"},
		{"boxed leading zeros", `\boxed{073}`, "73"},
		{"last boxed wins", `First \boxed{12}, but correcting: \boxed{21}`, "21"},
		{"nested braces", `\boxed{\text{42}}`, "42"},
		{"boxed with equation", `\boxed{N = 23}`, "23"},
		{"boxed thousands sep", `\boxed{1{,}000}`, "1000"},
		{"empty box ignored", `Answer: 7 \boxed{}`, "7"},
		{"final answer line", "work...\nFINAL ANSWER: 120", "120"},
		{"answer marker", "Thus.\nAnswer: 53", "53"},
		{"answer is", "The final answer is 40.", "40"},
		{"marker after box", `I thought \boxed{5}. Rechecking, FINAL ANSWER: 8`, "8"},
		{"box after marker", "Answer: 5 was wrong.\nSo \\boxed{8}", "8"},
		{"marker on next line", "FINAL ANSWER:\n 99", "99"},
		{"last integer", "2 plus 3 gives 5", "5"},
		{"decimal is no integer", "the ratio is 3.5", ""},
		{"trailing .0", `\boxed{12.0}`, "12"},
		{"words with digits", "step2 uses x2 then 17 remains", "17"},
		{"nothing", "I don't know.", ""},
		{"dollars", `Answer: $376$`, "376"},
		{"degrees", `\boxed{45^\circ}`, "45"},
		{"unterminated box", `\boxed{12`, "12"},
		{"commas in prose", "Answer: 1,000", "1000"},
		{"crlf", "x\r\nFINAL ANSWER: 9\r\n", "9"},
		{"fbox", `\fbox{64}`, "64"},
		{"negative", "Answer: -4", "-4"},
		{"answered is no marker", "I answered 3 of them; the result is 17", "17"},
		{"answer word without number", "The answer: see below.\nSo we get 204.", "204"},
		{"boxed inside marker", "FINAL ANSWER: \\boxed{42}", "42"},
		{"marker then words", "Answer: 12 apples and 3 pears", "12"},
	}
	for _, c := range cases {
		if got := ExtractAIME(c.in); got != c.want {
			t.Errorf("%s: ExtractAIME(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

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
