package engine

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Model text is untrusted. Before one agent's words reach another agent's
// prompt they pass through these functions, so a proposal cannot steer its
// reviewers by claiming an identity, posing as the system, or reaching out
// of the fence it is quoted in.

// CleanText drops control characters (terminal escapes included: ESC, CSI,
// C1) except newlines and tabs, and replaces invalid UTF-8. Prompts never
// need them, a model's noise is full of them, and a terminal must never
// receive them from a model.
func CleanText(s string) string { return cleanText(s) }

func cleanText(s string) string {
	if !needsCleaning(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if r == '\n' || r == '\t' || !(unicode.IsControl(r) || r == '\u2028' || r == '\u2029') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needsCleaning(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return true
		}
		if r != '\n' && r != '\t' && (unicode.IsControl(r) || r == '\u2028' || r == '\u2029') {
			return true
		}
		i += n
	}
	return false
}

var (
	// A line that poses as a chat role or a prompt section header.
	roleMarker = regexp.MustCompile(`(?im)^[ \t>#*]*(system|assistant|user|developer|instruction|instructions)[ \t]*:`)
	// Text that claims a review label ("Candidate B", "candidate-b").
	labelClaim = regexp.MustCompile(`(?i)\bcandidate[\s_-]*[A-Z]\b`)
	// Text that claims an identity ("I am the verifier", "as the reviewer").
	identityClaim = regexp.MustCompile(`(?i)\b(i am|i'm|as)\s+(the\s+|an?\s+)?(system|moderator|judge|reviewer|evaluator|orchestrator|administrator|admin)\b`)
	// Anything that looks like our own fences.
	fenceLike = regexp.MustCompile(`<{2,}|>{2,}|\[\[|\]\]`)
)

// neutralise removes the ways a text can address or impersonate its
// readers. It keeps the content readable: markers become plain words.
func neutralise(s string) string {
	s = fenceLike.ReplaceAllString(s, "")
	s = roleMarker.ReplaceAllString(s, "($1)")
	s = labelClaim.ReplaceAllString(s, "[label removed]")
	s = identityClaim.ReplaceAllString(s, "[identity claim removed]")
	return s
}

// redactor removes names that would de-anonymise an author: model names
// (with and without tag), role names and agent ids.
type redactor struct {
	re *regexp.Regexp
}

func newRedactor(agents []AgentInfo, roles map[string]Role) *redactor {
	seen := map[string]bool{}
	var names []string
	add := func(n string) {
		n = strings.TrimSpace(n)
		if len(n) < 2 || seen[strings.ToLower(n)] {
			return
		}
		seen[strings.ToLower(n)] = true
		names = append(names, n)
	}
	for _, a := range agents {
		add(a.Model)
		if i := strings.IndexByte(a.Model, ':'); i > 0 {
			add(a.Model[:i]) // "llama3.2" of "llama3.2:3b"
		}
		if i := strings.LastIndexByte(a.Model, '/'); i >= 0 {
			add(a.Model[i+1:])
		}
		add(a.Role)
		add(a.ID)
	}
	for name := range roles {
		add(name)
	}
	if len(names) == 0 {
		return &redactor{}
	}
	// Longest first so "llama3.2:3b" wins over "llama3.2".
	sortByLenDesc(names)
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	// Whole words only: the role "critic" must not eat "criticised".
	return &redactor{re: regexp.MustCompile(`(?i)(^|[^\pL\pN_])(` + strings.Join(quoted, "|") + `)([^\pL\pN_]|$)`)}
}

func (r *redactor) redact(s string) string {
	if r == nil || r.re == nil {
		return s
	}
	// Twice, because adjacent names share the separator between them.
	for range 2 {
		s = r.re.ReplaceAllString(s, "${1}[redacted]${3}")
	}
	return s
}

func sortByLenDesc(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && len(s[j]) > len(s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// untrusted prepares another agent's text for a prompt: cleaned,
// de-identified, neutralised and cut to max bytes.
func (r *redactor) untrusted(s string, max int) string {
	return truncate(neutralise(r.redact(cleanText(s))), max)
}

// truncate cuts s to at most max bytes at a rune boundary, marking the cut.
func truncate(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	const mark = "…"
	cut := max - len(mark)
	if cut < 0 {
		cut = 0
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
