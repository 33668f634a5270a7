//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// stubClipboard makes the tab's clipboard keep what the app copies in
// window.e2eCopied (a headless browser's clipboard needs permissions and
// focus that a test cannot count on).
func (tb *tab) stubClipboard() {
	tb.h.t.Helper()
	mustEvaluate[bool](tb, `(navigator.clipboard.writeText = async (t) => { window.e2eCopied = t; }, true)`)
}

// Sharing a stream: an admin makes the demo camera public on its watch
// page and copies its link and the iframe snippet; a visitor who never
// signed in plays it from the link (no sign-in form) and on another site
// through the embeddable player; a stream that is not public gets the
// sign-in form at its link and a sentence in the embed, never a player;
// making the camera private again stops the embedded player, in words.
func TestAppPublicStream(t *testing.T) {
	h := newHarness(t)
	admin := h.openApp("admin")
	admin.uiSignIn("admin", adminPassword)
	mustEvaluate[bool](admin, `(location.hash = '#/watch/devices/demo', true)`)
	admin.uiWaitVisible("#stream-public")
	admin.stubClipboard()
	admin.uiClick("#copy-link")
	link := h.srv.URL + "/#/watch/devices/demo"
	admin.uiWaitJS("the link on the clipboard", uiTimeout, fmt.Sprintf(`window.e2eCopied === %q`, link))
	if mustEvaluate[bool](admin, visibleJS("#embed")) {
		h.fatalf("the Embed button shows for a camera that is not public")
	}
	admin.uiClick("#stream-public")
	admin.uiWaitVisible("#public-pill")
	admin.uiWaitVisible("#embed")
	if code, body := h.srv.apiJSON(t, http.MethodGet, "/api/v1/streams/devices/demo", nil); code != http.StatusOK || !strings.Contains(string(body), `"public":true`) {
		h.fatalf("after the switch, the server says %d %s", code, body)
	}
	admin.waitAppDecoding("devices/demo", "#player video")
	admin.screenshot(t.Name() + "-admin.png")
	admin.uiClick("#embed")
	admin.uiWaitVisible("#embed-snippet")
	snippet := mustEvaluate[string](admin, `document.getElementById('embed-snippet').value`)
	embedURL := h.srv.URL + "/embed/devices/demo"
	if !strings.HasPrefix(snippet, `<iframe src="`+embedURL+`"`) {
		h.fatalf("the embed snippet is %q; want an iframe of %s", snippet, embedURL)
	}
	admin.screenshot(t.Name() + "-embed-dialog.png")
	admin.uiClick("dialog [data-action=copy-snippet]")
	admin.uiWaitJS("the snippet on the clipboard", uiTimeout, fmt.Sprintf(`window.e2eCopied === %q`, snippet))

	// A visitor who never signed in opens the link: the player, no form.
	visitor := h.openURL("visitor", link)
	visitor.uiWaitJS("the app to boot", uiTimeout, `document.body.dataset.ready === 'true'`)
	visitor.waitAppDecoding("devices/demo", "#player video")
	visitor.uiWaitVisible("#guest-signin")
	if mustEvaluate[bool](visitor, `!!document.getElementById('login-name')`) {
		h.fatalf("a visitor of a public camera's link sees the sign-in form")
	}
	visitor.screenshot(t.Name() + "-visitor.png")
	// On a phone, the player's buttons keep to its lower edge and leave
	// the middle of the picture free.
	visitor.uiDo("a phone's viewport", chromedp.EmulateViewport(360, 740))
	visitor.uiDo("hover the player", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 180, 200))
	visitor.uiWaitJS("the controls off the middle of the picture", uiTimeout, `(() => {
		const p = document.getElementById('player').getBoundingClientRect();
		const b = [...document.querySelectorAll('#player .player-controls .btn')].map((e) => e.getBoundingClientRect());
		return b.length > 0 && b.every((r) => r.height > 0 && r.top >= p.top + 0.7 * p.height && r.left >= p.left + 0.5 * p.width);
	})()`)
	visitor.screenshot(t.Name() + "-visitor-360.png")
	visitor.uiDo("restore the viewport", chromedp.EmulateViewport(800, 700))

	// A stream that is not public: the sign-in form, saying what for.
	visitor.uiDo("open a link to a stream that is not public", chromedp.Navigate(h.srv.URL+"/#/watch/live/nobody"))
	visitor.uiWaitVisible("#login-name")
	visitor.uiWaitText("#signin-note", "Sign in to watch live stream nobody", uiTimeout)
	visitor.screenshot(t.Name() + "-visitor-private.png")

	// Another site embeds the player: it plays there, for anyone.
	site := h.openURL("site", strings.Replace(h.pages.URL, "127.0.0.1", "localhost", 1)+"/frame.html")
	site.uiWaitJS("the embedding page", uiTimeout, `window.frameReady === true`)
	mustEvaluate[bool](site, fmt.Sprintf(`frame(%q)`, embedURL))
	site.uiWaitJS("the embedded player to play", mediaTimeout, `window.states.includes('playing')`)
	site.screenshot(t.Name() + "-site.png")
	mustEvaluate[bool](site, fmt.Sprintf(`frame(%q)`, h.srv.URL+"/embed/live/nobody"))
	site.uiWaitJS("the embedded player to refuse", mediaTimeout, `window.states.includes('refused')`)
	time.Sleep(time.Second) // the frame paints its sentence
	site.screenshot(t.Name() + "-site-private.png")
	refused := h.openURL("refused", h.srv.URL+"/embed/live/nobody")
	refused.uiWaitText("#embed-refused", "This stream is not public", uiTimeout)
	refused.screenshot(t.Name() + "-embed-refused.png")

	// The embed page on its own, then the camera made private again.
	embed := h.openURL("embed", embedURL)
	embed.uiWaitJS("the player page", uiTimeout, `document.body.dataset.ready === 'true'`)
	embed.waitAppDecoding("devices/demo", "#player video")
	embed.uiWaitJS("the player to play", uiTimeout, `document.body.dataset.state === 'playing'`)
	embed.screenshot(t.Name() + "-embed.png")
	admin.uiClick("#stream-public")
	admin.uiWaitJS("the public pill to go", uiTimeout, `!document.getElementById('public-pill').checkVisibility()`)
	embed.uiWaitText("#player .player-msg", "not public any more", mediaTimeout)
	embed.screenshot(t.Name() + "-embed-private.png")
}

