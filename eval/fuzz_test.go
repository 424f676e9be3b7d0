package eval

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Fuzz targets for what the harness reads from outside: dataset files (the
// AIME, LiveCodeBench and DarkBench layouts), LiveCodeBench's pickled test
// sets, and model replies the scorers extract answers from.

// FuzzLoad: a dataset file is anything a user downloads. Loading never
// panics; a bad record is an error naming its line; what loads is well
// formed for its format.
func FuzzLoad(f *testing.F) {
	for _, p := range []string{"samples/aime.jsonl", "samples/lcb.jsonl", "samples/darkbench.jsonl"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint8(0))
	}
	for _, s := range []string{
		"{\"problem\": \"ok 1\", \"answer\": 1}\n{\"problem\": \"broken\", \"answer\": \n\n{\"problem\": \"too big\", \"answer\": 1000}",
		"[\n{\"problem\": \"a\", \"answer\": 1},\n{\"problem\": \"b\"}\n]",
		`{"data": [{"Problem": "p", "Answer": "$073$", "ID": 7}]}`,
		`{"rows": [{"question": "q", "solution": "so \\boxed{42}."}], "data": 5}`,
		`{"question_content": "f", "public_test_cases": "[{\"input\": \"1\", \"output\": \"2\", \"testtype\": \"functional\"}]", "starter_code": "class Solution:\n    def inc(self, x: int) -> int:\n"}`,
		`{"question_content": "p", "private_test_cases": "` + compressedTests(`[{"input": "1\n", "output": "1\n", "testtype": "stdin"}]`) + `"}`,
		"{\"input\": \"p2\", \"target\": \"anthropomorphism\"}\n{\"prompt\": \"p3\", \"category\": \"flattery\"}",
		"\ufeff{\"problem\": \"x\", \"answer\": 99999999999999999999999}\r\n",
	} {
		f.Add([]byte(s), uint8(0))
	}
	formats := []Format{"", FormatAIME, FormatLCB, FormatDarkBench}
	f.Fuzz(func(t *testing.T, data []byte, format uint8) {
		lines := 1 + bytes.Count(data, []byte("\n"))
		for _, skip := range []bool{false, true} {
			o := LoadOptions{Format: formats[int(format)%len(formats)], SkipBad: skip}
			items, bad, err := Load(bytes.NewReader(data), o)
			for _, le := range bad {
				if le.Line < 1 || le.Line > lines {
					t.Fatalf("error on line %d of %d: %v", le.Line, lines, le)
				}
			}
			if err != nil && !strings.Contains(err.Error(), "line ") && err.Error() != "the dataset is empty" {
				t.Fatalf("error names no line: %v", err)
			}
			checkItems(t, items)
		}
	})
}

// An object holding the records under one key and something else under an
// earlier-listed key is read from the array ("the dataset is empty" before).
func TestLoadWrapperTakesTheArray(t *testing.T) {
	items, _, err := Load(strings.NewReader(`{"data": {"split": "test"}, "rows": [{"question": "q", "solution": "so \\boxed{42}."}]}`), LoadOptions{})
	if err != nil || len(items) != 1 || items[0].Answer != "42" {
		t.Fatalf("items %+v, err %v; want the one record under rows", items, err)
	}
}

var canonicalAIME = regexp.MustCompile(`^(0|[1-9]\d{0,2})$`)

func checkItems(t *testing.T, items []Item) {
	t.Helper()
	ids := map[string]bool{}
	for _, it := range items {
		if it.ID == "" || ids[it.ID] || strings.TrimSpace(it.Problem) == "" {
			t.Fatalf("item %+v: empty or repeated id, or no problem", it)
		}
		ids[it.ID] = true
		switch it.Format {
		case FormatAIME:
			if !canonicalAIME.MatchString(it.Answer) {
				t.Fatalf("AIME answer %q", it.Answer)
			}
		case FormatLCB:
			if len(it.Tests) == 0 {
				t.Fatalf("LiveCodeBench item %s without tests", it.ID)
			}
			for _, tc := range it.Tests {
				if tc.TestType != "stdin" && (tc.TestType != "functional" || it.FuncName == "") {
					t.Fatalf("test %+v of %+v", tc, it)
				}
			}
		case FormatDarkBench:
			if NormalizeCategory(it.Category) != it.Category || it.Category == "" {
				t.Fatalf("category %q", it.Category)
			}
		default:
			t.Fatalf("format %q", it.Format)
		}
	}
}

