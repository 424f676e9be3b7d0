package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
)

// AppendTranscript opens an existing transcript to go on writing it (a
// resumed run). A last line the writer was killed in the middle of is cut
// off first — the reader tolerates a cut only at the very end, so a line
// appended after it would make the whole file unreadable — and a whole
// last line missing its newline gets one.
func AppendTranscript(path string, tokens bool) (*TranscriptWriter, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("transcript: %w", err)
	}
	if err := endWithWholeLine(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("transcript %s: %w", path, err)
	}
	return &TranscriptWriter{f: f, w: bufio.NewWriterSize(f, 64<<10), path: path, tokens: tokens}, nil
}

// endWithWholeLine leaves f ending in a newline after its last whole
// event, positioned at its end.
func endWithWholeLine(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	// The cut line is the bytes after the last newline; read back until
	// one is found (a line is at most maxTranscriptLine).
	const chunk = 64 << 10
	var tail []byte
	nl := int64(-1)
	for off := size; off > 0 && nl < 0 && int64(len(tail)) <= maxTranscriptLine; {
		n := min(int64(chunk), off)
		off -= n
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
			return err
		}
		tail = append(buf, tail...)
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			nl = off + int64(i)
		}
	}
	rest := size - (nl + 1) // bytes after the last newline
	switch {
	case rest == 0:
	case isEvent(tail[int64(len(tail))-rest:]):
		if _, err := f.WriteAt([]byte{'\n'}, size); err != nil {
			return err
		}
	default:
		if err := f.Truncate(nl + 1); err != nil {
			return fmt.Errorf("cutting its incomplete last line: %w", err)
		}
	}
	_, err = f.Seek(0, io.SeekEnd)
	return err
}

func isEvent(line []byte) bool {
	_, err := DecodeEvent(bytes.TrimSpace(line))
	return err == nil
}
