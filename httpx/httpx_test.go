package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// testLog returns a logger writing text to the returned buffer, so tests
// can check what an operator would read.
func testLog() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

// decode reads a problem+json response, failing the test unless it is one.
func decode(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("problem body: %v\n%s", err, rec.Body)
	}
	return body
}

// WriteError answers with an RFC 9457 problem: the status, its title, the
// detail (also as "error") and a code a program can switch on, with the
// error's headers and Retry-After in whole seconds, rounded up.
func TestWriteError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		detail string
		code   string
		header map[string]string
	}{
		{name: "bad request", err: Errorf(http.StatusBadRequest, "bad %s", "offer"),
			status: 400, detail: "bad offer", code: "invalid_request", header: map[string]string{"Retry-After": ""}},
		{name: "code from status text", err: Errorf(http.StatusNotFound, "no such session"),
			status: 404, detail: "no such session", code: "not_found"},
		{name: "explicit code", err: Errorf(http.StatusConflict, "busy line").WithCode("busy"),
			status: 409, detail: "busy line", code: "busy"},
		{name: "extra headers", err: Errorf(http.StatusUnsupportedMediaType, "use SDP").WithHeader("Accept-Post", "application/sdp"),
			status: 415, detail: "use SDP", code: "unsupported_media_type", header: map[string]string{"Accept-Post": "application/sdp"}},
		{name: "retry after rounds up", err: &Error{Status: http.StatusServiceUnavailable, Detail: "later", RetryAfter: 1500 * time.Millisecond},
			status: 503, detail: "later", code: "unavailable", header: map[string]string{"Retry-After": "2"}},
		{name: "retry after under a second", err: &Error{Status: http.StatusTooManyRequests, Detail: "slow down", RetryAfter: 100 * time.Millisecond},
			status: 429, detail: "slow down", code: "rate_limited", header: map[string]string{"Retry-After": "1"}},
		{name: "retry after whole seconds", err: &Error{Status: http.StatusConflict, Detail: "not live", RetryAfter: 5 * time.Second},
			status: 409, detail: "not live", code: "conflict", header: map[string]string{"Retry-After": "5"}},
		{name: "wrapped", err: fmt.Errorf("create: %w", Errorf(http.StatusUnprocessableEntity, "no codec")),
			status: 422, detail: "no codec", code: "unprocessable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, _ := testLog()
			rec := httptest.NewRecorder()
			WriteError(rec, log, tc.err)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			body := decode(t, rec)
			want := map[string]any{
				"type": "about:blank", "title": http.StatusText(tc.status), "status": float64(tc.status),
				"detail": tc.detail, "error": tc.detail, "code": tc.code,
			}
			for k, v := range want {
				if body[k] != v {
					t.Errorf("%s = %v, want %v", k, body[k], v)
				}
			}
			if len(body) != len(want) {
				t.Errorf("body has members %v, want exactly %d", body, len(want))
			}
			for k, v := range tc.header {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
		})
	}
}

// An error that is not an *Error is a server fault: 500 with a generic
// detail, its text in the log and never in the response, which could leak
// paths, queries or addresses.
func TestWriteErrorHidesUnexpectedErrors(t *testing.T) {
	log, logged := testLog()
	rec := httptest.NewRecorder()
	WriteError(rec, log, errors.New("open /var/lib/wishcast/db: secret-detail"))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	body := decode(t, rec)
	if body["code"] != "internal" || body["detail"] != internalDetail {
		t.Errorf("body %v, want code internal and the generic detail", body)
	}
	if strings.Contains(rec.Body.String(), "secret-detail") {
		t.Errorf("response leaks the error: %s", rec.Body)
	}
	if !strings.Contains(logged.String(), "secret-detail") {
		t.Errorf("the error is not logged: %q", logged)
	}

	// The cause of an *Error is logged for 5xx but not sent either.
	log, logged = testLog()
	rec = httptest.NewRecorder()
	WriteError(rec, log, &Error{Status: http.StatusServiceUnavailable, Detail: "cannot publish now", Err: errors.New("hub closed: secret-cause")})
	if strings.Contains(rec.Body.String(), "secret-cause") {
		t.Errorf("response leaks the cause: %s", rec.Body)
	}
	if !strings.Contains(logged.String(), "secret-cause") {
		t.Errorf("the cause of a 503 is not logged: %q", logged)
	}
}

