// Package tinygguf writes tiny random-weight Llama-architecture models in
// GGUF v3, small enough (well under a few MB) to generate on the fly so tests
// and CI can run a real Ollama server with no model downloads. The models
// produce nonsense text, but they tokenize, stream, honour structured-output
// grammars and load several at a time, which is what the tests need.
//
// The package uses only the standard library.
package tinygguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Config describes one model. Zero fields take the defaults in Defaults.
type Config struct {
	Name          string // general.name; defaults to "tiny"
	Seed          uint64 // different seeds give different weights (and replies)
	Layers        int    // transformer blocks; default 2
	Width         int    // embedding length; default 64
	Heads         int    // attention heads; default 4; must divide Width
	KVHeads       int    // key/value heads; default Heads; must divide Heads
	FFN           int    // feed-forward length; default 4*Width
	ContextLength int    // llama.context_length (training context); default 8192
	// LogitScale is roughly the standard deviation of an ordinary token's
	// logit (before temperature): larger is more repetitive. Default 3.
	LogitScale float64
}

// Defaults returns cfg with zero fields filled in.
func (cfg Config) Defaults() Config {
	if cfg.Name == "" {
		cfg.Name = "tiny"
	}
	if cfg.Layers == 0 {
		cfg.Layers = 2
	}
	if cfg.Width == 0 {
		cfg.Width = 64
	}
	if cfg.Heads == 0 {
		cfg.Heads = 4
	}
	if cfg.KVHeads == 0 {
		cfg.KVHeads = cfg.Heads
	}
	if cfg.FFN == 0 {
		cfg.FFN = 4 * cfg.Width
	}
	if cfg.ContextLength == 0 {
		cfg.ContextLength = 8192
	}
	if cfg.LogitScale == 0 {
		cfg.LogitScale = 3
	}
	return cfg
}

func (cfg Config) validate() error {
	switch {
	case cfg.Layers < 1 || cfg.Width < 1 || cfg.FFN < 1 || cfg.ContextLength < 1:
		return errors.New("tinygguf: Layers, Width, FFN and ContextLength must be positive")
	case cfg.Heads < 1 || cfg.Width%cfg.Heads != 0:
		return fmt.Errorf("tinygguf: Heads %d must divide Width %d", cfg.Heads, cfg.Width)
	case cfg.KVHeads < 1 || cfg.Heads%cfg.KVHeads != 0:
		return fmt.Errorf("tinygguf: KVHeads %d must divide Heads %d", cfg.KVHeads, cfg.Heads)
	case (cfg.Width/cfg.Heads)%2 != 0:
		return fmt.Errorf("tinygguf: head size %d must be even for RoPE", cfg.Width/cfg.Heads)
	}
	return nil
}

// Alignment is the GGUF data alignment used (the format's default).
const Alignment = 32

// GGUF value types.
const (
	typeUint32  = 4
	typeInt32   = 5
	typeFloat32 = 6
	typeBool    = 7
	typeString  = 8
	typeArray   = 9
)

// ggmlTypeF32 is the ggml tensor type id for float32.
const ggmlTypeF32 = 0

type kv struct {
	key string
	val any // uint32, int32, float32, bool, string, []string, []float32, []int32
}

type tensor struct {
	name string
	dims []uint64 // GGUF order: dims[0] varies fastest (a row's length)
	std  float64  // random values are uniform with this standard deviation
	// value gives element (row, col) from its random draw u; nil means u.
	value func(row, col uint64, u float64) float64
}

func (t tensor) elems() uint64 {
	n := uint64(1)
	for _, d := range t.dims {
		n *= d
	}
	return n
}

