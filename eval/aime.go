package eval

import (
	"regexp"
	"strconv"
	"strings"
)

// AIME scoring follows what the official graders accept: an answer is an
// integer the model states explicitly as final. The last explicit
// statement wins — a FINAL ANSWER:/Answer: line or a \boxed{} (\fbox{}),
// whichever comes last — so an early guess followed by a corrected answer
// loses, and prose after the answer never supplies it. A final answer that
// is not an integer (3/4, \frac{3}{4}, (a,b) = (3,4), 11:38, 3.5) is a
// wrong answer, not a cue to look elsewhere. With no explicit answer there
// is no answer: a stray number in the reasoning is never taken.
//
// engine.ExtractAnswer, the engine's cluster key, finds the final answer by
// the same rule (the last explicit answer: line, box or answer inside a
// sentence), so a cluster's members score alike; it keeps any text, not
// only integers, since the engine deliberates over any question. The two
// differ only where a grader has nothing to find: a bare "FINAL ANSWER:"
// followed by a paragraph or a code block is the engine's answer whole,
// and the scorer reads its first line.

var (
	// answerLineRe is an answer line: "FINAL ANSWER: 376", "**Answer:** 376",
	// "The final answer is: $\boxed{376}$", "**Final Answer**" (qwen, with
	// the box on a following line). Its content is the answer, whatever it
	// says.
	answerLineRe = regexp.MustCompile(`(?im)^[ \t*#>_-]*(?:the[ \t]+)?(?:final[ \t]+answer|answer)(?:[ \t]+is)?[ \t*_]*(?:[:：=][ \t*_]*|$)(.*)$`)
	// answerInlineRe is the same phrase inside a sentence ("Rechecking,
	// FINAL ANSWER: 8", "so the answer is 40."): it counts only when a
	// number or formula follows it, so "This answer is consistent with
	// 2^100" is prose, not an answer.
	answerInlineRe = regexp.MustCompile(`(?i)\b(?:final\s+answer|answer)(?:\s+is[ \t*_]*[:：=]?|[ \t*_]*[:：=])[ \t*_]*`)
	// numberStartRe is how an inline answer starts when it is one.
	numberStartRe = regexp.MustCompile(`^(?:\$|\\[(\[]|\\boxed|\\fbox|\\frac|\\dfrac|\\tfrac|-?\d|\()`)
	// leadIntRe is an integer at the start of an answer, followed by words
	// ("12 apples"), not by more of a number (3/4, 3:07, 3,4, 3.5, 2^10).
	leadIntRe   = regexp.MustCompile(`^(-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.0+)?)(?:[ \t]*$|[ \t]*[.;!)]?[ \t]*$|[ \t]+[^\d/:^,.=+*−-]|[.;!,][ \t])`)
	assignRe    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*[ \t]*=[ \t]*`)
	boxCommands = []string{`\boxed{`, `\boxed {`, `\fbox{`}
)

type aimeCandidate struct {
	pos int
	val string // "" when the stated answer is no integer
}

// ExtractAIME finds the final integer answer in a reply (see the rules
// above). It returns the integer without leading zeros, or "" when the
// reply states none or its final answer is not an integer.
func ExtractAIME(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var cands []aimeCandidate
	cands = append(cands, boxedAnswers(text)...)
	cands = append(cands, answerLines(text)...)
	cands = append(cands, inlineAnswers(text)...)
	best := aimeCandidate{pos: -1}
	for _, c := range cands {
		if c.pos > best.pos {
			best = c
		}
	}
	return best.val
}

// boxedAnswers are the non-empty boxes, each at its opening.
func boxedAnswers(text string) []aimeCandidate {
	var out []aimeCandidate
	for _, cmd := range boxCommands {
		for from := 0; ; {
			i := strings.Index(text[from:], cmd)
			if i < 0 {
				break
			}
			start := from + i + len(cmd)
			from = start
			body := text[start:]
			if end := closingBrace(body); end >= 0 {
				body = body[:end]
			} else if nl := strings.IndexByte(body, '\n'); nl >= 0 {
				body = body[:nl] // cut off by the token limit
			}
			if strings.TrimSpace(body) == "" {
				continue
			}
			out = append(out, aimeCandidate{from + i, answerInteger(body)})
		}
	}
	return out
}

// answerLines are the answer lines; an empty one ("**Final Answer**",
// "FINAL ANSWER:") takes the next non-empty line.
func answerLines(text string) []aimeCandidate {
	var out []aimeCandidate
	for _, m := range answerLineRe.FindAllStringSubmatchIndex(text, -1) {
		content := text[m[2]:m[3]]
		if strings.TrimSpace(strings.Trim(content, "*_ \t")) == "" {
			content = nextNonEmptyLine(text[m[1]:])
		}
		if strings.TrimSpace(content) == "" {
			continue
		}
		out = append(out, aimeCandidate{m[0], answerInteger(content)})
	}
	return out
}

// inlineAnswers are answer phrases mid-sentence followed by a number or a
// formula.
func inlineAnswers(text string) []aimeCandidate {
	var out []aimeCandidate
	for _, m := range answerInlineRe.FindAllStringIndex(text, -1) {
		rest := text[m[1]:]
		if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
			rest = rest[:nl]
		}
		if !numberStartRe.MatchString(rest) {
			continue
		}
		out = append(out, aimeCandidate{m[0], answerInteger(rest)})
	}
	return out
}

func nextNonEmptyLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			return l
		}
	}
	return ""
}

// closingBrace is the index of the brace closing an already opened one.
func closingBrace(s string) int {
	depth := 1
	for j := 0; j < len(s); j++ {
		switch s[j] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// answerInteger reads a stated answer as an integer, or "" when it is
// something else. Wrappers go first ($…$, \(…\), \[…\], **…**, \boxed{},
// \textbf{}, \text{}, \mathrm{}, \mathbf{}), then "x = " and a degree sign;
// what is left must start with a whole integer.
func answerInteger(s string) string {
	s = unwrapAnswer(s)
	s = assignRe.ReplaceAllString(s, "")
	if m := leadIntRe.FindStringSubmatch(s); m != nil {
		return normInt(m[1])
	}
	return ""
}

var answerNoise = strings.NewReplacer(`{,}`, ",", `\,`, "", `\!`, "", `\ `, " ", "^\\circ", "", "^{\\circ}", "", "°", "",
	`\left`, "", `\right`, "", "**", "", "__", "", "`", "")

func unwrapAnswer(s string) string {
	s = answerNoise.Replace(s)
	for changed := true; changed; {
		changed = false
		t := strings.TrimSpace(s)
		for _, w := range [][2]string{{"$$", "$$"}, {"$", "$"}, {`\(`, `\)`}, {`\[`, `\]`}} {
			if strings.HasPrefix(t, w[0]) {
				t = strings.TrimPrefix(t, w[0])
				if i := strings.Index(t, w[1]); i >= 0 {
					t = t[:i] + t[i+len(w[1]):]
				}
			}
		}
		for _, cmd := range []string{`\boxed{`, `\boxed {`, `\fbox{`, `\textbf{`, `\text{`, `\mathrm{`, `\mathbf{`, `\displaystyle{`} {
			if strings.HasPrefix(t, cmd) {
				body := t[len(cmd):]
				if end := closingBrace(body); end >= 0 {
					t = body[:end] + body[end+1:]
				} else {
					t = body
				}
			}
		}
		t = strings.TrimPrefix(t, `\displaystyle`)
		t = strings.TrimSpace(t)
		if t != strings.TrimSpace(s) {
			changed = true
		}
		s = t
	}
	return s
}

// normInt writes an integer token without separators or leading zeros;
// "12.0" is 12, "3.5" is no integer.
func normInt(tok string) string {
	if whole, frac, ok := strings.Cut(tok, "."); ok {
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
