package eval

import (
	"errors"
	"strings"
	"testing"
)

func TestSamplesLoad(t *testing.T) {
	for _, name := range SampleNames {
		items, bad, hash, err := LoadDataset(SamplePrefix+name, LoadOptions{})
		if err != nil || len(bad) > 0 || hash == "" {
			t.Fatalf("%s: err %v, bad %v", name, err, bad)
		}
		if len(items) < 4 {
			t.Errorf("%s: %d items, want a handful", name, len(items))
		}
		want := name
		if name == "arithmetic" { // sums in the AIME layout
			want = string(FormatAIME)
		}
		if string(items[0].Format) != want {
			t.Errorf("%s: detected %q", name, items[0].Format)
		}
	}
	items, _, _, _ := LoadDataset("sample:lcb", LoadOptions{})
	var stdin, functional, packed int
	for _, it := range items {
		for _, tc := range it.Tests {
			if tc.TestType == "stdin" {
				stdin++
			} else {
				functional++
			}
		}
		if it.ID == "lcb-s-2" {
			packed = len(it.Tests)
		}
		if it.ID == "lcb-s-3" && it.FuncName != "maxPairSum" {
			t.Errorf("func name %q", it.FuncName)
		}
	}
	if stdin == 0 || functional == 0 || packed != 3 {
		t.Errorf("lcb sample: %d stdin, %d functional tests; the packed item has %d tests, want 3", stdin, functional, packed)
	}
}

func TestLoadAIMELayouts(t *testing.T) {
	cases := []struct {
		name, data string
		o          LoadOptions
		wantID     string
		wantAnswer string
	}{
		{"jsonl problem/answer", `{"id": 7, "problem": "P", "answer": "073"}`, LoadOptions{}, "7", "73"},
		{"question/Answer numeric", `{"question": "Q", "Answer": 12}`, LoadOptions{}, "1", "12"},
		{"Problem/solution", `{"Problem": "Q", "solution": "... so \\boxed{204}"}`, LoadOptions{}, "1", "204"},
		{"problem_idx", `{"problem_idx": 3, "problem": "Q", "answer": 5}`, LoadOptions{}, "3", "5"},
		{"json array", "[\n {\"problem\": \"a\", \"answer\": 1},\n {\"problem\": \"b\", \"answer\": 2}\n]", LoadOptions{}, "1", "1"},
		{"wrapped", `{"data": [{"problem": "a", "answer": 9}]}`, LoadOptions{}, "1", "9"},
		{"mapped fields", `{"uid": "x9", "text": "Q", "gold": "42"}`, LoadOptions{Format: FormatAIME, ProblemField: "text", AnswerField: "gold", IDField: "uid"}, "x9", "42"},
	}
	for _, c := range cases {
		items, _, err := Load(strings.NewReader(c.data), c.o)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if items[0].Format != FormatAIME || items[0].ID != c.wantID || items[0].Answer != c.wantAnswer {
			t.Errorf("%s: got %+v", c.name, items[0])
		}
	}
}

func TestLoadMalformed(t *testing.T) {
	data := strings.Join([]string{
		`{"problem": "ok 1", "answer": 1}`,
		`{"problem": "broken", "answer": `,
		``,
		`{"problem": "no answer"}`,
		`{"problem": "too big", "answer": 1000}`,
		`{"problem": "ok 2", "answer": "2"}`,
	}, "\n")
	_, _, err := Load(strings.NewReader(data), LoadOptions{})
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "--skip-bad") {
		t.Fatalf("err = %v, want a line-2 error suggesting --skip-bad", err)
	}
	items, bad, err := Load(strings.NewReader(data), LoadOptions{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Problem != "ok 1" || items[1].Problem != "ok 2" {
		t.Errorf("kept %+v", items)
	}
	var lines []int
	for _, b := range bad {
		lines = append(lines, b.Line)
	}
	if len(lines) != 3 || lines[0] != 2 || lines[1] != 4 || lines[2] != 5 {
		t.Errorf("bad lines %v, want [2 4 5]", lines)
	}
	// In a JSON array the error names the record's line too.
	arr := "[\n{\"problem\": \"a\", \"answer\": 1},\n{\"problem\": \"b\"}\n]"
	if _, _, err := Load(strings.NewReader(arr), LoadOptions{}); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("array err = %v, want line 3", err)
	}
	if _, _, err := Load(strings.NewReader("\n\n"), LoadOptions{}); err == nil {
		t.Error("empty dataset accepted")
	}
	if _, _, err := Load(strings.NewReader(`{"problem":"a","answer":1}`+"\n"+`{"problem":"a","answer":1, "id": "1"}`), LoadOptions{}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate id: %v", err)
	}
}

func TestLoadLCBAndDarkBench(t *testing.T) {
	lcb := `{"question_content": "Print 1", "public_test_cases": "[{\"input\": \"\", \"output\": \"1\", \"testtype\": \"stdin\"}]", "private_test_cases": "", "starter_code": ""}
{"question_content": "f", "public_test_cases": "[{\"input\": \"1\", \"output\": \"2\", \"testtype\": \"functional\"}]", "starter_code": "class Solution:\n    def inc(self, x: int) -> int:\n"}
{"question_content": "bad", "public_test_cases": "not json"}
{"question_content": "bad type", "public_test_cases": "[{\"input\": \"\", \"output\": \"\", \"testtype\": \"weird\"}]"}`
	items, bad, err := Load(strings.NewReader(lcb), LoadOptions{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[1].FuncName != "inc" || len(bad) != 2 || bad[0].Line != 3 || bad[1].Line != 4 {
		t.Errorf("items %+v bad %v", items, bad)
	}
	db := `{"prompt": "p1", "category": "Brand Bias"}
{"input": "p2", "target": "anthropomorphism"}
{"prompt": "p3", "category": "flattery"}`
	items, bad, err = Load(strings.NewReader(db), LoadOptions{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Category != "brand-bias" || items[1].Category != "anthropomorphization" || len(bad) != 1 || bad[0].Line != 3 {
		t.Errorf("items %+v bad %v", items, bad)
	}
	if _, _, err := Load(strings.NewReader(`{"foo": 1}`), LoadOptions{}); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Errorf("undetectable: %v", err)
	}
}
