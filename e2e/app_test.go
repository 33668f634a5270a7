//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Signing in through the form: a wrong password shows the server's
// sentence under the form; the right one opens the home page, which stays
// usable on a 360 px wide screen; a reload keeps the session; signing out
// returns to the form.
func TestAppSignIn(t *testing.T) {
	h := newHarness(t)
	app := h.openApp("admin")
	app.uiWaitVisible("#login-name")
	app.screenshot(t.Name() + "-signin.png")
	// The sign-in page starts without a failed request (the browser
	// would log the 401 of probing the session as an error).
	time.Sleep(500 * time.Millisecond)
	if c := app.consoleText(); strings.Contains(c, "Failed to load resource") || strings.Contains(c, "401") {
		h.fatalf("the sign-in page logged:\n%s", c)
	}

	app.uiFill("#login-name", "admin")
	app.uiFill("#login-password", "not the password")
	app.uiClick("#login-submit")
	app.uiWaitVisible("#login-error")
	msg := app.uiText("#login-error")
	if !strings.Contains(strings.ToLower(msg), "password") {
		h.fatalf("a wrong password shows %q; want the server's sentence about the password", msg)
	}
	app.screenshot(t.Name() + "-wrong-password.png")

	app.uiFill("#login-password", adminPassword)
	app.uiClick("#login-submit")
	app.uiWaitVisible("#people")
	app.uiWaitText("#me-name", "admin", uiTimeout)
	app.uiWaitVisible(`a[href="#/admin/users"]`) // admins see the admin pages
	app.uiWaitVisible("[data-test=camera-demo]")
	app.screenshot(t.Name() + "-home.png")

	// Narrow screens stack the columns; nothing overflows sideways.
	app.uiDo("narrow the viewport", chromedp.EmulateViewport(360, 740))
	app.uiWaitJS("no horizontal scrolling at 360 px", uiTimeout, `document.documentElement.scrollWidth <= 360`)
	app.screenshot(t.Name() + "-home-360.png")
	app.uiDo("restore the viewport", chromedp.EmulateViewport(800, 700))

	// Dark mode follows the system's preference.
	app.uiColorScheme("dark")
	app.uiWaitJS("dark colours", uiTimeout, `getComputedStyle(document.body).backgroundColor === 'rgb(15, 17, 21)' &&
		getComputedStyle(document.getElementById('signout')).color === 'rgb(231, 233, 238)'`)
	app.screenshot(t.Name() + "-home-dark.png")
	app.uiColorScheme("light")

	app.uiDo("reload", chromedp.Reload())
	app.uiWaitJS("the app to boot again", uiTimeout, `document.body.dataset.ready === 'true'`)
	app.uiWaitVisible("#people") // the cookie kept the session

	app.uiClick("#signout")
	app.uiWaitVisible("#login-name")
	if code, _ := h.srv.apiJSON(t, http.MethodGet, "/api/v1/me", nil); code != http.StatusOK {
		t.Errorf("the test's own admin token stopped working after the page signed out: %d", code)
	}
}

