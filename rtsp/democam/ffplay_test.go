package democam

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestFFmpegPlaysDemo has FFmpeg, as an RTSP client, decode 1.5 s of the
// demo without a warning.
func TestFFmpegPlaysDemo(t *testing.T) {
	if _, err := os.Stat(ffmpegPath); err != nil {
		t.Skipf("FFmpeg not found at %s (CI installs the ffmpeg package): %v", ffmpegPath, err)
	}
	checkGoroutines(t)
	s := startServer(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ffmpegPath, "-hide_banner", "-nostdin", "-loglevel", "warning",
		"-rtsp_transport", "tcp", "-i", s.URL(), "-t", "1.5", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("FFmpeg: %v\n%s", err, out)
	}
	if msg := strings.TrimSpace(string(out)); msg != "" {
		t.Errorf("FFmpeg complained:\n%s", msg)
	}
}