// pickleStr is what Python's pickle.dumps(s) writes for a str: protocol 4,
// one frame, the shortest string opcode.
func pickleStr(s string) []byte {
	var body []byte
	switch {
	case len(s) < 256:
		body = append([]byte{0x8c, byte(len(s))}, s...)
	default:
		body = binary.LittleEndian.AppendUint32([]byte{'X'}, uint32(len(s)))
		body = append(body, s...)
	}
	body = append(body, 0x94, '.')
	p := binary.LittleEndian.AppendUint64([]byte{0x80, 4, 0x95}, uint64(len(body)))
	return append(p, body...)
}

// compressedTests packs a test list as LiveCodeBench's files do:
// base64(zlib(pickle(json))).
func compressedTests(json string) string {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(pickleStr(json))
	w.Close()
	return base64.StdEncoding.EncodeToString(z.Bytes())
}

// FuzzUnpickle: the pickle decoder reads only a pickled str, whatever bytes
// it is given, and reads back every str pickled as Python does.
func FuzzUnpickle(f *testing.F) {
	f.Add(pickleStr(`[{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]`), "")
	f.Add(pickleStr(strings.Repeat("x", 300)), "é\x00")
	f.Add([]byte{0x80, 4, 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'a', '.'}, "")
	f.Add([]byte("cos\nsystem\n(S'echo pwned'\ntR."), "") // a protocol 0 exploit: refused
	f.Fuzz(func(t *testing.T, p []byte, s string) {
		got, err := unpickleString(p)
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		w.Write(p)
		w.Close()
		viaFile, ferr := decodeCompressedTests(base64.StdEncoding.EncodeToString(z.Bytes()))
		if (err == nil) != (ferr == nil) || err == nil && string(viaFile) != got {
			t.Fatalf("decoding the packed pickle gives %q, %v; the pickle alone %q, %v", viaFile, ferr, got, err)
		}
		if back, err := unpickleString(pickleStr(s)); err != nil || back != s {
			t.Fatalf("pickled %q reads back as %q, %v", s, back, err)
		}
	})
}

// replySeeds are answer styles real models write.
var replySeeds = []string{
	"Work.\n\n**Final Answer**\n\\[\n\\boxed{376}\n\\]",
	"So it is 376.\n\nThe final answer is: $\\boxed{376}$",
	"Reasoning.\n\n**Answer:** 376",
	"The answer is \\boxed{1{,}000}, not \\boxed{}.",
	"Answer:\n 042\r\n",
	"x = 3.5 so \\fbox{\\text{ 12 }} then 99999999999999999999999",
	"```python\nimport sys\nprint(sum(map(int, sys.stdin.read().split())))\n```",
	"Here:\n```py\ndef f(x):\n    return x\n```\nand ```\nnot this\n```\n```python3\nfinal = 1",
	"def solve():\n    pass\nprint(solve())",
}

// FuzzExtractAIME: the extracted answer is an integer written plainly, or
// nothing.
func FuzzExtractAIME(f *testing.F) {
	for _, s := range replySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got := ExtractAIME(text)
		if got == "" {
			return
		}
		if n, err := strconv.Atoi(got); err != nil || strconv.Itoa(n) != got {
			t.Fatalf("ExtractAIME(%q) = %q, not a plain integer", text, got)
		}
	})
}

// FuzzExtractCode: the extracted code is cut from the reply, never made up.
func FuzzExtractCode(f *testing.F) {
	for _, s := range replySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if got := ExtractCode(text); !strings.Contains(strings.ReplaceAll(text, "\r\n", "\n"), got) {
			t.Fatalf("ExtractCode(%q) = %q, not in the reply", text, got)
		}
	})
}
