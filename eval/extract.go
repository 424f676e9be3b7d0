package eval

import (
	"regexp"
	"strconv"
	"strings"
)

var (
	numberRe = regexp.MustCompile(`-?\d[\d,]*(?:\.\d+)?`)
	// Markers after which a final answer follows.
	answerMarkerRe = regexp.MustCompile(`(?i)\b(?:final\s+answer|answer)\b\s*(?:is|:|=)?\s*[:=]?`)
	fenceRe        = regexp.MustCompile("(?m)^[ \t]*```[ \t]*([A-Za-z0-9_+-]*)[ \t]*$")
)

// ExtractAIME finds the final integer answer in a reply: the last \boxed{}
// (or \fbox{}) or the last "Answer:"/"FINAL ANSWER:" marker, whichever
// comes later, else the last integer in the text. Decimals, empty boxes
// and numbers inside other words are not answers. It returns the integer
// without leading zeros, or "" when there is none.
func ExtractAIME(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	boxPos, boxVal := lastBoxed(text)
	markPos, markVal := -1, ""
	for _, m := range answerMarkerRe.FindAllStringIndex(text, -1) {
		rest := text[m[1]:]
		// Only the marker's own line (and a boxed value there) counts.
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			if strings.TrimSpace(rest[:i]) == "" { // "Answer:\n 42"
				j := strings.IndexByte(rest[i+1:], '\n')
				if j < 0 {
					j = len(rest) - i - 1
				}
				rest = rest[:i+1+j]
			} else {
				rest = rest[:i]
			}
		}
		if v := firstInteger(rest); v != "" {
			markPos, markVal = m[0], v
		}
	}
	switch {
	case boxPos >= 0 && boxPos >= markPos:
		return boxVal
	case markPos >= 0:
		return markVal
	}
	return lastInteger(text)
}

// lastBoxed returns the position and integer of the last non-empty
// \boxed{...} whose content holds an integer, handling nested braces.
func lastBoxed(text string) (int, string) {
	pos, val := -1, ""
	for _, cmd := range []string{`\boxed{`, `\fbox{`, `\boxed {`} {
		from := 0
		for {
			i := strings.Index(text[from:], cmd)
			if i < 0 {
				break
			}
			start := from + i + len(cmd)
			depth, end := 1, -1
			for j := start; j < len(text); j++ {
				switch text[j] {
				case '{':
					depth++
				case '}':
					depth--
				}
				if depth == 0 {
					end = j
					break
				}
			}
			from = start
			if end < 0 {
				continue
			}
			if v := boxedInteger(text[start:end]); v != "" && start > pos {
				pos, val = start, v
			}
		}
	}
	return pos, val
}

// boxedInteger reads the integer in a box's content: "073", "1{,}000",
// "\text{ 42 }", "x = 5", "42^\circ".
func boxedInteger(s string) string {
	s = strings.NewReplacer(`{,}`, "", `\,`, "", `\!`, "", `\text`, "", `\mathrm`, "", "$", "", "^\\circ", "", "^{\\circ}", "").Replace(s)
	if i := strings.LastIndexByte(s, '='); i >= 0 {
		s = s[i+1:]
	}
	return lastInteger(s)
}

func normInt(tok string) string {
	if strings.Contains(tok, ".") {
		// 12.0 is 12; 3.5 is no integer.
		whole, frac, _ := strings.Cut(tok, ".")
		if strings.Trim(frac, "0") != "" {
			return ""
		}
		tok = whole
	}
	tok = strings.ReplaceAll(tok, ",", "")
	n, err := strconv.Atoi(tok)
	if err != nil {
		return ""
	}
	return strconv.Itoa(n)
}

func integers(s string) []string {
	var out []string
	for _, m := range numberRe.FindAllStringIndex(s, -1) {
		// Skip digits glued to letters or underscores (x2, 3rd, var_10).
		if m[0] > 0 && isWordByte(s[m[0]-1]) || m[1] < len(s) && isWordByte(s[m[1]]) {
			continue
		}
		tok := strings.TrimRight(s[m[0]:m[1]], ",")
		if v := normInt(tok); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func isWordByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

func firstInteger(s string) string {
	if v := integers(s); len(v) > 0 {
		return v[0]
	}
	return ""
}

func lastInteger(s string) string {
	if v := integers(s); len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

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
