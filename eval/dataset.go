// Package eval is nsed's research harness: it loads benchmark datasets
// (AIME-style math, LiveCodeBench-style code, DarkBench), runs each item
// through NSED and through baseline protocols on the same backends, scores
// the answers, and writes reports. Every protocol talks to the models only
// through a models.Backend and reports what it does as engine events, so
// transcripts, printers and the TUI can read a baseline like an NSED run.
package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Format is a dataset layout.
type Format string

const (
	FormatAIME      Format = "aime"
	FormatLCB       Format = "lcb"
	FormatDarkBench Format = "darkbench"
)

// ParseFormat accepts a format name ("" means detect).
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case "", FormatAIME, FormatLCB, FormatDarkBench:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q (want aime, lcb or darkbench)", s)
}

// TestCase is one LiveCodeBench test. TestType is "stdin" (Input is fed to
// the program, Output compared with what it prints) or "functional" (Input
// is one JSON value per line, the arguments of the starter code's method,
// and Output the JSON of its return value).
type TestCase struct {
	Input    string `json:"input"`
	Output   string `json:"output"`
	TestType string `json:"testtype"`
}

// Item is one benchmark question in any format.
type Item struct {
	ID      string `json:"id"`
	Format  Format `json:"format"`
	Problem string `json:"problem"`
	// Answer is the reference answer (AIME: the integer, as text).
	Answer string `json:"answer,omitempty"`
	// StarterCode, FuncName and Tests are LiveCodeBench's.
	StarterCode string     `json:"starter_code,omitempty"`
	FuncName    string     `json:"func_name,omitempty"`
	Tests       []TestCase `json:"tests,omitempty"`
	// Category is DarkBench's (normalised, see Categories).
	Category string `json:"category,omitempty"`
}

// Categories are DarkBench's six dark-pattern categories, normalised.
var Categories = []string{"anthropomorphization", "brand-bias", "harmful-generation", "sneaking", "sycophancy", "user-retention"}

// NormalizeCategory maps the spellings in the wild ("Brand Bias",
// "brand_bias", "anthropomorphism") to the names in Categories; it returns
// "" for anything else.
func NormalizeCategory(s string) string {
	k := strings.NewReplacer("_", "-", " ", "-").Replace(strings.ToLower(strings.TrimSpace(s)))
	switch k {
	case "anthropomorphism", "anthropomorphisation", "anthropomorphization":
		return "anthropomorphization"
	case "brand-bias", "brandbias", "harmful-generation", "harmfulgeneration", "sneaking",
		"sycophancy", "user-retention", "userretention":
		for _, c := range Categories {
			if strings.ReplaceAll(c, "-", "") == strings.ReplaceAll(k, "-", "") {
				return c
			}
		}
	}
	return ""
}

// LoadOptions tune Load.
type LoadOptions struct {
	Format Format // "" detects it from the first record
	// Field names to use instead of the common ones (problem/question/Problem,
	// answer/Answer/solution, id/problem_idx, prompt/input, category/target).
	ProblemField, AnswerField, IDField, CategoryField string
	// SkipBad keeps going past malformed records, returning them as
	// LineErrors; otherwise the first one is the error.
	SkipBad bool
}

// LineError is a record that could not be read, with its line number.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// LoadFile reads a dataset file; see Load.
func LoadFile(path string, o LoadOptions) ([]Item, []*LineError, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	items, bad, err := Load(f, o)
	if err != nil {
		return items, bad, fmt.Errorf("%s: %w", path, err)
	}
	return items, bad, nil
}

// Load reads a dataset: JSON Lines (one record per line) or one JSON array
// of records, or an object holding such an array under "data", "rows",
// "problems" or "items". Records are objects in the AIME, LiveCodeBench or
// DarkBench layout; the format is detected from the first record unless
// given. A malformed record is an error naming its line.
func Load(r io.Reader, o LoadOptions) ([]Item, []*LineError, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, err
	}
	recs, err := records(data)
	if err != nil {
		return nil, nil, err
	}
	var items []Item
	var bad []*LineError
	seen := map[string]int{}
	format := o.Format
	for i, rec := range recs {
		var it Item
		err := rec.err
		if err == nil && format == "" {
			format, err = detect(rec.fields, o)
		}
		if err == nil {
			it, err = parseItem(rec.fields, format, o, i)
		}
		if err == nil {
			if prev, dup := seen[it.ID]; dup {
				err = fmt.Errorf("id %q is used twice (first on line %d)", it.ID, prev)
			} else {
				seen[it.ID] = rec.line
			}
		}
		if err != nil {
			le := &LineError{Line: rec.line, Err: err}
			if !o.SkipBad {
				return items, append(bad, le), fmt.Errorf("%w (use --skip-bad to skip such records)", le)
			}
			bad = append(bad, le)
			continue
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		if len(bad) > 0 {
			return nil, bad, fmt.Errorf("no readable records (%d malformed; first: %v)", len(bad), bad[0])
		}
		return nil, nil, errors.New("the dataset is empty")
	}
	return items, bad, nil
}

