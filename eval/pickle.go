package eval

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// decodeCompressedTests undoes LiveCodeBench's packing of large private
// test sets: base64(zlib(pickle(json string))). Only the pickle opcodes a
// pickled str uses are understood, so nothing in the file is ever executed.
func decodeCompressedTests(s string) ([]byte, error) {
	z, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("neither a JSON list nor base64: %w", err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("base64 but not zlib: %w", err)
	}
	p, err := io.ReadAll(io.LimitReader(zr, 512<<20))
	if err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	str, err := unpickleString(p)
	if err != nil {
		return nil, fmt.Errorf("pickle: %w", err)
	}
	return []byte(str), nil
}

// unpickleString reads a pickle whose value is one str.
func unpickleString(p []byte) (string, error) {
	var out *string
	take := func(n uint64) ([]byte, error) {
		if uint64(len(p)) < n {
			return nil, errors.New("truncated")
		}
		b := p[:n]
		p = p[n:]
		return b, nil
	}
	for len(p) > 0 {
		op := p[0]
		p = p[1:]
		switch op {
		case 0x80: // PROTO
			if _, err := take(1); err != nil {
				return "", err
			}
		case 0x95: // FRAME
			if _, err := take(8); err != nil {
				return "", err
			}
		case 0x94: // MEMOIZE
		case 0x8c, 'X', 0x8d: // SHORT_BINUNICODE, BINUNICODE, BINUNICODE8
			w := map[byte]uint64{0x8c: 1, 'X': 4, 0x8d: 8}[op]
			lb, err := take(w)
			if err != nil {
				return "", err
			}
			var n uint64
			switch w {
			case 1:
				n = uint64(lb[0])
			case 4:
				n = uint64(binary.LittleEndian.Uint32(lb))
			default:
				n = binary.LittleEndian.Uint64(lb)
			}
			b, err := take(n)
			if err != nil {
				return "", err
			}
			s := string(b)
			out = &s
		case '.': // STOP
			if out == nil {
				return "", errors.New("no string before STOP")
			}
			return *out, nil
		default:
			return "", fmt.Errorf("unsupported opcode 0x%02x (only a pickled str is accepted)", op)
		}
	}
	return "", errors.New("no STOP")
}
