package eval

import (
	"testing"

	"github.com/nsed/nsed/engine"
)

// TestExtractAIME is a table of the styles real models write. was is what
// the scorer before this table returned where it differed (it fell back to
// the last integer anywhere, read "3,4" as 34, and let prose after the box
// supply the answer).
func TestExtractAIME(t *testing.T) {
	for _, c := range aimeStyles {
		if got := ExtractAIME(c.in); got != c.want {
			t.Errorf("%s: ExtractAIME(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

var aimeStyles = []struct{ name, in, want, was string }{
	// Real models' final-answer styles.
	{"qwen", "Thus the remainder is 376.\n\n**Final Answer**\n\\[\n\\boxed{376}\n\\]", "376", ""},
	{"qwen one line", "**Final Answer**\n\\[\\boxed{376}\\]", "376", ""},
	{"llama", "## Step 3: Conclude\n\nThe final answer is: $\\boxed{376}$", "376", ""},
	{"gemma", "So, the answer is **376**.", "376", ""},
	{"gemma bold box", "Therefore the answer is $\\boxed{\\textbf{376}}$.", "376", ""},
	{"gpt-oss", "Compute 2^100 mod 1000.\n\n**Answer:** 376", "376", ""},
	{"ours", "reasoning ... 2^100 ends in 376\nFINAL ANSWER: 376", "376", ""},
	{"ours boxed", "FINAL ANSWER: \\boxed{376}", "376", ""},
	{"text wrapper", "\\boxed{\\text{376}}", "376", ""},
	{"inline math", "Answer: \\(376\\)", "376", ""},
	// Prose after the answer never supplies it.
	{"prose after box", "\\boxed{376}. This answer is consistent with 2^100 mod 8 = 0.", "376", "2"},
	{"prose after line", "FINAL ANSWER: 376\nI checked it with 5 other methods.", "376", ""},
	// The last explicit answer wins.
	{"early guess then final", "My first guess is \\boxed{12}.\nWait, that is wrong; redoing it.\nFINAL ANSWER: 21", "21", ""},
	{"early line then box", "Answer: 5 was my guess.\nCorrecting: \\boxed{8}", "8", ""},
	{"last box wins", "First \\boxed{12}, but correcting: \\boxed{21}", "21", ""},
	// Not integers.
	{"tuple", "Answer: (a,b) = (3,4)", "", "34"},
	{"tuple spaced", "FINAL ANSWER: (a, b) = (3, 4)", "", "3"},
	{"tuple boxed", "\\boxed{(3,4)}", "", "34"},
	{"slash fraction", "FINAL ANSWER: 3/4", "", "3"},
	{"frac", "\\boxed{\\frac{3}{4}}", "", "4"},
	{"fraction after an integer box", "\\boxed{5}\nFINAL ANSWER: \\frac{3}{4}", "", "3"},
	{"decimal", "Answer: 3.5", "", ""},
	{"trailing .0", "\\boxed{376.0}", "376", ""},
	{"leading zero", "FINAL ANSWER: 0376", "376", ""},
	{"aime zero padding", "\\boxed{073}", "73", ""},
	// No explicit answer is no answer.
	{"no answer", "I think it is about 5 apples, maybe 7.", "", "7"},
	{"nothing", "I don't know.", "", ""},
	{"answer word without number", "The answer: see below.\nSo we get 204.", "", "204"},
	// SmolLM2-135M's shapes.
	{"smollm time", "FINAL ANSWER: 11:38 PST\nFinal Answer: At 3:07 am.", "", "3"},
	{"smollm time alone", "FINAL ANSWER: 11:38 PST", "", "11"},
	// Formats kept from the old table.
	{"boxed with equation", `\boxed{N = 23}`, "23", ""},
	{"boxed thousands sep", `\boxed{1{,}000}`, "1000", ""},
	{"empty box ignored", `Answer: 7 \boxed{}`, "7", ""},
	{"answer marker", "Thus.\nAnswer: 53", "53", ""},
	{"answer is", "The final answer is 40.", "40", ""},
	{"marker mid-line", `I thought \boxed{5}. Rechecking, FINAL ANSWER: 8`, "8", ""},
	{"marker on next line", "FINAL ANSWER:\n 99", "99", ""},
	{"dollars", `Answer: $376$`, "376", ""},
	{"degrees", `\boxed{45^\circ}`, "45", ""},
	{"unterminated box", `\boxed{12`, "12", ""},
	{"commas in number", "Answer: 1,000", "1000", ""},
	{"crlf", "x\r\nFINAL ANSWER: 9\r\n", "9", ""},
	{"fbox", `\fbox{64}`, "64", ""},
	{"negative", "Answer: -4", "-4", ""},
	{"answered is no marker", "I answered 3 of them; the result is 17", "", "17"},
	{"marker then words", "Answer: 12 apples and 3 pears", "12", ""},
	{"marker then a clause", "Answer: 376, since 2^100 ends in 376", "376", ""},
	{"expression is no integer", "FINAL ANSWER: 2^10 = 1024", "", "2"},
	{"answer without colon is prose", "Check the answer 12 against the bound.\nFINAL ANSWER: 40", "40", ""},
}

// TestEngineKeyAgreesWithAIME: the engine clusters proposals by
// engine.ExtractAnswer, eval scores them by ExtractAIME; on every style
// above the cluster key, read as an integer, is the score's answer, so a
// cluster's members score alike and the engine stops on the agreement the
// score would see. Both follow the graders' rule: the last explicit final
// answer wins. (Before, the engine read neither an answer inside a
// sentence, nor \fbox, nor a box cut off by the token limit, and an empty
// box hid its line.)
func TestEngineKeyAgreesWithAIME(t *testing.T) {
	for _, c := range aimeStyles {
		if got := answerInteger(engine.ExtractAnswer(c.in)); got != c.want {
			t.Errorf("%s: engine key %q reads as %q, eval scores %q", c.name, engine.ExtractAnswer(c.in), got, c.want)
		}
	}
}
