package engine

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/nsed/nsed/models"
)

// What a reviewer sees of a proposal. Real proposals put their answer and
// their code last (a 1,000-token proposal is ~4 kB), so the head of a text is
// the wrong part to keep. A proposal is split into its reasoning and its
// solution; the solution — from the start of the last fenced code block or
// of the final derivation (the last paragraphs before the answer line),
// whichever comes first, to the end — is shown in full; only the middle of
// long reasoning is shortened, to proposal_chars, with a visible marker.

// finalParagraphs is how many paragraphs before the answer line count as the
// final derivation, and maxDerivation bounds them (a model that never
// breaks paragraphs would otherwise make all its reasoning "final").
const (
	finalParagraphs = 2
	maxDerivation   = 1500
)

// maxSolution bounds the solution part, for a model that repeats a line
// until its token limit: beyond it the middle of the solution is shortened
// too (its head, the code's start, and its tail, the answer, stay).
const maxSolution = 16000

// proposalView is a proposal as reviewers see it.
type proposalView struct {
	Text  string   // cleaned, de-identified, reasoning shortened
	Flags []string // ways its prose addresses reviewers (flagsOf)
	// Omitted is how many characters of reasoning (and, rarely, solution)
	// were left out.
	Omitted int
}

// view prepares a proposal for reviewers: cleaned, self-identification
// redacted in prose, flagged, and its reasoning shortened to budget bytes.
func (r *redactor) view(text string, budget int) proposalView {
	s := r.redact(cleanText(text))
	v := proposalView{Flags: flagsOf(s)}
	split := solutionStart(s)
	reasoning, solution := s[:split], s[split:]
	reasoning, n1 := elide(reasoning, budget, "reasoning")
	solution, n2 := elide(solution, maxSolution, "solution")
	v.Text, v.Omitted = reasoning+solution, n1+n2
	return v
}

// solutionStart is where a proposal's solution begins: the earliest of the
// last fenced code block's opening and the final derivation (up to
// finalParagraphs paragraphs, at most maxDerivation bytes, before the last
// answer line). Without an answer line the final derivation is the last
// paragraphs of the text.
func solutionStart(s string) int {
	answer := len(s)
	if ms := finalAnswerLine.FindAllStringIndex(s, -1); len(ms) > 0 {
		answer = ms[len(ms)-1][0]
	}
	start := answer
	// The final derivation: back over finalParagraphs blank-line breaks.
	for k := 0; k < finalParagraphs; k++ {
		before := strings.TrimRight(s[:start], " \t\n")
		i := strings.LastIndex(before, "\n\n")
		if i < 0 {
			start = 0
			break
		}
		start = i + 2
	}
	if answer-start > maxDerivation {
		start = lineStartAfter(s, answer-maxDerivation)
	}
	// The last code block, wherever it is, and everything after it.
	if last := lastFenceStart(s); last >= 0 && last < start {
		start = last
	}
	return start
}

// lastFenceStart is the start of the last fenced code block in s, or -1.
func lastFenceStart(s string) int {
	last := -1
	for _, sp := range splitCode(s) {
		if sp.code && codeFence.MatchString(s[sp.start:min(sp.end, sp.start+8)]) {
			last = sp.start
		}
	}
	return last
}

// lineStartAfter is the start of the first line at or after i.
func lineStartAfter(s string, i int) int {
	if i <= 0 {
		return 0
	}
	if s[i-1] == '\n' {
		return i
	}
	if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(s)
}

// elide shortens s to about budget bytes by leaving out its middle: the
// first and last halves of the budget stay, cut at line ends where one is
// near (else at a rune boundary), and a marker says how many characters
// were left out. It returns the text and that count.
func elide(s string, budget int, what string) (string, int) {
	if budget <= 0 || len(s) <= budget {
		return s, 0
	}
	headEnd := snapBack(s, budget/2)
	tailStart := snapForward(s, len(s)-budget/2)
	if tailStart <= headEnd {
		return s, 0
	}
	n := utf8.RuneCountInString(s[headEnd:tailStart])
	mark := fmt.Sprintf("\n[… %s characters of %s omitted …]\n", thousands(n), what)
	return s[:headEnd] + mark + s[tailStart:], n
}

// snapBack moves a cut at i back to just after a newline within 200 bytes,
// else to a rune boundary.
func snapBack(s string, i int) int {
	if j := strings.LastIndexByte(s[max(0, i-200):i], '\n'); j >= 0 {
		return max(0, i-200) + j + 1
	}
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}

// snapForward moves a cut at i forward to just after a newline within 200
// bytes, else to a rune boundary.
func snapForward(s string, i int) int {
	if j := strings.IndexByte(s[i:min(len(s), i+200)], '\n'); j >= 0 {
		return i + j + 1
	}
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return i
}

// thousands writes n with comma separators: 2310 → "2,310".
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// ---- context sizing ----

// estimatePromptTokens counts a prompt conservatively for sizing its
// context: every digit a token (most tokenizers split numbers into digits)
// and other bytes at 2.5 a token. Measured on smollm2 (Ollama's
// prompt_eval_count): English 3.3 bytes a token, Go code 3.0, digit-dense
// maths 1.4; this counts them as 2.5, 2.5 and about 1.9.
func estimatePromptTokens(s string) int {
	digits := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			digits++
		}
	}
	return digits + ((len(s)-digits)*2+4)/5
}

// msgOverhead is the chat template's tokens around each message.
const msgOverhead = 16

// minCtx is the smallest context asked for when num_ctx is left unset:
// Ollama's historic default.
const minCtx = 2048

// sizeContext returns the options for a call whose messages are msgs:
// num_ctx is the configured num_ctx (the floor), doubled until the prompt
// (counted by estimatePromptTokens) plus num_predict fits, never above maxCtx
// (0: never above num_ctx). Doubling, not fine rounding, keeps the number of
// distinct sizes small: Ollama reloads a model whenever num_ctx changes. The
// warning, when not empty, says the prompt cannot fit and what to change.
func sizeContext(o models.Options, msgs []models.Message, maxCtx int) (models.Options, string) {
	prompt := msgOverhead * len(msgs)
	for _, m := range msgs {
		prompt += estimatePromptTokens(m.Content)
	}
	predict := o.NumPredict
	if predict <= 0 {
		predict = 1024
	}
	need := prompt + predict
	floor := o.NumCtx
	if floor <= 0 {
		if need <= minCtx {
			return o, "" // the server's default fits
		}
		floor = minCtx
	}
	ceiling := max(maxCtx, floor)
	ctx := floor
	for ctx < need && ctx*2 <= ceiling {
		ctx *= 2
	}
	if ctx < need && ceiling > ctx {
		ctx = ceiling
	}
	o.NumCtx = ctx
	if need > ctx {
		return o, fmt.Sprintf("the prompt needs about %d tokens (%d of prompt, counted conservatively, plus num_predict %d) but the context is capped at %d: the server may cut it; raise deliberation.max_ctx or lower deliberation.proposal_chars",
			need, prompt, predict, ctx)
	}
	return o, ""
}
