//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// twoPeople creates alice and bob through the API and signs each in
// through the form in a browser context of their own.
func twoPeople(t *testing.T) (h *harness, alice, bob *tab) {
	t.Helper()
	h = newHarness(t)
	alice, bob = twoPeopleOn(h)
	return h, alice, bob
}

// twoPeopleOn is twoPeople on a harness already set up.
func twoPeopleOn(h *harness) (alice, bob *tab) {
	t := h.t
	t.Helper()
	h.srv.apiCreateUser(t, "alice", "Alice", "alice's long password")
	h.srv.apiCreateUser(t, "bob", "Bob", "bob's long password")
	bob = h.openApp("bob")
	bob.uiSignIn("bob", "bob's long password")
	alice = h.openApp("alice")
	alice.uiSignIn("alice", "alice's long password")
	return alice, bob
}

// Alice watches Bob: Bob's page publishes his camera when asked and its
// banner names every viewer and says that camera and microphone are on;
// Alice decodes it. When the last viewer leaves, Bob's camera goes off
// within two seconds and, at the same moment, Alice's people list stops
// saying that Bob's camera is on.
func TestAppWatchUser(t *testing.T) {
	h, alice, bob := twoPeople(t)
	// Bob is online on Alice's page, so Watch is enabled.
	alice.uiWaitJS("Bob to show as online", uiTimeout,
		`(() => { const b = document.querySelector('[data-test=person-bob] [data-action=watch]'); return !!b && !b.disabled; })()`)
	alice.screenshot(t.Name() + "-home.png")
	start := time.Now()
	alice.uiClick("[data-test=person-bob] [data-action=watch]")

	bob.waitAppPublishing("users/bob")
	alice.waitAppDecoding("users/bob", "#player video")
	t.Logf("Watch clicked to Alice's page decoding Bob's camera (Bob's page asked to publish on the way): %s", time.Since(start).Round(time.Millisecond))
	bob.uiWaitText("#watch-banner", "Alice is watching you: your camera and microphone are on", mediaTimeout)

	// A second viewer: the banner names both.
	admin := h.openApp("admin")
	admin.uiSignIn("admin", adminPassword)
	mustEvaluate[bool](admin, `(location.hash = '#/watch/users/bob', true)`)
	admin.waitAppDecoding("users/bob", "#player video")
	bob.uiWaitText("#watch-banner", "admin and Alice are watching you: your camera and microphone are on", mediaTimeout)
	alice.screenshot(t.Name() + "-alice-watches.png")
	bob.screenshot(t.Name() + "-bob-watched.png")
	// Every viewer is named, however many.
	if got := mustEvaluate[string](bob, `import('/app/broadcast.js').then((m) => m.names(['ann', 'ben', 'cid', 'dee']))`); got != "ann, ben, cid and dee" {
		h.fatalf("four viewers are named %q", got)
	}
	mustEvaluate[bool](admin, `(location.hash = '#/', true)`)
	bob.uiWaitText("#watch-banner", "Alice is watching you:", mediaTimeout)

	// Bob's page notes when its banner goes (the camera is off then) and
	// Alice's when her list stops saying that Bob's camera is on.
	mustEvaluate[bool](bob, `(() => {
		const b = document.getElementById('watch-banner');
		window.e2eCameraOff = 0;
		new MutationObserver(() => { if (b.hidden && !window.e2eCameraOff) window.e2eCameraOff = Date.now(); })
			.observe(b, { attributes: true, childList: true, subtree: true });
		return true;
	})()`)
	alice.uiClick("a.back")
	left := time.Now()
	alice.uiWaitVisible("[data-test=person-bob]")
	mustEvaluate[bool](alice, `(() => {
		const status = () => (document.querySelector('[data-test=person-bob] .person-status') || {}).textContent || '';
		window.e2eListOff = status().includes('camera on') ? 0 : -1;
		new MutationObserver(() => { if (!window.e2eListOff && !status().includes('camera on')) window.e2eListOff = Date.now(); })
			.observe(document.getElementById('main'), { childList: true, subtree: true, characterData: true });
		return true;
	})()`)
	bob.uiWaitJS("the banner to say the camera is turning off", uiTimeout,
		`document.getElementById('watch-banner').dataset.state === 'stopping' || window.e2eCameraOff > 0`)
	if mustEvaluate[string](bob, `document.getElementById('watch-banner').dataset.state`) == "stopping" {
		bob.screenshot(t.Name() + "-bob-turning-off.png")
	}
	bob.uiWaitJS("Bob's page to stop publishing and hide the banner", mediaTimeout,
		`window.wishcast.stats().then((l) => !l.some((s) => s.kind === 'publish') && document.getElementById('watch-banner').hidden && window.e2eCameraOff > 0)`)
	off := time.UnixMilli(int64(mustEvaluate[float64](bob, `window.e2eCameraOff`)))
	t.Logf("Bob's camera went off %s after Alice left", off.Sub(left).Round(time.Millisecond))
	if d := off.Sub(left); d > 2*time.Second {
		h.fatalf("Bob's camera went off %s after the last viewer left; want within 2 s", d)
	}
	if mustEvaluate[bool](bob, `!!document.querySelector('#my-camera video').srcObject`) {
		h.fatalf("Bob's camera still runs (his preview shows it) after the sharing stopped")
	}
	alice.uiWaitJS("Alice's list to stop saying Bob's camera is on", uiTimeout,
		`window.e2eListOff !== 0 && !document.querySelector('[data-test=person-bob] .person-status').textContent.includes('camera on')`)
	if listOff := mustEvaluate[float64](alice, `window.e2eListOff`); listOff > 0 {
		d := time.UnixMilli(int64(listOff)).Sub(off)
		t.Logf("Alice's list followed %s after Bob's camera went off", d.Round(time.Millisecond))
		if d > time.Second || d < -time.Second {
			h.fatalf("Alice's list stopped saying \"camera on\" %s after Bob's camera went off; want the same moment", d)
		}
	}
	alice.screenshot(t.Name() + "-alice-after.png")
}

