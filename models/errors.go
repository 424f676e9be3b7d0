package models

import (
	"errors"
	"fmt"
)

// ErrUnreachable is wrapped by errors that mean no server answered.
var ErrUnreachable = errors.New("model server unreachable")

// ErrModelNotFound is wrapped by errors that mean the server has no such model.
var ErrModelNotFound = errors.New("model not found")

// UnreachableError names the host that did not answer and how to fix it.
type UnreachableError struct {
	Host string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach Ollama at %s (%v): start it with `ollama serve`, or point nsed at the right server with --host or OLLAMA_HOST", e.Host, e.Err)
}
func (e *UnreachableError) Unwrap() []error { return []error{ErrUnreachable, e.Err} }

// ModelNotFoundError names the missing model and the host asked.
type ModelNotFoundError struct {
	Host, Model string
}

func (e *ModelNotFoundError) Error() string {
	return fmt.Sprintf("model %q is not available on Ollama at %s: pull it with `ollama pull %s`, or pick one listed by `nsed models`", e.Model, e.Host, e.Model)
}
func (e *ModelNotFoundError) Unwrap() error { return ErrModelNotFound }
