package stream

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a bytes.Buffer for a logger written from several
// goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// An ordinary end of a source (a call hung up) is logged at INFO and a
// fault at WARN; both reach the waiting viewer with their own words, and
// the marks survive for callers that branch on them.
func TestSourceEndedOrFailedLogLevel(t *testing.T) {
	for _, c := range []struct {
		err   error
		level string
	}{
		{Ended(errors.New("the call ended (hangup)")), "level=INFO"},
		{errors.New("camera refused the password"), "level=WARN"},
	} {
		logs := &lockedBuffer{}
		h := NewHub(Config{}, slog.New(slog.NewTextHandler(logs, nil)))
		src := &fakeSource{}
		h.AddSource("calls/", src)
		done := make(chan error, 1)
		go func() {
			_, err := h.Acquire(context.Background(), "calls/c1/bob")
			done <- err
		}()
		waitFor(t, "the source to start", func() bool { return src.starts.Load() == 1 })
		h.SourceFailed("calls/c1/bob", c.err)
		err := <-done
		if err == nil || !strings.Contains(err.Error(), c.err.Error()) {
			t.Fatalf("viewer's error %v, want it to carry %q", err, c.err)
		}
		if errors.Is(c.err, ErrSourceEnded) != errors.Is(err, ErrSourceEnded) {
			t.Fatalf("the ended mark was lost: %v", err)
		}
		var line string
		for l := range strings.SplitSeq(logs.String(), "\n") {
			if strings.Contains(l, c.err.Error()) {
				line = l
			}
		}
		if !strings.Contains(line, c.level) {
			t.Fatalf("%v logged as %q, want %s", c.err, line, c.level)
		}
		h.Close()
	}
}
