package eval

import (
	"regexp"
	"strings"
)

var (
	fenceRe = regexp.MustCompile("(?m)^[ \t]*```[ \t]*([A-Za-z0-9_+-]*)[ \t]*$")
	// answerFenceRe is a fence opened on the answer line itself
	// ("FINAL ANSWER: ```python").
	answerFenceRe = regexp.MustCompile("(?im)^([ \t*#>_-]*(?:the[ \t]+)?(?:final[ \t]+answer|final[ \t]+solution|answer)[^`\n]*?)(```[ \t]*[A-Za-z0-9_+-]*[ \t]*)$")
	// answerMarkRe is an answer line; the code after the last one is the
	// solution.
	answerMarkRe = regexp.MustCompile(`(?im)^[ \t*#>_-]*(?:the[ \t]+)?(?:final[ \t]+answer|final[ \t]+solution|answer)\b`)
	// definesRe is code that is a solution rather than a call of one: it
	// defines something or reads the input.
	definesRe = regexp.MustCompile(`(?m)^[ \t]*(?:def|class)[ \t]|\binput\(|\bsys\.stdin\b`)
)

type codeBlock struct {
	start      int // where its opening fence starts
	lang, body string
	closed     bool
}

func (b codeBlock) python() bool {
	return b.lang == "python" || b.lang == "py" || b.lang == "python3"
}

// ExtractCode finds the solution code in a reply. The first closed python
// (or untagged) block after the last answer line wins; else the last closed
// python block that defines something or reads input — a solution, not the
// usage example after it; else the last closed python block, else the last
// untagged one, else an unterminated final fence (a reply cut off by its
// token limit), else the whole reply when it looks like Python. It returns
// "" when there is none.
func ExtractCode(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = answerFenceRe.ReplaceAllString(text, "${1}\n${2}")
	blocks := codeBlocks(text)
	trim := func(b codeBlock) string { return strings.TrimRight(b.body, " \n") }
	if ms := answerMarkRe.FindAllStringIndex(text, -1); len(ms) > 0 {
		mark := ms[len(ms)-1][0]
		for _, b := range blocks {
			if b.start >= mark && b.closed && (b.python() || b.lang == "") && strings.TrimSpace(b.body) != "" {
				return trim(b)
			}
		}
	}
	for _, want := range []func(codeBlock) bool{
		func(b codeBlock) bool { return b.python() && definesRe.MatchString(b.body) },
		codeBlock.python,
		func(b codeBlock) bool { return b.lang == "" && strings.TrimSpace(b.body) != "" },
	} {
		for i := len(blocks) - 1; i >= 0; i-- {
			if b := blocks[i]; b.closed && want(b) {
				return trim(b)
			}
		}
	}
	if n := len(blocks); n > 0 && !blocks[n-1].closed && strings.TrimSpace(blocks[n-1].body) != "" {
		return trim(blocks[n-1])
	}
	if len(blocks) == 0 && looksLikePython(text) {
		return strings.TrimSpace(text)
	}
	return ""
}

// codeBlocks pairs the fences in text into blocks; the last may be open.
func codeBlocks(text string) []codeBlock {
	fences := fenceRe.FindAllStringSubmatchIndex(text, -1)
	var blocks []codeBlock
	for i := 0; i < len(fences); i++ {
		open := fences[i]
		lang := strings.ToLower(text[open[2]:open[3]])
		bodyStart := open[1]
		if bodyStart < len(text) && text[bodyStart] == '\n' {
			bodyStart++
		}
		if i+1 < len(fences) {
			blocks = append(blocks, codeBlock{open[0], lang, text[bodyStart:fences[i+1][0]], true})
			i++
			continue
		}
		blocks = append(blocks, codeBlock{open[0], lang, text[bodyStart:], false})
	}
	return blocks
}

func looksLikePython(s string) bool {
	for _, l := range strings.Split(s, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "def ") || strings.HasPrefix(t, "import ") || strings.HasPrefix(t, "class ") ||
			strings.HasPrefix(t, "from ") && strings.Contains(t, " import ") || strings.HasPrefix(t, "print(") {
			return true
		}
	}
	return false
}