type record struct {
	line   int
	fields map[string]json.RawMessage
	err    error
}

func records(data []byte) ([]record, error) {
	trim := bytes.TrimLeft(data, " \t\r\n\ufeff")
	trim = bytes.TrimPrefix(trim, []byte("\ufeff"))
	lineAt := func(off int64) int { return 1 + bytes.Count(data[:min(int(off), len(data))], []byte("\n")) }
	if len(trim) > 0 && (trim[0] == '[' || (trim[0] == '{' && isWrapper(trim))) {
		// One JSON document.
		start := int64(len(data) - len(trim))
		dec := json.NewDecoder(bytes.NewReader(trim))
		if trim[0] == '{' {
			var wrap map[string]json.RawMessage
			if err := json.Unmarshal(trim, &wrap); err != nil {
				return nil, err
			}
			for _, k := range wrapperKeys {
				if v, ok := wrap[k]; ok && isArray(v) {
					off := bytes.Index(trim, v)
					start += int64(off)
					dec = json.NewDecoder(bytes.NewReader(v))
					break
				}
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, &LineError{Line: lineAt(start), Err: err}
		}
		var out []record
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				// The array itself is broken: nothing after this can be trusted.
				return nil, &LineError{Line: lineAt(start + dec.InputOffset()), Err: err}
			}
			rec := record{line: lineAt(start + dec.InputOffset() - int64(len(raw)))}
			rec.err = json.Unmarshal(raw, &rec.fields)
			out = append(out, rec)
		}
		return out, nil
	}
	var out []record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		rec := record{line: n}
		if err := json.Unmarshal(line, &rec.fields); err != nil {
			rec.err = fmt.Errorf("not a JSON object: %w", err)
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}

// isWrapper tells a single JSON object holding the records apart from the
// first line of a JSON Lines file.
func isWrapper(b []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return false
	}
	for _, k := range wrapperKeys {
		if isArray(m[k]) {
			return true
		}
	}
	return false
}

// wrapperKeys are where a single JSON object may hold the records: the
// first of them whose value is an array.
var wrapperKeys = []string{"data", "rows", "problems", "items"}

func isArray(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && v[0] == '['
}

func detect(f map[string]json.RawMessage, o LoadOptions) (Format, error) {
	has := func(ks ...string) bool {
		for _, k := range ks {
			if _, ok := f[k]; ok {
				return true
			}
		}
		return false
	}
	switch {
	case has("question_content", "public_test_cases", "private_test_cases"):
		return FormatLCB, nil
	case has("category", "Category", "target", o.CategoryField) && has("prompt", "Prompt", "input", "Input", o.ProblemField):
		return FormatDarkBench, nil
	case has("answer", "Answer", "solution", "Solution", o.AnswerField):
		return FormatAIME, nil
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	return "", fmt.Errorf("cannot tell the format from the fields %v; pass --format", keys)
}

// str reads the first present field among keys as text: strings as they
// are, numbers as their literal.
func str(f map[string]json.RawMessage, keys ...string) (string, string, bool) {
	for _, k := range keys {
		if k == "" {
			continue
		}
		raw, ok := f[k]
		if !ok || string(raw) == "null" {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s, k, true
		}
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String(), k, true
		}
		return strings.TrimSpace(string(raw)), k, true
	}
	return "", "", false
}

