//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// GStreamer's webrtcbin as a third WebRTC implementation next to pion and
// Chromium: testdata/gst_webrtc.py publishes over WHIP and views over WHEP
// with it (the HTTP side in Python's urllib; Debian 12 has no whipsink).

// gstPython is Debian's interpreter, which has python3-gi; a python3
// earlier on PATH (pyenv) may not.
const gstPython = "/usr/bin/python3"

// gstPackages are the Debian packages the script needs (.ci/run installs
// them).
const gstPackages = "python3-gst-1.0 gir1.2-gst-plugins-bad-1.0 gir1.2-nice-0.1 gstreamer1.0-nice " +
	"gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly"

const (
	// gstWait bounds each wait inside the script (gathering, the answer,
	// connecting, the decoded frames); the test allows a little more for
	// the whole script.
	gstWait = 20 * time.Second
	// gstMinFrames and gstMinAudio are what the viewer must decode: two
	// seconds of video at 30 fps (the first second may come in one burst
	// from the server's keyframe cache, as the publisher's keyframes are a
	// second apart), half a second of Opus.
	gstMinFrames = 60
	gstMinAudio  = 25
)

// gstResult is the script's JSON result line.
type gstResult struct {
	OK             bool              `json:"ok"`
	Error          string            `json:"error"`
	Missing        []string          `json:"missing"`
	Role           string            `json:"role"`
	Location       string            `json:"location"`
	PostStatus     int               `json:"post_status"`
	PostAttempts   int               `json:"post_attempts"`
	DeleteStatus   int               `json:"delete_status"`
	ConnectedMS    int               `json:"connected_ms"`
	FirstDecodedMS map[string]int    `json:"first_decoded_ms"`
	VideoFrames    int               `json:"video_frames"`
	AudioBuffers   int               `json:"audio_buffers"`
	VideoSize      []int             `json:"video_size"`
	Received       map[string]string `json:"received"`
	SentPackets    map[string]int    `json:"sent_packets"`
	StoppedBy      string            `json:"stopped_by"`
	VideoEncoder   string            `json:"video_encoder"`
	Offer          string            `json:"offer"`
	Answer         string            `json:"answer"`
	GStreamer      string            `json:"gstreamer"`
}

// brief is the result without the SDP, for messages.
func (r gstResult) brief() string {
	r.Offer, r.Answer = "", ""
	b, _ := json.Marshal(r)
	return string(b)
}

// gstScript is the absolute path of testdata/gst_webrtc.py.
func gstScript(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "gst_webrtc.py"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// gstMissing skips the test, noting why, or fails it under CI, which
// installs everything the test needs: there a missing piece is a broken
// set-up, not a machine without GStreamer.
func gstMissing(t *testing.T, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set, and .ci/run installs %s)", reason, gstPackages)
	}
	skipNoted(t, "%s; install %s", reason, gstPackages)
}

// requireGst checks that the script finds GStreamer, its Python bindings
// and every element it needs for codec.
func requireGst(t *testing.T, codec string) {
	t.Helper()
	if _, err := os.Stat(gstPython); err != nil {
		gstMissing(t, "no %s: %v", gstPython, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, gstPython, gstScript(t), "check", "--codec", codec).Output()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return
	case errors.As(err, &ee) && ee.ExitCode() == 3:
		var r gstResult
		if jerr := json.Unmarshal(lastLine(out), &r); jerr != nil {
			t.Fatalf("gst_webrtc.py check: %v; output %q", jerr, out)
		}
		gstMissing(t, "GStreamer WebRTC with %s is not usable here: %s", codec, r.Error)
	default:
		t.Fatalf("gst_webrtc.py check --codec %s: %v\nstdout: %s\nstderr: %s", codec, err, out, stderrOf(err))
	}
}

func stderrOf(err error) []byte {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.Stderr
	}
	return nil
}

// lastLine is the last non-empty line of out.
func lastLine(out []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return []byte(lines[len(lines)-1])
}

// gstPeer is one running gst_webrtc.py.
type gstPeer struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser // closing it stops a --stop-on-eof publisher
	stdout *syncBuffer
	stderr *syncBuffer
	events chan string // stdout lines with an "event"
	exited chan struct{}
	err    error // of cmd.Wait, valid after exited closes
}