// An admin goes live with the screen from the app: live/screen is
// published with the admin's own sign-in; a signed-in user sees it under
// "Live now" and watches it; once public, a visitor plays it in the
// embeddable player; stopping it from the top bar ends the publishing and
// both viewers' players say that the stream has ended. A
// user who is not an admin is not offered to go live (only admins may
// publish live/ streams without a key).
func TestAppGoLiveScreen(t *testing.T) {
	h := newHarness(t)
	h.srv.apiCreateUser(t, "bob", "Bob", "bob's long password")
	bob := h.openApp("bob")
	bob.uiSignIn("bob", "bob's long password")
	admin := h.openApp("admin")
	admin.uiSignIn("admin", adminPassword)
	admin.uiWaitVisible("#golive-name")
	if mustEvaluate[bool](bob, `!!document.getElementById('golive')`) {
		h.fatalf("a user who is not an admin is offered to go live")
	}
	admin.uiFill("#golive-name", "screen")
	admin.screenshot(t.Name() + "-admin-form.png")
	admin.uiClick("#golive-start")
	admin.uiWaitVisible("#golive-stop")
	admin.uiWaitVisible("#live-indicator")
	pub := admin.waitAppPublishing("live/screen")
	if !strings.Contains(fmt.Sprint(pub.Senders), "monitor") && !strings.Contains(fmt.Sprint(pub.Senders), "window") && !strings.Contains(fmt.Sprint(pub.Senders), "browser") {
		h.fatalf("live/screen sends %+v; want a screen", pub.Senders)
	}
	admin.screenshot(t.Name() + "-admin-live.png")

	bob.uiWaitVisible("[data-test=stream-screen] [data-action=watch]")
	bob.uiClick("[data-test=stream-screen] [data-action=watch]")
	bob.waitAppDecoding("live/screen", "#player video")
	bob.screenshot(t.Name() + "-bob-watches.png")

	if code, body := h.srv.apiJSON(t, http.MethodPut, "/api/v1/streams/live/screen", map[string]bool{"public": true}); code != http.StatusOK {
		h.fatalf("make live/screen public: %d %s", code, body)
	}
	embed := h.openURL("embed", h.srv.URL+"/embed/live/screen")
	embed.uiWaitJS("the player page", uiTimeout, `document.body.dataset.ready === 'true'`)
	embed.waitAppDecoding("live/screen", "#player video")
	embed.screenshot(t.Name() + "-embed.png")

	// Bob's page notes when his player first says the stream has ended.
	mustEvaluate[bool](bob, `(() => {
		window.e2eEnded = 0;
		const p = document.getElementById('player');
		new MutationObserver(() => {
			if (!window.e2eEnded && p.querySelector('.player-msg').textContent.includes('The stream has ended')) window.e2eEnded = Date.now();
		}).observe(p, { childList: true, subtree: true, characterData: true });
		return true;
	})()`)
	admin.uiClick("#live-indicator")
	admin.uiWaitVisible("dialog [data-action=confirm]")
	stopped := mustEvaluate[float64](admin, `(document.querySelector('dialog [data-action=confirm]').click(), Date.now())`)
	admin.uiWaitJS("the publishing to end", mediaTimeout,
		`window.wishcast.stats().then((l) => !l.some((s) => s.kind === 'publish') && document.getElementById('live-indicator').hidden)`)
	admin.uiWaitVisible("#golive-start")
	// The viewers hear from the server that the publisher left, and say
	// so in words, not as a frozen picture or a network failure.
	bob.uiWaitText("#player .player-msg", "The stream has ended.", mediaTimeout)
	embed.uiWaitText("#player .player-msg", "The stream has ended.", mediaTimeout)
	ended := time.Duration(mustEvaluate[float64](bob, `window.e2eEnded`)-stopped) * time.Millisecond
	t.Logf("Bob's player said the stream had ended %s after Stop", ended)
	if ended > 2*time.Second {
		h.fatalf("Bob's player said the stream had ended %s after the publisher stopped; want within 2 s", ended)
	}
	bob.screenshot(t.Name() + "-bob-ended.png")
}
