package models

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnreachable is wrapped by errors that mean no server answered.
var ErrUnreachable = errors.New("model server unreachable")

// ErrModelNotFound is wrapped by errors that mean the server has no such model.
var ErrModelNotFound = errors.New("model not found")

// UnreachableError names the host that did not answer and how to fix it.
type UnreachableError struct {
	Host string
	Err  error
	API  string // "openai" for an OpenAI-compatible server; empty: Ollama
}

func (e *UnreachableError) Error() string {
	if e.API == "openai" {
		return fmt.Sprintf("cannot reach the OpenAI-compatible server at %s (%v): start it (vllm serve, llama-server, …), or point nsed at the right URL with --host http://HOST:PORT/v1", e.Host, e.Err)
	}
	return fmt.Sprintf("cannot reach Ollama at %s (%v): start it with `ollama serve`, or point nsed at the right server with --host or OLLAMA_HOST", e.Host, e.Err)
}
func (e *UnreachableError) Unwrap() []error { return []error{ErrUnreachable, e.Err} }

// ModelNotFoundError names the missing model and the host asked.
type ModelNotFoundError struct {
	Host, Model string
	API         string   // "openai" for an OpenAI-compatible server; empty: Ollama
	Listed      []string // the models the server listed, when it was asked
}

func (e *ModelNotFoundError) Error() string {
	if e.API == "openai" {
		msg := fmt.Sprintf("model %q is not served by the OpenAI-compatible server at %s", e.Model, e.Host)
		if len(e.Listed) > 0 {
			return msg + ": it serves " + strings.Join(e.Listed, ", ")
		}
		return msg + ": start the server with that model, or pick one listed by `nsed models`"
	}
	return fmt.Sprintf("model %q is not available on Ollama at %s: pull it with `ollama pull %s`, or pick one listed by `nsed models`", e.Model, e.Host, e.Model)
}
func (e *ModelNotFoundError) Unwrap() error { return ErrModelNotFound }
