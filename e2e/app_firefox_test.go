//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Signing in through the form in Firefox: a wrong password shows the
// server's sentence, the right one opens the home page with the people and
// the cameras; a reload keeps the session; signing out returns to the form.
func TestFirefoxSignIn(t *testing.T) {
	requireFirefox(t)
	h := newHarness(t)
	app := h.openFirefoxApp("admin")
	app.uiWaitVisible("#login-name")
	app.uiFill("#login-name", "admin")
	app.uiFill("#login-password", "not the password")
	app.uiClick("#login-submit")
	app.uiWaitVisible("#login-error")
	if msg := app.uiText("#login-error"); !strings.Contains(strings.ToLower(msg), "password") {
		h.fatalf("a wrong password shows %q; want the server's sentence about the password", msg)
	}
	app.uiSignIn("admin", adminPassword)
	app.uiWaitText("#me-name", "admin", uiTimeout)
	app.uiWaitVisible("[data-test=camera-demo]")
	app.screenshot(t.Name() + "-home.png")

	app.ffDo("reload", app.ff.reload)
	app.uiWaitJS("the app to boot again", uiTimeout, `document.body.dataset.ready === 'true'`)
	app.uiWaitVisible("#people")
	app.uiClick("#signout")
	app.uiWaitVisible("#login-name")
	if code, _ := h.srv.apiJSON(t, http.MethodGet, "/api/v1/me", nil); code != http.StatusOK {
		t.Errorf("the test's own admin token stopped working after the page signed out: %d", code)
	}
}

// crossPeople creates alice and bob and signs alice in from Firefox and
// bob from Chromium.
func crossPeople(t *testing.T) (h *harness, alice, bob *tab) {
	t.Helper()
	requireFirefox(t)
	h = newHarness(t)
	h.srv.apiCreateUser(t, "alice", "Alice", "alice's long password")
	h.srv.apiCreateUser(t, "bob", "Bob", "bob's long password")
	bob = h.openApp("bob")
	bob.uiSignIn("bob", "bob's long password")
	alice = h.openFirefoxApp("alice")
	alice.uiSignIn("alice", "alice's long password")
	return h, alice, bob
}

// waitPlaying waits until the <video> sel shows a picture whose time
// moves on: more than half a second after the first look.
func (tb *tab) waitPlaying(sel string) {
	tb.h.t.Helper()
	js := fmt.Sprintf(`(() => { const v = document.querySelector(%q); return v ? [v.videoWidth, v.currentTime] : [0, 0]; })()`, sel)
	first := -1.0
	tb.waitFor(sel+" to play (currentTime moving on)", mediaTimeout, func() (bool, string, error) {
		v, err := evaluate[[2]float64](tb, js)
		if err != nil || v[0] == 0 {
			return false, fmt.Sprintf("videoWidth %v", v[0]), err
		}
		if first < 0 {
			first = v[1]
		}
		return v[1]-first > 0.5, fmt.Sprintf("videoWidth %v, currentTime %.2f (first %.2f)", v[0], v[1], first), nil
	})
}

// watchCase has watcher watch person ("bob" or "alice") from the people
// list until the picture moves, then leave, and person's camera goes off.
func watchCase(watcher, person *tab, name string) {
	watcher.h.t.Helper()
	watchStart(watcher, person, name)
	watchLeave(watcher, person)
}

// watchStart has watcher open person's camera from the people list and
// waits until the picture moves.
func watchStart(watcher, person *tab, name string) {
	watcher.h.t.Helper()
	watcher.uiWaitJS(name+" to show as online", uiTimeout,
		fmt.Sprintf(`(() => { const b = document.querySelector('[data-test=person-%s] [data-action=watch]'); return !!b && !b.disabled; })()`, name))
	watcher.uiClick(fmt.Sprintf("[data-test=person-%s] [data-action=watch]", name))
	person.waitAppPublishing("users/" + name)
	watcher.waitAppDecoding("users/"+name, "#player video")
	watcher.waitPlaying("#player video")
	watcher.screenshot(watcher.h.t.Name() + "-" + strings.Fields(watcher.name)[0] + "-watching.png")
}

// watchLeave has watcher go back to the people list; person's camera goes
// off.
func watchLeave(watcher, person *tab) {
	watcher.h.t.Helper()
	watcher.uiClick("a.back")
	person.uiWaitJS("the camera to go off after the viewer left", mediaTimeout,
		`window.wishcast.stats().then((l) => !l.some((s) => s.kind === 'publish'))`)
}

// Alice in Firefox watches Bob in Chromium: Bob's page publishes when
// asked, Alice's decodes and plays it; when she leaves, his camera goes off.
func TestFirefoxWatchesChromium(t *testing.T) {
	_, alice, bob := crossPeople(t)
	watchCase(alice, bob, "bob")
}

