package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects the server's output for the failure message.
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

// startServer builds cmd/wishcast and runs it on loopback, returning its
// URL and process id.
func startServer(t *testing.T) (string, int) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the server with")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "wishcast")
	build := exec.Command(goBin, "build", "-o", bin, "../wishcast")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ../wishcast: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"WISHCAST_LISTEN="+addr, "WISHCAST_METRICS_LISTEN=127.0.0.1:0",
		"WISHCAST_ICE_UDP_PORT=0",
		"WISHCAST_ICE_TCP_PORT=-1",
		"WISHCAST_ICE_LOOPBACK=true",
		"WISHCAST_ICE_HOST_IPS=127.0.0.1",
		"WISHCAST_MAX_PENDING=1000",
		"WISHCAST_DEMO_CAMERA=false",
		"WISHCAST_ADMIN_PASSWORD="+testPassword,
		"WISHCAST_PASSWORD_TIME=1",
		"WISHCAST_PASSWORD_MEMORY_KIB=8192",
		"WISHCAST_DATA_DIR="+filepath.Join(dir, "data"),
	)
	var log lockedBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("server log:\n%s", log.String())
		}
	})
	url := "http://" + addr
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, cmd.Process.Pid
			}
		}
		select {
		case <-exited:
			t.Fatalf("server exited:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not healthy within 5s: %v\n%s", err, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testPassword is the server's first admin password.
const testPassword = "load test password"

func TestRunAgainstServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	url, pid := startServer(t)
	cfg := defaultConfig()
	cfg.Server = url
	cfg.User, cfg.Password = "admin", testPassword
	cfg.Viewers = 3
	cfg.Duration = 2 * time.Second
	cfg.ServerPID = pid
	cfg.Settle = 300 * time.Millisecond
	cfg.Baseline = 500 * time.Millisecond
	cfg.Log = testWriter{t}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	printTable(&table, rep)
	t.Logf("report:\n%s", table.String())
	if err := rep.Check(); err != nil {
		t.Error(err)
	}
	if rep.Connected != 3 || rep.Failed != 0 || rep.Dropped != 0 {
		t.Errorf("viewers: %d connected, %d failed, %d dropped; want 3, 0, 0", rep.Connected, rep.Failed, rep.Dropped)
	}
	// 2 Mbit/s in 1100-byte packets at 30 fps is 8 packets a frame.
	if rep.PacketsPerFrame != 8 {
		t.Errorf("packets per frame %.1f, want 8", rep.PacketsPerFrame)
	}
	if rep.PublishedPPS < 180 || rep.PublishedPPS > 300 {
		t.Errorf("published %.0f packets/s, want about 240", rep.PublishedPPS)
	}
	if rep.PerViewer.Min <= 0 {
		t.Errorf("a viewer received nothing: %+v", rep.PerViewer)
	}
	// The bounds are loose: on a busy machine the viewers lag the
	// publisher, and a 2 s window's edges then cut off a good share.
	if rep.Received == 0 || rep.ReceivedPPS < 0.5*3*rep.PublishedPPS || rep.ReceivedPPS > 1.2*3*rep.PublishedPPS {
		t.Errorf("received %d packets, %.0f/s; want about 3 × %.0f/s", rep.Received, rep.ReceivedPPS, rep.PublishedPPS)
	}
	if rep.Delivery < 50 || rep.Delivery > 120 || rep.LossPercent > 5 {
		t.Errorf("delivery %.1f%%, loss %.2f%%", rep.Delivery, rep.LossPercent)
	}
	if rep.FirstKeyMs.Max <= 0 {
		t.Errorf("no viewer saw a keyframe: %+v", rep.FirstKeyMs)
	}
	s := rep.ServerStats
	if s == nil {
		t.Fatal("no server stats with ServerPID set")
	}
	if s.CPUSeconds <= 0 || s.CPUPerPacketUs <= 0 || s.CPUPerSentUs <= 0 || s.CPUPerSentUs > s.CPUPerPacketUs {
		t.Errorf("server CPU %.2fs, %.2f µs per packet received, %.2f µs per packet sent", s.CPUSeconds, s.CPUPerPacketUs, s.CPUPerSentUs)
	}
	if s.CPUPercent <= 0 || s.CPUPercent > 100*float64(rep.Cores) {
		t.Errorf("server CPU %.1f%% of a core", s.CPUPercent)
	}
	if s.RSSBeforeKB <= 0 || s.RSSConnectedKB <= 0 || s.RSSEndKB <= 0 {
		t.Errorf("server RSS %d / %d / %d KB", s.RSSBeforeKB, s.RSSConnectedKB, s.RSSEndKB)
	}
	if rep.CleanupErrors != 0 || len(rep.Errors) != 0 {
		t.Errorf("cleanup errors %d, errors %q", rep.CleanupErrors, rep.Errors)
	}
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestVP8Source(t *testing.T) {
	for _, c := range []struct{ bitrate, packet, fps, want int }{
		{2_000_000, 1100, 30, 8},
		{1_000_000, 1200, 25, 5},
		{64_000, 1100, 30, 1},
	} {
		s := newVP8Source(c.bitrate, c.packet, c.fps, 60)
		if got := s.packetCount(); got != c.want {
			t.Errorf("%+v: %d packets per frame, want %d", c, got, c.want)
		}
		total := 0
		for i := range s.packetCount() {
			n := s.packetSize(i)
			if n > c.packet || n < 8 {
				t.Errorf("%+v: packet %d has %d bytes", c, i, n)
			}
			total += n
		}
		if total != c.bitrate/8/c.fps {
			t.Errorf("%+v: frame of %d bytes, want %d", c, total, c.bitrate/8/c.fps)
		}
	}
}

func TestIsKeyStart(t *testing.T) {
	rtpHeader := []byte{0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}
	packet := func(frame, i int, key bool) []byte {
		p := make([]byte, 100)
		fillVP8(p, frame, i, key)
		return append(append([]byte{}, rtpHeader...), p...)
	}
	ext := func(p []byte) []byte { // the same packet with a one-word header extension
		q := append([]byte{}, p[:12]...)
		q[0] |= 0x10
		q = append(q, 0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0)
		return append(q, p[12:]...)
	}
	for _, c := range []struct {
		name string
		p    []byte
		want bool
	}{
		{"key", packet(0, 0, true), true},
		{"inter", packet(1, 0, false), false},
		{"key continuation", packet(0, 1, true), false},
		{"key with extension", ext(packet(0, 0, true)), true},
		{"inter with extension", ext(packet(1, 0, false)), false},
		{"short", rtpHeader, false},
	} {
		if got := isKeyStart(c.p); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestSpreadPercentiles: percentiles by the nearest rank.
func TestSpreadPercentiles(t *testing.T) {
	v := make([]float64, 200)
	for i := range v {
		v[i] = float64(200 - i) // 200..1, unsorted
	}
	got := spread(v)
	want := Spread{Min: 1, Median: 100.5, P90: 180, P99: 198, Max: 200}
	if got != want {
		t.Fatalf("spread = %+v, want %+v", got, want)
	}
	if got := spread([]float64{7}); got != (Spread{Min: 7, Median: 7, P90: 7, P99: 7, Max: 7}) {
		t.Fatalf("spread of one = %+v", got)
	}
}
