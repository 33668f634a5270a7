package democam

import (
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtp"
)

// checkGoroutines fails the test if, once every cleanup registered after
// it has run, more goroutines are left than when it was called.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Fatalf("%d goroutines left, %d before:\n%s",
					runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// startServer starts a server on a free port, closed at cleanup.
func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// reader is what a PLAY client got.
type reader struct {
	desc *description.Session
	h264 *format.H264

	mu      sync.Mutex
	aus     [][][]byte // H.264 access units
	videoTS []uint32   // their RTP timestamps
	audio   int        // audio packets (any codec)
	audioTS []uint32
	video   int // video RTP packets (any codec)
}

func (r *reader) counts() (aus, video, audio int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.aus), r.video, r.audio
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// play connects a gortsplib client to url and plays every media. H.264 is
// decoded into access units; other packets are counted.
func play(t *testing.T, url string, transport gortsplib.Transport) (*reader, *gortsplib.Client) {
	t.Helper()
	r, c, err := tryPlay(url, transport)
	if err != nil {
		t.Fatalf("play %s: %v", url, err)
	}
	t.Cleanup(c.Close)
	return r, c
}

func tryPlay(url string, transport gortsplib.Transport) (*reader, *gortsplib.Client, error) {
	u, err := base.ParseURL(url)
	if err != nil {
		return nil, nil, err
	}
	c := &gortsplib.Client{
		Scheme:        u.Scheme,
		Host:          u.Host,
		Transport:     &transport,
		OnPacketsLost: func(uint64) {},
		OnDecodeError: func(error) {},
	}
	if err := c.Start2(); err != nil {
		return nil, nil, err
	}
	desc, _, err := c.Describe(u)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		c.Close()
		return nil, nil, err
	}
	r := &reader{desc: desc}
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			h, ok := f.(*format.H264)
			if !ok {
				isVideo := m.Type == description.MediaTypeVideo
				c.OnPacketRTP(m, f, func(pkt *rtp.Packet) {
					r.mu.Lock()
					defer r.mu.Unlock()
					if isVideo {
						r.video++
						return
					}
					r.audio++
					r.audioTS = append(r.audioTS, pkt.Timestamp)
				})
				continue
			}
			r.h264 = h
			dec, err := h.CreateDecoder()
			if err != nil {
				c.Close()
				return nil, nil, err
			}
			c.OnPacketRTP(m, f, func(pkt *rtp.Packet) {
				au, err := dec.Decode(pkt)
				r.mu.Lock()
				defer r.mu.Unlock()
				r.video++
				if err != nil {
					if !errors.Is(err, rtph264.ErrMorePacketsNeeded) &&
						!errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) {
						r.aus = append(r.aus, nil) // shows up as a broken unit
					}
					return
				}
				r.aus = append(r.aus, au)
				r.videoTS = append(r.videoTS, pkt.Timestamp)
			})
		}
	}
	if _, err := c.Play(nil); err != nil {
		c.Close()
		return nil, nil, err
	}
	return r, c, nil
}

// statusCode returns the RTSP status of a client error, or 0.
func statusCode(err error) base.StatusCode {
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) {
		return bad.Code
	}
	return 0
}

// hasNALU reports whether an access unit holds a NAL unit of type typ.
func hasNALU(au [][]byte, typ int) bool {
	for _, n := range au {
		if naluType(n) == typ {
			return true
		}
	}
	return false
}

// lockedBuffer is an io.Writer safe for concurrent use (a command's
// output read by the test).
type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

func ptr[T any](v T) *T { return &v }