// Bob in Chromium watches Alice in Firefox.
func TestChromiumWatchesFirefox(t *testing.T) {
	_, alice, bob := crossPeople(t)
	watchCase(bob, alice, "alice")
}

// callCase has caller call callee (answered at once, the default), both
// play each other's picture, and hanger (one of the two) hangs up: the
// other's call screen names who hung up and both pages end their sessions.
func callCase(caller, callee, hanger *tab, calleeName, hangerDisplay string) {
	caller.h.t.Helper()
	caller.uiWaitJS(calleeName+" to show as online", uiTimeout,
		fmt.Sprintf(`(() => { const b = document.querySelector('[data-test=person-%s] [data-action=call]'); return !!b && !b.disabled; })()`, calleeName))
	caller.uiClick(fmt.Sprintf("[data-test=person-%s] [data-action=call]", calleeName))
	for _, tb := range []*tab{caller, callee} {
		tb.waitAppDecoding("calls/", "#call-remote video")
		tb.waitAppPublishing("calls/")
		tb.waitPlaying("#call-remote video")
		tb.uiWaitText("#call-status", "In call with", mediaTimeout)
	}
	caller.screenshot(caller.h.t.Name() + "-caller.png")
	callee.screenshot(callee.h.t.Name() + "-callee.png")
	other := caller
	if hanger == caller {
		other = callee
	}
	hanger.uiClick("#call-hangup")
	other.uiWaitText("#call-status", hangerDisplay+" hung up", mediaTimeout)
	for _, tb := range []*tab{caller, callee} {
		tb.uiWaitJS("the call's sessions to be gone", mediaTimeout,
			`window.wishcast.stats().then((l) => !l.some((s) => s.stream.startsWith('calls/')))`)
	}
}

// Alice in Firefox calls Bob in Chromium; she hangs up.
func TestFirefoxCallsChromiumCallerHangsUp(t *testing.T) {
	_, alice, bob := crossPeople(t)
	callCase(alice, bob, alice, "bob", "Alice")
}

// Alice in Firefox calls Bob in Chromium; he hangs up.
func TestFirefoxCallsChromiumCalleeHangsUp(t *testing.T) {
	_, alice, bob := crossPeople(t)
	callCase(alice, bob, bob, "bob", "Bob")
}

// Bob in Chromium calls Alice in Firefox; she hangs up.
func TestChromiumCallsFirefoxCalleeHangsUp(t *testing.T) {
	_, alice, bob := crossPeople(t)
	callCase(bob, alice, alice, "alice", "Alice")
}

// Bob in Chromium calls Alice in Firefox; he hangs up.
func TestChromiumCallsFirefoxCallerHangsUp(t *testing.T) {
	_, alice, bob := crossPeople(t)
	callCase(bob, alice, bob, "alice", "Bob")
}

// The admin goes live from Firefox with the app's Go live form; Bob
// watches the stream in Chromium, and it ends for him when the admin stops
// it. Headless Firefox has no screen to share (getDisplayMedia finds no
// device), so its fake camera, in simulcast as a screen would be, stands
// in for the screen.
func TestFirefoxGoLiveWatchedInChromium(t *testing.T) {
	requireFirefox(t)
	h := newHarness(t)
	h.srv.apiCreateUser(t, "bob", "Bob", "bob's long password")
	bob := h.openApp("bob")
	bob.uiSignIn("bob", "bob's long password")
	admin := h.openFirefoxApp("admin")
	admin.uiSignIn("admin", adminPassword)
	mustEvaluate[bool](admin, `(navigator.mediaDevices.getDisplayMedia = () => navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 } }), true)`)
	admin.uiFill("#golive-name", "fox")
	admin.uiClick("#golive-start")
	admin.uiWaitVisible("#live-indicator")
	admin.waitAppPublishing("live/fox")
	admin.screenshot(t.Name() + "-admin-live.png")

	bob.uiWaitVisible("[data-test=stream-fox] [data-action=watch]")
	bob.uiClick("[data-test=stream-fox] [data-action=watch]")
	bob.waitAppDecoding("live/fox", "#player video")
	bob.waitPlaying("#player video")
	bob.screenshot(t.Name() + "-bob-watches.png")

	admin.uiClick("#live-indicator")
	admin.uiClick("dialog [data-action=confirm]")
	admin.uiWaitJS("the publishing to end", mediaTimeout,
		`window.wishcast.stats().then((l) => !l.some((s) => s.kind === 'publish'))`)
	bob.uiWaitText("#player .player-msg", "The stream has ended.", mediaTimeout)
}