// startGstPeer runs the script with args and the server's token. It is
// killed at the end of the test if still running; its stderr goes to the
// test log when the test failed.
func startGstPeer(t *testing.T, s *wishcast, name string, args ...string) *gstPeer {
	t.Helper()
	p := &gstPeer{name: name, stdout: &syncBuffer{}, stderr: &syncBuffer{},
		events: make(chan string, 4), exited: make(chan struct{})}
	p.cmd = exec.Command(gstPython, append([]string{gstScript(t)}, args...)...)
	p.cmd.Env = append(os.Environ(), "GST_WEBRTC_TOKEN="+s.token)
	p.cmd.Stderr = p.stderr
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.stdout, line)
			if strings.HasPrefix(line, `{"event"`) {
				select {
				case p.events <- line:
				default:
				}
			}
		}
		// Wait only after stdout is drained (os/exec's rule for pipes).
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			t.Logf("%s still running at the end of the test: killing it", name)
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s (%s, ran %s) stderr:\n%s", name, exitText(p.err), time.Since(start).Round(time.Millisecond), p.stderr)
		}
	})
	return p
}

// result waits at most timeout for the script to exit and returns its
// result line; on timeout it kills the script and fails the test.
func (p *gstPeer) result(t *testing.T, timeout time.Duration) gstResult {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Fatalf("%s did not finish within %s; killed. stdout:\n%s", p.name, timeout, p.stdout)
	}
	var r gstResult
	if err := json.Unmarshal(lastLine([]byte(p.stdout.String())), &r); err != nil {
		t.Fatalf("%s (%s): no result line (%v); stdout:\n%s", p.name, exitText(p.err), err, p.stdout)
	}
	if !r.OK || p.err != nil {
		t.Fatalf("%s failed (%s): %s\nresult: %s", p.name, exitText(p.err), r.Error, r.brief())
	}
	return r
}

// waitConnected waits for the publisher's "connected" event.
func (p *gstPeer) waitConnected(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.events:
	case <-p.exited:
		t.Fatalf("%s exited (%s) before it connected; stdout:\n%s", p.name, exitText(p.err), p.stdout)
	case <-time.After(timeout):
		t.Fatalf("%s not connected within %s", p.name, timeout)
	}
}

