//go:build e2e

package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// A page reloaded while someone watches it names them again: hello lists
// who watches, and the server sends a watchers event only when that list
// changes, so the banner must take it from hello.
func TestAppWatchedPageReloadNamesViewers(t *testing.T) {
	_, alice, bob := twoPeople(t)
	alice.uiWaitJS("Bob to show as online", uiTimeout,
		`(() => { const b = document.querySelector('[data-test=person-bob] [data-action=watch]'); return !!b && !b.disabled; })()`)
	alice.uiClick("[data-test=person-bob] [data-action=watch]")
	bob.waitAppPublishing("users/bob")
	alice.waitAppDecoding("users/bob", "#player video")
	bob.uiWaitText("#watch-banner", "Alice is watching you", mediaTimeout)

	bob.uiDo("reload", chromedp.Reload())
	bob.waitAppPublishing("users/bob")
	bob.uiWaitText("#watch-banner", "Alice is watching you", mediaTimeout)
}