// The demo camera plays from the home page's camera list: the player
// decodes frames into a sized <video>.
func TestAppWatchDemoCamera(t *testing.T) {
	h := newHarness(t)
	app := h.openApp("viewer")
	app.uiSignIn("admin", adminPassword)
	app.uiClick("[data-test=camera-demo] [data-action=watch]")
	app.uiWaitJS("the watch page", uiTimeout, `location.hash === '#/watch/devices/demo'`)
	app.uiWaitVisible("#player video")
	s := app.waitAppDecoding("devices/demo", "#player video")
	t.Logf("demo camera: %+v", s.Inbound["video"])
	app.uiWaitJS("the player to say it plays", uiTimeout, `document.getElementById('player').dataset.state === 'playing'`)
	app.screenshot(t.Name() + "-watch.png")

	// An ICE restart (what a network change triggers) keeps the picture:
	// PATCH with If-Match: * and new credentials, the answer fragment
	// applied, frames still decoded.
	before := s.Inbound["video"].FramesDecoded
	mustEvaluate[bool](app, `window.wishcast.restartICE().then(() => true)`)
	app.waitFor("frames decoded after the ICE restart", mediaTimeout, func() (bool, string, error) {
		list, err := app.appSessions()
		if err != nil || len(list) != 1 {
			return false, fmt.Sprint(list), err
		}
		v := list[0]
		return v.ICEConnectionState == "connected" && v.Inbound["video"].FramesDecoded > before+30, fmt.Sprintf("%+v", v), nil
	})
	if !strings.Contains(h.srv.output.String(), "ICE restarted") {
		h.fatalf("the page restarted ICE, but the server did not log an ICE restart")
	}

	// The stats overlay shows the numbers.
	app.uiClick("#player [data-action=stats]")
	app.uiWaitText("#player .player-stats", "H264", uiTimeout)
	app.screenshot(t.Name() + "-stats.png")

	// Leaving the page ends the session on the server.
	app.uiClick("a.back")
	app.uiWaitVisible("#people")
	app.uiWaitJS("no live sessions", uiTimeout, `window.wishcast.stats().then((l) => l.length === 0)`)
	// ended counts the sessions the server closed and the DELETEs it got.
	ended := func() (closed, deletes int) {
		for line := range strings.SplitSeq(h.srv.output.String(), "\n") {
			if strings.Contains(line, `msg="session closed"`) {
				closed++
			}
			if strings.Contains(line, "method=DELETE route=/sessions/{id}") {
				deletes++
			}
		}
		return closed, deletes
	}
	app.waitFor("the server to get the DELETE of Back", uiTimeout, func() (bool, string, error) {
		c, d := ended()
		return c == 1 && d == 1, fmt.Sprintf("%d sessions closed, %d DELETEs", c, d), nil
	})

	// So does closing the page in the middle of watching (pagehide, with
	// fetch keepalive; the browser may close the connection first).
	app.uiClick("[data-test=camera-demo] [data-action=watch]")
	app.waitAppDecoding("devices/demo", "#player video")
	app.uiDo("leave the page", chromedp.Navigate("about:blank"))
	app.waitFor("the server to get the page's DELETE", uiTimeout, func() (bool, string, error) {
		c, d := ended()
		return c == 2 && d == 2, fmt.Sprintf("%d sessions closed, %d DELETEs", c, d), nil
	})
}

