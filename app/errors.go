package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/nsed/nsed/config"
	"github.com/nsed/nsed/models"
)

// UsageError is a mistake in flags, arguments or configuration: the user
// can fix it by changing the command line or nsed.toml.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef makes a UsageError.
func Usagef(format string, a ...any) error { return &UsageError{fmt.Errorf(format, a...)} }

// Failure classifies an error for the command's exit status.
type Failure int

const (
	Failed      Failure = iota // anything else
	OK                         // no error
	Usage                      // flags, arguments or configuration
	Unreachable                // no model server answered
	NoModel                    // a model is missing on its server
	Cancelled                  // the user interrupted
)

// Classify says what kind of failure err is.
func Classify(err error) Failure {
	var ue *UsageError
	var ce *config.Error
	switch {
	case err == nil:
		return OK
	case errors.As(err, &ue):
		return Usage
	case errors.Is(err, context.Canceled):
		return Cancelled
	case errors.Is(err, models.ErrUnreachable):
		return Unreachable
	case errors.Is(err, models.ErrModelNotFound):
		return NoModel
	case errors.As(err, &ce):
		return Usage
	}
	return Failed
}
