package eval

import (
	"regexp"
	"strings"
)

var fenceRe = regexp.MustCompile("(?m)^[ \t]*```[ \t]*([A-Za-z0-9_+-]*)[ \t]*$")

// ExtractCode finds the solution code in a reply: the last fenced block
// tagged python (or py/python3), else the last fenced block, else an
// unterminated final fence (a reply cut off by its token limit), else the
// whole reply when it looks like Python. It returns "" when there is none.
func ExtractCode(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	fences := fenceRe.FindAllStringSubmatchIndex(text, -1)
	type block struct {
		lang, body string
		closed     bool
	}
	var blocks []block
	for i := 0; i < len(fences); i++ {
		open := fences[i]
		lang := strings.ToLower(text[open[2]:open[3]])
		bodyStart := open[1]
		if bodyStart < len(text) && text[bodyStart] == '\n' {
			bodyStart++
		}
		if i+1 < len(fences) {
			closeF := fences[i+1]
			blocks = append(blocks, block{lang, text[bodyStart:closeF[0]], true})
			i++
			continue
		}
		blocks = append(blocks, block{lang, text[bodyStart:], false})
	}
	for i := len(blocks) - 1; i >= 0; i-- {
		if b := blocks[i]; b.closed && (b.lang == "python" || b.lang == "py" || b.lang == "python3") {
			return strings.TrimRight(b.body, " \n")
		}
	}
	for i := len(blocks) - 1; i >= 0; i-- {
		if b := blocks[i]; b.closed && b.lang == "" && strings.TrimSpace(b.body) != "" {
			return strings.TrimRight(b.body, " \n")
		}
	}
	if n := len(blocks); n > 0 && !blocks[n-1].closed && strings.TrimSpace(blocks[n-1].body) != "" {
		return strings.TrimRight(blocks[n-1].body, " \n")
	}
	if len(fences) == 0 && looksLikePython(text) {
		return strings.TrimSpace(text)
	}
	return ""
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