// An admin adds a user, a camera and a publish key through the admin
// pages; the API then lists them. The new camera's connection test
// reports its failure in words; revoking the key asks first.
func TestAppAdminPages(t *testing.T) {
	h := newHarness(t)
	app := h.openApp("admin")
	app.uiSignIn("admin", adminPassword)

	app.uiClick(`a[href="#/admin/users"]`)
	app.uiFill("#new-user-name", "carol")
	app.uiFill("#new-user-display", "Carol Jones")
	app.uiFill("#new-user-password", "carol's long password")
	app.uiClick("#new-user-submit")
	app.uiWaitVisible("[data-test=user-carol]")
	if names := h.srv.apiNames(t, "/api/v1/users", "users"); !slices.Contains(names, "carol") {
		h.fatalf("the users page added carol, but the API lists %v", names)
	}
	app.screenshot(t.Name() + "-users.png")

	app.uiClick(`a[href="#/admin/devices"]`)
	app.uiFill("#device-name", "lobby")
	app.uiFill("#device-url", "rtsp://127.0.0.1:9/lobby")
	app.uiClick("#device-submit")
	app.uiWaitVisible("[data-test=device-lobby]")
	if names := h.srv.apiNames(t, "/api/v1/devices", "devices"); !slices.Contains(names, "lobby") {
		h.fatalf("the cameras page added lobby, but the API lists %v", names)
	}
	app.uiClick("[data-test=device-lobby] [data-action=test]")
	app.uiWaitJS("the connection test's verdict", mediaTimeout,
		`(() => { const r = document.querySelector('[data-test=device-lobby] .test-result'); return !!r && /\b(ok|bad)\b/.test(r.className); })()`)
	t.Logf("test connection: %q", app.uiText("[data-test=device-lobby] .test-result"))
	app.screenshot(t.Name() + "-devices.png")

	app.uiClick(`a[href="#/admin/keys"]`)
	app.uiFill("#key-stream", "e2e")
	app.uiFill("#key-label", "OBS e2e")
	app.uiClick("#key-submit")
	app.uiWaitVisible("#key-secret-value")
	secret := mustEvaluate[string](app, `document.getElementById('key-secret-value').value`)
	if !strings.HasPrefix(secret, "wck_") {
		h.fatalf("the new key's secret shows as %q, want wck_…", secret)
	}
	// The FFmpeg command shows whole (it wraps, it is not cut off), also
	// on a phone, and copies in one click.
	for _, width := range []int64{800, 360} {
		app.uiDo("set the viewport", chromedp.EmulateViewport(width, 700))
		app.uiWaitJS(fmt.Sprintf("the whole FFmpeg command at %d px", width), uiTimeout, fmt.Sprintf(`(() => {
			const c = document.getElementById('key-ffmpeg');
			return c.scrollWidth <= c.clientWidth && c.textContent.includes(%q) && c.textContent.includes('/whip/live/e2e');
		})()`, secret))
	}
	app.uiDo("scroll to the command", chromedp.ScrollIntoView(chromedp.CSS("#key-ffmpeg")))
	app.screenshot(t.Name() + "-key-360.png")
	app.uiDo("restore the viewport", chromedp.EmulateViewport(800, 700))
	app.stubClipboard()
	app.uiClick("#key-copy-ffmpeg")
	app.uiWaitJS("the command on the clipboard", uiTimeout, fmt.Sprintf(`(window.e2eCopied || '').startsWith('ffmpeg ') && window.e2eCopied.includes(%q)`, secret))
	app.uiWaitVisible("#admin-keys [data-action=revoke]")
	if labels := h.srv.apiNames(t, "/api/v1/tokens", "tokens"); !slices.Contains(labels, "OBS e2e") {
		h.fatalf("the keys page created \"OBS e2e\", but the API lists %v", labels)
	}
	app.screenshot(t.Name() + "-keys.png")

	app.uiClick("#admin-keys [data-action=revoke]")
	app.uiWaitVisible("dialog [data-action=confirm]")
	app.uiClick("dialog [data-action=confirm]")
	app.uiWaitJS("the key to leave the list", uiTimeout, `!document.querySelector('#admin-keys [data-action=revoke]')`)
	if labels := h.srv.apiNames(t, "/api/v1/tokens", "tokens"); slices.Contains(labels, "OBS e2e") {
		h.fatalf("the key was revoked on the page, but the API still lists it: %v", labels)
	}
}

// A stream that is not live says so in words (the server's sentence) and
// the player keeps trying by itself, counting down to the next attempt.
func TestAppWatchStreamNotLive(t *testing.T) {
	h := newHarness(t)
	app := h.openApp("viewer")
	app.uiSignIn("admin", adminPassword)
	app.uiDo("open a stream nobody publishes", chromedp.Navigate(h.srv.URL+"/#/watch/live/nobody"))
	app.uiWaitJS("the player to wait for the stream", mediaTimeout,
		`['waiting', 'error'].includes((document.getElementById('player') || {dataset: {}}).dataset.state)`)
	msg := app.uiText("#player .player-overlay")
	t.Logf("the player says: %q", msg)
	if !strings.Contains(msg, ".") || len(msg) < 20 {
		h.fatalf("the player shows %q; want sentences saying why there is no picture", msg)
	}
	if state := mustEvaluate[string](app, `document.getElementById('player').dataset.state`); state == "waiting" {
		app.uiWaitText("#player .player-overlay", "Trying again in", uiTimeout)
	}
	app.screenshot(t.Name() + "-player.png")
}
