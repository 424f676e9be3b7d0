package eval

import (
	"context"
	"testing"
	"time"
)

func TestRunTestsLCB(t *testing.T) {
	sb := testSandbox(t)
	items, _, _, err := LoadDataset("sample:lcb", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Item{}
	for _, it := range items {
		byID[it.ID] = it
	}
	cases := []struct {
		id, code string
		ok       bool
		status   string
	}{
		{"lcb-s-1", "a, b = map(int, input().split())\nprint(a + b)", true, ExecOK},
		{"lcb-s-1", "a, b = map(int, input().split())\nprint(a - b)", false, "wrong"},
		{"lcb-s-2", "s = input().strip()\nprint(sum(c in 'aeiou' for c in s))", true, ExecOK},
		{"lcb-s-3", "from typing import List\nclass Solution:\n    def maxPairSum(self, nums: List[int]) -> int:\n        a = sorted(nums)\n        return a[-1] + a[-2]", true, ExecOK},
		{"lcb-s-3", "class Solution:\n    def maxPairSum(self, nums):\n        return max(nums) * 2", false, "wrong"},
		{"lcb-s-3", "class Solution:\n    def maxPairSum(self, nums: List[int]) -> int:\n        return sum(heapq.nlargest(2, nums))", true, ExecOK},
		{"lcb-s-4", "class Solution:\n    def reverseFirst(self, s, k):\n        w = s.split(' ')\n        return ' '.join(w[:k][::-1] + w[k:])", true, ExecOK},
		{"lcb-s-1", "", false, "no-code"},
		{"lcb-s-1", "syntax error here(", false, ExecError},
	}
	for _, c := range cases {
		r, err := RunTests(context.Background(), sb, byID[c.id], c.code)
		if err != nil {
			t.Fatal(err)
		}
		if r.OK() != c.ok || r.Status != c.status {
			t.Errorf("%s %q: ok %v status %q (%s), want %v %q", c.id, c.code, r.OK(), r.Status, r.Detail, c.ok, c.status)
		}
	}
}

// TestGradeStdio is LiveCodeBench's stdin rule on outputs real programs
// print: surrounding whitespace and blank lines at the ends don't matter,
// a blank line inside does, numbers compare as exact decimals.
func TestGradeStdio(t *testing.T) {
	cases := []struct {
		name, got, want string
		ok              bool
	}{
		{"same", "3\n", "3", true},
		{"trailing spaces", "1 2 3   \n4  \n", "1 2 3\n4", true},
		{"leading spaces on a line", "  5\n", "5", true},
		{"crlf", "1\r\n2\r\n", "1\n2", true},
		{"blank lines at the end", "7\n\n\n", "7", true},
		{"blank lines at the start", "\n\n7", "7", true},
		{"blank line inside", "1\n\n2", "1\n2", false},
		{"extra line", "1\n2\n3", "1\n2", false},
		{"inner spaces differ", "1  2", "1 2", true}, // tokens, not text
		{"words inner spaces differ", "Yes  No", "Yes No", false},
		{"case matters", "yes", "Yes", false},
		{"float trailing zero", "0.50", "0.5", true},
		{"float vs int", "2.0", "2", true},
		{"exponent", "1e2", "100", true},
		{"negative zero", "-0.0", "0", true},
		{"no tolerance", "0.333333", "0.3333333", false},
		{"large ints exact", "50000000000000000", "50000000000000001", false},
		{"float in a row", "1.5 2", "1.50 2.0", true},
		{"token count", "1 2", "1 2 0", false},
		{"nan never equal", "nan", "NaN", false},
		{"inf", "inf", "Infinity", true},
		{"not a number", "1,5", "1.5", false},
		{"fraction is no decimal", "1/2", "0.5", false},
		{"empty vs empty", "\n", "", true},
		{"unit separator is space", "5\x1f", "5", true},
	}
	for _, c := range cases {
		if got := gradeStdio(c.got, c.want); got != c.ok {
			t.Errorf("%s: gradeStdio(%q, %q) = %v, want %v", c.name, c.got, c.want, got, c.ok)
		}
	}
}

// TestRunTestsGrader runs programs in the sandbox: a call-based test
// judges the return value only (prints don't fail it, tuples are lists,
// 2 == 2.0 as in Python), a stdin test the printed text by the rule above.
func TestRunTestsGrader(t *testing.T) {
	sb := testSandbox(t)
	// Fifteen programs on a loaded machine: room enough that none times
	// out, as no program here should.
	sb.Limits.Wall, sb.Limits.CPU = 30*time.Second, 20*time.Second
	call := func(out string) Item {
		return Item{ID: "call", FuncName: "f", Tests: []TestCase{{Input: "[1, 2]\n3", Output: out, TestType: "functional"}}}
	}
	stdin := func(out string) Item {
		return Item{ID: "stdin", Tests: []TestCase{{Input: "3\n", Output: out, TestType: "stdin"}}}
	}
	cases := []struct {
		name string
		it   Item
		code string
		ok   bool
	}{
		{"call returns", call("[1, 2, 3]"), "class Solution:\n    def f(self, a, b):\n        return a + [b]", true},
		{"call prints while returning", call("[1, 2, 3]"), "class Solution:\n    def f(self, a, b):\n        print('debug', a)\n        return a + [b]", true},
		{"call prints the answer instead", call("[1, 2, 3]"), "class Solution:\n    def f(self, a, b):\n        print([1, 2, 3])", false},
		{"usage example printed at module level", call("[1, 2, 3]"), "class Solution:\n    def f(self, a, b):\n        return a + [b]\nprint(Solution().f([9], 9))", true},
		{"tuple is a list", call("[1, 2, 3]"), "class Solution:\n    def f(self, a, b):\n        return (1, 2, 3)", true},
		{"float equals int", call("6"), "class Solution:\n    def f(self, a, b):\n        return 6.0", true},
		{"wrong value", call("6"), "class Solution:\n    def f(self, a, b):\n        return 7", false},
		{"plain function", call("6"), "def f(a, b):\n    return sum(a) + b", true},
		{"float string is not a float", call("0.5"), "class Solution:\n    def f(self, a, b):\n        return '0.5'", false},
		{"stdin trailing whitespace", stdin("6"), "n = int(input())\nprint(n * 2, ' ')\nprint()", true},
		{"stdin float", stdin("1.5"), "print(int(input()) / 2)", true},
		{"stdin float formatted", stdin("1.5"), "print(f'{int(input()) / 2:.3f}')", true},
		{"stdin float rounded differently", stdin("0.333333"), "print(round(1 / int(input()), 5))", false},
		{"stdin blank line inside", stdin("3\n3"), "n = input()\nprint(n)\nprint()\nprint(n)", false},
		{"stdin debug print fails", stdin("6"), "n = int(input())\nprint('n is', n)\nprint(n * 2)", false},
	}
	for _, c := range cases {
		r, err := RunTests(context.Background(), sb, c.it, c.code)
		if err != nil {
			t.Fatal(err)
		}
		if r.OK() != c.ok {
			t.Errorf("%s: ok %v (%s %s), want %v", c.name, r.OK(), r.Status, r.Detail, c.ok)
		}
	}
}
