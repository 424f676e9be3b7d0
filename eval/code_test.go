package eval

import (
	"context"
	"testing"
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
