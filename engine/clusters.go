package engine

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strings"
)

// Answer clusters. Proposals that reach the same final answer are one
// position in the deliberation however differently they are worded, so the
// engine groups them by a normalised key of their extracted answer and
// totals the votes per group. Conviction and the stopping rule use the
// winning cluster's share (a unanimous panel scores 1, not 1/N); the winner
// is the best-supported proposal of the best-supported cluster.
//
// A proposal without an answer (no FINAL ANSWER line, no \boxed{}) belongs
// to no cluster: it still receives votes (they count in Σ|support|), but it
// can never win while any proposal has an answer.

// Cluster is one group of proposals with the same normalised answer.
type Cluster struct {
	ID      string   `json:"id"`      // "c1", "c2", … in the order of their first member
	Key     string   `json:"key"`     // the normalised answer ("num:1/2", "text:paris", "code:…")
	Answer  string   `json:"answer"`  // representative: the best-supported member's answer as written
	Members []string `json:"members"` // agent ids, in proposal order
	Support float64  `json:"support"` // Σ of the members' support
}

// NoAnswerKey is the key of a proposal with no extractable answer.
const NoAnswerKey = ""

// AnswerKey normalises an extracted answer for clustering: code by its
// text with comments and whitespace folded; numbers by exact value
// (42, 42.0, $42$, \boxed{42}, 1,000, \frac{1}{2} = 1/2 = 0.5); anything
// else with LaTeX wrappers stripped, case and whitespace folded, trailing
// punctuation dropped. "" means no answer.
func AnswerKey(answer string) string {
	answer = strings.TrimSpace(answer)
	if answer == "" {
		return NoAnswerKey
	}
	if code, ok := lastCodeBlock(answer); ok {
		if k := codeKey(code); k != "" {
			return "code:" + k
		}
		return NoAnswerKey
	}
	s := stripMath(answer)
	if s == "" {
		return NoAnswerKey
	}
	if v, ok := numberValue(s); ok {
		return "num:" + v
	}
	return "text:" + s
}

var (
	// \boxed{…}, \text{…} and friends: the command goes, its argument stays.
	latexWrapper = regexp.MustCompile(`\\(?:boxed|fbox|text|textbf|textit|mathrm|mathbf|mathit|operatorname|displaystyle)\s*\{`)
	mathDelims   = strings.NewReplacer(`\(`, "", `\)`, "", `\[`, "", `\]`, "", "$", "", `\displaystyle`, "", `\left`, "", `\right`, "", `\,`, "", `\!`, "", `\;`, "")
	markdownWrap = strings.NewReplacer("**", "", "__", "", "`", "")
	assignPrefix = regexp.MustCompile(`^[a-z]\s*=\s*`)
	fracRe       = regexp.MustCompile(`^(-?)\\[dt]?frac\{(-?[0-9.]+)\}\{(-?[0-9.]+)\}$`)
	thousandsSep = regexp.MustCompile(`^-?\d{1,3}(,\d{3})+(\.\d+)?$`)
)

// stripMath removes LaTeX and markdown wrappers, folds case and
// whitespace and drops trailing punctuation.
func stripMath(s string) string {
	s = unwrapCommands(s)
	s = mathDelims.Replace(s)
	s = markdownWrap.Replace(s)
	s = strings.Join(strings.Fields(strings.ToLower(s)), " ")
	s = strings.TrimRight(s, ".,;:!? ")
	s = strings.Trim(s, `"'`)
	s = assignPrefix.ReplaceAllString(s, "") // "x = 42" is 42
	return strings.TrimSpace(s)
}

// unwrapCommands replaces every \boxed{X}-like command with X, braces
// matched, innermost last.
func unwrapCommands(s string) string {
	for range 8 { // nesting deeper than this is not an answer
		loc := latexWrapper.FindStringIndex(s)
		if loc == nil {
			return s
		}
		depth, end := 1, -1
		for j := loc[1]; j < len(s) && end < 0; j++ {
			switch s[j] {
			case '{':
				depth++
			case '}':
				if depth--; depth == 0 {
					end = j
				}
			}
		}
		if end < 0 { // unbalanced: drop the command, keep the rest
			s = s[:loc[0]] + s[loc[1]:]
			continue
		}
		s = s[:loc[0]] + s[loc[1]:end] + s[end+1:]
	}
	return s
}

// numberValue reads s as an exact rational (integer, decimal, a/b,
// \frac{a}{b}, with thousands separators) and returns its canonical form.
func numberValue(s string) (string, bool) {
	s = strings.ReplaceAll(s, " ", "")
	if thousandsSep.MatchString(s) {
		s = strings.ReplaceAll(s, ",", "")
	}
	if m := fracRe.FindStringSubmatch(s); m != nil {
		s = m[1] + m[2] + "/" + m[3]
		if strings.Contains(m[2], ".") || strings.Contains(m[3], ".") {
			return "", false
		}
	}
	if s == "" || strings.ContainsAny(s, "eE") { // "1e5" is rarely meant; keep it text
		return "", false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return "", false
	}
	return r.RatString(), true
}

var (
	lineComment = regexp.MustCompile(`(?m)(?:^|\s)(?://|#).*$`)
	blockCommnt = regexp.MustCompile(`(?s)/\*.*?\*/`)
)

