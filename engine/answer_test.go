package engine

import "testing"

// TestExtractAnswerGraderRule: the engine's answer key follows the official
// graders' rule for answer-like text — the last explicit final answer wins,
// be it a line, a box or an answer inside a sentence — as eval.ExtractAIME
// does, and keeps answers that are no numbers. was is what the key was
// before it followed the rule, where it differed.
func TestExtractAnswerGraderRule(t *testing.T) {
	for _, c := range []struct{ name, in, want, was string }{
		// Answers inside a sentence count when a number or formula follows.
		{"gemma sentence", "So, the answer is **376**.", "376", ""},
		{"answer is, no colon", "The final answer is 40.", "40", ""},
		{"marker mid-line after a box", `I thought \boxed{5}. Rechecking, FINAL ANSWER: 8`, "8", "5"},
		{"letter choice", "Comparing both, the answer is (B).", "(B)", ""},
		{"prose is no answer", "This answer is consistent with 2^100 mod 8.", "", ""},
		{"prose after a box", `\boxed{376}. This answer is consistent with 2^100 mod 8 = 0.`, "376", "376"},
		// Boxes as graders read them.
		{"fbox", `\fbox{64}`, "64", ""},
		{"box cut off by the token limit", "so it is \\boxed{12\nand", "12", ""},
		{"nested braces", `\boxed{\frac{\sqrt{2}}{2}}`, `\frac{\sqrt{2}}{2}`, ""},
		{"empty box hides nothing", `Answer: 7 \boxed{}`, `7 \boxed{}`, ""},
		{"heading then answer", "**Final Answer**\n42", "42", ""},
		{"equals sign", "Answer = 12", "12", ""},
		// Unchanged: the last one wins, text and code are kept.
		{"early guess then line", "Maybe \\boxed{12}.\nFINAL ANSWER: 14", "14", "14"},
		{"early line then box", "FINAL ANSWER: 12\nActually \\boxed{14}.", "14", "14"},
		{"words", "Reasoning.\nFINAL ANSWER: Paris, France", "Paris, France", "Paris, France"},
		{"time", "FINAL ANSWER: 11:38 PST\nFinal Answer: At 3:07 am.", "At 3:07 am.", "At 3:07 am."},
		{"template echoed inline", "Finish with: FINAL ANSWER: [new answer].", "", ""},
	} {
		if got := ExtractAnswer(c.in); got != c.want {
			t.Errorf("%s: ExtractAnswer(%q) = %q, want %q (was %q)", c.name, c.in, got, c.want, c.was)
		}
	}
}
