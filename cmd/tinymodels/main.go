// Command tinymodels writes tiny random-weight models for a test Ollama
// server: one folder per model holding model.gguf and a Modelfile, ready for
// `ollama create NAME -f DIR/NAME/Modelfile`. It prints the model names, one
// per line.
//
//	go run ./cmd/tinymodels -out DIR
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nsed/nsed/models/tinygguf"
)

// The set tests rely on: three same-sized models that reply differently,
// and one bigger model so size-aware code (the broker) sees a difference.
var set = []tinygguf.Config{
	{Name: "tiny-a", Seed: 1, Width: 64},
	{Name: "tiny-b", Seed: 2, Width: 64},
	{Name: "tiny-c", Seed: 3, Width: 64},
	{Name: "tiny-big", Seed: 4, Width: 128},
}

// modelfile keeps prompts plain text. num_thread 1 matters: the default
// thread count busy-waits and makes concurrent requests many times slower.
// num_predict caps a call that sets no limit, since these models rarely stop
// by themselves.
const modelfile = `FROM ./model.gguf
TEMPLATE """{{ range .Messages }}{{ .Role }}: {{ .Content }}
{{ end }}assistant: """
PARAMETER num_thread 1
PARAMETER num_ctx %d
PARAMETER num_predict %d
`

func main() {
	out := flag.String("out", "", "directory to write the models into (required)")
	numCtx := flag.Int("num-ctx", 4096, "context window set in each Modelfile")
	numPredict := flag.Int("num-predict", 512, "default output token limit set in each Modelfile")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: tinymodels -out DIR")
		os.Exit(2)
	}
	for _, cfg := range set {
		if err := write(filepath.Join(*out, cfg.Name), cfg, *numCtx, *numPredict); err != nil {
			fmt.Fprintln(os.Stderr, "tinymodels:", err)
			os.Exit(1)
		}
		fmt.Println(cfg.Name)
	}
}

func write(dir string, cfg tinygguf.Config, numCtx, numPredict int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "model.gguf"))
	if err != nil {
		return err
	}
	if err := tinygguf.Write(f, cfg); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	mf := fmt.Sprintf(modelfile, numCtx, numPredict)
	return os.WriteFile(filepath.Join(dir, "Modelfile"), []byte(mf), 0o644)
}
