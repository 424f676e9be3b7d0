package eval

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
)

//go:embed samples/*.jsonl
var samples embed.FS

// SampleNames are the datasets shipped with nsed, a handful of items each
// in the public layouts, so every command runs out of the box. "arithmetic"
// is in the AIME layout: a dozen sums a 135M-parameter model gets partly
// right, so a bench on a small real model has something to compare.
var SampleNames = []string{"aime", "lcb", "darkbench", "arithmetic"}

// SamplePrefix marks a shipped sample where a dataset path is expected:
// "sample:aime", "sample:lcb", "sample:darkbench", "sample:arithmetic".
const SamplePrefix = "sample:"

// Sample returns a shipped sample dataset's bytes.
func Sample(name string) ([]byte, error) {
	name = strings.TrimPrefix(name, SamplePrefix)
	b, err := samples.ReadFile("samples/" + name + ".jsonl")
	if err != nil {
		return nil, fmt.Errorf("no shipped sample %q (have %s)", name, strings.Join(SampleNames, ", "))
	}
	return b, nil
}

// LoadDataset loads a file, or a shipped sample named "sample:NAME". It
// returns the items, the malformed records skipped (with SkipBad), and a
// hash of the contents for the run manifest.
func LoadDataset(path string, o LoadOptions) ([]Item, []*LineError, string, error) {
	var data []byte
	var err error
	if strings.HasPrefix(path, SamplePrefix) {
		data, err = Sample(path)
	} else {
		data, err = readFile(path)
	}
	if err != nil {
		return nil, nil, "", err
	}
	items, bad, err := Load(bytes.NewReader(data), o)
	if err != nil {
		return items, bad, "", fmt.Errorf("%s: %w", path, err)
	}
	return items, bad, hashBytes(data), nil
}