// Write writes the model described by cfg to w. The output is a pure
// function of cfg.
func Write(w io.Writer, cfg Config) error {
	cfg = cfg.Defaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	vocab := Vocab()
	kvs := metadata(cfg, vocab)
	tensors := layout(cfg, len(vocab))

	bw := bufio.NewWriterSize(w, 1<<16)
	e := &enc{w: bw}
	e.raw([]byte("GGUF"))
	e.u32(3)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kvs)))
	for _, m := range kvs {
		e.str(m.key)
		e.value(m.val)
	}
	var off uint64
	for _, t := range tensors {
		e.str(t.name)
		e.u32(uint32(len(t.dims)))
		for _, d := range t.dims {
			e.u64(d)
		}
		e.u32(ggmlTypeF32)
		e.u64(off)
		off = align(off + 4*t.elems())
	}
	e.pad()

	rng := splitmix(cfg.Seed)
	for _, t := range tensors {
		// Uniform on [-a, a] has standard deviation a/sqrt(3).
		a := t.std * math.Sqrt(3)
		for i := uint64(0); i < t.elems(); i++ {
			v := 0.0
			if t.std != 0 {
				v = (rng.float()*2 - 1) * a
			}
			if t.value != nil {
				v = t.value(i/t.dims[0], i%t.dims[0], v)
			}
			e.u32(math.Float32bits(float32(v)))
		}
		e.pad()
	}
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}

func metadata(cfg Config, vocab []Token) []kv {
	toks := make([]string, len(vocab))
	scores := make([]float32, len(vocab))
	types := make([]int32, len(vocab))
	for i, t := range vocab {
		toks[i], scores[i], types[i] = t.Piece, t.Score, t.Type
	}
	return []kv{
		{"general.architecture", "llama"},
		{"general.name", cfg.Name},
		{"general.file_type", uint32(0)}, // all F32
		{"general.alignment", uint32(Alignment)},
		{"llama.vocab_size", uint32(len(vocab))},
		{"llama.context_length", uint32(cfg.ContextLength)},
		{"llama.embedding_length", uint32(cfg.Width)},
		{"llama.block_count", uint32(cfg.Layers)},
		{"llama.feed_forward_length", uint32(cfg.FFN)},
		{"llama.attention.head_count", uint32(cfg.Heads)},
		{"llama.attention.head_count_kv", uint32(cfg.KVHeads)},
		{"llama.rope.dimension_count", uint32(cfg.Width / cfg.Heads)},
		{"llama.rope.freq_base", float32(10000)},
		{"llama.attention.layer_norm_rms_epsilon", float32(1e-5)},
		{"tokenizer.ggml.model", "llama"},
		{"tokenizer.ggml.tokens", toks},
		{"tokenizer.ggml.scores", scores},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.unknown_token_id", uint32(UnkID)},
		{"tokenizer.ggml.bos_token_id", uint32(BOSID)},
		{"tokenizer.ggml.eos_token_id", uint32(EOSID)},
		{"tokenizer.ggml.add_bos_token", true},
		{"tokenizer.ggml.add_eos_token", false},
	}
}

// layout lists the tensors llama.cpp expects for arch "llama", with GGUF
// dimension order (input features first, so a row is one output feature)
// and initial scales that keep the residual stream's magnitude roughly
// constant through the blocks.
//
// Residual channel 0 is reserved as a constant "bias" channel: every token
// embedding sets it to sqrt(Width), the blocks neither read it (their norm
// weight is 0 there) nor write it (their output row 0 is 0), so after the
// final norm it is always clearly positive. The output rows of the control
// and byte tokens read only that channel with a negative weight, which pins
// their logits far below the others. Without this a random model ends its
// reply after a handful of tokens and litters free text with stray bytes
// (escape characters included). Grammar-constrained sampling still picks
// </s> once the JSON is complete, because it is then the only allowed token.
func layout(cfg Config, nVocab int) []tensor {
	w, ff := uint64(cfg.Width), uint64(cfg.FFN)
	kvw := uint64(cfg.Width / cfg.Heads * cfg.KVHeads)
	in := 1 / math.Sqrt(float64(cfg.Width))
	bias := math.Sqrt(float64(cfg.Width))
	// After the final norm channel 0 is about bias/sqrt(2) when the other
	// channels have unit scale; aim suppressed logits at about -30.
	penalty := -30 / (bias / math.Sqrt2)
	// Other channels come out of the final norm at about 1/sqrt(2) scale.
	outStd := cfg.LogitScale * in * math.Sqrt2

	embd := func(_, col uint64, u float64) float64 {
		if col == 0 {
			return bias
		}
		return u
	}
	blockNorm := func(_, col uint64, _ float64) float64 {
		if col == 0 {
			return 0
		}
		return 1
	}
	ones := func(_, _ uint64, _ float64) float64 { return 1 }
	noWrite := func(row, _ uint64, u float64) float64 {
		if row == 0 {
			return 0
		}
		return u
	}
	output := func(row, col uint64, u float64) float64 {
		switch {
		case suppressed(int(row)) && col == 0:
			return penalty
		case suppressed(int(row)) || col == 0:
			return 0
		}
		return u
	}

	ts := []tensor{
		{name: "token_embd.weight", dims: []uint64{w, uint64(nVocab)}, std: 1, value: embd},
		{name: "output_norm.weight", dims: []uint64{w}, value: ones},
		{name: "output.weight", dims: []uint64{w, uint64(nVocab)}, std: outStd, value: output},
	}
	for l := 0; l < cfg.Layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		ts = append(ts,
			tensor{name: p + "attn_norm.weight", dims: []uint64{w}, value: blockNorm},
			tensor{name: p + "attn_q.weight", dims: []uint64{w, w}, std: in},
			tensor{name: p + "attn_k.weight", dims: []uint64{w, kvw}, std: in},
			tensor{name: p + "attn_v.weight", dims: []uint64{w, kvw}, std: in},
			tensor{name: p + "attn_output.weight", dims: []uint64{w, w}, std: in, value: noWrite},
			tensor{name: p + "ffn_norm.weight", dims: []uint64{w}, value: blockNorm},
			tensor{name: p + "ffn_gate.weight", dims: []uint64{w, ff}, std: in},
			tensor{name: p + "ffn_up.weight", dims: []uint64{w, ff}, std: in},
			tensor{name: p + "ffn_down.weight", dims: []uint64{ff, w}, std: 1 / math.Sqrt(float64(cfg.FFN)), value: noWrite},
		)
	}
	return ts
}

