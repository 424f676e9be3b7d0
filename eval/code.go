package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// CodeResult is how a solution did on an item's tests.
type CodeResult struct {
	Passed int    `json:"passed"`
	Total  int    `json:"total"`
	Status string `json:"status"` // the first failing test's ExecResult status, or "wrong" / "no-code"
	Detail string `json:"detail,omitempty"`
}

// OK says every test passed (pass@1 counts the item).
func (r CodeResult) OK() bool { return r.Total > 0 && r.Passed == r.Total }

// codePrelude is prepended to every solution, as LiveCodeBench's own
// harness does, so starter code's type hints (List[int]) and the usual
// imports work.
const codePrelude = "from typing import *\nfrom collections import *\nimport sys, math, heapq, bisect, itertools, functools, re, string, collections\nsys.setrecursionlimit(100000)\n"

// functionalDriver calls the method on one JSON argument per input line and
// prints the JSON of what it returns.
const functionalDriver = `

# --- nsed test driver ---
import sys as _nsed_sys, json as _nsed_json
_nsed_args = [_nsed_json.loads(_l) for _l in _nsed_sys.stdin.read().split("\n") if _l.strip()]
_nsed_res = getattr(Solution(), %q)(*_nsed_args)
print(_nsed_json.dumps(_nsed_res))
`

// RunTests runs code against an item's tests in the sandbox, stopping at
// the first failure.
func RunTests(ctx context.Context, sb *Sandbox, it Item, code string) (CodeResult, error) {
	r := CodeResult{Total: len(it.Tests)}
	if strings.TrimSpace(code) == "" {
		r.Status = "no-code"
		return r, nil
	}
	for i, tc := range it.Tests {
		prog := codePrelude + code
		if tc.TestType == "functional" {
			prog += fmt.Sprintf(functionalDriver, it.FuncName)
		}
		res, err := sb.Run(ctx, prog, tc.Input)
		if err != nil {
			return r, err
		}
		if res.Status != ExecOK {
			r.Status, r.Detail = res.Status, fmt.Sprintf("test %d: %s", i+1, lastLine(res.Stderr))
			return r, nil
		}
		if !sameOutput(tc, res.Stdout) {
			r.Status, r.Detail = "wrong", fmt.Sprintf("test %d: printed %q, want %q", i+1, clip(res.Stdout, 80), clip(tc.Output, 80))
			return r, nil
		}
		r.Passed++
	}
	r.Status = ExecOK
	return r, nil
}

func sameOutput(tc TestCase, got string) bool {
	if tc.TestType == "functional" {
		var a, b any
		if json.Unmarshal([]byte(strings.TrimSpace(got)), &a) != nil || json.Unmarshal([]byte(strings.TrimSpace(tc.Output)), &b) != nil {
			return strings.TrimSpace(got) == strings.TrimSpace(tc.Output)
		}
		return reflect.DeepEqual(a, b)
	}
	return normLines(got) == normLines(tc.Output)
}

// normLines compares program output as LiveCodeBench does in spirit:
// trailing spaces and blank lines at the end don't matter.
func normLines(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return clip(s, 200)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