// lastCodeBlock is the body of the last fenced code block in s, found the
// way reviewers' views find code (splitCode); a block cut off by the token
// limit runs to the end.
func lastCodeBlock(s string) (string, bool) {
	spans := splitCode(s)
	for i := len(spans) - 1; i >= 0; i-- {
		sp := spans[i]
		if !sp.code || !codeFence.MatchString(s[sp.start:min(sp.end, sp.start+8)]) {
			continue
		}
		body := strings.TrimRight(s[lineEnd(s, sp.start):sp.end], "\n")
		if j := strings.LastIndexByte(body, '\n'); j >= 0 || body != "" {
			last := strings.TrimSpace(body[j+1:])
			if strings.HasPrefix(last, "```") || strings.HasPrefix(last, "~~~") {
				body = body[:max(j, 0)]
			}
		}
		return body, true
	}
	return "", false
}

// codeKey folds comments and whitespace out of code, so two proposals of
// the same program cluster together. (Grouping by behaviour on the
// problem's tests would be stronger; it needs a sandbox the engine does
// not have.) Comment removal is lexical: a "#" or "//" inside a string
// literal is cut too, which only ever merges less.
func codeKey(code string) string {
	code = blockCommnt.ReplaceAllString(code, " ")
	code = lineComment.ReplaceAllString(code, "")
	return strings.Join(strings.Fields(code), " ")
}

// roundOutcome is a round's vote decided over answer clusters.
type roundOutcome struct {
	Clusters   []Cluster
	Cluster    string // the winning cluster's id ("" when none)
	Winner     string // the winning proposal's author ("" when none)
	Conviction float64
	NoWinner   string // why there is no winner, when there is none
}

// decide picks the round's winner. keys maps each author to its answer
// key; support is the votes each received; voted says whether any reviewer
// cast a valid ballot; draw(n) returns a seeded index in [0, n) to break
// ties (never agent order, which would hand every tie to agent-1).
//
//	cluster support S_c = Σ_{p ∈ c} support(p)
//	winning cluster     = argmax S_c (ties: more members, then draw)
//	winner              = argmax_{p ∈ winning cluster} support(p) (ties: draw)
//	conviction          = clamp(S_win / Σ_p |support(p)|, 0, 1)
//
// With no answered proposal the best-supported proposal leads with
// conviction 0: there is no answer to agree on, so the run cannot
// converge on it.
func decide(authors []string, keys, answers map[string]string, support map[string]float64, voted bool, draw func(int) int) roundOutcome {
	var out roundOutcome
	byKey := map[string]int{}
	for _, a := range authors {
		k := keys[a]
		if k == NoAnswerKey {
			continue
		}
		i, ok := byKey[k]
		if !ok {
			i = len(out.Clusters)
			byKey[k] = i
			out.Clusters = append(out.Clusters, Cluster{ID: fmt.Sprintf("c%d", i+1), Key: k})
		}
		c := &out.Clusters[i]
		c.Members = append(c.Members, a)
		c.Support += support[a]
	}
	for i := range out.Clusters {
		c := &out.Clusters[i]
		c.Support = math.Round(c.Support*1e6) / 1e6
		c.Answer = answers[best(c.Members, support, nil)] // ties: the first; the winner's own below
	}
	if !voted {
		out.NoWinner = "every reviewer abstained: no votes were cast"
		return out
	}
	sumAbs := 0.0
	for _, a := range authors {
		sumAbs += math.Abs(support[a])
	}
	if len(out.Clusters) == 0 {
		out.Winner = best(authors, support, draw)
		return out
	}
	var top []int
	for i, c := range out.Clusters {
		switch {
		case len(top) == 0 || c.Support > out.Clusters[top[0]].Support+1e-9:
			top = []int{i}
		case math.Abs(c.Support-out.Clusters[top[0]].Support) <= 1e-9:
			if n, m := len(c.Members), len(out.Clusters[top[0]].Members); n > m {
				top = []int{i}
			} else if n == m {
				top = append(top, i)
			}
		}
	}
	win := &out.Clusters[top[pick(len(top), draw)]]
	out.Cluster, out.Winner = win.ID, best(win.Members, support, draw)
	win.Answer = answers[out.Winner]
	if sumAbs > 0 {
		out.Conviction = math.Max(0, math.Min(1, win.Support/sumAbs))
	}
	return out
}

// best is the best-supported of ids, ties broken by draw.
func best(ids []string, support map[string]float64, draw func(int) int) string {
	var top []string
	for _, a := range ids {
		switch {
		case len(top) == 0 || support[a] > support[top[0]]+1e-9:
			top = []string{a}
		case math.Abs(support[a]-support[top[0]]) <= 1e-9:
			top = append(top, a)
		}
	}
	if len(top) == 0 {
		return ""
	}
	return top[pick(len(top), draw)]
}

func pick(n int, draw func(int) int) int {
	if n <= 1 || draw == nil {
		return 0
	}
	return draw(n)
}

// scoreRow is one line of the anonymised score matrix the next round sees.
type scoreRow struct {
	Answer    string  // as written by the best-supported member ("" for no answer)
	Proposals int     // how many proposals gave it
	Support   float64 // total votes they received
}

// scoreRows turns a round's clusters (and its unanswered proposals) into
// the matrix, best-supported first. No agent or model names appear.
func scoreRows(clusters []Cluster, authors []string, keys map[string]string, support map[string]float64) []scoreRow {
	rows := make([]scoreRow, 0, len(clusters)+1)
	for _, c := range clusters {
		rows = append(rows, scoreRow{Answer: c.Answer, Proposals: len(c.Members), Support: c.Support})
	}
	none := scoreRow{}
	for _, a := range authors {
		if keys[a] == NoAnswerKey {
			none.Proposals++
			none.Support += support[a]
		}
	}
	sortRows(rows)
	if none.Proposals > 0 {
		rows = append(rows, none)
	}
	return rows
}

func sortRows(rows []scoreRow) {
	for i := 1; i < len(rows); i++ {
		for j := i; j > 0 && rows[j].Support > rows[j-1].Support; j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
}