// suppressed reports whether a token's logit is pinned low: the control
// tokens and the byte-fallback tokens, which come first in Vocab.
func suppressed(id int) bool { return id < 3+256 }

func align(n uint64) uint64 { return (n + Alignment - 1) / Alignment * Alignment }

// enc writes little-endian GGUF values, remembering the first error and the
// byte count (for padding).
type enc struct {
	w   io.Writer
	n   uint64
	err error
	buf [8]byte
}

func (e *enc) raw(b []byte) {
	if e.err != nil {
		return
	}
	var k int
	k, e.err = e.w.Write(b)
	e.n += uint64(k)
}

func (e *enc) u32(v uint32) { binary.LittleEndian.PutUint32(e.buf[:4], v); e.raw(e.buf[:4]) }
func (e *enc) u64(v uint64) { binary.LittleEndian.PutUint64(e.buf[:8], v); e.raw(e.buf[:8]) }
func (e *enc) str(s string) { e.u64(uint64(len(s))); e.raw([]byte(s)) }

func (e *enc) pad() {
	if p := align(e.n) - e.n; p > 0 {
		e.raw(make([]byte, p))
	}
}

func (e *enc) value(v any) {
	switch v := v.(type) {
	case uint32:
		e.u32(typeUint32)
		e.u32(v)
	case int32:
		e.u32(typeInt32)
		e.u32(uint32(v))
	case float32:
		e.u32(typeFloat32)
		e.u32(math.Float32bits(v))
	case bool:
		e.u32(typeBool)
		b := byte(0)
		if v {
			b = 1
		}
		e.raw([]byte{b})
	case string:
		e.u32(typeString)
		e.str(v)
	case []string:
		e.u32(typeArray)
		e.u32(typeString)
		e.u64(uint64(len(v)))
		for _, s := range v {
			e.str(s)
		}
	case []float32:
		e.u32(typeArray)
		e.u32(typeFloat32)
		e.u64(uint64(len(v)))
		for _, f := range v {
			e.u32(math.Float32bits(f))
		}
	case []int32:
		e.u32(typeArray)
		e.u32(typeInt32)
		e.u64(uint64(len(v)))
		for _, x := range v {
			e.u32(uint32(x))
		}
	default:
		if e.err == nil {
			e.err = fmt.Errorf("tinygguf: unsupported metadata type %T", v)
		}
	}
}

// splitmix is SplitMix64: tiny, fast and fixed forever, so a seed names the
// same weights on every Go version (math/rand makes no such promise).
type splitmix uint64

func (s *splitmix) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a uniform value in [0, 1).
func (s *splitmix) float() float64 { return float64(s.next()>>11) / (1 << 53) }
