package cluster

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// logged keeps the records a logger gets.
type logged struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logged) Enabled(context.Context, slog.Level) bool { return true }
func (l *logged) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}
func (l *logged) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logged) WithGroup(string) slog.Handler      { return l }

// warnings returns the WARN records: message and "peer" attribute.
func (l *logged) warnings() [][2]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [][2]string
	for _, r := range l.records {
		if r.Level != slog.LevelWarn {
			continue
		}
		peer := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "peer" {
				peer = a.Value.String()
			}
			return true
		})
		out = append(out, [2]string{r.Message, peer})
	}
	return out
}

// A node whose signature another refuses (another secret, a clock too
// far off) hears a 401 marked as a refusal: both nodes log it at WARN
// with the other node, the refusing one at most once per interval, and
// the relay's error says what to check.
func TestRefusedSignatureWarns(t *testing.T) {
	var atB, atA logged
	b := &Node{sign: signer{node: "b", secret: []byte("0123456789abcdef0123456789abcdef")}, log: slog.New(&atB)}
	srv := httptest.NewServer(b.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("a request with a bad signature reached the handler")
	})))
	defer srv.Close()
	a := &Node{sign: signer{node: "a", secret: []byte("another secret of 32 characters!")}, log: slog.New(&atA),
		client: http.DefaultClient, setupTimeout: 5 * time.Second}
	r := &relay{n: a, name: "live/x", holder: Holder{Node: "b", URL: srv.URL}, ctx: context.Background()}

	_, _, err := r.post(context.Background(), "v=0\r\n")
	if !errors.Is(err, errRefused) {
		t.Fatalf("relay to a node with another secret: %v, want a refusal", err)
	}
	if w := atA.warnings(); len(w) != 1 || w[0][1] != "b" {
		t.Errorf("the refused node's warnings %v, want one naming b", w)
	}
	if w := atB.warnings(); len(w) != 1 || w[0][1] != "a" || !strings.Contains(w[0][0], "CLUSTER_SECRET") {
		t.Errorf("the refusing node's warnings %v, want one naming a and the secret", w)
	}
	// Again at once: the refusing node holds its warning back.
	if _, _, err := r.post(context.Background(), "v=0\r\n"); !errors.Is(err, errRefused) {
		t.Fatalf("second relay: %v", err)
	}
	if w := atB.warnings(); len(w) != 1 {
		t.Errorf("the refusing node warned %d times within %s", len(w), refusalWarnEvery)
	}
	// A relay retries every renewal, and every request fails alike: the
	// refused node holds its warnings back too.
	for range 5 {
		if _, _, err := r.post(context.Background(), "v=0\r\n"); !errors.Is(err, errRefused) {
			t.Fatalf("relay again: %v", err)
		}
	}
	if w := atA.warnings(); len(w) != 1 {
		t.Errorf("the refused node warned %d times within %s, want once", len(w), refusalWarnEvery)
	}
	// A clock too far off is named as such.
	if got := refusalReason("a;1;n;00", time.Now()); !strings.Contains(got, "clock") {
		t.Errorf("reason for an old signature: %q", got)
	}
	if got := refusalReason("a;x;n;00", time.Now()); !strings.Contains(got, "malformed") {
		t.Errorf("reason for a bad time: %q", got)
	}
}
