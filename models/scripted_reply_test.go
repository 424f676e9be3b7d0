package models

import (
	"encoding/json"
	"testing"
)

// A scripted model is a function of its request: tests that compare two
// runs (a resumed one against an uninterrupted one) rely on it.
func TestDefaultReplyIsAFunctionOfTheRequest(t *testing.T) {
	schema := json.RawMessage(`{"type":"object","properties":{
		"a":{"type":"integer","minimum":-100,"maximum":100},
		"b":{"type":"string","maxLength":60},
		"c":{"type":"integer","minimum":-100,"maximum":100},
		"d":{"type":"array","maxItems":3,"items":{"type":"string","maxLength":20}},
		"e":{"type":"boolean"}}}`)
	req := Request{Model: "m", Messages: []Message{{Role: "user", Content: "review these"}}, Format: schema}
	first, err := DefaultReply(req)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if again, _ := DefaultReply(req); again != first {
			t.Fatalf("the same request got two replies:\n%s\n%s", first, again)
		}
	}
}
