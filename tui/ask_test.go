package tui

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/nsed/nsed/themes"
)

func TestAskReadsTheQuestion(t *testing.T) {
	var out bytes.Buffer
	q, err := Ask(context.Background(), themes.Dark(), IO{In: strings.NewReader("What is 6*7?\r"), Out: &out})
	if err != nil || q != "What is 6*7?" {
		t.Fatalf("Ask = %q, %v", q, err)
	}
	q, err = Ask(context.Background(), themes.Dark(), IO{In: strings.NewReader("\x1b"), Out: &out})
	if err != nil || q != "" {
		t.Fatalf("esc: %q, %v", q, err)
	}
}
