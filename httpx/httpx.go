// Package httpx holds the HTTP plumbing every wishcast endpoint shares:
// handlers that return errors, one mapping from errors to RFC 9457 problem
// responses, bounded body reading with media-type checks, and CORS.
package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is an error with the HTTP status, headers and message a client
// should see. Handlers return it; Handle writes it.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Detail is a sentence a person can act on.
	Detail string
	// RetryAfter, when positive, is sent as a Retry-After header (seconds).
	RetryAfter time.Duration
	// Header holds extra response headers (e.g. Allow, Accept-Post).
	Header http.Header
	// Code is a stable machine-readable word for the error ("busy",
	// "offline"); empty means one derived from Status ("forbidden").
	Code string
	// Err is the underlying cause, logged but never shown to the client.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Detail, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Detail)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted detail.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Detail: fmt.Sprintf(format, args...)}
}

// WithHeader returns e with header k set to v.
func (e *Error) WithHeader(k, v string) *Error {
	if e.Header == nil {
		e.Header = http.Header{}
	}
	e.Header.Set(k, v)
	return e
}

// WithCode returns e with its machine-readable code set.
func (e *Error) WithCode(code string) *Error {
	e.Code = code
	return e
}

// internalDetail is what a client learns of an error the server did not
// expect; the error itself goes to the log.
const internalDetail = "the server failed to handle this request (the error is in its log); try again, and tell the operator if it persists"

// HandlerFunc is an HTTP handler that returns an error instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts h to an http.HandlerFunc: a returned error becomes a problem
// response (see WriteError), and a panic becomes a 500 instead of reaching
// the client as a dropped connection.
func Handle(log *slog.Logger, h HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as the net/http docs do
					panic(v)
				}
				log.Error("handler panic", "method", r.Method, "route", r.URL.Path, "panic", fmt.Sprint(v))
				WriteError(w, log, &Error{Status: http.StatusInternalServerError, Detail: internalDetail})
			}
		}()
		if err := h(w, r); err != nil {
			WriteError(w, log, err)
		}
	}
}

// problem is the RFC 9457 body, with two extension members: "error"
// repeats the detail for clients that expect {"error", "code"}, and "code"
// is a stable word a program can switch on.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Error  string `json:"error,omitempty"`
	Code   string `json:"code"`
}

// code is e's machine-readable code.
func (e *Error) code() string {
	if e.Code != "" {
		return e.Code
	}
	switch e.Status {
	case http.StatusBadRequest:
		return "invalid_request"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnprocessableEntity:
		return "unprocessable"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusInternalServerError:
		return "internal"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	return strings.ReplaceAll(strings.ToLower(http.StatusText(e.Status)), " ", "_")
}

// WriteError writes err as an application/problem+json response. Errors
// that are not an *Error become 500 with a generic detail; their text is
// logged, never sent.
func WriteError(w http.ResponseWriter, log *slog.Logger, err error) {
	var he *Error
	if !errors.As(err, &he) {
		log.Error("request failed", "err", err)
		he = &Error{Status: http.StatusInternalServerError, Detail: internalDetail}
	} else if he.Status >= 500 {
		log.Warn("request failed", "status", he.Status, "err", he)
	}
	h := w.Header()
	for k, vs := range he.Header {
		h[k] = vs
	}
	if he.RetryAfter > 0 {
		secs := int((he.RetryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.Itoa(secs))
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(he.Status)
	_ = json.NewEncoder(w).Encode(problem{
		Type:   "about:blank",
		Title:  http.StatusText(he.Status),
		Status: he.Status,
		Detail: he.Detail,
		Error:  he.Detail,
		Code:   he.code(),
	})
}

// MediaTypeIs reports whether the request's Content-Type has the media type
// want, compared case-insensitively with parameters allowed (RFC 9110 §8.3.1).
func MediaTypeIs(r *http.Request, want string) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return strings.EqualFold(mt, want)
}

// ReadBody reads the request body up to limit bytes. A larger body is a 413
// error; a body that stalls is cut by the server's read timeout.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		// Refuse before reading; the rest of the body is not wanted.
		w.Header().Set("Connection", "close")
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("body larger than %d bytes", limit)}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("body larger than %d bytes", limit)}
		}
		return nil, &Error{Status: http.StatusBadRequest, Detail: "could not read request body", Err: err}
	}
	return body, nil
}

// WriteJSON writes v as a JSON response with status, not to be cached
// (API answers are per caller). It returns nil: once the status is out, a
// failed write is the client's.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return nil
}

// MethodNotAllowed returns a handler that answers 405 with the given Allow
// list (RFC 9110 §15.5.6).
func MethodNotAllowed(log *slog.Logger, allow string) http.HandlerFunc {
	return Handle(log, func(w http.ResponseWriter, r *http.Request) error {
		return Errorf(http.StatusMethodNotAllowed, "method %s not allowed here; allowed: %s", r.Method, allow).WithHeader("Allow", allow)
	})
}
