//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// watchCallScreen makes the tab note, in window.e2e, when the call screen
// first shows "In call with" (inCallAt), its state when the peer's video
// first plays (stateAtPlay), and when call-accepted events reach the page
// (acceptedAt), holding each back delayMs first. Run it before signing
// in: the event feed opens then.
func (tb *tab) watchCallScreen(delayMs int) {
	tb.h.t.Helper()
	mustEvaluate[bool](tb, fmt.Sprintf(`(() => {
		window.e2e = { inCallAt: 0, stateAtPlay: '', acceptedAt: 0, placedAt: 0 };
		const add = EventSource.prototype.addEventListener;
		EventSource.prototype.addEventListener = function (type, fn, opts) {
			if (type !== 'call-accepted') return add.call(this, type, fn, opts);
			return add.call(this, type, (ev) => setTimeout(() => { window.e2e.acceptedAt = Date.now(); fn(ev); }, %d), opts);
		};
		document.addEventListener('playing', (ev) => {
			if (!window.e2e.stateAtPlay && ev.target.closest && ev.target.closest('#call-remote')) {
				window.e2e.stateAtPlay = document.getElementById('call').dataset.state;
			}
		}, true);
		new MutationObserver(() => {
			const s = document.getElementById('call-status');
			if (!window.e2e.inCallAt && s && s.textContent.startsWith('In call with')) window.e2e.inCallAt = Date.now();
		}).observe(document.body, { childList: true, subtree: true, characterData: true });
		return true;
	})()`, delayMs))
}

// e2eTimes reads window.e2e.
type e2eTimes struct {
	InCallAt    int64  `json:"inCallAt"`
	StateAtPlay string `json:"stateAtPlay"`
	AcceptedAt  int64  `json:"acceptedAt"`
	PlacedAt    int64  `json:"placedAt"`
}

// waitInCall waits until the caller's call screen says it is in a call
// with Bob and its clock runs.
func (tb *tab) waitInCall() {
	tb.h.t.Helper()
	tb.uiWaitText("#call-status", "In call with Bob", mediaTimeout)
	tb.uiWaitJS("a running call clock", uiTimeout, `!document.getElementById('call-duration').hidden && /^\d+:\d\d$/.test(document.getElementById('call-duration').textContent)`)
}

// The caller's page hears that Bob answered only after his video already
// plays there (its call-accepted event held back 6 s): the call screen
// still follows the call, not the media, and says "In call with Bob",
// clock running, without waiting for the late event.
func TestAppCallAcceptedAfterMediaFlowed(t *testing.T) {
	h := newHarness(t)
	h.srv.apiCreateUser(t, "alice", "Alice", "alice's long password")
	h.srv.apiCreateUser(t, "bob", "Bob", "bob's long password")
	bob := h.openApp("bob")
	bob.uiSignIn("bob", "bob's long password")
	alice := h.openApp("alice")
	alice.watchCallScreen(6000)
	alice.uiSignIn("alice", "alice's long password")
	alice.uiWaitJS("Bob to show as online", uiTimeout,
		`(() => { const b = document.querySelector('[data-test=person-bob] [data-action=call]'); return !!b && !b.disabled; })()`)
	alice.uiClick("[data-test=person-bob] [data-action=call]")

	alice.waitAppDecoding("calls/", "#call-remote video")
	alice.waitInCall()
	got := mustEvaluate[e2eTimes](alice, `window.e2e`)
	t.Logf("the caller's page: %+v", got)
	if got.StateAtPlay == "active" {
		h.fatalf("Bob's video played after the call screen was active; the test wanted the acceptance to come after the media")
	}
	if got.AcceptedAt != 0 && got.AcceptedAt < got.InCallAt {
		h.fatalf("the call screen said so (at %d) only after the late call-accepted event (at %d): it waited for the event instead of following the call", got.InCallAt, got.AcceptedAt)
	}
	alice.screenshot(t.Name() + "-alice.png")
	alice.uiWaitJS("the late event to arrive", 15*time.Second, `window.e2e.acceptedAt > 0`)
	alice.waitInCall() // and the late event changes nothing
	alice.uiClick("#call-hangup")
	bob.uiWaitText("#call-status", "hung up", mediaTimeout)
}

// Bob's page answers at once, and the call-accepted event reaches the
// caller's page before the answer to its POST /api/v1/calls (held back
// 2 s here): the page keeps the event until it knows the call's id, so
// the call screen is in the call before Bob's video even plays.
func TestAppCallAcceptedBeforeItsID(t *testing.T) {
	h := newHarness(t)
	h.srv.apiCreateUser(t, "alice", "Alice", "alice's long password")
	h.srv.apiCreateUser(t, "bob", "Bob", "bob's long password")
	bob := h.openApp("bob")
	bob.uiSignIn("bob", "bob's long password")
	alice := h.openApp("alice")
	alice.watchCallScreen(0)
	alice.uiSignIn("alice", "alice's long password")
	mustEvaluate[bool](alice, `(() => {
		const f = window.fetch;
		window.fetch = async (url, init) => {
			const res = await f(url, init);
			if (init && init.method === 'POST' && new URL(url, location.href).pathname === '/api/v1/calls') {
				await new Promise((r) => setTimeout(r, 2000));
				window.e2e.placedAt = Date.now();
			}
			return res;
		};
		return true;
	})()`)
	alice.uiWaitJS("Bob to show as online", uiTimeout,
		`(() => { const b = document.querySelector('[data-test=person-bob] [data-action=call]'); return !!b && !b.disabled; })()`)
	alice.uiClick("[data-test=person-bob] [data-action=call]")

	alice.uiWaitJS("the answer to POST /api/v1/calls", mediaTimeout, `window.e2e.placedAt > 0`)
	alice.waitAppDecoding("calls/", "#call-remote video")
	alice.waitInCall()
	got := mustEvaluate[e2eTimes](alice, `window.e2e`)
	t.Logf("the caller's page: %+v", got)
	if got.AcceptedAt == 0 || got.AcceptedAt >= got.PlacedAt {
		h.fatalf("call-accepted reached the page at %d, the answer to the POST at %d: the test wanted the event first", got.AcceptedAt, got.PlacedAt)
	}
	if got.StateAtPlay != "active" {
		h.fatalf("the call screen was %q when Bob's video started; the early call-accepted event was dropped", got.StateAtPlay)
	}
	alice.screenshot(t.Name() + "-alice.png")
}