// pollUntil calls cond every 100 ms until it reports done, failing the test
// after timeout with what and cond's last state.
func pollUntil(t *testing.T, what string, timeout time.Duration, cond func() (done bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done, state := cond()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// liveStream is an entry of GET /api/v1/streams.
type liveStream struct {
	Name    string `json:"name"`
	Viewers int    `json:"viewers"`
	Tracks  []struct {
		Kind  string `json:"kind"`
		Codec string `json:"codec"`
	} `json:"tracks"`
}

// liveStreams lists the server's live streams by name.
func (s *wishcast) liveStreams(t *testing.T) (map[string]liveStream, string) {
	t.Helper()
	code, body := s.apiJSON(t, http.MethodGet, "/api/v1/streams", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/streams: %d %s", code, body)
	}
	var out struct {
		Streams []liveStream `json:"streams"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("GET /api/v1/streams: %v in %s", err, body)
	}
	m := map[string]liveStream{}
	for _, st := range out.Streams {
		m[st.Name] = st
	}
	return m, string(body)
}

// waitSessionClosed waits until the server logged that the session at
// location closed because the client deleted it.
func (s *wishcast) waitSessionClosed(t *testing.T, location string) {
	t.Helper()
	id := strings.TrimPrefix(location, "/sessions/")
	pollUntil(t, "the server to log the end of session "+id, 5*time.Second, func() (bool, string) {
		for _, line := range strings.Split(s.output.String(), "\n") {
			if strings.Contains(line, `msg="session closed"`) && strings.Contains(line, "session="+id+" ") {
				return strings.Contains(line, "reason=deleted"), line
			}
		}
		return false, "no such line"
	})
	if code := s.do(t, http.MethodDelete, location); code != http.StatusNotFound {
		t.Fatalf("second DELETE %s answered %d, want 404 (the session should be gone)", location, code)
	}
}

// TestGstPublishAndView has webrtcbin on both ends: a GStreamer publisher
// sends test video and Opus over WHIP, a GStreamer viewer receives the
// stream over WHEP and decodes it; both end with DELETE.
func TestGstPublishAndView(t *testing.T) {
	s := startWishcast(t, "")
	for _, c := range []struct{ codec, video string }{
		{"vp8", "VP8"},
		{"h264", "H264"},
	} {
		t.Run(c.codec, func(t *testing.T) {
			requireGst(t, c.codec)
			stream := "live/gst-" + c.codec
			script := fmt.Sprintf("--timeout=%g", gstWait.Seconds())

			pub := startGstPeer(t, s, "publisher", "publish", "--url", s.URL+"/whip/"+stream,
				"--codec", c.codec, script, "--duration=50", "--stop-on-eof")
			pub.waitConnected(t, gstWait+5*time.Second)
			pollUntil(t, stream+" live with video and audio", 10*time.Second, func() (bool, string) {
				m, body := s.liveStreams(t)
				st := m[stream]
				var codecs []string
				for _, tr := range st.Tracks {
					codecs = append(codecs, tr.Kind+":"+strings.ToUpper(tr.Codec))
				}
				got := strings.Join(codecs, ",")
				return strings.Contains(got, "video:"+c.video) && strings.Contains(got, "audio:OPUS"), body
			})

			viewer := startGstPeer(t, s, "viewer", "view", "--url", s.URL+"/whep/"+stream, script,
				fmt.Sprintf("--min-frames=%d", gstMinFrames), fmt.Sprintf("--min-audio=%d", gstMinAudio))
			vr := viewer.result(t, 3*gstWait)
			t.Logf("viewer: WHEP POST %d (attempts %d), connected %d ms and first decoded video frame %d ms (audio %d ms) after the POST; %d frames %v, %d audio buffers, received %v",
				vr.PostStatus, vr.PostAttempts, vr.ConnectedMS, vr.FirstDecodedMS["video"], vr.FirstDecodedMS["audio"],
				vr.VideoFrames, vr.VideoSize, vr.AudioBuffers, vr.Received)
			if vr.VideoFrames < gstMinFrames || vr.AudioBuffers < gstMinAudio {
				t.Errorf("viewer decoded %d video frames and %d audio buffers, want >= %d and >= %d", vr.VideoFrames, vr.AudioBuffers, gstMinFrames, gstMinAudio)
			}
			if vr.Received["video"] != c.video || vr.Received["audio"] != "OPUS" {
				t.Errorf("viewer received %v, want video %s and audio OPUS", vr.Received, c.video)
			}
			if len(vr.VideoSize) != 2 || vr.VideoSize[0] != 320 || vr.VideoSize[1] != 240 {
				t.Errorf("viewer decoded video of size %v, want the publisher's 320x240", vr.VideoSize)
			}
			if vr.DeleteStatus != http.StatusOK {
				t.Errorf("viewer's DELETE %s answered %d, want 200", vr.Location, vr.DeleteStatus)
			}
			s.waitSessionClosed(t, vr.Location)
			pollUntil(t, stream+" without viewers", 5*time.Second, func() (bool, string) {
				m, body := s.liveStreams(t)
				st, ok := m[stream]
				return ok && st.Viewers == 0, body
			})

			if err := pub.stdin.Close(); err != nil {
				t.Fatalf("close the publisher's stdin: %v", err)
			}
			pr := pub.result(t, 15*time.Second)
			t.Logf("publisher (%s): WHIP POST %d, connected %d ms after it; sent %v RTP packets; stopped by %s",
				pr.VideoEncoder, pr.PostStatus, pr.ConnectedMS, pr.SentPackets, pr.StoppedBy)
			if pr.DeleteStatus != http.StatusOK {
				t.Errorf("publisher's DELETE %s answered %d, want 200", pr.Location, pr.DeleteStatus)
			}
			s.waitSessionClosed(t, pr.Location)
			pollUntil(t, stream+" gone from /api/v1/streams", 5*time.Second, func() (bool, string) {
				m, body := s.liveStreams(t)
				_, ok := m[stream]
				return !ok, body
			})
		})
	}
}
