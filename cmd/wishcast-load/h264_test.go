package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needFFmpeg skips the test when FFmpeg cannot encode with libx264.
func needFFmpeg(t *testing.T) {
	t.Helper()
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("no ffmpeg on PATH")
	}
	out, err := exec.Command(bin, "-hide_banner", "-encoders").Output()
	if err != nil || !strings.Contains(string(out), "libx264") {
		t.Skip("ffmpeg has no libx264")
	}
}

// nalType is the NAL unit type of an RTP payload's first byte.
func nalType(p []byte) byte { return p[0] & 0x1f }

// TestH264Clip: the clip FFmpeg encodes is whole GOPs with an IDR, its
// SPS and PPS ahead of it in a STAP-A, every GOP frames and nowhere else,
// in payloads no larger than the packet size, at about the bitrate.
func TestH264Clip(t *testing.T) {
	needFFmpeg(t)
	o := h264Options{FFmpeg: "ffmpeg", Width: 320, Height: 180, FPS: 30, GOP: 25, Bitrate: 400_000, Packet: 1000}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src, err := newH264Source(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	// 4 s at 30 fps is 120 frames, rounded up to 5 GOPs of 25.
	if len(src.frames) != 125 || o.clipFrames() != 125 {
		t.Fatalf("%d frames, clipFrames %d; want 125", len(src.frames), o.clipFrames())
	}
	rtpHeader := []byte{0x80, h264PayloadType, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}
	for n, f := range src.frames {
		wantKey := n%o.GOP == 0
		keys := 0
		for i, p := range f {
			if len(p) > o.Packet || len(p) == 0 {
				t.Fatalf("frame %d packet %d: %d bytes", n, i, len(p))
			}
			if isH264KeyStart(append(append([]byte{}, rtpHeader...), p...)) {
				keys++
			}
		}
		if wantKey != (keys == 1) || keys > 1 {
			t.Errorf("frame %d: %d IDR starts, want key %v", n, keys, wantKey)
		}
		if wantKey {
			first := f[0]
			if nalType(first) != nalSTAPA || len(first) < 4 || nalType(first[3:]) != nalSPS {
				t.Errorf("keyframe %d does not start with a STAP-A holding the SPS: % x", n, first[:min(len(first), 8)])
			}
		}
	}
	if br := src.bitrate(); br < o.Bitrate/2 || br > o.Bitrate*3/2 {
		t.Errorf("clip at %d bits/s, asked for %d", br, o.Bitrate)
	}
	// Looping: frame 125 is frame 0 again.
	var a, b [][]byte
	src.frame(0, func(p []byte, _ bool) { a = append(a, p) })
	src.frame(125, func(p []byte, _ bool) { b = append(b, p) })
	if len(a) != len(b) || string(a[0]) != string(b[0]) {
		t.Error("frame 125 is not frame 0 again")
	}
}

func TestH264NoFFmpeg(t *testing.T) {
	_, err := newH264Source(context.Background(), h264Options{FFmpeg: "/nonexistent/ffmpeg", Width: 320, Height: 180, FPS: 30, GOP: 30, Bitrate: 1e6, Packet: 1100})
	if err == nil || !strings.Contains(err.Error(), "needs FFmpeg") {
		t.Fatalf("err = %v, want one that says FFmpeg is needed", err)
	}
}

func TestAccessUnits(t *testing.T) {
	sps, pps, sei := []byte{0x67, 1}, []byte{0x68, 2}, []byte{0x06, 3}
	idr := []byte{0x65, 0x88, 4}  // first_mb_in_slice 0
	idr2 := []byte{0x65, 0x40, 5} // a second slice of the same picture
	p1, p2 := []byte{0x41, 0x9a, 6}, []byte{0x41, 0x9b, 7}
	aud := []byte{0x09, 0xf0}
	stream := func(nals ...[]byte) []byte {
		var b []byte
		for i, n := range nals {
			if i%2 == 0 {
				b = append(b, 0, 0, 0, 1)
			} else {
				b = append(b, 0, 0, 1)
			}
			b = append(b, n...)
		}
		return b
	}
	aus := accessUnits(splitNALs(stream(sps, pps, sei, idr, idr2, p1, aud, p2, sps, pps, idr)))
	want := [][]int{{4, 0x65}, {1, 0x41}, {2, 0x41}, {3, 0x65}} // NAL units, type of the last
	if len(aus) != len(want) {
		t.Fatalf("%d access units, want %d: %q", len(aus), len(want), aus)
	}
	for i, au := range aus {
		if len(au) != want[i][0]+boolInt(i == 0) || int(au[len(au)-1][0]) != want[i][1] {
			t.Errorf("access unit %d: %q", i, au)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestIsH264KeyStart(t *testing.T) {
	rtpHeader := []byte{0x80, 102, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}
	pkt := func(payload ...byte) []byte { return append(append([]byte{}, rtpHeader...), payload...) }
	ext := func(p []byte) []byte {
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
		{"IDR", pkt(0x65, 0x88, 0x80), true},
		{"non-IDR", pkt(0x41, 0x9a), false},
		{"FU-A IDR start", pkt(0x7c, 0x85, 0x88), true},
		{"FU-A IDR middle", pkt(0x7c, 0x05, 0x88), false},
		{"FU-A non-IDR start", pkt(0x5c, 0x81, 0x9a), false},
		{"STAP-A SPS PPS", pkt(0x78, 0, 2, 0x67, 1, 0, 2, 0x68, 2), false},
		{"STAP-A SPS PPS IDR", pkt(0x78, 0, 2, 0x67, 1, 0, 2, 0x68, 2, 0, 2, 0x65, 0x88), true},
		{"STAP-A truncated", pkt(0x78, 0, 9, 0x67, 1), false},
		{"IDR with extension", ext(pkt(0x65, 0x88)), true},
		{"FU-A start with extension", ext(pkt(0x7c, 0x85, 0x88)), true},
		{"empty payload", pkt(), false},
		{"short", rtpHeader[:8], false},
	} {
		if got := isH264KeyStart(c.p); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestRunH264AgainstServer publishes real H.264 to the server with its
// threads pinned to one core: both viewers receive IDR pictures about
// every GOP and nearly every packet.
func TestRunH264AgainstServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	needFFmpeg(t)
	url, pid := startServer(t)
	cfg := defaultConfig()
	cfg.Server = url
	cfg.User, cfg.Password = "admin", testPassword
	cfg.Codec = codecH264
	cfg.Viewers = 2
	cfg.GOP = 30
	cfg.Duration = 3 * time.Second
	cfg.ServerPID = pid
	if runtime.GOOS == "linux" {
		cfg.ServerCPU = runtime.NumCPU() - 1
	}
	cfg.Settle = 300 * time.Millisecond
	cfg.Baseline = 300 * time.Millisecond
	cfg.Log = testWriter{t}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	printTable(&table, rep)
	t.Logf("report:\n%s", table.String())
	if rep.Connected != 2 || rep.Failed != 0 || rep.Dropped != 0 {
		t.Errorf("viewers: %d connected, %d failed, %d dropped; want 2, 0, 0", rep.Connected, rep.Failed, rep.Dropped)
	}
	if rep.Codec != "h264" || rep.VideoSize != "1280x720" {
		t.Errorf("report names codec %q, size %q", rep.Codec, rep.VideoSize)
	}
	// 3 s at one IDR a second: each viewer sees 2 to 4 of them.
	if rep.KeyframesPerViewer.Min < 2 || rep.KeyframesPerViewer.Max > 4 {
		t.Errorf("keyframes per viewer %+v, want 2 to 4 each", rep.KeyframesPerViewer)
	}
	if rep.Delivery < 85 || rep.Delivery > 110 || rep.LossPercent > 1 {
		t.Errorf("delivery %.1f%%, loss %.2f%%", rep.Delivery, rep.LossPercent)
	}
	if b := rep.EncodedBitrateBps; b < cfg.Bitrate*7/10 || b > cfg.Bitrate*13/10 {
		t.Errorf("encoded at %d bits/s, asked for %d", b, cfg.Bitrate)
	}
	if b := rep.PublishedBitrateBps; b < rep.EncodedBitrateBps*7/10 || b > rep.EncodedBitrateBps*13/10 {
		t.Errorf("published %d bits/s of a %d bits/s clip", b, rep.EncodedBitrateBps)
	}
	if cfg.ServerCPU >= 0 {
		if rep.ServerCPU == nil || *rep.ServerCPU != cfg.ServerCPU || rep.ServerThreads < 2 {
			t.Errorf("server pinning reported as CPU %v, %d threads", rep.ServerCPU, rep.ServerThreads)
		}
		checkPinned(t, pid, cfg.ServerCPU)
	}
	if rep.CleanupErrors != 0 || len(rep.Errors) != 0 {
		t.Errorf("cleanup errors %d, errors %q", rep.CleanupErrors, rep.Errors)
	}
}

// checkPinned fails t unless every thread of process pid may run on core
// cpu alone (Cpus_allowed_list in /proc/PID/task/TID/status).
func checkPinned(t *testing.T, pid, cpu int) {
	t.Helper()
	tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/status")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread has exited
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok && strings.TrimSpace(v) != strconv.Itoa(cpu) {
				t.Errorf("%s: Cpus_allowed_list %s, want %d", f, strings.TrimSpace(v), cpu)
			}
		}
	}
}
