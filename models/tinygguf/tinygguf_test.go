package tinygguf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
)

// gguf is what the test reader extracts from a file.
type gguf struct {
	version uint32
	kv      map[string]any
	tensors map[string]tensorInfo
	order   []string
	data    []byte // from the aligned start of tensor data to the end
}

type tensorInfo struct {
	dims   []uint64
	typ    uint32
	offset uint64
}

// f32 returns a tensor's values.
func (g *gguf) f32(t *testing.T, name string) ([]float32, []uint64) {
	t.Helper()
	ti, ok := g.tensors[name]
	if !ok {
		t.Fatalf("no tensor %q", name)
	}
	n := uint64(1)
	for _, d := range ti.dims {
		n *= d
	}
	raw := g.data[ti.offset : ti.offset+4*n]
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out, ti.dims
}

// readGGUF is a small independent GGUF v3 reader, strict about the parts
// llama.cpp is strict about: magic, version, value types, alignment.
func readGGUF(b []byte) (*gguf, error) {
	r := bytes.NewReader(b)
	var err error
	rd := func(v any) {
		if err == nil {
			err = binary.Read(r, binary.LittleEndian, v)
		}
	}
	str := func() string {
		var n uint64
		rd(&n)
		if err != nil || n > uint64(r.Len()) {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return ""
		}
		s := make([]byte, n)
		_, err = io.ReadFull(r, s)
		return string(s)
	}
	var scalar func(typ uint32) any
	scalar = func(typ uint32) any {
		switch typ {
		case typeUint32:
			var v uint32
			rd(&v)
			return v
		case typeInt32:
			var v int32
			rd(&v)
			return v
		case typeFloat32:
			var v float32
			rd(&v)
			return v
		case typeBool:
			var v uint8
			rd(&v)
			if v > 1 {
				err = fmt.Errorf("bad bool %d", v)
			}
			return v == 1
		case typeString:
			return str()
		}
		err = fmt.Errorf("unexpected value type %d", typ)
		return nil
	}

	var magic [4]byte
	rd(&magic)
	if string(magic[:]) != "GGUF" {
		return nil, fmt.Errorf("bad magic %q", magic)
	}
	g := &gguf{kv: map[string]any{}, tensors: map[string]tensorInfo{}}
	var nt, nkv uint64
	rd(&g.version)
	rd(&nt)
	rd(&nkv)
	for i := uint64(0); i < nkv && err == nil; i++ {
		key := str()
		var typ uint32
		rd(&typ)
		if typ != typeArray {
			g.kv[key] = scalar(typ)
			continue
		}
		var et uint32
		var n uint64
		rd(&et)
		rd(&n)
		arr := make([]any, 0, n)
		for j := uint64(0); j < n && err == nil; j++ {
			arr = append(arr, scalar(et))
		}
		g.kv[key] = arr
	}
	for i := uint64(0); i < nt && err == nil; i++ {
		name := str()
		var nd uint32
		rd(&nd)
		ti := tensorInfo{dims: make([]uint64, nd)}
		for j := range ti.dims {
			rd(&ti.dims[j])
		}
		rd(&ti.typ)
		rd(&ti.offset)
		g.tensors[name] = ti
		g.order = append(g.order, name)
	}
	if err != nil {
		return nil, err
	}
	pos := uint64(len(b) - r.Len())
	start := (pos + Alignment - 1) / Alignment * Alignment
	if start > uint64(len(b)) {
		return nil, io.ErrUnexpectedEOF
	}
	g.data = b[start:]
	return g, nil
}

func write(t *testing.T, cfg Config) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, cfg); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	for _, cfg := range []Config{{Seed: 1}, {Seed: 4, Width: 128, Layers: 3, KVHeads: 2}} {
		full := cfg.Defaults()
		b := write(t, cfg)
		g, err := readGGUF(b)
		if err != nil {
			t.Fatal(err)
		}
		if g.version != 3 {
			t.Errorf("version %d", g.version)
		}
		for key, want := range map[string]any{
			"general.architecture":                   "llama",
			"tokenizer.ggml.model":                   "llama",
			"llama.embedding_length":                 uint32(full.Width),
			"llama.block_count":                      uint32(full.Layers),
			"llama.feed_forward_length":              uint32(full.FFN),
			"llama.attention.head_count":             uint32(full.Heads),
			"llama.attention.head_count_kv":          uint32(full.KVHeads),
			"llama.rope.dimension_count":             uint32(full.Width / full.Heads),
			"llama.context_length":                   uint32(8192),
			"llama.attention.layer_norm_rms_epsilon": float32(1e-5),
			"tokenizer.ggml.eos_token_id":            uint32(EOSID),
			"tokenizer.ggml.bos_token_id":            uint32(BOSID),
		} {
			if got := g.kv[key]; got != want {
				t.Errorf("%s = %v (%T), want %v (%T)", key, got, got, want, want)
			}
		}
		nv := len(Vocab())
		for _, key := range []string{"tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type"} {
			if arr, _ := g.kv[key].([]any); len(arr) != nv {
				t.Errorf("%s has %d entries, want %d", key, len(arr), nv)
			}
		}

		if len(g.tensors) != 3+9*full.Layers {
			t.Errorf("%d tensors, want %d", len(g.tensors), 3+9*full.Layers)
		}
		w, kvw, ff := uint64(full.Width), uint64(full.Width/full.Heads*full.KVHeads), uint64(full.FFN)
		want := map[string][]uint64{
			"token_embd.weight":        {w, uint64(nv)},
			"output.weight":            {w, uint64(nv)},
			"output_norm.weight":       {w},
			"blk.0.attn_k.weight":      {w, kvw},
			"blk.0.ffn_down.weight":    {ff, w},
			"blk.1.ffn_gate.weight":    {w, ff},
			"blk.1.attn_output.weight": {w, w},
			"blk.1.attn_norm.weight":   {w},
			"blk.0.attn_q.weight":      {w, w},
			"blk.0.ffn_up.weight":      {w, ff},
			"blk.0.attn_v.weight":      {w, kvw},
			"blk.1.ffn_norm.weight":    {w},
		}
		for name, dims := range want {
			ti, ok := g.tensors[name]
			if !ok || fmt.Sprint(ti.dims) != fmt.Sprint(dims) {
				t.Errorf("%s dims %v, want %v", name, ti.dims, dims)
			}
		}
		// Every tensor is F32, aligned, in order, and the file ends exactly
		// after the last one (padded).
		var end uint64
		for _, name := range g.order {
			ti := g.tensors[name]
			n := uint64(4)
			for _, d := range ti.dims {
				n *= d
			}
			if ti.typ != 0 || ti.offset%Alignment != 0 || ti.offset < end {
				t.Errorf("%s: type %d offset %d (previous end %d)", name, ti.typ, ti.offset, end)
			}
			end = ti.offset + n
		}
		if padded := (end + Alignment - 1) / Alignment * Alignment; uint64(len(g.data)) != padded {
			t.Errorf("data section %d bytes, want %d", len(g.data), padded)
		}
	}
}

