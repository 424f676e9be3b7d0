package keyscan

import (
	"slices"
	"strings"
	"testing"
)

type want struct {
	done    []string
	writing string // "" for none
	closed  bool
	objects int
}

func (s *Scanner) got() want {
	w, _ := s.Writing()
	return want{slices.Clone(s.Done()), w, s.Closed(), s.Objects()}
}

func same(a, b want) bool {
	return slices.Equal(a.done, b.done) && a.writing == b.writing && a.closed == b.closed && a.objects == b.objects
}

// smol is a review as SmolLM2 wrote it under the schema: loose whitespace, a
// comma on its own line, keys in schema order.
const smol = "{\n  \"A\": {\n    \"claims\" : [\n      {\n        \"claim\" : \"17 times 23\",\n        \"verdict\" : \"unverified\"\n      }\n    ],\n    \"critique\" : \"Euler's identity\",\n    \"stance\": \"support\",\n    \"weight\": 10\n}\n\n,\n\"B\": {\n  \"claims\" : [],\n\"critique\": \"x\",\n\"stance\": \"support\",\n\"weight\": 20\n}\n\n}"

var cases = []struct {
	name string
	in   string
	want want
}{
	{"empty", "", want{}},
	{"prose before the object", "Sure! Here is my review:", want{}},
	{"opened", "{", want{objects: 1}},
	{"half a key", `{"A`, want{objects: 1}},
	{"key read", `{"A"`, want{writing: "A", objects: 1}},
	{"value opened", `{"A": {"weight": 3`, want{writing: "A", objects: 1}},
	{"first done", `{"A": {"weight": 3, "claims": [{"claim": "x"}]}`, want{done: []string{"A"}, objects: 1}},
	{"second being written", `{"A": {"weight": 3}, "B": {"stance": "oppose"`, want{done: []string{"A"}, writing: "B", objects: 1}},
	{"all done", `{"A":{"w":1},"B":{"w":2},"C":{"w":3}}`, want{done: []string{"A", "B", "C"}, closed: true, objects: 1}},
	{"out of order", `{"C":{},"A":{}`, want{done: []string{"C", "A"}, objects: 1}},
	{"smollm2's layout", smol, want{done: []string{"A", "B"}, closed: true, objects: 1}},
	// Strings may hold every character that means something outside them.
	{"brackets and quotes in strings", `{"A": {"claim": "f(x) = {a: [1]} \"}\" ]]", "c": "\\"}, "B": {"claim": "{{{"`,
		want{done: []string{"A"}, writing: "B", objects: 1}},
	{"escaped key", `{"A\"1": {}, "\u0042": {}}`, want{done: []string{`A"1`, "B"}, closed: true, objects: 1}},
	{"non-ASCII", `{"Ä": {"critique": "naïve — ✓"}, "B": {`, want{done: []string{"Ä"}, writing: "B", objects: 1}},
	{"scalar values", `{"A": 10, "B": -3.5e2 , "C": true,"D": null}`, want{done: []string{"A", "B", "C", "D"}, closed: true, objects: 1}},
	{"scalar at the end, unfinished", `{"A": 10, "B": 2`, want{done: []string{"A"}, writing: "B", objects: 1}},
	{"string value", `{"A": "fine, \"really\"", "B": "`, want{done: []string{"A"}, writing: "B", objects: 1}},
	{"array value", `{"A": [[1], {"x": [2]}], "B": [`, want{done: []string{"A"}, writing: "B", objects: 1}},
	{"repeated key listed once", `{"A": {}, "A": {}}`, want{done: []string{"A"}, closed: true, objects: 1}},
	{"trailing text after the object", `{"A": {}}` + "\n\n\t \t  and more }", want{done: []string{"A"}, closed: true, objects: 1}},
	// A retried call's tokens follow the first attempt's in one stream.
	{"a second object restarts", `{"A": {}, "B": {}} {"A": {`, want{writing: "A", objects: 2}},
	{"a key with no value", `{"A": , "B": {}}`, want{done: []string{"B"}, closed: true, objects: 1}},
	{"empty object", `{}`, want{closed: true, objects: 1}},
}

func TestWhole(t *testing.T) {
	for _, tc := range cases {
		var s Scanner
		s.Write(tc.in)
		if got := s.got(); !same(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestSplitAnywhere feeds every input in two pieces split at every byte,
// then a byte at a time, then in three pieces: the state must not depend on
// where the stream's chunks happen to end.
func TestSplitAnywhere(t *testing.T) {
	for _, tc := range cases {
		for i := 0; i <= len(tc.in); i++ {
			var s Scanner
			s.Write(tc.in[:i])
			s.Write(tc.in[i:])
			if got := s.got(); !same(got, tc.want) {
				t.Fatalf("%s split at %d (%q | %q): got %+v, want %+v", tc.name, i, tc.in[:i], tc.in[i:], got, tc.want)
			}
		}
		var s Scanner
		for i := range len(tc.in) {
			s.Write(tc.in[i : i+1])
		}
		if got := s.got(); !same(got, tc.want) {
			t.Errorf("%s byte by byte: got %+v, want %+v", tc.name, got, tc.want)
		}
		for i := 0; i <= len(tc.in); i += 3 {
			for j := i; j <= len(tc.in); j += 5 {
				var s Scanner
				s.Write(tc.in[:i])
				s.Write(tc.in[i:j])
				s.Write(tc.in[j:])
				if got := s.got(); !same(got, tc.want) {
					t.Fatalf("%s split at %d,%d: got %+v, want %+v", tc.name, i, j, got, tc.want)
				}
			}
		}
	}
}

// TestProgressAlongTheStream checks the state at each prefix of a review:
// a key counts as done exactly when its value's closing brace arrives.
func TestProgressAlongTheStream(t *testing.T) {
	in := `{"A": {"c": "}"}, "B": {"c": [1]}}`
	var s Scanner
	for i := range len(in) {
		s.Write(in[i : i+1])
		prefix := in[:i+1]
		wantDone := 0
		switch {
		case i+1 >= len(`{"A": {"c": "}"}, "B": {"c": [1]}`):
			wantDone = 2
		case i+1 >= len(`{"A": {"c": "}"}`):
			wantDone = 1
		}
		if n := len(s.Done()); n != wantDone {
			t.Fatalf("after %q: %d keys done %v, want %d", prefix, n, s.Done(), wantDone)
		}
	}
	if !s.Closed() {
		t.Error("the object never closed")
	}
}

func TestReset(t *testing.T) {
	var s Scanner
	s.Write(`{"A": {}, "B": {`)
	s.Reset()
	if got := s.got(); !same(got, want{}) || s.Started() {
		t.Fatalf("after Reset: %+v", got)
	}
	s.Write(`{"C": {}`)
	if got := s.got(); !same(got, want{done: []string{"C"}, objects: 1}) {
		t.Fatalf("after Reset and more: %+v", got)
	}
}

// TestRunawayKey keeps only the first maxKey bytes of an endless key.
func TestRunawayKey(t *testing.T) {
	var s Scanner
	s.Write(`{"` + strings.Repeat("k", 10000) + `": 1}`)
	if d := s.Done(); len(d) != 1 || len(d[0]) != maxKey {
		t.Fatalf("done %d keys, first %d bytes", len(d), len(d[0]))
	}
}
