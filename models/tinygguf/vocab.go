package tinygguf

import (
	"fmt"
	"strings"
)

// Token types as llama.cpp reads tokenizer.ggml.token_type.
const (
	TypeNormal  = 1
	TypeUnknown = 2
	TypeControl = 3
	TypeByte    = 6
)

// Special token ids; fixed so tests and callers can rely on them.
const (
	UnkID = 0
	BOSID = 1
	EOSID = 2
)

// Token is one vocabulary entry.
type Token struct {
	Piece string
	Score float32
	Type  int32
}

// spmSpace is SentencePiece's visible space; llama.cpp's SPM tokenizer maps
// ' ' to it before tokenizing and back when decoding.
const spmSpace = "\u2581"

// pieces are the multi-character tokens. They make JSON and English prompts
// tokenize to fewer tokens than one per byte, so a few thousand characters of
// prompt stay well inside num_ctx, and let the model emit JSON punctuation in
// one step. "_" stands for spmSpace.
var pieces = []string{
	`{"`, `":`, `",`, `"}`, `"]`, `":_"`, `":_`, `",_"`, `},`, `}]`, `[{`, `[{"`, `},_{"`, `_{`, `_}`, `_[`, `_]`, `_"`,
	`__`, `____`,
	`_the`, `_a`, `_an`, `_and`, `_of`, `_to`, `_in`, `_is`, `_it`, `_that`, `_for`, `_on`, `_with`, `_as`, `_be`,
	`_are`, `_this`, `_not`, `_or`, `_by`, `_we`, `_you`, `_answer`, `_question`, `_candidate`, `_weight`,
	`_critique`, `_user`, `_assistant`, `_system`, `ing`, `ed`, `er`, `es`, `ion`, `tion`, `ly`, `re`, `th`, `he`,
	`user`, `assistant`, `system`, `answer`, `candidate`, `weight`, `critique`, `evaluations`, `true`, `false`, `null`,
}

// Vocab returns the fixed vocabulary: <unk>, <s>, </s>, the 256 byte-fallback
// tokens, the space piece and printable ASCII, then multi-character pieces
// together with every prefix of them, because SentencePiece-style merging
// only reaches a piece through pieces that are already in the vocabulary.
func Vocab() []Token {
	v := []Token{
		{"<unk>", 0, TypeUnknown},
		{"<s>", 0, TypeControl},
		{"</s>", 0, TypeControl},
	}
	for b := 0; b < 256; b++ {
		v = append(v, Token{fmt.Sprintf("<0x%02X>", b), 0, TypeByte})
	}
	seen := map[string]bool{}
	add := func(p string, score float32) {
		if seen[p] {
			return
		}
		seen[p] = true
		v = append(v, Token{p, score, TypeNormal})
	}
	// Single characters score lowest so merges into longer pieces win.
	add(spmSpace, -1000)
	for c := byte('!'); c <= '~'; c++ {
		add(string(c), -1000-float32(c))
	}
	for i, p := range pieces {
		r := []rune(replaceSpace(p))
		for n := 2; n <= len(r); n++ {
			// Longer pieces get higher scores so greedy merging prefers them.
			add(string(r[:n]), float32(n)*10-float32(i)*0.01)
		}
	}
	return v
}

func replaceSpace(p string) string {
	return strings.ReplaceAll(p, "_", spmSpace)
}