// The suppressed tokens' logits must be far below every ordinary token's
// for any hidden state the blocks can produce: their output rows read only
// the constant bias channel, which no block can write.
func TestSuppressedLogits(t *testing.T) {
	g, err := readGGUF(write(t, Config{Seed: 7}))
	if err != nil {
		t.Fatal(err)
	}
	out, dims := g.f32(t, "output.weight")
	w := int(dims[0])
	for tok := 0; tok < int(dims[1]); tok++ {
		row := out[tok*w : (tok+1)*w]
		if suppressed(tok) != (row[0] < 0) {
			t.Fatalf("token %d: bias weight %v", tok, row[0])
		}
		if suppressed(tok) {
			for _, v := range row[1:] {
				if v != 0 {
					t.Fatalf("suppressed token %d reads other channels", tok)
				}
			}
		}
	}
	embd, _ := g.f32(t, "token_embd.weight")
	for tok := 0; tok < int(dims[1]); tok++ {
		if embd[tok*w] <= 0 {
			t.Fatalf("token %d embedding has no bias channel", tok)
		}
	}
	for _, name := range []string{"blk.0.attn_output.weight", "blk.1.ffn_down.weight"} {
		m, d := g.f32(t, name)
		for _, v := range m[:d[0]] { // row 0 writes channel 0
			if v != 0 {
				t.Fatalf("%s writes the bias channel", name)
			}
		}
	}
	if n, _ := g.f32(t, "blk.0.attn_norm.weight"); n[0] != 0 || n[1] != 1 {
		t.Fatalf("attn_norm = %v..., want the bias channel masked", n[:2])
	}
}

func TestDeterministicPerSeed(t *testing.T) {
	a1, a2 := write(t, Config{Seed: 1}), write(t, Config{Seed: 1})
	b := write(t, Config{Seed: 2})
	if !bytes.Equal(a1, a2) {
		t.Fatal("same seed gave different files")
	}
	if len(a1) != len(b) || bytes.Equal(a1, b) {
		t.Fatal("different seeds should give same-sized, different files")
	}
	big := write(t, Config{Seed: 1, Width: 128})
	if len(big) <= 2*len(a1) {
		t.Fatalf("width 128 is %d bytes, width 64 is %d: want clearly bigger", len(big), len(a1))
	}
	if len(a1) > 1<<20 {
		t.Fatalf("default model is %d bytes, want under 1 MiB", len(a1))
	}
}

// SentencePiece-style merging reaches a piece only through pieces already in
// the vocabulary, so every multi-character piece needs a shorter prefix.
func TestVocab(t *testing.T) {
	v := Vocab()
	seen := map[string]bool{}
	for i, tok := range v {
		if seen[tok.Piece] {
			t.Fatalf("duplicate piece %q", tok.Piece)
		}
		seen[tok.Piece] = true
		if i >= 3 && i < 259 && (tok.Type != TypeByte || tok.Piece != fmt.Sprintf("<0x%02X>", i-3)) {
			t.Fatalf("token %d = %+v, want byte token", i, tok)
		}
	}
	for _, tok := range v[259:] {
		r := []rune(tok.Piece)
		if len(r) > 1 && !seen[string(r[:len(r)-1])] {
			t.Errorf("piece %q is unreachable: no %q", tok.Piece, string(r[:len(r)-1]))
		}
		if strings.ContainsRune(tok.Piece, ' ') {
			t.Errorf("piece %q has a raw space", tok.Piece)
		}
	}
	for _, p := range []string{"\u2581", "{", "\"", "a", "~", `{"`, `":`, "\u2581the"} {
		if !seen[p] {
			t.Errorf("missing piece %q", p)
		}
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, cfg := range []Config{{Width: 64, Heads: 3}, {Heads: 4, KVHeads: 3}, {Width: 12, Heads: 4}} {
		if err := Write(io.Discard, cfg); err == nil {
			t.Errorf("%+v: want error", cfg)
		}
	}
}
