//go:build e2e

package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/wishcast/wishcast/rtsp/democam"
)

// startTestCamera serves the demo clip as an RTSP camera on addr
// ("127.0.0.1:0" for a free port) until it is closed or the test ends.
func startTestCamera(t *testing.T, addr string) *democam.Server {
	t.Helper()
	cam, err := democam.New(democam.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	if err := cam.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cam.Close() })
	return cam
}

// A camera that reboots while someone watches: the player says that the
// camera is reconnecting (not a frozen picture with no word), and plays on
// by itself, on the same session, once the camera is back.
func TestAppCameraReconnecting(t *testing.T) {
	cam := startTestCamera(t, "127.0.0.1:0")
	addr := cam.Addr()
	h := newHarness(t)
	if code, body := h.srv.apiJSON(t, http.MethodPut, "/api/v1/devices/door", map[string]any{"url": cam.URL(), "transport": "tcp"}); code != http.StatusCreated {
		t.Fatalf("add the camera: %d %s", code, body)
	}
	app := h.openApp("viewer")
	app.uiSignIn("admin", adminPassword)
	mustEvaluate[bool](app, `(location.hash = '#/watch/devices/door', true)`)
	app.waitAppDecoding("devices/door", "#player video")
	app.uiWaitJS("the player to play", uiTimeout, `document.getElementById('player').dataset.state === 'playing'`)

	cam.Close()
	app.uiWaitText("#player .player-msg", "camera is reconnecting", 15*time.Second)
	app.screenshot(t.Name() + "-reconnecting.png")
	sessions, err := app.appSessions()
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions during the outage: %v %v", sessions, err)
	}
	frozen := sessions[0].Inbound["video"].FramesDecoded

	startTestCamera(t, addr)
	app.uiWaitJS("the player to play again", mediaTimeout, `document.getElementById('player').dataset.state === 'playing'`)
	app.waitFor("new frames on the same session", mediaTimeout, func() (bool, string, error) {
		list, err := app.appSessions()
		if err != nil || len(list) != 1 {
			return false, "", err
		}
		return list[0].Inbound["video"].FramesDecoded > frozen+25, "", nil
	})
}
