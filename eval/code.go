package eval

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"unicode"
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

// functionalDriver calls the solution on one JSON argument per input line
// and judges the return value in Python, so "equal" means what it means in
// LiveCodeBench's grader (see gradeCall). It writes its verdict on one
// line behind a per-run marker, so whatever the solution prints does not
// matter. Arguments: the expected output as a string literal, the
// function's name, the marker.
const functionalDriver = `

# --- nsed test driver ---
import sys as _nsed_sys, json as _nsed_json
_nsed_args = [_nsed_json.loads(_l) for _l in _nsed_sys.stdin.read().split("\n") if _l.strip()]
_nsed_want = _nsed_json.loads(%s)
_nsed_fn = getattr(Solution(), %q) if "Solution" in globals() else globals()[%[2]q]
_nsed_got = _nsed_fn(*_nsed_args)
if isinstance(_nsed_got, tuple):
    _nsed_got = list(_nsed_got)
_nsed_ok = bool(_nsed_got == _nsed_want)
_nsed_sys.stdout.write("\n" + %[3]q + _nsed_json.dumps({"ok": _nsed_ok, "got": repr(_nsed_got)[:200]}) + "\n")
`

// RunTests runs code against an item's tests in the sandbox, stopping at
// the first failure.
func RunTests(ctx context.Context, sb *Sandbox, it Item, code string) (CodeResult, error) {
	r := CodeResult{Total: len(it.Tests)}
	if strings.TrimSpace(code) == "" {
		r.Status = "no-code"
		return r, nil
	}
	marker := verdictMarker()
	for i, tc := range it.Tests {
		prog := codePrelude + code
		if tc.TestType == "functional" {
			want, _ := json.Marshal(tc.Output) // a JSON string is a Python string literal
			prog += fmt.Sprintf(functionalDriver, want, it.FuncName, marker)
		}
		res, err := sb.Run(ctx, prog, tc.Input)
		if err != nil {
			return r, err
		}
		if res.Status != ExecOK {
			r.Status, r.Detail = res.Status, fmt.Sprintf("test %d: %s", i+1, lastLine(res.Stderr))
			return r, nil
		}
		if ok, detail := grade(tc, res.Stdout, marker); !ok {
			r.Status, r.Detail = "wrong", fmt.Sprintf("test %d: %s", i+1, detail)
			return r, nil
		}
		r.Passed++
	}
	r.Status = ExecOK
	return r, nil
}

// verdictMarker is a fresh tag for the driver's verdict line, one no
// solution can print by chance.
func verdictMarker() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "<nsed-verdict-" + hex.EncodeToString(b[:]) + ">"
}

func grade(tc TestCase, stdout, marker string) (bool, string) {
	if tc.TestType == "functional" {
		return gradeCall(stdout, marker)
	}
	if !gradeStdio(stdout, tc.Output) {
		return false, fmt.Sprintf("printed %q, want %q", clip(stdout, 80), clip(tc.Output, 80))
	}
	return true, ""
}

// gradeCall reads the driver's verdict. LiveCodeBench's grader
// (lcb_runner/evaluation/testing_util.py, grade_call_based) compares the
// return value with the JSON-decoded expected output by Python's ==, after
// turning a returned tuple into a list; what the function prints is
// captured and ignored. The driver does exactly that.
func gradeCall(stdout, marker string) (bool, string) {
	i := strings.LastIndex(stdout, marker)
	if i < 0 {
		return false, "the test driver wrote no verdict"
	}
	line, _, _ := strings.Cut(stdout[i+len(marker):], "\n")
	var v struct {
		OK  bool   `json:"ok"`
		Got string `json:"got"`
	}
	if err := json.Unmarshal([]byte(line), &v); err != nil {
		return false, "the test driver's verdict is unreadable: " + err.Error()
	}
	if !v.OK {
		return false, "returned " + clip(v.Got, 80)
	}
	return true, ""
}

// gradeStdio compares a program's output with the expected output as
// LiveCodeBench's grader does (testing_util.py, grade_stdio and
// get_stripped_lines): both are stripped of surrounding whitespace, split
// on newlines and each line stripped, so trailing spaces and blank lines at
// either end don't matter but a blank line inside does; the line counts
// must agree. Two lines agree when they are equal, or else when both split
// on whitespace into the same number of tokens that all parse as Python
// Decimals and are pairwise equal — exact decimal equality ("1.0" is "1",
// "1e2" is "100"), no tolerance: 0.333 is not 0.3333.
func gradeStdio(got, want string) bool {
	g, w := strippedLines(got), strippedLines(want)
	if len(g) != len(w) {
		return false
	}
	for i := range g {
		if g[i] != w[i] && !sameDecimals(g[i], w[i]) {
			return false
		}
	}
	return true
}

func strippedLines(s string) []string {
	lines := strings.Split(strings.TrimFunc(s, isPySpace), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimFunc(l, isPySpace)
	}
	return lines
}

// isPySpace is Python's str.isspace for one character (what strip() and
// split() remove): Go's unicode.IsSpace and the separators U+001C–U+001F.
func isPySpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f }

func sameDecimals(a, b string) bool {
	ta, tb := strings.FieldsFunc(a, isPySpace), strings.FieldsFunc(b, isPySpace)
	if len(ta) != len(tb) {
		return false
	}
	for i := range ta {
		da, okA := pyDecimal(ta[i])
		db, okB := pyDecimal(tb[i])
		if !okA || !okB || da == "nan" || da != db {
			return false
		}
	}
	return true
}

var decimalRe = regexp.MustCompile(`^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$`)

// pyDecimal parses s as Python's Decimal(s) does and returns a canonical
// form — equal numbers, equal forms — or false when Decimal would raise.
// NaN is "nan" (never equal to anything, itself included).
func pyDecimal(s string) (string, bool) {
	s = strings.ToLower(strings.ReplaceAll(s, "_", ""))
	sign := ""
	if s != "" && (s[0] == '+' || s[0] == '-') {
		if s[0] == '-' {
			sign = "-"
		}
		s = s[1:]
	}
	switch {
	case s == "inf" || s == "infinity":
		return sign + "inf", true
	case strings.HasPrefix(s, "nan") && allDigits(s[3:]), strings.HasPrefix(s, "snan") && allDigits(s[4:]):
		return "nan", true
	}
	m := decimalRe.FindStringSubmatch(s)
	if m == nil || m[2] == "" && m[3] == "" {
		return "", false
	}
	digits := strings.TrimLeft(m[2]+m[3], "0")
	if digits == "" {
		return "0", true // -0 == 0
	}
	exp := new(big.Int)
	if m[4] != "" {
		exp.SetString(strings.TrimPrefix(m[4], "+"), 10)
	}
	exp.Sub(exp, big.NewInt(int64(len(m[3]))))
	trimmed := strings.TrimRight(digits, "0")
	exp.Add(exp, big.NewInt(int64(len(digits)-len(trimmed))))
	return sign + trimmed + "e" + exp.String(), true
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
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