// Handle writes a returned error, turns a panic into a 500 (logged) so the
// client gets an answer instead of a dropped connection, and lets
// http.ErrAbortHandler through, since net/http uses it to abort a
// response on purpose.
func TestHandle(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/whip/live", nil)
	t.Run("error", func(t *testing.T) {
		log, _ := testLog()
		rec := httptest.NewRecorder()
		Handle(log, func(http.ResponseWriter, *http.Request) error {
			return Errorf(http.StatusForbidden, "not yours")
		})(rec, req)
		if rec.Code != http.StatusForbidden || decode(t, rec)["detail"] != "not yours" {
			t.Errorf("got %d %s, want the 403 problem", rec.Code, rec.Body)
		}
	})
	t.Run("success", func(t *testing.T) {
		log, _ := testLog()
		rec := httptest.NewRecorder()
		Handle(log, func(w http.ResponseWriter, _ *http.Request) error {
			w.WriteHeader(http.StatusCreated)
			return nil
		})(rec, req)
		if rec.Code != http.StatusCreated || rec.Body.Len() != 0 {
			t.Errorf("got %d %q, want the handler's own 201", rec.Code, rec.Body)
		}
	})
	t.Run("panic", func(t *testing.T) {
		log, logged := testLog()
		rec := httptest.NewRecorder()
		Handle(log, func(http.ResponseWriter, *http.Request) error {
			var m map[string]int
			m["boom"] = 1 // a nil map write: a runtime panic
			return nil
		})(rec, req)
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("status %d, want 500", rec.Code)
		}
		if b := decode(t, rec); b["code"] != "internal" {
			t.Errorf("body %v", b)
		}
		if strings.Contains(rec.Body.String(), "nil map") {
			t.Errorf("response leaks the panic: %s", rec.Body)
		}
		if l := logged.String(); !strings.Contains(l, "handler panic") || !strings.Contains(l, "nil map") || !strings.Contains(l, "/whip/live") {
			t.Errorf("panic not logged with its value and route: %q", l)
		}
	})
	t.Run("abort handler", func(t *testing.T) {
		log, _ := testLog()
		rec := httptest.NewRecorder()
		var got any
		func() {
			defer func() { got = recover() }()
			Handle(log, func(http.ResponseWriter, *http.Request) error { panic(http.ErrAbortHandler) })(rec, req)
		}()
		if got != http.ErrAbortHandler { //nolint:errorlint // the panic value itself
			t.Fatalf("recovered %v, want http.ErrAbortHandler re-panicked", got)
		}
		if rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
			t.Errorf("an aborted response was written: %q", rec.Body)
		}
	})
}

