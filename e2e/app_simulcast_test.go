//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Simulcast from the app: Bob's page publishes his 720p camera in three
// sizes (rid q, h, f); Alice's player offers them in a quality menu.
// Pinning the smallest one shrinks the picture she decodes, the stats
// overlay names the layer, and going back to Auto brings a larger one.
func TestAppSimulcast(t *testing.T) {
	h, alice, bob := twoPeople(t)
	alice.uiWaitJS("Bob to show as online", uiTimeout,
		`(() => { const b = document.querySelector('[data-test=person-bob] [data-action=watch]'); return !!b && !b.disabled; })()`)
	alice.uiClick("[data-test=person-bob] [data-action=watch]")

	// Bob's page sends three layers, each encoding frames.
	var pub appSession
	bob.waitFor("Bob's page to send three layers", mediaTimeout, func() (bool, string, error) {
		list, err := bob.appSessions()
		if err != nil {
			return false, "", err
		}
		for _, s := range list {
			if s.Kind != "publish" {
				continue
			}
			pub = s
			sending := 0
			for _, l := range s.Layers {
				if l.FramesEncoded > 0 {
					sending++
				}
			}
			if len(s.Layers) == 3 && sending == 3 {
				return true, "", nil
			}
		}
		b, _ := json.Marshal(list)
		return false, string(b), nil
	})
	t.Logf("Bob sends %+v", pub.Layers)

	alice.waitAppDecoding("users/bob", "#player video")
	alice.uiWaitJS("the quality menu with Auto and three sizes", mediaTimeout,
		`(() => { const q = document.querySelector('#player .player-quality'); return !!q && !q.hidden && q.options.length === 4; })()`)
	t.Logf("quality menu: %s", mustEvaluate[string](alice, `[...document.querySelector('#player .player-quality').options].map((o) => o.value + '=' + o.text).join(', ')`))
	autoWidth := mustEvaluate[int](alice, `document.querySelector('#player video').videoWidth`)
	alice.screenshot(t.Name() + "-auto.png")

	// Alice pins the smallest size: her picture shrinks to it.
	pick := func(rid string) {
		t.Helper()
		mustEvaluate[bool](alice, fmt.Sprintf(`(() => {
			const q = document.querySelector('#player .player-quality');
			q.value = %q;
			q.dispatchEvent(new Event('change'));
			return true;
		})()`, rid))
	}
	pick("q")
	alice.uiWaitJS("the picture to shrink to the smallest layer", mediaTimeout,
		`(() => { const v = document.querySelector('#player video'); return v.videoWidth > 0 && v.videoWidth <= 400; })()`)
	small := mustEvaluate[int](alice, `document.querySelector('#player video').videoWidth`)
	t.Logf("Auto played %d px wide; the pinned q layer plays %d px wide", autoWidth, small)
	alice.uiWaitJS("the menu to show the pinned layer", uiTimeout,
		`document.querySelector('#player .player-quality').value === 'q'`)
	alice.uiClick("#player [data-action=stats]")
	alice.uiWaitText("#player .player-stats", "chosen", uiTimeout)
	if got := alice.uiText("#player .player-stats"); !strings.Contains(got, "Layer") || !strings.Contains(got, "q (") {
		h.fatalf("the stats overlay says %q; want the q layer named", got)
	}
	alice.screenshot(t.Name() + "-pinned.png")

	// Back to Auto: a larger layer again.
	pick("")
	alice.uiWaitJS("a larger layer after Auto", mediaTimeout,
		fmt.Sprintf(`document.querySelector('#player video').videoWidth >= %d`, 2*small))
	alice.uiWaitText("#player .player-stats", "automatic", uiTimeout)
	t.Logf("Auto again: %d px wide", mustEvaluate[int](alice, `document.querySelector('#player video').videoWidth`))
}

// The app's Link header reading: ICE servers (a quoted credential may
// hold a comma) and the WHEP extensions, resolved against the session.
func TestAppLinkHeader(t *testing.T) {
	h := newHarness(t)
	tb := h.openApp("links")
	got := mustEvaluate[string](tb, `import('/app/sdp.js').then((m) => JSON.stringify({
		servers: m.parseLinks('<stun:stun.example.net>; rel="ice-server", <turn:t.example.net?transport=udp>; rel="ice-server"; username="u"; credential="a,b"; credential-type="password", </sessions/x/sse>; rel="urn:ietf:params:whep:ext:core:server-sent-events"; events="active,inactive"'),
		ext: m.parseExtensions('<stun:s>; rel="ice-server", </sessions/x/sse>; rel="urn:ietf:params:whep:ext:core:server-sent-events"; events="active,inactive", <layer>; rel="urn:ietf:params:whep:ext:core:layer"', 'https://h.example/sessions/x'),
	}))`)
	want := `{"servers":[{"urls":"stun:stun.example.net"},{"urls":"turn:t.example.net?transport=udp","username":"u","credential":"a,b"}],"ext":{"layer":"https://h.example/sessions/layer","events":"https://h.example/sessions/x/sse"}}`
	if got != want {
		h.fatalf("Link headers read as\n%s\nwant\n%s", got, want)
	}
	// Layers by camera size: three from 540 lines, two from 360, none below.
	got = mustEvaluate[string](tb, `import('/app/whip.js').then((m) => JSON.stringify([[1280, 720], [640, 360], [320, 240]].map(([width, height]) => {
		const e = m.simulcastEncodings({ getSettings: () => ({ width, height }) });
		return e && e.map((x) => x.rid + '/' + x.scaleResolutionDownBy).join(' ');
	})))`)
	if want := `["q/4 h/2 f/1","h/2 f/1",null]`; got != want {
		h.fatalf("simulcast encodings by size: %s, want %s", got, want)
	}
}
