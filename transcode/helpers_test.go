package transcode

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/wishcast/wishcast/stream"
)

// needFFmpeg skips a test on a machine without FFmpeg (CI installs it).
func needFFmpeg(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (CI installs it)")
	}
	return p
}

// source publishes name on hub from a real FFmpeg encoding a test pattern
// (and a tone) as RTP: encoder args choose the codec. onPacket, if set,
// sees every packet as it is written (for delay measurements).
type source struct {
	pub     *stream.Publication
	track   *stream.Track
	mu      sync.Mutex
	written map[uint32]time.Time // RTP timestamp → when its first packet went in
	// skip, while set, drops packets until the next keyframe start; then
	// resumed hears when that keyframe went in and its timestamp.
	skip    bool
	resumed chan resume
}

// resume is the keyframe a source resumed at after a skip.
type resume struct {
	at time.Time
	ts uint32
}

// startSource runs FFmpeg with input and encoder args and publishes its
// RTP output as a track of codec on hub under name until the test ends.
func startSource(t testing.TB, hub *stream.Hub, name string, kind stream.Kind, codec stream.Codec, args ...string) *source {
	t.Helper()
	bin := needFFmpeg(t)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	port := conn.LocalAddr().(*net.UDPAddr).Port
	full := append([]string{"-hide_banner", "-loglevel", "error", "-re"}, args...)
	full = append(full, "-f", "rtp", "-payload_type", "96", fmt.Sprintf("rtp://127.0.0.1:%d?pkt_size=1200&rtcpport=%d", port, port))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, full...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pub, err := hub.Publish(name, []stream.TrackInfo{{Kind: kind, Codec: codec}})
	if err != nil {
		t.Fatal(err)
	}
	s := &source{pub: pub, track: pub.Track(kind), written: map[uint32]time.Time{}, resumed: make(chan resume, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			if n < 12 || (buf[1] >= 192 && buf[1] <= 223) {
				continue
			}
			p := &rtp.Packet{}
			if p.Unmarshal(append([]byte(nil), buf[:n]...)) != nil {
				continue
			}
			s.mu.Lock()
			if s.skip {
				if !stream.KeyframeStart(codec.MimeType, p.Payload) {
					s.mu.Unlock()
					continue
				}
				s.skip = false
				select {
				case s.resumed <- resume{time.Now(), p.Timestamp}:
				default:
				}
			}
			if _, ok := s.written[p.Timestamp]; !ok && len(s.written) < 100000 {
				s.written[p.Timestamp] = time.Now()
			}
			s.mu.Unlock()
			s.track.Write(p)
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		_ = conn.Close()
		<-done
		pub.Close()
	})
	return s
}

// h264Source publishes a 320x240 H.264 test pattern, 25 fps, a keyframe a
// second.
func h264Source(t testing.TB, hub *stream.Hub, name string, size string) *source {
	return startSource(t, hub, name, stream.Video,
		stream.Codec{MimeType: "video/H264", ClockRate: 90000, Fmtp: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
		"-f", "lavfi", "-i", "testsrc=size="+size+":rate=25", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
		"-g", "25", "-pix_fmt", "yuv420p", "-profile:v", "baseline")
}

// frames is a sink that records the packets of the frames it receives.
type frames struct {
	mu      sync.Mutex
	packets int
	frames  int
	keys    int
	first   []byte
	at      []time.Time // arrival of each frame's last packet
	ts      []uint32
	size    []int  // bytes of payload of each frame
	key     []bool // whether each frame started as a keyframe
	cur     int    // payload bytes of the frame in progress
	curKey  bool
	ch      chan struct{}
	keyOf   func([]byte) bool
}

func newFrames(keyOf func([]byte) bool) *frames {
	return &frames{ch: make(chan struct{}, 1), keyOf: keyOf}
}

// WriteRTP implements stream.Sink.
func (f *frames) WriteRTP(p *rtp.Packet) error {
	f.mu.Lock()
	f.packets++
	if f.first == nil {
		f.first = append([]byte(nil), p.Payload...)
	}
	if f.keyOf != nil && f.keyOf(p.Payload) {
		f.keys++
		f.curKey = true
	}
	f.cur += len(p.Payload)
	if p.Marker {
		f.frames++
		f.at = append(f.at, time.Now())
		f.ts = append(f.ts, p.Timestamp)
		f.size = append(f.size, f.cur)
		f.key = append(f.key, f.curKey)
		f.cur, f.curKey = 0, false
	}
	f.mu.Unlock()
	select {
	case f.ch <- struct{}{}:
	default:
	}
	return nil
}

func (f *frames) count() (frames, keys int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.frames, f.keys
}

// isVP8Key reports whether an RTP VP8 payload starts a keyframe: the
// descriptor's S bit with partition 0, then a frame tag whose P bit is 0
// and the keyframe start code 9d 01 2a (RFC 7741, RFC 6386 §9.1).
func isVP8Key(p []byte) bool {
	if len(p) < 1 || p[0]&0x10 == 0 || p[0]&0x07 != 0 {
		return false
	}
	i := 1
	if p[0]&0x80 != 0 { // X: extension byte
		if len(p) < 2 {
			return false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I: picture id
			if len(p) > i && p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if x&0x40 != 0 { // L
			i++
		}
		if x&0x30 != 0 { // T or K
			i++
		}
	}
	return len(p) >= i+6 && p[i]&0x01 == 0 && p[i+3] == 0x9d && p[i+4] == 0x01 && p[i+5] == 0x2a
}

// waitFor waits for cond, failing after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