// MethodNotAllowed answers 405 with the Allow list (RFC 9110 §15.5.6).
func TestMethodNotAllowed(t *testing.T) {
	log, _ := testLog()
	rec := httptest.NewRecorder()
	MethodNotAllowed(log, "GET, POST")(rec, httptest.NewRequest(http.MethodPut, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, POST" {
		t.Errorf("got %d Allow %q, want 405 with Allow: GET, POST", rec.Code, rec.Header().Get("Allow"))
	}
	if d, _ := decode(t, rec)["detail"].(string); !strings.Contains(d, "PUT") {
		t.Errorf("detail %q does not name the method", d)
	}
}

// MediaTypeIs compares the media type case-insensitively and ignores
// parameters (RFC 9110 §8.3.1).
func TestMediaTypeIs(t *testing.T) {
	for _, tc := range []struct {
		ct   string
		want bool
	}{
		{"application/sdp", true},
		{"Application/SDP", true},
		{"application/sdp; charset=utf-8", true},
		{"application/sdp;charset=UTF-8", true},
		{"", false},
		{"text/plain", false},
		{"application/sdp-extra", false},
		{"application/sdp; =broken", false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		if tc.ct != "" {
			r.Header.Set("Content-Type", tc.ct)
		}
		if got := MediaTypeIs(r, "application/sdp"); got != tc.want {
			t.Errorf("MediaTypeIs(%q) = %v, want %v", tc.ct, got, tc.want)
		}
	}
}

// countingReader counts the bytes read through it and fails with err (if
// set) once data is exhausted.
type countingReader struct {
	data io.Reader
	err  error
	n    int
}

// Read implements io.Reader.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.data.Read(p)
	c.n += n
	if err == io.EOF && c.err != nil {
		err = c.err
	}
	return n, err
}

// statusOf returns the status of an *Error, or 0.
func statusOf(err error) int {
	var he *Error
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

// ReadBody returns the body up to the limit; beyond it a 413, refused
// before reading when Content-Length tells, and a 400 when reading fails.
func TestReadBody(t *testing.T) {
	const limit = 16
	t.Run("within the limit", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("exactly 16 bytes"))
		body, err := ReadBody(httptest.NewRecorder(), r, limit)
		if err != nil || string(body) != "exactly 16 bytes" {
			t.Errorf("got %q, %v", body, err)
		}
	})
	t.Run("content-length too large", func(t *testing.T) {
		src := &countingReader{data: strings.NewReader(strings.Repeat("x", 1000))}
		r := httptest.NewRequest(http.MethodPost, "/", src)
		r.ContentLength = 1000
		rec := httptest.NewRecorder()
		_, err := ReadBody(rec, r, limit)
		if statusOf(err) != http.StatusRequestEntityTooLarge {
			t.Fatalf("error %v, want 413", err)
		}
		if src.n != 0 {
			t.Errorf("read %d bytes of a body refused by its Content-Length", src.n)
		}
		if rec.Header().Get("Connection") != "close" {
			t.Errorf("Connection %q, want close: the unread body must not be taken as the next request", rec.Header().Get("Connection"))
		}
	})
	t.Run("chunked body too large", func(t *testing.T) {
		src := &countingReader{data: strings.NewReader(strings.Repeat("x", 1000))}
		r := httptest.NewRequest(http.MethodPost, "/", src)
		r.ContentLength = -1 // unknown, as with Transfer-Encoding: chunked
		_, err := ReadBody(httptest.NewRecorder(), r, limit)
		if statusOf(err) != http.StatusRequestEntityTooLarge {
			t.Fatalf("error %v, want 413", err)
		}
		if src.n >= 1000 {
			t.Errorf("read all %d bytes of a body over a %d-byte limit", src.n, limit)
		}
	})
	t.Run("read error", func(t *testing.T) {
		src := &countingReader{data: strings.NewReader("v=0"), err: io.ErrUnexpectedEOF}
		r := httptest.NewRequest(http.MethodPost, "/", src)
		r.ContentLength = -1
		_, err := ReadBody(httptest.NewRecorder(), r, limit)
		if statusOf(err) != http.StatusBadRequest {
			t.Fatalf("error %v, want 400", err)
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("error %v does not keep its cause", err)
		}
	})
}

// Over a real connection, a chunked body past the limit is answered 413
// as a problem, not read to its end.
func TestReadBodyChunkedOverHTTP(t *testing.T) {
	log, _ := testLog()
	srv := httptest.NewServer(Handle(log, func(w http.ResponseWriter, r *http.Request) error {
		if r.ContentLength != -1 {
			return Errorf(http.StatusBadRequest, "the test request has a Content-Length")
		}
		if _, err := ReadBody(w, r, 1024); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		size   int
		status int
	}{{1024, http.StatusNoContent}, {64 << 10, http.StatusRequestEntityTooLarge}} {
		// A reader of unknown length makes the client send it chunked.
		req, err := http.NewRequest(http.MethodPost, srv.URL, io.MultiReader(strings.NewReader(strings.Repeat("a", tc.size))))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%d bytes: %v", tc.size, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%d bytes: status %d, want %d", tc.size, resp.StatusCode, tc.status)
		}
	}
}