// Alice calls Bob, who answers on the ring screen (he has only the people
// he chose answered at once, and chose nobody); both decode each other;
// Alice hangs up and Bob sees the call end.
func TestAppCallRingAcceptHangUp(t *testing.T) {
	h, alice, bob := twoPeople(t)

	// Bob has only the people he chooses answered at once, and chooses
	// nobody yet: Alice's call rings.
	bob.uiClick(`a[href="#/settings"]`)
	bob.uiWaitVisible("#settings-answer-everyone")
	if !mustEvaluate[bool](bob, `document.getElementById('settings-answer-everyone').checked`) {
		h.fatalf("a new user's calls are not answered at once by default")
	}
	bob.uiClick("#settings-answer-chosen")
	bob.waitFor("answer=chosen on the server", uiTimeout, func() (bool, string, error) {
		code, body := h.srv.apiJSON(t, http.MethodGet, "/api/v1/users/bob", nil)
		var u struct {
			Answer string `json:"answer"`
		}
		_ = json.Unmarshal(body, &u)
		return code == http.StatusOK && u.Answer == "chosen", string(body), nil
	})
	bob.uiWaitVisible("#settings-chosen-alice")
	if mustEvaluate[bool](bob, `document.getElementById('settings-chosen-alice').checked`) {
		h.fatalf("alice shows as chosen before bob chose anyone")
	}
	bob.screenshot(t.Name() + "-settings.png")

	alice.uiWaitJS("Bob to show as online", uiTimeout,
		`(() => { const b = document.querySelector('[data-test=person-bob] [data-action=call]'); return !!b && !b.disabled; })()`)
	alice.uiClick("[data-test=person-bob] [data-action=call]")
	alice.uiWaitText("#call-status", "Calling", uiTimeout)
	bob.uiWaitVisible("#call-accept")
	bob.uiWaitText("#ring", "Alice is calling", uiTimeout)
	bob.screenshot(t.Name() + "-ring.png")
	alice.screenshot(t.Name() + "-calling.png")
	bob.uiClick("#call-accept")

	alice.waitAppDecoding("calls/", "#call-remote video")
	bob.waitAppDecoding("calls/", "#call-remote video")
	alice.waitAppPublishing("calls/")
	bob.waitAppPublishing("calls/")
	alice.uiWaitText("#call-status", "In call with Bob", mediaTimeout)
	bob.uiWaitText("#call-status", "In call with Alice", mediaTimeout)
	alice.screenshot(t.Name() + "-alice-in-call.png")
	bob.screenshot(t.Name() + "-bob-in-call.png")

	alice.uiClick("#call-hangup")
	got := bob.uiWaitText("#call-status", "hung up", mediaTimeout)
	t.Logf("bob sees: %q", got)
	bob.screenshot(t.Name() + "-bob-ended.png")
	for _, tb := range []*tab{alice, bob} {
		tb.uiWaitJS("the call's sessions to be gone", mediaTimeout,
			`window.wishcast.stats().then((l) => !l.some((s) => s.stream.startsWith('calls/')))`)
	}
}

// Alice calls Bob, whose page answers at once (the default); both see and
// hear each other; Bob hangs up and Alice's page says so.
func TestAppCallAutoAnswer(t *testing.T) {
	_, alice, bob := twoPeople(t)
	alice.uiWaitJS("Bob to show as online", uiTimeout,
		`(() => { const b = document.querySelector('[data-test=person-bob] [data-action=call]'); return !!b && !b.disabled; })()`)
	start := time.Now()
	alice.uiClick("[data-test=person-bob] [data-action=call]")

	s := bob.waitAppDecoding("calls/", "#call-remote video")
	alice.waitAppDecoding("calls/", "#call-remote video")
	t.Logf("Call clicked to both pages decoding each other (auto-answer): %s", time.Since(start).Round(time.Millisecond))
	if !strings.HasSuffix(s.Stream, "/alice") {
		t.Errorf("bob views %s, want the call's alice stream", s.Stream)
	}
	bob.waitFor("bob to hear alice", mediaTimeout, func() (bool, string, error) {
		list, err := bob.appSessions()
		for _, x := range list {
			if x.Kind == "view" && x.Inbound["audio"].Packets > 0 {
				return true, "", err
			}
		}
		return false, "", err
	})
	bob.uiWaitJS("a running call clock", uiTimeout, `/^\d+:\d\d$/.test(document.getElementById('call-duration').textContent)`)

	bob.uiClick("#call-hangup")
	alice.uiWaitText("#call-status", "Bob hung up", mediaTimeout)
}