func parseItem(f map[string]json.RawMessage, format Format, o LoadOptions, idx int) (Item, error) {
	it := Item{Format: format}
	id, _, _ := str(f, o.IDField, "id", "ID", "problem_idx", "question_id", "idx", "problem_id")
	if strings.TrimSpace(id) == "" {
		id = strconv.Itoa(idx + 1)
	}
	it.ID = strings.TrimSpace(id)
	switch format {
	case FormatAIME:
		p, _, ok := str(f, o.ProblemField, "problem", "question", "Problem", "Question")
		if !ok || strings.TrimSpace(p) == "" {
			return it, errors.New("no problem text (fields problem/question/Problem; map others with --problem-field)")
		}
		it.Problem = p
		a, key, ok := str(f, o.AnswerField, "answer", "Answer", "solution", "Solution")
		if !ok {
			return it, errors.New("no answer (fields answer/Answer/solution; map others with --answer-field)")
		}
		if key == "solution" || key == "Solution" {
			a = ExtractAIME(a)
		}
		n, err := parseAIMEAnswer(a)
		if err != nil {
			return it, fmt.Errorf("answer %q: %w", a, err)
		}
		it.Answer = strconv.Itoa(n)
	case FormatLCB:
		p, _, ok := str(f, o.ProblemField, "question_content", "problem", "question")
		if !ok || strings.TrimSpace(p) == "" {
			return it, errors.New("no question_content")
		}
		it.Problem = p
		if t, _, ok := str(f, "question_title"); ok && t != "" {
			it.Problem = t + "\n\n" + p
		}
		if id, _, ok := str(f, o.IDField, "question_id"); ok && id != "" {
			it.ID = id
		}
		it.StarterCode, _, _ = str(f, "starter_code")
		if meta, _, ok := str(f, "metadata"); ok && meta != "" {
			var m struct {
				FuncName string `json:"func_name"`
			}
			_ = json.Unmarshal([]byte(meta), &m)
			it.FuncName = m.FuncName
		}
		for _, k := range []string{"public_test_cases", "private_test_cases"} {
			raw, ok := f[k]
			if !ok {
				continue
			}
			tests, err := parseTests(raw)
			if err != nil {
				return it, fmt.Errorf("%s: %w", k, err)
			}
			it.Tests = append(it.Tests, tests...)
		}
		if len(it.Tests) == 0 {
			return it, errors.New("no test cases (public_test_cases/private_test_cases)")
		}
		for i, tc := range it.Tests {
			switch tc.TestType {
			case "stdin":
			case "functional":
				if it.FuncName == "" {
					it.FuncName = funcNameOf(it.StarterCode)
				}
				if it.FuncName == "" {
					return it, fmt.Errorf("test %d is functional but the starter code names no method", i+1)
				}
			default:
				return it, fmt.Errorf("test %d: testtype %q (want stdin or functional)", i+1, tc.TestType)
			}
		}
	case FormatDarkBench:
		p, _, ok := str(f, o.ProblemField, "prompt", "Prompt", "input", "Input")
		if !ok || strings.TrimSpace(p) == "" {
			return it, errors.New("no prompt (fields prompt/input; map others with --problem-field)")
		}
		it.Problem = p
		c, _, ok := str(f, o.CategoryField, "category", "Category", "target", "type")
		if !ok {
			return it, errors.New("no category")
		}
		if it.Category = NormalizeCategory(c); it.Category == "" {
			return it, fmt.Errorf("category %q is none of %s", c, strings.Join(Categories, ", "))
		}
	default:
		return it, fmt.Errorf("unknown format %q", format)
	}
	return it, nil
}

func parseAIMEAnswer(a string) (int, error) {
	a = strings.TrimSpace(a)
	a = strings.TrimPrefix(a, "$")
	a = strings.TrimSuffix(a, "$")
	n, err := strconv.Atoi(strings.TrimSpace(a))
	if err != nil {
		return 0, errors.New("not an integer")
	}
	if n < 0 || n > 999 {
		return 0, errors.New("outside 0–999")
	}
	return n, nil
}

// parseTests reads LiveCodeBench test cases: a JSON array, or a JSON string
// holding one (as the public files store them).
func parseTests(raw json.RawMessage) ([]TestCase, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		raw = json.RawMessage(s)
		if t := strings.TrimSpace(s); t[0] != '[' {
			dec, err := decodeCompressedTests(t)
			if err != nil {
				return nil, err
			}
			raw = dec
		}
	}
	var tests []TestCase
	if err := json.Unmarshal(raw, &tests); err != nil {
		return nil, fmt.Errorf("not a JSON list of {input, output, testtype}: %w", err)
	}
	return tests, nil
}

// funcNameOf finds the first method of class Solution in the starter code.
func funcNameOf(starter string) string {
	in := false
	for _, line := range strings.Split(starter, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "class ") {
			in = true
			continue
		}
		if in && strings.HasPrefix(t, "def ") {
			name := strings.TrimPrefix(t, "def ")
			if i := strings.IndexByte(name, '('); i > 0 {
				return strings.TrimSpace(name[:i])
			}
		}
	}
	return ""
}
