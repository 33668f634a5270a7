package session

import (
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wishcast/wishcast/httpx"
)

// newTestManager returns a manager on loopback ICE sockets of its own.
func newTestManager(t *testing.T, cfg Config) *Manager {
	t.Helper()
	cfg.UDPPort, cfg.TCPPort = 0, -1
	cfg.Loopback, cfg.HostIPs = true, []string{"127.0.0.1"}
	api, err := NewAPI(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Close() })
	return NewManager(cfg, api, nil)
}

// Sessions ended while others are being created (a hang-up while the
// peer is still posting, a camera replaced, a revocation tick) must never
// meet a half-built session: every session that can be found has its peer
// connection and reap timer, and the counts add up afterwards.
func TestCloseWhileCreating(t *testing.T) {
	m := newTestManager(t, Config{MaxSessions: 100000, MaxPending: 100000})
	stop := make(chan struct{})
	var closers sync.WaitGroup
	var closed atomic.Int64
	for range 2 {
		closers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, s := range m.Sessions() {
					if s.PC == nil {
						t.Error("a session without a peer connection is visible")
					}
				}
				closed.Add(int64(m.CloseWhere(func(string, string, string) bool { return true }, ReasonServer)))
			}
		})
	}
	var creators sync.WaitGroup
	for range 4 {
		creators.Go(func() {
			for range 150 {
				s, err := m.New("whep", "live/x", Creator{Owner: "alice"})
				if err != nil {
					t.Errorf("new session: %v", err)
					return
				}
				// The creator goes on with a session that may have been
				// ended under it, as a handler does.
				s.OnClose(func() {})
				s.Close(ReasonRejected)
			}
		})
	}
	creators.Wait()
	close(stop)
	closers.Wait()
	st := m.Stats()
	if st.Active != 0 || st.Pending != 0 {
		t.Fatalf("after all sessions closed: %d active, %d pending; want 0 and 0", st.Active, st.Pending)
	}
	if st.Created != 600 {
		t.Fatalf("created %d sessions, counted %d", 600, st.Created)
	}
	t.Logf("%d of 600 sessions were ended by the concurrent closer", closed.Load())
}

// Shutdown with creations in flight: every New either returns a session
// that CloseAll ended, or a 503 that says the server is shutting down.
func TestCloseAllWhileCreating(t *testing.T) {
	for round := range 20 {
		m := newTestManager(t, Config{MaxPending: 100000, MaxSessions: 100000})
		var wg sync.WaitGroup
		var made []*Session
		var mu sync.Mutex
		for range 4 {
			wg.Go(func() {
				for {
					s, err := m.New("whip", "live/x", Creator{})
					if err != nil {
						var he *httpx.Error
						if !errors.As(err, &he) || he.Status != http.StatusServiceUnavailable || !errors.Is(err, ErrShuttingDown) {
							t.Errorf("round %d: new after shutdown: %v", round, err)
						}
						return
					}
					mu.Lock()
					made = append(made, s)
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Millisecond)
		m.CloseAll()
		wg.Wait()
		for _, s := range made {
			select {
			case <-s.Done():
			case <-time.After(5 * time.Second):
				t.Fatalf("round %d: a session created before shutdown still runs", round)
			}
		}
		if st := m.Stats(); st.Active != 0 || st.Pending != 0 {
			t.Fatalf("round %d: %d active, %d pending after CloseAll", round, st.Active, st.Pending)
		}
	}
}

// A session whose peer connection cannot be created is not counted as
// created, so created minus closed stays the number running.
func TestCreatedMinusClosed(t *testing.T) {
	m := newTestManager(t, Config{})
	obs := &countingObserver{}
	m.SetObserver(obs)
	for range 5 {
		s, err := m.New("whep", "live/x", Creator{})
		if err != nil {
			t.Fatal(err)
		}
		s.Close(ReasonRejected)
	}
	m.CloseAll()
	if _, err := m.New("whep", "live/x", Creator{}); err == nil {
		t.Fatal("New after CloseAll succeeded")
	}
	if c, d := obs.created.Load(), obs.closed.Load(); c != 5 || d != 5 {
		t.Fatalf("observer saw %d created and %d closed; want 5 and 5", c, d)
	}
}

type countingObserver struct {
	created, closed atomic.Int64
}

func (o *countingObserver) SessionCreated(string)                  { o.created.Add(1) }
func (o *countingObserver) SessionRefused(string)                  {}
func (o *countingObserver) SessionConnected(string, time.Duration) {}
func (o *countingObserver) SessionMedia(string, time.Duration)     {}
func (o *countingObserver) SessionClosed(string, string, bool)     { o.closed.Add(1) }
func (o *countingObserver) KeyframeRequest(string)                 {}
func (o *countingObserver) Nack(int)                               {}
func (o *countingObserver) ReceiverReport(float64, time.Duration)  {}
func (o *countingObserver) LayerSwitch(bool)                       {}
func (o *countingObserver) BandwidthEstimate(int)                  {}
