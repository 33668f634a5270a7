//go:build e2e

package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// Signing in through the form in Firefox: a wrong password shows the
// server's sentence, the right one opens the home page with the people and
// the cameras; a reload keeps the session; signing out returns to the form.
func TestFirefoxSignIn(t *testing.T) {
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
