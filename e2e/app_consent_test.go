//go:build e2e

package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Bob chooses "Ask me each time" in his settings. When Alice opens his
// camera, her player says it waits for Bob, and Bob's page shows a prompt
// naming her: Allow turns his camera on for her. When the admin tries,
// Bob denies, and the admin's player says Bob did not allow it; Bob's
// camera stays on for Alice only.
func TestAppWatchAskAllowDeny(t *testing.T) {
	h, alice, bob := twoPeople(t)
	// The first sign-in says what others can do with the camera, once.
	bob.uiWaitVisible("#notice-camera")
	if got := bob.uiText("#notice-camera"); !strings.Contains(got, "anyone signed in can watch your camera") {
		h.fatalf("the first sign-in notice says %q", got)
	}
	bob.screenshot(t.Name() + "-bob-notice.png")
	bob.uiClick("#notice-camera-settings")
	bob.uiWaitVisible("#settings-watch-ask")
	if mustEvaluate[bool](bob, visibleJS("#notice-camera")) {
		h.fatalf("the notice stays after Bob chose to see the settings")
	}
	bob.uiClick("#settings-watch-ask")
	bob.uiWaitJS("watch=ask on the server", uiTimeout,
		`fetch('/api/v1/me').then((r) => r.json()).then((m) => m.watch === 'ask' && m.notice_seen === true)`)
	bob.screenshot(t.Name() + "-bob-settings.png")
	bob.uiClick(`a[href="#/"]`)

	alice.uiWaitText("[data-test=person-bob] .person-status", "asks first", mediaTimeout)
	alice.uiClick("[data-test=person-bob] [data-action=watch]")
	alice.uiWaitText("#player .player-msg", "Waiting for Bob to allow you to watch", mediaTimeout)
	bob.uiWaitVisible("#watch-asks [data-viewer=alice]")
	if got := bob.uiText("#watch-asks [data-viewer=alice]"); !strings.Contains(got, "Alice wants to watch you") {
		h.fatalf("Bob's prompt says %q", got)
	}
	if list, _ := bob.appSessions(); len(list) != 0 {
		h.fatalf("Bob's page publishes before he answered: %+v", list)
	}
	bob.screenshot(t.Name() + "-bob-asked.png")
	alice.screenshot(t.Name() + "-alice-waits.png")
	// A reload does not lose the prompt while Alice waits.
	bob.uiDo("reload", chromedp.Reload())
	bob.uiWaitVisible("#watch-asks [data-viewer=alice]")
	bob.uiClick("#watch-asks [data-viewer=alice] [data-action=allow]")
	bob.waitAppPublishing("users/bob")
	alice.waitAppDecoding("users/bob", "#player video")
	bob.uiWaitJS("the prompt to go", uiTimeout, `document.getElementById('watch-asks').hidden`)

	// The admin asks too, and Bob denies.
	admin := h.openApp("admin")
	admin.uiSignIn("admin", adminPassword)
	mustEvaluate[bool](admin, `(location.hash = '#/watch/users/bob', true)`)
	bob.uiWaitVisible("#watch-asks [data-viewer=admin]")
	bob.uiClick("#watch-asks [data-viewer=admin] [data-action=deny]")
	admin.uiWaitText("#player .player-msg", "You are not allowed to watch this.", mediaTimeout)
	admin.uiWaitText("#player .player-sub", "bob did not allow you to watch them", uiTimeout)
	admin.screenshot(t.Name() + "-admin-denied.png")
	bob.uiWaitText("#watch-banner", "Alice is watching you", uiTimeout)
	if got := bob.uiText("#watch-banner"); strings.Contains(got, "admin") {
		h.fatalf("Bob's banner names the admin he denied: %q", got)
	}
	alice.waitAppDecoding("users/bob", "#player video")
}

// An admin whose password wishcast generated at installation is asked,
// on every page, to choose one of their own, until they do.
func TestAppGeneratedPasswordPrompt(t *testing.T) {
	h := newHarnessSettings(t, []string{"WISHCAST_ADMIN_PASSWORD="})
	m := regexp.MustCompile(`generated password.* password=(\S+)`).FindStringSubmatch(h.srv.output.String())
	if m == nil {
		h.fatalf("no generated password in the server's log:\n%s", h.srv.tail(40))
	}
	password := m[1]
	admin := h.openApp("admin")
	admin.uiSignIn("admin", password)
	admin.uiWaitVisible("#notice-password")
	admin.screenshot(t.Name() + "-prompt.png")
	admin.uiClick("#notice-password a")
	admin.uiWaitVisible("#settings-password-notice")
	admin.uiFill("#settings-current-password", password)
	admin.uiFill("#settings-new-password", "the admin's own long password")
	admin.uiFill("#settings-new-password2", "the admin's own long password")
	admin.uiClick("#settings-password-save")
	admin.uiWaitVisible("#login-name")
	// Signing in again keeps the page (Settings), without the prompt.
	admin.uiWaitVisible("#login-name")
	admin.uiFill("#login-name", "admin")
	admin.uiFill("#login-password", "the admin's own long password")
	admin.uiClick("#login-submit")
	admin.uiWaitVisible("#settings-watch")
	admin.uiWaitJS("the prompt to be gone", uiTimeout, `document.getElementById('notice-password') === null && document.getElementById('settings-password-notice') === null`)
}
