package democam

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
)

const ffmpegPath = "/usr/bin/ffmpeg"

func testH264Description() *description.Session {
	return &description.Session{Medias: []*description.Media{{
		Type:    description.MediaTypeVideo,
		Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}},
	}}}
}

// TestRelay publishes with a gortsplib client and reads the path back.
func TestRelay(t *testing.T) {
	checkGoroutines(t)
	s := startServer(t, Options{})
	clip, err := loadClip(clipH264, clipOpus, 0)
	if err != nil {
		t.Fatal(err)
	}

	desc := testH264Description()
	pub := &gortsplib.Client{Transport: ptr(gortsplib.TransportTCP)}
	if err := pub.StartRecording(s.PathURL("cam1"), desc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	enc, err := desc.Medias[0].Formats[0].(*format.H264).CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}

	r, c := play(t, s.PathURL("/cam1/"), gortsplib.TransportTCP)
	for i := 0; ; i++ {
		pkts, err := enc.Encode(clip.video[i%len(clip.video)].nalus)
		if err != nil {
			t.Fatal(err)
		}
		for _, pkt := range pkts {
			pkt.Timestamp = uint32(i * 3600)
			if err := pub.WritePacketRTP(desc.Medias[0], pkt); err != nil {
				t.Fatal(err)
			}
		}
		if aus, _, _ := r.counts(); aus >= 3 {
			break
		}
		if i > 250 {
			t.Fatal("the reader got no access units")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.mu.Lock()
	if !hasNALU(r.aus[0], naluIDR) {
		t.Errorf("first relayed access unit: %s", nalTypes(r.aus[0]))
	}
	r.mu.Unlock()

	// The publisher leaving ends its readers, and the path is gone.
	pub.Close()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the reader outlived the publisher")
	}
	waitFor(t, 5*time.Second, "the path to go", func() bool {
		return s.streamFor("cam1") == nil
	})
}

// TestRelayFFmpeg pushes FFmpeg's RTSP output (H.264 and Opus) and plays
// it back.
func TestRelayFFmpeg(t *testing.T) {
	if _, err := os.Stat(ffmpegPath); err != nil {
		t.Skipf("FFmpeg not found at %s (CI installs the ffmpeg package): %v", ffmpegPath, err)
	}
	checkGoroutines(t)
	s := startServer(t, Options{})

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, ffmpegPath, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
		"-t", "3",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p",
		"-c:a", "libopus",
		"-f", "rtsp", "-rtsp_transport", "tcp", s.PathURL("cam1"))
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
	})

	var r *reader
	waitFor(t, 10*time.Second, "FFmpeg to publish cam1", func() bool {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("FFmpeg exited before publishing: %v\n%s", err, out.String())
		default:
		}
		var c *gortsplib.Client
		var err error
		r, c, err = tryPlay(s.PathURL("cam1"), gortsplib.TransportTCP)
		if err != nil {
			return false
		}
		t.Cleanup(c.Close)
		return true
	})
	if r.h264 == nil {
		t.Fatalf("relayed SDP has no H.264: %v", r.desc.Medias)
	}
	var opus *format.Opus
	if r.desc.FindFormat(&opus) == nil {
		t.Fatalf("relayed SDP has no Opus: %v", r.desc.Medias)
	}
	waitFor(t, 10*time.Second, "H.264 and Opus from FFmpeg", func() bool {
		aus, _, audio := r.counts()
		return aus >= 5 && audio >= 10
	})
	if err := <-exited; err != nil {
		t.Errorf("FFmpeg: %v\n%s", err, out.String())
	}
	exited <- nil
}