// writeY4M writes a short 4:3 clip (320x240, blue with a moving white
// bar) as a Y4M file, for Chromium's fake camera: the fake screen is
// 16:9, so the shape of what a peer decodes tells the two apart.
func writeY4M(t *testing.T) string {
	t.Helper()
	const w, hgt, frames = 320, 240, 30
	var b bytes.Buffer
	fmt.Fprintf(&b, "YUV4MPEG2 W%d H%d F30:1 Ip A1:1 C420jpeg\n", w, hgt)
	for f := 0; f < frames; f++ {
		b.WriteString("FRAME\n")
		for y := 0; y < hgt; y++ {
			for x := 0; x < w; x++ {
				if x/8 == f%(w/8) {
					b.WriteByte(235)
				} else {
					b.WriteByte(41)
				}
			}
		}
		b.Write(bytes.Repeat([]byte{240}, w*hgt/4)) // U
		b.Write(bytes.Repeat([]byte{110}, w*hgt/4)) // V
	}
	path := filepath.Join(t.TempDir(), "camera.y4m")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// In a call, Alice shares her screen: the same session (no new WHIP
// request) now sends the screen instead of the camera, and Bob's page
// goes on decoding, now the screen's picture; stopping puts the camera
// back, Bob still decoding.
func TestAppCallShareScreen(t *testing.T) {
	h := newHarness(t, chromedp.Flag("use-file-for-fake-video-capture", writeY4M(t)))
	alice, bob := twoPeopleOn(h)
	alice.uiWaitJS("Bob to show as online", uiTimeout,
		`(() => { const b = document.querySelector('[data-test=person-bob] [data-action=call]'); return !!b && !b.disabled; })()`)
	alice.uiClick("[data-test=person-bob] [data-action=call]")
	// The camera's picture, taken before the share: the screen may reach
	// Bob's page before any later look.
	camera := bob.waitAppDecoding("calls/", "#call-remote video").Inbound["video"]
	before := alice.waitAppPublishing("calls/")
	alice.uiWaitVisible("#call-share")

	alice.uiClick("#call-share")
	var sharing appSession
	alice.waitFor("the call's session to send the screen", mediaTimeout, func() (bool, string, error) {
		list, err := alice.appSessions()
		for _, s := range list {
			for _, x := range s.Senders {
				if s.Kind == "publish" && x.Kind == "video" && x.Surface != "" {
					sharing = s
					return true, "", err
				}
			}
		}
		return false, fmt.Sprintf("%+v", list), err
	})
	if sharing.Resource != before.Resource {
		h.fatalf("sharing the screen made a new session (%s, was %s); want the same one, its track replaced", sharing.Resource, before.Resource)
	}
	alice.uiWaitText("#call-share", "Stop sharing", uiTimeout)
	// Bob's page decodes the screen: new frames, of the screen's shape
	// (the encoder may scale either picture, not change its shape).
	ratio := func(v rtpStats) float64 { return float64(v.FrameWidth) / float64(max(v.FrameHeight, 1)) }
	bob.waitFor("Bob's page to decode the shared screen", mediaTimeout, func() (bool, string, error) {
		list, err := bob.appSessions()
		for _, s := range list {
			v := s.Inbound["video"]
			if s.Kind == "view" && v.FrameWidth > 0 && math.Abs(ratio(v)-ratio(camera)) > 0.1 && v.FramesDecoded > camera.FramesDecoded+10 {
				t.Logf("Bob decodes %dx%d (the camera was %dx%d)", v.FrameWidth, v.FrameHeight, camera.FrameWidth, camera.FrameHeight)
				return true, "", err
			}
		}
		return false, fmt.Sprintf("%+v", list), err
	})
	alice.screenshot(t.Name() + "-alice-sharing.png")
	bob.screenshot(t.Name() + "-bob-sees-screen.png")

	alice.uiClick("#call-share")
	alice.uiWaitText("#call-share", "Share screen", uiTimeout)
	shared := bob.waitAppDecoding("calls/", "#call-remote video").Inbound["video"]
	bob.waitFor("Bob's page to decode the camera again", mediaTimeout, func() (bool, string, error) {
		list, err := bob.appSessions()
		for _, s := range list {
			if v := s.Inbound["video"]; s.Kind == "view" && math.Abs(ratio(v)-ratio(camera)) < 0.05 && v.FramesDecoded > shared.FramesDecoded+10 {
				return true, "", err
			}
		}
		return false, fmt.Sprintf("%+v", list), err
	})
	after := alice.waitAppPublishing("calls/")
	if after.Resource != before.Resource || strings.Contains(fmt.Sprint(after.Senders), "monitor") {
		h.fatalf("after sharing: %+v; want the first session, sending the camera", after)
	}
}
