package stream

import (
	"errors"
	"time"
)

var (
	// ErrInvalidName is wrapped by every error about a malformed stream name.
	ErrInvalidName = errors.New("invalid stream name")
	// ErrPublisherExists means the name already has a live publisher.
	ErrPublisherExists = errors.New("stream already has a publisher")
	// ErrNotLive means the stream has no publisher; Acquire returns it as a
	// *NotLiveError.
	ErrNotLive = errors.New("stream is not live")
	// ErrClosed means the hub has been closed.
	ErrClosed = errors.New("hub closed")
	// ErrSourceUnavailable is wrapped by a Source error saying that a
	// service the source depends on failed (the account database): the
	// viewer should hear "try again", not "not live".
	ErrSourceUnavailable = errors.New("on-demand source unavailable")
	// ErrSourceEnded is wrapped by a SourceFailed error that is an
	// ordinary outcome (a call hung up, a person who went offline), not a
	// fault: the hub logs it at INFO, not WARN.
	ErrSourceEnded = errors.New("on-demand source ended")
)

// Unavailable marks err, a sentence for the viewer, as a Source failure of
// a service it depends on: errors.Is(err, ErrSourceUnavailable) holds,
// and its text stays err's.
func Unavailable(err error) error { return unavailableError{err} }

type unavailableError struct{ error }

func (e unavailableError) Is(target error) bool { return target == ErrSourceUnavailable }
func (e unavailableError) Unwrap() error        { return e.error }

// Ended marks err, a sentence for the viewer, as an ordinary end of a
// source (see ErrSourceEnded); its text stays err's.
func Ended(err error) error { return endedError{err} }

type endedError struct{ error }

func (e endedError) Is(target error) bool { return target == ErrSourceEnded }
func (e endedError) Unwrap() error        { return e.error }

// retryAfter is the Retry-After suggested with every NotLiveError.
const retryAfter = 5 * time.Second

// NotLiveError is returned by Hub.Acquire when the stream did not become
// live. errors.Is(err, ErrNotLive) holds for it.
type NotLiveError struct {
	// Name is the stream name that was asked for.
	Name string
	// Reason is a human sentence: "no publisher", "on-demand source did not
	// go live within 10s", or the error a source reported.
	Reason string
	// RetryAfter suggests when to try again.
	RetryAfter time.Duration
	// Err is the underlying cause if there is one (a source's error, a
	// context error); it may be nil.
	Err error
}

// Error implements error.
func (e *NotLiveError) Error() string {
	return "stream " + e.Name + " is not live: " + e.Reason
}

// Is reports whether target is ErrNotLive, so that errors.Is(err, ErrNotLive)
// holds for every *NotLiveError.
func (e *NotLiveError) Is(target error) bool { return target == ErrNotLive }

// Unwrap returns the underlying cause, if any.
func (e *NotLiveError) Unwrap() error { return e.Err }

// notLive builds a *NotLiveError with the default retry suggestion.
func notLive(name, reason string, cause error) *NotLiveError {
	return &NotLiveError{Name: name, Reason: reason, RetryAfter: retryAfter, Err: cause}
}
